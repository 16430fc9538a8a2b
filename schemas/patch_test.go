package schemas

import (
	"encoding/json"
	"errors"
	"testing"
)

func TestParsePatch(t *testing.T) {
	tests := []struct {
		name   string
		body   string
		maxOps int
		want   []PatchOp // Path compared by String()
	}{
		{
			name: "RFC7644_3.5.2_Add",
			body: `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"add","path":"members","value":[{"value":"2819c223"}]}]}`,
			want: []PatchOp{{Op: "add", Path: ptPath("members"), Value: []any{map[string]any{"value": "2819c223"}}}},
		},
		{
			name: "Q1_CapitalisedOp",
			body: `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"Replace","path":"active","value":"False"}]}`,
			want: []PatchOp{{Op: "replace", Path: ptPath("active"), Value: "False"}},
		},
		{
			name: "KeysCaseInsensitive",
			body: `{"SCHEMAS":["urn:ietf:params:scim:api:messages:2.0:patchop"],"operations":[{"OP":"REMOVE","Path":"members[value eq \"a\"]"}]}`,
			want: []PatchOp{{Op: "remove", Path: ptPath(`members[value eq "a"]`)}},
		},
		{
			name: "SchemasAbsentAccepted",
			body: `{"Operations":[{"op":"replace","value":{"active":false}}]}`,
			want: []PatchOp{{Op: "replace", Value: map[string]any{"active": false}}},
		},
		{
			name: "UnknownMembersIgnored_PostmanName",
			body: `{"id":"g1","schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"name":"addMember","op":"add","path":"members","value":"string id 1"}]}`,
			want: []PatchOp{{Op: "add", Path: ptPath("members"), Value: "string id 1"}},
		},
		{
			name: "EmptyPathIsNoPath",
			body: `{"Operations":[{"op":"add","path":"","value":{"title":"x"}}]}`,
			want: []PatchOp{{Op: "add", Value: map[string]any{"title": "x"}}},
		},
		{
			name: "NumbersKeptAsJSONNumber",
			body: `{"Operations":[{"op":"add","path":"x","value":1.50}]}`,
			want: []PatchOp{{Op: "add", Path: ptPath("x"), Value: json.Number("1.50")}},
		},
		{
			name: "NullValueKept",
			body: `{"Operations":[{"op":"replace","path":"title","value":null}]}`,
			want: []PatchOp{{Op: "replace", Path: ptPath("title")}},
		},
		{
			name:   "AtTheLimit",
			body:   `{"Operations":[{"op":"remove","path":"a"},{"op":"remove","path":"b"}]}`,
			maxOps: 2,
			want:   []PatchOp{{Op: "remove", Path: ptPath("a")}, {Op: "remove", Path: ptPath("b")}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParsePatch([]byte(tt.body), tt.maxOps)
			if err != nil {
				t.Fatalf("ParsePatch(%s) error: %v", tt.body, err)
			}
			if g, w := ptOps(got.Ops), ptOps(tt.want); g != w {
				t.Errorf("ParsePatch(%s) =\n%s\nwant\n%s", tt.body, g, w)
			}
		})
	}
}

func TestParsePatch_Errors(t *testing.T) {
	tests := []struct {
		name   string
		body   string
		maxOps int
		want   Kind
	}{
		{"NotJSON", `{"Operations":`, 0, KindInvalidSyntax},
		{"NotAnObject", `[]`, 0, KindInvalidSyntax},
		{"TrailingData", `{"Operations":[{"op":"remove","path":"a"}]} {}`, 0, KindInvalidSyntax},
		{"WrongSchema_RFC7644_3.5.2", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"Operations":[{"op":"remove","path":"a"}]}`, 0, KindInvalidSyntax},
		{"SchemasNotStrings", `{"schemas":"x","Operations":[{"op":"remove","path":"a"}]}`, 0, KindInvalidSyntax},
		{"NoOperations", `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"]}`, 0, KindInvalidSyntax},
		{"OperationsNotArray", `{"Operations":{}}`, 0, KindInvalidSyntax},
		{"EmptyOperations_Q17", `{"Operations":[]}`, 0, KindInvalidValue},
		{"TooMany", `{"Operations":[{"op":"remove","path":"a"},{"op":"remove","path":"b"}]}`, 1, KindTooMany},
		{"OpNotObject", `{"Operations":["add"]}`, 0, KindInvalidSyntax},
		{"OpMissing", `{"Operations":[{"path":"a"}]}`, 0, KindInvalidSyntax},
		{"OpNotString", `{"Operations":[{"op":1,"path":"a"}]}`, 0, KindInvalidSyntax},
		{"OpUnknown", `{"Operations":[{"op":"move","path":"a"}]}`, 0, KindInvalidSyntax},
		{"PathNotString", `{"Operations":[{"op":"remove","path":1}]}`, 0, KindInvalidSyntax},
		{"PathMalformed", `{"Operations":[{"op":"remove","path":"emails[type eq]"}]}`, 0, KindInvalidPath},
		{"AddWithoutValue_RFC7644_3.5.2.1", `{"Operations":[{"op":"add","path":"a"}]}`, 0, KindInvalidValue},
		{"ReplaceWithoutValue_RFC7644_3.5.2.3", `{"Operations":[{"op":"replace","path":"a"}]}`, 0, KindInvalidValue},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParsePatch([]byte(tt.body), tt.maxOps)
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("ParsePatch(%s) error = %v, want *Error", tt.body, err)
			}
			if e.Kind != tt.want {
				t.Errorf("ParsePatch(%s) kind = %v (%v), want %v", tt.body, e.Kind, err, tt.want)
			}
		})
	}
}

func ptPath(s string) *Path {
	p, err := ParsePath(s)
	if err != nil {
		panic(err)
	}
	return &p
}

// ptOps prints operations for comparison.
func ptOps(ops []PatchOp) string {
	type op struct {
		Op    string
		Path  string `json:",omitempty"`
		Value any    `json:",omitempty"`
	}
	var out []op
	for _, o := range ops {
		x := op{Op: o.Op, Value: o.Value}
		if o.Path != nil {
			x.Path = o.Path.String()
		}
		out = append(out, x)
	}
	b, err := json.Marshal(out)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// FuzzPatch parses arbitrary PatchOp bodies and applies them to a fixed user
// and a fixed group: it must never panic, errors must be *Error, and a
// successful result must not share state with its input.
func FuzzPatch(f *testing.F) {
	for _, seed := range []string{
		`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"Replace","path":"emails[type eq \"work\"].value","value":"a@b.c"}]}`,
		`{"Operations":[{"op":"replace","value":{"displayName":"x","name.givenName":"y","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber":"1"}}]}`,
		`{"Operations":[{"op":"Add","path":"addresses[type eq \"work\"].formatted","value":"1 Main"}]}`,
		`{"Operations":[{"op":"Remove","path":"members","value":[{"$ref":null,"value":"u1"}]}]}`,
		`{"Operations":[{"op":"replace","path":"members","value":[]}]}`,
		`{"Operations":[{"op":"add","path":"members","value":"string id 1"}]}`,
		`{"Operations":[{"op":"remove","path":"members[value eq \"u1\"]"}]}`,
		`{"Operations":[{"op":"Add","path":"manager","value":[{"value":"m"}]}]}`,
		`{"Operations":[{"op":"replace","value":{"id":"g1","displayName":"G","members":[{"value":"u2"}]}}]}`,
		`{"Operations":[{"op":"remove","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"}]}`,
		`{"Operations":[{"op":"replace","path":"emails.primary","value":"True"}]}`,
		`{"Operations":[]}`,
	} {
		f.Add([]byte(seed))
	}
	reg, err := NewRegistry()
	if err != nil {
		f.Fatal(err)
	}
	user, _ := reg.ResourceType("User")
	group, _ := reg.ResourceType("Group")
	f.Fuzz(func(t *testing.T, body []byte) {
		p, err := ParsePatch(body, 100)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("ParsePatch(%q) error %v is not *Error", body, err)
			}
			return
		}
		for _, tc := range []struct {
			rt  *ResourceType
			doc string
		}{{user, ptUser}, {group, ptGroup}} {
			r := Resource(ptDecode(t, tc.doc).(map[string]any))
			before := ptJSON(t, r)
			got, _, err := tc.rt.ApplyPatch(r, ptNewMembers("u1", "u2"), p)
			if err != nil {
				var e *Error
				if !errors.As(err, &e) {
					t.Fatalf("ApplyPatch(%q) error %v is not *Error", body, err)
				}
				continue
			}
			if after := ptJSON(t, r); after != before {
				t.Fatalf("ApplyPatch(%q) modified its input", body)
			}
			if err := tc.rt.Validate(got); err != nil {
				t.Fatalf("ApplyPatch(%q) = %s, which does not validate: %v", body, ptJSON(t, got), err)
			}
		}
	})
}
