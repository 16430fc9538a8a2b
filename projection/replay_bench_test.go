package projection

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"expvar"
	"flag"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/dgraph-io/badger/v4"
	"github.com/dgraph-io/ristretto/v2/z"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/scim-bridge/scim-bridge/events"
	"github.com/scim-bridge/scim-bridge/schemas"
)

// BenchmarkReplay rebuilds a projection from an embedded log of
// -replay.users user.created events of one tenant (so one partition) plus a
// few groups and member changes, into a fresh on-disk Store each iteration,
// and reports events/s from Run's start to WaitCaughtUp. The log is built
// once per process, in -replay.log when set (and kept there, so a second
// process measures the replay alone, peak RSS included), else in a temp dir.
//
// Bulk is the real thing: Run on a fresh projection, which replays in bulk
// (bulk.go) at the default ReplayMemory and streams the result into
// Badger. Batch and OneTxnPerRecord are the incremental path (bulk replay
// off) with ApplyBatch at its default and at 1. The other sub-benchmarks
// are ceilings, each one part
// of a rebuild alone, measured in the same run so that ratios can be read
// off one output:
//
//   - ReadLogOnly reads and decodes every record of every partition, as
//     Run's readers do, and applies nothing: the most a rebuild could reach
//     if applying and writing were free.
//   - BadgerWriteBatch writes the rebuilt projection's final keys and values
//     (exported once, outside the timer) into a fresh Badger with the
//     Store's options through a WriteBatch, and flushes it: the same bytes
//     with no reads and no apply logic, the ceiling of any transactional or
//     batched apply.
//   - BadgerStreamWriter loads the same sorted keys and values through a
//     StreamWriter, which builds tables directly: the ceiling of a bulk load
//     of sorted state.
//
// A real rebuild pays reading, applying and writing, so it should sit
// below each of them. Every sub-benchmark reports events/s and
// cpu-µs/event with n, the number of records in the log, so the figures
// compare directly. The log is opened, and Badger is opened and closed,
// outside the timer.
//
//	go test -run '^$' -bench Replay -benchtime 5x ./projection
//	go test ./projection -run '^$' -bench Replay -benchtime 1x -args -replay.users 1000000 -replay.log /tmp/replay-1m
//
// The bulk path alone at a million users (its peak RSS must stay under
// 1 GiB; build the log first, in a process of its own, with any other
// sub-benchmark, so that the peak is the replay's):
//
//	go test ./projection -run '^$' -bench 'Replay/Bulk' -benchtime 1x -args -replay.users 1000000 -replay.log /tmp/replay-1m
var (
	replayUsers = flag.Int("replay.users", 100_000, "user.created events in the BenchmarkReplay log")
	replayDir   = flag.String("replay.log", "", "directory of the BenchmarkReplay log (built if empty)")
	replayVerb  = flag.Bool("replay.v", false, "log the Store's messages (the bulk replay's phases) to stderr")
)

var replayLog struct {
	once   sync.Once
	dir    string
	temp   bool
	events int64
	err    error
}

// replayFixture returns the directory of the replay log and its number of
// records, building it on first use.
func replayFixture(b *testing.B) (string, int64) {
	b.Helper()
	replayLog.once.Do(func() {
		replayLog.dir = *replayDir
		if replayLog.dir == "" {
			replayLog.dir, replayLog.err = os.MkdirTemp("", "projection-replay-")
			if replayLog.err != nil {
				return
			}
			replayLog.temp = true
		}
		replayLog.events, replayLog.err = buildReplayLog(replayLog.dir, *replayUsers)
	})
	if replayLog.err != nil {
		b.Fatalf("replay log: %v", replayLog.err)
	}
	return replayLog.dir, replayLog.events
}

// buildReplayLog appends the replay events to the log in dir unless it
// already holds them, and returns the number of records.
func buildReplayLog(dir string, users int) (int64, error) {
	ctx := context.Background()
	log, err := events.OpenEmbedded(dir, events.EmbeddedOptions{Partitions: 1})
	if err != nil {
		return 0, err
	}
	defer log.Close()
	end, err := log.End(ctx)
	if err != nil {
		return 0, err
	}
	if end[0] > 0 {
		return end[0], nil
	}
	start := time.Now()
	var n int64
	var chunk []events.Event
	emit := func(ev events.Event) error {
		ev.ID = fmt.Sprintf("replay-%d", n)
		ev.Source = "/bench"
		ev.Time = baseTime.Add(time.Duration(n) * time.Millisecond)
		ev.Tenant = "acme"
		n++
		chunk = append(chunk, ev)
		if len(chunk) < 1000 {
			return nil
		}
		return flush(ctx, log, &chunk)
	}
	const groups = 5
	for g := range groups {
		id := fmt.Sprintf("group-%d", g)
		if err := emit(events.Event{Type: events.GroupCreated, ResourceType: "Group", ResourceID: id,
			Version: 1, Resource: group(id, fmt.Sprintf("Group %d", g))}); err != nil {
			return 0, err
		}
	}
	gver := make([]int64, groups)
	for i := range users {
		id := benchID(i)
		un := benchUserName(i)
		err := emit(events.Event{Type: events.UserCreated, ResourceType: "User", ResourceID: id, Version: 1,
			Resource: user(id, un, "emails", emails(un), "externalId", fmt.Sprintf("ext-%d", i), "active", true,
				"name", map[string]any{"givenName": "Given", "familyName": fmt.Sprintf("Family%d", i)})})
		if err != nil {
			return 0, err
		}
		if i%1000 == 999 { // every thousand users, add them to a group
			g := (i / 1000) % groups
			ids := make([]string, 1000)
			for j := range ids {
				ids[j] = benchID(i - j)
			}
			gver[g]++
			err := emit(events.Event{Type: events.GroupMembersAdded, ResourceType: "Group",
				ResourceID: fmt.Sprintf("group-%d", g), Version: gver[g] + 1, PrevVersion: gver[g],
				MembersAdded: members(ids...)})
			if err != nil {
				return 0, err
			}
		}
	}
	if err := flush(ctx, log, &chunk); err != nil {
		return 0, err
	}
	fmt.Fprintf(os.Stderr, "replay log: %d records in %v\n", n, time.Since(start).Round(time.Millisecond))
	return n, nil
}

func flush(ctx context.Context, log events.Log, chunk *[]events.Event) error {
	if len(*chunk) == 0 {
		return nil
	}
	_, _, err := log.Append(ctx, *chunk)
	*chunk = (*chunk)[:0]
	return err
}

func BenchmarkReplay(b *testing.B) {
	dir, n := replayFixture(b)
	if replayLog.temp {
		b.Cleanup(func() { os.RemoveAll(replayLog.dir) })
	}
	for _, bc := range []struct {
		name string
		opts Options
	}{
		{"Bulk", Options{}},
		{"Batch", Options{BulkThreshold: -1}},
		{"OneTxnPerRecord", Options{ApplyBatch: 1, BulkThreshold: -1}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			benchReplay(b, dir, n, bc.opts)
		})
	}
	b.Run("ReadLogOnly", func(b *testing.B) { benchReadLog(b, dir, n) })
	b.Run("BadgerWriteBatch", func(b *testing.B) {
		benchBadgerLoad(b, replayFinalState(b, dir, n), n, loadWriteBatch)
	})
	b.Run("BadgerStreamWriter", func(b *testing.B) {
		benchBadgerLoad(b, replayFinalState(b, dir, n), n, loadStreamWriter)
	})
}

func benchReplay(b *testing.B, logDir string, n int64, opts Options) {
	ctx := context.Background()
	log, err := events.OpenEmbedded(logDir, events.EmbeddedOptions{})
	if err != nil {
		b.Fatal(err)
	}
	defer log.Close()
	reg, err := schemas.NewRegistry()
	if err != nil {
		b.Fatal(err)
	}
	var inner slog.Handler = slog.DiscardHandler
	if *replayVerb {
		inner = slog.NewTextHandler(os.Stderr, nil)
	}
	// The bulk replay's phases: where applying ends, by its log message.
	var applied struct {
		sync.Mutex
		at  time.Time
		cpu time.Duration
	}
	opts.Logger = slog.New(phaseHandler{Handler: inner, mark: func(msg string) {
		if msg == "bulk replay: applied, writing the projection" {
			applied.Lock()
			applied.at, applied.cpu = time.Now(), cpuTime()
			applied.Unlock()
		}
	}})
	opts.PollInterval = time.Hour // the first End is read at start; no polls needed
	var total, cpu, applyWall, applyCPU time.Duration
	for b.Loop() {
		b.StopTimer()
		dir := b.TempDir()
		opts.Registerer = prometheus.NewRegistry()
		s, err := Open(dir, reg, opts)
		if err != nil {
			b.Fatal(err)
		}
		runCtx, cancel := context.WithCancel(ctx)
		done := make(chan error, 1)
		b.StartTimer()
		start, cpuStart := time.Now(), cpuTime()
		go func() { done <- s.Run(runCtx, log) }()
		if err := s.WaitCaughtUp(ctx); err != nil {
			b.Fatal(err)
		}
		total += time.Since(start)
		cpu += cpuTime() - cpuStart
		b.StopTimer()
		applied.Lock()
		if !applied.at.IsZero() {
			applyWall += applied.at.Sub(start)
			applyCPU += applied.cpu - cpuStart
			applied.at = time.Time{}
		}
		applied.Unlock()
		cancel()
		<-done
		if got := s.Applied()[0]; got != n {
			b.Fatalf("Applied() = %d, want %d", got, n)
		}
		if s.bulked != (opts.BulkThreshold >= 0) {
			b.Fatalf("replayed in bulk: %v, want %v", s.bulked, opts.BulkThreshold >= 0)
		}
		if err := s.Close(); err != nil {
			b.Fatal(err)
		}
		os.RemoveAll(dir)
		b.StartTimer()
	}
	reportReplay(b, n, total, cpu)
	if applyWall > 0 {
		// The bulk replay's two phases: applying, and the final write.
		per := func(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1e3 / float64(n) / float64(b.N) }
		b.ReportMetric(per(applyCPU), "apply-cpu-µs/event")
		b.ReportMetric(per(cpu-applyCPU), "write-cpu-µs/event")
		b.ReportMetric((total-applyWall).Seconds()/float64(b.N), "write-s")
	}
}

// phaseHandler hands the message of every record at level Info or above
// to mark, whatever the level the handler it wraps takes, and then to
// that handler. Below Info it is that handler (the replay's debug
// messages, one an event, stay off).
type phaseHandler struct {
	slog.Handler
	mark func(msg string)
}

func (h phaseHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= slog.LevelInfo || h.Handler.Enabled(ctx, l)
}

func (h phaseHandler) Handle(ctx context.Context, r slog.Record) error {
	if r.Level >= slog.LevelInfo {
		h.mark(r.Message)
	}
	if !h.Handler.Enabled(ctx, r.Level) {
		return nil
	}
	return h.Handler.Handle(ctx, r)
}

func (h phaseHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return phaseHandler{Handler: h.Handler.WithAttrs(as), mark: h.mark}
}

func (h phaseHandler) WithGroup(name string) slog.Handler {
	return phaseHandler{Handler: h.Handler.WithGroup(name), mark: h.mark}
}

// reportReplay reports the metrics every BenchmarkReplay sub-benchmark
// shares, from the time and CPU its timed parts took over b.N iterations
// of n log records each.
func reportReplay(b *testing.B, n int64, total, cpu time.Duration) {
	b.ReportMetric(float64(n)*float64(b.N)/total.Seconds(), "events/s")
	// CPU per event (user + system, every goroutine, Badger's included) is
	// steadier than events/s on a shared machine.
	b.ReportMetric(float64(cpu.Nanoseconds())/1e3/float64(n)/float64(b.N), "cpu-µs/event")
	b.ReportMetric(0, "ns/op")
	if hwm := peakRSS(); hwm != "" {
		b.Logf("peak RSS of the process (VmHWM): %s", hwm)
	}
}

// benchReadLog reads every record of the log in logDir per iteration,
// decoded as Run's readers get them, and applies nothing.
func benchReadLog(b *testing.B, logDir string, n int64) {
	ctx := context.Background()
	log, err := events.OpenEmbedded(logDir, events.EmbeddedOptions{})
	if err != nil {
		b.Fatal(err)
	}
	defer log.Close()
	end, err := log.End(ctx)
	if err != nil {
		b.Fatal(err)
	}
	var total, cpu time.Duration
	for b.Loop() {
		start, cpuStart := time.Now(), cpuTime()
		got, err := readAll(ctx, log, end)
		total += time.Since(start)
		cpu += cpuTime() - cpuStart
		if err != nil {
			b.Fatal(err)
		}
		if got != n {
			b.Fatalf("read %d records, want %d", got, n)
		}
	}
	reportReplay(b, n, total, cpu)
}

// readAll reads every partition of log from offset 0 up to end (its End),
// one partition after the other, and returns the number of records read.
// Read waits for records past the end, so the context of each partition's
// Read is cancelled as its last record is delivered.
func readAll(ctx context.Context, log events.Log, end []int64) (int64, error) {
	var read int64
	for p, e := range end {
		if e == 0 {
			continue
		}
		readCtx, cancel := context.WithCancel(ctx)
		var next int64
		err := log.Read(readCtx, p, 0, func(rec events.Record) error {
			if rec.Offset != next {
				return fmt.Errorf("record at offset %d, want %d", rec.Offset, next)
			}
			if next++; next == e {
				cancel()
			}
			return nil
		})
		cancel()
		if next != e || !errors.Is(err, context.Canceled) {
			return read, fmt.Errorf("read partition %d: %d of %d records: %w", p, next, e, err)
		}
		read += next
	}
	return read, nil
}

// kvList holds keys and values, in order, packed in one buffer: the ith
// pair is data[ends[2i-1]:ends[2i]] (from 0 for the first) and
// data[ends[2i]:ends[2i+1]].
type kvList struct {
	data []byte
	ends []int
}

func (l *kvList) len() int { return len(l.ends) / 2 }

func (l *kvList) add(key, value []byte) {
	l.data = append(l.data, key...)
	l.ends = append(l.ends, len(l.data))
	l.data = append(l.data, value...)
	l.ends = append(l.ends, len(l.data))
}

// at returns the ith pair; the slices are capped so appending to them
// cannot overwrite the next pair.
func (l *kvList) at(i int) (key, value []byte) {
	start := 0
	if i > 0 {
		start = l.ends[2*i-1]
	}
	k, v := l.ends[2*i], l.ends[2*i+1]
	return l.data[start:k:k], l.data[k:v:v]
}

var replayState struct {
	once sync.Once
	kvs  *kvList
	err  error
}

// replayFinalState returns the keys and values of the projection of the
// log in logDir, in key order, replaying it once per process (with Run's
// defaults) into a temp dir that is removed once exported.
func replayFinalState(b *testing.B, logDir string, n int64) *kvList {
	b.Helper()
	replayState.once.Do(func() {
		replayState.kvs, replayState.err = exportReplay(logDir, n)
	})
	if replayState.err != nil {
		b.Fatalf("replay final state: %v", replayState.err)
	}
	return replayState.kvs
}

func exportReplay(logDir string, n int64) (*kvList, error) {
	start := time.Now()
	dir, err := os.MkdirTemp("", "projection-export-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	s, err := replayInto(dir, logDir, n)
	if err != nil {
		return nil, err
	}
	defer s.Close()
	kvs, err := exportKVs(s)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(os.Stderr, "replay final state: %d keys, %d bytes of keys and values, exported in %v\n",
		kvs.len(), len(kvs.data), time.Since(start).Round(time.Millisecond))
	return kvs, nil
}

// replayInto replays the log in logDir, of n records, into a new Store in
// dir with Run's defaults, and returns it open, caught up.
func replayInto(dir, logDir string, n int64) (*Store, error) {
	ctx := context.Background()
	log, err := events.OpenEmbedded(logDir, events.EmbeddedOptions{})
	if err != nil {
		return nil, err
	}
	defer log.Close()
	s, err := Open(dir, nil, Options{Logger: slog.New(slog.DiscardHandler), PollInterval: time.Hour})
	if err != nil {
		return nil, err
	}
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- s.Run(runCtx, log) }()
	err = s.WaitCaughtUp(ctx)
	cancel()
	if rerr := <-done; err == nil && !errors.Is(rerr, context.Canceled) {
		err = fmt.Errorf("run: %w", rerr)
	}
	if got := s.Applied()[0]; err == nil && got != n {
		err = fmt.Errorf("applied %d records, want %d", got, n)
	}
	if err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// exportKVs returns every key and value of s, in key order.
func exportKVs(s *Store) (*kvList, error) {
	kvs := new(kvList)
	var prev []byte
	err := s.Export(context.Background(), func(key, value []byte) error {
		if kvs.len() > 0 && bytes.Compare(prev, key) >= 0 {
			return fmt.Errorf("export: key %q after %q", key, prev)
		}
		kvs.add(key, value)
		prev, _ = kvs.at(kvs.len() - 1)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return kvs, nil
}

// BenchmarkProjectionSize measures the disk a projection of the replay log
// (-replay.users users, see BenchmarkReplay) takes, and reports it per
// user (its time means nothing; run it with -benchtime 1x):
//
//   - sst-B/user, vlog-B/user: the tables and value log of a Store that
//     replayed the log with Run and was closed (memtables flushed), as a
//     pod holds it; compaction may not have caught up, so overwritten
//     versions (positions, counters) are partly still there.
//   - compacted-sst-B/user: the same final keys and values loaded in key
//     order through a StreamWriter into a fresh Badger with the Store's
//     options: the tables of the state alone, fully compacted
//     (deterministic).
//   - kv-B/user: the exported keys and values, uncompressed.
//   - txn-B/user: what the replay's transactions wrote, as Badger counts
//     it (keys, values, metadata): the write amplification of applying.
//   - tables-written-B/user: what Badger wrote to tables meanwhile,
//     flushing memtables and compacting (compaction may still be behind
//     when the Store closes, so this one varies between runs).
//
// It also logs, per key namespace, the keys and the bytes of keys and
// values, where the bytes per user come from.
func BenchmarkProjectionSize(b *testing.B) {
	logDir, n := replayFixture(b)
	if replayLog.temp {
		b.Cleanup(func() { os.RemoveAll(replayLog.dir) })
	}
	users := float64(*replayUsers)
	for b.Loop() {
		dir := b.TempDir()
		written := badgerWrites()
		s, err := replayInto(dir, logDir, n)
		if err != nil {
			b.Fatal(err)
		}
		kvs, err := exportKVs(s)
		if err != nil {
			s.Close()
			b.Fatal(err)
		}
		if err := s.Close(); err != nil {
			b.Fatal(err)
		}
		after := badgerWrites()
		b.ReportMetric(float64(after.user-written.user)/users, "txn-B/user")
		b.ReportMetric(float64(after.tables-written.tables)/users, "tables-written-B/user")
		sst, vlog, err := dirSizes(dir)
		if err != nil {
			b.Fatal(err)
		}
		csst := compactedSize(b, kvs)
		b.ReportMetric(float64(sst)/users, "sst-B/user")
		b.ReportMetric(float64(vlog)/users, "vlog-B/user")
		b.ReportMetric(float64(csst)/users, "compacted-sst-B/user")
		b.ReportMetric(float64(len(kvs.data))/users, "kv-B/user")
		b.ReportMetric(0, "ns/op")
		logNamespaces(b, kvs, users)
	}
}

// writes are Badger's counts of bytes written, for the whole process.
type writes struct {
	user   int64 // by transactions (keys, values and their metadata)
	tables int64 // to tables: memtable flushes to level 0 and compactions
}

// badgerWrites reads Badger's write counters (its expvar metrics).
func badgerWrites() writes {
	var w writes
	if v, ok := expvar.Get("badger_write_bytes_user").(*expvar.Int); ok {
		w.user = v.Value()
	}
	if v, ok := expvar.Get("badger_write_bytes_l0").(*expvar.Int); ok {
		w.tables = v.Value()
	}
	if m, ok := expvar.Get("badger_write_bytes_compaction").(*expvar.Map); ok {
		m.Do(func(kv expvar.KeyValue) {
			if v, ok := kv.Value.(*expvar.Int); ok {
				w.tables += v.Value()
			}
		})
	}
	return w
}

// compactedSize returns the bytes of the tables that kvs, sorted, make when
// loaded through a StreamWriter into a fresh Badger with the Store's
// options.
func compactedSize(b *testing.B, kvs *kvList) int64 {
	b.Helper()
	dir := b.TempDir()
	db, err := badger.Open(badgerOptions(dir, false, defaultMemTableSize, slog.New(slog.DiscardHandler)))
	if err != nil {
		b.Fatal(err)
	}
	if err := loadStreamWriter(db, kvs); err != nil {
		db.Close()
		b.Fatal(err)
	}
	if err := db.Close(); err != nil {
		b.Fatal(err)
	}
	sst, _, err := dirSizes(dir)
	if err != nil {
		b.Fatal(err)
	}
	os.RemoveAll(dir)
	return sst
}

// dirSizes returns the bytes of the tables and of the value log files in
// dir, the latter as allocated on disk (Badger preallocates them sparsely).
func dirSizes(dir string) (sst, vlog int64, err error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return 0, 0, err
	}
	for _, e := range entries {
		fi, err := e.Info()
		if err != nil {
			return 0, 0, err
		}
		switch filepath.Ext(e.Name()) {
		case ".sst":
			sst += fi.Size()
		case ".vlog":
			if st, ok := fi.Sys().(*syscall.Stat_t); ok {
				vlog += st.Blocks * 512
			} else {
				vlog += fi.Size()
			}
		}
	}
	return sst, vlog, nil
}

// logNamespaces logs, per namespace of kvs (tenant namespaces by their
// letter, top-level keys by their tag), how many keys it holds, the bytes
// of their keys and values, and the tables they make on their own, fully
// compacted (compactedSize), per user: what the reads of that namespace
// keep in the page cache.
func logNamespaces(b *testing.B, kvs *kvList, users float64) {
	type tally struct {
		keys, keyBytes, valueBytes int
		kvs                        kvList
	}
	by := map[string]*tally{}
	for i := range kvs.len() {
		k, v := kvs.at(i)
		name := string(k[:1])
		if k[0] == tagTenant {
			if _, rest, ok := readStr(k[1:]); ok && len(rest) > 0 {
				name = "t/" + string(rest[:1])
			}
		}
		t := by[name]
		if t == nil {
			t = new(tally)
			by[name] = t
		}
		t.keys++
		t.keyBytes += len(k)
		t.valueBytes += len(v)
		t.kvs.add(k, v)
	}
	var sb strings.Builder
	for _, name := range slices.Sorted(maps.Keys(by)) {
		t := by[name]
		fmt.Fprintf(&sb, "\n  %-4s %9d keys %11d key bytes %11d value bytes %8.1f table B/user",
			name, t.keys, t.keyBytes, t.valueBytes, float64(compactedSize(b, &t.kvs))/users)
	}
	b.Logf("keys and values by namespace:%s", sb.String())
}

// benchBadgerLoad writes kvs into a fresh Badger, opened with the Store's
// options, with load per iteration; only load is timed. n is the number of
// log records the state was built from, for the per-event metrics.
func benchBadgerLoad(b *testing.B, kvs *kvList, n int64, load func(*badger.DB, *kvList) error) {
	logger := slog.New(slog.DiscardHandler)
	var total, cpu time.Duration
	for b.Loop() {
		b.StopTimer()
		dir := b.TempDir()
		db, err := badger.Open(badgerOptions(dir, false, defaultMemTableSize, logger))
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		start, cpuStart := time.Now(), cpuTime()
		err = load(db, kvs)
		total += time.Since(start)
		cpu += cpuTime() - cpuStart
		b.StopTimer()
		if err != nil {
			b.Fatal(err)
		}
		if got, err := countKeys(db); err != nil || got != kvs.len() {
			b.Fatalf("after loading: %d keys, %v; want %d keys", got, err, kvs.len())
		}
		if err := db.Close(); err != nil {
			b.Fatal(err)
		}
		os.RemoveAll(dir)
		b.StartTimer()
	}
	reportReplay(b, n, total, cpu)
}

// loadWriteBatch writes kvs through a WriteBatch and flushes it.
func loadWriteBatch(db *badger.DB, kvs *kvList) error {
	wb := db.NewWriteBatch()
	for i := range kvs.len() {
		if err := wb.Set(kvs.at(i)); err != nil {
			wb.Cancel()
			return fmt.Errorf("write batch set: %w", err)
		}
	}
	if err := wb.Flush(); err != nil {
		return fmt.Errorf("write batch flush: %w", err)
	}
	return nil
}

// streamChunk is how many bytes of encoded pairs loadStreamWriter hands
// the StreamWriter per Write.
const streamChunk = 32 << 20

// loadStreamWriter writes kvs, which are sorted, through a StreamWriter at
// version 1, streamChunk bytes per Write.
func loadStreamWriter(db *badger.DB, kvs *kvList) error {
	sw := db.NewStreamWriter()
	if err := sw.Prepare(); err != nil {
		return fmt.Errorf("stream writer prepare: %w", err)
	}
	buf := z.NewBuffer(streamChunk+streamChunk/4, "projection.bench")
	defer buf.Release()
	for i := range kvs.len() {
		k, v := kvs.at(i)
		appendStreamKV(buf, k, v) // as the bulk replay encodes them
		if buf.LenNoPadding() < streamChunk && i < kvs.len()-1 {
			continue
		}
		// Write copies what it keeps, so buf can be refilled.
		if err := sw.Write(buf); err != nil {
			sw.Cancel()
			return fmt.Errorf("stream writer write: %w", err)
		}
		buf.Reset()
	}
	if err := sw.Flush(); err != nil {
		return fmt.Errorf("stream writer flush: %w", err)
	}
	return nil
}

// countKeys returns the number of keys db holds, reading no values.
func countKeys(db *badger.DB) (int, error) {
	var n int
	err := db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			n++
		}
		return nil
	})
	return n, err
}

// cpuTime returns the CPU time the process has used, user and system.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// peakRSS returns VmHWM from /proc/self/status, or "" where there is none.
func peakRSS() string {
	f, err := os.Open(filepath.Join("/proc", "self", "status"))
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			return strings.TrimSpace(v)
		}
	}
	return ""
}
