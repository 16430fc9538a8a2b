package schemas

import (
	"errors"
	"strings"
	"time"
)

// Derived holds what a filter may ask of a resource that its Resource does
// not hold: the meta attribute (RFC 7643 §3.1), which a store keeps beside
// the resource, and the members of a Group or the groups of a User (RFC
// 7643 §4.1.2, §4.2), which live in a membership index.
type Derived struct {
	ResourceType          string    // meta.resourceType
	Created, LastModified time.Time // meta.created, meta.lastModified
	Membership            Membership
}

// Membership answers for one resource the membership conditions of a
// filter: on a Group's "members" or on a User's "groups". A nil Membership
// has none.
type Membership interface {
	// Has reports whether id is one of the resource's members (of a
	// Group) or groups (of a User).
	Has(id string) bool
	// Any reports whether the resource has any.
	Any() bool
}

// MatchesDerived is Matches for a resource whose meta attribute and
// membership are given in d rather than held in r. It is what a filter
// means for a stored resource; a store's index plans must agree with it.
//
//   - meta.created and meta.lastModified compare as instants with eq, ne,
//     gt, ge, lt and le (a value that is not an RFC 3339 dateTime, or
//     another operator, matches nothing); meta.resourceType with eq and ne,
//     case-exactly; other meta conditions match nothing, except that pr is
//     true of each of created, lastModified, resourceType, version and
//     location, which every stored resource has.
//   - the membership conditions (MembershipCondition) ask d.Membership.
//     Other conditions on members or groups are refused by
//     CheckMembershipFilter, which callers run first.
//   - everything else is as Matches evaluates it on r.
func (rt *ResourceType) MatchesDerived(e Expr, r Resource, d *Derived) bool {
	return rt.match(e, r, nil, d)
}

// matchDerived evaluates e when it is a condition on meta or a membership
// condition (handled true), else leaves it to match.
func (rt *ResourceType) matchDerived(e Expr, d *Derived) (matches, handled bool) {
	if id, present, ok := rt.MembershipCondition(e); ok {
		switch {
		case d.Membership == nil:
			return false, true
		case present:
			return d.Membership.Any(), true
		}
		return d.Membership.Has(id), true
	}
	switch e := e.(type) {
	case *PresentExpr:
		if rt.isCorePath(e.Path, "meta", e.Path.Sub) {
			switch strings.ToLower(e.Path.Sub) {
			case "created", "lastmodified", "resourcetype", "version", "location":
				return true, true
			}
			return false, true
		}
	case *CompareExpr:
		if rt.isCorePath(e.Path, "meta", e.Path.Sub) {
			return d.matchMeta(e), true
		}
	}
	return false, false
}

// matchMeta evaluates a comparison on meta.
func (d *Derived) matchMeta(e *CompareExpr) bool {
	v, ok := e.Value.(string)
	if !ok {
		return false
	}
	var at time.Time
	switch strings.ToLower(e.Path.Sub) {
	case "created":
		at = d.Created
	case "lastmodified":
		at = d.LastModified
	case "resourcetype":
		switch e.Op {
		case OpEq:
			return v == d.ResourceType
		case OpNe:
			return v != d.ResourceType
		}
		return false
	default:
		return false
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return false
	}
	if e.Op == OpNe {
		return !at.Equal(t)
	}
	return orderMatches(e.Op, at.Compare(t))
}

// membershipAttr is the attribute a filter names membership with: a
// Group's "members", a User's "groups"; "" for other types.
func (rt *ResourceType) membershipAttr() string {
	switch {
	case rt.IsGroup():
		return "members"
	case rt.Schema != nil && strings.EqualFold(rt.Schema.ID, URNUser):
		return "groups"
	}
	return ""
}

// MembershipCondition reports whether e is a membership condition, one a
// Membership answers (present false: whether id is a member or group of
// the resource; present true: whether it has any):
//
//	members[value eq "id"], members.value eq "id", members eq "id"   (Group)
//	groups[value eq "id"],  groups.value eq "id",  groups eq "id"     (User)
//	members pr, groups pr
func (rt *ResourceType) MembershipCondition(e Expr) (id string, present, ok bool) {
	attr := rt.membershipAttr()
	if attr == "" {
		return "", false, false
	}
	switch e := e.(type) {
	case *PresentExpr:
		if rt.isCorePath(e.Path, attr, "") {
			return "", true, true
		}
	case *CompareExpr:
		v, isStr := e.Value.(string)
		if isStr && e.Op == OpEq && (rt.isCorePath(e.Path, attr, "") || rt.isCorePath(e.Path, attr, "value")) {
			return v, false, true
		}
	case *ValuePathExpr:
		c, isCmp := e.Filter.(*CompareExpr)
		if !isCmp || !rt.isCorePath(e.Path, attr, "") || c.Op != OpEq ||
			!strings.EqualFold(c.Path.Name, "value") || c.Path.Sub != "" {
			return "", false, false
		}
		if v, isStr := c.Value.(string); isStr {
			return v, false, true
		}
	}
	return "", false, false
}

// CheckMembershipFilter refuses, with KindInvalidFilter, the conditions on
// members or groups that are not membership conditions (co, sw, ne,
// display, type…), which MatchesDerived cannot answer: they would silently
// match nothing.
func (rt *ResourceType) CheckMembershipFilter(e Expr) error {
	attr := rt.membershipAttr()
	if attr == "" {
		return nil
	}
	if _, _, ok := rt.MembershipCondition(e); ok {
		return nil
	}
	refuse := false
	switch e := e.(type) {
	case *LogicalExpr:
		return errors.Join(rt.CheckMembershipFilter(e.Left), rt.CheckMembershipFilter(e.Right))
	case *NotExpr:
		return rt.CheckMembershipFilter(e.X)
	case *CompareExpr:
		refuse = rt.isCorePath(e.Path, attr, e.Path.Sub)
	case *PresentExpr:
		refuse = rt.isCorePath(e.Path, attr, e.Path.Sub)
	case *ValuePathExpr:
		refuse = rt.isCorePath(e.Path, attr, "")
	}
	if refuse {
		return Errorf(KindInvalidFilter, "filters on %s support only %s[value eq \"id\"], %s.value eq \"id\" and %s pr", attr, attr, attr, attr)
	}
	return nil
}

// isCorePath reports whether p names name.sub of the type's core schema
// (with or without its URN), ignoring case.
func (rt *ResourceType) isCorePath(p AttrPath, name, sub string) bool {
	if p.URN != "" && (rt.Schema == nil || !strings.EqualFold(p.URN, rt.Schema.ID)) {
		return false
	}
	return strings.EqualFold(p.Name, name) && strings.EqualFold(p.Sub, sub)
}
