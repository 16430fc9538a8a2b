package bridge_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/scim-bridge/scim-bridge/bridge"
	"github.com/scim-bridge/scim-bridge/events"
	"github.com/scim-bridge/scim-bridge/events/eventstest"
	"github.com/scim-bridge/scim-bridge/schemas"
)

// appendSpy reports the tenant of every Append before it is made.
type appendSpy struct {
	events.Log
	calls chan string
}

func (l *appendSpy) Append(ctx context.Context, evs []events.Event) (int, int64, error) {
	l.calls <- evs[0].Tenant
	return l.Log.Append(ctx, evs)
}

// nthAppend returns a channel closed once the n-th Append of tenant is
// made.
func (l *appendSpy) nthAppend(tenant string, n int) <-chan struct{} {
	done := make(chan struct{})
	go func() {
		for tn := range l.calls {
			if tn == tenant {
				if n--; n == 0 {
					close(done)
					return
				}
			}
		}
	}()
	return done
}

// usersNamed counts the user.created events of userName in the test
// tenant's log.
func (e *env) usersNamed(t *testing.T, userName string) int {
	t.Helper()
	n := 0
	for _, ev := range e.logEvents(t) {
		if ev.Type == events.UserCreated && ev.Resource["userName"] == userName {
			n++
		}
	}
	return n
}

// A POST that times out on a stalled log, then another POST of the same
// userName, then the first one's retry: one user gets the userName, and of
// the second POST and the retry exactly one succeeds; never two users with
// one userName, both acknowledged. The first POST's append either was
// still queued in the log when it timed out (the log drops it) or was
// being written (its Append returns once the write is done, and the next
// batch is planned against it).
func TestBridge_TimedOutAppendNotInDoubt(t *testing.T) {
	ctx := context.Background()
	const name = "x@example.com"
	first := userBody(name)
	second := []byte(`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"` + name + `","displayName":"Another"}`)
	for _, taken := range []bool{false, true} {
		t.Run(map[bool]string{false: "Queued", true: "Taken"}[taken], func(t *testing.T) {
			h := eventstest.NewHeldCommitter()
			spy := &appendSpy{calls: make(chan string, 64)}
			e := newEnvEmbedded(t, events.EmbeddedOptions{BeforeWrite: h.BeforeWrite}, bridge.Options{AppendTimeout: testAppendTimeout},
				func(l events.Log) events.Log { spy.Log = l; return spy }, nil, nil)
			t.Cleanup(h.Release) // before the log's Close, which waits for the committer

			if !taken {
				// Another tenant's write holds the committer; the first
				// POST's append queues behind it.
				go e.b.Create(ctx, request{Tenant: "other", RequestID: "o1"}, e.users, userBody("holder@example.com"))
				<-h.Entered
			}
			firstRes := make(chan error, 1)
			go func() {
				_, err := e.b.Create(ctx, req, e.users, first)
				firstRes <- err
			}()
			if taken {
				<-h.Entered // the first POST's append is being written, stalled
			}
			if err := <-firstRes; schemas.KindOf(err) != schemas.KindUnavailable {
				t.Fatalf("first Create on the stalled log = %v, want KindUnavailable", err)
			}

			secondRes := make(chan error, 1)
			planned := spy.nthAppend(req.Tenant, 2)
			go func() {
				_, err := e.b.Create(ctx, request{Tenant: req.Tenant, RequestID: "r2"}, e.users, second)
				secondRes <- err
			}()
			// Let the second POST reach the log if it is planned before
			// the first one's append is settled (the failure this test
			// provokes), then let the log go on.
			select {
			case <-planned:
			case <-time.After(testAppendTimeout):
			}
			h.Release()
			errSecond := <-secondRes
			_, errRetry := e.b.Create(ctx, req, e.users, first)
			e.caughtUp(t)

			if n := e.usersNamed(t, name); n != 1 {
				t.Errorf("user.created events of userName %s = %d, want 1", name, n)
			}
			if errSecond == nil && errRetry == nil {
				t.Fatalf("second POST and the first one's retry both succeeded: two users acknowledged with userName %s", name)
			}
			for what, err := range map[string]error{"second POST": errSecond, "retry of the first": errRetry} {
				if k := schemas.KindOf(err); err != nil && k != schemas.KindUniqueness && k != schemas.KindUnavailable {
					t.Errorf("%s = %v, want success, KindUniqueness or KindUnavailable", what, err)
				}
			}
			if errSecond != nil && errRetry != nil {
				t.Errorf("second POST = %v and retry of the first = %v: want one of them to succeed", errSecond, errRetry)
			}
		})
	}
}

// staleEndLog is a log whose Append of the test tenant, while lose is set,
// first lets another tenant's barrier start an end query (which reads the
// end before the append and is then held until endGate), then writes and
// fails (an acknowledgement lost after the records were written).
type staleEndLog struct {
	events.Log
	other      func() // starts another tenant's write, whose barrier asks End
	mu         sync.Mutex
	lose       bool
	holdEnd    bool // set by the losing Append: End queries are held
	endEntered chan struct{}
	endGate    chan struct{}
	appends    chan string
}

func (l *staleEndLog) Append(ctx context.Context, evs []events.Event) (int, int64, error) {
	l.appends <- evs[0].Tenant
	l.mu.Lock()
	lose := l.lose && evs[0].Tenant == req.Tenant
	l.mu.Unlock()
	if !lose {
		return l.Log.Append(ctx, evs)
	}
	l.mu.Lock()
	l.holdEnd = true
	l.mu.Unlock()
	go l.other()
	<-l.endEntered // an end query read the end before this append
	p, _, err := l.Log.Append(ctx, evs)
	if err != nil {
		return p, 0, err
	}
	return p, 0, fmt.Errorf("no acknowledgement: %w", events.ErrUnavailable)
}

func (l *staleEndLog) End(ctx context.Context) ([]int64, error) {
	l.mu.Lock()
	hold := l.holdEnd
	l.mu.Unlock()
	end, err := l.Log.End(ctx)
	if hold {
		select {
		case l.endEntered <- struct{}{}:
		default:
		}
		select {
		case <-l.endGate:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	return end, err
}

// heldRead is a log whose Read does not pass on the test tenant's records
// until release: a projection that has not applied them yet.
type heldRead struct {
	events.Log
	gate chan struct{}
	once sync.Once
}

func (l *heldRead) Read(ctx context.Context, p int, from int64, fn func(events.Record) error) error {
	return l.Log.Read(ctx, p, from, func(r events.Record) error {
		if r.Event.Tenant == req.Tenant {
			select {
			case <-l.gate:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		return fn(r)
	})
}

func (l *heldRead) release() { l.once.Do(func() { close(l.gate) }) }

// After an Append that failed but whose records are in the log, the next
// batch of the tenant waits for them to be applied before it is planned,
// even when an end query that read the log's end before them was in
// flight as the Append returned: its barrier asks for a later one.
func TestBridge_BarrierAfterFailedAppendAsksAfresh(t *testing.T) {
	ctx := context.Background()
	const name = "x@example.com"
	first := userBody(name)
	second := []byte(`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"` + name + `","displayName":"Another"}`)
	sl := &staleEndLog{endEntered: make(chan struct{}, 1), endGate: make(chan struct{}), appends: make(chan string, 64)}
	hr := &heldRead{gate: make(chan struct{})}
	e := newEnvProjecting(t, bridge.Options{AppendTimeout: testAppendTimeout},
		func(l events.Log) events.Log { sl.Log = l; return sl }, nil,
		func(l events.Log) events.Log { hr.Log = l; return hr })
	t.Cleanup(hr.release)
	var endOnce sync.Once
	releaseEnd := func() {
		endOnce.Do(func() {
			sl.mu.Lock()
			sl.holdEnd = false
			sl.mu.Unlock()
			close(sl.endGate)
		})
	}
	t.Cleanup(releaseEnd)
	sl.other = func() {
		e.b.Create(ctx, request{Tenant: "other", RequestID: "o1"}, e.users, userBody("other@example.com"))
	}

	sl.mu.Lock()
	sl.lose = true
	sl.mu.Unlock()
	if _, err := e.b.Create(ctx, req, e.users, first); schemas.KindOf(err) != schemas.KindUnavailable {
		t.Fatalf("Create whose acknowledgement is lost = %v, want KindUnavailable", err)
	}
	sl.mu.Lock()
	sl.lose = false
	sl.mu.Unlock()
	for drained := false; !drained; { // the first POST's append
		select {
		case <-sl.appends:
		default:
			drained = true
		}
	}

	secondRes := make(chan error, 1)
	go func() {
		_, err := e.b.Create(ctx, request{Tenant: req.Tenant, RequestID: "r2"}, e.users, second)
		secondRes <- err
	}()
	time.Sleep(100 * time.Millisecond) // let its barrier find the end query held in flight
	releaseEnd()
	// If it is planned without the first POST applied, it reaches the log
	// now; else it waits in its barrier for the projection.
	appended := make(chan struct{})
	go func() {
		for tn := range sl.appends {
			if tn == req.Tenant {
				close(appended)
				return
			}
		}
	}()
	select {
	case <-appended:
	case <-time.After(testAppendTimeout):
	}
	hr.release()
	errSecond := <-secondRes
	e.caughtUp(t)
	if n := e.usersNamed(t, name); n != 1 {
		t.Errorf("user.created events of userName %s = %d, want 1 (the second POST was planned without the first, which was in the log)", name, n)
	}
	if k := schemas.KindOf(errSecond); errSecond == nil || (k != schemas.KindUniqueness && k != schemas.KindUnavailable) {
		t.Errorf("second POST = %v, want KindUniqueness or KindUnavailable: the userName is the first POST's", errSecond)
	}
}
