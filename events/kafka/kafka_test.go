package kafka

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/segmentio/kafka-go"

	"github.com/scim-bridge/scim-bridge/events"
	"github.com/scim-bridge/scim-bridge/events/eventstest"
	"github.com/scim-bridge/scim-bridge/events/kafka/tcpgate"
	"github.com/scim-bridge/scim-bridge/schemas/eventschema"
)

const brokerHelp = "KAFKA_TEST_BROKERS is not set: start the broker with scripts/kafka/kafka.sh start " +
	"and export the line it prints (eval \"$(scripts/kafka/kafka.sh start)\")"

// testBrokers returns the test broker's addresses. Without one the test
// skips, except under CI, where it fails: CI must run these tests.
func testBrokers(t testing.TB) []string {
	t.Helper()
	v := os.Getenv("KAFKA_TEST_BROKERS")
	if v == "" {
		if os.Getenv("CI") != "" {
			t.Fatal(brokerHelp)
		}
		t.Skip(brokerHelp)
	}
	return strings.Split(v, ",")
}

// testLogger sends logs to t.Log until the test ends (kafka-go goroutines
// may still log while closing; those lines are dropped).
func testLogger(t testing.TB) *slog.Logger {
	w := &testWriter{t: t}
	t.Cleanup(func() { w.mu.Lock(); w.done = true; w.mu.Unlock() })
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelInfo}))
}

type testWriter struct {
	mu   sync.Mutex
	t    testing.TB
	done bool
}

func (w *testWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.done {
		w.t.Log(strings.TrimSuffix(string(p), "\n"))
	}
	return len(p), nil
}

var unsafeTopicChars = regexp.MustCompile(`[^a-zA-Z0-9._-]+`)

// newTopic returns a fresh topic name for t and deletes the topic when the
// test ends.
func newTopic(t testing.TB, brokers []string) string {
	t.Helper()
	var b [4]byte
	rand.Read(b[:])
	name := unsafeTopicChars.ReplaceAllString(t.Name(), ".")
	if len(name) > 180 {
		name = name[len(name)-180:]
	}
	topic := "test." + name + "." + hex.EncodeToString(b[:])
	t.Cleanup(func() {
		c := adminClient(brokers)
		c.DeleteTopics(context.Background(), &kafka.DeleteTopicsRequest{Topics: []string{topic}})
		c.Transport.(*kafka.Transport).CloseIdleConnections()
	})
	return topic
}

// adminClient returns a client with a Transport of its own: kafka-go's
// DefaultTransport caches metadata across clients, so a topic created by
// the Log would look missing to it for a while.
func adminClient(brokers []string) *kafka.Client {
	return &kafka.Client{Addr: kafka.TCP(brokers...), Timeout: 30 * time.Second, Transport: &kafka.Transport{}}
}

func testOptions(t testing.TB, brokers []string, partitions int) Options {
	return Options{
		Brokers:    brokers,
		Topic:      newTopic(t, brokers),
		Partitions: partitions,
		Logger:     testLogger(t),
		Registerer: prometheus.NewRegistry(),
	}
}

func mustOpen(t testing.TB, opts Options) *Log {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	opts.Registerer = prometheus.NewRegistry() // each Log its own
	l, err := Open(opts)
	if err != nil {
		t.Fatalf("Open(topic %s): %v", opts.Topic, err)
	}
	t.Cleanup(func() { l.Close() })
	if err := l.WaitConnected(ctx); err != nil {
		t.Fatalf("WaitConnected(topic %s): %v", opts.Topic, err)
	}
	return l
}

func TestLog_Contract(t *testing.T) {
	brokers := testBrokers(t)
	for _, n := range []int{1, 4} {
		t.Run(fmt.Sprintf("Partitions%d", n), func(t *testing.T) {
			eventstest.TestLog(t, func(t *testing.T) (events.Log, func(*testing.T) events.Log) {
				opts := testOptions(t, brokers, n)
				return mustOpen(t, opts), func(t *testing.T) events.Log { return mustOpen(t, opts) }
			})
		})
	}
}

// TestLog_DownstreamConsumer reads the topic the way a downstream team
// would, with a plain kafka-go consumer-group Reader and no code of ours but
// the contract: key, CloudEvents headers, per-tenant order, and values and
// headers that match the published schemas.
func TestLog_DownstreamConsumer(t *testing.T) {
	brokers := testBrokers(t)
	opts := testOptions(t, brokers, 3)
	l := mustOpen(t, opts)

	tenants := []string{"acme", "globex", "initech", "umbrella"}
	const versions = 5
	sent := map[string]events.Event{} // by ce_id
	for v := int64(1); v <= versions; v++ {
		for _, tenant := range tenants {
			e := eventstest.Event(tenant, "User", "u-"+tenant, v)
			if _, _, err := l.Append(t.Context(), []events.Event{e}); err != nil {
				t.Fatalf("Append(%s v%d): %v", tenant, v, err)
			}
			sent[e.ID] = e
		}
	}

	// A claim on every partition: a record of the contract too, which a
	// consumer tells from events by ce_type.
	claims := map[string]events.Claim{} // by ce_id
	for p := range 3 {
		c := eventstest.Claim(p, 1, "http://10.0.0.9:8080")
		if _, err := l.AppendClaim(t.Context(), c); err != nil {
			t.Fatalf("AppendClaim(partition %d): %v", p, err)
		}
		claims[c.ID] = c
	}

	r := kafka.NewReader(kafka.ReaderConfig{
		Brokers:     brokers,
		Topic:       opts.Topic,
		GroupID:     "downstream-" + opts.Topic,
		StartOffset: kafka.FirstOffset,
		MinBytes:    1,
		MaxBytes:    1 << 20,
		MaxWait:     100 * time.Millisecond,
	})
	defer r.Close()
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()

	lastVersion := map[string]int64{}
	for i := range len(sent) + len(claims) {
		m, err := r.FetchMessage(ctx)
		if err != nil {
			t.Fatalf("FetchMessage after %d of %d: %v", i, len(sent)+len(claims), err)
		}
		h := map[string]string{}
		for _, x := range m.Headers {
			h[x.Key] = string(x.Value)
		}
		if h["ce_type"] == events.PartitionClaimed {
			c, ok := claims[h["ce_id"]]
			if !ok {
				t.Fatalf("claim with ce_id %q: not one we sent (headers %v)", h["ce_id"], h)
			}
			if got, want := string(m.Key), fmt.Sprintf("_claim/%d", c.Partition); got != want || m.Partition != c.Partition {
				t.Errorf("claim of partition %d: key %q in partition %d, want key %q", c.Partition, got, m.Partition, want)
			}
			if err := eventschema.ValidateHeaders(events.PartitionClaimed, h); err != nil {
				t.Errorf("claim headers: %v", err)
			}
			if err := eventschema.Validate(events.PartitionClaimed, m.Value); err != nil {
				t.Errorf("claim value: %v", err)
			}
			if err := r.CommitMessages(ctx, m); err != nil {
				t.Fatalf("CommitMessages: %v", err)
			}
			continue
		}
		e, ok := sent[h["ce_id"]]
		if !ok {
			t.Fatalf("record with ce_id %q: not one we sent (headers %v)", h["ce_id"], h)
		}
		if got, want := string(m.Key), e.Tenant+"/User/"+e.ResourceID; got != want {
			t.Errorf("key = %q, want %q", got, want)
		}
		want := map[string]string{
			"ce_specversion": "1.0",
			"ce_id":          e.ID,
			"ce_source":      e.Source,
			"ce_type":        e.Type,
			"ce_subject":     "User/" + e.ResourceID,
			"ce_time":        e.Time.UTC().Format("2006-01-02T15:04:05.000000000Z"),
			"ce_tenant":      e.Tenant,
			"content-type":   "application/json",
		}
		for k, w := range want {
			if h[k] != w {
				t.Errorf("header %s = %q, want %q", k, h[k], w)
			}
		}
		if err := eventschema.ValidateHeaders(e.Type, h); err != nil {
			t.Errorf("headers: %v", err)
		}
		if err := eventschema.Validate(e.Type, m.Value); err != nil {
			t.Errorf("value: %v", err)
		}
		if got, want := m.Partition, events.PartitionFor(e.Tenant, 3); got != want {
			t.Errorf("tenant %s on partition %d, want %d", e.Tenant, got, want)
		}
		if e.Version != lastVersion[e.Tenant]+1 {
			t.Errorf("tenant %s: version %d after %d: per-tenant order lost", e.Tenant, e.Version, lastVersion[e.Tenant])
		}
		lastVersion[e.Tenant] = e.Version
		if err := r.CommitMessages(ctx, m); err != nil {
			t.Fatalf("CommitMessages: %v", err)
		}
	}
}

func TestOpen_Topic(t *testing.T) {
	brokers := testBrokers(t)
	describe := func(t *testing.T, topic string) (partitions int, cfg map[string]string) {
		t.Helper()
		admin := adminClient(brokers)
		md, err := admin.Metadata(t.Context(), &kafka.MetadataRequest{Topics: []string{topic}})
		if err != nil || len(md.Topics) != 1 || md.Topics[0].Error != nil {
			t.Fatalf("Metadata(%s) = %+v, %v", topic, md, err)
		}
		res, err := admin.DescribeConfigs(t.Context(), &kafka.DescribeConfigsRequest{
			Resources: []kafka.DescribeConfigRequestResource{{
				ResourceType: kafka.ResourceTypeTopic, ResourceName: topic,
				ConfigNames: []string{"cleanup.policy", "retention.ms"},
			}},
		})
		if err != nil || len(res.Resources) != 1 {
			t.Fatalf("DescribeConfigs(%s) = %+v, %v", topic, res, err)
		}
		cfg = map[string]string{}
		for _, e := range res.Resources[0].ConfigEntries {
			cfg[e.ConfigName] = e.ConfigValue
		}
		return len(md.Topics[0].Partitions), cfg
	}
	create := func(t *testing.T, topic string, partitions int, policy string) {
		t.Helper()
		admin := adminClient(brokers)
		res, err := admin.CreateTopics(t.Context(), &kafka.CreateTopicsRequest{Topics: []kafka.TopicConfig{{
			Topic: topic, NumPartitions: partitions, ReplicationFactor: 1,
			ConfigEntries: []kafka.ConfigEntry{{ConfigName: "cleanup.policy", ConfigValue: policy}},
		}}})
		if err == nil {
			err = res.Errors[topic]
		}
		if err != nil {
			t.Fatalf("CreateTopics(%s): %v", topic, err)
		}
	}

	t.Run("Created", func(t *testing.T) {
		opts := testOptions(t, brokers, 5)
		l := mustOpen(t, opts)
		if got := l.Partitions(); got != 5 {
			t.Errorf("Partitions() = %d, want 5", got)
		}
		n, cfg := describe(t, opts.Topic)
		if n != 5 {
			t.Errorf("topic has %d partitions, want 5", n)
		}
		if cfg["retention.ms"] != "-1" || cfg["cleanup.policy"] != "delete" {
			t.Errorf("topic config = %v, want retention.ms=-1 cleanup.policy=delete", cfg)
		}
	})
	t.Run("Retention", func(t *testing.T) {
		opts := testOptions(t, brokers, 1)
		opts.Retention = 7 * 24 * time.Hour
		mustOpen(t, opts)
		if _, cfg := describe(t, opts.Topic); cfg["retention.ms"] != "604800000" {
			t.Errorf("retention.ms = %q, want 604800000", cfg["retention.ms"])
		}
	})
	t.Run("ExistingKeepsPartitions", func(t *testing.T) {
		opts := testOptions(t, brokers, 12)
		create(t, opts.Topic, 2, "delete")
		l := mustOpen(t, opts)
		if got := l.Partitions(); got != 2 {
			t.Errorf("Partitions() = %d on an existing 2-partition topic, want 2", got)
		}
	})
	t.Run("ErrCompacted", func(t *testing.T) {
		// Found in the background, and final: no retry makes the topic
		// usable, so the owner hears of it and the calls say why.
		opts := testOptions(t, brokers, 1)
		create(t, opts.Topic, 1, "compact")
		l, err := Open(opts)
		if err != nil {
			t.Fatalf("Open = %v, want the check left to the background", err)
		}
		defer l.Close()
		ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
		defer cancel()
		if err := l.WaitConnected(ctx); !errors.Is(err, ErrCompacted) {
			t.Errorf("WaitConnected(compacted topic) = %v, want ErrCompacted", err)
		}
		if _, err := l.End(t.Context()); !errors.Is(err, ErrCompacted) || !errors.Is(err, events.ErrUnavailable) {
			t.Errorf("End(compacted topic) = %v, want ErrCompacted and ErrUnavailable", err)
		}
		if _, _, err := l.Append(t.Context(), []events.Event{eventstest.Event("acme", "User", "u1", 1)}); !errors.Is(err, ErrCompacted) {
			t.Errorf("Append(compacted topic) = %v, want ErrCompacted", err)
		}
	})
}

// TestLog_GroupCommit checks that appends queued on one partition go out in
// one produce request: they are queued before the partition's loop starts.
func TestLog_GroupCommit(t *testing.T) {
	brokers := testBrokers(t)
	opts := testOptions(t, brokers, 2)
	reg := prometheus.NewRegistry()
	opts.Registerer = reg
	l, err := newLog(opts)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if _, err := l.ensureTopic(t.Context()); err != nil {
		t.Fatalf("ensureTopic: %v", err)
	}
	l.initQueues(2)

	const appenders = 10
	type result struct {
		last int64
		err  error
	}
	results := make(chan result, appenders)
	for i := range appenders {
		go func() {
			e := eventstest.Event("acme", "User", fmt.Sprint("u", i), 1)
			_, last, err := l.Append(t.Context(), []events.Event{e})
			results <- result{last, err}
		}()
	}
	p := events.PartitionFor("acme", 2)
	for len(l.queues[p]) < appenders { // wait until all are queued
		runtime.Gosched()
	}
	l.runLoops()

	seen := map[int64]bool{}
	for range appenders {
		r := <-results
		if r.err != nil {
			t.Fatalf("Append: %v", r.err)
		}
		seen[r.last] = true
	}
	if len(seen) != appenders {
		t.Errorf("Appends returned %d distinct offsets, want %d", len(seen), appenders)
	}
	var m dto.Metric
	if err := l.metrics.produceRequests.WithLabelValues("ok").Write(&m); err != nil {
		t.Fatal(err)
	}
	if got := m.GetCounter().GetValue(); got != 1 {
		t.Errorf("produce requests = %v for %d queued appends, want 1", got, appenders)
	}
}

// TestLog_Unreachable opens the Log on brokers that are down, both ways: a
// refused connection and one that is accepted and never answered. Open
// returns at once, calls fail fast with ErrUnavailable, the attempts go on
// (registering metrics once: a second registration panics), and the Log
// connects when the broker comes back.
func TestLog_Unreachable(t *testing.T) {
	brokers := testBrokers(t)
	for _, down := range []string{"Refused", "Hung"} {
		t.Run(down, func(t *testing.T) {
			g := tcpgate.New(t, brokers[0])
			if down == "Hung" {
				g.Hang()
			}
			opts := testOptions(t, []string{g.Addr()}, 2)
			opts.AppendTimeout = 2 * time.Second
			reg := prometheus.NewRegistry()
			opts.Registerer = reg
			l, err := Open(opts)
			if err != nil {
				t.Fatalf("Open(%s broker) = %v, want nil: it connects in the background", down, err)
			}
			defer l.Close()

			if n := l.Partitions(); n != 0 {
				t.Errorf("Partitions() before connecting = %d, want 0", n)
			}
			start := time.Now()
			if _, err := l.End(t.Context()); !errors.Is(err, events.ErrUnavailable) {
				t.Errorf("End before connecting = %v, want ErrUnavailable", err)
			}
			_, _, err = l.Append(t.Context(), []events.Event{eventstest.Event("acme", "User", "u1", 1)})
			if !errors.Is(err, events.ErrUnavailable) {
				t.Errorf("Append before connecting = %v, want ErrUnavailable", err)
			}
			if d := time.Since(start); d > opts.AppendTimeout+3*time.Second {
				t.Errorf("End and Append before connecting took %v, want them bounded by AppendTimeout %v", d, opts.AppendTimeout)
			}
			// Let several attempts fail (refused ones come back at once;
			// hung ones end at connectTimeout).
			wait := 3 * time.Second
			if down == "Hung" {
				wait = connectTimeout + 2*time.Second
			}
			ctx, cancel := context.WithTimeout(t.Context(), wait)
			err = l.WaitConnected(ctx)
			cancel()
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("WaitConnected while the broker is down = %v, want the context's deadline", err)
			}

			// A Read started now waits for the connection and then reads.
			readErr := make(chan error, 1)
			got := make(chan events.Record, 1)
			rctx, rcancel := context.WithCancel(t.Context())
			defer rcancel()
			go func() {
				readErr <- l.Read(rctx, events.PartitionFor("acme", 2), 0, func(r events.Record) error {
					got <- r
					return errors.New("enough")
				})
			}()

			g.Forward()
			ctx, cancel = context.WithTimeout(t.Context(), 60*time.Second)
			defer cancel()
			if err := l.WaitConnected(ctx); err != nil {
				t.Fatalf("WaitConnected after the broker came back = %v", err)
			}
			if n := l.Partitions(); n != 2 {
				t.Errorf("Partitions() = %d, want 2", n)
			}
			e := eventstest.Event("acme", "User", "u1", 1)
			if _, _, err := l.Append(t.Context(), []events.Event{e}); err != nil {
				t.Fatalf("Append after connecting: %v", err)
			}
			select {
			case r := <-got:
				if r.Event.ID != e.ID {
					t.Errorf("Read got event %s, want %s", r.Event.ID, e.ID)
				}
			case err := <-readErr:
				t.Fatalf("Read started before connecting returned %v", err)
			case <-ctx.Done():
				t.Fatal("Read started before connecting got nothing within 60s")
			}
			if n := testutilCount(t, reg, "scim_log_appends_total"); n != 2 {
				t.Errorf("scim_log_appends_total = %v, want 2 (one unavailable, one ok)", n)
			}
		})
	}
}

// testutilCount sums the samples of a counter family of reg.
func testutilCount(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var sum float64
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			sum += m.GetCounter().GetValue()
		}
	}
	return sum
}

func TestOptions_Invalid(t *testing.T) {
	tests := []struct {
		name string
		opts Options
	}{
		{"NoBrokers", Options{}},
		{"UnknownSASL", Options{Brokers: []string{"x:9092"}, SASL: SASL{Mechanism: "gssapi"}}},
		{"NoPort", Options{Brokers: []string{"kafka-0.kafka"}}},
		{"BadPort", Options{Brokers: []string{"kafka-0.kafka:90920"}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			// Settings are checked before anything goes to the background.
			if l, err := Open(tc.opts); err == nil {
				l.Close()
				t.Errorf("Open(%+v) = nil error, want an error", tc.opts)
			}
		})
	}
}

func BenchmarkKafkaAppend(b *testing.B) {
	brokers := testBrokers(b)
	for _, appenders := range []int{1, 16, 64} {
		b.Run(fmt.Sprintf("Appenders%d", appenders), func(b *testing.B) {
			opts := testOptions(b, brokers, DefaultPartitions)
			opts.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
			l := mustOpen(b, opts)
			evs := make([][]events.Event, appenders)
			for i := range evs {
				evs[i] = []events.Event{eventstest.Event(fmt.Sprint("tenant-", i), "User", "u1", 1)}
			}
			work := make(chan struct{}, 1024)
			var wg sync.WaitGroup
			errs := make(chan error, appenders)
			b.ReportAllocs()
			b.ResetTimer()
			for i := range appenders {
				wg.Go(func() {
					for range work {
						if _, _, err := l.Append(context.Background(), evs[i]); err != nil {
							errs <- err
							return
						}
					}
				})
			}
			for range b.N {
				work <- struct{}{}
			}
			close(work)
			wg.Wait()
			b.StopTimer()
			close(errs)
			for err := range errs {
				b.Fatal(err)
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "appends/s")
		})
	}
}
