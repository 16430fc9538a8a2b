package projection

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/scim-bridge/scim-bridge/events"
)

// Run reads every partition of log from the applied positions and applies
// what it reads until ctx is done; it returns ctx.Err() on cancellation.
// Each partition has a goroutine reading and one applying, so a backlog is
// applied many records per transaction (Options.ApplyBatch) while a lone
// record is applied at once. It polls the log's end at start and every
// Options.PollInterval for CaughtUp and the lag metric. No event stops it:
// one that cannot be applied is skipped (see Apply), and a Badger failure
// is retried with backoff (counted in scim_projection_apply_errors_total).
// When reading a partition fails for good (a log record that does not
// decode, say), Run logs it, stops the others and returns the error. A
// bulk replay that fails otherwise (its run files cannot be written, say)
// leaves the projection fresh, and Run replays record by record instead.
func (s *Store) Run(ctx context.Context, log events.Log) error {
	n := log.Partitions()
	s.mu.Lock()
	s.growLocked(n)
	s.mu.Unlock()

	// The first end is read before any record is applied, so CaughtUp is
	// true as soon as the records that existed at start are applied.
	if end, err := log.End(ctx); err != nil {
		s.logger.Warn("poll log end", "err", err)
	} else {
		bulk, err := s.bulkWanted(end)
		if err != nil {
			return fmt.Errorf("check for a fresh projection: %w", err)
		}
		if bulk {
			s.mu.Lock()
			s.bulking = true
			s.mu.Unlock()
		}
		s.setEnd(end)
		if bulk {
			// A fresh projection with a backlog: those records in bulk,
			// then on from where that got (bulk.go).
			if err := s.bulkReplay(ctx, log, end); err != nil {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				// A failed bulk replay (a run file it could not write:
				// a full disk, say) wrote nothing to Badger, or emptied
				// it again: the record-by-record path below starts from
				// zero, and retries what Badger refuses as it always does.
				fresh, ferr := s.onlyFormatKey()
				if ferr != nil || !fresh {
					s.logger.Error("projection stopped", "err", err)
					return err
				}
				s.m.applyErrors.Inc()
				s.logger.Warn("bulk replay failed; replaying record by record instead", "err", err)
			}
		}
	}
	s.mu.Lock()
	from := append([]int64(nil), s.applied...)
	s.live = append([]int64(nil), from...) // WaitApplied knows what it applies from here
	s.mu.Unlock()

	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	errc := make(chan error, 2*n+1)
	var wg sync.WaitGroup
	for p := range n {
		s.startPartition(runCtx, &wg, log, p, from[p], 0, errc)
	}
	wg.Go(func() { errc <- s.pollEnd(runCtx, log) })

	var first error
	for range 2*n + 1 {
		err := <-errc
		if err == nil || first != nil || errors.Is(err, context.Canceled) && runCtx.Err() != nil {
			continue
		}
		first = err
		s.logger.Error("projection stopped", "err", err)
		cancel()
	}
	wg.Wait()
	if first != nil {
		return first
	}
	return ctx.Err()
}

// startPartition starts partition p's two goroutines in wg: one reads
// log from offset from and queues the records it decodes, the other
// applies what is queued (consume), so a backlog is applied many records
// per transaction (Options.ApplyBatch) while a lone record is applied at
// once. With stop > 0 the reader ends after the record before stop, and
// consume when it has applied what was queued. Each sends its result to
// errc: nil when it reached its end, ctx.Err() once ctx is done, else the
// error, naming the partition.
func (s *Store) startPartition(ctx context.Context, wg *sync.WaitGroup, log events.Log, p int, from, stop int64, errc chan<- error) {
	recs := make(chan events.Record, s.applyBatch)
	wg.Go(func() {
		err := log.Read(ctx, p, from, func(rec events.Record) error {
			select {
			case recs <- rec:
			case <-ctx.Done():
				return ctx.Err()
			}
			if stop > 0 && rec.Offset+1 >= stop {
				return errReachedEnd
			}
			return nil
		})
		close(recs)
		if errors.Is(err, errReachedEnd) {
			err = nil
		} else if err != nil && ctx.Err() == nil {
			err = fmt.Errorf("partition %d: read: %w", p, err)
		}
		errc <- err
	})
	wg.Go(func() {
		err := s.consume(ctx, recs)
		if err != nil && ctx.Err() == nil {
			err = fmt.Errorf("partition %d: %w", p, err)
		}
		errc <- err
	})
}

// errReachedEnd stops a reader at the stop offset it was given.
var errReachedEnd = errors.New("reached the stop offset")

// pollEnd records the log's end every poll interval until ctx is done. A
// failed poll is logged and retried at the next tick.
func (s *Store) pollEnd(ctx context.Context, log events.Log) error {
	t := time.NewTicker(s.pollEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
		end, err := log.End(ctx)
		switch {
		case ctx.Err() != nil:
			return ctx.Err()
		case err != nil:
			s.logger.Warn("poll log end", "err", err)
		default:
			s.setEnd(end)
		}
	}
}

func (s *Store) setEnd(end []int64) {
	s.mu.Lock()
	s.end = append(s.end[:0], end...)
	s.broadcastLocked()
	lag := make([]int64, len(end))
	for p, e := range end {
		lag[p] = e
		if p < len(s.applied) {
			lag[p] = max(e-s.applied[p], 0)
		}
	}
	s.mu.Unlock()
	for p, l := range lag {
		s.m.lag.WithLabelValues(partitionLabel(p)).Set(float64(l))
	}
}
