package projection

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/scim-bridge/scim-bridge/schemas"
)

// decodeRecordJSON is how decodeRecord read records before: encoding/json
// with UseNumber, the first value only.
func decodeRecordJSON(v []byte) (*record, error) {
	dec := json.NewDecoder(bytes.NewReader(v))
	dec.UseNumber()
	var r record
	if err := dec.Decode(&r); err != nil {
		return nil, err
	}
	return &r, nil
}

var decodeRecordCases = []string{
	`{"resource":{"id":"u1","userName":"a","emails":[{"value":"a@b","primary":true}],"x":1.50},"version":3,"created":"2024-01-02T03:04:05.123456789Z","lastModified":"2024-01-02T03:04:05Z","eventId":"e1"}`,
	`{"resource":null,"version":1,"created":"2024-01-02T03:04:05+02:00","lastModified":"0001-01-01T00:00:00Z"}`,
	`null`, `nullx`, ``, `  `, `[]`, `"x"`, `1`, `{}`, `{} x`, `{}{`, `{"a":1}trailing`,
	`{"created":null}`, `{"created":1}`, `{"created":"x"}`, `{"created":"2024-01-02T03:04:05\u005a"}`,
	`{"created":{}}`, `{"created":"2024-01-02T03:04:05Z","created":null}`, `{"CREATED":"2024-01-02T03:04:05Z"}`,
	`{"version":"1"}`, `{"version":1.5}`, `{"version":null}`, `{"Version":7,"version":8}`,
	`{"eventId":1}`, `{"eventid":"e"}`, `{"eventId":"a","eventId":null}`,
	`{"requestDigest":"d"}`, `{"RequestDigest":"d","requestDigest":null}`, `{"requestDigest":7}`,
	`{"resource":{"a":1},"resource":{"b":2}}`, `{"resource":{"a":1},"resource":null}`,
	`{"resource":[]}`, `{"resource":{}}`, `{"resource":{"a":[1,]}}`, `{"x":[1,2,{"y":"\ud800"}],"version":2}`,
}

func TestDecodeRecord_MatchesEncodingJSON(t *testing.T) {
	for _, in := range decodeRecordCases {
		t.Run(in, func(t *testing.T) { checkDecodeRecord(t, []byte(in)) })
	}
	// A record as the projection writes it.
	r := &record{
		Resource:     schemas.Resource{"id": "u1", "userName": "bjensen", "active": true, "n": json.Number("42")},
		Version:      4,
		Created:      time.Date(2024, 5, 6, 7, 8, 9, 10, time.UTC),
		LastModified: time.Date(2024, 5, 6, 7, 8, 10, 0, time.UTC),
		EventID:      "e-4",

		RequestDigest: "0123456789abcdef0123456789abcdef",
	}
	b, err := encodeRecord(r)
	if err != nil {
		t.Fatal(err)
	}
	checkDecodeRecord(t, b)
}

func checkDecodeRecord(t *testing.T, in []byte) {
	t.Helper()
	got, err := decodeRecord(in)
	want, wantErr := decodeRecordJSON(in)
	switch {
	case (err != nil) != (wantErr != nil):
		t.Fatalf("decodeRecord(%q) error %v, encoding/json error %v", in, err, wantErr)
	case err == nil && !reflect.DeepEqual(got, want):
		t.Fatalf("decodeRecord(%q) = %#v\nencoding/json gives %#v", in, got, want)
	}
}

func FuzzDecodeRecord(f *testing.F) {
	for _, in := range decodeRecordCases {
		f.Add([]byte(in))
	}
	f.Fuzz(func(t *testing.T, in []byte) { checkDecodeRecord(t, in) })
}

var displayNameCases = []string{
	`{"resource":{"id":"g1","displayName":"Sales"},"version":2}`,
	`{"resource":{"displayName":"Sa\u006ces \"EU\""}}`,
	`{"resource":{"displayName":1}}`, `{"resource":{"displayName":null}}`, `{"resource":{"displayName":{"a":"b"}}}`,
	`{"resource":{"displayName":"a","displayName":2}}`, `{"resource":{"displayName":2,"displayName":"b"}}`,
	`{"resource":{"DisplayName":"a"}}`, `{"Resource":{"displayName":"a"}}`,
	`{"resource":{"displayName":"a"},"resource":{"id":"x"}}`, `{"resource":{"displayName":"a"},"resource":{"displayName":"b"}}`,
	`{"resource":{"displayName":"a"},"resource":null}`, `{"resource":null,"resource":{"displayName":"c"}}`,
}

// TestDecodeDisplayName_MatchesDecodeRecord: wherever decodeRecord reads a
// record, decodeDisplayName reads the same displayName from it.
func TestDecodeDisplayName_MatchesDecodeRecord(t *testing.T) {
	for _, in := range append(displayNameCases, decodeRecordCases...) {
		t.Run(in, func(t *testing.T) { checkDecodeDisplayName(t, []byte(in)) })
	}
}

func checkDecodeDisplayName(t *testing.T, in []byte) {
	t.Helper()
	r, err := decodeRecord(in)
	if err != nil {
		return // a record the projection cannot read either way
	}
	want, _ := r.Resource["displayName"].(string)
	got, err := decodeDisplayName(in)
	if err != nil || got != want {
		t.Fatalf("decodeDisplayName(%q) = %q, %v; decodeRecord gives %q", in, got, err, want)
	}
}

func FuzzDecodeDisplayName(f *testing.F) {
	for _, in := range append(displayNameCases, decodeRecordCases...) {
		f.Add([]byte(in))
	}
	f.Fuzz(func(t *testing.T, in []byte) { checkDecodeDisplayName(t, in) })
}
