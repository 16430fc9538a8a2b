package bridge_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"sync"
	"testing"

	"github.com/scim-bridge/scim-bridge/bridge"
	"github.com/scim-bridge/scim-bridge/events"
	"github.com/scim-bridge/scim-bridge/projection"
	"github.com/scim-bridge/scim-bridge/projection/view"
	"github.com/scim-bridge/scim-bridge/schemas"
)

// env is a bridge on a real embedded log and an in-memory projection.
type env struct {
	b     client
	log   *faultLog
	store *projection.Store
	reg   *schemas.Registry
	users *schemas.ResourceType
	grps  *schemas.ResourceType
}

// faultLog wraps a real log; fail, when set, makes Append fail before
// anything is written (a broker that is down); lose makes it fail after
// the events were written (an acknowledgement lost, or a produce request
// that lands after it timed out).
type faultLog struct {
	events.Log
	mu   sync.Mutex
	fail error
	lose bool
}

func (l *faultLog) Append(ctx context.Context, evs []events.Event) (int, int64, error) {
	l.mu.Lock()
	err, lose := l.fail, l.lose
	l.mu.Unlock()
	if err != nil {
		return 0, 0, err
	}
	p, last, err := l.Log.Append(ctx, evs)
	if err == nil && lose {
		return p, 0, fmt.Errorf("no acknowledgement: %w", events.ErrUnavailable)
	}
	return p, last, err
}

func (l *faultLog) setFail(err error) {
	l.mu.Lock()
	l.fail = err
	l.mu.Unlock()
}

func (l *faultLog) setLose(lose bool) {
	l.mu.Lock()
	l.lose = lose
	l.mu.Unlock()
}

func newEnv(t *testing.T) *env {
	t.Helper()
	return newEnvWith(t, bridge.Options{}, nil, nil)
}

// newEnvWith is newEnv with bridge options, and wrappers of the log the
// bridge appends to and of the state it reads (nil: none).
func newEnvWith(t *testing.T, opts bridge.Options, wrapLog func(events.Log) events.Log, wrapState func(bridge.State) bridge.State) *env {
	t.Helper()
	return newEnvProjecting(t, opts, wrapLog, wrapState, nil)
}

// newEnvProjecting is newEnvWith with a wrapper of the log the projection
// reads (nil: none).
func newEnvProjecting(t *testing.T, opts bridge.Options, wrapLog func(events.Log) events.Log, wrapState func(bridge.State) bridge.State,
	wrapRead func(events.Log) events.Log) *env {
	t.Helper()
	return newEnvEmbedded(t, events.EmbeddedOptions{}, opts, wrapLog, wrapState, wrapRead)
}

// newEnvEmbedded is newEnvProjecting with options of the embedded log.
func newEnvEmbedded(t *testing.T, eopts events.EmbeddedOptions, opts bridge.Options, wrapLog func(events.Log) events.Log,
	wrapState func(bridge.State) bridge.State, wrapRead func(events.Log) events.Log) *env {
	t.Helper()
	reg, err := schemas.NewRegistry()
	if err != nil {
		t.Fatal(err)
	}
	el, err := events.OpenEmbedded(t.TempDir(), eopts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { el.Close() })
	store, err := projection.Open("", reg, projection.Options{InMemory: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	var read events.Log = el
	if wrapRead != nil {
		read = wrapRead(el)
	}
	go func() { done <- store.Run(ctx, read) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
			t.Errorf("projection Run: %v", err)
		}
	})
	fl := &faultLog{Log: el}
	var l events.Log = fl
	if wrapLog != nil {
		l = wrapLog(fl)
	}
	var st bridge.State = store
	if wrapState != nil {
		st = wrapState(store)
	}
	b, err := bridge.New(l, st, reg, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	users, _ := reg.ResourceType("User")
	grps, _ := reg.ResourceType("Group")
	return &env{b: client{b, store}, log: fl, store: store, reg: reg, users: users, grps: grps}
}

var _ bridge.State = (*projection.Store)(nil)

// request is a write request as the HTTP handlers have it: the If-Match
// header as sent, what the answer is to load (Get), and where to report
// what the write ignored.
type request struct {
	Tenant    string
	RequestID string
	IfMatch   string
	Strict    bool
	Get       view.GetOptions
	Ignored   func([]schemas.Ignored) // called once after a write that ignored something
}

var req = request{Tenant: "acme", RequestID: "r1"}

// client drives a Bridge as the HTTP handlers do: it decodes what a
// request writes, computes the request's digest from its bytes, reports
// what the write ignored, and reads the result back from the projection.
// The Bridge's other methods (SetEpoch, Close) are its own.
type client struct {
	*bridge.Bridge
	store *projection.Store
}

// request is r for the write of a request with the given method, id and
// body.
func (c client) request(r request, method string, rt *schemas.ResourceType, id string, body []byte) bridge.Request {
	return bridge.Request{Tenant: r.Tenant, RequestID: r.RequestID, IfMatch: schemas.ParseETags(r.IfMatch), Strict: r.Strict,
		Digest: bridge.RequestDigest(r.Tenant, method, rt.Name, id, r.IfMatch, body)}
}

// answer reports what a successful write ignored and reads its resource.
func (c client) answer(ctx context.Context, r request, rt *schemas.ResourceType, a bridge.Applied, decoded []schemas.Ignored) (view.Stored, error) {
	if ig := append(decoded, a.Ignored...); len(ig) > 0 && r.Ignored != nil {
		r.Ignored(ig)
	}
	return c.store.Get(ctx, r.Tenant, rt.Name, a.ID, r.Get)
}

func (c client) Create(ctx context.Context, r request, rt *schemas.ResourceType, body []byte) (view.Stored, error) {
	br := c.request(r, "POST", rt, "", body)
	u := br.Unknowns()
	res, err := rt.DecodeWith(body, u)
	if err != nil {
		return view.Stored{}, err
	}
	a, err := c.Bridge.Create(ctx, br, rt, res)
	if err != nil {
		return view.Stored{}, err
	}
	return c.answer(ctx, r, rt, a, u.Ignored)
}

func (c client) Replace(ctx context.Context, r request, rt *schemas.ResourceType, id string, body []byte) (view.Stored, error) {
	br := c.request(r, "PUT", rt, id, body)
	u := br.Unknowns()
	res, err := rt.DecodeWith(body, u)
	if err != nil {
		return view.Stored{}, err
	}
	a, err := c.Bridge.Replace(ctx, br, rt, id, res)
	if err != nil {
		return view.Stored{}, err
	}
	return c.answer(ctx, r, rt, a, u.Ignored)
}

func (c client) Patch(ctx context.Context, r request, rt *schemas.ResourceType, id string, body []byte) (view.Stored, error) {
	p, err := schemas.ParsePatch(body, schemas.DefaultMaxOperations)
	if err != nil {
		return view.Stored{}, err
	}
	a, err := c.Bridge.Patch(ctx, c.request(r, "PATCH", rt, id, body), rt, id, p)
	if err != nil {
		return view.Stored{}, err
	}
	return c.answer(ctx, r, rt, a, nil)
}

func (c client) Delete(ctx context.Context, r request, rt *schemas.ResourceType, id string) error {
	return c.Bridge.Delete(ctx, c.request(r, "DELETE", rt, id, nil), rt, id)
}

func userBody(name string) []byte {
	return []byte(`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"` + name + `"}`)
}

func patchBody(ops string) []byte {
	return []byte(`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":` + ops + `}`)
}

// logEvents returns every event of the test tenant.
func (e *env) logEvents(t *testing.T) []events.Event {
	t.Helper()
	ctx := context.Background()
	end, err := e.log.End(ctx)
	if err != nil {
		t.Fatal(err)
	}
	p := events.PartitionFor(req.Tenant, e.log.Partitions())
	var out []events.Event
	if end[p] == 0 {
		return nil
	}
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	err = e.log.Read(rctx, p, 0, func(r events.Record) error {
		if r.Event.Tenant == req.Tenant {
			out = append(out, r.Event)
		}
		if r.Offset == end[p]-1 {
			cancel()
		}
		return nil
	})
	if err != nil && !errors.Is(err, context.Canceled) {
		t.Fatal(err)
	}
	return out
}

func types(evs []events.Event) []string {
	var out []string
	for _, e := range evs {
		out = append(out, e.Type)
	}
	return out
}

func TestBridge_Create(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	st, err := e.b.Create(ctx, req, e.users, userBody("alice@example.com"))
	if err != nil {
		t.Fatalf("Create() = %v", err)
	}
	if st.Version != 1 || st.Resource.ID() == "" || st.Resource["userName"] != "alice@example.com" {
		t.Errorf("Create() = %+v, want version 1 with an id", st)
	}
	// Read your write: the projection already has it.
	got, err := e.store.Get(ctx, req.Tenant, "User", st.Resource.ID(), view.GetOptions{})
	if err != nil || got.Version != 1 {
		t.Fatalf("Get after Create = %+v, %v", got, err)
	}
	t.Run("Uniqueness", func(t *testing.T) {
		_, err := e.b.Create(ctx, req, e.users, userBody("ALICE@example.com"))
		if schemas.KindOf(err) != schemas.KindUniqueness {
			t.Errorf("Create(duplicate) = %v, want KindUniqueness", err)
		}
	})
	t.Run("OtherTenant", func(t *testing.T) {
		other := request{Tenant: "globex"}
		if _, err := e.b.Create(ctx, other, e.users, userBody("alice@example.com")); err != nil {
			t.Errorf("Create(same userName, other tenant) = %v, want success", err)
		}
	})
	t.Run("Invalid", func(t *testing.T) {
		_, err := e.b.Create(ctx, req, e.users, []byte(`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"]}`))
		if schemas.KindOf(err) != schemas.KindInvalidValue {
			t.Errorf("Create(no userName) = %v, want KindInvalidValue", err)
		}
	})
	if got := types(e.logEvents(t)); !slices.Equal(got, []string{events.UserCreated}) {
		t.Errorf("events = %v, want one user.created (failed writes append nothing)", got)
	}
}

// TestBridge_ConcurrentCreates: writes of a tenant are serialized and
// validated against the state the earlier ones produced, so of many
// concurrent creates of one userName exactly one wins.
func TestBridge_ConcurrentCreates(t *testing.T) {
	e := newEnv(t)
	const n = 16
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = e.b.Create(context.Background(), req, e.users, userBody("same@example.com"))
		}()
	}
	wg.Wait()
	ok, dup := 0, 0
	for _, err := range errs {
		switch {
		case err == nil:
			ok++
		case schemas.KindOf(err) == schemas.KindUniqueness:
			dup++
		default:
			t.Errorf("Create() = %v", err)
		}
	}
	if ok != 1 || dup != n-1 {
		t.Errorf("%d created, %d uniqueness errors; want 1 and %d", ok, dup, n-1)
	}
}

func TestBridge_Patch(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	st, err := e.b.Create(ctx, req, e.users, userBody("bob@example.com"))
	if err != nil {
		t.Fatal(err)
	}
	id := st.Resource.ID()
	t.Run("Deactivate", func(t *testing.T) {
		st, err := e.b.Patch(ctx, req, e.users, id, patchBody(`[{"op":"Replace","path":"active","value":"False"}]`))
		if err != nil || st.Resource["active"] != false || st.Version != 2 {
			t.Fatalf("Patch(active False) = %+v, %v; want active false, version 2", st, err)
		}
	})
	t.Run("NoChange", func(t *testing.T) {
		st, err := e.b.Patch(ctx, req, e.users, id, patchBody(`[{"op":"replace","path":"active","value":false}]`))
		if err != nil || st.Version != 2 {
			t.Fatalf("Patch(no change) = %+v, %v; want version still 2", st, err)
		}
	})
	t.Run("IfMatch", func(t *testing.T) {
		r := req
		r.IfMatch = `W/"1"`
		_, err := e.b.Patch(ctx, r, e.users, id, patchBody(`[{"op":"replace","path":"displayName","value":"B"}]`))
		if schemas.KindOf(err) != schemas.KindPrecondition {
			t.Errorf("Patch(If-Match stale) = %v, want KindPrecondition", err)
		}
		r.IfMatch = `W/"2"`
		if _, err := e.b.Patch(ctx, r, e.users, id, patchBody(`[{"op":"replace","path":"active","value":true}]`)); err != nil {
			t.Errorf("Patch(If-Match current) = %v", err)
		}
	})
	t.Run("NotFound", func(t *testing.T) {
		_, err := e.b.Patch(ctx, req, e.users, "nope", patchBody(`[{"op":"replace","path":"active","value":true}]`))
		if schemas.KindOf(err) != schemas.KindNotFound {
			t.Errorf("Patch(unknown id) = %v, want KindNotFound", err)
		}
	})
	want := []string{events.UserCreated, events.UserDeactivated, events.UserReactivated}
	if got := types(e.logEvents(t)); !slices.Equal(got, want) {
		t.Errorf("events = %v, want %v", got, want)
	}
}

func TestBridge_Groups(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	var ids []string
	for i := range 3 {
		st, err := e.b.Create(ctx, req, e.users, userBody(fmt.Sprintf("u%d@example.com", i)))
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, st.Resource.ID())
	}
	g, err := e.b.Create(ctx, request{Tenant: req.Tenant, Get: view.GetOptions{Members: true}}, e.grps,
		[]byte(`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"Eng","members":[{"value":"`+ids[0]+`"}]}`))
	if err != nil {
		t.Fatalf("Create(group with a member) = %v", err)
	}
	gid := g.Resource.ID()
	if ms, _ := g.Resource["members"].([]any); len(ms) != 1 || g.Version != 2 {
		t.Errorf("created group = %+v, want one member and version 2 (created + members_added)", g)
	}
	t.Run("UnknownMemberStrict", func(t *testing.T) {
		strict := req
		strict.Strict = true
		_, err := e.b.Patch(ctx, strict, e.grps, gid, patchBody(`[{"op":"add","path":"members","value":[{"value":"ghost"}]}]`))
		if schemas.KindOf(err) != schemas.KindInvalidValue {
			t.Errorf("Patch(add unknown member, strict) = %v, want KindInvalidValue", err)
		}
	})
	t.Run("SelfMember", func(t *testing.T) {
		_, err := e.b.Patch(ctx, req, e.grps, gid, patchBody(`[{"op":"add","path":"members","value":[{"value":"`+gid+`"}]}]`))
		if schemas.KindOf(err) != schemas.KindInvalidValue {
			t.Errorf("Patch(add itself) = %v, want KindInvalidValue", err)
		}
	})
	if _, err := e.b.Patch(ctx, req, e.grps, gid, patchBody(`[{"op":"add","path":"members","value":[{"value":"`+ids[1]+`"},{"value":"`+ids[2]+`"}]}]`)); err != nil {
		t.Fatal(err)
	}
	// Deleting a member takes it out of the group first.
	if err := e.b.Delete(ctx, req, e.users, ids[1]); err != nil {
		t.Fatalf("Delete(user) = %v", err)
	}
	ms, err := e.store.MemberList(ctx, req.Tenant, gid)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, m := range ms {
		got = append(got, m.Value)
	}
	want := []string{ids[0], ids[2]}
	slices.Sort(want)
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("members after deleting %s = %v, want %v", ids[1], got, want)
	}
	evs := e.logEvents(t)
	last := evs[len(evs)-2:]
	if last[0].Type != events.GroupMembersRemoved || last[0].ResourceID != gid || last[0].MembersRemoved[0].Value != ids[1] ||
		last[1].Type != events.UserDeleted || last[1].ResourceID != ids[1] {
		t.Errorf("last events = %v %v, want group.members_removed on the group then user.deleted", last[0], last[1])
	}
	if err := e.b.Delete(ctx, req, e.grps, gid); err != nil {
		t.Fatalf("Delete(group) = %v", err)
	}
	if _, err := e.store.Get(ctx, req.Tenant, "Group", gid, view.GetOptions{}); schemas.KindOf(err) != schemas.KindNotFound {
		t.Errorf("Get(deleted group) = %v, want KindNotFound", err)
	}
}

// TestBridge_LogDown: when the log does not take the append, the client
// gets KindUnavailable and nothing changed anywhere.
func TestBridge_LogDown(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	st, err := e.b.Create(ctx, req, e.users, userBody("carol@example.com"))
	if err != nil {
		t.Fatal(err)
	}
	e.log.setFail(fmt.Errorf("dial: %w", events.ErrUnavailable))
	_, err = e.b.Patch(ctx, req, e.users, st.Resource.ID(), patchBody(`[{"op":"replace","path":"displayName","value":"C"}]`))
	if schemas.KindOf(err) != schemas.KindUnavailable {
		t.Errorf("Patch with the log down = %v, want KindUnavailable", err)
	}
	if _, err := e.b.Create(ctx, req, e.users, userBody("dave@example.com")); schemas.KindOf(err) != schemas.KindUnavailable {
		t.Errorf("Create with the log down = %v, want KindUnavailable", err)
	}
	got, err := e.store.Get(ctx, req.Tenant, "User", st.Resource.ID(), view.GetOptions{})
	if err != nil || got.Version != 1 || got.Resource["displayName"] != nil {
		t.Errorf("after the failed PATCH: %+v, %v; want version 1 unchanged", got, err)
	}
	e.log.setFail(nil)
	if _, err := e.b.Create(ctx, req, e.users, userBody("dave@example.com")); err != nil {
		t.Errorf("Create after the log is back = %v", err)
	}
	if got := types(e.logEvents(t)); len(got) != 2 {
		t.Errorf("events = %v, want two user.created", got)
	}
}

func TestBridge_Replace(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	a, _ := e.b.Create(ctx, req, e.users, userBody("a@example.com"))
	if _, err := e.b.Create(ctx, req, e.users, userBody("b@example.com")); err != nil {
		t.Fatal(err)
	}
	_, err := e.b.Replace(ctx, req, e.users, a.Resource.ID(), userBody("B@example.com"))
	if schemas.KindOf(err) != schemas.KindUniqueness {
		t.Errorf("Replace(userName of another user) = %v, want KindUniqueness", err)
	}
	st, err := e.b.Replace(ctx, req, e.users, a.Resource.ID(), userBody("A2@example.com"))
	if err != nil || st.Resource["userName"] != "A2@example.com" || st.Version != 2 {
		t.Errorf("Replace() = %+v, %v", st, err)
	}
	// The old userName is free again.
	if _, err := e.b.Create(ctx, req, e.users, userBody("a@example.com")); err != nil {
		t.Errorf("Create(freed userName) = %v", err)
	}
}

// TestBridge_Answer: a write returns the resource as the projection holds
// it once applied, loaded as Request.Answer says, so that its caller
// answers without reading it again.
func TestBridge_Answer(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	u, err := e.b.Create(ctx, req, e.users, userBody("ann@example.com"))
	if err != nil {
		t.Fatal(err)
	}
	id := u.Resource.ID()
	if _, err := e.b.Create(ctx, req, e.grps, []byte(`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"Sales","members":[{"value":"`+id+`"}]}`)); err != nil {
		t.Fatal(err)
	}
	rename := patchBody(`[{"op":"replace","path":"displayName","value":"Ann"}]`)
	p, err := schemas.ParsePatch(rename, schemas.DefaultMaxOperations)
	if err != nil {
		t.Fatal(err)
	}
	for _, answer := range []view.GetOptions{{}, {Groups: true}} {
		r := e.b.request(req, "PATCH", e.users, id, rename)
		r.Answer = answer
		a, err := e.b.Bridge.Patch(ctx, r, e.users, id, p)
		if err != nil {
			t.Fatalf("Patch(answer %+v) = %v", answer, err)
		}
		want, err := e.store.Get(ctx, req.Tenant, "User", id, answer)
		if err != nil {
			t.Fatal(err)
		}
		if a.Stored.Version != a.Version || !reflect.DeepEqual(a.Stored.Resource, want.Resource) {
			t.Errorf("Patch(answer %+v).Stored = %+v (version %d), want %+v", answer, a.Stored, a.Version, want)
		}
		if _, hasGroups := a.Stored.Resource["groups"]; hasGroups != answer.Groups {
			t.Errorf("Patch(answer %+v).Stored has groups: %v", answer, hasGroups)
		}
	}
}
