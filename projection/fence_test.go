package projection

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/dgraph-io/badger/v4"

	"github.com/scim-bridge/scim-bridge/events"
	"github.com/scim-bridge/scim-bridge/events/eventstest"
)

// fencedRecords returns the records of eventstest.FencedSequence on
// partition 0 from offset 0, with the offsets the rule voids.
func fencedRecords() ([]events.Record, map[int64]bool) {
	seq := eventstest.FencedSequence("acme", 0)
	recs := make([]events.Record, len(seq))
	void := map[int64]bool{}
	for i, r := range seq {
		recs[i] = events.Record{Partition: 0, Offset: int64(i), Event: r.Event, Claim: r.Claim}
		if r.Void {
			void[int64(i)] = true
		}
	}
	return recs, void
}

// checkFenced checks that s applied exactly the records of the sequence
// the rule does not void: each void one recorded as skipped with reason
// void (and WaitApplied on it answers ErrVoid), the others not skipped,
// the user at the last applied write, and the claim in force the last one
// that took effect.
func checkFenced(t *testing.T, s *Store, recs []events.Record, void map[int64]bool) {
	t.Helper()
	ctx := context.Background()
	skipped := skippedReasons(t, s)
	var lastWrite *events.Event
	var fence events.Fence
	for _, rec := range recs {
		err := s.WaitApplied(ctx, 0, rec.Offset)
		if void[rec.Offset] {
			if skipped[rec.Offset] != reasonVoid {
				t.Errorf("offset %d: skipped as %q, want %q", rec.Offset, skipped[rec.Offset], reasonVoid)
			}
			if !errors.Is(err, ErrVoid) {
				t.Errorf("WaitApplied(0, %d) = %v, want ErrVoid", rec.Offset, err)
			}
			continue
		}
		if r, ok := skipped[rec.Offset]; ok {
			t.Errorf("offset %d: skipped as %q, want it applied", rec.Offset, r)
		}
		if err != nil {
			t.Errorf("WaitApplied(0, %d) = %v, want nil", rec.Offset, err)
		}
		if rec.Claim != nil {
			fence = events.Fence{Epoch: rec.Claim.Epoch, Owner: rec.Claim.Owner}
		} else {
			lastWrite = &rec.Event
		}
	}
	if got := s.Fence(0); got != fence {
		t.Errorf("Fence(0) = %+v, want %+v", got, fence)
	}
	var cur *record
	err := s.db.View(func(txn *badger.Txn) error {
		var err error
		cur, err = loadRecord(badgerReader{txn}, resourceKey("acme", typeUser, "u1"))
		return err
	})
	if err != nil || cur == nil {
		t.Fatalf("load u1 = %v, %v", cur, err)
	}
	if cur.Version != lastWrite.Version || cur.EventID != lastWrite.ID {
		t.Errorf("u1 at version %d by event %s, want the last applied write's %d by %s",
			cur.Version, cur.EventID, lastWrite.Version, lastWrite.ID)
	}
}

// skippedReasons returns the skip reason of every skipped record of
// partition 0, by offset.
func skippedReasons(t *testing.T, s *Store) map[int64]string {
	t.Helper()
	out := map[int64]string{}
	prefix := skipKey(0, 0)[:5]
	err := s.Export(context.Background(), func(k, v []byte) error {
		if len(k) != 13 || string(k[:5]) != string(prefix) {
			return nil
		}
		var sr skipRecord
		if err := json.Unmarshal(v, &sr); err != nil {
			return err
		}
		out[decodeI64(k[5:])] = sr.Reason
		return nil
	})
	if err != nil {
		t.Fatalf("Export() = %v", err)
	}
	return out
}

// The sequence of the fencing contract, applied one by one: exactly the
// records the rule does not void are applied.
func TestStore_Fencing(t *testing.T) {
	recs, void := fencedRecords()
	s := openMem(t, Options{})
	applyAll(t, s, recs)
	checkFenced(t, s, recs, void)
	if got, want := counterValue(t, s.m.skipped.WithLabelValues(reasonVoid)), float64(len(void)); got != want {
		t.Errorf("scim_projection_skipped_events_total{reason=void} = %v, want %v", got, want)
	}
	if got := counterValue(t, s.m.applied.WithLabelValues(events.PartitionClaimed)); got != 3 {
		t.Errorf("scim_projection_applied_events_total{type=partition.claimed} = %v, want 3", got)
	}

	// A void record's skip record names its epoch and the claim's.
	found := false
	err := s.Export(context.Background(), func(k, v []byte) error {
		if string(k) == string(skipKey(0, 2)) {
			found = true
			if !strings.Contains(string(v), `"reason":"void"`) || !strings.Contains(string(v), `"claimEpoch":1`) {
				t.Errorf("skip record of offset 2 = %s, want reason void and claimEpoch 1", v)
			}
		}
		return nil
	})
	if err != nil || !found {
		t.Errorf("skip record of offset 2: found %v, Export() = %v", found, err)
	}
}

// Batched, whatever the boundaries, the sequence gives the bytes of
// applying it one by one.
func TestStore_FencingBatched(t *testing.T) {
	recs, void := fencedRecords()
	want := oneByOne(t, recs)
	for _, chunk := range []int{1, 2, 3, 5, len(recs)} {
		for _, limit := range []int{1, 4, 1000} {
			t.Run(fmt.Sprintf("chunk%d/applyBatch%d", chunk, limit), func(t *testing.T) {
				s := openMem(t, Options{MemberBatch: replayMemberBatch, ApplyBatch: limit})
				for c := range slices.Chunk(recs, chunk) {
					if err := s.applyRecords(c); err != nil {
						t.Fatalf("applyRecords() = %v", err)
					}
				}
				if d := diffLines(want, export(t, s)); d != "" {
					t.Errorf("export after batched apply differs from one-by-one Apply: %s", d)
				}
				checkFenced(t, s, recs, void)
			})
		}
	}
}

// A store stopped after any record of the sequence and reopened resumes
// with the claim that goes with its position: it decides the rest the
// same, and ends with the same bytes.
func TestStore_FencingRestart(t *testing.T) {
	recs, void := fencedRecords()
	want := oneByOne(t, recs)
	for stop := 1; stop < len(recs); stop++ {
		for _, batched := range []bool{false, true} {
			t.Run(fmt.Sprintf("stop%d/batched%v", stop, batched), func(t *testing.T) {
				dir := t.TempDir()
				s := openAt(t, dir, Options{})
				apply := func(s *Store, recs []events.Record) {
					if batched {
						if err := s.applyRecords(recs); err != nil {
							t.Fatalf("applyRecords() = %v", err)
						}
						return
					}
					applyAll(t, s, recs)
				}
				apply(s, recs[:stop])
				before := s.Fence(0)
				if err := s.Close(); err != nil {
					t.Fatalf("Close() = %v", err)
				}
				s = openAt(t, dir, Options{})
				if got := s.Fence(0); got != before {
					t.Errorf("Fence(0) after reopening = %+v, want %+v as before", got, before)
				}
				apply(s, recs[stop:])
				if d := diffLines(want, export(t, s)); d != "" {
					t.Errorf("export differs from an uninterrupted apply: %s", d)
				}
				checkFenced(t, s, recs, void)
			})
		}
	}
}

// Run over a log holding the sequence decides the same, and a writer
// waiting for its voided event is told so.
func TestStore_FencingRun(t *testing.T) {
	recs, void := fencedRecords()
	log, back := replayLogOf(t, recs)
	for i, rec := range back {
		if (rec.Claim != nil) != (recs[i].Claim != nil) || rec.Err != nil {
			t.Fatalf("record %d read back as %+v", i, rec)
		}
	}
	want := oneByOne(t, back)
	s := openMem(t, Options{})
	runAndWait(t, s, log)
	if d := diffLines(want, export(t, s)); d != "" {
		t.Errorf("export after Run differs from one-by-one Apply: %s", d)
	}
	checkFenced(t, s, back, void)
}

// WaitApplied waits for a void record like for any other, then answers
// ErrVoid; a record skipped for another reason is not void.
func TestStore_WaitAppliedVoid(t *testing.T) {
	ctx := context.Background()
	log := openLog(t)
	s := openMem(t, Options{})
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- s.Run(runCtx, log) }()

	created := eventstest.Event("acme", "User", "u1", 1)
	if _, _, err := log.Append(ctx, []events.Event{created}); err != nil {
		t.Fatalf("Append() = %v", err)
	}
	claimOff, err := log.AppendClaim(ctx, eventstest.Claim(0, 2, "http://b.example:8080"))
	if err != nil {
		t.Fatalf("AppendClaim() = %v", err)
	}
	if err := s.WaitApplied(ctx, 0, claimOff); err != nil {
		t.Fatalf("WaitApplied(claim) = %v, want nil: it took effect", err)
	}
	stale := eventstest.Event("acme", "User", "u1", 2)
	stale.Epoch = 1
	_, off, err := log.Append(ctx, []events.Event{stale})
	if err != nil {
		t.Fatalf("Append() = %v", err)
	}
	if err := s.WaitApplied(ctx, 0, off); !errors.Is(err, ErrVoid) {
		t.Errorf("WaitApplied(stale write) = %v, want ErrVoid", err)
	}
	staleClaim, err := log.AppendClaim(ctx, eventstest.Claim(0, 1, "http://a.example:8080"))
	if err != nil {
		t.Fatalf("AppendClaim() = %v", err)
	}
	if err := s.WaitApplied(ctx, 0, staleClaim); !errors.Is(err, ErrVoid) {
		t.Errorf("WaitApplied(stale claim) = %v, want ErrVoid", err)
	}
	dup := created
	dup.Epoch = 2 // in time, but a duplicate: skipped, not void
	_, off, err = log.Append(ctx, []events.Event{dup})
	if err != nil {
		t.Fatalf("Append() = %v", err)
	}
	if err := s.WaitApplied(ctx, 0, off); err != nil {
		t.Errorf("WaitApplied(duplicate) = %v, want nil", err)
	}
	if got, want := s.Fence(0), (events.Fence{Epoch: 2, Owner: "http://b.example:8080"}); got != want {
		t.Errorf("Fence(0) = %+v, want %+v", got, want)
	}
	if got := s.Fence(7); got != (events.Fence{}) {
		t.Errorf("Fence(7) of a partition the store never saw = %+v, want the zero Fence", got)
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("Run() = %v, want context.Canceled", err)
	}
}

// WaitApplied learns the outcome of a record Run applied from what Run
// noted, without reading it back, up to the first void record; from there
// on, and for records applied before Run, it reads it.
func TestStore_WaitAppliedKnowsWhatRunApplied(t *testing.T) {
	ctx := context.Background()
	log := openLog(t)
	s := openMem(t, Options{})
	before := eventstest.Event("acme", "User", "u0", 1)
	_, beforeOff, err := log.Append(ctx, []events.Event{before})
	if err != nil {
		t.Fatal(err)
	}
	// A first Run applies it, a second goes on from after it.
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- s.Run(runCtx, log) }()
	if err := s.WaitApplied(ctx, 0, beforeOff); err != nil {
		t.Fatalf("WaitApplied(%d) = %v", beforeOff, err)
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("Run() = %v, want context.Canceled", err)
	}
	s.voidReads.Store(0)
	runCtx, cancel = context.WithCancel(ctx)
	defer cancel()
	go func() { done <- s.Run(runCtx, log) }()

	var offs []int64
	for i := range 5 {
		_, off, err := log.Append(ctx, []events.Event{eventstest.Event("acme", "User", fmt.Sprint("u", i+1), 1)})
		if err != nil {
			t.Fatal(err)
		}
		offs = append(offs, off)
	}
	for _, off := range offs {
		if err := s.WaitApplied(ctx, 0, off); err != nil {
			t.Fatalf("WaitApplied(%d) = %v", off, err)
		}
	}
	if n := s.voidReads.Load(); n != 0 {
		t.Errorf("WaitApplied read the outcome of %d records Run applied, want none", n)
	}
	if err := s.WaitApplied(ctx, 0, beforeOff); err != nil {
		t.Fatalf("WaitApplied(%d) = %v", beforeOff, err)
	}
	if n := s.voidReads.Load(); n != 1 {
		t.Errorf("WaitApplied read the outcome of %d records, want 1: the record applied before Run started", n)
	}

	if _, err := log.AppendClaim(ctx, eventstest.Claim(0, 2, "http://b.example:8080")); err != nil {
		t.Fatal(err)
	}
	stale := eventstest.Event("acme", "User", "u1", 2)
	stale.Epoch = 1
	_, voidOff, err := log.Append(ctx, []events.Event{stale})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.WaitApplied(ctx, 0, voidOff); !errors.Is(err, ErrVoid) {
		t.Errorf("WaitApplied(stale write) = %v, want ErrVoid", err)
	}
	later := eventstest.Event("acme", "User", "u9", 1)
	later.Epoch = 2
	_, laterOff, err := log.Append(ctx, []events.Event{later})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.WaitApplied(ctx, 0, laterOff); err != nil {
		t.Errorf("WaitApplied(write after the void) = %v, want nil", err)
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("Run() = %v, want context.Canceled", err)
	}
}
