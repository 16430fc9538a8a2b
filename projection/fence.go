package projection

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/dgraph-io/badger/v4"

	"github.com/scim-bridge/scim-bridge/events"
	"github.com/scim-bridge/scim-bridge/projection/view"
)

// Fencing. Each partition has a fence (events.Fence): the claim in force
// after the records applied so far. A claim record that takes effect moves
// it, in the transaction that moves the partition's position past the
// claim, so a restart or a replay resumes with the fence that goes with
// its position. A void record (a write event older than the claim in
// force, a claim that does not take effect) is skipped with reason "void"
// like any other skip, before anything else is judged about it; a claim
// that takes effect writes nothing but the fence. Nothing here reads a
// clock: what is void depends on the records before it in its partition
// only.

// ErrVoid is returned by WaitApplied when the awaited record is void: a
// write event older than the claim in force before it (its writer no
// longer owned the partition; the write did not happen), or a claim that
// did not take effect (a claim with a higher epoch came first). It is
// view.ErrVoid, so that the bridge can tell it without the store.
var ErrVoid = view.ErrVoid

// claimValue is the value under a claim key: the fence of the partition.
type claimValue struct {
	Epoch int64  `json:"epoch"`
	Owner string `json:"owner"`
}

// Fence returns the claim in force in partition p after the records the
// projection has applied (the zero Fence before any claim). The owner of
// a partition knows it still is while this is its claim.
func (s *Store) Fence(p int) events.Fence {
	s.mu.Lock()
	defer s.mu.Unlock()
	if p < 0 || p >= len(s.fences) {
		return events.Fence{}
	}
	return s.fences[p]
}

// fenceLocked returns partition p's fence; s.mu is held.
func (s *Store) fenceLocked(p int) events.Fence {
	if p < len(s.fences) {
		return s.fences[p]
	}
	return events.Fence{}
}

// fenceOf returns partition p's fence as committed. The caller holds the
// partition's lock, so it does not move meanwhile.
func (s *Store) fenceOf(p int) events.Fence {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.fenceLocked(p)
}

// voidReason returns reasonVoid when rec is void under f, else "". A record
// that is no event of the contract (Record.Err) is not judged here.
func voidReason(rec *events.Record, f events.Fence) string {
	switch {
	case rec.Err != nil:
		return ""
	case rec.Claim != nil:
		if _, ok := f.Claim(rec.Claim); !ok {
			return reasonVoid
		}
	case f.Voids(&rec.Event):
		return reasonVoid
	}
	return ""
}

// precheck returns why rec must be skipped whatever the state, with the
// partition's fence at f: void first, then what the record alone says
// (checkRecord). "" for a record to apply.
func precheck(rec *events.Record, f events.Fence) string {
	if r := voidReason(rec, f); r != "" {
		return r
	}
	if rec.Claim != nil {
		return ""
	}
	return checkRecord(rec)
}

// applyClaim writes the fence after claim c, which takes effect under *f,
// into t when it changes, and moves *f.
func applyClaim(t *writeTxn, p int, f *events.Fence, c *events.Claim) error {
	next, _ := f.Claim(c)
	if next == *f {
		return nil // the claim in force, again
	}
	v, err := json.Marshal(claimValue{Epoch: next.Epoch, Owner: next.Owner})
	if err != nil {
		return err
	}
	if err := t.Set(claimKey(p), v); err != nil {
		return err
	}
	*f = next
	return nil
}

// loadFences reads every partition's fence; s is not yet shared.
func (s *Store) loadFences(txn *badger.Txn) error {
	prefix := []byte{tagClaim}
	it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix})
	defer it.Close()
	for it.Seek(prefix); it.ValidForPrefix(prefix); it.Next() {
		k := it.Item().Key()
		if len(k) != 5 {
			continue
		}
		p := int(uint32(k[1])<<24 | uint32(k[2])<<16 | uint32(k[3])<<8 | uint32(k[4]))
		var cv claimValue
		err := it.Item().Value(func(v []byte) error { return json.Unmarshal(v, &cv) })
		if err != nil {
			return fmt.Errorf("claim of partition %d: %w", p, err)
		}
		s.growLocked(p + 1)
		s.fences[p] = events.Fence{Epoch: cv.Epoch, Owner: cv.Owner}
	}
	return nil
}

// voided reports whether the record at offset off of partition p, which is
// applied, was skipped as void.
func (s *Store) voided(p int, off int64) (bool, error) {
	var void bool
	err := s.db.View(func(txn *badger.Txn) error {
		item, err := txn.Get(skipKey(p, off))
		if errors.Is(err, badger.ErrKeyNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		var sr struct {
			Reason string `json:"reason"`
		}
		if err := item.Value(func(v []byte) error { return json.Unmarshal(v, &sr) }); err != nil {
			return err
		}
		void = sr.Reason == reasonVoid
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("read the outcome of %d/%d: %w", p, off, err)
	}
	return void, nil
}

// claimKey is where partition p's fence is kept: "C" u32(partition).
func claimKey(p int) []byte { return appendU32([]byte{tagClaim}, uint32(p)) }

// setFence records partition p's fence as committed; call it before
// setApplied, which wakes the waiters.
func (s *Store) setFence(p int, f events.Fence) {
	s.mu.Lock()
	s.growLocked(p + 1)
	s.fences[p] = f
	s.mu.Unlock()
}
