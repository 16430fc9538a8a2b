package kafka

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/scim-bridge/scim-bridge/events"
)

// Group commit. Each partition has one produce loop with at most one produce
// request in flight. Appends queue on their partition; the loop takes
// everything waiting (up to MaxBatchBytes) and sends it as one request, so
// concurrent appends of one partition share a round trip while other
// partitions never wait for it. One request in flight per partition also
// keeps a retried batch ahead of the appends queued behind it: a retry may
// duplicate records (consumers dedupe by ce_id and version) but never
// reorders a tenant's events. Nothing waits for a timer: a lone append is
// sent at once, which is what kafka-go's Writer BatchTimeout would not do.

// appendReq is one Append waiting for its partition's loop.
type appendReq struct {
	ctx   context.Context // the Append's, bounded by AppendTimeout
	recs  []rawRecord
	size  int
	reply chan appendResult // buffered: the loop never blocks on it

	handoff events.Handoff // the loop takes it into a produce request, or its Append gives up on it (enqueue)
}

type appendResult struct {
	last int64
	err  error
}

// rawRecord keeps the encoded bytes: kafka-go's record values are readers
// consumed by a send, so every attempt builds its records afresh.
type rawRecord struct {
	key, value []byte
	headers    []kafka.Header
}

// recordOverhead approximates the per-record framing of a record batch.
const recordOverhead = 32

// errAppendTimeout is the cause of an Append's context when AppendTimeout
// passed.
var errAppendTimeout = errors.New("append timeout")

// Append encodes evs with events.Encode and appends them, in order, to the
// partition of their tenant with acks=all. See [events.Log]. Before the Log
// has connected it fails at once with events.ErrUnavailable.
func (l *Log) Append(ctx context.Context, evs []events.Event) (int, int64, error) {
	start := time.Now()
	p, last, err := l.append(ctx, evs)
	l.metrics.observeAppend(len(evs), time.Since(start), err)
	return p, last, err
}

func (l *Log) append(ctx context.Context, evs []events.Event) (int, int64, error) {
	if len(evs) == 0 {
		return 0, 0, errors.New("append: no events")
	}
	if l.closed() {
		return 0, 0, fmt.Errorf("append: %w", ErrClosed)
	}
	if !l.isConnected() {
		return 0, 0, fmt.Errorf("append: %w", l.notConnected())
	}
	tenant := evs[0].Tenant
	req := &appendReq{recs: make([]rawRecord, len(evs)), reply: make(chan appendResult, 1)}
	for i := range evs {
		if evs[i].Tenant != tenant {
			return 0, 0, fmt.Errorf("append: events of tenants %q and %q in one call", tenant, evs[i].Tenant)
		}
		key, hdrs, value, err := events.Encode(&evs[i])
		if err != nil {
			return 0, 0, fmt.Errorf("append %s: %w", evs[i].Type, err)
		}
		r := rawRecord{key: key, value: value, headers: make([]kafka.Header, len(hdrs))}
		req.size += len(key) + len(value) + recordOverhead
		for j, h := range hdrs {
			r.headers[j] = kafka.Header{Key: h.Key, Value: h.Value}
			req.size += len(h.Key) + len(h.Value)
		}
		req.recs[i] = r
	}
	return l.enqueue(ctx, events.PartitionFor(tenant, l.n), req)
}

// AppendClaim appends claim c to partition c.Partition, as Append appends
// events. See [events.Log].
func (l *Log) AppendClaim(ctx context.Context, c events.Claim) (int64, error) {
	start := time.Now()
	_, off, err := l.appendClaim(ctx, c)
	l.metrics.observeAppend(1, time.Since(start), err)
	return off, err
}

func (l *Log) appendClaim(ctx context.Context, c events.Claim) (int, int64, error) {
	if l.closed() {
		return 0, 0, fmt.Errorf("append claim: %w", ErrClosed)
	}
	if !l.isConnected() {
		return 0, 0, fmt.Errorf("append claim: %w", l.notConnected())
	}
	if c.Partition >= l.n {
		return 0, 0, fmt.Errorf("append claim: partition %d out of range [0, %d)", c.Partition, l.n)
	}
	key, hdrs, value, err := events.EncodeClaim(&c)
	if err != nil {
		return 0, 0, fmt.Errorf("append claim: %w", err)
	}
	r := rawRecord{key: key, value: value, headers: make([]kafka.Header, len(hdrs))}
	size := len(key) + len(value) + recordOverhead
	for j, h := range hdrs {
		r.headers[j] = kafka.Header{Key: h.Key, Value: h.Value}
		size += len(h.Key) + len(h.Value)
	}
	req := &appendReq{recs: []rawRecord{r}, size: size, reply: make(chan appendResult, 1)}
	return l.enqueue(ctx, c.Partition, req)
}

// enqueue hands req to partition p's produce loop and waits for its
// reply. When ctx (bounded by AppendTimeout) ends first, req is abandoned
// if the loop has not taken it yet (it is then never sent); else enqueue
// waits for the outcome of the produce request it is in, whose attempts
// are bounded by AppendTimeout each and stop at the latest deadline of its
// appends (send): so that when Append returns, its records are in the log
// or, as far as this client can tell, never will be (see docs/decisions.md
// D40 for what a broker may still do with a request on a closed connection).
func (l *Log) enqueue(ctx context.Context, p int, req *appendReq) (int, int64, error) {
	ctx, cancel := context.WithTimeoutCause(ctx, l.opts.AppendTimeout, errAppendTimeout)
	defer cancel()
	req.ctx = ctx
	select {
	case l.queues[p] <- req:
	case <-ctx.Done():
		return p, 0, l.ctxErr(ctx, p, nil)
	case <-l.life.Done():
		return p, 0, fmt.Errorf("append: %w", ErrClosed)
	}
	var res appendResult
	select {
	case res = <-req.reply:
	case <-ctx.Done():
		if req.handoff.Abandon() {
			return p, 0, l.ctxErr(ctx, p, nil)
		}
		res = <-req.reply // taken: every taken request is answered
	}
	if res.err != nil {
		return p, 0, res.err
	}
	return p, res.last, nil
}

// ctxErr turns an ended Append context into its error: the caller's own
// cancellation as is, our AppendTimeout as events.ErrUnavailable.
func (l *Log) ctxErr(ctx context.Context, p int, last error) error {
	if context.Cause(ctx) != errAppendTimeout {
		return fmt.Errorf("append to partition %d: %w", p, ctx.Err())
	}
	if last != nil {
		return fmt.Errorf("%w: append to partition %d: no acknowledgement within %v: %w",
			events.ErrUnavailable, p, l.opts.AppendTimeout, last)
	}
	return fmt.Errorf("%w: append to partition %d: no acknowledgement within %v",
		events.ErrUnavailable, p, l.opts.AppendTimeout)
}

// produceLoop sends the appends queued on partition p, batching whatever
// waits, until Close; then it fails what is still queued.
func (l *Log) produceLoop(p int, q chan *appendReq) {
	var carry *appendReq // taken from q but over the batch size: goes next
	for {
		first := carry
		carry = nil
		if first == nil {
			select {
			case first = <-q:
			case <-l.life.Done():
				l.drainClosed(q)
				return
			}
		}
		batch, size := []*appendReq{first}, first.size
	fill:
		for size < l.opts.MaxBatchBytes {
			select {
			case r := <-q:
				if size+r.size > l.opts.MaxBatchBytes {
					carry = r
					break fill
				}
				batch = append(batch, r)
				size += r.size
			default:
				break fill
			}
		}
		l.send(p, batch)
	}
}

func (l *Log) drainClosed(q chan *appendReq) {
	for {
		select {
		case r := <-q:
			if r.handoff.Take() {
				r.reply <- appendResult{err: fmt.Errorf("append: %w", ErrClosed)}
			}
		default:
			return
		}
	}
}

// send produces the live requests of batch as one request, retrying
// retriable failures until the last of their deadlines, and replies to each.
// A request whose Append gave up while it was queued is dropped; one taken
// here is answered with the outcome of the produce request, once its last
// attempt has ended.
func (l *Log) send(p int, batch []*appendReq) {
	live := batch[:0]
	var deadline time.Time
	n := 0
	for _, r := range batch {
		if r.ctx.Err() != nil {
			r.handoff.Abandon()
		}
		if !r.handoff.Take() {
			continue // abandoned: its Append returns without waiting; never write it
		}
		live = append(live, r)
		n += len(r.recs)
		if d, _ := r.ctx.Deadline(); d.After(deadline) {
			deadline = d
		}
	}
	if len(live) == 0 {
		return
	}
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()

	l.metrics.batchAppends.Observe(float64(len(live)))
	base, err := l.produce(ctx, p, live, n)
	if err != nil {
		for _, r := range live {
			r.reply <- appendResult{err: err}
		}
		return
	}
	off := base
	for _, r := range live {
		off += int64(len(r.recs))
		r.reply <- appendResult{last: off - 1}
	}
}

// produce sends one produce request and returns its base offset, retrying
// with backoff while the error is retriable and ctx lasts (Close ends the
// retries too). Each attempt is bounded by AppendTimeout, not by ctx: an
// attempt under way when ctx ends runs to its end (acknowledged, refused,
// or its connection closed at its own deadline), so that the Appends
// waiting for it learn its outcome rather than leave it in flight.
func (l *Log) produce(ctx context.Context, p int, batch []*appendReq, n int) (int64, error) {
	backoff := 20 * time.Millisecond
	for attempt := 1; ; attempt++ {
		recs := make([]kafka.Record, 0, n)
		for _, r := range batch {
			for _, rr := range r.recs {
				recs = append(recs, kafka.Record{
					Key:     kafka.NewBytes(rr.key),
					Value:   kafka.NewBytes(rr.value),
					Headers: rr.headers,
				})
			}
		}
		actx, cancel := context.WithTimeout(context.Background(), l.opts.AppendTimeout)
		stop := context.AfterFunc(l.life, cancel) // Close cuts the attempt short
		res, err := l.client.Produce(actx, &kafka.ProduceRequest{
			Topic:        l.opts.Topic,
			Partition:    p,
			RequiredAcks: kafka.RequireAll,
			Records:      kafka.NewRecordReader(recs...),
		})
		stop()
		cancel()
		if err == nil && res.Error != nil {
			err = res.Error
		}
		if err == nil {
			l.metrics.produceRequests.WithLabelValues("ok").Inc()
			return res.BaseOffset, nil
		}
		if !retriable(err) {
			l.metrics.produceRequests.WithLabelValues("error").Inc()
			return 0, fmt.Errorf("produce to partition %d: %w", p, err)
		}
		l.metrics.produceRequests.WithLabelValues("retry").Inc()
		l.logger.Warn("produce failed, retrying", "partition", p, "attempt", attempt, "records", n, "err", err)
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return 0, fmt.Errorf("%w: produce to partition %d: %w", events.ErrUnavailable, p, err)
		case <-l.life.Done():
			t.Stop()
			return 0, fmt.Errorf("%w: produce to partition %d: %w", events.ErrUnavailable, p, ErrClosed)
		case <-t.C:
		}
		backoff = min(2*backoff, 500*time.Millisecond)
	}
}

// retriable reports whether a produce error may go away by itself: every
// transport error (dial, EOF, timeout) and the Kafka errors Kafka calls
// retriable (not leader, not enough replicas, ...). Others (record too
// large, authorization, ...) fail at once.
func retriable(err error) bool {
	var ke kafka.Error
	if errors.As(err, &ke) {
		return ke.Temporary()
	}
	return true
}
