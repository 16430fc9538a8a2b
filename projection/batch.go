package projection

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/dgraph-io/badger/v4"

	"github.com/scim-bridge/scim-bridge/events"
)

// applyRecords applies consecutive records of one partition, in offset
// order, with as few Badger transactions as it can: up to
// Options.ApplyBatch records per transaction, each transaction committing
// their state, their indexes and the partition's position after the last
// of them together, so a crash leaves the projection at a record boundary
// it resumes from. Later records of a transaction read the writes of
// earlier ones (Badger transactions read their own writes), so the bytes
// are those of applying the records one by one. A record that needs
// several transactions of its own (a member delta larger than
// Options.MemberBatch, a group delete) ends the running transaction and is
// applied alone, as Apply does. When a transaction grows past Badger's
// limits it is redone with the records that fitted, and the rest go to the
// next one.
//
// Records below the applied position are replays and are ignored, as in
// Apply. It returns an error only when Badger fails; the records before
// the failing transaction stay applied.
func (s *Store) applyRecords(recs []events.Record) error {
	if len(recs) == 0 {
		return nil
	}
	p := recs[0].Partition
	for _, rec := range recs {
		if rec.Partition != p || rec.Offset < 0 {
			return fmt.Errorf("apply record at %d/%d: not a record of partition %d", rec.Partition, rec.Offset, p)
		}
	}
	if p < 0 {
		return fmt.Errorf("apply record at %d/%d: negative position", p, recs[0].Offset)
	}
	mu := s.partitionLock(p)
	mu.Lock()
	defer mu.Unlock()

	s.mu.Lock()
	var next int64
	if p < len(s.applied) {
		next = s.applied[p]
	}
	s.mu.Unlock()
	for len(recs) > 0 && recs[0].Offset < next {
		s.m.skipped.WithLabelValues(reasonReplay).Inc()
		recs = recs[1:]
	}

	for len(recs) > 0 {
		if s.needsOwnTxns(&recs[0]) {
			if err := s.applyLocked(recs[0]); err != nil {
				return err
			}
			recs = recs[1:]
			continue
		}
		n := 1
		for n < len(recs) && n < s.txnRecords() && !s.needsOwnTxns(&recs[n]) {
			n++
		}
		done, err := s.applyTxn(recs[:n])
		if err != nil {
			return err
		}
		recs = recs[done:]
	}
	return nil
}

// bulkTxnRecords is the most records a transaction of the bulk engine
// holds. Its writes are indexed per transaction, read by every get and put
// of the records after them (and the committer's queue by the applier's
// reads): an index of a hundred-odd records' keys stays in the cache,
// where one of Options.ApplyBatch (a thousand by default) did not. The
// records are applied alike whatever the transactions hold.
const bulkTxnRecords = 128

// txnRecords is the most records one transaction of applying holds.
func (s *Store) txnRecords() int {
	if _, bulk := s.kv.(*bulkKV); bulk {
		return min(s.applyBatch, bulkTxnRecords)
	}
	return s.applyBatch
}

// needsOwnTxns reports whether rec may need more than one transaction: a
// member delta larger than a batch, or a group delete (whose member cleanup
// must finish before any later record applies).
func (s *Store) needsOwnTxns(rec *events.Record) bool {
	ev := &rec.Event
	switch ev.Type {
	case events.GroupDeleted:
		return true
	case events.GroupMembersAdded, events.GroupMembersRemoved:
		return len(ev.MembersAdded)+len(ev.MembersRemoved) > s.memberBatch
	}
	return false
}

// applyTxn applies a prefix of recs (at least one record) in one
// transaction and returns its length: all of recs unless the transaction
// outgrew Badger's limits, or a record turned out to need a transaction of
// its own, in which case it is redone with the records before it. A first
// record that needs one (it must be skipped for a limit it breaks, or it
// is a member delta too large to share) is applied alone, as Apply does.
// s's partition lock is held; none of recs needs its own transactions by
// its count (needsOwnTxns).
func (s *Store) applyTxn(recs []events.Record) (int, error) {
	start := time.Now()
	reasons := make([]string, len(recs))
	n := len(recs)
	var fence events.Fence
	for {
		txn := s.newWriteTxn()
		var fitted int
		var err error
		fitted, fence, err = s.fillTxn(txn, recs[:n], reasons)
		tooBig := errors.Is(err, badger.ErrTxnTooBig)
		alone := skipReason(err) != "" || errors.Is(err, errOwnTxns)
		if (tooBig || alone) && fitted > 0 {
			txn.Discard()
			n = fitted
			continue
		}
		if alone {
			// The first record on its own: the same decision, made in
			// the same state, as if it had come alone.
			txn.Discard()
			return 1, s.applyLocked(recs[0])
		}
		if err == nil {
			err = s.commit(txn)
		}
		txn.Discard()
		if err != nil {
			rec := &recs[min(fitted, n-1)]
			return 0, fmt.Errorf("apply %s %s/%s at %d/%d: %w", clip(rec.Event.Type), clip(rec.Event.ResourceType),
				clip(rec.Event.ResourceID), rec.Partition, rec.Offset, err)
		}
		s.written.add(txn.kept)
		break
	}
	last := recs[n-1]
	s.mu.Lock()
	for i := range recs[:n] {
		if reasons[i] == reasonVoid {
			s.noteVoidLocked(last.Partition, recs[i].Offset)
		}
	}
	s.mu.Unlock()
	s.setFence(last.Partition, fence)
	s.setApplied(last.Partition, last.Offset+1, last.Event.Time)
	each := time.Since(start) / time.Duration(n)
	for i := range recs[:n] {
		s.reportApplied(&recs[i], reasons[i], each)
	}
	return n, nil
}

// fillTxn writes recs into txn, the position after the last one first,
// recording each record's skip reason ("" when applied) in reasons, and
// returns the partition's fence after them: claims among recs move it for
// the records after them. It returns how many records were written in
// full; on Badger's ErrTxnTooBig, an error carrying a skip reason or
// errOwnTxns, that is the number before the record that caused it.
func (s *Store) fillTxn(txn *writeTxn, recs []events.Record, reasons []string) (int, events.Fence, error) {
	last := recs[len(recs)-1]
	f := s.fenceOf(last.Partition)
	if err := txn.Set(posKey(last.Partition), appendI64(nil, last.Offset+1)); err != nil {
		return 0, f, err
	}
	for i := range recs {
		rec := &recs[i]
		txn.mark()
		reason, deleted, err := s.applyRecord(txn, rec, precheck(rec, f), memberOps(&rec.Event), &f)
		if err != nil {
			return i, f, err
		}
		if deleted { // needsOwnTxns keeps group deletes out of batches
			return i, f, fmt.Errorf("group delete in a batch")
		}
		reasons[i] = reason
	}
	return len(recs), f, nil
}

// reportApplied counts and logs a record whose transaction committed.
func (s *Store) reportApplied(rec *events.Record, reason string, took time.Duration) {
	s.m.applySeconds.Observe(took.Seconds())
	if reason != "" {
		// Ids and types only, clipped: the event may be skipped for their
		// size. Never attribute values.
		s.m.skipped.WithLabelValues(reason).Inc()
		if c := rec.Claim; c != nil {
			s.logger.Warn("skipped claim", "reason", reason, "event_id", clip(c.ID), "epoch", c.Epoch,
				"owner", clip(c.Owner), "partition", rec.Partition, "offset", rec.Offset)
			return
		}
		attrs := []any{"reason", reason, "type", clip(rec.Event.Type),
			"tenant", clip(rec.Event.Tenant), "resource_type", clip(rec.Event.ResourceType),
			"resource_id", clip(rec.Event.ResourceID), "event_id", clip(rec.Event.ID),
			"partition", rec.Partition, "offset", rec.Offset}
		if rec.Err != nil {
			// Why it is no event, with what it quotes of the record left out.
			attrs = append(attrs, "detail", clip(elideQuoted(rec.Err.Error())))
		}
		if reason == reasonVoid {
			attrs = append(attrs, "epoch", rec.Event.Epoch)
		}
		s.logger.Warn("skipped event", attrs...)
		return
	}
	if rec.Claim != nil {
		s.m.applied.WithLabelValues(events.PartitionClaimed).Inc()
		s.logger.Info("claim in force", "partition", rec.Partition, "offset", rec.Offset,
			"epoch", rec.Claim.Epoch, "owner", clip(rec.Claim.Owner))
		return
	}
	s.m.applied.WithLabelValues(rec.Event.Type).Inc()
	if s.logger.Enabled(context.Background(), slog.LevelDebug) {
		s.logger.Debug("applied event", "type", rec.Event.Type, "resource_type", rec.Event.ResourceType,
			"resource_id", rec.Event.ResourceID, "partition", rec.Partition, "offset", rec.Offset)
	}
}

// consume applies the records the partition reader queues on recs until
// ctx is done (returning ctx.Err()) or recs is closed (returning nil: the
// reader reports why it stopped). It takes one record, waiting for it, then
// whatever else is queued up to Options.ApplyBatch without waiting, and
// applies them together: a lone record is applied at once, a backlog in
// batches.
func (s *Store) consume(ctx context.Context, recs <-chan events.Record) error {
	batch := make([]events.Record, 0, s.applyBatch)
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case rec, ok := <-recs:
			if !ok {
				return nil
			}
			batch = append(batch, rec)
		}
		open := true
	drain:
		for len(batch) < s.applyBatch {
			select {
			case rec, ok := <-recs:
				if !ok {
					open = false
					break drain
				}
				batch = append(batch, rec)
			default:
				break drain
			}
		}
		if err := s.applyRetrying(ctx, batch); err != nil {
			return err
		}
		clear(batch) // drop the events for the collector
		batch = batch[:0]
		if !open {
			return nil
		}
	}
}

// Backoff between attempts to apply a batch that Badger failed.
const (
	retryMin = 100 * time.Millisecond
	retryMax = 30 * time.Second
)

// applyRetrying applies batch, retrying with backoff until it succeeds or
// ctx is done (returning ctx.Err()). An event the projection cannot apply
// is skipped, not an error; what fails here is Badger (a full disk, say),
// which may recover or need an operator, and is never a reason to stop
// the projection or the process. Records applied before the failure stay
// applied; a retry skips them as replays.
func (s *Store) applyRetrying(ctx context.Context, batch []events.Record) error {
	wait := retryMin
	for {
		err := s.applyRecords(batch)
		var ce *cleanupError
		if errors.As(err, &ce) {
			// The group delete committed; its leftover members must be
			// gone before anything after it applies.
			if err = s.finishCleanup(ce); err == nil {
				continue
			}
		}
		if err == nil || errors.Is(err, errBulkFailed) {
			return err
		}
		s.m.applyErrors.Inc()
		s.logger.Warn("applying failed, retrying", "partition", batch[0].Partition, "offset", batch[0].Offset,
			"retry_in", wait.String(), "err", err)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
		wait = min(2*wait, retryMax)
	}
}

// finishCleanup finishes the cleanup a group delete left after ce, under
// the lock of the delete's partition.
func (s *Store) finishCleanup(ce *cleanupError) error {
	mu := s.partitionLock(ce.partition)
	mu.Lock()
	defer mu.Unlock()
	if err := s.cleanup(ce.tenant, ce.groupID); err != nil {
		return fmt.Errorf("clean up deleted group: %w", err)
	}
	return nil
}

// update runs fn in a read-write transaction and commits it, like
// badger.DB.Update, through commit.
func (s *Store) update(fn func(txn *writeTxn) error) error {
	txn := s.newWriteTxn()
	defer txn.Discard()
	if err := fn(txn); err != nil {
		return err
	}
	return s.commit(txn)
}

// commit commits a transaction of applying. Tests set s.beforeCommit to
// stop the store at any commit, as a crash would.
func (s *Store) commit(txn *writeTxn) error {
	if s.beforeCommit != nil {
		if err := s.beforeCommit(); err != nil {
			return err
		}
	}
	return txn.kv.commit()
}
