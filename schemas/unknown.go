package schemas

import "strings"

// One rule for input that names something a resource type does not
// define, in POST, PUT and PATCH alike (with a path or without): it is
// ignored and reported, or, for a strict tenant, rejected. Identity
// providers map attributes of their own (an Entra tenant with a custom
// extension attribute sends it in every create and every update); a server
// that accepts it on create and rejects the update fails that user on
// every provisioning cycle. Ignoring keeps provisioning going; reporting
// (Unknowns.Ignored, which scimhttp counts and audits) shows the operator
// the mapping to fix.
//
// What counts as unknown: an attribute or sub-attribute its schema does
// not define (in a body, a PATCH path or a PATCH value), and attributes
// under a schema URN the resource type does not have. Not unknown, and
// dropped without a report in every mode: readOnly input (id, meta,
// groups), every "$ref", "schemas" inside an extension object, and a
// schema URN listed in "schemas" with no attributes under it (Entra lists
// its own Group URN).

// IgnoredKind says what an ignored name is. The set is closed, so it can
// label a metric.
type IgnoredKind string

const (
	// IgnoredAttribute is an attribute or sub-attribute that its schema
	// (the core schema or a known extension) does not define.
	IgnoredAttribute IgnoredKind = "attribute"
	// IgnoredSchema is input under a schema URN the resource type does
	// not have.
	IgnoredSchema IgnoredKind = "schema"
	// IgnoredMember is a member id to add that names no User or Group of
	// the tenant (the bridge skips it).
	IgnoredMember IgnoredKind = "member"
)

// Ignored is one name a write ignored: the attribute path or URN as the
// client wrote it, without indexes or filters (a name, never a value), or
// a member id.
type Ignored struct {
	Kind IgnoredKind
	Name string
}

// Unknowns is what a write does with unknown input (see above). A nil or
// zero Unknowns ignores it; with Strict set the write fails instead
// (KindInvalidPath for a PATCH path, KindInvalidValue otherwise). Ignored
// collects each ignored name once, in the order met.
type Unknowns struct {
	Strict  bool
	Ignored []Ignored
	seen    map[Ignored]bool
}

// Add records an ignored name, once.
func (u *Unknowns) Add(kind IgnoredKind, name string) {
	if u == nil {
		return
	}
	k := Ignored{Kind: kind, Name: name}
	if u.seen[k] {
		return
	}
	if u.seen == nil {
		u.seen = map[Ignored]bool{}
	}
	u.seen[k] = true
	u.Ignored = append(u.Ignored, k)
}

// strict reports whether unknown input fails the write.
func (u *Unknowns) strict() bool { return u != nil && u.Strict }

// unknown handles one unknown name: it returns strictErr when u is strict,
// else records the name and returns nil.
func (u *Unknowns) unknown(kind IgnoredKind, name string, strictErr *Error) error {
	if u.strict() {
		return strictErr
	}
	u.Add(kind, name)
	return nil
}

// unknownKind classifies an unknown attribute name: IgnoredSchema when it
// is URN-qualified and no schema of rt prefixes it, else IgnoredAttribute.
func (rt *ResourceType) unknownKind(name string) IgnoredKind {
	if len(name) > 4 && strings.EqualFold(name[:4], "urn:") {
		if _, _, ok := rt.index().splitURN(name); !ok {
			return IgnoredSchema
		}
	}
	return IgnoredAttribute
}

// plainPath removes the indexes and value filters of an attribute path as
// the coercion errors write it ("emails[1].foo", `emails[type eq "work"]`),
// so that what is reported names attributes only.
func plainPath(p string) string {
	if strings.IndexByte(p, '[') < 0 {
		return p
	}
	var b strings.Builder
	depth, quoted := 0, false
	for i := 0; i < len(p); i++ {
		c := p[i]
		switch {
		case quoted:
			if c == '\\' {
				i++
			} else if c == '"' {
				quoted = false
			}
		case c == '"' && depth > 0:
			quoted = true
		case c == '[':
			depth++
		case c == ']' && depth > 0:
			depth--
		case depth == 0:
			b.WriteByte(c)
		}
	}
	return b.String()
}
