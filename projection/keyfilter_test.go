package projection

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/scim-bridge/scim-bridge/projection/view"
)

// qReads counts the reads of the POST index's keys by applying.
type qReads struct {
	kvDB
	n *atomic.Int64
}

func (d qReads) newTxn() kvTxn { return qReadsTxn{d.kvDB.newTxn(), d.n} }

type qReadsTxn struct {
	kvTxn
	n *atomic.Int64
}

func (t qReadsTxn) value(dst, key []byte) ([]byte, bool, error) {
	if len(key) > 0 && key[0] == tagTenant {
		if _, rest, ok := readStr(key[1:]); ok && len(rest) > 0 && rest[0] == nsCreatedBy {
			t.n.Add(1)
		}
	}
	return t.kvTxn.value(dst, key)
}

// waitKeyScan waits for the scan of the POST index at open.
func waitKeyScan(t *testing.T, s *Store) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); !s.createdKeys.ready.Load(); {
		if time.Now().After(deadline) {
			t.Fatal("the scan of the POST index did not finish")
		}
		time.Sleep(time.Millisecond)
	}
}

// Applying a created event reads its POST's key only when the filter of
// those keys may hold it, and still finds every second landing of a POST:
// of keys written before the Store opened (the scan) and since.
func TestStore_CreatedKeysFilter(t *testing.T) {
	ctx := context.Background()
	t.Run("NoReadOfAbsentKeys", func(t *testing.T) {
		s := openMem(t, Options{})
		waitKeyScan(t, s)
		var reads atomic.Int64
		s.kv = qReads{s.kv, &reads}
		f := newFeed()
		for i := range 100 {
			f.userCreated("acme", fmt.Sprintf("u%d", i), fmt.Sprintf("user%d", i))
			f.digest(fmt.Sprintf("post-%d", i), 1)
		}
		applyAll(t, s, f.recs)
		if n := reads.Load(); n > 1 {
			t.Errorf("applying 100 POSTs read their keys %d times; want none (at most one false maybe)", n)
		}
		for i := range 100 {
			if got, want := createdBy(t, s, "acme", fmt.Sprintf("post-%d", i)), fmt.Sprintf("u%d", i); got != want {
				t.Fatalf("CreatedBy(post-%d) = %q, want %q", i, got, want)
			}
		}
	})
	t.Run("BeforeTheScan", func(t *testing.T) {
		s := openMem(t, Options{})
		waitKeyScan(t, s)
		s.createdKeys.ready.Store(false)
		var reads atomic.Int64
		s.kv = qReads{s.kv, &reads}
		f := newFeed()
		f.userCreated("acme", "u1", "alice")
		f.digest("post-u1", 1)
		applyAll(t, s, f.recs)
		if n := reads.Load(); n != 1 {
			t.Errorf("applying a POST before the scan read its key %d times; want once", n)
		}
	})

	// The second landing of a POST changes nothing, whether its first
	// landing was applied before the Store opened or after.
	for _, reopen := range []bool{false, true} {
		t.Run(fmt.Sprintf("SecondLanding/reopen=%v", reopen), func(t *testing.T) {
			dir := t.TempDir()
			s := openAt(t, dir, Options{})
			f := newFeed()
			f.userCreated("acme", "u1", "alice")
			f.digest("post-alice", 1)
			f.groupCreated("acme", "g1", "Admins")
			f.digest("post-admins", 1)
			applyAll(t, s, f.recs)
			if reopen {
				if err := s.Close(); err != nil {
					t.Fatalf("Close() = %v", err)
				}
				s = openAt(t, dir, Options{})
			}
			waitKeyScan(t, s)
			// The same POSTs landed again, with the ids of their second
			// attempts.
			g := newFeed()
			g.userCreated("acme", "u2", "alice")
			g.digest("post-alice", 1)
			g.groupCreated("acme", "g2", "Admins")
			g.digest("post-admins", 1)
			for i := range g.recs {
				g.recs[i].Offset += int64(len(f.recs))
			}
			applyAll(t, s, g.recs)
			for _, tc := range []struct{ typ, id, digest, first string }{
				{"User", "u2", "post-alice", "u1"},
				{"Group", "g2", "post-admins", "g1"},
			} {
				if _, err := s.Get(ctx, "acme", tc.typ, tc.id, view.GetOptions{}); err == nil {
					t.Errorf("Get(%s) found the second landing of %s; want it ignored", tc.id, tc.digest)
				}
				if got := createdBy(t, s, "acme", tc.digest); got != tc.first {
					t.Errorf("CreatedBy(%s) = %q, want %q", tc.digest, got, tc.first)
				}
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
