package kafka

import (
	"context"
	"fmt"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/scim-bridge/scim-bridge/events"
)

// Reader settings: with MinBytes 1 a fetch returns as soon as one record is
// there, so an appended event reaches the projection within a round trip
// whatever readMaxWait is; readMaxWait only bounds an empty long poll. A
// short one costs: every idle partition then asks the broker again and
// again (12 partitions at 100 ms were 120 fetches a second), and on a
// loaded machine the answers came late enough for kafka-go to drop the
// connection with an i/o timeout. One second is cheap and still well
// under kafka-go's 10 s default.
const (
	readMaxWait  = time.Second
	readMaxBytes = 10 << 20
)

// Read reads partition p from offset from with a kafka-go Reader bound to
// that partition (no consumer group: the caller keeps its own position).
// Before the Log has connected it waits for that (see WaitConnected). The
// Reader reconnects by itself while the broker is away; Read logs its
// errors and keeps going until ctx is done (returning ctx.Err()), the Log is
// closed (ErrClosed) or fn fails (returning its error). A record that does
// not decode is passed to fn with Record.Err set.
func (l *Log) Read(ctx context.Context, p int, from int64, fn func(events.Record) error) error {
	if err := l.WaitConnected(ctx); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("read partition %d: %w", p, err)
	}
	if p < 0 || p >= l.n {
		return fmt.Errorf("read partition %d: out of range [0, %d)", p, l.n)
	}
	if from < 0 {
		return fmt.Errorf("read partition %d: negative offset %d", p, from)
	}
	if l.closed() {
		return fmt.Errorf("read partition %d: %w", p, ErrClosed)
	}
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(l.life, cancel)
	defer stop()

	logger := l.logger.With("partition", p)
	r := kafka.NewReader(kafka.ReaderConfig{
		Brokers:        l.opts.Brokers,
		Topic:          l.opts.Topic,
		Partition:      p,
		Dialer:         l.dialer,
		MinBytes:       1,
		MaxBytes:       readMaxBytes,
		MaxWait:        readMaxWait,
		ReadBackoffMin: 50 * time.Millisecond,
		ReadBackoffMax: time.Second,
		MaxAttempts:    1, // surface connection errors to our log at once; the Reader retries anyway
		Logger: kafka.LoggerFunc(func(msg string, args ...any) {
			logger.Debug("kafka reader", "msg", fmt.Sprintf(msg, args...))
		}),
		ErrorLogger: kafka.LoggerFunc(func(msg string, args ...any) {
			logger.Warn("kafka reader error", "err", fmt.Sprintf(msg, args...))
		}),
	})
	defer r.Close()
	if err := r.SetOffset(from); err != nil {
		return fmt.Errorf("read partition %d: set offset %d: %w", p, from, err)
	}
	var hdrs []events.Header
	for {
		m, err := r.FetchMessage(rctx)
		if err != nil {
			switch {
			case ctx.Err() != nil:
				return ctx.Err()
			case l.closed():
				return fmt.Errorf("read partition %d: %w", p, ErrClosed)
			case rctx.Err() != nil:
				return rctx.Err()
			}
			// The Reader reports connection errors here and keeps
			// retrying with backoff: carry on.
			logger.Warn("fetch failed, retrying", "err", err)
			continue
		}
		hdrs = hdrs[:0]
		for _, h := range m.Headers {
			hdrs = append(hdrs, events.Header{Key: h.Key, Value: h.Value})
		}
		if err := fn(events.DecodeRecord(p, m.Offset, m.Key, hdrs, m.Value)); err != nil {
			return err
		}
	}
}
