package events

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/scim-bridge/scim-bridge/schemas"
	"github.com/scim-bridge/scim-bridge/schemas/scimjson"
)

// encodeDataJSON is how Encode wrote the event data before encodeData:
// encoding/json, HTML characters unescaped, the newline trimmed.
func encodeDataJSON(e *Event, scimEvent string) ([]byte, error) {
	ev := *e
	ev.SCIMEvent = scimEvent
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(&ev); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// checkEncodeData fails unless encodeData and encoding/json agree on e:
// the same bytes, or both an error.
func checkEncodeData(t *testing.T, e *Event) {
	t.Helper()
	want, wantErr := encodeDataJSON(e, "urn:x")
	got, err := encodeData([]byte("prefix"), e, "urn:x")
	switch {
	case (err != nil) != (wantErr != nil):
		t.Fatalf("encodeData(%#v) error %v, encoding/json error %v", e, err, wantErr)
	case wantErr == nil && !bytes.Equal(got, append([]byte("prefix"), want...)):
		t.Fatalf("encodeData(%#v) =\n%s\nencoding/json gives\nprefix%s", e, got, want)
	}
}

func TestEncodeData_MatchesEncodingJSON(t *testing.T) {
	cases := map[string]Event{
		"zero":           {},
		"empty lists":    {ChangedAttributes: []string{}, Resource: schemas.Resource{}, MembersAdded: []schemas.Member{}, MembersRemoved: []schemas.Member{}},
		"negative":       {Version: -1, PrevVersion: -9223372036854775808, Epoch: -3},
		"escapes":        {Tenant: "a<b>&\"\\\x00\x1f\u2028\u2029\xff", ResourceID: "ü/1", ExternalID: "\t\n", RequestID: "<", RequestDigest: "&", Operation: ">"},
		"members":        {MembersAdded: []schemas.Member{{}, {Value: "<v>", Type: "User"}, {Display: "d&"}}, MembersRemoved: []schemas.Member{{Value: "x", Display: "y"}}},
		"changed":        {ChangedAttributes: []string{"", "a<", "urn:x:y"}},
		"resource types": {Resource: schemas.Resource{"i": 1, "f": 1.5, "big": 1e21, "s": []string{"<"}, "m": map[string]string{"<": ">"}, "n": json.Number("12"), "r": schemas.Resource{"k": "&"}, "t": time.Unix(0, 0).UTC()}},
		"bad number":     {Resource: schemas.Resource{"n": json.Number("01")}},
		"unsupported":    {Resource: schemas.Resource{"c": make(chan int)}},
	}
	for name, e := range cases {
		t.Run(name, func(t *testing.T) { checkEncodeData(t, &e) })
	}
	for _, tc := range codecCases {
		t.Run(tc.name, func(t *testing.T) { checkEncodeData(t, &tc.ev) })
	}
}

// FuzzEncodeData builds events from fuzzed strings and a resource parsed
// from fuzzed JSON, and checks encodeData against encoding/json.
func FuzzEncodeData(f *testing.F) {
	f.Add("acme", "2819c223", "ext<", "req&", int64(3), `{"userName":"<b>","a":[1,"\u2028",{"z":null}]}`)
	f.Add("\xff", "", "", "", int64(-1), `{}`)
	f.Add("t", "id", "", "", int64(0), `{"B":{},"a":[],"\u0026":true}`)
	f.Fuzz(func(t *testing.T, tenant, id, ext, reqID string, version int64, resource string) {
		e := Event{Tenant: tenant, ResourceType: "User", ResourceID: id, ExternalID: ext, Version: version,
			PrevVersion: version - 1, Epoch: version / 2, ChangedAttributes: []string{ext, id},
			MembersAdded: []schemas.Member{{Value: id, Type: ext, Display: reqID}}, RequestID: reqID,
			RequestDigest: ext, Operation: reqID}
		if m, err := scimjson.ParseObject([]byte(resource)); err == nil {
			e.Resource = m
		}
		checkEncodeData(t, &e)
	})
}

// TestEncode_Slices checks that the key, the headers' values and the value
// Encode returns share no capacity: appending to one leaves the others.
func TestEncode_Slices(t *testing.T) {
	key, hs, val, err := Encode(&codecCases[0].ev)
	if err != nil {
		t.Fatal(err)
	}
	wantKey, wantVal := string(key), string(val)
	wantHs := make([]string, len(hs))
	for i, h := range hs {
		wantHs[i] = string(h.Value)
	}
	_ = append(val, "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"...)
	_ = append(key, "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"...)
	for _, h := range hs {
		_ = append(h.Value, "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"...)
	}
	if string(key) != wantKey || string(val) != wantVal {
		t.Errorf("appending changed key or value: %q, %q", key, val)
	}
	for i, h := range hs {
		if string(h.Value) != wantHs[i] {
			t.Errorf("appending changed header %s: %q, want %q", h.Key, h.Value, wantHs[i])
		}
	}
}

// TestEncodedSize checks EncodedSize against the size of what Encode
// returns, and that it fails where Encode fails.
func TestEncodedSize(t *testing.T) {
	evs := []Event{{ID: "x", Type: UserCreated, Source: "s", Time: time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC),
		Tenant: "t", ResourceType: "User", ResourceID: "<&>", Resource: schemas.Resource{"c": make(chan int)}}}
	for _, tc := range codecCases {
		evs = append(evs, tc.ev)
		big := tc.ev
		big.Resource = schemas.Resource{"x": strings.Repeat("<ü>", 30000)}
		evs = append(evs, big)
	}
	for _, e := range evs {
		key, hs, val, encErr := Encode(&e)
		want := len(key) + len(val)
		for _, h := range hs {
			want += len(h.Key) + len(h.Value)
		}
		got, err := EncodedSize(&e)
		switch {
		case (err != nil) != (encErr != nil):
			t.Errorf("EncodedSize(%s) error %v, Encode error %v", e.ID, err, encErr)
		case err == nil && got != want:
			t.Errorf("EncodedSize(%s) = %d, want %d", e.ID, got, want)
		}
	}
}
