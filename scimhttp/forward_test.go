package scimhttp

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/scim-bridge/scim-bridge/schemas"
)

// fakeReplicas routes every write to owner (with err, when set) and counts
// the reads it was asked to sync.
type fakeReplicas struct {
	mu      sync.Mutex
	owner   string
	then    []string // from the second call on, Route answers then[0]
	err     error
	syncErr error
	syncs   int
	routes  int
}

func (f *fakeReplicas) Route(ctx context.Context, tenant string) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.routes++
	if len(f.then) > 0 && f.routes > 1 {
		return f.then[0], nil
	}
	return f.owner, f.err
}

func (f *fakeReplicas) Sync(ctx context.Context, tenant string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.syncs++
	return f.syncErr
}

// seen records what the owner received.
type seen struct {
	mu      sync.Mutex
	host    string
	header  http.Header
	path    string
	handled int
}

// ownerServer is a Server (the owner, writing for every tenant) behind an
// httptest server that records what reaches it.
func ownerServer(t *testing.T) (*testServer, *httptest.Server, *seen) {
	owner := newTestServer(t, Options{})
	s := &seen{}
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.host, s.header, s.path = r.Host, r.Header.Clone(), r.URL.Path
		s.handled++
		s.mu.Unlock()
		owner.srv.Handler().ServeHTTP(w, r)
	}))
	t.Cleanup(hs.Close)
	return owner, hs, s
}

const aliceBody = `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"alice"}`

// A write for a tenant another replica writes for is forwarded to it with
// the caller's bearer token, Host and request id and the loop guard, and
// the owner's answer comes back as it is.
func TestForward_Write(t *testing.T) {
	owner, hs, s := ownerServer(t)
	rep := &fakeReplicas{owner: hs.URL}
	ts := newTestServer(t, Options{Replicas: rep})

	rec := ts.do("POST", "/scim/v2/Users", aliceBody, "X-Request-Id", "req-1")
	if rec.Code != http.StatusCreated {
		t.Fatalf("forwarded POST = %d %s, want 201", rec.Code, rec.Body)
	}
	if n := len(owner.stack.events()); n != 1 {
		t.Errorf("owner holds %d resources, want alice", n)
	}
	if n := len(ts.stack.events()); n != 0 {
		t.Errorf("the forwarding replica wrote %d resources itself", n)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if got := s.header.Get("Authorization"); got != "Bearer "+testToken {
		t.Errorf("owner got Authorization %q, want the caller's bearer token", got)
	}
	if got := s.header.Get(ForwardedHeader); got == "" {
		t.Errorf("owner got no %s header", ForwardedHeader)
	}
	if got := s.header.Get("X-Request-Id"); got != "req-1" {
		t.Errorf("owner got X-Request-Id %q, want req-1", got)
	}
	if s.host != "example.com" || s.path != "/scim/v2/Users" {
		t.Errorf("owner got Host %q path %q, want the caller's example.com and /scim/v2/Users", s.host, s.path)
	}
	if got := rec.Header().Values("X-Request-Id"); len(got) != 1 || got[0] != "req-1" {
		t.Errorf("answer's X-Request-Id = %q, want one req-1", got)
	}
	if got := metricValues(t, ts.reg, "scim_http_forwarded_requests_total")["result=ok"]; got != 1 {
		t.Errorf("scim_http_forwarded_requests_total{result=ok} = %v, want 1", got)
	}
	if rep.syncs != 0 {
		t.Errorf("a write was synced like a read")
	}
}

// Reads are served here, after Sync; discovery reads no tenant data and
// does not wait; a search POST is a read.
func TestForward_ReadsServedHere(t *testing.T) {
	_, hs, s := ownerServer(t)
	rep := &fakeReplicas{owner: hs.URL}
	ts := newTestServer(t, Options{Replicas: rep})
	ts.put("default", "User", schemas.Resource{"id": "u1", "userName": "alice"})

	if rec := ts.do("GET", "/scim/v2/Users/u1", ""); rec.Code != http.StatusOK {
		t.Fatalf("GET = %d %s", rec.Code, rec.Body)
	}
	if rec := ts.do("POST", "/scim/v2/Users/.search", `{"schemas":["urn:ietf:params:scim:api:messages:2.0:SearchRequest"]}`); rec.Code != http.StatusOK {
		t.Fatalf("POST .search = %d %s", rec.Code, rec.Body)
	}
	if rec := ts.do("GET", "/scim/v2/ServiceProviderConfig", ""); rec.Code != http.StatusOK {
		t.Fatalf("GET ServiceProviderConfig = %d %s", rec.Code, rec.Body)
	}
	if rep.syncs != 2 {
		t.Errorf("Sync called %d times, want 2 (the GET and the search)", rep.syncs)
	}
	if s.handled != 0 {
		t.Errorf("%d reads were forwarded", s.handled)
	}

	rep.syncErr = &schemas.Error{Kind: schemas.KindUnavailable, Detail: "not caught up"}
	rec := ts.do("GET", "/scim/v2/Users/u1", "")
	checkError(t, rec, http.StatusServiceUnavailable, "")
	if rec.Header().Get("Retry-After") == "" {
		t.Errorf("503 of a read that could not catch up has no Retry-After")
	}
}

// An owner that is gone, or frozen, or a tenant nobody writes for: 503 with
// Retry-After, promptly (the forward timeout), never a hang.
func TestForward_OwnerUnavailable(t *testing.T) {
	gone := httptest.NewServer(http.NotFoundHandler())
	goneURL := gone.URL
	gone.Close()

	frozen := make(chan struct{})
	hung := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-frozen }))
	t.Cleanup(func() { close(frozen); hung.Close() })

	for _, tc := range []struct {
		name string
		rep  *fakeReplicas
	}{
		{"Gone", &fakeReplicas{owner: goneURL}},
		{"Frozen", &fakeReplicas{owner: hung.URL}},
		{"NoWriter", &fakeReplicas{err: &schemas.Error{Kind: schemas.KindUnavailable, Detail: "no replica writes for this tenant"}}},
		{"BadURL", &fakeReplicas{owner: "not a url"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ts := newTestServer(t, Options{Replicas: tc.rep, ForwardTimeout: 500 * time.Millisecond})
			start := time.Now()
			rec := ts.do("POST", "/scim/v2/Users", aliceBody)
			checkError(t, rec, http.StatusServiceUnavailable, "")
			if rec.Header().Get("Retry-After") == "" {
				t.Errorf("503 without Retry-After")
			}
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("answered after %v, want within the forward timeout (0.5s) and a margin", d)
			}
			if len(ts.stack.events()) != 0 {
				t.Errorf("the write was served here")
			}
		})
	}
}

// A forwarded request that reaches a replica that does not write for the
// tenant either (ownership moving) is refused, not forwarded again.
func TestForward_LoopGuard(t *testing.T) {
	_, hs, s := ownerServer(t)
	ts := newTestServer(t, Options{Replicas: &fakeReplicas{owner: hs.URL}})
	rec := ts.do("PATCH", "/scim/v2/Users/u1", `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[]}`, ForwardedHeader, "1")
	checkError(t, rec, http.StatusServiceUnavailable, "")
	if s.handled != 0 {
		t.Errorf("a forwarded request was forwarded again")
	}
}

// A single replica (no Replicas) serves everything itself, as before.
func TestForward_SingleReplica(t *testing.T) {
	ts := newTestServer(t, Options{})
	if rec := ts.do("POST", "/scim/v2/Users", aliceBody); rec.Code != http.StatusCreated {
		t.Fatalf("POST = %d %s", rec.Code, rec.Body)
	}
	if ts.srv.forward != nil {
		t.Errorf("a server without Replicas has a forwarder")
	}
}

// A writer that refuses the connection (it is stopping: its listener is
// closed, its claim still in force for a moment) was sent nothing: the
// write waits for the next writer's claim and goes there, body and all.
func TestForward_RefusedThenNewWriter(t *testing.T) {
	gone := httptest.NewServer(http.NotFoundHandler())
	goneURL := gone.URL
	gone.Close()
	owner, hs, s := ownerServer(t)
	ts := newTestServer(t, Options{Replicas: &fakeReplicas{owner: goneURL, then: []string{hs.URL}}})

	rec := ts.do("POST", "/scim/v2/Users", aliceBody)
	if rec.Code != http.StatusCreated {
		t.Fatalf("POST after the writer refused = %d %s, want 201 from the new writer", rec.Code, rec.Body)
	}
	if n := len(owner.stack.events()); n != 1 || s.handled != 1 {
		t.Errorf("new writer holds %d resources after %d requests, want alice after 1", n, s.handled)
	}
	if got := metricValues(t, ts.reg, "scim_http_forwarded_requests_total"); got["result=ok"] != 1 || got["result=unreachable"] != 0 {
		t.Errorf("scim_http_forwarded_requests_total = %v, want one ok", got)
	}
}
