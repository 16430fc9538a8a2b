package schemas

import (
	"testing"
)

// projectBenchUser is a typical stored user as a GET /Users/{id} reads it:
// an Entra ID user with the enterprise extension, an id and the groups the
// projection attaches.
func projectBenchUser(tb testing.TB) Resource {
	tb.Helper()
	user := modelRT(tb, "User")
	r, err := user.Decode([]byte(`{
 "schemas":["urn:ietf:params:scim:schemas:core:2.0:User","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
 "externalId":"0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef","userName":"alice@contoso.com","active":true,
 "displayName":"Alice Ng","title":"Engineer","preferredLanguage":"en-US",
 "name":{"formatted":"Alice Ng","familyName":"Ng","givenName":"Alice"},
 "emails":[{"primary":true,"type":"work","value":"alice@contoso.com"},{"type":"home","value":"alice@example.com"}],
 "phoneNumbers":[{"type":"work","value":"+1 555 0100"},{"type":"mobile","value":"+1 555 0199"}],
 "addresses":[{"type":"work","formatted":"1 Main St","streetAddress":"1 Main St","locality":"Redmond","region":"WA","postalCode":"98052","country":"US","primary":true}],
 "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"employeeNumber":"701984","department":"Tour Operations","costCenter":"4130","organization":"Universal Studios","manager":{"value":"26118915-6090-4610-87e4-49d8ca9f808d","displayName":"John Smith"}}
}`))
	if err != nil {
		tb.Fatalf("Decode(user) error: %v", err)
	}
	r["id"] = "2819c223-7f76-453a-919d-413861904646"
	r["groups"] = []any{
		map[string]any{"value": "e9e30dba-f08f-4109-8486-d5c6a331660a", "type": "direct", "display": "Tour Guides"},
		map[string]any{"value": "fc348aa8-3835-40eb-a20e-e7c3a4e7a8f1", "type": "direct", "display": "Employees"},
		map[string]any{"value": "71ddacd2-a8e7-49b8-a5db-ae50d0a5bfd7", "type": "direct", "display": "US Employees"},
	}
	return r
}

// BenchmarkProject measures Project, and projectGeneral (the path it had
// before it learnt to return the resource or a shallow copy) on the same
// input, for the selections most reads carry.
func BenchmarkProject(b *testing.B) {
	user := modelRT(b, "User")
	r := projectBenchUser(b)
	for _, bc := range []struct{ name, attrs, ex string }{
		{"NoSelection", "", ""},
		{"ExcludedGroups", "", "groups"},
	} {
		s, err := user.ParseSelection(bc.attrs, bc.ex)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(bc.name+"/General", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				user.projectGeneral(r, s)
			}
		})
		b.Run(bc.name+"/Fast", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				user.Project(r, s)
			}
		})
	}
}
