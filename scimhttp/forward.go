package scimhttp

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"syscall"
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
	target   *url.URL
	mayRetry bool // a refused connection is left to the caller (forwardTo)
	refused  bool // the owner refused the connection, nothing was answered
	failed   bool // the owner gave no answer: the ErrorHandler answered
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
			fw := r.Context().Value(forwardKey{}).(*forwarding)
			if fw.mayRetry && errors.Is(err, syscall.ECONNREFUSED) && unsent(r) {
				fw.refused = true
				return
			}
			fw.failed = true
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
	if r.Body != nil && r.Body != http.NoBody {
		r.Body = &replayBody{ReadCloser: r.Body}
	}
	// refused is a writer that refused the connection (it is stopping, or
	// gone): nothing was sent, so wait a moment for another writer's claim
	// and forward there instead.
	var refused string
	deadline := time.Now().Add(refusedWait)
	for {
		owner, err := s.opts.Replicas.Route(r.Context(), st.tenant)
		if err == nil && owner == "" {
			return false
		}
		if err == nil && owner == refused {
			if time.Now().Before(deadline) && sleepCtx(r.Context(), 50*time.Millisecond) {
				continue
			}
			err = &schemas.Error{Kind: schemas.KindUnavailable, Err: errors.New("the tenant's writer refused the connection"),
				Detail: "the replica that writes for this tenant did not answer; retry later"}
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
		if s.forwardTo(w, r, target, refused == "") {
			return true
		}
		refused = owner
	}
}

// refusedWait bounds the wait for another writer after the writer a write
// was forwarded to refused the connection: a writer that stops hands its
// partitions over within about a second; a dead one's wait for its session
// to time out is not worth waiting for.
const refusedWait = 2 * time.Second

// forwardTo forwards r to the replica at target and passes its answer on,
// reporting whether it answered. It does not when mayRetry and the writer
// refused the connection before any of r was sent (see replicate). A bulk
// request runs as long as its deadline allows; any other write is cut at
// the forward timeout, past which the owner is taken as frozen or gone
// (503; the write may still happen there, and its retry is recognised like
// any other).
func (s *Server) forwardTo(w http.ResponseWriter, r *http.Request, target *url.URL, mayRetry bool) bool {
	fw := &forwarding{target: target, mayRetry: mayRetry}
	ctx := context.WithValue(r.Context(), forwardKey{}, fw)
	if !strings.HasSuffix(r.URL.Path, "/Bulk") {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, s.forward.timeout)
		defer cancel()
	}
	start := time.Now()
	s.forward.proxy.ServeHTTP(w, r.WithContext(ctx))
	if fw.refused {
		return false
	}
	result := "ok"
	if fw.failed {
		result = "unreachable"
	}
	s.forward.forwards.WithLabelValues(result).Inc()
	s.forward.duration.WithLabelValues(result).Observe(time.Since(start).Seconds())
	return true
}

// replayBody is a request body that a forward which did not send it can
// send again: closing it is left to the server, and it knows whether it
// was read.
type replayBody struct {
	io.ReadCloser
	read bool
}

func (b *replayBody) Read(p []byte) (int, error) {
	b.read = true
	return b.ReadCloser.Read(p)
}

func (b *replayBody) Close() error { return nil }

// unsent reports whether r's body (if any) has not been read.
func unsent(r *http.Request) bool {
	b, ok := r.Body.(*replayBody)
	return !ok || !b.read
}

// sleepCtx waits d or until ctx ends, reporting whether d passed.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
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
