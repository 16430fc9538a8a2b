package schemas

// This file holds the signatures other packages build against while their
// implementations are written. Each owner moves its functions to their own
// files (filter_parse.go, eval.go, path.go, patch.go, registry.go, decode.go,
// attributes.go, sort.go) and deletes them from here.

// ---- owner: filter/path/PATCH ----

// CheckFilter validates a parsed filter against the resource type: unknown
// attributes and ordering operators on booleans/binary are KindInvalidFilter.
func (rt *ResourceType) CheckFilter(e Expr) error { panic("unimplemented") }

// Matches reports whether r matches e, comparing by attribute type
// (caseExact, dateTime as instants, numbers numerically). A multi-valued
// attribute matches if any value matches. Unknown attributes match nothing.
func (rt *ResourceType) Matches(e Expr, r Resource) bool { panic("unimplemented") }

