package schemas

import (
	"encoding/json"
	"slices"
	"sort"
	"strings"
)

// This file holds what PATCH and PUT share to compute the Change of a
// write: copying and comparing canonical values, pruning unassigned values,
// the schemas list and the changed attributes. A group's members are
// members.go's.

// deepCopy copies a canonical value (see Resource): maps and slices are
// copied, scalars shared.
func deepCopy(v any) any {
	switch v := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(v))
		for k, x := range v {
			m[k] = deepCopy(x)
		}
		return m
	case Resource:
		return Resource(deepCopy(map[string]any(v)).(map[string]any))
	case []any:
		s := make([]any, len(v))
		for i, x := range v {
			s[i] = deepCopy(x)
		}
		return s
	default:
		return v
	}
}

// equalValues reports whether two canonical values are equal. Numbers compare
// by their JSON text, which canonical values keep normalised.
func equalValues(a, b any) bool {
	switch a := a.(type) {
	case map[string]any:
		b, ok := b.(map[string]any)
		if !ok || len(a) != len(b) {
			return false
		}
		for k, x := range a {
			y, ok := b[k]
			if !ok || !equalValues(x, y) {
				return false
			}
		}
		return true
	case []any:
		b, ok := b.([]any)
		if !ok || len(a) != len(b) {
			return false
		}
		for i := range a {
			if !equalValues(a[i], b[i]) {
				return false
			}
		}
		return true
	case json.Number:
		b, ok := b.(json.Number)
		return ok && a == b
	case string:
		b, ok := b.(string)
		return ok && a == b
	case bool:
		b, ok := b.(bool)
		return ok && a == b
	case nil:
		return b == nil
	default:
		return false
	}
}

// unassigned reports whether v is "unassigned" in the sense of RFC 7643
// §2.5: null, an empty array or an empty complex value.
func unassigned(v any) bool {
	switch v := v.(type) {
	case nil:
		return true
	case map[string]any:
		return len(v) == 0
	case []any:
		return len(v) == 0
	}
	return false
}

// prune removes unassigned values from m, recursively, so that the result is
// canonical (Resource: "unassigned attributes are absent").
func prune(m map[string]any) {
	for k, v := range m {
		switch x := v.(type) {
		case map[string]any:
			prune(x)
		case []any:
			out := x[:0]
			for _, e := range x {
				if em, ok := e.(map[string]any); ok {
					prune(em)
				}
				if !unassigned(e) {
					out = append(out, e)
				}
			}
			clear(x[len(out):])
			m[k] = out
			v = out
		}
		if unassigned(m[k]) {
			delete(m, k)
		}
	}
}

// fixSchemas sets r's "schemas" to the core schema followed by each
// extension that has values, in the resource type's order (RFC 7643 §3: the
// schemas attribute lists the schemas the resource's attributes come from).
// An equal set in another order keeps old's order, so that a write does not
// report "schemas" as changed for a different spelling of the same list.
func (rt *ResourceType) fixSchemas(r, old Resource) {
	want := []any{rt.Schema.ID}
	for _, ext := range rt.Extensions {
		if _, ok := r[ext.Schema.ID]; ok {
			want = append(want, ext.Schema.ID)
		}
	}
	if prev, ok := old["schemas"].([]any); ok && len(prev) == len(want) {
		same := true
		for _, w := range want {
			if !slices.ContainsFunc(prev, func(p any) bool { s, _ := p.(string); return strings.EqualFold(s, w.(string)) }) {
				same = false
				break
			}
		}
		if same {
			r["schemas"] = deepCopy(prev)
			return
		}
	}
	r["schemas"] = want
}

// changedAttributes lists the attributes whose values differ between old and
// next: top-level names of the core schema and common attributes, and
// "URN:name" for extension attributes, sorted.
func (rt *ResourceType) changedAttributes(old, next Resource) []string {
	var out []string
	exts := make(map[string]bool, len(rt.Extensions))
	for _, ext := range rt.Extensions {
		exts[ext.Schema.ID] = true
	}
	seen := func(k string) bool { return exts[k] }
	for k, v := range next {
		if seen(k) {
			continue
		}
		if w, ok := old[k]; !ok || !equalValues(v, w) {
			out = append(out, k)
		}
	}
	for k := range old {
		if seen(k) {
			continue
		}
		if _, ok := next[k]; !ok {
			out = append(out, k)
		}
	}
	for urn := range exts {
		om, _ := old[urn].(map[string]any)
		nm, _ := next[urn].(map[string]any)
		for k, v := range nm {
			if w, ok := om[k]; !ok || !equalValues(v, w) {
				out = append(out, urn+":"+k)
			}
		}
		for k := range om {
			if _, ok := nm[k]; !ok {
				out = append(out, urn+":"+k)
			}
		}
	}
	sort.Strings(out)
	return out
}
