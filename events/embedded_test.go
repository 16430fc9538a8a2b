package events_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/scim-bridge/scim-bridge/events"
	"github.com/scim-bridge/scim-bridge/events/eventstest"
	"github.com/scim-bridge/scim-bridge/internal/testutil"
)

func openEmbedded(t *testing.T, dir string, opts events.EmbeddedOptions) *events.Embedded {
	t.Helper()
	if opts.Logger == nil {
		opts.Logger = testutil.Logger(t, slog.LevelDebug)
	}
	l, err := events.OpenEmbedded(dir, opts)
	if err != nil {
		t.Fatalf("OpenEmbedded(%s): %v", dir, err)
	}
	return l
}

func TestEmbedded_Contract(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts events.EmbeddedOptions
	}{
		{"Partitions1", events.EmbeddedOptions{}},
		{"Partitions4", events.EmbeddedOptions{Partitions: 4}},
		{"SmallSegments", events.EmbeddedOptions{Partitions: 2, SegmentBytes: 4 << 10}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			eventstest.TestLog(t, func(t *testing.T) (events.Log, func(t *testing.T) events.Log) {
				dir := t.TempDir()
				reopen := func(t *testing.T) events.Log { return openEmbedded(t, dir, tc.opts) }
				return openEmbedded(t, dir, tc.opts), reopen
			})
		})
	}
}

// appendEach appends evs one Append each and returns them.
func appendEach(t *testing.T, l events.Log, n int) []events.Event {
	t.Helper()
	var evs []events.Event
	for v := range n {
		e := eventstest.Event("acme", "User", "u1", int64(v+1))
		if _, _, err := l.Append(t.Context(), []events.Event{e}); err != nil {
			t.Fatalf("Append: %v", err)
		}
		evs = append(evs, e)
	}
	return evs
}

// readAll reads the records of partition 0 below End.
func readAll(t *testing.T, l events.Log) []events.Event {
	t.Helper()
	end, err := l.End(t.Context())
	if err != nil {
		t.Fatalf("End: %v", err)
	}
	var got []events.Event
	if end[0] == 0 {
		return nil
	}
	stop := errors.New("stop")
	err = l.Read(t.Context(), 0, 0, func(r events.Record) error {
		got = append(got, r.Event)
		if r.Offset == end[0]-1 {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) {
		t.Fatalf("Read: %v", err)
	}
	return got
}

func lastSegment(t *testing.T, dir string) string {
	t.Helper()
	segs, err := filepath.Glob(filepath.Join(dir, "partition-0000", "*.log"))
	if err != nil || len(segs) == 0 {
		t.Fatalf("no segments in %s: %v", dir, err)
	}
	return segs[len(segs)-1]
}

func TestEmbedded_TornTail(t *testing.T) {
	tests := []struct {
		name string
		// damage changes the last segment, whose last record starts at
		// lastPos; its records end where the zeros ahead of them start.
		damage func(t *testing.T, path string, lastPos int64)
		keep   int // records of 5 still readable
	}{
		{"Garbage", func(t *testing.T, path string, _ int64) {
			writeAtEnd(t, path, []byte("\x00\x00\x01\x00garbage that is no record"))
		}, 5},
		{"GarbageAfterZeros", func(t *testing.T, path string, _ int64) {
			appendFile(t, path, []byte("garbage past the zeros ahead"))
		}, 5},
		{"HeaderOnly", func(t *testing.T, path string, _ int64) {
			writeAtEnd(t, path, []byte{0, 0, 1})
		}, 5},
		{"HalfRecord", func(t *testing.T, path string, _ int64) {
			if err := os.Truncate(path, recordsEnd(t, path)-10); err != nil {
				t.Fatal(err)
			}
		}, 4},
		{"HalfRecordBeforeZeros", func(t *testing.T, path string, lastPos int64) {
			// The last record's write reached the disk in part: its
			// header, and zeros where the rest of it was to go.
			end := recordsEnd(t, path)
			f, err := os.OpenFile(path, os.O_WRONLY, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if _, err := f.WriteAt(make([]byte, end-lastPos-8), lastPos+8); err != nil {
				t.Fatal(err)
			}
		}, 4},
		{"CRCMismatch", func(t *testing.T, path string, lastPos int64) {
			flipByte(t, path, lastPos+20)
		}, 4},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			l := openEmbedded(t, dir, events.EmbeddedOptions{})
			evs := appendEach(t, l, 4)
			path := lastSegment(t, dir)
			lastPos := recordsEnd(t, path)
			evs = append(evs, appendEach(t, l, 1)...)
			if err := l.Close(); err != nil {
				t.Fatalf("Close: %v", err)
			}
			tc.damage(t, path, lastPos)

			var logs bytes.Buffer
			l = openEmbedded(t, dir, events.EmbeddedOptions{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
			defer l.Close()
			if got := readAll(t, l); !reflect.DeepEqual(got, evs[:tc.keep]) {
				t.Errorf("after reopen read %d events, want the first %d of %d", len(got), tc.keep, len(evs))
			}
			if !strings.Contains(logs.String(), "truncated torn tail") {
				t.Errorf("reopen logged %q, want a warning about the truncated tail", logs.String())
			}
			more := appendEach(t, l, 2)
			if got, want := readAll(t, l), append(evs[:tc.keep:tc.keep], more...); !reflect.DeepEqual(got, want) {
				t.Errorf("after appends read %d events, want %d", len(got), len(want))
			}
			// A clean reopen finds nothing to truncate.
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			logs.Reset()
			l = openEmbedded(t, dir, events.EmbeddedOptions{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
			defer l.Close()
			if strings.Contains(logs.String(), "truncated") {
				t.Errorf("second reopen logged %q, want no truncation", logs.String())
			}
		})
	}
}

// TestEmbedded_ZeroTail: the current segment holds zeros ahead of its
// records, which a reopen takes for the end of the records (no torn tail)
// and the next appends overwrite; a sealed segment holds none.
func TestEmbedded_ZeroTail(t *testing.T) {
	dir := t.TempDir()
	opts := events.EmbeddedOptions{SegmentBytes: 8 << 10}
	l := openEmbedded(t, dir, opts)
	evs := appendEach(t, l, 3)
	path := lastSegment(t, dir)
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if end := recordsEnd(t, path); fi.Size() <= end {
		t.Errorf("segment of %d bytes with records up to %d: no zeros ahead", fi.Size(), end)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	l = openEmbedded(t, dir, events.EmbeddedOptions{SegmentBytes: opts.SegmentBytes, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	defer func() { l.Close() }()
	if strings.Contains(logs.String(), "truncated") {
		t.Errorf("reopen over zeros ahead logged %q, want no truncation", logs.String())
	}
	evs = append(evs, appendEach(t, l, 20)...)
	if got := readAll(t, l); !reflect.DeepEqual(got, evs) {
		t.Errorf("read %d events, want %d", len(got), len(evs))
	}
	segs, _ := filepath.Glob(filepath.Join(dir, "partition-0000", "*.log"))
	if len(segs) < 3 {
		t.Fatalf("%d segments, want several", len(segs))
	}
	for _, s := range segs[:len(segs)-1] {
		fi, err := os.Stat(s)
		if err != nil {
			t.Fatal(err)
		}
		if end := recordsEnd(t, s); fi.Size() != end {
			t.Errorf("sealed segment %s: %d bytes, its records end at %d", filepath.Base(s), fi.Size(), end)
		}
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l = openEmbedded(t, dir, opts)
	if got := readAll(t, l); !reflect.DeepEqual(got, evs) {
		t.Errorf("after reopen read %d events, want %d", len(got), len(evs))
	}
}

// recordsEnd is where the records of the segment at path end: before the
// zeros ahead of them (a record's last byte, its value's, is never zero).
func recordsEnd(t *testing.T, path string) int64 {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return int64(len(bytes.TrimRight(b, "\x00")))
}

// writeAtEnd writes b where the next record would go.
func writeAtEnd(t *testing.T, path string, b []byte) {
	t.Helper()
	end := recordsEnd(t, path)
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt(b, end); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

func appendFile(t *testing.T, path string, b []byte) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

func flipByte(t *testing.T, path string, pos int64) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b := make([]byte, 1)
	if _, err := f.ReadAt(b, pos); err != nil {
		t.Fatal(err)
	}
	b[0] ^= 0xff
	if _, err := f.WriteAt(b, pos); err != nil {
		t.Fatal(err)
	}
}

func TestEmbedded_CorruptSealedSegment(t *testing.T) {
	dir := t.TempDir()
	opts := events.EmbeddedOptions{SegmentBytes: 2 << 10}
	l := openEmbedded(t, dir, opts)
	appendEach(t, l, 20)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	segs, _ := filepath.Glob(filepath.Join(dir, "partition-0000", "*.log"))
	if len(segs) < 2 {
		t.Fatalf("%d segments after 20 appends of ~1 KiB with 2 KiB segments, want several", len(segs))
	}
	flipByte(t, segs[0], 30)
	if l, err := events.OpenEmbedded(dir, opts); !errors.Is(err, events.ErrCorrupt) {
		if err == nil {
			l.Close()
		}
		t.Fatalf("OpenEmbedded with a corrupt sealed segment = %v, want ErrCorrupt", err)
	}
}

func TestEmbedded_Segments(t *testing.T) {
	dir := t.TempDir()
	opts := events.EmbeddedOptions{SegmentBytes: 3 << 10}
	l := openEmbedded(t, dir, opts)
	defer func() { l.Close() }()
	evs := appendEach(t, l, 40)
	segs, _ := filepath.Glob(filepath.Join(dir, "partition-0000", "*.log"))
	if len(segs) < 5 {
		t.Errorf("%d segments, want at least 5", len(segs))
	}
	check := func(l events.Log) {
		t.Helper()
		for i := range evs {
			recs := readFrom(t, l, int64(i), 1)
			if !reflect.DeepEqual(recs[0].Event, evs[i]) || recs[0].Offset != int64(i) {
				t.Errorf("Read from %d = offset %d event %s, want event %s", i, recs[0].Offset, recs[0].Event.ID, evs[i].ID)
			}
		}
	}
	check(l)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l = openEmbedded(t, dir, opts)
	check(l)
}

func readFrom(t *testing.T, l events.Log, from int64, n int) []events.Record {
	t.Helper()
	stop := errors.New("stop")
	var recs []events.Record
	err := l.Read(t.Context(), 0, from, func(r events.Record) error {
		recs = append(recs, r)
		if len(recs) == n {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) {
		t.Fatalf("Read(from %d): %v", from, err)
	}
	return recs
}

func TestEmbedded_Lock(t *testing.T) {
	dir := t.TempDir()
	l := openEmbedded(t, dir, events.EmbeddedOptions{})
	if l2, err := events.OpenEmbedded(dir, events.EmbeddedOptions{}); !errors.Is(err, events.ErrLocked) {
		if err == nil {
			l2.Close()
		}
		t.Fatalf("second OpenEmbedded = %v, want ErrLocked", err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l = openEmbedded(t, dir, events.EmbeddedOptions{})
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestEmbedded_PartitionsAreFixed(t *testing.T) {
	dir := t.TempDir()
	l := openEmbedded(t, dir, events.EmbeddedOptions{Partitions: 4})
	l.Close()
	l = openEmbedded(t, dir, events.EmbeddedOptions{})
	if got := l.Partitions(); got != 4 {
		t.Errorf("Partitions() after reopen without the option = %d, want 4", got)
	}
	l.Close()
	if l, err := events.OpenEmbedded(dir, events.EmbeddedOptions{Partitions: 2}); err == nil {
		l.Close()
		t.Errorf("OpenEmbedded(Partitions: 2) of a 4-partition log = nil error, want an error")
	}
}

// TestEmbedded_GroupCommit checks that concurrent appends all succeed with
// distinct, dense offsets, whatever groups the committer forms.
func TestEmbedded_GroupCommit(t *testing.T) {
	l := openEmbedded(t, t.TempDir(), events.EmbeddedOptions{})
	defer l.Close()
	const n = 64
	offs := make([]int64, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			_, last, err := l.Append(t.Context(), []events.Event{eventstest.Event("acme", "User", "u", int64(i+1))})
			if err != nil {
				t.Errorf("Append: %v", err)
			}
			offs[i] = last
		})
	}
	wg.Wait()
	seen := make([]bool, n)
	for _, o := range offs {
		if o < 0 || o >= n || seen[o] {
			t.Fatalf("offsets %v are not a permutation of 0..%d", offs, n-1)
		}
		seen[o] = true
	}
}

// TestEmbedded_OneSyncPerGroup: an append is fsynced once however many
// events it holds, and a lone append is never left to share a later one.
func TestEmbedded_OneSyncPerGroup(t *testing.T) {
	l, err := events.OpenEmbedded(t.TempDir(), events.EmbeddedOptions{Partitions: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	ctx := context.Background()
	before := events.Syncs(l)
	batch := make([]events.Event, 100)
	for i := range batch {
		batch[i] = eventstest.Event("acme", "User", fmt.Sprintf("u%d", i), 1)
	}
	if _, _, err := l.Append(ctx, batch); err != nil {
		t.Fatal(err)
	}
	if got := events.Syncs(l) - before; got != 1 {
		t.Errorf("fsyncs for one append of 100 events = %d, want 1", got)
	}
	for i := range 3 {
		if _, _, err := l.Append(ctx, []events.Event{eventstest.Event("acme", "User", "u0", int64(i+2))}); err != nil {
			t.Fatal(err)
		}
	}
	if got := events.Syncs(l) - before; got != 4 {
		t.Errorf("fsyncs after 3 more appends one at a time = %d, want 4", got)
	}
}
