package schemas

// Replace computes a PUT (RFC 7644 §3.5.1): next is the decoded body
// (Decode), old the stored resource. Immutable attributes must not change
// (KindMutability); readOnly ones keep their old values. For groups the
// members in next's "members" are diffed against members.
//
// RFC 7644 §3.5.1 lets a service provider either clear or keep readWrite
// attributes a PUT omits; scim-bridge clears them: the body is the new
// resource. That includes a group's members: the members in the body become
// the whole membership, and a body without members empties the group (Okta
// AIW and Ping push the complete list with every PUT; Decode leaves out an
// empty "members": [], so absent and empty cannot be told apart). An
// immutable attribute the body omits keeps its old value; one the body
// changes is KindMutability unless the old resource had none. readOnly
// attributes keep their old values. writeOnly attributes (password) are
// never kept.
func (rt *ResourceType) Replace(old Resource, members Members, next Resource) (Resource, Change, error) {
	r, _ := deepCopy(map[string]any(next)).(map[string]any)
	if r == nil {
		r = map[string]any{}
	}
	var d *memberDelta
	if rt.IsGroup() {
		ms, err := rt.SplitMembers(r)
		if err != nil {
			return nil, Change{}, err
		}
		d = newMemberDelta(members)
		d.set(ms)
	}
	res := Resource(r)
	if err := rt.settle(old, res, true); err != nil {
		return nil, Change{}, err
	}
	if err := rt.Validate(res); err != nil {
		return nil, Change{}, err
	}
	c := Change{Attributes: rt.changedAttributes(old, res)}
	if d != nil {
		d.apply(&c)
	}
	return res, c, nil
}
