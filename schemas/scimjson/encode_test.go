package scimjson

import (
	"bytes"
	"encoding/json"
	"testing"
)

// namedMap is a type defined on map[string]any, as schemas.Resource is:
// Append hands it to encoding/json, which must give the same bytes.
type namedMap map[string]any

// checkAppend fails unless Append and encoding/json.Marshal agree on
// v: the same bytes, or both an error; and so for a Writer with
// NoHTMLEscape and a json.Encoder with SetEscapeHTML(false).
func checkAppend(t *testing.T, v any) {
	t.Helper()
	want, wantErr := json.Marshal(v)
	got, err := Append(nil, v)
	switch {
	case (err != nil) != (wantErr != nil):
		t.Fatalf("Append(%#v) error = %v, json.Marshal error = %v", v, err, wantErr)
	case wantErr == nil && !bytes.Equal(got, want):
		t.Fatalf("Append(%#v) =\n%s\njson.Marshal =\n%s", v, got, want)
	}

	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	wantErr = enc.Encode(v)
	want = bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
	w := Writer{NoHTMLEscape: true}
	got, err = w.Append([]byte("prefix"), v)
	switch {
	case (err != nil) != (wantErr != nil):
		t.Fatalf("NoHTMLEscape Append(%#v) error = %v, json.Encoder error = %v", v, err, wantErr)
	case wantErr == nil && !bytes.Equal(got, append([]byte("prefix"), want...)):
		t.Fatalf("NoHTMLEscape Append(%#v) =\n%s\njson.Encoder without HTML escaping =\nprefix%s", v, got, want)
	}
}

func TestAppend_MatchesMarshal(t *testing.T) {
	tests := map[string]any{
		"nil":            nil,
		"bools":          []any{true, false},
		"escapes":        "a\"b\\c\b\f\n\r\t\x00\x1f\x7f",
		"html":           "<a href=\"x\">&amp;</a>",
		"html key":       map[string]any{"<&>": "&", "a": []any{"<"}},
		"html other":     map[string]any{"x": struct{ S string }{"<b>&"}},
		"separators":     "a\u2028b\u2029c",
		"non-ASCII":      "Zoë 日本 🎉",
		"invalid UTF-8":  "a\xffb\xc3(c\xed\xa0\x80",
		"numbers":        []any{json.Number("42"), json.Number("-0.5e+10"), json.Number("")},
		"bad number":     json.Number("01"),
		"nil list":       []any(nil),
		"nil map":        map[string]any(nil),
		"nil named map":  namedMap(nil),
		"sorted keys":    map[string]any{"b": 1.5, "a": map[string]any{"z": nil, "\xff": "k", "<": true}, "A": []any{}},
		"named map":      namedMap{"userName": "bjensen", "emails": []any{map[string]any{"value": "b@example.com", "primary": true}}},
		"other type":     struct{ X int }{1},
		"unsupported":    map[string]any{"c": make(chan int)},
		"many keys":      map[string]any{"k01": 1, "k02": 2, "k03": 3, "k04": 4, "k05": 5, "k06": 6, "k07": 7, "k08": 8, "k09": 9, "k10": 10, "k11": 11, "k12": 12, "k13": 13, "k14": 14, "k15": 15, "k16": 16, "k17": 17},
		"nested objects": map[string]any{"a": map[string]any{"c": map[string]any{"e": 1}, "b": 2}, "d": 3},
	}
	for name, v := range tests {
		t.Run(name, func(t *testing.T) { checkAppend(t, v) })
	}
}

func TestWriter_Allocs(t *testing.T) {
	u := map[string]any{"id": "2819c223", "userName": "bjensen", "active": true,
		"name":   map[string]any{"givenName": "Barbara", "familyName": "Jensen"},
		"emails": []any{map[string]any{"value": "b@example.com", "type": "work", "primary": true}}}
	var w Writer
	buf := make([]byte, 0, 1024)
	buf, _ = w.Append(buf[:0], u) // warm the key buffer
	if n := testing.AllocsPerRun(100, func() { buf, _ = w.Append(buf[:0], u) }); n != 0 {
		t.Errorf("Writer.Append allocates %v times, want 0", n)
	}
}

// FuzzAppend decodes JSON into the values a resource holds and checks
// that Append writes them exactly as encoding/json does.
func FuzzAppend(f *testing.F) {
	for _, s := range []string{`{"a":1,"b":[true,null,"x\u2028"]}`, `"\ud800"`, `[{"<":">"},-0.5e10]`, `{"B":{},"a":[]}`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, err := ParseValue([]byte(s))
		if err != nil {
			return
		}
		checkAppend(t, v)
	})
}
