package bridge_test

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/scim-bridge/scim-bridge/bridge"
	"github.com/scim-bridge/scim-bridge/events"
	"github.com/scim-bridge/scim-bridge/projection/view"
	"github.com/scim-bridge/scim-bridge/schemas"
)

// fakeOwnership is an Ownership set by the test: the epoch per owned
// partition and the owner named by the claim in force of the others.
type fakeOwnership struct {
	mu     sync.Mutex
	owned  map[int]int64
	owners map[int]string
}

func newFakeOwnership() *fakeOwnership {
	return &fakeOwnership{owned: map[int]int64{}, owners: map[int]string{}}
}

func (f *fakeOwnership) Owns(p int) (int64, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	e, ok := f.owned[p]
	return e, ok
}

func (f *fakeOwnership) Owner(p int) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.owners[p]
}

func (f *fakeOwnership) set(p int, epoch int64, owned bool, owner string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if owned {
		f.owned[p] = epoch
	} else {
		delete(f.owned, p)
	}
	f.owners[p] = owner
}

// claim appends a claim on the tenant's partition and waits until the
// projection has it in force.
func (e *env) claim(t *testing.T, epoch int64, owner string) int {
	t.Helper()
	p := events.PartitionFor(req.Tenant, e.log.Partitions())
	off, err := e.log.AppendClaim(t.Context(), events.Claim{ID: events.NewEventID(), Source: "/test", Time: time.Now(),
		Partition: p, Epoch: epoch, Owner: owner})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.store.WaitApplied(t.Context(), p, off); err != nil {
		t.Fatalf("WaitApplied(claim) = %v", err)
	}
	return p
}

// With several replicas, a write goes to the log only when this replica
// owns the tenant's partition, and its events carry the epoch of that
// claim, per partition.
func TestBridge_OwnedWrites(t *testing.T) {
	own := newFakeOwnership()
	e := newEnvWith(t, bridge.Options{Ownership: own}, nil, nil)
	ctx := context.Background()
	p := e.claim(t, 7, "http://me.test")

	_, err := e.b.Create(ctx, req, e.users, userBody("alice@example.com"))
	if schemas.KindOf(err) != schemas.KindUnavailable {
		t.Fatalf("Create on a partition not owned = %v, want KindUnavailable", err)
	}
	if evs := e.logEvents(t); len(evs) != 0 {
		t.Fatalf("a write of a partition not owned appended %d events", len(evs))
	}

	own.set(p, 7, true, "")
	st, err := e.b.Create(ctx, req, e.users, userBody("alice@example.com"))
	if err != nil {
		t.Fatalf("Create on an owned partition = %v", err)
	}
	evs := e.logEvents(t)
	if len(evs) != 1 || evs[0].Epoch != 7 || evs[0].ResourceID != st.Resource.ID() {
		t.Fatalf("events = %+v, want alice's user.created under epoch 7", evs)
	}
}

// flipState hands the ownership to another replica while a write is being
// planned, after the batch passed its first check.
type flipState struct {
	bridge.State
	flip func()
}

func (s flipState) UserIDByUserName(ctx context.Context, tenant, userName string) (string, bool, error) {
	s.flip()
	return s.State.UserIDByUserName(ctx, tenant, userName)
}

// A partition that changes hands while a batch is planned is not appended
// to: the batch was validated under the old claim, which may miss what the
// new owner writes. Whether this replica claimed it again meanwhile or lost
// it, the write answers 503 (not 500: a write planned while nothing is
// owned must still encode).
func TestBridge_OwnershipLostDuringBatch(t *testing.T) {
	for _, tc := range []struct {
		name  string
		owned bool
	}{{"ClaimedAgain", true}, {"Lost", false}} {
		t.Run(tc.name, func(t *testing.T) {
			own := newFakeOwnership()
			var once sync.Once
			var p int
			e := newEnvWith(t, bridge.Options{Ownership: own}, nil, func(st bridge.State) bridge.State {
				return flipState{State: st, flip: func() { once.Do(func() { own.set(p, 8, tc.owned, "") }) }}
			})
			p = e.claim(t, 7, "http://me.test")
			own.set(p, 7, true, "")

			_, err := e.b.Create(context.Background(), req, e.users, userBody("alice@example.com"))
			if schemas.KindOf(err) != schemas.KindUnavailable {
				t.Fatalf("Create while the partition changed hands = %v, want KindUnavailable", err)
			}
			if evs := e.logEvents(t); len(evs) != 0 {
				t.Fatalf("appended %d events planned under a claim no longer held", len(evs))
			}
		})
	}
}

// Route: here when owned, the owner's URL when another replica's claim is
// in force, and 503 (after a short wait, not a hang) when nobody writes.
func TestBridge_Route(t *testing.T) {
	own := newFakeOwnership()
	e := newEnvWith(t, bridge.Options{Ownership: own}, nil, nil)
	ctx := context.Background()
	p := events.PartitionFor(req.Tenant, e.log.Partitions())

	own.set(p, 3, true, "")
	if got, err := e.b.Route(ctx, req.Tenant); got != "" || err != nil {
		t.Errorf("Route(owned) = %q, %v; want here", got, err)
	}
	own.set(p, 0, false, "http://b.test:8080")
	if got, err := e.b.Route(ctx, req.Tenant); got != "http://b.test:8080" || err != nil {
		t.Errorf("Route(owned by b) = %q, %v; want b", got, err)
	}
	own.set(p, 0, false, "")
	start := time.Now()
	got, err := e.b.Route(ctx, req.Tenant)
	if got != "" || schemas.KindOf(err) != schemas.KindUnavailable {
		t.Errorf("Route(no writer) = %q, %v; want KindUnavailable", got, err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("Route(no writer) answered after %v, want a few seconds at most", d)
	}

	// A partition claimed a moment later is routed once it is.
	go func() {
		time.Sleep(100 * time.Millisecond)
		own.set(p, 4, true, "")
	}()
	if got, err := e.b.Route(ctx, req.Tenant); got != "" || err != nil {
		t.Errorf("Route(claimed meanwhile) = %q, %v; want here", got, err)
	}

	// A single replica routes everything here.
	single := newEnv(t)
	if got, err := single.b.Route(ctx, req.Tenant); got != "" || err != nil {
		t.Errorf("Route without ownership = %q, %v; want here", got, err)
	}
}

// Sync makes a read reflect a write another replica acknowledged: the
// projection here has applied the log up to its end.
func TestBridge_Sync(t *testing.T) {
	own := newFakeOwnership()
	e := newEnvWith(t, bridge.Options{Ownership: own}, nil, nil)
	ctx := context.Background()
	for i := range 20 {
		// Another replica's write: straight to the log.
		ev := events.Event{ID: events.NewEventID(), Type: events.UserCreated, Source: "/other", Time: time.Now(),
			Tenant: req.Tenant, ResourceType: "User", ResourceID: "u" + string(rune('a'+i)), Version: 1,
			Resource: schemas.Resource{"id": "u" + string(rune('a'+i)), "userName": "u" + string(rune('a'+i)),
				"schemas": []any{"urn:ietf:params:scim:schemas:core:2.0:User"}}}
		if _, _, err := e.log.Append(ctx, []events.Event{ev}); err != nil {
			t.Fatal(err)
		}
		if err := e.b.Sync(ctx, req.Tenant); err != nil {
			t.Fatalf("Sync = %v", err)
		}
		if _, err := e.store.Get(ctx, req.Tenant, "User", ev.ResourceID, view.GetOptions{}); err != nil {
			t.Fatalf("Get after Sync = %v, want the other replica's user", err)
		}
	}
}

// Sync serves from the projection as it is when the log cannot tell its end
// (unreachable): reads keep working in an outage.
func TestBridge_SyncLogUnreachable(t *testing.T) {
	own := newFakeOwnership()
	e := newEnvWith(t, bridge.Options{Ownership: own}, func(l events.Log) events.Log { return endless{l} }, nil)
	for range 3 {
		if err := e.b.Sync(context.Background(), req.Tenant); err != nil {
			t.Fatalf("Sync with the log unreachable = %v, want nil (serve what is here)", err)
		}
	}
}

// endless is a log whose End fails, as an unreachable Kafka's does.
type endless struct{ events.Log }

func (endless) End(ctx context.Context) ([]int64, error) {
	return nil, errors.Join(events.ErrUnavailable, errors.New("broker down"))
}

// snapshotEnd is a log whose first End answers what the log held when it
// was asked, after gate opens: a query in flight while more is appended.
type snapshotEnd struct {
	events.Log
	gate  chan struct{}
	calls chan struct{}
	once  sync.Once
}

func (l *snapshotEnd) End(ctx context.Context) ([]int64, error) {
	ends, err := l.Log.End(ctx)
	first := false
	l.once.Do(func() { first = true })
	if first {
		close(l.calls)
		<-l.gate
	}
	return ends, err
}

// waits records the offsets waited for.
type waits struct {
	bridge.State
	mu   sync.Mutex
	offs []int64
}

func (w *waits) WaitApplied(ctx context.Context, p int, off int64) error {
	w.mu.Lock()
	w.offs = append(w.offs, off)
	w.mu.Unlock()
	return w.State.WaitApplied(ctx, p, off)
}

// A read that starts while an end query is in flight must not take that
// query's answer: it may predate a write acknowledged before the read.
func TestBridge_SyncFreshEnd(t *testing.T) {
	own := newFakeOwnership()
	gl := &snapshotEnd{gate: make(chan struct{}), calls: make(chan struct{})}
	w := &waits{}
	e := newEnvWith(t, bridge.Options{Ownership: own},
		func(l events.Log) events.Log { gl.Log = l; return gl },
		func(st bridge.State) bridge.State { w.State = st; return w })
	ctx := context.Background()

	first := make(chan error, 1)
	go func() { first <- e.b.Sync(ctx, req.Tenant) }()
	<-gl.calls // the first read's query is in flight

	ev := events.Event{ID: events.NewEventID(), Type: events.UserCreated, Source: "/other", Time: time.Now(),
		Tenant: req.Tenant, ResourceType: "User", ResourceID: "late", Version: 1,
		Resource: schemas.Resource{"id": "late", "userName": "late", "schemas": []any{"urn:ietf:params:scim:schemas:core:2.0:User"}}}
	_, off, err := e.log.Append(ctx, []events.Event{ev})
	if err != nil {
		t.Fatal(err)
	}
	second := make(chan error, 1)
	go func() { second <- e.b.Sync(ctx, req.Tenant) }()
	time.Sleep(50 * time.Millisecond) // let the second read join whatever it would join
	close(gl.gate)
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	if err := <-second; err != nil {
		t.Fatal(err)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.offs) == 0 || slices.Max(w.offs) < off {
		t.Errorf("reads waited for offsets %v, want one at least %d (the write acknowledged before the second read)", w.offs, off)
	}
}

// switchEnd is a log whose End fails while down is set.
type switchEnd struct {
	events.Log
	mu   sync.Mutex
	down bool
}

func (l *switchEnd) End(ctx context.Context) ([]int64, error) {
	l.mu.Lock()
	down := l.down
	l.mu.Unlock()
	if down {
		return nil, errors.Join(events.ErrUnavailable, errors.New("broker down"))
	}
	return l.Log.End(ctx)
}

// A replica the log answers again (after an outage, or a freeze) catches
// up before its next read: a moment ago's failure is no reason to serve
// what it had.
func TestBridge_SyncAfterOutage(t *testing.T) {
	own := newFakeOwnership()
	sl := &switchEnd{}
	w := &waits{}
	e := newEnvWith(t, bridge.Options{Ownership: own},
		func(l events.Log) events.Log { sl.Log = l; return sl },
		func(st bridge.State) bridge.State { w.State = st; return w })
	ctx := context.Background()
	sl.mu.Lock()
	sl.down = true
	sl.mu.Unlock()
	if err := e.b.Sync(ctx, req.Tenant); err != nil {
		t.Fatalf("Sync with the log down = %v, want nil", err)
	}
	sl.mu.Lock()
	sl.down = false
	sl.mu.Unlock()
	ev := events.Event{ID: events.NewEventID(), Type: events.UserCreated, Source: "/other", Time: time.Now(),
		Tenant: req.Tenant, ResourceType: "User", ResourceID: "after", Version: 1,
		Resource: schemas.Resource{"id": "after", "userName": "after", "schemas": []any{"urn:ietf:params:scim:schemas:core:2.0:User"}}}
	_, off, err := e.log.Append(ctx, []events.Event{ev})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.b.Sync(ctx, req.Tenant); err != nil {
		t.Fatal(err)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.offs) == 0 || slices.Max(w.offs) < off {
		t.Errorf("the read after the log answered again waited for offsets %v, want %d (the write made meanwhile)", w.offs, off)
	}
}
