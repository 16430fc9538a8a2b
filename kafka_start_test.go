package main

import (
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	kafkago "github.com/segmentio/kafka-go"

	"github.com/scim-bridge/scim-bridge/events/kafka/tcpgate"
	"github.com/scim-bridge/scim-bridge/internal/testutil"
)

// kafkaDown returns the environment of a service whose broker is down at
// start, the way down says: "Refused" (nothing listens: connections are
// refused at once) or "Hung" (connections are accepted and never answered,
// as a frozen broker). The gate forwards to the test broker once told to.
func kafkaDown(t *testing.T, down string) (map[string]string, *tcpgate.Gate) {
	env := kafkaEnv(t)
	g := tcpgate.New(t, strings.Split(env["KAFKA_BROKERS"], ",")[0])
	if down == "Hung" {
		g.Hang()
	}
	env["KAFKA_BROKERS"] = g.Addr()
	env["KAFKA_APPEND_TIMEOUT"] = "2s"
	env["SCIM_DATA_DIR"] = t.TempDir()
	return env, g
}

// retrying matches the Kafka log's line for a failed connection attempt.
func retrying(n int) func(string) bool {
	seen := 0
	return func(line string) bool {
		if strings.Contains(line, `"msg":"kafka is unreachable; retrying"`) {
			seen++
		}
		return seen >= n
	}
}

// TestProcess_KafkaDownAtStart starts the binary while Kafka is down, both
// ways. It must keep running (no crash loop, whatever the number of
// attempts), serve /healthz, say not ready, answer writes with 503 and
// Retry-After in bounded time, and connect by itself once Kafka answers.
func TestProcess_KafkaDownAtStart(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	for _, down := range []string{"Refused", "Hung"} {
		t.Run(down, func(t *testing.T) {
			env, g := kafkaDown(t, down)
			p := startProcessNoWait(t, env)
			s := p.service(t)

			// Several attempts fail, and the process is still there.
			p.waitLog(t, "three failed connection attempts", 90*time.Second, retrying(3))
			if got := s.status("/healthz"); got != http.StatusOK {
				t.Errorf("/healthz with Kafka down = %d, want 200", got)
			}
			if got := s.status("/readyz"); got != http.StatusServiceUnavailable {
				t.Errorf("/readyz with Kafka down = %d, want 503", got)
			}
			start := time.Now()
			checkUnavailable(t, s, "early@example.com")
			if d := time.Since(start); d > 2*time.Second+3*time.Second {
				t.Errorf("the write answered 503 after %v, want within KAFKA_APPEND_TIMEOUT (2s) + 3s", d)
			}
			s.must(200, s.do("GET", "/Users", nil))

			// Kafka answers: the service connects and takes writes.
			g.Forward()
			s.waitReady()
			r := s.must(201, s.do("POST", "/Users", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"alice@example.com"}`))
			s.must(200, s.do("GET", "/Users/"+str(r.Body["id"]), nil))

			p.cmd.Process.Signal(syscall.SIGTERM)
			if code := p.wait(t, 60*time.Second); code != 0 {
				t.Errorf("exit code after SIGTERM = %d, want 0", code)
			}
			if out := p.stderr.String(); strings.Contains(out, "panic") {
				t.Errorf("stderr mentions a panic:\n%s", out)
			}
		})
	}
}

// TestProcess_RebuildWaitsForKafka runs rebuild while Kafka refuses
// connections: it waits, retrying, without touching the projection, and a
// SIGTERM ends it with a non-zero exit (nothing was rebuilt) and a reason.
func TestProcess_RebuildWaitsForKafka(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	env, _ := kafkaDown(t, "Refused")
	p := startBinary(t, []string{"rebuild"}, env)
	p.waitLog(t, "three failed connection attempts", 60*time.Second, retrying(3))

	p.cmd.Process.Signal(syscall.SIGTERM)
	if code := p.wait(t, 30*time.Second); code != 1 {
		t.Errorf("rebuild interrupted by SIGTERM: exit code %d, want 1", code)
	}
	out := p.stderr.String()
	if strings.Contains(out, "panic") || !strings.Contains(out, "interrupted while waiting for the event log") {
		t.Errorf("stderr = %s\nwant the interruption named, and no panic", out)
	}
	if _, err := os.Stat(filepath.Join(env["SCIM_DATA_DIR"], "projection")); !os.IsNotExist(err) {
		t.Errorf("projection after an interrupted wait for Kafka: %v, want it untouched (absent)", err)
	}
}

// TestKafka_CompactedTopicEndsServe starts serve on a compacted topic: the
// background connection finds what no retry fixes, and serve ends with it
// rather than retrying forever or serving without a log.
func TestKafka_CompactedTopicEndsServe(t *testing.T) {
	env := kafkaEnv(t)
	admin := &kafkago.Client{Addr: kafkago.TCP(strings.Split(env["KAFKA_BROKERS"], ",")...), Timeout: 30 * time.Second, Transport: &kafkago.Transport{}}
	res, err := admin.CreateTopics(t.Context(), &kafkago.CreateTopicsRequest{Topics: []kafkago.TopicConfig{{
		Topic: env["KAFKA_TOPIC"], NumPartitions: 1, ReplicationFactor: 1,
		ConfigEntries: []kafkago.ConfigEntry{{ConfigName: "cleanup.policy", ConfigValue: "compact"}},
	}}})
	if err == nil {
		err = res.Errors[env["KAFKA_TOPIC"]]
	}
	if err != nil {
		t.Fatalf("create a compacted topic: %v", err)
	}
	t.Cleanup(func() {
		admin.DeleteTopics(context.Background(), &kafkago.DeleteTopicsRequest{Topics: []string{env["KAFKA_TOPIC"]}})
	})

	vars := map[string]string{"SCIM_LISTEN": "127.0.0.1:0", "SCIM_ADMIN_LISTEN": "off", "SCIM_DATA_DIR": t.TempDir(), "SCIM_TOKEN": testToken}
	for k, v := range env {
		vars[k] = v
	}
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	err = run(ctx, []string{"serve"}, func(k string) string { return vars[k] }, io.Discard, testutil.Writer(t), nil)
	if ctx.Err() != nil || err == nil || !strings.Contains(err.Error(), "compacted") {
		t.Errorf("serve on a compacted topic = %v (context: %v), want it to end with the compaction named", err, ctx.Err())
	}
}
