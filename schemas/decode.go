package schemas

import (
	"sort"
	"strings"

	"github.com/scim-bridge/scim-bridge/schemas/scimjson"
)

// Decode parses and validates a client-supplied body for POST or PUT
// (RFC 7643 §2, §3, §7; RFC 7644 §3.3, §3.5.1) and returns it as a canonical
// Resource (see Resource).
//
// What it accepts, and what it makes of it:
//   - attribute and sub-attribute names in any case; the result spells them
//     as the schema does;
//   - extension attributes nested under their schema URN key, or as
//     URN-qualified top-level keys ("urn:…:enterprise:2.0:User:employeeNumber"),
//     or unqualified when unambiguous (see Lookup); in the result they sit
//     under the URN key;
//   - "schemas" must be an array of strings containing the core schema URN.
//     URIs we do not know are ignored when the body carries no attributes
//     under them (Entra sends
//     "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group");
//     attributes under an unknown URI are unknown input (below). The
//     result's "schemas" is the core URN plus the extensions that have values;
//   - values are checked and normalised by type as coerceValue documents
//     (booleans also as "True"/"False", dateTime to UTC, a bare string or a
//     one-element array for the enterprise manager);
//   - null, [] and {} mean unassigned (RFC 7643 §2.5) and are left out;
//   - readOnly input (id, meta, groups, readOnly sub-attributes such as
//     manager.displayName) and every "$ref" (computed on read, e.g.
//     members.$ref) is dropped silently, as RFC 7644
//     §3.5.1 allows and Okta's PUT (the last GET with edits) needs;
//   - password (writeOnly, returned never) is type-checked and dropped: it is
//     never stored, evented or returned;
//   - more than one primary:true in a multi-valued attribute: the first keeps
//     it, the others become false (PingOne sends two; RFC 7643 §2.4 allows
//     one);
//   - a Group's members stay under "members" as []any of
//     map[string]any{value, type, display}; value is required and type
//     defaults to "User" (Okta omits it); the bridge strips them before
//     storing and turns them into deltas.
//
// Unknown attributes (top level, inside an extension, or sub-attributes)
// and attributes under a schema URN rt does not have are ignored, not
// rejected, as in every write (see Unknowns; DecodeWith reports or rejects
// them). Microsoft's reference tests rely on it too: they PUT a user with a
// misspelled "adreses" attribute expecting 200. A misspelled *required*
// attribute still fails as missing.
//
// Errors are *Error: KindInvalidSyntax when the body is not a JSON object, a
// name is given twice (in one object the same key, in any case: see
// [scimjson.Reader.DisallowDuplicateKeys]; or in two spellings, such as "name" and
// "name.givenName") or an extension is not an object;
// KindInvalidValue for a wrong type, a missing, empty or blank required
// attribute, a value over the limits (CheckLimits), a required extension
// (RFC 7643 §6) without a value or a missing core schema
// URN, with a detail naming the attribute path, e.g.
// `attribute "emails[1].primary": expected boolean`.
func (rt *ResourceType) Decode(body []byte) (Resource, error) {
	return rt.DecodeWith(body, nil)
}

// DecodeWith is Decode with unknown input handled as u says: recorded in
// u.Ignored, or with u.Strict a KindInvalidValue error naming it. A nil u
// ignores it silently.
func (rt *ResourceType) DecodeWith(body []byte, u *Unknowns) (Resource, error) {
	if out, ok := rt.decodeStreaming(body); ok {
		return out, nil // the body decodeMap would make the same of (see decodeStreaming)
	}
	return rt.decodeBody(body, u)
}

// decodeBody is DecodeWith through decodeMap: the body read into a map,
// then placed, coerced and checked. It is the reference the plain
// decoders are tested against.
func (rt *ResourceType) decodeBody(body []byte, u *Unknowns) (Resource, error) {
	r := scimjson.NewReader(body)
	r.DisallowDuplicateKeys()
	v, err := r.Value()
	if err != nil {
		return nil, requestJSONError(err, "request body")
	}
	if r.End() != nil {
		return nil, Errorf(KindInvalidSyntax, "request body has data after the JSON object")
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, Errorf(KindInvalidSyntax, "request body must be a JSON object, got %s", jsonKindOf(v))
	}
	return rt.decodeMap(m, false, u)
}

// decodeMap turns a decoded JSON object into a canonical Resource. With
// strict set (Validate) it rejects instead of dropping: unknown attributes,
// readOnly attributes other than id, password, and extra primaries.
// Otherwise unknown input goes to u.
func (rt *ResourceType) decodeMap(m map[string]any, strict bool, u *Unknowns) (Resource, error) {
	unknownURIs, err := rt.checkSchemas(m["schemas"])
	if err != nil {
		return nil, err
	}
	raw, err := rt.sortKeys(m, unknownURIs, strict, u)
	if err != nil {
		return nil, err
	}
	out, err := rt.assemble(raw, strict, u)
	if err != nil {
		return nil, err
	}
	if err := rt.CheckLimits(out); err != nil {
		return nil, err
	}
	return out, nil
}

// sortKeys is the first phase of decodeMap: it sorts every key of m into
// raw values per schema ("" is core), keyed by canonical attribute name.
// unknownURIs are the schema URIs m lists that the type does not support.
func (rt *ResourceType) sortKeys(m map[string]any, unknownURIs map[string]bool, strict bool, u *Unknowns) (map[string]map[string]any, error) {
	idx := rt.index()
	raw := map[string]map[string]any{"": {}}
	for _, k := range sortedKeys(m) {
		v := m[k]
		if strings.EqualFold(k, "schemas") {
			continue
		}
		if si, ok := idx.schemaFold(k); ok && si.ext {
			if err := rt.placeExtension(raw, si, v, strict, u); err != nil {
				return nil, err
			}
			continue
		}
		if len(k) > 4 && strings.EqualFold(k[:4], "urn:") {
			if _, _, ok := idx.splitURN(k); !ok {
				if err := rt.unknownURN(k, v, unknownURIs, strict, u); err != nil {
					return nil, err
				}
				continue
			}
		}
		if err := rt.place(raw, AttrPath{Name: k}, v, strict, k, u); err != nil {
			return nil, err
		}
	}
	return raw, nil
}

// sortedKeys returns the keys of m in byte order, so that decoding reports
// the same error for the same input every time.
func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// placeExtension places the attributes of v, the value of extension si's
// URN key, into raw.
func (rt *ResourceType) placeExtension(raw map[string]map[string]any, si *schemaIndex, v any, strict bool, u *Unknowns) error {
	if v == nil {
		return nil
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return Errorf(KindInvalidSyntax, "attribute %q: expected an object of extension attributes, got %s", si.urn, jsonKindOf(v))
	}
	for _, ek := range sortedKeys(obj) {
		if strings.EqualFold(ek, "schemas") {
			continue // clients repeat the schema list inside an extension
		}
		if err := rt.place(raw, AttrPath{URN: si.urn, Name: ek}, obj[ek], strict, si.urn+":"+ek, u); err != nil {
			return err
		}
	}
	return nil
}

// unknownURN handles key k, a URN that names no attribute of the type:
// refused when strict, else ignored through u (quietly when it is a schema
// m lists, in unknownURIs, and its value is empty).
func (rt *ResourceType) unknownURN(k string, v any, unknownURIs map[string]bool, strict bool, u *Unknowns) error {
	switch {
	case strict:
		return Errorf(KindInvalidValue, "attribute %q: unknown attribute", k)
	case unknownURIs[strings.ToLower(k)]:
		if isUnassignedValue(v) {
			return nil
		}
		return u.unknown(IgnoredSchema, k, Errorf(KindInvalidValue, "schema %q is not supported by %s", k, rt.Name))
	}
	return u.unknown(IgnoredSchema, k, Errorf(KindInvalidValue, "attribute %q: unknown attribute", k))
}

// assemble is the second phase of decodeMap: it coerces each raw value and
// builds the resource, core attributes at the top and each extension's
// under its URN, and checks required attributes and extensions.
func (rt *ResourceType) assemble(raw map[string]map[string]any, strict bool, u *Unknowns) (Resource, error) {
	idx := rt.index()
	out := Resource{}
	schemas := []any{rt.Schema.ID}
	for _, si := range append([]*schemaIndex{idx.schemas[strings.ToLower(rt.Schema.ID)]}, idx.exts...) {
		if si == nil {
			continue
		}
		target := map[string]any(out)
		rawKey := ""
		if si.ext {
			target, rawKey = map[string]any{}, si.urn
		}
		if err := rt.coerceSchema(si, raw[rawKey], target, strict, u); err != nil {
			return nil, err
		}
		if si.ext && len(target) > 0 {
			out[si.urn] = target
			schemas = append(schemas, si.urn)
		}
		if si.ext && si.req && len(target) == 0 {
			return nil, attrErrorf(si.urn, "required: every %s must carry this extension schema (RFC 7643 §6)", rt.Name)
		}
		if !si.ext || len(target) > 0 || si.req {
			if err := checkRequired(si, target); err != nil {
				return nil, err
			}
		}
	}
	out["schemas"] = schemas
	return out, nil
}

// coerceSchema coerces the raw values of schema si into target, dropping
// (or, when strict, refusing) what is never stored. It takes them in name
// order, so that a body with two bad values, or unknown sub-attributes in
// two, gets the same error and the same ignored list every time.
func (rt *ResourceType) coerceSchema(si *schemaIndex, raw, target map[string]any, strict bool, u *Unknowns) error {
	for _, name := range sortedKeys(raw) {
		v := raw[name]
		a := si.attrs[strings.ToLower(name)].attr
		path := name
		if si.ext {
			path = si.urn + ":" + name
		}
		if arr, ok := v.([]any); strict && ok && a.Type == TypeComplex && countPrimaries(arr) > 1 {
			return attrErrorf(path, "more than one value has primary true (RFC 7643 §2.4)")
		}
		c, err := coerceValue(a, v, path, false, u)
		if err != nil {
			return err
		}
		if c == nil {
			continue
		}
		if a.Mutability == WriteOnly || a.Returned == ReturnedNever {
			if strict {
				return attrErrorf(path, "%s is never stored", a.Mutability)
			}
			continue
		}
		if !si.ext && rt.IsGroup() && name == "members" {
			defaultMemberType(c.([]any))
		}
		target[name] = c
	}
	return nil
}

// checkRequired reports the first required, writable attribute of schema si
// that target lacks or holds as an empty or blank string.
func checkRequired(si *schemaIndex, target map[string]any) error {
	for _, a := range si.list {
		if !a.Required || a.Mutability == ReadOnly {
			continue
		}
		v, ok := target[a.Name]
		str, isStr := v.(string)
		if ok && !(isStr && strings.TrimSpace(str) == "") {
			continue
		}
		path := a.Name
		if si.ext {
			path = si.urn + ":" + a.Name
		}
		if ok {
			// userName "" would never match a filter, so an
			// IdP would create it again on every cycle.
			return attrErrorf(path, "required, must not be empty or blank")
		}
		return attrErrorf(path, "required")
	}
	return nil
}

// place resolves one key of the body and records its raw value under its
// schema and canonical name. Dotted and URN-qualified keys become a
// sub-attribute of a complex value; a name given twice is an error.
func (rt *ResourceType) place(raw map[string]map[string]any, p AttrPath, v any, strict bool, key string, u *Unknowns) error {
	if p.URN != "" && strings.ContainsRune(p.Name, ':') {
		p = AttrPath{Name: p.URN + ":" + p.Name} // a URN key nested in an extension: let Lookup split it
	}
	a, canon, ok := rt.Lookup(p)
	if !ok {
		err := Errorf(KindInvalidValue, "attribute %q: unknown attribute", key)
		if strict {
			return err
		}
		return u.unknown(rt.unknownKind(key), key, err) // see Unknowns
	}
	top, _, _ := rt.Lookup(AttrPath{URN: canon.URN, Name: canon.Name})
	if top.Mutability == ReadOnly {
		if strict && canon.Name != "id" {
			return Errorf(KindMutability, "attribute %q: readOnly", canon.Name)
		}
		if strict && canon.Sub == "" {
			raw[canon.URN] = ensureMap(raw[canon.URN])
			raw[canon.URN][canon.Name] = v
		}
		return nil
	}
	raw[canon.URN] = ensureMap(raw[canon.URN])
	dst := raw[canon.URN]
	if canon.Sub != "" {
		if a.Mutability == ReadOnly || v == nil {
			return nil
		}
		prev, exists := dst[canon.Name]
		pm, isMap := prev.(map[string]any)
		if exists && (!isMap || top.MultiValued) {
			return Errorf(KindInvalidSyntax, "attribute %q: given twice", canon.Name)
		}
		if !exists {
			pm = map[string]any{}
			dst[canon.Name] = pm
		}
		if keyHasFold(pm, canon.Sub) {
			return Errorf(KindInvalidSyntax, "attribute %q: given twice", canon.Name+"."+canon.Sub)
		}
		pm[canon.Sub] = v
		return nil
	}
	if prev, exists := dst[canon.Name]; exists {
		pm, isMap := prev.(map[string]any)
		vm, vIsMap := v.(map[string]any)
		if !isMap || !vIsMap {
			return Errorf(KindInvalidSyntax, "attribute %q: given twice", canon.Name)
		}
		for k, x := range vm {
			if keyHasFold(pm, k) {
				return Errorf(KindInvalidSyntax, "attribute %q: given twice", canon.Name+"."+k)
			}
			pm[k] = x
		}
		return nil
	}
	if vm, ok := v.(map[string]any); ok {
		v = shallowCopyMap(vm) // later dotted keys merge into it
	}
	dst[canon.Name] = v
	return nil
}

// checkSchemas checks the "schemas" attribute (RFC 7643 §3) and returns the
// lower-cased URIs it names that the resource type does not know.
func (rt *ResourceType) checkSchemas(v any) (map[string]bool, error) {
	var list []string
	switch s := v.(type) {
	case []any:
		for i, x := range s {
			str, ok := x.(string)
			if !ok {
				return nil, Errorf(KindInvalidValue, "attribute \"schemas[%d]\": expected string, got %s", i, jsonKindOf(x))
			}
			list = append(list, str)
		}
	case []string:
		list = s
	case nil:
		return nil, Errorf(KindInvalidValue, "attribute \"schemas\": required, must contain %q", rt.Schema.ID)
	default:
		return nil, Errorf(KindInvalidValue, "attribute \"schemas\": expected an array of schema URIs, got %s", jsonKindOf(v))
	}
	core := false
	var unknown map[string]bool
	for _, s := range list {
		if strings.EqualFold(s, rt.Schema.ID) {
			core = true
			continue
		}
		if _, ok := rt.index().schemaFold(s); ok {
			continue
		}
		if unknown == nil {
			unknown = map[string]bool{}
		}
		unknown[strings.ToLower(s)] = true
	}
	if !core {
		return nil, Errorf(KindInvalidValue, "attribute \"schemas\": must contain %q", rt.Schema.ID)
	}
	return unknown, nil
}

// defaultMemberType gives group members without a type the type "User"
// (Okta sends {"value", "display"} only).
func defaultMemberType(members []any) {
	for _, el := range members {
		if m, ok := el.(map[string]any); ok {
			if _, has := m["type"]; !has {
				m["type"] = User
			}
		}
	}
}

func countPrimaries(vals []any) int {
	n := 0
	for _, el := range vals {
		if m, ok := el.(map[string]any); ok {
			if p, _ := m["primary"].(bool); p {
				n++
			}
		}
	}
	return n
}

// isUnassignedValue reports whether v is unassigned in the sense of RFC 7643 §2.5.
func isUnassignedValue(v any) bool {
	switch x := v.(type) {
	case nil:
		return true
	case []any:
		return len(x) == 0
	case map[string]any:
		return len(x) == 0
	}
	return false
}

func keyHasFold(m map[string]any, k string) bool {
	for mk := range m {
		if strings.EqualFold(mk, k) {
			return true
		}
	}
	return false
}

func ensureMap(m map[string]any) map[string]any {
	if m == nil {
		return map[string]any{}
	}
	return m
}

func shallowCopyMap(m map[string]any) map[string]any {
	c := make(map[string]any, len(m))
	for k, v := range m {
		c[k] = v
	}
	return c
}
