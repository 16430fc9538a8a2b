package schemas

// AttrType is an attribute's data type (RFC 7643 §2.3).
type AttrType string

const (
	TypeString    AttrType = "string"
	TypeBoolean   AttrType = "boolean"
	TypeDecimal   AttrType = "decimal"
	TypeInteger   AttrType = "integer"
	TypeDateTime  AttrType = "dateTime"
	TypeBinary    AttrType = "binary"
	TypeReference AttrType = "reference"
	TypeComplex   AttrType = "complex"
)

// Mutability, Returned and Uniqueness are the characteristics of RFC 7643 §7.
type (
	Mutability string
	Returned   string
	Uniqueness string
)

const (
	ReadOnly  Mutability = "readOnly"
	ReadWrite Mutability = "readWrite"
	Immutable Mutability = "immutable"
	WriteOnly Mutability = "writeOnly"

	ReturnedAlways  Returned = "always"
	ReturnedNever   Returned = "never"
	ReturnedDefault Returned = "default"
	ReturnedRequest Returned = "request"

	UniqueNone   Uniqueness = "none"
	UniqueServer Uniqueness = "server"
	UniqueGlobal Uniqueness = "global"
)

// Attribute is an attribute definition (RFC 7643 §7), in the JSON form that
// /Schemas publishes and extension schema files use.
type Attribute struct {
	Name            string       `json:"name"`
	Type            AttrType     `json:"type"`
	MultiValued     bool         `json:"multiValued"`
	Description     string       `json:"description,omitempty"`
	Required        bool         `json:"required"`
	CaseExact       bool         `json:"caseExact"`
	Mutability      Mutability   `json:"mutability"`
	Returned        Returned     `json:"returned"`
	Uniqueness      Uniqueness   `json:"uniqueness"`
	CanonicalValues []string     `json:"canonicalValues,omitempty"`
	ReferenceTypes  []string     `json:"referenceTypes,omitempty"`
	SubAttributes   []*Attribute `json:"subAttributes,omitempty"`
}

// Schema is a schema definition (RFC 7643 §7).
type Schema struct {
	ID          string       `json:"id"`
	Name        string       `json:"name"`
	Description string       `json:"description,omitempty"`
	Attributes  []*Attribute `json:"attributes"`
}

// SchemaExtension is an extension schema of a resource type (RFC 7643 §6).
type SchemaExtension struct {
	Schema   *Schema
	Required bool
}

// The names of the resource types a Registry has (RFC 7643 §4.1, §4.2).
const (
	User  = "User"
	Group = "Group"
)

// ResourceType is a resource type (RFC 7643 §6): User or Group, its core
// schema and its extensions. It is immutable after the Registry builds it and
// safe for concurrent use.
type ResourceType struct {
	Name        string // User, Group
	Endpoint    string // "/Users", "/Groups"
	Description string
	Schema      *Schema
	Extensions  []SchemaExtension

	idx *attrIndex // built by NewRegistry; see lookup.go
}

// IsUser reports whether rt is the User resource type.
func (rt *ResourceType) IsUser() bool { return rt.Name == User }

// IsGroup reports whether rt is the Group resource type.
func (rt *ResourceType) IsGroup() bool { return rt.Name == Group }
