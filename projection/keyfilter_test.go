package projection

import (
	"context"
	"fmt"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/scim-bridge/scim-bridge/events"

	"github.com/scim-bridge/scim-bridge/projection/view"
)

// nsReads counts the reads of keys of the filtered namespaces by
// applying, per namespace.
type nsReads struct {
	kvDB
	n map[byte]*atomic.Int64
}

func countReads(s *Store) map[byte]*atomic.Int64 {
	n := map[byte]*atomic.Int64{nsUserName: {}, nsGroupCount: {}, nsCreatedBy: {}}
	s.kv = nsReads{s.kv, n}
	return n
}

func (d nsReads) newTxn() kvTxn { return nsReadsTxn{d.kvDB.newTxn(), d.n} }

type nsReadsTxn struct {
	kvTxn
	n map[byte]*atomic.Int64
}

func (t nsReadsTxn) value(dst, key []byte) ([]byte, bool, error) {
	if len(key) > 0 && key[0] == tagTenant {
		if _, rest, ok := readStr(key[1:]); ok && len(rest) > 0 && t.n[rest[0]] != nil {
			t.n[rest[0]].Add(1)
		}
	}
	return t.kvTxn.value(dst, key)
}

// waitKeyScan waits for the scan of the POST index at open.
func waitKeyScan(t *testing.T, s *Store) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); !s.filter.ready.Load(); {
		if time.Now().After(deadline) {
			t.Fatal("the scan of the POST index did not finish")
		}
		time.Sleep(time.Millisecond)
	}
}

// Applying reads a key of the filtered namespaces only when the filter
// may hold it: a created user's POST key and userName key, a new member's
// group list. And it still finds every key there is, written before the
// Store opened (the scan) or since: the second landing of a POST, a
// userName two users claim, a member's other groups.
func TestStore_KeyFilter(t *testing.T) {
	ctx := context.Background()
	t.Run("NoReadOfAbsentKeys", func(t *testing.T) {
		s := openMem(t, Options{})
		waitKeyScan(t, s)
		reads := countReads(s)
		f := newFeed()
		f.groupCreated("acme", "g1", "Admins")
		for i := range 100 {
			f.userCreated("acme", fmt.Sprintf("u%d", i), fmt.Sprintf("user%d", i))
			f.digest(fmt.Sprintf("post-%d", i), 1)
			f.addMembers("acme", "g1", fmt.Sprintf("u%d", i))
		}
		applyAll(t, s, f.recs)
		for ns, n := range reads {
			if n.Load() > 1 {
				t.Errorf("applying 100 POSTs and member adds read keys of namespace %q %d times; want none (at most one false maybe)", ns, n.Load())
			}
		}
		for i := range 100 {
			if got, want := createdBy(t, s, "acme", fmt.Sprintf("post-%d", i)), fmt.Sprintf("u%d", i); got != want {
				t.Fatalf("CreatedBy(post-%d) = %q, want %q", i, got, want)
			}
		}
		if id, found, err := s.UserIDByUserName(ctx, "acme", "USER7"); err != nil || !found || id != "u7" {
			t.Errorf("UserIDByUserName(USER7) = %q, %v, %v; want u7", id, found, err)
		}
		if id, found, err := s.UserIDByUserName(ctx, "acme", "nobody"); err != nil || found {
			t.Errorf("UserIDByUserName(nobody) = %q, %v, %v; want none", id, found, err)
		}
	})
	t.Run("BeforeTheScan", func(t *testing.T) {
		s := openMem(t, Options{})
		waitKeyScan(t, s)
		s.filter.ready.Store(false)
		reads := countReads(s)
		f := newFeed()
		f.userCreated("acme", "u1", "alice")
		f.digest("post-u1", 1)
		f.groupCreated("acme", "g1", "Admins")
		f.addMembers("acme", "g1", "u1")
		applyAll(t, s, f.recs)
		for ns, n := range reads {
			if n.Load() != 1 {
				t.Errorf("applying before the scan read keys of namespace %q %d times; want once", ns, n.Load())
			}
		}
	})

	for _, reopen := range []bool{false, true} {
		t.Run(fmt.Sprintf("Present/reopen=%v", reopen), func(t *testing.T) {
			dir := t.TempDir()
			s := openAt(t, dir, Options{})
			f := newFeed()
			f.userCreated("acme", "u1", "alice")
			f.digest("post-alice", 1)
			f.groupCreated("acme", "g1", "Admins")
			f.digest("post-admins", 1)
			f.groupCreated("acme", "g0", "All")
			f.addMembers("acme", "g0", "u1")
			first := len(f.recs)
			// The same POSTs landed again, with the ids of their second
			// attempts; a user claims alice's userName (a log the bridge
			// did not write); alice joins a second group.
			f.userCreated("acme", "u2", "alice")
			f.digest("post-alice", 1)
			f.groupCreated("acme", "g2", "Admins")
			f.digest("post-admins", 1)
			f.userCreated("acme", "u3", "ALICE")
			f.groupCreated("acme", "g3", "Staff")
			f.addMembers("acme", "g3", "u1")
			f.emit(events.UserUpdated, "acme", "User", "u1", user("u1", "alice", "displayName", "Alice"), nil, nil)

			applyAll(t, s, f.recs[:first])
			if reopen {
				if err := s.Close(); err != nil {
					t.Fatalf("Close() = %v", err)
				}
				s = openAt(t, dir, Options{})
			}
			waitKeyScan(t, s)
			applyAll(t, s, f.recs[first:])
			for _, tc := range []struct{ typ, id, digest, first string }{
				{"User", "u2", "post-alice", ""}, // u1 changed since: the key went
				{"Group", "g2", "post-admins", "g1"},
			} {
				if _, err := s.Get(ctx, "acme", tc.typ, tc.id, view.GetOptions{}); err == nil {
					t.Errorf("Get(%s) found the second landing of %s; want it ignored", tc.id, tc.digest)
				}
				if got := createdBy(t, s, "acme", tc.digest); got != tc.first {
					t.Errorf("CreatedBy(%s) = %q, want %q", tc.digest, got, tc.first)
				}
			}
			if id, found, err := s.UserIDByUserName(ctx, "acme", "alice"); err != nil || !found || id != "u1" {
				t.Errorf("UserIDByUserName(alice) = %q, %v, %v; want u1, its first claimant", id, found, err)
			}
			if gs, err := s.GroupsOf(ctx, "acme", "u1"); err != nil || !slices.Equal(gs, []string{"g0", "g3"}) {
				t.Errorf("GroupsOf(u1) = %v, %v; want [g0 g3]", gs, err)
			}
			last := f.recs[len(f.recs)-1]
			checkWritten(t, s, last)
			if st, _, _ := s.Written(ctx, 0, last.Offset, "acme", "User", "u1", view.GetOptions{Raw: true, Groups: true}); st.Resource == nil {
				t.Errorf("Written(u1) has no groups; want g0 and g3")
			}
		})
	}
}

// The filter never answers "absent" for a key it was given, and does for
// keys it was not.
func TestKeyFilter(t *testing.T) {
	f := newKeyFilter(1 << 10)
	f.ready.Store(true)
	maybe := 0
	for i := range 1000 {
		k := createdByKey("acme", fmt.Sprintf("digest-%d", i))
		if f.mayHave(k) {
			maybe++
		}
		f.add(k)
		if !f.mayHave(k) {
			t.Fatalf("mayHave(key %d) after add = false", i)
		}
	}
	if maybe == 1000 {
		t.Errorf("mayHave answered maybe for every key before it was added")
	}
}
