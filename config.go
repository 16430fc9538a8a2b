package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/scim-bridge/scim-bridge/scimhttp"
)

// Replay memory (SCIM_REPLAY_MEMORY_BYTES): the default, and the least
// that makes sense (less works, spilling at every transaction).
const (
	defaultReplayMemory = 128 << 20
	minReplayMemory     = 1 << 20
)

// userName hints (SCIM_USERNAME_HINT_BYTES): the default, enough for a
// million users (projection.Options.UserNameHintBytes), and the least
// table that is not off.
const (
	defaultUserNameHints = 32 << 20
	minUserNameHints     = 4096
)

// config is every setting; each is a flag and an environment variable.
type config struct {
	Listen        string
	AdminListen   string
	DebugListen   string
	DataDir       string
	ReplayMemory  int64
	UserNameHints int64
	Token         string
	TenantsFile   string
	BaseURL       string
	LogLevel      string
	LogFormat     string
	MaxBodyBytes  int64
	MaxPatchOps   int
	MaxBulkOps    int
	RetryAfter    time.Duration
	ShutdownGrace time.Duration
	RateLimitRPS  int
	RateBurst     int
	Audit         bool
	TrustForward  bool
	SchemasDir    string

	RequestTimeout    time.Duration
	TenantMaxInFlight int
	MaxInFlightBytes  int64
	MaxBodyValues     int

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

	// Several replicas (Kafka only): see docs/replicas.md.
	AdvertiseURL        string
	KafkaGroupID        string
	KafkaSessionTimeout time.Duration
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
	var maxBody, maxInFlightBytes, replayMemory, userNameHints int
	str(&c.Listen, "SCIM_LISTEN", "listen", ":8080", "HTTP address for SCIM, /healthz and /readyz")
	str(&c.AdminListen, "SCIM_ADMIN_LISTEN", "admin-listen", ":9090", "HTTP address for /metrics (and /healthz, /readyz), apart from SCIM: /metrics names every tenant; \"off\" (or an empty --admin-listen) disables it")
	str(&c.DebugListen, "SCIM_DEBUG_LISTEN", "debug-listen", "", "address of a separate listener for Go's profiler (/debug/pprof/), e.g. 127.0.0.1:6060; empty: off. Keep it off public networks")
	str(&c.DataDir, "SCIM_DATA_DIR", "data-dir", "./data", "directory of the Badger projection (and of the embedded log)")
	num(&replayMemory, "SCIM_REPLAY_MEMORY_BYTES", "replay-memory-bytes", defaultReplayMemory, "memory a replay into an empty projection (rebuild, first start) holds its writes in before it spills them to disk beside the projection")
	num(&userNameHints, "SCIM_USERNAME_HINT_BYTES", "username-hint-bytes", defaultUserNameHints, "memory of the table that lets userName eq filters read a user's record without reading its userName's key first (32 MiB: a million users); 0: off")
	str(&c.Token, "SCIM_TOKEN", "token", "", "bearer token of the single tenant \"default\"; a flag is visible to every user of the machine in ps, so prefer the variable")
	str(&c.TenantsFile, "SCIM_TENANTS_FILE", "tenants-file", "", "file of tenants and their token hashes (multi-tenant)")
	str(&c.BaseURL, "SCIM_BASE_URL", "base-url", "", "public base URL of the SCIM API for meta.location, e.g. https://scim.example.com/scim/v2 (default: from the request)")
	str(&c.LogLevel, "SCIM_LOG_LEVEL", "log-level", "info", "log level: debug, info, warn or error")
	str(&c.LogFormat, "SCIM_LOG_FORMAT", "log-format", "json", "log format: json or text")
	num(&maxBody, "SCIM_MAX_BODY_BYTES", "max-body-bytes", 1<<20, "largest request body accepted, a bulk request's too (advertised as bulk.maxPayloadSize); larger ones get 413")
	num(&c.MaxBodyValues, "SCIM_MAX_BODY_VALUES", "max-body-values", scimhttp.DefaultMaxBodyValues, "most JSON values and object keys in one request body, counted before any is decoded; more get 413. Raise it with SCIM_MAX_BODY_BYTES")
	num(&c.MaxPatchOps, "SCIM_MAX_PATCH_OPS", "max-patch-ops", scimhttp.DefaultMaxPatchOps, "most operations in one PATCH request")
	num(&c.MaxBulkOps, "SCIM_BULK_MAX_OPERATIONS", "bulk-max-operations", 1000, "most operations in one bulk request (advertised as bulk.maxOperations); more get 413")
	dur(&c.RetryAfter, "SCIM_RETRY_AFTER", "retry-after", 5*time.Second, "Retry-After given with 503 when the event log is unavailable")
	num(&c.RateLimitRPS, "SCIM_RATE_LIMIT", "rate-limit", 0, "requests per second a tenant may make, for tenants whose entry in the tenants file sets none (0: unlimited); over it: 429 with Retry-After")
	num(&c.RateBurst, "SCIM_RATE_BURST", "rate-burst", 0, "burst allowed above SCIM_RATE_LIMIT (0: the limit itself)")
	boolean(&c.Audit, "SCIM_AUDIT", "audit", false, "log every write request of every tenant with its body redacted (shapes and attribute names, no values); a tenant's \"audit\" in the tenants file does it for that tenant")
	boolean(&c.TrustForward, "SCIM_TRUST_FORWARDED", "trust-forwarded", false, "derive meta.location from X-Forwarded-Proto and X-Forwarded-Host (behind a trusted proxy)")
	str(&c.SchemasDir, "SCIM_SCHEMAS_DIR", "schemas-dir", "", "directory of custom extension schema files (*.json, one RFC 7643 schema each, see README); empty: none")
	dur(&c.RequestTimeout, "SCIM_REQUEST_TIMEOUT", "request-timeout", scimhttp.DefaultRequestTimeout, "deadline of every request (at most 60s); past it the work stops and the client gets 503 with Retry-After")
	num(&c.TenantMaxInFlight, "SCIM_TENANT_MAX_IN_FLIGHT", "tenant-max-in-flight", scimhttp.DefaultTenantMaxInFlight, "requests of one tenant served at once; more get 429 with Retry-After")
	num(&maxInFlightBytes, "SCIM_MAX_IN_FLIGHT_BYTES", "max-in-flight-bytes", scimhttp.DefaultMaxInFlightBytes, "request-body bytes read and decoded at once, over all tenants (one tenant: half); a body that does not fit gets 503 with Retry-After")
	dur(&c.ShutdownGrace, "SCIM_SHUTDOWN_GRACE", "shutdown-grace", 20*time.Second, "how long shutdown waits for in-flight requests")
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
	str(&c.KafkaSASLPassword, "KAFKA_SASL_PASSWORD", "kafka-sasl-password", "", "SASL password; a flag is visible to every user of the machine in ps, so prefer the variable")
	str(&c.AdvertiseURL, "SCIM_ADVERTISE_URL", "advertise-url", "", "base URL other replicas reach this one at, where they forward its tenants' writes (in Kubernetes: http://$(POD_IP):8080); empty: http://HOST:PORT from SCIM_LISTEN, HOST the machine's host name when the address has none")
	str(&c.KafkaGroupID, "KAFKA_GROUP_ID", "kafka-group-id", "", "consumer group that assigns write ownership of the partitions to the replicas (used for nothing else; no offsets); empty: KAFKA_TOPIC + \".writers\"")
	dur(&c.KafkaSessionTimeout, "KAFKA_SESSION_TIMEOUT", "kafka-session-timeout", 10*time.Second, "how long the writers' group waits for a silent replica before its partitions move to the others (within the broker's group.min/max.session.timeout.ms)")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: scim-bridge %s [flags]\n\n%s\nEvery flag can also be set by its environment variable; a flag given on the command line wins.\n\n", cmd, commandHelp[cmd])
		for _, s := range all {
			if cmd == "rebuild" && !rebuildUses(s.env) {
				continue
			}
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
	c.ReplayMemory = int64(replayMemory)
	c.UserNameHints = int64(userNameHints)
	if strings.EqualFold(c.AdminListen, "off") {
		c.AdminListen = "" // an empty variable cannot say "off": it means "unset"
	}
	return c, errors.Join(envErr, c.validate(cmd))
}

// commandHelp says what a subcommand that takes the settings does.
var commandHelp = map[string]string{
	"serve": `Runs the service: SCIM 2.0 at http://HOST:PORT/scim/v2 on SCIM_LISTEN, /metrics on
SCIM_ADMIN_LISTEN. Every accepted write is appended to the event log (Kafka when KAFKA_BROKERS
is set, else the embedded log in SCIM_DATA_DIR/log) and read back from the projection in
SCIM_DATA_DIR/projection.
`,
	"rebuild": `Deletes the projection in SCIM_DATA_DIR/projection, replays the whole event log into a new
one and exits: 0 once it has caught up with the log, 1 with the reason when the replay cannot
finish. It reads the same settings as serve (and accepts all of serve's flags); the ones below
are those it uses.
`,
}

// rebuildUses reports whether rebuild reads the setting of env.
func rebuildUses(env string) bool {
	switch env {
	case "SCIM_DATA_DIR", "SCIM_LOG_LEVEL", "SCIM_LOG_FORMAT", "SCIM_SCHEMAS_DIR", "SCIM_REPLAY_MEMORY_BYTES":
		return true
	}
	switch env {
	case "KAFKA_APPEND_TIMEOUT", "KAFKA_GROUP_ID", "KAFKA_SESSION_TIMEOUT":
		return false
	}
	return strings.HasPrefix(env, "KAFKA_")
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
	if c.ReplayMemory < minReplayMemory {
		errs = append(errs, fmt.Errorf("SCIM_REPLAY_MEMORY_BYTES=%d: must be at least %d (1 MiB)", c.ReplayMemory, minReplayMemory))
	}
	if c.UserNameHints != 0 && c.UserNameHints < minUserNameHints {
		errs = append(errs, fmt.Errorf("SCIM_USERNAME_HINT_BYTES=%d: must be 0 (off) or at least %d", c.UserNameHints, minUserNameHints))
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
	if c.MaxBodyValues < 1 {
		errs = append(errs, fmt.Errorf("SCIM_MAX_BODY_VALUES=%d: must be at least 1", c.MaxBodyValues))
	}
	if c.MaxPatchOps < 1 {
		errs = append(errs, fmt.Errorf("SCIM_MAX_PATCH_OPS=%d: must be at least 1", c.MaxPatchOps))
	}
	if c.MaxBulkOps < 1 {
		errs = append(errs, fmt.Errorf("SCIM_BULK_MAX_OPERATIONS=%d: must be at least 1", c.MaxBulkOps))
	}
	if c.KafkaBrokers != "" && c.KafkaPartitions < 1 {
		errs = append(errs, fmt.Errorf("KAFKA_PARTITIONS=%d: must be at least 1", c.KafkaPartitions))
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
	errs = append(errs, c.validateKafka()...)
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

// validateKafka checks the Kafka settings that can be checked without a
// broker, naming the variable of each problem.
func (c config) validateKafka() []error {
	var errs []error
	if c.KafkaBrokers == "" {
		return nil
	}
	for _, b := range strings.Split(c.KafkaBrokers, ",") {
		b = strings.TrimSpace(b)
		if b == "" {
			continue
		}
		host, port, err := net.SplitHostPort(b)
		if err != nil || host == "" {
			errs = append(errs, fmt.Errorf("KAFKA_BROKERS: %q is not host:port", b))
			continue
		}
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			errs = append(errs, fmt.Errorf("KAFKA_BROKERS: %q: port %q is not a port number", b, port))
		}
	}
	switch strings.ToUpper(c.KafkaSASLMechanism) {
	case "":
		if c.KafkaSASLUser != "" || c.KafkaSASLPassword != "" {
			errs = append(errs, errors.New("KAFKA_SASL_USERNAME/KAFKA_SASL_PASSWORD are set but KAFKA_SASL_MECHANISM is not: set it to PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512"))
		}
	case "PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512":
		if c.KafkaSASLUser == "" {
			errs = append(errs, fmt.Errorf("KAFKA_SASL_MECHANISM=%s needs KAFKA_SASL_USERNAME", c.KafkaSASLMechanism))
		}
	default:
		errs = append(errs, fmt.Errorf("KAFKA_SASL_MECHANISM=%q: want PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512", c.KafkaSASLMechanism))
	}
	if c.KafkaSessionTimeout < time.Second || c.KafkaSessionTimeout > 30*time.Minute {
		errs = append(errs, fmt.Errorf("KAFKA_SESSION_TIMEOUT=%s: must be 1s to 30m (and within the broker's group.min.session.timeout.ms, 6s by default, and group.max.session.timeout.ms)", c.KafkaSessionTimeout))
	}
	if u := c.AdvertiseURL; u != "" && (!strings.HasPrefix(u, "http://") && !strings.HasPrefix(u, "https://") ||
		len(u) > 1024 || strings.ContainsFunc(u, func(r rune) bool { return r < 0x21 || r > 0x7e })) {
		errs = append(errs, fmt.Errorf("SCIM_ADVERTISE_URL=%q: want an http:// or https:// URL of at most 1024 printable characters", u))
	}
	if (c.KafkaTLSCert == "") != (c.KafkaTLSKey == "") {
		errs = append(errs, errors.New("KAFKA_TLS_CERT_FILE and KAFKA_TLS_KEY_FILE go together: set both for mutual TLS, or neither"))
	}
	return errs
}
