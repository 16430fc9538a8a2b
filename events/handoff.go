package events

import "sync/atomic"

// Handoff decides, once, between a log's writer taking an append into a
// write and the append's caller giving up on it while it waits in the
// queue, so that Append can keep its promise (Log.Append): a request given
// up before it was taken is never written, and one taken is answered with
// the outcome of its write. The zero value is a queued request.
type Handoff struct{ state atomic.Int32 }

const (
	handoffQueued    int32 = iota
	handoffTaken           // in a write: its Append waits for the outcome
	handoffAbandoned       // given up before it was taken: never written
)

// Take claims the request for a write; false when it was abandoned.
func (h *Handoff) Take() bool { return h.state.CompareAndSwap(handoffQueued, handoffTaken) }

// Abandon gives up on the request unless it was taken, and reports whether
// it is abandoned (then it is never written; else its outcome will come).
func (h *Handoff) Abandon() bool {
	h.state.CompareAndSwap(handoffQueued, handoffAbandoned)
	return h.state.Load() == handoffAbandoned
}
