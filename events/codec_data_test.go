package events

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"reflect"
	"testing"
)

// decodeDataJSON is how Decode read the event data before decodeData:
// encoding/json into an Event with UseNumber, then nothing but whitespace.
func decodeDataJSON(value []byte, e *Event) error {
	dec := json.NewDecoder(bytes.NewReader(value))
	dec.UseNumber()
	if err := dec.Decode(e); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("data after the JSON object")
	}
	return nil
}

var decodeDataCases = []string{
	`{"tenant":"acme","resourceType":"User","id":"u1","version":2,"prevVersion":1,"changedAttributes":["name","userName"],"resource":{"id":"u1","n":1.50,"emails":[{"value":"a@b"}]},"requestId":"r","operation":"PUT","scimEvent":"urn:x"}`,
	`{"tenant":"acme","resourceType":"Group","id":"g1","membersAdded":[{"value":"u1","type":"User","display":"A"},{"value":"u2"}],"membersRemoved":[]}`,
	`null`, ` {} `, `[]`, `"x"`, `1`, ``, `{} x`, `{}{}`, `{"tenant":1}`, `{"version":"1"}`,
	`{"epoch":3}`, `{"epoch":-2}`, `{"epoch":1.5}`, `{"epoch":null}`, `{"Epoch":4,"epoch":5}`,
	`{"version":1.0}`, `{"version":1e2}`, `{"version":-0}`, `{"version":9223372036854775808}`,
	`{"tenant":"a","tenant":null}`, `{"tenant":"a","TENANT":"b"}`, `{"Tenant":"a"}`,
	`{"ID":"x"}`, `{"ſcimEvent":"x"}`, `{"\u0074enant":"t"}`, `{"resourcetype":"User"}`,
	`{"unknown":{"deep":[1,2,{"x":null}]},"tenant":"t"}`, `{"unknown":[1,]}`,
	`{"resource":{"a":1},"resource":{"b":2}}`, `{"resource":{"a":1},"resource":null}`,
	`{"resource":null,"resource":{"b":2}}`, `{"resource":[]}`, `{"resource":"x"}`, `{"resource":{}}`,
	`{"changedAttributes":["a","b"],"changedAttributes":[null]}`,
	`{"changedAttributes":["a","b","c"],"changedAttributes":["x"],"changedAttributes":[null,null,null]}`,
	`{"changedAttributes":["a"],"changedAttributes":[]}`, `{"changedAttributes":[null]}`,
	`{"changedAttributes":[1]}`, `{"changedAttributes":"a"}`, `{"changedAttributes":null}`,
	`{"membersAdded":[{"value":"a","type":"User"}],"membersAdded":[{"display":"d"},null]}`,
	`{"membersAdded":[null]}`, `{"membersAdded":["a"]}`, `{"membersAdded":[{"VALUE":"a","value":null,"x":[]}]}`,
	`{"membersRemoved":[{"value":1}]}`, `{"operation":true}`, `{"tenant":"\ud800"}`,
}

func TestDecodeData_MatchesEncodingJSON(t *testing.T) {
	for _, in := range decodeDataCases {
		t.Run(in, func(t *testing.T) { checkDecodeData(t, []byte(in)) })
	}
}

func checkDecodeData(t *testing.T, in []byte) {
	t.Helper()
	var got, want Event
	err := decodeData(in, &got)
	wantErr := decodeDataJSON(in, &want)
	switch {
	case (err != nil) != (wantErr != nil):
		t.Fatalf("decodeData(%q) error %v, encoding/json error %v", in, err, wantErr)
	case err == nil && !reflect.DeepEqual(got, want):
		t.Fatalf("decodeData(%q) = %#v\nencoding/json gives %#v", in, got, want)
	}
}

func FuzzDecodeData(f *testing.F) {
	for _, in := range decodeDataCases {
		f.Add([]byte(in))
	}
	for _, tc := range codecCases {
		_, _, val, err := Encode(&tc.ev)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(val)
	}
	f.Fuzz(func(t *testing.T, in []byte) { checkDecodeData(t, in) })
}
