package projection

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/dgraph-io/badger/v4"

	"github.com/scim-bridge/scim-bridge/schemas"
)

// applyMemberOps writes membership changes of one group, both directions,
// and adjusts the group's member count. It is idempotent: adding a present
// member or removing an absent one changes nothing, which is what lets a
// large delta be split over several transactions. It applies ops in order
// until it has applied limit of them or the record has written half its
// budget (txn.full), and returns how many it applied: at least one unless
// ops is empty.
func applyMemberOps(txn *writeTxn, tenant, groupID string, ops []memberOp, limit int) (int, error) {
	var delta int64
	n := 0
	for _, op := range ops {
		if n == limit || n > 0 && txn.full() {
			break
		}
		n++
		if op.m.Value == "" {
			continue
		}
		mk := txn.keys.memberKey(tenant, groupID, op.m.Value)
		old, exists, err := getValue(txn.kv, mk)
		if err != nil {
			return 0, err
		}
		if op.remove {
			if !exists {
				continue
			}
			if err := txn.Delete(mk); err != nil {
				return 0, err
			}
			if err := dropMemberOf(txn, tenant, op.m.Value, groupID); err != nil {
				return 0, err
			}
			delta--
			continue
		}
		v := memberValue(&txn.keys, op.m.Type, op.m.Display)
		if exists && bytes.Equal(old, v) {
			continue
		}
		if err := txn.Set(mk, v); err != nil {
			return 0, err
		}
		if exists {
			continue // type or display changed; the reverse entry is there
		}
		if err := txn.Set(txn.keys.memberOfKey(tenant, op.m.Value, groupID), nil); err != nil {
			return 0, err
		}
		if err := addMemberOf(txn, tenant, op.m.Value, groupID); err != nil {
			return 0, err
		}
		delta++
	}
	if delta == 0 {
		return n, nil
	}
	return n, addCounter(txn, memberCountKey(tenant, groupID), delta)
}

// getValue returns a copy of the value at key and whether it exists.
func getValue(txn kvReader, key []byte) ([]byte, bool, error) {
	return txn.value(nil, key)
}

// keysUnder returns the last key component of up to limit keys under
// prefix (limit < 0: all), in key order.
func keysUnder(txn kvReader, prefix []byte, limit int) ([]string, error) {
	var out []string
	if limit == 0 {
		return nil, nil
	}
	err := txn.scan(prefix, func(key []byte) (bool, error) {
		id, ok := lastStr(key, prefix)
		if !ok {
			// The key holds an indexed value: name its length only.
			return false, fmt.Errorf("%w: malformed index key of %d bytes", errBadState, len(key))
		}
		out = append(out, id)
		return limit < 0 || len(out) < limit, nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// removeFromAllGroups drops memberID from every group it is a direct member
// of. The bridge removes a deleted user from its groups with events first;
// this keeps the index right when it did not.
func removeFromAllGroups(txn *writeTxn, tenant, memberID string) error {
	groups, err := keysUnder(txn.kv, memberOfPrefix(tenant, memberID), -1)
	if err != nil {
		return err
	}
	for _, g := range groups {
		if _, err := applyMemberOps(txn, tenant, g, []memberOp{{remove: true, m: schemas.Member{Value: memberID}}}, 1); err != nil {
			return err
		}
	}
	return nil
}

// dropMembers deletes up to limit members of a deleted group (both
// directions), fewer once the record has written half its budget
// (txn.full), and reports whether more remain.
func dropMembers(txn *writeTxn, tenant, groupID string, limit int) (bool, error) {
	ids, err := keysUnder(txn.kv, memberPrefix(tenant, groupID), limit+1)
	if err != nil {
		return false, err
	}
	for i, m := range ids {
		if i == limit || txn.full() {
			return true, nil
		}
		if err := txn.Delete(txn.keys.memberKey(tenant, groupID, m)); err != nil {
			return false, err
		}
		if err := dropMemberOf(txn, tenant, m, groupID); err != nil {
			return false, err
		}
	}
	return false, nil
}

// dropMemberOf deletes the reverse entry of a membership that exists and
// keeps the member's group count in step.
func dropMemberOf(txn *writeTxn, tenant, memberID, groupID string) error {
	if err := txn.Delete(txn.keys.memberOfKey(tenant, memberID, groupID)); err != nil {
		return err
	}
	key := txn.keys.groupCountKey(tenant, memberID)
	g, err := loadGroupsValue(txn.kv, key)
	if err != nil {
		return err
	}
	if g.inline() {
		i, ok := slices.BinarySearch(g.ids, groupID)
		if !ok {
			return nil // not counted, so nothing to take back
		}
		g.ids = slices.Delete(g.ids, i, i+1)
		g.n = int64(len(g.ids))
	} else {
		g.n--
		if g.inline() {
			// Down to maxInlineGroups: list them again, from the entries
			// this transaction has just updated.
			if g.ids, err = keysUnder(txn.kv, memberOfPrefix(tenant, memberID), -1); err != nil {
				return err
			}
			g.n = int64(len(g.ids))
		}
	}
	if g.n <= 0 {
		return txn.Delete(key)
	}
	txn.filter.add(key)
	return txn.Set(key, g.encode(&txn.keys))
}

// addMemberOf keeps memberID's group count in step with a membership entry
// just written for groupID. While the groups are listed, the list is what
// counts, so a group already in it is not counted twice.
func addMemberOf(txn *writeTxn, tenant, memberID, groupID string) error {
	key := txn.keys.groupCountKey(tenant, memberID)
	var g groupsValue // a member in no group, unless the filter may have its key
	if txn.filter.mayHave(key) {
		var err error
		if g, err = loadGroupsValue(txn.kv, key); err != nil {
			return err
		}
	}
	if g.inline() {
		i, ok := slices.BinarySearch(g.ids, groupID)
		if ok {
			return nil
		}
		g.ids = slices.Insert(g.ids, i, groupID)
		g.n = int64(len(g.ids))
		if !g.inline() {
			g.ids = nil
		}
	} else {
		g.n++
	}
	txn.filter.add(key)
	return txn.Set(key, g.encode(&txn.keys))
}

// loadGroupsValue reads the value under a groupCountKey; a missing key is
// a member in no group.
func loadGroupsValue(txn kvReader, key []byte) (groupsValue, error) {
	v, found, err := getValue(txn, key)
	if err != nil || !found {
		return groupsValue{}, err
	}
	return decodeGroupsValue(v)
}

// cleanup deletes the remaining members of a deleted group in batches, then
// its tombstone. Each batch is its own transaction and idempotent; reads
// ignore the leftovers because the group record is gone.
func (s *Store) cleanup(tenant, groupID string) error {
	for more := true; more; {
		err := s.update(func(txn *writeTxn) error {
			var err error
			more, err = dropMembers(txn, tenant, groupID, s.memberBatch)
			if err != nil || more {
				return err
			}
			return txn.Delete(tombstoneKey(tenant, groupID))
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// cleanupAll finishes every group cleanup a crash interrupted.
func (s *Store) cleanupAll() error {
	type gone struct{ tenant, group string }
	var todo []gone
	err := s.db.View(func(txn *badger.Txn) error {
		prefix := []byte{tagGone}
		it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix})
		defer it.Close()
		for it.Seek(prefix); it.ValidForPrefix(prefix); it.Next() {
			tenant, rest, ok := readStr(it.Item().Key()[1:])
			if !ok {
				return fmt.Errorf("malformed tombstone %q", it.Item().Key())
			}
			group, _, ok := readStr(rest)
			if !ok {
				return fmt.Errorf("malformed tombstone %q", it.Item().Key())
			}
			todo = append(todo, gone{tenant, group})
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, g := range todo {
		s.logger.Info("finishing deleted group cleanup", "resource_id", g.group)
		if err := s.cleanup(g.tenant, g.group); err != nil {
			return err
		}
	}
	return nil
}

// Members returns the membership of a group; Contains reads one index key,
// List reads them all. A failed read (Badger, or ctx ended) answers as
// absent and is kept: Err returns the first one, and the caller discards
// whatever it computed from the set.
func (s *Store) Members(ctx context.Context, tenant, groupID string) schemas.Members {
	return &memberSet{s: s, ctx: ctx, tenant: tenant, groupID: groupID}
}

type memberSet struct {
	s               *Store
	ctx             context.Context
	tenant, groupID string
	err             error // the first failed read
}

func (m *memberSet) Contains(value string) bool {
	ok, err := m.s.IsMember(m.ctx, m.tenant, m.groupID, value)
	if err != nil && m.err == nil {
		m.err = fmt.Errorf("read membership of group %s: %w", m.groupID, err)
	}
	return ok && err == nil
}

func (m *memberSet) Lookup(value string) (schemas.Member, bool) {
	mem, ok, err := m.s.member(m.ctx, m.tenant, m.groupID, value)
	if err != nil {
		if m.err == nil {
			m.err = fmt.Errorf("read membership of group %s: %w", m.groupID, err)
		}
		return schemas.Member{}, false
	}
	return mem, ok
}

func (m *memberSet) List() []schemas.Member {
	list, err := m.s.MemberList(m.ctx, m.tenant, m.groupID)
	if err != nil {
		if m.err == nil {
			m.err = fmt.Errorf("list members of group %s: %w", m.groupID, err)
		}
		return nil
	}
	return list
}

func (m *memberSet) Err() error { return m.err }

// IsMember reports whether memberID is a direct member of the group: one
// key read.
func (s *Store) IsMember(ctx context.Context, tenant, groupID, memberID string) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	var ok bool
	err := s.db.View(func(txn *badger.Txn) error {
		_, err := txn.Get(memberKey(tenant, groupID, memberID))
		if errors.Is(err, badger.ErrKeyNotFound) {
			return nil
		}
		ok = err == nil
		return err
	})
	return ok, err
}

// member reads one direct member of a group, with its stored type and
// display: one key read.
func (s *Store) member(ctx context.Context, tenant, groupID, memberID string) (schemas.Member, bool, error) {
	if err := ctx.Err(); err != nil {
		return schemas.Member{}, false, err
	}
	m := schemas.Member{Value: memberID}
	var ok bool
	err := s.db.View(func(txn *badger.Txn) error {
		item, err := txn.Get(memberKey(tenant, groupID, memberID))
		if errors.Is(err, badger.ErrKeyNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		ok = true
		return item.Value(func(v []byte) error {
			m.Type, m.Display = decodeMemberValue(v)
			return nil
		})
	})
	return m, ok && err == nil, err
}

// MemberList returns the direct members of a group ordered by member id.
func (s *Store) MemberList(ctx context.Context, tenant, groupID string) ([]schemas.Member, error) {
	var out []schemas.Member
	err := s.db.View(func(txn *badger.Txn) error {
		var err error
		out, err = memberList(ctx, txn, tenant, groupID)
		return err
	})
	return out, err
}

func memberList(ctx context.Context, txn *badger.Txn, tenant, groupID string) ([]schemas.Member, error) {
	prefix := memberPrefix(tenant, groupID)
	it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix, PrefetchValues: true, PrefetchSize: 100})
	defer it.Close()
	var out []schemas.Member
	for it.Seek(prefix); it.ValidForPrefix(prefix); it.Next() {
		if len(out)%1024 == 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
		item := it.Item()
		id, ok := lastStr(item.Key(), prefix)
		if !ok {
			return nil, fmt.Errorf("malformed member key %q", item.Key())
		}
		m := schemas.Member{Value: id}
		err := item.Value(func(v []byte) error {
			m.Type, m.Display = decodeMemberValue(v)
			return nil
		})
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, nil
}

// GroupsOf returns the ids of the groups the member (user or group) is a
// direct member of, sorted.
func (s *Store) GroupsOf(ctx context.Context, tenant, memberID string) ([]string, error) {
	var out []string
	err := s.db.View(func(txn *badger.Txn) error {
		groups, err := groupsOf(ctx, txn, tenant, memberID)
		for _, g := range groups {
			out = append(out, g.id)
		}
		return err
	})
	return out, err
}

type groupRef struct {
	id, displayName string
}

// groupsOf lists the live groups memberID belongs to, with their
// displayName; entries of a group being cleaned up after its delete have no
// group record and are ignored.
func groupsOf(ctx context.Context, txn *badger.Txn, tenant, memberID string) ([]groupRef, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	// One point read lists the groups of most members (see groupsValue),
	// where an iterator on the h prefix costs a seek in every table
	// overlapping it.
	g, err := loadGroupsValue(badgerReader{txn}, groupCountKey(tenant, memberID))
	if err != nil || g.n == 0 {
		return nil, err
	}
	ids := g.ids
	if !g.inline() {
		if ids, err = keysUnder(badgerReader{txn}, memberOfPrefix(tenant, memberID), -1); err != nil {
			return nil, err
		}
	}
	out := make([]groupRef, 0, len(ids))
	for _, id := range ids {
		dn, found, err := loadDisplayName(txn, resourceKey(tenant, typeGroup, id))
		if err != nil {
			return nil, err
		}
		if found {
			out = append(out, groupRef{id: id, displayName: dn})
		}
	}
	return out, nil
}
