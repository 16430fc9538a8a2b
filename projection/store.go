package projection

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dgraph-io/badger/v4"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/scim-bridge/scim-bridge/events"
	"github.com/scim-bridge/scim-bridge/schemas"
)

// Options are the optional settings of a Store; the zero value is usable.
type Options struct {
	Logger     *slog.Logger          // nil: discard
	Registerer prometheus.Registerer // nil: metrics go to a fresh, unregistered registry
	InMemory   bool                  // Badger in memory (tests); dir is ignored

	// PollInterval is how often Run asks the log for its end, for readiness
	// and the lag metric. Zero means one second.
	PollInterval time.Duration

	// MemberBatch bounds the membership entries one Badger transaction
	// touches: larger member deltas and group deletes are split (see the
	// package doc). Zero means 5000, which keeps a transaction far below
	// Badger's batch limits with the memtable size Open uses.
	MemberBatch int

	// ApplyBatch bounds the records Run applies in one Badger transaction
	// when it reads faster than it applies (catching up, rebuilding): it
	// takes what is already queued, up to this many, so a quiet log still
	// gets each record applied at once. Zero means 1000; 1 means one
	// transaction per record.
	ApplyBatch int

	// BulkThreshold is the backlog, in records, from which Run replays a
	// fresh projection (nothing applied yet: a first start, a rebuild) in
	// bulk (see bulk.go). Zero means 10,000; negative, never.
	BulkThreshold int64

	// ReplayMemory bounds the memory a bulk replay holds its writes in
	// before it spills them to a run file beside the projection. Zero
	// means 128 MiB.
	ReplayMemory int64

	// ProgressInterval is how often a bulk replay logs its progress. Zero
	// means five seconds.
	ProgressInterval time.Duration

	// UserNameHintBytes sizes the table of userName hints that spares
	// `userName eq` the read of the userName's key (hints.go). Zero
	// means 32 MiB (a million users); negative, no table.
	UserNameHintBytes int64

	memTableSize int64 // Badger memtable size; zero means 32 MiB (tests shrink it)
	tombstones   int   // deletions remembered per tenant; zero means defaultTombstones (tests shrink it)
}

const (
	defaultPollInterval = time.Second
	defaultMemberBatch  = 5000
	defaultApplyBatch   = 1000
	defaultMemTableSize = 32 << 20
	defaultTombstones   = 10000

	// blockCacheSize is Badger's cache of decompressed table blocks. Reads
	// spread over a large tenant hardly hit it (a million users' records
	// are ~600 MB decompressed), and the hot blocks (counters, groups,
	// recent writes) fit in a few MiB. Serving a million users, a 32 MiB
	// cache was 35 MB of the live heap, and the process held 63 MB more
	// anonymous memory than with 8 MiB, for the same GET and filter
	// throughput.
	blockCacheSize = 8 << 20
)

// ErrFormat is returned, wrapped, by Open for a projection written with
// another key layout than this version's. The projection is derived data:
// delete it and replay the log.
var ErrFormat = errors.New("the projection must be rebuilt from the log")

// Store is the Badger read model. Safe for concurrent use; Apply is
// serialised per partition.
type Store struct {
	db          *badger.DB
	kv          kvDB // what applying writes to: db, or the bulk engine of a first replay
	reg         *schemas.Registry
	logger      *slog.Logger
	m           *metrics
	pollEvery   time.Duration
	memberBatch int
	applyBatch  int
	lim         limits
	tombstones  int

	bulkDir       string // where a bulk replay keeps its runs; "" for a temp dir
	bulkThreshold int64
	replayMemory  int64
	progressEvery time.Duration

	beforeCommit func() error         // tests: called before every commit of applying; an error aborts it
	beforeApply  func(*events.Record) // tests: called as each record is applied (may panic)
	probe        *listProbe           // tests: watches the work of List (plan.go)
	beforeSpill  func() error         // tests: called before a bulk replay spills; an error fails it
	afterStream  func() error         // tests: called after a bulk replay's stream, before the format key
	bulked       bool                 // tests: a bulk replay completed
	voidReads    atomic.Int64         // tests: WaitApplied's reads of a record's outcome

	hints *userNameHints // nil: none

	written  *writtenWindow // what the last records applied wrote (written.go)
	filter   *keyFilter     // keys mostly looked up to find them absent (keyfilter.go)
	stopScan func()         // stops the scan that fills filter and hints at open (startScan) and waits for it

	locksMu sync.Mutex
	locks   map[int]*sync.Mutex // per partition, serialises Apply

	mu       sync.Mutex
	applied  []int64        // per partition: next offset to apply
	fences   []events.Fence // per partition: the claim in force at applied (fence.go)
	end      []int64        // per partition: log end last seen by Run (nil before)
	caughtUp bool           // latched once applied >= end everywhere
	bulking  bool           // a bulk replay runs: applied is not yet in Badger
	changed  chan struct{}  // closed and replaced on every position change

	// live holds, per partition, the position from which Run applies
	// records one by one or in batches (nil before Run): every record
	// from there on was applied by this Store, which noted the lowest
	// void among them in firstVoid (absent: none). WaitApplied knows
	// such a record's outcome without reading it (knownNotVoid).
	live      []int64
	firstVoid map[int]int64
}

// Open opens (creating if needed) the projection in dir. reg resolves the
// resource types List filters and sorts with; it may be nil for a store that
// only applies and reads by id. Open finishes any group-member cleanup a
// crash interrupted before it returns.
func Open(dir string, reg *schemas.Registry, opts Options) (*Store, error) {
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	memTable := opts.memTableSize
	if memTable <= 0 {
		memTable = defaultMemTableSize
	}
	bo := badgerOptions(dir, opts.InMemory, memTable, logger)
	var bulkDir string
	if !opts.InMemory {
		// The runs of a bulk replay a crash interrupted.
		bulkDir = bulkDirOf(filepath.Clean(dir))
		if err := os.RemoveAll(bulkDir); err != nil {
			return nil, fmt.Errorf("delete the runs of an interrupted replay: %w", err)
		}
	}
	db, err := badger.Open(bo)
	if err != nil {
		return nil, fmt.Errorf("open badger in %q: %w", dir, err)
	}
	s := &Store{
		db:          db,
		kv:          badgerDB{db},
		reg:         reg,
		logger:      logger,
		pollEvery:   opts.PollInterval,
		memberBatch: opts.MemberBatch,
		applyBatch:  opts.ApplyBatch,
		lim:         newLimits(db, opts.InMemory, bo.ValueThreshold),
		tombstones:  opts.tombstones,

		bulkDir:       bulkDir,
		bulkThreshold: opts.BulkThreshold,
		replayMemory:  opts.ReplayMemory,
		progressEvery: opts.ProgressInterval,
		locks:         make(map[int]*sync.Mutex),
		changed:       make(chan struct{}),
		written:       newWrittenWindow(),
		filter:        newKeyFilter(keyFilterBytes),
	}
	if s.pollEvery <= 0 {
		s.pollEvery = defaultPollInterval
	}
	if s.memberBatch <= 0 {
		s.memberBatch = defaultMemberBatch
	}
	if s.applyBatch <= 0 {
		s.applyBatch = defaultApplyBatch
	}
	if s.tombstones <= 0 {
		s.tombstones = defaultTombstones
	}
	if s.bulkThreshold == 0 {
		s.bulkThreshold = defaultBulkThreshold
	}
	if s.replayMemory <= 0 {
		s.replayMemory = defaultReplayMemory
	}
	if s.progressEvery <= 0 {
		s.progressEvery = defaultProgressInterval
	}
	if err := s.init(); err != nil {
		db.Close()
		return nil, err
	}
	hintBytes := opts.UserNameHintBytes
	if hintBytes == 0 {
		hintBytes = defaultUserNameHintBytes
	}
	if s.hints, err = newUserNameHints(hintBytes); err != nil {
		db.Close()
		return nil, err
	}
	s.startScan()
	s.m = newMetrics(opts.Registerer, db, s.CaughtUp)
	for p, off := range s.applied {
		s.m.appliedOffset.WithLabelValues(partitionLabel(p)).Set(float64(off))
	}
	return s, nil
}

// badgerOptions sizes Badger for a small pod: two 32 MiB memtables, an 8 MiB
// block cache and two compactors. There is no index cache: Badger consults
// one only for encrypted tables, and reads every other table's index from
// its mapped file. Writes are not synced: the log is the source of truth and
// the applied position commits with the state, so a transaction lost in a
// crash is simply applied again. Tables keep the base size (2 MiB) at every
// level (TableSizeMultiplier 1): compaction holds every table it builds in
// memory, and with the default doubling per level, rebuilding a million
// users peaked at 2 GB of RSS instead of 1.3 GB. Level 0 takes five tables
// before it is compacted into level 1 and stalls writes at fifteen (Badger's
// defaults; it was three and eight): with random keys (ids, request digests)
// every L0 compaction rewrites all of level 1, so fewer, larger ones cost less
// CPU per write, at two more L0 tables for a read to consult while writes
// flow (none after a bulk replay, whose StreamWriter writes below level 0).
// The base level (where level 0 is compacted to; Badger picks the deepest
// level whose target size is within BaseLevelSize) holds 64 MiB rather than
// Badger's 10: with 10, level 0's five tables (about 50 MB) went into a
// 10 MB level that then overflowed at once into the next, so each write was
// rewritten one level more (D45: 5.6% less CPU per POST on 60 s runs).
// Conflict detection is off:
// every transaction that writes holds its partition's lock and writes only
// keys of that partition (its tenants, its position, its skipped records),
// so no two can conflict, and tracking every key read and written cost more
// than a tenth of applying.
func badgerOptions(dir string, inMemory bool, memTable int64, logger *slog.Logger) badger.Options {
	if inMemory {
		dir = ""
	}
	o := badger.DefaultOptions(dir).
		WithInMemory(inMemory).
		WithMemTableSize(memTable).
		WithValueThreshold(min(1<<20, memTable/10)). // Badger's default, unless tests shrink the memtable
		WithNumMemtables(2).
		WithBlockCacheSize(blockCacheSize).
		WithValueLogFileSize(64 << 20).
		WithNumCompactors(2).
		WithDetectConflicts(false).
		WithNumLevelZeroTables(5).
		WithNumLevelZeroTablesStall(15).
		WithBaseLevelSize(64 << 20).
		WithLogger(badgerLogger{logger.With("component", "badger")})
	o.TableSizeMultiplier = 1
	return o
}

// init checks the format version and loads the applied positions, then
// finishes pending cleanups of deleted groups.
func (s *Store) init() error {
	err := s.db.Update(func(txn *badger.Txn) error {
		item, err := txn.Get(formatKey())
		if errors.Is(err, badger.ErrKeyNotFound) {
			empty, err := isEmpty(txn)
			if err != nil || !empty {
				return err
			}
			return txn.Set(formatKey(), []byte(formatVersion))
		}
		if err != nil {
			return err
		}
		v, err := item.ValueCopy(nil)
		if err != nil {
			return err
		}
		if string(v) != formatVersion {
			return fmt.Errorf("projection format %q, this version writes %q: %w", v, formatVersion, ErrFormat)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("check format version: %w", err)
	}
	if ok, err := s.hasFormatKey(); err != nil {
		return fmt.Errorf("check format version: %w", err)
	} else if !ok {
		// State without a format key: a bulk replay killed while it
		// wrote the projection (bulk.go). Not built: start afresh.
		s.logger.Warn("the projection was not fully written; emptying it to replay the log")
		if err := s.resetFresh(); err != nil {
			return fmt.Errorf("empty an unfinished projection: %w", err)
		}
	}
	err = s.db.View(func(txn *badger.Txn) error {
		prefix := []byte{tagPos}
		it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix, PrefetchValues: false})
		defer it.Close()
		for it.Seek(prefix); it.ValidForPrefix(prefix); it.Next() {
			k := it.Item().Key()
			if len(k) != 5 {
				continue
			}
			p := int(uint32(k[1])<<24 | uint32(k[2])<<16 | uint32(k[3])<<8 | uint32(k[4]))
			v, err := it.Item().ValueCopy(nil)
			if err != nil {
				return err
			}
			s.growLocked(p + 1)
			s.applied[p] = decodeI64(v)
		}
		return s.loadFences(txn)
	})
	if err != nil {
		return fmt.Errorf("load applied positions: %w", err)
	}
	if err := s.cleanupAll(); err != nil {
		return fmt.Errorf("finish deleted groups: %w", err)
	}
	return nil
}

// isEmpty reports whether txn sees no key at all.
func isEmpty(txn *badger.Txn) (bool, error) {
	it := txn.NewIterator(badger.IteratorOptions{})
	defer it.Close()
	it.Rewind()
	return !it.Valid(), nil
}

// hasFormatKey reports whether the format key is there.
func (s *Store) hasFormatKey() (bool, error) {
	var ok bool
	err := s.db.View(func(txn *badger.Txn) error {
		_, err := txn.Get(formatKey())
		if errors.Is(err, badger.ErrKeyNotFound) {
			return nil
		}
		ok = err == nil
		return err
	})
	return ok, err
}

// Close closes Badger. The Store must not be used afterwards.
func (s *Store) Close() error {
	s.stopScan()
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("close badger: %w", err)
	}
	return errors.Join(s.hints.close(), s.filter.close())
}

// startScan fills, in the background, the key filter (keyfilter.go) from
// every key of its namespaces and the userName hints from the userName
// keys among them, in one walk of one snapshot; until it is done, the
// keys the filter would spare are read and `userName eq` reads the
// userName's key. Applying adds to both meanwhile.
func (s *Store) startScan() {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	s.stopScan = func() { cancel(); <-done }
	go func() {
		defer close(done)
		start := time.Now()
		keys, hinted := 0, 0
		err := walkNamespaces(ctx, s.db, filteredNS, func(t string, rest []byte, item *badger.Item) error {
			s.filter.add(item.Key())
			keys++
			if rest[0] != nsUserName || s.hints == nil {
				return nil
			}
			ok, err := s.hints.hintKey(t, rest, item)
			if ok {
				hinted++
			}
			return err
		})
		if err != nil {
			if ctx.Err() == nil {
				s.logger.Warn("scan at open failed; the key filter's keys are read, and userName eq reads its key", "err", err)
			}
			return
		}
		s.filter.ready.Store(true)
		if s.hints != nil {
			s.hints.ready.Store(true)
		}
		s.logger.Debug("scanned the projection for the key filter and the userName hints", "keys", keys, "hinted", hinted,
			"took", time.Since(start).Round(time.Millisecond))
	}()
}

// growLocked extends the per-partition slices to n partitions; s.mu is held
// (or the Store not yet shared).
func (s *Store) growLocked(n int) {
	for len(s.applied) < n {
		s.applied = append(s.applied, 0)
		s.fences = append(s.fences, events.Fence{})
	}
}

// Applied returns, per partition, the offset of the next record to apply.
func (s *Store) Applied() []int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]int64(nil), s.applied...)
}

// setApplied records a committed position and wakes every waiter.
// setApplied records that partition p has applied everything below next;
// at is the time of the last event applied (for the lag in seconds).
func (s *Store) setApplied(p int, next int64, at time.Time) {
	s.mu.Lock()
	s.growLocked(p + 1)
	s.applied[p] = next
	s.broadcastLocked()
	s.mu.Unlock()
	s.m.appliedOffset.WithLabelValues(partitionLabel(p)).Set(float64(next))
	if !at.IsZero() {
		s.m.lastApplied.WithLabelValues(partitionLabel(p)).Set(float64(at.UnixNano()) / 1e9)
	}
}

// noteVoidLocked notes that the record at offset off of partition p is
// void, before its position is published (setApplied); s.mu is held.
func (s *Store) noteVoidLocked(p int, off int64) {
	if s.firstVoid == nil {
		s.firstVoid = map[int]int64{}
	}
	if v, ok := s.firstVoid[p]; !ok || off < v {
		s.firstVoid[p] = off
	}
}

// knownNotVoidLocked reports whether the applied record at offset off of
// partition p is known not to be void without reading its outcome: Run
// applied it, and no record from the lowest void it applied on. s.mu is
// held.
func (s *Store) knownNotVoidLocked(p int, off int64) bool {
	if p >= len(s.live) || off < s.live[p] {
		return false
	}
	v, ok := s.firstVoid[p]
	return !ok || off < v
}

// WaitApplied blocks until the record at offset off of partition p has been
// applied (Applied()[p] > off), or ctx is done (returning ctx.Err()). It
// returns ErrVoid when that record is void (see ErrVoid): a writer waiting
// for its own event learns so that its write did not happen, and an owner
// waiting for its claim that the claim did not take effect. A record
// skipped for another reason (a duplicate, say) returns nil, as an
// applied one does.
func (s *Store) WaitApplied(ctx context.Context, p int, off int64) error {
	for {
		s.mu.Lock()
		done := !s.bulking && p < len(s.applied) && s.applied[p] > off
		known := done && s.knownNotVoidLocked(p, off)
		ch := s.changed
		s.mu.Unlock()
		if known {
			return nil
		}
		if done {
			s.voidReads.Add(1)
			void, err := s.voided(p, off)
			if err != nil {
				return err
			}
			if void {
				return fmt.Errorf("record %d/%d: %w", p, off, ErrVoid)
			}
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// CaughtUp reports whether every partition's applied position had reached
// the log's end as last observed by Run (readiness). Once true it stays
// true for the life of the Store, so readiness does not flap under load.
func (s *Store) CaughtUp() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.caughtUpLocked()
}

// WaitCaughtUp blocks until CaughtUp is true or ctx is done (returning
// ctx.Err()); it needs a running Run to get there.
func (s *Store) WaitCaughtUp(ctx context.Context) error {
	for {
		s.mu.Lock()
		done := s.caughtUpLocked()
		ch := s.changed
		s.mu.Unlock()
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

// broadcastLocked wakes every WaitApplied and WaitCaughtUp; s.mu is held.
func (s *Store) broadcastLocked() {
	close(s.changed)
	s.changed = make(chan struct{})
}

func (s *Store) caughtUpLocked() bool {
	if s.caughtUp {
		return true
	}
	if s.end == nil || s.bulking {
		return false
	}
	for p, e := range s.end {
		if p >= len(s.applied) {
			if e > 0 {
				return false
			}
			continue
		}
		if s.applied[p] < e {
			return false
		}
	}
	s.caughtUp = true
	return true
}

// partitionLock returns the mutex that serialises Apply on partition p.
func (s *Store) partitionLock(p int) *sync.Mutex {
	s.locksMu.Lock()
	defer s.locksMu.Unlock()
	mu, ok := s.locks[p]
	if !ok {
		mu = new(sync.Mutex)
		s.locks[p] = mu
	}
	return mu
}

// Export calls fn for every key of the projection in key order, with its
// value; both slices are valid only during the call. It reads one snapshot.
// Two projections built from the same log export the same bytes.
func (s *Store) Export(ctx context.Context, fn func(key, value []byte) error) error {
	return s.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.DefaultIteratorOptions)
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			if err := ctx.Err(); err != nil {
				return err
			}
			item := it.Item()
			err := item.Value(func(v []byte) error { return fn(item.Key(), v) })
			if err != nil {
				return err
			}
		}
		return nil
	})
}

// badgerLogger hands Badger's warnings and errors to slog; its info and
// debug chatter is dropped. Byte slices among the arguments are keys or
// values, which hold attribute values: only their length is logged.
type badgerLogger struct{ l *slog.Logger }

func (b badgerLogger) Errorf(f string, args ...any) {
	b.l.Error("badger error", "detail", fmt.Sprintf(f, redactBytes(args)...))
}

func (b badgerLogger) Warningf(f string, args ...any) {
	b.l.Warn("badger warning", "detail", fmt.Sprintf(f, redactBytes(args)...))
}

func redactBytes(args []any) []any {
	out := make([]any, len(args))
	for i, a := range args {
		if b, ok := a.([]byte); ok {
			a = redacted(len(b))
		}
		out[i] = a
	}
	return out
}

// redacted prints as "<N bytes>" whatever the verb.
type redacted int

func (r redacted) Format(f fmt.State, _ rune) { fmt.Fprintf(f, "<%d bytes>", int(r)) }

func (badgerLogger) Infof(string, ...any)  {}
func (badgerLogger) Debugf(string, ...any) {}
