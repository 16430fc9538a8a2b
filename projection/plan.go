package projection

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/dgraph-io/badger/v4"

	"github.com/scim-bridge/scim-bridge/schemas"
)

// plan is the candidate set an index gives for a filter.
type plan struct {
	ids   []string // sorted, distinct
	exact bool     // ids are exactly the matches: no need to evaluate the filter
}

// lister answers one List call inside one read transaction.
type lister struct {
	txn    *badger.Txn
	tenant string
	typ    string
	rt     *schemas.ResourceType

	probe *listProbe // tests; nil in production
	stats listStats
}

// listStats counts the work of one List.
type listStats struct {
	keys    int // index keys the planner visited (a point read is one)
	records int // records the evaluator loaded
}

// listProbe lets tests watch a List.
type listProbe struct {
	visit func()          // called for every index key and record visited
	done  func(listStats) // called as List returns
}

// visitKey accounts for one index key read by the planner.
func (l *lister) visitKey() {
	l.stats.keys++
	if l.probe != nil && l.probe.visit != nil {
		l.probe.visit()
	}
}

// visitRecord accounts for one record read by the evaluator.
func (l *lister) visitRecord() {
	l.stats.records++
	if l.probe != nil && l.probe.visit != nil {
		l.probe.visit()
	}
}

// plan returns the index plan of e, or nil when e needs a scan. The
// planned shapes (RFC 7644 §3.4.2.2 operators on top-level attributes):
//
//	id eq, externalId eq
//	userName eq|sw (User)
//	emails.value eq, emails eq, emails[value eq] (User)
//	displayName eq|sw (Group)
//	meta.lastModified gt|ge|lt|le
//	members[value eq], members.value eq (Group), groups… (User): membership.go
//	a and b    the intersection, or the indexed side (then evaluated)
//	a or b     the union when both sides are indexed
//
// Case-insensitive indexes hold fold(value), which agrees with the
// evaluator's folding, so these plans are exact: their ids are the matches.
func (l *lister) plan(e schemas.Expr) (*plan, error) {
	if v, present, ok := l.membership(e); ok {
		if present {
			return nil, nil
		}
		return l.planMembership(v)
	}
	switch e := e.(type) {
	case *schemas.CompareExpr:
		return l.planCompare(e)
	case *schemas.ValuePathExpr:
		c, ok := e.Filter.(*schemas.CompareExpr)
		if !ok || l.typ != typeUser || !l.isPath(e.Path, "emails", "") || c.Op != schemas.OpEq ||
			!strings.EqualFold(c.Path.Name, "value") || c.Path.Sub != "" {
			return nil, nil
		}
		v, ok := c.Value.(string)
		if !ok {
			return nil, nil
		}
		return l.indexIDs(emailPrefix(l.tenant, fold(v)), true)
	case *schemas.LogicalExpr:
		left, err := l.plan(e.Left)
		if err != nil {
			return nil, err
		}
		right, err := l.plan(e.Right)
		if err != nil {
			return nil, err
		}
		if e.And {
			switch {
			case left == nil:
				return inexact(right), nil
			case right == nil:
				return inexact(left), nil
			}
			return &plan{ids: intersect(left.ids, right.ids), exact: left.exact && right.exact}, nil
		}
		if left == nil || right == nil {
			return nil, nil
		}
		return &plan{ids: union(left.ids, right.ids), exact: left.exact && right.exact}, nil
	}
	return nil, nil
}

func (l *lister) planCompare(e *schemas.CompareExpr) (*plan, error) {
	v, ok := e.Value.(string)
	if !ok {
		return nil, nil
	}
	switch {
	case e.Op == schemas.OpEq && l.isPath(e.Path, "id", ""):
		l.visitKey()
		_, err := l.txn.Get(resourceKey(l.tenant, l.typ, v))
		if errors.Is(err, badger.ErrKeyNotFound) {
			return &plan{exact: true}, nil
		}
		if err != nil {
			return nil, err
		}
		return &plan{ids: []string{v}, exact: true}, nil
	case e.Op == schemas.OpEq && l.isPath(e.Path, "externalId", ""):
		return l.indexIDs(externalIDPrefix(l.tenant, l.typ, v), true)
	case l.isMeta(e.Path, "lastModified"):
		return l.planModified(e.Op, v)
	}
	switch l.typ {
	case typeUser:
		switch {
		case e.Op == schemas.OpEq && l.isPath(e.Path, "userName", ""):
			// One point read (Okta's and Entra's lookup before every
			// create); the u index would need an iterator.
			l.visitKey()
			id, found, err := getValue(l.txn, userNameIDKey(l.tenant, fold(v)))
			if err != nil || !found {
				return &plan{exact: true}, err
			}
			return &plan{ids: []string{string(id)}, exact: true}, nil
		case e.Op == schemas.OpSw && l.isPath(e.Path, "userName", ""):
			return l.prefixIDs(nsUserName, fold(v), true)
		case e.Op == schemas.OpEq && (l.isPath(e.Path, "emails", "value") || l.isPath(e.Path, "emails", "")):
			return l.indexIDs(emailPrefix(l.tenant, fold(v)), true)
		}
	case typeGroup:
		switch {
		case e.Op == schemas.OpEq && l.isPath(e.Path, "displayName", ""):
			return l.indexIDs(displayNamePrefix(l.tenant, fold(v)), true)
		case e.Op == schemas.OpSw && l.isPath(e.Path, "displayName", ""):
			return l.prefixIDs(nsDisplayName, fold(v), true)
		}
	}
	return nil, nil
}

// indexIDs reads the ids under an equality index prefix; they come sorted.
func (l *lister) indexIDs(prefix []byte, exact bool) (*plan, error) {
	it := l.txn.NewIterator(badger.IteratorOptions{Prefix: prefix})
	defer it.Close()
	var ids []string
	for it.Seek(prefix); it.ValidForPrefix(prefix); it.Next() {
		l.visitKey()
		id, ok := lastStr(it.Item().Key(), prefix)
		if !ok {
			return nil, fmt.Errorf("malformed index key %q", it.Item().Key())
		}
		ids = append(ids, id)
	}
	return &plan{ids: ids, exact: exact}, nil
}

// prefixIDs reads the ids of every value starting with v in index ns
// (keys: str(value) str(id)).
func (l *lister) prefixIDs(ns byte, v string, exact bool) (*plan, error) {
	base := tenantNS(l.tenant, ns)
	prefix := appendStrPrefix(append([]byte(nil), base...), v)
	it := l.txn.NewIterator(badger.IteratorOptions{Prefix: prefix})
	defer it.Close()
	var ids []string
	for it.Seek(prefix); it.ValidForPrefix(prefix); it.Next() {
		l.visitKey()
		_, rest, ok := readStr(it.Item().Key()[len(base):])
		if !ok {
			continue
		}
		if id, rest, ok := readStr(rest); ok && len(rest) == 0 {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	return &plan{ids: slices.Compact(ids), exact: exact}, nil
}

// planModified ranges over the lastModified index.
func (l *lister) planModified(op schemas.CompareOp, v string) (*plan, error) {
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return nil, nil
	}
	base := modifiedPrefix(l.tenant, l.typ)
	var from, to []byte // to is exclusive; nil means the end of base
	switch op {
	case schemas.OpGt:
		from = appendTime(append([]byte(nil), base...), t.Add(time.Nanosecond))
	case schemas.OpGe:
		from = appendTime(append([]byte(nil), base...), t)
	case schemas.OpLt:
		from, to = base, appendTime(append([]byte(nil), base...), t)
	case schemas.OpLe:
		from, to = base, appendTime(append([]byte(nil), base...), t.Add(time.Nanosecond))
	default:
		return nil, nil
	}
	it := l.txn.NewIterator(badger.IteratorOptions{Prefix: base})
	defer it.Close()
	var ids []string
	for it.Seek(from); it.ValidForPrefix(base); it.Next() {
		k := it.Item().Key()
		if to != nil && string(k) >= string(to) {
			break
		}
		l.visitKey()
		if len(k) < len(base)+8 {
			continue
		}
		if id, rest, ok := readStr(k[len(base)+8:]); ok && len(rest) == 0 {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	return &plan{ids: slices.Compact(ids), exact: true}, nil
}

func inexact(p *plan) *plan {
	if p == nil {
		return nil
	}
	return &plan{ids: p.ids}
}

// isPath reports whether p names the core attribute name.sub of the type.
func (l *lister) isPath(p schemas.AttrPath, name, sub string) bool {
	if p.URN != "" && !strings.EqualFold(p.URN, l.coreURN()) {
		return false
	}
	return strings.EqualFold(p.Name, name) && strings.EqualFold(p.Sub, sub)
}

// isMeta reports whether p is meta.sub (RFC 7643 §3.1).
func (l *lister) isMeta(p schemas.AttrPath, sub string) bool {
	return l.isPath(p, "meta", sub)
}

func (l *lister) coreURN() string {
	if l.typ == typeGroup {
		return schemas.URNGroup
	}
	return schemas.URNUser
}

// match evaluates e against a stored resource. meta (RFC 7643 §3.1) is not
// part of the Resource, so conditions on meta.* are evaluated here and the
// rest by the resource type's evaluator.
func (l *lister) match(e schemas.Expr, r *record) bool {
	if v, present, ok := l.membership(e); ok {
		return l.matchMembership(r.Resource.ID(), v, present)
	}
	switch e := e.(type) {
	case *schemas.LogicalExpr:
		if e.And {
			return l.match(e.Left, r) && l.match(e.Right, r)
		}
		return l.match(e.Left, r) || l.match(e.Right, r)
	case *schemas.NotExpr:
		return !l.match(e.X, r)
	case *schemas.PresentExpr:
		if l.isMeta(e.Path, e.Path.Sub) {
			switch strings.ToLower(e.Path.Sub) {
			case "created", "lastmodified", "resourcetype", "version", "location":
				return true
			}
			return false
		}
	case *schemas.CompareExpr:
		if l.isMeta(e.Path, e.Path.Sub) {
			return l.matchMeta(e, r)
		}
	}
	return l.rt.Matches(e, r.Resource)
}

// matchMeta compares meta.created, meta.lastModified (as instants) and
// meta.resourceType; other meta attributes match nothing.
func (l *lister) matchMeta(e *schemas.CompareExpr, r *record) bool {
	v, ok := e.Value.(string)
	if !ok {
		return false
	}
	var at time.Time
	switch strings.ToLower(e.Path.Sub) {
	case "created":
		at = r.Created
	case "lastmodified":
		at = r.LastModified
	case "resourcetype":
		switch e.Op {
		case schemas.OpEq:
			return v == l.typ
		case schemas.OpNe:
			return v != l.typ
		}
		return false
	default:
		return false
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return false
	}
	c := at.Compare(t)
	switch e.Op {
	case schemas.OpEq:
		return c == 0
	case schemas.OpNe:
		return c != 0
	case schemas.OpGt:
		return c > 0
	case schemas.OpGe:
		return c >= 0
	case schemas.OpLt:
		return c < 0
	case schemas.OpLe:
		return c <= 0
	}
	return false
}

// sortKey returns the sort key of r for sortBy: meta times are encoded
// here, everything else by the resource type (RFC 7644 §3.4.2.3).
func (l *lister) sortKey(r *record, p schemas.AttrPath) []byte {
	switch {
	case l.isMeta(p, "lastModified"):
		return appendTime(nil, r.LastModified)
	case l.isMeta(p, "created"):
		return appendTime(nil, r.Created)
	}
	return l.rt.SortKey(r.Resource, p)
}

// intersect and union merge sorted, distinct id lists.
func intersect(a, b []string) []string {
	var out []string
	for i, j := 0, 0; i < len(a) && j < len(b); {
		switch {
		case a[i] < b[j]:
			i++
		case a[i] > b[j]:
			j++
		default:
			out = append(out, a[i])
			i++
			j++
		}
	}
	return out
}

func union(a, b []string) []string {
	out := make([]string, 0, len(a)+len(b))
	i, j := 0, 0
	for i < len(a) && j < len(b) {
		switch {
		case a[i] < b[j]:
			out = append(out, a[i])
			i++
		case a[i] > b[j]:
			out = append(out, b[j])
			j++
		default:
			out = append(out, a[i])
			i++
			j++
		}
	}
	out = append(out, a[i:]...)
	return append(out, b[j:]...)
}
