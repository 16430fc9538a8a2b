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
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/scim-bridge/scim-bridge/bridge"
	"github.com/scim-bridge/scim-bridge/events"
	"github.com/scim-bridge/scim-bridge/projection"
	"github.com/scim-bridge/scim-bridge/schemas"
	"github.com/scim-bridge/scim-bridge/scimhttp"
	"github.com/scim-bridge/scim-bridge/scimhttp/tenants"
)

// authenticator is the token → tenant table: the tenants file, reloaded
// while serving (a bad file is logged and the previous one kept), or the
// single token of tenant "default".
func authenticator(ctx context.Context, c config, logger *slog.Logger, promReg prometheus.Registerer) (*tenantAuth, error) {
	if c.TenantsFile == "" {
		t, err := tenants.NewStatic(c.Token, tenants.Tenant{})
		if err != nil {
			return nil, fmt.Errorf("SCIM_TOKEN: %w", err)
		}
		return &tenantAuth{Authenticator: t, TenantTable: t}, nil
	}
	w, err := tenants.Open(c.TenantsFile, tenants.Options{Logger: logger.With("component", "tenants"), Registerer: promReg})
	if err != nil {
		return nil, fmt.Errorf("SCIM_TENANTS_FILE: %w", err)
	}
	go w.Run(ctx)
	return &tenantAuth{Authenticator: w, TenantTable: w}, nil
}

// tenantAuth authenticates tokens and gives each tenant's policy.
type tenantAuth struct {
	scimhttp.Authenticator
	scimhttp.TenantTable
}

// switchWriter is the SCIM API's writer: unavailable (503) until the log
// is connected and the bridge is built, then the bridge.
type switchWriter struct {
	b atomic.Pointer[bridge.Bridge]
}

var errNotConnected = &schemas.Error{Kind: schemas.KindUnavailable, Detail: "the event log is not connected yet; retry later"}

func (w *switchWriter) Create(ctx context.Context, req bridge.Request, rt *schemas.ResourceType, body []byte) (projection.Stored, error) {
	if b := w.b.Load(); b != nil {
		return b.Create(ctx, req, rt, body)
	}
	return projection.Stored{}, errNotConnected
}

func (w *switchWriter) Replace(ctx context.Context, req bridge.Request, rt *schemas.ResourceType, id string, body []byte) (projection.Stored, error) {
	if b := w.b.Load(); b != nil {
		return b.Replace(ctx, req, rt, id, body)
	}
	return projection.Stored{}, errNotConnected
}

func (w *switchWriter) Patch(ctx context.Context, req bridge.Request, rt *schemas.ResourceType, id string, body []byte) (projection.Stored, error) {
	if b := w.b.Load(); b != nil {
		return b.Patch(ctx, req, rt, id, body)
	}
	return projection.Stored{}, errNotConnected
}

func (w *switchWriter) Delete(ctx context.Context, req bridge.Request, rt *schemas.ResourceType, id string) error {
	if b := w.b.Load(); b != nil {
		return b.Delete(ctx, req, rt, id)
	}
	return errNotConnected
}

func serve(ctx context.Context, c config, stderr io.Writer, started chan<- string) error {
	logger := newLogger(c, stderr)
	promReg := prometheus.NewRegistry()
	promReg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	promReg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name:        "scim_build_info",
		Help:        "Build information.",
		ConstLabels: prometheus.Labels{"version": version()},
	}, func() float64 { return 1 }))

	reg, err := schemas.NewRegistry()
	if err != nil {
		return fmt.Errorf("load schemas: %w", err)
	}
	ln, err := net.Listen("tcp", c.Listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", c.Listen, err)
	}
	defer ln.Close()
	store, err := openStore(c, reg, logger, promReg)
	if err != nil {
		return err
	}
	defer store.Close()

	auth, err := authenticator(ctx, c, logger, promReg)
	if err != nil {
		return err
	}
	writer := &switchWriter{}
	api, err := scimhttp.New(reg, writer, store, auth, scimhttp.Options{
		Logger:                logger.With("component", "http"),
		Registerer:            promReg,
		MaxBodyBytes:          c.MaxBodyBytes,
		MaxPatchOps:           c.MaxPatchOps,
		BaseURL:               c.BaseURL,
		TrustForwardedHeaders: c.TrustForward,
		RetryAfter:            c.RetryAfter,
		RateLimit:             tenants.RateLimit{RequestsPerSecond: float64(c.RateLimitRPS), Burst: c.RateBurst},
		Audit:                 c.Audit,
		AuditLogger:           logger.With("component", "audit"),
	})
	if err != nil {
		return err
	}

	// The log connects in the background (Kafka may be down at start);
	// once it does, the projection follows it and the bridge takes writes.
	var log atomic.Pointer[events.Log]
	runCtx, cancelRun := context.WithCancel(context.Background())
	defer cancelRun()
	runDone := make(chan error, 1)
	go func() {
		l, err := connectLog(runCtx, c, logger, promReg)
		if err != nil {
			runDone <- err
			return
		}
		defer l.Close()
		br, err := bridge.New(l, store, reg, bridge.Options{
			Logger: logger.With("component", "bridge"),
			// Append metrics carry the log they measure.
			Registerer:  prometheus.WrapRegistererWith(prometheus.Labels{"log": logKind(c)}, promReg),
			MaxPatchOps: c.MaxPatchOps,
		})
		if err != nil {
			runDone <- err
			return
		}
		log.Store(&l)
		writer.b.Store(br)
		logger.Info("event log connected", "log", logKind(c), "partitions", l.Partitions())
		runDone <- store.Run(runCtx, l)
	}()

	mux := http.NewServeMux()
	mux.Handle("/scim/", api.Handler())
	mux.Handle("GET /metrics", promhttp.HandlerFor(promReg, promhttp.HandlerOpts{Registry: promReg}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		if err := ready(r.Context(), log.Load(), store); err != nil {
			http.Error(w, "not ready: "+err.Error(), http.StatusServiceUnavailable)
			return
		}
		w.Write([]byte("ready\n"))
	})
	srv := &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       60 * time.Second,
		WriteTimeout:      90 * time.Second,
		IdleTimeout:       120 * time.Second,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	srvDone := make(chan error, 1)
	go func() { srvDone <- srv.Serve(ln) }()
	if c.DebugListen != "" {
		dbg := &http.Server{Addr: c.DebugListen, Handler: pprofMux(), ReadHeaderTimeout: 10 * time.Second}
		go func() {
			if err := dbg.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
				logger.Error("debug listener stopped", "err", err)
			}
		}()
		defer dbg.Close()
	}
	logger.Info("serving", "addr", ln.Addr().String(), "log", logKind(c), "data_dir", c.DataDir)
	if started != nil {
		started <- ln.Addr().String()
	}

	var runErr error
	select {
	case <-ctx.Done():
		logger.Info("shutting down")
	case err := <-runDone:
		runErr = fmt.Errorf("event log and projection stopped: %w", err)
		runDone <- nil
	case err := <-srvDone:
		runErr = fmt.Errorf("http server stopped: %w", err)
	}
	// Stop accepting, let in-flight writes finish (they wait on the
	// projection, which keeps running until they are done), then stop the
	// projection and close the log and Badger.
	shutCtx, cancel := context.WithTimeout(context.Background(), c.ShutdownGrace)
	defer cancel()
	if err := srv.Shutdown(shutCtx); err != nil {
		logger.Warn("shutdown did not finish in time", "err", err)
	}
	if br := writer.b.Load(); br != nil {
		br.Close()
	}
	cancelRun()
	if err := <-runDone; runErr == nil && err != nil && !errors.Is(err, context.Canceled) {
		runErr = fmt.Errorf("projection: %w", err)
	}
	return runErr
}

// ready is the readiness check: the log is connected and answers, and the
// projection has caught up with it.
func ready(ctx context.Context, l *events.Log, store *projection.Store) error {
	if l == nil {
		return errors.New("the event log is not connected yet")
	}
	if !store.CaughtUp() {
		return errors.New("projection is catching up with the log")
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if _, err := (*l).End(ctx); err != nil {
		return fmt.Errorf("event log unreachable: %w", err)
	}
	return nil
}

func pprofMux() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	return mux
}
