package scimhttp

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strconv"
	"strings"

	"github.com/scim-bridge/scim-bridge/schemas"
)

const maxRequestIDLength = 128

// middleware wraps the router with what every request gets, outermost
// first: a request id, the request's deadline, the per-request log line and
// metrics, a recover that turns a panic into a 500 SCIM error,
// authentication, the tenant's rate limit and in-flight limit and, for
// audited tenants' writes, the audit line. Authentication comes before
// routing, so an unauthenticated client cannot even tell which paths exist.
// Body bytes a handler reserved (readBody) are returned as the request
// ends.
func (s *Server) middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := s.opts.Now()
		id := requestID(r.Header.Get("X-Request-Id"))
		w.Header().Set("X-Request-Id", id)
		st := &requestState{route: "unmatched"}
		ctx, cancel := context.WithTimeout(r.Context(), s.opts.RequestTimeout)
		defer cancel()
		ctx = withState(NewContextWithRequestID(ctx, id), st)
		r = r.WithContext(ctx)
		rec := &recorder{ResponseWriter: w}

		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				s.log.Error("panic serving request", "request_id", id, "route", st.route,
					"panic", fmt.Sprint(v), "stack", string(debug.Stack()))
				if !rec.wroteHeader {
					s.writeErrorBody(rec, http.StatusInternalServerError, "", "internal error")
				}
			}
			status := rec.status
			if status == 0 {
				status = http.StatusOK
			}
			elapsed := s.opts.Now().Sub(start)
			method := sanitizeMethod(r.Method)
			code := strconv.Itoa(status)
			s.metrics.requests.WithLabelValues(method, st.route, code, st.tenant).Inc()
			s.metrics.duration.WithLabelValues(method, st.route, code, st.tenant).Observe(elapsed.Seconds())
			if s.log.Enabled(ctx, slog.LevelInfo) { // the arguments cost allocations even when off
				s.log.Info("request", "request_id", id, "tenant", st.tenant, "method", method,
					"route", st.route, "status", status, "duration", elapsed)
			}
		}()

		token, ok := bearerToken(r)
		if !ok {
			s.writeError(rec, r, schemas.Errorf(schemas.KindUnauthorized, "a bearer token is required"))
			return
		}
		tenant, ok := s.auth.Authenticate(token)
		if !ok {
			s.writeError(rec, r, schemas.Errorf(schemas.KindUnauthorized, "the bearer token is not valid"))
			return
		}
		st.tenant = tenant
		r = r.WithContext(NewContextWithTenant(r.Context(), tenant))
		tbl, policy := s.policy(tenant)
		st.strict = policy.Strict
		if !s.rateLimit(rec, tbl, tenant, policy.RateLimit, 1) {
			return
		}
		if !s.admitInFlight(rec, tenant) {
			return
		}
		defer s.inFlight.release(tenant)
		defer func() { s.bodies.release(tenant, st.bodyBytes) }()
		s.canonicalPath(r)
		if s.replicate(rec, r, st) { // forward.go: forwarded to the tenant's writer, or refused
			return
		}
		if policy.Audit && isWrite(r.Method) {
			s.serveAudited(next, rec, r, st)
			return
		}
		next.ServeHTTP(rec, r)
	})
}

// canonicalPath makes /scim/v2/Users/ route as /scim/v2/Users, as
// Microsoft's reference tests send it, and matches the endpoint segment
// case-insensitively (/scim/v2/users is /scim/v2/Users; the same tests send
// that too). Ids in later segments are left as sent.
func (s *Server) canonicalPath(r *http.Request) {
	p := r.URL.Path
	if len(p) > len(Prefix)+1 && strings.HasSuffix(p, "/") {
		p = strings.TrimSuffix(p, "/")
	}
	if rest, ok := strings.CutPrefix(p, Prefix+"/"); ok {
		seg, tail, _ := strings.Cut(rest, "/")
		if canon, ok := s.endpoints[strings.ToLower(seg)]; ok && canon != seg {
			p = Prefix + "/" + canon
			if strings.Contains(rest, "/") {
				p += "/" + tail
			}
		}
	}
	if p != r.URL.Path {
		r.URL.Path = p
		r.URL.RawPath = "" // derived from Path again when needed
	}
}

// requestID returns the client's X-Request-Id if it is sane (1 to 128
// printable ASCII characters without spaces), else a new random one.
func requestID(h string) string {
	if h != "" && len(h) <= maxRequestIDLength {
		sane := true
		for i := 0; i < len(h); i++ {
			if h[i] <= ' ' || h[i] > '~' {
				sane = false
				break
			}
		}
		if sane {
			return h
		}
	}
	var b [16]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand)
	return hex.EncodeToString(b[:])
}

// sanitizeMethod bounds the method label: any method we do not route is
// "other".
func sanitizeMethod(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions:
		return m
	}
	return "other"
}

// recorder remembers the status written through it.
type recorder struct {
	http.ResponseWriter
	status      int
	wroteHeader bool
}

func (r *recorder) WriteHeader(code int) {
	if !r.wroteHeader {
		r.status = code
		r.wroteHeader = true
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(b []byte) (int, error) {
	if !r.wroteHeader {
		r.WriteHeader(http.StatusOK)
	}
	return r.ResponseWriter.Write(b)
}

func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }
