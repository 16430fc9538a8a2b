package bridge

import (
	"context"
	"strings"
	"sync"
	"time"

	"github.com/scim-bridge/scim-bridge/events"
	"github.com/scim-bridge/scim-bridge/projection/view"
	"github.com/scim-bridge/scim-bridge/schemas"
)

// Group commit. Each tenant has one worker that takes the writes queued for
// the tenant in arrival order and handles them in batches:
//
//  1. barrier: wait until the projection has applied everything in the log
//     for the tenant's partition, except the tenant's previous batch when
//     nothing follows it in the log (the batch in flight, below);
//  2. plan each write in order against that state, recording what it reads;
//     a write that reads something an earlier write of the batch changes
//     (the same resource, userName, membership) ends the batch and waits
//     for the next one, where it sees that change applied; a write that
//     reads something the batch in flight changes waits until the
//     projection has applied that batch and is planned again;
//  3. append the events of the whole batch in one Append (one round trip,
//     one fsync), and hand each write the offset of its last event, which
//     the caller waits for before reading its result back. The batch is
//     now the one in flight.
//
// So writes are validated in arrival order against exactly the state their
// predecessors produced, as if they ran one at a time, while concurrent
// writes of a tenant share the round trips. The projection applies one
// batch while the worker plans and appends the next (a pipeline one batch
// deep): a plan that reads nothing the batch in flight changes sees the
// same state with or without it.
//
// A batch waits no longer than the latest deadline of its writes, and a
// write whose deadline passed while it waited for its turn (behind a batch
// stuck on the log) is dropped before the barrier, never appended.

// plan validates one write against st and returns the events it makes
// (none for a write that changes nothing). It may run more than once (when
// a conflict defers it to the next batch), so it must not change what it
// captured.
type plan func(ctx context.Context, st State) ([]events.Event, error)

// maxBatch bounds the writes of one batch (and so one Append).
const maxBatch = 512

type command struct {
	ctx    context.Context
	digest string // RequestDigest of the write's request
	plan   plan
	done   chan outcome
}

type outcome struct {
	partition int
	last      int64 // offset of the write's last event
	n         int   // events appended; 0 when the write changed nothing
	err       error
}

// queue holds one tenant's waiting writes.
type queue struct {
	mu      sync.Mutex
	pending []*command
	wake    chan struct{}

	// Only the tenant's worker touches the rest.

	// lastOffset is the offset of the tenant's last acknowledged append,
	// -1 before the first.
	lastOffset int64

	// flight is what the tenant's last appended batch changes, which the
	// projection may not have applied yet: its records are first..last
	// (last == lastOffset), appended under epoch. nil when the next batch
	// must see everything applied.
	flight *inFlight

	// failedAppend is set when the tenant's last Append failed: the next
	// barrier reads the log's end from a query sent after it returned
	// (readEnd), which sees that Append's records if they are in the log.
	failedAppend bool
}

// inFlight is a batch appended whose application the next batch does not
// wait for unless it reads what the batch changes.
type inFlight struct {
	writes      keySet
	first, last int64
	epoch       int64
}

// submit queues a write of tenant and waits for its outcome, until ctx (the
// write's deadline) ends. Once it returns without error and n > 0, the
// write's events are durably in the log; the caller waits for the
// projection to apply them.
func (b *Bridge) submit(ctx context.Context, tenant, digest string, p plan) (outcome, error) {
	c := &command{ctx: ctx, digest: digest, plan: p, done: make(chan outcome, 1)}
	q := b.queue(tenant)
	q.mu.Lock()
	q.pending = append(q.pending, c)
	q.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default:
	}
	select {
	case o := <-c.done:
		return o, o.err
	case <-ctx.Done():
		// The worker may still append the write (it may have taken it):
		// past the deadline the client gets 503 and its retry is
		// recognised (retry.go); a cancelled request's write may happen,
		// as for any client that hangs up after sending.
		return outcome{}, interrupted(ctx, "wait for the log", ctx.Err())
	case <-b.life.Done():
		return outcome{}, unavailable("submit", errClosed)
	}
}

// queue returns the tenant's queue, starting its worker on first use.
func (b *Bridge) queue(tenant string) *queue {
	b.mu.Lock()
	defer b.mu.Unlock()
	q, ok := b.queues[tenant]
	if !ok {
		q = &queue{wake: make(chan struct{}, 1), lastOffset: -1}
		b.queues[tenant] = q
		b.wg.Add(1)
		go b.work(tenant, q)
	}
	return q
}

func (q *queue) take() []*command {
	q.mu.Lock()
	defer q.mu.Unlock()
	n := min(len(q.pending), maxBatch)
	batch := q.pending[:n:n]
	q.pending = q.pending[n:]
	return batch
}

// requeue puts deferred writes back at the front, in order.
func (q *queue) requeue(cs []*command) {
	q.mu.Lock()
	q.pending = append(cs[:len(cs):len(cs)], q.pending...)
	q.mu.Unlock()
}

func (b *Bridge) work(tenant string, q *queue) {
	defer b.wg.Done()
	for {
		select {
		case <-q.wake:
		case <-b.life.Done():
			for _, c := range q.take() {
				c.done <- outcome{err: unavailable("submit", errClosed)}
			}
			return
		}
		for {
			batch := q.take()
			if len(batch) == 0 {
				break
			}
			b.runBatch(tenant, q, batch)
		}
	}
}

// runBatch runs one batch of writes: barrier, plans, one append. Its
// waits end with the latest deadline of its writes, so a hung log fails
// the batch instead of holding the tenant.
func (b *Bridge) runBatch(tenant string, q *queue, batch []*command) {
	live := batch[:0]
	var deadline time.Time
	for _, c := range batch {
		if err := c.ctx.Err(); err != nil {
			b.fail(c, "wait for the write's turn", err)
			continue
		}
		live = append(live, c)
		if d, ok := c.ctx.Deadline(); ok && d.After(deadline) {
			deadline = d
		}
	}
	if len(live) == 0 {
		return
	}
	if deadline.IsZero() {
		deadline = time.Now().Add(b.timeout)
	}
	batch = live
	ctx, cancel := context.WithDeadline(b.life, deadline)
	defer cancel()
	epoch, err := b.ownedEpoch(tenant) // owner.go
	if err == nil {
		err = b.barrier(ctx, tenant, q, epoch)
	}
	if err != nil {
		for _, c := range batch {
			b.fail(c, "barrier", err)
		}
		return
	}
	written := keySet{}
	var evs []events.Event
	var accepted []*command
	var counts []int
	for i, c := range batch {
		if err := c.ctx.Err(); err != nil {
			b.fail(c, "wait for the barrier", err)
			continue
		}
		rec := &recorder{State: b.state, reads: keySet{}, userNames: map[string]string{}}
		cevs, err := c.plan(c.ctx, rec)
		if q.flight != nil && q.flight.writes.meets(rec.reads) {
			// It read what the batch in flight changes: plan it again
			// once that is applied.
			if serr := b.settle(ctx, tenant, q); serr != nil {
				q.requeue(batch[i:]) // the next barrier waits again, or fails them
				break
			}
			rec = &recorder{State: b.state, reads: keySet{}, userNames: map[string]string{}}
			cevs, err = c.plan(c.ctx, rec)
		}
		if written.meets(rec.reads) {
			q.requeue(batch[i:])
			break
		}
		if err == nil {
			err = b.checkSizes(cevs)
		}
		if err != nil {
			c.done <- outcome{err: err}
			continue
		}
		written.addWrites(cevs, rec)
		evs = append(evs, cevs...)
		accepted = append(accepted, c)
		counts = append(counts, len(cevs))
	}
	if len(evs) == 0 {
		for _, c := range accepted {
			c.done <- outcome{}
		}
		return
	}
	if err := b.checkOwned(tenant, epoch, evs); err != nil { // owner.go
		for _, c := range accepted {
			b.fail(c, "check ownership", err)
		}
		return
	}
	b.metrics.batchSize.Observe(float64(len(accepted)))
	start := time.Now()
	p, last, err := b.log.Append(ctx, evs)
	if err != nil {
		// Its records may be in the log all the same, ahead of what comes
		// next (events.Log.Append): the next plans must see them applied.
		q.failedAppend = true
		b.metrics.appendErrors.Inc()
		err = unavailable("append events", err)
		for _, c := range accepted {
			b.accepted.forget(c.digest) // it may be in the log all the same
			b.fail(c, "append events", err)
		}
		return
	}
	b.metrics.appendSeconds.Observe(time.Since(start).Seconds())
	// The batch before it is now wholly before it in the log: a barrier
	// waiting for everything before this one covers it.
	q.flight = &inFlight{writes: written, first: last - int64(len(evs)) + 1, last: last, epoch: epoch}
	q.lastOffset = last
	for _, e := range evs {
		b.metrics.events.WithLabelValues(e.Type).Inc()
	}
	off := last - int64(len(evs))
	for i, c := range accepted {
		off += int64(counts[i])
		// The write is in the log. Its request is accepted (retry.go),
		// unless its client has given up meanwhile, unanswered.
		if counts[i] > 0 && c.ctx.Err() == nil {
			b.accepted.add(c.digest)
		} else if counts[i] > 0 {
			b.accepted.forget(c.digest)
		}
		c.done <- outcome{partition: p, last: off, n: counts[i]}
	}
}

// fail answers c with err, unless c's own context has ended (its deadline
// passed, its client went away) or the bridge is closing, which says more.
// The batch's context ends at the latest deadline of its writes, which may
// be a moment before c's own timer fires: a passed deadline counts.
func (b *Bridge) fail(c *command, what string, err error) {
	switch {
	case c.ctx.Err() != nil:
		err = interrupted(c.ctx, what, err)
	case pastDeadline(c.ctx):
		err = deadlineError(what, err)
	case b.life.Err() != nil:
		err = unavailable(what, errClosed)
	}
	c.done <- outcome{err: err}
}

func pastDeadline(ctx context.Context) bool {
	d, ok := ctx.Deadline()
	return ok && !time.Now().Before(d)
}

// keySet names what writes read and change: "r/<type>/<id>" a resource,
// "u/<folded userName>" a userName, "g/<id>" a group's member list,
// "m/<id>" the groups a resource is a member of, "d/<digest>" the resource
// a POST created (retry.go).
type keySet map[string]struct{}

func (k keySet) add(parts ...string) {
	k[strings.Join(parts, "/")] = struct{}{} // one allocation, the key's
}

func (k keySet) meets(other keySet) bool {
	if len(k) == 0 {
		return false
	}
	for key := range other {
		if _, ok := k[key]; ok {
			return true
		}
	}
	return false
}

// addWrites adds what events change. rec tells the userNames the write's
// resources had before (a rename frees the old one).
func (k keySet) addWrites(evs []events.Event, rec *recorder) {
	for _, e := range evs {
		k.add("r", e.ResourceType, e.ResourceID)
		if e.RequestDigest != "" && (e.Type == events.UserCreated || e.Type == events.GroupCreated) {
			k.add("d", e.RequestDigest)
		}
		if e.ResourceType == schemas.User {
			if old, ok := rec.userNames[e.ResourceID]; ok {
				k.add("u", old)
			}
			if name, ok := e.Resource["userName"].(string); ok {
				k.add("u", schemas.Fold(name))
			}
		}
		switch e.Type {
		case events.GroupMembersAdded, events.GroupMembersRemoved, events.GroupDeleted:
			k.add("g", e.ResourceID)
		}
		switch e.Type {
		case events.UserDeleted, events.GroupDeleted:
			k.add("m", e.ResourceID)
		}
		for _, m := range e.MembersAdded {
			k.add("m", m.Value)
		}
		for _, m := range e.MembersRemoved {
			k.add("m", m.Value)
		}
	}
}

// recorder is the State a plan reads through; it notes what was read.
type recorder struct {
	State
	reads     keySet
	userNames map[string]string // user id → folded userName, as read
}

func (r *recorder) Get(ctx context.Context, tenant, resourceType, id string, o view.GetOptions) (view.Stored, error) {
	r.reads.add("r", resourceType, id)
	st, err := r.State.Get(ctx, tenant, resourceType, id, o)
	if err == nil && resourceType == schemas.User {
		if name, ok := st.Resource["userName"].(string); ok {
			r.userNames[id] = schemas.Fold(name)
		}
	}
	return st, err
}

func (r *recorder) UserIDByUserName(ctx context.Context, tenant, userName string) (string, bool, error) {
	r.reads.add("u", schemas.Fold(userName))
	return r.State.UserIDByUserName(ctx, tenant, userName)
}

func (r *recorder) Members(ctx context.Context, tenant, groupID string) schemas.Members {
	r.reads.add("g", groupID)
	return r.State.Members(ctx, tenant, groupID)
}

func (r *recorder) CreatedBy(ctx context.Context, tenant, digest string) (string, bool, error) {
	r.reads.add("d", digest)
	return r.State.CreatedBy(ctx, tenant, digest)
}

func (r *recorder) DeletedBy(ctx context.Context, tenant, resourceType, id string) (string, bool, error) {
	r.reads.add("r", resourceType, id)
	return r.State.DeletedBy(ctx, tenant, resourceType, id)
}

func (r *recorder) GroupsOf(ctx context.Context, tenant, memberID string) ([]string, error) {
	r.reads.add("m", memberID)
	return r.State.GroupsOf(ctx, tenant, memberID)
}
