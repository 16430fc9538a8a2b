package schemas

import (
	"encoding/json"
	"strings"
	"testing"
)

const urnTest = "urn:example:params:scim:schemas:extension:test:1.0:User"

// testExtension adds attributes of the types the core User lacks.
const testExtension = `{
  "id": "` + urnTest + `",
  "name": "Test",
  "resourceType": "User",
  "attributes": [
    {"name": "age", "type": "integer", "multiValued": false},
    {"name": "score", "type": "decimal", "multiValued": false},
    {"name": "badge", "type": "binary", "multiValued": false, "caseExact": true},
    {"name": "tags", "type": "string", "multiValued": true},
    {"name": "hired", "type": "dateTime", "multiValued": false},
    {"name": "code", "type": "string", "multiValued": false, "caseExact": true},
    {"name": "home", "type": "reference", "multiValued": false, "referenceTypes": ["external"]}
  ]
}`

// testUserType returns the User resource type with the enterprise and test
// extensions.
func testUserType(t testing.TB) *ResourceType {
	t.Helper()
	reg, err := NewRegistry([]byte(testExtension))
	if err != nil {
		t.Fatalf("NewRegistry: %v", err)
	}
	rt, ok := reg.ResourceType("User")
	if !ok {
		t.Fatal(`ResourceType("User") not found`)
	}
	return rt
}

// testUser is a canonical Resource (see Resource): the RFC 7643 §8.2 user,
// with meta as the projection adds it on read.
func testUser() Resource {
	return Resource{
		"schemas":    []any{URNUser, URNEnterprise, urnTest},
		"id":         "2819c223-7f76-453a-919d-413861904646",
		"externalId": "bjensen",
		"userName":   "bjensen@example.com",
		"name": map[string]any{
			"formatted":  "Ms. Barbara J Jensen III",
			"familyName": "O'Malley",
			"givenName":  "Barbara",
		},
		"displayName": "Babs Jensen",
		"nickName":    "",
		"title":       "Tour Guide",
		"userType":    "Employee",
		"active":      true,
		"emails": []any{
			map[string]any{"value": "bjensen@example.com", "type": "work", "primary": true},
			map[string]any{"value": "babs@jensen.org", "type": "home"},
		},
		"ims": []any{map[string]any{"value": "someaimhandle", "type": "aim"}},
		"meta": map[string]any{
			"resourceType": "User",
			"created":      "2010-01-23T04:56:22Z",
			"lastModified": "2011-05-13T04:42:34Z",
		},
		URNEnterprise: map[string]any{
			"employeeNumber": "701984",
			"manager":        map[string]any{"value": "26118915-6090-4610-87e4-49d8ca9f808d"},
		},
		urnTest: map[string]any{
			"age":   json.Number("42"),
			"score": json.Number("3.75"),
			"badge": "QUJD",
			"tags":  []any{"Blue", "green"},
			"hired": "2015-03-01T09:00:00.5+02:00",
			"code":  "AbC",
			"home":  "https://example.com/Babs",
		},
	}
}

func TestResourceType_Matches(t *testing.T) {
	rt := testUserType(t)
	user := testUser()
	tests := []struct {
		name   string
		filter string
		want   bool
	}{
		// RFC 7644 §3.4.2.2, every example filter of the section.
		{"RFC/eq", `userName eq "bjensen@example.com"`, true},
		{"RFC/co sub-attribute", `name.familyName co "O'Malley"`, true},
		{"RFC/sw", `userName sw "J"`, false},
		{"RFC/sw match", `userName sw "B"`, true},
		{"RFC/sw URN", `urn:ietf:params:scim:schemas:core:2.0:User:userName sw "bjen"`, true},
		{"RFC/pr", `title pr`, true},
		{"RFC/gt dateTime", `meta.lastModified gt "2011-05-13T04:42:34Z"`, false},
		{"RFC/ge dateTime", `meta.lastModified ge "2011-05-13T04:42:34Z"`, true},
		{"RFC/lt dateTime", `meta.lastModified lt "2011-05-13T04:42:34Z"`, false},
		{"RFC/le dateTime", `meta.lastModified le "2011-05-13T04:42:34Z"`, true},
		{"RFC/pr and eq", `title pr and userType eq "Employee"`, true},
		{"RFC/pr or eq", `title pr or userType eq "Intern"`, true},
		{"RFC/schemas eq URN", `schemas eq "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"`, true},
		{"RFC/and parenthesised or", `userType eq "Employee" and (emails co "example.com" or emails.value co "example.org")`, true},
		{"RFC/not", `userType ne "Employee" and not (emails co "example.com" or emails.value co "example.org")`, false},
		{"RFC/parenthesised single", `userType eq "Employee" and (emails.type eq "work")`, true},
		{"RFC/value path", `userType eq "Employee" and emails[type eq "work" and value co "@example.com"]`, true},
		{"RFC/value paths or", `emails[type eq "work" and value co "@example.com"] or ims[type eq "xmpp" and value co "@foo.com"]`, true},

		// RFC 7644 §3.4.2.2: caseExact=false strings compare case-insensitively.
		{"case/upper-cased userName", `userName eq "BJENSEN@EXAMPLE.COM"`, true},
		{"case/attribute name", `USERNAME eq "bjensen@example.com"`, true},
		{"case/sw fold", `name.givenName sw "bAR"`, true},
		{"case/ew fold", `displayName ew "JENSEN"`, true},
		{"case/co fold", `title co "UR G"`, true},
		{"caseExact/id", `id eq "2819C223-7F76-453A-919D-413861904646"`, false},
		{"caseExact/id exact", `id eq "2819c223-7f76-453a-919d-413861904646"`, true},
		{"caseExact/externalId", `externalId eq "BJensen"`, false},
		{"caseExact/co", `urn:example:params:scim:schemas:extension:test:1.0:User:code co "bc"`, false},
		{"caseExact/sw", `code sw "Ab"`, true},
		{"caseExact/ordering", `code gt "B"`, false},
		{"case/ordering folds", `userName gt "BA"`, true},
		{"case/ordering lt", `userName lt "C"`, true},
		{"binary/eq exact", `badge eq "QUJD"`, true},
		{"binary/eq case", `badge eq "qujd"`, false},
		{"reference/eq", `home eq "https://example.com/Babs"`, true},

		// Identity providers (docs/idp-quirks.md Q7).
		{"Entra/userName", `userName eq "Test_User_00aa00aa"`, false},
		{"Entra/externalId", `externalId eq "bjensen"`, true},
		{"Entra/manager", `id eq "2819c223-7f76-453a-919d-413861904646" and manager eq "26118915-6090-4610-87e4-49d8ca9f808d"`, true},
		{"Entra/manager.value URN", `urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value eq "26118915-6090-4610-87e4-49d8ca9f808d"`, true},
		{"Entra/employeeNumber", `urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber eq "701984"`, true},
		{"Entra/value path sub op", `emails[type eq "work"].value eq "BJENSEN@example.com"`, true},
		{"Entra/value path sub op other element", `emails[type eq "work"].value eq "babs@jensen.org"`, false},
		{"Entra/capitalised sub", `emails[Type eq "home"].Value eq "babs@jensen.org"`, true},
		{"Ping/emails eq", `emails eq "babs@jensen.org"`, true},
		{"core URN sub-attribute", `urn:ietf:params:scim:schemas:core:2.0:User:name.givenName eq "Barbara"`, true},

		// Multi-valued: any value matches (RFC 7644 §3.4.2.2).
		{"multi/simple any", `tags eq "GREEN"`, true},
		{"multi/simple none", `tags eq "red"`, false},
		{"multi/sub-attribute any", `emails.type eq "home"`, true},
		{"multi/value path same element", `emails[type eq "home" and value co "example.com"]`, false},
		{"multi/primary", `emails[primary eq true].value sw "bjensen"`, true},

		// ne is the negation of eq (documented in eval.go).
		{"ne/present", `title ne "Tour Guide"`, false},
		{"ne/other", `title ne "Boss"`, true},
		{"ne/absent", `locale ne "en-US"`, true},
		{"ne/multi-valued some equal", `emails.type ne "work"`, false},
		{"null/eq absent", `locale eq null`, true},
		{"null/eq present", `title eq null`, false},
		{"null/ne present", `title ne null`, true},
		{"null/eq empty string is absent", `nickName eq null`, true},
		{"null/gt", `title gt null`, false},

		// pr: a non-empty value (RFC 7644 §3.4.2.2).
		{"pr/empty string", `nickName pr`, false},
		{"pr/absent", `locale pr`, false},
		{"pr/complex", `name pr`, true},
		{"pr/sub-attribute of multi", `emails.primary pr`, true},
		{"pr/boolean false", `urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager pr`, true},
		{"pr/value path sub", `ims[type eq "aim"].value pr`, true},

		// Booleans: eq and ne only.
		{"boolean/eq", `active eq true`, true},
		{"boolean/eq false", `active eq false`, false},
		{"boolean/ne", `active ne false`, true},
		{"boolean/string value", `active eq "true"`, false},

		// Numbers compare numerically.
		{"integer/eq", `age eq 42`, true},
		{"integer/eq exponent", `age eq 4.2e1`, true},
		{"integer/gt", `age gt 9`, true},
		{"integer/le", `age le 41`, false},
		{"decimal/gt", `score gt 3.5`, true},
		{"decimal/eq integer", `score eq 3.750`, true},
		{"decimal/lt", `score lt 3`, false},
		{"integer/string value", `age eq "42"`, false},

		// dateTime compares instants, whatever the offset.
		{"dateTime/eq other offset", `hired eq "2015-03-01T07:00:00.5Z"`, true},
		{"dateTime/gt fraction", `hired gt "2015-03-01T07:00:00Z"`, true},
		{"dateTime/invalid value", `hired gt "yesterday"`, false},
		{"dateTime/sw as string", `meta.created sw "2010-01"`, true},

		// Unknown attributes match nothing; their negation everything.
		{"unknown", `foo eq "x"`, false},
		{"unknown pr", `foo pr`, false},
		{"unknown ne", `foo ne "x"`, false},
		{"unknown sub", `name.foo eq "x"`, false},
		{"unknown value path", `foo[type eq "x"]`, false},
		{"unknown in value path", `emails[foo eq "x"]`, false},
		{"not unknown", `not (foo eq "x")`, true},
		{"value path on simple", `userName[value eq "x"]`, false},
		{"complex without value", `name eq "Barbara"`, false},

		// Value paths on single-valued complex attributes.
		{"value path/single complex", `name[givenName eq "barbara" and familyName sw "o'"]`, true},
		{"value path/extension", `urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager[value pr]`, true},
		{"value path/absent", `addresses[type eq "work"]`, false},
		{"value path/not inside", `emails[not (type eq "work")]`, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, err := ParseFilter(tt.filter)
			if err != nil {
				t.Fatalf("ParseFilter(%q) error: %v", tt.filter, err)
			}
			if got := rt.Matches(e, user); got != tt.want {
				t.Errorf("Matches(%q) = %v, want %v", tt.filter, got, tt.want)
			}
		})
	}
}

func TestResourceType_Matches_Values(t *testing.T) {
	// Values the parser does not produce, and resources that break the
	// contract, never panic and match nothing.
	rt := testUserType(t)
	tests := []struct {
		name string
		e    Expr
		r    Resource
		want bool
	}{
		{"nil expression", nil, testUser(), false},
		{"int value", cmp(attr("age"), OpEq, 42), Resource{urnTest: map[string]any{"age": json.Number("42")}}, true},
		{"float resource value", cmp(attr("score"), OpGt, json.Number("1")), Resource{urnTest: map[string]any{"score": 1.5}}, true},
		{"wrong resource type", cmp(attr("userName"), OpEq, "x"), Resource{"userName": json.Number("1")}, false},
		{"extension not a map", cmp(attr("employeeNumber"), OpEq, "1"), Resource{URNEnterprise: "oops"}, false},
		{"multi-valued element not a map", cmp(sub("emails", "value"), OpEq, "a"), Resource{"emails": []any{"a"}}, false},
		{"nil resource", &PresentExpr{Path: attr("userName")}, nil, false},
		{"huge integer", cmp(attr("age"), OpGt, json.Number("99999999999999999999")), Resource{urnTest: map[string]any{"age": json.Number("1")}}, false},
		{"unknown operator", cmp(attr("userName"), CompareOp("xx"), "a"), Resource{"userName": "a"}, false},
		{"nested value path", &ValuePathExpr{Path: attr("emails"), Filter: &ValuePathExpr{Path: attr("type"), Filter: &PresentExpr{Path: attr("value")}}},
			testUser(), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := rt.Matches(tt.e, tt.r); got != tt.want {
				t.Errorf("Matches(%v) = %v, want %v", tt.e, got, tt.want)
			}
		})
	}
}

func TestResourceType_Matches_Group(t *testing.T) {
	reg, err := NewRegistry()
	if err != nil {
		t.Fatal(err)
	}
	rt, _ := reg.ResourceType("Group")
	group := Resource{"id": "g1", "displayName": "Sales", "externalId": "e1"}
	for _, tt := range []struct {
		filter string
		want   bool
	}{
		{`displayName eq "Sales"`, true},    // Entra, Okta group lookup (docs/idp-quirks.md §1.1)
		{`displayName eq "sales"`, true},    // caseExact false
		{`displayName eq "Support"`, false}, //
		{`externalId eq "e1"`, true},
	} {
		t.Run(tt.filter, func(t *testing.T) {
			e, err := ParseFilter(tt.filter)
			if err != nil {
				t.Fatal(err)
			}
			if got := rt.Matches(e, group); got != tt.want {
				t.Errorf("Matches(%q) = %v, want %v", tt.filter, got, tt.want)
			}
		})
	}
}

func TestFold(t *testing.T) {
	tests := []struct {
		s, sub                 string
		prefix, suffix, contai bool
	}{
		{"Hello", "he", true, false, true},
		{"Hello", "LO", false, true, true},
		{"Hello", "ELL", false, false, true},
		{"Hello", "", true, true, true},
		{"", "a", false, false, false},
		{"Straße", "STRASSE", false, false, false},    // simple folding only, as strings.EqualFold
		{"\u212aelvin \u212a", "k", true, true, true}, // KELVIN SIGN folds to k
		{"ÉCOLE", "éc", true, false, true},
		{"ab", "abc", false, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.s+"/"+tt.sub, func(t *testing.T) {
			if _, got := trimPrefixFold(tt.s, tt.sub); got != tt.prefix {
				t.Errorf("trimPrefixFold(%q, %q) = %v, want %v", tt.s, tt.sub, got, tt.prefix)
			}
			if got := hasSuffixFold(tt.s, tt.sub); got != tt.suffix {
				t.Errorf("hasSuffixFold(%q, %q) = %v, want %v", tt.s, tt.sub, got, tt.suffix)
			}
			if got := containsFold(tt.s, tt.sub); got != tt.contai {
				t.Errorf("containsFold(%q, %q) = %v, want %v", tt.s, tt.sub, got, tt.contai)
			}
			// Agree with the allocating reference on ASCII.
			if isASCII(tt.s + tt.sub) {
				if want := strings.Contains(strings.ToLower(tt.s), strings.ToLower(tt.sub)); containsFold(tt.s, tt.sub) != want {
					t.Errorf("containsFold(%q, %q) disagrees with strings.Contains of lower-cased", tt.s, tt.sub)
				}
			}
		})
	}
	for _, tt := range []struct {
		a, b string
		want int
	}{
		{"abc", "ABD", -1}, {"ABC", "abc", 0}, {"b", "A", 1}, {"ab", "A", 1}, {"", "a", -1},
	} {
		if got := compareFold(tt.a, tt.b); got != tt.want {
			t.Errorf("compareFold(%q, %q) = %d, want %d", tt.a, tt.b, got, tt.want)
		}
	}
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// TestResourceType_Matches_Allocs pins the list-scan path at zero
// allocations.
func TestResourceType_Matches_Allocs(t *testing.T) {
	rt := testUserType(t)
	user := testUser()
	for _, f := range []string{
		`userName eq "BJENSEN@example.com" and active eq true`,
		`emails[type eq "work"].value eq "bjensen@example.com"`,
		`emails co "JENSEN" or name.familyName sw "o'"`,
		`urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value eq "x"`,
		`meta.lastModified gt "2011-05-13T04:42:34Z"`,
		`age gt 9 and score le 4.5`,
	} {
		e, err := ParseFilter(f)
		if err != nil {
			t.Fatal(err)
		}
		if got := testing.AllocsPerRun(100, func() { rt.Matches(e, user) }); got != 0 {
			t.Errorf("Matches(%q) allocates %v times, want 0", f, got)
		}
	}
}

func BenchmarkMatches(b *testing.B) {
	rt := testUserType(b)
	user := testUser()
	e, err := ParseFilter(`userName eq "BJENSEN@example.com" and active eq true`)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if !rt.Matches(e, user) {
			b.Fatal("no match")
		}
	}
}

func BenchmarkMatches_ValuePath(b *testing.B) {
	rt := testUserType(b)
	user := testUser()
	e, err := ParseFilter(`emails[type eq "work"].value eq "bjensen@example.com"`)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if !rt.Matches(e, user) {
			b.Fatal("no match")
		}
	}
}

func BenchmarkParseFilter(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseFilter(`userName eq "alice@example.com" and active eq true`); err != nil {
			b.Fatal(err)
		}
	}
}

// FuzzMatches checks that CheckFilter and Matches never panic on any filter
// the parser accepts, and that a filter CheckFilter rejects is rejected as
// KindInvalidFilter.
func FuzzMatches(f *testing.F) {
	for _, tt := range parseFilterCases {
		f.Add(tt.in)
	}
	f.Add(`emails[type eq "work"].value eq "BJENSEN@example.com" and age gt 4.5e0`)
	f.Add(`meta.lastModified ge "2011-05-13T04:42:34.5+01:00" or tags sw "bl"`)
	rt := testUserType(f)
	user := testUser()
	f.Fuzz(func(t *testing.T, in string) {
		e, err := ParseFilter(in)
		if err != nil {
			return
		}
		if err := rt.CheckFilter(e); err != nil && KindOf(err) != KindInvalidFilter {
			t.Fatalf("CheckFilter(%q) = %#v, want nil or KindInvalidFilter", in, err)
		}
		if got, want := rt.Matches(&NotExpr{X: e}, user), !rt.Matches(e, user); got != want {
			t.Fatalf("Matches(not (%s)) = %v, want %v", in, got, want)
		}
	})
}
