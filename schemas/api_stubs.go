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
