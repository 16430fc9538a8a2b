package projection

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/dgraph-io/badger/v4"

	"github.com/scim-bridge/scim-bridge/events"
	"github.com/scim-bridge/scim-bridge/projection/view"
	"github.com/scim-bridge/scim-bridge/schemas"
)

// TestStore_GroupCount: the o count of every member equals its number of h
// entries after adds, removes, a user delete, nested groups and a group
// delete larger than a member batch (tombstone cleanup), a user's groups
// read the same with and without entries, and an emptied tenant leaves no
// count behind.
func TestStore_GroupCount(t *testing.T) {
	s := openMem(t, Options{MemberBatch: 3})
	f := newFeed()
	for i := range 10 {
		f.userCreated("acme", fmt.Sprintf("u%d", i), fmt.Sprintf("user%d", i))
	}
	f.groupCreated("acme", "g1", "Sales")
	f.groupCreated("acme", "g2", "Eng")
	f.addMembers("acme", "g1", "u0", "u1", "u2", "u3", "u4", "u5", "u6", "u7") // more than a batch
	f.addMembers("acme", "g2", "u1", "u2")
	f.addMembers("acme", "g2", "u1") // already there
	f.emit(events.GroupMembersAdded, "acme", "Group", "g2", nil, []schemas.Member{{Value: "g1", Type: "Group"}}, nil)
	f.removeMembers("acme", "g1", "u0", "u9") // u9 was never a member
	f.emit(events.UserDeleted, "acme", "User", "u1", nil, nil, nil)
	applyAll(t, s, f.recs)
	checkGroupCounts(t, s, "acme")

	ctx := context.Background()
	for id, want := range map[string][]string{"u0": nil, "u2": {"g1", "g2"}, "u8": nil, "g1": {"g2"}} {
		got, err := s.GroupsOf(ctx, "acme", id)
		if err != nil || !slices.Equal(got, want) {
			t.Errorf("GroupsOf(%q) = %v, %v; want %v", id, got, err, want)
		}
	}
	st, err := s.Get(ctx, "acme", "User", "u8", view.GetOptions{Groups: true})
	if err != nil {
		t.Fatalf("Get(u8) = %v", err)
	}
	if _, ok := st.Resource["groups"]; ok {
		t.Errorf("Get(u8).groups = %v, want none", st.Resource["groups"])
	}

	f.emit(events.GroupDeleted, "acme", "Group", "g1", nil, nil, nil)
	applyAll(t, s, f.recs[len(f.recs)-1:])
	checkGroupCounts(t, s, "acme")
	if got, err := s.GroupsOf(ctx, "acme", "u3"); err != nil || len(got) != 0 {
		t.Errorf("GroupsOf(u3) after deleting g1 = %v, %v; want none", got, err)
	}

	f.emit(events.GroupDeleted, "acme", "Group", "g2", nil, nil, nil)
	applyAll(t, s, f.recs[len(f.recs)-1:])
	if n := keysWithPrefix(t, s, tenantNS("acme", nsGroupCount)); n != 0 {
		t.Errorf("%d group counts left after deleting every group, want 0", n)
	}
}

// TestStore_GroupCountInline: a member's o value lists its groups up to
// maxInlineGroups and only counts them beyond, in both directions (adding
// past the limit, removing back under it), and GroupsOf reads the same
// either way.
func TestStore_GroupCountInline(t *testing.T) {
	s := openMem(t, Options{})
	f := newFeed()
	f.userCreated("acme", "u1", "alice")
	f.userCreated("acme", "u2", "bob")
	var all []string
	for i := range maxInlineGroups + 2 {
		g := fmt.Sprintf("g%02d", i)
		all = append(all, g)
		f.groupCreated("acme", g, "Group "+g)
		f.addMembers("acme", g, "u1")
	}
	f.addMembers("acme", "g05", "u2")
	ctx := context.Background()
	applied := 0
	step := func(name string, want []string) {
		t.Helper()
		applyAll(t, s, f.recs[applied:])
		applied = len(f.recs)
		checkGroupCounts(t, s, "acme")
		got, err := s.GroupsOf(ctx, "acme", "u1")
		if err != nil || !slices.Equal(got, want) {
			t.Errorf("%s: GroupsOf(u1) = %v, %v; want %v", name, got, err, want)
		}
	}
	step("34 groups", all)
	f.removeMembers("acme", "g00", "u1")
	step("33 groups", all[1:])
	f.removeMembers("acme", "g01", "u1")
	step("32 groups, listed again", all[2:])
	f.removeMembers("acme", "g07", "u1")
	step("31 groups", slices.Concat(all[2:7], all[8:]))
	f.addMembers("acme", "g00", "u1")
	step("32 groups again", slices.Concat(all[:1], all[2:7], all[8:]))
	if got, err := s.GroupsOf(ctx, "acme", "u2"); err != nil || !slices.Equal(got, []string{"g05"}) {
		t.Errorf("GroupsOf(u2) = %v, %v; want [g05]", got, err)
	}
}

// TestGroupsValue_ListIsTheCount: while a member's groups are listed, adding
// a listed group or dropping an unlisted one changes nothing, so an index
// that disagrees with itself cannot make the value unreadable.
func TestGroupsValue_ListIsTheCount(t *testing.T) {
	s := openMem(t, Options{})
	key := groupCountKey("acme", "u1")
	read := func() groupsValue {
		t.Helper()
		var g groupsValue
		err := s.db.View(func(txn *badger.Txn) error {
			var err error
			g, err = loadGroupsValue(badgerReader{txn}, key)
			return err
		})
		if err != nil {
			t.Fatalf("loadGroupsValue() = %v", err)
		}
		return g
	}
	update := func(fn func(txn *writeTxn) error) {
		t.Helper()
		if err := s.update(fn); err != nil {
			t.Fatal(err)
		}
	}
	update(func(txn *writeTxn) error { return addMemberOf(txn, "acme", "u1", "g1") })
	update(func(txn *writeTxn) error { return addMemberOf(txn, "acme", "u1", "g1") })
	if g := read(); g.n != 1 || !slices.Equal(g.ids, []string{"g1"}) {
		t.Errorf("after adding g1 twice: %d %q, want 1 [g1]", g.n, g.ids)
	}
	update(func(txn *writeTxn) error { return dropMemberOf(txn, "acme", "u1", "g2") })
	if g := read(); g.n != 1 || !slices.Equal(g.ids, []string{"g1"}) {
		t.Errorf("after dropping unlisted g2: %d %q, want 1 [g1]", g.n, g.ids)
	}
	update(func(txn *writeTxn) error { return dropMemberOf(txn, "acme", "u1", "g1") })
	if g := read(); g.n != 0 || g.ids != nil {
		t.Errorf("after dropping g1: %d %q, want no value", g.n, g.ids)
	}
}

// checkGroupCounts fails unless every member's o value counts its h
// entries, lists them when there are at most maxInlineGroups (and only
// then), and no value exists without entries.
func checkGroupCounts(t *testing.T, s *Store, tenant string) {
	t.Helper()
	entries := map[string]int64{}
	lists := map[string][]string{}
	counts := map[string]int64{}
	values := map[string]groupsValue{}
	hp, op := tenantNS(tenant, nsMemberOf), tenantNS(tenant, nsGroupCount)
	err := s.Export(context.Background(), func(k, v []byte) error {
		switch {
		case bytes.HasPrefix(k, hp):
			m, rest, ok := readStr(k[len(hp):])
			if !ok {
				return fmt.Errorf("malformed key %q", k)
			}
			g, _, ok := readStr(rest)
			if !ok {
				return fmt.Errorf("malformed key %q", k)
			}
			entries[m]++
			lists[m] = append(lists[m], g)
		case bytes.HasPrefix(k, op):
			m, ok := lastStr(k, op)
			if !ok {
				return fmt.Errorf("malformed key %q", k)
			}
			g, err := decodeGroupsValue(v)
			if err != nil {
				return err
			}
			counts[m], values[m] = g.n, g
		}
		return nil
	})
	if err != nil {
		t.Fatalf("Export() = %v", err)
	}
	for m, n := range entries {
		if counts[m] != n {
			t.Errorf("group count of %q = %d, want %d", m, counts[m], n)
		}
		want := lists[m]
		if n > maxInlineGroups {
			want = nil
		}
		if got := values[m].ids; !slices.Equal(got, want) || (got == nil) != (want == nil) {
			t.Errorf("groups listed for %q = %q, want %q", m, got, want)
		}
	}
	for m, n := range counts {
		if entries[m] == 0 {
			t.Errorf("group count of %q = %d without entries", m, n)
		}
	}
}

// BenchmarkGroupsOf_None is the read of a user's groups when it has none:
// one point read.
func BenchmarkGroupsOf_None(b *testing.B) {
	s := openMem(b, Options{})
	f := newFeed()
	f.userCreated("acme", "u1", "alice")
	applyAll(b, s, f.recs)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		err := s.db.View(func(txn *badger.Txn) error {
			_, err := groupsOf(ctx, txn, "acme", "u1")
			return err
		})
		if err != nil {
			b.Fatal(err)
		}
	}
}
