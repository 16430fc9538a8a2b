package schemas

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
)

// coerceValue validates and normalises a raw JSON value (as decoded with
// UseNumber) for attribute a, the way Decode does for a whole body: string
// booleans ("True"), integer/decimal numbers, dateTime to RFC 3339 UTC,
// complex values with case-insensitive sub-attribute names, multi-valued
// values (a single value given for a multi-valued attribute becomes a
// one-element array when single is false). path names the attribute in
// errors. A nil result means unassigned. Unknown sub-attributes go to u
// (see Unknowns; nil ignores them). Used by PATCH.
//
// The rules, per RFC 7643 §2.3 and the IdP quirks we accept:
//   - null, [] and {} (and complex values whose sub-attributes are all
//     unassigned) are unassigned (RFC 7643 §2.5): the result is nil;
//   - boolean accepts true/false and the strings "true"/"false" in any case;
//   - integer accepts a JSON number without fraction or exponent; decimal any
//     JSON number; both stay json.Number as written;
//   - dateTime accepts RFC 3339 (and xsd:dateTime without offset, read as
//     UTC) and becomes RFC 3339 in UTC;
//   - binary must be base64 (RFC 4648 §4) and is kept as written;
//   - string and reference must be JSON strings;
//   - complex: sub-attribute names are case-insensitive and come back
//     canonical; unknown sub-attributes, readOnly ones and "$ref" are dropped; a
//     required sub-attribute must be present; a complex value given as a
//     bare string is its "value" sub-attribute (Entra's enterprise manager,
//     a member id), and a single-valued complex attribute takes a
//     one-element array as its element;
//   - multi-valued: elements are coerced one by one (unassigned ones
//     dropped) and at most one element keeps primary:true (clearPrimaries).
//
// canonicalValues are not enforced: IdPs send custom "type" values, and
// RFC 7643 §2.3.1 lets a service provider accept others.
//
// Errors are *Error of KindInvalidValue whose detail names path, e.g.
// `attribute "emails[1].primary": expected boolean`.
func coerceValue(a *Attribute, v any, path string, single bool, u *Unknowns) (any, error) {
	if v == nil {
		return nil, nil
	}
	if a.MultiValued && !single {
		return coerceMulti(a, v, path, u)
	}
	return coerceSingle(a, v, path, u)
}

func coerceMulti(a *Attribute, v any, path string, u *Unknowns) (any, error) {
	arr, ok := v.([]any)
	if !ok {
		arr = []any{v}
	}
	out := make([]any, 0, len(arr))
	for i, el := range arr {
		elPath := path + "[" + strconv.Itoa(i) + "]"
		if _, nested := el.([]any); nested {
			return nil, attrErrorf(elPath, "expected %s, got array", typeWord(a))
		}
		c, err := coerceSingle(a, el, elPath, u)
		if err != nil {
			return nil, err
		}
		if c != nil {
			out = append(out, c)
		}
	}
	if len(out) == 0 {
		return nil, nil
	}
	if a.Type == TypeComplex {
		clearPrimaries(out)
	}
	return out, nil
}

// clearPrimaries keeps primary:true on the first element that has it and
// sets it to false on the others. RFC 7643 §2.4 allows at most one primary
// value; PingOne sends two when its target has two email fields, and
// RFC 7644 §3.5.2 has PATCH clear the others when one is set, so we
// normalise rather than reject. It reports whether it changed anything.
func clearPrimaries(vals []any) bool {
	seen, changed := false, false
	for _, el := range vals {
		m, ok := el.(map[string]any)
		if !ok {
			continue
		}
		if p, _ := m["primary"].(bool); p {
			if seen {
				m["primary"] = false
				changed = true
			}
			seen = true
		}
	}
	return changed
}

// coerceSingle returns a value that needs no conversion as v itself, not
// as a new interface value (which would copy it to the heap).
func coerceSingle(a *Attribute, v any, path string, u *Unknowns) (any, error) {
	if v == nil {
		return nil, nil
	}
	switch a.Type {
	case TypeString, TypeReference:
		if _, ok := v.(string); !ok {
			return nil, attrErrorf(path, "expected %s, got %s", a.Type, jsonKindOf(v))
		}
		return v, nil
	case TypeBoolean:
		switch b := v.(type) {
		case bool:
			return b, nil
		case string:
			if strings.EqualFold(b, "true") {
				return true, nil
			}
			if strings.EqualFold(b, "false") {
				return false, nil
			}
		}
		return nil, attrErrorf(path, "expected boolean, got %s", jsonKindOf(v))
	case TypeInteger:
		n, ok := v.(json.Number)
		if !ok {
			return nil, attrErrorf(path, "expected integer, got %s", jsonKindOf(v))
		}
		if _, err := strconv.ParseInt(string(n), 10, 64); err != nil {
			return nil, attrErrorf(path, "expected integer, got %s", n)
		}
		return v, nil
	case TypeDecimal:
		n, ok := v.(json.Number)
		if !ok {
			return nil, attrErrorf(path, "expected decimal, got %s", jsonKindOf(v))
		}
		if _, err := strconv.ParseFloat(string(n), 64); err != nil {
			return nil, attrErrorf(path, "expected decimal, got %s", n)
		}
		return v, nil
	case TypeDateTime:
		s, ok := v.(string)
		if !ok {
			return nil, attrErrorf(path, "expected dateTime, got %s", jsonKindOf(v))
		}
		t, ok := parseXSDDateTime(s)
		if !ok {
			return nil, attrErrorf(path, "expected dateTime (RFC 3339), got %q", s)
		}
		return t.UTC().Format(time.RFC3339Nano), nil
	case TypeBinary:
		s, ok := v.(string)
		if !ok {
			return nil, attrErrorf(path, "expected binary (base64), got %s", jsonKindOf(v))
		}
		if _, err := base64.StdEncoding.DecodeString(s); err != nil {
			return nil, attrErrorf(path, "expected binary (base64)")
		}
		return v, nil
	case TypeComplex:
		return coerceComplex(a, v, path, u)
	}
	return nil, attrErrorf(path, "unknown type %q", a.Type)
}

// coerceSub is coerceSingle of the value v of sub-attribute sub of the
// complex value at path. The values coerceSingle returns as they are (a
// string, a boolean) skip it: only a value it converts or refuses gets the
// path its errors name.
func coerceSub(sub *Attribute, v any, path string, u *Unknowns) (any, error) {
	switch v.(type) {
	case nil:
		return nil, nil
	case string:
		if sub.Type == TypeString || sub.Type == TypeReference {
			return v, nil
		}
	case bool:
		if sub.Type == TypeBoolean {
			return v, nil
		}
	}
	return coerceSingle(sub, v, path+"."+sub.Name, u)
}

func coerceComplex(a *Attribute, v any, path string, u *Unknowns) (any, error) {
	switch x := v.(type) {
	case string:
		// A bare string for a complex value is its "value" sub-attribute:
		// Entra sends the enterprise manager as an id string, and
		// Microsoft's reference tests add a group member as one.
		if findSubAttr(a, "value") != nil {
			v = map[string]any{"value": x}
		}
	case []any:
		if !a.MultiValued {
			if len(x) == 0 {
				return nil, nil
			}
			if len(x) > 1 {
				return nil, attrErrorf(path, "expected one complex value, got an array of %d", len(x))
			}
			return coerceComplex(a, x[0], path, u)
		}
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, attrErrorf(path, "expected complex value, got %s", jsonKindOf(v))
	}
	out := make(map[string]any, len(m))
	// Sorted keys make errors (and the choice between duplicates) deterministic.
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		sub := findSubAttr(a, k)
		if sub == nil {
			if err := u.unknown(IgnoredAttribute, plainPath(path)+"."+k, attrErrorf(path+"."+k, "unknown attribute")); err != nil {
				return nil, err
			}
			continue
		}
		if sub.Mutability == ReadOnly || sub.Name == "$ref" {
			// readOnly sub-attributes are ignored, and so is "$ref": scim-bridge computes every "$ref" from the value
			// and type (members.$ref is immutable, RFC 7643 §8.7.1, not
			// readOnly, yet a client's URI is never stored).
			continue
		}
		if _, dup := out[sub.Name]; dup {
			return nil, Errorf(KindInvalidSyntax, "attribute %q: given twice", path+"."+sub.Name)
		}
		c, err := coerceSub(sub, m[k], path, u)
		if err != nil {
			return nil, err
		}
		if c != nil {
			out[sub.Name] = c
		} else if _, present := m[k]; present {
			// mark so that a case-variant duplicate is still detected
			out[sub.Name] = nil
		}
	}
	for k, c := range out {
		if c == nil {
			delete(out, k)
		}
	}
	if len(out) == 0 {
		return nil, nil
	}
	for _, sub := range a.SubAttributes {
		if sub.Required && sub.Mutability != ReadOnly {
			if _, ok := out[sub.Name]; !ok {
				return nil, attrErrorf(path+"."+sub.Name, "required")
			}
		}
	}
	return out, nil
}

// subAttr finds a sub-attribute by name, case-insensitively.
func findSubAttr(a *Attribute, name string) *Attribute {
	for _, s := range a.SubAttributes {
		if strings.EqualFold(s.Name, name) {
			return s
		}
	}
	return nil
}

// parseXSDDateTime reads an xsd:dateTime (RFC 7643 §2.3.5): RFC 3339, or
// without an offset (read as UTC).
func parseXSDDateTime(s string) (time.Time, bool) {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, true
	}
	if t, err := time.Parse("2006-01-02T15:04:05.999999999", s); err == nil {
		return t, true
	}
	return time.Time{}, false
}

func attrErrorf(path, format string, args ...any) *Error {
	return &Error{Kind: KindInvalidValue, Detail: fmt.Sprintf("attribute %q: ", path) + fmt.Sprintf(format, args...)}
}

func typeWord(a *Attribute) string {
	if a.Type == TypeComplex {
		return "complex value"
	}
	return string(a.Type)
}

// jsonKindOf names the JSON type of a decoded value for error details; it
// never echoes the value (which may be personal data).
func jsonKindOf(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "boolean"
	case json.Number, float64, int, int64:
		return "number"
	case string:
		return "string"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	}
	return fmt.Sprintf("%T", v)
}
