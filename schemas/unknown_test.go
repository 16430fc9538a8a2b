package schemas

import (
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
)

// TestUnknowns pins the one rule for unknown input across POST/PUT bodies
// (DecodeWith) and PATCH with and without a path (ApplyPatchWith): by
// default it is ignored and each name reported once; a strict Unknowns
// fails the write with the kind each case names (KindOther: accepted in
// strict mode too, since nothing unknown was sent).
func TestUnknowns(t *testing.T) {
	const (
		core    = `"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"a"`
		custom  = "urn:ietf:params:scim:schemas:extension:CustomExt:2.0:User"
		attr    = IgnoredAttribute
		schema  = IgnoredSchema
		noError = KindOther
	)
	tests := []struct {
		name    string
		group   bool
		body    string // a POST/PUT body, or
		ops     string // the Operations of a PATCH
		ignored []Ignored
		strict  Kind
		keep    string // the result contains this
		drop    string // and not this
	}{
		{name: "Body_Attribute", body: `{` + core + `,"nickname2":"x","displayName":"D"}`,
			ignored: []Ignored{{attr, "nickname2"}}, strict: KindInvalidValue, keep: `"displayName":"D"`, drop: "nickname2"},
		{name: "Body_SubAttribute", body: `{` + core + `,"name":{"givenName":"A","surname":"B"}}`,
			ignored: []Ignored{{attr, "name.surname"}}, strict: KindInvalidValue, keep: `"givenName":"A"`, drop: "surname"},
		{name: "Body_MultiValuedSubAttribute", body: `{` + core + `,"emails":[{"value":"a@b.c"},{"value":"d@e.f","label":"x"}]}`,
			ignored: []Ignored{{attr, "emails.label"}}, strict: KindInvalidValue, keep: `"d@e.f"`, drop: "label"},
		{name: "Body_DottedSubAttribute", body: `{` + core + `,"name.surname":"B"}`,
			ignored: []Ignored{{attr, "name.surname"}}, strict: KindInvalidValue, drop: "surname"},
		{name: "Body_ExtensionAttribute", body: `{` + core + `,"` + ptEnt + `":{"costCode":"7","department":"R"}}`,
			ignored: []Ignored{{attr, ptEnt + ":costCode"}}, strict: KindInvalidValue, keep: `"department":"R"`, drop: "costCode"},
		{name: "Body_UnknownSchemaListed", body: `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User","` + custom + `"],"userName":"a","` + custom + `":{"costCode":"7"}}`,
			ignored: []Ignored{{schema, custom}}, strict: KindInvalidValue, drop: "costCode"},
		{name: "Body_UnknownSchemaQualified", body: `{` + core + `,"` + custom + `:costCode":"7"}`,
			ignored: []Ignored{{schema, custom + ":costCode"}}, strict: KindInvalidValue, drop: "costCode"},
		{name: "Body_UnknownSchemaListedEmpty", body: `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User","` + custom + `"],"userName":"a"}`,
			strict: noError},
		{name: "Body_SchemasInsideExtension", body: `{` + core + `,"` + ptEnt + `":{"schemas":["` + ptEnt + `"],"department":"R"}}`,
			strict: noError, keep: `"department":"R"`},
		{name: "Body_ReadOnlyIsNotUnknown", body: `{` + core + `,"id":"x","meta":{"resourceType":"User"},"groups":[{"value":"g"}],"` + ptEnt + `":{"manager":{"value":"m","$ref":"../Users/m","displayName":"M"}}}`,
			strict: noError, keep: `"manager":{"value":"m"}`},
		{name: "Body_MemberSubAttribute", group: true, body: `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"G","members":[{"value":"u1","$ref":"x","nickname":"n"}]}`,
			ignored: []Ignored{{attr, "members.nickname"}}, strict: KindInvalidValue, keep: `"value":"u1"`, drop: "nickname"},

		{name: "Patch_Path", ops: `[{"op":"replace","path":"nickname2","value":"x"},{"op":"replace","path":"displayName","value":"D"}]`,
			ignored: []Ignored{{attr, "nickname2"}}, strict: KindInvalidPath, keep: `"displayName":"D"`, drop: "nickname2"},
		{name: "Patch_PathSubAttribute", ops: `[{"op":"add","path":"name.surname","value":"x"}]`,
			ignored: []Ignored{{attr, "name.surname"}}, strict: KindInvalidPath, drop: "surname"},
		{name: "Patch_PathFilteredSubAttribute", ops: `[{"op":"replace","path":"emails[type eq \"work\"].label","value":"x"}]`,
			ignored: []Ignored{{attr, "emails.label"}}, strict: KindInvalidPath, drop: "label"},
		{name: "Patch_PathUnknownSchema", ops: `[{"op":"add","path":"` + custom + `:costCode","value":"x"}]`,
			ignored: []Ignored{{schema, custom + ":costCode"}}, strict: KindInvalidPath, drop: "costCode"},
		{name: "Patch_PathWholeUnknownSchema", ops: `[{"op":"add","path":"` + custom + `","value":{"costCode":"x"}}]`,
			ignored: []Ignored{{schema, custom}}, strict: KindInvalidPath, drop: "costCode"},
		{name: "Patch_RemoveUnknownPath", ops: `[{"op":"remove","path":"nickname2"}]`,
			ignored: []Ignored{{attr, "nickname2"}}, strict: KindInvalidPath},
		{name: "Patch_PathValueSubAttribute", ops: `[{"op":"add","path":"emails","value":[{"value":"x@y.z","label":"l"}]}]`,
			ignored: []Ignored{{attr, "emails.label"}}, strict: KindInvalidValue, keep: `"x@y.z"`, drop: "label"},
		// Entra with aadOptscim062020 and a custom attribute mapped.
		{name: "Patch_Pathless", ops: `[{"op":"Replace","value":{"active":false,"` + custom + `:costCode":"X","nickname2":"y"}}]`,
			ignored: []Ignored{{attr, "nickname2"}, {schema, custom + ":costCode"}}, strict: KindInvalidValue, keep: `"active":false`, drop: "costCode"},
		{name: "Patch_PathlessNestedUnknownSchema", ops: `[{"op":"add","value":{"` + custom + `":{"costCode":"X"},"displayName":"D"}}]`,
			ignored: []Ignored{{schema, custom}}, strict: KindInvalidValue, keep: `"displayName":"D"`, drop: "costCode"},
		{name: "Patch_PathlessExtensionAttribute", ops: `[{"op":"add","value":{"` + ptEnt + `":{"costCode":"X","department":"R"}}}]`,
			ignored: []Ignored{{attr, ptEnt + ":costCode"}}, strict: KindInvalidValue, keep: `"department":"R"`, drop: "costCode"},
		{name: "Patch_PathlessMalformedKey", ops: `[{"op":"replace","value":{"emails[":"x"}}]`,
			ignored: []Ignored{{attr, "emails["}}, strict: KindInvalidValue},
		{name: "Patch_PathlessValueSubAttribute", ops: `[{"op":"replace","value":{"name":{"givenName":"B","surname":"S"}}}]`,
			ignored: []Ignored{{attr, "name.surname"}}, strict: KindInvalidValue, keep: `"givenName":"B"`, drop: "surname"},
		{name: "Patch_ReportedOnce", ops: `[{"op":"replace","value":{"nickname2":"x"}},{"op":"add","path":"nickname2","value":"y"}]`,
			ignored: []Ignored{{attr, "nickname2"}}, strict: KindInvalidValue},
		// The scim2 tester's PATCH of the whole enterprise extension, which
		// carries the schema list as POST and PUT bodies may.
		{name: "Patch_ExtensionPathWithSchemas", ops: `[{"op":"replace","path":"` + ptEnt + `","value":{"schemas":["` + ptEnt + `"],"employeeNumber":"9"}},{"op":"add","path":"` + ptEnt + `","value":{"schemas":["` + ptEnt + `"],"meta":{},"costCenter":"C"}}]`,
			strict: noError, keep: `"employeeNumber":"9"`},
		{name: "Patch_MemberSubAttribute", group: true, ops: `[{"op":"add","path":"members","value":[{"value":"u2","nickname":"n"}]}]`,
			ignored: []Ignored{{attr, "members.nickname"}}, strict: KindInvalidValue},
		{name: "Patch_MemberKnownSpellings", group: true, ops: `[{"op":"add","path":"members","value":[{"value":"u2","displayName":"B","$ref":"x","type":"User"}]}]`,
			strict: noError},
	}
	user, group := ptType(t, "User"), ptType(t, "Group")
	run := func(t *testing.T, rt *ResourceType, start, body, ops string, u *Unknowns) (any, error) {
		t.Helper()
		if body != "" {
			return rt.DecodeWith([]byte(body), u)
		}
		p, err := ParsePatch([]byte(`{"Operations":`+ops+`}`), 0)
		if err != nil {
			t.Fatalf("ParsePatch: %v", err)
		}
		r, c, err := rt.ApplyPatchWith(Resource(ptDecode(t, start).(map[string]any)), ptNewMembers("u1"), p, u)
		return map[string]any{"resource": r, "added": c.MembersAdded}, err
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rt, start := user, ptUser
			if tt.group {
				rt, start = group, ptGroup
			}
			u := &Unknowns{}
			got, err := run(t, rt, start, tt.body, tt.ops, u)
			if err != nil {
				t.Fatalf("lenient: error %v, want none", err)
			}
			if !slices.Equal(u.Ignored, tt.ignored) {
				t.Errorf("lenient: ignored %v, want %v", u.Ignored, tt.ignored)
			}
			b, _ := json.Marshal(got)
			if tt.keep != "" && !strings.Contains(string(b), tt.keep) {
				t.Errorf("lenient: result %s lacks %s", b, tt.keep)
			}
			if tt.drop != "" && strings.Contains(string(b), tt.drop) {
				t.Errorf("lenient: result %s keeps %s", b, tt.drop)
			}

			// nil ignores as the zero Unknowns does, without a report.
			if _, err := run(t, rt, start, tt.body, tt.ops, nil); err != nil {
				t.Errorf("nil Unknowns: error %v, want none", err)
			}

			strict := &Unknowns{Strict: true}
			_, err = run(t, rt, start, tt.body, tt.ops, strict)
			if tt.strict == noError {
				if err != nil {
					t.Errorf("strict: error %v, want none", err)
				}
				return
			}
			var e *Error
			if !errors.As(err, &e) || e.Kind != tt.strict {
				t.Fatalf("strict: error %v, want kind %v", err, tt.strict)
			}
			if e.Detail == "" {
				t.Errorf("strict: error without a detail")
			}
			if len(strict.Ignored) != 0 {
				t.Errorf("strict: ignored %v, want none", strict.Ignored)
			}
		})
	}
}

func TestPlainPath(t *testing.T) {
	for in, want := range map[string]string{
		"emails":                          "emails",
		"emails[1].label":                 "emails.label",
		`emails[type eq "wo]rk"].label`:   "emails.label",
		`emails[value eq "a\"]b"][0].x`:   "emails.x",
		"urn:x:2.0:User:manager[0].label": "urn:x:2.0:User:manager.label",
	} {
		if got := plainPath(in); got != want {
			t.Errorf("plainPath(%q) = %q, want %q", in, got, want)
		}
	}
}
