package schemas

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/scim-bridge/scim-bridge/schemas/scimjson"
)

// A SCIM body that names a key twice is refused, never resolved by "the last
// wins": attribute names are case-insensitive (RFC 7643 §2.1), so keys that
// differ only in case name the same attribute and are a duplicate too.

const dupUserCore = `"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"]`

func TestDecode_DuplicateKeys(t *testing.T) {
	user := modelRT(t, "User")
	group := modelRT(t, "Group")
	const ent = `"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"`
	tests := []struct {
		name string
		rt   *ResourceType
		body string
		key  string // the key the detail must name
	}{
		{"TopLevel", user, `{` + dupUserCore + `,"userName":"a","userName":"b"}`, `"userName"`},
		{"TopLevelFold", user, `{` + dupUserCore + `,"userName":"a","USERNAME":"b"}`, `"USERNAME"`},
		{"Schemas", user, `{` + dupUserCore + `,"userName":"a",` + dupUserCore + `}`, `"schemas"`},
		{"Complex", user, `{` + dupUserCore + `,"userName":"a","name":{"givenName":"a","givenName":"b"}}`, `"givenName"`},
		{"ComplexTwice", user, `{` + dupUserCore + `,"userName":"a","name":{"givenName":"a"},"name":{"familyName":"b"}}`, `"name"`},
		{"MultiValuedElement", user, `{` + dupUserCore + `,"userName":"a","emails":[{"value":"x@example.com","value":"y@example.com"}]}`, `"value"`},
		{"MultiValuedElementFold", user, `{` + dupUserCore + `,"userName":"a","emails":[{"value":"x@example.com","primary":true,"Primary":false}]}`, `"Primary"`},
		{"Extension", user, `{` + dupUserCore + `,"userName":"a",` + ent + `:{"employeeNumber":"1","employeeNumber":"2"}}`, `"employeeNumber"`},
		{"ExtensionComplex", user, `{` + dupUserCore + `,"userName":"a",` + ent + `:{"manager":{"value":"m1","VALUE":"m2"}}}`, `"VALUE"`},
		{"ExtensionTwice", user, `{` + dupUserCore + `,"userName":"a",` + ent + `:{"department":"x"},` + ent + `:{"division":"y"}}`, ent},
		{"UnknownAttribute", user, `{` + dupUserCore + `,"userName":"a","nickname2":"x","nickname2":"y"}`, `"nickname2"`},
		{"GroupMembers", group, `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"g","members":[{"value":"u1","value":"u2"}]}`, `"value"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := tt.rt.Decode([]byte(tt.body))
			if err == nil {
				t.Fatalf("Decode(%s) = %v, want a duplicate-key error", tt.body, r)
			}
			var e *Error
			if !errors.As(err, &e) || e.Kind != KindInvalidSyntax {
				t.Fatalf("Decode(%s) error = %v, want *Error of KindInvalidSyntax", tt.body, err)
			}
			if !strings.Contains(e.Detail, tt.key) || !strings.Contains(e.Detail, "twice") {
				t.Errorf("Decode(%s) detail = %q, want it to name %s given twice", tt.body, e.Detail, tt.key)
			}
		})
	}
}

func TestParsePatch_DuplicateKeys(t *testing.T) {
	const s = `"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"]`
	tests := []struct {
		name string
		body string
		key  string
	}{
		{"Schemas", `{` + s + `,` + s + `,"Operations":[{"op":"remove","path":"title"}]}`, `"schemas"`},
		{"Operations", `{"Operations":[{"op":"remove","path":"title"}],"Operations":[{"op":"remove","path":"nickName"}]}`, `"Operations"`},
		{"OperationsFold", `{"Operations":[{"op":"remove","path":"title"}],"operations":[{"op":"remove","path":"nickName"}]}`, `"operations"`},
		{"Op", `{"Operations":[{"op":"add","op":"remove","path":"title"}]}`, `"op"`},
		{"Path", `{"Operations":[{"op":"remove","path":"title","path":"nickName"}]}`, `"path"`},
		{"PathFold", `{"Operations":[{"op":"remove","path":"title","PATH":"nickName"}]}`, `"PATH"`},
		{"Value", `{"Operations":[{"op":"replace","path":"title","value":"a","value":"b"}]}`, `"value"`},
		{"InsideValue", `{"Operations":[{"op":"replace","value":{"title":"a","title":"b"}}]}`, `"title"`},
		{"InsideValueFold", `{"Operations":[{"op":"replace","value":{"title":"a","Title":"b"}}]}`, `"Title"`},
		{"InsideValueElement", `{"Operations":[{"op":"add","path":"emails","value":[{"value":"x@example.com","value":"y@example.com"}]}]}`, `"value"`},
		{"UnknownMember", `{"Operations":[{"op":"remove","path":"title","name":"a","name":"b"}]}`, `"name"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := ParsePatch([]byte(tt.body), 0)
			if err == nil {
				t.Fatalf("ParsePatch(%s) = %+v, want a duplicate-key error", tt.body, p)
			}
			var e *Error
			if !errors.As(err, &e) || e.Kind != KindInvalidSyntax {
				t.Fatalf("ParsePatch(%s) error = %v, want *Error of KindInvalidSyntax", tt.body, err)
			}
			if !strings.Contains(e.Detail, tt.key) || !strings.Contains(e.Detail, "twice") {
				t.Errorf("ParsePatch(%s) detail = %q, want it to name %s given twice", tt.body, e.Detail, tt.key)
			}
		})
	}
}

// TestParseRequestJSON: the request wrappers turn the reader's errors into
// *Error of KindInvalidSyntax, naming a duplicate key for the client.
func TestParseRequestJSON(t *testing.T) {
	tests := []struct {
		name   string
		body   string
		detail string
		as     any // a pointer to the wrapped error's type
	}{
		{"Duplicate", `{"x":[{"value":1}], "a":{"userName":"a", "USERNAME":"b"}}`,
			`the body: key "USERNAME" given twice, first as "userName" (attribute names are case-insensitive)`, new(*scimjson.DuplicateKeyError)},
		{"DuplicateSameCase", `{"a":1,"a":2}`, `the body: key "a" given twice`, new(*scimjson.DuplicateKeyError)},
		{"Invalid", `{"a":1,}`, `the body is not valid JSON`, new(*scimjson.Error)},
		{"Trailing", `{} x`, `the body is not valid JSON`, new(*scimjson.Error)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, perr := ParseRequestJSON([]byte(tt.body), "the body", 0)
			_, cerr := CheckRequestJSON([]byte(tt.body), "the body", 0)
			for call, err := range map[string]error{"ParseRequestJSON": perr, "CheckRequestJSON": cerr} {
				var e *Error
				if !errors.As(err, &e) || e.Kind != KindInvalidSyntax || e.Detail != tt.detail {
					t.Errorf("%s(%s) error = %#v, want *Error of KindInvalidSyntax with detail %q", call, tt.body, err, tt.detail)
				}
				if !errors.As(err, tt.as) {
					t.Errorf("%s(%s) error = %v, want it to wrap %T", call, tt.body, err, tt.as)
				}
			}
		})
	}
	v, err := ParseRequestJSON([]byte(`{"a":[1]}`), "the body", 0)
	if err != nil || !reflect.DeepEqual(v, map[string]any{"a": []any{json.Number("1")}}) {
		t.Errorf(`ParseRequestJSON({"a":[1]}) = %v, %v`, v, err)
	}
	if n, err := CheckRequestJSON([]byte(`{"a":[1]}`), "the body", 0); err != nil || n != 4 {
		t.Errorf(`CheckRequestJSON({"a":[1]}) = %d, %v; want 4, nil`, n, err)
	}
}

// TestParseRequestJSON_MaxValues: a body of more values and keys than the
// limit is KindTooLarge, naming the limit, whether or not it is valid JSON
// past the limit; one at the limit is read.
func TestParseRequestJSON_MaxValues(t *testing.T) {
	const body = `{"a":[1,2],"b":{}}` // 7 values and keys
	for _, limit := range []int{0, 7} {
		if _, err := ParseRequestJSON([]byte(body), "the body", limit); err != nil {
			t.Errorf("ParseRequestJSON(%s, %d) = %v, want nil", body, limit, err)
		}
		if n, err := CheckRequestJSON([]byte(body), "the body", limit); err != nil || n != 7 {
			t.Errorf("CheckRequestJSON(%s, %d) = %d, %v; want 7, nil", body, limit, n, err)
		}
	}
	const want = "the body holds more than 6 JSON values (object keys included)"
	for _, in := range []string{body, `{"a":[1,2],"b":{}, x`} {
		_, perr := ParseRequestJSON([]byte(in), "the body", 6)
		_, cerr := CheckRequestJSON([]byte(in), "the body", 6)
		for call, err := range map[string]error{"ParseRequestJSON": perr, "CheckRequestJSON": cerr} {
			var e *Error
			if !errors.As(err, &e) || e.Kind != KindTooLarge || e.Detail != want {
				t.Errorf("%s(%s, 6) error = %#v, want *Error of KindTooLarge with detail %q", call, in, err, want)
			}
		}
	}
}

// TestParseRequestJSON_Allocs pins the cost of the duplicate-key check on
// the path every request body takes: one scratch slice per reader, nothing
// per key.
func TestParseRequestJSON_Allocs(t *testing.T) {
	data := []byte(oktaUser)
	plain := testing.AllocsPerRun(100, func() {
		if _, err := scimjson.ParseValue(data); err != nil {
			t.Fatal(err)
		}
	})
	strict := testing.AllocsPerRun(100, func() {
		if _, err := ParseRequestJSON(data, "body", 0); err != nil {
			t.Fatal(err)
		}
	})
	if strict > plain+1 {
		t.Errorf("ParseRequestJSON: %v allocations, scimjson.ParseValue %v: want at most one more", strict, plain)
	}
	if n := testing.AllocsPerRun(100, func() {
		if _, err := CheckRequestJSON(data, "body", 0); err != nil {
			t.Fatal(err)
		}
	}); n > 3 {
		t.Errorf("CheckRequestJSON: %v allocations, want at most 3 (reader, its copy of the input, key scratch)", n)
	}
}
