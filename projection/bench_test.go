package projection

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/dgraph-io/badger/v4"

	"github.com/scim-bridge/scim-bridge/events"
	"github.com/scim-bridge/scim-bridge/projection/view"
	"github.com/scim-bridge/scim-bridge/schemas"
)

// The benchmarks share one on-disk projection of benchUsers users and a
// group holding all of them, built once per process (applying every event,
// as a rebuild would) and removed by TestMain.
const benchUsers = 100_000

var bench struct {
	once sync.Once
	dir  string
	s    *Store
	err  error
	next int64 // next offset of partition 0
}

func TestMain(m *testing.M) {
	code := m.Run()
	if bench.s != nil {
		bench.s.Close()
	}
	if bench.dir != "" {
		os.RemoveAll(bench.dir)
	}
	os.Exit(code)
}

// benchID is a canonical UUID, as the bridge's ids are (and the userName
// hints hold).
func benchID(i int) string       { return fmt.Sprintf("0190a1b2-0000-7000-8000-%012x", i) }
func benchUserName(i int) string { return fmt.Sprintf("user%06d@example.com", i) }

func benchStore(b *testing.B) *Store {
	b.Helper()
	bench.once.Do(func() {
		start := time.Now()
		bench.dir, bench.err = os.MkdirTemp("", "projection-bench-")
		if bench.err != nil {
			return
		}
		reg, err := schemas.NewRegistry()
		if err != nil {
			bench.err = err
			return
		}
		logger := slog.New(slog.DiscardHandler)
		bench.s, bench.err = Open(bench.dir, reg, Options{Logger: logger})
		if bench.err != nil {
			return
		}
		apply := func(ev events.Event) {
			if bench.err != nil {
				return
			}
			ev.ID = fmt.Sprintf("bench-%d", bench.next)
			ev.Time = baseTime.Add(time.Duration(bench.next) * time.Millisecond)
			bench.err = bench.s.Apply(events.Record{Offset: bench.next, Event: ev})
			bench.next++
		}
		all := make([]schemas.Member, benchUsers)
		for i := range benchUsers {
			id := benchID(i)
			apply(events.Event{Type: events.UserCreated, Tenant: "acme", ResourceType: "User", ResourceID: id,
				Version: 1, Resource: user(id, benchUserName(i), "emails", emails(benchUserName(i)),
					"externalId", fmt.Sprintf("ext-%d", i), "active", true)})
			all[i] = schemas.Member{Value: id, Type: "User"}
		}
		apply(events.Event{Type: events.GroupCreated, Tenant: "acme", ResourceType: "Group", ResourceID: "big",
			Version: 1, Resource: group("big", "Everyone")})
		apply(events.Event{Type: events.GroupMembersAdded, Tenant: "acme", ResourceType: "Group", ResourceID: "big",
			Version: 2, PrevVersion: 1, MembersAdded: all})
		fmt.Fprintf(os.Stderr, "bench fixture: %d users and a %d-member group applied in %v\n",
			benchUsers, benchUsers, time.Since(start).Round(time.Millisecond))
		if bench.err == nil {
			start = time.Now()
			settle(bench.s.db)
			fmt.Fprintf(os.Stderr, "bench fixture: compactions settled in %v\n", time.Since(start).Round(time.Millisecond))
		}
	})
	if bench.err != nil {
		b.Fatalf("bench fixture: %v", bench.err)
	}
	return bench.s
}

// settle waits, for a minute at most, until Badger needs no compaction (no
// level scores 1 or more, twice in a row half a second apart), so that the
// benchmarks read a steady LSM tree, as a server does, rather than share
// the processors with the compactions that building the fixture set off.
func settle(db *badger.DB) {
	calm := 0
	for deadline := time.Now().Add(time.Minute); calm < 2 && time.Now().Before(deadline); {
		time.Sleep(500 * time.Millisecond)
		calm++
		for _, l := range db.Levels() {
			if l.Score >= 1 {
				calm = 0
			}
		}
	}
}

// BenchmarkGet reads one user by id per iteration, visiting the fixture's
// users in a scattered order (the same sequence in every sub-benchmark):
//
//   - Store: Get with no derived attributes, the resource as its stored
//     JSON (GetOptions.Raw), as a SCIM GET without an attributes list
//     asks for it.
//   - StoreDecoded: the same, the resource decoded into a Resource, as a
//     GET with an attributes list and a write's read-back get it (and as
//     every GET did before rendering from the stored JSON).
//   - StoreWithGroups: Store deriving the user's "groups"; every fixture
//     user is a member of the 100k-member group "big", so each read finds
//     one.
//   - BadgerPointRead: the floor every Get pays: one read-only Badger
//     transaction getting the user's record and copying its value into a
//     reused buffer, with no decoding.
//
// Store/BadgerPointRead is our overhead on top of Badger; StoreWithGroups/
// Store is the cost of deriving "groups". Building the id (benchID) is in
// all of them. Each also reports the process's CPU time per read
// (reportCPU). The rendering of what Store returns, which decoding no
// longer does for it, is in scimhttp's BenchmarkServeGet (the whole GET)
// and BenchmarkWriteUser.
func BenchmarkGet(b *testing.B) {
	s := benchStore(b)
	ctx := context.Background()
	for _, bc := range []struct {
		name string
		get  view.GetOptions
	}{{"Store", view.GetOptions{Raw: true}}, {"StoreDecoded", view.GetOptions{}}} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			i := 0
			cpu := cpuTime()
			for b.Loop() {
				st, err := s.Get(ctx, "acme", "User", benchID(i*7919%benchUsers), bc.get)
				if err != nil {
					b.Fatal(err)
				}
				if bc.get.Raw && st.Raw == "" {
					b.Fatal("Get(Raw) gave no stored JSON")
				}
				i++
			}
			reportCPU(b, cpu)
		})
	}
	b.Run("StoreWithGroups", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		cpu := cpuTime()
		for b.Loop() {
			id := benchID(i * 7919 % benchUsers)
			st, err := s.Get(ctx, "acme", "User", id, view.GetOptions{Groups: true, Raw: true})
			if err != nil {
				b.Fatal(err)
			}
			if gs, _ := st.Resource["groups"].([]any); len(gs) != 1 {
				b.Fatalf("Get(%s, Groups).groups = %v, want the one group big", id, st.Resource["groups"])
			}
			i++
		}
		reportCPU(b, cpu)
	})
	b.Run("BadgerPointRead", func(b *testing.B) {
		benchPointRead(b, s, true, func(i int) []byte {
			return resourceKey("acme", typeUser, benchID(i*7919%benchUsers))
		})
	})
}

// BenchmarkListUserNameEq lists users by `userName eq` (what Okta and
// Entra send before every create), visiting the fixture's users in the
// scattered order of BenchmarkGet, so the figures compare with its own:
//
//   - Store: List with no derived attributes, resources as their stored
//     JSON as a SCIM list asks for them (BenchmarkGet/Store's peer). The
//     userName hints name each user (hints.go): one point read, the
//     record's.
//   - StoreKeyRead: Store without the hints, reading the userName's key
//     and then the record, as every lookup did before them.
//   - StoreWithGroups: List deriving each user's "groups", as a SCIM list
//     does by default (BenchmarkGet/StoreWithGroups's peer).
//   - BadgerPointRead: one read-only Badger transaction getting the
//     userName's key (nsUserName) and copying its value: the read
//     the hints spare.
func BenchmarkListUserNameEq(b *testing.B) {
	s := benchStore(b)
	ctx := context.Background()
	filters := make([]schemas.Expr, 1000)
	for j := range filters {
		var err error
		if filters[j], err = schemas.ParseFilter(`userName eq "` + benchUserName(j*7919%benchUsers) + `"`); err != nil {
			b.Fatal(err)
		}
	}
	for _, bc := range []struct {
		name    string
		get     view.GetOptions
		noHints bool
	}{
		{"Store", view.GetOptions{Raw: true}, false},
		{"StoreKeyRead", view.GetOptions{Raw: true}, true},
		{"StoreWithGroups", view.GetOptions{Groups: true, Raw: true}, false},
	} {
		b.Run(bc.name, func(b *testing.B) {
			if bc.noHints {
				hints := s.hints
				s.hints = nil
				defer func() { s.hints = hints }()
			}
			b.ReportAllocs()
			i := 0
			cpu := cpuTime()
			for b.Loop() {
				p, err := s.List(ctx, "acme", "User", view.Query{Filter: filters[i%len(filters)], Count: 100, Get: bc.get})
				if err != nil || len(p.Resources) != 1 {
					b.Fatalf("List() = %d resources, %v", len(p.Resources), err)
				}
				if gs, _ := p.Resources[0].Resource["groups"].([]any); bc.get.Groups && len(gs) != 1 {
					b.Fatalf("List(Groups).groups = %v, want the one group big", p.Resources[0].Resource["groups"])
				}
				i++
			}
			reportCPU(b, cpu)
		})
	}
	b.Run("BadgerPointRead", func(b *testing.B) {
		benchPointRead(b, s, false, func(i int) []byte {
			return userNameKey("acme", fold(benchUserName(i%1000*7919%benchUsers)))
		})
	})
}

// benchPointRead reads keyOf(i) for the i-th iteration in a read-only
// Badger transaction of its own, copying the value: one point read, the
// ceiling of a lookup. nonEmpty fails b on an empty value.
func benchPointRead(b *testing.B, s *Store, nonEmpty bool, keyOf func(i int) []byte) {
	b.ReportAllocs()
	var (
		key []byte
		buf []byte
	)
	read := func(txn *badger.Txn) error {
		item, err := txn.Get(key)
		if err != nil {
			return err
		}
		buf, err = item.ValueCopy(buf)
		return err
	}
	i := 0
	cpu := cpuTime()
	for b.Loop() {
		key = keyOf(i)
		if err := s.db.View(read); err != nil {
			b.Fatalf("View(Get %q) = %v", key, err)
		}
		if nonEmpty && len(buf) == 0 {
			b.Fatalf("View(Get %q) read an empty value", key)
		}
		i++
	}
	reportCPU(b, cpu)
}

// reportCPU reports the CPU time the process used per iteration since
// start (cpuTime), every goroutine's, Badger's and the collector's
// included: steadier than the time per iteration on a shared machine.
func reportCPU(b *testing.B, start time.Duration) {
	b.ReportMetric(float64((cpuTime()-start).Nanoseconds())/float64(b.N), "cpu-ns/op")
}

func BenchmarkListPage100(b *testing.B) {
	s := benchStore(b)
	ctx := context.Background()
	// A cursor 90% of the way in, as List would hand it out.
	deepCursor := cursor{hash: queryHash("acme", typeUser, view.Query{}), id: benchID(benchUsers * 9 / 10)}.encode()
	for _, bc := range []struct {
		name string
		q    view.Query
	}{
		{"First", view.Query{Count: 100, StartIndex: 1}},
		{"DeepCursor", view.Query{Count: 100, UseCursor: true, Cursor: deepCursor}},
		{"DeepStartIndex", view.Query{Count: 100, StartIndex: benchUsers * 9 / 10}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				p, err := s.List(ctx, "acme", "User", bc.q)
				if err != nil || len(p.Resources) != 100 {
					b.Fatalf("List() = %d resources, %v", len(p.Resources), err)
				}
			}
		})
	}
}

// BenchmarkApply applies one user.updated event (a userName change, so
// indexes move) per iteration.
func BenchmarkApply(b *testing.B) {
	s := benchStore(b)
	ctx := context.Background()
	id := benchID(1)
	cur, err := s.Get(ctx, "acme", "User", id, view.GetOptions{})
	if err != nil {
		b.Fatal(err)
	}
	ver := cur.Version
	b.ReportAllocs()
	for b.Loop() {
		ev := events.Event{ID: fmt.Sprintf("bench-%d", bench.next), Type: events.UserUpdated,
			Time: baseTime.Add(time.Duration(bench.next) * time.Millisecond), Tenant: "acme",
			ResourceType: "User", ResourceID: id, Version: ver + 1, PrevVersion: ver,
			Resource: user(id, fmt.Sprintf("renamed%d@example.com", ver), "active", true)}
		if err := s.Apply(events.Record{Offset: bench.next, Event: ev}); err != nil {
			b.Fatal(err)
		}
		bench.next++
		ver++
	}
}

// BenchmarkAddMemberLargeGroup adds one member to a group of 100k members
// per iteration.
func BenchmarkAddMemberLargeGroup(b *testing.B) {
	s := benchStore(b)
	ctx := context.Background()
	cur, err := s.Get(ctx, "acme", "Group", "big", view.GetOptions{})
	if err != nil {
		b.Fatal(err)
	}
	ver := cur.Version
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		ev := events.Event{ID: fmt.Sprintf("bench-%d", bench.next), Type: events.GroupMembersAdded,
			Time: baseTime.Add(time.Duration(bench.next) * time.Millisecond), Tenant: "acme",
			ResourceType: "Group", ResourceID: "big", Version: ver + 1, PrevVersion: ver,
			MembersAdded: []schemas.Member{{Value: fmt.Sprintf("extra-%d", n), Type: "User"}}}
		if err := s.Apply(events.Record{Offset: bench.next, Event: ev}); err != nil {
			b.Fatal(err)
		}
		bench.next++
		ver++
		n++
	}
	if !s.Members(ctx, "acme", "big").Contains("extra-0") {
		b.Errorf("Members(big).Contains(extra-0) = false")
	}
}
