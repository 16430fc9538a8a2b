package scimhttp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/scim-bridge/scim-bridge/bridge"
	"github.com/scim-bridge/scim-bridge/events"
	"github.com/scim-bridge/scim-bridge/projection"
	"github.com/scim-bridge/scim-bridge/projection/view"
	"github.com/scim-bridge/scim-bridge/schemas"
)

// testTime is the time of every event in tests: the bridge's clock, and
// the time of what put writes.
var testTime = time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)

var _ Reader = (*projection.Store)(nil)

// stack is the real write path and read model, as main builds them: a
// bridge on an embedded log and an in-memory projection following the
// log. The resources the bridge creates get the ids id-1, id-2, ...
type stack struct {
	t      testing.TB
	log    *events.Embedded
	proj   *projection.Store
	bridge *bridge.Bridge
}

func newStack(t testing.TB, reg *schemas.Registry) *stack {
	t.Helper()
	el, err := events.OpenEmbedded(t.TempDir(), events.EmbeddedOptions{})
	if err != nil {
		t.Fatalf("OpenEmbedded() = %v", err)
	}
	t.Cleanup(func() { el.Close() })
	store, err := projection.Open("", reg, projection.Options{InMemory: true, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatalf("projection.Open() = %v", err)
	}
	t.Cleanup(func() { store.Close() })
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- store.Run(ctx, el) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
			t.Errorf("projection Run: %v", err)
		}
	})
	var ids atomic.Int64
	b, err := bridge.New(el, store, reg, bridge.Options{
		Now:   func() time.Time { return testTime },
		NewID: func() string { return fmt.Sprintf("id-%d", ids.Add(1)) },
	})
	if err != nil {
		t.Fatalf("bridge.New() = %v", err)
	}
	t.Cleanup(func() { b.Close() })
	return &stack{t: t, log: el, proj: store, bridge: b}
}

// put adds a resource of tenant as if written earlier, by appending its
// events to the log and waiting until the projection has applied them: it
// is created at version 1 (with the core schema URN when r names none)
// and, when members (User ids) are given, they are added at version 2.
func (s *stack) put(tenant, typ string, r schemas.Resource, members ...string) {
	s.t.Helper()
	if _, ok := r["schemas"]; !ok {
		urn := schemas.URNUser
		if typ == schemas.Group {
			urn = schemas.URNGroup
		}
		r["schemas"] = []any{urn}
	}
	var changed []string
	for k := range r {
		if k != "id" && k != "schemas" {
			changed = append(changed, k)
		}
	}
	sort.Strings(changed)
	ev := events.Event{ID: events.NewEventID(), Source: "/test", Time: testTime, Tenant: tenant,
		ResourceType: typ, ResourceID: r.ID(), ExternalID: r.ExternalID(), Operation: "POST"}
	created := ev
	created.Type, created.Version, created.Resource, created.ChangedAttributes = events.UserCreated, 1, r, changed
	if typ == schemas.Group {
		created.Type = events.GroupCreated
	}
	evs := []events.Event{created}
	if len(members) > 0 {
		added := ev
		added.ID, added.Type, added.Version, added.PrevVersion = events.NewEventID(), events.GroupMembersAdded, 2, 1
		for _, m := range members {
			added.MembersAdded = append(added.MembersAdded, schemas.Member{Value: m, Type: schemas.User})
		}
		evs = append(evs, added)
	}
	ctx := context.Background()
	p, last, err := s.log.Append(ctx, evs)
	if err != nil {
		s.t.Fatalf("append the events of %s %s: %v", typ, r.ID(), err)
	}
	if err := s.proj.WaitApplied(ctx, p, last); err != nil {
		s.t.Fatalf("await the events of %s %s: %v", typ, r.ID(), err)
	}
}

// events returns every event in the log, in order.
func (s *stack) events() []events.Event {
	s.t.Helper()
	ctx := context.Background()
	end, err := s.log.End(ctx)
	if err != nil {
		s.t.Fatal(err)
	}
	var out []events.Event
	for p, n := range end {
		if n == 0 {
			continue
		}
		rctx, cancel := context.WithCancel(ctx)
		err := s.log.Read(rctx, p, 0, func(r events.Record) error {
			out = append(out, r.Event)
			if r.Offset == n-1 {
				cancel()
			}
			return nil
		})
		cancel()
		if err != nil && !errors.Is(err, context.Canceled) {
			s.t.Fatal(err)
		}
	}
	return out
}

// faultStore is the Reader and Writer a test server uses: the real ones,
// behind a seam where tests inject failures. It notes the options of the
// reads that reach the read model.
type faultStore struct {
	r Reader
	w Writer

	mu        sync.Mutex
	err       func(op string) error // non-nil: called first by every operation; an error is returned instead
	lastGet   view.GetOptions
	answer    view.GetOptions // Request.Answer of the last write
	noRaw     bool            // writes read their answer back decoded (Raw cleared)
	gets      int             // reads by id
	lastQuery view.Query
}

var (
	_ Reader = (*faultStore)(nil)
	_ Writer = (*faultStore)(nil)
)

// failure is what operation op returns instead of running, if anything.
func (f *faultStore) failure(op string) error {
	f.mu.Lock()
	fail := f.err
	f.mu.Unlock()
	if fail == nil {
		return nil
	}
	return fail(op)
}

// fail makes every operation call fail first (nil: none).
func (f *faultStore) fail(fail func(op string) error) {
	f.mu.Lock()
	f.err = fail
	f.mu.Unlock()
}

func (f *faultStore) Get(ctx context.Context, tenant, typ, id string, o view.GetOptions) (view.Stored, error) {
	if err := f.failure("get"); err != nil {
		return view.Stored{}, err
	}
	f.mu.Lock()
	f.lastGet = o
	f.gets++
	f.mu.Unlock()
	return f.r.Get(ctx, tenant, typ, id, o)
}

func (f *faultStore) List(ctx context.Context, tenant, typ string, q view.Query) (view.Page, error) {
	if err := f.failure("list"); err != nil {
		return view.Page{}, err
	}
	f.mu.Lock()
	f.lastQuery = q
	f.mu.Unlock()
	return f.r.List(ctx, tenant, typ, q)
}

// noteAnswer notes what the write req reads back for its answer and
// returns req, with Raw cleared when the test asks for decoded answers.
func (f *faultStore) noteAnswer(req bridge.Request) bridge.Request {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.answer = req.Answer
	if f.noRaw {
		req.Answer.Raw = false
	}
	return req
}

func (f *faultStore) Create(ctx context.Context, req bridge.Request, rt *schemas.ResourceType, r schemas.Resource) (bridge.Applied, error) {
	if err := f.failure("create"); err != nil {
		return bridge.Applied{}, err
	}
	req = f.noteAnswer(req)
	return f.w.Create(ctx, req, rt, r)
}

func (f *faultStore) Replace(ctx context.Context, req bridge.Request, rt *schemas.ResourceType, id string, r schemas.Resource) (bridge.Applied, error) {
	if err := f.failure("replace"); err != nil {
		return bridge.Applied{}, err
	}
	req = f.noteAnswer(req)
	return f.w.Replace(ctx, req, rt, id, r)
}

func (f *faultStore) Patch(ctx context.Context, req bridge.Request, rt *schemas.ResourceType, id string, p schemas.Patch) (bridge.Applied, error) {
	if err := f.failure("patch"); err != nil {
		return bridge.Applied{}, err
	}
	req = f.noteAnswer(req)
	return f.w.Patch(ctx, req, rt, id, p)
}

func (f *faultStore) Delete(ctx context.Context, req bridge.Request, rt *schemas.ResourceType, id string) error {
	if err := f.failure("delete"); err != nil {
		return err
	}
	return f.w.Delete(ctx, req, rt, id)
}
