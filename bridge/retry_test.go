package bridge_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/scim-bridge/scim-bridge/bridge"
	"github.com/scim-bridge/scim-bridge/events"
	"github.com/scim-bridge/scim-bridge/projection/view"
	"github.com/scim-bridge/scim-bridge/schemas"
)

func TestRequestDigest(t *testing.T) {
	base := func() (string, string, string, string, string, []byte) {
		return "acme", "PATCH", "User", "u1", `W/"3"`, []byte(`{"Operations":[]}`)
	}
	d0 := bridge.RequestDigest(base())
	if len(d0) != 32 || strings.Trim(d0, "0123456789abcdef") != "" {
		t.Fatalf("RequestDigest() = %q, want 32 lower-case hex digits", d0)
	}
	if d := bridge.RequestDigest(base()); d != d0 {
		t.Errorf("RequestDigest() of the same request = %q, then %q", d0, d)
	}
	// Requests that differ in anything never share a digest, also when
	// the difference moves a byte from one part to the next, or is only
	// whitespace or key order in the body.
	variants := map[string][6]any{
		"tenant":        {"globex", "PATCH", "User", "u1", `W/"3"`, `{"Operations":[]}`},
		"method":        {"acme", "PUT", "User", "u1", `W/"3"`, `{"Operations":[]}`},
		"resource type": {"acme", "PATCH", "Group", "u1", `W/"3"`, `{"Operations":[]}`},
		"id":            {"acme", "PATCH", "User", "u2", `W/"3"`, `{"Operations":[]}`},
		"If-Match":      {"acme", "PATCH", "User", "u1", `W/"4"`, `{"Operations":[]}`},
		"no If-Match":   {"acme", "PATCH", "User", "u1", ``, `{"Operations":[]}`},
		"body":          {"acme", "PATCH", "User", "u1", `W/"3"`, `{"Operations":[{}]}`},
		"whitespace":    {"acme", "PATCH", "User", "u1", `W/"3"`, `{"Operations": []}`},
		"shifted":       {"acme", "PATCH", "User", "u", `1W/"3"`, `{"Operations":[]}`},
		"into the body": {"acme", "PATCH", "User", "u1", `W/"3`, `"{"Operations":[]}`},
	}
	seen := map[string]string{d0: "base"}
	for name, v := range variants {
		d := bridge.RequestDigest(v[0].(string), v[1].(string), v[2].(string), v[3].(string), v[4].(string), []byte(v[5].(string)))
		if other, dup := seen[d]; dup {
			t.Errorf("RequestDigest(%s) = RequestDigest(%s) = %s", name, other, d)
		}
		seen[d] = name
	}
}

func groupBody(name string, members ...string) []byte {
	var ms []string
	for _, m := range members {
		ms = append(ms, `{"value":"`+m+`"}`)
	}
	return []byte(`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"` + name +
		`","members":[` + strings.Join(ms, ",") + `]}`)
}

// caughtUp waits until the projection has applied the whole log.
func (e *env) caughtUp(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	end, err := e.log.End(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for p, n := range end {
		if n > 0 {
			if err := e.store.WaitApplied(ctx, p, n-1); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// countTypes counts the test tenant's events per type.
func (e *env) countTypes(t *testing.T) map[string]int {
	t.Helper()
	n := map[string]int{}
	for _, ev := range e.logEvents(t) {
		n[ev.Type]++
	}
	return n
}

// A write whose append landed although the log reported a failure (a lost
// acknowledgement: what a broker that resumes does with a timed-out
// produce request) answers 503; retrying the same request succeeds as the
// first attempt would have, and appends nothing more.
func TestBridge_RetryAfterLostAck(t *testing.T) {
	ctx := context.Background()

	t.Run("POST", func(t *testing.T) {
		e := newEnv(t)
		e.log.setLose(true)
		_, err := e.b.Create(ctx, req, e.users, userBody("ann@example.com"))
		if schemas.KindOf(err) != schemas.KindUnavailable {
			t.Fatalf("Create with the acknowledgement lost = %v, want KindUnavailable", err)
		}
		e.log.setLose(false)
		e.caughtUp(t)
		landed, _, err := e.store.UserIDByUserName(ctx, req.Tenant, "ann@example.com")
		if err != nil || landed == "" {
			t.Fatalf("the lost write did not land (%q, %v): the test proves nothing", landed, err)
		}
		st, err := e.b.Create(ctx, req, e.users, userBody("ann@example.com"))
		if err != nil || st.Resource.ID() != landed || st.Version != 1 {
			t.Fatalf("retried Create = %+v, %v; want the landed user %s at version 1", st, err, landed)
		}
		if n := e.countTypes(t); n[events.UserCreated] != 1 || len(n) != 1 {
			t.Errorf("events = %v, want one user.created", n)
		}
	})

	t.Run("POSTGroupWithMembers", func(t *testing.T) {
		e := newEnv(t)
		u, err := e.b.Create(ctx, req, e.users, userBody("m@example.com"))
		if err != nil {
			t.Fatal(err)
		}
		body := groupBody("Eng", u.Resource.ID())
		e.log.setLose(true)
		if _, err := e.b.Create(ctx, req, e.grps, body); schemas.KindOf(err) != schemas.KindUnavailable {
			t.Fatalf("Create(group) with the acknowledgement lost = %v, want KindUnavailable", err)
		}
		e.log.setLose(false)
		r := req
		r.Get = view.GetOptions{Members: true}
		g, err := e.b.Create(ctx, r, e.grps, body)
		if err != nil || g.Version != 2 {
			t.Fatalf("retried Create(group) = %+v, %v; want the landed group at version 2", g, err)
		}
		if ms, _ := g.Resource["members"].([]any); len(ms) != 1 {
			t.Errorf("retried Create(group) members = %v, want the one member", g.Resource["members"])
		}
		if n := e.countTypes(t); n[events.GroupCreated] != 1 || n[events.GroupMembersAdded] != 1 {
			t.Errorf("events = %v, want one group.created and one group.members_added", n)
		}
	})

	t.Run("PATCHWithIfMatch", func(t *testing.T) {
		e := newEnv(t)
		u, err := e.b.Create(ctx, req, e.users, userBody("pat@example.com"))
		if err != nil {
			t.Fatal(err)
		}
		r := req
		r.IfMatch = schemas.ETag(u.Version)
		body := patchBody(`[{"op":"replace","path":"displayName","value":"Pat"}]`)
		e.log.setLose(true)
		if _, err := e.b.Patch(ctx, r, e.users, u.Resource.ID(), body); schemas.KindOf(err) != schemas.KindUnavailable {
			t.Fatalf("Patch with the acknowledgement lost = %v, want KindUnavailable", err)
		}
		e.log.setLose(false)
		st, err := e.b.Patch(ctx, r, e.users, u.Resource.ID(), body)
		if err != nil || st.Version != 2 || st.Resource["displayName"] != "Pat" {
			t.Fatalf("retried Patch with If-Match %s = %+v, %v; want version 2 with displayName Pat, not 412", r.IfMatch, st, err)
		}
		if n := e.countTypes(t); n[events.UserUpdated] != 1 {
			t.Errorf("events = %v, want one user.updated", n)
		}
	})

	t.Run("PUT", func(t *testing.T) {
		e := newEnv(t)
		u, err := e.b.Create(ctx, req, e.users, userBody("put@example.com"))
		if err != nil {
			t.Fatal(err)
		}
		body := userBody("put2@example.com")
		e.log.setLose(true)
		if _, err := e.b.Replace(ctx, req, e.users, u.Resource.ID(), body); schemas.KindOf(err) != schemas.KindUnavailable {
			t.Fatalf("Replace with the acknowledgement lost = %v, want KindUnavailable", err)
		}
		e.log.setLose(false)
		st, err := e.b.Replace(ctx, req, e.users, u.Resource.ID(), body)
		if err != nil || st.Version != 2 {
			t.Fatalf("retried Replace = %+v, %v; want version 2", st, err)
		}
	})

	t.Run("DELETE", func(t *testing.T) {
		e := newEnv(t)
		u, err := e.b.Create(ctx, req, e.users, userBody("del@example.com"))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.b.Create(ctx, req, e.grps, groupBody("G", u.Resource.ID())); err != nil {
			t.Fatal(err)
		}
		e.log.setLose(true)
		if err := e.b.Delete(ctx, req, e.users, u.Resource.ID()); schemas.KindOf(err) != schemas.KindUnavailable {
			t.Fatalf("Delete with the acknowledgement lost = %v, want KindUnavailable", err)
		}
		e.log.setLose(false)
		if err := e.b.Delete(ctx, req, e.users, u.Resource.ID()); err != nil {
			t.Fatalf("retried Delete = %v, want success (204), not 404", err)
		}
		if n := e.countTypes(t); n[events.UserDeleted] != 1 || n[events.GroupMembersRemoved] != 1 {
			t.Errorf("events = %v, want one user.deleted after one group.members_removed", n)
		}
		// Once answered, the same DELETE is a new request: 404.
		if err := e.b.Delete(ctx, req, e.users, u.Resource.ID()); schemas.KindOf(err) != schemas.KindNotFound {
			t.Errorf("Delete again after its success = %v, want KindNotFound", err)
		}
	})
}

// Only a retry of a failed attempt is answered from what that attempt did:
// a request answered with success that comes again, a different request,
// and a retry after another write changed the resource are new writes.
func TestBridge_RetryIsNotANewRequest(t *testing.T) {
	ctx := context.Background()

	t.Run("RepeatedAfterSuccess", func(t *testing.T) {
		e := newEnv(t)
		u, err := e.b.Create(ctx, req, e.users, userBody("rep@example.com"))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.b.Create(ctx, req, e.users, userBody("rep@example.com")); schemas.KindOf(err) != schemas.KindUniqueness {
			t.Errorf("the same POST again after 201 = %v, want KindUniqueness (409)", err)
		}
		r := req
		r.IfMatch = schemas.ETag(1)
		body := patchBody(`[{"op":"replace","path":"displayName","value":"R"}]`)
		if _, err := e.b.Patch(ctx, r, e.users, u.Resource.ID(), body); err != nil {
			t.Fatal(err)
		}
		if _, err := e.b.Patch(ctx, r, e.users, u.Resource.ID(), body); schemas.KindOf(err) != schemas.KindPrecondition {
			t.Errorf("the same PATCH with If-Match again after 200 = %v, want KindPrecondition (412)", err)
		}
		if err := e.b.Delete(ctx, req, e.users, u.Resource.ID()); err != nil {
			t.Fatal(err)
		}
		if err := e.b.Delete(ctx, req, e.users, u.Resource.ID()); schemas.KindOf(err) != schemas.KindNotFound {
			t.Errorf("the same DELETE again after 204 = %v, want KindNotFound (404)", err)
		}
		// A group has no unique attribute: the same POST again is answered
		// with the group it created while that is unchanged (a second
		// group would be the same POST landed twice), and creates a new one
		// once it changed.
		g1, err := e.b.Create(ctx, req, e.grps, groupBody("Twice"))
		if err != nil {
			t.Fatal(err)
		}
		g2, err := e.b.Create(ctx, req, e.grps, groupBody("Twice"))
		if err != nil || g2.Resource.ID() != g1.Resource.ID() {
			t.Errorf("the same group POST again after 201 = %v, %v; want the group %s", g2.Resource.ID(), err, g1.Resource.ID())
		}
		if _, err := e.b.Patch(ctx, req, e.grps, g1.Resource.ID(), patchBody(`[{"op":"replace","path":"displayName","value":"Once"}]`)); err != nil {
			t.Fatal(err)
		}
		g3, err := e.b.Create(ctx, req, e.grps, groupBody("Twice"))
		if err != nil || g3.Resource.ID() == g1.Resource.ID() {
			t.Errorf("the same group POST after the group changed = %v, %v; want a new group", g3.Resource.ID(), err)
		}
	})

	t.Run("DifferentRequests", func(t *testing.T) {
		e := newEnv(t)
		e.log.setLose(true)
		if _, err := e.b.Create(ctx, req, e.users, userBody("diff@example.com")); schemas.KindOf(err) != schemas.KindUnavailable {
			t.Fatalf("Create with the acknowledgement lost = %v", err)
		}
		e.log.setLose(false)
		// The same user, sent differently, is another request.
		other := []byte(`{"userName":"diff@example.com","schemas":["urn:ietf:params:scim:schemas:core:2.0:User"]}`)
		if _, err := e.b.Create(ctx, req, e.users, other); schemas.KindOf(err) != schemas.KindUniqueness {
			t.Errorf("another POST of the landed userName = %v, want KindUniqueness", err)
		}
		// The same body for another tenant creates its own user.
		globex := request{Tenant: "globex"}
		if st, err := e.b.Create(ctx, globex, e.users, userBody("diff@example.com")); err != nil || st.Version != 1 {
			t.Errorf("the same POST for another tenant = %+v, %v; want a new user", st, err)
		}
		// The same PATCH body on another resource is another request.
		a, _ := e.b.Create(ctx, req, e.users, userBody("a@example.com"))
		b, _ := e.b.Create(ctx, req, e.users, userBody("b@example.com"))
		body := patchBody(`[{"op":"add","path":"nickName","value":"N"}]`)
		e.log.setLose(true)
		if _, err := e.b.Patch(ctx, req, e.users, a.Resource.ID(), body); schemas.KindOf(err) != schemas.KindUnavailable {
			t.Fatalf("Patch with the acknowledgement lost = %v", err)
		}
		e.log.setLose(false)
		if st, err := e.b.Patch(ctx, req, e.users, b.Resource.ID(), body); err != nil || st.Version != 2 {
			t.Errorf("the same PATCH on another user = %+v, %v; want it applied (version 2)", st, err)
		}
	})

	t.Run("RetryAfterAnotherWrite", func(t *testing.T) {
		e := newEnv(t)
		e.log.setLose(true)
		if _, err := e.b.Create(ctx, req, e.users, userBody("late@example.com")); schemas.KindOf(err) != schemas.KindUnavailable {
			t.Fatalf("Create with the acknowledgement lost = %v", err)
		}
		e.log.setLose(false)
		e.caughtUp(t)
		id, _, _ := e.store.UserIDByUserName(ctx, req.Tenant, "late@example.com")
		if _, err := e.b.Patch(ctx, req, e.users, id, patchBody(`[{"op":"replace","path":"displayName","value":"L"}]`)); err != nil {
			t.Fatal(err)
		}
		if _, err := e.b.Create(ctx, req, e.users, userBody("late@example.com")); schemas.KindOf(err) != schemas.KindUniqueness {
			t.Errorf("POST retried after the user changed = %v, want KindUniqueness: a new write", err)
		}

		// A PATCH with If-Match retried after another write: 412.
		r := req
		r.IfMatch = schemas.ETag(2)
		body := patchBody(`[{"op":"replace","path":"title","value":"T1"}]`)
		e.log.setLose(true)
		if _, err := e.b.Patch(ctx, r, e.users, id, body); schemas.KindOf(err) != schemas.KindUnavailable {
			t.Fatalf("Patch with the acknowledgement lost = %v", err)
		}
		e.log.setLose(false)
		if _, err := e.b.Patch(ctx, req, e.users, id, patchBody(`[{"op":"replace","path":"title","value":"T2"}]`)); err != nil {
			t.Fatal(err)
		}
		if _, err := e.b.Patch(ctx, r, e.users, id, body); schemas.KindOf(err) != schemas.KindPrecondition {
			t.Errorf("PATCH with If-Match retried after another write = %v, want KindPrecondition", err)
		}
		// Without If-Match it is applied again over the newer state.
		e.log.setLose(true)
		body = patchBody(`[{"op":"replace","path":"title","value":"T3"}]`)
		if _, err := e.b.Patch(ctx, req, e.users, id, body); schemas.KindOf(err) != schemas.KindUnavailable {
			t.Fatalf("Patch with the acknowledgement lost = %v", err)
		}
		e.log.setLose(false)
		if _, err := e.b.Patch(ctx, req, e.users, id, patchBody(`[{"op":"replace","path":"title","value":"T4"}]`)); err != nil {
			t.Fatal(err)
		}
		st, err := e.b.Patch(ctx, req, e.users, id, body)
		if err != nil || st.Resource["title"] != "T3" || st.Version != 7 {
			t.Errorf("PATCH retried after another write = %+v, %v; want it applied again (title T3, version 7)", st, err)
		}
	})
}

// stallState is a State whose WaitApplied for offsets from a point on
// blocks, while stalled, until its context ends: a projection that does not
// apply what the log acknowledged since.
type stallState struct {
	bridge.State
	mu   sync.Mutex
	from int64 // -1: not stalled
}

func (s *stallState) WaitApplied(ctx context.Context, p int, off int64) error {
	s.mu.Lock()
	from := s.from
	s.mu.Unlock()
	if from >= 0 && off >= from {
		<-ctx.Done()
		return ctx.Err()
	}
	return s.State.WaitApplied(ctx, p, off)
}

func (s *stallState) set(from int64) {
	s.mu.Lock()
	s.from = from
	s.mu.Unlock()
}

// testAppendTimeout keeps the bounded-wait tests short; they allow
// generous slack over the bound, never a tight one.
const testAppendTimeout = 300 * time.Millisecond

const testBound = testAppendTimeout + bridge.DeadlineMargin + 2*time.Second

// A write the log acknowledged whose projection wait does not end answers
// 503 in bounded time; its retry finds it.
func TestBridge_ProjectionWaitBounded(t *testing.T) {
	ctx := context.Background()
	st := &stallState{from: -1}
	e := newEnvWith(t, bridge.Options{AppendTimeout: testAppendTimeout}, nil,
		func(s bridge.State) bridge.State { st.State = s; return st })
	u, err := e.b.Create(ctx, req, e.users, userBody("slow@example.com"))
	if err != nil {
		t.Fatal(err)
	}
	body := patchBody(`[{"op":"replace","path":"displayName","value":"S"}]`)
	r := req
	r.IfMatch = schemas.ETag(u.Version)
	for _, write := range []struct {
		name string
		do   func() error
	}{
		{"POST", func() error { _, err := e.b.Create(ctx, req, e.users, userBody("new@example.com")); return err }},
		{"PATCH", func() error { _, err := e.b.Patch(ctx, r, e.users, u.Resource.ID(), body); return err }},
	} {
		end, err := e.log.End(ctx)
		if err != nil {
			t.Fatal(err)
		}
		st.set(end[events.PartitionFor(req.Tenant, len(end))])
		start := time.Now()
		err = write.do()
		took := time.Since(start)
		st.set(-1)
		if schemas.KindOf(err) != schemas.KindUnavailable {
			t.Errorf("%s with the projection stalled = %v, want KindUnavailable", write.name, err)
		}
		if took > testBound {
			t.Errorf("%s with the projection stalled answered after %v, want within %v", write.name, took, testBound)
		}
		if err := write.do(); err != nil {
			t.Errorf("%s retried = %v, want success", write.name, err)
		}
	}
	if n := e.countTypes(t); n[events.UserCreated] != 2 || n[events.UserUpdated] != 1 {
		t.Errorf("events = %v, want two user.created and one user.updated (the retries appended nothing)", n)
	}
}

// stuckLog is a log whose Append, while stuck, blocks until released and
// ignores its context (the worst a hung log can do), then appends all the
// same and reports whether its context ended meanwhile: a broker that
// resumes and processes a produce request whose client gave up.
type stuckLog struct {
	events.Log
	mu      sync.Mutex
	release chan struct{} // nil: not stuck
	entered chan struct{} // gets a value when an Append blocks
}

func (l *stuckLog) Append(ctx context.Context, evs []events.Event) (int, int64, error) {
	l.mu.Lock()
	rel := l.release
	l.mu.Unlock()
	if rel == nil {
		return l.Log.Append(ctx, evs)
	}
	l.entered <- struct{}{}
	<-rel
	p, last, err := l.Log.Append(context.Background(), evs)
	if err == nil && ctx.Err() != nil {
		return p, 0, fmt.Errorf("no acknowledgement in time: %w", events.ErrUnavailable)
	}
	return p, last, err
}

// A write queued behind a batch stuck in the log answers 503 within its own
// bound, and is never appended; the stuck one, which lands late, is found
// by its retry.
func TestBridge_QueuedBehindStuckAppend(t *testing.T) {
	ctx := context.Background()
	stuck := make(chan struct{})
	sl := &stuckLog{release: stuck, entered: make(chan struct{}, 1)}
	e := newEnvWith(t, bridge.Options{AppendTimeout: testAppendTimeout},
		func(l events.Log) events.Log { sl.Log = l; return sl }, nil)
	var once sync.Once
	release := func() { once.Do(func() { close(stuck) }) }
	t.Cleanup(release)

	type result struct {
		err  error
		took time.Duration
	}
	first := make(chan result, 1)
	go func() {
		start := time.Now()
		_, err := e.b.Create(ctx, req, e.users, userBody("first@example.com"))
		first <- result{err, time.Since(start)}
	}()
	<-sl.entered // the first write's batch is in the log, stuck
	start := time.Now()
	_, err := e.b.Create(ctx, req, e.users, userBody("second@example.com"))
	second := result{err, time.Since(start)}
	f := <-first
	for name, r := range map[string]result{"stuck write": f, "write queued behind it": second} {
		if schemas.KindOf(r.err) != schemas.KindUnavailable || r.took > testBound {
			t.Errorf("%s = %v after %v, want KindUnavailable within %v", name, r.err, r.took, testBound)
		}
	}

	sl.mu.Lock()
	sl.release = nil
	sl.mu.Unlock()
	release()
	st, err := e.b.Create(ctx, req, e.users, userBody("first@example.com"))
	if err != nil || st.Version != 1 {
		t.Fatalf("retried first write = %+v, %v; want the user that landed late", st, err)
	}
	var names []string
	for _, ev := range e.logEvents(t) {
		names = append(names, fmt.Sprint(ev.Resource["userName"]))
	}
	if !slices.Equal(names, []string{"first@example.com"}) {
		t.Errorf("users in the log = %v, want only the stuck write's (the queued one was never appended, the retry appended nothing)", names)
	}
}

// lateLog is a log whose Append, while late is set, writes nothing and
// fails; the events land later, when the test says, as a produce request a
// stalled broker processes after the client's retry read the log's end.
type lateLog struct {
	events.Log
	mu   sync.Mutex
	late bool
	held [][]events.Event
}

func (l *lateLog) Append(ctx context.Context, evs []events.Event) (int, int64, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.late {
		l.held = append(l.held, evs)
		return 0, 0, fmt.Errorf("no acknowledgement: %w", events.ErrUnavailable)
	}
	return l.Log.Append(ctx, evs)
}

// land appends what was held.
func (l *lateLog) land(t *testing.T) {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, evs := range l.held {
		if _, _, err := l.Log.Append(context.Background(), evs); err != nil {
			t.Fatal(err)
		}
	}
	l.held = nil
}

// A POST answered 503 whose first attempt lands only after the retry read
// the state (so both land): the projection keeps one resource per POST, and
// the retry is answered with the one kept, whichever landed first.
func TestBridge_RetryLandsTwice(t *testing.T) {
	ctx := context.Background()
	for _, firstLandsFirst := range []bool{true, false} {
		t.Run(fmt.Sprintf("firstLandsFirst=%v", firstLandsFirst), func(t *testing.T) {
			ll := &lateLog{}
			e := newEnvWith(t, bridge.Options{}, func(l events.Log) events.Log { ll.Log = l; return ll }, nil)
			body := userBody("twice@example.com")
			ll.mu.Lock()
			ll.late = true
			ll.mu.Unlock()
			if _, err := e.b.Create(ctx, req, e.users, body); schemas.KindOf(err) != schemas.KindUnavailable {
				t.Fatalf("Create with the append held = %v, want KindUnavailable", err)
			}
			ll.mu.Lock()
			ll.late = false
			ll.mu.Unlock()
			var st view.Stored
			var err error
			if firstLandsFirst {
				// It lands between the retry's plan and its append.
				var once sync.Once
				nb, nerr := bridge.New(logFunc{ll, func() { once.Do(func() { ll.land(t) }) }}, e.store, e.reg, bridge.Options{})
				if nerr != nil {
					t.Fatal(nerr)
				}
				e.b = client{nb, e.store}
				t.Cleanup(func() { e.b.Close() })
				st, err = e.b.Create(ctx, req, e.users, body)
			} else {
				st, err = e.b.Create(ctx, req, e.users, body)
				ll.land(t)
			}
			if err != nil {
				t.Fatalf("retried Create = %v", err)
			}
			e.caughtUp(t)
			evs := e.logEvents(t)
			if len(evs) != 2 || evs[0].RequestDigest != evs[1].RequestDigest || evs[0].ResourceID == evs[1].ResourceID {
				t.Fatalf("log = %v, want the POST's user.created twice, with one digest and two ids", evs)
			}
			kept := evs[0].ResourceID
			if st.Resource.ID() != kept {
				t.Errorf("retried Create = %s, want %s, the user the projection kept", st.Resource.ID(), kept)
			}
			if id, _, _ := e.store.UserIDByUserName(ctx, req.Tenant, "twice@example.com"); id != kept {
				t.Errorf("userName twice@example.com belongs to %q, want %s", id, kept)
			}
			if _, err := e.store.Get(ctx, req.Tenant, "User", evs[1].ResourceID, view.GetOptions{}); schemas.KindOf(err) != schemas.KindNotFound {
				t.Errorf("Get of the second landing's user = %v, want KindNotFound", err)
			}
		})
	}
}

// logFunc runs before on every Append, then appends to Log.
type logFunc struct {
	events.Log
	before func()
}

func (l logFunc) Append(ctx context.Context, evs []events.Event) (int, int64, error) {
	l.before()
	return l.Log.Append(ctx, evs)
}
