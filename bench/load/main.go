// Command load drives a running scim-bridge over HTTP the way a fleet of
// identity providers would, and reports throughput and latency per
// operation, each also as a ratio to a bare net/http handler driven the same
// way on the same machine. See README.md beside this file.
//
// It seeds users and groups (or finds ones seeded earlier), then runs
// --concurrency workers for a bounded --duration or --max-requests. Each
// worker speaks for one tenant with that tenant's token and draws its ops by
// the --mix weights from its own PRNG stream, seeded by --rand-seed.
//
// It is tooling: nothing in the service imports it.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"os/signal"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// maxDuration bounds --duration, so a forgotten run ends.
const maxDuration = 10 * time.Minute

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := runMain(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "load:", err)
		}
		os.Exit(2)
	}
}

// config is the parsed command line.
type config struct {
	url, token, tokensFile string
	tenants                int
	users, groups          int
	groupSize              int
	seedConcurrency        int
	concurrency            int
	duration               time.Duration
	maxRequests            int64
	mix                    mix
	randSeed               uint64
	skipSeed, seedOnly     bool
	seedFile               string
	memberRemove           string
	baseline               bool
	baselineURL            string
	baselineInProcess      bool
	serveBare              string
	listCursor             bool
	json                   bool
	timeout                time.Duration
	progressEvery          time.Duration
	allowRemote            bool
}

func parseFlags(args []string, stderr io.Writer) (config, error) {
	var c config
	var mixSpec string
	fs := flag.NewFlagSet("load", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.url, "url", "http://127.0.0.1:8080/scim/v2", "base URL of the SCIM API")
	fs.StringVar(&c.token, "token", os.Getenv("SCIM_TOKEN"), "bearer token of the single tenant \"default\" (default $SCIM_TOKEN)")
	fs.StringVar(&c.tokensFile, "tokens-file", "", "file of \"tenant token\" lines, one simulated IdP per tenant (instead of --token)")
	fs.IntVar(&c.tenants, "tenants", 0, "use the first T tenants of --tokens-file (0: all)")
	fs.IntVar(&c.users, "users", 1000, "users to seed, spread over the tenants")
	fs.IntVar(&c.groups, "groups", -1, "groups to seed, spread over the tenants; each tenant's first is its big group (-1: one per tenant)")
	fs.IntVar(&c.groupSize, "group-size", 100, "members of each tenant's big group (the member op's target)")
	fs.IntVar(&c.seedConcurrency, "seed-concurrency", 8, "concurrent requests while seeding")
	fs.IntVar(&c.concurrency, "concurrency", 16, "workers (concurrent requests) during the run")
	fs.DurationVar(&c.duration, "duration", 30*time.Second, "length of the run (and of the baseline), at most "+maxDuration.String())
	fs.Int64Var(&c.maxRequests, "max-requests", 0, "stop the run after this many requests (0: only the duration bounds it)")
	fs.StringVar(&mixSpec, "mix", defaultMix, "op weights; ops: "+strings.Join(opNames[:], ", "))
	fs.Uint64Var(&c.randSeed, "rand-seed", 1, "seed of the workers' PRNGs (op choice, users picked)")
	fs.BoolVar(&c.skipSeed, "skip-seed", false, "reuse users and groups seeded by an earlier run (found by listing)")
	fs.BoolVar(&c.seedOnly, "seed-only", false, "seed, report and stop")
	fs.StringVar(&c.seedFile, "seed-file", "", "seeding writes the ids it made to this file; with --skip-seed they are read from it instead of found by listing")
	fs.StringVar(&c.memberRemove, "member-remove", removeByValue, "shape of the member op's removes: \""+removeByValue+"\" (a value array, as Entra ID) or \""+removeByFilter+"\" (path members[value eq \"…\"], as Okta)")
	fs.BoolVar(&c.baseline, "baseline", true, "first run the same workers against a bare net/http server (a child process of the tool), and report ratios to it")
	fs.BoolVar(&c.baselineInProcess, "baseline-in-process", false, "run the bare server inside the tool's process instead of a child process (cheaper to drive, so the ratios come out lower)")
	fs.StringVar(&c.baselineURL, "baseline-url", "", "measure the baseline against a bare server already running at this base URL (see --serve-bare) instead of one in this process")
	fs.StringVar(&c.serveBare, "serve-bare", "", "only serve the bare handler on this address (e.g. 127.0.0.1:8089) until interrupted, as a separate process for --baseline-url")
	fs.BoolVar(&c.listCursor, "list-cursor", false, "list op pages by cursor (RFC 9865) instead of a random startIndex")
	fs.BoolVar(&c.json, "json", false, "print the report as JSON")
	fs.DurationVar(&c.timeout, "timeout", 30*time.Second, "timeout of one request")
	fs.DurationVar(&c.progressEvery, "progress", 3*time.Second, "interval of seeding progress lines on stderr (0: none)")
	fs.BoolVar(&c.allowRemote, "allow-remote", false, "allow a --url that is not on loopback")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	m, err := parseMix(mixSpec)
	if err != nil {
		return c, fmt.Errorf("--mix: %w", err)
	}
	c.mix = m
	return c, c.validate()
}

func (c *config) validate() error {
	if c.serveBare != "" {
		return nil // serves only; the load flags do not apply
	}
	var err error
	if c.baselineURL != "" {
		if c.baselineURL, err = checkBaseURL("--baseline-url", c.baselineURL, c.allowRemote); err != nil {
			return err
		}
	}
	if c.url, err = checkBaseURL("--url", c.url, c.allowRemote); err != nil {
		return err
	}
	switch {
	case (c.token == "") == (c.tokensFile == ""):
		return fmt.Errorf("give exactly one of --token (or $SCIM_TOKEN) and --tokens-file")
	case c.tenants < 0:
		return fmt.Errorf("--tenants %d: must not be negative", c.tenants)
	case c.users < 1:
		return fmt.Errorf("--users %d: need at least one", c.users)
	case c.groupSize < 0:
		return fmt.Errorf("--group-size %d: must not be negative", c.groupSize)
	case c.seedConcurrency < 1 || c.seedConcurrency > 4096:
		return fmt.Errorf("--seed-concurrency %d: want 1 to 4096", c.seedConcurrency)
	case c.concurrency < 1 || c.concurrency > 4096:
		return fmt.Errorf("--concurrency %d: want 1 to 4096", c.concurrency)
	case c.duration <= 0 || c.duration > maxDuration:
		return fmt.Errorf("--duration %s: want above 0 and at most %s", c.duration, maxDuration)
	case c.maxRequests < 0:
		return fmt.Errorf("--max-requests %d: must not be negative", c.maxRequests)
	case c.timeout <= 0:
		return fmt.Errorf("--timeout %s: must be above 0", c.timeout)
	case c.memberRemove != removeByValue && c.memberRemove != removeByFilter:
		return fmt.Errorf("--member-remove %q: want %q or %q", c.memberRemove, removeByValue, removeByFilter)
	}
	return nil
}

// checkBaseURL checks the base URL given to flag and returns it without a
// trailing slash.
func checkBaseURL(flag, raw string, allowRemote bool) (string, error) {
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		return "", fmt.Errorf("%s: %w", flag, err)
	case u.Scheme != "http" && u.Scheme != "https":
		return "", fmt.Errorf("%s %q: want http or https", flag, raw)
	case !allowRemote && !isLoopback(u.Hostname()):
		return "", fmt.Errorf("%s %q is not on loopback; pass --allow-remote to load another host", flag, raw)
	}
	return strings.TrimSuffix(raw, "/"), nil
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// tenantsOf returns the tenants the run speaks for: "default" with --token,
// or the first c.tenants lines of --tokens-file.
func (c *config) tenantsOf() ([]*tenant, error) {
	if c.tokensFile == "" {
		if c.tenants > 1 {
			return nil, fmt.Errorf("--tenants %d needs --tokens-file", c.tenants)
		}
		return []*tenant{newTenant("default", c.token)}, nil
	}
	f, err := os.Open(c.tokensFile)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	ts, err := readTokens(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", c.tokensFile, err)
	}
	if c.tenants > len(ts) {
		return nil, fmt.Errorf("--tenants %d: %s has only %d", c.tenants, c.tokensFile, len(ts))
	}
	if c.tenants > 0 {
		ts = ts[:c.tenants]
	}
	return ts, nil
}

// runMain is main without the process: tests call it.
func runMain(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	c, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	if c.serveBare != "" {
		return serveBare(ctx, c.serveBare, stderr)
	}
	ts, err := c.tenantsOf()
	if err != nil {
		return err
	}
	if c.groups < 0 {
		c.groups = len(ts)
	}
	switch {
	case c.users < len(ts):
		return fmt.Errorf("--users %d: every one of the %d tenants needs a user", c.users, len(ts))
	case c.mix.has(opMember) && c.groups < len(ts):
		return fmt.Errorf("--groups %d: the member op needs a group in every one of the %d tenants", c.groups, len(ts))
	}

	cl := newHTTPClient(max(c.concurrency, c.seedConcurrency), c.timeout)
	defer cl.CloseIdleConnections()
	rep := &report{
		URL: c.url, Tenants: len(ts), Concurrency: c.concurrency, DurationSeconds: c.duration.Seconds(),
		MaxRequests: c.maxRequests, Mix: c.mix.String(), RandSeed: c.randSeed, Cores: runtime.NumCPU(),
	}
	so := seedOptions{users: c.users, groups: c.groups, groupSize: c.groupSize, concurrency: c.seedConcurrency, progressEvery: c.progressEvery}
	var st seedStats
	switch {
	case c.skipSeed && c.seedFile != "":
		st, err = readSeedFile(c.seedFile, c.url, ts, so)
	case c.skipSeed:
		st, err = discover(ctx, cl, c.url, ts, so, stderr)
	default:
		st, err = seed(ctx, cl, c.url, ts, so, stderr)
		if err == nil && c.seedFile != "" {
			err = writeSeedFile(c.seedFile, c.url, ts)
		}
	}
	if err != nil {
		return err
	}
	rep.Seed = &st
	if !c.seedOnly {
		ro := runOptions{
			concurrency: c.concurrency, duration: c.duration, maxOps: c.maxRequests, mix: c.mix,
			randSeed: c.randSeed, listCursor: c.listCursor, runID: strconv.FormatInt(time.Now().UnixNano(), 36),
			memberRemove: c.memberRemove,
		}
		if c.baseline || c.baselineURL != "" {
			b, err := startBaseline(ctx, c.baselineURL, c.baselineInProcess)
			if err != nil {
				return err
			}
			fmt.Fprintf(stderr, "baseline: bare net/http (%s) at %s for %s...\n", b.where, b.url, c.duration)
			rs := drive(ctx, cl, b.url, ts, ro)
			cpu, err := b.stop()
			if err != nil {
				return fmt.Errorf("bare server: %w", err)
			}
			rep.Baseline = newPhaseReport(rs, c.mix)
			rep.BaselineURL = b.where
			rep.Baseline.ServerCPUCores = cpu.Seconds() / rep.Baseline.Seconds
		}
		if ctx.Err() == nil {
			fmt.Fprintf(stderr, "run: %s for %s...\n", c.url, c.duration)
			rep.Run = newPhaseReport(drive(ctx, cl, c.url, ts, ro), c.mix)
			if rep.Baseline != nil {
				setRatios(rep.Run, rep.Baseline)
			}
		}
	}
	if c.json {
		return rep.writeJSON(stdout)
	}
	return rep.writeText(stdout)
}
