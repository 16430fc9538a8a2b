package projection

import (
	"bytes"
	"fmt"
	"hash/maphash"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// TestOverlay_MatchesSortedMap writes random keys (prefixes of each other,
// zero bytes, the scanned namespaces laid out as the apply writes them and
// otherwise) into an overlay, overwriting and deleting some, and checks
// point reads, every scan prefix and the sorted order against a map.
func TestOverlay_MatchesSortedMap(t *testing.T) {
	seed := maphash.MakeSeed()
	rng := rand.New(rand.NewPCG(1, 2))
	o := newOverlay(4<<20, 20_000, seed)
	type val struct {
		v   string
		del bool
	}
	want := map[string]val{}
	var prefixes [][]byte
	comp := func() string {
		s := []string{"a", "ab", "", "a\x00", "\x00", "abcdefghijklmnop", "abcdefghijklmnoq", "x\x00\x01y"}
		return s[rng.IntN(len(s))] + fmt.Sprint(rng.IntN(5))
	}
	for i := range 10_000 {
		var k []byte
		switch rng.IntN(6) {
		case 0, 1: // a scanned namespace as the apply writes it
			ns := []byte{nsMemberOf, nsMember}[rng.IntN(2)]
			p := appendStr(tenantNS(comp(), ns), comp())
			prefixes = append(prefixes, p)
			k = appendStr(slices.Clone(p), comp())
		case 2: // a scanned namespace, laid out otherwise
			ns := []byte{nsMemberOf, nsMember}[rng.IntN(2)]
			k = appendStr(tenantNS(comp(), ns), comp())
			if rng.IntN(2) == 0 {
				k = appendStr(appendStr(k, comp()), comp())
			} else {
				k = append(k, comp()...)
			}
		case 3:
			k = appendStr(tenantNS(comp(), nsResource), comp())
		default:
			k = []byte(comp() + comp())
		}
		del := rng.IntN(8) == 0
		v := fmt.Sprint(i)
		if del {
			v = ""
		}
		o.put(k, []byte(v), del, maphash.Bytes(seed, k))
		want[string(k)] = val{v, del}
	}
	o.publish() // as the committer does after each transaction
	for k, w := range want {
		off := o.find([]byte(k), maphash.Bytes(seed, []byte(k)))
		if off < 0 {
			t.Fatalf("find(%q) = none", k)
		}
		gk, gv, gd := o.entry(off)
		if string(gk) != k || string(gv) != w.v || gd != w.del {
			t.Fatalf("entry of %q = %q %q %v, want %q %v", k, gk, gv, gd, w.v, w.del)
		}
	}
	if o.find([]byte("absent"), maphash.Bytes(seed, []byte("absent"))) >= 0 {
		t.Fatal("found an absent key")
	}
	keys := slices.Sorted(func(yield func(string) bool) {
		for k := range want {
			if !yield(k) {
				return
			}
		}
	})
	var got []string
	for _, s := range o.sorted(nil) {
		got = append(got, string(o.key(s.off)))
	}
	if !slices.Equal(got, keys) {
		t.Fatalf("sorted: %d keys, want %d (or out of order)", len(got), len(keys))
	}
	prefixes = append(prefixes, nil, []byte("a"), tenantNS("a0", nsMember), []byte{tagTenant})
	for _, p := range prefixes {
		var under []string
		for _, k := range keys {
			if bytes.HasPrefix([]byte(k), p) {
				under = append(under, k)
			}
		}
		var got []string
		for _, e := range o.scan(p, nil) {
			k, v, del := o.entry(e.off)
			got = append(got, string(k))
			if w := want[string(k)]; string(v) != w.v || del != w.del {
				t.Fatalf("scan(%q): %q = %q deleted %v, want its newest write %q deleted %v", p, k, v, del, w.v, w.del)
			}
		}
		if !slices.Equal(got, under) {
			t.Fatalf("scan(%q): %d keys, want %d (or out of order)", p, len(got), len(under))
		}
	}
}

// TestTxnWrites_MatchesMap: a transaction's writes, overwritten, deleted
// and grown past their index, read as a map of the newest write of each
// key would, each key once in write order of its first write.
func TestTxnWrites_MatchesMap(t *testing.T) {
	seed := maphash.MakeSeed()
	rng := rand.New(rand.NewPCG(3, 4))
	var w txnWrites
	for round := range 2 { // the second after reset, as a reused one
		want := map[string]string{}
		var order []string
		for i := range 5_000 {
			k := fmt.Sprintf("k%d", rng.IntN(2_000))
			v, del := fmt.Sprint(i), rng.IntN(5) == 0
			if del {
				v = ""
			}
			w.put([]byte(k), []byte(v), del, maphash.Bytes(seed, []byte(k)))
			if _, ok := want[k]; !ok {
				order = append(order, k)
			}
			want[k] = v + map[bool]string{true: " deleted"}[del]
		}
		if len(w.ents) != len(order) {
			t.Fatalf("round %d: %d entries, want %d", round, len(w.ents), len(order))
		}
		for i, k := range order {
			j := w.find([]byte(k), maphash.Bytes(seed, []byte(k)))
			if j != i {
				t.Fatalf("round %d: find(%q) = %d, want %d", round, k, j, i)
			}
			gk, gv, del := w.entry(j)
			if got := string(gv) + map[bool]string{true: " deleted"}[del]; string(gk) != k || got != want[k] {
				t.Fatalf("round %d: entry %d = %q %q, want %q %q", round, j, gk, got, k, want[k])
			}
		}
		if w.find([]byte("absent"), maphash.Bytes(seed, []byte("absent"))) != -1 {
			t.Fatalf("round %d: found an absent key", round)
		}
		w.reset()
	}
}

// TestBulkKV_MergeMatchesMap writes random keys (sharing prefixes, some
// deleted, some values larger than a run's first read and than its
// largest) through transactions of the bulk engine with a tiny budget, so
// that they spill into many runs, and checks scans along the way and the
// final merge against a map of the newest write of each key: the merge's
// tournament over the runs and the overlay, and the runs' reads across
// their buffers' ends.
func TestBulkKV_MergeMatchesMap(t *testing.T) {
	e, err := newBulkKV(t.TempDir(), 64<<10, 4<<20, 10_000)
	if err != nil {
		t.Fatal(err)
	}
	defer e.close()
	rng := rand.New(rand.NewPCG(5, 6))
	want := map[string]string{} // "" for deleted
	key := func() string {
		p := []string{"a", "ab", "abc\x00", "b", "q\x01", ""}
		return p[rng.IntN(len(p))] + fmt.Sprint(rng.IntN(3_000))
	}
	value := func(i int) string {
		v := fmt.Sprint(i, ":")
		switch rng.IntN(200) {
		case 0:
			v += string(bytes.Repeat([]byte{'v'}, runReadFirst+rng.IntN(runReadFirst)))
		case 1:
			v += string(bytes.Repeat([]byte{'w'}, runReadBuffer+rng.IntN(runReadFirst)))
		}
		return v
	}
	live := func(prefix string) []string {
		var keys []string
		for k, v := range want {
			if v != "" && strings.HasPrefix(k, prefix) {
				keys = append(keys, k)
			}
		}
		slices.Sort(keys)
		return keys
	}
	for i := range 400 {
		txn := e.newTxn()
		for j := range 1 + rng.IntN(40) {
			k := key()
			if rng.IntN(6) == 0 {
				if err := txn.delete([]byte(k)); err != nil {
					t.Fatal(err)
				}
				want[k] = ""
				continue
			}
			v := value(i*100 + j)
			if err := txn.set([]byte(k), []byte(v)); err != nil {
				t.Fatal(err)
			}
			want[k] = v
		}
		if err := txn.commit(); err != nil {
			t.Fatal(err)
		}
		if i%50 != 49 {
			continue
		}
		for _, p := range []string{"", "a", "ab", "abc\x00", "b1", "q\x01", "z"} {
			var got []string
			err := e.view(func(r kvReader) error {
				return r.scan([]byte(p), func(k []byte) (bool, error) {
					got = append(got, string(k))
					return true, nil
				})
			})
			if err != nil {
				t.Fatal(err)
			}
			if w := live(p); !slices.Equal(got, w) {
				t.Fatalf("after %d transactions, scan(%q): %d keys, want %d (or out of order)", i+1, p, len(got), len(w))
			}
		}
	}
	if err := e.flush(); err != nil {
		t.Fatal(err)
	}
	if len(e.runs) < 4 {
		t.Fatalf("%d runs, want several", len(e.runs))
	}
	var got []string
	err = e.merge(func(k, v []byte) error {
		if w := want[string(k)]; string(v) != w {
			t.Fatalf("merge: %q = %.20q (%d bytes), want %.20q (%d bytes)", k, v, len(v), w, len(w))
		}
		got = append(got, string(k))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if w := live(""); !slices.Equal(got, w) {
		t.Fatalf("merge: %d keys, want %d (or out of order)", len(got), len(w))
	}
}
