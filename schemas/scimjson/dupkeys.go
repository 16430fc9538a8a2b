package scimjson

import (
	"fmt"
	"hash/maphash"
	"strings"
	"unicode"
	"unicode/utf8"
)

// DuplicateKeyError is the error of a Reader that disallows duplicate
// keys (DisallowDuplicateKeys) for an object that names a key twice: Key as
// written the second time, First as written the first time (they differ in
// case only, or not at all). Offset is the byte offset of the second.
type DuplicateKeyError struct {
	Offset int
	Key    string
	First  string
}

func (e *DuplicateKeyError) Error() string {
	return fmt.Sprintf("json: offset %d: %s", e.Offset, e.Detail())
}

// Detail names the key for a client, without the offset.
func (e *DuplicateKeyError) Detail() string {
	if e.Key == e.First {
		return fmt.Sprintf("key %q given twice", e.Key)
	}
	return fmt.Sprintf("key %q given twice, first as %q (attribute names are case-insensitive)", e.Key, e.First)
}

// DisallowDuplicateKeys makes the reader refuse, with a *DuplicateKeyError,
// any later object that names a key twice, ignoring case (simple Unicode
// case folding, as strings.EqualFold). That is the rule for a client's SCIM
// message: every key of it is an attribute name or a schema URI, both
// case-insensitive (RFC 7643 §2.1), and "the last one wins" would silently
// drop what the client sent. Without it the reader does as encoding/json
// does, which the event and record decoders rely on.
//
// Objects read by Object, Value and Skip are all checked. The check costs no
// allocation per key: small objects compare each key with the ones before
// it, objects with more than maxLinearKeys keys use a map.
func (r *Reader) DisallowDuplicateKeys() {
	r.noDup = true
	if r.keys == nil {
		r.keys = make([]string, 0, 32)
	}
}

// maxLinearKeys is the number of keys of one object up to which duplicates
// are looked for by comparing each key with the ones before it; beyond it a
// map of the keys' case-folded hashes makes the check linear.
const maxLinearKeys = 16

// keySet holds the keys of one object being read: r.keys[base:], and,
// once there are more than maxLinearKeys of them, a map from the hash of
// each key's case-folded form (foldHash) to its index there. A hash rather
// than the folded key itself keeps an object of many short keys, the
// costliest shape of a client's body to decode, from allocating a folded
// copy of every key and a map of twice the size.
type keySet struct {
	base   int
	folded map[uint64]int32
}

// add records key k of the object, read at offset off, or reports it as a
// duplicate.
func (s *keySet) add(r *Reader, k string, off int) error {
	prev := r.keys[s.base:]
	if s.folded == nil {
		if p, dup := findFold(prev, k); dup {
			return &DuplicateKeyError{Offset: off, Key: k, First: p}
		}
		if len(prev) == maxLinearKeys {
			if r.seed == (maphash.Seed{}) {
				r.seed = maphash.MakeSeed()
			}
			s.folded = make(map[uint64]int32, 2*maxLinearKeys)
			for i, p := range prev {
				s.folded[foldHash(r.seed, p)] = int32(i)
			}
		}
	}
	if s.folded != nil {
		h := foldHash(r.seed, k)
		if i, ok := s.folded[h]; ok {
			if p := prev[i]; strings.EqualFold(p, k) {
				return &DuplicateKeyError{Offset: off, Key: k, First: p}
			}
			// Two keys of one hash: compare with every key. The
			// seed is random, so a client cannot make this common.
			if p, dup := findFold(prev, k); dup {
				return &DuplicateKeyError{Offset: off, Key: k, First: p}
			}
		} else {
			s.folded[h] = int32(len(prev))
		}
	}
	r.keys = append(grow(r.keys), k)
	return nil
}

// findFold returns the key of keys equal to k ignoring case, if any.
func findFold(keys []string, k string) (string, bool) {
	for _, p := range keys {
		if strings.EqualFold(p, k) {
			return p, true
		}
	}
	return "", false
}

// foldHash hashes s in a form equal for two strings exactly when
// strings.EqualFold reports them equal: each rune as the least rune of its
// simple case-folding orbit ('k', 'K' and U+212A KELVIN SIGN all as 'K';
// invalid UTF-8 as U+FFFD, as EqualFold reads it), without allocating.
func foldHash(seed maphash.Seed, s string) uint64 {
	var h maphash.Hash
	h.SetSeed(seed)
	var buf [64]byte
	b := buf[:0]
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if 'a' <= c && c <= 'z' {
				c -= 'a' - 'A' // the least of an ASCII letter's orbit is its upper case
			}
			b = append(b, c)
			i++
		} else {
			c, size := utf8.DecodeRuneInString(s[i:])
			least := c
			for f := unicode.SimpleFold(c); f != c; f = unicode.SimpleFold(f) {
				least = min(least, f)
			}
			b = utf8.AppendRune(b, least)
			i += size
		}
		if len(b) > len(buf)-utf8.UTFMax {
			h.Write(b)
			b = b[:0]
		}
	}
	h.Write(b)
	return h.Sum64()
}
