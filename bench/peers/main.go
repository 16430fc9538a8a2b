// Command peers measures scim-bridge and other SCIM servers side by side on
// this machine and prints a markdown table: for each server it starts the
// server on 127.0.0.1, seeds it over HTTP with bench/load, measures GET by
// id, the userName eq filter, a member add/remove on a big group and POST,
// each with the bare net/http baseline in the same bench/load run, stops
// the server and goes on to the next. See README.md beside this file; run it
// through bench/peers/run, which installs the pinned peers first.
//
// It is tooling: nothing in the service imports it.
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "peers:", err)
		}
		os.Exit(1)
	}
}

// opNames are the ops measured, in the order they run: POST last, since it
// adds users that the other ops would then see.
var opNames = []string{"get", "filter", "member", "post"}

// config is the parsed command line.
type config struct {
	root             string // the module root
	out              string
	servers          []string
	ops              []string
	users, groupSize int
	seedConcurrency  int
	readConcurrency  int
	writeConcurrency int
	duration         time.Duration
	runs             int
	readyTimeout     time.Duration
	requestTimeout   time.Duration
	args             []string // as given, for the report
}

// quick is what --quick sets, unless the flag is given too: a run that
// proves the harness end to end in well under a minute once built.
var quick = map[string]string{"users": "500", "group-size": "250", "duration": "1s", "runs": "1"}

func parseFlags(args []string, stderr io.Writer) (config, error) {
	c := config{args: args}
	var servers, ops string
	var isQuick bool
	fs := flag.NewFlagSet("peers", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.root, "root", ".", "the scim-bridge module root (where go.mod is)")
	fs.StringVar(&c.out, "out", "", "folder for the raw results, the servers' logs and data (default: bench/peers/results/<UTC time> under --root)")
	fs.StringVar(&servers, "servers", strings.Join(serverNames(), ","), "servers to measure, in this order")
	fs.StringVar(&ops, "ops", strings.Join(opNames, ","), "ops to measure, in this order (of "+strings.Join(opNames, ", ")+")")
	fs.IntVar(&c.users, "users", 20000, "users seeded over HTTP in each server")
	fs.IntVar(&c.groupSize, "group-size", 10000, "members of the group the member op changes")
	fs.IntVar(&c.seedConcurrency, "seed-concurrency", 16, "concurrent requests while seeding")
	fs.IntVar(&c.readConcurrency, "read-concurrency", 32, "clients of the get and filter runs")
	fs.IntVar(&c.writeConcurrency, "write-concurrency", 16, "clients of the post and member runs")
	fs.DurationVar(&c.duration, "duration", 20*time.Second, "length of each run, and of its bare baseline")
	fs.IntVar(&c.runs, "runs", 3, "runs of each op on each server; the table shows their medians")
	fs.DurationVar(&c.readyTimeout, "ready-timeout", time.Minute, "how long a server may take to answer after its start")
	fs.DurationVar(&c.requestTimeout, "request-timeout", 2*time.Minute, "timeout of one request (bench/load --timeout): a slow answer is a figure, not an error")
	fs.BoolVar(&isQuick, "quick", false, "smoke mode: --users 500 --group-size 250 --duration 1s --runs 1 (flags given too win)")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if isQuick {
		set := map[string]bool{}
		fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
		for name, v := range quick {
			if !set[name] {
				if err := fs.Set(name, v); err != nil {
					return c, err
				}
			}
		}
	}
	var err error
	if c.servers, err = pickList("--servers", servers, serverNames()); err != nil {
		return c, err
	}
	if c.ops, err = pickList("--ops", ops, opNames); err != nil {
		return c, err
	}
	switch {
	case c.users < 2:
		return c, fmt.Errorf("--users %d: want at least 2", c.users)
	case c.groupSize < 1 || c.groupSize >= c.users:
		return c, fmt.Errorf("--group-size %d: want 1 to --users - 1, so the member op has users to add", c.groupSize)
	case c.seedConcurrency < 1, c.readConcurrency < 1, c.writeConcurrency < 1:
		return c, fmt.Errorf("concurrencies must be at least 1")
	case c.duration <= 0 || c.duration > 10*time.Minute:
		return c, fmt.Errorf("--duration %s: want above 0 and at most 10m", c.duration)
	case c.runs < 1 || c.runs > 15:
		return c, fmt.Errorf("--runs %d: want 1 to 15", c.runs)
	case c.requestTimeout <= 0, c.readyTimeout <= 0:
		return c, fmt.Errorf("timeouts must be above 0")
	}
	if _, err := os.Stat(filepath.Join(c.root, "go.mod")); err != nil {
		return c, fmt.Errorf("--root %s: no go.mod: run from the module root or give --root", c.root)
	}
	return c, nil
}

// pickList parses a comma-separated list whose items must be in known.
func pickList(flag, s string, known []string) ([]string, error) {
	var out []string
	for _, x := range strings.Split(s, ",") {
		x = strings.TrimSpace(x)
		if !slices.Contains(known, x) {
			return nil, fmt.Errorf("%s: unknown %q (known: %s)", flag, x, strings.Join(known, ", "))
		}
		if slices.Contains(out, x) {
			return nil, fmt.Errorf("%s: %q given twice", flag, x)
		}
		out = append(out, x)
	}
	return out, nil
}

// concurrency is the clients of op's runs.
func (c *config) concurrency(op string) int {
	if op == "get" || op == "filter" {
		return c.readConcurrency
	}
	return c.writeConcurrency
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	c, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	if c.root, err = filepath.Abs(c.root); err != nil {
		return err
	}
	if c.out == "" {
		c.out = filepath.Join(c.root, "bench", "peers", "results", time.Now().UTC().Format("20060102T150405Z"))
	}
	if err := os.MkdirAll(c.out, 0o755); err != nil {
		return err
	}
	if c.out, err = filepath.Abs(c.out); err != nil {
		return err
	}
	fmt.Fprintf(stderr, "peers: results, logs and data in %s\n", c.out)

	binDir, err := os.MkdirTemp("", "scim-peers-bin-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(binDir)
	bins, err := build(ctx, c.root, binDir, stderr)
	if err != nil {
		return err
	}
	token, err := newToken()
	if err != nil {
		return err
	}
	res := &results{
		Started: time.Now().UTC(), Machine: machine(), Cores: runtime.NumCPU(),
		Command: commandLine(c.args), Users: c.users, GroupSize: c.groupSize, Duration: c.duration,
		Runs: c.runs, Ops: c.ops, SeedConcurrency: c.seedConcurrency,
	}
	for _, op := range c.ops {
		res.Clients = append(res.Clients, c.concurrency(op))
	}
	var failed []string
	for _, name := range c.servers {
		if ctx.Err() != nil {
			break
		}
		sr := measureServer(ctx, &c, bins, byName(name), token, stderr)
		res.Servers = append(res.Servers, sr)
		if sr.Err != "" {
			failed = append(failed, name)
		}
	}
	table := res.markdown()
	if err := os.WriteFile(filepath.Join(c.out, "table.md"), []byte(table), 0o644); err != nil {
		return err
	}
	if err := res.writeJSON(filepath.Join(c.out, "results.json")); err != nil {
		return err
	}
	if _, err := io.WriteString(stdout, table); err != nil {
		return err
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if len(failed) > 0 {
		return fmt.Errorf("%s failed (logs in %s)", strings.Join(failed, ", "), c.out)
	}
	return nil
}

func newToken() (string, error) {
	b := make([]byte, 18)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return hex.EncodeToString(b), nil
}

// commandLine is the command that reproduces this run, quoted for a shell.
func commandLine(args []string) string {
	parts := []string{"bench/peers/run"}
	for _, a := range args {
		if a == "" || strings.ContainsAny(a, " \t\n'\"\\$`;&|<>()*?[]#~") {
			a = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
		parts = append(parts, a)
	}
	return strings.Join(parts, " ")
}

// machine names the processor, from /proc/cpuinfo where there is one.
func machine() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return runtime.GOOS + "/" + runtime.GOARCH
	}
	for _, line := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return runtime.GOOS + "/" + runtime.GOARCH
}
