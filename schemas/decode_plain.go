package schemas

import (
	"errors"
	"strings"

	"github.com/scim-bridge/scim-bridge/schemas/scimjson"
)

// The plain decoders build the resource of the bodies identity providers
// send in one pass: every key names an attribute of the type, without a
// URN prefix or a dot, or is the URN key of an extension holding such
// names; every value is valid; nothing is unknown. They skip decodeMap's
// sorted key lists and its per-schema maps of raw values, and
// decodeStreaming also the map of the body's top level and the values of
// readOnly attributes. Anything else (a key they do not resolve on their
// own, a name given twice, an error, unknown input, a value over the
// limits) makes them give up having changed nothing the caller holds, and
// the caller runs decodeMap, which says what is wrong, in its order. So
// their results are decodeMap's; TestDecodePlainMatchesDecodeMap and
// FuzzDecodePlain hold them to that.

// errNotPlain stops decodeStreaming's walk of a body it leaves to
// decodeMap.
var errNotPlain = errors.New("schemas: not a plain body")

// decodeStreaming is DecodeWith for a plain body, straight from the JSON
// text. ok false: decode body with decodeMap.
func (rt *ResourceType) decodeStreaming(body []byte) (Resource, bool) {
	b, ok := rt.newPlainBuilder(false, true, 8)
	if !ok {
		return nil, false
	}
	var schemas any
	r := scimjson.NewReader(body)
	r.DisallowDuplicateKeys()
	err := r.Object(func(k string) error {
		if strings.EqualFold(k, "schemas") {
			if k != "schemas" {
				return r.Skip()
			}
			v, err := r.Value()
			schemas = v
			return err
		}
		e, si, ok := b.resolve(k)
		switch {
		case !ok:
			return errNotPlain
		case si != nil:
			v, err := r.Value()
			if err != nil {
				return err
			}
			if !b.putExtension(si, v) {
				return errNotPlain
			}
			return nil
		case e.attr.Mutability == ReadOnly:
			return r.Skip() // dropped, as place drops it
		}
		v, err := r.Value()
		if err != nil {
			return err
		}
		if !b.put(e, v) {
			return errNotPlain
		}
		return nil
	})
	if err != nil || r.End() != nil || !rt.plainSchemas(schemas) {
		return nil, false
	}
	return b.finish()
}

// decodePlain is decodeMap(m, strict, nil) for a plain resource m, which
// it neither changes nor shares values with. ok false: run decodeMap.
func (rt *ResourceType) decodePlain(m map[string]any, strict bool) (Resource, bool) {
	if !rt.plainSchemas(m["schemas"]) {
		return nil, false
	}
	b, ok := rt.newPlainBuilder(strict, false, len(m)+1)
	if !ok {
		return nil, false
	}
	for k, v := range m {
		if strings.EqualFold(k, "schemas") {
			continue
		}
		e, si, ok := b.resolve(k)
		switch {
		case !ok:
			return nil, false
		case si != nil:
			if !b.putExtension(si, v) {
				return nil, false
			}
		case !b.put(e, v):
			return nil, false
		}
	}
	return b.finish()
}

// plainBuilder builds a resource from a plain body's values.
type plainBuilder struct {
	rt     *ResourceType
	idx    *attrIndex
	core   *schemaIndex
	strict bool // as decodeMap's
	// own: the values handed to put belong to the builder (a reader made
	// them for it alone), so that a value needing no conversion is taken
	// as it is and may be changed (defaultMemberType). Without it put
	// neither keeps nor changes them.
	own  bool
	out  Resource
	exts []map[string]any // by index in idx.exts, made when first needed
	// refuse makes coercion fail on unknown sub-attributes, which
	// decodeMap reports.
	refuse Unknowns
}

func (rt *ResourceType) newPlainBuilder(strict, own bool, size int) (*plainBuilder, bool) {
	idx := rt.index()
	core, ok := getFold(idx.schemas, rt.Schema.ID)
	if !ok {
		return nil, false
	}
	return &plainBuilder{rt: rt, idx: idx, core: core, strict: strict, own: own, out: make(Resource, size), refuse: Unknowns{Strict: true}}, true
}

// resolve finds what key k of the top level names as sortKeys and place
// do, when it is plain: an attribute (e) or an extension's URN (si).
func (b *plainBuilder) resolve(k string) (e entry, si *schemaIndex, ok bool) {
	if si, isSchema := b.idx.schemaFold(k); isSchema {
		return entry{}, si, si.ext
	}
	if strings.ContainsAny(k, ".:") {
		return entry{}, nil, false
	}
	e, ok = getFold(b.idx.core, k)
	return e, nil, ok
}

// putExtension puts the attributes of v, the value of extension si's URN
// key, as placeExtension does.
func (b *plainBuilder) putExtension(si *schemaIndex, v any) bool {
	if v == nil {
		return true
	}
	obj, isObj := v.(map[string]any)
	if !isObj {
		return false
	}
	for ek, ev := range obj {
		if strings.EqualFold(ek, "schemas") {
			continue
		}
		if strings.ContainsAny(ek, ".:") {
			return false
		}
		e, found := getFold(si.attrs, ek)
		if !found || !b.put(e, ev) {
			return false
		}
	}
	return true
}

// put puts value v of attribute e as place and then coerceSchema do, or
// reports false.
func (b *plainBuilder) put(e entry, v any) bool {
	a := e.attr
	if a.Mutability == ReadOnly {
		if !b.strict {
			return true // dropped, as place drops it
		}
		if a.Name != "id" {
			return false
		}
	}
	target := map[string]any(b.out)
	if e.urn != "" {
		i := extIndex(b.idx, e.urn)
		if i < 0 {
			return false
		}
		if b.exts == nil {
			b.exts = make([]map[string]any, len(b.idx.exts))
		}
		if b.exts[i] == nil {
			b.exts[i] = map[string]any{}
		}
		target = b.exts[i]
	}
	if _, dup := target[a.Name]; dup {
		return false // given twice, or merged by place: decodeMap decides
	}
	if arr, isArr := v.([]any); b.strict && isArr && a.Type == TypeComplex && countPrimaries(arr) > 1 {
		return false
	}
	c, ok := v, b.own && isPlainValue(a, v, false)
	if !ok {
		var err error
		if c, err = coerceValue(a, v, a.Name, false, &b.refuse); err != nil {
			return false
		}
	}
	if c != nil && (a.Mutability == WriteOnly || a.Returned == ReturnedNever) {
		if b.strict {
			return false
		}
		c = nil
	}
	if c != nil && e.urn == "" && b.rt.IsGroup() && a.Name == "members" {
		defaultMemberType(c.([]any))
	}
	if c == nil && e.urn == "" && b.own {
		// The reader refused keys equal but for case, so no other key
		// names this attribute of the core schema.
		return true
	}
	target[a.Name] = c // nil marks the name as given, for the check above
	return true
}

// finish checks what assemble and CheckLimits check and returns the
// resource.
func (b *plainBuilder) finish() (Resource, bool) {
	out := b.out
	dropNils(out)
	if checkRequired(b.core, out) != nil {
		return nil, false
	}
	schemas := []any{b.rt.Schema.ID}
	for i, si := range b.idx.exts {
		var target map[string]any
		if b.exts != nil {
			target = b.exts[i]
			dropNils(target)
		}
		if len(target) == 0 {
			if si.req {
				return nil, false
			}
			continue
		}
		if checkRequired(si, target) != nil {
			return nil, false
		}
		out[si.urn] = target
		schemas = append(schemas, si.urn)
	}
	out["schemas"] = schemas
	if !b.rt.fitsLimits(out) {
		return nil, false
	}
	return out, true
}

// isPlainValue reports whether coerceValue(a, v, …, single, …) would
// return v itself, or a value equal to it, without error or unknown input:
// strings and booleans of their types, and complex values (or arrays of
// them) whose keys are their sub-attributes' names as the schema spells
// them, holding such strings and booleans, none readOnly, "$ref" or
// missing when required, and at most one of them primary.
func isPlainValue(a *Attribute, v any, single bool) bool {
	if a.MultiValued && !single {
		arr, ok := v.([]any)
		if !ok || len(arr) == 0 {
			return false
		}
		for _, el := range arr {
			if !isPlainValue(a, el, true) {
				return false
			}
		}
		return a.Type != TypeComplex || countPrimaries(arr) <= 1
	}
	switch a.Type {
	case TypeString, TypeReference:
		_, ok := v.(string)
		return ok
	case TypeBoolean:
		_, ok := v.(bool)
		return ok
	case TypeComplex:
		m, ok := v.(map[string]any)
		if !ok || len(m) == 0 {
			return false
		}
		for k, x := range m {
			sub := findSubAttr(a, k)
			if sub == nil || sub.Name != k || sub.Mutability == ReadOnly || sub.Name == "$ref" || sub.MultiValued {
				return false
			}
			switch x.(type) {
			case string:
				if sub.Type != TypeString && sub.Type != TypeReference {
					return false
				}
			case bool:
				if sub.Type != TypeBoolean {
					return false
				}
			default:
				return false
			}
		}
		for _, sub := range a.SubAttributes {
			if sub.Required && sub.Mutability != ReadOnly {
				if _, ok := m[sub.Name]; !ok {
					return false
				}
			}
		}
		return true
	}
	return false
}

// plainSchemas reports whether v, the body's "schemas", is an array of
// strings naming the core schema, which checkSchemas accepts. URIs the
// type does not know do not matter unless a key names one, which the
// plain decoders leave to decodeMap.
func (rt *ResourceType) plainSchemas(v any) bool {
	core := false
	switch s := v.(type) {
	case []any:
		for _, x := range s {
			str, ok := x.(string)
			if !ok {
				return false
			}
			core = core || strings.EqualFold(str, rt.Schema.ID)
		}
	case []string:
		for _, str := range s {
			core = core || strings.EqualFold(str, rt.Schema.ID)
		}
	}
	return core
}

// extIndex returns the index in idx.exts of the extension with the
// canonical URN urn, or -1.
func extIndex(idx *attrIndex, urn string) int {
	for i, si := range idx.exts {
		if si.urn == urn {
			return i
		}
	}
	return -1
}

func dropNils(m map[string]any) {
	for k, v := range m {
		if v == nil {
			delete(m, k)
		}
	}
}
