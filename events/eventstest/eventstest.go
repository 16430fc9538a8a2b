// Package eventstest is the contract suite every [events.Log] must pass:
// the embedded log runs it always, the Kafka log against a real broker.
//
// Only tests import it.
package eventstest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/scim-bridge/scim-bridge/events"
	"github.com/scim-bridge/scim-bridge/schemas"
)

// Opener opens a fresh, empty log for one subtest (the Kafka log creates a
// new topic, the embedded log uses a new directory) and returns it with
// reopen, which opens the same log again once the suite has closed l.
//
// The suite closes every log it is given (l, and whatever reopen returns)
// with t.Cleanup, possibly after closing it itself, so Close must tolerate
// a second call (its error is ignored). Logs may have any number of
// partitions; run the suite with one and with several.
type Opener func(t *testing.T) (l events.Log, reopen func(t *testing.T) events.Log)

// hangGuard bounds waits that a broken log could turn into a hang. It is a
// net against hanging the whole test binary, not a performance target: no
// case measures time.
const hangGuard = 60 * time.Second

var errStop = errors.New("eventstest: stop")

// TestLog runs the contract of [events.Log] against logs from open. Each
// case runs as a subtest with its own fresh log.
func TestLog(t *testing.T, open Opener) {
	cases := []struct {
		name string
		fn   func(t *testing.T, open Opener)
	}{
		{"AppendRead", testAppendRead},
		{"Offsets", testOffsets},
		{"ReadFromMiddle", testReadFromMiddle},
		{"ReadWaitsForAppends", testReadWaits},
		{"ReadCancelled", testReadCancelled},
		{"ReadStopsOnFnError", testReadFnError},
		{"ConcurrentAppends", testConcurrentAppends},
		{"Durable", testDurable},
		{"AppendCancelledContext", testAppendCancelled},
		{"AfterClose", testAfterClose},
		{"InvalidAppend", testInvalidAppend},
		{"Claims", testClaims},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { c.fn(t, open) })
	}
}

// openLog opens a fresh log and closes it when the test ends.
func openLog(t *testing.T, open Opener) (events.Log, func(t *testing.T) events.Log) {
	t.Helper()
	l, reopen := open(t)
	t.Cleanup(func() { _ = l.Close() })
	return l, func(t *testing.T) events.Log {
		t.Helper()
		l := reopen(t)
		t.Cleanup(func() { _ = l.Close() })
		return l
	}
}

var baseTime = time.Date(2025, 6, 1, 12, 0, 0, 123456789, time.UTC)

// Event returns a complete event of tenant about resource id at version v,
// exercising every field (numbers, booleans, nested objects, an extension,
// member deltas for groups), in the form Decode returns it.
func Event(tenant, resourceType, id string, v int64) events.Event {
	typ, op := events.UserUpdated, "PATCH"
	if v == 1 {
		typ, op = events.UserCreated, "POST"
	}
	e := events.Event{
		ID:                events.NewEventID(),
		Type:              typ,
		Source:            "/scim-bridge/eventstest",
		Time:              baseTime.Add(time.Duration(v) * time.Millisecond),
		Tenant:            tenant,
		ResourceType:      resourceType,
		ResourceID:        id,
		ExternalID:        "ext-" + id,
		Version:           v,
		PrevVersion:       v - 1,
		ChangedAttributes: []string{"active", "name"},
		Resource: schemas.Resource{
			"schemas":  []any{schemas.URNUser, schemas.URNEnterprise},
			"id":       id,
			"userName": "user-" + id + "@example.com",
			"active":   v%2 == 1,
			"name":     map[string]any{"givenName": "Ada", "familyName": "Lovelace"},
			"emails":   []any{map[string]any{"value": id + "@example.com", "primary": true}},
			schemas.URNEnterprise: map[string]any{
				"costCenter": json.Number(fmt.Sprint(v)),
				"ratio":      json.Number("0.10e-3"),
			},
		},
		RequestID: fmt.Sprintf("req-%s-%d", id, v),
		Operation: op,
	}
	if resourceType == "Group" {
		e.Type = events.GroupMembersAdded
		e.Resource = schemas.Resource{"id": id, "displayName": "group " + id}
		e.MembersAdded = []schemas.Member{{Value: "u1", Type: "User", Display: "Ada"}, {Value: "g2", Type: "Group"}}
		e.ChangedAttributes = []string{"members"}
	}
	e.SCIMEvent = events.SCIMEventURI(e.Type, e.Operation)
	return e
}

func mustAppend(t *testing.T, l events.Log, evs ...events.Event) (int, int64) {
	t.Helper()
	p, last, err := l.Append(t.Context(), evs)
	if err != nil {
		t.Fatalf("Append(%d events of %s): %v", len(evs), evs[0].Tenant, err)
	}
	if want := events.PartitionFor(evs[0].Tenant, l.Partitions()); p != want {
		t.Fatalf("Append(tenant %q) partition = %d, want PartitionFor = %d", evs[0].Tenant, p, want)
	}
	return p, last
}

func mustEnd(t *testing.T, l events.Log) []int64 {
	t.Helper()
	end, err := l.End(t.Context())
	if err != nil {
		t.Fatalf("End: %v", err)
	}
	if len(end) != l.Partitions() {
		t.Fatalf("End returned %d offsets, want Partitions() = %d", len(end), l.Partitions())
	}
	return end
}

// readN reads n records of partition p from offset from.
func readN(t *testing.T, l events.Log, p int, from int64, n int) []events.Record {
	t.Helper()
	var recs []events.Record
	if n == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(t.Context(), hangGuard)
	defer cancel()
	err := l.Read(ctx, p, from, func(r events.Record) error {
		recs = append(recs, r)
		if len(recs) == n {
			return errStop
		}
		return nil
	})
	if !errors.Is(err, errStop) {
		t.Fatalf("Read(p=%d, from=%d) = %v after %d of %d records", p, from, err, len(recs), n)
	}
	return recs
}

// checkRecords compares read records with the appended events that should
// be at offsets first, first+1, ... of partition p.
func checkRecords(t *testing.T, got []events.Record, p int, first int64, want []events.Event) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("read %d records, want %d", len(got), len(want))
	}
	for i, r := range got {
		if r.Partition != p || r.Offset != first+int64(i) {
			t.Errorf("record %d at %d/%d, want %d/%d", i, r.Partition, r.Offset, p, first+int64(i))
		}
		if !reflect.DeepEqual(r.Event, want[i]) {
			g, _ := json.Marshal(r.Event)
			w, _ := json.Marshal(want[i])
			t.Errorf("record %d event =\n%#v\n%s\nwant\n%#v\n%s", i, r.Event, g, want[i], w)
		}
	}
}

// within runs f and fails the test if it has not returned within hangGuard.
func within(t *testing.T, what string, f func() error) error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- f() }()
	select {
	case err := <-done:
		return err
	case <-time.After(hangGuard):
		t.Fatalf("%s did not return", what)
		return nil
	}
}

func testAppendRead(t *testing.T, open Opener) {
	l, _ := openLog(t, open)
	evs := []events.Event{
		Event("acme", "User", "u1", 1),
		Event("acme", "User", "u1", 2),
		Event("acme", "Group", "g1", 7),
	}
	p, last := mustAppend(t, l, evs...)
	first := last - int64(len(evs)) + 1
	checkRecords(t, readN(t, l, p, first, len(evs)), p, first, evs)
}

func testOffsets(t *testing.T, open Opener) {
	l, _ := openLog(t, open)
	before := mustEnd(t, l)
	p := events.PartitionFor("acme", l.Partitions())
	prev := before[p] - 1
	v := int64(0)
	for _, n := range []int{1, 2, 3, 1} {
		var evs []events.Event
		for range n {
			v++
			evs = append(evs, Event("acme", "User", "u1", v))
		}
		_, last := mustAppend(t, l, evs...)
		if want := prev + int64(n); last != want {
			t.Errorf("Append(%d events) last = %d, want %d", n, last, want)
		}
		prev = last
	}
	after := mustEnd(t, l)
	for i := range after {
		want := before[i]
		if i == p {
			want = prev + 1
		}
		if after[i] != want {
			t.Errorf("End()[%d] = %d after appends, want %d (before: %v)", i, after[i], want, before)
		}
	}
}

func testReadFromMiddle(t *testing.T, open Opener) {
	l, _ := openLog(t, open)
	var evs []events.Event
	for v := int64(1); v <= 10; v++ {
		evs = append(evs, Event("acme", "User", "u1", v))
	}
	p, _ := mustAppend(t, l, evs[:4]...)
	_, last := mustAppend(t, l, evs[4:]...)
	first := last - 9
	checkRecords(t, readN(t, l, p, first+4, 6), p, first+4, evs[4:])
	checkRecords(t, readN(t, l, p, last, 1), p, last, evs[9:])
}

func testReadWaits(t *testing.T, open Opener) {
	l, _ := openLog(t, open)
	a := Event("acme", "User", "u1", 1)
	p, off := mustAppend(t, l, a)

	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	got := make(chan events.Record)
	done := make(chan error, 1)
	go func() {
		done <- l.Read(ctx, p, off, func(r events.Record) error {
			select {
			case got <- r:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		})
	}()
	recv := func() events.Record {
		t.Helper()
		select {
		case r := <-got:
			return r
		case err := <-done:
			t.Fatalf("Read returned %v while waiting for records", err)
		case <-time.After(hangGuard):
			t.Fatalf("Read delivered no record")
		}
		return events.Record{}
	}
	checkRecords(t, []events.Record{recv()}, p, off, []events.Event{a})
	// The reader has caught up with the end; these records come later.
	b, c := Event("acme", "User", "u1", 2), Event("acme", "User", "u1", 3)
	mustAppend(t, l, b, c)
	checkRecords(t, []events.Record{recv(), recv()}, p, off+1, []events.Event{b, c})

	cancel()
	if err := within(t, "Read after cancel", func() error { return <-done }); !errors.Is(err, context.Canceled) {
		t.Errorf("Read after cancel = %v, want context.Canceled", err)
	}
}

func testReadCancelled(t *testing.T, open Opener) {
	l, _ := openLog(t, open)
	end := mustEnd(t, l)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	err := within(t, "Read with a cancelled context", func() error {
		return l.Read(ctx, 0, end[0], func(events.Record) error { return errStop })
	})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Read(cancelled ctx) = %v, want context.Canceled", err)
	}
}

func testReadFnError(t *testing.T, open Opener) {
	l, _ := openLog(t, open)
	p, last := mustAppend(t, l, Event("acme", "User", "u1", 1), Event("acme", "User", "u1", 2), Event("acme", "User", "u1", 3))
	calls := 0
	err := within(t, "Read", func() error {
		return l.Read(t.Context(), p, last-2, func(r events.Record) error {
			calls++
			if calls == 2 {
				return fmt.Errorf("apply %d: %w", r.Offset, errStop)
			}
			return nil
		})
	})
	if !errors.Is(err, errStop) {
		t.Errorf("Read = %v, want the error fn returned", err)
	}
	if calls != 2 {
		t.Errorf("fn called %d times, want 2 (Read must stop at the first error)", calls)
	}
}

func testConcurrentAppends(t *testing.T, open Opener) {
	l, _ := openLog(t, open)
	const (
		writers   = 16
		tenants   = 6
		perWriter = 12
	)
	before := mustEnd(t, l)

	// Each writer owns one resource of one tenant and appends its versions
	// in order (sometimes two per Append); writers of a tenant race.
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := range writers {
		wg.Go(func() {
			tenant := fmt.Sprintf("tenant-%d", w%tenants)
			id := fmt.Sprintf("u%d", w)
			for v := int64(1); v <= perWriter; v++ {
				evs := []events.Event{Event(tenant, "User", id, v)}
				if v%3 == 0 && v < perWriter {
					v++
					evs = append(evs, Event(tenant, "User", id, v))
				}
				p, _, err := l.Append(t.Context(), evs)
				if err != nil {
					errs <- fmt.Errorf("writer %d: Append: %w", w, err)
					return
				}
				if want := events.PartitionFor(tenant, l.Partitions()); p != want {
					errs <- fmt.Errorf("writer %d: Append(tenant %q) partition = %d, want %d", w, tenant, p, want)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if t.Failed() {
		return
	}

	after := mustEnd(t, l)
	seen := map[string]bool{}
	lastVersion := map[string]int64{}
	total := 0
	for p := range after {
		n := int(after[p] - before[p])
		for i, r := range readN(t, l, p, before[p], n) {
			e := r.Event
			if r.Partition != p || r.Offset != before[p]+int64(i) {
				t.Errorf("record at %d/%d, want %d/%d", r.Partition, r.Offset, p, before[p]+int64(i))
			}
			if want := events.PartitionFor(e.Tenant, len(after)); p != want {
				t.Errorf("event of tenant %q on partition %d, want %d", e.Tenant, p, want)
			}
			if seen[e.ID] {
				t.Errorf("event %s read twice", e.ID)
			}
			seen[e.ID] = true
			k := e.Key()
			if e.Version != lastVersion[k]+1 {
				t.Errorf("%s version %d after %d: per-tenant order lost", k, e.Version, lastVersion[k])
			}
			lastVersion[k] = e.Version
			total++
		}
	}
	if want := writers * perWriter; total != want {
		t.Errorf("read %d events, want %d", total, want)
	}
	for k, v := range lastVersion {
		if v != perWriter {
			t.Errorf("%s ends at version %d, want %d", k, v, perWriter)
		}
	}
}

func testDurable(t *testing.T, open Opener) {
	l, reopen := openLog(t, open)
	appended := map[string][]events.Event{}
	first := map[string]int64{}
	for _, tenant := range []string{"acme", "globex", "initech"} {
		evs := []events.Event{Event(tenant, "User", "u1", 1), Event(tenant, "Group", "g1", 1)}
		_, last := mustAppend(t, l, evs...)
		first[tenant] = last - 1
		appended[tenant] = evs
	}
	end := mustEnd(t, l)
	if err := l.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}

	l = reopen(t)
	if got := mustEnd(t, l); !reflect.DeepEqual(got, end) {
		t.Errorf("End after reopen = %v, want %v", got, end)
	}
	for tenant, evs := range appended {
		p := events.PartitionFor(tenant, l.Partitions())
		// Each tenant's events went in one Append, so they are contiguous.
		recs := readN(t, l, p, first[tenant], len(evs))
		checkRecords(t, recs, p, first[tenant], evs)
	}
	next := Event("acme", "User", "u1", 2)
	p, last := mustAppend(t, l, next)
	if last != end[p] {
		t.Errorf("Append after reopen at offset %d, want %d", last, end[p])
	}
	checkRecords(t, readN(t, l, p, last, 1), p, last, []events.Event{next})
}

func testAppendCancelled(t *testing.T, open Opener) {
	l, _ := openLog(t, open)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	err := within(t, "Append with a cancelled context", func() error {
		_, _, err := l.Append(ctx, []events.Event{Event("acme", "User", "u1", 1)})
		return err
	})
	if err == nil {
		t.Errorf("Append(cancelled ctx) = nil error, want an error")
	}
	// The log is still usable.
	e := Event("acme", "User", "u2", 1)
	p, last := mustAppend(t, l, e)
	checkRecords(t, readN(t, l, p, last, 1), p, last, []events.Event{e})
}

func testAfterClose(t *testing.T, open Opener) {
	l, _ := openLog(t, open)
	p, last := mustAppend(t, l, Event("acme", "User", "u1", 1))
	if err := l.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	err := within(t, "Append after Close", func() error {
		_, _, err := l.Append(t.Context(), []events.Event{Event("acme", "User", "u1", 2)})
		return err
	})
	if err == nil {
		t.Errorf("Append after Close = nil error, want an error")
	}
	err = within(t, "Read after Close", func() error {
		return l.Read(t.Context(), p, last, func(events.Record) error { return nil })
	})
	if err == nil || errors.Is(err, context.Canceled) {
		t.Errorf("Read after Close = %v, want an error of the log", err)
	}
}

func testInvalidAppend(t *testing.T, open Opener) {
	l, _ := openLog(t, open)
	noID := Event("acme", "User", "u1", 1)
	noID.ID = ""
	tests := []struct {
		name string
		evs  []events.Event
	}{
		{"Empty", nil},
		{"MixedTenants", []events.Event{Event("acme", "User", "u1", 1), Event("globex", "User", "u1", 1)}},
		{"InvalidEvent", []events.Event{noID}},
	}
	before := mustEnd(t, l)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, _, err := l.Append(t.Context(), tc.evs); err == nil {
				t.Errorf("Append(%s) = nil error, want an error", tc.name)
			}
		})
	}
	if after := mustEnd(t, l); !reflect.DeepEqual(after, before) {
		t.Errorf("End after rejected appends = %v, want %v", after, before)
	}
	for _, p := range []int{-1, l.Partitions()} {
		err := within(t, "Read of a partition out of range", func() error {
			return l.Read(t.Context(), p, 0, func(events.Record) error { return nil })
		})
		if err == nil {
			t.Errorf("Read(partition %d of %d) = nil error, want an error", p, l.Partitions())
		}
	}
}
