package schemas

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

func TestResourceType_CheckFilter(t *testing.T) {
	rt := testUserType(t)
	valid := []struct {
		name   string
		filter string
	}{
		// RFC 7644 §3.4.2.2, every example filter of the section.
		{"RFC/eq", `userName eq "bjensen"`},
		{"RFC/co sub-attribute", `name.familyName co "O'Malley"`},
		{"RFC/sw", `userName sw "J"`},
		{"RFC/sw URN", `urn:ietf:params:scim:schemas:core:2.0:User:userName sw "J"`},
		{"RFC/pr", `title pr`},
		{"RFC/gt dateTime", `meta.lastModified gt "2011-05-13T04:42:34Z"`},
		{"RFC/ge dateTime", `meta.lastModified ge "2011-05-13T04:42:34Z"`},
		{"RFC/lt dateTime", `meta.lastModified lt "2011-05-13T04:42:34Z"`},
		{"RFC/le dateTime", `meta.lastModified le "2011-05-13T04:42:34Z"`},
		{"RFC/pr and eq", `title pr and userType eq "Employee"`},
		{"RFC/pr or eq", `title pr or userType eq "Intern"`},
		{"RFC/schemas eq URN", `schemas eq "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"`},
		{"RFC/and parenthesised or", `userType eq "Employee" and (emails co "example.com" or emails.value co "example.org")`},
		{"RFC/not", `userType ne "Employee" and not (emails co "example.com" or emails.value co "example.org")`},
		{"RFC/parenthesised single", `userType eq "Employee" and (emails.type eq "work")`},
		{"RFC/value path", `userType eq "Employee" and emails[type eq "work" and value co "@example.com"]`},
		{"RFC/value paths or", `emails[type eq "work" and value co "@example.com"] or ims[type eq "xmpp" and value co "@foo.com"]`},
		// Identity providers (docs/idp-quirks.md Q7).
		{"Entra/userName", `userName eq "Test_User_00aa00aa"`},
		{"Entra/externalId", `externalId eq "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef"`},
		{"Entra/manager", `id eq "x" and manager eq "y"`},
		{"Entra/value path sub op", `emails[type eq "work"].value eq "user@contoso.com"`},
		{"Entra/capitalised", `EMAILS[TYPE eq "work"].Value eq "x"`},
		{"Okta/upper-cased userName", `userName eq "ALICE@EXAMPLE.COM"`},
		{"enterprise URN", `urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber eq "701"`},
		{"manager.value", `urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value eq "x"`},
		// Types.
		{"boolean eq", `active eq true`},
		{"boolean ne", `active ne false`},
		{"integer", `age ge 18`},
		{"integer exponent", `age ge 1e2`},
		{"decimal", `score lt 2.5`},
		{"binary eq", `badge eq "QUJD"`},
		{"reference co", `home co "example"`},
		{"null", `title eq null`},
		{"ne null", `emails ne null`},
		{"value path single complex", `name[givenName sw "B"]`},
		{"pr complex", `name pr`},
		{"depth limit", strings.Repeat("not (", MaxFilterDepth) + "title pr" + strings.Repeat(")", MaxFilterDepth)},
	}
	for _, tt := range valid {
		t.Run(tt.name, func(t *testing.T) {
			e, err := ParseFilter(tt.filter)
			if err != nil {
				t.Fatalf("ParseFilter(%q) error: %v", tt.filter, err)
			}
			if err := rt.CheckFilter(e); err != nil {
				t.Errorf("CheckFilter(%q) = %v, want nil", tt.filter, err)
			}
		})
	}

	invalid := []struct {
		name   string
		filter string
		want   string
	}{
		{"unknown attribute", `foo eq "x"`, `unknown attribute "foo"`},
		{"unknown sub-attribute", `name.foo pr`, `unknown attribute "name.foo"`},
		{"unknown URN", `urn:x:y:userName eq "x"`, `unknown attribute "urn:x:y:userName"`},
		{"unknown in value filter", `emails[foo eq "x"]`, `unknown attribute "emails.foo"`},
		{"unknown in Entra tail", `emails[type eq "work"].foo eq "x"`, `unknown attribute "emails.foo"`},
		{"unknown on the right", `title pr and bar pr`, `unknown attribute "bar"`},
		{"unknown under not", `not (bar pr)`, `unknown attribute "bar"`},
		{"value path unknown", `foo[type eq "x"]`, `unknown attribute "foo"`},
		{"value path on simple", `userName[value eq "x"]`, `value filter on "userName", which is not a complex attribute`},
		// RFC 7644 §3.4.2.2: "Boolean and Binary attributes SHALL cause a
		// failed response (HTTP status code 400) with "scimType" of
		// "invalidFilter"" for gt, ge, lt, le.
		{"gt boolean", `active gt true`, `operator "gt" is not supported on boolean attribute "active"`},
		{"le binary", `badge le "QUJD"`, `operator "le" is not supported on binary attribute "badge"`},
		{"co boolean", `active co "t"`, `operator "co" is not supported on boolean attribute "active"`},
		{"sw integer", `age sw 1`, `operator "sw" is not supported on integer attribute "age"`},
		{"ew dateTime", `meta.created ew "Z"`, `operator "ew" is not supported on dateTime attribute "meta.created"`},
		{"co binary", `badge co "Q"`, `operator "co" is not supported on binary attribute "badge"`},
		{"boolean with string", `active eq "abc"`, `boolean attribute "active" cannot be compared with "abc"`},
		{"boolean with string true", `active eq "true"`, `boolean attribute "active" cannot be compared with "true"`},
		{"string with number", `userName eq 1`, `string attribute "userName" cannot be compared with 1`},
		{"string with boolean", `userName eq true`, `string attribute "userName" cannot be compared with true`},
		{"integer with decimal", `age eq 1.5`, `integer attribute "age" cannot be compared with 1.5`},
		{"integer with string", `age eq "1"`, `integer attribute "age" cannot be compared with "1"`},
		{"decimal with string", `score gt "1"`, `decimal attribute "score" cannot be compared with "1"`},
		{"dateTime invalid", `meta.lastModified gt "yesterday"`, `dateTime attribute "meta.lastModified" cannot be compared with "yesterday": not an RFC 3339 date and time`},
		{"dateTime with number", `meta.lastModified gt 2011`, `dateTime attribute "meta.lastModified" cannot be compared with 2011`},
		{"value in value filter", `emails[primary eq "yes"]`, `boolean attribute "emails.primary" cannot be compared with "yes"`},
		{"complex without value", `name eq "x"`, `cannot compare complex attribute "name"; compare one of its sub-attributes`},
		{"null with gt", `title gt null`, `"title" gt null: only eq and ne compare with null`},
	}
	for _, tt := range invalid {
		t.Run(tt.name, func(t *testing.T) {
			e, err := ParseFilter(tt.filter)
			if err != nil {
				t.Fatalf("ParseFilter(%q) error: %v", tt.filter, err)
			}
			err = rt.CheckFilter(e)
			var se *Error
			if !errors.As(err, &se) || se.Kind != KindInvalidFilter {
				t.Fatalf("CheckFilter(%q) = %v, want an *Error of KindInvalidFilter", tt.filter, err)
			}
			if se.Detail != tt.want {
				t.Errorf("CheckFilter(%q) detail = %q, want %q", tt.filter, se.Detail, tt.want)
			}
		})
	}
}

func TestResourceType_CheckFilter_Trees(t *testing.T) {
	// Trees built by hand, which the parser would not produce.
	rt := testUserType(t)
	deep := Expr(&PresentExpr{Path: attr("title")})
	for range MaxFilterDepth + 1 {
		deep = &NotExpr{X: deep}
	}
	rightNested := Expr(&PresentExpr{Path: attr("title")})
	for range MaxFilterDepth + 2 { // a or (b or (...)): one parenthesis fewer than ors
		rightNested = or(&PresentExpr{Path: attr("title")}, rightNested)
	}
	leftChain := Expr(&PresentExpr{Path: attr("title")})
	for range 10 * MaxFilterDepth {
		leftChain = or(leftChain, &PresentExpr{Path: attr("title")})
	}
	tests := []struct {
		name string
		e    Expr
		want string // "" for valid
	}{
		{"nil", nil, `empty filter`},
		{"nil operand", and(&PresentExpr{Path: attr("title")}, nil), `empty filter`},
		{"too deep", deep, `filter nested more than 32 levels deep`},
		{"right-nested too deep", rightNested, `filter nested more than 32 levels deep`},
		{"left chain is flat", leftChain, ``},
		{"unknown operator", cmp(attr("title"), CompareOp("is"), "x"), `unknown operator "is"`},
		{"Go int value", cmp(attr("age"), OpEq, 1), `integer attribute "age" cannot be compared with 1`},
		{"json.Number value", cmp(attr("age"), OpEq, json.Number("1")), ``},
		{"nested value path", &ValuePathExpr{Path: attr("emails"), Filter: &ValuePathExpr{Path: attr("type"), Filter: &PresentExpr{Path: attr("value")}}},
			`value filter "type" inside a value filter`},
		{"URN in value filter", &ValuePathExpr{Path: attr("emails"), Filter: &PresentExpr{Path: AttrPath{URN: URNUser, Name: "type"}}},
			`"urn:ietf:params:scim:schemas:core:2.0:User:type" in the value filter of "emails" is not a sub-attribute name`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := rt.CheckFilter(tt.e)
			if tt.want == "" {
				if err != nil {
					t.Errorf("CheckFilter() = %v, want nil", err)
				}
				return
			}
			var se *Error
			if !errors.As(err, &se) || se.Kind != KindInvalidFilter {
				t.Fatalf("CheckFilter() = %v, want an *Error of KindInvalidFilter", err)
			}
			if se.Detail != tt.want {
				t.Errorf("CheckFilter() detail = %q, want %q", se.Detail, tt.want)
			}
		})
	}
}
