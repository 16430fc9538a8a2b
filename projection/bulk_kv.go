package projection

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/maphash"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/dgraph-io/badger/v4"
)

// The bulk engine: the kvDB a first replay applies to (see bulk.go). Writes
// go to an in-memory overlay (bulk_overlay.go: an arena and a hash index),
// bounded by a byte budget; when it is full it is sorted and spilled, in
// key order, as an immutable run file. Reads consult the overlay, then the
// runs newest first: a point read checks each run's bloom filter first,
// so a key that is nowhere (most reads of a replay: a new user's record,
// its userName) costs no I/O; a prefix scan merges every source, the
// newest value of a key winning and delete markers hiding what is older.
// merge, in the same way, hands the final state in key order to Badger's
// StreamWriter.
//
// Transactions (bulkTxn) keep their writes (txnWrites) until commit, so that
// a transaction dropped because its record is skipped, or redone with
// fewer records, leaves nothing behind: the same semantics as a Badger
// transaction, which is what lets the apply path run unchanged.
//
// Commit is a pipeline: it queues the writes (bulkQueue at most, for
// back-pressure) and returns, and the committer goroutine inserts them into
// the overlay and only then takes them off the queue. Reads consult the
// queued writes, newest first, before the overlay, so a transaction sees
// what every earlier commit wrote exactly as if those had been inserted.
// When the overlay reaches the budget, the committer freezes it (reads go
// on seeing it, between the overlay and the runs) and goes on inserting
// into a new one while a spiller goroutine writes the frozen one as a run:
// neither the applier nor the committer waits for a spill unless the new
// overlay fills before it is done (two overlays at most). A committer or
// spill error is returned by the next commit and by flush, which the final
// merge calls first.

const (
	runBlockBytes  = 4 << 10 // a run's index names the first key of every block this size
	runBloomBits   = 16      // bloom bits per key: about 0.2% false positives (blocked)
	runBloomHashes = 8
	runReadBuffer  = 256 << 10 // sequential reads of a run, at most (scans, the final merge)
	bulkQueue      = 3         // committed transactions waiting for the committer, at most

	// overlayEntryBytes sizes an overlay's index: one key for this many
	// bytes of its arena (a replay of users averages about 107: records of
	// several hundred, index keys of a few dozen). An overlay whose index
	// fills first spills early.
	overlayEntryBytes = 96
)

// bulkKV is the bulk engine. Safe for concurrent use: transactions of
// different partitions read and commit concurrently (they write disjoint
// keys), a spill excludes their reads.
type bulkKV struct {
	dir      string
	budget   int64 // the overlay spills once it holds this much
	arena    int64 // an overlay's arena: budget plus room for one transaction
	entries  int   // keys an overlay's index holds
	maxBatch int64 // bytes one transaction may hold (Badger's own limit)
	maxCount int64
	seed     maphash.Seed

	// mu guards mem, frozen and runs, which the committer and its
	// spiller change holding it; readers hold it (read) while they read
	// them. The committer inserts into mem without it (the overlay takes
	// concurrent readers).
	mu       sync.RWMutex
	mem      *overlay
	frozen   *overlay   // being spilled, newer than every run; nil when no spill runs
	spare    *overlay   // spilled, for the next freeze to reuse
	runs     []*run     // oldest first
	spilling chan error // the running spill's result; the committer's alone
	warmed   uint64     // the committer's: what overlay.warm read, kept

	// qmu guards queue and failed. Writes leave queue once they are in mem
	// (or a run), so a reader holding mu finds every committed write in
	// queue, mem or the runs.
	qmu    sync.RWMutex
	queue  []*queuedTxn // committed, oldest first; the committer's next is the first
	failed error        // the committer's first error
	work   chan *queuedTxn
	done   chan struct{} // closed when the committer has returned
	stop   sync.Once

	writes sync.Pool // of *txnWrites: a transaction's, emptied for the next

	beforeSpill func() error // tests: called before each spill; an error fails it
}

func newBulkKV(dir string, budget, maxBatch, maxCount int64) (*bulkKV, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("bulk replay: %w", err)
	}
	// The arena and the index hold the largest transaction Badger would
	// take on top of a full overlay, so that a commit always fits.
	arena := budget + maxBatch + maxCount*overlayHeader
	entries := int(arena/overlayEntryBytes + maxCount)
	seed := maphash.MakeSeed()
	e := &bulkKV{dir: dir, budget: budget, arena: arena, entries: entries, maxBatch: maxBatch, maxCount: maxCount,
		seed: seed, mem: newOverlay(arena, entries, seed),
		work: make(chan *queuedTxn, bulkQueue-1), done: make(chan struct{})}
	go e.committer()
	return e, nil
}

// queuedTxn is a committed transaction's writes on their way to the
// overlay.
type queuedTxn struct {
	w *txnWrites
}

// committer inserts the queued transactions into the overlay in the order
// they were committed until work is closed. After an error (or close) it
// inserts nothing more, but still takes each off the queue, so that no
// commit waits forever.
func (e *bulkKV) committer() {
	defer close(e.done)
	defer func() {
		// The last spill: its run is part of the state flush promises.
		if err := e.waitSpill(); err != nil {
			e.qmu.Lock()
			if e.failed == nil {
				e.failed = fmt.Errorf("%w: %w", errBulkFailed, err)
			}
			e.qmu.Unlock()
		}
	}()
	for q := range e.work {
		e.qmu.RLock()
		failed := e.failed
		e.qmu.RUnlock()
		var err error
		if failed == nil {
			err = e.insert(q.w)
		}
		e.qmu.Lock()
		if err != nil && e.failed == nil {
			e.failed = fmt.Errorf("%w: insert a transaction into the overlay: %w", errBulkFailed, err)
		}
		i := slices.Index(e.queue, q)
		e.queue = slices.Delete(e.queue, i, i+1)
		e.qmu.Unlock()
		e.release(q.w)
	}
}

// flush waits until every committed transaction is in the overlay or a
// run and no spill runs, stops the committer, and returns its error. No transaction may
// commit after it.
func (e *bulkKV) flush() error {
	e.stop.Do(func() { close(e.work) })
	<-e.done
	e.qmu.RLock()
	defer e.qmu.RUnlock()
	return e.failed
}

// errBulkFailed marks the committer's error. Unlike a failed Badger
// commit it is not retried (applyRetrying): the transactions queued behind
// the one that failed were dropped, after their commits had succeeded, so
// the overlay is no longer what was applied, and the replay must fail.
var errBulkFailed = errors.New("bulk replay failed")

// errBulkClosed stops the committer of a replay that ends: what is queued
// is of no use anymore.
var errBulkClosed = errors.New("bulk replay: engine closed")

// close stops the committer, abandoning what is queued, and deletes the
// runs.
func (e *bulkKV) close() error {
	e.qmu.Lock()
	if e.failed == nil {
		e.failed = errBulkClosed
	}
	e.qmu.Unlock()
	e.flush()
	e.mu.Lock()
	defer e.mu.Unlock()
	var first error
	for _, r := range e.runs {
		if err := r.f.Close(); err != nil && first == nil {
			first = err
		}
	}
	e.runs = nil
	e.mem, e.frozen, e.spare = nil, nil, nil
	if err := os.RemoveAll(e.dir); err != nil && first == nil {
		first = err
	}
	return first
}

func (e *bulkKV) newTxn() kvTxn {
	w, _ := e.writes.Get().(*txnWrites)
	if w == nil {
		w = &txnWrites{}
	}
	return &bulkTxn{e: e, pending: w}
}

// release hands a finished transaction's writes back for the next.
func (e *bulkKV) release(w *txnWrites) {
	if w != nil {
		w.reset()
		e.writes.Put(w)
	}
}

func (e *bulkKV) view(fn func(r kvReader) error) error {
	t := &bulkTxn{e: e}
	return fn(t)
}

// get finds key: in the queued transactions, the overlays, then in the
// runs newest first, and calls fn with its value (valid during the call
// only: an overlay is reused once spilled) unless it is absent or
// deleted.
// h is key's hash (e.seed).
// sink takes what warming the lookups read (warmLocked).
func (e *bulkKV) get(key []byte, h uint64, scratch *[]byte, sink *uint64, fn func(v []byte) error) (found bool, err error) {
	e.mu.RLock()
	defer e.mu.RUnlock()
	*sink += e.warmLocked(h)
	if found, queued, err := e.getQueued(key, h, fn); queued {
		return found, err
	}
	for _, o := range [2]*overlay{e.mem, e.frozen} {
		if o == nil {
			continue
		}
		if off := o.find(key, h); off >= 0 {
			_, v, del := o.entry(off)
			if del {
				return false, nil
			}
			return true, fn(v)
		}
	}
	for i := len(e.runs) - 1; i >= 0; i-- {
		v, del, ok, err := e.runs[i].get(key, h, scratch)
		if err != nil {
			return false, err
		}
		if ok {
			if del {
				return false, nil
			}
			return true, fn(v)
		}
	}
	return false, nil
}

// warmLocked reads the word that a lookup of hash h reads first in each
// overlay's index and each run's bloom filter, and returns their sum: the
// loads do not depend on one another, so their cache misses (most reads
// of a replay miss everywhere) overlap, instead of coming one after the
// other as the lookups' branches take them. e.mu is held (read).
func (e *bulkKV) warmLocked(h uint64) (sum uint64) {
	for _, o := range [2]*overlay{e.mem, e.frozen} {
		if o != nil && len(o.slots) > 0 {
			sum += atomic.LoadUint64(&o.slots[h&uint64(len(o.slots)-1)])
		}
	}
	for _, r := range e.runs {
		sum += r.bloom[r.bloomBlock(h)*8]
	}
	return sum
}

// getQueued finds key's newest write among the queued transactions and
// calls fn with its value unless it is a delete; queued is false when no
// queued transaction wrote key. fn runs before the committer can release
// the writes.
func (e *bulkKV) getQueued(key []byte, h uint64, fn func(v []byte) error) (found, queued bool, err error) {
	e.qmu.RLock()
	defer e.qmu.RUnlock()
	for i := len(e.queue) - 1; i >= 0; i-- {
		w := e.queue[i].w
		if j := w.find(key, h); j >= 0 {
			_, v, del := w.entry(j)
			if del {
				return false, true, nil
			}
			return true, true, fn(v)
		}
	}
	return false, false, nil
}

// commit queues a transaction's writes for the committer, which owns w
// from then on, waiting while the queue is full. It returns the
// committer's error, if it had one, instead (w is then released).
func (e *bulkKV) commit(w *txnWrites) error {
	q := &queuedTxn{w: w}
	e.qmu.Lock()
	err := e.failed
	if err == nil {
		e.queue = append(e.queue, q)
	}
	e.qmu.Unlock()
	if err != nil {
		e.release(w)
		return err
	}
	e.work <- q
	return nil
}

// insert writes a transaction's writes into the overlay, freezing it
// first when they might not fit, and after them when it is full. Only the
// committer inserts.
func (e *bulkKV) insert(w *txnWrites) error {
	if !e.mem.fits(len(w.ents), w.size) && !e.mem.empty() {
		if err := e.freeze(); err != nil {
			return err
		}
	}
	const warmRun = 256
	for start := 0; start < len(w.ents); start += warmRun {
		ents := w.ents[start:min(start+warmRun, len(w.ents))]
		e.warmed += e.mem.warm(func(i int) uint64 { return ents[i].h }, len(ents))
		for i := range ents {
			k, v, del := w.entry(start + i)
			e.mem.put(k, v, del, ents[i].h)
		}
	}
	e.mem.publish()
	// Full: its bytes reached the budget, or its index could not take
	// the largest transaction.
	if e.mem.used >= e.budget || !e.mem.fits(int(e.maxCount), 0) {
		return e.freeze()
	}
	return nil
}

// freeze hands the overlay to a spiller goroutine, which writes it as a
// new run, and starts an empty one; it waits for the previous spill first
// (so at most two overlays exist) and returns that spill's error. Only
// the committer freezes.
func (e *bulkKV) freeze() error {
	if err := e.waitSpill(); err != nil {
		return err
	}
	// The overlay of the previous spill, whose pages are resident.
	e.mu.Lock()
	mem := e.spare
	e.spare = nil
	e.mu.Unlock()
	if mem != nil {
		mem.reset()
	} else {
		mem = newOverlay(e.arena, e.entries, e.seed)
	}
	e.mu.Lock()
	frozen := e.mem
	e.frozen, e.mem = frozen, mem
	seq := len(e.runs)
	e.mu.Unlock()
	done := make(chan error, 1)
	e.spilling = done
	go func() { done <- e.spill(frozen, seq) }()
	return nil
}

// waitSpill waits for the running spill, if any, and returns its error.
func (e *bulkKV) waitSpill() error {
	if e.spilling == nil {
		return nil
	}
	err := <-e.spilling
	e.spilling = nil
	return err
}

// spill writes the frozen overlay as run number seq (every older run is
// written), then puts the run in its place for readers. After an error
// the frozen overlay stays where readers find it, and the replay fails.
func (e *bulkKV) spill(frozen *overlay, seq int) error {
	if e.beforeSpill != nil {
		if err := e.beforeSpill(); err != nil {
			return err
		}
	}
	sorted := frozen.sorted(nil)
	path := filepath.Join(e.dir, fmt.Sprintf("run-%06d", seq))
	keepMarkers := seq > 0 // with no older run, a marker hides nothing
	r, err := writeRun(path, e.seed, len(sorted), func(emit func(key, value []byte, del bool) error) error {
		for _, s := range sorted {
			k, v, del := frozen.entry(s.off)
			if del && !keepMarkers {
				continue
			}
			if err := emit(k, v, del); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	e.mu.Lock()
	e.runs = append(e.runs, r)
	e.frozen = nil
	// No reader holds frozen now (they hold mu): the next freeze reuses
	// it, pages resident, rather than leave a new arena to the GC.
	e.spare = frozen
	e.mu.Unlock()
	// Collect the replay's garbage now, the sort's buffer with it: the
	// overlays count as live heap, which puts the next collection as far
	// off again.
	sorted = nil
	runtime.GC()
	return nil
}

// txnWrites are a transaction's writes: each key and value copied into
// one buffer, in the order written, and an open-addressing index of the
// newest write of each key by its hash, which the committer inserts with
// (the overlay and the runs' bloom filters use the same). Pointer-free
// and reused, so a write allocates nothing.
type txnWrites struct {
	buf   []byte
	ents  []txnWrite
	index []uint64 // 0, or the key hash's top half << 32 | 1 + its index in ents
	size  int64    // Badger's estimate of the transaction, see bulkTxn.put
}

type txnWrite struct {
	h          uint64
	off        uint32 // of the key in buf, the value after it
	klen, vlen uint32
	del        bool
}

func (w *txnWrites) reset() {
	w.buf, w.ents, w.size = w.buf[:0], w.ents[:0], 0
	clear(w.index)
}

func (w *txnWrites) entry(i int) (key, value []byte, del bool) {
	e := &w.ents[i]
	k := e.off + e.klen
	return w.buf[e.off:k:k], w.buf[k : k+e.vlen : k+e.vlen], e.del
}

// find returns the index in ents of key's newest write, -1 for none.
func (w *txnWrites) find(key []byte, h uint64) int {
	if len(w.index) == 0 {
		return -1
	}
	mask := uint64(len(w.index) - 1)
	for i := h & mask; ; i = (i + 1) & mask {
		x := w.index[i]
		if x == 0 {
			return -1
		}
		if x>>32 != h>>32 {
			continue
		}
		if e := &w.ents[uint32(x)-1]; e.h == h && bytes.Equal(w.buf[e.off:e.off+e.klen], key) {
			return int(uint32(x) - 1)
		}
	}
}

// put adds a write of key (hash h), which replaces an earlier one.
func (w *txnWrites) put(key, value []byte, del bool, h uint64) {
	e := txnWrite{h: h, off: uint32(len(w.buf)), klen: uint32(len(key)), vlen: uint32(len(value)), del: del}
	w.buf = append(append(w.buf, key...), value...)
	if i := w.find(key, h); i >= 0 {
		w.ents[i] = e // the old bytes stay, unreferenced
		return
	}
	if 2*(len(w.ents)+1) > len(w.index) {
		w.grow()
	}
	w.ents = append(w.ents, e)
	w.link(len(w.ents) - 1)
}

// link enters ents[j] in the index.
func (w *txnWrites) link(j int) {
	h := w.ents[j].h
	mask := uint64(len(w.index) - 1)
	i := h & mask
	for w.index[i] != 0 {
		i = (i + 1) & mask
	}
	w.index[i] = h>>32<<32 | uint64(j+1)
}

// grow doubles the index (at most half full) and refills it.
func (w *txnWrites) grow() {
	w.index = make([]uint64, max(64, 2*len(w.index)))
	for j := range w.ents {
		w.link(j)
	}
}

// bulkTxn is a transaction of the bulk engine: its writes wait in pending
// until commit. A view is a bulkTxn with no pending writes.
type bulkTxn struct {
	e       *bulkKV
	pending *txnWrites
	scratch []byte
	warmed  uint64 // what warmLocked read, kept
	done    bool
}

func (t *bulkTxn) get(key []byte, fn func(v []byte) error) (bool, error) {
	h := maphash.Bytes(t.e.seed, key)
	if t.pending != nil {
		if i := t.pending.find(key, h); i >= 0 {
			_, v, del := t.pending.entry(i)
			if del {
				return false, nil
			}
			return true, fn(v)
		}
	}
	return t.e.get(key, h, &t.scratch, &t.warmed, fn)
}

func (t *bulkTxn) value(dst, key []byte) ([]byte, bool, error) {
	var v []byte
	found, err := t.get(key, func(b []byte) error {
		v = append(dst[:0], b...)
		return nil
	})
	return v, found && err == nil, err
}

func (t *bulkTxn) set(key, value []byte) error { return t.put(key, value, false) }
func (t *bulkTxn) delete(key []byte) error     { return t.put(key, nil, true) }
func (t *bulkTxn) discard() {
	t.e.release(t.pending)
	t.pending, t.done = nil, true
}
func (t *bulkTxn) put(k, v []byte, d bool) error {
	if t.done {
		return errors.New("bulk replay: write to a finished transaction")
	}
	// Badger's own bound on a transaction (applyTxn splits a batch on it).
	size := int64(len(k) + len(v) + 10 + 2)
	w := t.pending
	if w.size+size > t.e.maxBatch || int64(len(w.ents)) >= t.e.maxCount {
		return badger.ErrTxnTooBig
	}
	w.size += size
	w.put(k, v, d, maphash.Bytes(t.e.seed, k))
	return nil
}

func (t *bulkTxn) commit() error {
	if t.done {
		return errors.New("bulk replay: commit of a finished transaction")
	}
	t.done = true
	err := t.e.commit(t.pending) // which owns the writes now
	t.pending = nil
	return err
}

// scan merges the transaction's writes, the queued transactions' (newest
// first), the overlays and the runs under prefix. The committer may insert
// into the live overlay meanwhile; what it inserts is a queued
// transaction's, which the scan has copied first and which hides the
// overlay's keys it also writes.
func (t *bulkTxn) scan(prefix []byte, fn func(key []byte) (bool, error)) error {
	t.e.mu.RLock()
	defer t.e.mu.RUnlock()
	srcs := make([]kvIter, 0, len(t.e.runs)+3+bulkQueue)
	if t.pending != nil && len(t.pending.ents) > 0 {
		srcs = append(srcs, newPendingIter(t.pending, prefix))
	}
	t.e.qmu.RLock()
	for i := len(t.e.queue) - 1; i >= 0; i-- {
		// Copied now: the committer releases the writes once they are
		// in the overlay, which the scan then reads instead.
		if it := newPendingIter(t.e.queue[i].w, prefix); len(it.ws) > 0 {
			srcs = append(srcs, it)
		}
	}
	t.e.qmu.RUnlock()
	srcs = append(srcs, t.e.sourcesLocked(prefix)...)
	m := newMergeIter(srcs)
	defer m.close()
	for m.seek(prefix); m.valid() && bytes.HasPrefix(m.key(), prefix); m.next() {
		more, err := fn(m.key())
		if err != nil || !more {
			return err
		}
	}
	return m.err()
}

// sourcesLocked returns iterators over the overlays' keys under prefix
// and the runs, newest first; e.mu is held (read) for as long as they are
// used.
func (e *bulkKV) sourcesLocked(prefix []byte) []kvIter {
	var srcs []kvIter
	for _, o := range [2]*overlay{e.mem, e.frozen} {
		if o != nil {
			srcs = append(srcs, &overlayIter{o: o, ents: o.scan(prefix, nil)})
		}
	}
	for i := len(e.runs) - 1; i >= 0; i-- {
		srcs = append(srcs, e.runs[i].iter())
	}
	return srcs
}

// merge calls fn with every live key and its value in key order, newest
// value winning, deleted keys left out, once the queued transactions are
// in the overlay (flush). No transaction may run meanwhile or after.
func (e *bulkKV) merge(fn func(key, value []byte) error) error {
	if err := e.flush(); err != nil {
		return err
	}
	e.mu.RLock()
	defer e.mu.RUnlock()
	// flush waited for the last spill: mem is the one overlay, read in
	// key order from here on, without its index. The spilled overlay and
	// that index are garbage now: collect them and return the replay's
	// idle heap before the final write, whose tables are mapped besides.
	ents := e.mem.sorted(nil)
	e.mem.slots, e.mem.heads, e.spare = nil, nil, nil
	debug.FreeOSMemory()
	srcs := []kvIter{&overlayIter{o: e.mem, ents: ents}}
	for i := len(e.runs) - 1; i >= 0; i-- {
		srcs = append(srcs, e.runs[i].iter())
	}
	m := newMergeIter(srcs)
	defer m.close()
	for m.seek(nil); m.valid(); m.next() {
		if err := fn(m.key(), m.value()); err != nil {
			return err
		}
	}
	return m.err()
}

// kvIter iterates one source in key order; key and value are valid until
// the next call.
type kvIter interface {
	seek(key []byte) // to the first entry >= key
	valid() bool
	key() []byte
	value() []byte
	deleted() bool
	next()
	err() error
	close()
}

// mergeIter merges sources, given newest first: of entries with one key,
// the newest is the one seen; deleted keys are skipped. The sources are
// the leaves of a tournament (loser) tree ordered by key, then age: after
// the winner moves on, one comparison per level, against the loser kept
// there, finds the next. Each source's current key is cached beside the
// tree, so a comparison makes no call through kvIter.
type mergeIter struct {
	srcs []kvIter
	keys [][]byte // each source's current key; nil once it has none
	tree []int    // tree[0] the winner, tree[1:] the loser at each node
	cur  int      // the source whose entry is current, -1 at the end
	last []byte   // advance's copy of the current key
}

func newMergeIter(srcs []kvIter) *mergeIter {
	return &mergeIter{srcs: srcs, keys: make([][]byte, len(srcs)), tree: make([]int, max(1, len(srcs))), cur: -1}
}

func (m *mergeIter) seek(key []byte) {
	for i, s := range m.srcs {
		s.seek(key)
		m.load(i)
	}
	m.build()
	m.settle()
}

// load caches source i's current key.
func (m *mergeIter) load(i int) {
	m.keys[i] = nil
	if s := m.srcs[i]; s.valid() {
		// A source at an empty key still has one.
		if m.keys[i] = s.key(); m.keys[i] == nil {
			m.keys[i] = []byte{}
		}
	}
}

// less orders sources by their current keys, a source with none last,
// then by age, the newer (lower index) first.
func (m *mergeIter) less(a, b int) bool {
	ka, kb := m.keys[a], m.keys[b]
	switch {
	case ka == nil || kb == nil:
		if (ka == nil) != (kb == nil) {
			return kb == nil
		}
	default:
		if c := bytes.Compare(ka, kb); c != 0 {
			return c < 0
		}
	}
	return a < b
}

// build plays the whole tournament: leaf i is source i, node n's
// children are nodes 2n and 2n+1 (leaves counted from len(srcs)).
func (m *mergeIter) build() {
	k := len(m.srcs)
	if k == 0 {
		return
	}
	win := make([]int, 2*k)
	for i := range k {
		win[k+i] = i
	}
	for n := k - 1; n >= 1; n-- {
		a, b := win[2*n], win[2*n+1]
		if m.less(b, a) {
			a, b = b, a
		}
		win[n], m.tree[n] = a, b
	}
	m.tree[0] = win[1]
}

// replay finds the winner again after source s, the winner, moved on:
// up from its leaf, it plays the loser kept at each node.
func (m *mergeIter) replay(s int) {
	w := s
	for n := (s + len(m.srcs)) / 2; n >= 1; n /= 2 {
		if m.less(m.tree[n], w) {
			m.tree[n], w = w, m.tree[n]
		}
	}
	m.tree[0] = w
}

// settle makes the smallest live key current.
func (m *mergeIter) settle() {
	for {
		m.cur = -1
		if len(m.srcs) == 0 || m.keys[m.tree[0]] == nil {
			return
		}
		m.cur = m.tree[0]
		if !m.srcs[m.cur].deleted() {
			return
		}
		m.advance()
	}
}

// advance moves every source past the current key.
func (m *mergeIter) advance() {
	m.last = append(m.last[:0], m.keys[m.cur]...)
	for {
		w := m.tree[0]
		if m.keys[w] == nil || !bytes.Equal(m.keys[w], m.last) {
			return
		}
		m.srcs[w].next()
		m.load(w)
		m.replay(w)
	}
}

func (m *mergeIter) valid() bool   { return m.cur >= 0 }
func (m *mergeIter) key() []byte   { return m.keys[m.cur] }
func (m *mergeIter) value() []byte { return m.srcs[m.cur].value() }
func (m *mergeIter) next()         { m.advance(); m.settle() }

func (m *mergeIter) err() error {
	for _, s := range m.srcs {
		if err := s.err(); err != nil {
			return err
		}
	}
	return nil
}

func (m *mergeIter) close() {
	for _, s := range m.srcs {
		s.close()
	}
}

// pendingIter iterates a transaction's writes under a prefix, copied
// when it is made.
type pendingIter struct {
	ws []pendingEntry
	i  int
}

type pendingEntry struct {
	key   string
	value []byte
	del   bool
}

func newPendingIter(w *txnWrites, prefix []byte) *pendingIter {
	p := &pendingIter{}
	for i := range w.ents {
		if k, v, del := w.entry(i); bytes.HasPrefix(k, prefix) { // one write a key
			p.ws = append(p.ws, pendingEntry{string(k), slices.Clone(v), del})
		}
	}
	slices.SortFunc(p.ws, func(a, b pendingEntry) int { return strings.Compare(a.key, b.key) })
	return p
}

func (p *pendingIter) seek(key []byte) {
	p.i = sort.Search(len(p.ws), func(i int) bool { return p.ws[i].key >= string(key) })
}
func (p *pendingIter) valid() bool   { return p.i < len(p.ws) }
func (p *pendingIter) key() []byte   { return []byte(p.ws[p.i].key) }
func (p *pendingIter) value() []byte { return p.ws[p.i].value }
func (p *pendingIter) deleted() bool { return p.ws[p.i].del }
func (p *pendingIter) next()         { p.i++ }
func (p *pendingIter) err() error    { return nil }
func (p *pendingIter) close()        {}

// run is an immutable sorted file of entries, each uvarint(len(key)),
// uvarint(len(value)<<1 | deleted), key, value. In memory it keeps the
// first key and offset of each block (about runBlockBytes) and a bloom
// filter of its keys.
type run struct {
	f     *os.File
	size  int64
	index []runBlock
	bloom []uint64
}

type runBlock struct {
	first []byte
	off   int64
}

// writeRun writes the entries fill emits, in key order, to a new run at
// path.
func writeRun(path string, seed maphash.Seed, hint int, fill func(emit func(key, value []byte, del bool) error) error) (*run, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, fmt.Errorf("bulk replay: create run: %w", err)
	}
	r := &run{f: f}
	w := bufio.NewWriterSize(f, 1<<20)
	hashes := make([]uint64, 0, hint)
	var off, blockStart int64 = 0, -runBlockBytes
	var hdr [2 * binary.MaxVarintLen64]byte
	err = fill(func(key, value []byte, del bool) error {
		if off-blockStart >= runBlockBytes {
			r.index = append(r.index, runBlock{first: slices.Clone(key), off: off})
			blockStart = off
		}
		hashes = append(hashes, maphash.Bytes(seed, key))
		n := binary.PutUvarint(hdr[:], uint64(len(key)))
		vl := uint64(len(value)) << 1
		if del {
			vl |= 1
		}
		n += binary.PutUvarint(hdr[n:], vl)
		w.Write(hdr[:n])
		w.Write(key)
		_, err := w.Write(value)
		off += int64(n + len(key) + len(value))
		return err
	})
	if err == nil {
		err = w.Flush()
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("bulk replay: write run: %w", err)
	}
	r.size = off
	nbits := max(512, uint64(len(hashes))*runBloomBits)
	r.bloom = make([]uint64, (nbits+511)/512*8)
	for _, h := range hashes {
		r.bloomAdd(h)
	}
	return r, nil
}

// bloomBits calls fn with the bits of hash h until it returns false. The
// filter is blocked: all of a key's bits lie in one 512-bit block (one
// cache line), so a lookup costs one cache miss per run.
func (r *run) bloomBits(h uint64, fn func(bit uint64) bool) bool {
	block := r.bloomBlock(h) * 512
	h1, h2 := h, h>>17|1
	for i := range uint64(runBloomHashes) {
		if !fn(block + (h1+i*h2)%512) {
			return false
		}
	}
	return true
}

// bloomBlock returns the index of the 512-bit block of hash h.
func (r *run) bloomBlock(h uint64) uint64 { return (h >> 32) % (uint64(len(r.bloom)) / 8) }

func (r *run) bloomAdd(h uint64) {
	r.bloomBits(h, func(b uint64) bool { r.bloom[b/64] |= 1 << (b % 64); return true })
}

func (r *run) mayHave(h uint64) bool {
	return r.bloomBits(h, func(b uint64) bool { return r.bloom[b/64]&(1<<(b%64)) != 0 })
}

// block returns the index of the block that would hold key, -1 for none.
func (r *run) block(key []byte) int {
	return sort.Search(len(r.index), func(i int) bool { return bytes.Compare(r.index[i].first, key) > 0 }) - 1
}

func (r *run) blockEnd(i int) int64 {
	if i+1 < len(r.index) {
		return r.index[i+1].off
	}
	return r.size
}

// get looks key (whose hash is h) up; ok is false when the run does not
// hold it. value aliases *buf.
func (r *run) get(key []byte, h uint64, buf *[]byte) (value []byte, del, ok bool, err error) {
	if !r.mayHave(h) {
		return nil, false, false, nil
	}
	i := r.block(key)
	if i < 0 {
		return nil, false, false, nil
	}
	off, end := r.index[i].off, r.blockEnd(i)
	b := slices.Grow((*buf)[:0], int(end-off))[:end-off]
	*buf = b
	if _, err := r.f.ReadAt(b, off); err != nil {
		return nil, false, false, fmt.Errorf("bulk replay: read run: %w", err)
	}
	for len(b) > 0 {
		k, v, d, rest, err := decodeRunEntry(b)
		if err != nil {
			return nil, false, false, err
		}
		switch c := bytes.Compare(k, key); {
		case c == 0:
			return v, d, true, nil
		case c > 0:
			return nil, false, false, nil
		}
		b = rest
	}
	return nil, false, false, nil
}

var errRunCorrupt = errors.New("bulk replay: run file corrupt")

func decodeRunEntry(b []byte) (key, value []byte, del bool, rest []byte, err error) {
	kl, n := binary.Uvarint(b)
	if n <= 0 {
		return nil, nil, false, nil, errRunCorrupt
	}
	b = b[n:]
	vl, n := binary.Uvarint(b)
	if n <= 0 {
		return nil, nil, false, nil, errRunCorrupt
	}
	b = b[n:]
	del, vl = vl&1 != 0, vl>>1
	if uint64(len(b)) < kl+vl {
		return nil, nil, false, nil, errRunCorrupt
	}
	return b[:kl], b[kl : kl+vl], del, b[kl+vl:], nil
}

func (r *run) iter() *runIter { return &runIter{r: r} }

// runIter reads a run sequentially from where it seeks, into a buffer
// of its own (positioned reads: runs are read by several iterators at
// once), and decodes its entries where they lie there. The reads grow
// from runReadFirst to runReadBuffer: a scan mostly ends within a block
// or two, the final merge reads every run to its end.
type runIter struct {
	r       *run
	buf     []byte // read from the file; buf[pos:] not decoded yet
	pos     int
	foff    int64 // the file offset where buf ends
	k, v    []byte
	del, ok bool
	failed  error
}

const runReadFirst = 16 << 10

func (i *runIter) seek(key []byte) {
	b := 0
	if key != nil {
		if b = i.r.block(key); b < 0 {
			b = 0
		}
	}
	var off int64
	if len(i.r.index) > 0 {
		off = i.r.index[b].off
	}
	i.buf, i.pos, i.foff, i.failed = i.buf[:0], 0, off, nil
	i.next()
	for i.ok && key != nil && bytes.Compare(i.k, key) < 0 {
		i.next()
	}
}

func (i *runIter) next() {
	i.ok = false
	for i.failed == nil {
		k, v, del, n, short := decodeRunEntryAt(i.buf[i.pos:])
		if n > 0 {
			i.k, i.v, i.del, i.ok = k, v, del, true
			i.pos += n
			return
		}
		switch {
		case !short:
			i.failed = errRunCorrupt
		case i.foff >= i.r.size:
			if i.pos < len(i.buf) { // an entry cut short
				i.failed = errRunCorrupt
			}
			return
		default:
			i.fill()
		}
	}
}

// fill moves what is left undecoded to the front of the buffer and reads
// what follows it, growing the buffer when that is full.
func (i *runIter) fill() {
	rest := len(i.buf) - i.pos
	size := cap(i.buf)
	switch {
	case size == 0:
		size = runReadFirst
	case size < runReadBuffer || rest == size:
		size *= 2
	}
	if size != cap(i.buf) {
		buf := make([]byte, rest, size)
		copy(buf, i.buf[i.pos:])
		i.buf = buf
	} else {
		i.buf = i.buf[:copy(i.buf, i.buf[i.pos:])]
	}
	i.pos = 0
	n := int(min(int64(cap(i.buf)-rest), i.r.size-i.foff))
	if _, err := i.r.f.ReadAt(i.buf[rest:rest+n], i.foff); err != nil {
		i.failed = fmt.Errorf("bulk replay: read run: %w", err)
		return
	}
	i.buf = i.buf[:rest+n]
	i.foff += int64(n)
}

// decodeRunEntryAt decodes the entry at the start of b, n bytes long; n
// is 0 when b does not hold all of it, short then telling whether more
// bytes could complete it (else the entry is corrupt).
func decodeRunEntryAt(b []byte) (key, value []byte, del bool, n int, short bool) {
	kl, n1 := binary.Uvarint(b)
	if n1 <= 0 {
		return nil, nil, false, 0, n1 == 0
	}
	vl, n2 := binary.Uvarint(b[n1:])
	if n2 <= 0 {
		return nil, nil, false, 0, n2 == 0
	}
	del, vl = vl&1 != 0, vl>>1
	h := n1 + n2
	if kl > math.MaxInt32 || vl > math.MaxInt32 {
		return nil, nil, false, 0, false
	}
	end := h + int(kl) + int(vl)
	if len(b) < end {
		return nil, nil, false, 0, true
	}
	return b[h : h+int(kl) : h+int(kl)], b[h+int(kl) : end : end], del, end, true
}

func uvarintLen(x uint64) int {
	var b [binary.MaxVarintLen64]byte
	return binary.PutUvarint(b[:], x)
}

func (i *runIter) valid() bool   { return i.ok }
func (i *runIter) key() []byte   { return i.k }
func (i *runIter) value() []byte { return i.v }
func (i *runIter) deleted() bool { return i.del }
func (i *runIter) err() error    { return i.failed }
func (i *runIter) close()        {}
