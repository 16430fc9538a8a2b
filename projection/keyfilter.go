package projection

import (
	"context"
	"hash/maphash"
	"sync/atomic"

	"github.com/dgraph-io/badger/v4"
)

// keyFilter is a Bloom filter of the POST index's keys (q, request.go):
// when it says a key is absent, it is, and applying a created event does
// not read it (DXX). The key of a POST's digest is looked up for every
// created event, to find a second landing of its POST; digests are
// random, so the read missed Badger's caches every time, and it was the
// largest read of applying a created user.
//
// The filter holds every q key there is, and more: the scan at open adds
// those of the projection as it was then (until it is done, the filter
// answers "maybe" to all), and applying adds each key it sets before its
// transaction commits. Deleted keys stay (a "maybe" more, which costs the
// read). So the outcome of applying is what reading the key gives;
// only the read is saved. Each key sets four bits of one 64-bit word (one
// cache line per lookup); at 4 MiB, a million keys answer "maybe" for
// an absent key about one time in a thousand, four million about one in
// twenty.
type keyFilter struct {
	words []atomic.Uint64
	seed  maphash.Seed
	ready atomic.Bool // the scan at open is done
}

// keyFilterBytes is the size of the filter of q keys.
const keyFilterBytes = 4 << 20

func newKeyFilter(size int) *keyFilter {
	return &keyFilter{words: make([]atomic.Uint64, size/8), seed: maphash.MakeSeed()}
}

// at returns key's word and its bits there.
func (f *keyFilter) at(key []byte) (*atomic.Uint64, uint64) {
	h := maphash.Bytes(f.seed, key)
	w := &f.words[(h>>32)*uint64(len(f.words))>>32]
	return w, 1<<(h&63) | 1<<(h>>6&63) | 1<<(h>>12&63) | 1<<(h>>18&63)
}

// add notes that key is (or is about to be) written.
func (f *keyFilter) add(key []byte) {
	w, bits := f.at(key)
	w.Or(bits)
}

// mayHave reports whether key may be there: false only once the scan at
// open is done and key was never added.
func (f *keyFilter) mayHave(key []byte) bool {
	if !f.ready.Load() {
		return true
	}
	w, bits := f.at(key)
	return w.Load()&bits == bits
}

// scan adds every q key of the projection, reading keys only and seeking
// from tenant to tenant past their other namespaces, then lets mayHave
// answer. It stops with ctx's error.
func (f *keyFilter) scan(ctx context.Context, db *badger.DB) (keys int, err error) {
	err = db.View(func(txn *badger.Txn) error {
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
			k := it.Item().Key()
			t, rest, ok := readStr(k[1:])
			if !ok || len(rest) == 0 {
				it.Next()
				continue
			}
			switch {
			case rest[0] < nsCreatedBy:
				it.Seek(tenantNS(t, nsCreatedBy))
				continue
			case rest[0] > nsCreatedBy:
				it.Seek(tenantNS(t, 0xFF)) // the next tenant
				continue
			}
			f.add(k)
			keys++
			it.Next()
		}
		return nil
	})
	if err != nil {
		return keys, err
	}
	f.ready.Store(true)
	return keys, nil
}
