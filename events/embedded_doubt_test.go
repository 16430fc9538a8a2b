package events_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/scim-bridge/scim-bridge/events"
	"github.com/scim-bridge/scim-bridge/events/eventstest"
)

type appendResult struct {
	last int64
	err  error
}

func appendAsync(l events.Log, ctx context.Context, e events.Event) chan appendResult {
	ch := make(chan appendResult, 1)
	go func() {
		_, last, err := l.Append(ctx, []events.Event{e})
		ch <- appendResult{last, err}
	}()
	return ch
}

// openHeld opens an embedded log whose committer h holds each write until
// released; h is released before the log closes.
func openHeld(t *testing.T) (*events.Embedded, *eventstest.HeldCommitter) {
	t.Helper()
	h := eventstest.NewHeldCommitter()
	l := openEmbedded(t, t.TempDir(), events.EmbeddedOptions{BeforeWrite: h.BeforeWrite})
	t.Cleanup(func() { l.Close() })
	t.Cleanup(h.Release) // before Close, which waits for the committer
	return l, h
}

// An Append whose context ends while it is queued behind a stalled
// committer fails and is never written; one the committer had already
// taken returns only with the outcome of its write. Either way, when
// Append returns, its records are in the log or never will be.
func TestEmbedded_AppendInDoubt(t *testing.T) {
	t.Run("Queued", func(t *testing.T) {
		l, h := openHeld(t)
		first := appendAsync(l, t.Context(), eventstest.Event("acme", "User", "u1", 1))
		<-h.Entered // the committer holds the first append

		ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
		defer cancel()
		_, _, err := l.Append(ctx, []events.Event{eventstest.Event("acme", "User", "u2", 1)})
		if !errors.Is(err, events.ErrUnavailable) || !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Append queued past its deadline = %v, want ErrUnavailable and DeadlineExceeded", err)
		}
		third := appendAsync(l, t.Context(), eventstest.Event("acme", "User", "u3", 1))
		h.Release()
		if r := <-first; r.err != nil || r.last != 0 {
			t.Errorf("first Append = %d, %v; want 0, nil", r.last, r.err)
		}
		if r := <-third; r.err != nil || r.last != 1 {
			t.Errorf("third Append = %d, %v; want 1, nil (right after the first: the timed-out one was dropped)", r.last, r.err)
		}
		var ids []string
		for _, e := range readAll(t, l) {
			ids = append(ids, e.ResourceID)
		}
		if len(ids) != 2 || ids[0] != "u1" || ids[1] != "u3" {
			t.Errorf("log holds %v, want [u1 u3]: the timed-out append must never be written", ids)
		}
	})
	t.Run("QueueFull", func(t *testing.T) {
		l, h := openHeld(t)
		first := appendAsync(l, t.Context(), eventstest.Event("acme", "User", "u0", 1))
		<-h.Entered // the committer holds the first append
		queued := make([]chan appendResult, events.MaxGroup)
		for i := range queued {
			queued[i] = appendAsync(l, t.Context(), eventstest.Event("acme", "User", fmt.Sprintf("q%d", i), 1))
		}
		for events.Queued(l, 0) < events.MaxGroup {
			time.Sleep(time.Millisecond)
		}

		ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
		defer cancel()
		_, _, err := l.Append(ctx, []events.Event{eventstest.Event("acme", "User", "late", 1)})
		if !errors.Is(err, events.ErrUnavailable) || !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Append behind a full queue past its deadline = %v, want ErrUnavailable and DeadlineExceeded", err)
		}
		h.Release()
		if r := <-first; r.err != nil {
			t.Fatalf("first Append: %v", r.err)
		}
		for i, ch := range queued {
			if r := <-ch; r.err != nil {
				t.Fatalf("queued Append %d: %v", i, r.err)
			}
		}
		for _, e := range readAll(t, l) {
			if e.ResourceID == "late" {
				t.Fatal("the Append that timed out before it was queued was written")
			}
		}
	})
	t.Run("Taken", func(t *testing.T) {
		l, h := openHeld(t)
		ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
		defer cancel()
		res := appendAsync(l, ctx, eventstest.Event("acme", "User", "u1", 1))
		<-h.Entered // taken by the committer, which stalls
		<-ctx.Done()
		select {
		case r := <-res:
			t.Fatalf("Append taken by a stalled committer returned %d, %v once its context ended, before its write did", r.last, r.err)
		case <-time.After(300 * time.Millisecond):
		}
		h.Release()
		if r := <-res; r.err != nil || r.last != 0 {
			t.Errorf("Append taken by the committer = %d, %v; want its real outcome 0, nil", r.last, r.err)
		}
		end, err := l.End(t.Context())
		if err != nil || len(end) != 1 || end[0] != 1 {
			t.Errorf("End after the late Append = %v, %v; want [1]", end, err)
		}
	})
}
