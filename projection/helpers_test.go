package projection

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/scim-bridge/scim-bridge/events"
	"github.com/scim-bridge/scim-bridge/internal/testutil"
	"github.com/scim-bridge/scim-bridge/schemas"
)

func testRegistry(t testing.TB) *schemas.Registry {
	t.Helper()
	reg, err := schemas.NewRegistry()
	if err != nil {
		t.Fatalf("NewRegistry() = %v", err)
	}
	return reg
}

// openMem opens an in-memory store with a fresh metrics registry.
func openMem(t testing.TB, opts Options) *Store {
	t.Helper()
	opts.InMemory = true
	return openAt(t, "", opts)
}

func openAt(t testing.TB, dir string, opts Options) *Store {
	t.Helper()
	if opts.Logger == nil {
		opts.Logger = testutil.Logger(t, slog.LevelWarn)
	}
	if opts.Registerer == nil {
		opts.Registerer = prometheus.NewRegistry()
	}
	s, err := Open(dir, testRegistry(t), opts)
	if err != nil {
		t.Fatalf("Open(%q) = %v", dir, err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// feed builds a log of records the way the bridge would: versions per
// resource, distinct ce_ids, one second between events, the epoch of the
// latest claim (see claim).
type feed struct {
	recs  []events.Record
	ver   map[string]int64
	epoch int64
}

var baseTime = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

func newFeed() *feed { return &feed{ver: make(map[string]int64)} }

// emit appends an event of type typ on partition 0 and returns it.
func (f *feed) emit(typ, tenant, rtype, id string, r schemas.Resource, added, removed []schemas.Member) events.Event {
	k := tenant + "/" + rtype + "/" + id
	n := len(f.recs)
	ev := events.Event{
		ID: fmt.Sprintf("ev-%06d", n), Type: typ, Source: "/test", Time: baseTime.Add(time.Duration(n) * time.Second),
		Tenant: tenant, ResourceType: rtype, ResourceID: id,
		Version: f.ver[k] + 1, PrevVersion: f.ver[k], Epoch: f.epoch,
		Resource: r, MembersAdded: added, MembersRemoved: removed,
	}
	f.ver[k] = ev.Version
	f.recs = append(f.recs, events.Record{Partition: 0, Offset: int64(n), Event: ev})
	return ev
}

// raw appends ev as is (for malformed or out-of-order events), with the
// feed's epoch if it has none.
func (f *feed) raw(ev events.Event) {
	n := len(f.recs)
	if ev.Epoch == 0 {
		ev.Epoch = f.epoch
	}
	if ev.ID == "" {
		ev.ID = fmt.Sprintf("ev-%06d", n)
	}
	if ev.Time.IsZero() {
		ev.Time = baseTime.Add(time.Duration(n) * time.Second)
	}
	if ev.Source == "" {
		ev.Source = "/test"
	}
	f.recs = append(f.recs, events.Record{Partition: 0, Offset: int64(n), Event: ev})
}

// stale appends ev under epoch, as a writer that lost the partition
// would: it does not take the next version of the resource.
func (f *feed) stale(epoch int64, ev events.Event) {
	f.raw(ev)
	f.recs[len(f.recs)-1].Event.Epoch = epoch
}

// next returns the version after the last one emitted for a resource, and
// that one: what a stale writer would write.
func (f *feed) next(tenant, rtype, id string) (version, prev int64) {
	v := f.ver[tenant+"/"+rtype+"/"+id]
	return v + 1, v
}

// claim appends a claim of partition 0; when it raises the feed's epoch,
// emit and raw write under the new one from here on.
func (f *feed) claim(epoch int64, owner string) {
	n := len(f.recs)
	c := events.Claim{ID: fmt.Sprintf("claim-%06d", n), Source: "/test", Time: baseTime.Add(time.Duration(n) * time.Second),
		Partition: 0, Epoch: epoch, Owner: owner}
	f.recs = append(f.recs, events.Record{Partition: 0, Offset: int64(n), Claim: &c})
	f.epoch = max(f.epoch, epoch)
}

func user(id, userName string, kv ...any) schemas.Resource {
	r := schemas.Resource{"id": id, "userName": userName, "schemas": []any{schemas.URNUser}}
	for i := 0; i+1 < len(kv); i += 2 {
		r[kv[i].(string)] = kv[i+1]
	}
	return r
}

func group(id, displayName string) schemas.Resource {
	return schemas.Resource{"id": id, "displayName": displayName, "schemas": []any{schemas.URNGroup}}
}

func emails(vs ...string) []any {
	out := make([]any, len(vs))
	for i, v := range vs {
		out[i] = map[string]any{"value": v, "type": "work"}
	}
	return out
}

func (f *feed) userCreated(tenant, id, userName string, kv ...any) {
	f.emit(events.UserCreated, tenant, "User", id, user(id, userName, kv...), nil, nil)
}

func (f *feed) groupCreated(tenant, id, name string) {
	f.emit(events.GroupCreated, tenant, "Group", id, group(id, name), nil, nil)
}

func (f *feed) addMembers(tenant, groupID string, ids ...string) {
	f.emit(events.GroupMembersAdded, tenant, "Group", groupID, nil, members(ids...), nil)
}

func (f *feed) removeMembers(tenant, groupID string, ids ...string) {
	f.emit(events.GroupMembersRemoved, tenant, "Group", groupID, nil, nil, members(ids...))
}

func members(ids ...string) []schemas.Member {
	out := make([]schemas.Member, len(ids))
	for i, id := range ids {
		out[i] = schemas.Member{Value: id, Type: "User", Display: "display " + id}
	}
	return out
}

func applyAll(t testing.TB, s *Store, recs []events.Record) {
	t.Helper()
	for _, rec := range recs {
		if err := s.Apply(rec); err != nil {
			t.Fatalf("Apply(offset %d) = %v", rec.Offset, err)
		}
	}
}

// export returns every key and value of s, printable for diffs.
func export(t testing.TB, s *Store) []string {
	t.Helper()
	var out []string
	err := s.Export(context.Background(), func(k, v []byte) error {
		out = append(out, fmt.Sprintf("%q = %q", k, v))
		return nil
	})
	if err != nil {
		t.Fatalf("Export() = %v", err)
	}
	return out
}

// diffLines reports the first difference of two exports.
func diffLines(want, got []string) string {
	for i := 0; i < max(len(want), len(got)); i++ {
		var w, g string
		if i < len(want) {
			w = want[i]
		}
		if i < len(got) {
			g = got[i]
		}
		if w != g {
			return fmt.Sprintf("line %d:\n-%s\n+%s", i, w, g)
		}
	}
	return ""
}

// keysWithPrefix counts exported keys starting with prefix.
func keysWithPrefix(t testing.TB, s *Store, prefix []byte) int {
	t.Helper()
	n := 0
	err := s.Export(context.Background(), func(k, _ []byte) error {
		if bytes.HasPrefix(k, prefix) {
			n++
		}
		return nil
	})
	if err != nil {
		t.Fatalf("Export() = %v", err)
	}
	return n
}

// openLog opens an embedded log of one partition in a temporary
// directory, closed when the test ends.
func openLog(t testing.TB) *events.Embedded {
	t.Helper()
	log, err := events.OpenEmbedded(t.TempDir(), events.EmbeddedOptions{Partitions: 1, Logger: testutil.Logger(t, slog.LevelWarn)})
	if err != nil {
		t.Fatalf("OpenEmbedded() = %v", err)
	}
	t.Cleanup(func() { log.Close() })
	return log
}
