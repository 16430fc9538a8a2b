package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"path/filepath"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/scim-bridge/scim-bridge/bridge"
	"github.com/scim-bridge/scim-bridge/events"
	"github.com/scim-bridge/scim-bridge/events/kafka"
	"github.com/scim-bridge/scim-bridge/projection"
	"github.com/scim-bridge/scim-bridge/scimhttp"
	"github.com/scim-bridge/scim-bridge/scimhttp/tenants"
)

// serve runs the service until ctx ends (nil) or a part of it stops on its
// own (its error). It sets the parts up in one line, each recording its
// teardown (see lifecycle), and starts serving before the log is reachable:
// a Kafka log connects in the background, and until it has, reads are
// answered from the projection, writes get 503 and /readyz says not ready.
// A Kafka error no retry fixes (a compacted topic, a rejected login) ends
// serve with that error.
func serve(ctx context.Context, c config, stderr io.Writer, started chan<- string) (err error) {
	logger := newLogger(c, stderr)
	lc := newLifecycle()
	defer func() { err = errors.Join(err, lc.stop()) }()

	promReg := newRegistry()
	reg, err := loadRegistry(c.SchemasDir)
	if err != nil {
		return fmt.Errorf("load schemas: %w", err)
	}
	// Listen first: an address in use stops the start before anything opens.
	ln, err := lc.listen("SCIM_LISTEN", c.Listen)
	if err != nil {
		return err
	}
	var adminLn, debugLn net.Listener
	if c.AdminListen != "" {
		if adminLn, err = lc.listen("SCIM_ADMIN_LISTEN", c.AdminListen); err != nil {
			return err
		}
	}
	if c.DebugListen != "" {
		if debugLn, err = lc.listen("SCIM_DEBUG_LISTEN", c.DebugListen); err != nil {
			return err
		}
	}

	store, err := openStore(c, reg, logger, promReg)
	if err != nil {
		return err
	}
	lc.onStop("close the projection", store.Close)

	l, err := openLog(c, logger, promReg)
	if err != nil {
		return err
	}
	lc.onStop("close the event log", l.Close)

	auth, watcher, err := authenticator(c, logger, promReg)
	if err != nil {
		return err
	}
	if watcher != nil {
		lc.run("tenants file watcher", watcher.Run)
	}

	// The projection follows the log from the moment it is connected.
	lc.run("event log and projection", func(ctx context.Context) error {
		if err := awaitLog(ctx, l); err != nil {
			return err
		}
		logger.Info("event log connected", "log", logKind(c), "partitions", l.Partitions())
		return store.Run(ctx, l)
	})

	own, err := newOwner(c, l, store, ln.Addr(), logger, promReg)
	if err != nil {
		return err
	}
	br, err := bridge.New(l, store, reg, bridge.Options{
		Ownership: ownership(own),
		Logger:    logger.With("component", "bridge"),
		// Append metrics carry the log they measure.
		Registerer: prometheus.WrapRegistererWith(prometheus.Labels{"log": logKind(c)}, promReg),
		// A write's whole wait is bounded by this plus bridge.DeadlineMargin.
		AppendTimeout: c.KafkaAppendTimeout,
	})
	if err != nil {
		return err
	}
	lc.onStop("close the bridge", br.Close)

	api, err := scimhttp.New(reg, br, store, auth, scimhttp.Options{
		Logger:                logger.With("component", "http"),
		Registerer:            promReg,
		MaxBodyBytes:          c.MaxBodyBytes,
		MaxBodyValues:         c.MaxBodyValues,
		MaxPatchOps:           c.MaxPatchOps,
		MaxBulkOps:            c.MaxBulkOps,
		BaseURL:               c.BaseURL,
		TrustForwardedHeaders: c.TrustForward,
		RetryAfter:            c.RetryAfter,
		RateLimit:             tenants.RateLimit{RequestsPerSecond: float64(c.RateLimitRPS), Burst: c.RateBurst},
		Audit:                 c.Audit,
		AuditLogger:           logger.With("component", "audit"),
		RequestTimeout:        c.RequestTimeout,
		TenantMaxInFlight:     c.TenantMaxInFlight,
		MaxInFlightBytes:      c.MaxInFlightBytes,
		Replicas:              replicasOf(own, br),
		ForwardTimeout:        forwardTimeout(c),
	})
	if err != nil {
		return err
	}

	// /metrics is not on the SCIM listener: it names every tenant, with its
	// request counts, to whoever can reach the API.
	mux := http.NewServeMux()
	mux.Handle("/scim/", api.Handler())
	handleHealth(mux, l, store, own)
	lc.serveHTTP("SCIM HTTP server", newServer(mux, logger), ln, c.ShutdownGrace)
	adminAddr := "off"
	if adminLn != nil {
		admin := http.NewServeMux()
		admin.Handle("GET /metrics", promhttp.HandlerFor(promReg, promhttp.HandlerOpts{Registry: promReg}))
		handleHealth(admin, l, store, own)
		lc.serveHTTP("admin HTTP server", newServer(admin, logger), adminLn, c.ShutdownGrace)
		adminAddr = adminLn.Addr().String()
	}
	if debugLn != nil {
		// No write timeout: a CPU profile or trace streams for as long as asked.
		dbg := &http.Server{Handler: pprofMux(), ReadHeaderTimeout: 10 * time.Second}
		lc.serveHTTP("debug HTTP server", dbg, debugLn, c.ShutdownGrace)
	}

	if own != nil {
		// Last set up, first stopped: at shutdown the partitions are
		// closed and handed over before the HTTP servers drain.
		lc.run("write ownership", own.Run)
	}

	logger.Info("serving", "api", apiURL(c, ln.Addr()), "addr", ln.Addr().String(), "admin_addr", adminAddr,
		"log", logKind(c), "log_at", logWhere(c), "data_dir", c.DataDir, "version", version())
	if started != nil {
		started <- ln.Addr().String()
	}
	select {
	case <-ctx.Done():
		logger.Info("shutting down")
		return nil
	case <-lc.failed():
		return lc.err()
	}
}

// newRegistry returns the service's Prometheus registry with the Go and
// process collectors and scim_build_info.
func newRegistry() *prometheus.Registry {
	r := prometheus.NewRegistry()
	r.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	r.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name:        "scim_build_info",
		Help:        "Build information.",
		ConstLabels: prometheus.Labels{"version": version()},
	}, func() float64 { return 1 }))
	return r
}

// authenticator is the token → tenant table: the tenants file, reloaded
// by the returned watcher's Run (a bad file is logged and the previous one
// kept), or the single token of tenant "default" (no watcher).
func authenticator(c config, logger *slog.Logger, promReg prometheus.Registerer) (*tenantAuth, *tenants.Watcher, error) {
	if c.TenantsFile == "" {
		t, err := tenants.NewStatic(c.Token, tenants.Tenant{})
		if err != nil {
			return nil, nil, fmt.Errorf("SCIM_TOKEN: %w", err)
		}
		return &tenantAuth{Authenticator: t, TenantTable: t}, nil, nil
	}
	w, err := tenants.Open(c.TenantsFile, tenants.Options{Logger: logger.With("component", "tenants"), Registerer: promReg})
	if err != nil {
		return nil, nil, fmt.Errorf("SCIM_TENANTS_FILE: %w", err)
	}
	return &tenantAuth{Authenticator: w, TenantTable: w}, w, nil
}

// tenantAuth authenticates tokens and gives each tenant's policy.
type tenantAuth struct {
	scimhttp.Authenticator
	scimhttp.TenantTable
}

func newServer(h http.Handler, logger *slog.Logger) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       60 * time.Second,
		WriteTimeout:      90 * time.Second,
		IdleTimeout:       120 * time.Second,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
}

// handleHealth adds /healthz (the process answers) and /readyz (see ready)
// to mux.
func handleHealth(mux *http.ServeMux, l events.Log, store *projection.Store, own *kafka.Owner) {
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		if err := ready(r.Context(), l, store, own); err != nil {
			http.Error(w, "not ready: "+err.Error(), http.StatusServiceUnavailable)
			return
		}
		w.Write([]byte("ready\n"))
	})
}

// ready is the readiness check: the projection has caught up with the log,
// the log answers (a Kafka log that has not connected yet does not), and,
// with Kafka, this replica has taken part in the writers' group once, so
// every write it gets is served here or forwarded.
func ready(ctx context.Context, l events.Log, store *projection.Store, own *kafka.Owner) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if _, err := l.End(ctx); err != nil {
		return fmt.Errorf("event log unreachable: %w", err)
	}
	if !store.CaughtUp() {
		return errors.New("projection is catching up with the log")
	}
	if own != nil && !own.Ready() {
		return errors.New("joining the writers' group")
	}
	return nil
}

// pprofMux serves Go's profiler, for SCIM_DEBUG_LISTEN only. It is not on
// the admin listener, which the metrics scraper reaches across the
// cluster: a profile holds memory contents, and /cmdline the flags (a
// --token, a --kafka-sasl-password). Its own listener can stay on
// 127.0.0.1, reachable only from inside the pod (kubectl port-forward).
func pprofMux() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	return mux
}

// apiURL is where the SCIM API answers: SCIM_BASE_URL when set, else the
// listener's address, with an unspecified host shown as localhost.
func apiURL(c config, addr net.Addr) string {
	if c.BaseURL != "" {
		return c.BaseURL
	}
	host, port, err := net.SplitHostPort(addr.String())
	if err != nil {
		return "http://" + addr.String() + "/scim/v2"
	}
	if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
		host = "localhost"
	}
	return "http://" + net.JoinHostPort(host, port) + "/scim/v2"
}

// logWhere names the event log: the embedded log's directory, or Kafka's
// brokers and topic.
func logWhere(c config) string {
	if c.KafkaBrokers == "" {
		return filepath.Join(c.DataDir, "log")
	}
	return c.KafkaBrokers + " topic " + c.KafkaTopic
}
