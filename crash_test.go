package main

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

var (
	binOnce sync.Once
	binPath string
	binErr  error
)

// binary builds scim-bridge once per test run.
func binary(t *testing.T) string {
	t.Helper()
	binOnce.Do(func() {
		dir, err := os.MkdirTemp("", "scim-bridge-bin")
		if err != nil {
			binErr = err
			return
		}
		binPath = filepath.Join(dir, "scim-bridge")
		out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			binErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPath
}

func TestMain(m *testing.M) {
	code := m.Run()
	if binPath != "" {
		os.RemoveAll(filepath.Dir(binPath))
	}
	os.Exit(code)
}

// process is scim-bridge running as a child process.
type process struct {
	cmd   *exec.Cmd
	base  string     // SCIM
	admin string     // the admin listener
	done  chan error // receives Wait's result once

	exited chan struct{} // closed when the process has exited
	err    error         // Wait's result, once exited is closed
	stderr *lineLog      // everything it wrote to stderr
}

var servingAddr = regexp.MustCompile(`"msg":"serving",.*"addr":"([^"]+)","admin_addr":"([^"]+)"`)

// startProcess runs `scim-bridge serve` with env and waits until it is ready.
func startProcess(t *testing.T, env map[string]string) *process {
	t.Helper()
	p := startProcessNoWait(t, env)
	s := &service{t: t, base: p.base}
	s.waitReady()
	return p
}

// startProcessNoWait runs `scim-bridge serve` with env and returns once it
// serves HTTP, ready or not.
func startProcessNoWait(t *testing.T, env map[string]string) *process {
	t.Helper()
	p := startBinary(t, []string{"serve"}, env)
	var m []string
	p.waitLog(t, "the serving line", 60*time.Second, func(line string) bool {
		m = servingAddr.FindStringSubmatch(line)
		return m != nil
	})
	p.base, p.admin = "http://"+m[1], "http://"+m[2]
	return p
}

// startBinary runs scim-bridge with args and env (added to the test's own
// environment with a token, an address and a log level for serve).
func startBinary(t *testing.T, args []string, env map[string]string) *process {
	t.Helper()
	cmd := exec.Command(binary(t), args...)
	cmd.Env = append(os.Environ(), "SCIM_LISTEN=127.0.0.1:0", "SCIM_ADMIN_LISTEN=127.0.0.1:0", "SCIM_TOKEN="+testToken, "SCIM_LOG_LEVEL=info")
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	p := &process{cmd: cmd, done: make(chan error, 1), exited: make(chan struct{}), stderr: newLineLog()}
	cmd.Stderr = p.stderr // Wait returns once all of it is copied
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		p.err = cmd.Wait()
		close(p.exited)
		p.done <- p.err
	}()
	t.Cleanup(func() {
		select {
		case <-p.exited:
		default:
			cmd.Process.Kill()
			<-p.exited
		}
		if t.Failed() {
			t.Logf("scim-bridge %s stderr:\n%s", strings.Join(args, " "), p.stderr)
		}
	})
	return p
}

// waitLog waits until the process logs a line for which match is true.
func (p *process) waitLog(t *testing.T, what string, timeout time.Duration, match func(line string) bool) {
	t.Helper()
	deadline := time.After(timeout)
	for seen := 0; ; {
		lines, changed := p.stderr.since(seen)
		for _, l := range lines {
			if match(l) {
				return
			}
		}
		seen += len(lines)
		select {
		case <-changed:
		case <-p.exited:
			if lines, _ := p.stderr.since(seen); slices.ContainsFunc(lines, match) {
				return
			}
			t.Fatalf("scim-bridge exited (%v) before %s", p.err, what)
		case <-deadline:
			t.Fatalf("no %s within %v", what, timeout)
		}
	}
}

// wait waits for the process to exit and returns its exit code.
func (p *process) wait(t *testing.T, timeout time.Duration) int {
	t.Helper()
	select {
	case <-p.exited:
	case <-time.After(timeout):
		t.Fatalf("scim-bridge did not exit within %v", timeout)
	}
	return p.cmd.ProcessState.ExitCode()
}

// lineLog is a process's stderr, by line. Safe for concurrent use.
type lineLog struct {
	mu      sync.Mutex
	partial []byte
	lines   []string
	changed chan struct{} // closed and replaced at every new line
}

func newLineLog() *lineLog { return &lineLog{changed: make(chan struct{})} }

func (l *lineLog) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.partial = append(l.partial, b...)
	for {
		i := bytes.IndexByte(l.partial, '\n')
		if i < 0 {
			break
		}
		l.lines = append(l.lines, string(l.partial[:i]))
		l.partial = l.partial[i+1:]
		close(l.changed)
		l.changed = make(chan struct{})
	}
	return len(b), nil
}

// since returns the lines after the first n, and a channel closed when
// another arrives.
func (l *lineLog) since(n int) ([]string, <-chan struct{}) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.lines[n:]), l.changed
}

func (l *lineLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.lines, "\n") + string(l.partial)
}

func (p *process) service(t *testing.T) *service {
	return &service{t: t, base: p.base, admin: p.admin}
}

// kill sends SIGKILL: no shutdown, no flush, as a crashed pod.
func (p *process) kill(t *testing.T) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-p.done
}

// writeStream POSTs users from several clients until stop is closed and
// returns the userNames that got a 201.
func writeStream(t *testing.T, base string, clients int, stop <-chan struct{}) []string {
	var mu sync.Mutex
	var acked []string
	var wg sync.WaitGroup
	client := &http.Client{Timeout: 10 * time.Second}
	for c := 0; c < clients; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				name := fmt.Sprintf("user-%d-%d@example.com", c, i)
				body := `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"` + name + `","active":true}`
				req, _ := http.NewRequest("POST", base+"/scim/v2/Users", strings.NewReader(body))
				req.Header.Set("Authorization", "Bearer "+testToken)
				req.Header.Set("Content-Type", "application/scim+json")
				resp, err := client.Do(req)
				if err != nil {
					return // the process is gone
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode == http.StatusCreated {
					mu.Lock()
					acked = append(acked, name)
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	return acked
}

// crashDuringWrites kills the service with SIGKILL in the middle of a
// stream of writes, restarts it on the same data and log, and checks that
// every acknowledged write is in the log and in the projection exactly once.
func crashDuringWrites(t *testing.T, env map[string]string, logEvents func(t *testing.T) []string) {
	p := startProcess(t, env)
	stop := make(chan struct{})
	ackedCh := make(chan []string, 1)
	go func() { ackedCh <- writeStream(t, p.base, 8, stop) }()
	// Kill once a good number of writes have been acknowledged.
	s := p.service(t)
	deadline := time.Now().Add(60 * time.Second)
	for {
		r := s.must(200, s.do("GET", "/Users?count=0", nil))
		if n, _ := r.Body["totalResults"].(float64); n >= 150 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("fewer than 150 users written within 60s")
		}
		time.Sleep(10 * time.Millisecond) // polling a condition
	}
	p.kill(t)
	close(stop)
	acked := <-ackedCh
	t.Logf("%d writes acknowledged before SIGKILL", len(acked))

	p2 := startProcess(t, env)
	s2 := p2.service(t)
	for _, name := range acked {
		r := s2.must(200, s2.do("GET", "/Users?filter="+q(`userName eq "`+name+`"`), nil))
		if r.Body["totalResults"] != float64(1) {
			t.Errorf("acknowledged user %s: %s after restart, want exactly one", name, r.Raw)
		}
	}
	r := s2.must(200, s2.do("GET", "/Users?count=0", nil))
	projected := r.Body["totalResults"]
	p2.cmd.Process.Signal(syscall.SIGTERM)
	if err := <-p2.done; err != nil {
		t.Errorf("graceful stop after the restart: %v", err)
	}
	created := logEvents(t)
	seen := map[string]int{}
	for _, name := range created {
		seen[name]++
	}
	for _, name := range acked {
		if seen[name] != 1 {
			t.Errorf("acknowledged user %s is in the log %d times, want 1", name, seen[name])
		}
	}
	// Nothing applied twice: the projection holds exactly the distinct
	// users the log created.
	if projected != float64(len(seen)) {
		t.Errorf("projection has %v users, the log created %d distinct ones", projected, len(seen))
	}
}

func TestProcess_EmbeddedCrash(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and kills the binary")
	}
	dataDir := t.TempDir()
	crashDuringWrites(t, map[string]string{"SCIM_DATA_DIR": dataDir}, func(t *testing.T) []string {
		var names []string
		for _, e := range readEvents(t, dataDir) {
			if e.Type == "user.created" {
				names = append(names, str(e.Resource["userName"]))
			}
		}
		return names
	})
}
