// Package kafka is the Kafka implementation of [events.Log], on
// github.com/segmentio/kafka-go. It owns the topic (creating it when
// missing, refusing a compacted one), the producer path with per-partition
// group commit, and per-partition readers. It knows nothing of the
// projection or HTTP; only main.go (and tests) import it.
//
// Records follow the public event contract (docs/events.md): key
// "<tenant>/<ResourceType>/<id>", CloudEvents 1.0 binary-mode headers and
// the JSON event as value, all produced by [events.Encode]; a tenant's
// partition is [events.PartitionFor] over the topic's partition count.
//
// Durability: every produce request asks for acks=all. How many copies that
// means is the broker's min.insync.replicas (and the topic's replication
// factor): run production topics with replication 3 and min.insync.replicas 2.
package kafka

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/sasl"
	"github.com/segmentio/kafka-go/sasl/plain"
	"github.com/segmentio/kafka-go/sasl/scram"

	"github.com/scim-bridge/scim-bridge/events"
)

// ErrClosed is returned (wrapped) by calls on a closed Log.
var ErrClosed = errors.New("kafka log closed")

// Defaults of Options.
const (
	DefaultTopic         = "scim.events"
	DefaultPartitions    = 12
	DefaultAppendTimeout = 5 * time.Second
	DefaultMaxBatchBytes = 512 << 10
)

// SASL selects SASL authentication. The zero value means none.
type SASL struct {
	// Mechanism is "plain", "scram-sha-256" or "scram-sha-512".
	Mechanism string
	Username  string
	Password  string
}

// Options configure Open. Only Brokers is required; the zero value of every
// other field is a safe default.
type Options struct {
	Brokers []string // bootstrap addresses, "host:port"
	Topic   string   // default DefaultTopic

	// Partitions is the partition count used when the topic is created
	// (default DefaultPartitions). An existing topic keeps its own count,
	// and that count is what tenants are hashed over: never add partitions
	// to a topic in use, since that moves tenants to other partitions and
	// breaks their order.
	Partitions int
	// ReplicationFactor of a created topic; 0 means -1, the broker's
	// default.replication.factor (CreateTopics v4+, KIP-464).
	ReplicationFactor int
	// Retention of a created topic; 0 means forever (retention.ms=-1). The
	// topic is the source of truth (a fresh projection replays it), so
	// anything else loses state. cleanup.policy is always delete: a
	// compacted topic would drop events the projection needs, and Open
	// refuses one.
	Retention time.Duration

	TLS  *tls.Config // nil: plaintext
	SASL SASL

	// AppendTimeout bounds one Append, from the call to the acknowledgement
	// (default DefaultAppendTimeout); past it Append fails with
	// events.ErrUnavailable.
	AppendTimeout time.Duration
	// MaxBatchBytes caps (approximately) the records of one produce request
	// built by group commit (default DefaultMaxBatchBytes); keep it below
	// the topic's max.message.bytes. A single larger Append goes alone.
	MaxBatchBytes int

	Logger     *slog.Logger          // nil: discard
	Registerer prometheus.Registerer // nil: metrics are not registered
}

func (o *Options) setDefaults() error {
	if len(o.Brokers) == 0 {
		return errors.New("kafka: no brokers")
	}
	for _, b := range o.Brokers {
		host, port, err := net.SplitHostPort(b)
		if err != nil || host == "" {
			return fmt.Errorf("kafka: broker %q: want host:port", b)
		}
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			return fmt.Errorf("kafka: broker %q: port %q is not a port number", b, port)
		}
	}
	if o.Topic == "" {
		o.Topic = DefaultTopic
	}
	if o.Partitions <= 0 {
		o.Partitions = DefaultPartitions
	}
	if o.ReplicationFactor == 0 {
		o.ReplicationFactor = -1
	}
	if o.AppendTimeout <= 0 {
		o.AppendTimeout = DefaultAppendTimeout
	}
	if o.MaxBatchBytes <= 0 {
		o.MaxBatchBytes = DefaultMaxBatchBytes
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return nil
}

func (o *Options) mechanism() (sasl.Mechanism, error) {
	switch o.SASL.Mechanism {
	case "":
		return nil, nil
	case "plain":
		return plain.Mechanism{Username: o.SASL.Username, Password: o.SASL.Password}, nil
	case "scram-sha-256":
		return scram.Mechanism(scram.SHA256, o.SASL.Username, o.SASL.Password)
	case "scram-sha-512":
		return scram.Mechanism(scram.SHA512, o.SASL.Username, o.SASL.Password)
	}
	return nil, fmt.Errorf("kafka: unknown SASL mechanism %q (want plain, scram-sha-256 or scram-sha-512)", o.SASL.Mechanism)
}

// Log is an [events.Log] on one Kafka topic. It is safe for concurrent use.
//
// Open returns before the Log has reached Kafka; it connects in the
// background (see Open). Until then Partitions is 0, Append and End fail
// with events.ErrUnavailable and Read waits.
type Log struct {
	opts      Options
	client    *kafka.Client
	transport *kafka.Transport
	dialer    *kafka.Dialer // for readers
	logger    *slog.Logger
	metrics   *metrics

	// n and queues are set once, before connected is closed; read them
	// only after seeing connected closed.
	n         int               // partitions of the topic
	queues    []chan *appendReq // one per partition, drained by produceLoop
	connected chan struct{}     // closed once the topic is checked and the loops run
	failed    chan struct{}     // closed when connecting failed for good: see fatal
	fatal     error             // why connecting failed for good; set before failed is closed

	mu      sync.Mutex
	lastErr error // the last failed connection attempt, for errors while not connected

	// life is cancelled by Close: not a request context, the Log's lifetime,
	// which the connect loop, produce loops and Reads select on.
	life      context.Context
	kill      context.CancelFunc
	closeOnce sync.Once
	wg        sync.WaitGroup
}

var _ events.Log = (*Log)(nil)

// Open checks opts and returns at once; the Log connects in the background.
// Only settings it can check without the network (no brokers, a broker
// address that is not host:port, an unknown SASL mechanism) fail Open.
//
// Connecting means: reaching the brokers, creating the topic when missing
// (Options.Partitions, ReplicationFactor, Retention, cleanup.policy=delete),
// checking its configuration (warning when its partition count or retention
// differ from Options) and waiting until every partition has a leader.
// While that fails for a reason that may pass (a broker down, refusing or
// not answering, a leader election), the Log logs it at Warn and tries
// again with backoff (0.5s, doubling up to 10s), each attempt bounded by
// connectTimeout, for as long as it is open. A reason no retry can fix
// ends the attempts: a compacted topic (ErrCompacted), a rejected login or
// authorization, a broker certificate that does not verify, the topic's
// creation refused (e.g. a replication factor above the brokers' count).
// WaitConnected returns that error, and Append and End fail with it (and
// events.ErrUnavailable) from then on; the owner should stop.
//
// Metrics are registered once, here, whatever the number of attempts.
func Open(opts Options) (*Log, error) {
	l, err := newLog(opts)
	if err != nil {
		return nil, err
	}
	l.wg.Go(l.connect)
	return l, nil
}

// connectTimeout bounds one connection attempt: a broker that accepts
// connections but never answers (hung, or a half-open network path) fails
// the attempt after it, and the next one starts.
const connectTimeout = 10 * time.Second

// connect tries to connect until it succeeds, fails for good or the Log is
// closed.
func (l *Log) connect() {
	backoff := 500 * time.Millisecond
	for attempt := 1; ; attempt++ {
		ctx, cancel := context.WithTimeout(l.life, connectTimeout)
		n, err := l.ensureTopic(ctx)
		cancel()
		if l.closed() {
			return
		}
		if err == nil {
			l.start(n)
			l.logger.Info("kafka log open", "partitions", n, "brokers", len(l.opts.Brokers), "attempts", attempt)
			return
		}
		err = fmt.Errorf("open topic %s: %w", l.opts.Topic, err)
		if permanent(err) {
			l.fatal = err // not logged: WaitConnected, Append and End return it
			close(l.failed)
			return
		}
		l.mu.Lock()
		l.lastErr = err
		l.mu.Unlock()
		l.logger.Warn("kafka is unreachable; retrying", "err", err, "attempt", attempt, "retry_in", backoff.String())
		t := time.NewTimer(backoff)
		select {
		case <-l.life.Done():
			t.Stop()
			return
		case <-t.C:
		}
		backoff = min(2*backoff, 10*time.Second)
	}
}

// permanent reports whether a connection attempt failed for a reason no
// retry fixes. An attempt that ran out of time is never one; a Kafka error
// is one unless Kafka calls it retriable; a certificate that does not
// verify, or a broker that does not speak TLS to a TLS client, is one.
func permanent(err error) bool {
	var (
		verify *tls.CertificateVerificationError
		header tls.RecordHeaderError
	)
	switch {
	case errors.Is(err, ErrCompacted):
		return true
	case errors.Is(err, context.DeadlineExceeded):
		return false
	case errors.As(err, &verify), errors.As(err, &header):
		return true
	}
	return !retriable(err)
}

// WaitConnected blocks until the Log has connected (nil), connecting failed
// for good (that error; see Open), the Log was closed (ErrClosed) or ctx is
// done (ctx.Err()).
func (l *Log) WaitConnected(ctx context.Context) error {
	select {
	case <-l.connected:
		return nil
	default:
	}
	select {
	case <-l.connected:
		return nil
	case <-l.failed:
		return l.fatal
	case <-l.life.Done():
		return ErrClosed
	case <-ctx.Done():
		return ctx.Err()
	}
}

// isConnected reports whether the Log has connected; n and queues may be
// read once it has.
func (l *Log) isConnected() bool {
	select {
	case <-l.connected:
		return true
	default:
		return false
	}
}

// notConnected is the error of a call made before the Log connected: it
// wraps events.ErrUnavailable, and the permanent error or the last failed
// attempt.
func (l *Log) notConnected() error {
	select {
	case <-l.failed:
		return fmt.Errorf("%w: %w", events.ErrUnavailable, l.fatal)
	default:
	}
	l.mu.Lock()
	last := l.lastErr
	l.mu.Unlock()
	if last == nil {
		return fmt.Errorf("%w: not connected to Kafka yet", events.ErrUnavailable)
	}
	return fmt.Errorf("%w: not connected to Kafka yet (last attempt: %w)", events.ErrUnavailable, last)
}

// newLog builds a Log without touching the network.
func newLog(opts Options) (*Log, error) {
	if err := opts.setDefaults(); err != nil {
		return nil, err
	}
	mech, err := opts.mechanism()
	if err != nil {
		return nil, err
	}
	dial := &net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}
	t := &kafka.Transport{
		Dial:        dial.DialContext,
		DialTimeout: 5 * time.Second,
		IdleTimeout: 5 * time.Minute,
		MetadataTTL: 10 * time.Second,
		ClientID:    "scim-bridge",
		TLS:         opts.TLS,
		SASL:        mech,
	}
	logger := opts.Logger.With("component", "kafka", "topic", opts.Topic)
	life, kill := context.WithCancel(context.Background())
	return &Log{
		life:      life,
		kill:      kill,
		connected: make(chan struct{}),
		failed:    make(chan struct{}),
		opts:      opts,
		transport: t,
		client:    &kafka.Client{Addr: kafka.TCP(opts.Brokers...), Transport: t},
		dialer: &kafka.Dialer{
			ClientID:      "scim-bridge",
			Timeout:       5 * time.Second,
			DualStack:     true,
			KeepAlive:     30 * time.Second,
			TLS:           opts.TLS,
			SASLMechanism: mech,
		},
		logger:  logger,
		metrics: newMetrics(opts.Registerer),
	}, nil
}

// start marks the Log connected to a topic of n partitions and begins one
// produce loop per partition.
func (l *Log) start(n int) {
	l.initQueues(n)
	l.runLoops()
}

// initQueues sets the partition count and the append queues and marks the
// Log connected: appends queue from then on.
func (l *Log) initQueues(n int) {
	l.n = n
	l.queues = make([]chan *appendReq, n)
	for p := range l.queues {
		l.queues[p] = make(chan *appendReq, 256)
	}
	close(l.connected)
}

func (l *Log) runLoops() {
	for p, q := range l.queues {
		l.wg.Go(func() { l.produceLoop(p, q) })
	}
}

// Partitions returns the topic's partition count, or 0 until the Log has
// connected.
func (l *Log) Partitions() int {
	if !l.isConnected() {
		return 0
	}
	return l.n
}

// End returns the high watermark of every partition (ListOffsets, latest).
// It is bounded by AppendTimeout, like Append: every write asks for the end
// first, so a hung broker must fail it in bounded time too. Before the Log
// has connected it fails at once. Errors wrap events.ErrUnavailable.
func (l *Log) End(ctx context.Context) ([]int64, error) {
	if l.closed() {
		return nil, fmt.Errorf("end offsets: %w", ErrClosed)
	}
	if !l.isConnected() {
		return nil, fmt.Errorf("end offsets: %w", l.notConnected())
	}
	ctx, cancel := context.WithTimeout(ctx, l.opts.AppendTimeout)
	defer cancel()
	return l.endOffsets(ctx, l.n)
}

func (l *Log) endOffsets(ctx context.Context, n int) ([]int64, error) {
	// Retry what may pass by itself (a leader election, a dropped
	// connection) within ctx, as produce does: a write asks for the end
	// first, and should wait out a blip rather than fail with 503.
	backoff := 20 * time.Millisecond
	for {
		ends, err := l.listEnds(ctx, n)
		if err == nil || !retriable(err) {
			return ends, err
		}
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, err
		case <-t.C:
		}
		backoff = min(2*backoff, 500*time.Millisecond)
	}
}

func (l *Log) listEnds(ctx context.Context, n int) ([]int64, error) {
	reqs := make([]kafka.OffsetRequest, n)
	for p := range reqs {
		reqs[p] = kafka.LastOffsetOf(p)
	}
	res, err := l.client.ListOffsets(ctx, &kafka.ListOffsetsRequest{
		Topics: map[string][]kafka.OffsetRequest{l.opts.Topic: reqs},
	})
	if err != nil {
		return nil, fmt.Errorf("%w: list offsets: %w", events.ErrUnavailable, err)
	}
	ends := make([]int64, n)
	got := 0
	for _, po := range res.Topics[l.opts.Topic] {
		if po.Error != nil {
			return nil, fmt.Errorf("%w: list offsets of partition %d: %w", events.ErrUnavailable, po.Partition, po.Error)
		}
		if po.Partition < 0 || po.Partition >= n {
			continue
		}
		ends[po.Partition] = po.LastOffset
		got++
	}
	if got != n {
		return nil, fmt.Errorf("%w: list offsets: %d of %d partitions answered", events.ErrUnavailable, got, n)
	}
	return ends, nil
}

// Close stops connecting and the produce loops, failing queued appends with
// ErrClosed, cancels running Reads and closes idle connections. It is
// idempotent.
func (l *Log) Close() error {
	l.closeOnce.Do(func() {
		l.kill()
		l.wg.Wait()
		l.transport.CloseIdleConnections()
	})
	return nil
}

func (l *Log) closed() bool { return l.life.Err() != nil }
