package kafka

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/segmentio/kafka-go"

	"github.com/scim-bridge/scim-bridge/events"
)

// Write ownership. Several replicas share one topic with one writer per
// partition (docs/replicas.md). Kafka's consumer-group protocol chooses the
// writers: every replica joins one group (OwnerOptions.GroupID, used for
// assignment only: it never commits offsets), and the partitions assigned to
// a member in a generation are the ones it may write for. The group alone
// cannot stop a member that was paused and wakes up believing it still
// owns its partitions, so ownership is also recorded in the partitions
// themselves (events.Claim, events.Fence, docs/decisions.md D22):
//
//  1. given partition p in generation g, append a claim (epoch from g,
//     owner = OwnerOptions.Advertise) to p;
//  2. wait until this replica's projection has applied it, and look at the
//     claim in force there: it is ours, or a claim with a higher epoch came
//     first and ours is void;
//  3. only then open p for writes (Owns), under the claim's epoch, which
//     the bridge stamps on every event;
//  4. close p when the generation ends (a rebalance, a lost session, the
//     broker unreachable), when the projection shows a later claim in force,
//     and at Close, before leaving the group: always before this member can
//     join the next generation, so a live replica hands a partition over
//     before anyone else is given it.
//
// What no replica may do is acknowledge a write that the log does not
// count: a paused former owner's events come after the new claim and are
// void for every reader, and its writer, waiting for them, learns so
// (projection.ErrVoid). The group only decides who should write; the log
// decides whose writes count.
//
// Epochs. A claim's epoch is the generation id, which the coordinator only
// ever increases while the group exists. A group that was empty long
// enough is deleted by the broker and starts again at generation 1, below
// the claims already in the topic; so the epoch is era<<32 | generation,
// with the era of the claim in force, and one era more when that would not
// exceed the claim in force. Moving to the next era is what a member of a
// stale generation would also do, so a member waits SessionTimeout first:
// if its generation is over, the coordinator says so in that time and the
// member claims nothing. Safety never depends on this wait (a claim either
// takes effect in the log or not); it keeps a stale member from taking a
// partition from its rightful owner for a moment.

// DefaultSessionTimeout is OwnerOptions.SessionTimeout's default.
const DefaultSessionTimeout = 10 * time.Second

// Projection is what an Owner needs of this replica's read model (met by
// *projection.Store).
type Projection interface {
	// WaitCaughtUp returns once the projection has applied what the log
	// held when it started: a replica joins the group only then, so it is
	// not given partitions it would need a long replay to write for.
	WaitCaughtUp(ctx context.Context) error
	// WaitApplied returns once the record at offset off of partition p is
	// applied (an error when it is void or the read model fails).
	WaitApplied(ctx context.Context, p int, off int64) error
	// Fence returns the claim in force in partition p as applied so far.
	Fence(p int) events.Fence
}

// OwnerOptions configure NewOwner. Advertise is required.
type OwnerOptions struct {
	// GroupID is the consumer group that assigns write ownership; "":
	// the topic's name + ".writers". Every replica of one service uses the
	// same; it must be used for nothing else.
	GroupID string
	// Advertise is the base URL other replicas reach this one at (the
	// owner in its claims, where they forward writes): printable ASCII,
	// at most events.MaxOwnerBytes.
	Advertise string
	// SessionTimeout is how long the coordinator waits for a silent
	// member before giving its partitions to others (default
	// DefaultSessionTimeout). The broker bounds it
	// (group.min.session.timeout.ms, 6 s by default). Members heartbeat
	// every tenth of it, and a rebalance waits at most this long for a
	// member to rejoin.
	SessionTimeout time.Duration
	// Source is the ce_source of the claims; "": "/scim-bridge".
	Source string

	Logger     *slog.Logger          // nil: the Log's
	Registerer prometheus.Registerer // nil: metrics are not registered
}

// Owner is this replica's membership in the writers' group and the set of
// partitions it writes for. Run it; read it with Owns and Owner. Safe for
// concurrent use.
type Owner struct {
	log     *Log
	proj    Projection
	opts    OwnerOptions
	logger  *slog.Logger
	metrics *ownerMetrics
	now     func() time.Time
	newID   func() string

	// settle is how long a member waits before claiming in the next era
	// (see the package comment); poll how often an open partition's fence
	// is checked.
	settle, poll time.Duration

	mu      sync.RWMutex
	owned   map[int]int64 // partition → epoch of our claim in force, for the open partitions
	settled bool          // a generation's claims have all been decided once (Ready)
}

// NewOwner returns the Owner of l's partitions for this replica; it does
// nothing until Run.
func NewOwner(l *Log, proj Projection, opts OwnerOptions) (*Owner, error) {
	if l == nil || proj == nil {
		return nil, errors.New("kafka: owner: log and projection are required")
	}
	probe := events.Claim{ID: "x", Source: "x", Time: time.Unix(0, 0), Epoch: 1, Owner: opts.Advertise}
	if err := probe.Validate(); err != nil {
		return nil, fmt.Errorf("kafka: owner: advertised URL %q: want 1 to %d printable ASCII characters without spaces", opts.Advertise, events.MaxOwnerBytes)
	}
	if opts.GroupID == "" {
		opts.GroupID = l.opts.Topic + ".writers"
	}
	if opts.SessionTimeout <= 0 {
		opts.SessionTimeout = DefaultSessionTimeout
	}
	if opts.Source == "" {
		opts.Source = "/scim-bridge"
	}
	logger := opts.Logger
	if logger == nil {
		logger = l.logger
	} else {
		logger = logger.With("component", "ownership", "group", opts.GroupID)
	}
	return &Owner{
		log:     l,
		proj:    proj,
		opts:    opts,
		logger:  logger,
		metrics: newOwnerMetrics(opts.Registerer),
		now:     time.Now,
		newID:   events.NewEventID,
		settle:  opts.SessionTimeout,
		poll:    200 * time.Millisecond,
		owned:   map[int]int64{},
	}, nil
}

// Owns reports whether this replica writes for partition p now, and under
// which epoch: its claim on p was read back in force and its generation has
// not ended as far as it knows.
func (o *Owner) Owns(p int) (epoch int64, ok bool) {
	o.mu.RLock()
	defer o.mu.RUnlock()
	epoch, ok = o.owned[p]
	return epoch, ok
}

// Owner returns the base URL of the replica whose claim on p is in force in
// this replica's projection, "" when there is none or it names this
// replica (which then does not write for p: it is handing p over or
// claiming it again).
func (o *Owner) Owner(p int) string {
	f := o.proj.Fence(p)
	if f.Owner == o.opts.Advertise {
		return ""
	}
	return f.Owner
}

// Ready reports whether this replica has taken part in a generation of the
// group and decided every claim of it once: from then on a request for any
// partition is served here or forwarded. It stays true, so readiness does
// not flap with rebalances.
func (o *Owner) Ready() bool {
	o.mu.RLock()
	defer o.mu.RUnlock()
	return o.settled
}

// Run joins the group once the log is connected and the projection has
// caught up, and claims, holds and gives up partitions as the group assigns
// them, until ctx ends. It then closes every partition and leaves the
// group, so the others take them over without waiting for the session to
// time out, and returns nil. It returns early with an error the group
// cannot recover from (the log failing for good, an authorization or
// session timeout the broker refuses).
func (o *Owner) Run(ctx context.Context) error {
	if err := o.log.WaitConnected(ctx); err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	if err := o.proj.WaitCaughtUp(ctx); err != nil {
		return nil
	}
	cg, err := kafka.NewConsumerGroup(kafka.ConsumerGroupConfig{
		ID:                o.opts.GroupID,
		Brokers:           o.log.opts.Brokers,
		Dialer:            o.log.dialer,
		Topics:            []string{o.log.opts.Topic},
		HeartbeatInterval: max(o.opts.SessionTimeout/10, 100*time.Millisecond),
		SessionTimeout:    o.opts.SessionTimeout,
		RebalanceTimeout:  o.opts.SessionTimeout,
		JoinGroupBackoff:  time.Second,
		Timeout:           min(5*time.Second, o.opts.SessionTimeout/2),
		Logger:            kafkaLogger{o.logger, slog.LevelDebug},
		ErrorLogger:       kafkaLogger{o.logger, slog.LevelDebug},
	})
	if err != nil {
		return fmt.Errorf("writers' group %s: %w", o.opts.GroupID, err)
	}
	defer func() {
		// Partitions are closed (each holder closes its own before the
		// generation ends); leaving the group hands them over now.
		cg.Close()
		o.logger.Info("left the writers' group")
	}()
	o.logger.Info("joining the writers' group", "advertise", o.opts.Advertise, "session_timeout", o.opts.SessionTimeout.String())
	for failures := 0; ; {
		gen, err := cg.Next(ctx)
		switch {
		case ctx.Err() != nil:
			return nil
		case err != nil && groupFatal(err):
			return fmt.Errorf("writers' group %s: %w", o.opts.GroupID, err)
		case err != nil:
			failures++
			if failures&(failures-1) == 0 { // 1, 2, 4, 8…: a long outage logs a few lines, not one a second
				o.logger.Warn("cannot join the writers' group; retrying", "err", err, "attempts", failures)
			}
			continue
		}
		failures = 0
		o.generation(ctx, gen)
		if ctx.Err() != nil {
			return nil
		}
	}
}

// groupFatal reports whether joining the group failed for a reason no retry
// fixes.
func groupFatal(err error) bool {
	return errors.Is(err, kafka.InvalidSessionTimeout) || errors.Is(err, kafka.GroupAuthorizationFailed) ||
		errors.Is(err, kafka.InvalidGroupId) || errors.Is(err, kafka.SASLAuthenticationFailed)
}

// generation holds gen's partitions until gen ends or ctx does; every one
// of them is closed when it returns.
func (o *Owner) generation(ctx context.Context, gen *kafka.Generation) {
	var parts []int
	for _, a := range gen.Assignments[o.log.opts.Topic] {
		parts = append(parts, a.ID)
	}
	o.metrics.generations.Inc()
	o.logger.Info("writers' group generation", "generation", gen.ID, "partitions", parts)
	done := make(chan struct{})
	gen.Start(func(gctx context.Context) {
		defer close(done)
		hctx, cancel := context.WithCancel(ctx)
		defer cancel()
		go func() {
			select {
			case <-gctx.Done(): // the generation ended: a rebalance, a lost session
			case <-hctx.Done():
			}
			cancel()
		}()
		// Ready once every claim of a generation was decided (a generation
		// that ends first leaves that to the next).
		var left atomic.Int32
		left.Store(int32(len(parts)))
		decided := func() {
			if left.Add(-1) == 0 {
				o.settle1()
			}
		}
		if len(parts) == 0 {
			o.settle1()
		}
		var wg sync.WaitGroup
		for _, p := range parts {
			wg.Go(func() { o.hold(hctx, gen.ID, p, decided) })
		}
		// Returning ends the generation (kafka-go): a member given no
		// partition must stay in it too, or it would rebalance the group
		// again and again.
		<-hctx.Done()
		wg.Wait()
	})
	// The function above returning ends the generation (kafka-go), and it
	// returns only once every partition is closed; when ctx ends, it ends
	// because hctx does.
	<-done
}

// settle1 marks the owner ready (see Ready).
func (o *Owner) settle1() {
	o.mu.Lock()
	o.settled = true
	o.mu.Unlock()
}

// hold claims partition p for generation gen and holds it until ctx ends
// (the generation's end, or Run's), reclaiming it when a later claim takes
// it away while the generation lasts. It calls decided once, when its
// first claim has been decided either way. p is closed when it returns.
func (o *Owner) hold(ctx context.Context, gen int32, p int, decided func()) {
	var once sync.Once
	backoff := 100 * time.Millisecond
	for ctx.Err() == nil {
		epoch, nextEra := o.epoch(p, gen)
		if nextEra {
			// Either the group was deleted and started again, or this
			// generation is over and the coordinator has not said so
			// yet: wait for it to say so. Not ready meanwhile: the
			// partition has no writer yet.
			o.logger.Info("claim in force at or above this generation; waiting before claiming in the next era",
				"partition", p, "generation", gen, "in_force", o.proj.Fence(p).Epoch, "wait", o.settle.String())
			if !sleep(ctx, o.settle) {
				return
			}
			epoch, _ = o.epoch(p, gen)
			if f := o.proj.Fence(p); epoch <= f.Epoch {
				epoch = (f.Epoch>>32+1)<<32 | int64(gen)
			}
		}
		inForce, err := o.claim(ctx, p, epoch)
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			o.metrics.claims.WithLabelValues("error").Inc()
			o.logger.Warn("claim a partition", "partition", p, "epoch", epoch, "err", err)
			if !sleep(ctx, backoff) {
				return
			}
			backoff = min(2*backoff, 5*time.Second)
			continue
		}
		if !inForce {
			// The next round sees the claim that came first.
			o.metrics.claims.WithLabelValues("void").Inc()
			once.Do(decided)
			if !sleep(ctx, backoff) {
				return
			}
			backoff = min(2*backoff, 5*time.Second)
			continue
		}
		backoff = 100 * time.Millisecond
		o.metrics.claims.WithLabelValues("in_force").Inc()
		o.open(p, epoch)
		once.Do(decided)
		o.watch(ctx, p, epoch)
		o.close(p)
	}
}

// epoch returns the epoch to claim p with in generation gen: gen in the era
// of the claim in force, and whether that does not exceed the claim in
// force, so the next era is needed (see the package comment).
func (o *Owner) epoch(p int, gen int32) (int64, bool) {
	f := o.proj.Fence(p)
	era := f.Epoch >> 32
	e := era<<32 | int64(gen)
	return e, e <= f.Epoch
}

// claim appends a claim on p under epoch and reports, once the projection
// has applied it, whether it is in force.
func (o *Owner) claim(ctx context.Context, p int, epoch int64) (bool, error) {
	c := events.Claim{ID: o.newID(), Source: o.opts.Source, Time: o.now(), Partition: p, Epoch: epoch, Owner: o.opts.Advertise}
	off, err := o.log.AppendClaim(ctx, c)
	if err != nil {
		return false, err
	}
	// nil: applied; an error: void, or the read model failed reading it
	// back. Either way the claim in force says whether it is ours; a
	// failure to read is settled by the next round, whose claim, equal to
	// this one, takes effect if this one did not get applied.
	_ = o.proj.WaitApplied(ctx, p, off)
	if ctx.Err() != nil {
		return false, ctx.Err()
	}
	f := o.proj.Fence(p)
	return f.Epoch == epoch && f.Owner == o.opts.Advertise, nil
}

// watch returns when ctx ends or the claim in force in p is no longer ours
// (a later claim took effect).
func (o *Owner) watch(ctx context.Context, p int, epoch int64) {
	t := time.NewTicker(o.poll)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if f := o.proj.Fence(p); f.Epoch != epoch || f.Owner != o.opts.Advertise {
			o.logger.Warn("a later claim took the partition", "partition", p, "epoch", epoch, "in_force", f.Epoch)
			return
		}
	}
}

func (o *Owner) open(p int, epoch int64) {
	o.mu.Lock()
	o.owned[p] = epoch
	n := len(o.owned)
	o.mu.Unlock()
	o.metrics.owned.Set(float64(n))
	o.metrics.epoch.WithLabelValues(partitionLabel(p)).Set(float64(epoch))
	o.logger.Info("writing for the partition", "partition", p, "epoch", epoch)
}

func (o *Owner) close(p int) {
	o.mu.Lock()
	_, was := o.owned[p]
	delete(o.owned, p)
	n := len(o.owned)
	o.mu.Unlock()
	if !was {
		return
	}
	o.metrics.owned.Set(float64(n))
	o.metrics.epoch.WithLabelValues(partitionLabel(p)).Set(0)
	o.logger.Info("stopped writing for the partition", "partition", p)
}

// sleep waits d or until ctx ends, reporting whether d passed.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// kafkaLogger passes kafka-go's group log lines to slog at one level.
type kafkaLogger struct {
	l     *slog.Logger
	level slog.Level
}

func (k kafkaLogger) Printf(format string, args ...any) {
	k.l.Log(context.Background(), k.level, "kafka-go: "+fmt.Sprintf(format, args...))
}
