package main

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
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
	cmd  *exec.Cmd
	base string
	done chan error
}

var servingAddr = regexp.MustCompile(`"msg":"serving","addr":"([^"]+)"`)

// startProcess runs `scim-bridge serve` with env and waits until it is ready.
func startProcess(t *testing.T, env map[string]string) *process {
	t.Helper()
	cmd := exec.Command(binary(t), "serve")
	cmd.Env = append(os.Environ(), "SCIM_LISTEN=127.0.0.1:0", "SCIM_TOKEN="+testToken, "SCIM_LOG_LEVEL=info")
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &process{cmd: cmd, done: make(chan error, 1)}
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			if m := servingAddr.FindStringSubmatch(sc.Text()); m != nil {
				select {
				case addr <- m[1]:
				default:
				}
			}
		}
		io.Copy(io.Discard, stderr)
	}()
	go func() { p.done <- cmd.Wait() }()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			<-p.done
		}
	})
	select {
	case a := <-addr:
		p.base = "http://" + a
	case err := <-p.done:
		t.Fatalf("scim-bridge exited before serving: %v", err)
	case <-time.After(60 * time.Second):
		t.Fatal("scim-bridge did not start serving within 60s")
	}
	s := &service{t: t, base: p.base}
	s.waitReady()
	return p
}

func (p *process) service(t *testing.T) *service { return &service{t: t, base: p.base} }

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
