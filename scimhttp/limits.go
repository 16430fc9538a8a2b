package scimhttp

import (
	"net/http"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/scim-bridge/scim-bridge/schemas"
)

// What one tenant may take of the server at once, so that it cannot slow
// the others down: requests in flight (inFlight), and bytes of request
// bodies being read and decoded (bodyBudget). Both refuse at once instead
// of queueing: a queue would hold the refused request's connection and
// memory anyway, and IdPs retry on 429 and 503 with Retry-After.

// inFlightRetryAfter is the Retry-After of a request refused for its
// tenant's in-flight limit: requests in flight finish in milliseconds, so
// a second is enough to find a free slot.
const inFlightRetryAfter = "1"

// inFlight counts each tenant's requests being served. Tenants with none
// have no entry, so the map holds at most the tenants busy right now. Safe
// for concurrent use.
type inFlight struct {
	mu sync.Mutex
	n  map[string]int

	gauge   *prometheus.GaugeVec
	limited *prometheus.CounterVec
}

func newInFlight(reg prometheus.Registerer) *inFlight {
	f := promauto.With(reg)
	return &inFlight{
		n: map[string]int{},
		gauge: f.NewGaugeVec(prometheus.GaugeOpts{
			Name: "scim_http_in_flight_requests",
			Help: "SCIM HTTP requests being served, by tenant.",
		}, []string{"tenant"}),
		limited: f.NewCounterVec(prometheus.CounterOpts{
			Name: "scim_http_in_flight_limited_total",
			Help: "SCIM HTTP requests refused with 429 because their tenant had as many requests in flight as it may.",
		}, []string{"tenant"}),
	}
}

// acquire takes one of tenant's limit slots, or reports false.
func (f *inFlight) acquire(tenant string, limit int) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.n[tenant] >= limit {
		return false
	}
	f.n[tenant]++
	f.gauge.WithLabelValues(tenant).Set(float64(f.n[tenant]))
	return true
}

func (f *inFlight) release(tenant string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := f.n[tenant] - 1
	if n <= 0 {
		delete(f.n, tenant)
		n = 0
	} else {
		f.n[tenant] = n
	}
	f.gauge.WithLabelValues(tenant).Set(float64(n))
}

// admitInFlight takes a slot for tenant, or answers 429 with Retry-After
// and a SCIM error and returns false. The caller releases the slot.
func (s *Server) admitInFlight(w http.ResponseWriter, tenant string) bool {
	limit := s.opts.TenantMaxInFlight
	if s.inFlight.acquire(tenant, limit) {
		return true
	}
	s.inFlight.limited.WithLabelValues(tenant).Inc()
	status, scimType, detail := s.classify(schemas.Errorf(schemas.KindRateLimited,
		"too many requests in flight: this tenant may have %d requests served at once; retry after %s s", limit, inFlightRetryAfter))
	s.writeErrorBody(retryAfterWriter{ResponseWriter: w, seconds: inFlightRetryAfter}, status, scimType, detail)
	return false
}

// bodyBudget bounds the bytes of request bodies being read and decoded at
// once: total over all tenants, perTenant for each. Decoding a body into a
// resource holds many times its size (see DefaultMaxInFlightBytes), so
// this is what keeps concurrent large bodies within the memory limit. A
// request's reservation lives until it ends, since the handler decodes the
// body and the bridge holds the decoded resource through the write. Safe for
// concurrent use.
type bodyBudget struct {
	total, perTenant int64

	mu       sync.Mutex
	used     int64
	byTenant map[string]int64 // tenants holding some; no zero entries

	gauge   prometheus.Gauge
	limited *prometheus.CounterVec
}

func newBodyBudget(reg prometheus.Registerer, total, perTenant int64) *bodyBudget {
	f := promauto.With(reg)
	return &bodyBudget{
		total: total, perTenant: perTenant,
		byTenant: map[string]int64{},
		gauge: f.NewGauge(prometheus.GaugeOpts{
			Name: "scim_http_body_bytes_in_flight",
			Help: "Bytes of request bodies being read or decoded (reserved from SCIM_MAX_IN_FLIGHT_BYTES).",
		}),
		limited: f.NewCounterVec(prometheus.CounterOpts{
			Name: "scim_http_body_bytes_limited_total",
			Help: "SCIM HTTP requests refused with 503 because their body did not fit in the budget of body bytes in flight (overall, or the tenant's half of it).",
		}, []string{"tenant"}),
	}
}

// reserve takes n bytes for tenant, or reports false and takes nothing.
func (b *bodyBudget) reserve(tenant string, n int64) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.used+n > b.total || b.byTenant[tenant]+n > b.perTenant {
		return false
	}
	b.used += n
	b.byTenant[tenant] += n
	b.gauge.Set(float64(b.used))
	return true
}

func (b *bodyBudget) release(tenant string, n int64) {
	if n == 0 {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.used -= n
	if b.byTenant[tenant] -= n; b.byTenant[tenant] <= 0 {
		delete(b.byTenant, tenant)
	}
	b.gauge.Set(float64(b.used))
}

// reserveBody takes n more bytes of the budget for the request of st,
// which releases them when it ends, or returns the 503 error to answer.
func (s *Server) reserveBody(st *requestState, n int64) error {
	if st == nil { // not under the middleware: nothing to account to
		return nil
	}
	if !s.bodies.reserve(st.tenant, n) {
		s.bodies.limited.WithLabelValues(st.tenant).Inc()
		return schemas.Errorf(schemas.KindUnavailable,
			"the server is reading as many request bodies as it may at once; retry later")
	}
	st.bodyBytes += n
	return nil
}

// perTenantBodyBytes is a tenant's share of the body budget: half of it,
// so other tenants always have the other half, but at least one body of
// the largest size.
func perTenantBodyBytes(budget, maxBody int64) int64 {
	return max(budget/2, maxBody)
}
