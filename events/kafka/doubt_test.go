package kafka

import (
	"context"
	"errors"
	"net"
	"slices"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/scim-bridge/scim-bridge/events"
	"github.com/scim-bridge/scim-bridge/events/eventstest"
	"github.com/scim-bridge/scim-bridge/events/kafka/tcpgate"
)

// openVia opens a Log whose every connection to Kafka goes through g
// (also those to the broker addresses the metadata names), so that g can
// hang the produce requests.
func openVia(t *testing.T, g *tcpgate.Gate, opts Options) *Log {
	t.Helper()
	opts.Registerer = prometheus.NewRegistry()
	l, err := newLog(opts)
	if err != nil {
		t.Fatal(err)
	}
	dial := &net.Dialer{Timeout: 5 * time.Second}
	l.transport.Dial = func(ctx context.Context, network, _ string) (net.Conn, error) {
		return dial.DialContext(ctx, network, g.Addr())
	}
	l.wg.Go(l.connect)
	t.Cleanup(func() { l.Close() })
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	if err := l.WaitConnected(ctx); err != nil {
		t.Fatalf("WaitConnected(topic %s): %v", opts.Topic, err)
	}
	return l
}

// readIDs returns the resource ids of the events of partition p up to
// offset last.
func readIDs(t *testing.T, l *Log, p int, last int64) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	var ids []string
	done := errors.New("done")
	err := l.Read(ctx, p, 0, func(r events.Record) error {
		ids = append(ids, r.Event.ResourceID)
		if r.Offset >= last {
			return done
		}
		return nil
	})
	if !errors.Is(err, done) {
		t.Fatalf("Read up to offset %d: %v (got %v)", last, err, ids)
	}
	return ids
}

// An Append whose context ends while its produce request is on a hung
// broker connection returns only once that attempt has ended, with its
// real outcome; one whose context ends while it is queued behind it is
// never written. So when Append returns, its records are in the log or
// never will be: the broker answering later changes nothing.
func TestLog_AppendInDoubt(t *testing.T) {
	brokers := testBrokers(t)
	g := tcpgate.New(t, brokers[0])
	g.Forward()
	opts := testOptions(t, brokers, 1)
	opts.AppendTimeout = 3 * time.Second
	l := openVia(t, g, opts)
	if _, _, err := l.Append(t.Context(), []events.Event{eventstest.Event("acme", "User", "u0", 1)}); err != nil {
		t.Fatalf("Append before the broker hangs: %v", err)
	}

	g.Hang()
	l.transport.CloseIdleConnections() // the next produce request dials, and hangs
	type result struct {
		last int64
		err  error
	}
	inFlight := make(chan result, 1)
	ctx0, cancel0 := context.WithCancel(t.Context())
	defer cancel0()
	go func() {
		_, last, err := l.Append(ctx0, []events.Event{eventstest.Event("acme", "User", "u1", 1)})
		inFlight <- result{last, err}
	}()
	time.Sleep(500 * time.Millisecond) // the produce loop takes it, and hangs

	ctx1, cancel1 := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel1()
	if _, _, err := l.Append(ctx1, []events.Event{eventstest.Event("acme", "User", "u2", 1)}); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Append queued behind a hung produce request, past its deadline = %v, want DeadlineExceeded", err)
	}

	cancel0()
	select {
	case r := <-inFlight:
		t.Errorf("Append whose produce request is in flight returned %d, %v as its context was cancelled, before the attempt ended", r.last, r.err)
		inFlight <- r
	case <-time.After(500 * time.Millisecond):
	}
	g.Forward() // the broker answers what reached it
	var first result
	select {
	case first = <-inFlight:
	case <-time.After(2*opts.AppendTimeout + 5*time.Second):
		t.Fatal("Append in flight did not return once its attempt could end")
	}
	_, last, err := l.Append(t.Context(), []events.Event{eventstest.Event("acme", "User", "u3", 1)})
	if err != nil {
		t.Fatalf("Append after the broker answers again: %v", err)
	}
	want := []string{"u0", "u3"}
	if first.err == nil {
		want = []string{"u0", "u1", "u3"}
	}
	if got := readIDs(t, l, 0, last); !slices.Equal(got, want) {
		t.Errorf("log holds %v, want %v (the in-flight Append returned %d, %v; the queued one timed out and must never be written)",
			got, want, first.last, first.err)
	}
}
