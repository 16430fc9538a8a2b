package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestMedian(t *testing.T) {
	for _, tc := range []struct {
		in   []float64
		want float64
	}{
		{nil, 0},
		{[]float64{3}, 3},
		{[]float64{9, 1, 5}, 5},
		{[]float64{4, 1, 3, 2}, 2.5},
	} {
		in := append([]float64(nil), tc.in...)
		if got := median(tc.in); got != tc.want {
			t.Errorf("median(%v) = %v, want %v", tc.in, got, tc.want)
		}
		if !equal(in, tc.in) {
			t.Errorf("median reordered its input: %v, was %v", tc.in, in)
		}
	}
}

func equal(a, b []float64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// A run's throughput counts only 2xx answers, and its ratio divides that by
// the same op's bare baseline from the same report.
func TestNewRunResult(t *testing.T) {
	rep := &loadReport{
		Baseline: &loadPhase{Seconds: 2, Ops: []loadOp{{Op: "get", ReqPerSec: 1000}}},
		Run: &loadPhase{Seconds: 2, Ops: []loadOp{{Op: "get", Requests: 400, ReqPerSec: 200, Errors: 100, P50Ms: 1, P99Ms: 9,
			Statuses: map[string]uint64{"200": 300, "503": 100}}}},
	}
	r, err := newRunResult(rep, "get")
	if err != nil {
		t.Fatal(err)
	}
	if r.OKPerSec != 150 || r.BarePerSec != 1000 || r.Ratio != 0.15 || r.Errors != 100 {
		t.Errorf("run result = %+v; want 150 ok/s, bare 1000/s, ratio 0.15, 100 errors", r)
	}
	if _, err := newRunResult(rep, "post"); err == nil {
		t.Error("newRunResult of an op the report lacks: no error")
	}
	rep.Baseline = nil
	if _, err := newRunResult(rep, "get"); err == nil {
		t.Error("newRunResult without a baseline: no error")
	}
}

func sampleResults() *results {
	run := func(ok, bare float64, errs uint64) runResult {
		r := runResult{OKPerSec: ok, BarePerSec: bare, Ratio: ok / bare, P50Ms: 1000 / ok, P99Ms: 5000 / ok, Errors: errs}
		if errs > 0 {
			r.Statuses = map[string]uint64{"200": 10, "0": errs}
		}
		return r
	}
	return &results{
		Started: time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC), Machine: "test CPU", Cores: 2,
		Command: "bench/peers/run --users 20000", Users: 20000, GroupSize: 10000, Duration: 20 * time.Second,
		Runs: 3, Ops: []string{"get", "member"}, Clients: []int{32, 16}, SeedConcurrency: 16,
		Servers: []serverResult{
			{Name: "scim-bridge", Version: "scim-bridge devel", About: "ours", SeedUsersPerSec: 6300, Ops: []opResult{
				newOpResult("get", 32, []runResult{run(20000, 40000, 0), run(26000, 50000, 0), run(21000, 40000, 0)}),
				newOpResult("member", 16, []runResult{run(1400, 40000, 0), run(1500, 50000, 0), run(1300, 40000, 0)}),
			}},
			{Name: "scim2-server", Version: "scim2-server 0.8.3 | uvicorn", About: "peer", SeedUsersPerSec: 900, Ops: []opResult{
				newOpResult("get", 32, []runResult{run(1000, 40000, 0), run(1300, 50000, 0), run(1100, 40000, 0)}),
				newOpResult("member", 16, []runResult{run(60, 40000, 2), run(70, 50000, 0), run(50, 40000, 0)}),
			}},
			{Name: "scimmy", Version: "scimmy 1.3.5", About: "peer", Err: "seed: bench/load: exit status 2"},
		},
	}
}

func TestResults_Markdown(t *testing.T) {
	md := sampleResults().markdown()
	for _, want := range []string{
		"Command: `bench/peers/run --users 20000`",
		"| scim2-server | scim2-server 0.8.3 \\| uvicorn | peer |",
		// get: scim-bridge's ratios 0.5, 0.52, 0.525 → 0.52; its 2xx/s median 21,000.
		"| GET /Users/{id} | scim-bridge | 32 | 21,000 | 48 µs | 238 µs | 0.520 | 1.000 | 0 |",
		// scim2-server's ratios 0.025, 0.026, 0.0275 → 0.026: 0.05 of scim-bridge's.
		"| GET /Users/{id} | scim2-server | 32 | 1,100 | 909 µs | 4.55 ms | 0.0260 | 0.0500 | 0 |",
		// member: ratios 0.035, 0.03, 0.0325 against 0.0015, 0.0014, 0.00125.
		"| member add/remove, group of 10,000 | scim2-server | 16 | 60 | 16.67 ms | 83.33 ms | 0.00140 | 0.0431 | 2 |",
		"| GET /Users/{id} | scimmy | | — | | | | | not measured |",
		"scim-bridge against the best other server, by ratio to bare: GET /Users/{id} 20.0× (scim2-server); member add/remove, group of 10,000 23.2× (scim2-server).",
		"Seeding (users created per second): scim-bridge 6,300/s, scim2-server 900/s.",
		"scim2-server member: 2 errors by status (0 = no answer): 0×2.",
		"scimmy failed: seed: bench/load: exit status 2",
		"median of 3 runs",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("table lacks %q:\n%s", want, md)
		}
	}
}

func TestParseFlags(t *testing.T) {
	root := filepath.Join("..", "..")
	var errs bytes.Buffer
	c, err := parseFlags([]string{"--root", root, "--quick", "--duration", "3s"}, &errs)
	if err != nil {
		t.Fatal(err)
	}
	if c.users != 500 || c.groupSize != 250 || c.runs != 1 || c.duration != 3*time.Second {
		t.Errorf("--quick --duration 3s: users %d, group %d, runs %d, duration %s; want 500, 250, 1, 3s (the flag wins)",
			c.users, c.groupSize, c.runs, c.duration)
	}
	c, err = parseFlags([]string{"--root", root}, &errs)
	if err != nil {
		t.Fatal(err)
	}
	if c.users != 20000 || c.groupSize != 10000 || c.runs != 3 || c.concurrency("get") != 32 || c.concurrency("filter") != 32 ||
		c.concurrency("post") != 16 || c.concurrency("member") != 16 || strings.Join(c.servers, ",") != "scim-bridge,scim2-server,scimmy" {
		t.Errorf("defaults: %+v", c)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--servers", "scim-bridge,nope"}, `unknown "nope"`},
		{[]string{"--ops", "get,get"}, "given twice"},
		{[]string{"--users", "100", "--group-size", "100"}, "--group-size"},
		{[]string{"--runs", "0"}, "--runs"},
		{[]string{"--duration", "11m"}, "--duration"},
		{[]string{"--root", t.TempDir()}, "no go.mod"},
		{[]string{"extra"}, "unexpected arguments"},
	} {
		args := append([]string{"--root", root}, tc.args...)
		if _, err := parseFlags(args, &errs); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("parseFlags(%q) = %v, want an error mentioning %q", tc.args, err, tc.want)
		}
	}
}

func TestFmtRatio(t *testing.T) {
	for v, want := range map[float64]string{1: "1.000", 0.52: "0.520", 0.1: "0.100", 0.0431: "0.0431", 0.0014: "0.00140", 0: "0.000"} {
		if got := fmtRatio(v); got != want {
			t.Errorf("fmtRatio(%v) = %s, want %s", v, got, want)
		}
	}
}

func TestCommandLine(t *testing.T) {
	got := commandLine([]string{"--quick", "--out", "/tmp/a b", "--servers", "it's"})
	want := `bench/peers/run --quick --out '/tmp/a b' --servers 'it'\''s'`
	if got != want {
		t.Errorf("commandLine = %s, want %s", got, want)
	}
}

// A server that exits before it answers is reported with its log, at once
// rather than after the ready timeout.
func TestWaitReady_ServerExits(t *testing.T) {
	p, err := start(exec.Command("sh", "-c", "echo cannot bind; exit 3"), filepath.Join(t.TempDir(), "log"))
	if err != nil {
		t.Fatal(err)
	}
	defer p.stop(time.Second)
	port, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Now()
	err = waitReady(context.Background(), p, "http://127.0.0.1:"+strconv.Itoa(port)+"/scim/v2", "tok", time.Minute)
	if err == nil || !strings.Contains(err.Error(), "exited before it answered") || !strings.Contains(err.Error(), "cannot bind") {
		t.Errorf("waitReady = %v, want the exit and the log", err)
	}
	if d := time.Since(t0); d > 30*time.Second {
		t.Errorf("waitReady took %s, want it to notice the exit long before its minute", d)
	}
}

// stop ends the server's whole process group, children included.
func TestProcess_StopEndsGroup(t *testing.T) {
	dir := t.TempDir()
	pidFile := filepath.Join(dir, "child")
	p, err := start(exec.Command("sh", "-c", "sleep 300 & echo $! > "+pidFile+"; wait"), filepath.Join(dir, "log"))
	if err != nil {
		t.Fatal(err)
	}
	var child string
	for range 100 {
		if b, _ := os.ReadFile(pidFile); len(bytes.TrimSpace(b)) > 0 {
			child = string(bytes.TrimSpace(b))
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if child == "" {
		t.Fatal("the shell never wrote its child's pid")
	}
	p.stop(5 * time.Second)
	for range 100 {
		if _, err := os.Stat("/proc/" + child); os.IsNotExist(err) {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Errorf("child %s of the stopped server still runs", child)
}

// TestSmoke runs the whole harness in its quick mode: it installs the pinned
// peers, builds scim-bridge and bench/load, and measures every op on every
// server. It needs Python 3, Node.js and the package registries, and takes
// about a minute, so it runs only when SCIM_PEERS_SMOKE=1:
//
//	SCIM_PEERS_SMOKE=1 go test -run TestSmoke -v ./bench/peers/
func TestSmoke(t *testing.T) {
	if os.Getenv("SCIM_PEERS_SMOKE") != "1" {
		t.Skip("set SCIM_PEERS_SMOKE=1 to run the side-by-side harness in its quick mode")
	}
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	install := exec.Command(filepath.Join(root, "bench", "peers", "install"))
	if out, err := install.CombinedOutput(); err != nil {
		t.Fatalf("bench/peers/install: %v\n%s", err, out)
	}
	out := t.TempDir()
	var stdout, stderr bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	if err := run(ctx, []string{"--quick", "--root", root, "--out", out}, &stdout, &stderr); err != nil {
		t.Fatalf("run: %v\nstderr:\n%s", err, stderr.String())
	}
	b, err := os.ReadFile(filepath.Join(out, "results.json"))
	if err != nil {
		t.Fatal(err)
	}
	var res results
	if err := json.Unmarshal(b, &res); err != nil {
		t.Fatal(err)
	}
	if len(res.Servers) != len(servers) {
		t.Fatalf("%d servers measured, want %d", len(res.Servers), len(servers))
	}
	for _, s := range res.Servers {
		if s.Err != "" || s.Version == "" || s.SeedUsersPerSec <= 0 {
			t.Errorf("%s: error %q, version %q, seeded at %v/s", s.Name, s.Err, s.Version, s.SeedUsersPerSec)
		}
		for _, op := range opNames {
			o, ok := s.op(op)
			if !ok || o.Errors != 0 || o.OKPerSec <= 0 || o.Ratio <= 0 {
				t.Errorf("%s %s: %+v; want a run without errors", s.Name, op, o)
			}
		}
		if !strings.Contains(stdout.String(), "| "+s.Name+" |") {
			t.Errorf("table lacks %s", s.Name)
		}
	}
	t.Logf("table:\n%s", stdout.String())
}
