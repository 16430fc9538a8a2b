package scimhttp

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/scim-bridge/scim-bridge/schemas"
	"github.com/scim-bridge/scim-bridge/scimhttp/tenants"
)

// fakeClock is a Now the test moves by hand.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time          { return c.t }
func (c *fakeClock) advance(d time.Duration) { c.t = c.t.Add(d) }
func newFakeClock() *fakeClock               { return &fakeClock{t: testTime} }

// tenantOf is a tenant accepting tokens, without limits.
func tenantOf(name string, tokens ...string) tenants.Tenant {
	tn := tenants.Tenant{Name: name}
	for _, tok := range tokens {
		tn.Tokens = append(tn.Tokens, tenants.HashToken(tok))
	}
	return tn
}

// liveTable is a TenantTable whose table the test swaps, as a reload does.
type liveTable struct{ p atomic.Pointer[tenants.Table] }

func (l *liveTable) Table() *tenants.Table { return l.p.Load() }
func (l *liveTable) Authenticate(token string) (string, bool) {
	return l.p.Load().Authenticate(token)
}

func mustTable(t *testing.T, ts ...tenants.Tenant) *tenants.Table {
	t.Helper()
	tbl, err := tenants.NewTable(ts)
	if err != nil {
		t.Fatalf("NewTable() = %v", err)
	}
	return tbl
}

// doAs sends a request with token; body may be "" for none.
func doAs(ts *testServer, token, method, target, body string) *httptest.ResponseRecorder {
	var req *http.Request
	if body == "" {
		req = httptest.NewRequest(method, target, nil)
	} else {
		req = httptest.NewRequest(method, target, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/scim+json")
	}
	req.Header.Set("Authorization", "Bearer "+token)
	rec := httptest.NewRecorder()
	ts.srv.Handler().ServeHTTP(rec, req)
	return rec
}

// step is one request of a rate-limit scenario, after moving the clock.
type step struct {
	advance    time.Duration
	token      string
	status     int
	retryAfter string // for 429
}

func runSteps(t *testing.T, ts *testServer, clock *fakeClock, steps []step) {
	t.Helper()
	for i, s := range steps {
		clock.advance(s.advance)
		rec := doAs(ts, s.token, http.MethodGet, "/scim/v2/Users", "")
		if rec.Code != s.status {
			t.Fatalf("step %d: GET /Users as %s = %d, want %d; body %s", i, s.token, rec.Code, s.status, rec.Body)
		}
		if s.status != http.StatusTooManyRequests {
			continue
		}
		checkError(t, rec, http.StatusTooManyRequests, "")
		if got := rec.Header().Get("Retry-After"); got != s.retryAfter {
			t.Errorf("step %d: Retry-After = %q, want %q", i, got, s.retryAfter)
		}
	}
}

func TestServer_RateLimit(t *testing.T) {
	const limited = http.StatusTooManyRequests
	tests := []struct {
		name  string
		table []tenants.Tenant
		opts  Options
		steps []step
	}{
		{
			name: "BurstThenRefill",
			table: []tenants.Tenant{{Name: "acme", Tokens: []string{tenants.HashToken("a")},
				RateLimit: tenants.RateLimit{RequestsPerSecond: 1, Burst: 2}}},
			steps: []step{
				{0, "a", 200, ""},
				{0, "a", 200, ""},
				{0, "a", limited, "1"},
				{999 * time.Millisecond, "a", limited, "1"}, // a millisecond away rounds up to 1 s
				{time.Millisecond, "a", 200, ""},
				{0, "a", limited, "1"},
			},
		},
		{
			name: "RetryAfterFromTheDelay",
			table: []tenants.Tenant{{Name: "acme", Tokens: []string{tenants.HashToken("a")},
				RateLimit: tenants.RateLimit{RequestsPerSecond: 0.4, Burst: 1}}},
			steps: []step{
				{0, "a", 200, ""},
				{0, "a", limited, "3"}, // 2.5 s
				{time.Second, "a", limited, "2"},
				// Refused requests take no tokens: 2.5 s after the first, one passes.
				{1500 * time.Millisecond, "a", 200, ""},
			},
		},
		{
			name: "TenantsHaveTheirOwnBuckets",
			table: []tenants.Tenant{
				{Name: "acme", Tokens: []string{tenants.HashToken("a")}, RateLimit: tenants.RateLimit{RequestsPerSecond: 1, Burst: 1}},
				{Name: "globex", Tokens: []string{tenants.HashToken("g")}, RateLimit: tenants.RateLimit{RequestsPerSecond: 1, Burst: 1}},
				tenantOf("initech", "i"), // no limit
			},
			steps: []step{
				{0, "a", 200, ""},
				{0, "a", limited, "1"},
				{0, "g", 200, ""},
				{0, "i", 200, ""},
				{0, "i", 200, ""},
				{0, "i", 200, ""},
			},
		},
		{
			name:  "DefaultFromOptions",
			table: []tenants.Tenant{tenantOf("acme", "a")},
			opts:  Options{RateLimit: tenants.RateLimit{RequestsPerSecond: 2}}, // burst 2
			steps: []step{
				{0, "a", 200, ""},
				{0, "a", 200, ""},
				{0, "a", limited, "1"},
				{500 * time.Millisecond, "a", 200, ""},
			},
		},
		{
			name: "OwnLimitBeatsTheDefault",
			table: []tenants.Tenant{{Name: "acme", Tokens: []string{tenants.HashToken("a")},
				RateLimit: tenants.RateLimit{RequestsPerSecond: 100}}},
			opts: Options{RateLimit: tenants.RateLimit{RequestsPerSecond: 1, Burst: 1}},
			steps: []step{
				{0, "a", 200, ""},
				{0, "a", 200, ""},
				{0, "a", 200, ""},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := newFakeClock()
			tt.opts.Now = clock.now
			ts := newAuthServer(t, mustTable(t, tt.table...), tt.opts)
			runSteps(t, ts, clock, tt.steps)
		})
	}
}

func TestServer_RateLimitStaticToken(t *testing.T) {
	clock := newFakeClock()
	ts := newAuthServer(t, StaticToken("tok", "default"), Options{
		Now:       clock.now,
		RateLimit: tenants.RateLimit{RequestsPerSecond: 1, Burst: 1},
	})
	runSteps(t, ts, clock, []step{
		{0, "tok", 200, ""},
		{0, "tok", http.StatusTooManyRequests, "1"},
	})
}

func TestServer_RateLimitFollowsReloads(t *testing.T) {
	clock := newFakeClock()
	live := &liveTable{}
	limitedAcme := func(rps float64) tenants.Tenant {
		tn := tenantOf("acme", "a")
		tn.RateLimit = tenants.RateLimit{RequestsPerSecond: rps, Burst: 1}
		return tn
	}
	live.p.Store(mustTable(t, limitedAcme(1), tenantOf("globex", "g")))
	ts := newAuthServer(t, live, Options{Now: clock.now})
	const limited = http.StatusTooManyRequests

	runSteps(t, ts, clock, []step{{0, "a", 200, ""}, {0, "a", limited, "1"}})

	t.Run("NewLimitApplies", func(t *testing.T) {
		live.p.Store(mustTable(t, limitedAcme(10), tenantOf("globex", "g")))
		runSteps(t, ts, clock, []step{
			{0, "a", limited, "1"}, // 0.1 s, rounded up
			{100 * time.Millisecond, "a", 200, ""},
			{0, "a", limited, "1"},
		})
	})
	t.Run("LimitRemoved", func(t *testing.T) {
		live.p.Store(mustTable(t, tenantOf("acme", "a"), tenantOf("globex", "g")))
		runSteps(t, ts, clock, []step{{0, "a", 200, ""}, {0, "a", 200, ""}, {0, "a", 200, ""}})
	})
	t.Run("RemovedTenantDropped", func(t *testing.T) {
		live.p.Store(mustTable(t, limitedAcme(1), tenantOf("globex", "g")))
		runSteps(t, ts, clock, []step{{0, "a", 200, ""}})
		if got := len(ts.srv.limiters.byTenant); got != 1 {
			t.Fatalf("buckets = %d, want 1 (acme)", got)
		}
		live.p.Store(mustTable(t, tenantOf("globex", "g")))
		runSteps(t, ts, clock, []step{{0, "a", http.StatusUnauthorized, ""}, {0, "g", 200, ""}})
		if got := len(ts.srv.limiters.byTenant); got != 0 {
			t.Errorf("buckets after acme was removed = %d, want 0", got)
		}
	})
}

func TestServer_RateLimitMetric(t *testing.T) {
	clock := newFakeClock()
	acme := tenantOf("acme", "a")
	acme.RateLimit = tenants.RateLimit{RequestsPerSecond: 1, Burst: 1}
	ts := newAuthServer(t, mustTable(t, acme, tenantOf("globex", "g")), Options{Now: clock.now})
	for range 3 {
		doAs(ts, "a", http.MethodGet, "/scim/v2/Users", "")
		doAs(ts, "g", http.MethodGet, "/scim/v2/Users", "")
	}
	mfs, err := ts.reg.Gather()
	if err != nil {
		t.Fatalf("Gather() = %v", err)
	}
	got := map[string]float64{}
	for _, mf := range mfs {
		if mf.GetName() == "scim_http_rate_limited_total" {
			for _, m := range mf.GetMetric() {
				got[labels(m)] = m.GetCounter().GetValue()
			}
		}
	}
	if len(got) != 1 || got["tenant=acme"] != 2 {
		t.Errorf("scim_http_rate_limited_total = %v, want {tenant=acme: 2}", got)
	}
}

func TestNew_BadRateLimit(t *testing.T) {
	reg, err := schemas.NewRegistry()
	if err != nil {
		t.Fatalf("NewRegistry() = %v", err)
	}
	store := &faultStore{}
	_, err = New(reg, store, store, StaticToken("x", "default"), Options{RateLimit: tenants.RateLimit{RequestsPerSecond: -1}})
	if err == nil {
		t.Errorf("New(RateLimit -1/s) = nil error, want one")
	}
}

// TestServer_TenantsInContext: each tenant's token puts that tenant in the
// request context, and the bridge and the read model see only it.
func TestServer_TenantsInContext(t *testing.T) {
	tbl := mustTable(t, tenantOf("acme", "a1", "a2"), tenantOf("globex", "g"))
	ts := newAuthServer(t, tbl, Options{})

	var got []string
	h := ts.srv.middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tn, _ := TenantFromContext(r.Context())
		got = append(got, tn)
	}))
	for _, tok := range []string{"a1", "g", "a2"} {
		req := httptest.NewRequest(http.MethodGet, "/scim/v2/Users", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		h.ServeHTTP(httptest.NewRecorder(), req)
	}
	if want := []string{"acme", "globex", "acme"}; strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("tenants in context = %v, want %v", got, want)
	}

	for _, tc := range []struct{ token, tenant string }{{"a1", "acme"}, {"g", "globex"}} {
		rec := doAs(ts, tc.token, http.MethodPost, "/scim/v2/Users", userJSON("u-"+tc.tenant))
		if rec.Code != http.StatusCreated {
			t.Fatalf("POST as %s = %d, want 201; body %s", tc.tenant, rec.Code, rec.Body)
		}
		evs := ts.stack.events()
		if got := evs[len(evs)-1].Tenant; got != tc.tenant {
			t.Errorf("POST as %s: the event's tenant = %q, want %q", tc.tenant, got, tc.tenant)
		}
	}
	for _, tc := range []struct{ token, tenant string }{{"a2", "acme"}, {"g", "globex"}} {
		rec := doAs(ts, tc.token, http.MethodGet, "/scim/v2/Users", "")
		body := rec.Body.String()
		other := map[string]string{"acme": "globex", "globex": "acme"}[tc.tenant]
		if !strings.Contains(body, "u-"+tc.tenant) || strings.Contains(body, "u-"+other) {
			t.Errorf("GET /Users as %s = %s, want only %s's user", tc.tenant, body, tc.tenant)
		}
	}
}
