package schemas

import (
	"strings"
)

// Selection is a parsed attributes / excludedAttributes pair (RFC 7644
// §3.4.2.5, §3.9). Paths are canonical (see Lookup); a path with an empty
// Name selects a whole extension ({URN: "urn:…:enterprise:2.0:User"}).
//
// The zero value selects the default representation. A Selection built by
// hand with Attributes restricts like a parsed one.
type Selection struct {
	Attributes []AttrPath
	Excluded   []AttrPath

	// restrict is set when the attributes parameter was given, even if
	// every name in it was unknown: the client then gets only the
	// attributes returned always.
	restrict bool
}

// ParseSelection parses the comma-separated attributes and
// excludedAttributes parameters (RFC 7644 §3.4.2.5): attribute names,
// "name.sub" sub-attribute paths and URN-qualified paths, case-insensitive.
//
// Unknown attribute names are ignored: RFC 7644 leaves it open, and IdPs
// send names a server need not know. Malformed syntax (an empty item, a
// character no attribute name has) is KindInvalidValue. A value filter after
// a name ("emails[type eq \"work\"]", which Microsoft's reference tests send)
// selects the whole attribute: the filter is not applied.
func (rt *ResourceType) ParseSelection(attributes, excluded string) (Selection, error) {
	var s Selection
	var err error
	if strings.TrimSpace(attributes) != "" {
		s.restrict = true
		if s.Attributes, err = rt.parseSelectionList("attributes", attributes); err != nil {
			return Selection{}, err
		}
	}
	if strings.TrimSpace(excluded) != "" {
		if s.Excluded, err = rt.parseSelectionList("excludedAttributes", excluded); err != nil {
			return Selection{}, err
		}
	}
	return s, nil
}

func (rt *ResourceType) parseSelectionList(param, list string) ([]AttrPath, error) {
	idx := rt.index()
	var out []AttrPath
	for _, item := range strings.Split(list, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			return nil, Errorf(KindInvalidValue, "%s: empty attribute name in %q", param, list)
		}
		var urn string
		rest := item
		if len(item) > 4 && strings.EqualFold(item[:4], "urn:") {
			u, r, ok := idx.splitURN(item)
			if !ok {
				continue // an unknown schema
			}
			urn, rest = u, r
			if rest == "" {
				if u == rt.Schema.ID {
					continue // the core schema as a whole: nothing to select
				}
				out = append(out, AttrPath{URN: u})
				continue
			}
		}
		name, sub, ok := splitSelectionPath(rest)
		if !ok {
			return nil, Errorf(KindInvalidValue, "%s: malformed attribute path %q", param, item)
		}
		_, canon, found := rt.Lookup(AttrPath{URN: urn, Name: name, Sub: sub})
		if !found {
			continue // unknown attributes are ignored
		}
		out = append(out, canon)
	}
	return out, nil
}

// splitSelectionPath splits `name`, `name.sub` or `name[filter]` /
// `name[filter].sub` and checks the names' syntax (RFC 7643 §2.1).
func splitSelectionPath(s string) (name, sub string, ok bool) {
	if i := strings.IndexByte(s, '['); i >= 0 {
		j := closingBracket(s, i)
		if j < 0 {
			return "", "", false
		}
		after := s[j+1:]
		s = s[:i] + after
	}
	name, sub, _ = strings.Cut(s, ".")
	if !validAttrName(name) || (sub != "" || strings.HasSuffix(s, ".")) && !validAttrName(sub) {
		return "", "", false
	}
	return name, sub, true
}

// closingBracket returns the index of the ']' closing the '[' at i, skipping
// quoted strings, or -1.
func closingBracket(s string, i int) int {
	inStr := false
	for j := i + 1; j < len(s); j++ {
		switch c := s[j]; {
		case inStr && c == '\\':
			j++
		case c == '"':
			inStr = !inStr
		case !inStr && c == ']':
			return j
		}
	}
	return -1
}

// Wants reports whether the selection returns the attribute at all, so that
// callers can skip loading it: Wants(rt, "members") is false for
// excludedAttributes=members (RFC 7644 §3.4.2.5) and for attributes=
// lists that do not name members. name is a top-level attribute name, or a
// URN-qualified one; an unknown name is not wanted.
func (s Selection) Wants(rt *ResourceType, name string) bool {
	a, canon, ok := rt.Lookup(AttrPath{Name: name})
	if !ok {
		return false
	}
	if canon.Sub != "" {
		top, _, _ := rt.Lookup(AttrPath{URN: canon.URN, Name: canon.Name})
		return s.wantsTop(top, canon.URN) && s.wantsSub(canon.URN, top, a)
	}
	return s.wantsTop(a, canon.URN)
}

// restricted reports whether an attributes list limits the result.
func (s Selection) restricted() bool { return s.restrict || len(s.Attributes) > 0 }

// wantsTop decides a top-level attribute (RFC 7643 §7 "returned", RFC 7644
// §3.4.2.5): never is never returned, always always; with an attributes
// list only the named ones (or their sub-attributes, or their whole
// extension); without one, default ones unless excluded and request ones
// not at all.
func (s Selection) wantsTop(a *Attribute, urn string) bool {
	switch a.Returned {
	case ReturnedNever:
		return false
	case ReturnedAlways:
		return true
	}
	if s.restricted() {
		named := false
		for _, p := range s.Attributes {
			if p.URN == urn && (p.Name == a.Name || p.Name == "" && urn != "") {
				named = true
				break
			}
		}
		if !named {
			return false
		}
	} else if a.Returned == ReturnedRequest {
		return false
	}
	for _, p := range s.Excluded {
		if p.URN == urn && (p.Name == a.Name && p.Sub == "" || p.Name == "" && urn != "") {
			return false
		}
	}
	return true
}

// wantsSub decides a sub-attribute of a top-level attribute the selection
// wants. With an attributes list naming sub-attributes of top (and not top
// itself), only those are returned.
func (s Selection) wantsSub(urn string, top, sub *Attribute) bool {
	switch sub.Returned {
	case ReturnedNever:
		return false
	case ReturnedAlways:
		return true
	}
	named, whole := false, false
	for _, p := range s.Attributes {
		if p.URN != urn || (p.Name != top.Name && !(p.Name == "" && urn != "")) {
			continue
		}
		switch {
		case p.Name == "" || p.Sub == "":
			whole = true
		case p.Sub == sub.Name:
			named = true
		}
	}
	if sub.Returned == ReturnedRequest && !named {
		return false
	}
	if s.restricted() && !whole && !named {
		return false
	}
	for _, p := range s.Excluded {
		if p.URN == urn && p.Name == top.Name && p.Sub == sub.Name {
			return false
		}
	}
	return true
}

// Project returns the representation of r to send to the client
// (RFC 7644 §3.4.2.5, §3.9): returned characteristics honoured (never:
// password is never output; request: only when named in attributes;
// always: id and schemas always), then the selection applied, down to the
// sub-attributes of complex and multi-valued complex values. Attributes the
// resource type does not define are left out.
//
// r is not modified. The result shares with r every map and slice it did not
// change, and is r itself when the selection changes nothing, as it does for
// most resources read with no attributes parameter: callers must not modify
// the result, nor r while they use it.
func (rt *ResourceType) Project(r Resource, s Selection) Resource {
	if s.restricted() {
		// An attributes list drops most attributes: building the result
		// from nothing is cheaper than copying r and deleting.
		return rt.projectGeneral(r, s)
	}
	p := rt.projector(s)
	var out Resource // nil until an attribute differs from r's
	for k, v := range r {
		same, ok := p.unchanged(k, v)
		if !ok {
			// A key not spelled as the schema spells it: the general path
			// resolves it, and any other spelling of the same name.
			return rt.projectGeneral(r, s)
		}
		if same {
			continue
		}
		if out == nil {
			// The keys checked so far are unchanged and the rest are
			// checked as the loop goes on, so copying all of r is safe:
			// out[k] is overwritten or deleted for every changed k.
			out = make(Resource, len(r))
			for k2, v2 := range r {
				out[k2] = v2
			}
		}
		delete(out, k)
		p.project(out, k, v)
	}
	if out != nil {
		return out
	}
	if r == nil {
		return Resource{} // as projectGeneral answers
	}
	return r
}

// projectGeneral is Project without the fast path: it builds the result
// attribute by attribute. Project's tests compare the two.
func (rt *ResourceType) projectGeneral(r Resource, s Selection) Resource {
	p := rt.projector(s)
	out := make(Resource, len(r))
	for k, v := range r {
		p.project(out, k, v)
	}
	return out
}

// projector applies a selection to the attributes of one resource type.
type projector struct {
	s    Selection
	idx  *attrIndex
	core *schemaIndex
}

func (rt *ResourceType) projector(s Selection) projector {
	idx := rt.index()
	core, _ := getFold(idx.schemas, rt.Schema.ID) // strings.ToLower would allocate
	return projector{s: s, idx: idx, core: core}
}

// project sets out's entry for the resource's attribute k with value v, if
// the selection returns any of it, under the name's canonical spelling.
func (p projector) project(out Resource, k string, v any) {
	if k == "schemas" {
		out[k] = v
		return
	}
	if si, ok := p.idx.schemaFold(k); ok && si.ext {
		em, ok := v.(map[string]any)
		if !ok {
			return
		}
		pm := map[string]any{}
		for ek, ev := range em {
			if e, ok := getFold(si.attrs, ek); ok && p.s.wantsTop(e.attr, si.urn) {
				if pv := p.s.projectValue(si.urn, e.attr, ev); pv != nil {
					pm[e.attr.Name] = pv
				}
			}
		}
		if len(pm) > 0 {
			out[si.urn] = pm
		}
		return
	}
	e, ok := getFold(p.core.attrs, k)
	if !ok || !p.s.wantsTop(e.attr, "") {
		return
	}
	if pv := p.s.projectValue("", e.attr, v); pv != nil {
		out[e.attr.Name] = pv
	}
}

// unchanged reports whether project would set out[k] to v itself (or to a
// copy equal to it), without allocating. ok is false when k is not the
// canonical spelling of "schemas", an extension URN or a core attribute:
// project would rename or drop it, and may map two keys of r to one.
func (p projector) unchanged(k string, v any) (same, ok bool) {
	if k == "schemas" {
		return true, true
	}
	if si, found := p.idx.schemaFold(k); found && si.ext {
		if k != si.urn {
			return false, false
		}
		em, isMap := v.(map[string]any)
		if !isMap || len(em) == 0 {
			return false, true
		}
		for ek, ev := range em {
			e, found := getFold(si.attrs, ek)
			if !found || ek != e.attr.Name || !p.s.wantsTop(e.attr, si.urn) || !p.s.unchangedValue(si.urn, e.attr, ev) {
				return false, true // project rebuilds the extension's map
			}
		}
		return true, true
	}
	e, found := getFold(p.core.attrs, k)
	if !found || k != e.attr.Name {
		return false, false
	}
	return p.s.wantsTop(e.attr, "") && p.s.unchangedValue("", e.attr, v), true
}

// unchangedValue reports whether projectValue returns v, or a copy equal to
// it: v is not nil and, for a complex attribute, every value is either not
// an object or a non-empty object of wanted sub-attributes spelled as the
// schema spells them.
func (s Selection) unchangedValue(urn string, a *Attribute, v any) bool {
	if v == nil {
		return false
	}
	if a.Type != TypeComplex {
		return true
	}
	// Without an attributes list or excludedAttributes, the returned
	// characteristic alone decides (see wantsSub).
	plain := !s.restricted() && len(s.Excluded) == 0
	one := func(x any) bool {
		m, ok := x.(map[string]any)
		if !ok {
			return x != nil
		}
		if len(m) == 0 {
			return false
		}
		for k := range m {
			// A linear scan with == beats a case-folded map read on a
			// handful of sub-attributes, and a name spelled otherwise is
			// one projectValue renames.
			sub := exactSubAttr(a, k)
			if sub == nil {
				return false
			}
			if plain && (sub.Returned == ReturnedDefault || sub.Returned == ReturnedAlways) {
				continue
			}
			if !s.wantsSub(urn, a, sub) {
				return false
			}
		}
		return true
	}
	arr, ok := v.([]any)
	if !ok {
		return one(v)
	}
	if len(arr) == 0 {
		return false
	}
	for _, el := range arr {
		if !one(el) {
			return false
		}
	}
	return true
}

// exactSubAttr returns the sub-attribute of a named exactly name, or nil.
func exactSubAttr(a *Attribute, name string) *Attribute {
	for _, sub := range a.SubAttributes {
		if sub.Name == name {
			return sub
		}
	}
	return nil
}

// projectValue applies the sub-attribute selection to a complex or
// multi-valued complex value; other values pass through.
func (s Selection) projectValue(urn string, a *Attribute, v any) any {
	if a.Type != TypeComplex {
		return v
	}
	one := func(x any) any {
		m, ok := x.(map[string]any)
		if !ok {
			return x
		}
		pm := make(map[string]any, len(m))
		for k, sv := range m {
			sub := findSubAttr(a, k)
			if sub == nil || !s.wantsSub(urn, a, sub) {
				continue
			}
			pm[sub.Name] = sv
		}
		if len(pm) == 0 {
			return nil
		}
		return pm
	}
	arr, ok := v.([]any)
	if !ok {
		return one(v)
	}
	out := make([]any, 0, len(arr))
	for _, el := range arr {
		if pv := one(el); pv != nil {
			out = append(out, pv)
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}
