package schemas

// Well-known schema URNs (RFC 7643 §8.7, RFC 7644 §3).
const (
	URNUser         = "urn:ietf:params:scim:schemas:core:2.0:User"
	URNGroup        = "urn:ietf:params:scim:schemas:core:2.0:Group"
	URNEnterprise   = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
	URNListResponse = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
	URNPatchOp      = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
	URNSearch       = "urn:ietf:params:scim:api:messages:2.0:SearchRequest"
	URNError        = "urn:ietf:params:scim:api:messages:2.0:Error"
)

// Resource is a SCIM resource in canonical form, as the rest of the module
// passes it around, stores it and puts it in events:
//
//   - keys are attribute names spelled as the schema spells them ("userName",
//     "name", "emails"); attributes of an extension schema sit in a nested
//     object under the extension's URN key, with the same rules;
//   - values are exactly what encoding/json produces with UseNumber: string,
//     bool, json.Number, []any, map[string]any. dateTime values are RFC 3339
//     strings in UTC; booleans are real booleans (decoding turns "True" into
//     true); unassigned attributes (null, [], {}) are absent;
//   - "id", "externalId" and "schemas" are present like any other attribute;
//     "meta" is absent (the projection adds it on read); "password" is never
//     kept after decoding (returned: never); a Group's "members" is absent,
//     because members are stored and evented as deltas (see Change).
//
// Marshalling a Resource with encoding/json and decoding it back with
// UseNumber yields an equal Resource, and map keys marshal sorted, so the
// bytes are deterministic.
type Resource map[string]any

// ID returns the resource's "id", or "".
func (r Resource) ID() string { s, _ := r["id"].(string); return s }

// ExternalID returns the resource's "externalId", or "".
func (r Resource) ExternalID() string { s, _ := r["externalId"].(string); return s }

// Member is one member of a Group (RFC 7643 §4.2): Value is the member's id,
// Type is "User" or "Group".
type Member struct {
	Value   string `json:"value"`
	Type    string `json:"type,omitempty"`
	Display string `json:"display,omitempty"`
}

// Members gives PATCH and PUT access to a group's current members without
// loading them all: a change to one member of a 100,000-member group asks
// Contains (an add) or Lookup (a removal, which needs the member's stored
// type for its event) once. List is called only when a whole member list
// is needed (replace of "members", or a filter on something other than
// value).
//
// A read that fails answers as if the member were absent; Err then returns
// the first such failure, and whoever used the set must discard what it
// computed from it (a removal silently dropped would commit a partial
// change).
type Members interface {
	Contains(value string) bool
	Lookup(value string) (Member, bool)
	List() []Member
	Err() error
}

// Change describes what a write changed: the attributes (top-level names,
// extension attributes as "URN:name", sorted) and, for groups, the member
// deltas. An empty Change means the write changed nothing.
type Change struct {
	Attributes     []string
	MembersAdded   []Member
	MembersRemoved []Member
}

// Empty reports whether nothing changed.
func (c Change) Empty() bool {
	return len(c.Attributes) == 0 && len(c.MembersAdded) == 0 && len(c.MembersRemoved) == 0
}
