package events

// Syncs returns how many times the committers of l have fsynced a segment
// since it was opened.
func Syncs(l *Embedded) int64 {
	var n int64
	for _, p := range l.parts {
		n += p.syncs.Load()
	}
	return n
}

// MaxGroup is how many appends a partition's queue holds.
const MaxGroup = maxGroup

// Queued returns how many appends wait in partition p's queue.
func Queued(l *Embedded, p int) int { return len(l.parts[p].reqs) }
