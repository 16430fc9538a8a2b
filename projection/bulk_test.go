package projection

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dgraph-io/badger/v4"
	"github.com/dgraph-io/badger/v4/pb"
	"github.com/dgraph-io/ristretto/v2/z"

	"github.com/scim-bridge/scim-bridge/events"
)

// sliceLog is a one-partition log of records held in memory, records
// that are no event (Record.Err) included; append adds more, which a
// running Read delivers.
type sliceLog struct {
	mu      sync.Mutex
	recs    []events.Record
	changed chan struct{}
}

func newSliceLog(recs []events.Record) *sliceLog {
	return &sliceLog{recs: recs, changed: make(chan struct{})}
}

func (l *sliceLog) append(recs ...events.Record) {
	l.mu.Lock()
	l.recs = append(l.recs, recs...)
	close(l.changed)
	l.changed = make(chan struct{})
	l.mu.Unlock()
}

func (l *sliceLog) Partitions() int { return 1 }

func (l *sliceLog) End(context.Context) ([]int64, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return []int64{int64(len(l.recs))}, nil
}

func (l *sliceLog) Read(ctx context.Context, p int, from int64, fn func(events.Record) error) error {
	for {
		l.mu.Lock()
		recs, ch := l.recs, l.changed
		l.mu.Unlock()
		for ; from < int64(len(recs)); from++ {
			if err := fn(recs[from]); err != nil {
				return err
			}
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func (l *sliceLog) Append(context.Context, []events.Event) (int, int64, error) {
	return 0, 0, errors.New("read-only")
}

func (l *sliceLog) AppendClaim(context.Context, events.Claim) (int64, error) {
	return 0, errors.New("read-only")
}

func (l *sliceLog) Close() error { return nil }

// bulkFeed is every path of applying in one log: replayFeed (users and
// groups, updates, member deltas larger than replayMemberBatch, user and
// group deletes, a group delete leaving a tombstone, duplicate userNames,
// skipped and void records, claims), then a user in more than
// maxInlineGroups groups and back, a userName several users hold, POSTs
// with digests (one landed twice), deletes wrapping the tombstone ring
// (bulkRing) and every poison record of poison_test.go.
func bulkFeed() []events.Record {
	f := replayFeed()
	// Several users holding one userName (two writers in the Kafka
	// window, D40): the holder deleted, renamed away, others renamed in
	// and back (and more of it after the bulk replay, at the end).
	for i, id := range []string{"c3", "c1", "c4", "c2"} {
		f.userCreated("initech", id, []string{"Crowd", "CROWD", "crowd", "cRowd"}[i])
	}
	f.emit(events.UserDeleted, "initech", "User", "c3", nil, nil, nil)
	f.emit(events.UserUpdated, "initech", "User", "c1", user("c1", "elsewhere"), nil, nil)
	f.emit(events.UserUpdated, "initech", "User", "c4", user("c4", "Elsewhere"), nil, nil)
	f.emit(events.UserUpdated, "initech", "User", "c1", user("c1", "crowd"), nil, nil)
	f.userCreated("initech", "c5", "CROWD")
	for i := range maxInlineGroups + 4 {
		f.groupCreated("acme", fmt.Sprintf("m%02d", i), fmt.Sprintf("Many %d", i))
		f.addMembers("acme", fmt.Sprintf("m%02d", i), "u05", "u06")
	}
	for i := range 6 {
		f.removeMembers("acme", fmt.Sprintf("m%02d", i), "u05")
	}
	f.emit(events.GroupDeleted, "acme", "Group", "m10", nil, nil, nil)
	f.emit(events.UserDeleted, "acme", "User", "u06", nil, nil, nil) // in 35 groups
	f.userCreated("globex", "p1", "posted")
	f.digest("post-1", 1)
	f.userCreated("globex", "p2", "posted") // the same POST, landed twice
	f.digest("post-1", 1)
	f.groupCreated("globex", "pg", "Posted")
	f.addMembers("globex", "pg", "p1")
	f.digest("post-g", 2)
	for i := range 2*bulkRing + 1 {
		id := fmt.Sprintf("d%02d", i)
		f.userCreated("globex", id, "doomed"+id)
		f.emit(events.UserDeleted, "globex", "User", id, nil, nil, nil)
		f.digest("del-"+id, 1)
	}
	for _, pc := range poisonCases {
		ver := maps.Clone(f.ver)
		pc.build(f)
		f.ver = ver
	}
	f.emit(events.UserDeleted, "initech", "User", "c2", nil, nil, nil) // among the records applied after the bulk replay
	f.userCreated("initech", "c0", "CROWD")
	f.userCreated("globex", "last", "last")
	for i := range f.recs {
		f.recs[i].Partition, f.recs[i].Offset = 0, int64(i)
	}
	return f.recs
}

const bulkRing = 3 // the tombstone ring of the bulk tests

func bulkOptions() Options {
	return Options{MemberBatch: replayMemberBatch, tombstones: bulkRing, BulkThreshold: 1}
}

// TestStore_BulkReplayMatchesIncremental replays a log exercising every
// path of applying in bulk, with a budget that spills after every
// transaction and with one that never spills, and compares the export
// with applying the records one by one and in batches; then more records
// arrive, which Run applies incrementally, and the export still matches.
// The fencing contract's sequence (fence_test.go) goes the same way.
func TestStore_BulkReplayMatchesIncremental(t *testing.T) {
	fenced, _ := fencedRecords()
	t.Run("All", func(t *testing.T) { testBulkReplay(t, bulkFeed(), 25, 10) })
	t.Run("Fenced", func(t *testing.T) { testBulkReplay(t, fenced, 3, 1) })
}

// testBulkReplay replays recs but the last more in bulk, then those
// incrementally; the records must be skipped for at least reasons
// reasons.
func testBulkReplay(t *testing.T, recs []events.Record, more, reasons int) {
	split := len(recs) - more
	ref := func(recs []events.Record) []string {
		s := openMem(t, bulkOptions())
		applyAll(t, s, recs)
		return export(t, s)
	}
	wantFirst, wantAll := ref(recs[:split]), ref(recs)
	seen := map[string]bool{}
	for _, line := range wantAll {
		if _, r, ok := strings.Cut(line, `\"reason\":\"`); ok {
			r, _, _ = strings.Cut(r, `\"`)
			seen[r] = true
		}
	}
	if len(seen) < reasons || !seen[reasonVoid] {
		t.Fatalf("reference export has skip reasons %v: the feed is not exercising much", seen)
	}
	batched := openMem(t, Options{MemberBatch: replayMemberBatch, tombstones: bulkRing, ApplyBatch: 7})
	if err := batched.applyRecords(recs); err != nil {
		t.Fatal(err)
	}
	if d := diffLines(wantAll, export(t, batched)); d != "" {
		t.Fatalf("batched apply differs from one by one: %s", d)
	}

	for _, tc := range []struct {
		name   string
		budget int64
		spills bool
	}{{"TinyBudget", 1, true}, {"LargeBudget", 64 << 20, false}} {
		for _, applyBatch := range []int{1, 0} {
			t.Run(fmt.Sprintf("%s/applyBatch%d", tc.name, applyBatch), func(t *testing.T) {
				opts := bulkOptions()
				opts.ReplayMemory, opts.ApplyBatch = tc.budget, applyBatch
				s := openAt(t, t.TempDir(), opts)
				var spills int
				s.beforeSpill = func() error { spills++; return nil }
				log := newSliceLog(recs[:split:split])
				ctx, cancel := context.WithCancel(context.Background())
				done := make(chan error, 1)
				go func() { done <- s.Run(ctx, log) }()
				defer func() {
					cancel()
					select {
					case err := <-done:
						if !errors.Is(err, context.Canceled) {
							t.Errorf("Run() = %v, want context.Canceled", err)
						}
					case <-time.After(30 * time.Second):
						t.Errorf("Run did not return after its context was cancelled")
					}
				}()
				// Generous: a broken engine can make a cleanup loop forever.
				wctx, wcancel := context.WithTimeout(ctx, time.Minute)
				defer wcancel()
				if err := s.WaitCaughtUp(wctx); err != nil {
					t.Fatalf("WaitCaughtUp() = %v", err)
				}
				if !s.bulked {
					t.Fatal("Run did not replay in bulk")
				}
				if got := spills > 0; got != tc.spills {
					t.Errorf("%d spills; want some: %v", spills, tc.spills)
				}
				if d := diffLines(wantFirst, export(t, s)); d != "" {
					t.Fatalf("export after the bulk replay differs from one by one: %s", d)
				}
				log.append(recs[split:]...)
				if err := s.WaitApplied(wctx, 0, int64(len(recs)-1)); err != nil {
					t.Fatalf("WaitApplied(last) = %v", err)
				}
				if d := diffLines(wantAll, export(t, s)); d != "" {
					t.Fatalf("export after more records differs from one by one: %s", d)
				}
				checkUserNameKeys(t, s)
			})
		}
	}
}

// TestStore_BulkReplayInterrupted stops a bulk replay half way (ctx
// cancelled at a commit, as a kill would stop it), then starts again on
// the same directory, with run files left over: the projection is fresh
// again and the second replay ends with the bytes of applying one by one.
// A projection whose final write was cut before the format key (a kill
// during the stream) is emptied by Open and replayed the same way.
func TestStore_BulkReplayInterrupted(t *testing.T) {
	recs := bulkFeed()
	ref := openMem(t, bulkOptions())
	applyAll(t, ref, recs)
	want := export(t, ref)
	dir := t.TempDir()
	opts := bulkOptions()
	opts.ReplayMemory, opts.ApplyBatch = 1, 1

	s := openAt(t, dir, opts)
	ctx, cancel := context.WithCancel(context.Background())
	commits := 0
	s.beforeCommit = func() error {
		if commits++; commits == len(recs)/3 {
			cancel()
			return errCrash
		}
		return nil
	}
	if err := s.Run(ctx, newSliceLog(recs)); !errors.Is(err, context.Canceled) {
		t.Fatalf("Run() = %v, want context.Canceled", err)
	}
	if commits < len(recs)/3 {
		t.Fatalf("only %d commits before Run returned", commits)
	}
	waitNoCommitter(t)
	for p, a := range s.Applied() {
		if a != 0 {
			t.Errorf("Applied()[%d] = %d after an interrupted bulk replay, want 0", p, a)
		}
	}
	s.Close()
	// What a kill would have left behind.
	if err := os.MkdirAll(bulkDirOf(dir), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(bulkDirOf(dir), "run-000000"), []byte("left over"), 0o600); err != nil {
		t.Fatal(err)
	}

	s = openAt(t, dir, opts)
	if _, err := os.Stat(bulkDirOf(dir)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Open left the run files of the interrupted replay: %v", err)
	}
	runAndWait(t, s, newSliceLog(recs))
	if !s.bulked {
		t.Fatal("the second start did not replay in bulk")
	}
	if d := diffLines(want, export(t, s)); d != "" {
		t.Fatalf("export after an interrupted and restarted bulk replay: %s", d)
	}
	s.Close()

	// The final write cut before the format key.
	db, err := badger.Open(badger.DefaultOptions(dir).WithLogger(nil))
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Update(func(txn *badger.Txn) error { return txn.Delete(formatKey()) }); err != nil {
		t.Fatal(err)
	}
	db.Close()
	s = openAt(t, dir, opts)
	if got := export(t, s); len(got) != 1 {
		t.Fatalf("Open of a projection without its format key kept %d keys, want only the format key", len(got))
	}
	runAndWait(t, s, newSliceLog(recs))
	if d := diffLines(want, export(t, s)); d != "" {
		t.Fatalf("export after replaying a projection cut before its format key: %s", d)
	}
}

// TestStore_BulkReplayProgress: a bulk replay logs its progress every
// ProgressInterval, with the records applied, the rate and the time left,
// and keeps CaughtUp false and WaitApplied waiting until the projection
// is written.
func TestStore_BulkReplayProgress(t *testing.T) {
	recs := bulkFeed()
	var mu sync.Mutex
	var logs bytes.Buffer
	opts := bulkOptions()
	opts.ProgressInterval = 20 * time.Millisecond
	opts.Logger = slog.New(slog.NewTextHandler(syncWriter{&mu, &logs}, nil))
	s := openMem(t, opts)
	release := make(chan struct{})
	var once sync.Once
	n := 0
	s.beforeApply = func(rec *events.Record) {
		if n++; n == len(recs)/2 {
			<-release // half way, until the test has looked
		}
		time.Sleep(time.Millisecond)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx, newSliceLog(recs)) }()
	waited := make(chan error, 1)
	go func() { waited <- s.WaitApplied(ctx, 0, 0) }()

	deadline := time.Now().Add(10 * time.Second)
	for {
		mu.Lock()
		got := strings.Contains(logs.String(), "bulk replay progress")
		mu.Unlock()
		if got && s.Applied()[0] > 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if s.CaughtUp() {
		t.Error("CaughtUp() during the bulk replay")
	}
	select {
	case err := <-waited:
		t.Errorf("WaitApplied answered during the bulk replay: %v", err)
	default:
	}
	once.Do(func() { close(release) })
	if err := s.WaitCaughtUp(ctx); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-waited:
		if err != nil {
			t.Errorf("WaitApplied() = %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Error("WaitApplied not answered after the bulk replay")
	}
	cancel()
	<-done
	mu.Lock()
	defer mu.Unlock()
	var line string
	for l := range strings.Lines(logs.String()) {
		if strings.Contains(l, "bulk replay progress") {
			line = l // the last: records were applied by then
		}
	}
	for _, want := range []string{"records=", fmt.Sprintf("of=%d", len(recs)), "events_per_s=", "eta="} {
		if !strings.Contains(line, want) {
			t.Errorf("progress line %q lacks %q", line, want)
		}
	}
	if !strings.Contains(logs.String(), "bulk replay done") {
		t.Errorf("no closing line in:\n%s", logs.String())
	}
}

// TestStore_BulkReplayNotWhenApplied: a projection that has applied
// anything, or a backlog under the threshold, is replayed incrementally.
func TestStore_BulkReplayNotWhenApplied(t *testing.T) {
	recs := bulkFeed()
	opts := bulkOptions()
	opts.BulkThreshold = int64(len(recs)) + 1
	s := openMem(t, opts)
	runAndWait(t, s, newSliceLog(recs))
	if s.bulked {
		t.Error("bulk replay under the threshold")
	}
	opts.BulkThreshold = 1
	s = openMem(t, opts)
	applyAll(t, s, recs[:1])
	runAndWait(t, s, newSliceLog(recs))
	if s.bulked {
		t.Error("bulk replay of a projection that had applied a record")
	}
}

// TestStore_BulkReplayCommitterFails: a spill that fails in the
// committer, which inserts committed transactions into the overlay behind
// the applier, fails the bulk replay promptly (met by the next commit, or,
// at the last transaction, only by the flush before the final write): its
// run files are deleted, the committer returns, the failure is counted,
// and Run does not stop but replays record by record from the empty
// projection, to the same bytes as the bulk replay that did not fail.
func TestStore_BulkReplayCommitterFails(t *testing.T) {
	recs := bulkFeed()
	opts := bulkOptions()
	opts.ReplayMemory, opts.ApplyBatch = 1, 1 // a spill after every commit

	s := openAt(t, t.TempDir(), opts)
	spills := 0
	s.beforeSpill = func() error { spills++; return nil }
	runAndWait(t, s, newSliceLog(recs))
	if !s.bulked || spills < 10 {
		t.Fatalf("bulked: %v, %d spills; want a bulk replay with many", s.bulked, spills)
	}
	want := export(t, s)
	total := spills

	errSpill := errors.New("injected spill failure")
	for _, tc := range []struct {
		name string
		at   int
	}{{"NextCommit", total / 2}, {"Flush", total}} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			s := openAt(t, dir, opts)
			n := 0
			s.beforeSpill = func() error {
				if n++; n == tc.at {
					return errSpill
				}
				return nil
			}
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			done := make(chan error, 1)
			go func() { done <- s.Run(ctx, newSliceLog(recs)) }()
			caughtUp := make(chan error, 1)
			go func() { caughtUp <- s.WaitCaughtUp(ctx) }()
			select {
			case err := <-caughtUp:
				if err != nil {
					t.Fatalf("WaitCaughtUp() = %v", err)
				}
			case err := <-done:
				t.Fatalf("Run() = %v after the failed bulk replay, want it to go on record by record", err)
			}
			cancel()
			if err := <-done; !errors.Is(err, context.Canceled) {
				t.Fatalf("Run() = %v, want context.Canceled", err)
			}
			if n < tc.at {
				t.Fatalf("%d spills, the failure was meant for spill %d", n, tc.at)
			}
			// One spill per commit, and none once the replay goes on
			// record by record: the failure is met by one of the commits
			// the queue holds behind the failed one.
			if n > tc.at+bulkQueue+1 {
				t.Errorf("%d spills after the failure at spill %d: not stopped by the next commit", n-tc.at, tc.at)
			}
			if s.bulked {
				t.Error("the failed bulk replay counts as completed")
			}
			if got := counterValue(t, s.m.applyErrors); got != 1 {
				t.Errorf("apply errors = %v, want the failed bulk replay counted once", got)
			}
			if d := diffLines(want, export(t, s)); d != "" {
				t.Errorf("projection after the record-by-record replay differs from the bulk replay's:\n%s", d)
			}
			if _, err := os.Stat(bulkDirOf(dir)); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("the run files of the failed replay are left: %v", err)
			}
			waitNoCommitter(t)
		})
	}
}

// waitNoCommitter fails t unless the bulk engine's committer and spiller
// goroutines are gone within a generous while (they may be exiting
// still).
func waitNoCommitter(t *testing.T) {
	t.Helper()
	buf := make([]byte, 1<<20)
	deadline := time.Now().Add(10 * time.Second)
	for {
		stacks := string(buf[:runtime.Stack(buf, true)])
		if !strings.Contains(stacks, "(*bulkKV).committer") && !strings.Contains(stacks, "(*bulkKV).spill") {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the bulk engine's committer or spiller is still running:\n%s", stacks)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestAppendStreamKV: the final write's own encoding of a pair is byte for
// byte what badger.KVToBuffer makes of it, for empty and long values and
// keys whose lengths take one, two and three varint bytes.
func TestAppendStreamKV(t *testing.T) {
	got := z.NewBuffer(1<<10, "projection.test")
	defer got.Release()
	want := z.NewBuffer(1<<10, "projection.test")
	defer want.Release()
	long := bytes.Repeat([]byte("v"), 20_000)
	for _, kv := range [][2][]byte{
		{[]byte("k"), nil},
		{[]byte("k"), []byte("v")},
		{bytes.Repeat([]byte("k"), 127), []byte{0}},
		{bytes.Repeat([]byte("k"), 128), long[:128]},
		{bytes.Repeat([]byte("k"), 20_000), long},
		{[]byte{0, 0xff, 1}, long[:16_383]},
	} {
		appendStreamKV(got, kv[0], kv[1])
		badger.KVToBuffer(&pb.KV{Key: kv[0], Value: kv[1], Version: 1}, want)
	}
	if !bytes.Equal(got.Bytes(), want.Bytes()) {
		t.Fatalf("appendStreamKV wrote\n%x\nKVToBuffer\n%x", got.Bytes(), want.Bytes())
	}
}

// TestStore_BulkWriteManyChunks: a final state of many times
// bulkWriteChunk bytes, handed to the StreamWriter in many chunks (with
// runs and without), is the state of applying one by one.
func TestStore_BulkWriteManyChunks(t *testing.T) {
	f := newFeed()
	for i := range 3000 {
		id := fmt.Sprintf("u%05d", i)
		f.userCreated("acme", id, "user"+id+"@example.com", "emails", emails(id+"@x.org"),
			"externalId", "ext-"+id, "displayName", strings.Repeat("d", 200))
	}
	for i := range f.recs {
		f.recs[i].Partition, f.recs[i].Offset = 0, int64(i)
	}
	ref := openMem(t, bulkOptions())
	applyAll(t, ref, f.recs)
	want := export(t, ref)
	size := 0
	for _, line := range want {
		size += len(line)
	}
	if size < 4*bulkWriteChunk {
		t.Fatalf("the state holds %d bytes, under four chunks of %d", size, bulkWriteChunk)
	}
	for _, budget := range []int64{256 << 10, 64 << 20} {
		t.Run(fmt.Sprintf("budget%d", budget), func(t *testing.T) {
			opts := bulkOptions()
			opts.ReplayMemory = budget
			s := openAt(t, t.TempDir(), opts)
			runAndWait(t, s, newSliceLog(f.recs))
			if !s.bulked {
				t.Fatal("Run did not replay in bulk")
			}
			if d := diffLines(want, export(t, s)); d != "" {
				t.Fatalf("export after the bulk replay differs from one by one: %s", d)
			}
		})
	}
}
