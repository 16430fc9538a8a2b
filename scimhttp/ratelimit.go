package scimhttp

import (
	"fmt"
	"math"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
	"golang.org/x/time/rate"

	"github.com/scim-bridge/scim-bridge/schemas"
	"github.com/scim-bridge/scim-bridge/scimhttp/tenants"
)

// TenantTable is the live tenant table: it gives each tenant's rate limit
// and audit switch and follows reloads. Met by *tenants.Watcher and
// *tenants.Table. Table must be safe for concurrent use and cheap: it is
// called once per request.
type TenantTable interface {
	Table() *tenants.Table
}

var (
	_ TenantTable = (*tenants.Watcher)(nil)
	_ TenantTable = (*tenants.Table)(nil)
)

// policy returns the table in use and tenant's effective policy: its own
// rate limit, else Options.RateLimit; audited if its entry or Options.Audit
// says so. A tenant missing from the table (removed by a reload after its
// request authenticated) gets the defaults.
func (s *Server) policy(tenant string) (*tenants.Table, tenants.Policy) {
	var tbl *tenants.Table
	if s.opts.Tenants != nil {
		tbl = s.opts.Tenants.Table()
	}
	p, _ := tbl.Policy(tenant)
	if p.RateLimit.IsZero() {
		p.RateLimit = s.opts.RateLimit
	}
	p.Audit = p.Audit || s.opts.Audit
	return tbl, p
}

// limiters holds a token bucket (golang.org/x/time/rate) per rate-limited
// tenant. Buckets follow the table: a changed limit is applied to the
// tenant's bucket (keeping its tokens), and when the table is replaced the
// buckets of tenants it no longer has are dropped. Safe for concurrent use.
type limiters struct {
	mu       sync.Mutex
	table    *tenants.Table // the table the buckets follow
	byTenant map[string]*rate.Limiter

	limited *prometheus.CounterVec
}

func newLimiters(reg prometheus.Registerer) *limiters {
	return &limiters{
		byTenant: map[string]*rate.Limiter{},
		limited: promauto.With(reg).NewCounterVec(prometheus.CounterOpts{
			Name: "scim_http_rate_limited_total",
			Help: "SCIM HTTP requests refused with 429 because their tenant was over its rate limit.",
		}, []string{"tenant"}),
	}
}

// reserve takes n requests from tenant's bucket at now. It returns 0 when
// they may go ahead; otherwise it takes nothing and returns how long until
// the bucket holds n requests again. A zero limit never waits. n must not
// exceed rl.Burst.
func (l *limiters) reserve(tbl *tenants.Table, tenant string, rl tenants.RateLimit, now time.Time, n int) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	if tbl != l.table {
		for name := range l.byTenant {
			if _, ok := tbl.Policy(name); !ok {
				delete(l.byTenant, name)
			}
		}
		l.table = tbl
	}
	if rl.IsZero() {
		delete(l.byTenant, tenant) // a limit removed by a reload
		return 0
	}
	limit := rate.Limit(rl.RequestsPerSecond)
	lim := l.byTenant[tenant]
	switch {
	case lim == nil:
		lim = rate.NewLimiter(limit, rl.Burst) // starts full
		l.byTenant[tenant] = lim
	case lim.Limit() != limit || lim.Burst() != rl.Burst:
		lim.SetLimitAt(now, limit)
		lim.SetBurstAt(now, rl.Burst)
	}
	res := lim.ReserveN(now, n)
	if !res.OK() { // n over the burst; Normalize leaves at least 1, callers check n
		return time.Second
	}
	d := res.DelayFrom(now)
	if d > 0 {
		res.CancelAt(now)
	}
	return d
}

// rateLimit takes n requests from tenant's bucket (a request is one; a
// bulk request takes one more per operation after its first), or answers
// 429 and returns false when tenant is over its limit: Retry-After is the
// wait until its bucket holds them again, in whole seconds, at least 1
// (RFC 9110 §10.2.3; RFC 7644 §3.12 gives 429 no scimType). The request's
// own log line records the 429; nothing else is logged, so a client
// hammering the server does not flood the log.
func (s *Server) rateLimit(w http.ResponseWriter, tbl *tenants.Table, tenant string, rl tenants.RateLimit, n int) bool {
	wait := s.limiters.reserve(tbl, tenant, rl, s.opts.Now(), n)
	if wait <= 0 {
		return true
	}
	s.limiters.limited.WithLabelValues(tenant).Inc()
	secs := max(1, int(math.Ceil(wait.Seconds())))
	what := ""
	if n > 1 {
		what = " (each operation of a bulk request counts as one)"
	}
	status, scimType, detail := s.classify(schemas.Errorf(schemas.KindRateLimited,
		"too many requests: this tenant may send %s per second%s; retry after %d s",
		strconv.FormatFloat(rl.RequestsPerSecond, 'f', -1, 64), what, secs))
	s.writeErrorBody(retryAfterWriter{ResponseWriter: w, seconds: strconv.Itoa(secs)}, status, scimType, detail)
	return false
}

// retryAfterWriter sets Retry-After as the status is written, overriding
// the fixed Options.RetryAfter that writeErrorBody gives every 429.
type retryAfterWriter struct {
	http.ResponseWriter
	seconds string
}

func (w retryAfterWriter) WriteHeader(code int) {
	w.Header().Set("Retry-After", w.seconds)
	w.ResponseWriter.WriteHeader(code)
}

// checkRateLimit validates Options.RateLimit and fills its burst.
func checkRateLimit(rl tenants.RateLimit) (tenants.RateLimit, error) {
	rl, err := rl.Normalize()
	if err != nil {
		return rl, fmt.Errorf("scimhttp: options rate limit: %w", err)
	}
	return rl, nil
}
