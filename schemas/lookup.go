package schemas

import (
	"strings"
	"sync"
)

// attrIndex is a resource type's precomputed name index: every map is keyed
// by lower-cased names so that Lookup, on the filter evaluation hot path,
// resolves a path with map reads and no allocation.
type attrIndex struct {
	core    map[string]entry        // core and common attributes, plus unambiguous extension attributes
	schemas map[string]*schemaIndex // by lower-case URN: the core schema and each extension
	exts    []*schemaIndex          // extensions in registry order
	subs    map[*Attribute]map[string]*Attribute
	common  map[string]*Attribute // id, externalId, meta (RFC 7643 §3.1)
}

// schemaIndex indexes the attributes of one schema.
type schemaIndex struct {
	urn   string // canonical spelling
	ext   bool
	attrs map[string]entry
	list  []*Attribute
	req   bool // the extension is required (RFC 7643 §6)
}

// entry is one resolved top-level attribute: its definition and the URN of
// its schema ("" for core and common attributes).
type entry struct {
	attr *Attribute
	urn  string
}

func buildIndex(rt *ResourceType, common []*Attribute) *attrIndex {
	idx := &attrIndex{
		core:    map[string]entry{},
		schemas: map[string]*schemaIndex{},
		subs:    map[*Attribute]map[string]*Attribute{},
		common:  map[string]*Attribute{},
	}
	addSubs := func(a *Attribute) {
		if len(a.SubAttributes) == 0 {
			return
		}
		m := make(map[string]*Attribute, len(a.SubAttributes))
		for _, s := range a.SubAttributes {
			m[strings.ToLower(s.Name)] = s
		}
		idx.subs[a] = m
	}
	for _, a := range common {
		idx.core[strings.ToLower(a.Name)] = entry{attr: a}
		idx.common[strings.ToLower(a.Name)] = a
		addSubs(a)
	}
	if rt.Schema != nil {
		si := &schemaIndex{urn: rt.Schema.ID, attrs: map[string]entry{}, list: rt.Schema.Attributes}
		for _, a := range rt.Schema.Attributes {
			e := entry{attr: a}
			si.attrs[strings.ToLower(a.Name)] = e
			idx.core[strings.ToLower(a.Name)] = e
			addSubs(a)
		}
		// The core URN qualifies common attributes too ("urn:…:User:id").
		for k, a := range idx.common {
			si.attrs[k] = entry{attr: a}
		}
		idx.schemas[strings.ToLower(rt.Schema.ID)] = si
	}
	// An extension attribute resolves without its URN when no core
	// attribute and no other extension has the name.
	ambiguous := map[string]bool{}
	for _, ext := range rt.Extensions {
		si := &schemaIndex{urn: ext.Schema.ID, ext: true, attrs: map[string]entry{}, list: ext.Schema.Attributes, req: ext.Required}
		for _, a := range ext.Schema.Attributes {
			k := strings.ToLower(a.Name)
			e := entry{attr: a, urn: ext.Schema.ID}
			si.attrs[k] = e
			addSubs(a)
			if prev, ok := idx.core[k]; ok {
				if prev.urn != "" {
					ambiguous[k] = true
				}
				continue
			}
			idx.core[k] = e
		}
		idx.schemas[strings.ToLower(ext.Schema.ID)] = si
		idx.exts = append(idx.exts, si)
	}
	for k := range ambiguous {
		delete(idx.core, k)
	}
	return idx
}

// commonDefs parses defs/common.json once, for resource types built by hand
// rather than by NewRegistry.
var commonDefs = sync.OnceValue(func() []*Attribute {
	b, err := defs.ReadFile("defs/common.json")
	if err != nil {
		panic("schemas: embedded defs/common.json: " + err.Error())
	}
	s, err := parseSchema(b)
	if err != nil {
		panic("schemas: embedded defs/common.json: " + err.Error())
	}
	return s.Attributes
})

// index returns the resource type's index, building one for a ResourceType
// that did not come from NewRegistry.
func (rt *ResourceType) index() *attrIndex {
	if rt.idx != nil {
		return rt.idx
	}
	return buildIndex(rt, commonDefs())
}

// Lookup resolves a path case-insensitively to its definition and the
// canonical path (names as the schema spells them, URN filled in for
// extension attributes, "" for core and common ones).
//
// The returned attribute is the innermost one: the sub-attribute when p.Sub
// is set. The URN is optional for core attributes, and for extension
// attributes whose name no core attribute and no other extension uses
// ("manager" resolves to the enterprise extension). The core schema URN is
// accepted too. For callers holding a raw key (a path-less PATCH value key,
// RFC 7644 §3.5.2.1) Lookup also accepts a URN-qualified or dotted Name when
// p.URN or p.Sub is empty: {Name: "urn:…:enterprise:2.0:User:manager.value"}
// resolves like {URN: "urn:…:enterprise:2.0:User", Name: "manager", Sub:
// "value"}. Lookup does not allocate.
func (rt *ResourceType) Lookup(p AttrPath) (*Attribute, AttrPath, bool) {
	idx := rt.index()
	if p.URN == "" && len(p.Name) > 4 && strings.EqualFold(p.Name[:4], "urn:") {
		urn, rest, ok := idx.splitURN(p.Name)
		if !ok {
			return nil, AttrPath{}, false
		}
		p.URN, p.Name = urn, rest
	}
	if p.Sub == "" {
		if i := strings.IndexByte(p.Name, '.'); i >= 0 {
			p.Name, p.Sub = p.Name[:i], p.Name[i+1:]
		}
	}
	var e entry
	var ok bool
	if p.URN == "" {
		e, ok = getFold(idx.core, p.Name)
	} else {
		var si *schemaIndex
		si, ok = getFold(idx.schemas, p.URN)
		if ok {
			e, ok = getFold(si.attrs, p.Name)
		}
	}
	if !ok {
		return nil, AttrPath{}, false
	}
	canon := AttrPath{URN: e.urn, Name: e.attr.Name}
	if p.Sub == "" {
		return e.attr, canon, true
	}
	sub, ok := getFold(idx.subs[e.attr], p.Sub)
	if !ok {
		return nil, AttrPath{}, false
	}
	canon.Sub = sub.Name
	return sub, canon, true
}

// splitURN splits "urn:…:User:name.givenName" at the longest registered
// schema URN it starts with (URNs contain ':' and '.' themselves, as in
// "2.0"), returning the canonical URN and the rest after the ':'. A string
// that is exactly a schema URN returns rest "".
func (idx *attrIndex) splitURN(s string) (urn, rest string, ok bool) {
	for i := len(s); i > 0; i-- {
		if i < len(s) && s[i] != ':' {
			continue
		}
		if si, found := getFold(idx.schemas, s[:i]); found {
			if i == len(s) {
				return si.urn, "", true
			}
			return si.urn, s[i+1:], true
		}
	}
	return "", "", false
}

// schemaFold returns the index of the schema with the given URN,
// case-insensitively.
func (idx *attrIndex) schemaFold(urn string) (*schemaIndex, bool) {
	return getFold(idx.schemas, urn)
}

// getFold reads m[strings.ToLower(k)] for ASCII k without allocating: the
// lower-cased key is built in a stack buffer and the map index expression
// with a string([]byte) conversion does not copy.
func getFold[V any](m map[string]V, k string) (V, bool) {
	lower := true
	for i := 0; i < len(k); i++ {
		if c := k[i]; c >= 'A' && c <= 'Z' {
			lower = false
			break
		}
	}
	if lower {
		v, ok := m[k]
		return v, ok
	}
	var buf [128]byte
	if len(k) > len(buf) {
		v, ok := m[strings.ToLower(k)]
		return v, ok
	}
	b := buf[:len(k)]
	for i := 0; i < len(k); i++ {
		c := k[i]
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		b[i] = c
	}
	v, ok := m[string(b)]
	return v, ok
}
