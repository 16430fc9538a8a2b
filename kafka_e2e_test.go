package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	kafkago "github.com/segmentio/kafka-go"

	"github.com/scim-bridge/scim-bridge/events"
	"github.com/scim-bridge/scim-bridge/events/kafka"
	"github.com/scim-bridge/scim-bridge/schemas/eventschema"
)

// kafkaEnv returns the service environment for a fresh topic on the test
// broker. Without KAFKA_TEST_BROKERS the test skips, except under CI, where
// it fails: CI must run the Kafka tests.
func kafkaEnv(t *testing.T) map[string]string {
	t.Helper()
	brokers := os.Getenv("KAFKA_TEST_BROKERS")
	if brokers == "" {
		const help = "KAFKA_TEST_BROKERS is not set: run scripts/test, or start a broker with " +
			`eval "$(scripts/kafka/kafka.sh start)"`
		if os.Getenv("CI") != "" {
			t.Fatal(help)
		}
		t.Skip(help)
	}
	var b [6]byte
	rand.Read(b[:])
	return map[string]string{
		"KAFKA_BROKERS":            brokers,
		"KAFKA_TOPIC":              "scim-test-" + hex.EncodeToString(b[:]),
		"KAFKA_PARTITIONS":         "3",
		"KAFKA_REPLICATION_FACTOR": "1",
	}
}

// topicEvents reads every event of the topic through the Kafka log.
func topicEvents(t *testing.T, env map[string]string) []events.Event {
	t.Helper()
	l, err := kafka.Open(kafka.Options{
		Brokers: strings.Split(env["KAFKA_BROKERS"], ","),
		Topic:   env["KAFKA_TOPIC"],
	})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := l.WaitConnected(ctx); err != nil {
		t.Fatal(err)
	}
	return readAll(t, l)
}

// TestKafka_Provisioning runs the provisioning sequence over Kafka, then reads
// the topic as a downstream team would: a plain kafka-go reader, checking the
// documented key, headers, order and the published JSON Schemas.
func TestKafka_Provisioning(t *testing.T) {
	env := kafkaEnv(t)
	s := startService(t, env)
	ids := provisioningSequence(t, s)
	s.stop()
	evs := topicEvents(t, env)
	checkProvisioningEvents(t, evs, ids)

	r := kafkago.NewReader(kafkago.ReaderConfig{
		Brokers:     strings.Split(env["KAFKA_BROKERS"], ","),
		Topic:       env["KAFKA_TOPIC"],
		GroupID:     "downstream-" + env["KAFKA_TOPIC"],
		MaxWait:     200 * time.Millisecond,
		MinBytes:    1,
		MaxBytes:    10 << 20,
		StartOffset: kafkago.FirstOffset,
	})
	defer r.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	partition := -1
	lastVersion := map[string]int64{}
	for i := 0; i < len(evs); i++ {
		m, err := r.ReadMessage(ctx)
		if err != nil {
			t.Fatalf("downstream reader after %d of %d messages: %v", i, len(evs), err)
		}
		h := map[string]string{}
		for _, x := range m.Headers {
			h[x.Key] = string(x.Value)
		}
		typ := h["ce_type"]
		if typ == events.PartitionClaimed {
			// The service claimed the partition (write ownership with
			// Kafka): a consumer skips claims, after checking them.
			if err := eventschema.Validate(typ, m.Value); err != nil {
				t.Errorf("message %d (%s) value: %v", i, typ, err)
			}
			i--
			continue
		}
		if err := eventschema.ValidateHeaders(typ, h); err != nil {
			t.Errorf("message %d headers: %v", i, err)
		}
		if err := eventschema.Validate(typ, m.Value); err != nil {
			t.Errorf("message %d (%s) value: %v", i, typ, err)
		}
		parts := strings.Split(string(m.Key), "/")
		if len(parts) != 3 || parts[0] != "default" || (parts[1] != "User" && parts[1] != "Group") || h["ce_tenant"] != "default" {
			t.Errorf("message %d key %q, tenant header %q: want default/<User|Group>/<id>", i, m.Key, h["ce_tenant"])
		}
		if h["ce_subject"] != parts[1]+"/"+parts[2] {
			t.Errorf("message %d ce_subject %q, want %s/%s", i, h["ce_subject"], parts[1], parts[2])
		}
		// One tenant, one partition: everything arrives in order.
		if partition == -1 {
			partition = m.Partition
		} else if m.Partition != partition {
			t.Errorf("message %d on partition %d, the tenant's earlier ones on %d", i, m.Partition, partition)
		}
		ev, err := events.Decode(m.Key, headersOf(m), m.Value)
		if err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
		if ev.Version != lastVersion[string(m.Key)]+1 {
			t.Errorf("message %d (%s): version %d after %d", i, m.Key, ev.Version, lastVersion[string(m.Key)])
		}
		lastVersion[string(m.Key)] = ev.Version
	}
}

func headersOf(m kafkago.Message) []events.Header {
	out := make([]events.Header, len(m.Headers))
	for i, h := range m.Headers {
		out[i] = events.Header{Key: h.Key, Value: h.Value}
	}
	return out
}

// TestKafka_Replay deletes the data directory of a stopped service and starts
// it again: it rebuilds from the topic, is not ready before it has caught
// up, and arrives at exactly the same projection.
func TestKafka_Replay(t *testing.T) {
	env := kafkaEnv(t)
	env["SCIM_DATA_DIR"] = t.TempDir()
	s := startService(t, env)
	provisioningSequence(t, s)
	// Enough users that the replay takes more than an instant.
	const extra = 300
	for i := 0; i < extra; i++ {
		s.must(201, s.do("POST", "/Users", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"replay-`+strconv.Itoa(i)+`@example.com"}`))
	}
	s.stop()
	live := exportProjection(t, env["SCIM_DATA_DIR"])

	if err := os.RemoveAll(env["SCIM_DATA_DIR"]); err != nil {
		t.Fatal(err)
	}
	// startService returns at the first 200 from /readyz: at that moment
	// every user must be there.
	s2 := startService(t, env)
	r := s2.must(200, s2.do("GET", "/Users?count=0", nil))
	if r.Body["totalResults"] != float64(extra+2) {
		t.Errorf("ready after replay with %v users, want %d", r.Body["totalResults"], extra+2)
	}
	s2.stop()
	// Started again, it claimed its partitions anew (write ownership with
	// Kafka), which moves the claim in force and the positions past the
	// new claims: all else is the same.
	diffDumps(t, "after replaying the topic", withoutClaims(exportProjection(t, env["SCIM_DATA_DIR"])), withoutClaims(live))
}

// withoutClaims leaves out of an export the claim in force and the
// position of each partition (keys "C" and "P" + partition).
func withoutClaims(dump []string) []string {
	var out []string
	for _, kv := range dump {
		if !strings.HasPrefix(kv, `"C\x00`) && !strings.HasPrefix(kv, `"P\x00`) {
			out = append(out, kv)
		}
	}
	return out
}

// TestKafka_Crash kills the service with SIGKILL in the middle of a stream of
// writes over Kafka and restarts it: every write that got a 201 is in the
// topic and in the projection exactly once.
func TestKafka_Crash(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and kills the binary")
	}
	env := kafkaEnv(t)
	env["SCIM_DATA_DIR"] = t.TempDir()
	crashDuringWrites(t, env, func(t *testing.T) []string {
		var names []string
		for _, e := range topicEvents(t, env) {
			if e.Type == "user.created" {
				names = append(names, str(e.Resource["userName"]))
			}
		}
		return names
	})
}
