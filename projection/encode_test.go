package projection

import (
	"bytes"
	"encoding/json"
	"math"
	"testing"
	"time"

	"github.com/scim-bridge/scim-bridge/schemas"
)

// encodeRecord must write exactly what encoding/json writes, so a store
// rebuilt by this version holds the bytes earlier versions wrote.
func TestEncodeRecord_MatchesEncodingJSON(t *testing.T) {
	at := time.Date(2025, 3, 1, 12, 0, 0, 123456789, time.UTC)
	for _, tc := range []struct {
		name string
		rec  record
	}{
		{"user", record{Resource: user("u1", "alice@example.com", "emails", emails("a@x", "B@X"), "active", true,
			"name", map[string]any{"givenName": "Al", "familyName": nil}), Version: 3, Created: at, LastModified: at.Add(time.Second), EventID: "ev-1",
			RequestDigest: "0123456789abcdef0123456789abcdef"}},
		{"nil resource, no event id", record{Version: 1, Created: at, LastModified: at}},
		{"empty containers", record{Resource: schemas.Resource{"a": []any{}, "b": map[string]any{}, "c": []any(nil), "d": map[string]any(nil)}, Created: at, LastModified: at}},
		{"escapes", record{Resource: schemas.Resource{
			"html":     `<a href="x">&amp;</a>`,
			"controls": "\x00\x01\b\f\n\r\t\x1f\x7f\\\"",
			"unicode":  "héllo wörld 日本 😀 \u2028 \u2029 \u2027",
			"invalid":  "a\xffb\xc3(c\xed\xa0\x80",
			"key<&>\n": "k",
			"":         "empty key",
		}, Version: 1, Created: at, LastModified: at, EventID: "id<&>", RequestDigest: "<&>"}},
		{"numbers and typed values", record{Resource: schemas.Resource{
			"n": json.Number("12.50"), "i": 42, "f": 1e21, "g": 0.000001, "h": math.Copysign(0, -1), "big": math.MaxInt64,
			"nested": schemas.Resource{"z": 1, "a": []string{"x", "<"}},
			"member": schemas.Member{Value: "v", Display: "d&"},
			"list":   []any{1.5, "s", true, false, nil, []any{map[string]any{"q": json.Number("7")}}},
		}, Version: math.MaxInt64, Created: at.In(time.FixedZone("x", 3600)), LastModified: at}},
		{"zero times", record{Resource: schemas.Resource{"id": "x"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			want, err := json.Marshal(&tc.rec)
			if err != nil {
				t.Fatalf("json.Marshal() = %v", err)
			}
			got, err := encodeRecord(&tc.rec)
			if err != nil {
				t.Fatalf("encodeRecord() = %v", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("encodeRecord() =\n%s\nwant (encoding/json)\n%s", got, want)
			}
		})
	}
}

func TestEncodeRecord_Errors(t *testing.T) {
	at := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	for _, rec := range []record{
		{Resource: schemas.Resource{"n": json.Number("1x")}, Created: at, LastModified: at},
		{Resource: schemas.Resource{"f": math.Inf(1)}, Created: at, LastModified: at},
		{Resource: schemas.Resource{"id": "x"}, Created: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC), LastModified: at},
	} {
		if _, err := encodeRecord(&rec); err == nil {
			t.Errorf("encodeRecord(%v) = nil error, want one (as json.Marshal)", rec)
		}
	}
}

func FuzzEncodeRecord(f *testing.F) {
	f.Add("alice", "<b>&amp;</b>", "ev", int64(1), []byte(`{"a":[1,"x",{"b":null}]}`))
	f.Add("\u2028", "\xff\xfe", "", int64(-5), []byte(`["\u003c", true, 1.0e3]`))
	f.Fuzz(func(t *testing.T, key, val, eventID string, version int64, raw []byte) {
		var nested any
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.UseNumber()
		if dec.Decode(&nested) != nil {
			nested = nil
		}
		rec := record{
			Resource: schemas.Resource{key: val, "nested": nested, "list": []any{val, key}},
			Version:  version, Created: baseTime, LastModified: baseTime.Add(time.Duration(version)), EventID: eventID,
		}
		want, wantErr := json.Marshal(&rec)
		got, err := encodeRecord(&rec)
		if (err != nil) != (wantErr != nil) {
			t.Fatalf("encodeRecord() error %v, json.Marshal error %v", err, wantErr)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("encodeRecord() =\n%s\nwant\n%s", got, want)
		}
	})
}
