package projection

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/dgraph-io/badger/v4"

	"github.com/scim-bridge/scim-bridge/schemas"
)

// plan is the candidate set an index gives for a filter: a superset of
// the filter's matches.
type plan struct {
	ids   []string // sorted, distinct
	exact bool     // ids are exactly the matches: no need to evaluate the filter
}

// The budget of one plan. Without it a filter of a few KiB could read an
// index many times over: 227 `userName sw ""` joined by "or" once read
// the whole userName index 227 times. Past either bound the conditions
// not yet planned are left to the evaluator, which then scans the type's
// resources once (or, under an "and", the candidates already planned).
const (
	// maxIndexRanges bounds the index ranges (prefix and time-range reads)
	// of one plan; point reads (id eq, userName eq) are not ranges.
	maxIndexRanges = 32
	// planKeySlack is added to the key budget, which is otherwise twice the
	// type's resource count (maxPlanKeys): beyond that, reading indexes
	// costs more than the scan it would spare.
	planKeySlack = 1024
	// ctxCheckEvery is how many index keys or records a List visits
	// between looks at its context, so that a cancelled or expired request
	// stops within about a millisecond of work. It also yields the
	// processor there (runtime.Gosched): Go preempts a running goroutine
	// only every 10 ms, so without it, short requests (another tenant's
	// userName eq) waited behind every long scan running. With 8 clients
	// looping over a scan-heavy filter on 2 cores, a lookup's median went
	// from 40 ms to 5 ms, its p99 from 140-170 ms to 20-40 ms.
	ctxCheckEvery = 256
	// fewCandidates is a candidate set small enough that evaluating the
	// rest of an "and" on it beats reading indexes for it.
	fewCandidates = 64
)

// maxPlanKeys is the key budget of a plan over a type of n resources.
func maxPlanKeys(n int) int { return 2*n + planKeySlack }

// errOverBudget ends an index read that would exceed the plan's budget;
// the condition is then left to the evaluator.
var errOverBudget = errors.New("index plan over budget")

// lister answers one List call inside one read transaction.
type lister struct {
	txn    *badger.Txn
	tenant string
	typ    string
	rt     *schemas.ResourceType

	rangesLeft int // the plan's budget (set by plan)
	keysLeft   int
	counted    bool // keysLeft includes the part of the budget that grows with the type's count

	probe *listProbe // tests; nil in production
	stats listStats

	// userName eq: the hints it takes its candidate from, whether the
	// page reads records raw (view.GetOptions.Raw), and the record a
	// hint led to, read as the page reads it, for the page to take.
	hints    *userNameHints
	raw      bool
	hinted   *record
	hintedID string

	// What match gives the evaluator besides the resource, reused from
	// one record to the next.
	derived schemas.Derived
	member  resourceMembership
}

// listStats counts the work of one List.
type listStats struct {
	ranges  int // index ranges the planner read
	keys    int // index keys the planner visited (a point read is one)
	records int // records the evaluator loaded
	skipped int // resource keys an unfiltered list skipped to its startIndex
	points  int // point reads outside the evaluator's and the derived attributes': counters, point keys, the page's records
}

// listProbe lets tests watch a List and shrink its plan's budget.
type listProbe struct {
	visit     func()          // called for every index key and record visited
	done      func(listStats) // called as List returns
	maxRanges int             // 0: maxIndexRanges
	maxKeys   int             // 0: maxPlanKeys of the type's count
}

// checkpoint, at every ctxCheckEvery-th visit n, yields the processor and
// returns ctx's error.
func checkpoint(ctx context.Context, n int) error {
	if n%ctxCheckEvery != 0 {
		return nil
	}
	runtime.Gosched()
	return ctx.Err()
}

// visitKey accounts for one index key the planner reads. It returns
// errOverBudget, without counting the key, when the budget is spent, and
// the context's error every ctxCheckEvery keys.
func (l *lister) visitKey(ctx context.Context) error {
	if l.keysLeft <= 0 && !l.counted {
		if err := l.countBudget(); err != nil {
			return err
		}
	}
	if l.keysLeft <= 0 {
		return errOverBudget
	}
	l.keysLeft--
	l.stats.keys++
	if l.probe != nil && l.probe.visit != nil {
		l.probe.visit()
	}
	return checkpoint(ctx, l.stats.keys)
}

// visitRecord accounts for one record the evaluator reads and returns the
// context's error every ctxCheckEvery records.
func (l *lister) visitRecord(ctx context.Context) error {
	l.stats.records++
	if l.probe != nil && l.probe.visit != nil {
		l.probe.visit()
	}
	return checkpoint(ctx, l.stats.records)
}

// visitSkipped accounts for one resource key an unfiltered list skips and
// returns the context's error every ctxCheckEvery keys.
func (l *lister) visitSkipped(ctx context.Context) error {
	l.stats.skipped++
	if l.probe != nil && l.probe.visit != nil {
		l.probe.visit()
	}
	return checkpoint(ctx, l.stats.skipped)
}

// plan returns the index plan of e, or nil when e needs a scan. The
// planned shapes (RFC 7644 §3.4.2.2 operators on top-level attributes):
//
//	id eq, externalId eq
//	userName eq|sw (User)
//	emails.value eq, emails eq, emails[value eq] (User)
//	displayName eq|sw (Group)
//	meta.lastModified gt|ge|lt|le
//	members[value eq], members.value eq (Group), groups… (User): plan_membership.go
//	a and b    the intersection, or the indexed side (then evaluated)
//	a or b     the union when both sides are indexed
//
// Case-insensitive indexes hold fold(value), which agrees with the
// evaluator's folding, so these plans are exact: their ids are the matches.
//
// The plan stays within a budget of index ranges and keys (maxIndexRanges,
// maxPlanKeys); a condition it cannot afford is left unplanned, which is
// always correct, only slower. plan checks ctx as it reads. Callers pass
// e through dedupe first, so a repeated condition costs one read.
func (l *lister) plan(ctx context.Context, e schemas.Expr) (*plan, error) {
	l.rangesLeft = maxIndexRanges
	if l.probe != nil && l.probe.maxRanges > 0 {
		l.rangesLeft = l.probe.maxRanges
	}
	// The key budget starts at its slack and grows by the part that
	// depends on the type's count once the slack is spent (countBudget),
	// so a plan that reads a few keys, such as userName eq, does not read
	// the counter as well.
	l.keysLeft, l.counted = planKeySlack, false
	if l.probe != nil && l.probe.maxKeys > 0 {
		l.keysLeft, l.counted = l.probe.maxKeys, true
	}
	return l.planExpr(ctx, e)
}

// countBudget adds to the plan's key budget what maxPlanKeys gives for the
// type's count beyond the slack, reading the counter once.
func (l *lister) countBudget() error {
	l.stats.points++
	n, err := readCounter(badgerReader{l.txn}, countKey(l.tenant, l.typ))
	if err != nil {
		return err
	}
	l.keysLeft += maxPlanKeys(int(n)) - planKeySlack
	l.counted = true
	return nil
}

func (l *lister) planExpr(ctx context.Context, e schemas.Expr) (*plan, error) {
	p, err := l.planTerm(ctx, e)
	if errors.Is(err, errOverBudget) {
		return nil, nil // left to the evaluator
	}
	return p, err
}

// planTerm plans e; an index read over budget is errOverBudget.
func (l *lister) planTerm(ctx context.Context, e schemas.Expr) (*plan, error) {
	if v, present, ok := l.rt.MembershipCondition(e); ok {
		if present {
			return nil, nil
		}
		return l.planMembership(ctx, v)
	}
	switch e := e.(type) {
	case *schemas.CompareExpr:
		return l.planCompare(ctx, e)
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
		return l.indexIDs(ctx, emailPrefix(l.tenant, fold(v)), true)
	case *schemas.LogicalExpr:
		left, err := l.planExpr(ctx, e.Left)
		if err != nil {
			return nil, err
		}
		if e.And {
			switch {
			case left != nil && len(left.ids) == 0:
				// Nothing matches the left side, so nothing matches.
				return &plan{exact: true}, nil
			case left != nil && len(left.ids) <= fewCandidates:
				// Evaluating a few candidates costs less than reading
				// more of the indexes.
				return inexact(left), nil
			}
			right, err := l.planExpr(ctx, e.Right)
			if err != nil {
				return nil, err
			}
			switch {
			case left == nil:
				return inexact(right), nil
			case right == nil:
				return inexact(left), nil
			}
			return &plan{ids: intersect(left.ids, right.ids), exact: left.exact && right.exact}, nil
		}
		if left == nil {
			return nil, nil // the union needs a scan anyway: don't read the right side
		}
		right, err := l.planExpr(ctx, e.Right)
		if err != nil || right == nil {
			return nil, err
		}
		return &plan{ids: union(left.ids, right.ids), exact: left.exact && right.exact}, nil
	}
	return nil, nil
}

func (l *lister) planCompare(ctx context.Context, e *schemas.CompareExpr) (*plan, error) {
	v, ok := e.Value.(string)
	if !ok {
		return nil, nil
	}
	switch {
	case e.Op == schemas.OpEq && l.isPath(e.Path, "id", ""):
		if err := l.visitKey(ctx); err != nil {
			return nil, err
		}
		l.stats.points++
		_, err := l.txn.Get(resourceKey(l.tenant, l.typ, v))
		if errors.Is(err, badger.ErrKeyNotFound) {
			return &plan{exact: true}, nil
		}
		if err != nil {
			return nil, err
		}
		return &plan{ids: []string{v}, exact: true}, nil
	case e.Op == schemas.OpEq && l.isPath(e.Path, "externalId", ""):
		return l.indexIDs(ctx, externalIDPrefix(l.tenant, l.typ, v), true)
	case l.isMeta(e.Path, "lastModified"):
		return l.planModified(ctx, e.Op, v)
	}
	switch l.typ {
	case typeUser:
		switch {
		case e.Op == schemas.OpEq && l.isPath(e.Path, "userName", ""):
			return l.planUserName(ctx, fold(v))
		case e.Op == schemas.OpSw && l.isPath(e.Path, "userName", ""):
			return l.userNamePrefixIDs(ctx, fold(v))
		case e.Op == schemas.OpEq && (l.isPath(e.Path, "emails", "value") || l.isPath(e.Path, "emails", "")):
			return l.indexIDs(ctx, emailPrefix(l.tenant, fold(v)), true)
		}
	case typeGroup:
		switch {
		case e.Op == schemas.OpEq && l.isPath(e.Path, "displayName", ""):
			return l.indexIDs(ctx, displayNamePrefix(l.tenant, fold(v)), true)
		case e.Op == schemas.OpSw && l.isPath(e.Path, "displayName", ""):
			return l.prefixIDs(ctx, nsDisplayName, fold(v), true)
		}
	}
	return nil, nil
}

// planUserName plans `userName eq` (Okta's and Entra's lookup before
// every create) with one point read: the record of the user a hint names,
// if it holds the userName (kept for the page: l.hinted), else the
// userName's key, which then corrects the hint.
func (l *lister) planUserName(ctx context.Context, folded string) (*plan, error) {
	if err := l.visitKey(ctx); err != nil {
		return nil, err
	}
	if id, ok := l.hints.lookup(l.tenant, folded); ok {
		l.stats.points++
		rec := new(record)
		held, err := readHolder(l.txn, resourceKey(l.tenant, typeUser, id), folded, l.raw, rec)
		if err != nil {
			return nil, err
		}
		if held {
			l.hinted, l.hintedID = rec, id
			return &plan{ids: []string{id}, exact: true}, nil
		}
	}
	l.stats.points++
	id, found, err := getHolder(l.txn, userNameKey(l.tenant, folded))
	if err != nil || !found {
		return &plan{exact: true}, err
	}
	l.hints.put(l.tenant, folded, id)
	return &plan{ids: []string{id}, exact: true}, nil
}

// readRange reads the index keys from `from` up to `to` (exclusive; nil:
// to the end of base) under base, within the plan's budget, and returns
// the ids idOf finds in them (skipping keys it reports !ok for), in key
// order.
func (l *lister) readRange(ctx context.Context, base, from, to []byte, idOf func(key []byte) (id string, ok bool, err error)) ([]string, error) {
	if l.rangesLeft <= 0 {
		return nil, errOverBudget
	}
	l.rangesLeft--
	l.stats.ranges++
	it := l.txn.NewIterator(badger.IteratorOptions{Prefix: base})
	defer it.Close()
	var ids []string
	for it.Seek(from); it.ValidForPrefix(base); it.Next() {
		k := it.Item().Key()
		if to != nil && bytes.Compare(k, to) >= 0 {
			break
		}
		if err := l.visitKey(ctx); err != nil {
			return nil, err
		}
		id, ok, err := idOf(k)
		if err != nil {
			return nil, err
		}
		if ok {
			ids = append(ids, id)
		}
	}
	return ids, nil
}

// indexIDs reads the ids under an equality index prefix; they come sorted.
func (l *lister) indexIDs(ctx context.Context, prefix []byte, exact bool) (*plan, error) {
	ids, err := l.readRange(ctx, prefix, prefix, nil, func(k []byte) (string, bool, error) {
		id, ok := lastStr(k, prefix)
		if !ok {
			return "", false, fmt.Errorf("malformed index key %q", k)
		}
		return id, true, nil
	})
	if err != nil {
		return nil, err
	}
	return &plan{ids: ids, exact: exact}, nil
}

// prefixIDs reads the ids of every value starting with v in index ns
// (keys: str(value) str(id)).
func (l *lister) prefixIDs(ctx context.Context, ns byte, v string, exact bool) (*plan, error) {
	base := tenantNS(l.tenant, ns)
	prefix := appendStrPrefix(append([]byte(nil), base...), v)
	ids, err := l.readRange(ctx, prefix, prefix, nil, func(k []byte) (string, bool, error) {
		_, rest, ok := readStr(k[len(base):])
		if !ok {
			return "", false, nil
		}
		id, rest, ok := readStr(rest)
		return id, ok && len(rest) == 0, nil
	})
	if err != nil {
		return nil, err
	}
	slices.Sort(ids)
	return &plan{ids: slices.Compact(ids), exact: exact}, nil
}

// userNamePrefixIDs reads the ids of every user whose folded userName
// starts with v: every holder of every userName key under the prefix. Each
// holder counts as an index key against the budget, as each had a key of
// its own before the userName keys listed them together.
func (l *lister) userNamePrefixIDs(ctx context.Context, v string) (*plan, error) {
	if l.rangesLeft <= 0 {
		return nil, errOverBudget
	}
	l.rangesLeft--
	l.stats.ranges++
	base := tenantNS(l.tenant, nsUserName)
	prefix := appendStrPrefix(append([]byte(nil), base...), v)
	it := l.txn.NewIterator(badger.IteratorOptions{Prefix: prefix})
	defer it.Close()
	var ids []string
	for it.Seek(prefix); it.ValidForPrefix(prefix); it.Next() {
		k := it.Item().Key()
		if end, ok := componentEnd(k, len(base)); !ok || end != len(k) {
			continue
		}
		err := it.Item().Value(func(v []byte) error {
			n := len(ids)
			var err error
			if ids, err = appendUserNameHolders(ids, v); err != nil {
				return err
			}
			for range ids[n:] {
				if err := l.visitKey(ctx); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	slices.Sort(ids)
	return &plan{ids: slices.Compact(ids), exact: true}, nil
}

// planModified ranges over the lastModified index.
func (l *lister) planModified(ctx context.Context, op schemas.CompareOp, v string) (*plan, error) {
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return nil, nil
	}
	lo, hi, exact, ok := timeRange(op, t)
	if !ok {
		return nil, nil
	}
	base := modifiedPrefix(l.tenant, l.typ)
	from := append(append([]byte(nil), base...), lo...)
	var to []byte // exclusive; nil means the end of base
	if hi != nil {
		to = append(append([]byte(nil), base...), hi...)
	}
	ids, err := l.readRange(ctx, base, from, to, func(k []byte) (string, bool, error) {
		if len(k) < len(base)+8 {
			return "", false, nil
		}
		id, rest, ok := readStr(k[len(base)+8:])
		return id, ok && len(rest) == 0, nil
	})
	if err != nil {
		return nil, err
	}
	slices.Sort(ids)
	return &plan{ids: slices.Compact(ids), exact: exact}, nil
}

// dedupe returns e with the repeated terms of its "and" and "or" chains
// dropped (a or a is a; a and a is a), at every depth, so a filter
// repeating a condition is planned and evaluated once per distinct
// condition. Terms compare as printed, so `userName sw "a"` and
// `USERNAME sw "a"` stay two. e is not modified.
func dedupe(e schemas.Expr) schemas.Expr {
	switch e := e.(type) {
	case *schemas.LogicalExpr:
		var terms []schemas.Expr
		flatten(e, e.And, &terms)
		seen := make(map[string]bool, len(terms))
		var out schemas.Expr
		for _, t := range terms {
			t = dedupe(t)
			k := t.String()
			if seen[k] {
				continue
			}
			seen[k] = true
			if out == nil {
				out = t
			} else {
				out = &schemas.LogicalExpr{And: e.And, Left: out, Right: t}
			}
		}
		return out
	case *schemas.NotExpr:
		return &schemas.NotExpr{X: dedupe(e.X)}
	case *schemas.ValuePathExpr:
		return &schemas.ValuePathExpr{Path: e.Path, Filter: dedupe(e.Filter)}
	}
	return e
}

// flatten appends the terms of the chain of "and"s (and) or "or"s under e.
func flatten(e schemas.Expr, and bool, terms *[]schemas.Expr) {
	if le, ok := e.(*schemas.LogicalExpr); ok && le.And == and {
		flatten(le.Left, and, terms)
		flatten(le.Right, and, terms)
		return
	}
	*terms = append(*terms, e)
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

// match reports whether the stored resource r matches e, as the resource
// type's evaluator decides it given r's meta and membership
// (schemas.ResourceType.MatchesDerived); the plans above must agree.
func (l *lister) match(e schemas.Expr, r *record) bool {
	if l.derived.Membership == nil {
		l.member.l = l
		l.derived.ResourceType = l.typ
		l.derived.Membership = &l.member
	}
	l.member.id = r.Resource.ID()
	l.derived.Created, l.derived.LastModified = r.Created, r.LastModified
	return l.rt.MatchesDerived(e, r.Resource, &l.derived)
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
