package schemas

// Validate checks a canonical resource, typically one produced by PATCH,
// against the schema as Decode would (RFC 7643 §2, §7): "schemas" contains
// the core URN, every attribute is known and spelled canonically enough to
// resolve, values have their types, required attributes are present (and
// not empty or blank), at most one value of a multi-valued attribute is
// primary, and the resource is within the limits (CheckLimits). Unlike Decode it
// rejects rather than drops: unknown attributes and password are
// KindInvalidValue, readOnly attributes other than "id" are KindMutability
// (meta and groups are added on read, never stored), and two primary values
// are KindInvalidValue (PATCH must clear the others, RFC 7644 §3.5.2; the
// package helper clearPrimaries does it). Validate does not modify r.
//
// A Group's "members", if present, is checked like Decode checks it.
func (rt *ResourceType) Validate(r Resource) error {
	if _, ok := rt.decodePlain(r, true); ok {
		return nil
	}
	_, err := rt.decodeMap(r, true, nil)
	return err
}
