package events

// Fence is what a reader of one partition knows about its ownership at a
// point of the partition: the claim in force, the one that took effect
// last among the claims read so far. Its zero value, before any claim, is
// epoch 0: what a single writer that never claims writes under.
//
// The rule every reader applies — the projection, rebuild, and every
// consumer of the topic — reading a partition in offset order, starting
// with the zero Fence:
//
//   - a claim takes effect if its epoch is higher than the fence's, or
//     equal with the same owner (the same claim again, as a retried append
//     writes it); otherwise it is void. A claim is never applied as an
//     event.
//   - a write event is void if its epoch is lower than the fence's.
//     Events without an epoch (a single writer, logs written before
//     claims existed) have epoch 0, so no event is void in a partition
//     without claims.
//
// A void record changes nothing. The decision depends on the records of
// the partition before it only, so every reader decides the same, at any
// time and after any restart, as long as it keeps the fence with its
// position. A writer that appended an event learns whether it counts by
// reading it back: a void write did not happen.
type Fence struct {
	Epoch int64  // epoch of the claim in force; 0 before any claim
	Owner string // its owner; "" before any claim
}

// Voids reports whether ev, read right after the records that gave f, is
// void: its epoch is lower than the claim in force.
func (f Fence) Voids(ev *Event) bool { return ev.Epoch < f.Epoch }

// Claim returns the fence after claim c, read right after the records that
// gave f, and whether c took effect (false: c is void and f stays).
func (f Fence) Claim(c *Claim) (Fence, bool) {
	switch {
	case c.Epoch > f.Epoch:
		return Fence{Epoch: c.Epoch, Owner: c.Owner}, true
	case c.Epoch == f.Epoch && c.Owner == f.Owner:
		return f, true
	}
	return f, false
}
