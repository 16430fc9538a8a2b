package scimhttp

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/scim-bridge/scim-bridge/bridge"
	"github.com/scim-bridge/scim-bridge/internal/testutil"
	"github.com/scim-bridge/scim-bridge/projection/view"
	"github.com/scim-bridge/scim-bridge/schemas"
)

// answerWithin bounds how long a test waits for a response that must come
// without any request being released: generous, since it only turns a hang
// into a failure.
const answerWithin = 10 * time.Second

// gateStore is a test server's faultStore whose reads and creates for the
// tenants in blocked wait, in flight, until release is closed or their
// context ends.
type gateStore struct {
	*faultStore
	stack   *stack
	blocked map[string]bool
	entered chan string // receives the operation of every request that waits
	release chan struct{}
	once    sync.Once

	mu     sync.Mutex
	ctxErr []error // what ended each wait: nil (released) or the context's error
}

func newGateStore(blocked ...string) *gateStore {
	g := &gateStore{blocked: map[string]bool{},
		entered: make(chan string, 64), release: make(chan struct{})}
	for _, b := range blocked {
		g.blocked[b] = true
	}
	return g
}

func (g *gateStore) open() { g.once.Do(func() { close(g.release) }) }

// put adds a resource as if written earlier (stack.put).
func (g *gateStore) put(tenant, typ string, r schemas.Resource, members ...string) {
	g.stack.put(tenant, typ, r, members...)
}

func (g *gateStore) hold(ctx context.Context, tenant, op string) error {
	if !g.blocked[tenant] {
		return nil
	}
	g.entered <- op
	var err error
	select {
	case <-g.release:
	case <-ctx.Done():
		err = ctx.Err()
	}
	g.mu.Lock()
	g.ctxErr = append(g.ctxErr, err)
	g.mu.Unlock()
	return err
}

func (g *gateStore) Get(ctx context.Context, tenant, typ, id string, o view.GetOptions) (view.Stored, error) {
	if err := g.hold(ctx, tenant, "get"); err != nil {
		return view.Stored{}, err
	}
	return g.faultStore.Get(ctx, tenant, typ, id, o)
}

func (g *gateStore) List(ctx context.Context, tenant, typ string, q view.Query) (view.Page, error) {
	if err := g.hold(ctx, tenant, "list"); err != nil {
		return view.Page{}, fmt.Errorf("list: %w", err)
	}
	return g.faultStore.List(ctx, tenant, typ, q)
}

func (g *gateStore) Create(ctx context.Context, req bridge.Request, rt *schemas.ResourceType, r schemas.Resource) (bridge.Applied, error) {
	if err := g.hold(ctx, req.Tenant, "create"); err != nil {
		return bridge.Applied{}, err
	}
	return g.faultStore.Create(ctx, req, rt, r)
}

// newGateServer is a Server over the real write path and read model behind
// g, with tenants acme (token "a"), globex ("g") and initech ("i").
func newGateServer(t *testing.T, g *gateStore, opts Options) (*Server, *prometheus.Registry) {
	t.Helper()
	reg, err := schemas.NewRegistry()
	if err != nil {
		t.Fatalf("NewRegistry() = %v", err)
	}
	g.stack = newStack(t, reg)
	g.faultStore = &faultStore{r: g.stack.proj, w: g.stack.bridge}
	preg := prometheus.NewRegistry()
	opts.Registerer = preg
	opts.Logger = testutil.Logger(t, slog.LevelInfo)
	opts.BaseURL = testBase
	auth := mustTable(t, tenantOf("acme", "a"), tenantOf("globex", "g"), tenantOf("initech", "i"))
	srv, err := New(reg, g, g, auth, opts)
	if err != nil {
		t.Fatalf("New() = %v", err)
	}
	t.Cleanup(g.open) // never leave a request hanging
	return srv, preg
}

// request builds a request as token; body may be nil.
func request(token, method, target string, body io.Reader) *http.Request {
	req := httptest.NewRequest(method, target, body)
	req.Header.Set("Authorization", "Bearer "+token)
	if body != nil {
		req.Header.Set("Content-Type", "application/scim+json")
	}
	return req
}

// serve runs req in its own goroutine; the channel yields the response.
func serve(h http.Handler, req *http.Request) <-chan *httptest.ResponseRecorder {
	ch := make(chan *httptest.ResponseRecorder, 1)
	go func() {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		ch <- rec
	}()
	return ch
}

func await(t *testing.T, ch <-chan *httptest.ResponseRecorder, what string) *httptest.ResponseRecorder {
	t.Helper()
	select {
	case rec := <-ch:
		return rec
	case <-time.After(answerWithin):
		t.Fatalf("%s: no answer within %v", what, answerWithin)
		return nil
	}
}

// entered waits until n requests wait in g.
func (g *gateStore) waitEntered(t *testing.T, n int) {
	t.Helper()
	for i := range n {
		select {
		case <-g.entered:
		case <-time.After(answerWithin):
			t.Fatalf("%d of %d requests reached the store within %v", i, n, answerWithin)
		}
	}
}

// metricValues returns name's series as "label=value,…" -> value.
func metricValues(t *testing.T, reg *prometheus.Registry, name string) map[string]float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatalf("Gather() = %v", err)
	}
	got := map[string]float64{}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			switch {
			case m.GetCounter() != nil:
				got[labels(m)] = m.GetCounter().GetValue()
			case m.GetGauge() != nil:
				got[labels(m)] = m.GetGauge().GetValue()
			}
		}
	}
	return got
}

// TestServer_TenantMaxInFlight: with acme's requests held in flight up to
// its limit, its next request is refused at once with 429, while globex is
// served.
func TestServer_TenantMaxInFlight(t *testing.T) {
	g := newGateStore("acme")
	srv, reg := newGateServer(t, g, Options{TenantMaxInFlight: 2})
	h := srv.Handler()

	held := []<-chan *httptest.ResponseRecorder{
		serve(h, request("a", http.MethodGet, "/scim/v2/Users", nil)),
		serve(h, request("a", http.MethodGet, "/scim/v2/Users?filter="+urlQuery(`userName eq "x"`), nil)),
	}
	g.waitEntered(t, 2)

	rec := await(t, serve(h, request("a", http.MethodGet, "/scim/v2/Users", nil)), "acme's third request")
	checkError(t, rec, http.StatusTooManyRequests, "")
	if got := rec.Header().Get("Retry-After"); got != "1" {
		t.Errorf("Retry-After = %q, want 1", got)
	}
	if rec := await(t, serve(h, request("g", http.MethodGet, "/scim/v2/Users", nil)), "globex's request"); rec.Code != http.StatusOK {
		t.Errorf("globex GET /Users while acme is at its limit = %d, want 200; body %s", rec.Code, rec.Body)
	}
	if got := metricValues(t, reg, "scim_http_in_flight_limited_total"); len(got) != 1 || got["tenant=acme"] != 1 {
		t.Errorf("scim_http_in_flight_limited_total = %v, want {tenant=acme: 1}", got)
	}
	if got := metricValues(t, reg, "scim_http_in_flight_requests"); got["tenant=acme"] != 2 {
		t.Errorf("scim_http_in_flight_requests = %v, want acme at 2", got)
	}

	g.open()
	for i, ch := range held {
		if rec := await(t, ch, "a held request"); rec.Code != http.StatusOK {
			t.Errorf("held request %d = %d, want 200; body %s", i, rec.Code, rec.Body)
		}
	}
	// The slots are free again.
	for i := range 3 {
		if rec := await(t, serve(h, request("a", http.MethodGet, "/scim/v2/Users", nil)), "acme after"); rec.Code != http.StatusOK {
			t.Errorf("acme request %d after the others finished = %d, want 200", i, rec.Code)
		}
	}
	if got := metricValues(t, reg, "scim_http_in_flight_requests"); got["tenant=acme"] != 0 {
		t.Errorf("scim_http_in_flight_requests = %v, want acme at 0", got)
	}
}

func urlQuery(s string) string {
	return strings.NewReplacer(" ", "%20", `"`, "%22").Replace(s)
}

// countingReader counts the bytes read from it.
type countingReader struct {
	r io.Reader
	n atomic.Int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

// userBodies numbers the users of userBody.
var userBodies atomic.Int64

// userBody is a User of exactly n bytes of JSON, with a userName of its
// own.
func userBody(n int) string {
	b := `{"schemas":["` + schemas.URNUser + `"],"userName":"` + fmt.Sprintf("u%06d", userBodies.Add(1)) + `","title":""}`
	return b[:len(b)-2] + strings.Repeat("x", n-len(b)) + `"}`
}

// TestServer_MaxInFlightBytes: bodies being read and decoded are bounded
// over all tenants, and per tenant to half the budget; a body that does
// not fit is refused with 503 before a byte of it is read, and the budget
// is returned when requests end.
func TestServer_MaxInFlightBytes(t *testing.T) {
	g := newGateStore("acme", "globex")
	srv, reg := newGateServer(t, g, Options{MaxBodyBytes: 1024, MaxInFlightBytes: 4096})
	h := srv.Handler()
	body := userBody(1000)
	post := func(token string) *http.Request {
		return request(token, http.MethodPost, "/scim/v2/Users", strings.NewReader(userBody(len(body))))
	}
	refused := func(token, what string, chunked bool) {
		t.Helper()
		cr := &countingReader{r: strings.NewReader(body)}
		req := request(token, http.MethodPost, "/scim/v2/Users", cr)
		req.ContentLength = int64(len(body))
		if chunked {
			req.ContentLength = -1
		}
		rec := await(t, serve(h, req), what)
		checkError(t, rec, http.StatusServiceUnavailable, "")
		if rec.Header().Get("Retry-After") == "" {
			t.Errorf("%s: no Retry-After", what)
		}
		if n := cr.n.Load(); n != 0 {
			t.Errorf("%s: %d bytes of the body were read, want none", what, n)
		}
	}

	var held []<-chan *httptest.ResponseRecorder
	for _, tok := range []string{"a", "a"} {
		held = append(held, serve(h, post(tok)))
	}
	g.waitEntered(t, 2)
	refused("a", "acme's third body (over its half of the budget)", false)

	for _, tok := range []string{"g", "g"} {
		held = append(held, serve(h, post(tok)))
	}
	g.waitEntered(t, 2)
	refused("i", "initech's body (over the budget)", false)
	refused("i", "initech's body of unknown length (over the budget)", true)

	if got := metricValues(t, reg, "scim_http_body_bytes_limited_total"); len(got) != 2 || got["tenant=acme"] != 1 || got["tenant=initech"] != 2 {
		t.Errorf("scim_http_body_bytes_limited_total = %v, want {tenant=acme: 1, tenant=initech: 2}", got)
	}
	if got := metricValues(t, reg, "scim_http_body_bytes_in_flight"); got[""] != 4000 {
		t.Errorf("scim_http_body_bytes_in_flight = %v, want 4000", got)
	}

	g.open()
	for i, ch := range held {
		if rec := await(t, ch, "a held request"); rec.Code != http.StatusCreated {
			t.Errorf("held POST %d = %d, want 201; body %s", i, rec.Code, rec.Body)
		}
	}
	if got := metricValues(t, reg, "scim_http_body_bytes_in_flight"); got[""] != 0 {
		t.Errorf("scim_http_body_bytes_in_flight after the requests = %v, want 0", got)
	}
	// The budget is free again, for bodies of either kind.
	if rec := await(t, serve(h, post("i")), "initech after"); rec.Code != http.StatusCreated {
		t.Errorf("POST after the others finished = %d, want 201; body %s", rec.Code, rec.Body)
	}
	req := request("i", http.MethodPost, "/scim/v2/Users", io.MultiReader(strings.NewReader(userBody(len(body)))))
	req.ContentLength = -1
	if rec := await(t, serve(h, req), "chunked after"); rec.Code != http.StatusCreated {
		t.Errorf("POST of unknown length after the others finished = %d, want 201; body %s", rec.Code, rec.Body)
	}
	if got := metricValues(t, reg, "scim_http_body_bytes_in_flight"); got[""] != 0 {
		t.Errorf("scim_http_body_bytes_in_flight at the end = %v, want 0", got)
	}
}

// TestServer_RequestTimeout: a request whose reads or write do not finish
// by the deadline answers 503 with Retry-After, and the work under it sees
// its context end.
func TestServer_RequestTimeout(t *testing.T) {
	const timeout = 50 * time.Millisecond
	g := newGateStore("acme")
	srv, _ := newGateServer(t, g, Options{RequestTimeout: timeout})
	h := srv.Handler()
	g.put("acme", "User", schemas.Resource{"id": "u1", "userName": "bob"})

	for _, tc := range []struct {
		method, target string
		body           io.Reader
	}{
		{http.MethodGet, "/scim/v2/Users/u1", nil},
		{http.MethodGet, "/scim/v2/Users?filter=" + urlQuery(`userName sw "b"`), nil},
		{http.MethodPost, "/scim/v2/Users/.search", strings.NewReader(`{"filter":"userName sw \"b\""}`)},
		{http.MethodPost, "/scim/v2/Users", strings.NewReader(userBody(200))},
	} {
		t.Run(tc.method+" "+tc.target, func(t *testing.T) {
			rec := await(t, serve(h, request("a", tc.method, tc.target, tc.body)), "the request")
			m := checkError(t, rec, http.StatusServiceUnavailable, "")
			if got := rec.Header().Get("Retry-After"); got != "5" {
				t.Errorf("Retry-After = %q, want 5 (Options.RetryAfter)", got)
			}
			if d, _ := m["detail"].(string); !strings.Contains(d, "timed out") {
				t.Errorf("detail = %q, want it to say the request timed out", d)
			}
			g.mu.Lock()
			last := g.ctxErr[len(g.ctxErr)-1]
			g.mu.Unlock()
			if !errors.Is(last, context.DeadlineExceeded) {
				t.Errorf("the store's wait ended with %v, want context.DeadlineExceeded", last)
			}
		})
	}
	// Other tenants' requests are not held, and finish in time.
	if rec := await(t, serve(h, request("g", http.MethodGet, "/scim/v2/Users", nil)), "globex"); rec.Code != http.StatusOK {
		t.Errorf("globex GET /Users = %d, want 200", rec.Code)
	}
}

// TestServer_RequestTimeoutSlowBody: a client that stops sending its body
// gets 503 at the request's deadline instead of holding its share of the
// body budget until the server's read timeout.
func TestServer_RequestTimeoutSlowBody(t *testing.T) {
	g := newGateStore()
	srv, _ := newGateServer(t, g, Options{RequestTimeout: 200 * time.Millisecond})
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(hs.Close)

	pr, pw := io.Pipe()
	t.Cleanup(func() { pw.Close() })
	req, err := http.NewRequest(http.MethodPost, hs.URL+"/scim/v2/Users", pr)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer a")
	req.Header.Set("Content-Type", "application/scim+json")
	req.ContentLength = 1000
	go pw.Write([]byte(userBody(1000)[:100])) // and then nothing
	// Only to end the test if the server never answers.
	stop := time.AfterFunc(answerWithin, func() { pw.CloseWithError(errors.New("the server did not answer")) })
	defer stop.Stop()
	resp, err := hs.Client().Do(req)
	if err != nil {
		t.Fatalf("POST with a stalled body: %v, want a 503 response", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
		b, _ := io.ReadAll(resp.Body)
		t.Errorf("POST with a stalled body = %d (Retry-After %q), want 503 with Retry-After; body %s", resp.StatusCode, resp.Header.Get("Retry-After"), b)
	}
}

func TestNew_BadLimits(t *testing.T) {
	reg, err := schemas.NewRegistry()
	if err != nil {
		t.Fatalf("NewRegistry() = %v", err)
	}
	store := &faultStore{}
	for _, o := range []Options{
		{RequestTimeout: -time.Second},
		{TenantMaxInFlight: -1},
		{MaxInFlightBytes: -1},
		{MaxBodyValues: -1},
		{MaxBodyBytes: 2 << 20, MaxInFlightBytes: 1 << 20},
	} {
		if _, err := New(reg, store, store, StaticToken("x", "default"), o); err == nil {
			t.Errorf("New(%+v) = nil error, want one", o)
		}
	}
}
