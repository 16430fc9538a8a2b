package projection

import (
	"encoding/binary"
	"fmt"
	"hash/maphash"
	"math/rand/v2"
	"sync"
	"sync/atomic"

	"github.com/dgraph-io/badger/v4"

	"github.com/scim-bridge/scim-bridge/events"
)

// userNameHints remembers, for `userName eq`, which user holds a folded
// userName: hash(tenant, folded userName) -> the holder's id, so that the
// plan can read the holder's record straight away instead of the
// userName's key first (D25, D30: that read was what a filter cost over a
// GET). A hint is only a candidate: the plan accepts it when the record,
// read in the list's own transaction, holds a userName that folds to the
// same value. Since the projection holds one user per folded userName in
// a tenant, that record is then the key's holder in that snapshot, and the
// answer is the one the key would have given. A userName that two users
// of a tenant held at once (a log the bridge did not write) is marked and
// never hinted again (dups), since the key names only one of them. So no
// write has to remove a hint: a stale one fails the check, and the plan
// falls back to the key and corrects it.
//
// The table has a fixed size, mapped outside the Go heap (hints_unix.go):
// the collector neither scans it nor counts it towards its goal, and the
// system backs a page of it only once a hint is written there. It is
// set-associative: a name hashes to a set of hintWays slots, each a
// 32-bit tag (the low half of the hash, never 0, 0 marking a free slot)
// and a 16-byte id; ids that are not canonical UUIDs (what the bridge
// gives) are not hinted. A put into a full set replaces a random slot:
// lookups write nothing (no state to age, no cache line bounced between
// readers), and with hashed names spread evenly over the sets, a hit is
// about as likely as under LRU, which would need a write on every read.
//
// Lookups take no lock: a slot is read word by word with atomic loads and
// its tag read again after the id; a torn read gives a wrong candidate at
// worst, which the check rejects. Puts take the lock of their set's
// stripe, so that a name is in at most one slot of its set.
type userNameHints struct {
	words []uint32 // sets × hintSetWords: hintWays tags, then hintWays ids of 4 words
	sets  uint64
	free  func() error // unmaps words

	seed maphash.Seed
	hash func(tenant, folded string) uint64 // tests force collisions; nil: maphash

	// ready is set once the scan of the userName index at open finished:
	// until then, lookups miss (the plan reads the key) so that a userName
	// two users held before the Store opened is known as such first.
	ready atomic.Bool

	locks [hintStripes]sync.Mutex

	dupMu sync.Mutex
	dups  atomic.Pointer[map[uint64]struct{}] // hashes of names never hinted; copied on write
}

const (
	hintWays     = 16
	hintSetWords = hintWays * 5 // a tag and four id words per way
	// HintSetBytes is the size of one set: the table holds
	// size/HintSetBytes sets.
	hintSetBytes = hintSetWords * 4
	hintStripes  = 64

	// defaultUserNameHintBytes holds a million users with about 0.4%
	// of them not fitting their set (1.68M slots in sets of 16).
	defaultUserNameHintBytes = 32 << 20
)

// newUserNameHints returns a table of size bytes (rounded down to whole
// sets), or nil, which hints nothing, when that is less than one set.
func newUserNameHints(size int64) (*userNameHints, error) {
	sets := uint64(size) / hintSetBytes
	if size <= 0 || sets == 0 {
		return nil, nil
	}
	words, free, err := mapWords(sets * hintSetWords)
	if err != nil {
		return nil, fmt.Errorf("userName hints of %d bytes: %w", size, err)
	}
	return &userNameHints{words: words, sets: sets, free: free, seed: maphash.MakeSeed()}, nil
}

// close releases the table; h must not be used afterwards.
func (h *userNameHints) close() error {
	if h == nil || h.free == nil {
		return nil
	}
	err := h.free()
	h.words, h.free = nil, nil
	return err
}

func (h *userNameHints) key(tenant, folded string) uint64 {
	if h.hash != nil {
		return h.hash(tenant, folded)
	}
	var m maphash.Hash
	m.SetSeed(h.seed)
	m.WriteString(tenant)
	m.WriteByte(0)
	m.WriteString(folded)
	return m.Sum64()
}

// set returns the index of the first word of k's set and k's tag.
func (h *userNameHints) set(k uint64) (base int, tag uint32) {
	s := (k >> 32) * h.sets >> 32 // the high half, scaled to the sets
	if h.sets > 1<<32 {
		s = (k >> 32) % h.sets
	}
	return int(s) * hintSetWords, uint32(k) | 1
}

func (h *userNameHints) dup(k uint64) bool {
	m := h.dups.Load()
	if m == nil {
		return false
	}
	_, ok := (*m)[k]
	return ok
}

// lookup returns the hinted holder of folded in tenant.
func (h *userNameHints) lookup(tenant, folded string) (string, bool) {
	if h == nil || folded == "" || !h.ready.Load() {
		return "", false
	}
	k := h.key(tenant, folded)
	if h.dup(k) {
		return "", false
	}
	base, tag := h.set(k)
	w := h.words
	for way := range hintWays {
		if atomic.LoadUint32(&w[base+way]) != tag {
			continue
		}
		var id [16]byte
		at := base + hintWays + way*4
		for i := range 4 {
			binary.LittleEndian.PutUint32(id[i*4:], atomic.LoadUint32(&w[at+i]))
		}
		if atomic.LoadUint32(&w[base+way]) != tag {
			return "", false // rewritten meanwhile
		}
		return events.FormatUUID(id), true
	}
	return "", false
}

// put hints that id holds folded in tenant.
func (h *userNameHints) put(tenant, folded, id string) {
	if h == nil || folded == "" {
		return
	}
	u, ok := events.ParseUUID(id) // ids of another form are not hinted
	if !ok {
		return
	}
	base, tag := h.set(h.key(tenant, folded))
	mu := &h.locks[(base/hintSetWords)%hintStripes]
	mu.Lock()
	defer mu.Unlock()
	w := h.words
	way, free := -1, -1
	for i := range hintWays {
		switch atomic.LoadUint32(&w[base+i]) {
		case tag:
			way = i
		case 0:
			if free < 0 {
				free = i
			}
		}
		if way >= 0 {
			break
		}
	}
	switch {
	case way >= 0:
	case free >= 0:
		way = free
	default:
		way = rand.IntN(hintWays)
	}
	atomic.StoreUint32(&w[base+way], 0) // readers skip the slot while its id changes
	at := base + hintWays + way*4
	for i := range 4 {
		atomic.StoreUint32(&w[at+i], binary.LittleEndian.Uint32(u[i*4:]))
	}
	atomic.StoreUint32(&w[base+way], tag)
}

// markDup records that two users of tenant hold folded: it is never hinted
// again (until the Store is opened anew, when the scan finds whether they
// still do).
func (h *userNameHints) markDup(tenant, folded string) {
	if h == nil || folded == "" {
		return
	}
	k := h.key(tenant, folded)
	if h.dup(k) {
		return
	}
	h.dupMu.Lock()
	defer h.dupMu.Unlock()
	next := map[uint64]struct{}{k: {}}
	if m := h.dups.Load(); m != nil {
		for d := range *m {
			next[d] = struct{}{}
		}
	}
	h.dups.Store(&next)
}

// hintKey hints the holder of the userName key item (t str(tenant) n
// str(folded) -> holders; rest is the key from its namespace byte on) or,
// when two users hold it, marks it so; it reports whether it hinted. The
// scan at open (Store.startScan) calls it for every such key in one
// snapshot, then lets lookups use the table.
func (h *userNameHints) hintKey(t string, rest []byte, item *badger.Item) (hinted bool, err error) {
	name, rest, ok := readStr(rest[1:])
	if !ok || len(rest) != 0 {
		return false, nil
	}
	err = item.Value(func(v []byte) error {
		holders, err := decodeUserNameHolders(v)
		switch {
		case err != nil:
			return nil // not hinted: the plan reads the key, and fails there
		case len(holders) > 1:
			h.markDup(t, name)
		default:
			h.put(t, name, holders[0])
			hinted = true
		}
		return nil
	})
	return hinted, err
}
