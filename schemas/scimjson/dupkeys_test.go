package scimjson

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"hash/maphash"
	"reflect"
	"strings"
	"testing"
)

// A SCIM message that names a key twice is refused, never resolved by "the
// last wins": its keys are attribute names and schema URIs, case-insensitive
// (RFC 7643 §2.1), so keys that differ only in case are a duplicate too.

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

// parseStrict and skipStrict read in as one text with duplicate keys
// disallowed, building the value and not.
func parseStrict(in []byte) (any, error) {
	r := NewReader(in)
	r.DisallowDuplicateKeys()
	v, err := r.Value()
	if err == nil {
		err = r.End()
	}
	return v, err
}

func skipStrict(in []byte) error {
	r := NewReader(in)
	r.DisallowDuplicateKeys()
	err := r.Skip()
	if err == nil {
		err = r.End()
	}
	return err
}

// checkDuplicateKeys: with DisallowDuplicateKeys, Value and Skip refuse
// exactly the valid texts with a duplicate key, with a *DuplicateKeyError
// whose keys fold to each other, and otherwise parse as ParseValue does.
func checkDuplicateKeys(t *testing.T, in []byte) {
	t.Helper()
	want, err := ParseValue(in)
	got, gotErr := parseStrict(in)
	skipErr := skipStrict(in)
	if (gotErr == nil) != (skipErr == nil) {
		t.Fatalf("strict Value(%q) error %v, strict Skip error %v", in, gotErr, skipErr)
	}
	if err != nil {
		if gotErr == nil {
			t.Fatalf("strict Value(%q) accepted what ParseValue refuses (%v)", in, err)
		}
		return
	}
	if !refHasDuplicateKey(t, in) {
		if gotErr != nil {
			t.Fatalf("strict Value(%q) error %v, want none", in, gotErr)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("strict Value(%q) = %v, ParseValue gives %v", in, got, want)
		}
		return
	}
	var de *DuplicateKeyError
	if !errors.As(gotErr, &de) || !errors.As(skipErr, &de) {
		t.Fatalf("strict Value(%q) error %v, strict Skip error %v, want *DuplicateKeyError", in, gotErr, skipErr)
	}
	if !strings.EqualFold(de.Key, de.First) {
		t.Fatalf("strict Skip(%q): %q and %q are not the same key", in, de.Key, de.First)
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

func TestReader_DisallowDuplicateKeys(t *testing.T) {
	for _, in := range append(dupKeyCases, valueCases...) {
		t.Run(in, func(t *testing.T) {
			checkDuplicateKeys(t, []byte(in))
		})
	}
}

func TestReader_DuplicateKeyError(t *testing.T) {
	_, err := parseStrict([]byte(`{"x":[{"value":1}], "a":{"userName":"a", "USERNAME":"b"}}`))
	var de *DuplicateKeyError
	if !errors.As(err, &de) {
		t.Fatalf("strict Value error %v, want *DuplicateKeyError", err)
	}
	if want := (DuplicateKeyError{Offset: 41, Key: "USERNAME", First: "userName"}); *de != want {
		t.Errorf("DuplicateKeyError = %+v, want %+v", *de, want)
	}
	const detail = `key "USERNAME" given twice, first as "userName" (attribute names are case-insensitive)`
	if got := de.Detail(); got != detail {
		t.Errorf("Detail() = %q, want %q", got, detail)
	}
	if got, want := (&DuplicateKeyError{Offset: 3, Key: "a", First: "a"}).Error(), `json: offset 3: key "a" given twice`; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}

// TestReader_DuplicateKeysAllocs pins the cost of the check: one
// scratch slice per reader, nothing per key, for objects of usual size.
func TestReader_DuplicateKeysAllocs(t *testing.T) {
	data := []byte(storedUserJSON)
	plain := testing.AllocsPerRun(100, func() {
		if _, err := ParseValue(data); err != nil {
			t.Fatal(err)
		}
	})
	strict := testing.AllocsPerRun(100, func() {
		if _, err := parseStrict(data); err != nil {
			t.Fatal(err)
		}
	})
	if strict > plain+1 {
		t.Errorf("strict Value: %v allocations, ParseValue %v: want at most one more", strict, plain)
	}
	if n := testing.AllocsPerRun(100, func() {
		if err := skipStrict(data); err != nil {
			t.Fatal(err)
		}
	}); n > 3 {
		t.Errorf("strict Skip: %v allocations, want at most 3 (reader, its copy of the input, key scratch)", n)
	}
}

func FuzzDuplicateKeys(f *testing.F) {
	for _, in := range dupKeyCases {
		f.Add([]byte(in))
	}
	f.Add([]byte(requestUserJSON))
	f.Fuzz(func(t *testing.T, in []byte) {
		checkDuplicateKeys(t, in)
	})
}

// TestFoldHash: two keys hash alike exactly when strings.EqualFold says
// they are equal, long ones (hashed in pieces) included.
func TestFoldHash(t *testing.T) {
	seed := maphash.MakeSeed()
	long := strings.Repeat("é", 40) + "k"
	pairs := [][2]string{
		{"a", "A"}, {"k", "\u212a"}, {"s", "\u017f"}, {"é", "É"}, {"\xff", "\xfe"}, {"\xff", "\ufffd"},
		{"straße", "STRASSE"}, {"userName", "USERNAME"}, {"a", "b"}, {"ab", "a"}, {"", "a"},
		{long, strings.ToUpper(long)}, {long, strings.ToUpper(long) + "x"}, {long + "k", long + "\u212a"},
		{"k" + long, "\u212a" + strings.ToUpper(long)},
	}
	for _, p := range pairs {
		same := foldHash(seed, p[0]) == foldHash(seed, p[1])
		if want := strings.EqualFold(p[0], p[1]); same != want {
			t.Errorf("foldHash(%q) == foldHash(%q) is %v, want %v (strings.EqualFold)", p[0], p[1], same, want)
		}
	}
}
