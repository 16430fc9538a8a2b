package schemas

// This file holds the signatures other packages build against while their
// implementations are written. Each owner moves its functions to their own
// files (filter_parse.go, eval.go, path.go, patch.go, registry.go, decode.go,
// attributes.go, sort.go) and deletes them from here.

// ---- owner: filter/path/PATCH ----

// ParseFilter parses a filter (RFC 7644 §3.4.2.2). Errors are *Error of
// KindInvalidFilter with a position, e.g. `1:10: expected value`. Input length
// and nesting depth are bounded (MaxFilterLength, MaxFilterDepth).
func ParseFilter(s string) (Expr, error) { panic("unimplemented") }

// Path is a PATCH path (RFC 7644 §3.5.2): attrPath, or valuePath with an
// optional sub-attribute: `members[value eq "x"]`, `emails[type eq "work"].value`.
type Path struct {
	Attr   AttrPath // Attr.Sub is the sub-attribute after a filter too
	Filter Expr     // nil without a value filter
}

// ParsePath parses a PATCH path. Errors are *Error of KindInvalidPath.
func ParsePath(s string) (Path, error) { panic("unimplemented") }

// String prints the path; ParsePath(p.String()) yields an equal Path.
func (p Path) String() string { panic("unimplemented") }

// CheckFilter validates a parsed filter against the resource type: unknown
// attributes and ordering operators on booleans/binary are KindInvalidFilter.
func (rt *ResourceType) CheckFilter(e Expr) error { panic("unimplemented") }

// Matches reports whether r matches e, comparing by attribute type
// (caseExact, dateTime as instants, numbers numerically). A multi-valued
// attribute matches if any value matches. Unknown attributes match nothing.
func (rt *ResourceType) Matches(e Expr, r Resource) bool { panic("unimplemented") }

// ApplyPatch applies p to a copy of r (r is not modified). For groups,
// members is the group's current membership and r has no "members"; member
// changes come back as deltas in the Change, never in the returned Resource.
// The result is validated as a whole (required, mutability, types).
func (rt *ResourceType) ApplyPatch(r Resource, members Members, p Patch) (Resource, Change, error) {
	panic("unimplemented")
}

// Replace computes a PUT (RFC 7644 §3.5.1): next is the decoded body
// (Decode), old the stored resource. Immutable attributes must not change
// (KindMutability); readOnly ones keep their old values. For groups the
// members in next's "members" are diffed against members.
func (rt *ResourceType) Replace(old Resource, members Members, next Resource) (Resource, Change, error) {
	panic("unimplemented")
}

// ---- owner: model (registry, decode, selection, sort) ----

// Registry holds the schemas and resource types the service serves. It is
// immutable after NewRegistry and safe for concurrent use.
type Registry struct {
	types   map[string]*ResourceType // by lower-case name
	schemas []*Schema
	order   []*ResourceType
}

// NewRegistry builds the core User (with the enterprise extension) and Group
// resource types, plus extension schemas given as JSON schema definitions
// (RFC 7643 §7 format, with an extra "resourceType" field naming "User" or
// "Group" that they extend).
func NewRegistry(extensions ...[]byte) (*Registry, error) { panic("unimplemented") }

// ResourceType returns a resource type by name ("User", "Group"),
// case-insensitively.
func (reg *Registry) ResourceType(name string) (*ResourceType, bool) { panic("unimplemented") }

// ResourceTypes returns every resource type in a stable order.
func (reg *Registry) ResourceTypes() []*ResourceType { panic("unimplemented") }

// Schemas returns every schema in a stable order.
func (reg *Registry) Schemas() []*Schema { panic("unimplemented") }

// Lookup resolves a path case-insensitively to its definition and the
// canonical path (names as the schema spells them, URN filled in for
// extension attributes, "" for core ones).
func (rt *ResourceType) Lookup(p AttrPath) (*Attribute, AttrPath, bool) { panic("unimplemented") }

// Decode parses and validates a client-supplied body for POST or PUT
// (RFC 7643 §2, §7): case-insensitive names, types checked and normalised,
// readOnly input dropped, required present, canonical values, one primary.
// Password is dropped (never stored). For groups, members stay in "members"
// as []any of map values (value, type, display) so Replace can diff them.
func (rt *ResourceType) Decode(body []byte) (Resource, error) { panic("unimplemented") }

// Validate checks a resource produced by PATCH against the schema as Decode
// would (required, types, primary).
func (rt *ResourceType) Validate(r Resource) error { panic("unimplemented") }

// Selection is a parsed attributes / excludedAttributes pair (RFC 7644
// §3.4.2.5, §3.9).
type Selection struct {
	Attributes []AttrPath
	Excluded   []AttrPath
}

// ParseSelection parses the comma-separated parameters. Unknown attributes
// are KindInvalidValue... or ignored, as the owner documents.
func (rt *ResourceType) ParseSelection(attributes, excluded string) (Selection, error) {
	panic("unimplemented")
}

// Wants reports whether the selection returns the attribute at all, so that
// callers can skip loading it (members, groups).
func (s Selection) Wants(rt *ResourceType, name string) bool { panic("unimplemented") }

// Project returns the representation of r to send to the client: returned
// characteristics honoured (never / request / always), selection applied,
// id and schemas always present.
func (rt *ResourceType) Project(r Resource, s Selection) Resource { panic("unimplemented") }

// SortKey returns a byte string that orders resources by the attribute at p
// as RFC 7644 §3.4.2.3 asks (by type; caseExact=false compares case-
// insensitively); resources without a value sort last in ascending order.
func (rt *ResourceType) SortKey(r Resource, p AttrPath) []byte { panic("unimplemented") }

// coerceValue validates and normalises a raw JSON value (as decoded with
// UseNumber) for attribute a, the way Decode does for a whole body: string
// booleans ("True"), integer/decimal numbers, dateTime to RFC 3339 UTC,
// complex values with case-insensitive sub-attribute names, multi-valued
// values (a single value given for a multi-valued attribute becomes a
// one-element array when single is false). path names the attribute in
// errors. A nil result means unassigned. Used by PATCH.
func coerceValue(a *Attribute, v any, path string, single bool) (any, error) {
	panic("unimplemented")
}
