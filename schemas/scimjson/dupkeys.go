package scimjson

import (
	"fmt"
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
// map of folded keys makes the check linear.
const maxLinearKeys = 16

// keySet holds the keys of one object being read: r.keys[base:], and,
// once there are more than maxLinearKeys of them, a map from each key's
// case-folded form to the key.
type keySet struct {
	base   int
	folded map[string]string
}

// add records key k of the object, read at offset off, or reports it as a
// duplicate.
func (s *keySet) add(r *Reader, k string, off int) error {
	prev := r.keys[s.base:]
	if s.folded == nil {
		for _, p := range prev {
			if strings.EqualFold(p, k) {
				return &DuplicateKeyError{Offset: off, Key: k, First: p}
			}
		}
		if len(prev) == maxLinearKeys {
			s.folded = make(map[string]string, 2*maxLinearKeys)
			for _, p := range prev {
				s.folded[foldKey(p)] = p
			}
		}
	}
	if s.folded != nil {
		f := foldKey(k)
		if p, ok := s.folded[f]; ok {
			return &DuplicateKeyError{Offset: off, Key: k, First: p}
		}
		s.folded[f] = k
	}
	r.keys = append(grow(r.keys), k)
	return nil
}

// foldKey maps s to a form equal for two strings exactly when
// strings.EqualFold reports them equal: each rune becomes the least rune of
// its simple case-folding orbit ('k', 'K' and U+212A KELVIN SIGN all
// become 'K').
func foldKey(s string) string {
	ascii := true
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			ascii = false
			break
		}
	}
	if ascii {
		return strings.ToUpper(s) // the least of an ASCII letter's orbit is its upper case
	}
	var b strings.Builder
	b.Grow(len(s))
	for _, c := range s {
		least := c
		for f := unicode.SimpleFold(c); f != c; f = unicode.SimpleFold(f) {
			least = min(least, f)
		}
		b.WriteRune(least)
	}
	return b.String()
}
