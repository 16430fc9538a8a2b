// Package bridge is the write path of scim-bridge: it turns a SCIM command
// into domain events against the current state, appends them to the log,
// waits until the projection has applied them and answers what it applied
// (Applied).
//
// Writes of one tenant are ordered here: they are validated in arrival order
// against the state their predecessors produced, after a barrier that waits
// until the projection has applied everything the log holds for the
// tenant's partition, and concurrent writes share appends (group commit,
// see batch.go). Nothing is acknowledged that the log has not durably
// accepted.
//
// Every write has one deadline, Options.AppendTimeout plus DeadlineMargin
// from its start, which bounds all it waits for: its turn behind the
// tenant's earlier writes, the barrier, the append and the projection
// applying it. Past it the write fails with KindUnavailable (503). Such a
// write may still take effect; its retry is recognised (see retry.go).
//
// The caller decodes what a request writes (a resource, PATCH operations)
// and hands it over typed, with the request's digest (RequestDigest); a
// write answers Applied, after which a read of the projection returns its
// result.
//
// bridge imports schemas, events and projection/view, and knows the
// projection by the State it validates against; scimhttp and main build on
// it. It does not touch HTTP, Badger or kafka-go.
package bridge

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/scim-bridge/scim-bridge/events"
	"github.com/scim-bridge/scim-bridge/projection/view"
	"github.com/scim-bridge/scim-bridge/schemas"
)

// State is the read model the bridge validates against and waits on. It is
// met by *projection.Store.
type State interface {
	// CheckEvent reports whether the read model would refuse ev for its
	// size whatever the state, so that a write it would skip is refused
	// before it is appended. encodedSize is events.EncodedSize(ev), which
	// bounds what the read model would store.
	CheckEvent(ev *events.Event, encodedSize int) error

	Get(ctx context.Context, tenant, resourceType, id string, o view.GetOptions) (view.Stored, error)
	UserIDByUserName(ctx context.Context, tenant, userName string) (string, bool, error)
	Members(ctx context.Context, tenant, groupID string) schemas.Members
	GroupsOf(ctx context.Context, tenant, memberID string) ([]string, error)
	WaitApplied(ctx context.Context, p int, off int64) error

	// Written returns the resource as the applied record at offset off of
	// partition p wrote it, loaded as Get loads it, if it still knows
	// that (found is false otherwise): a write's answer without reading
	// back what was just applied.
	Written(ctx context.Context, p int, off int64, tenant, resourceType, id string, o view.GetOptions) (st view.Stored, found bool, err error)

	// CreatedBy and DeletedBy find the outcome of an earlier attempt of a
	// request (see retry.go): the resource a POST created, while unchanged,
	// and the digest of the DELETE that deleted a resource, among the
	// tenant's recent deletions.
	CreatedBy(ctx context.Context, tenant, digest string) (id string, found bool, err error)
	DeletedBy(ctx context.Context, tenant, resourceType, id string) (digest string, found bool, err error)
}

// Options are the optional settings of a Bridge; the zero value is usable.
type Options struct {
	Logger     *slog.Logger          // nil: discard
	Registerer prometheus.Registerer // nil: no metrics
	Now        func() time.Time      // nil: time.Now
	NewID      func() string         // resource ids; nil: events.NewEventID (UUIDv7)
	NewEventID func() string         // event ids (ce_id); nil: events.NewEventID (UUIDv7)
	Source     string                // ce_source; "": "/scim-bridge"

	// Ownership, when several replicas share the log, tells which
	// partitions this one writes for (owner.go). nil: every partition,
	// under SetEpoch's epoch (a single replica).
	Ownership Ownership

	// AppendTimeout is how long the log may take to acknowledge an append
	// (the Kafka log's KAFKA_APPEND_TIMEOUT); 0: 5 s. A write's whole time
	// in the bridge is bounded by AppendTimeout + DeadlineMargin.
	AppendTimeout time.Duration
}

// DeadlineMargin is what a write may take beyond Options.AppendTimeout:
// the projection applying it once the log has acknowledged, and the rest
// of its work.
const DeadlineMargin = time.Second

// defaultAppendTimeout is the Kafka log's default.
const defaultAppendTimeout = 5 * time.Second

// Request is who sends a write and what conditions and identifies it; what
// it writes, already decoded, is the argument of the write's method.
type Request struct {
	Tenant    string
	RequestID string
	IfMatch   schemas.ETags // the If-Match header; zero: absent

	// Digest identifies the request as it was received, as RequestDigest
	// computes it from its bytes, so that a retry of it is recognised
	// (retry.go); every event of the write carries it. "": the write is
	// never taken for a retry.
	Digest string

	// Strict fails a write on unknown input (the tenant's "strict"):
	// unknown attributes and schema URNs (see schemas.Unknowns) and member
	// ids to add that name no User or Group of the tenant. Otherwise those
	// are ignored: the members that exist are added, the others skipped,
	// and the write reports them (Applied.Ignored).
	Strict bool

	// Answer is what the read back of the written resource loads (its
	// members, its groups): the answer the caller gives, in
	// Applied.Stored, so that the caller need not read it again.
	Answer view.GetOptions
}

// Unknowns is a fresh record of unknown input under req's policy, for
// decoding what the request writes as the write itself will treat it.
func (req Request) Unknowns() *schemas.Unknowns {
	return &schemas.Unknowns{Strict: req.Strict}
}

// Applied is what a write did, once the log holds it and the projection
// has applied it: a read of the resource from the projection now returns
// the write's result, exactly as a GET would.
type Applied struct {
	// ID is the resource written: for a POST, the one it created, or the
	// one an earlier attempt of the request created (retry.go).
	ID string
	// Version is the resource's version once the write was applied.
	Version int64
	// Partition is the tenant's partition, and Offset that of the write's
	// last event, which the projection had applied when the write
	// returned; -1 when the write appended nothing (it changed nothing, or
	// it was a retry answered with what its first attempt did).
	Partition int
	Offset    int64
	// Ignored is the unknown input the write skipped (not with
	// Request.Strict): member ids that name nothing, and what PATCH
	// operations named that the schema lacks.
	Ignored []schemas.Ignored
	// Stored is the resource as the projection held it once the write
	// was applied, with what Request.Answer loads.
	Stored view.Stored
}

// Bridge is the write path. Safe for concurrent use.
type Bridge struct {
	log     events.Log
	state   State
	reg     *schemas.Registry
	logger  *slog.Logger
	metrics *metrics
	now     func() time.Time
	newID   func() string
	eventID func() string
	source  string
	timeout time.Duration // a write's deadline: AppendTimeout + DeadlineMargin
	epoch   atomic.Int64  // stamped on every event (SetEpoch, event.go)

	replicas *replicas // ownership when several replicas share the log (owner.go)

	accepted accepted // requests accepted and not failed, for telling retries (retry.go)

	life  context.Context // ends at Close
	close context.CancelFunc
	wg    sync.WaitGroup // tenant workers

	mu     sync.Mutex
	queues map[string]*queue

	endMu  sync.Mutex
	endCur *endCall // the end query in flight, nil when none
}

var errClosed = errors.New("bridge closed")

// New returns a Bridge appending to log and validating against state.
func New(log events.Log, state State, reg *schemas.Registry, opts Options) (*Bridge, error) {
	if log == nil || state == nil || reg == nil {
		return nil, errors.New("bridge: log, state and registry are required")
	}
	b := &Bridge{
		log:     log,
		state:   state,
		reg:     reg,
		logger:  opts.Logger,
		metrics: newMetrics(opts.Registerer),
		now:     opts.Now,
		newID:   opts.NewID,
		eventID: opts.NewEventID,
		source:  opts.Source,
		timeout: opts.AppendTimeout,
		queues:  make(map[string]*queue),
	}
	b.replicas = newReplicas(opts.Ownership, opts.Registerer)
	b.life, b.close = context.WithCancel(context.Background())
	if b.logger == nil {
		b.logger = slog.New(slog.DiscardHandler)
	}
	if b.now == nil {
		b.now = time.Now
	}
	if b.newID == nil {
		b.newID = events.NewEventID
	}
	if b.eventID == nil {
		b.eventID = events.NewEventID
	}
	if b.source == "" {
		b.source = "/scim-bridge"
	}
	if b.timeout <= 0 {
		b.timeout = defaultAppendTimeout
	}
	b.timeout += DeadlineMargin
	return b, nil
}

// Close stops the tenant workers; writes still queued fail with
// KindUnavailable. Call it after the HTTP server has drained.
func (b *Bridge) Close() error {
	b.close()
	b.wg.Wait()
	return nil
}

// barrier waits until the projection has applied everything the log holds
// in the tenant's partition, so the batch is validated against the latest
// state even when another writer appended since. It asks the log for its
// end (which also fails fast, before anything is appended, when the log is
// unreachable) and waits for the later of that end and the tenant's own
// last append. Concurrent barriers of all tenants share one end query;
// after the tenant's failed Append, the next one reads the end with
// readEnd instead, from a query sent after that Append returned.
//
// When that last record is the end of the tenant's batch in flight
// (queue.flight), appended under the batch's epoch, the barrier waits only
// for the records before that batch: the plans see the batch's writes
// through its key set (settle) instead. Otherwise it waits for the batch
// too, and there is none in flight.
func (b *Bridge) barrier(ctx context.Context, tenant string, q *queue, epoch int64) error {
	read := b.end
	if q.failedAppend {
		read = b.readEnd
	}
	end, err := read(ctx)
	if err != nil {
		return unavailable("read the log's end", err)
	}
	q.failedAppend = false
	p := events.PartitionFor(tenant, b.log.Partitions())
	last := q.lastOffset
	if p < len(end) {
		last = max(last, end[p]-1)
	}
	if f := q.flight; f != nil {
		if last == f.last && epoch == f.epoch {
			last = f.first - 1
		} else {
			q.flight = nil
		}
	}
	if last < 0 {
		return nil
	}
	if err := b.state.WaitApplied(ctx, p, last); err != nil && !errors.Is(err, view.ErrVoid) {
		return fmt.Errorf("await the projection: %w", err) // a void last record was applied as void: done
	}
	return nil
}

// settle waits until the projection has applied the tenant's batch in
// flight; then there is none.
func (b *Bridge) settle(ctx context.Context, tenant string, q *queue) error {
	p := events.PartitionFor(tenant, b.log.Partitions())
	if err := b.state.WaitApplied(ctx, p, q.flight.last); err != nil && !errors.Is(err, view.ErrVoid) {
		return fmt.Errorf("await the projection: %w", err) // applied as void: done
	}
	q.flight = nil
	return nil
}

// endCall is one end query that concurrent barriers share.
type endCall struct {
	done chan struct{}
	ends []int64
	err  error
}

// end returns the log's end, joining the query in flight if there is one.
// A query that started a moment before the caller asked is as good as a new
// one: what the caller's own tenant appended before is covered by its last
// offset (queue.lastOffset), and other writers' appends race with any query.
// The records of the tenant's failed Append are not (they may be in the log
// all the same: events.Log.Append): after one, the barrier reads the end
// with readEnd (owner.go), from a query sent after the call.
func (b *Bridge) end(ctx context.Context) ([]int64, error) {
	b.endMu.Lock()
	c := b.endCur
	if c == nil {
		c = &endCall{done: make(chan struct{})}
		b.endCur = c
		go func() {
			qctx, cancel := context.WithTimeout(b.life, b.timeout)
			c.ends, c.err = b.log.End(qctx)
			cancel()
			b.endMu.Lock()
			b.endCur = nil
			b.endMu.Unlock()
			close(c.done)
		}()
	}
	b.endMu.Unlock()
	select {
	case <-c.done:
		return c.ends, c.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// errDeadline is the cause of a write's context when its deadline passed.
var errDeadline = errors.New("write deadline passed")

// deadlineError is the error of a write whose deadline passed while it
// waited for what, which returned err.
func deadlineError(what string, err error) error {
	return &schemas.Error{Kind: schemas.KindUnavailable, Detail: "the event log did not answer in time; retry later",
		Err: fmt.Errorf("%s: %w: %w", what, errDeadline, err)}
}

// deadline returns ctx bounded by a write's deadline (see the package doc).
func (b *Bridge) deadline(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeoutCause(ctx, b.timeout, errDeadline)
}

// unavailable marks a log failure as KindUnavailable, so the client gets 503
// and retries; nothing was acknowledged.
func unavailable(what string, err error) error {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%s: %w", what, err)
	}
	return &schemas.Error{Kind: schemas.KindUnavailable, Detail: "the event log is unavailable; retry later", Err: fmt.Errorf("%s: %w", what, err)}
}

// interrupted is the error of a write whose ctx ended while it waited for
// what: past the write's deadline, KindUnavailable (503), so the client
// retries; otherwise (the client went away, the bridge is closing) ctx's
// error. err is what the wait returned.
func interrupted(ctx context.Context, what string, err error) error {
	if context.Cause(ctx) == errDeadline {
		return deadlineError(what, err)
	}
	if ctx.Err() != nil {
		return fmt.Errorf("%s: %w", what, ctx.Err())
	}
	return err
}
