package schemas

// Path is a PATCH path (RFC 7644 §3.5.2): attrPath, or valuePath with an
// optional sub-attribute: `members[value eq "x"]`, `emails[type eq "work"].value`.
type Path struct {
	Attr   AttrPath // Attr.Sub is the sub-attribute after a filter too
	Filter Expr     // nil without a value filter
}

// ParsePath parses a PATCH path (RFC 7644 §3.5.2, "PATH = attrPath /
// valuePath [subAttr]"). Names are kept as written (resolve them with
// ResourceType.Lookup); the value filter's paths are bare sub-attribute names.
// Errors are *Error of KindInvalidPath with a position. The length is bounded
// by MaxFilterLength and the filter's nesting by MaxFilterDepth.
//
// A bare extension URN ("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User")
// parses like any URN-qualified path, as URN "...:2.0" and Name "User"; the
// caller tells it apart by looking up URN+":"+Name among the schema IDs.
func ParsePath(s string) (Path, error) {
	var p parser
	if err := p.init(s, KindInvalidPath, "path"); err != nil {
		return Path{}, err
	}
	t := p.tok
	if t.kind != tokWord {
		return Path{}, p.errorf(t, "expected attribute path, found %s", t.describe())
	}
	attr, err := p.wordPath(t, false)
	if err != nil {
		return Path{}, err
	}
	if err := p.advance(); err != nil {
		return Path{}, err
	}
	var path Path
	path.Attr = attr
	if p.tok.kind == tokLBrack {
		inner, rb, err := p.bracket(attr)
		if err != nil {
			return Path{}, err
		}
		path.Filter = inner
		if p.tok.kind == tokWord && p.tok.text[0] == '.' && p.tok.pos == rb.pos+1 {
			sub, err := p.subAttr(p.tok)
			if err != nil {
				return Path{}, err
			}
			path.Attr.Sub = sub
			if err := p.advance(); err != nil {
				return Path{}, err
			}
		}
	}
	if p.tok.kind != tokEOF {
		return Path{}, p.errorf(p.tok, "expected end of path, found %s", p.tok.describe())
	}
	return path, nil
}
