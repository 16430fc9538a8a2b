package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"time"
)

// loadReport is the part of bench/load's --json report read here.
type loadReport struct {
	Seed *struct {
		UsersPerSecond float64 `json:"users_per_second"`
	} `json:"seed"`
	Baseline *loadPhase `json:"baseline"`
	Run      *loadPhase `json:"run"`
}

type loadPhase struct {
	Seconds float64  `json:"seconds"`
	Ops     []loadOp `json:"ops"`
}

type loadOp struct {
	Op        string            `json:"op"`
	Requests  uint64            `json:"requests"`
	ReqPerSec float64           `json:"req_per_sec"`
	P50Ms     float64           `json:"p50_ms"`
	P99Ms     float64           `json:"p99_ms"`
	Errors    uint64            `json:"errors"`
	Statuses  map[string]uint64 `json:"statuses"`
}

func (p *loadPhase) op(name string) (loadOp, bool) {
	if p == nil {
		return loadOp{}, false
	}
	for _, o := range p.Ops {
		if o.Op == name {
			return o, true
		}
	}
	return loadOp{}, false
}

// runResult is one bench/load run of one op: the server's figures and the
// bare baseline's from the same run.
type runResult struct {
	// OKPerSec counts only 2xx answers: a server answering errors fast
	// must not look fast.
	OKPerSec   float64           `json:"ok_per_sec"`
	BarePerSec float64           `json:"bare_per_sec"`
	Ratio      float64           `json:"ratio_to_bare"` // OKPerSec / BarePerSec
	P50Ms      float64           `json:"p50_ms"`
	P99Ms      float64           `json:"p99_ms"`
	Errors     uint64            `json:"errors"`
	Statuses   map[string]uint64 `json:"statuses"`
	Report     string            `json:"report"` // the file of bench/load's report
}

// newRunResult reads op's figures from a bench/load report.
func newRunResult(rep *loadReport, op string) (runResult, error) {
	o, ok := rep.Run.op(op)
	if !ok {
		return runResult{}, fmt.Errorf("report has no %s run", op)
	}
	b, ok := rep.Baseline.op(op)
	if !ok || b.ReqPerSec <= 0 {
		return runResult{}, fmt.Errorf("report has no %s baseline", op)
	}
	r := runResult{BarePerSec: b.ReqPerSec, P50Ms: o.P50Ms, P99Ms: o.P99Ms, Errors: o.Errors, Statuses: o.Statuses}
	if rep.Run.Seconds > 0 {
		r.OKPerSec = float64(o.Requests-o.Errors) / rep.Run.Seconds
	}
	r.Ratio = r.OKPerSec / r.BarePerSec
	return r, nil
}

// opResult is one op on one server: its runs and their medians.
type opResult struct {
	Op       string      `json:"op"`
	Clients  int         `json:"clients"`
	Runs     []runResult `json:"runs"`
	OKPerSec float64     `json:"ok_per_sec"`    // median
	Ratio    float64     `json:"ratio_to_bare"` // median of the runs' ratios
	P50Ms    float64     `json:"p50_ms"`        // median
	P99Ms    float64     `json:"p99_ms"`        // median
	Errors   uint64      `json:"errors"`        // over all runs
}

func newOpResult(op string, clients int, runs []runResult) opResult {
	r := opResult{Op: op, Clients: clients, Runs: runs}
	pick := func(f func(runResult) float64) float64 {
		xs := make([]float64, len(runs))
		for i, x := range runs {
			xs[i] = f(x)
		}
		return median(xs)
	}
	r.OKPerSec = pick(func(x runResult) float64 { return x.OKPerSec })
	r.Ratio = pick(func(x runResult) float64 { return x.Ratio })
	r.P50Ms = pick(func(x runResult) float64 { return x.P50Ms })
	r.P99Ms = pick(func(x runResult) float64 { return x.P99Ms })
	for _, x := range runs {
		r.Errors += x.Errors
	}
	return r
}

// median of xs (the mean of the middle two for an even count); 0 for none.
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := append([]float64(nil), xs...)
	for i := 1; i < len(s); i++ { // insertion sort: a handful of runs
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// serverResult is everything measured on one server.
type serverResult struct {
	Name            string     `json:"name"`
	About           string     `json:"about"`
	Version         string     `json:"version"`
	SeedUsersPerSec float64    `json:"seed_users_per_sec"`
	Ops             []opResult `json:"ops"`
	Err             string     `json:"error,omitempty"`
}

func (s *serverResult) op(name string) (opResult, bool) {
	for _, o := range s.Ops {
		if o.Op == name && len(o.Runs) > 0 {
			return o, true
		}
	}
	return opResult{}, false
}

// measureServer starts s, seeds it, runs every op c.runs times, and stops
// it. A failure ends this server's measurement and is kept in Err, with
// what was measured before it.
func measureServer(ctx context.Context, c *config, bins binaries, s server, token string, log io.Writer) (sr serverResult) {
	sr = serverResult{Name: s.name, About: s.about}
	fail := func(err error) serverResult {
		sr.Err = err.Error()
		fmt.Fprintf(log, "peers: %s: %v\n", s.name, err)
		return sr
	}
	v, err := s.version(ctx, c.root, bins)
	if err != nil {
		return fail(fmt.Errorf("version: %w", err))
	}
	sr.Version = v
	port, err := freePort()
	if err != nil {
		return fail(err)
	}
	dataDir := filepath.Join(c.out, s.name+"-data")
	if err := os.RemoveAll(dataDir); err != nil {
		return fail(err)
	}
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return fail(err)
	}
	defer os.RemoveAll(dataDir)
	fmt.Fprintf(log, "peers: %s: starting %s on 127.0.0.1:%d\n", s.name, v, port)
	p, err := start(s.command(c.root, bins, port, token, dataDir), filepath.Join(c.out, s.name+".log"))
	if err != nil {
		return fail(fmt.Errorf("start: %w", err))
	}
	defer p.stop(15 * time.Second)
	base := "http://127.0.0.1:" + strconv.Itoa(port) + s.basePath
	if err := waitReady(ctx, p, base, token, c.readyTimeout); err != nil {
		return fail(err)
	}

	common := []string{"--url", base, "--users", strconv.Itoa(c.users), "--groups", "1",
		"--group-size", strconv.Itoa(c.groupSize), "--seed-file", filepath.Join(c.out, s.name+"-ids.json"),
		"--member-remove", memberRemove, "--timeout", c.requestTimeout.String(), "--json"}
	fmt.Fprintf(log, "peers: %s: seeding %d users and a group of %d over HTTP...\n", s.name, c.users, c.groupSize)
	rep, err := runLoad(ctx, bins.load, token, filepath.Join(c.out, s.name+"-seed.json"), log,
		append(common, "--seed-only", "--seed-concurrency", strconv.Itoa(c.seedConcurrency), "--progress", "10s")...)
	if err != nil {
		return fail(fmt.Errorf("seed: %w", err))
	}
	if rep.Seed != nil {
		sr.SeedUsersPerSec = rep.Seed.UsersPerSecond
	}
	for _, op := range c.ops {
		clients := c.concurrency(op)
		var runs []runResult
		for i := range c.runs {
			if ctx.Err() != nil {
				return fail(ctx.Err())
			}
			select {
			case <-p.done:
				return fail(fmt.Errorf("exited during the runs (%v): %s", p.err, p.logTail()))
			default:
			}
			fmt.Fprintf(log, "peers: %s: %s, %d clients, run %d of %d (%s bare, then %s)...\n", s.name, op, clients, i+1, c.runs, c.duration, c.duration)
			file := filepath.Join(c.out, fmt.Sprintf("%s-%s-%d.json", s.name, op, i+1))
			rep, err := runLoad(ctx, bins.load, token, file, log, append(common, "--skip-seed", "--mix", op+"=1",
				"--concurrency", strconv.Itoa(clients), "--duration", c.duration.String(),
				"--rand-seed", strconv.Itoa(i+1), "--progress", "0")...)
			if err != nil {
				return fail(fmt.Errorf("%s run %d: %w", op, i+1, err))
			}
			r, err := newRunResult(rep, op)
			if err != nil {
				return fail(fmt.Errorf("%s run %d: %s: %w", op, i+1, file, err))
			}
			r.Report = filepath.Base(file)
			runs = append(runs, r)
		}
		sr.Ops = append(sr.Ops, newOpResult(op, clients, runs))
	}
	return sr
}

// runLoad runs bench/load with args and the token in its environment (not
// on its command line, where every user of the machine could read it),
// keeps its JSON report in file and returns it.
func runLoad(ctx context.Context, bin, token, file string, log io.Writer, args ...string) (*loadReport, error) {
	out, err := os.Create(file)
	if err != nil {
		return nil, err
	}
	defer out.Close()
	cmd := exec.CommandContext(ctx, bin, args...)
	// Interrupted, bench/load stops its bare server and its workers itself.
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = 15 * time.Second
	cmd.Env = append(os.Environ(), "SCIM_TOKEN="+token)
	cmd.Stdout, cmd.Stderr = out, log
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("bench/load: %w", err)
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	var rep loadReport
	if err := json.Unmarshal(b, &rep); err != nil {
		return nil, fmt.Errorf("bench/load report %s: %w", file, err)
	}
	return &rep, nil
}
