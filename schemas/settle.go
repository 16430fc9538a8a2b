package schemas

import "strings"

// Settling a write: what PUT (Replace) and PATCH (ApplyPatch) share once
// they have built the new resource.

// settle turns the working copy next of a write on old into a canonical
// resource and enforces mutability (RFC 7643 §2.2, RFC 7644 §3.5.1,
// §3.5.2):
//
//   - writeOnly attributes are dropped (never stored);
//   - readOnly sub-attributes of single-valued complex attributes keep their
//     old values (a client's "$ref" of manager is ignored);
//   - a readOnly attribute keeps its old value for a PUT (put set), and is
//     KindMutability for a PATCH if its value changed;
//   - an immutable attribute (or immutable sub-attribute of a single-valued
//     complex attribute) with an old value is KindMutability if changed; a
//     PUT that omits it keeps the old value;
//   - data under the URN of an extension rt no longer has is dropped
//     (dropRemovedExtensions);
//   - unassigned values are pruned and "schemas" is recomputed.
func (rt *ResourceType) settle(old, next Resource, put bool) error {
	for _, urn := range rt.containerURNs() {
		if err := rt.settleContainer(old, next, urn, put); err != nil {
			return err
		}
	}
	dropRemovedExtensions(rt, next)
	prune(next)
	rt.fixSchemas(next, old)
	return nil
}

// settler settles the attributes of one container (the resource itself, or
// an extension's object) of a write.
type settler struct {
	next Resource
	urn  string // "" for the resource itself, else the extension's URN
	put  bool
	// The container's attributes in old and, as the container's settling
	// began, in next (nil when absent there; restoring creates it in next,
	// not in nc).
	oc, nc map[string]any
}

// settleContainer settles every attribute under urn of old or next.
func (rt *ResourceType) settleContainer(old, next Resource, urn string, put bool) error {
	s := settler{next: next, urn: urn, put: put, oc: container(old, urn, false), nc: container(next, urn, false)}
	names := make([]string, 0, len(s.oc)+len(s.nc))
	for k := range s.oc {
		names = append(names, k)
	}
	for k := range s.nc {
		if _, ok := s.oc[k]; !ok {
			names = append(names, k)
		}
	}
	for _, name := range names {
		if urn == "" && (name == "schemas" || rt.isContainer(name)) {
			continue
		}
		lookupURN := urn
		if urn == "" && rt.Schema != nil {
			lookupURN = rt.Schema.ID
		}
		attr, _, ok := rt.Lookup(AttrPath{URN: lookupURN, Name: name})
		if !ok {
			continue
		}
		if err := s.attribute(attr, name); err != nil {
			return err
		}
	}
	return nil
}

// container returns the attributes of r under urn: r itself for "", else
// the extension's object, which create makes when r has none.
func container(r Resource, urn string, create bool) map[string]any {
	if urn == "" {
		return r
	}
	m, _ := r[urn].(map[string]any)
	if m == nil && create {
		m = map[string]any{}
		r[urn] = m
	}
	return m
}

// attribute enforces the mutability of attribute name (attr), then checks
// a multi-valued complex value's primaries or settles a single-valued
// complex value's sub-attributes.
func (s *settler) attribute(attr *Attribute, name string) error {
	ov, hadOld := s.oc[name]
	nv, hasNew := s.nc[name]
	switch attr.Mutability {
	case WriteOnly:
		delete(s.nc, name)
		return nil
	case ReadOnly:
		if s.put {
			restore(container(s.next, s.urn, hadOld), name, ov, hadOld)
			return nil
		}
		if !sameAssigned(ov, nv) {
			return Errorf(KindMutability, "%s is readOnly", qualified(s.urn, name))
		}
		return nil
	case Immutable:
		if s.put && !hasNew {
			restore(container(s.next, s.urn, hadOld), name, ov, hadOld)
			return nil
		}
		if !unassigned(ov) && !sameAssigned(ov, nv) {
			return Errorf(KindMutability, "%s is immutable", qualified(s.urn, name))
		}
	}
	if attr.Type == TypeComplex && attr.MultiValued {
		if list, _ := nv.([]any); countPrimary(list) > 1 {
			return Errorf(KindInvalidValue, "%s: more than one value has primary true (RFC 7643 §2.4)", qualified(s.urn, name))
		}
		return nil
	}
	if attr.Type != TypeComplex || !hasNew {
		return nil
	}
	om, _ := ov.(map[string]any)
	nm, _ := nv.(map[string]any)
	if nm == nil {
		return nil
	}
	return s.subAttributes(attr, name, om, nm)
}

// subAttributes enforces the mutability of the sub-attributes of a
// single-valued complex attribute, old value om, new value nm.
func (s *settler) subAttributes(attr *Attribute, name string, om, nm map[string]any) error {
	for _, sub := range attr.SubAttributes {
		so, hadSub := om[sub.Name]
		sn := nm[sub.Name]
		switch sub.Mutability {
		case ReadOnly:
			restore(nm, sub.Name, so, hadSub)
		case WriteOnly:
			delete(nm, sub.Name)
		case Immutable:
			if !unassigned(so) && !sameAssigned(so, sn) {
				return Errorf(KindMutability, "%s.%s is immutable", qualified(s.urn, name), sub.Name)
			}
		}
	}
	return nil
}

// dropRemovedExtensions deletes the data of extension schemas rt no longer
// has: a resource stored while a custom extension was declared keeps it
// under the URN after the operator removes the definition, and its next
// write drops it rather than failing on an unknown attribute. Clients
// cannot put such keys in next (unknown input never reaches it), so only
// old data is dropped.
func dropRemovedExtensions(rt *ResourceType, next Resource) {
	for k := range next {
		if len(k) > 4 && strings.EqualFold(k[:4], "urn:") && !rt.isContainer(k) {
			delete(next, k)
		}
	}
}

// containerURNs lists where attributes live: "" (the resource itself) and
// each extension URN.
func (rt *ResourceType) containerURNs() []string {
	out := make([]string, 0, 1+len(rt.Extensions))
	out = append(out, "")
	for _, ext := range rt.Extensions {
		out = append(out, ext.Schema.ID)
	}
	return out
}

// isContainer reports whether key is an extension URN of rt.
func (rt *ResourceType) isContainer(key string) bool {
	for _, ext := range rt.Extensions {
		if ext.Schema.ID == key {
			return true
		}
	}
	return false
}

// restore sets m[name] back to old, or deletes it if there was none.
func restore(m map[string]any, name string, old any, had bool) {
	if m == nil {
		return
	}
	if had {
		m[name] = deepCopy(old)
	} else {
		delete(m, name)
	}
}

// sameAssigned compares values treating every unassigned form as equal.
func sameAssigned(a, b any) bool {
	if unassigned(a) || unassigned(b) {
		return unassigned(a) && unassigned(b)
	}
	return equalValues(a, b)
}

func qualified(urn, name string) string {
	if urn == "" {
		return name
	}
	return urn + ":" + name
}

// countPrimary counts the values with primary true.
func countPrimary(list []any) int {
	n := 0
	for _, e := range list {
		if m, ok := e.(map[string]any); ok && m["primary"] == true {
			n++
		}
	}
	return n
}
