package scimhttp

import (
	"strings"

	"github.com/scim-bridge/scim-bridge/schemas"
)

// secretNames holds the lower-cased names of the attributes and
// sub-attributes whose values the audit log hides wholly: those the schema
// never returns (RFC 7643 §7, returned "never", or mutability "writeOnly"),
// such as the User's password. The zero value hides nothing.
type secretNames map[string]struct{}

// newSecretNames collects the secrets of every resource type of reg, core
// schemas and extensions.
func newSecretNames(reg *schemas.Registry) secretNames {
	s := secretNames{}
	var walk func(attrs []*schemas.Attribute)
	walk = func(attrs []*schemas.Attribute) {
		for _, a := range attrs {
			if a.Returned == schemas.ReturnedNever || a.Mutability == schemas.WriteOnly {
				s[strings.ToLower(a.Name)] = struct{}{}
			}
			walk(a.SubAttributes)
		}
	}
	for _, rt := range reg.ResourceTypes() {
		walk(rt.Schema.Attributes)
		for _, ext := range rt.Extensions {
			walk(ext.Schema.Attributes)
		}
	}
	return s
}

// names reports whether p, an object key or a PATCH path, names a secret
// or a sub-attribute of one: "password", "PASSWORD",
// "urn:ietf:params:scim:schemas:core:2.0:User:password", "x.password". A p
// that mentions a secret's name but does not parse as a path counts as
// naming it: when in doubt, hide.
func (s secretNames) names(p string) bool {
	if len(s) == 0 {
		return false
	}
	lower := strings.ToLower(p)
	mentioned := false
	for n := range s {
		if strings.Contains(lower, n) {
			mentioned = true
			break
		}
	}
	if !mentioned {
		return false
	}
	path, err := schemas.ParsePath(p)
	if err != nil {
		return true
	}
	_, name := s[strings.ToLower(path.Attr.Name)]
	_, sub := s[strings.ToLower(path.Attr.Sub)]
	return name || sub
}
