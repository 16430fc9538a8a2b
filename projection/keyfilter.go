package projection

import (
	"context"
	"hash/maphash"
	"sync/atomic"

	"github.com/dgraph-io/badger/v4"
)

// keyFilter is a Bloom filter of the keys of three namespaces that are
// looked up mostly to find them absent: the POST index (q, request.go),
// read for every created event to find a second landing of its POST;
// userName eq's point keys (n), read for every created user by applying
// and by the bridge's uniqueness check; and the members' group lists (o),
// read for a user's groups. When the filter says a key is absent, it is,
// and the read is not done (D42): digests are random, and the reads of
// keys that are not there went through both memtables and a bloom filter
// per table, missing the caches every time.
//
// The filter holds every such key there is, and more: the scan at open
// (Store.startScan) adds those of the projection as it was then (until it
// is done, the filter answers "maybe" to all), and applying adds each key it sets
// before its transaction commits, so that a reader's snapshot never holds
// a key the filter lacks. Deleted keys stay (a "maybe" more, which costs
// the read). So what applying writes and what a read answers are what
// reading the key gives; only the read is saved. Each key sets four bits
// of one 64-bit word (one cache line per lookup); at 4 MiB, with a
// million keys it answers "maybe" for an absent key about one time in
// 1,300, with three million one in 75, with four million one in 35.
//
// Its words live outside the Go heap (mapAtomicWords), like the userName
// hints: on the heap they also raised the collector's target by their
// size, and a million users at a 384 MiB memory limit then read part of
// their tables from disk again.
type keyFilter struct {
	words []atomic.Uint64
	free  func() error // unmaps words
	seed  maphash.Seed
	ready atomic.Bool // the scan at open is done
}

// keyFilterBytes is the size of the filter.
const keyFilterBytes = 4 << 20

func newKeyFilter(size int) *keyFilter {
	n := uint64(size / 8)
	words, free, err := mapAtomicWords(n)
	if err != nil { // no mapping: on the heap
		words, free = make([]atomic.Uint64, n), func() error { return nil }
	}
	return &keyFilter{words: words, free: free, seed: maphash.MakeSeed()}
}

// close releases the words; f must not be used afterwards.
func (f *keyFilter) close() error {
	if f == nil || f.free == nil {
		return nil
	}
	err := f.free()
	f.words, f.free = nil, nil
	return err
}

// at returns key's word and its bits there.
func (f *keyFilter) at(key []byte) (*atomic.Uint64, uint64) {
	h := maphash.Bytes(f.seed, key)
	w := &f.words[(h>>32)*uint64(len(f.words))>>32]
	return w, 1<<(h&63) | 1<<(h>>6&63) | 1<<(h>>12&63) | 1<<(h>>18&63)
}

// add notes that key is (or is about to be) written; a nil f notes
// nothing.
func (f *keyFilter) add(key []byte) {
	if f == nil {
		return
	}
	w, bits := f.at(key)
	w.Or(bits)
}

// mayHave reports whether key may be there: false only once the scan at
// open is done and key was never added (never for a nil f).
func (f *keyFilter) mayHave(key []byte) bool {
	if f == nil || !f.ready.Load() {
		return true
	}
	w, bits := f.at(key)
	return w.Load()&bits == bits
}

// filteredNS reports whether the keys of namespace ns go to the filter.
func filteredNS(ns byte) bool {
	return ns == nsUserName || ns == nsGroupCount || ns == nsCreatedBy
}

// walkNamespaces calls fn for each key, in one snapshot of db, of the
// tenants' namespaces that want accepts (tenant is the key's, rest the
// key from its namespace byte on), seeking from tenant to tenant past the
// other namespaces. It stops with ctx's error or fn's.
func walkNamespaces(ctx context.Context, db *badger.DB, want func(ns byte) bool, fn func(tenant string, rest []byte, item *badger.Item) error) error {
	return db.View(func(txn *badger.Txn) error {
		all := []byte{tagTenant}
		it := txn.NewIterator(badger.IteratorOptions{Prefix: all})
		defer it.Close()
		n := 0
		for it.Seek(all); it.ValidForPrefix(all); {
			if n++; n%4096 == 0 {
				if err := ctx.Err(); err != nil {
					return err
				}
			}
			t, rest, ok := readStr(it.Item().Key()[1:])
			if !ok || len(rest) == 0 {
				it.Next()
				continue
			}
			if ns := rest[0]; !want(ns) {
				next := byte(0xFF) // the next tenant
				for c := int(ns) + 1; c < 0xFF; c++ {
					if want(byte(c)) {
						next = byte(c)
						break
					}
				}
				if ns == 0xFF {
					it.Next()
				} else {
					it.Seek(tenantNS(t, next))
				}
				continue
			}
			if err := fn(t, rest, it.Item()); err != nil {
				return err
			}
			it.Next()
		}
		return nil
	})
}
