package projection

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/scim-bridge/scim-bridge/events"
	"github.com/scim-bridge/scim-bridge/projection/view"
	"github.com/scim-bridge/scim-bridge/schemas"
)

// secret marks attribute values in poison events: it must never reach a log.
const secret = "personal-data-"

func repeat(n int) string { return strings.Repeat(secret, n/len(secret)+1)[:n] }

// manyEmails returns n distinct emails of the form "<prefix><i>@x".
func manyEmails(n int, prefix string) []any {
	out := make([]any, n)
	for i := range out {
		out[i] = map[string]any{"value": fmt.Sprintf("%s%d@x", prefix, i), "type": "work"}
	}
	return out
}

// poisonCases are events the projection cannot apply, each with the reason
// it must be skipped for. Each builds on a feed holding user u1 and group
// g1 of tenant acme, and appends the poison record last.
var poisonCases = []struct {
	name   string
	build  func(f *feed)
	reason string
}{
	{"UserNameKeyTooLarge", func(f *feed) {
		f.userCreated("acme", "u9", repeat(70_000))
	}, "key_too_large"},
	{"ExternalIDKeyTooLarge", func(f *feed) {
		g := group("g9", "Nine")
		g["externalId"] = repeat(70_000)
		f.emit(events.GroupCreated, "acme", "Group", "g9", g, nil, nil)
	}, "key_too_large"},
	{"EmailKeyTooLargeOnUpdate", func(f *feed) {
		f.emit(events.UserUpdated, "acme", "User", "u1", user("u1", "alice", "emails", emails(repeat(70_000))), nil, nil)
	}, "key_too_large"},
	{"DisplayNameKeyTooLargeOnUpdate", func(f *feed) {
		f.emit(events.GroupUpdated, "acme", "Group", "g1", group("g1", repeat(70_000)), nil, nil)
	}, "key_too_large"},
	{"ResourceIDTooLong", func(f *feed) {
		id := strings.Repeat("i", 2000)
		f.userCreated("acme", id, "someone")
	}, "key_too_large"},
	{"MemberIDTooLong", func(f *feed) {
		f.addMembers("acme", "g1", strings.Repeat("m", 70_000))
	}, "key_too_large"},
	{"RecordValueTooLarge", func(f *feed) {
		f.userCreated("acme", "u9", "nine", "nickName", repeat(1_100_000))
	}, "value_too_large"},
	{"MemberDisplayTooLarge", func(f *feed) {
		f.emit(events.GroupMembersAdded, "acme", "Group", "g1", nil,
			[]schemas.Member{{Value: "u1", Type: "User", Display: repeat(200_000)}}, nil)
	}, "value_too_large"},
	{"TooManyEmails", func(f *feed) {
		f.userCreated("acme", "u9", "nine", "emails", manyEmails(10_001, secret))
	}, "too_many_values"},
	{"TxnTooBig", func(f *feed) {
		// Ids of 1000 bytes (within bounds) make every index key about
		// 2 KB: 3000 emails write some 6 MB of keys, past any one
		// transaction, while the resource itself stays small.
		tenant, id := strings.Repeat("t", 1000), strings.Repeat("u", 1000)
		f.userCreated(tenant, id, "nine", "emails", manyEmails(3000, secret))
	}, "txn_too_big"},
	{"TimeOutsideJSON", func(f *feed) {
		f.raw(events.Event{Type: events.UserCreated, Tenant: "acme", ResourceType: "User", ResourceID: "u9",
			Version: 1, Time: time.Date(10_000, 1, 1, 0, 0, 0, 0, time.UTC), Resource: user("u9", "nine")})
	}, "invalid"},
	{"DeleteOfMissingWithoutPrevVersion", func(f *feed) {
		f.raw(events.Event{Type: events.UserDeleted, Tenant: "acme", ResourceType: "User", ResourceID: "nope", Version: 1})
	}, "not_found"},
	{"MembersOfMissingGroupWithoutPrevVersion", func(f *feed) {
		f.raw(events.Event{Type: events.GroupMembersAdded, Tenant: "acme", ResourceType: "Group", ResourceID: "nope",
			Version: 1, MembersAdded: members("u1")})
	}, "not_found"},
	{"NotAnEvent", func(f *feed) {
		// What a log passes on for a record that does not decode; the
		// codec quotes what it read, and that must not reach the log.
		f.recs = append(f.recs, events.Record{Partition: 0, Offset: int64(len(f.recs)),
			Err: fmt.Errorf("%w: key %q differs from data %q", events.ErrMalformed, secret+"\"quoted\"", "acme/User/x")})
	}, "invalid"},
	{"GroupDeleteOfMissing", func(f *feed) {
		f.raw(events.Event{Type: events.GroupDeleted, Tenant: "acme", ResourceType: "Group", ResourceID: "nope", Version: 1})
	}, "not_found"},
}

// poisonFeed is u1 and g1, the poison record(s), then more writes that
// must apply after it: u2 created and added to g1, u1 renamed.
func poisonFeed(build func(f *feed)) (*feed, events.Record) {
	f := newFeed()
	f.userCreated("acme", "u1", "alice")
	f.groupCreated("acme", "g1", "Admins")
	ver := maps.Clone(f.ver)
	build(f)
	f.ver = ver // the poison record changed nothing: later versions follow the state
	poison := f.recs[len(f.recs)-1]
	f.userCreated("acme", "u2", "bob")
	f.addMembers("acme", "g1", "u2")
	f.emit(events.UserUpdated, "acme", "User", "u1", user("u1", "alicia"), nil, nil)
	return f, poison
}

// TestStore_PoisonSkipped applies each poison event alone (Apply) and
// inside a batch (applyRecords): both skip it with the same reason, record
// and count it, log it without its values, apply what follows, and end
// with the same bytes.
func TestStore_PoisonSkipped(t *testing.T) {
	ctx := context.Background()
	for _, tc := range poisonCases {
		t.Run(tc.name, func(t *testing.T) {
			f, poison := poisonFeed(tc.build)

			var logs bytes.Buffer
			reg := prometheus.NewRegistry()
			alone := openMem(t, Options{Registerer: reg, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
			for _, rec := range f.recs {
				if err := alone.Apply(rec); err != nil {
					t.Fatalf("Apply(offset %d) = %v", rec.Offset, err)
				}
			}
			batched := openMem(t, Options{ApplyBatch: 1000, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
			if err := batched.applyRecords(f.recs); err != nil {
				t.Fatalf("applyRecords() = %v", err)
			}

			for name, s := range map[string]*Store{"Apply": alone, "applyRecords": batched} {
				if got := counterValue(t, s.m.skipped.WithLabelValues(tc.reason)); got != 1 {
					t.Errorf("%s: skipped{reason=%q} = %v, want 1", name, tc.reason, got)
				}
				if got, want := s.Applied()[0], int64(len(f.recs)); got != want {
					t.Errorf("%s: Applied() = %d, want %d", name, got, want)
				}
				var sr skipRecord
				err := s.Export(ctx, func(k, v []byte) error {
					if bytes.Equal(k, skipKey(0, poison.Offset)) {
						return json.Unmarshal(v, &sr)
					}
					return nil
				})
				if err != nil || sr.Reason != tc.reason {
					t.Errorf("%s: skipped record at %d = %+v, %v, want reason %q", name, poison.Offset, sr, err, tc.reason)
				}
				// What follows the poison record applied.
				if got, err := s.Get(ctx, "acme", "User", "u1", view.GetOptions{}); err != nil || got.Resource["userName"] != "alicia" {
					t.Errorf("%s: Get(u1) = %v, %v, want userName alicia", name, got.Resource, err)
				}
				if ok, err := s.IsMember(ctx, "acme", "g1", "u2"); !ok || err != nil {
					t.Errorf("%s: IsMember(g1, u2) = %v, %v, want true", name, ok, err)
				}
			}
			if d := diffLines(export(t, alone), export(t, batched)); d != "" {
				t.Errorf("export of a batched replay differs from one-by-one Apply: %s", d)
			}
			if !strings.Contains(logs.String(), "reason="+tc.reason) {
				t.Errorf("no warning for the skipped event in the log:\n%s", logs.String())
			}
			if strings.Contains(logs.String(), secret) {
				t.Errorf("the log carries attribute values:\n%.2000s", logs.String())
			}
		})
	}
}

// A member delta whose entries do not fit one transaction (long displays)
// is applied, in transactions of its own, with the bytes of a straight
// apply whichever way it arrives.
func TestStore_MemberDeltaTooBigForOneTxn(t *testing.T) {
	f := newFeed()
	var ms []schemas.Member
	for i := range 300 {
		id := fmt.Sprintf("u%03d", i)
		f.userCreated("acme", id, "user-"+id)
		ms = append(ms, schemas.Member{Value: id, Type: "User", Display: repeat(30_000)})
	}
	f.groupCreated("acme", "g1", "Everyone")
	f.emit(events.GroupMembersAdded, "acme", "Group", "g1", nil, ms, nil) // some 9 MB of entries
	f.userCreated("acme", "after", "after")

	alone := openMem(t, Options{})
	applyAll(t, alone, f.recs)
	batched := openMem(t, Options{ApplyBatch: 1000})
	if err := batched.applyRecords(f.recs); err != nil {
		t.Fatalf("applyRecords() = %v", err)
	}
	for name, s := range map[string]*Store{"Apply": alone, "applyRecords": batched} {
		list, err := s.MemberList(context.Background(), "acme", "g1")
		if err != nil || len(list) != len(ms) {
			t.Errorf("%s: MemberList(g1) = %d members, %v, want %d", name, len(list), err, len(ms))
		}
		if got, err := s.Get(context.Background(), "acme", "Group", "g1", view.GetOptions{}); err != nil || got.Version != 2 {
			t.Errorf("%s: Get(g1) = version %d, %v, want 2", name, got.Version, err)
		}
	}
	if d := diffLines(export(t, alone), export(t, batched)); d != "" {
		t.Errorf("export of a batched replay differs from one-by-one Apply: %s", d)
	}
}

// A Badger failure is not a verdict on the event: Run retries it with
// backoff and goes on, rather than stopping; a poison event in the same
// log is skipped, not retried.
func TestStore_RunRetriesStorageFailures(t *testing.T) {
	ctx := context.Background()
	log := openLog(t)
	f, _ := poisonFeed(poisonCases[0].build)
	var last int64
	for _, rec := range f.recs {
		var err error
		if _, last, err = log.Append(ctx, []events.Event{rec.Event}); err != nil {
			t.Fatalf("Append() = %v", err)
		}
	}

	var logs bytes.Buffer
	var mu sync.Mutex
	s := openMem(t, Options{Logger: slog.New(slog.NewTextHandler(syncWriter{&mu, &logs}, nil))})
	failures := 3
	s.beforeCommit = func() error { // called by the applying goroutine only
		if failures > 0 {
			failures--
			return errors.New("disk full")
		}
		return nil
	}
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- s.Run(runCtx, log) }()
	applied := make(chan error, 1)
	go func() {
		wctx, wcancel := context.WithTimeout(ctx, 60*time.Second)
		defer wcancel()
		applied <- s.WaitApplied(wctx, 0, last)
	}()
	select {
	case err := <-done:
		t.Fatalf("Run() = %v before applying the log, want it to retry", err)
	case err := <-applied:
		if err != nil {
			t.Fatalf("WaitApplied(0, %d) = %v", last, err)
		}
	}
	if got := counterValue(t, s.m.applyErrors); got != 3 {
		t.Errorf("apply errors = %v, want 3", got)
	}
	if got := counterValue(t, s.m.skipped.WithLabelValues(reasonKeyTooLarge)); got != 1 {
		t.Errorf("skipped{reason=key_too_large} = %v, want 1", got)
	}
	if ok, err := s.IsMember(ctx, "acme", "g1", "u2"); !ok || err != nil {
		t.Errorf("IsMember(g1, u2) = %v, %v, want true", ok, err)
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("Run() = %v, want context.Canceled", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if !strings.Contains(logs.String(), "applying failed, retrying") {
		t.Errorf("no warning about the retries in the log:\n%s", logs.String())
	}
	if strings.Contains(logs.String(), secret) {
		t.Errorf("the log carries attribute values:\n%.2000s", logs.String())
	}
}

type syncWriter struct {
	mu *sync.Mutex
	w  *bytes.Buffer
}

func (w syncWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.w.Write(p)
}

// Badger's error for a key over its limit dumps the key; what applying
// returns (and Run logs) says only what happened.
func TestStorageError_Redacted(t *testing.T) {
	s := openMem(t, Options{})
	txn := s.db.NewTransaction(true)
	defer txn.Discard()
	raw := txn.Set([]byte(repeat(70_000)), nil)
	if raw == nil || !strings.Contains(raw.Error(), secret) {
		t.Fatalf("Badger's Set(70,000-byte key) = %v, want an error dumping the key", raw)
	}
	err := storageError(raw)
	if strings.Contains(err.Error(), secret) || !errors.Is(err, raw) {
		t.Errorf("storageError() = %q, want it without the key, wrapping Badger's", err)
	}

	var buf bytes.Buffer
	badgerLogger{slog.New(slog.NewTextHandler(&buf, nil))}.Errorf("Unable to read: Key: %v, %x, %s", []byte(secret), []byte(secret), []byte(secret))
	if strings.Contains(buf.String(), secret) || strings.Contains(buf.String(), fmt.Sprintf("%x", secret)) {
		t.Errorf("badgerLogger logged a key: %s", buf.String())
	}
}

// The limits fit one another: what the bridge lets through (schemas'
// limits) is within the projection's, and with the memtable Open uses the
// record budget is the fixed one, not lowered.
func TestLimits_Consistent(t *testing.T) {
	if maxIndexKeys < schemas.MaxValues+4 {
		t.Errorf("maxIndexKeys %d < schemas.MaxValues %d + userName, externalId, displayName, lastModified", maxIndexKeys, schemas.MaxValues)
	}
	if schemas.MaxIndexedBytes > maxIDBytes {
		t.Errorf("schemas.MaxIndexedBytes %d > maxIDBytes %d: a member id the bridge accepts would be skipped", schemas.MaxIndexedBytes, maxIDBytes)
	}
	s := openAt(t, t.TempDir(), Options{})
	if s.lim.recordBytes != maxRecordBytes || s.lim.recordEntries != maxRecordEntries || s.lim.value != maxValueBytes {
		t.Errorf("limits with the default memtable = %+v, want the constants", s.lim)
	}
	// schemas bounds indexed values in bytes before folding; folding never
	// lengthens valid UTF-8, so the keys stay within the bound.
	for r := rune(0); r <= unicode.MaxRune; r++ {
		if utf8.ValidRune(r) && len(fold(string(r))) > utf8.RuneLen(r) {
			t.Fatalf("fold(%U) = %q is longer", r, fold(string(r)))
		}
	}
}

// A panic while applying an event (a bug) skips that event, with the same
// verdict alone and in a batch, and is logged once with its stack.
func TestStore_PanicSkipped(t *testing.T) {
	f, poison := poisonFeed(func(f *feed) { f.userCreated("acme", "u9", "nine") })
	hook := func(rec *events.Record) {
		if rec.Offset == poison.Offset {
			panic("boom: a bug that odd input finds")
		}
	}
	var logs bytes.Buffer
	alone := openMem(t, Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	alone.beforeApply = hook
	applyAll(t, alone, f.recs)
	batched := openMem(t, Options{ApplyBatch: 1000, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	batched.beforeApply = hook
	if err := batched.applyRecords(f.recs); err != nil {
		t.Fatalf("applyRecords() = %v", err)
	}
	for name, s := range map[string]*Store{"Apply": alone, "applyRecords": batched} {
		if got := counterValue(t, s.m.skipped.WithLabelValues(reasonPanic)); got != 1 {
			t.Errorf("%s: skipped{reason=panic} = %v, want 1", name, got)
		}
		if ok, err := s.IsMember(context.Background(), "acme", "g1", "u2"); !ok || err != nil {
			t.Errorf("%s: IsMember(g1, u2) = %v, %v, want true", name, ok, err)
		}
	}
	if d := diffLines(export(t, alone), export(t, batched)); d != "" {
		t.Errorf("export of a batched replay differs from one-by-one Apply: %s", d)
	}
	if n := strings.Count(logs.String(), "applying an event panicked"); n != 2 {
		t.Errorf("panic logged %d times for two stores, want once each:\n%s", n, logs.String())
	}
	if !strings.Contains(logs.String(), "boom: a bug that odd input finds") || !strings.Contains(logs.String(), "poison_test.go") {
		t.Errorf("panic log without the panic and its stack:\n%s", logs.String())
	}
}

// A member count that does not decode (another version's, damaged) is an
// error, not a panic, wherever it is read.
func TestDecodeGroupsValue_Negative(t *testing.T) {
	if _, err := decodeGroupsValue(appendI64(nil, -3)); !errors.Is(err, errBadState) {
		t.Errorf("decodeGroupsValue(-3) = %v, want errBadState", err)
	}
}

// sizedUserCreated returns the creation of user id named userName, at the
// time and with the ce_id the feed's next record would have and a request
// digest, its record padded with a nickName so that measure (given the
// record's bytes as applying stores them) says target.
func sizedUserCreated(t *testing.T, f *feed, id, userName string, measure func(rec []byte, cut int) int, target int) events.Event {
	t.Helper()
	n := len(f.recs)
	ev := func(pad string) events.Event {
		return events.Event{ID: fmt.Sprintf("ev-%06d", n), Type: events.UserCreated, Source: "/test",
			Time: baseTime.Add(time.Duration(n) * time.Second), Tenant: "acme", ResourceType: "User", ResourceID: id,
			Version: 1, Resource: user(id, userName, "nickName", pad), RequestDigest: fmt.Sprintf("%032x", n)}
	}
	size := func(ev events.Event) int {
		at := ev.Time.UTC()
		b, err := encodeRecord(&record{Resource: ev.Resource, Version: ev.Version, Created: at, LastModified: at,
			EventID: ev.ID, RequestDigest: ev.RequestDigest})
		if err != nil {
			t.Fatalf("encode the record of %s: %v", id, err)
		}
		return measure(b, len(b))
	}
	e := ev(strings.Repeat("p", target-size(ev(""))))
	if got := size(e); got != target {
		t.Fatalf("padded %s to %d bytes, want %d", id, got, target)
	}
	return e
}

// storedBytes measures a record as stored under its resource key.
func storedBytes(rec []byte, _ int) int { return len(rec) }

// TestStore_NearTheValueLimit: a user record of the largest value the
// projection stores is applied and one a byte larger skipped, alone and in
// a batch, and CheckEvent, which the bridge asks before appending, gives
// the same verdicts (it left the request digest out of its estimate, so a
// record up to 52 bytes over the limit passed it and was then skipped).
// On disk the limit is maxValueBytes; in memory (tests) it is a byte below
// Badger's value threshold, since Badger sends values at the threshold to
// a value log an in-memory store does not have (its write goroutine
// panicked on one).
func TestStore_NearTheValueLimit(t *testing.T) {
	for _, tc := range []struct {
		name string
		open func(t *testing.T) *Store
	}{
		{"OnDisk", func(t *testing.T) *Store { return openAt(t, t.TempDir(), Options{}) }},
		{"InMemory", func(t *testing.T) *Store { return openMem(t, Options{}) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			limit := int(tc.open(t).lim.value)
			if tc.name == "OnDisk" && limit != maxValueBytes {
				t.Fatalf("value limit on disk = %d, want maxValueBytes %d", limit, maxValueBytes)
			}
			f := newFeed()
			f.userCreated("acme", "u1", "alice")
			// CheckEvent allows 10 bytes for an update's created time,
			// which may print longer than the event's.
			under := sizedUserCreated(t, f, "u2", "under", storedBytes, limit-10)
			f.raw(under)
			at := sizedUserCreated(t, f, "u3", "at", storedBytes, limit)
			f.raw(at)
			over := sizedUserCreated(t, f, "u4", "over", storedBytes, limit+1)
			f.raw(over)
			f.userCreated("acme", "u5", "after")

			alone := tc.open(t)
			applyAll(t, alone, f.recs)
			batched := tc.open(t)
			if err := batched.applyRecords(f.recs); err != nil {
				t.Fatalf("applyRecords() = %v", err)
			}
			if d := diffLines(export(t, alone), export(t, batched)); d != "" {
				t.Errorf("export of a batched replay differs from one-by-one Apply: %s", d)
			}
			reasons := skippedReasons(t, alone)
			for offset, want := range map[int64]string{1: "", 2: "", 3: reasonValueTooLarge, 4: ""} {
				if got := reasons[offset]; got != want {
					t.Errorf("record %d (%s) skipped for %q, want %q", offset, f.recs[offset].Event.ResourceID, got, want)
				}
			}
			if tc.name == "OnDisk" {
				if err := CheckEvent(&under); err != nil {
					t.Errorf("CheckEvent(a record 10 bytes under the limit) = %v, want nil: the projection applies it", err)
				}
				if err := CheckEvent(&over); err == nil {
					t.Errorf("CheckEvent(a record a byte over the limit) = nil, but the projection skips it")
				}
				// As the bridge asks, with the event's size.
				s := tc.open(t)
				for _, c := range []struct {
					ev   *events.Event
					fits bool
				}{{&under, true}, {&over, false}} {
					size, err := events.EncodedSize(c.ev)
					if err != nil {
						t.Fatal(err)
					}
					if err := s.CheckEvent(c.ev, size); (err == nil) != c.fits {
						t.Errorf("Store.CheckEvent(%s, %d bytes) = %v, want it to pass: %v", c.ev.ResourceID, size, err, c.fits)
					}
				}
			}
		})
	}
}
