package schemas

import (
	"bytes"
	"embed"
	"encoding/json"
	"fmt"
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

// extensionDef is the file format of an extension schema: a schema
// definition (RFC 7643 §7) plus the resource type it extends.
type extensionDef struct {
	Schema
	ResourceType string `json:"resourceType"`
	Required     bool   `json:"required"` // whether resources must carry it (RFC 7643 §6)
}

// NewRegistry builds the core User (with the enterprise extension) and Group
// resource types, plus extension schemas given as JSON schema definitions
// (RFC 7643 §7 format, with an extra "resourceType" field naming "User" or
// "Group" that they extend, and an optional "required" boolean).
//
// Definitions are checked on load: schema ids are URNs and unique, attribute
// names are valid (RFC 7643 §2.1) and unique case-insensitively within their
// parent, types and characteristics are known values, only complex
// attributes have sub-attributes and sub-attributes are not complex.
// Characteristics an extension file leaves out take the defaults of
// RFC 7643 §2.2 (readWrite, returned default, uniqueness none).
func NewRegistry(extensions ...[]byte) (*Registry, error) {
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
		Name:        "User",
		Endpoint:    "/Users",
		Description: "User Account",
		Schema:      user,
		Extensions:  []SchemaExtension{{Schema: enterprise}},
	}
	groupRT := &ResourceType{
		Name:        "Group",
		Endpoint:    "/Groups",
		Description: "Group",
		Schema:      group,
	}
	reg := &Registry{
		types:   map[string]*ResourceType{"user": userRT, "group": groupRT},
		schemas: []*Schema{user, enterprise, group},
		order:   []*ResourceType{userRT, groupRT},
	}
	ids := map[string]bool{
		strings.ToLower(user.ID): true, strings.ToLower(group.ID): true,
		strings.ToLower(enterprise.ID): true, strings.ToLower(common.ID): true,
	}
	for i, b := range extensions {
		var d extensionDef
		if err := strictUnmarshal(b, &d); err != nil {
			return nil, fmt.Errorf("extension schema %d: %w", i+1, err)
		}
		s := &d.Schema
		if err := checkSchema(s); err != nil {
			return nil, fmt.Errorf("extension schema %d (%s): %w", i+1, s.ID, err)
		}
		if ids[strings.ToLower(s.ID)] {
			return nil, fmt.Errorf("extension schema %d: schema %q defined twice", i+1, s.ID)
		}
		ids[strings.ToLower(s.ID)] = true
		rt, ok := reg.types[strings.ToLower(d.ResourceType)]
		if !ok {
			return nil, fmt.Errorf("extension schema %d (%s): resourceType %q is not User or Group", i+1, s.ID, d.ResourceType)
		}
		rt.Extensions = append(rt.Extensions, SchemaExtension{Schema: s, Required: d.Required})
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

func strictUnmarshal(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return fmt.Errorf("trailing data after the schema")
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
	if !strings.HasPrefix(strings.ToLower(s.ID), "urn:") {
		return fmt.Errorf("schema id %q is not a URN", s.ID)
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
