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
// resource type does not define are left out. r is not modified; the result
// shares no maps or slices with r that it changed.
func (rt *ResourceType) Project(r Resource, s Selection) Resource {
	idx := rt.index()
	core := idx.schemas[strings.ToLower(rt.Schema.ID)]
	out := make(Resource, len(r))
	for k, v := range r {
		if k == "schemas" {
			out[k] = v
			continue
		}
		if si, ok := idx.schemaFold(k); ok && si.ext {
			em, ok := v.(map[string]any)
			if !ok {
				continue
			}
			pm := map[string]any{}
			for ek, ev := range em {
				if e, ok := getFold(si.attrs, ek); ok && s.wantsTop(e.attr, si.urn) {
					if pv := s.projectValue(si.urn, e.attr, ev); pv != nil {
						pm[e.attr.Name] = pv
					}
				}
			}
			if len(pm) > 0 {
				out[si.urn] = pm
			}
			continue
		}
		e, ok := getFold(core.attrs, k)
		if !ok || !s.wantsTop(e.attr, "") {
			continue
		}
		if pv := s.projectValue("", e.attr, v); pv != nil {
			out[e.attr.Name] = pv
		}
	}
	return out
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
