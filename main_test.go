package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/scim-bridge/scim-bridge/events"
	"github.com/scim-bridge/scim-bridge/internal/testutil"
)

const testToken = "s3cr3t-test-token"

// service is a running scim-bridge, started with run() as the binary would.
type service struct {
	t       *testing.T
	base    string // http://127.0.0.1:PORT
	admin   string // the admin listener's http://127.0.0.1:PORT
	dataDir string
	cancel  context.CancelFunc
	done    chan error
}

// startService runs `serve` on 127.0.0.1:0 with the given environment added
// to a fresh data directory (unless env sets SCIM_DATA_DIR), and waits
// until it is ready.
func startService(t *testing.T, env map[string]string) *service {
	t.Helper()
	s := startServiceNoWait(t, env)
	s.waitReady()
	return s
}

// startServiceNoWait is startService without waiting for readiness.
func startServiceNoWait(t *testing.T, env map[string]string) *service {
	t.Helper()
	return startServiceLogs(t, env, testutil.Writer(t))
}

// startServiceLogs is startServiceNoWait with the service's log lines
// written to logs.
func startServiceLogs(t *testing.T, env map[string]string, logs io.Writer) *service {
	t.Helper()
	vars := map[string]string{
		"SCIM_LISTEN":       "127.0.0.1:0",
		"SCIM_ADMIN_LISTEN": freeAddr(t),
		"SCIM_DATA_DIR":     t.TempDir(),
		"SCIM_TOKEN":        testToken,
		"SCIM_LOG_LEVEL":    "warn",
	}
	for k, v := range env {
		vars[k] = v
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &service{t: t, admin: "http://" + vars["SCIM_ADMIN_LISTEN"], dataDir: vars["SCIM_DATA_DIR"], cancel: cancel, done: make(chan error, 1)}
	started := make(chan string, 1)
	go func() {
		s.done <- run(ctx, []string{"serve"}, func(k string) string { return vars[k] }, io.Discard, logs, started)
	}()
	select {
	case addr := <-started:
		s.base = "http://" + addr
	case err := <-s.done:
		t.Fatalf("serve: %v", err)
	}
	t.Cleanup(s.stop)
	return s
}

// freeAddr returns a 127.0.0.1 address nothing listens on at the moment.
//
// The port is taken below the kernel's ephemeral range: a port the kernel
// hands out for :0 may be handed out again — to another freeAddr, or to an
// outgoing connection of a replica or a Kafka client — before the process
// that is to listen on it binds it, which failed replica starts with
// "address already in use". Below the range, only another explicit bind
// can take it, and freeAddr never returns a port twice.
func freeAddr(t *testing.T) string {
	t.Helper()
	freePorts.Lock()
	defer freePorts.Unlock()
	low := ephemeralLow()
	for range 1000 {
		port := 10000 + freePorts.rnd.IntN(max(low-10000, 1))
		if low <= 10000 || freePorts.used[port] {
			break
		}
		addr := "127.0.0.1:" + strconv.Itoa(port)
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			continue
		}
		ln.Close()
		freePorts.used[port] = true
		return addr
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

var freePorts = struct {
	sync.Mutex
	used map[int]bool
	rnd  *rand.Rand
}{used: map[int]bool{}, rnd: rand.New(rand.NewPCG(uint64(os.Getpid()), uint64(time.Now().UnixNano())))}

// ephemeralLow is the first port of the kernel's ephemeral range (32768
// where it cannot be read).
func ephemeralLow() int {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return 32768
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return 32768
	}
	n, err := strconv.Atoi(f[0])
	if err != nil {
		return 32768
	}
	return n
}

func (s *service) stop() {
	if s.cancel == nil {
		return
	}
	s.cancel()
	s.cancel = nil
	if err := <-s.done; err != nil {
		s.t.Errorf("serve returned %v", err)
	}
}

func (s *service) waitReady() {
	s.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := http.Get(s.base + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("service not ready after 60s (last: %v)", err)
		}
		time.Sleep(20 * time.Millisecond) // polling a condition, not timing a result
	}
}

// response is a decoded HTTP response.
type response struct {
	Status int
	Header http.Header
	Body   map[string]any
	Raw    []byte
}

func (s *service) do(method, path string, body any, headers ...string) response {
	s.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		buf, err := json.Marshal(b)
		if err != nil {
			s.t.Fatal(err)
		}
		rd = bytes.NewReader(buf)
	}
	req, err := http.NewRequest(method, s.base+"/scim/v2"+path, rd)
	if err != nil {
		s.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+testToken)
	if rd != nil {
		req.Header.Set("Content-Type", "application/scim+json; charset=utf-8")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	r := response{Status: resp.StatusCode, Header: resp.Header, Raw: raw}
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &r.Body); err != nil {
			s.t.Fatalf("%s %s: body is not JSON: %v\n%s", method, path, err, raw)
		}
	}
	return r
}

// must checks the status of a response and returns it.
func (s *service) must(want int, r response) response {
	s.t.Helper()
	if r.Status != want {
		s.t.Fatalf("status = %d, want %d; body: %s", r.Status, want, r.Raw)
	}
	return r
}

func str(v any) string { s, _ := v.(string); return s }

// readEvents reads every event in the embedded log of a stopped service.
func readEvents(t *testing.T, dataDir string) []events.Event {
	t.Helper()
	l, err := events.OpenEmbedded(filepath.Join(dataDir, "log"), events.EmbeddedOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return readAll(t, l)
}

// readAll reads every event of l that counts: claims and void events left
// out.
func readAll(t *testing.T, l events.Log) []events.Event {
	t.Helper()
	ctx := context.Background()
	end, err := l.End(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var out []events.Event
	for p, e := range end {
		if e == 0 {
			continue
		}
		rctx, cancel := context.WithCancel(ctx)
		var fence events.Fence
		err := l.Read(rctx, p, 0, func(rec events.Record) error {
			// As the README's consumer rules say: skip claims (a replica
			// claims its partitions with Kafka), drop void events.
			if rec.Claim != nil {
				fence, _ = fence.Claim(rec.Claim)
			} else if !fence.Voids(&rec.Event) {
				out = append(out, rec.Event)
			}
			if rec.Offset == e-1 {
				cancel()
			}
			return nil
		})
		cancel()
		if err != nil && !errors.Is(err, context.Canceled) {
			t.Fatal(err)
		}
	}
	return out
}

func eventTypes(evs []events.Event) []string {
	var out []string
	for _, e := range evs {
		out = append(out, e.Type)
	}
	return out
}

func TestRun_Config(t *testing.T) {
	t.Run("NoToken", func(t *testing.T) {
		var stderr bytes.Buffer
		err := run(context.Background(), []string{"serve"}, func(string) string { return "" }, io.Discard, &stderr, nil)
		if err == nil || !strings.Contains(err.Error(), "SCIM_TOKEN") {
			t.Fatalf("run(serve) without a token = %v, want an error naming SCIM_TOKEN", err)
		}
	})
	t.Run("BadEnv", func(t *testing.T) {
		env := map[string]string{"SCIM_TOKEN": "x", "SCIM_MAX_PATCH_OPS": "many", "SCIM_LOG_LEVEL": "loud"}
		err := run(context.Background(), []string{"serve"}, func(k string) string { return env[k] }, io.Discard, io.Discard, nil)
		if err == nil || !strings.Contains(err.Error(), "SCIM_MAX_PATCH_OPS") || !strings.Contains(err.Error(), "SCIM_LOG_LEVEL") {
			t.Fatalf("run(serve) with bad env = %v, want errors naming both variables", err)
		}
	})
	t.Run("HelpListsEnv", func(t *testing.T) {
		var stderr bytes.Buffer
		err := run(context.Background(), []string{"serve", "--help"}, func(string) string { return "" }, io.Discard, &stderr, nil)
		if err == nil {
			t.Fatal("serve --help returned nil, want flag.ErrHelp")
		}
		for _, env := range []string{"SCIM_LISTEN", "SCIM_DATA_DIR", "SCIM_TOKEN", "KAFKA_BROKERS", "KAFKA_TOPIC"} {
			if !strings.Contains(stderr.String(), env) {
				t.Errorf("serve --help does not mention %s:\n%s", env, stderr.String())
			}
		}
	})
	t.Run("TopLevelHelpListsFlags", func(t *testing.T) {
		var stdout bytes.Buffer
		if err := run(context.Background(), []string{"--help"}, func(string) string { return "" }, &stdout, io.Discard, nil); err != nil {
			t.Fatalf("--help = %v", err)
		}
		for _, want := range []string{"token new", "--listen  [SCIM_LISTEN]", "--kafka-brokers  [KAFKA_BROKERS]", "--tenants-file  [SCIM_TENANTS_FILE]"} {
			if !strings.Contains(stdout.String(), want) {
				t.Errorf("--help does not mention %q:\n%s", want, stdout.String())
			}
		}
	})
	t.Run("UnknownSubcommand", func(t *testing.T) {
		if err := run(context.Background(), []string{"frobnicate"}, func(string) string { return "" }, io.Discard, io.Discard, nil); err == nil {
			t.Fatal("run(frobnicate) = nil, want an error")
		}
	})
}
