package projection

import (
	"context"
	"errors"
	"strings"

	"github.com/dgraph-io/badger/v4"

	"github.com/scim-bridge/scim-bridge/schemas"
)

// Filters on a Group's "members" and a User's "groups" (RFC 7643 §4.1.2,
// §4.2). Neither is part of the stored Resource: both live in the
// membership index, so these conditions are planned and evaluated here:
//
//	members[value eq "id"], members.value eq "id", members eq "id"   (Group)
//	groups[value eq "id"],  groups.value eq "id",  groups eq "id"     (User)
//	members pr, groups pr
//
// Any other condition on them (co, sw, ne, display, type…) is refused with
// invalidFilter rather than answered wrongly.

// membershipAttr is the derived multi-valued attribute of the type.
func (l *lister) membershipAttr() string {
	if l.typ == typeGroup {
		return "members"
	}
	return "groups"
}

// membership classifies e: a supported membership condition (value is the
// referenced id, "" for pr), or not one at all.
func (l *lister) membership(e schemas.Expr) (value string, present, ok bool) {
	attr := l.membershipAttr()
	switch e := e.(type) {
	case *schemas.PresentExpr:
		if l.isPath(e.Path, attr, "") {
			return "", true, true
		}
	case *schemas.CompareExpr:
		v, isStr := e.Value.(string)
		if isStr && e.Op == schemas.OpEq && (l.isPath(e.Path, attr, "") || l.isPath(e.Path, attr, "value")) {
			return v, false, true
		}
	case *schemas.ValuePathExpr:
		c, isCmp := e.Filter.(*schemas.CompareExpr)
		if !isCmp || !l.isPath(e.Path, attr, "") || c.Op != schemas.OpEq ||
			!strings.EqualFold(c.Path.Name, "value") || c.Path.Sub != "" {
			return "", false, false
		}
		if v, isStr := c.Value.(string); isStr {
			return v, false, true
		}
	}
	return "", false, false
}

// checkMembership refuses conditions on members/groups that are not
// supported, so they never silently match nothing.
func (l *lister) checkMembership(e schemas.Expr) error {
	if _, _, ok := l.membership(e); ok {
		return nil
	}
	attr := l.membershipAttr()
	switch e := e.(type) {
	case *schemas.LogicalExpr:
		return errors.Join(l.checkMembership(e.Left), l.checkMembership(e.Right))
	case *schemas.NotExpr:
		return l.checkMembership(e.X)
	case *schemas.CompareExpr:
		if l.isPath(e.Path, attr, e.Path.Sub) {
			return schemas.Errorf(schemas.KindInvalidFilter, "filters on %s support only %s[value eq \"id\"], %s.value eq \"id\" and %s pr", attr, attr, attr, attr)
		}
	case *schemas.PresentExpr:
		if l.isPath(e.Path, attr, e.Path.Sub) {
			return schemas.Errorf(schemas.KindInvalidFilter, "filters on %s support only %s[value eq \"id\"], %s.value eq \"id\" and %s pr", attr, attr, attr, attr)
		}
	case *schemas.ValuePathExpr:
		if l.isPath(e.Path, attr, "") {
			return schemas.Errorf(schemas.KindInvalidFilter, "filters on %s support only %s[value eq \"id\"], %s.value eq \"id\" and %s pr", attr, attr, attr, attr)
		}
	}
	return nil
}

// planMembership gives the ids a membership condition selects, exactly.
func (l *lister) planMembership(ctx context.Context, value string) (*plan, error) {
	var prefix []byte
	if l.typ == typeGroup {
		prefix = memberOfPrefix(l.tenant, value) // the groups value is in
	} else {
		prefix = memberPrefix(l.tenant, value) // the members of group value
	}
	// Not exact: a group's members may be groups, and the entries of a
	// group being deleted are leftovers; evaluating the condition on each
	// loaded resource settles both.
	return l.indexIDs(ctx, prefix, false)
}

// matchMembership evaluates a membership condition on resource id.
func (l *lister) matchMembership(id, value string, present bool) bool {
	var key []byte
	switch {
	case present && l.typ == typeGroup:
		return l.anyUnder(memberPrefix(l.tenant, id))
	case present:
		return l.anyUnder(memberOfPrefix(l.tenant, id))
	case l.typ == typeGroup:
		key = memberKey(l.tenant, id, value)
	default:
		key = memberKey(l.tenant, value, id)
	}
	_, err := l.txn.Get(key)
	return err == nil && l.live(l.typ == typeGroup, id, value)
}

// live reports whether the group of a membership entry is not being
// deleted (a tombstoned group's remaining entries are leftovers).
func (l *lister) live(isGroup bool, id, value string) bool {
	g := value
	if isGroup {
		g = id
	}
	_, err := l.txn.Get(tombstoneKey(l.tenant, g))
	return errors.Is(err, badger.ErrKeyNotFound)
}

func (l *lister) anyUnder(prefix []byte) bool {
	ids, err := keysUnder(l.txn, prefix, 1)
	return err == nil && len(ids) > 0
}
