package schemas

import "strings"

// Replace computes a PUT (RFC 7644 §3.5.1): next is the decoded body
// (Decode), old the stored resource. Immutable attributes must not change
// (KindMutability); readOnly ones keep their old values. For groups the
// members in next's "members" are diffed against members.
//
// RFC 7644 §3.5.1 lets a service provider either clear or keep readWrite
// attributes a PUT omits; scim-bridge clears them: the body is the new
// resource. That includes a group's members: the members in the body become
// the whole membership, and a body without members empties the group (Okta
// AIW and Ping push the complete list with every PUT; Decode leaves out an
// empty "members": [], so absent and empty cannot be told apart). An
// immutable attribute the body omits keeps its old value; one the body
// changes is KindMutability unless the old resource had none. readOnly
// attributes keep their old values. writeOnly attributes (password) are
// never kept.
func (rt *ResourceType) Replace(old Resource, members Members, next Resource) (Resource, Change, error) {
	r, _ := deepCopy(map[string]any(next)).(map[string]any)
	if r == nil {
		r = map[string]any{}
	}
	var d *memberDelta
	if rt.IsGroup() {
		ms, err := rt.SplitMembers(r)
		if err != nil {
			return nil, Change{}, err
		}
		d = newMemberDelta(members)
		d.set(ms)
	}
	res := Resource(r)
	if err := rt.settle(old, res, true); err != nil {
		return nil, Change{}, err
	}
	if err := rt.Validate(res); err != nil {
		return nil, Change{}, err
	}
	c := Change{Attributes: rt.changedAttributes(old, res)}
	if d != nil {
		d.apply(&c)
	}
	return res, c, nil
}

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
	oldC := func(urn string) map[string]any {
		if urn == "" {
			return old
		}
		m, _ := old[urn].(map[string]any)
		return m
	}
	newC := func(urn string, create bool) map[string]any {
		if urn == "" {
			return next
		}
		m, _ := next[urn].(map[string]any)
		if m == nil && create {
			m = map[string]any{}
			next[urn] = m
		}
		return m
	}
	for _, urn := range rt.containerURNs() {
		oc, nc := oldC(urn), newC(urn, false)
		names := make([]string, 0, len(oc)+len(nc))
		for k := range oc {
			names = append(names, k)
		}
		for k := range nc {
			if _, ok := oc[k]; !ok {
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
			ov, hadOld := oc[name]
			nv, hasNew := nc[name]
			switch attr.Mutability {
			case WriteOnly:
				delete(nc, name)
				continue
			case ReadOnly:
				if put {
					restore(newC(urn, hadOld), name, ov, hadOld)
					continue
				}
				if !sameAssigned(ov, nv) {
					return Errorf(KindMutability, "%s is readOnly", qualified(urn, name))
				}
				continue
			case Immutable:
				if put && !hasNew {
					restore(newC(urn, hadOld), name, ov, hadOld)
					continue
				}
				if !unassigned(ov) && !sameAssigned(ov, nv) {
					return Errorf(KindMutability, "%s is immutable", qualified(urn, name))
				}
			}
			if attr.Type == TypeComplex && attr.MultiValued {
				if list, _ := nv.([]any); countPrimary(list) > 1 {
					return Errorf(KindInvalidValue, "%s: more than one value has primary true (RFC 7643 §2.4)", qualified(urn, name))
				}
				continue
			}
			if attr.Type != TypeComplex || !hasNew {
				continue
			}
			om, _ := ov.(map[string]any)
			nm, _ := nv.(map[string]any)
			if nm == nil {
				continue
			}
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
						return Errorf(KindMutability, "%s.%s is immutable", qualified(urn, name), sub.Name)
					}
				}
			}
		}
	}
	dropRemovedExtensions(rt, next)
	prune(next)
	rt.fixSchemas(next, old)
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
