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
