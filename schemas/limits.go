package schemas

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
)

// Limits on what one resource may hold. They keep every accepted write
// within what the event log and the projection take (a Kafka message, a
// Badger key or value; see the README, "Limits"); /Schemas states them in
// the descriptions of the attributes they concern.
const (
	// MaxIndexedBytes bounds, in UTF-8 bytes, each value the projection
	// indexes (they become part of keys): User userName, externalId,
	// emails.value, Group displayName, and member ids.
	MaxIndexedBytes = 1 << 10

	// MaxStringBytes bounds any one string value, in UTF-8 bytes.
	MaxStringBytes = 64 << 10

	// MaxValues bounds the values of one multi-valued attribute. Group
	// members are not bounded by it: they are stored as memberships.
	MaxValues = 256
)

// indexedAttrs are the attributes, per resource type, whose values the
// projection indexes: "attr" or "attr.sub" (of every value of a
// multi-valued attribute).
var indexedAttrs = map[string][]string{
	User:  {"userName", "externalId", "emails.value"},
	Group: {"displayName", "externalId", "members.value"},
}

// CheckLimits checks r against MaxIndexedBytes, MaxStringBytes and
// MaxValues. The error is KindInvalidValue and names the attribute (as
// "emails[3].value") and the limit, never the value. Decode and Validate
// call it, so POST, PUT and the result of a PATCH are all checked.
func (rt *ResourceType) CheckLimits(r Resource) error {
	if rt.fitsLimits(r) {
		return nil
	}
	return rt.checkLimits(r)
}

// fitsLimits reports whether r is within the limits without making the
// paths and attribute names an error names (strings for every value of a
// body); only checkLimits, which does, says why not. It may report false
// for a resource within the limits, never true for one over them.
func (rt *ResourceType) fitsLimits(r Resource) bool {
	indexed := indexedAttrs[rt.Name]
	for k, v := range r {
		if ext, ok := v.(map[string]any); ok && rt.isExtension(k) {
			for _, e := range ext {
				if !fits(e, false, nil, "", "", 0) {
					return false
				}
			}
			continue
		}
		if !fits(v, rt.IsGroup() && k == "members", indexed, k, "", 0) {
			return false
		}
	}
	return true
}

// fits is checkValue without the path: v is a value of attribute top
// (depth 0) or of its sub-attribute sub (depth 1), or deeper; many lifts
// MaxValues (a group's members).
func fits(v any, many bool, indexed []string, top, sub string, depth int) bool {
	switch x := v.(type) {
	case string:
		if len(x) > MaxStringBytes {
			return false
		}
		if len(x) > MaxIndexedBytes && len(indexed) > 0 {
			if depth > 1 {
				return false // checkLimits tells
			}
			attr := top
			if depth == 1 {
				attr = top + "." + sub
			}
			for _, a := range indexed {
				if strings.EqualFold(a, attr) {
					return false
				}
			}
		}
	case json.Number:
		return len(x) <= MaxStringBytes
	case []any:
		if len(x) > MaxValues && !many {
			return false
		}
		for _, e := range x {
			if !fits(e, many, indexed, top, sub, depth) {
				return false
			}
		}
	case map[string]any:
		for k, e := range x {
			if !fits(e, false, indexed, top, k, depth+1) {
				return false
			}
		}
	}
	return true
}

// checkLimits is CheckLimits, with the path of the first value over a
// limit in key order.
func (rt *ResourceType) checkLimits(r Resource) error {
	indexed := indexedAttrs[rt.Name]
	keys := make([]string, 0, len(r))
	for k := range r {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if ext, ok := r[k].(map[string]any); ok && rt.isExtension(k) {
			// An extension's attributes: "urn:…:User:employeeNumber".
			subs := make([]string, 0, len(ext))
			for sub := range ext {
				subs = append(subs, sub)
			}
			sort.Strings(subs)
			for _, sub := range subs {
				if err := rt.checkValue(k+":"+sub, k+":"+sub, ext[sub], nil); err != nil {
					return err
				}
			}
			continue
		}
		if err := rt.checkValue(k, k, r[k], indexed); err != nil {
			return err
		}
	}
	return nil
}

func (rt *ResourceType) isExtension(key string) bool {
	for _, e := range rt.Extensions {
		if strings.EqualFold(e.Schema.ID, key) {
			return true
		}
	}
	return false
}

// checkValue checks v, found at path, whose attribute (without indexes,
// "emails.value") is attr.
func (rt *ResourceType) checkValue(path, attr string, v any, indexed []string) error {
	switch x := v.(type) {
	case string:
		return checkString(path, attr, x, indexed)
	case json.Number:
		if len(x) > MaxStringBytes {
			return attrErrorf(path, "longer than %d bytes, the limit for one value", MaxStringBytes)
		}
	case []any:
		if len(x) > MaxValues && !(rt.IsGroup() && attr == "members") {
			return attrErrorf(path, "more than %d values, the limit for one attribute", MaxValues)
		}
		for i, e := range x {
			if err := rt.checkValue(fmt.Sprintf("%s[%d]", path, i), attr, e, indexed); err != nil {
				return err
			}
		}
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			if err := rt.checkValue(path+"."+k, attr+"."+k, x[k], indexed); err != nil {
				return err
			}
		}
	}
	return nil
}

func checkString(path, attr, s string, indexed []string) error {
	for _, a := range indexed {
		if strings.EqualFold(a, attr) && len(s) > MaxIndexedBytes {
			return attrErrorf(path, "longer than %d bytes, the limit for an indexed attribute", MaxIndexedBytes)
		}
	}
	if len(s) > MaxStringBytes {
		return attrErrorf(path, "longer than %d bytes, the limit for one value", MaxStringBytes)
	}
	return nil
}

// CheckMembers checks members a write adds: id and type within
// MaxIndexedBytes, display within MaxStringBytes. Errors are
// KindInvalidValue.
func CheckMembers(ms []Member) error {
	for i, m := range ms {
		path := fmt.Sprintf("members[%d]", i)
		switch {
		case len(m.Value) > MaxIndexedBytes:
			return attrErrorf(path+".value", "longer than %d bytes, the limit for an indexed attribute", MaxIndexedBytes)
		case len(m.Type) > MaxIndexedBytes:
			return attrErrorf(path+".type", "longer than %d bytes", MaxIndexedBytes)
		case len(m.Display) > MaxStringBytes:
			return attrErrorf(path+".display", "longer than %d bytes, the limit for one value", MaxStringBytes)
		}
	}
	return nil
}
