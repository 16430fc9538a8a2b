package schemas

import (
	"fmt"
	"slices"
	"sort"
	"strings"
)

// ApplyPatch applies p to a copy of r (r is not modified). For groups,
// members is the group's current membership and r has no "members"; member
// changes come back as deltas in the Change, never in the returned Resource.
// The result is validated as a whole (required, mutability, types).
//
// Operations follow RFC 7644 §3.5.2, applied in order, all or nothing, with
// these readings (the identity-provider shapes are in docs/idp-quirks.md):
//
//   - add on a single-valued attribute replaces it; add on a multi-valued
//     attribute appends the values not already present (§3.5.2.1); replace
//     of an absent attribute sets it (§3.5.2.3, Q19).
//   - add and replace of a single-valued complex attribute merge: the
//     sub-attributes given replace or add to the existing ones, the others
//     are left unchanged (§3.5.2.3 "Sub-attributes that are not specified in
//     the value parameter are left unchanged").
//   - add and replace through a value filter that matches nothing create one
//     element from the filter when it is a conjunction of eq tests
//     (`emails[type eq "work"].value`), so later operations with the same
//     filter update that element (Q6). RFC 7644 §3.5.2.3 asks noTarget of
//     replace here, but Entra ID relies on the creation; other filters that
//     match nothing are still KindNoTarget. A replace of matched elements
//     without a sub-attribute replaces them (§3.5.2.3), keeping the filter's
//     eq values where the new value does not give them.
//   - remove through a filter that matches nothing changes nothing: identity
//     providers retry removals, and a retry must not fail.
//   - remove of a multi-valued attribute with a value removes only the
//     elements listed, matched on their "value" sub-attribute (Q3); without
//     a value it removes the attribute. remove without a path is
//     KindNoTarget (§3.5.2.2).
//   - a path-less add or replace takes an object whose keys are attribute
//     paths: plain names, dotted ("name.givenName"), URN-qualified, or an
//     extension URN holding a nested object (§3.5.2.1, Q5). "schemas" and
//     "meta" keys are ignored (Q9, Q13), at the top and inside an
//     extension's object alike.
//   - unknown input (see Unknowns) is ignored: an operation whose path
//     names an unknown attribute changes nothing, and unknown keys of a
//     value are dropped. ApplyPatchWith reports it, or rejects it
//     (KindInvalidPath for a path, KindInvalidValue for a key of a value).
//   - a JSON null value unassigns the target for replace (RFC 7643 §2.5) and
//     changes nothing for add.
//   - setting "primary" true on one value sets it false on the others
//     (§3.5.2).
//   - a readOnly attribute given with its current value is ignored (Okta
//     sends the id back, Q9); changing it, or an immutable attribute that
//     has a value, is KindMutability (§3.5.2). readOnly sub-attributes
//     ("$ref" of manager, Q4) are ignored. writeOnly attributes (password)
//     are accepted and never kept.
//   - members of a group: add makes members of the values not already
//     members; remove with a filter or a value array removes those only;
//     remove without a value, replace, and a path-less "members" key set
//     the whole membership ([] removes every member, Q8). A path-less
//     value without "members" leaves members alone. Member type defaults
//     to "User".
func (rt *ResourceType) ApplyPatch(r Resource, members Members, p Patch) (Resource, Change, error) {
	return rt.ApplyPatchWith(r, members, p, nil)
}

// ApplyPatchWith is ApplyPatch with unknown input handled as u says (see
// Unknowns); a nil u ignores it silently.
func (rt *ResourceType) ApplyPatchWith(r Resource, members Members, p Patch, u *Unknowns) (Resource, Change, error) {
	a := &applier{rt: rt, old: r, r: deepCopy(map[string]any(r)).(map[string]any), u: u}
	if a.r == nil {
		a.r = map[string]any{}
	}
	if rt.IsGroup() {
		a.members = newMemberDelta(members)
	}
	for i, op := range p.Ops {
		if err := a.apply(op); err != nil {
			return nil, Change{}, withOpIndex(err, "Operations[%d]: ", i)
		}
	}
	next := Resource(a.r)
	if err := rt.settle(r, next, false); err != nil {
		return nil, Change{}, err
	}
	if err := rt.Validate(next); err != nil {
		return nil, Change{}, err
	}
	c := Change{Attributes: rt.changedAttributes(r, next)}
	if a.members != nil {
		a.members.apply(&c)
		if err := CheckMembers(c.MembersAdded); err != nil {
			return nil, Change{}, err
		}
	}
	return next, c, nil
}

// applier is the state of one ApplyPatch: the working copy and the member
// deltas so far.
type applier struct {
	rt      *ResourceType
	old     Resource
	r       map[string]any
	members *memberDelta // nil unless a group
	u       *Unknowns
}

// target is a resolved PATCH path.
type target struct {
	attr   *Attribute // the top-level attribute
	urn    string     // its schema: "" for core and common attributes
	name   string     // its canonical name
	sub    *Attribute // the sub-attribute, or nil
	filter Expr       // the value filter, or nil
	path   string     // the path as the client wrote it, for errors
}

func (a *applier) apply(op PatchOp) error {
	if op.Path == nil {
		if op.Op == "remove" {
			return Errorf(KindNoTarget, "remove operation has no path")
		}
		return a.applyObject(op.Op, op.Value)
	}
	if urn, ok := a.extensionURN(*op.Path); ok {
		return a.applyExtension(op.Op, urn, op.Value)
	}
	t, ok, err := a.resolve(*op.Path, op.Path.String(), KindInvalidPath)
	if !ok {
		return err
	}
	return a.applyTarget(op.Op, t, op.Value)
}

// extensionURN reports whether p names a whole extension schema
// ("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"), which
// ParsePath splits like any URN-qualified path.
func (a *applier) extensionURN(p Path) (string, bool) {
	if p.Filter != nil || p.Attr.Sub != "" || p.Attr.URN == "" {
		return "", false
	}
	return a.rt.schemaURN(p.Attr.URN + ":" + p.Attr.Name)
}

// schemaURN returns the canonical spelling of s if it is the core schema or
// an extension schema of rt.
func (rt *ResourceType) schemaURN(s string) (string, bool) {
	if rt.Schema != nil && strings.EqualFold(s, rt.Schema.ID) {
		return rt.Schema.ID, true
	}
	for _, ext := range rt.Extensions {
		if strings.EqualFold(s, ext.Schema.ID) {
			return ext.Schema.ID, true
		}
	}
	return "", false
}

// applyObject applies a path-less add or replace: each key of the value is
// a path (RFC 7644 §3.5.2.1, §3.5.2.3; Q5). Keys are applied in sorted
// order, so "name" comes before "name.givenName".
func (a *applier) applyObject(op string, v any) error {
	m, ok := v.(map[string]any)
	if !ok {
		return Errorf(KindInvalidValue, "%s without a path needs an object value", op)
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if strings.EqualFold(k, "schemas") || strings.EqualFold(k, "meta") {
			continue
		}
		if urn, ok := a.rt.schemaURN(k); ok {
			if err := a.applyExtension(op, urn, m[k]); err != nil {
				return err
			}
			continue
		}
		if err := a.applyKey(op, k, m[k]); err != nil {
			return err
		}
	}
	return nil
}

// applyKey applies the value of one key of a path-less value.
func (a *applier) applyKey(op, key string, v any) error {
	p, err := ParsePath(key)
	if err != nil {
		return a.u.unknown(a.rt.unknownKind(key), key, &Error{Kind: KindInvalidValue, Detail: fmt.Sprintf("unknown attribute %q", key), Err: err})
	}
	t, ok, err := a.resolve(p, key, KindInvalidValue)
	if !ok {
		return err
	}
	return a.applyTarget(op, t, v)
}

// applyExtension applies an operation on a whole schema: an object of its
// attributes for add and replace, or, for remove, all of them.
func (a *applier) applyExtension(op, urn string, v any) error {
	core := a.rt.Schema != nil && urn == a.rt.Schema.ID
	if op == "remove" && v == nil {
		if core {
			return Errorf(KindInvalidPath, "cannot remove the core schema %s", urn)
		}
		delete(a.r, urn)
		return nil
	}
	if v == nil {
		if op == "replace" && !core {
			delete(a.r, urn)
		}
		return nil
	}
	m, ok := v.(map[string]any)
	if !ok {
		return Errorf(KindInvalidValue, "%s: value is not an object", urn)
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if strings.EqualFold(k, "schemas") || strings.EqualFold(k, "meta") {
			continue // as at the top of a path-less value; POST and PUT drop them too
		}
		if err := a.applyKey(op, urn+":"+k, m[k]); err != nil {
			return err
		}
	}
	return nil
}

// resolve looks a path up in the resource type. ok is false when the
// operation must not go on: with err set when it fails, with err nil when
// the path names an unknown attribute that a.u ignores. A strict a.u makes
// that an error of kind unknown (KindInvalidPath for a path,
// KindInvalidValue for a key of a path-less value), and so is a bad value
// filter in every mode: a filter is a query, not input to ignore.
func (a *applier) resolve(p Path, written string, unknown Kind) (t target, ok bool, err error) {
	attr, canon, found := a.rt.Lookup(AttrPath{URN: p.Attr.URN, Name: p.Attr.Name})
	if found && p.Attr.Sub != "" {
		t.sub, _, found = a.rt.Lookup(AttrPath{URN: canon.URN, Name: canon.Name, Sub: p.Attr.Sub})
	}
	if !found {
		name := p.Attr.String()
		return target{}, false, a.u.unknown(a.rt.unknownKind(name), name, Errorf(unknown, "unknown attribute %q", written))
	}
	t.attr, t.urn, t.name, t.filter, t.path = attr, canon.URN, canon.Name, p.Filter, written
	if t.filter != nil && !(attr.MultiValued && attr.Type == TypeComplex) {
		return target{}, false, Errorf(unknown, "%s: a value filter needs a multi-valued complex attribute", written)
	}
	if t.filter != nil {
		// An unknown sub-attribute in the filter would match nothing and
		// pass silently (RFC 7644 §3.5.2: an invalid path is invalidPath).
		vp := &ValuePathExpr{Path: AttrPath{URN: t.urn, Name: t.name}, Filter: t.filter}
		if err := a.rt.CheckFilter(vp); err != nil {
			return target{}, false, &Error{Kind: unknown, Detail: fmt.Sprintf("%s: invalid value filter", written), Err: err}
		}
	}
	return t, true, nil
}

func (a *applier) applyTarget(op string, t target, v any) error {
	switch {
	case a.members != nil && t.urn == "" && t.name == "members":
		return a.applyMembers(op, t, v)
	case t.attr.Mutability == ReadOnly && (t.filter != nil || t.sub != nil):
		return Errorf(KindMutability, "%s is readOnly", t.path)
	case t.filter != nil:
		return a.applyFiltered(op, t, v)
	case t.sub != nil:
		return a.applySub(op, t, v)
	default:
		return a.applyAttr(op, t, v)
	}
}

// container returns the map holding t's attribute: the resource, or the
// object under an extension URN (created if create is set).
func (a *applier) container(urn string, create bool) map[string]any {
	if urn == "" {
		return a.r
	}
	m, _ := a.r[urn].(map[string]any)
	if m == nil && create {
		m = map[string]any{}
		a.r[urn] = m
	}
	return m
}

// applyAttr applies an operation to a whole attribute (path without filter
// or sub-attribute).
func (a *applier) applyAttr(op string, t target, v any) error {
	c := a.container(t.urn, op != "remove")
	if op == "remove" {
		if c == nil {
			return nil
		}
		if v != nil && t.attr.MultiValued {
			return a.removeValues(c, t, v)
		}
		delete(c, t.name)
		return nil
	}
	val, err := coerceValue(t.attr, v, t.path, false, a.u)
	if err != nil {
		return err
	}
	if t.attr.Mutability == ReadOnly && !unassigned(v) && (val == nil || !sameAssigned(c[t.name], val)) {
		// Values the schema drops on coercion (groups' readOnly
		// sub-attributes) would otherwise pass as "unchanged".
		return Errorf(KindMutability, "%s is readOnly", t.path)
	}
	if val == nil {
		if op == "replace" {
			delete(c, t.name)
		}
		return nil
	}
	if !t.attr.MultiValued {
		if t.attr.Type == TypeComplex {
			val = merge(c[t.name], val)
		}
		c[t.name] = val
		return nil
	}
	add, _ := val.([]any)
	if op == "replace" {
		c[t.name] = add
		return nil
	}
	list, _ := c[t.name].([]any)
	var touched []int
	for _, x := range add {
		if i := indexOf(list, x); i >= 0 {
			touched = append(touched, i)
			continue
		}
		list = append(list, x)
		touched = append(touched, len(list)-1)
	}
	onePrimary(list, touched)
	c[t.name] = list
	return nil
}

// removeValues removes the listed values of a multi-valued attribute (Q3):
// complex values are matched on their "value" sub-attribute when the given
// value has one, other values by equality.
func (a *applier) removeValues(c map[string]any, t target, v any) error {
	val, err := coerceValue(t.attr, v, t.path, false, a.u)
	if err != nil {
		return err
	}
	drop, _ := val.([]any)
	list, _ := c[t.name].([]any)
	out := list[:0:0]
	for _, e := range list {
		if !slices.ContainsFunc(drop, func(d any) bool { return sameValue(e, d) }) {
			out = append(out, e)
		}
	}
	c[t.name] = out
	return nil
}

// sameValue reports whether element e is the element d names for removal.
func sameValue(e, d any) bool {
	dm, ok := d.(map[string]any)
	if !ok {
		return equalValues(e, d)
	}
	em, _ := e.(map[string]any)
	if dv, ok := dm["value"]; ok {
		return em != nil && equalValues(em["value"], dv)
	}
	return equalValues(e, d)
}

// applySub applies an operation to a sub-attribute without a filter:
// "name.familyName", or "emails.type" (every element).
func (a *applier) applySub(op string, t target, v any) error {
	c := a.container(t.urn, op != "remove")
	if c == nil {
		return nil
	}
	var val any
	if op != "remove" {
		var err error
		if val, err = coerceValue(t.sub, v, t.path, false, a.u); err != nil {
			return err
		}
		if val == nil && op == "add" {
			return nil
		}
	}
	if !t.attr.MultiValued {
		m, _ := c[t.name].(map[string]any)
		if val == nil {
			delete(m, t.sub.Name)
			return nil
		}
		if m == nil {
			m = map[string]any{}
			c[t.name] = m
		}
		m[t.sub.Name] = val
		return nil
	}
	list, _ := c[t.name].([]any)
	if len(list) == 0 && val != nil {
		c[t.name] = []any{map[string]any{t.sub.Name: val}}
		return nil
	}
	for _, e := range list {
		m, ok := e.(map[string]any)
		if !ok {
			continue
		}
		if val == nil {
			delete(m, t.sub.Name)
		} else {
			m[t.sub.Name] = val
		}
	}
	return nil
}

// applyFiltered applies an operation through a value filter:
// `emails[type eq "work"]`, `emails[type eq "work"].value`.
func (a *applier) applyFiltered(op string, t target, v any) error {
	c := a.container(t.urn, op != "remove")
	if c == nil {
		return nil
	}
	list, _ := c[t.name].([]any)
	idx := a.matching(t, list)
	if op == "remove" || v == nil {
		if op == "add" || len(idx) == 0 {
			return nil
		}
		c[t.name] = removeAt(list, idx, t.sub)
		return nil
	}
	var val any
	var err error
	if t.sub != nil {
		val, err = coerceValue(t.sub, v, t.path, false, a.u)
	} else {
		val, err = coerceValue(t.attr, v, t.path, true, a.u)
	}
	if err != nil {
		return err
	}
	if val == nil {
		return nil
	}
	elem, _ := val.(map[string]any)
	if t.sub == nil && elem == nil {
		return Errorf(KindInvalidValue, "%s: value is not an object", t.path)
	}
	var conds map[string]any
	if len(idx) == 0 || (t.sub == nil && op == "replace") {
		var ok bool
		if conds, ok = a.eqConditions(t, t.filter); !ok && len(idx) == 0 {
			return Errorf(KindNoTarget, "%s: the filter matches no value", t.path)
		}
	}
	if len(idx) == 0 {
		list = append(list, conds)
		idx = []int{len(list) - 1}
	}
	for _, i := range idx {
		m, _ := list[i].(map[string]any)
		switch {
		case t.sub != nil:
			m[t.sub.Name] = val
		case op == "replace":
			n := deepCopy(elem).(map[string]any)
			for k, x := range conds {
				if _, ok := n[k]; !ok {
					n[k] = x
				}
			}
			list[i] = n
		default:
			list[i] = merge(m, deepCopy(elem))
		}
	}
	onePrimary(list, idx)
	c[t.name] = list
	return nil
}

// matching returns the indexes of the elements of list that t's filter
// matches.
func (a *applier) matching(t target, list []any) []int {
	var idx []int
	e := &ValuePathExpr{Path: AttrPath{URN: t.urn, Name: t.name}, Filter: t.filter}
	for i, x := range list {
		one := []any{x}
		var r Resource
		if t.urn == "" {
			r = Resource{t.name: one}
		} else {
			r = Resource{t.urn: map[string]any{t.name: one}}
		}
		if a.rt.Matches(e, r) {
			idx = append(idx, i)
		}
	}
	return idx
}

// eqConditions returns the element a filter describes when it is a
// conjunction of eq tests on sub-attributes (`type eq "work"`,
// `type eq "work" and primary eq true`), coerced like values.
func (a *applier) eqConditions(t target, f Expr) (map[string]any, bool) {
	out := map[string]any{}
	var walk func(Expr) bool
	walk = func(f Expr) bool {
		switch f := f.(type) {
		case *LogicalExpr:
			return f.And && walk(f.Left) && walk(f.Right)
		case *CompareExpr:
			if f.Op != OpEq || f.Value == nil || f.Path.URN != "" {
				return false
			}
			name := f.Path.Name
			if f.Path.Sub != "" {
				if !strings.EqualFold(f.Path.Name, t.name) {
					return false
				}
				name = f.Path.Sub
			}
			sub, canon, ok := a.rt.Lookup(AttrPath{URN: t.urn, Name: t.name, Sub: name})
			if !ok {
				return false
			}
			v, err := coerceValue(sub, f.Value, t.path, false, nil)
			if err != nil || v == nil {
				return false
			}
			if prev, ok := out[canon.Sub]; ok && !equalValues(prev, v) {
				return false
			}
			out[canon.Sub] = v
			return true
		}
		return false
	}
	if !walk(f) {
		return nil, false
	}
	return out, true
}

// applyMembers applies an operation to a group's members (RFC 7643 §4.2),
// recording deltas instead of editing the resource.
func (a *applier) applyMembers(op string, t target, v any) error {
	d := a.members
	if t.sub != nil {
		return Errorf(KindMutability, "%s: member sub-attributes are immutable; add or remove the member", t.path)
	}
	if t.filter != nil {
		if op != "remove" {
			return Errorf(KindInvalidPath, "%s: a members filter is supported for remove only", t.path)
		}
		if conds, ok := a.eqConditions(t, t.filter); ok && len(conds) == 1 {
			if value, ok := conds["value"].(string); ok {
				d.remove(Member{Value: value})
				return nil
			}
		}
		e := &ValuePathExpr{Path: AttrPath{Name: t.name}, Filter: t.filter}
		for _, m := range d.current() {
			if a.rt.Matches(e, Resource{t.name: []any{memberMap(m)}}) {
				d.remove(m)
			}
		}
		return nil
	}
	ms, err := parseMembers(v, t.path, a.u)
	if err != nil {
		return err
	}
	switch {
	case op == "add":
		for _, m := range ms {
			d.add(m)
		}
	case op == "remove" && v != nil:
		// Q3: matched on value only; the type and display a client
		// sends are not the stored ones.
		for _, m := range ms {
			d.remove(Member{Value: m.Value})
		}
	default: // replace, or remove without a value
		d.set(ms)
	}
	return nil
}

// merge sets the sub-attributes of the complex value add on a copy of the
// complex value old (RFC 7644 §3.5.2.3).
func merge(old, add any) any {
	om, _ := old.(map[string]any)
	am, ok := add.(map[string]any)
	if !ok {
		return add
	}
	out := make(map[string]any, len(om)+len(am))
	for k, v := range om {
		out[k] = v
	}
	for k, v := range am {
		out[k] = v
	}
	return out
}

func indexOf(list []any, x any) int {
	for i, e := range list {
		if equalValues(e, x) {
			return i
		}
	}
	return -1
}

// removeAt removes the elements at idx, or, with sub set, that
// sub-attribute of them.
func removeAt(list []any, idx []int, sub *Attribute) []any {
	if sub != nil {
		for _, i := range idx {
			if m, ok := list[i].(map[string]any); ok {
				delete(m, sub.Name)
			}
		}
		return list
	}
	out := make([]any, 0, len(list)-len(idx))
	j := 0
	for i, e := range list {
		if j < len(idx) && idx[j] == i {
			j++
			continue
		}
		out = append(out, e)
	}
	return out
}

// onePrimary sets "primary" to false on the other values when exactly one
// touched value has it true (RFC 7644 §3.5.2: "a PATCH operation that sets a
// value's primary sub-attribute to true SHALL cause the server to
// automatically set primary to false for any other values in the array").
func onePrimary(list []any, touched []int) {
	primary := -1
	for _, i := range touched {
		if m, ok := list[i].(map[string]any); ok && m["primary"] == true {
			if primary >= 0 && primary != i {
				return // several: Validate reports it
			}
			primary = i
		}
	}
	if primary < 0 {
		return
	}
	for i, e := range list {
		if m, ok := e.(map[string]any); ok && i != primary && m["primary"] == true {
			m["primary"] = false
		}
	}
}
