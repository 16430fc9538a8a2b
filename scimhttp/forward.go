package scimhttp

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"time"

	"github.com/gorilla/mux"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/scim-bridge/scim-bridge/bridge"
	"github.com/scim-bridge/scim-bridge/schemas"
)

// Several replicas (docs/replicas.md). One replica writes for each tenant:
// a write that reaches another one is forwarded to it, as it came (the
// bearer token, the Host, the body), and its answer passed back. A read is
// served where it arrives, once the projection there has reached the log's
// end for the tenant, so it reflects every write acknowledged before it by
// any replica.

// Replicas is what a Server needs when several replicas share the log (met
// by *bridge.Bridge). Safe for concurrent use.
type Replicas interface {
	// Route returns where a write of tenant is served: "" here, else the
	// base URL of the replica that writes for it; an error (503) while
	// none does.
	Route(ctx context.Context, tenant string) (owner string, err error)
	// Sync returns once a read here reflects every write of tenant
	// acknowledged before the call, by any replica; an error (503) when
	// this replica cannot catch up in time.
	Sync(ctx context.Context, tenant string) error
}

var _ Replicas = (*bridge.Bridge)(nil)

// ForwardedHeader marks a request one replica forwarded to another. A
// replica that gets one for a tenant it does not write for answers 503
// rather than forwarding it again: ownership is moving, and the client's
// retry finds the new owner.
const ForwardedHeader = "X-Scim-Bridge-Forwarded"

// DefaultForwardTimeout bounds a forwarded write, from sending it to the
// owner's answer: a write's whole time on the owner is the append timeout
// plus a second (bridge.DeadlineMargin), so an owner that has not answered
// by then is not going to (frozen, or unreachable).
const DefaultForwardTimeout = 10 * time.Second

// forwarder forwards writes to their owner.
type forwarder struct {
	proxy    *httputil.ReverseProxy
	timeout  time.Duration
	forwards *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

type forwardKey struct{}

// forwarding is one forwarded request's target and outcome, in its context.
type forwarding struct {
	target *url.URL
	failed bool // the owner gave no answer: the ErrorHandler answered
}

// newForwarder returns the forwarder of s; nil without Options.Replicas.
func (s *Server) newForwarder() *forwarder {
	if s.opts.Replicas == nil {
		return nil
	}
	f := promauto.With(s.opts.Registerer)
	fw := &forwarder{
		timeout: s.opts.ForwardTimeout,
		forwards: f.NewCounterVec(prometheus.CounterOpts{
			Name: "scim_http_forwarded_requests_total",
			Help: "Writes forwarded to the replica that writes for their tenant, by result: ok (answered), unreachable (503 here).",
		}, []string{"result"}),
		duration: f.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "scim_http_forward_duration_seconds",
			Help:    "Time from forwarding a write to the owner's answer (its headers), by result.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16),
		}, []string{"result"}),
	}
	for _, r := range []string{"ok", "unreachable"} {
		fw.forwards.WithLabelValues(r)
	}
	dial := &net.Dialer{Timeout: 2 * time.Second, KeepAlive: 30 * time.Second}
	fw.proxy = &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(pr.In.Context().Value(forwardKey{}).(*forwarding).target)
			// The owner builds meta.location and Location from the Host
			// and, when it trusts them, the X-Forwarded-* headers the
			// client's proxy set: pass them on as they came.
			pr.Out.Host = pr.In.Host
			for _, h := range []string{"X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Proto"} {
				if v, ok := pr.In.Header[h]; ok {
					pr.Out.Header[h] = v
				}
			}
			pr.Out.Header.Set(ForwardedHeader, "1")
			pr.Out.Header.Set("X-Request-Id", RequestIDFromContext(pr.In.Context()))
		},
		Transport: &http.Transport{
			DialContext:         dial.DialContext,
			MaxIdleConnsPerHost: 64,
			IdleConnTimeout:     90 * time.Second,
		},
		ErrorLog: slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
		ModifyResponse: func(res *http.Response) error {
			res.Header.Del("X-Request-Id") // already set here, to the same id
			return nil
		},
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			r.Context().Value(forwardKey{}).(*forwarding).failed = true
			s.writeError(w, r, &schemas.Error{Kind: schemas.KindUnavailable, Err: err,
				Detail: "the replica that writes for this tenant did not answer; retry later"})
		},
	}
	return fw
}

// replicate serves what several replicas need before a request is handled
// here: a write of a tenant another replica writes for is forwarded to it
// (or refused with 503 while none does), and a read waits until the
// projection here has caught up. It reports whether it answered r.
func (s *Server) replicate(w http.ResponseWriter, r *http.Request, st *requestState) bool {
	if s.forward == nil {
		return false
	}
	if !isWrite(r.Method) || isSearch(r.URL.Path) {
		if isDiscovery(r.URL.Path) {
			return false
		}
		if err := s.opts.Replicas.Sync(r.Context(), st.tenant); err != nil {
			s.writeError(w, r, err)
			return true
		}
		return false
	}
	owner, err := s.opts.Replicas.Route(r.Context(), st.tenant)
	if err == nil && owner == "" {
		return false
	}
	s.routeOf(r, st)
	if err == nil && r.Header.Get(ForwardedHeader) != "" {
		err = &schemas.Error{Kind: schemas.KindUnavailable, Err: errors.New("forwarded to a replica that does not write for the tenant"),
			Detail: "this tenant's writer is changing; retry later"}
	}
	var target *url.URL
	if err == nil {
		if target, err = url.Parse(owner); err != nil || target.Host == "" {
			err = &schemas.Error{Kind: schemas.KindUnavailable, Err: errors.New("the claim in force names no URL"),
				Detail: "no replica writes for this tenant right now; retry later"}
		}
	}
	if err != nil {
		s.writeError(w, r, err)
		return true
	}
	s.forwardTo(w, r, target)
	return true
}

// forwardTo forwards r to the replica at target and passes its answer on.
// A bulk request runs as long as its deadline allows; any other write is
// cut at the forward timeout, past which the owner is taken as frozen or
// gone (503; the write may still happen there, and its retry is recognised
// like any other).
func (s *Server) forwardTo(w http.ResponseWriter, r *http.Request, target *url.URL) {
	fw := &forwarding{target: target}
	ctx := context.WithValue(r.Context(), forwardKey{}, fw)
	if !strings.HasSuffix(r.URL.Path, "/Bulk") {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, s.forward.timeout)
		defer cancel()
	}
	start := time.Now()
	s.forward.proxy.ServeHTTP(w, r.WithContext(ctx))
	result := "ok"
	if fw.failed {
		result = "unreachable"
	}
	s.forward.forwards.WithLabelValues(result).Inc()
	s.forward.duration.WithLabelValues(result).Observe(time.Since(start).Seconds())
}

// routeOf records r's route template for the log line and metrics of a
// request answered before routing.
func (s *Server) routeOf(r *http.Request, st *requestState) {
	var m mux.RouteMatch
	if s.router.Match(r, &m) && m.Route != nil {
		if tpl, err := m.Route.GetPathTemplate(); err == nil {
			st.route = tpl
		}
	}
}

// isSearch reports whether path is a POST that only reads (/.search).
func isSearch(path string) bool {
	return strings.HasSuffix(path, "/.search")
}

// isDiscovery reports whether path is a discovery endpoint, which reads
// no tenant data.
func isDiscovery(path string) bool {
	rest, _ := strings.CutPrefix(path, Prefix+"/")
	seg, _, _ := strings.Cut(rest, "/")
	switch seg {
	case "ServiceProviderConfig", "ResourceTypes", "Schemas":
		return true
	}
	return false
}
