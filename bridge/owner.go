package bridge

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/scim-bridge/scim-bridge/events"
	"github.com/scim-bridge/scim-bridge/projection/view"
	"github.com/scim-bridge/scim-bridge/schemas"
)

// Several replicas (docs/replicas.md). When replicas share the log, each
// writes for the partitions it owns only (Options.Ownership): a batch of a
// tenant whose partition this replica does not own, or whose claim it has
// not read back yet, is not appended, and its events carry the epoch of the
// claim the replica holds on that partition. Route tells the HTTP layer
// where a tenant's writes go; Sync makes a read here reflect the writes
// every replica acknowledged before it.

// Ownership tells which partitions this replica writes for (met by
// *kafka.Owner). Safe for concurrent use.
type Ownership interface {
	// Owns reports whether this replica writes for partition p now, and
	// under which epoch (that of its claim, read back in force).
	Owns(p int) (epoch int64, ok bool)
	// Owner returns the base URL of the replica whose claim on p is in
	// force as this replica has read the log, "" when none or when it is
	// this replica, which does not write for p (see Owns).
	Owner(p int) string
}

// ownerWait bounds how long Route waits for a partition changing hands to
// get a writer before it answers 503: long enough for a replica to claim
// again a partition the group gave it back (tens of milliseconds), short
// enough that the client is answered promptly.
const ownerWait = 2 * time.Second

// syncEndWait bounds how long a read waits for the log's end before it is
// served from the projection as it is (the log is unreachable).
const syncEndWait = 2 * time.Second

// replicas is the ownership side of a Bridge; its zero value (no
// Ownership) is a single replica, which writes for every partition.
type replicas struct {
	own Ownership

	endMu   sync.Mutex
	nextEnd *endCall // the end query the reads arriving now wait for, not sent yet
	ending  bool     // a goroutine sends the reads' end queries (runReadEnds)
	syncs   *prometheus.CounterVec
}

func newReplicas(own Ownership, reg prometheus.Registerer) *replicas {
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	r := &replicas{own: own, syncs: promauto.With(reg).NewCounterVec(prometheus.CounterOpts{
		Name: "scim_bridge_read_syncs_total",
		Help: "Reads that first waited for the projection to reach the log's end (several replicas), by result: caught_up, log_unreachable (served as the projection was), behind (503).",
	}, []string{"result"})}
	for _, res := range []string{"caught_up", "log_unreachable", "behind"} {
		r.syncs.WithLabelValues(res)
	}
	return r
}

// errNotOwner is the failure of a write of a tenant whose partition this
// replica does not write for (any more).
var errNotOwner = errors.New("this replica does not write for the tenant's partition")

func notOwner() error {
	return &schemas.Error{Kind: schemas.KindUnavailable, Err: errNotOwner,
		Detail: "this replica does not write for this tenant right now (its partition is changing hands); retry later"}
}

// epochFor returns the epoch a write of tenant is planned under: that of
// this replica's claim on the tenant's partition, or SetEpoch's without
// Ownership. A write planned while the partition is not owned gets 0, an
// epoch no claim has: checkOwned refuses it before it reaches the log.
func (b *Bridge) epochFor(tenant string) int64 {
	if b.replicas.own == nil {
		return b.epoch.Load()
	}
	e, _ := b.replicas.own.Owns(events.PartitionFor(tenant, b.log.Partitions()))
	return e
}

// ownedEpoch is checked when a batch of tenant starts, before its barrier:
// the epoch this replica writes the tenant's partition under, or an error
// when it does not. A batch validated against a state from before the claim
// was read back could miss the previous owner's last writes; this check,
// with checkOwned at the append, keeps that from happening.
func (b *Bridge) ownedEpoch(tenant string) (int64, error) {
	if b.replicas.own == nil {
		return b.epoch.Load(), nil
	}
	if e, ok := b.replicas.own.Owns(events.PartitionFor(tenant, b.log.Partitions())); ok {
		return e, nil
	}
	return 0, notOwner()
}

// checkOwned is checked right before a batch of tenant is appended: the
// partition is still owned under epoch, the one the batch started under,
// and every event carries it.
func (b *Bridge) checkOwned(tenant string, epoch int64, evs []events.Event) error {
	if b.replicas.own == nil {
		return nil
	}
	if e, ok := b.replicas.own.Owns(events.PartitionFor(tenant, b.log.Partitions())); !ok || e != epoch {
		return notOwner()
	}
	for i := range evs {
		if evs[i].Epoch != epoch {
			return notOwner() // planned under another claim
		}
	}
	return nil
}

// Route tells where a write of tenant is served: "" here, else the base URL
// of the replica that writes for the tenant's partition. While nobody does
// (the partition is changing hands, or its owner's claim names this
// replica, which is giving it up or claiming it again), it waits up to a
// couple of seconds for that to settle and then fails with KindUnavailable
// (503, Retry-After). Without Ownership, and before the log is connected,
// everything is served here.
func (b *Bridge) Route(ctx context.Context, tenant string) (string, error) {
	if b.replicas.own == nil {
		return "", nil
	}
	n := b.log.Partitions()
	if n == 0 {
		return "", nil // not connected: the write path answers 503 itself
	}
	p := events.PartitionFor(tenant, n)
	t := time.NewTimer(ownerWait)
	defer t.Stop()
	for {
		if _, ok := b.replicas.own.Owns(p); ok {
			return "", nil
		}
		if o := b.replicas.own.Owner(p); o != "" {
			return o, nil
		}
		select {
		case <-ctx.Done():
			return "", interrupted(ctx, "wait for a writer", ctx.Err())
		case <-t.C:
			return "", &schemas.Error{Kind: schemas.KindUnavailable, Err: errNotOwner,
				Detail: "no replica writes for this tenant right now (its partition is changing hands); retry later"}
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// Sync waits until the projection here has applied everything the log
// holds in tenant's partition, so a read that follows reflects every write
// acknowledged before Sync was called, by any replica. Without Ownership (a
// single replica, whose writes are applied before they are acknowledged)
// it returns at once. When the log's end cannot be read in a couple of
// seconds (the log is unreachable), the read is served from the
// projection as it is: nil, counted as log_unreachable. Every read asks
// afresh: a replica that was cut off, or frozen, and answers again must
// not serve what it had while the log has more. When the projection does
// not reach the end in time, KindUnavailable (503).
func (b *Bridge) Sync(ctx context.Context, tenant string) error {
	if b.replicas.own == nil {
		return nil
	}
	n := b.log.Partitions()
	if n == 0 {
		b.replicas.syncs.WithLabelValues("log_unreachable").Inc()
		return nil
	}
	ectx, cancel := context.WithTimeout(ctx, syncEndWait)
	end, err := b.readEnd(ectx)
	cancel()
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		b.replicas.syncs.WithLabelValues("log_unreachable").Inc()
		return nil
	}
	p := events.PartitionFor(tenant, n)
	if p >= len(end) || end[p] == 0 {
		b.replicas.syncs.WithLabelValues("caught_up").Inc()
		return nil
	}
	wctx, cancel := context.WithTimeoutCause(ctx, b.timeout, errDeadline)
	defer cancel()
	if err := b.state.WaitApplied(wctx, p, end[p]-1); err != nil && !errors.Is(err, view.ErrVoid) {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		b.replicas.syncs.WithLabelValues("behind").Inc()
		return &schemas.Error{Kind: schemas.KindUnavailable, Err: err,
			Detail: "this replica has not caught up with the event log yet; retry later"}
	}
	b.replicas.syncs.WithLabelValues("caught_up").Inc()
	return nil
}

// readEnd returns the log's end as of a query sent after the call: a read
// must see the writes acknowledged before it started, which a query already
// in flight may predate (unlike a write's barrier, where the tenant's own
// appends are known otherwise; see Bridge.end). Reads arriving while a
// query is in flight share the next one, so there is at most one in flight
// and one gathering.
func (b *Bridge) readEnd(ctx context.Context) ([]int64, error) {
	r := b.replicas
	r.endMu.Lock()
	if r.nextEnd == nil {
		r.nextEnd = &endCall{done: make(chan struct{})}
	}
	c := r.nextEnd
	if !r.ending {
		r.ending = true
		go b.runReadEnds()
	}
	r.endMu.Unlock()
	select {
	case <-c.done:
		return c.ends, c.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// runReadEnds sends the gathered end queries one after the other until
// none is waiting.
func (b *Bridge) runReadEnds() {
	r := b.replicas
	for {
		r.endMu.Lock()
		c := r.nextEnd
		r.nextEnd = nil
		if c == nil {
			r.ending = false
			r.endMu.Unlock()
			return
		}
		r.endMu.Unlock()
		ctx, cancel := context.WithTimeout(b.life, b.timeout)
		c.ends, c.err = b.log.End(ctx)
		cancel()
		close(c.done)
	}
}
