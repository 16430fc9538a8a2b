package projection

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"testing"

	"github.com/scim-bridge/scim-bridge/events"
	"github.com/scim-bridge/scim-bridge/internal/testutil"
	"github.com/scim-bridge/scim-bridge/projection/view"
)

func TestStore_Run(t *testing.T) {
	ctx := context.Background()
	log, err := events.OpenEmbedded(t.TempDir(), events.EmbeddedOptions{Partitions: 3, Logger: testutil.Logger(t, slog.LevelWarn)})
	if err != nil {
		t.Fatalf("OpenEmbedded() = %v", err)
	}
	t.Cleanup(func() { log.Close() })
	tenants := []string{"acme", "globex", "initech", "umbrella"}
	f := newFeed()
	for i, tenant := range tenants {
		f.userCreated(tenant, fmt.Sprintf("u%d", i), "alice")
		f.groupCreated(tenant, "g1", "Admins")
		f.addMembers(tenant, "g1", fmt.Sprintf("u%d", i))
	}
	appendAll := func(recs []events.Record) (last map[int]int64) {
		t.Helper()
		last = make(map[int]int64)
		for _, rec := range recs {
			p, off, err := log.Append(ctx, []events.Event{rec.Event})
			if err != nil {
				t.Fatalf("Append() = %v", err)
			}
			last[p] = off
		}
		return last
	}
	last := appendAll(f.recs)

	s := openMem(t, Options{})
	if s.CaughtUp() {
		t.Errorf("CaughtUp() before Run = true, want false")
	}
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- s.Run(runCtx, log) }()
	for p, off := range last {
		if err := s.WaitApplied(ctx, p, off); err != nil {
			t.Fatalf("WaitApplied(%d, %d) = %v", p, off, err)
		}
	}
	if !s.CaughtUp() {
		t.Errorf("CaughtUp() after applying the records present at start = false, want true")
	}
	if err := s.WaitCaughtUp(ctx); err != nil {
		t.Errorf("WaitCaughtUp() = %v", err)
	}
	for i, tenant := range tenants {
		if !s.Members(ctx, tenant, "g1").Contains(fmt.Sprintf("u%d", i)) {
			t.Errorf("Members(%s, g1).Contains(u%d) = false, want true", tenant, i)
		}
	}

	// Records appended while running are applied too.
	g := newFeed()
	g.userCreated("acme", "late", "late")
	for p, off := range appendAll(g.recs) {
		if err := s.WaitApplied(ctx, p, off); err != nil {
			t.Fatalf("WaitApplied(%d, %d) = %v", p, off, err)
		}
	}
	if _, err := s.Get(ctx, "acme", "User", "late", view.GetOptions{}); err != nil {
		t.Errorf("Get(late) = %v", err)
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("Run() after cancel = %v, want context.Canceled", err)
	}

	// Run again resumes at the applied positions: nothing is applied twice
	// (a replay would not change bytes, but would count).
	before := export(t, s)
	runCtx, cancel = context.WithCancel(ctx)
	go func() { done <- s.Run(runCtx, log) }()
	h := newFeed()
	h.userCreated("globex", "later", "later")
	for p, off := range appendAll(h.recs) {
		if err := s.WaitApplied(ctx, p, off); err != nil {
			t.Fatalf("WaitApplied(%d, %d) = %v", p, off, err)
		}
	}
	cancel()
	<-done
	if got := counterValue(t, s.m.skipped.WithLabelValues(reasonReplay)); got != 0 {
		t.Errorf("replayed records = %v, want 0", got)
	}
	if got := len(export(t, s)) - len(before); got <= 0 {
		t.Errorf("Export() grew by %d keys after the second Run, want > 0", got)
	}
}

// failingLog fails Read on one partition.
type failingLog struct {
	events.Log
	fail int
	err  error
}

func (l failingLog) Partitions() int                          { return 2 }
func (l failingLog) End(ctx context.Context) ([]int64, error) { return []int64{0, 0}, nil }
func (l failingLog) Read(ctx context.Context, p int, from int64, fn func(events.Record) error) error {
	if p == l.fail {
		return l.err
	}
	<-ctx.Done()
	return ctx.Err()
}

func TestStore_RunError(t *testing.T) {
	s := openMem(t, Options{})
	boom := errors.New("boom")
	err := s.Run(context.Background(), failingLog{fail: 1, err: boom})
	if !errors.Is(err, boom) {
		t.Errorf("Run() = %v, want an error wrapping %v", err, boom)
	}
}

func TestStore_WaitCaughtUp(t *testing.T) {
	ctx := context.Background()
	log, err := events.OpenEmbedded(t.TempDir(), events.EmbeddedOptions{Partitions: 2, Logger: testutil.Logger(t, slog.LevelWarn)})
	if err != nil {
		t.Fatalf("OpenEmbedded() = %v", err)
	}
	t.Cleanup(func() { log.Close() })
	f := newFeed()
	for i := range 20 {
		f.userCreated("acme", fmt.Sprintf("u%02d", i), fmt.Sprintf("user%d", i))
	}
	for _, rec := range f.recs {
		if _, _, err := log.Append(ctx, []events.Event{rec.Event}); err != nil {
			t.Fatalf("Append() = %v", err)
		}
	}
	s := openMem(t, Options{})
	waitCtx, cancelWait := context.WithCancel(ctx)
	cancelWait()
	if err := s.WaitCaughtUp(waitCtx); !errors.Is(err, context.Canceled) {
		t.Errorf("WaitCaughtUp(cancelled, no Run) = %v, want context.Canceled", err)
	}
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- s.Run(runCtx, log) }()
	if err := s.WaitCaughtUp(ctx); err != nil {
		t.Fatalf("WaitCaughtUp() = %v", err)
	}
	p, err := s.List(ctx, "acme", "User", view.Query{})
	if err != nil || p.Total != 20 {
		t.Errorf("List() after WaitCaughtUp = total %d, %v, want 20", p.Total, err)
	}
	cancel()
	<-done
}

// runBackground runs s.Run(ctx, log) in a goroutine until the returned
// stop is called, which cancels it and reports an error unless Run
// returned context.Canceled.
func runBackground(ctx context.Context, t *testing.T, s *Store, log events.Log) (stop func()) {
	t.Helper()
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- s.Run(runCtx, log) }()
	return func() {
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Errorf("Run() = %v, want context.Canceled", err)
		}
	}
}
