package scimjson

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
)

// refParse is the reference ParseValue must agree with:
// encoding/json with UseNumber, the whole input one value.
func refParse(data []byte) (any, error) {
	if !json.Valid(data) {
		return nil, errors.New("invalid JSON")
	}
	d := json.NewDecoder(bytes.NewReader(data))
	d.UseNumber()
	var v any
	err := d.Decode(&v)
	return v, err
}

var valueCases = []string{
	// values
	`null`, `true`, `false`, `0`, `-0`, `1`, `-1`, `12.5e+3`, `1E-2`, `0.0`, `1e0`,
	`123456789012345678901234567890`, `""`, `"a"`, `{}`, `[]`, ` {} `, "\t\n\r[ ]\n",
	`{"a":1,"b":[true,false,null,"x",{"c":{}}]}`,
	`[[[]],[{}],{"":""}]`,
	`{"a":1,"a":2}`, `{"a":{"x":1},"a":{"y":2}}`, `{"a":1,"a":null}`,
	`{"userName":"bjensen","emails":[{"value":"b@example.com","primary":true}],"active":true}`,
	// strings
	`"\"\\\/\b\f\n\r\t"`, `"\u0000"`, `"\u00e9\u00E9"`, `"é"`, `"日本"`, `"\ud83d\ude00"`,
	`"😀"`, `"\ud83d"`, `"\ude00"`, `"\ud83dx"`, `"\ud83d\u0041"`, `"\ud83d\ud83d\ude00"`,
	`"\ude00\ud83d"`, `"a\ud800"`, `"\uD800\uDC00"`, `"\uDBFF\uDFFF"`, "\"\xff\"", "\"a\xffb\"",
	"\"\xed\xa0\x80\"", "\"\xc3\"", "\"\xc3\x28\"", "\"\xf4\x90\x80\x80\"", "\"\xef\xbf\xbd\"",
	"\"\\n\xff\"", "\"\x7f\"", `"\u12"`, `"\u12G4"`, `"\x"`, `"\'"`, `"\a"`, "\"\x01\"",
	"\"a\nb\"", "\"\t\"", `"`, `"abc`, `"\`, `"\u`, `"\ud83d\u`, "{\"\xff\":1}",
	`{"\u0061":1,"a":2}`,
	// numbers
	`01`, `-`, `-a`, `1.`, `.5`, `1e`, `1e+`, `+1`, `0x10`, `1.5.5`, `--1`, `-01`, `00`,
	`1 2`, `Infinity`, `NaN`,
	// literals
	`tru`, `truex`, `nul`, `nulll`, `True`, `f`, `n`,
	// structure
	``, ` `, `[`, `]`, `{`, `}`, `[1,]`, `[,1]`, `[1 2]`, `{"a":1,}`, `{,}`, `{"a"}`,
	`{"a" 1}`, `{a:1}`, `{"a":}`, `{1:1}`, `{"a":1 "b":2}`, `[1]]`, `{}{}`, `{} x`,
	`[1,2]x`, "[1]\x00", `{"a":[1,{"b":[}]}`, "\xef\xbb\xbf{}", "\u00a0{}",
}

func TestParseValue_MatchesEncodingJSON(t *testing.T) {
	for _, in := range valueCases {
		t.Run(in, func(t *testing.T) {
			checkParseValue(t, []byte(in))
		})
	}
}

func checkParseValue(t *testing.T, in []byte) {
	t.Helper()
	want, wantErr := refParse(in)
	got, err := ParseValue(in)
	switch {
	case (err != nil) != (wantErr != nil):
		t.Fatalf("ParseValue(%q) error %v, encoding/json error %v", in, err, wantErr)
	case err != nil:
		var je *Error
		if !errors.As(err, &je) {
			t.Fatalf("ParseValue(%q) error %T, want *Error", in, err)
		}
	case !reflect.DeepEqual(got, want):
		t.Fatalf("ParseValue(%q) = %#v, encoding/json gives %#v", in, got, want)
	}
}

func TestParseValue_Depth(t *testing.T) {
	for _, n := range []int{maxDepth, maxDepth + 1} {
		arr := strings.Repeat("[", n) + strings.Repeat("]", n)
		obj := strings.Repeat(`{"a":`, n) + "1" + strings.Repeat("}", n)
		for _, in := range []string{arr, obj} {
			_, err := ParseValue([]byte(in))
			_, wantErr := refParse([]byte(in))
			if (err != nil) != (wantErr != nil) {
				t.Errorf("ParseValue(depth %d %c) error %v, encoding/json error %v", n, in[0], err, wantErr)
			}
		}
	}
	// Far past the limit: an error, not a stack overflow.
	if _, err := ParseValue([]byte(strings.Repeat("[", 1<<20))); err == nil {
		t.Error("ParseValue(1M '[') succeeded")
	}
}

func TestParseObject(t *testing.T) {
	m, err := ParseObject([]byte(` {"a":[1]} `))
	if err != nil || !reflect.DeepEqual(m, map[string]any{"a": []any{json.Number("1")}}) {
		t.Errorf(`ParseObject({"a":[1]}) = %v, %v`, m, err)
	}
	for _, in := range []string{`[]`, `null`, `"x"`, `1`, `{} 1`, ``} {
		if m, err := ParseObject([]byte(in)); err == nil {
			t.Errorf("ParseObject(%q) = %v, want an error", in, m)
		}
	}
}

// TestReader_Object checks the walk a struct decoder builds on: keys
// unescaped in document order, duplicates included, values read by kind.
func TestReader_Object(t *testing.T) {
	r := NewReader([]byte(`{"a":"x","\u0062":null,"a":"y","t":"2020-01-01T00:00:00Z","n":-1.5,"o":{"z":[1,"\n"]}}`))
	var got []string
	err := r.Object(func(k string) error {
		got = append(got, k)
		switch k {
		case "a":
			s, err := r.String()
			got = append(got, s)
			return err
		case "t":
			raw, err := r.RawString()
			got = append(got, string(raw))
			return err
		case "n":
			n, err := r.Number()
			got = append(got, n)
			return err
		case "b":
			if !r.Null() {
				t.Errorf("Null() = false for b")
			}
			return nil
		}
		return r.Skip()
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.End(); err != nil {
		t.Fatal(err)
	}
	want := []string{"a", "x", "b", "a", "y", "t", `"2020-01-01T00:00:00Z"`, "n", "-1.5", "o"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("walk = %q, want %q", got, want)
	}

	for _, tc := range []struct {
		in   string
		read func(r *Reader) error
	}{
		{`1`, func(r *Reader) error { _, err := r.String(); return err }},
		{`"1"`, func(r *Reader) error { _, err := r.Number(); return err }},
		{`1`, func(r *Reader) error { _, err := r.RawString(); return err }},
		{`[]`, func(r *Reader) error { return r.Object(func(string) error { return nil }) }},
		{`{}`, func(r *Reader) error { return r.Array(func() error { return nil }) }},
		{`[1,]`, func(r *Reader) error { return r.Skip() }},
		{`"\q"`, func(r *Reader) error { return r.Skip() }},
		{`"\q"`, func(r *Reader) error { _, err := r.RawString(); return err }},
	} {
		if err := tc.read(NewReader([]byte(tc.in))); err == nil {
			t.Errorf("reading %q: no error", tc.in)
		}
	}
}

// TestReader_SkipMatchesValue: Skip accepts exactly what Value does.
func TestReader_SkipMatchesValue(t *testing.T) {
	for _, in := range valueCases {
		checkSkip(t, []byte(in))
		checkRawComposite(t, []byte(in))
	}
	for _, in := range []string{`{"a":"}\\"}`, `["\"]"]`, `{"a":"\\\"}"}`, `[[]]]`, `{"a":"[{"}`} {
		checkRawComposite(t, []byte(in))
	}
}

// checkRawComposite: RawComposite returns what Skip reads of every valid
// object or array (its errors may differ on invalid ones: it checks only
// strings and brackets).
func checkRawComposite(t *testing.T, in []byte) {
	t.Helper()
	r := NewReader(in)
	r.Peek()
	start := r.Offset()
	if r.Skip() != nil {
		return
	}
	want := r.s[start:r.Offset()]
	if r.End() != nil || want[0] != '{' && want[0] != '[' {
		return
	}
	got, err := NewStringReader(string(in)).RawComposite()
	if err != nil || got != want {
		t.Fatalf("RawComposite(%q) = %q, %v; want %q", in, got, err, want)
	}
}

func checkSkip(t *testing.T, in []byte) {
	t.Helper()
	_, err := ParseValue(in)
	r := NewReader(in)
	serr := r.Skip()
	if serr == nil {
		serr = r.End()
	}
	if (err != nil) != (serr != nil) {
		t.Fatalf("Skip(%q) error %v, ParseValue error %v", in, serr, err)
	}
}

func FuzzParseValue(f *testing.F) {
	for _, in := range valueCases {
		f.Add([]byte(in))
	}
	f.Add([]byte(storedUserJSON))
	f.Add([]byte(requestUserJSON))
	f.Fuzz(func(t *testing.T, in []byte) {
		checkParseValue(t, in)
		checkSkip(t, in)
		checkRawComposite(t, in)
	})
}

// requestUserJSON is a typical body of a POST /Users.
const requestUserJSON = `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"alice@example.com","name":{"givenName":"Alice","familyName":"Ng"},"emails":[{"primary":true,"value":"alice@example.com","type":"work"}],"displayName":"Alice Ng","locale":"en-US","externalId":"00u1abcd","groups":[],"password":"x7Kq2p9z","active":true}`

// storedUserJSON is the resource of a typical stored user record.
const storedUserJSON = `{"active":true,"addresses":[{"country":"US","formatted":"100 Universal City Plaza\nHollywood, CA 91608 USA","locality":"Hollywood","postalCode":"91608","primary":true,"region":"CA","streetAddress":"100 Universal City Plaza","type":"work"}],"displayName":"Babs Jensen","emails":[{"primary":true,"type":"work","value":"bjensen@example.com"},{"type":"home","value":"babs@jensen.org"}],"externalId":"00u1abcd2EFGHijk3l4","id":"2819c223-7f76-453a-919d-413861904646","name":{"familyName":"Jensen","formatted":"Ms. Barbara J Jensen, III","givenName":"Barbara","honorificSuffix":"III","middleName":"Jane"},"phoneNumbers":[{"type":"work","value":"555-555-5555"}],"schemas":["urn:ietf:params:scim:schemas:core:2.0:User","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],"title":"Tour Guide","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"costCenter":"4130","department":"Tour Operations","employeeNumber":"701984","manager":{"value":"26118915-6090-4610-87e4-49d8ca9f808d"}},"userName":"bjensen@example.com","userType":"Employee","x-score":42}`

func BenchmarkParseValue(b *testing.B) {
	data := []byte(storedUserJSON)
	b.Run("ParseValue", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		b.ReportAllocs()
		for b.Loop() {
			if _, err := ParseValue(data); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("EncodingJSON", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		b.ReportAllocs()
		for b.Loop() {
			d := json.NewDecoder(bytes.NewReader(data))
			d.UseNumber()
			var v any
			if err := d.Decode(&v); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// TestReader_LimitValues: every value, nested ones and the top level
// included, and every object key counts once; Value and Skip count alike
// and refuse the first one over the limit, where it starts.
func TestReader_LimitValues(t *testing.T) {
	tests := []struct {
		in     string
		values int // values and keys in it
		offset int // where the one after the limit's starts, with the limit values-1
	}{ // (a limit of 0 is none)
		{` [[]]`, 2, 2},
		{`[1, 2]`, 3, 4},
		{`[[], {}]`, 3, 5},
		{`{"a": 1}`, 3, 6},
		{`{"a": [true, null], "bc": {"d": "e"}}`, 9, 32},
	}
	for _, tt := range tests {
		read := map[string]func(*Reader) error{
			"Value": func(r *Reader) error { _, err := r.Value(); return err },
			"Skip":  (*Reader).Skip,
		}
		for name, read := range read {
			r := NewReader([]byte(tt.in))
			r.LimitValues(tt.values)
			if err := read(r); err != nil {
				t.Errorf("%s(%s) with LimitValues(%d) = %v, want nil", name, tt.in, tt.values, err)
			}
			r = NewReader([]byte(tt.in))
			r.LimitValues(tt.values - 1)
			err := read(r)
			var tm *TooManyValuesError
			if !errors.As(err, &tm) || tm.Limit != tt.values-1 || tm.Offset != tt.offset {
				t.Errorf("%s(%s) with LimitValues(%d) = %v, want a TooManyValuesError at offset %d", name, tt.in, tt.values-1, err, tt.offset)
			}
		}
	}
}
