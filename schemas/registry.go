package schemas

import (
	"bytes"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
)

// defs holds the core schema definitions (RFC 7643 §8.7.1, §8.7.2) as data:
// the same JSON that /Schemas publishes. common.json holds the attributes
// every resource has (id, externalId, meta; RFC 7643 §3.1), which are not
// part of any published schema.
//
//go:embed defs/*.json
var defs embed.FS

// Registry holds the schemas and resource types the service serves. It is
// immutable after NewRegistry and safe for concurrent use.
type Registry struct {
	types   map[string]*ResourceType // by lower-case name
	schemas []*Schema
	order   []*ResourceType
}

// extensionFile is the format of an extension schema definition: a schema
// definition (RFC 7643 §7) plus the resource type it extends and whether
// that resource type requires it (RFC 7643 §6). "schemas" and "meta" are
// allowed so that a schema copied from a /Schemas response loads as it is.
type extensionFile struct {
	Schema
	ResourceType *string         `json:"resourceType"`
	Required     bool            `json:"required"` // whether resources must carry it (RFC 7643 §6)
	Schemas      []string        `json:"schemas"`
	Meta         json.RawMessage `json:"meta"`
}

// urnSchema is the schema of schema definitions (RFC 7643 §7).
const urnSchema = "urn:ietf:params:scim:schemas:core:2.0:Schema"

// ExtensionDef is one extension schema definition for NewRegistryWith: its
// JSON and a name for it in errors, such as the file it came from.
type ExtensionDef struct {
	Name string
	JSON []byte
}

// NewRegistry builds the core User (with the enterprise extension) and Group
// resource types, plus extension schemas given as JSON schema definitions,
// as NewRegistryWith does; errors name a definition by its position
// ("extension schema 2"). It is for definitions written in code and tests:
// it accepts every characteristic of RFC 7643 §7, including those that
// NewRegistryWith refuses in operator-supplied definitions because the
// service would not honour them.
func NewRegistry(extensions ...[]byte) (*Registry, error) {
	exts := make([]ExtensionDef, len(extensions))
	for i, b := range extensions {
		exts[i] = ExtensionDef{Name: fmt.Sprintf("extension schema %d", i+1), JSON: b}
	}
	return newRegistry(exts, false)
}

// NewRegistryWith builds the core User (with the enterprise extension) and
// Group resource types, plus the extension schemas exts, in that order.
// Each definition is a schema definition (RFC 7643 §7: "id", "name",
// "description", "attributes") with two more keys: "resourceType", naming
// "User" or "Group", the resource type it extends, and an optional boolean
// "required" (RFC 7643 §6, default false). "schemas" and "meta", as
// /Schemas serves them, are allowed and ignored.
//
// Definitions are checked on load, and an error names the definition
// (ExtensionDef.Name) and what is wrong: the JSON is one object with no
// unknown keys; the id is a URN (RFC 8141) that no other schema has,
// case-insensitively; attribute names are valid (RFC 7643 §2.1) and unique
// case-insensitively within their parent; types and characteristics are
// known values; only complex attributes have sub-attributes and
// sub-attributes are not complex. Characteristics left out take the
// defaults of RFC 7643 §2.2 (readWrite, returned default, uniqueness none).
// An extension attribute must also be one that clients write and the
// service keeps and returns as given: not readOnly (nothing would ever set
// it), not writeOnly or returned never (its values would be dropped
// unseen), and of uniqueness none (nothing would enforce another).
func NewRegistryWith(exts ...ExtensionDef) (*Registry, error) {
	return newRegistry(exts, true)
}

// newRegistry is NewRegistryWith; served says to refuse the characteristics
// the service would not honour (checkExtensionAttributes).
func newRegistry(exts []ExtensionDef, served bool) (*Registry, error) {
	load := func(name string) (*Schema, error) {
		b, err := defs.ReadFile("defs/" + name)
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", name, err)
		}
		s, err := parseSchema(b)
		if err != nil {
			return nil, fmt.Errorf("schema %s: %w", name, err)
		}
		return s, nil
	}
	user, err := load("user.json")
	if err != nil {
		return nil, err
	}
	group, err := load("group.json")
	if err != nil {
		return nil, err
	}
	enterprise, err := load("enterprise_user.json")
	if err != nil {
		return nil, err
	}
	common, err := load("common.json")
	if err != nil {
		return nil, err
	}

	userRT := &ResourceType{
		Name:        User,
		Endpoint:    "/Users",
		Description: "User Account",
		Schema:      user,
		Extensions:  []SchemaExtension{{Schema: enterprise}},
	}
	groupRT := &ResourceType{
		Name:        Group,
		Endpoint:    "/Groups",
		Description: "Group",
		Schema:      group,
	}
	reg := &Registry{
		types:   map[string]*ResourceType{"user": userRT, "group": groupRT},
		schemas: []*Schema{user, enterprise, group},
		order:   []*ResourceType{userRT, groupRT},
	}
	builtIn := "the built-in schemas"
	ids := map[string]string{ // lower-case id -> who defined it
		strings.ToLower(user.ID): builtIn, strings.ToLower(group.ID): builtIn,
		strings.ToLower(enterprise.ID): builtIn, strings.ToLower(common.ID): builtIn,
	}
	for _, x := range exts {
		s, rtName, required, err := parseExtension(x.JSON, served)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", x.Name, err)
		}
		if by, dup := ids[strings.ToLower(s.ID)]; dup {
			return nil, fmt.Errorf("%s: schema id %q is already defined by %s", x.Name, s.ID, by)
		}
		ids[strings.ToLower(s.ID)] = x.Name
		rt, ok := reg.types[strings.ToLower(rtName)]
		if !ok {
			return nil, fmt.Errorf("%s: schema %q: \"resourceType\" %q is not User or Group", x.Name, s.ID, rtName)
		}
		rt.Extensions = append(rt.Extensions, SchemaExtension{Schema: s, Required: required})
		reg.schemas = append(reg.schemas, s)
	}
	for _, rt := range reg.order {
		rt.idx = buildIndex(rt, common.Attributes)
	}
	return reg, nil
}

// ResourceType returns a resource type by name ("User", "Group"),
// case-insensitively.
func (reg *Registry) ResourceType(name string) (*ResourceType, bool) {
	rt, ok := reg.types[strings.ToLower(name)]
	return rt, ok
}

// ResourceTypes returns every resource type in a stable order: User, Group.
// The slice is the caller's; the resource types are shared and immutable.
func (reg *Registry) ResourceTypes() []*ResourceType {
	return append([]*ResourceType(nil), reg.order...)
}

// Schemas returns every schema in a stable order: User, EnterpriseUser,
// Group, then extensions in the order given to NewRegistry. The slice is the
// caller's; the schemas are shared and immutable.
func (reg *Registry) Schemas() []*Schema {
	return append([]*Schema(nil), reg.schemas...)
}

// strictUnmarshal decodes one JSON object into v, refusing unknown keys,
// with errors that say what is wrong in the terms of a schema file.
func strictUnmarshal(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var syn *json.SyntaxError
		var typ *json.UnmarshalTypeError
		switch {
		case errors.As(err, &syn):
			return fmt.Errorf("not valid JSON: %v (at byte %d)", syn, syn.Offset)
		case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
			return fmt.Errorf("not valid JSON: it ends early")
		case errors.As(err, &typ) && typ.Field == "":
			return fmt.Errorf("expected a JSON object (a schema definition, RFC 7643 §7), got %s", typ.Value)
		case errors.As(err, &typ):
			field := strings.TrimPrefix(typ.Field, "Schema.") // the embedded struct of extensionFile
			return fmt.Errorf("%q: expected %s, got %s (at byte %d)", field, jsonTypeWord(typ.Type.String()), typ.Value, typ.Offset)
		}
		if k, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
			return fmt.Errorf("unknown key %s: a definition has the keys of RFC 7643 §7, and \"resourceType\" and \"required\" for an extension", k)
		}
		return err
	}
	if dec.More() {
		return fmt.Errorf("trailing data after the schema")
	}
	return nil
}

// jsonTypeWord names a Go type of the definition structs in JSON terms.
func jsonTypeWord(goType string) string {
	switch {
	case goType == "bool":
		return "true or false"
	case strings.HasPrefix(goType, "[]"):
		return "an array"
	case strings.HasPrefix(goType, "schemas.") || strings.HasPrefix(goType, "*schemas."):
		if strings.HasSuffix(goType, "Attribute") {
			return "an object"
		}
		return "a string"
	case goType == "string", goType == "*string":
		return "a string"
	}
	return goType
}

func parseExtension(b []byte, served bool) (s *Schema, resourceType string, required bool, err error) {
	var f extensionFile
	if err := strictUnmarshal(b, &f); err != nil {
		return nil, "", false, err
	}
	s = &f.Schema
	if f.Schemas != nil && !slices.Contains(f.Schemas, urnSchema) {
		return nil, "", false, fmt.Errorf("\"schemas\" is %q; a schema definition's is [%q] (or leave it out)", f.Schemas, urnSchema)
	}
	if err := checkSchema(s); err != nil {
		return nil, "", false, err
	}
	if f.ResourceType == nil || *f.ResourceType == "" {
		return nil, "", false, fmt.Errorf("schema %q: no \"resourceType\": name the resource type it extends, \"User\" or \"Group\"", s.ID)
	}
	if served {
		if err := checkExtensionAttributes(s.Attributes, ""); err != nil {
			return nil, "", false, fmt.Errorf("schema %q: %w", s.ID, err)
		}
	}
	return s, *f.ResourceType, f.Required, nil
}

// checkExtensionAttributes refuses characteristics that the service would
// not honour for an extension attribute (see NewRegistryWith). It runs
// after checkSchema has filled in the defaults.
func checkExtensionAttributes(attrs []*Attribute, parent string) error {
	for _, a := range attrs {
		path := a.Name
		if parent != "" {
			path = parent + "." + a.Name
		}
		switch {
		case a.Mutability == ReadOnly:
			return fmt.Errorf("attribute %q: mutability readOnly: scim-bridge computes no extension values, so nothing could set it; use readWrite or immutable", path)
		case a.Mutability == WriteOnly:
			return fmt.Errorf("attribute %q: mutability writeOnly: scim-bridge never stores or sends writeOnly values, so it would be dropped; use readWrite or immutable", path)
		case a.Returned == ReturnedNever:
			return fmt.Errorf("attribute %q: returned never: scim-bridge never stores or sends such values, so it would be dropped; use default, always or request", path)
		case a.Uniqueness != UniqueNone:
			return fmt.Errorf("attribute %q: uniqueness %s: scim-bridge enforces uniqueness only for userName and a group's displayName; use none", path, a.Uniqueness)
		}
		if err := checkExtensionAttributes(a.SubAttributes, path); err != nil {
			return err
		}
	}
	return nil
}

func parseSchema(b []byte) (*Schema, error) {
	var s Schema
	if err := strictUnmarshal(b, &s); err != nil {
		return nil, err
	}
	if err := checkSchema(&s); err != nil {
		return nil, err
	}
	return &s, nil
}

// checkSchema validates a definition and fills in the defaults of RFC 7643
// §2.2 for characteristics left empty.
func checkSchema(s *Schema) error {
	if s.ID == "" {
		return fmt.Errorf("no \"id\": a schema's id is its URN, e.g. \"urn:ietf:params:scim:schemas:extension:Contoso:2.0:User\"")
	}
	if !validURN(s.ID) {
		return fmt.Errorf("schema id %q is not a URN (urn:<namespace>:<specific string>, RFC 8141)", s.ID)
	}
	if strings.TrimSpace(s.Name) == "" {
		return fmt.Errorf("schema %q has no name", s.ID)
	}
	if len(s.Attributes) == 0 {
		return fmt.Errorf("schema %q has no attributes", s.ID)
	}
	return checkAttributes(s.Attributes, "", false)
}

func checkAttributes(attrs []*Attribute, parent string, sub bool) error {
	seen := make(map[string]bool, len(attrs))
	for _, a := range attrs {
		if a == nil {
			return fmt.Errorf("attribute of %q is null", parent)
		}
		path := a.Name
		if parent != "" {
			path = parent + "." + a.Name
		}
		if !validAttrName(a.Name) {
			return fmt.Errorf("attribute %q: invalid name", path)
		}
		if seen[strings.ToLower(a.Name)] {
			return fmt.Errorf("attribute %q: defined twice", path)
		}
		seen[strings.ToLower(a.Name)] = true
		switch a.Type {
		case TypeString, TypeBoolean, TypeDecimal, TypeInteger, TypeDateTime, TypeBinary, TypeReference:
			if len(a.SubAttributes) > 0 {
				return fmt.Errorf("attribute %q: sub-attributes on a %s attribute", path, a.Type)
			}
		case TypeComplex:
			if sub {
				return fmt.Errorf("attribute %q: a sub-attribute cannot be complex (RFC 7643 §2.3.8)", path)
			}
			if len(a.SubAttributes) == 0 {
				return fmt.Errorf("attribute %q: complex attribute without sub-attributes", path)
			}
			if err := checkAttributes(a.SubAttributes, path, true); err != nil {
				return err
			}
		default:
			return fmt.Errorf("attribute %q: unknown type %q", path, a.Type)
		}
		switch a.Mutability {
		case "":
			a.Mutability = ReadWrite
		case ReadOnly, ReadWrite, Immutable, WriteOnly:
		default:
			return fmt.Errorf("attribute %q: unknown mutability %q", path, a.Mutability)
		}
		switch a.Returned {
		case "":
			a.Returned = ReturnedDefault
		case ReturnedAlways, ReturnedNever, ReturnedDefault, ReturnedRequest:
		default:
			return fmt.Errorf("attribute %q: unknown returned %q", path, a.Returned)
		}
		switch a.Uniqueness {
		case "":
			a.Uniqueness = UniqueNone
		case UniqueNone, UniqueServer, UniqueGlobal:
		default:
			return fmt.Errorf("attribute %q: unknown uniqueness %q", path, a.Uniqueness)
		}
		if a.Type == TypeReference && len(a.ReferenceTypes) == 0 {
			return fmt.Errorf("attribute %q: reference attribute without referenceTypes", path)
		}
	}
	return nil
}

// validAttrName reports whether s is an ATTRNAME of RFC 7643 §2.1
// (ALPHA *(nameChar)), or "$ref".
func validAttrName(s string) bool {
	if s == "$ref" {
		return true
	}
	if s == "" || !isAlpha(s[0]) {
		return false
	}
	for i := 1; i < len(s); i++ {
		c := s[i]
		if !isAlpha(c) && !(c >= '0' && c <= '9') && c != '-' && c != '_' {
			return false
		}
	}
	return true
}

func isAlpha(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }

// validURN reports whether s has the syntax of a URN without r-, q- or
// f-components (RFC 8141 §2): "urn:", a namespace identifier of 2 to 32
// letters, digits and hyphens that neither starts nor ends with a hyphen,
// ":", and a non-empty namespace-specific string of URI path characters.
func validURN(s string) bool {
	if len(s) < 4 || !strings.EqualFold(s[:4], "urn:") {
		return false
	}
	nid, nss, ok := strings.Cut(s[4:], ":")
	if !ok || len(nid) < 2 || len(nid) > 32 || nid[0] == '-' || nid[len(nid)-1] == '-' || nss == "" {
		return false
	}
	for i := 0; i < len(nid); i++ {
		if c := nid[i]; !isAlpha(c) && !(c >= '0' && c <= '9') && c != '-' {
			return false
		}
	}
	for i := 0; i < len(nss); i++ {
		c := nss[i]
		switch {
		case isAlpha(c), c >= '0' && c <= '9', strings.IndexByte("-._~!$&'()*+,;=:@/", c) >= 0:
		case c == '%' && i+2 < len(nss) && isHex(nss[i+1]) && isHex(nss[i+2]):
			i += 2
		default:
			return false
		}
	}
	return true
}

func isHex(c byte) bool { return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F' }
