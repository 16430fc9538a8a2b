package eventstest

import "sync"

// HeldCommitter stalls the committers of an embedded log, as a hung disk
// would: set BeforeWrite as events.EmbeddedOptions.BeforeWrite, and each
// group a committer takes waits there until Release. Entered receives a
// value each time a committer stops there.
type HeldCommitter struct {
	Entered chan struct{}
	gate    chan struct{}
	once    sync.Once
}

// NewHeldCommitter returns a HeldCommitter that holds until Release.
func NewHeldCommitter() *HeldCommitter {
	return &HeldCommitter{Entered: make(chan struct{}, 64), gate: make(chan struct{})}
}

// BeforeWrite is the hook: it waits until Release.
func (h *HeldCommitter) BeforeWrite(int) {
	h.Entered <- struct{}{}
	<-h.gate
}

// Release lets every held and later write through; it may be called more
// than once.
func (h *HeldCommitter) Release() { h.once.Do(func() { close(h.gate) }) }
