package schemas

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

// parsePathCases are PATCH paths of RFC 7644 §3.5.2 and its examples
// (§3.5.2.1-3), and the shapes identity providers send (docs/idp-quirks.md Q6).
var parsePathCases = []struct {
	name string
	in   string
	want Path
}{
	{"RFC/attribute", `members`, Path{Attr: attr("members")}},
	{"RFC/sub-attribute", `name.familyName`, Path{Attr: sub("name", "familyName")}},
	{"RFC/value path", `members[value eq "2819c223-7f76-453a-919d-413861904646"]`,
		Path{Attr: attr("members"), Filter: cmp(attr("value"), OpEq, "2819c223-7f76-453a-919d-413861904646")}},
	{"RFC/value path and sub-attribute", `addresses[type eq "work"].streetAddress`,
		Path{Attr: sub("addresses", "streetAddress"), Filter: cmp(attr("type"), OpEq, "work")}},
	{"RFC/value path with and", `emails[type eq "work" and value ew "example.com"]`,
		Path{Attr: attr("emails"), Filter: and(cmp(attr("type"), OpEq, "work"), cmp(attr("value"), OpEw, "example.com"))}},
	{"RFC/URN attribute", `urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager`,
		Path{Attr: AttrPath{URN: URNEnterprise, Name: "manager"}}},
	{"RFC/URN sub-attribute", `urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value`,
		Path{Attr: AttrPath{URN: URNEnterprise, Name: "manager", Sub: "value"}}},
	{"RFC/URN core", `urn:ietf:params:scim:schemas:core:2.0:User:name.givenName`,
		Path{Attr: AttrPath{URN: URNUser, Name: "name", Sub: "givenName"}}},
	{"Entra/emails work value", `emails[type eq "work"].value`,
		Path{Attr: sub("emails", "value"), Filter: cmp(attr("type"), OpEq, "work")}},
	{"Entra/capitalised", `phoneNumbers[Type EQ "mobile"].Value`,
		Path{Attr: sub("phoneNumbers", "Value"), Filter: cmp(attr("Type"), OpEq, "mobile")}},
	{"whitespace around", ` active `, Path{Attr: attr("active")}},
	{"$ref", `members.$ref`, Path{Attr: sub("members", "$ref")}},
}

func TestParsePath(t *testing.T) {
	for _, tt := range parsePathCases {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParsePath(tt.in)
			if err != nil {
				t.Fatalf("ParsePath(%q) error: %v", tt.in, err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("ParsePath(%q) = %#v, want %#v", tt.in, got, tt.want)
			}
			printed := got.String()
			again, err := ParsePath(printed)
			if err != nil {
				t.Fatalf("ParsePath(%q) (printed) error: %v", printed, err)
			}
			if !reflect.DeepEqual(again, got) {
				t.Errorf("ParsePath(%q) = %#v, want %#v", printed, again, got)
			}
		})
	}
}

func TestPath_String(t *testing.T) {
	tests := []struct {
		name string
		in   Path
		want string
	}{
		{"attribute", Path{Attr: attr("userName")}, `userName`},
		{"sub-attribute", Path{Attr: sub("name", "givenName")}, `name.givenName`},
		{"filter", Path{Attr: attr("members"), Filter: cmp(attr("value"), OpEq, "x")}, `members[value eq "x"]`},
		{"filter and sub", Path{Attr: sub("emails", "value"), Filter: cmp(attr("type"), OpEq, "work")}, `emails[type eq "work"].value`},
		{"URN", Path{Attr: AttrPath{URN: URNEnterprise, Name: "manager", Sub: "value"}},
			`urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.in.String(); got != tt.want {
				t.Errorf("String() = %s, want %s", got, tt.want)
			}
		})
	}
}

func TestParsePath_Errors(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want string
	}{
		{"empty", ``, `1:1: expected attribute path, found end of input`},
		{"filter only", `[value eq "x"]`, `1:1: expected attribute path, found "["`},
		{"trailing", `members value`, `1:9: expected end of path, found "value"`},
		{"space before sub", `emails[type eq "work"] .value`, `1:24: expected end of path, found ".value"`},
		{"unclosed", `members[value eq "x"`, `1:21: expected "]" to close "[" at 1:8, found end of input`},
		{"bad filter", `members[value eq]`, `1:17: expected value after "eq", found "]"`},
		{"nested", `emails[a[b pr]]`, `1:9: value filter inside a value filter`},
		{"sub before filter", `emails.value[type eq "work"]`, `1:13: value filter after sub-attribute "value"; write emails[...].value`},
		{"two subs", `emails[type eq "work"].value.x`, `1:23: invalid sub-attribute ".value.x" after value filter`},
		{"bad name", `1abc`, `1:1: invalid number "1abc"`},
		{"filter expression", `userName eq "x"`, `1:10: expected end of path, found "eq"`},
		{"too long", strings.Repeat("a", MaxFilterLength+1), `path longer than the limit of 4096 bytes`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParsePath(tt.in)
			if err == nil {
				t.Fatalf("ParsePath(%q) = %#v, want error %q", tt.in, got, tt.want)
			}
			var se *Error
			if !errors.As(err, &se) || se.Kind != KindInvalidPath {
				t.Fatalf("ParsePath(%q) error = %#v, want an *Error of KindInvalidPath", tt.in, err)
			}
			if se.Detail != tt.want {
				t.Errorf("ParsePath(%q) error detail = %q, want %q", tt.in, se.Detail, tt.want)
			}
		})
	}
}

// TestParsePath_Golden runs testdata/path/*.txt against their .golden files.
func TestParsePath_Golden(t *testing.T) {
	runGolden(t, "testdata/path", func(in string) string {
		p, err := ParsePath(in)
		if err != nil {
			return "err: " + err.Error()
		}
		s := "attr: " + dumpPath(p.Attr)
		if p.Filter != nil {
			s += "\nfilter: " + dumpExpr(p.Filter)
		}
		return s + "\nout: " + p.String()
	})
}

func dumpPath(p AttrPath) string {
	return "urn=" + p.URN + " name=" + p.Name + " sub=" + p.Sub
}

// FuzzParsePath checks that ParsePath never panics, that its errors are
// *Errors of KindInvalidPath, and that parse -> String -> parse is stable.
func FuzzParsePath(f *testing.F) {
	for _, tt := range parsePathCases {
		f.Add(tt.in)
	}
	f.Fuzz(func(t *testing.T, in string) {
		p, err := ParsePath(in)
		if err != nil {
			if KindOf(err) != KindInvalidPath {
				t.Fatalf("ParsePath(%q) error = %#v, want KindInvalidPath", in, err)
			}
			return
		}
		printed := p.String()
		if len(printed) > MaxFilterLength {
			// The canonical form spaces tokens out ("a eq\"x\"" prints as
			// "a eq \"x\""), so an input near the limit may print past it.
			return
		}
		again, err := ParsePath(printed)
		if err != nil {
			t.Fatalf("ParsePath(%q) (printed from %q) error: %v", printed, in, err)
		}
		if !reflect.DeepEqual(again, p) {
			t.Fatalf("ParsePath(%q) = %#v, want %#v (printed from %q)", printed, again, p, in)
		}
		if got := again.String(); got != printed {
			t.Fatalf("String() = %q, want %q", got, printed)
		}
	})
}
