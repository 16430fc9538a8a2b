package schemas

import (
	"slices"
	"sort"
	"strings"
)

// A group's members (RFC 7643 §4.2). They never travel or rest in the
// resource: events carry them as deltas (MembersAdded, MembersRemoved) and
// reads attach them. This file reads members from a request (parseMembers,
// SplitMembers) and tracks what one write does to them (memberDelta).

// SplitMembers removes a decoded Group's "members" (see Decode) from r and
// returns them sorted by value, duplicates dropped, as parseMembers reads
// them. For any other resource type it returns nil and leaves r as it is.
func (rt *ResourceType) SplitMembers(r Resource) ([]Member, error) {
	if !rt.IsGroup() {
		return nil, nil
	}
	ms, err := parseMembers(r["members"], "members", nil)
	if err != nil {
		return nil, err
	}
	delete(r, "members")
	slices.SortFunc(ms, func(a, b Member) int { return strings.Compare(a.Value, b.Value) })
	return ms, nil
}

// memberDelta tracks the changes of one write to a group's members on top
// of its stored membership, so that changing one member of a large group
// asks Members.Contains once and never lists the group.
type memberDelta struct {
	base    Members // may be nil: no members
	added   map[string]Member
	removed map[string]Member
}

func newMemberDelta(base Members) *memberDelta {
	return &memberDelta{base: base, added: map[string]Member{}, removed: map[string]Member{}}
}

func (d *memberDelta) inBase(value string) bool {
	return d.base != nil && d.base.Contains(value)
}

func (d *memberDelta) list() []Member {
	if d.base == nil {
		return nil
	}
	return d.base.List()
}

// add makes m a member. Adding a member that already is one changes nothing
// (RFC 7644 §3.5.2.1: values already present are not added twice).
func (d *memberDelta) add(m Member) {
	if _, ok := d.removed[m.Value]; ok {
		delete(d.removed, m.Value)
		return
	}
	if _, ok := d.added[m.Value]; ok || d.inBase(m.Value) {
		return
	}
	d.added[m.Value] = m
}

// remove makes m not a member; removing a non-member changes nothing, since
// identity providers retry removals they already made. Only m.Value counts:
// the removal records the member as stored, so that its event carries the
// member's type however the client named it (a bare value, Q3).
func (d *memberDelta) remove(m Member) {
	if _, ok := d.added[m.Value]; ok {
		delete(d.added, m.Value)
		return
	}
	if _, ok := d.removed[m.Value]; ok || d.base == nil {
		return
	}
	stored, ok := d.base.Lookup(m.Value)
	if !ok {
		return
	}
	d.removed[m.Value] = stored
}

// current returns the membership after the changes so far. It lists the
// stored membership.
func (d *memberDelta) current() []Member {
	var out []Member
	for _, m := range d.list() {
		if _, ok := d.removed[m.Value]; !ok {
			out = append(out, m)
		}
	}
	for _, m := range d.added {
		out = append(out, m)
	}
	return out
}

// set makes want the whole membership (RFC 7644 §3.5.2.3 replace of a
// multi-valued attribute; a PUT's members).
func (d *memberDelta) set(want []Member) {
	keep := make(map[string]Member, len(want))
	for _, m := range want {
		keep[m.Value] = m
	}
	for _, m := range d.current() {
		if _, ok := keep[m.Value]; !ok {
			d.remove(m)
		}
	}
	for _, m := range want {
		d.add(m)
	}
}

// apply fills c's member deltas, sorted by value.
func (d *memberDelta) apply(c *Change) {
	c.MembersAdded = sortedMembers(d.added)
	c.MembersRemoved = sortedMembers(d.removed)
}

func sortedMembers(m map[string]Member) []Member {
	if len(m) == 0 {
		return nil
	}
	out := make([]Member, 0, len(m))
	for _, x := range m {
		out = append(out, x)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Value < out[j].Value })
	return out
}

// parseMembers turns a members value into Members: an array of member
// objects, one member object, or a bare id string (Microsoft's reference
// Postman collection sends "value": "<id>" for members). Sub-attribute names
// match case-insensitively; "display" or, failing that, "displayName" (the
// Postman collection's spelling) becomes Display; "$ref" is ignored
// (computed on read); "type" defaults to "User" and is canonicalised to "User" or
// "Group" (RFC 7643 §4.2). A member without a non-empty string value is
// KindInvalidValue. Other sub-attributes are unknown input for u (see
// Unknowns). Duplicates are dropped, keeping the first.
func parseMembers(v any, path string, u *Unknowns) ([]Member, error) {
	var elems []any
	switch v := v.(type) {
	case nil:
		return nil, nil
	case []any:
		elems = v
	default:
		elems = []any{v}
	}
	out := make([]Member, 0, len(elems))
	seen := make(map[string]bool, len(elems))
	for i, e := range elems {
		m, err := parseMember(e, path, u)
		if err != nil {
			return nil, Errorf(KindInvalidValue, "%s[%d]: %s", path, i, err.(*Error).Detail)
		}
		if !seen[m.Value] {
			seen[m.Value] = true
			out = append(out, m)
		}
	}
	return out, nil
}

func parseMember(v any, path string, u *Unknowns) (Member, error) {
	switch v := v.(type) {
	case string:
		if v == "" {
			return Member{}, Errorf(KindInvalidValue, "empty member value")
		}
		return Member{Value: v, Type: User}, nil
	case map[string]any:
		var m Member
		var displayName string
		for k, x := range v {
			s, isString := x.(string)
			switch {
			case strings.EqualFold(k, "value"):
				if !isString {
					return Member{}, Errorf(KindInvalidValue, "member value is not a string")
				}
				m.Value = s
			case strings.EqualFold(k, "type"):
				if x == nil {
					continue
				}
				switch {
				case !isString:
					return Member{}, Errorf(KindInvalidValue, "member type is not a string")
				case strings.EqualFold(s, User):
					m.Type = User
				case strings.EqualFold(s, Group):
					m.Type = Group
				default:
					return Member{}, Errorf(KindInvalidValue, "member type %q is not User or Group", s)
				}
			case strings.EqualFold(k, "display"):
				m.Display = s
			case strings.EqualFold(k, "displayName"):
				displayName = s
			case strings.EqualFold(k, "$ref"):
			default:
				if err := u.unknown(IgnoredAttribute, plainPath(path)+"."+k, Errorf(KindInvalidValue, "unknown member attribute %q", k)); err != nil {
					return Member{}, err
				}
			}
		}
		if m.Value == "" {
			return Member{}, Errorf(KindInvalidValue, "member has no value")
		}
		if m.Display == "" {
			m.Display = displayName
		}
		if m.Type == "" {
			m.Type = User
		}
		return m, nil
	default:
		return Member{}, Errorf(KindInvalidValue, "member is not an object or a string")
	}
}

// memberMap is a member as a complex value, for evaluating a members filter.
func memberMap(m Member) map[string]any {
	out := map[string]any{"value": m.Value}
	if m.Type != "" {
		out["type"] = m.Type
	}
	if m.Display != "" {
		out["display"] = m.Display
	}
	return out
}
