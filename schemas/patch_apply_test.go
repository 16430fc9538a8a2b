package schemas

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/scim-bridge/scim-bridge/internal/testutil"
)

// ptMembers is a Members over a slice that counts List calls, so tests can
// pin that one-member changes never list the group.
type ptMembers struct {
	ms    []Member
	lists int
}

func (f *ptMembers) Contains(v string) bool {
	return slices.ContainsFunc(f.ms, func(m Member) bool { return m.Value == v })
}

func (f *ptMembers) Err() error { return nil }

func (f *ptMembers) Lookup(v string) (Member, bool) {
	i := slices.IndexFunc(f.ms, func(m Member) bool { return m.Value == v })
	if i < 0 {
		return Member{}, false
	}
	return f.ms[i], true
}

func (f *ptMembers) List() []Member {
	f.lists++
	return slices.Clone(f.ms)
}

func ptNewMembers(values ...string) *ptMembers {
	f := &ptMembers{}
	for _, v := range values {
		f.ms = append(f.ms, Member{Value: v, Type: "User"})
	}
	return f
}

func ptRegistry(t testing.TB) *Registry {
	t.Helper()
	reg, err := NewRegistry()
	if err != nil {
		t.Fatalf("NewRegistry() error: %v", err)
	}
	return reg
}

func ptType(t testing.TB, name string) *ResourceType {
	t.Helper()
	rt, ok := ptRegistry(t).ResourceType(name)
	if !ok {
		t.Fatalf("ResourceType(%q) not found", name)
	}
	return rt
}

// ptDecode decodes s as canonical values do (UseNumber).
func ptDecode(t testing.TB, s string) any {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("decode %s: %v", s, err)
	}
	return v
}

func ptJSON(t testing.TB, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("marshal: %v", err)
	}
	return string(b)
}

const ptUser = `{
  "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
  "id": "u1",
  "externalId": "alice",
  "userName": "alice@contoso.com",
  "active": true,
  "displayName": "Alice Ng",
  "name": {"formatted": "Alice Ng", "familyName": "Ng", "givenName": "Alice"},
  "emails": [
    {"primary": true, "type": "work", "value": "alice@contoso.com"},
    {"type": "home", "value": "alice@home.example"}
  ],
  "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"employeeNumber": "700", "manager": {"value": "m1"}}
}`

const ptGroup = `{
  "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
  "id": "g1",
  "externalId": "sales",
  "displayName": "Sales"
}`

const ptEnt = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"

func TestResourceType_ApplyPatch(t *testing.T) {
	tests := []struct {
		name    string
		group   bool
		members []string
		ops     string            // the Operations array
		want    map[string]string // attribute -> JSON of its new value, "" for absent
		change  []string
		added   []string
		removed []string
		lists   int // Members.List calls
	}{
		{
			name:   "RFC7644_3.5.2.1_AddSingleValuedReplaces",
			ops:    `[{"op":"add","path":"displayName","value":"Al"}]`,
			want:   map[string]string{"displayName": `"Al"`},
			change: []string{"displayName"},
		},
		{
			name:   "RFC7644_3.5.2.1_AddMultiValuedAppends",
			ops:    `[{"op":"add","path":"emails","value":[{"type":"other","value":"a@b.c"}]}]`,
			want:   map[string]string{"emails": `[{"primary":true,"type":"work","value":"alice@contoso.com"},{"type":"home","value":"alice@home.example"},{"type":"other","value":"a@b.c"}]`},
			change: []string{"emails"},
		},
		{
			name: "RFC7644_3.5.2.1_AddExistingValueIsNoop",
			ops:  `[{"op":"add","path":"emails","value":[{"type":"home","value":"alice@home.example"}]}]`,
			want: map[string]string{"emails": `[{"primary":true,"type":"work","value":"alice@contoso.com"},{"type":"home","value":"alice@home.example"}]`},
		},
		{
			name:   "RFC7644_3.5.2_AddPrimaryClearsOthers",
			ops:    `[{"op":"add","path":"emails","value":{"type":"other","value":"x@y.z","primary":true}}]`,
			want:   map[string]string{"emails": `[{"primary":false,"type":"work","value":"alice@contoso.com"},{"type":"home","value":"alice@home.example"},{"primary":true,"type":"other","value":"x@y.z"}]`},
			change: []string{"emails"},
		},
		{
			name:   "RFC7644_3.5.2.1_AddSubAttribute",
			ops:    `[{"op":"add","path":"name.middleName","value":"B"}]`,
			want:   map[string]string{"name": `{"familyName":"Ng","formatted":"Alice Ng","givenName":"Alice","middleName":"B"}`},
			change: []string{"name"},
		},
		{
			name:   "RFC7644_3.5.2.3_ReplaceComplexMergesSubAttributes",
			ops:    `[{"op":"replace","path":"name","value":{"familyName":"Ngo"}}]`,
			want:   map[string]string{"name": `{"familyName":"Ngo","formatted":"Alice Ng","givenName":"Alice"}`},
			change: []string{"name"},
		},
		{
			name:   "RFC7644_3.5.2.3_ReplaceMultiValuedReplacesAll",
			ops:    `[{"op":"replace","path":"emails","value":[{"type":"work","value":"n@c.com"}]}]`,
			want:   map[string]string{"emails": `[{"type":"work","value":"n@c.com"}]`},
			change: []string{"emails"},
		},
		{
			name:   "RFC7644_3.5.2.3_ReplaceAbsentSets_Q19",
			ops:    `[{"op":"replace","path":"title","value":"CEO"}]`,
			want:   map[string]string{"title": `"CEO"`},
			change: []string{"title"},
		},
		{
			name:   "RFC7644_3.5.2.3_ReplaceCaseInsensitiveNames",
			ops:    `[{"op":"replace","path":"NAME.FamilyName","value":"Ngo"},{"op":"replace","path":"DisplayName","value":"A"}]`,
			want:   map[string]string{"name": `{"familyName":"Ngo","formatted":"Alice Ng","givenName":"Alice"}`, "displayName": `"A"`},
			change: []string{"displayName", "name"},
		},
		{
			name:   "RFC7644_3.5.2.3_NullUnassigns",
			ops:    `[{"op":"replace","path":"displayName","value":null}]`,
			want:   map[string]string{"displayName": ""},
			change: []string{"displayName"},
		},
		{
			name:   "RFC7644_3.5.2.2_RemoveAttribute",
			ops:    `[{"op":"remove","path":"emails"}]`,
			want:   map[string]string{"emails": ""},
			change: []string{"emails"},
		},
		{
			name:   "RFC7644_3.5.2.2_RemoveLastSubAttributeUnassigns",
			ops:    `[{"op":"remove","path":"name.formatted"},{"op":"remove","path":"name.familyName"},{"op":"remove","path":"name.givenName"}]`,
			want:   map[string]string{"name": ""},
			change: []string{"name"},
		},
		{
			name: "RFC7644_3.5.2.2_RemoveAbsentIsNoop",
			ops:  `[{"op":"remove","path":"title"}]`,
			want: map[string]string{"title": ""},
		},
		{
			name:   "Q3_RemoveWithValueArrayRemovesThose",
			ops:    `[{"op":"remove","path":"emails","value":[{"value":"alice@home.example"}]}]`,
			want:   map[string]string{"emails": `[{"primary":true,"type":"work","value":"alice@contoso.com"}]`},
			change: []string{"emails"},
		},
		{
			name:   "Q2_StringBoolean",
			ops:    `[{"op":"Replace","path":"active","value":"False"}]`,
			want:   map[string]string{"active": `false`},
			change: []string{"active"},
		},
		{
			name:   "Q4_ManagerString",
			ops:    `[{"op":"Add","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager","value":"271"}]`,
			want:   map[string]string{ptEnt: `{"employeeNumber":"700","manager":{"value":"271"}}`},
			change: []string{ptEnt + ":manager"},
		},
		{
			name:   "Q4_ManagerUnqualifiedArray",
			ops:    `[{"op":"Add","path":"manager","value":[{"$ref":"../Users/m2","value":"m2"}]}]`,
			want:   map[string]string{ptEnt: `{"employeeNumber":"700","manager":{"value":"m2"}}`},
			change: []string{ptEnt + ":manager"},
		},
		{
			name:   "Q4_RemoveManager",
			ops:    `[{"op":"Remove","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager"}]`,
			want:   map[string]string{ptEnt: `{"employeeNumber":"700"}`},
			change: []string{ptEnt + ":manager"},
		},
		{
			name:   "RemoveLastExtensionAttributeDropsSchema",
			ops:    `[{"op":"remove","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"}]`,
			want:   map[string]string{ptEnt: "", "schemas": `["urn:ietf:params:scim:schemas:core:2.0:User"]`},
			change: []string{"schemas", ptEnt + ":employeeNumber", ptEnt + ":manager"},
		},
		{
			name:   "RFC7644_3.5.2.1_ExtensionPathWithObject",
			ops:    `[{"op":"add","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User","value":{"department":"RnD"}}]`,
			want:   map[string]string{ptEnt: `{"department":"RnD","employeeNumber":"700","manager":{"value":"m1"}}`},
			change: []string{ptEnt + ":department"},
		},
		{
			name: "Q5_PathlessDottedAndURNKeys",
			ops: `[{"op":"replace","value":{"displayName":"Alice N","name.givenName":"Al",
				"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber":"701"}}]`,
			want: map[string]string{
				"displayName": `"Alice N"`,
				"name":        `{"familyName":"Ng","formatted":"Alice Ng","givenName":"Al"}`,
				ptEnt:         `{"employeeNumber":"701","manager":{"value":"m1"}}`,
			},
			change: []string{"displayName", "name", ptEnt + ":employeeNumber"},
		},
		{
			name:   "Q5_PathlessNestedExtension",
			ops:    `[{"op":"add","value":{"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"department":"x"}}}]`,
			want:   map[string]string{ptEnt: `{"department":"x","employeeNumber":"700","manager":{"value":"m1"}}`},
			change: []string{ptEnt + ":department"},
		},
		{
			name:   "Q9_OktaDeactivate",
			ops:    `[{"op":"replace","value":{"active":false}}]`,
			want:   map[string]string{"active": `false`},
			change: []string{"active"},
		},
		{
			name:   "Q9_PathlessSameIDIgnored",
			ops:    `[{"op":"replace","value":{"id":"u1","displayName":"B","schemas":["x"],"meta":{"resourceType":"User"}}}]`,
			want:   map[string]string{"id": `"u1"`, "displayName": `"B"`},
			change: []string{"displayName"},
		},
		{
			name: "Q10_PasswordAcceptedNeverKept",
			ops:  `[{"op":"replace","path":"password","value":"s3cret"}]`,
			want: map[string]string{"password": ""},
		},
		{
			name:    "Group_Q11_AddMembersDefaultsType",
			group:   true,
			members: []string{"u1"},
			ops:     `[{"op":"Add","path":"members","value":[{"$ref":null,"value":"u1"},{"value":"u2","display":"bob"}]}]`,
			want:    map[string]string{"members": ""},
			added:   []string{"u2"},
		},
		{
			name:    "Group_RFC7644_3.5.2.2_RemoveMemberByFilter",
			group:   true,
			members: []string{"u1", "u2"},
			ops:     `[{"op":"remove","path":"members[value eq \"u2\"]"}]`,
			removed: []string{"u2"},
		},
		{
			name:    "Group_RemoveAbsentMemberIdempotent",
			group:   true,
			members: []string{"u1"},
			ops:     `[{"op":"remove","path":"members[value eq \"u9\"]"},{"op":"Remove","path":"members","value":[{"value":"u8"}]}]`,
		},
		{
			name:    "Group_Q3_RemoveWithValueArrayRemovesThoseOnly",
			group:   true,
			members: []string{"u1", "u2", "u3"},
			ops:     `[{"op":"Remove","path":"members","value":[{"$ref":null,"value":"u1"},{"$ref":null,"value":"u3"}]}]`,
			removed: []string{"u1", "u3"},
		},
		{
			name:    "Group_RFC7644_3.5.2.2_RemoveAllMembers",
			group:   true,
			members: []string{"u1", "u2"},
			ops:     `[{"op":"remove","path":"members"}]`,
			removed: []string{"u1", "u2"},
			lists:   1,
		},
		{
			name:    "Group_Q8_ReplaceMembersFullDelta",
			group:   true,
			members: []string{"u1", "u2"},
			ops:     `[{"op":"replace","path":"members","value":[{"value":"u2"},{"value":"u3","display":"c"}]}]`,
			added:   []string{"u3"},
			removed: []string{"u1"},
			lists:   1,
		},
		{
			name:    "Group_Q8_ReplaceMembersEmpty",
			group:   true,
			members: []string{"u1", "u2"},
			ops:     `[{"op":"replace","path":"members","value":[]}]`,
			removed: []string{"u1", "u2"},
			lists:   1,
		},
		{
			name:    "Group_Q9_OktaRenameKeepsMembers",
			group:   true,
			members: []string{"u1"},
			ops:     `[{"op":"replace","value":{"id":"g1","displayName":"Sales EMEA"}}]`,
			want:    map[string]string{"displayName": `"Sales EMEA"`},
			change:  []string{"displayName"},
		},
		{
			name:    "Group_Q8_PathlessMembersEmpty",
			group:   true,
			members: []string{"u1"},
			ops:     `[{"op":"replace","value":{"id":"g1","displayName":"Sales","members":[]}}]`,
			removed: []string{"u1"},
			lists:   1,
		},
		{
			name:  "Group_PostmanBareStringMember",
			group: true,
			ops:   `[{"op":"add","path":"members","value":"string id 1"}]`,
			added: []string{"string id 1"},
		},
		{
			name:    "Group_AddThenRemoveCancels",
			group:   true,
			members: []string{"u1"},
			ops:     `[{"op":"add","path":"members","value":[{"value":"u2"}]},{"op":"remove","path":"members[value eq \"u2\"]"},{"op":"remove","path":"members[value eq \"u1\"]"},{"op":"add","path":"members","value":[{"value":"u1"}]}]`,
		},
		{
			name:    "Group_RemoveByDisplayFilterLists",
			group:   true,
			members: []string{"u1", "u2"},
			ops:     `[{"op":"remove","path":"members[type eq \"User\" and value sw \"u1\"]"}]`,
			removed: []string{"u1"},
			lists:   1,
		},
		{
			name:   "Group_ExternalID",
			group:  true,
			ops:    `[{"op":"replace","path":"externalId","value":"s2"}]`,
			want:   map[string]string{"externalId": `"s2"`},
			change: []string{"externalId"},
		},
	}
	user, group := ptType(t, "User"), ptType(t, "Group")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rt, start := user, ptUser
			if tt.group {
				rt, start = group, ptGroup
			}
			r := Resource(ptDecode(t, start).(map[string]any))
			before := ptJSON(t, r)
			ms := ptNewMembers(tt.members...)
			p, err := ParsePatch([]byte(`{"Operations":`+tt.ops+`}`), 0)
			if err != nil {
				t.Fatalf("ParsePatch: %v", err)
			}
			got, c, err := rt.ApplyPatch(r, ms, p)
			if err != nil {
				t.Fatalf("ApplyPatch(%s) error: %v", tt.ops, err)
			}
			if after := ptJSON(t, r); after != before {
				t.Errorf("ApplyPatch modified its input:\n%s\nwant\n%s", after, before)
			}
			checkChange(t, fmt.Sprintf("ApplyPatch(%s)", tt.ops), got, c, tt.want, tt.change, tt.added, tt.removed)
			if ms.lists != tt.lists {
				t.Errorf("ApplyPatch(%s) called Members.List %d times, want %d", tt.ops, ms.lists, tt.lists)
			}
			if _, ok := got["members"]; ok {
				t.Errorf("ApplyPatch(%s) result has members", tt.ops)
			}
		})
	}
}

func TestResourceType_ApplyPatch_Errors(t *testing.T) {
	tests := []struct {
		name  string
		group bool
		ops   string
		want  Kind
	}{
		{"RFC7644_3.5.2.2_RemoveWithoutPath", false, `[{"op":"remove"}]`, KindNoTarget},
		{"UnknownFilterAttribute", false, `[{"op":"remove","path":"emails[kind eq \"work\"]"}]`, KindInvalidPath},
		{"FilterOnSingleValued", false, `[{"op":"replace","path":"name[givenName eq \"A\"]","value":{}}]`, KindInvalidPath},
		{"PathlessNotObject", false, `[{"op":"add","value":"x"}]`, KindInvalidValue},
		{"BadType", false, `[{"op":"replace","path":"active","value":"yes"}]`, KindInvalidValue},
		{"BadSubType", false, `[{"op":"add","path":"emails","value":[{"value":1}]}]`, KindInvalidValue},
		{"RFC7644_3.5.2_ReadOnlyChanged", false, `[{"op":"replace","value":{"id":"u2"}}]`, KindMutability},
		{"RFC7644_3.5.2_ReadOnlyPath", false, `[{"op":"replace","path":"id","value":"u2"}]`, KindMutability},
		{"RFC7644_3.5.2_RemoveReadOnly", false, `[{"op":"remove","path":"id"}]`, KindMutability},
		{"RFC7644_3.5.2_ReadOnlyGroups", false, `[{"op":"add","path":"groups","value":[{"value":"g1"}]}]`, KindMutability},
		{"RFC7643_7_RequiredRemoved", false, `[{"op":"remove","path":"userName"}]`, KindInvalidValue},
		{"RFC7643_2.4_TwoPrimaries", false, `[{"op":"replace","path":"emails.primary","value":true}]`, KindInvalidValue},
		{"RFC7644_3.5.2.3_ReplaceNoMatchNotEq", false, `[{"op":"replace","path":"emails[type ne \"work\" and type ne \"home\"].value","value":"x"}]`, KindNoTarget},
		{"RFC7644_3.5.2.3_ReplaceNoMatchOr", false, `[{"op":"replace","path":"emails[type eq \"a\" or type eq \"b\"].value","value":"x"}]`, KindNoTarget},
		{"Group_MemberSubAttribute", true, `[{"op":"replace","path":"members.display","value":"x"}]`, KindMutability},
		{"Group_MemberFilterAdd", true, `[{"op":"add","path":"members[value eq \"u1\"]","value":{"display":"x"}}]`, KindInvalidPath},
		{"Group_MemberWithoutValue", true, `[{"op":"add","path":"members","value":[{"display":"x"}]}]`, KindInvalidValue},
		{"Group_MemberBadType", true, `[{"op":"add","path":"members","value":[{"value":"u1","type":"Robot"}]}]`, KindInvalidValue},
		{"Group_RequiredDisplayName", true, `[{"op":"remove","path":"displayName"}]`, KindInvalidValue},
	}
	user, group := ptType(t, "User"), ptType(t, "Group")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rt, start := user, ptUser
			if tt.group {
				rt, start = group, ptGroup
			}
			r := Resource(ptDecode(t, start).(map[string]any))
			p, err := ParsePatch([]byte(`{"Operations":`+tt.ops+`}`), 0)
			if err != nil {
				t.Fatalf("ParsePatch: %v", err)
			}
			_, _, err = rt.ApplyPatch(r, ptNewMembers("u1"), p)
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("ApplyPatch(%s) error = %v, want *Error", tt.ops, err)
			}
			if e.Kind != tt.want {
				t.Errorf("ApplyPatch(%s) kind = %v (%v), want %v", tt.ops, e.Kind, err, tt.want)
			}
		})
	}
}

func ptValues(ms []Member) []string {
	var out []string
	for _, m := range ms {
		out = append(out, m.Value)
	}
	return out
}

// sortedJSON re-indents JSON for goldens and diffs.
func ptIndent(t testing.TB, v any) []byte {
	t.Helper()
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		t.Fatalf("encode: %v", err)
	}
	return buf.Bytes()
}

// TestResourceType_ApplyPatch_Golden applies each testdata/patch/*.json body
// (RFC 7644 §3.5.2 examples on the fixture user or group) and compares the
// result, or the error, with the .golden file beside it. Refresh with
// go test ./schemas -run ApplyPatch_Golden -update, and review the diff.
func TestResourceType_ApplyPatch_Golden(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "patch", "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no testdata/patch files (%v)", err)
	}
	reg := ptRegistry(t)
	for _, file := range files {
		t.Run(strings.TrimSuffix(filepath.Base(file), ".json"), func(t *testing.T) {
			b, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			var in struct {
				ResourceType string          `json:"resourceType"`
				Members      []string        `json:"members"`
				Body         json.RawMessage `json:"body"`
			}
			if err := json.Unmarshal(b, &in); err != nil {
				t.Fatalf("%s: %v", file, err)
			}
			rt, _ := reg.ResourceType(in.ResourceType)
			start := ptUser
			if in.ResourceType == "Group" {
				start = ptGroup
			}
			r := Resource(ptDecode(t, start).(map[string]any))
			type errOut struct {
				ScimType string `json:"scimType"`
				Detail   string `json:"detail"`
			}
			var out struct {
				Resource       Resource `json:"resource,omitempty"`
				Attributes     []string `json:"changedAttributes,omitempty"`
				MembersAdded   []Member `json:"membersAdded,omitempty"`
				MembersRemoved []Member `json:"membersRemoved,omitempty"`
				Error          *errOut  `json:"error,omitempty"`
			}
			p, err := ParsePatch(in.Body, DefaultMaxOperations)
			var got Resource
			var c Change
			if err == nil {
				got, c, err = rt.ApplyPatch(r, ptNewMembers(in.Members...), p)
			}
			var e *Error
			switch {
			case errors.As(err, &e):
				out.Error = &errOut{ScimType: e.ScimType(), Detail: e.Error()}
			case err != nil:
				t.Fatalf("%s: error is not *Error: %v", file, err)
			default:
				out.Resource, out.Attributes, out.MembersAdded, out.MembersRemoved = got, c.Attributes, c.MembersAdded, c.MembersRemoved
			}
			testutil.Golden(t, strings.TrimSuffix(file, ".json")+".golden", ptIndent(t, out))
		})
	}
}

// BenchmarkApplyPatch applies a five-operation Entra-style PATCH (filtered
// value path, sub-attribute, create through a filter, path-less with a URN
// key, string boolean) to a typical user.
func BenchmarkApplyPatch(b *testing.B) {
	rt := ptType(b, "User")
	r := Resource(ptDecode(b, ptUser).(map[string]any))
	body, err := os.ReadFile(filepath.Join("testdata", "patch", "rfc-3.5.2-five-ops.json"))
	if err != nil {
		b.Fatal(err)
	}
	var in struct {
		Body json.RawMessage `json:"body"`
	}
	if err := json.Unmarshal(body, &in); err != nil {
		b.Fatal(err)
	}
	p, err := ParsePatch(in.Body, DefaultMaxOperations)
	if err != nil {
		b.Fatal(err)
	}
	if _, _, err := rt.ApplyPatch(r, nil, p); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := rt.ApplyPatch(r, nil, p); err != nil {
			b.Fatal(err)
		}
	}
}

// checkChange compares what ApplyPatch or Replace (named by call) returned
// with the expected attributes (as JSON), changed attributes and member
// deltas.
func checkChange(t *testing.T, call string, got Resource, c Change, want map[string]string, change, added, removed []string) {
	t.Helper()
	for k, w := range want {
		g := ""
		if v, ok := got[k]; ok {
			g = ptJSON(t, v)
		}
		if g != w {
			t.Errorf("%s[%q] = %s, want %s", call, k, g, w)
		}
	}
	if !slices.Equal(c.Attributes, change) {
		t.Errorf("%s change = %q, want %q", call, c.Attributes, change)
	}
	if g := ptValues(c.MembersAdded); !slices.Equal(g, added) {
		t.Errorf("%s added = %q, want %q", call, g, added)
	}
	if g := ptValues(c.MembersRemoved); !slices.Equal(g, removed) {
		t.Errorf("%s removed = %q, want %q", call, g, removed)
	}
}
