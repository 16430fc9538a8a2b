package schemas

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
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

// refHasDuplicateKey is the reference DisallowDuplicateKeys must agree with
// on valid JSON: some object has two keys equal under strings.EqualFold.
func refHasDuplicateKey(t *testing.T, in []byte) bool {
	t.Helper()
	d := json.NewDecoder(bytes.NewReader(in))
	var walk func() bool
	walk = func() bool {
		tok, err := d.Token()
		if err != nil {
			t.Fatalf("reference walk of %q: %v", in, err)
		}
		dup := false
		switch tok {
		case json.Delim('{'):
			var keys []string
			for d.More() {
				k, err := d.Token()
				if err != nil {
					t.Fatalf("reference walk of %q: %v", in, err)
				}
				for _, p := range keys {
					dup = dup || strings.EqualFold(p, k.(string))
				}
				keys = append(keys, k.(string))
				dup = walk() || dup
			}
			_, _ = d.Token()
		case json.Delim('['):
			for d.More() {
				dup = walk() || dup
			}
			_, _ = d.Token()
		}
		return dup
	}
	return walk()
}

// checkDuplicateKeys: ParseRequestJSON and CheckRequestJSON refuse exactly
// the valid texts with a duplicate key, with a *DuplicateKeyError whose keys
// fold to each other, and otherwise parse as ParseJSONValue does.
func checkDuplicateKeys(t *testing.T, in []byte) {
	t.Helper()
	want, err := ParseJSONValue(in)
	got, gotErr := ParseRequestJSON(in, "body")
	checkErr := CheckRequestJSON(in, "body")
	if (gotErr == nil) != (checkErr == nil) {
		t.Fatalf("ParseRequestJSON(%q) error %v, CheckRequestJSON error %v", in, gotErr, checkErr)
	}
	if err != nil {
		if gotErr == nil {
			t.Fatalf("ParseRequestJSON(%q) accepted what ParseJSONValue refuses (%v)", in, err)
		}
		return
	}
	if !refHasDuplicateKey(t, in) {
		if gotErr != nil {
			t.Fatalf("ParseRequestJSON(%q) error %v, want none", in, gotErr)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("ParseRequestJSON(%q) = %v, ParseJSONValue gives %v", in, got, want)
		}
		return
	}
	var de *DuplicateKeyError
	if !errors.As(gotErr, &de) || !errors.As(checkErr, &de) {
		t.Fatalf("ParseRequestJSON(%q) error %v, CheckRequestJSON error %v, want *DuplicateKeyError", in, gotErr, checkErr)
	}
	if !strings.EqualFold(de.Key, de.First) {
		t.Fatalf("CheckRequestJSON(%q): %q and %q are not the same key", in, de.Key, de.First)
	}
	if KindOf(gotErr) != KindInvalidSyntax {
		t.Fatalf("ParseRequestJSON(%q) kind %v, want KindInvalidSyntax", in, KindOf(gotErr))
	}
}

// bigObject is an object of n distinct keys k00..k<n-1> followed by extra.
func bigObject(n int, extra string) string {
	var b strings.Builder
	b.WriteString("{")
	for i := range n {
		fmt.Fprintf(&b, `"k%02d":%d,`, i, i)
	}
	b.WriteString(extra + "}")
	return b.String()
}

var dupKeyCases = []string{
	`{}`, `{"a":1}`, `{"a":1,"b":2}`, `{"a":1,"a":2}`, `{"a":1,"A":2}`, `{"":1,"":2}`, `{"":1,"a":2}`,
	`{"ab":1,"aB":2}`, `{"a":{"b":1},"c":{"b":2}}`, `{"a":{"b":1,"b":2}}`, `[{"a":1},{"a":2}]`,
	`[{"a":1,"a":2}]`, `{"a":[{"x":1}],"b":[{"x":1,"X":2}]}`, `{"a":{"a":{"a":1}},"b":1}`,
	`{"\u0061":1,"a":2}`, `{"k":1,"\u212a":2}`, `{"s":1,"\u017f":2}`, `{"ß":1,"SS":2}`,
	`{"straße":1,"STRASSE":2}`, `{"é":1,"É":2}`, `{"\u00ff":1,"\u0178":2}`, "{\"\xff\":1,\"\xfe\":2}",
	`{"userName":"a","userName":"b"}`, `{"userName":"a","USERNAME":"b"}`,
	bigObject(16, `"x":1`), bigObject(16, `"k00":1`), bigObject(17, `"K16":1`), bigObject(40, `"K39":1`),
	bigObject(40, `"k\u212a":1`), bigObject(40, `"x":{"k00":1,"K00":2}`), bigObject(40, `"x":{"k00":1},"K01":2`),
	`[` + bigObject(20, `"x":1`) + `,` + bigObject(20, `"x":1`) + `]`,
	`{"a":1,"a":}`, `{"a":1,"a"`, `{"a":1,"b":[}`,
}

func TestJSONReader_DisallowDuplicateKeys(t *testing.T) {
	for _, in := range append(dupKeyCases, jsonValueCases...) {
		t.Run(in, func(t *testing.T) {
			checkDuplicateKeys(t, []byte(in))
		})
	}
}

func TestJSONReader_DuplicateKeyError(t *testing.T) {
	_, err := ParseRequestJSON([]byte(`{"x":[{"value":1}], "a":{"userName":"a", "USERNAME":"b"}}`), "the body")
	var de *DuplicateKeyError
	if !errors.As(err, &de) {
		t.Fatalf("ParseRequestJSON error %v, want *DuplicateKeyError", err)
	}
	if want := (DuplicateKeyError{Offset: 41, Key: "USERNAME", First: "userName"}); *de != want {
		t.Errorf("DuplicateKeyError = %+v, want %+v", *de, want)
	}
	const detail = `the body: key "USERNAME" given twice, first as "userName" (attribute names are case-insensitive)`
	if e, _ := err.(*Error); e == nil || e.Detail != detail {
		t.Errorf("ParseRequestJSON error %v, want detail %q", err, detail)
	}
}

// TestJSONReader_DuplicateKeysAllocs pins the cost of the check: one
// scratch slice per reader, nothing per key, for objects of usual size.
func TestJSONReader_DuplicateKeysAllocs(t *testing.T) {
	data := []byte(storedUserJSON)
	plain := testing.AllocsPerRun(100, func() {
		if _, err := ParseJSONValue(data); err != nil {
			t.Fatal(err)
		}
	})
	strict := testing.AllocsPerRun(100, func() {
		if _, err := ParseRequestJSON(data, "body"); err != nil {
			t.Fatal(err)
		}
	})
	if strict > plain+1 {
		t.Errorf("ParseRequestJSON: %v allocations, ParseJSONValue %v: want at most one more", strict, plain)
	}
	if n := testing.AllocsPerRun(100, func() {
		if err := CheckRequestJSON(data, "body"); err != nil {
			t.Fatal(err)
		}
	}); n > 3 {
		t.Errorf("CheckRequestJSON: %v allocations, want at most 3 (reader, its copy of the input, key scratch)", n)
	}
}

func FuzzDuplicateKeys(f *testing.F) {
	for _, in := range dupKeyCases {
		f.Add([]byte(in))
	}
	f.Add([]byte(oktaUser))
	f.Fuzz(func(t *testing.T, in []byte) {
		checkDuplicateKeys(t, in)
	})
}
