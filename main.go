// Command scim-bridge is a SCIM 2.0 service provider (RFC 7643, RFC 7644) that
// turns every accepted write into a domain event on a log — Kafka, or an
// embedded log in its data directory — and answers reads from a local Badger
// projection of that log.
//
// Subcommands:
//
//	scim-bridge serve      run the service
//	scim-bridge rebuild    delete the projection and replay the log into it
//	scim-bridge version    print the version
//
// Every flag has an environment variable; `scim-bridge serve --help` lists them.
package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/scim-bridge/scim-bridge/bridge"
	"github.com/scim-bridge/scim-bridge/events"
	"github.com/scim-bridge/scim-bridge/events/kafka"
	"github.com/scim-bridge/scim-bridge/projection"
	"github.com/scim-bridge/scim-bridge/schemas"
	"github.com/scim-bridge/scim-bridge/scimhttp"
	"github.com/scim-bridge/scim-bridge/scimhttp/tenants"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr, nil); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		fmt.Fprintln(os.Stderr, "scim-bridge:", err)
		os.Exit(1)
	}
}

const usage = `scim-bridge: a SCIM 2.0 service provider that turns every write into a domain event.

Usage:
  scim-bridge serve [flags]     run the service (SCIM at http://HOST:PORT/scim/v2)
  scim-bridge rebuild [flags]   delete the projection and replay the event log into it
  scim-bridge token new --tenant NAME
                                print a new bearer token and its line for SCIM_TENANTS_FILE
  scim-bridge version           print the version

Every flag can also be set by its environment variable (shown in brackets).
`

// run is the whole program; tests call it. started, if not nil, receives the
// HTTP listener's address once the service accepts connections.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer, started chan<- string) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return errors.New("no subcommand given")
	}
	switch args[0] {
	case "serve":
		cfg, err := parseConfig("serve", args[1:], getenv, stderr)
		if err != nil {
			return err
		}
		return serve(ctx, cfg, stderr, started)
	case "rebuild":
		cfg, err := parseConfig("rebuild", args[1:], getenv, stderr)
		if err != nil {
			return err
		}
		return rebuild(ctx, cfg, stderr)
	case "token":
		return tokenCmd(args[1:], stdout, stderr)
	case "version", "--version":
		fmt.Fprintln(stdout, "scim-bridge", version())
		return nil
	case "-h", "--help", "help":
		fmt.Fprint(stdout, usage+"\n")
		// The flags of serve and rebuild, with their environment variables.
		if _, err := parseConfig("serve", []string{"--help"}, getenv, stdout); !errors.Is(err, flag.ErrHelp) {
			return err
		}
		return nil
	}
	fmt.Fprint(stderr, usage)
	return fmt.Errorf("unknown subcommand %q", args[0])
}

// config is every setting; each is a flag and an environment variable.
type config struct {
	Listen        string
	DebugListen   string
	DataDir       string
	Token         string
	TenantsFile   string
	BaseURL       string
	LogLevel      string
	LogFormat     string
	MaxBodyBytes  int64
	MaxPatchOps   int
	RetryAfter    time.Duration
	ShutdownGrace time.Duration
	RateLimitRPS  int
	RateBurst     int
	Audit         bool
	TrustForward  bool

	RequestTimeout    time.Duration
	TenantMaxInFlight int
	MaxInFlightBytes  int64

	KafkaBrokers       string
	KafkaTopic         string
	KafkaPartitions    int
	KafkaReplication   int
	KafkaAppendTimeout time.Duration
	KafkaRetention     time.Duration
	KafkaTLS           bool
	KafkaTLSCA         string
	KafkaTLSCert       string
	KafkaTLSKey        string
	KafkaSASLMechanism string
	KafkaSASLUser      string
	KafkaSASLPassword  string
}

// setting binds one flag to its environment variable: the variable, when
// set, is the flag's default, and a flag given on the command line wins.
type setting struct {
	env, flag, help string
}

func parseConfig(cmd string, args []string, getenv func(string) string, stderr io.Writer) (config, error) {
	var c config
	fs := flag.NewFlagSet("scim-bridge "+cmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	var envErr error
	var all []setting
	str := func(p *string, env, name, def, help string) {
		if v := getenv(env); v != "" {
			def = v
		}
		fs.StringVar(p, name, def, help)
		all = append(all, setting{env, name, help})
	}
	num := func(p *int, env, name string, def int, help string) {
		if v := getenv(env); v != "" {
			if _, err := fmt.Sscan(v, &def); err != nil {
				envErr = errors.Join(envErr, fmt.Errorf("%s=%q: not a whole number", env, v))
			}
		}
		fs.IntVar(p, name, def, help)
		all = append(all, setting{env, name, help})
	}
	dur := func(p *time.Duration, env, name string, def time.Duration, help string) {
		if v := getenv(env); v != "" {
			d, err := time.ParseDuration(v)
			if err != nil {
				envErr = errors.Join(envErr, fmt.Errorf("%s=%q: not a duration (e.g. 5s)", env, v))
			}
			def = d
		}
		fs.DurationVar(p, name, def, help)
		all = append(all, setting{env, name, help})
	}
	boolean := func(p *bool, env, name string, def bool, help string) {
		if v := getenv(env); v != "" {
			switch strings.ToLower(v) {
			case "1", "true", "yes", "on":
				def = true
			case "0", "false", "no", "off":
				def = false
			default:
				envErr = errors.Join(envErr, fmt.Errorf("%s=%q: not a boolean", env, v))
			}
		}
		fs.BoolVar(p, name, def, help)
		all = append(all, setting{env, name, help})
	}
	var maxBody, maxInFlightBytes int
	str(&c.Listen, "SCIM_LISTEN", "listen", ":8080", "HTTP address for SCIM, /metrics, /healthz and /readyz")
	str(&c.DebugListen, "SCIM_DEBUG_LISTEN", "debug-listen", "", "address of a separate listener for Go's profiler (/debug/pprof/), e.g. 127.0.0.1:6060; empty: off. Keep it off public networks")
	str(&c.DataDir, "SCIM_DATA_DIR", "data-dir", "./data", "directory of the Badger projection (and of the embedded log)")
	str(&c.Token, "SCIM_TOKEN", "token", "", "bearer token of the single tenant \"default\"")
	str(&c.TenantsFile, "SCIM_TENANTS_FILE", "tenants-file", "", "file of tenants and their token hashes (multi-tenant)")
	str(&c.BaseURL, "SCIM_BASE_URL", "base-url", "", "public base URL of the SCIM API for meta.location, e.g. https://scim.example.com/scim/v2 (default: from the request)")
	str(&c.LogLevel, "SCIM_LOG_LEVEL", "log-level", "info", "log level: debug, info, warn or error")
	str(&c.LogFormat, "SCIM_LOG_FORMAT", "log-format", "json", "log format: json or text")
	num(&maxBody, "SCIM_MAX_BODY_BYTES", "max-body-bytes", 1<<20, "largest request body accepted (maxPayloadSize); larger ones get 413")
	num(&c.MaxPatchOps, "SCIM_MAX_PATCH_OPS", "max-patch-ops", 1000, "most operations in one PATCH request")
	dur(&c.RetryAfter, "SCIM_RETRY_AFTER", "retry-after", 5*time.Second, "Retry-After given with 503 when the event log is unavailable")
	num(&c.RateLimitRPS, "SCIM_RATE_LIMIT", "rate-limit", 0, "requests per second a tenant may make, for tenants whose entry in the tenants file sets none (0: unlimited); over it: 429 with Retry-After")
	num(&c.RateBurst, "SCIM_RATE_BURST", "rate-burst", 0, "burst allowed above SCIM_RATE_LIMIT (0: the limit itself)")
	boolean(&c.Audit, "SCIM_AUDIT", "audit", false, "log every write request of every tenant with its body redacted (shapes and attribute names, no values); a tenant's \"audit\" in the tenants file does it for that tenant")
	boolean(&c.TrustForward, "SCIM_TRUST_FORWARDED", "trust-forwarded", false, "derive meta.location from X-Forwarded-Proto and X-Forwarded-Host (behind a trusted proxy)")
	dur(&c.ShutdownGrace, "SCIM_SHUTDOWN_GRACE", "shutdown-grace", 20*time.Second, "how long shutdown waits for in-flight requests")
	dur(&c.RequestTimeout, "SCIM_REQUEST_TIMEOUT", "request-timeout", scimhttp.DefaultRequestTimeout, "deadline of every request (at most 60s); past it the work stops and the client gets 503 with Retry-After")
	num(&c.TenantMaxInFlight, "SCIM_TENANT_MAX_IN_FLIGHT", "tenant-max-in-flight", scimhttp.DefaultTenantMaxInFlight, "requests of one tenant served at once; more get 429 with Retry-After")
	num(&maxInFlightBytes, "SCIM_MAX_IN_FLIGHT_BYTES", "max-in-flight-bytes", scimhttp.DefaultMaxInFlightBytes, "request-body bytes read and decoded at once, over all tenants (one tenant: half); a body that does not fit gets 503 with Retry-After")
	str(&c.KafkaBrokers, "KAFKA_BROKERS", "kafka-brokers", "", "comma-separated Kafka bootstrap brokers; empty means the embedded log")
	str(&c.KafkaTopic, "KAFKA_TOPIC", "kafka-topic", "scim.events", "event topic")
	num(&c.KafkaPartitions, "KAFKA_PARTITIONS", "kafka-partitions", 12, "partitions of the topic when it is created")
	num(&c.KafkaReplication, "KAFKA_REPLICATION_FACTOR", "kafka-replication-factor", -1, "replication factor of the topic when it is created (-1: the broker's default)")
	dur(&c.KafkaAppendTimeout, "KAFKA_APPEND_TIMEOUT", "kafka-append-timeout", 5*time.Second, "how long an append waits for Kafka before the client gets 503")
	dur(&c.KafkaRetention, "KAFKA_RETENTION", "kafka-retention", 0, "retention of the topic when it is created (0: forever; the topic is the source of truth)")
	boolean(&c.KafkaTLS, "KAFKA_TLS", "kafka-tls", false, "connect to Kafka with TLS")
	str(&c.KafkaTLSCA, "KAFKA_TLS_CA_FILE", "kafka-tls-ca-file", "", "PEM file of the CA that signed the brokers' certificates (implies TLS)")
	str(&c.KafkaTLSCert, "KAFKA_TLS_CERT_FILE", "kafka-tls-cert-file", "", "PEM client certificate for mutual TLS (implies TLS)")
	str(&c.KafkaTLSKey, "KAFKA_TLS_KEY_FILE", "kafka-tls-key-file", "", "PEM key of the client certificate")
	str(&c.KafkaSASLMechanism, "KAFKA_SASL_MECHANISM", "kafka-sasl-mechanism", "", "SASL mechanism: PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512 (empty: none)")
	str(&c.KafkaSASLUser, "KAFKA_SASL_USERNAME", "kafka-sasl-username", "", "SASL user name")
	str(&c.KafkaSASLPassword, "KAFKA_SASL_PASSWORD", "kafka-sasl-password", "", "SASL password")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: scim-bridge %s [flags]\n\nEvery flag can also be set by its environment variable; a flag given on the command line wins.\n\n", cmd)
		for _, s := range all {
			f := fs.Lookup(s.flag)
			def := ""
			if f.DefValue != "" && !strings.Contains(s.env, "PASSWORD") && s.env != "SCIM_TOKEN" {
				def = fmt.Sprintf(" (default %s)", f.DefValue)
			}
			fmt.Fprintf(stderr, "  --%s  [%s]\n      %s%s\n", s.flag, s.env, s.help, def)
		}
	}
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected arguments: %s", strings.Join(fs.Args(), " "))
	}
	c.MaxBodyBytes = int64(maxBody)
	c.MaxInFlightBytes = int64(maxInFlightBytes)
	return c, errors.Join(envErr, c.validate(cmd))
}

func (c config) validate(cmd string) error {
	var errs []error
	if cmd == "serve" && c.Token == "" && c.TenantsFile == "" {
		errs = append(errs, errors.New("no bearer token configured: set SCIM_TOKEN (or --token) to the token your identity provider will send, e.g. SCIM_TOKEN=$(openssl rand -hex 32), or SCIM_TENANTS_FILE to a tenants file (see 'scim-bridge token new')"))
	}
	if c.Token != "" && c.TenantsFile != "" {
		errs = append(errs, errors.New("both SCIM_TOKEN and SCIM_TENANTS_FILE are set: use one (the tenants file can hold a tenant \"default\")"))
	}
	if c.RateLimitRPS < 0 || c.RateBurst < 0 {
		errs = append(errs, fmt.Errorf("SCIM_RATE_LIMIT=%d, SCIM_RATE_BURST=%d: must not be negative", c.RateLimitRPS, c.RateBurst))
	}
	if c.DataDir == "" {
		errs = append(errs, errors.New("SCIM_DATA_DIR must not be empty"))
	}
	if _, err := parseLevel(c.LogLevel); err != nil {
		errs = append(errs, err)
	}
	if c.LogFormat != "json" && c.LogFormat != "text" {
		errs = append(errs, fmt.Errorf("SCIM_LOG_FORMAT=%q: want json or text", c.LogFormat))
	}
	if c.MaxBodyBytes < 1024 {
		errs = append(errs, fmt.Errorf("SCIM_MAX_BODY_BYTES=%d: must be at least 1024", c.MaxBodyBytes))
	}
	if c.RequestTimeout < time.Second || c.RequestTimeout > 60*time.Second {
		errs = append(errs, fmt.Errorf("SCIM_REQUEST_TIMEOUT=%s: must be 1s to 60s, so the answer is written before the HTTP server's 90s write timeout", c.RequestTimeout))
	}
	if c.TenantMaxInFlight < 1 {
		errs = append(errs, fmt.Errorf("SCIM_TENANT_MAX_IN_FLIGHT=%d: must be at least 1", c.TenantMaxInFlight))
	}
	if c.MaxInFlightBytes < c.MaxBodyBytes {
		errs = append(errs, fmt.Errorf("SCIM_MAX_IN_FLIGHT_BYTES=%d: must be at least SCIM_MAX_BODY_BYTES (%d)", c.MaxInFlightBytes, c.MaxBodyBytes))
	}
	if c.MaxPatchOps < 1 {
		errs = append(errs, fmt.Errorf("SCIM_MAX_PATCH_OPS=%d: must be at least 1", c.MaxPatchOps))
	}
	if c.KafkaBrokers != "" && c.KafkaPartitions < 1 {
		errs = append(errs, fmt.Errorf("KAFKA_PARTITIONS=%d: must be at least 1", c.KafkaPartitions))
	}
	if c.BaseURL != "" && !strings.HasPrefix(c.BaseURL, "http://") && !strings.HasPrefix(c.BaseURL, "https://") {
		errs = append(errs, fmt.Errorf("SCIM_BASE_URL=%q: must start with http:// or https://", c.BaseURL))
	}
	return errors.Join(errs...)
}

func parseLevel(s string) (slog.Level, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(s)); err != nil {
		return l, fmt.Errorf("SCIM_LOG_LEVEL=%q: want debug, info, warn or error", s)
	}
	return l, nil
}

func newLogger(c config, w io.Writer) *slog.Logger {
	level, _ := parseLevel(c.LogLevel)
	opts := &slog.HandlerOptions{Level: level}
	if c.LogFormat == "text" {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}

func version() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		return bi.Main.Version
	}
	return "(devel)"
}

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

// tokenCmd is `scim-bridge token new --tenant NAME`.
func tokenCmd(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "new" {
		fmt.Fprintln(stderr, "Usage: scim-bridge token new --tenant NAME")
		return errors.New("unknown token subcommand")
	}
	fs := flag.NewFlagSet("scim-bridge token new", flag.ContinueOnError)
	fs.SetOutput(stderr)
	name := fs.String("tenant", "", "the tenant the token is for (lower-case letters, digits and '-')")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if err := tenants.CheckName(*name); err != nil {
		return fmt.Errorf("--tenant %q: %w", *name, err)
	}
	tok, hash, err := tenants.NewToken()
	if err != nil {
		return err
	}
	entry, err := json.Marshal(tenants.Tenant{Name: *name, Tokens: []string{hash}})
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "token (give it to the identity provider; it is not stored and is shown only now):\n  %s\n", tok)
	fmt.Fprintf(stdout, "tenants file entry (add it to \"tenants\" in SCIM_TENANTS_FILE, or add the hash to the tenant's \"tokens\"):\n  %s\n", entry)
	return nil
}

// openStore opens the projection in the data directory. A projection
// another version wrote in a different key layout is deleted, so that Run
// replays the log into a new one, as `rebuild` would.
func openStore(c config, reg *schemas.Registry, logger *slog.Logger, promReg prometheus.Registerer) (*projection.Store, error) {
	if err := os.MkdirAll(c.DataDir, 0o750); err != nil {
		return nil, fmt.Errorf("data directory: %w", err)
	}
	dir := filepath.Join(c.DataDir, "projection")
	opts := projection.Options{Logger: logger.With("component", "projection"), Registerer: promReg}
	st, err := projection.Open(dir, reg, opts)
	if errors.Is(err, projection.ErrFormat) {
		logger.Warn("deleting the projection to replay the log into the current format", "err", err.Error())
		if err := os.RemoveAll(dir); err != nil {
			return nil, fmt.Errorf("delete the projection: %w", err)
		}
		st, err = projection.Open(dir, reg, opts)
	}
	if err != nil {
		return nil, fmt.Errorf("open the projection in %s: %w", c.DataDir, err)
	}
	return st, nil
}

// connectLog opens the configured log. Kafka is retried, with backoff,
// for as long as it is unreachable (until ctx ends), so that the service
// can start — serving reads, answering writes with 503, not ready — while
// Kafka is down. Errors that a retry cannot fix (a compacted topic, bad
// settings) end it at once.
func connectLog(ctx context.Context, c config, logger *slog.Logger, promReg prometheus.Registerer) (events.Log, error) {
	if c.KafkaBrokers == "" {
		l, err := events.OpenEmbedded(filepath.Join(c.DataDir, "log"), events.EmbeddedOptions{Logger: logger})
		if err != nil {
			return nil, fmt.Errorf("open the embedded log: %w", err)
		}
		return l, nil
	}
	opts, err := kafkaOptions(c, logger, promReg)
	if err != nil {
		return nil, err
	}
	backoff := 500 * time.Millisecond
	for {
		actx, cancel := context.WithTimeout(ctx, 15*time.Second)
		l, err := kafka.Open(actx, opts)
		cancel()
		if err == nil {
			return l, nil
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if !errors.Is(err, events.ErrUnavailable) && !errors.Is(err, context.DeadlineExceeded) {
			return nil, fmt.Errorf("open the Kafka log: %w", err)
		}
		logger.Warn("kafka is unreachable; retrying", "component", "kafka", "err", err, "retry_in", backoff.String())
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 10*time.Second)
	}
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
		RequestTimeout:        c.RequestTimeout,
		TenantMaxInFlight:     c.TenantMaxInFlight,
		MaxInFlightBytes:      c.MaxInFlightBytes,
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

// rebuild deletes the projection and replays the log into a new one,
// returning once it has caught up.
func rebuild(ctx context.Context, c config, stderr io.Writer) error {
	logger := newLogger(c, stderr)
	reg, err := schemas.NewRegistry()
	if err != nil {
		return fmt.Errorf("load schemas: %w", err)
	}
	if err := os.RemoveAll(filepath.Join(c.DataDir, "projection")); err != nil {
		return fmt.Errorf("delete the projection: %w", err)
	}
	promReg := prometheus.NewRegistry()
	store, err := openStore(c, reg, logger, promReg)
	if err != nil {
		return err
	}
	defer store.Close()
	l, err := connectLog(ctx, c, logger, promReg)
	if err != nil {
		return err
	}
	defer l.Close()
	start := time.Now()
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- store.Run(runCtx, l) }()
	if err := store.WaitCaughtUp(runCtx); err != nil {
		cancel()
		if rerr := <-done; rerr != nil && !errors.Is(rerr, context.Canceled) {
			return fmt.Errorf("replay: %w", rerr)
		}
		return fmt.Errorf("replay: %w", err)
	}
	cancel()
	if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
		return fmt.Errorf("replay: %w", err)
	}
	var n int64
	for _, off := range store.Applied() {
		n += off
	}
	logger.Info("rebuilt the projection", "records", n, "duration", time.Since(start).String())
	return nil
}

// pprofMux serves Go's profiler, for SCIM_DEBUG_LISTEN only.
func pprofMux() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	return mux
}

func logKind(c config) string {
	if c.KafkaBrokers == "" {
		return "embedded"
	}
	return "kafka"
}

// kafkaOptions turns the configuration into the Kafka log's options.
func kafkaOptions(c config, logger *slog.Logger, reg prometheus.Registerer) (kafka.Options, error) {
	o := kafka.Options{
		Topic:             c.KafkaTopic,
		Partitions:        c.KafkaPartitions,
		ReplicationFactor: c.KafkaReplication,
		Retention:         c.KafkaRetention,
		AppendTimeout:     c.KafkaAppendTimeout,
		SASL: kafka.SASL{
			Mechanism: strings.ToLower(c.KafkaSASLMechanism),
			Username:  c.KafkaSASLUser,
			Password:  c.KafkaSASLPassword,
		},
		Logger:     logger,
		Registerer: reg,
	}
	for _, b := range strings.Split(c.KafkaBrokers, ",") {
		if b = strings.TrimSpace(b); b != "" {
			o.Brokers = append(o.Brokers, b)
		}
	}
	if c.KafkaTLS || c.KafkaTLSCA != "" || c.KafkaTLSCert != "" {
		t := &tls.Config{MinVersion: tls.VersionTLS12}
		if c.KafkaTLSCA != "" {
			pem, err := os.ReadFile(c.KafkaTLSCA)
			if err != nil {
				return o, fmt.Errorf("KAFKA_TLS_CA_FILE: %w", err)
			}
			t.RootCAs = x509.NewCertPool()
			if !t.RootCAs.AppendCertsFromPEM(pem) {
				return o, fmt.Errorf("KAFKA_TLS_CA_FILE %s: no PEM certificate in it", c.KafkaTLSCA)
			}
		}
		if c.KafkaTLSCert != "" || c.KafkaTLSKey != "" {
			cert, err := tls.LoadX509KeyPair(c.KafkaTLSCert, c.KafkaTLSKey)
			if err != nil {
				return o, fmt.Errorf("KAFKA_TLS_CERT_FILE/KAFKA_TLS_KEY_FILE: %w", err)
			}
			t.Certificates = []tls.Certificate{cert}
		}
		o.TLS = t
	}
	return o, nil
}
