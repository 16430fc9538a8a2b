package schemas

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/scim-bridge/scim-bridge/internal/testutil"
)

func cmp(p AttrPath, op CompareOp, v any) *CompareExpr {
	return &CompareExpr{Path: p, Op: op, Value: v}
}
func attr(name string) AttrPath   { return AttrPath{Name: name} }
func sub(name, s string) AttrPath { return AttrPath{Name: name, Sub: s} }
func and(l, r Expr) Expr          { return &LogicalExpr{And: true, Left: l, Right: r} }
func or(l, r Expr) Expr           { return &LogicalExpr{Left: l, Right: r} }

// parseFilterCases are the filters of RFC 7644 §3.4.2.2 (every example of
// the section) and the shapes identity providers send (docs/idp-quirks.md Q7).
var parseFilterCases = []struct {
	name string
	in   string
	want Expr
}{
	// RFC 7644 §3.4.2.2, the examples after Figure 2.
	{"RFC/eq", `userName eq "bjensen"`, cmp(attr("userName"), OpEq, "bjensen")},
	{"RFC/co sub-attribute", `name.familyName co "O'Malley"`, cmp(sub("name", "familyName"), OpCo, "O'Malley")},
	{"RFC/sw", `userName sw "J"`, cmp(attr("userName"), OpSw, "J")},
	{"RFC/sw URN", `urn:ietf:params:scim:schemas:core:2.0:User:userName sw "J"`,
		cmp(AttrPath{URN: URNUser, Name: "userName"}, OpSw, "J")},
	{"RFC/pr", `title pr`, &PresentExpr{Path: attr("title")}},
	{"RFC/gt dateTime", `meta.lastModified gt "2011-05-13T04:42:34Z"`, cmp(sub("meta", "lastModified"), OpGt, "2011-05-13T04:42:34Z")},
	{"RFC/ge dateTime", `meta.lastModified ge "2011-05-13T04:42:34Z"`, cmp(sub("meta", "lastModified"), OpGe, "2011-05-13T04:42:34Z")},
	{"RFC/lt dateTime", `meta.lastModified lt "2011-05-13T04:42:34Z"`, cmp(sub("meta", "lastModified"), OpLt, "2011-05-13T04:42:34Z")},
	{"RFC/le dateTime", `meta.lastModified le "2011-05-13T04:42:34Z"`, cmp(sub("meta", "lastModified"), OpLe, "2011-05-13T04:42:34Z")},
	{"RFC/pr and eq", `title pr and userType eq "Employee"`,
		and(&PresentExpr{Path: attr("title")}, cmp(attr("userType"), OpEq, "Employee"))},
	{"RFC/pr or eq", `title pr or userType eq "Intern"`,
		or(&PresentExpr{Path: attr("title")}, cmp(attr("userType"), OpEq, "Intern"))},
	{"RFC/schemas eq URN", `schemas eq "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"`,
		cmp(attr("schemas"), OpEq, URNEnterprise)},
	{"RFC/and parenthesised or", `userType eq "Employee" and (emails co "example.com" or emails.value co "example.org")`,
		and(cmp(attr("userType"), OpEq, "Employee"),
			or(cmp(attr("emails"), OpCo, "example.com"), cmp(sub("emails", "value"), OpCo, "example.org")))},
	{"RFC/not", `userType ne "Employee" and not (emails co "example.com" or emails.value co "example.org")`,
		and(cmp(attr("userType"), OpNe, "Employee"),
			&NotExpr{X: or(cmp(attr("emails"), OpCo, "example.com"), cmp(sub("emails", "value"), OpCo, "example.org"))})},
	{"RFC/parenthesised single", `userType eq "Employee" and (emails.type eq "work")`,
		and(cmp(attr("userType"), OpEq, "Employee"), cmp(sub("emails", "type"), OpEq, "work"))},
	{"RFC/value path", `userType eq "Employee" and emails[type eq "work" and value co "@example.com"]`,
		and(cmp(attr("userType"), OpEq, "Employee"),
			&ValuePathExpr{Path: attr("emails"), Filter: and(cmp(attr("type"), OpEq, "work"), cmp(attr("value"), OpCo, "@example.com"))})},
	{"RFC/value paths or", `emails[type eq "work" and value co "@example.com"] or ims[type eq "xmpp" and value co "@foo.com"]`,
		or(&ValuePathExpr{Path: attr("emails"), Filter: and(cmp(attr("type"), OpEq, "work"), cmp(attr("value"), OpCo, "@example.com"))},
			&ValuePathExpr{Path: attr("ims"), Filter: and(cmp(attr("type"), OpEq, "xmpp"), cmp(attr("value"), OpCo, "@foo.com"))})},

	// RFC 7644 §3.4.2.2: "and" binds tighter than "or"; chains nest left.
	{"precedence/or of ands", `a eq 1 or b eq 2 and c eq 3`,
		or(cmp(attr("a"), OpEq, json.Number("1")), and(cmp(attr("b"), OpEq, json.Number("2")), cmp(attr("c"), OpEq, json.Number("3"))))},
	{"precedence/and chain", `a pr and b pr and c pr`,
		and(and(&PresentExpr{Path: attr("a")}, &PresentExpr{Path: attr("b")}), &PresentExpr{Path: attr("c")})},
	{"precedence/parens right", `a pr and (b pr and c pr)`,
		and(&PresentExpr{Path: attr("a")}, and(&PresentExpr{Path: attr("b")}, &PresentExpr{Path: attr("c")}))},

	// RFC 7644 §3.4.2.2: attribute names and operators are case-insensitive.
	{"case/keywords", `userName EQ "x" And title PR oR NOT (active Eq TRUE)`,
		or(and(cmp(attr("userName"), OpEq, "x"), &PresentExpr{Path: attr("title")}), &NotExpr{X: cmp(attr("active"), OpEq, true)})},
	{"case/null", `nickName eq NULL`, cmp(attr("nickName"), OpEq, nil)},
	{"whitespace", "  userName \t eq\t\t\"x\"  ", cmp(attr("userName"), OpEq, "x")},
	{"not without space", `not(title pr)`, &NotExpr{X: &PresentExpr{Path: attr("title")}}},
	{"attribute named not", `not pr`, &PresentExpr{Path: attr("not")}},

	// Values: JSON strings, numbers, booleans, null (RFC 7644 §3.4.2.2 compValue).
	{"value/escapes", `displayName eq "a\"b\\c\/d\n\u00e9\ud83d\ude00"`, cmp(attr("displayName"), OpEq, "a\"b\\c/d\né😀")},
	{"value/lone surrogate", `displayName eq "\ud800x"`, cmp(attr("displayName"), OpEq, "\uFFFDx")},
	{"value/integer", `age ge -10`, cmp(attr("age"), OpGe, json.Number("-10"))},
	{"value/decimal", `weight lt 1.5e+3`, cmp(attr("weight"), OpLt, json.Number("1.5e+3"))},
	{"value/false", `active eq false`, cmp(attr("active"), OpEq, false)},

	// URN-qualified paths (RFC 7644 §3.10): the attribute follows the last ":".
	{"URN/enterprise", `urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber eq "701"`,
		cmp(AttrPath{URN: URNEnterprise, Name: "employeeNumber"}, OpEq, "701")},
	{"URN/core sub-attribute", `urn:ietf:params:scim:schemas:core:2.0:User:name.givenName eq "Barbara"`,
		cmp(AttrPath{URN: URNUser, Name: "name", Sub: "givenName"}, OpEq, "Barbara")},
	{"URN/manager.value", `urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value eq "26118915"`,
		cmp(AttrPath{URN: URNEnterprise, Name: "manager", Sub: "value"}, OpEq, "26118915")},
	{"URN/value path", `urn:ietf:params:scim:schemas:core:2.0:User:emails[type eq "work"]`,
		&ValuePathExpr{Path: AttrPath{URN: URNUser, Name: "emails"}, Filter: cmp(attr("type"), OpEq, "work")}},
	{"$ref", `members.$ref pr`, &PresentExpr{Path: sub("members", "$ref")}},

	// Identity providers (docs/idp-quirks.md Q7).
	{"Entra/userName", `userName eq "Test_User_00aa00aa"`, cmp(attr("userName"), OpEq, "Test_User_00aa00aa")},
	{"Entra/externalId", `externalId eq "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef"`, cmp(attr("externalId"), OpEq, "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef")},
	{"Entra/group displayName", `displayName eq "Sales"`, cmp(attr("displayName"), OpEq, "Sales")},
	{"Entra/manager", `id eq "x" and manager eq "y"`, and(cmp(attr("id"), OpEq, "x"), cmp(attr("manager"), OpEq, "y"))},
	{"Entra/value path sub op", `emails[type eq "work"].value eq "user@contoso.com"`,
		&ValuePathExpr{Path: attr("emails"), Filter: and(cmp(attr("type"), OpEq, "work"), cmp(attr("value"), OpEq, "user@contoso.com"))}},
	{"Entra/value path capitalised sub", `emails[type eq "other"].Value eq "x"`,
		&ValuePathExpr{Path: attr("emails"), Filter: and(cmp(attr("type"), OpEq, "other"), cmp(attr("Value"), OpEq, "x"))}},
	{"Entra/value path or then sub", `emails[type eq "work" or type eq "home"].value pr`,
		&ValuePathExpr{Path: attr("emails"), Filter: and(or(cmp(attr("type"), OpEq, "work"), cmp(attr("type"), OpEq, "home")), &PresentExpr{Path: attr("value")})}},
	{"Entra/old doc value path op", `emails[type eq "work"] eq "x"`,
		&ValuePathExpr{Path: attr("emails"), Filter: and(cmp(attr("type"), OpEq, "work"), cmp(attr("value"), OpEq, "x"))}},
	{"Okta/userName", `userName eq "alice@example.com"`, cmp(attr("userName"), OpEq, "alice@example.com")},
	{"Okta/upper-cased userName", `userName eq "ALICE@EXAMPLE.COM"`, cmp(attr("userName"), OpEq, "ALICE@EXAMPLE.COM")},
	{"members value path", `members[value eq "2819c223-7f76-453a-919d-413861904646"]`,
		&ValuePathExpr{Path: attr("members"), Filter: cmp(attr("value"), OpEq, "2819c223-7f76-453a-919d-413861904646")}},
}

func TestParseFilter(t *testing.T) {
	for _, tt := range parseFilterCases {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseFilter(tt.in)
			if err != nil {
				t.Fatalf("ParseFilter(%q) error: %v", tt.in, err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("ParseFilter(%q) = %s, want %s", tt.in, dumpExpr(got), dumpExpr(tt.want))
			}
			// Printing is canonical: the printed form parses to the same tree.
			printed := got.String()
			again, err := ParseFilter(printed)
			if err != nil {
				t.Fatalf("ParseFilter(%q) (printed) error: %v", printed, err)
			}
			if !reflect.DeepEqual(again, got) {
				t.Errorf("ParseFilter(%q) = %s, want %s", printed, dumpExpr(again), dumpExpr(got))
			}
		})
	}
}

func TestFilterString(t *testing.T) {
	tests := []struct {
		name string
		in   Expr
		want string
	}{
		{"lower-case operator", cmp(attr("userName"), OpEq, "x"), `userName eq "x"`},
		{"or inside and", and(cmp(attr("a"), OpEq, "x"), or(&PresentExpr{Path: attr("b")}, &PresentExpr{Path: attr("c")})),
			`a eq "x" and (b pr or c pr)`},
		{"and inside or", or(and(&PresentExpr{Path: attr("a")}, &PresentExpr{Path: attr("b")}), &PresentExpr{Path: attr("c")}),
			`a pr and b pr or c pr`},
		{"right-nested or", or(&PresentExpr{Path: attr("a")}, or(&PresentExpr{Path: attr("b")}, &PresentExpr{Path: attr("c")})),
			`a pr or (b pr or c pr)`},
		{"left-nested or", or(or(&PresentExpr{Path: attr("a")}, &PresentExpr{Path: attr("b")}), &PresentExpr{Path: attr("c")}),
			`a pr or b pr or c pr`},
		{"or on the left of and", and(or(&PresentExpr{Path: attr("a")}, &PresentExpr{Path: attr("b")}), &PresentExpr{Path: attr("c")}),
			`(a pr or b pr) and c pr`},
		{"escapes", cmp(attr("a"), OpCo, "q\"b\\\n\x01é"), `a co "q\"b\\\n\u0001é"`},
		{"not", &NotExpr{X: cmp(sub("name", "familyName"), OpSw, "O")}, `not (name.familyName sw "O")`},
		{"URN", &PresentExpr{Path: AttrPath{URN: URNEnterprise, Name: "manager", Sub: "value"}},
			`urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value pr`},
		{"value path", &ValuePathExpr{Path: attr("emails"), Filter: and(cmp(attr("type"), OpEq, "work"), cmp(attr("value"), OpEq, nil))},
			`emails[type eq "work" and value eq null]`},
		{"number as written", cmp(attr("n"), OpGt, json.Number("1E2")), `n gt 1E2`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.in.String(); got != tt.want {
				t.Errorf("String() = %s, want %s", got, tt.want)
			}
		})
	}
}

func TestParseFilter_Errors(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want string // the detail, with its position
	}{
		{"empty", ``, `1:1: empty filter`},
		{"blank", `   `, `1:4: empty filter`},
		{"missing value", `userName eq`, `1:12: expected value after "eq", found end of input`},
		{"unquoted value then garbage", `name.familyName eq (Employee`, `1:20: expected value after "eq", found "("`},
		{"unknown operator", `userName is "x"`, `1:10: expected operator after "userName", found "is"`},
		{"missing operator", `userName`, `1:9: expected operator after "userName", found end of input`},
		{"unterminated string", `userName eq "abc`, `1:13: unterminated string`},
		{"bad escape", `userName eq "a\x"`, `1:15: invalid escape "\\x" in string`},
		{"bad unicode escape", `userName eq "\u12"`, `1:14: invalid escape in string: \u must be followed by 4 hex digits`},
		{"control character", "userName eq \"a\tb\"", `1:15: control character '\t' in string`},
		{"bad number", `age eq 01`, `1:8: invalid number "01"`},
		{"bad number exponent", `age eq 1e`, `1:8: invalid number "1e"`},
		{"bad number dot", `age eq 1.`, `1:8: invalid number "1."`},
		{"unclosed paren", `(userName eq "x"`, `1:17: expected ")" to close "(" at 1:1, found end of input`},
		{"stray paren", `userName eq "x")`, `1:16: expected "and", "or" or end of filter, found ")"`},
		{"dangling and", `userName eq "x" and`, `1:20: expected expression after "and", found end of input`},
		{"dangling OR", `userName eq "x" OR )`, `1:20: expected expression after "or", found ")"`},
		{"missing and", `userName eq "x" title pr`, `1:17: expected "and", "or" or end of filter, found "title"`},
		{"unclosed bracket", `emails[type eq "work"`, `1:22: expected "]" to close "[" at 1:7, found end of input`},
		{"empty bracket", `emails[]`, `1:8: empty value filter`},
		{"nested value path", `emails[type[value pr]]`, `1:12: value filter inside a value filter`},
		{"URN in value filter", `emails[urn:x:y:type eq "w"]`, `1:8: expected a sub-attribute name in value filter, found "urn:x:y:type"`},
		{"dotted in value filter", `emails[type.x eq "w"]`, `1:8: expected a sub-attribute name in value filter, found "type.x"`},
		{"value filter after sub", `name.familyName[value pr]`, `1:16: value filter after sub-attribute "familyName"; write name[...].familyName`},
		{"bad sub after bracket", `emails[type eq "w"].1 eq "x"`, `1:20: invalid sub-attribute ".1" after value filter`},
		{"sub after bracket without op", `emails[type eq "w"].value`, `1:26: expected operator after "emails[...].value", found end of input`},
		{"two dots", `name.a.b pr`, `1:1: invalid sub-attribute name in "name.a.b"`},
		{"name starting with underscore", `_x pr`, `1:1: invalid attribute name "_x"`},
		{"URN without attribute", `urn:ietf:params:scim:schemas:core:2.0 pr`, `1:1: expected attribute name after schema URN in "urn:ietf:params:scim:schemas:core:2.0"`},
		{"URN empty segment", `urn::x:userName pr`, `1:1: invalid schema URN "urn::x"`},
		{"unexpected character", `userName eq "x" & title pr`, `1:17: unexpected character '&'`},
		{"value is a path", `userName eq (x)`, `1:13: expected value after "eq", found "("`},
		{"not without paren", `not title pr`, `1:5: expected operator after "not", found "title"`},
		{"line and column", "userName eq \"x\"\nand\n  foo", `3:6: expected operator after "foo", found end of input`},
		{"column counts characters", `displayName eq "é" and`, `1:23: expected expression after "and", found end of input`},
		{"invalid UTF-8", "userName eq \"\xff\"", `1:14: invalid UTF-8`},
		{"too deep", strings.Repeat("(", MaxFilterDepth+1) + "a pr" + strings.Repeat(")", MaxFilterDepth+1), `1:33: nested more than 32 levels deep`},
		{"too deep not", strings.Repeat("not (", MaxFilterDepth+1) + "a pr" + strings.Repeat(")", MaxFilterDepth+1), `1:165: nested more than 32 levels deep`},
		{"too long", `userName eq "` + strings.Repeat("x", MaxFilterLength) + `"`, `filter longer than the limit of 4096 bytes`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseFilter(tt.in)
			if err == nil {
				t.Fatalf("ParseFilter(%q) = %s, want error %q", tt.in, dumpExpr(got), tt.want)
			}
			var se *Error
			if !errors.As(err, &se) || se.Kind != KindInvalidFilter {
				t.Fatalf("ParseFilter(%q) error = %#v, want an *Error of KindInvalidFilter", tt.in, err)
			}
			if se.Detail != tt.want {
				t.Errorf("ParseFilter(%q) error detail = %q, want %q", tt.in, se.Detail, tt.want)
			}
		})
	}
}

func TestParseFilter_Bounds(t *testing.T) {
	t.Run("MaxFilterDepth", func(t *testing.T) {
		in := strings.Repeat("(", MaxFilterDepth) + "a pr" + strings.Repeat(")", MaxFilterDepth)
		if _, err := ParseFilter(in); err != nil {
			t.Errorf("ParseFilter(%d parentheses) error: %v", MaxFilterDepth, err)
		}
	})
	t.Run("MaxFilterLength", func(t *testing.T) {
		in := `userName eq "` + strings.Repeat("x", MaxFilterLength-14) + `"`
		if len(in) != MaxFilterLength {
			t.Fatalf("len = %d, want %d", len(in), MaxFilterLength)
		}
		if _, err := ParseFilter(in); err != nil {
			t.Errorf("ParseFilter(%d bytes) error: %v", len(in), err)
		}
	})
	t.Run("long chain", func(t *testing.T) {
		// Chains are not nesting: as many terms as fit in MaxFilterLength.
		in := "a pr" + strings.Repeat(" or a pr", (MaxFilterLength-4)/8)
		e, err := ParseFilter(in)
		if err != nil {
			t.Fatalf("ParseFilter(long chain) error: %v", err)
		}
		if got := e.String(); got != in {
			t.Errorf("String() = %.40q..., want %.40q...", got, in)
		}
	})
	t.Run("unbalanced parentheses", func(t *testing.T) {
		// Fails at MaxFilterDepth, never recursing further.
		in := strings.Repeat("(", MaxFilterLength)
		if _, err := ParseFilter(in); KindOf(err) != KindInvalidFilter {
			t.Errorf("ParseFilter(%d parentheses) error = %v, want KindInvalidFilter", len(in), err)
		}
	})
}

// TestParseFilter_Golden parses every line of testdata/filter/*.txt (blank
// lines and "#" comments aside) and compares the tree, the printed form or
// the error with the .golden file beside it. Refresh with -update.
func TestParseFilter_Golden(t *testing.T) {
	runGolden(t, "testdata/filter", func(in string) string {
		e, err := ParseFilter(in)
		if err != nil {
			return "err: " + err.Error()
		}
		return "ast: " + dumpExpr(e) + "\nout: " + e.String()
	})
}

func runGolden(t *testing.T, dir string, run func(string) string) {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatalf("no %s/*.txt", dir)
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			src, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			var out strings.Builder
			for _, line := range strings.Split(string(src), "\n") {
				if strings.TrimSpace(line) == "" || strings.HasPrefix(line, "#") {
					continue
				}
				fmt.Fprintf(&out, "in:  %s\n%s\n\n", line, run(line))
			}
			testutil.Golden(t, strings.TrimSuffix(file, ".txt")+".golden", []byte(out.String()))
		})
	}
}

// dumpExpr prints e as an S-expression that shows the tree's shape and the
// Go type of each value, which String does not.
func dumpExpr(e Expr) string {
	var b strings.Builder
	var dump func(Expr)
	path := func(p AttrPath) string {
		s := p.Name
		if p.URN != "" {
			s = "<" + p.URN + ">" + s
		}
		if p.Sub != "" {
			s += "." + p.Sub
		}
		return s
	}
	dump = func(e Expr) {
		switch e := e.(type) {
		case *CompareExpr:
			fmt.Fprintf(&b, "(%s %s ", e.Op, path(e.Path))
			switch v := e.Value.(type) {
			case string:
				fmt.Fprintf(&b, "%q", v)
			case json.Number:
				fmt.Fprintf(&b, "number:%s", v)
			default:
				fmt.Fprintf(&b, "%v", v)
			}
			b.WriteString(")")
		case *PresentExpr:
			fmt.Fprintf(&b, "(pr %s)", path(e.Path))
		case *LogicalExpr:
			if e.And {
				b.WriteString("(and ")
			} else {
				b.WriteString("(or ")
			}
			dump(e.Left)
			b.WriteString(" ")
			dump(e.Right)
			b.WriteString(")")
		case *NotExpr:
			b.WriteString("(not ")
			dump(e.X)
			b.WriteString(")")
		case *ValuePathExpr:
			fmt.Fprintf(&b, "(%s[] ", path(e.Path))
			dump(e.Filter)
			b.WriteString(")")
		default:
			fmt.Fprintf(&b, "%#v", e)
		}
	}
	dump(e)
	return b.String()
}

// FuzzParseFilter checks that ParseFilter never panics, that its errors are
// positioned *Errors of KindInvalidFilter, and that printing is canonical:
// parse -> String -> parse yields an equal tree and the same string.
func FuzzParseFilter(f *testing.F) {
	for _, tt := range parseFilterCases {
		f.Add(tt.in)
	}
	for _, s := range []string{`a[b pr]`, `not (a pr)`, `a eq -0.5E-3`, `(a pr) or (b pr and (c pr))`, `a eq "\u0000"`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		e, err := ParseFilter(in)
		if err != nil {
			if KindOf(err) != KindInvalidFilter {
				t.Fatalf("ParseFilter(%q) error = %#v, want KindInvalidFilter", in, err)
			}
			return
		}
		printed := e.String()
		if len(printed) > MaxFilterLength {
			// The canonical form spaces tokens out ("a eq\"x\"" prints as
			// "a eq \"x\""), so an input near the limit may print past it.
			return
		}
		again, err := ParseFilter(printed)
		if err != nil {
			t.Fatalf("ParseFilter(%q) (printed from %q) error: %v", printed, in, err)
		}
		if !reflect.DeepEqual(again, e) {
			t.Fatalf("ParseFilter(%q) = %s, want %s (printed from %q)", printed, dumpExpr(again), dumpExpr(e), in)
		}
		if got := again.String(); got != printed {
			t.Fatalf("String() = %q, want %q", got, printed)
		}
	})
}
