package projection

import (
	"context"
	"encoding/binary"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/dgraph-io/badger/v4"
	"github.com/dgraph-io/ristretto/v2/z"

	"github.com/scim-bridge/scim-bridge/events"
)

// Bulk replay. Run on a fresh projection (nothing applied, nothing stored
// but the format key) with a backlog of at least Options.BulkThreshold
// records applies the records that the log held at start to the bulk
// engine (bulk_kv.go) instead of Badger transactions, then writes the
// final state into Badger with a StreamWriter, which builds its tables
// directly: no memtable, no compaction, no transaction. The apply path is
// the same code either way (Run's readers and appliers, applyRecords and
// everything below it, over kvDB), so every record is applied or skipped
// exactly as the incremental path would, and the bytes are the same.
//
// While it runs, the projection in Badger stays empty, CaughtUp is false
// and WaitApplied waits: positions move in memory only (and with them the
// lag metric), and become the projection's with the final write. The
// format key is written last, after the StreamWriter's flush, so a process
// killed during the final write leaves a projection without one, which
// Open recognises and empties; killed before it, the projection is still
// fresh. Either way the next start replays again. The engine's run files
// live beside the projection, in its directory name plus ".bulk"; Open
// deletes any left there.

const (
	defaultBulkThreshold    = 10_000
	defaultReplayMemory     = 128 << 20
	defaultProgressInterval = 5 * time.Second

	// bulkWriteChunk is how many bytes of encoded pairs the final write
	// hands the StreamWriter at a time. Small: Write decodes a chunk into
	// an entry and two copies a key, several times the chunk, and up to
	// five decoded chunks are in flight (its channel to the table builder
	// holds three); at 4 MiB that was about 130 MB of the replay's peak
	// RSS at a million users, for no gain in time.
	bulkWriteChunk = 256 << 10
)

// bulkWanted reports whether Run should replay in bulk up to end: the
// projection is fresh and the backlog large enough.
func (s *Store) bulkWanted(end []int64) (bool, error) {
	if s.bulkThreshold < 0 {
		return false, nil
	}
	var backlog int64
	for _, e := range end {
		backlog += e
	}
	s.mu.Lock()
	for _, a := range s.applied {
		if a != 0 {
			s.mu.Unlock()
			return false, nil
		}
	}
	s.mu.Unlock()
	if backlog < s.bulkThreshold {
		return false, nil
	}
	only, err := s.onlyFormatKey()
	return only, err
}

// onlyFormatKey reports whether Badger holds the format key and nothing
// else.
func (s *Store) onlyFormatKey() (bool, error) {
	only := true
	err := s.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			if k := it.Item().Key(); len(k) != 1 || k[0] != tagFormat {
				only = false
				return nil
			}
		}
		return nil
	})
	return only, err
}

// bulkDirOf is where the bulk engine of the projection in dir keeps its
// runs.
func bulkDirOf(dir string) string { return dir + ".bulk" }

// bulkReplay applies every record below end to the bulk engine, then
// writes the result into Badger. On success the positions it reached are
// the projection's, and Run goes on from them. On failure or
// cancellation the projection is left fresh (and the in-memory positions
// reset), and the error is returned.
func (s *Store) bulkReplay(ctx context.Context, log events.Log, end []int64) (err error) {
	dir := s.bulkDir
	if dir == "" {
		if dir, err = os.MkdirTemp("", "projection-bulk-"); err != nil {
			return fmt.Errorf("bulk replay: %w", err)
		}
	}
	e, err := newBulkKV(dir, s.replayMemory, s.db.MaxBatchSize(), s.db.MaxBatchCount())
	if err != nil {
		return err
	}
	e.beforeSpill = s.beforeSpill
	s.kv = e
	defer func() {
		s.kv = badgerDB{s.db}
		if cerr := e.close(); cerr != nil {
			s.logger.Warn("bulk replay: delete the run files", "err", cerr)
		}
		s.mu.Lock()
		if err != nil {
			// Nothing reached Badger: back to a fresh projection.
			for p := range s.applied {
				s.applied[p], s.fences[p] = 0, events.Fence{}
			}
		}
		s.bulking = false
		s.broadcastLocked()
		s.mu.Unlock()
		if err != nil {
			for p := range s.applied {
				s.m.appliedOffset.WithLabelValues(partitionLabel(p)).Set(0)
			}
		}
	}()

	var total int64
	for _, n := range end {
		total += n
	}
	start := time.Now()
	s.logger.Info("bulk replay of a fresh projection", "records", total, "memory_budget", e.budget, "dir", dir)

	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	errc := make(chan error, 2*len(end))
	for p, stop := range end {
		if stop <= 0 {
			continue
		}
		s.startPartition(runCtx, &wg, log, p, 0, stop, errc)
	}
	progressDone := make(chan struct{})
	var progressWG sync.WaitGroup
	progressWG.Go(func() { s.bulkProgress(runCtx, progressDone, start, total) })
	progressWG.Go(func() { s.pollEnd(runCtx, log) }) // keeps the lag metric moving

	go func() { wg.Wait(); close(errc) }()
	var first error
	for err := range errc {
		if err != nil && first == nil {
			first = err
			cancel()
		}
	}
	close(progressDone)
	cancel()
	progressWG.Wait()
	if first == nil {
		first = ctx.Err()
	}
	if first != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("bulk replay: %w", first)
	}
	// The last transactions into the overlay: the committer's error, if
	// the last of them failed it, is known only now.
	if err := e.flush(); err != nil {
		return err
	}
	s.mu.Lock()
	for p, stop := range end {
		if s.applied[p] < stop {
			s.mu.Unlock()
			return fmt.Errorf("bulk replay: partition %d applied up to %d of %d", p, s.applied[p], stop)
		}
	}
	s.mu.Unlock()

	applied := time.Since(start)
	s.logger.Info("bulk replay: applied, writing the projection", "records", total,
		"duration", applied.Round(time.Millisecond).String())
	if err := s.bulkWrite(ctx, e); err != nil {
		return err
	}
	s.bulked = true
	took := time.Since(start)
	s.logger.Info("bulk replay done", "records", total, "duration", took.Round(time.Millisecond).String(),
		"events_per_s", int64(float64(total)/took.Seconds()))
	return nil
}

// bulkProgress logs the records applied, the rate and the time left every
// Options.ProgressInterval until done is closed or ctx is done.
func (s *Store) bulkProgress(ctx context.Context, done <-chan struct{}, start time.Time, total int64) {
	t := time.NewTicker(s.progressEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-done:
			return
		case <-t.C:
		}
		var n int64
		for _, a := range s.Applied() {
			n += a
		}
		secs := time.Since(start).Seconds()
		rate := float64(n) / secs
		attrs := []any{"records", n, "of", total, "events_per_s", int64(rate)}
		if rate > 0 {
			eta := time.Duration(float64(total-n) / rate * float64(time.Second))
			attrs = append(attrs, "eta", eta.Round(time.Second).String())
		}
		s.logger.Info("bulk replay progress", attrs...)
	}
}

// bulkWrite streams the engine's final state into Badger, then writes the
// format key: until then the projection is not built (see Open). Encoding
// the merged pairs and the StreamWriter's Write run in two goroutines,
// handing over two buffers of bulkWriteChunk bytes in turn.
func (s *Store) bulkWrite(ctx context.Context, e *bulkKV) error {
	sw := s.db.NewStreamWriter()
	if err := sw.Prepare(); err != nil {
		return fmt.Errorf("bulk replay: prepare the stream writer: %w", err)
	}
	free := make(chan *z.Buffer, 2)
	for range 2 {
		buf := z.NewBuffer(bulkWriteChunk+bulkWriteChunk/4, "projection.bulk")
		defer buf.Release()
		free <- buf
	}
	full := make(chan *z.Buffer, 1)
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	merged := make(chan error, 1)
	go func() {
		defer close(full)
		buf := <-free
		n := 0
		err := e.merge(func(k, v []byte) error {
			if n++; n%4096 == 0 {
				if err := wctx.Err(); err != nil {
					return err
				}
			}
			appendStreamKV(buf, k, v)
			if buf.LenNoPadding() < bulkWriteChunk {
				return nil
			}
			full <- buf
			select {
			case buf = <-free:
				return nil
			case <-wctx.Done():
				return wctx.Err()
			}
		})
		if err == nil && buf.LenNoPadding() > 0 {
			full <- buf
		}
		merged <- err
	}()
	var err error
	for buf := range full {
		if err == nil {
			// Write copies what it keeps, so buf can be refilled.
			if err = sw.Write(buf); err != nil {
				cancel()
			}
		}
		buf.Reset()
		free <- buf
	}
	if merr := <-merged; err == nil {
		err = merr
	}
	if err == nil {
		err = sw.Flush()
	} else {
		sw.Cancel()
	}
	if err == nil && s.afterStream != nil {
		err = s.afterStream()
	}
	if err == nil {
		err = s.db.Update(func(txn *badger.Txn) error { return txn.Set(formatKey(), []byte(formatVersion)) })
	}
	if err != nil {
		// Prepare emptied Badger and the stream may have left part of
		// the state: make the projection fresh again.
		if rerr := s.resetFresh(); rerr != nil {
			s.logger.Error("bulk replay: empty the projection after a failed write", "err", rerr)
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("bulk replay: write the projection: %w", err)
	}
	return nil
}

// appendStreamKV appends the pair k = v at version 1 to buf as the
// StreamWriter takes it: a length-prefixed pb.KV, encoded here as
// badger.KVToBuffer would (fields 1 key, 2 value, 4 version, an empty
// value left out), without its reflection, which cost about a
// microsecond per key of the final write.
func appendStreamKV(buf *z.Buffer, k, v []byte) {
	const (
		tagKey     = 1<<3 | 2 // field 1, length-delimited
		tagValue   = 2<<3 | 2 // field 2, length-delimited
		tagVersion = 4 << 3   // field 4, wire type 0 (varint)
	)
	n := 1 + uvarintLen(uint64(len(k))) + len(k) + 2
	if len(v) > 0 {
		n += 1 + uvarintLen(uint64(len(v))) + len(v)
	}
	out := buf.SliceAllocate(n)[:0]
	out = append(out, tagKey)
	out = binary.AppendUvarint(out, uint64(len(k)))
	out = append(out, k...)
	if len(v) > 0 {
		out = append(out, tagValue)
		out = binary.AppendUvarint(out, uint64(len(v)))
		out = append(out, v...)
	}
	_ = append(out, tagVersion, 1)
}

// resetFresh empties Badger and writes the format key: a fresh projection.
func (s *Store) resetFresh() error {
	s.written.reset()
	if err := s.db.DropAll(); err != nil {
		return err
	}
	return s.db.Update(func(txn *badger.Txn) error { return txn.Set(formatKey(), []byte(formatVersion)) })
}
