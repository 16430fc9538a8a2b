package scimhttp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/gorilla/mux"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/scim-bridge/scim-bridge/bridge"
	"github.com/scim-bridge/scim-bridge/projection/view"
	"github.com/scim-bridge/scim-bridge/schemas"
	"github.com/scim-bridge/scim-bridge/scimhttp/tenants"
)

// Prefix is the path under which every SCIM endpoint is mounted.
const Prefix = "/scim/v2"

// Defaults of Options.
const (
	DefaultMaxBodyBytes    = 1 << 20
	DefaultPageSize        = 100
	DefaultMaxPageSize     = 1000
	DefaultMaxPatchOps     = schemas.DefaultMaxOperations
	DefaultMaxBulkOps      = 1000
	DefaultMaxFilterLength = schemas.MaxFilterLength
	DefaultRetryAfter      = 5 * time.Second
	DefaultRequestTimeout  = 30 * time.Second
	// DefaultTenantMaxInFlight lets one tenant keep both cores of a small
	// pod busy with many times as many clients as an IdP uses, while
	// another tenant's requests still get their turn.
	DefaultTenantMaxInFlight = 32
	// DefaultMaxInFlightBytes: decoding a body allocates at most about 13
	// times what it counts for in this budget (its size, or 16 bytes per
	// JSON value and key when it is denser: checkBody), for the costliest
	// shape, an object of many short keys; a 56 KB PATCH of Entra ID's
	// member adds, 6.5 times (TestDecode_MemoryPerReservedByte; before,
	// 98 and 60 times the body's size for short keys and "[1,1,…]":
	// docs/decisions.md, "Memory of decoding a request body").
	// 16 MiB of the costliest shapes decoding at once peaked at 73 to 122
	// MB of RSS (848 MB before), beside what serving a million users takes
	// (about 350 MB) in the Deployment's 2 GiB.
	DefaultMaxInFlightBytes = 16 << 20
	// DefaultMaxBodyValues is a quarter of DefaultMaxBodyBytes: real IdP
	// bodies hold about one JSON value or key per 10 bytes (8 to 12), so a
	// body of the largest size about 100,000, while the shapes that cost
	// the most memory to decode hold one per 2 to 3 bytes.
	DefaultMaxBodyValues = 1 << 18
)

// Writer is the write path (met by *bridge.Bridge). It takes what the
// handlers decoded from a request (a resource, a PATCH) and answers once
// the write is applied: the Reader then returns its result, as a GET
// would. A failure is an error whose [schemas.Kind] decides the HTTP
// status: KindNotFound for an unknown id, KindPrecondition when
// req.IfMatch does not match, KindUnavailable when the log is unreachable.
// Implementations must be safe for concurrent use.
type Writer interface {
	Create(ctx context.Context, req bridge.Request, rt *schemas.ResourceType, r schemas.Resource) (bridge.Applied, error)
	Replace(ctx context.Context, req bridge.Request, rt *schemas.ResourceType, id string, r schemas.Resource) (bridge.Applied, error)
	Patch(ctx context.Context, req bridge.Request, rt *schemas.ResourceType, id string, p schemas.Patch) (bridge.Applied, error)
	Delete(ctx context.Context, req bridge.Request, rt *schemas.ResourceType, id string) error
}

// Reader is the read model (met by *projection.Store, which main passes;
// scimhttp does not import it, to stay clear of Badger). Get returns a
// *schemas.Error of KindNotFound for an unknown id; List returns one of
// KindInvalidCursor for a bad cursor. Both must be safe for concurrent use.
type Reader interface {
	Get(ctx context.Context, tenant, resourceType, id string, o view.GetOptions) (view.Stored, error)
	List(ctx context.Context, tenant, resourceType string, q view.Query) (view.Page, error)
}

var _ Writer = (*bridge.Bridge)(nil)

// Options are the optional settings of a Server; the zero value is usable.
type Options struct {
	Logger     *slog.Logger          // nil: discard
	Registerer prometheus.Registerer // nil: metrics are kept but not registered

	MaxBodyBytes    int64 // request body limit, a bulk request's too (bulk.maxPayloadSize); 0: DefaultMaxBodyBytes
	DefaultPageSize int   // count when absent; 0: DefaultPageSize
	MaxPageSize     int   // count cap, advertised as filter.maxResults; 0: DefaultMaxPageSize
	// MaxPatchOps bounds the operations of one PATCH (schemas.ParsePatch:
	// more is 400 tooMany). 0: DefaultMaxPatchOps.
	MaxPatchOps     int
	MaxFilterLength int // bytes; 0: DefaultMaxFilterLength (schemas bounds it there too)
	// MaxBulkOps bounds the operations of one bulk request (advertised as
	// bulk.maxOperations; a rate-limited tenant's burst may bound it
	// lower). 0: DefaultMaxBulkOps.
	MaxBulkOps int
	// MaxBodyValues bounds the JSON values and object keys of one request
	// body (schemas.CheckRequestJSON), checked before any of them is
	// decoded: more is 413. 0: DefaultMaxBodyValues.
	MaxBodyValues int

	// BaseURL is the external URL of the SCIM root, e.g.
	// "https://scim.example.com/scim/v2", used for meta.location, Location and
	// $ref. Empty: derived from each request (TLS or not, Host), honouring
	// X-Forwarded-Proto and X-Forwarded-Host only with TrustForwardedHeaders.
	BaseURL               string
	TrustForwardedHeaders bool

	// CursorTimeout is advertised as pagination.cursorTimeout (RFC 9865)
	// when positive; the projection decides when a cursor expires.
	CursorTimeout time.Duration

	RetryAfter time.Duration // Retry-After of 503 and 429; 0: DefaultRetryAfter

	// RequestTimeout is every request's deadline, set on its context: the
	// read model and the bridge stop when it passes, a body still arriving
	// stops being read, and the client gets 503 with Retry-After. 0:
	// DefaultRequestTimeout.
	RequestTimeout time.Duration
	// TenantMaxInFlight bounds the requests of one tenant being served at
	// once; more get 429 with Retry-After. 0: DefaultTenantMaxInFlight.
	TenantMaxInFlight int
	// MaxInFlightBytes bounds the bytes of request bodies being read and
	// decoded at once, over all tenants; one tenant may hold half of it (at
	// least MaxBodyBytes). A body that does not fit gets 503 with
	// Retry-After: one with a Content-Length before any of it is read, one
	// without as it arrives. At least MaxBodyBytes; 0:
	// DefaultMaxInFlightBytes.
	MaxInFlightBytes int64

	// Replicas, when several replicas share the log, routes writes to the
	// replica that writes for their tenant and makes reads here reflect
	// every replica's writes (forward.go). nil: a single replica.
	Replicas Replicas
	// ForwardTimeout bounds a write forwarded to another replica (not a
	// bulk request, bounded by RequestTimeout): past it the client gets
	// 503. 0: DefaultForwardTimeout.
	ForwardTimeout time.Duration

	// UserPatchNoContent answers a User PATCH with 204 instead of 200 and
	// the user (see the package doc).
	UserPatchNoContent bool

	// Tenants gives each tenant's rate limit and audit switch and follows
	// reloads (*tenants.Watcher, or a fixed *tenants.Table). nil: the
	// authenticator, if it is a TenantTable; else no tenant has either
	// beyond RateLimit and Audit.
	Tenants TenantTable
	// RateLimit is the limit of tenants whose entry sets none; zero: those
	// are unlimited. A zero Burst is RequestsPerSecond rounded up.
	RateLimit tenants.RateLimit
	// Audit audits the writes of every tenant (the single-token mode's
	// switch); a tenant's own "audit" does it for that tenant.
	Audit bool
	// AuditLogger receives the audit lines (audit.go); nil: Logger.
	AuditLogger *slog.Logger

	Now func() time.Time // nil: time.Now
}

// Server serves SCIM over HTTP. It is safe for concurrent use.
type Server struct {
	reg     *schemas.Registry
	w       Writer
	r       Reader
	auth    Authenticator
	opts    Options
	log     *slog.Logger
	metrics *metrics
	router  *mux.Router
	handler http.Handler

	// endpoints maps the lower-cased first path segment after Prefix to
	// its canonical spelling ("users" -> "Users").
	endpoints map[string]string

	forward  *forwarder   // nil without Options.Replicas (forward.go)
	limiters *limiters    // the tenants' token buckets
	inFlight *inFlight    // the tenants' requests in flight
	bodies   *bodyBudget  // request-body bytes in flight
	audit    *slog.Logger // the audit log
	secrets  secretNames  // attributes whose values the audit log hides wholly
}

// New returns a Server over the registry, the write path, the read model and
// the authenticator.
func New(reg *schemas.Registry, w Writer, r Reader, auth Authenticator, opts Options) (*Server, error) {
	switch {
	case reg == nil:
		return nil, errors.New("scimhttp: nil registry")
	case w == nil:
		return nil, errors.New("scimhttp: nil writer")
	case r == nil:
		return nil, errors.New("scimhttp: nil reader")
	case auth == nil:
		return nil, errors.New("scimhttp: nil authenticator")
	case opts.MaxBodyBytes < 0, opts.DefaultPageSize < 0, opts.MaxPageSize < 0,
		opts.MaxPatchOps < 0, opts.MaxFilterLength < 0, opts.MaxBulkOps < 0, opts.MaxBodyValues < 0, opts.RetryAfter < 0,
		opts.RequestTimeout < 0, opts.TenantMaxInFlight < 0, opts.MaxInFlightBytes < 0:
		return nil, errors.New("scimhttp: negative limit in options")
	}
	if opts.BaseURL != "" && !strings.HasPrefix(opts.BaseURL, "http://") && !strings.HasPrefix(opts.BaseURL, "https://") {
		return nil, errors.New("scimhttp: base URL must start with http:// or https://")
	}
	opts.BaseURL = strings.TrimRight(opts.BaseURL, "/")
	if opts.MaxBodyBytes == 0 {
		opts.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if opts.MaxPageSize == 0 {
		opts.MaxPageSize = DefaultMaxPageSize
	}
	if opts.DefaultPageSize == 0 {
		opts.DefaultPageSize = min(DefaultPageSize, opts.MaxPageSize)
	}
	if opts.DefaultPageSize > opts.MaxPageSize {
		return nil, errors.New("scimhttp: default page size above the maximum")
	}
	if opts.MaxPatchOps == 0 {
		opts.MaxPatchOps = DefaultMaxPatchOps
	}
	if opts.MaxBulkOps == 0 {
		opts.MaxBulkOps = DefaultMaxBulkOps
	}
	if opts.MaxBodyValues == 0 {
		opts.MaxBodyValues = DefaultMaxBodyValues
	}
	if opts.MaxFilterLength == 0 {
		opts.MaxFilterLength = DefaultMaxFilterLength
	}
	if opts.RetryAfter == 0 {
		opts.RetryAfter = DefaultRetryAfter
	}
	if opts.RequestTimeout == 0 {
		opts.RequestTimeout = DefaultRequestTimeout
	}
	if opts.TenantMaxInFlight == 0 {
		opts.TenantMaxInFlight = DefaultTenantMaxInFlight
	}
	if opts.MaxInFlightBytes == 0 {
		opts.MaxInFlightBytes = max(DefaultMaxInFlightBytes, opts.MaxBodyBytes)
	}
	if opts.MaxInFlightBytes < opts.MaxBodyBytes {
		return nil, fmt.Errorf("scimhttp: in-flight body bytes (%d) below the body limit (%d): no largest body could be read", opts.MaxInFlightBytes, opts.MaxBodyBytes)
	}
	if opts.ForwardTimeout <= 0 {
		opts.ForwardTimeout = DefaultForwardTimeout
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Tenants == nil {
		opts.Tenants, _ = auth.(TenantTable)
	}
	rl, err := checkRateLimit(opts.RateLimit)
	if err != nil {
		return nil, err
	}
	opts.RateLimit = rl
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	s := &Server{
		reg:     reg,
		w:       w,
		r:       r,
		auth:    auth,
		opts:    opts,
		log:     logger, // main adds the component
		metrics: newMetrics(opts.Registerer),
	}
	s.limiters = newLimiters(opts.Registerer)
	s.inFlight = newInFlight(opts.Registerer)
	s.bodies = newBodyBudget(opts.Registerer, opts.MaxInFlightBytes, perTenantBodyBytes(opts.MaxInFlightBytes, opts.MaxBodyBytes))
	s.audit = logger
	if opts.AuditLogger != nil {
		s.audit = opts.AuditLogger
	}
	s.secrets = newSecretNames(reg)
	s.endpoints = map[string]string{}
	for _, name := range []string{".search", "ServiceProviderConfig", "ResourceTypes", "Schemas", "Bulk", "Me"} {
		s.endpoints[strings.ToLower(name)] = name
	}
	for _, rt := range reg.ResourceTypes() {
		name := strings.TrimPrefix(rt.Endpoint, "/")
		s.endpoints[strings.ToLower(name)] = name
	}
	s.router = s.routes()
	s.forward = s.newForwarder()
	s.handler = s.middleware(s.router)
	return s, nil
}

// Handler returns the HTTP handler serving everything under /scim/v2. Paths
// outside it answer 404 with a SCIM error; main mounts /healthz and /readyz
// beside it (and /metrics on a listener of its own).
func (s *Server) Handler() http.Handler { return s.handler }

// routes registers every route, per resource type (RFC 7644 §3.2). They
// are full paths on one router rather than a /scim/v2 subrouter: a mux
// subrouter's inherited prefix matcher clears a method mismatch, which
// would turn every 405 into a 404.
func (s *Server) routes() *mux.Router {
	r := mux.NewRouter()
	r.SkipClean(true) // a non-canonical path is a SCIM 404, not a redirect
	r.NotFoundHandler = s.handle(s.handleNotFound)
	r.MethodNotAllowedHandler = s.handle(s.handleMethodNotAllowed)

	for _, rt := range s.reg.ResourceTypes() {
		s.registerResourceRoutes(r, rt)
	}
	r.Handle(Prefix+"/.search", s.handle(s.handleRootSearch)).Methods(http.MethodPost)

	r.Handle(Prefix+"/ServiceProviderConfig", s.handle(s.handleServiceProviderConfig)).Methods(http.MethodGet, http.MethodHead)
	r.Handle(Prefix+"/ResourceTypes", s.handle(s.handleResourceTypes)).Methods(http.MethodGet, http.MethodHead)
	r.Handle(Prefix+"/ResourceTypes/{name}", s.handle(s.handleResourceType)).Methods(http.MethodGet, http.MethodHead)
	r.Handle(Prefix+"/Schemas", s.handle(s.handleSchemas)).Methods(http.MethodGet, http.MethodHead)
	r.Handle(Prefix+"/Schemas/{id}", s.handle(s.handleSchema)).Methods(http.MethodGet, http.MethodHead)

	r.Handle(Prefix+"/Bulk", s.handle(s.handleBulk)).Methods(http.MethodPost)

	h := s.handle(notImplemented("/Me is not supported"))
	r.Handle(Prefix+"/Me", h)
	r.PathPrefix(Prefix + "/Me/").Handler(h)
	return r
}

func (s *Server) registerResourceRoutes(r *mux.Router, rt *schemas.ResourceType) {
	ep := Prefix + rt.Endpoint
	r.Handle(ep, s.handle(s.resourceHandler(rt, s.handleList))).Methods(http.MethodGet, http.MethodHead)
	r.Handle(ep, s.handle(s.resourceHandler(rt, s.handleCreate))).Methods(http.MethodPost)
	// Before {id}, which would also match ".search".
	r.Handle(ep+"/.search", s.handle(s.resourceHandler(rt, s.handleSearch))).Methods(http.MethodPost)
	r.Handle(ep+"/{id}", s.handle(s.resourceHandler(rt, s.handleGet))).Methods(http.MethodGet, http.MethodHead)
	r.Handle(ep+"/{id}", s.handle(s.resourceHandler(rt, s.handleReplace))).Methods(http.MethodPut)
	r.Handle(ep+"/{id}", s.handle(s.resourceHandler(rt, s.handlePatch))).Methods(http.MethodPatch)
	r.Handle(ep+"/{id}", s.handle(s.resourceHandler(rt, s.handleDelete))).Methods(http.MethodDelete)
}

// handlerFunc is a handler that returns its error to the one adapter that
// writes errors (handle).
type handlerFunc func(w http.ResponseWriter, r *http.Request) error

// resourceHandler binds a handler to its resource type.
func (s *Server) resourceHandler(rt *schemas.ResourceType, h func(*schemas.ResourceType, http.ResponseWriter, *http.Request) error) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error { return h(rt, w, r) }
}

// handle adapts a handlerFunc: it records the route template for the
// request's log line and metrics and writes a returned error as a SCIM error.
func (s *Server) handle(h handlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if st := stateFrom(r.Context()); st != nil {
			if route := mux.CurrentRoute(r); route != nil {
				if tpl, err := route.GetPathTemplate(); err == nil {
					st.route = tpl
				}
			}
		}
		if err := h(w, r); err != nil {
			s.writeError(w, r, err)
		}
	})
}

func (s *Server) handleNotFound(w http.ResponseWriter, r *http.Request) error {
	return schemas.Errorf(schemas.KindNotFound, "no such endpoint")
}

// handleMethodNotAllowed answers 405 with the Allow header RFC 9110 §15.5.6
// asks for, found by matching the request with each other method.
func (s *Server) handleMethodNotAllowed(w http.ResponseWriter, r *http.Request) error {
	var allowed []string
	for _, m := range []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete} {
		r2 := r.Clone(r.Context())
		r2.Method = m
		var match mux.RouteMatch
		if s.router.Match(r2, &match) && match.MatchErr == nil {
			allowed = append(allowed, m)
		}
	}
	if len(allowed) > 0 {
		w.Header().Set("Allow", strings.Join(allowed, ", "))
	}
	return schemas.Errorf(schemas.KindMethodNotAllowed, "method %s is not allowed here", sanitizeMethod(r.Method))
}

func notImplemented(detail string) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		return schemas.Errorf(schemas.KindNotImplemented, "%s", detail)
	}
}
