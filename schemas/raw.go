package schemas

import (
	"errors"

	"github.com/scim-bridge/scim-bridge/schemas/scimjson"
)

// RawMember is one top-level member of a resource's JSON: its key
// (unescaped) and its value as written.
type RawMember struct {
	Key   string
	Value string
}

// errNotAsIs stops RawMembers at the first member Project would change.
var errNotAsIs = errors.New("the projection changes the resource")

// RawMembers appends the top-level members of raw, the JSON of a resource,
// to dst and reports true when Project(r, s), r being raw decoded, is r
// itself and raw lists its keys in strictly increasing bytewise order, as
// scimjson.Append writes a map: then the members, keys and values encoded
// as scimjson.Append encodes their decoded values when raw is what it
// wrote, are the projection's. With false, dst's new elements mean nothing
// and the caller decodes and projects. It reads raw without decoding it:
// a renderer can copy the members instead of building the map.
func (rt *ResourceType) RawMembers(dst []RawMember, raw string, s Selection) ([]RawMember, bool) {
	if s.restricted() {
		return dst, false // Project builds the result from nothing
	}
	p := rt.projector(s)
	r := scimjson.NewStringReader(raw)
	if r.Peek() != '{' {
		return dst, false
	}
	prev, first := "", true
	err := r.Object(func(k string) error {
		if !first && k <= prev {
			return errNotAsIs // out of order, or repeated (decoding keeps one)
		}
		prev, first = k, false
		r.Peek()
		start := r.Offset()
		if !p.unchangedRaw(r, k) {
			return errNotAsIs
		}
		dst = append(dst, RawMember{Key: k, Value: raw[start:r.Offset()]})
		return nil
	})
	if err != nil || r.End() != nil {
		return dst, false
	}
	return dst, true
}

// unchangedRaw is unchanged on the member k whose value r is at, read (or
// abandoned: false) from the JSON. ok false is false here too.
func (p projector) unchangedRaw(r *scimjson.Reader, k string) bool {
	if k == "schemas" {
		return r.Skip() == nil
	}
	if si, found := p.idx.schemaFold(k); found && si.ext {
		if k != si.urn || r.Peek() != '{' {
			return false
		}
		n := 0
		err := r.Object(func(ek string) error {
			n++
			e, found := getFold(si.attrs, ek)
			if !found || ek != e.attr.Name || !p.s.wantsTop(e.attr, si.urn) || !p.s.unchangedValueRaw(r, si.urn, e.attr) {
				return errNotAsIs
			}
			return nil
		})
		return err == nil && n > 0
	}
	e, found := getFold(p.core.attrs, k)
	if !found || k != e.attr.Name {
		return false
	}
	return p.s.wantsTop(e.attr, "") && p.s.unchangedValueRaw(r, "", e.attr)
}

// unchangedValueRaw is unchangedValue on the value r is at, which it reads
// (or abandons: false).
func (s Selection) unchangedValueRaw(r *scimjson.Reader, urn string, a *Attribute) bool {
	if r.Null() {
		return false
	}
	if a.Type != TypeComplex {
		return r.Skip() == nil
	}
	plain := !s.restricted() && len(s.Excluded) == 0
	one := func() error {
		switch r.Peek() {
		case 'n':
			return errNotAsIs
		case '{':
		default:
			return r.Skip()
		}
		n := 0
		err := r.Object(func(k string) error {
			n++
			sub := exactSubAttr(a, k)
			if sub == nil {
				return errNotAsIs
			}
			if !(plain && (sub.Returned == ReturnedDefault || sub.Returned == ReturnedAlways)) && !s.wantsSub(urn, a, sub) {
				return errNotAsIs
			}
			return r.Skip()
		})
		if err == nil && n == 0 {
			return errNotAsIs
		}
		return err
	}
	if r.Peek() != '[' {
		return one() == nil
	}
	n := 0
	err := r.Array(func() error {
		n++
		return one()
	})
	return err == nil && n > 0
}

// ProjectsAsIs reports whether Project(r, s) is r itself, without
// building anything.
func (rt *ResourceType) ProjectsAsIs(r Resource, s Selection) bool {
	if s.restricted() {
		return false
	}
	p := rt.projector(s)
	for k, v := range r {
		if same, ok := p.unchanged(k, v); !same || !ok {
			return false
		}
	}
	return true
}
