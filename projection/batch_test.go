package projection

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/scim-bridge/scim-bridge/events"
	"github.com/scim-bridge/scim-bridge/projection/view"
)

// replayMemberBatch is the MemberBatch of the replay tests: small, so the
// feed has member deltas and group deletes larger than a batch.
const replayMemberBatch = 4

// replayFeed is a log exercising every path of applying: users and groups
// in two tenants, updates that move indexes, member changes (one larger
// than replayMemberBatch), user and group deletes (one group with more
// members than a batch, so a tombstone), a group re-created under a deleted
// id, records that are skipped: duplicates, version mismatches, changes
// to absent resources, malformed and unknown events; and claims, with the
// void writes of former owners (an update, a group delete, a member delta
// larger than a batch), void claims, and everything after written under
// the owners' epochs.
func replayFeed() *feed {
	f := newFeed()
	for _, tenant := range []string{"acme", "globex"} {
		for i := range 12 {
			id := fmt.Sprintf("u%02d", i)
			f.userCreated(tenant, id, fmt.Sprintf("User%02d@Example.com", i), "emails", emails(fmt.Sprintf("u%d@x.org", i)),
				"externalId", "ext-"+id, "active", true)
		}
		f.groupCreated(tenant, "g1", "Admins")
		f.groupCreated(tenant, "g2", "Everyone")
	}
	f.addMembers("acme", "g1", "u00", "u01")
	f.addMembers("acme", "g2", "u00", "u01", "u02", "u03", "u04", "u05", "u06", "u07", "u08", "u09") // > batch
	f.emit(events.UserUpdated, "acme", "User", "u01", user("u01", "renamed@example.com", "emails", emails("new@x.org", "NEW@x.org")), nil, nil)
	f.addMembers("globex", "g1", "u03", "g2")
	f.removeMembers("acme", "g2", "u02", "u03")
	f.emit(events.UserDeactivated, "acme", "User", "u04", user("u04", "User04@Example.com", "active", false), nil, nil)
	f.emit(events.UserDeleted, "acme", "User", "u00", nil, nil, nil) // still a member of g1 and g2
	f.emit(events.GroupUpdated, "globex", "Group", "g1", group("g1", "Owners"), nil, nil)
	// Skipped records.
	dup := f.recs[len(f.recs)-1].Event
	f.raw(dup)
	f.raw(events.Event{Type: events.UserUpdated, Tenant: "acme", ResourceType: "User", ResourceID: "u05",
		Version: 7, PrevVersion: 5, Resource: user("u05", "mismatch")})
	f.raw(events.Event{Type: events.UserUpdated, Tenant: "acme", ResourceType: "User", ResourceID: "nope",
		Version: 2, PrevVersion: 1, Resource: user("nope", "nope")})
	f.raw(events.Event{Type: events.UserCreated, Tenant: "acme", ResourceType: "User", ResourceID: "x", Version: 1,
		Resource: user("not-x", "x")})
	f.raw(events.Event{Type: events.GroupCreated, Tenant: "acme", ResourceType: "User", ResourceID: "y", Version: 1,
		Resource: group("y", "y")})
	f.raw(events.Event{Type: "user.renamed", Tenant: "acme", ResourceType: "User", ResourceID: "u06", Version: 2, PrevVersion: 1})
	// Fencing: a new owner claims the partition; the former one (epoch
	// 0) goes on writing, all void; the new owner's writes apply.
	f.claim(1, "http://a.example:8080")
	v, prev := f.next("acme", "User", "u05")
	f.stale(0, events.Event{Type: events.UserUpdated, Tenant: "acme", ResourceType: "User", ResourceID: "u05",
		Version: v, PrevVersion: prev, Resource: user("u05", "void@example.com")})
	v, prev = f.next("acme", "Group", "g1")
	f.stale(0, events.Event{Type: events.GroupDeleted, Tenant: "acme", ResourceType: "Group", ResourceID: "g1",
		Version: v, PrevVersion: prev})
	f.stale(0, events.Event{Type: events.GroupMembersAdded, Tenant: "acme", ResourceType: "Group", ResourceID: "g1",
		Version: v, PrevVersion: prev, MembersAdded: members("u05", "u06", "u07", "u08", "u09", "u10")}) // > batch
	f.emit(events.UserUpdated, "acme", "User", "u05", user("u05", "owner1@example.com"), nil, nil)
	f.claim(3, "http://b.example:8080")
	f.claim(2, "http://a.example:8080") // void: older than the claim in force
	f.claim(3, "http://c.example:8080") // void: epoch 3 is b's
	v, prev = f.next("acme", "User", "u06")
	f.stale(1, events.Event{Type: events.UserUpdated, Tenant: "acme", ResourceType: "User", ResourceID: "u06",
		Version: v, PrevVersion: prev, Resource: user("u06", "void@example.com")})
	f.claim(3, "http://b.example:8080") // b again: in force, nothing changes
	f.emit(events.UserUpdated, "acme", "User", "u06", user("u06", "owner3@example.com"), nil, nil)
	// Deletes of groups: one small, one with more members than a batch.
	f.emit(events.GroupDeleted, "globex", "Group", "g1", nil, nil, nil)
	f.emit(events.GroupDeleted, "acme", "Group", "g2", nil, nil, nil)
	// The id comes back as a new group right after its delete.
	f.raw(events.Event{Type: events.GroupCreated, Tenant: "acme", ResourceType: "Group", ResourceID: "g2",
		Version: 1, Resource: group("g2", "Everyone again")})
	f.raw(events.Event{Type: events.GroupMembersAdded, Tenant: "acme", ResourceType: "Group", ResourceID: "g2",
		Version: 2, PrevVersion: 1, MembersAdded: members("u05", "u06")})
	for i := 12; i < 20; i++ {
		id := fmt.Sprintf("u%02d", i)
		f.userCreated("acme", id, fmt.Sprintf("late%d", i))
	}
	f.addMembers("acme", "g1", "u12", "u13", "u14")
	f.emit(events.UserDeleted, "acme", "User", "u13", nil, nil, nil)
	// Users sharing a userName (a hand-made log): the key of the userName
	// stays with its first claimant through updates and passes to the
	// claimant of least id when the holder lets go.
	f.userCreated("acme", "u22", "Twin@Example.com", "title", "first")
	f.userCreated("acme", "u21", "twin@example.com", "title", "second")
	f.emit(events.UserUpdated, "acme", "User", "u21", user("u21", "TWIN@example.com", "title", "changed"), nil, nil)
	f.emit(events.UserUpdated, "acme", "User", "u22", user("u22", "Twin@Example.com", "title", "changed too"), nil, nil)
	f.userCreated("acme", "u20", "twin@example.COM")
	f.emit(events.UserUpdated, "acme", "User", "u22", user("u22", "solo@example.com"), nil, nil) // to u20
	f.emit(events.UserDeleted, "acme", "User", "u20", nil, nil, nil)                             // to u21
	return f
}

// replayLogOf appends recs to a new one-partition embedded log and returns
// it with the records as read back, which is what both ways of applying
// consume.
func replayLogOf(t *testing.T, recs []events.Record) (*events.Embedded, []events.Record) {
	t.Helper()
	ctx := context.Background()
	log := openLog(t)
	for _, rec := range recs {
		if rec.Claim != nil {
			if _, err := log.AppendClaim(ctx, *rec.Claim); err != nil {
				t.Fatalf("AppendClaim() = %v", err)
			}
			continue
		}
		if _, _, err := log.Append(ctx, []events.Event{rec.Event}); err != nil {
			t.Fatalf("Append() = %v", err)
		}
	}
	var back []events.Record
	readCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	err := log.Read(readCtx, 0, 0, func(rec events.Record) error {
		back = append(back, rec)
		if len(back) == len(recs) {
			cancel()
		}
		return nil
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Read() = %v", err)
	}
	return log, back
}

// oneByOne applies recs with Apply, one transaction per record (more for
// large deltas and group deletes), and returns the export.
func oneByOne(t *testing.T, recs []events.Record) []string {
	t.Helper()
	s := openMem(t, Options{MemberBatch: replayMemberBatch})
	applyAll(t, s, recs)
	return export(t, s)
}

// Batched replay, whatever the batch boundaries, writes exactly the bytes
// of applying the records one by one.
func TestStore_BatchedReplayMatchesOneByOne(t *testing.T) {
	_, recs := replayLogOf(t, replayFeed().recs)
	want := oneByOne(t, recs)
	if len(want) < 100 {
		t.Fatalf("reference export has %d keys, the feed is not exercising much", len(want))
	}
	voids := 0
	for _, line := range want {
		voids += strings.Count(line, `\"reason\":\"void\"`)
	}
	if voids != 6 {
		t.Fatalf("reference export has %d void records, want the feed's 6", voids)
	}
	ref := openMem(t, Options{MemberBatch: replayMemberBatch})
	applyAll(t, ref, recs)
	checkUserNameKeys(t, ref)
	for _, chunk := range []int{1, 2, 3, 7, 16, len(recs)} {
		for _, limit := range []int{1, 5, 1000} {
			t.Run(fmt.Sprintf("chunk%d/applyBatch%d", chunk, limit), func(t *testing.T) {
				s := openMem(t, Options{MemberBatch: replayMemberBatch, ApplyBatch: limit})
				for c := range slices.Chunk(recs, chunk) {
					if err := s.applyRecords(c); err != nil {
						t.Fatalf("applyRecords() = %v", err)
					}
				}
				if d := diffLines(want, export(t, s)); d != "" {
					t.Errorf("export after batched replay differs from one-by-one Apply: %s", d)
				}
				if got, want := s.Applied()[0], int64(len(recs)); got != want {
					t.Errorf("Applied() = %d, want %d", got, want)
				}
			})
		}
	}
}

// Run, which batches what it has queued, ends with the same bytes too.
func TestStore_RunReplayMatchesOneByOne(t *testing.T) {
	log, recs := replayLogOf(t, replayFeed().recs)
	want := oneByOne(t, recs)
	for _, limit := range []int{1, 3, 0} {
		t.Run(fmt.Sprintf("applyBatch%d", limit), func(t *testing.T) {
			s := openMem(t, Options{MemberBatch: replayMemberBatch, ApplyBatch: limit})
			runAndWait(t, s, log)
			if d := diffLines(want, export(t, s)); d != "" {
				t.Errorf("export after Run differs from one-by-one Apply: %s", d)
			}
		})
	}
}

// runAndWait runs s over log until it has caught up, then stops it.
func runAndWait(t *testing.T, s *Store, log events.Log) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx, log) }()
	err := s.WaitCaughtUp(ctx)
	cancel()
	if err != nil {
		t.Fatalf("WaitCaughtUp() = %v", err)
	}
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("Run() = %v, want context.Canceled", err)
	}
}

var errCrash = errors.New("simulated crash")

// A replay stopped before any commit (a batch, a batch of a large member
// delta, a step of a deleted group's cleanup) and continued by a reopened
// store ends with the bytes of an uninterrupted replay: nothing is applied
// twice and nothing is skipped.
func TestStore_BatchedReplayCrash(t *testing.T) {
	log, recs := replayLogOf(t, replayFeed().recs)
	want := oneByOne(t, recs)
	opts := Options{MemberBatch: replayMemberBatch, ApplyBatch: 5}

	// Count the commits of an uninterrupted replay.
	commits := 0
	s := openMem(t, opts)
	s.beforeCommit = func() error { commits++; return nil }
	for c := range slices.Chunk(recs, 8) {
		if err := s.applyRecords(c); err != nil {
			t.Fatalf("applyRecords() = %v", err)
		}
	}
	if commits < 10 {
		t.Fatalf("replay made %d commits, want more to crash between", commits)
	}

	for crashAt := range commits {
		dir := t.TempDir()
		s := openAt(t, dir, opts)
		n := 0
		s.beforeCommit = func() error {
			if n == crashAt {
				return errCrash
			}
			n++
			return nil
		}
		var err error
		for c := range slices.Chunk(recs, 8) {
			if err = s.applyRecords(c); err != nil {
				break
			}
		}
		if !errors.Is(err, errCrash) {
			t.Fatalf("crash at commit %d: applyRecords() = %v, want the crash", crashAt, err)
		}
		stoppedAt := appliedAt(s, 0)
		if err := s.Close(); err != nil {
			t.Fatalf("Close() = %v", err)
		}

		s = openAt(t, dir, opts) // finishes an interrupted group cleanup
		// A group delete's record commits before its cleanup, so the store
		// may reopen past the position it last published, never before it.
		if got := appliedAt(s, 0); got < stoppedAt {
			t.Errorf("crash at commit %d: reopened at %d, before %d", crashAt, got, stoppedAt)
		}
		runAndWait(t, s, log)
		if got := counterValue(t, s.m.skipped.WithLabelValues(reasonReplay)); got != 0 {
			t.Errorf("crash at commit %d: %v records replayed after reopening, want 0", crashAt, got)
		}
		if d := diffLines(want, export(t, s)); d != "" {
			t.Errorf("crash at commit %d (position %d): export differs from an uninterrupted replay: %s", crashAt, stoppedAt, d)
		}
	}
}

// A transaction that outgrows Badger's limits is split: the records that
// fitted commit, the rest follow, and the bytes are unchanged.
func TestStore_BatchTooBigForOneTxn(t *testing.T) {
	f := newFeed()
	big := make([]string, 300)
	for i := range big {
		big[i] = fmt.Sprintf("user-with-a-long-identifier-%04d", i)
		f.userCreated("acme", big[i], "name-"+big[i], "emails", emails(big[i]+"@example.com"), "externalId", "ext-"+big[i])
	}
	f.groupCreated("acme", "g", "Group")
	f.addMembers("acme", "g", big[:250]...)
	opts := Options{MemberBatch: 250, ApplyBatch: 10_000, memTableSize: 1 << 20}
	// A 1 MiB memtable bounds a transaction to about 150 KiB: the 300
	// users and the 250-member delta cannot share one.
	ref := openMem(t, opts)
	applyAll(t, ref, f.recs)
	want := export(t, ref)

	s := openMem(t, opts)
	commits := 0
	s.beforeCommit = func() error { commits++; return nil }
	if err := s.applyRecords(f.recs); err != nil {
		t.Fatalf("applyRecords() = %v", err)
	}
	if commits < 2 {
		t.Errorf("applyRecords() committed %d transactions, want the batch split", commits)
	}
	if d := diffLines(want, export(t, s)); d != "" {
		t.Errorf("export after a split batch differs from one-by-one Apply: %s", d)
	}
	if got, want := s.Applied()[0], int64(len(f.recs)); got != want {
		t.Errorf("Applied() = %d, want %d", got, want)
	}
}

// Records below the applied position are replays: a batch that starts or
// lies wholly below it changes nothing.
func TestStore_BatchReplayIgnored(t *testing.T) {
	recs := replayFeed().recs
	s := openMem(t, Options{MemberBatch: replayMemberBatch})
	if err := s.applyRecords(recs[:30]); err != nil {
		t.Fatalf("applyRecords() = %v", err)
	}
	before := export(t, s)
	if err := s.applyRecords(recs[10:20]); err != nil {
		t.Fatalf("applyRecords(replay) = %v", err)
	}
	if d := diffLines(before, export(t, s)); d != "" {
		t.Errorf("replayed batch changed the store: %s", d)
	}
	if err := s.applyRecords(recs[20:]); err != nil {
		t.Fatalf("applyRecords(overlapping) = %v", err)
	}
	if got := counterValue(t, s.m.skipped.WithLabelValues(reasonReplay)); got != 20 {
		t.Errorf("replays counted = %v, want 20", got)
	}
	if d := diffLines(oneByOne(t, recs), export(t, s)); d != "" {
		t.Errorf("export differs from one-by-one Apply: %s", d)
	}
}

// A record that arrives alone is applied at once: a writer waiting for its
// record does not wait for a batch to fill.
func TestStore_RunAppliesLoneRecord(t *testing.T) {
	ctx := context.Background()
	log := openLog(t)
	s := openMem(t, Options{ApplyBatch: 1000})
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- s.Run(runCtx, log) }()
	for i := range 3 {
		ev := events.Event{ID: fmt.Sprintf("ev-%d", i), Type: events.UserCreated, Source: "/test", Time: baseTime, Tenant: "acme",
			ResourceType: "User", ResourceID: fmt.Sprintf("u%d", i), Version: 1,
			Resource: user(fmt.Sprintf("u%d", i), fmt.Sprintf("user%d", i))}
		p, off, err := log.Append(ctx, []events.Event{ev})
		if err != nil {
			t.Fatalf("Append() = %v", err)
		}
		if err := s.WaitApplied(ctx, p, off); err != nil {
			t.Fatalf("WaitApplied(%d, %d) = %v", p, off, err)
		}
		if _, err := s.Get(ctx, "acme", "User", ev.ResourceID, view.GetOptions{}); err != nil {
			t.Errorf("Get(%s) after WaitApplied = %v", ev.ResourceID, err)
		}
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("Run() = %v, want context.Canceled", err)
	}
}

// appliedAt returns the applied position of partition p (0 when unknown).
func appliedAt(s *Store, p int) int64 {
	if a := s.Applied(); p < len(a) {
		return a[p]
	}
	return 0
}
