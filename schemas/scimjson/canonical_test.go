package scimjson

import "testing"

var canonicalCases = []struct {
	text string
	want bool
}{
	{`{}`, true},
	{`[]`, true},
	{`null`, true},
	{`{"a":1,"b":[true,false,null,"x",-1.5e+3,{}],"c":{"d":"é😀` + "\ufffd" + `"}}`, true},
	{`{"emails":[{"primary":true,"type":"work","value":"a@example.com"}],"id":"u-1","userName":"alice"}`, true},
	{`{"b":1,"a":2}`, false},  // keys out of order
	{`{"a":1,"a":2}`, false},  // a key repeated
	{`{"a":1, "b":2}`, false}, // whitespace
	{` {}`, false},
	{`{} `, false},
	{`{"a":"x<y"}`, false}, // Append escapes <, > and &
	{`{"a":"x&y"}`, false},
	{`{"a":"x\"y"}`, false}, // any escape
	{`{"a":"\u00e9"}`, false},
	{"{\"a\":\"\u2028\"}", false},
	{"{\"a\":\"\xff\"}", false}, // invalid UTF-8
	{"{\"a\":\"\x01\"}", false},
	{`{"a":01}`, false},
	{`{"a":1.}`, false},
	{`{"a":tru}`, false},
	{`{"a":1,}`, false},
	{`[1,]`, false},
	{`{"a"}`, false},
	{`{"a":1`, false},
	{`"abc`, false},
	{``, false},
}

func TestCanonical(t *testing.T) {
	for _, c := range canonicalCases {
		if got := Canonical(c.text); got != c.want {
			t.Errorf("Canonical(%q) = %v, want %v", c.text, got, c.want)
		}
		if c.want {
			checkCanonical(t, c.text)
		}
	}
}

// checkCanonical fails unless Append writes what text parses to as text.
func checkCanonical(t *testing.T, text string) {
	t.Helper()
	v, err := ParseValue([]byte(text))
	if err != nil {
		t.Fatalf("Canonical(%q) but ParseValue: %v", text, err)
	}
	b, err := Append(nil, v)
	if err != nil {
		t.Fatalf("Canonical(%q) but Append: %v", text, err)
	}
	if string(b) != text {
		t.Fatalf("Canonical(%q) but Append writes %q", text, b)
	}
}

// Whatever Canonical accepts, Append writes back byte for byte.
func FuzzCanonical(f *testing.F) {
	for _, c := range canonicalCases {
		f.Add(c.text)
	}
	f.Fuzz(func(t *testing.T, text string) {
		if Canonical(text) {
			checkCanonical(t, text)
		}
		// And what Append writes of a value without escapes is
		// canonical.
		if v, err := ParseValue([]byte(text)); err == nil {
			if b, err := Append(nil, v); err == nil && !Canonical(string(b)) && !hasEscape(b) {
				t.Fatalf("Append writes %q of %q, not Canonical", b, text)
			}
		}
	})
}

func hasEscape(b []byte) bool {
	for _, c := range b {
		if c == '\\' {
			return true
		}
	}
	return false
}

// A reset Reader reads its new text as a new Reader would, after a text
// that failed half-way as well.
func TestReaderReset(t *testing.T) {
	r := NewReader([]byte(`{"a":[1,{"b":"c"}],"d":`)) // cut short
	if _, err := r.Value(); err == nil {
		t.Fatal("a cut text read without error")
	}
	for _, text := range []string{`{"x":[true,{"y":"z"}],"w":null}`, `[1,2,{"a":"b"}]`} {
		r.Reset([]byte(text))
		got, err := r.Value()
		if err != nil {
			t.Fatal(err)
		}
		want, _ := ParseValue([]byte(text))
		if b1, b2 := mustAppend(t, got), mustAppend(t, want); b1 != b2 {
			t.Errorf("after Reset: %s, want %s", b1, b2)
		}
		if err := r.End(); err != nil {
			t.Error(err)
		}
	}
}

func mustAppend(t *testing.T, v any) string {
	t.Helper()
	b, err := Append(nil, v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
