package projection

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"hash/maphash"
	"math/bits"
	"slices"
	"sort"
	"sync/atomic"
)

// overlay is the bulk engine's in-memory table (bulk_kv.go): an
// append-only arena of entries and an open-addressing hash index of the
// newest entry of each key, both free of pointers, so the garbage
// collector never scans them. A point read is a probe of the index (whose
// slots carry part of the key's hash, so a probe reads the arena only on a
// likely match) and one key comparison; an insert appends the entry and
// sets its slot. Key order is built only when it is needed: a frozen
// overlay is sorted once to be spilled (sortByKey), the last one once for
// the final merge.
//
// Prefix scans of the apply (keysUnder) read the two namespaces whose
// keys are a prefix plus one id component: a member's groups and a
// group's members. Each entry of those
// namespaces is chained, newest first, from a bucket of the hash of its
// prefix (the key without its last component), so such a scan reads its
// chain, keeps the entries that are under the prefix and still their key's
// newest, and sorts them. Any other prefix (none in the apply path) reads
// every entry: correct, and slow.
//
// One goroutine writes (the committer), any number read: an entry is
// written before the atomic store that publishes it in its slot and its
// chain, and readers load those atomically, so what a reader finds is
// complete. The arena never moves or grows; an overlay is reused once its
// spill is done, when no reader can hold it (bulkKV.mu).
type overlay struct {
	arena     []byte
	used      int64        // bytes of arena written; the writer's alone
	published atomic.Int64 // bytes of arena a reader may walk (publish)
	slots     []uint64     // 0, or the key hash's top bits << overlayOffBits | (entry offset + 1)
	heads     []uint64     // chain heads by prefix hash: 0, or the newest entry's offset + 1
	seed      maphash.Seed

	count    int // slots in use; the writer's alone
	maxCount int // slots in use at most (the index's load limit)
}

const (
	// An entry: u32 key length, u32 value length << 1 | deleted,
	// u64 the previous entry of its chain (offset + 1, 0 for none or
	// no chain), the key, the value.
	overlayHeader  = 16
	overlayOffBits = 40 // arena offsets below 1 TiB
	overlayOffMask = 1<<overlayOffBits - 1
)

// newOverlay returns an overlay of arena bytes whose index holds at least
// entries keys.
func newOverlay(arena int64, entries int, seed maphash.Seed) *overlay {
	arena = min(arena, overlayOffMask-1)
	// At most three quarters full, so that a probe ends soon.
	nslots := 1 << bits.Len(uint(entries*4/3+1))
	return &overlay{
		arena:    make([]byte, arena),
		slots:    make([]uint64, nslots),
		heads:    make([]uint64, max(1024, nslots/4)),
		seed:     seed,
		maxCount: nslots * 3 / 4,
	}
}

// reset empties o for reuse; no reader may hold it.
func (o *overlay) reset() {
	clear(o.slots)
	clear(o.heads)
	o.used = 0
	o.published.Store(0)
	o.count = 0
}

// fits reports whether entries more entries of size bytes of keys and
// values fit.
func (o *overlay) fits(entries int, size int64) bool {
	return o.count+entries <= o.maxCount &&
		o.used+size+int64(entries)*overlayHeader <= int64(len(o.arena))
}

func (o *overlay) empty() bool { return o.used == 0 }

// publish lets readers walk every entry put so far (a scan of a prefix no
// chain serves). Entries are found by their slots as soon as they are put;
// publishing the bound once per transaction spares put an atomic store.
func (o *overlay) publish() { o.published.Store(o.used) }

// warm reads the slots that keys of hashes hs probe first, so that the
// cache misses of a run of puts overlap rather than come one by one.
func (o *overlay) warm(hs func(i int) uint64, n int) (sum uint64) {
	mask := uint64(len(o.slots) - 1)
	for i := range n {
		sum += o.slots[hs(i)&mask]
	}
	return sum
}

// entry decodes the entry at off.
func (o *overlay) entry(off int64) (key, value []byte, del bool) {
	b := o.arena[off:]
	kl := int64(binary.LittleEndian.Uint32(b))
	vl := int64(binary.LittleEndian.Uint32(b[4:]))
	k := overlayHeader + kl
	end := k + vl>>1
	return b[overlayHeader:k:k], b[k:end:end], vl&1 != 0
}

func (o *overlay) key(off int64) []byte {
	b := o.arena[off:]
	kl := int64(binary.LittleEndian.Uint32(b))
	return b[overlayHeader : overlayHeader+kl]
}

func (o *overlay) entrySize(off int64) int64 {
	b := o.arena[off:]
	return overlayHeader + int64(binary.LittleEndian.Uint32(b)) + int64(binary.LittleEndian.Uint32(b[4:])>>1)
}

// find returns the offset of key's newest entry, -1 when it has none; h
// is the key's hash (o.seed).
func (o *overlay) find(key []byte, h uint64) int64 {
	mask := uint64(len(o.slots) - 1)
	tag := h >> overlayOffBits
	for i := h & mask; ; i = (i + 1) & mask {
		s := atomic.LoadUint64(&o.slots[i])
		if s == 0 {
			return -1
		}
		if s>>overlayOffBits == tag {
			if off := int64(s&overlayOffMask) - 1; bytes.Equal(o.key(off), key) {
				return off
			}
		}
	}
}

// put appends an entry and publishes it as key's newest; h is the key's
// hash. The caller has checked that it fits. The writer's alone.
func (o *overlay) put(key, value []byte, del bool, h uint64) {
	off := o.used
	n := overlayHeader + int64(len(key)+len(value))
	b := o.arena[off : off+n]
	binary.LittleEndian.PutUint32(b, uint32(len(key)))
	vl := uint32(len(value)) << 1
	if del {
		vl |= 1
	}
	binary.LittleEndian.PutUint32(b[4:], vl)
	head := -1
	var prev uint64
	if p := scanParent(key); p >= 0 {
		head = int(maphash.Bytes(o.seed, key[:p]) & uint64(len(o.heads)-1))
		prev = o.heads[head] // only the writer stores heads
	}
	binary.LittleEndian.PutUint64(b[8:], prev)
	copy(b[overlayHeader:], key)
	copy(b[overlayHeader+len(key):], value)
	o.used = off + n

	slot := uint64(off+1) | h>>overlayOffBits<<overlayOffBits
	mask := uint64(len(o.slots) - 1)
	tag := h >> overlayOffBits
	for i := h & mask; ; i = (i + 1) & mask {
		s := o.slots[i] // only the writer stores slots
		if s == 0 {
			atomic.StoreUint64(&o.slots[i], slot)
			o.count++
			break
		}
		if s>>overlayOffBits == tag && bytes.Equal(o.key(int64(s&overlayOffMask)-1), key) {
			atomic.StoreUint64(&o.slots[i], slot)
			break
		}
	}
	if head >= 0 {
		atomic.StoreUint64(&o.heads[head], uint64(off+1))
	}
}

// scanParent returns the length of key's scan prefix: key without its
// last component when key is in a namespace the apply scans (keysUnder:
// memberOf and member keys, each a tenant, the namespace, one component
// and the id), -1 for any other key. A key of those namespaces
// that is not laid out so is chained under its namespace (the prefix
// through the namespace byte), where a scan of the namespace's prefixes
// looks too.
func scanParent(key []byte) int {
	ns := scanNamespace(key)
	if ns < 0 {
		return -1
	}
	if end, ok := componentEnd(key, ns+1); ok && end < len(key) {
		if last, ok := componentEnd(key, end); ok && last == len(key) {
			return end
		}
	}
	return ns + 1
}

// scanNamespace returns the offset of key's namespace byte when key (or
// a prefix) is a tenant's key in a namespace the apply scans; -1 else.
func scanNamespace(key []byte) int {
	if len(key) == 0 || key[0] != tagTenant {
		return -1
	}
	end, found := componentEnd(key, 1)
	if !found || end >= len(key) {
		return -1
	}
	switch key[end] {
	case nsMemberOf, nsMember:
		return end
	}
	return -1
}

// componentEnd returns the offset just past the component (appendStr)
// that starts at key[i], false when key ends before its terminator.
func componentEnd(key []byte, i int) (int, bool) {
	for ; i+1 < len(key); i++ {
		if key[i] != 0x00 {
			continue
		}
		switch key[i+1] {
		case 0x01:
			return i + 2, true
		case 0xFF:
			i++
		default:
			return 0, false
		}
	}
	return 0, false
}

// scan appends to ents the newest entry of each key under prefix, sorted
// by key. Every entry of a key is in one chain, so the chains (or, for a
// prefix none serves, the whole arena) hold them all; the newest is the
// one furthest into the arena, which only grows.
func (o *overlay) scan(prefix []byte, ents []sortEnt) []sortEnt {
	start := len(ents)
	add := func(off int64) {
		if bytes.HasPrefix(o.key(off), prefix) {
			ents = append(ents, sortEnt{off: off})
		}
	}
	chains := o.scanChains(prefix)
	if chains == nil {
		used := o.published.Load()
		for off := int64(0); off < used; off += o.entrySize(off) {
			add(off)
		}
	}
	for _, head := range chains {
		for e := atomic.LoadUint64(&o.heads[head]); e != 0; {
			off := int64(e) - 1
			add(off)
			e = binary.LittleEndian.Uint64(o.arena[off+8:])
		}
	}
	// The keys share the prefix: sorting starts after it, and leaves the
	// entries of a key side by side (an entry is found twice when its
	// prefix's chain and its namespace's share a head).
	found := ents[start:]
	sortByKey(o, found, len(prefix))
	out := found[:0]
	for i := 0; i < len(found); {
		newest := found[i]
		j := i + 1
		for ; j < len(found) && bytes.Equal(o.key(found[j].off), o.key(found[i].off)); j++ {
			if found[j].off > newest.off {
				newest = found[j]
			}
		}
		out = append(out, newest)
		i = j
	}
	return ents[:start+len(out)]
}

// scanChains returns the chain heads that hold every key under prefix,
// nil when prefix is not one a chain serves (every entry must be read).
func (o *overlay) scanChains(prefix []byte) []int {
	ns := scanNamespace(prefix)
	if ns < 0 {
		return nil
	}
	nsHead := int(maphash.Bytes(o.seed, prefix[:ns+1]) & uint64(len(o.heads)-1))
	if ns+1 == len(prefix) {
		return nil // the whole namespace: not a chain's
	}
	end, found := componentEnd(prefix, ns+1)
	if !found || end != len(prefix) {
		return nil
	}
	// The keys laid out as the apply writes them, and the odd ones.
	return []int{int(maphash.Bytes(o.seed, prefix) & uint64(len(o.heads)-1)), nsHead}
}

// sorted returns the offset of every key's newest entry, in key order,
// reusing buf. No writer may run.
func (o *overlay) sorted(buf []sortEnt) []sortEnt {
	ents := buf[:0]
	if cap(ents) < o.count {
		ents = make([]sortEnt, 0, o.count)
	}
	for _, s := range o.slots {
		if s != 0 {
			ents = append(ents, sortEnt{off: int64(s&overlayOffMask) - 1})
		}
	}
	sortByKey(o, ents, 0)
	return ents
}

// sortEnt is an entry being sorted: its offset, and 15 bytes of its key
// from the depth being sorted on.
type sortEnt struct {
	hi, lo uint64
	off    int64
}

func (a sortEnt) compare(b sortEnt) int {
	if c := cmp.Compare(a.hi, b.hi); c != 0 {
		return c
	}
	return cmp.Compare(a.lo, b.lo)
}

// sortByKey sorts ents, whose keys agree on their first depth bytes, by
// key (entries of one key end side by side, in no order): by the next 15 bytes of each key, held beside its
// offset so that comparing reads no arena, then each group of equal
// chunks on the 15 after (a multikey radix sort). Reading a chunk is a
// cache miss per entry and level, not per comparison.
func sortByKey(o *overlay, ents []sortEnt, depth int) {
	for len(ents) > 1 {
		same := true
		for i := range ents {
			ents[i].hi, ents[i].lo = keyChunk(o.key(ents[i].off), depth)
			same = same && ents[i].hi == ents[0].hi && ents[i].lo == ents[0].lo
		}
		if same {
			if ents[0].lo&0xFF != keyChunkMore {
				return // one key, which ends here
			}
			depth += keyChunkBytes // a prefix they share: on to the next bytes
			continue
		}
		radixSort(ents, 0)
		for i := 0; i < len(ents); {
			j := i + 1
			for j < len(ents) && ents[j].hi == ents[i].hi && ents[j].lo == ents[i].lo {
				j++
			}
			if j-i > 1 && ents[i].lo&0xFF == keyChunkMore {
				sortByKey(o, ents[i:j], depth+keyChunkBytes)
			}
			i = j
		}
		return
	}
}

// radixSort sorts ents by their chunks (hi, lo) from byte b on, all
// before it being equal: an in-place most-significant-digit radix sort
// (American flag sort), a pass over ents a byte that splits them rather
// than a comparison sort's log n passes; small buckets are left to one.
func radixSort(ents []sortEnt, b int) {
	if len(ents) < 64 {
		slices.SortFunc(ents, sortEnt.compare)
		return
	}
	// Skip the bytes every chunk shares, found in one pass.
	andHi, andLo, orHi, orLo := ^uint64(0), ^uint64(0), uint64(0), uint64(0)
	for i := range ents {
		andHi, orHi = andHi&ents[i].hi, orHi|ents[i].hi
		andLo, orLo = andLo&ents[i].lo, orLo|ents[i].lo
	}
	same := sortEnt{hi: ^(andHi ^ orHi), lo: ^(andLo ^ orLo)} // 1 where all agree
	for b < 16 && same.digit(b) == 0xFF {
		b++
	}
	for ; b < 16; b++ {
		var count [256]int
		for i := range ents {
			count[ents[i].digit(b)]++
		}
		if count[ents[0].digit(b)] == len(ents) {
			continue // one bucket: on to the next byte
		}
		var next, end [256]int
		sum := 0
		for d := range 256 {
			next[d] = sum
			sum += count[d]
			end[d] = sum
		}
		for d := range 256 {
			for next[d] < end[d] {
				if x := ents[next[d]].digit(b); x == byte(d) {
					next[d]++
				} else {
					ents[next[d]], ents[next[x]] = ents[next[x]], ents[next[d]]
					next[x]++
				}
			}
		}
		for d := range 256 {
			if count[d] > 1 {
				radixSort(ents[end[d]-count[d]:end[d]], b+1)
			}
		}
		return
	}
}

// digit returns byte b (0 to 15) of the chunk.
func (a *sortEnt) digit(b int) byte {
	if b < 8 {
		return byte(a.hi >> (56 - 8*b))
	}
	return byte(a.lo >> (56 - 8*(b-8)))
}

const (
	keyChunkBytes = 15
	keyChunkMore  = 16 // a chunk's count when the key goes on after it
)

// keyChunk returns key's 15 bytes from depth, big-endian, zero-padded,
// and in the low byte how many of them the key has (keyChunkMore: more
// than 15 remain), so that chunks compare as the keys' tails do, a key
// before its extensions.
func keyChunk(key []byte, depth int) (hi, lo uint64) {
	rest := key[min(depth, len(key)):]
	if len(rest) >= 16 {
		return binary.BigEndian.Uint64(rest), binary.BigEndian.Uint64(rest[8:])&^0xFF | keyChunkMore
	}
	var b [16]byte
	copy(b[:], rest)
	n := uint64(min(len(rest), keyChunkBytes))
	if len(rest) > keyChunkBytes {
		n = keyChunkMore
	}
	return binary.BigEndian.Uint64(b[:]), binary.BigEndian.Uint64(b[8:])&^0xFF | n
}

// overlayIter iterates an overlay's entries sorted by key.
type overlayIter struct {
	o    *overlay
	ents []sortEnt
	i    int
}

func (it *overlayIter) seek(key []byte) {
	it.i = sort.Search(len(it.ents), func(i int) bool { return bytes.Compare(it.o.key(it.ents[i].off), key) >= 0 })
}
func (it *overlayIter) valid() bool { return it.i < len(it.ents) }
func (it *overlayIter) key() []byte { return it.o.key(it.ents[it.i].off) }
func (it *overlayIter) value() []byte {
	_, v, _ := it.o.entry(it.ents[it.i].off)
	return v
}
func (it *overlayIter) deleted() bool {
	_, _, d := it.o.entry(it.ents[it.i].off)
	return d
}
func (it *overlayIter) next()      { it.i++ }
func (it *overlayIter) err() error { return nil }
func (it *overlayIter) close()     {}
