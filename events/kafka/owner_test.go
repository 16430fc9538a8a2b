package kafka

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/scim-bridge/scim-bridge/events"
	"github.com/scim-bridge/scim-bridge/internal/testutil"
)

// fenceReader is the part of a projection an Owner uses, built the way
// every reader builds it (events.Fence): it reads every partition of a Log
// from the start and keeps the claim in force and which records are void.
type fenceReader struct {
	log     *Log
	mu      sync.Mutex
	changed chan struct{}
	applied []int64 // next offset per partition
	fences  []events.Fence
	void    map[[2]int64]bool
}

var errVoid = errors.New("void")

func newFenceReader(t *testing.T, l *Log) *fenceReader {
	n := l.Partitions()
	r := &fenceReader{log: l, changed: make(chan struct{}), applied: make([]int64, n), fences: make([]events.Fence, n), void: map[[2]int64]bool{}}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	t.Cleanup(func() { cancel(); wg.Wait() })
	for p := range n {
		wg.Go(func() {
			l.Read(ctx, p, 0, func(rec events.Record) error {
				r.mu.Lock()
				defer r.mu.Unlock()
				f := r.fences[p]
				switch {
				case rec.Claim != nil:
					next, ok := f.Claim(rec.Claim)
					r.fences[p] = next
					r.void[[2]int64{int64(p), rec.Offset}] = !ok
				case rec.Err == nil:
					r.void[[2]int64{int64(p), rec.Offset}] = f.Voids(&rec.Event)
				}
				r.applied[p] = rec.Offset + 1
				close(r.changed)
				r.changed = make(chan struct{})
				return nil
			})
		})
	}
	return r
}

// WaitCaughtUp returns once every partition is applied up to the log's end
// when it was called, as a projection's does: an Owner reads the claims in
// force only after it (a reader that did not wait would claim under an era
// it has not seen yet, and lose to the claim it missed).
func (r *fenceReader) WaitCaughtUp(ctx context.Context) error {
	ends, err := r.log.End(ctx)
	if err != nil {
		return err
	}
	for p, end := range ends {
		if end == 0 {
			continue
		}
		if err := r.WaitApplied(ctx, p, end-1); err != nil && !errors.Is(err, errVoid) {
			return err
		}
	}
	return nil
}

func (r *fenceReader) WaitApplied(ctx context.Context, p int, off int64) error {
	for {
		r.mu.Lock()
		done, void, ch := r.applied[p] > off, r.void[[2]int64{int64(p), off}], r.changed
		r.mu.Unlock()
		if done && void {
			return errVoid
		}
		if done {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func (r *fenceReader) Fence(p int) events.Fence {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.fences[p]
}

// replica is one Owner running in the test.
type replica struct {
	o    *Owner
	url  string
	stop context.CancelFunc
	done chan error
}

func startOwner(t *testing.T, opts Options, url string, session time.Duration) *replica {
	t.Helper()
	l := mustOpen(t, opts)
	o, err := NewOwner(l, newFenceReader(t, l), OwnerOptions{Advertise: url, SessionTimeout: session,
		Logger: testutil.Logger(t, slog.LevelWarn).With("replica", url), Registerer: prometheus.NewRegistry()})
	if err != nil {
		t.Fatal(err)
	}
	o.settle = 500 * time.Millisecond // the next era comes only in the tests below
	o.poll = 20 * time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	r := &replica{o: o, url: url, stop: cancel, done: make(chan error, 1)}
	go func() { r.done <- o.Run(ctx) }()
	t.Cleanup(func() { r.close(t) })
	return r
}

// close stops the replica's Run and waits for it.
func (r *replica) close(t *testing.T) {
	t.Helper()
	if r.stop == nil {
		return
	}
	r.stop()
	r.stop = nil
	select {
	case err := <-r.done:
		if err != nil {
			t.Errorf("Run(%s) = %v", r.url, err)
		}
	case <-time.After(30 * time.Second):
		t.Errorf("Run(%s) did not return within 30s of its context ending", r.url)
	}
}

func (r *replica) owned(n int) []int {
	var ps []int
	for p := range n {
		if _, ok := r.o.Owns(p); ok {
			ps = append(ps, p)
		}
	}
	return ps
}

// waitFor polls cond (a condition, not a timing) for up to 60s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not within 60s: %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// One replica owns every partition, under claims it read back, and gives
// them all up when it stops.
func TestOwner_Single(t *testing.T) {
	brokers := testBrokers(t)
	opts := testOptions(t, brokers, 4)
	a := startOwner(t, opts, "http://a.test:8080", 3*time.Second)
	waitFor(t, "a owns all 4 partitions and is ready", func() bool { return len(a.owned(4)) == 4 && a.o.Ready() })
	for p := range 4 {
		epoch, _ := a.o.Owns(p)
		if f := a.o.proj.Fence(p); f.Epoch != epoch || f.Owner != a.url || epoch < 1 {
			t.Errorf("partition %d: owned under epoch %d, claim in force %+v; want a's claim under that epoch", p, epoch, f)
		}
		if got := a.o.Owner(p); got != "" {
			t.Errorf("Owner(%d) = %q on the owner itself, want \"\"", p, got)
		}
	}
	a.close(t)
	if got := a.owned(4); len(got) != 0 {
		t.Errorf("after Run returned, a still owns %v", got)
	}
}

// Two replicas split the partitions, each partition written by exactly one
// whose claim is in force for both; when one leaves, the other takes its
// partitions over (it left the group: no session timeout to wait for). At
// no time do both believe they own one partition.
func TestOwner_Rebalance(t *testing.T) {
	brokers := testBrokers(t)
	opts := testOptions(t, brokers, 6)
	a := startOwner(t, opts, "http://a.test:8080", 3*time.Second)
	waitFor(t, "a owns all 6", func() bool { return len(a.owned(6)) == 6 })

	var bRef atomic.Pointer[replica]
	stopCheck := make(chan struct{})
	var both []string
	var checked sync.WaitGroup
	checked.Go(func() {
		for {
			select {
			case <-stopCheck:
				return
			case <-time.After(2 * time.Millisecond):
			}
			for p := range 6 {
				_, okA := a.o.Owns(p)
				_, okB := false, false
				if b := bRef.Load(); b != nil {
					_, okB = b.o.Owns(p)
				}
				if okA && okB {
					both = append(both, fmt.Sprint(p))
				}
			}
		}
	})
	b := startOwner(t, opts, "http://b.test:8080", 3*time.Second)
	bRef.Store(b)
	waitFor(t, "a and b split the 6 partitions", func() bool {
		oa, ob := a.owned(6), b.owned(6)
		return len(oa) > 0 && len(ob) > 0 && len(oa)+len(ob) == 6
	})
	for _, p := range b.owned(6) {
		if got := a.o.Owner(p); got != b.url {
			// a's projection may lag b's claim by a moment.
			waitFor(t, fmt.Sprintf("a sees b's claim on %d", p), func() bool { return a.o.Owner(p) == b.url })
		}
	}
	b.close(t) // b's partitions closed before it left
	waitFor(t, "a owns all 6 again after b left", func() bool { return len(a.owned(6)) == 6 })
	close(stopCheck)
	checked.Wait()
	if len(both) > 0 {
		t.Errorf("both replicas owned partitions %v at once", slices.Compact(both))
	}
}

// A later claim in force (a replica that the group gave the partition while
// this one did not hear of it) closes the partition here at once. Claiming
// it back needs an epoch above that claim: the next era, after the wait.
func TestOwner_LaterClaimCloses(t *testing.T) {
	brokers := testBrokers(t)
	opts := testOptions(t, brokers, 2)
	a := startOwner(t, opts, "http://a.test:8080", 3*time.Second)
	waitFor(t, "a owns both", func() bool { return len(a.owned(2)) == 2 })
	epoch, _ := a.o.Owns(0)

	other := events.Claim{ID: events.NewEventID(), Source: "/test", Time: time.Now(), Partition: 0, Epoch: epoch + 100, Owner: "http://c.test:8080"}
	if _, err := a.o.log.AppendClaim(t.Context(), other); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "a stops writing for partition 0", func() bool { _, ok := a.o.Owns(0); return !ok })
	if got := a.o.Owner(0); got != other.Owner {
		t.Errorf("Owner(0) = %q, want the later claim's %q", got, other.Owner)
	}
	if _, ok := a.o.Owns(1); !ok {
		t.Errorf("a gave up partition 1 too")
	}
	// a's generation lasts: after the wait it claims in the next era.
	waitFor(t, "a writes for partition 0 again", func() bool { _, ok := a.o.Owns(0); return ok })
	if e, _ := a.o.Owns(0); e <= other.Epoch || e>>32 != 1 {
		t.Errorf("epoch of a's new claim = %d (era %d), want above %d, in era 1", e, e>>32, other.Epoch)
	}
}

// A group that starts again at generation 1 under a topic with claims of a
// higher epoch (the broker deleted the empty group) still gets its
// partitions: the claims move to the next era.
func TestOwner_GroupStartsAgain(t *testing.T) {
	brokers := testBrokers(t)
	opts := testOptions(t, brokers, 1)
	l := mustOpen(t, opts)
	old := events.Claim{ID: events.NewEventID(), Source: "/test", Time: time.Now(), Partition: 0, Epoch: 3<<32 | 57, Owner: "http://old.test:8080"}
	if _, err := l.AppendClaim(t.Context(), old); err != nil {
		t.Fatal(err)
	}
	a := startOwner(t, opts, "http://a.test:8080", 3*time.Second)
	waitFor(t, "a owns partition 0 or says it is ready", func() bool { _, ok := a.o.Owns(0); return ok || a.o.Ready() })
	if _, ok := a.o.Owns(0); !ok {
		t.Fatal("a is ready before it writes for its partition")
	}
	if e, _ := a.o.Owns(0); e <= old.Epoch || e>>32 != 4 {
		t.Errorf("epoch = %d (era %d), want above %d, in era 4", e, e>>32, old.Epoch)
	}
}

// A replica the group gives no partition (more replicas than partitions)
// stays in its generation, ready, and the group stays settled: the writer
// keeps its claim.
func TestOwner_MoreReplicasThanPartitions(t *testing.T) {
	brokers := testBrokers(t)
	opts := testOptions(t, brokers, 1)
	a := startOwner(t, opts, "http://a.test:8080", 2*time.Second)
	waitFor(t, "a owns partition 0", func() bool { _, ok := a.o.Owns(0); return ok })
	b := startOwner(t, opts, "http://b.test:8080", 2*time.Second)
	var owner *replica
	waitFor(t, "b ready and one of them owns partition 0", func() bool {
		_, okA := a.o.Owns(0)
		_, okB := b.o.Owns(0)
		owner = a
		if okB {
			owner = b
		}
		return b.o.Ready() && okA != okB
	})
	idle := a
	if owner == a {
		idle = b
	}
	epoch, _ := owner.o.Owns(0)
	before := counterValue(t, idle.o.metrics.generations)
	// Two session timeouts: a member that left its generation at once
	// would have joined again and again by then (rebalancing the group if
	// it leads it).
	time.Sleep(4 * time.Second)
	if e, ok := owner.o.Owns(0); !ok || e != epoch {
		t.Errorf("after 4s the writer holds partition 0 = %v under epoch %d, want still under %d (the group rebalanced)", ok, e, epoch)
	}
	if n := counterValue(t, idle.o.metrics.generations) - before; n > 1 {
		t.Errorf("the replica without partitions went through %v generations in 4s, want it to stay in its own", n)
	}
}

func counterValue(t *testing.T, c prometheus.Counter) float64 {
	t.Helper()
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetCounter().GetValue()
}
