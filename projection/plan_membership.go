package projection

import (
	"context"
	"errors"

	"github.com/dgraph-io/badger/v4"
)

// Filters on a Group's "members" and a User's "groups" (RFC 7643 §4.1.2,
// §4.2). Neither is part of the stored Resource: both live in the
// membership index. The evaluator decides which conditions on them it
// answers and what they mean (schemas.ResourceType.MembershipCondition,
// MatchesDerived); here they are planned over the index, and the index
// answers the evaluator's questions about one resource
// (resourceMembership).

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

// resourceMembership is the schemas.Membership of the resource being
// matched, read from the membership index in the lister's transaction.
type resourceMembership struct {
	l  *lister
	id string // the resource's id
}

// Has reports whether id is a member of the group, or a group of the user,
// in a group not being deleted.
func (m *resourceMembership) Has(id string) bool {
	l := m.l
	if l.typ == typeGroup {
		_, err := l.txn.Get(memberKey(l.tenant, m.id, id))
		return err == nil && l.live(true, m.id, id)
	}
	_, err := l.txn.Get(memberKey(l.tenant, id, m.id))
	return err == nil && l.live(false, m.id, id)
}

// Any reports whether the group has members, or the user groups.
func (m *resourceMembership) Any() bool {
	if m.l.typ == typeGroup {
		return m.l.anyUnder(memberPrefix(m.l.tenant, m.id))
	}
	return m.l.anyUnder(memberOfPrefix(m.l.tenant, m.id))
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
	ids, err := keysUnder(badgerReader{l.txn}, prefix, 1)
	return err == nil && len(ids) > 0
}
