package projection

import (
	"context"
	"sync"

	"github.com/dgraph-io/badger/v4"

	"github.com/scim-bridge/scim-bridge/projection/view"
)

// The written window. A write is answered with its resource as it left it
// (the bridge reads it back once its last event is applied). Reading it
// from Badger, a moment after the applier wrote it, was a read
// transaction and a point read per write; the applier holds the stored
// JSON when it commits, so it keeps the resource each of its last records
// wrote, by the record's position, and Written answers from there (D42).
// Records applied in Badger transactions (Run, alone or in batches, and
// Apply) are kept, never a bulk replay's. What is kept is what the record
// wrote, not what a later record of the same resource wrote over it.

const (
	windowRecords = 1024 // records the window holds, the oldest dropped first

	// windowBytes bounds the resources' JSON the window holds; a
	// resource larger than windowResourceBytes is not kept (its writer
	// reads it back).
	windowBytes         = 4 << 20
	windowResourceBytes = 64 << 10
)

// written is what one applied record wrote: resource id of the tenant as
// stored (st holds Type, Raw and the record's metadata; Resource is nil).
type written struct {
	at     writtenAt
	tenant string
	id     string
	st     view.Stored
}

// writtenAt is a record's position in the log.
type writtenAt struct {
	p   int
	off int64
}

// writtenWindow holds the last windowRecords records' written resources.
type writtenWindow struct {
	mu    sync.Mutex
	ring  [windowRecords]written
	head  int // index of the oldest
	n     int
	bytes int
	at    map[writtenAt]int // position -> index in ring
}

func newWrittenWindow() *writtenWindow {
	return &writtenWindow{at: make(map[writtenAt]int, windowRecords)}
}

// add keeps ws, dropping the oldest records as needed.
func (w *writtenWindow) add(ws []written) {
	if len(ws) == 0 {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, e := range ws {
		for w.n > 0 && (w.n == windowRecords || w.bytes+len(e.st.Raw) > windowBytes) {
			w.dropOldest()
		}
		i := (w.head + w.n) % windowRecords
		w.ring[i] = e
		w.n++
		w.bytes += len(e.st.Raw)
		w.at[e.at] = i
	}
}

func (w *writtenWindow) dropOldest() {
	old := &w.ring[w.head]
	if i, ok := w.at[old.at]; ok && i == w.head {
		delete(w.at, old.at)
	}
	w.bytes -= len(old.st.Raw)
	*old = written{}
	w.head = (w.head + 1) % windowRecords
	w.n--
}

// get returns what the record at p/off wrote.
func (w *writtenWindow) get(p int, off int64) (written, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	i, ok := w.at[writtenAt{p, off}]
	if !ok {
		return written{}, false
	}
	return w.ring[i], true
}

// reset forgets everything: the projection was emptied.
func (w *writtenWindow) reset() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.ring = [windowRecords]written{}
	w.head, w.n, w.bytes = 0, 0, 0
	clear(w.at)
}

// keepPut notes, in t, the resource putRecord stores for the record
// being applied: v is its record as encoded, end where its resource ends
// in v (encodeRecordAt). A record written as encoding/json writes it, or
// whose resource is not an object (which Get decodes whole), is not
// kept, nor is a large one.
func (t *writeTxn) keepPut(tenant, typ, id string, next *record, v []byte, end int) {
	start := len(recordStart)
	if !t.keep || end <= start || v[start] != '{' || end-start > windowResourceBytes {
		return
	}
	t.put = &written{tenant: tenant, id: id, st: view.Stored{Type: typ, Version: next.Version,
		Created: next.Created, LastModified: next.LastModified, RequestDigest: next.RequestDigest,
		Raw: string(v[start:end])}}
}

// keepApplied files what the record at p/off, just applied into t, wrote
// (keepPut), to be kept once t commits.
func (t *writeTxn) keepApplied(p int, off int64) {
	if t.put == nil {
		return
	}
	e := *t.put
	t.put = nil
	e.at = writtenAt{p, off}
	t.kept = append(t.kept, e)
}

// Written returns the tenant's resource id of resourceType as the record
// at offset off of partition p wrote it, loaded as Get loads it with o,
// when the Store still holds what that record wrote (found is false
// otherwise: read it with Get). That is the record as Get read it right
// after the record applied, with its derived attributes (a group's
// members, a user's groups) read now, as Get reads them. It needs o.Raw:
// without it, found is false.
func (s *Store) Written(ctx context.Context, p int, off int64, tenant, resourceType, id string, o view.GetOptions) (st view.Stored, found bool, err error) {
	if err := ctx.Err(); err != nil {
		return view.Stored{}, false, err
	}
	if !o.Raw {
		return view.Stored{}, false, nil
	}
	e, ok := s.written.get(p, off)
	if !ok || e.tenant != tenant || e.id != id || e.st.Type != canonicalType(resourceType) {
		return view.Stored{}, false, nil
	}
	st = e.st
	if st.Type == typeUser && o.Groups && !s.filter.mayHave(groupCountKey(tenant, id)) {
		return st, true, nil // in no group: attach would read the key and add nothing
	}
	if st.Type == typeGroup && o.Members || st.Type == typeUser && o.Groups {
		err = s.db.View(func(txn *badger.Txn) error { return attach(ctx, txn, tenant, id, &st, o) })
		if err != nil {
			return view.Stored{}, false, err
		}
	}
	return st, true, nil
}
