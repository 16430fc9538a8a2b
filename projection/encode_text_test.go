package projection

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/scim-bridge/scim-bridge/events"
)

// A record whose resource text is known (its event's) is written byte for
// byte as encoding/json writes the record, whatever form that text is in:
// copied when it is already that form, written from the map when not.
func TestEncodeRecord_ResourceText(t *testing.T) {
	ev := events.Event{ID: "e-1", Type: events.UserCreated, Source: "/test", Time: time.Date(2026, 12, 7, 3, 52, 7, 1, time.UTC),
		Tenant: "acme", ResourceType: "User", ResourceID: "u-1", Version: 1, Resource: user("u-1", "alice")}
	key, headers, value, err := events.Encode(&ev)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, resource string
		copied         bool // the text is what encodeRecord writes
	}{
		{"as Encode writes it", string(resourceOf(t, value)), true},
		{"nested, sorted", `{"emails":[{"primary":true,"value":"a@example.com"}],"id":"u-1","name":{"familyName":"Ä","givenName":"B"},"userName":"alice","x":[1.50,-0,null,{}]}`, true},
		{"keys out of order", `{"userName":"alice","id":"u-1"}`, false},
		{"whitespace", `{ "id": "u-1", "userName": "alice" }`, false},
		{"HTML characters", `{"id":"u-1","userName":"<alice&bob>"}`, false},
		{"escapes", `{"id":"u-1","userName":"al\u0069ce\n"}`, false},
		{"a repeated key", `{"id":"u-1","userName":"alice","userName":"bob"}`, false},
		{"invalid UTF-8", "{\"id\":\"u-1\",\"userName\":\"al\xffice\"}", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data := bytes.Replace(value, resourceOf(t, value), []byte(tc.resource), 1)
			rec := events.DecodeRecord(0, 0, key, headers, data)
			if rec.Err != nil {
				t.Fatal(rec.Err)
			}
			if got := rec.ResourceJSON(); got != tc.resource {
				t.Fatalf("ResourceJSON() = %q, want %q", got, tc.resource)
			}
			at := rec.Event.Time
			r := record{Resource: rec.Event.Resource, Version: 1, Created: at, LastModified: at, EventID: rec.Event.ID,
				resourceJSON: rec.ResourceJSON()}
			got, err := encodeRecord(&r)
			if err != nil {
				t.Fatal(err)
			}
			want, err := json.Marshal(r)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("encodeRecord =\n%s\nencoding/json writes\n%s", got, want)
			}
			if copied := bytes.Contains(got, []byte(tc.resource)); copied != tc.copied {
				t.Errorf("the resource's text in the record: %v, want %v", copied, tc.copied)
			}
		})
	}
}

// resourceOf returns the resource's text in an event's value as Encode
// writes it.
func resourceOf(t *testing.T, value []byte) []byte {
	t.Helper()
	start := bytes.Index(value, []byte(`"resource":`))
	end := bytes.Index(value, []byte(`,"scimEvent"`))
	if start < 0 || end < start {
		t.Fatalf("no resource in %s", value)
	}
	return value[start+len(`"resource":`) : end]
}

// ResourceJSON is empty when the text is not the resource's: named twice
// (the maps are merged), not an object, or an empty object (a nil
// resource).
func TestRecordResourceJSON_OnlyForOneObject(t *testing.T) {
	ev := events.Event{ID: "e-1", Type: events.UserDeleted, Source: "/test", Time: time.Date(2026, 12, 7, 3, 52, 7, 1, time.UTC),
		Tenant: "acme", ResourceType: "User", ResourceID: "u-1", Version: 2, PrevVersion: 1}
	key, headers, value, err := events.Encode(&ev)
	if err != nil {
		t.Fatal(err)
	}
	for _, extra := range []string{
		`"resource":{"id":"u-1"},"resource":{"userName":"a"},`,
		`"resource":null,"resource":{"id":"u-1"},`,
		`"resource":{},`,
		`"resource":null,`,
	} {
		data := bytes.Replace(value, []byte(`{"tenant"`), []byte(`{`+extra+`"tenant"`), 1)
		rec := events.DecodeRecord(0, 0, key, headers, data)
		if rec.Err != nil {
			t.Fatalf("%s: %v", extra, rec.Err)
		}
		if got := rec.ResourceJSON(); got != "" {
			t.Errorf("%s: ResourceJSON() = %q, want none", extra, got)
		}
	}
}
