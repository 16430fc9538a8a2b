package main

import (
	"bufio"
	"bytes"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// dedicatedBroker starts a Kafka broker of this test's own (the shared one
// must not be paused under other tests) and returns its address and pid.
func dedicatedBroker(t *testing.T) (addr string, pid int) {
	t.Helper()
	work := t.TempDir()
	cmd := exec.Command("scripts/kafka/kafka.sh", "start")
	cmd.Env = append(os.Environ(), "KAFKA_WORKDIR="+work)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("start a dedicated broker: %v\n%s", err, stderr.String())
	}
	t.Cleanup(func() {
		syscall.Kill(pid, syscall.SIGCONT)
		stop := exec.Command("scripts/kafka/kafka.sh", "stop")
		stop.Env = append(os.Environ(), "KAFKA_WORKDIR="+work)
		if out, err := stop.CombinedOutput(); err != nil {
			t.Errorf("stop the dedicated broker: %v\n%s", err, out)
		}
	})
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "KAFKA_TEST_BROKERS="); ok {
			addr = v
		}
	}
	raw, err := os.ReadFile(filepath.Join(work, "kafka.pid"))
	if err != nil {
		t.Fatal(err)
	}
	if pid, err = strconv.Atoi(strings.TrimSpace(string(raw))); err != nil || addr == "" {
		t.Fatalf("broker address %q, pid %q: %v", addr, raw, err)
	}
	return addr, pid
}

func (s *service) status(path string) int {
	resp, err := http.Get(s.base + path)
	if err != nil {
		s.t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// freeze stops the process pid with SIGSTOP and waits until every one of
// its threads is stopped: kill returns once the signal is queued, and a
// thread running on another core goes on until it notices it, long enough
// on a loaded machine for a broker to answer one more request. Safe from
// any goroutine (it returns the failure instead of ending the test).
func freeze(pid int) error {
	if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
		return fmt.Errorf("stop process %d: %w", pid, err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		stopped, err := allStopped(pid)
		if err != nil || stopped {
			return err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("process %d: threads still running 30s after SIGSTOP", pid)
		}
		time.Sleep(10 * time.Millisecond) // polling a condition
	}
}

// allStopped reports whether every thread of pid is in state T (stopped)
// or t (traced), from /proc/<pid>/task/*/stat.
func allStopped(pid int) (bool, error) {
	tasks, err := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/stat", pid))
	if err != nil || len(tasks) == 0 {
		return false, fmt.Errorf("threads of process %d: %v (%d found)", pid, err, len(tasks))
	}
	for _, f := range tasks {
		raw, err := os.ReadFile(f)
		if err != nil {
			return false, nil // a thread ending as we look: look again
		}
		// The state follows the command's closing parenthesis.
		i := bytes.LastIndexByte(raw, ')')
		if i < 0 || i+2 >= len(raw) {
			return false, fmt.Errorf("%s: unexpected %q", f, raw)
		}
		if st := raw[i+2]; st != 'T' && st != 't' {
			return false, nil
		}
	}
	return true, nil
}

// checkUnavailable checks that a write during an outage gets 503, a
// Retry-After and a SCIM error body.
func checkUnavailable(t *testing.T, s *service, name string) {
	t.Helper()
	r := s.do("POST", "/Users", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"`+name+`"}`)
	if r.Status != 503 || r.Header.Get("Retry-After") == "" || r.Body["status"] != "503" {
		t.Fatalf("write during the outage = %d (Retry-After %q) %s; want 503 with Retry-After and a SCIM error",
			r.Status, r.Header.Get("Retry-After"), r.Raw)
	}
}

// TestKafka_BrokerOutage pauses the broker (SIGSTOP: it accepts nothing and
// answers nothing, as a hung or partitioned broker) at start and again while
// serving: writes answer 503 with Retry-After in bounded time, reads keep
// being served, /readyz says not ready, and the service recovers by itself
// when the broker resumes.
func TestKafka_BrokerOutage(t *testing.T) {
	env := kafkaEnv(t)
	addr, pid := dedicatedBroker(t)
	env["KAFKA_BROKERS"] = addr
	env["KAFKA_APPEND_TIMEOUT"] = "2s"

	// Start with the broker down.
	if err := freeze(pid); err != nil {
		t.Fatal(err)
	}
	s := startServiceNoWait(t, env)
	if got := s.status("/healthz"); got != 200 {
		t.Errorf("/healthz with the broker down = %d, want 200", got)
	}
	if got := s.status("/readyz"); got != 503 {
		t.Errorf("/readyz with the broker down = %d, want 503", got)
	}
	checkUnavailable(t, s, "early@example.com")

	// The broker comes back: the service connects and becomes ready.
	syscall.Kill(pid, syscall.SIGCONT)
	s.waitReady()
	r := s.must(201, s.do("POST", "/Users", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"alice@example.com"}`))
	id := str(r.Body["id"])

	// Down again while serving: writes fail in bounded time, reads work.
	if err := freeze(pid); err != nil {
		t.Fatal(err)
	}
	checkUnavailable(t, s, "bob@example.com")
	s.must(200, s.do("GET", "/Users/"+id, nil))
	s.must(200, s.do("GET", "/Users?filter="+q(`userName eq "alice@example.com"`), nil))
	if got := s.status("/readyz"); got != 503 {
		t.Errorf("/readyz with the broker paused = %d, want 503", got)
	}

	// Back again: writes succeed without a restart.
	syscall.Kill(pid, syscall.SIGCONT)
	deadline := time.Now().Add(90 * time.Second)
	for {
		r := s.do("POST", "/Users", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"bob@example.com"}`)
		if r.Status == 201 {
			break
		}
		if r.Status != 503 || time.Now().After(deadline) {
			t.Fatalf("write after the broker resumed = %d %s", r.Status, r.Raw)
		}
		time.Sleep(200 * time.Millisecond) // polling a condition
	}
	s.waitReady()
	r = s.must(200, s.do("GET", "/Users?count=0", nil))
	if r.Body["totalResults"] != float64(2) {
		t.Errorf("users after the outages = %v, want 2 (alice, bob; nothing from the failed writes)", r.Body["totalResults"])
	}
}
