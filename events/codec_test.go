package events

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/scim-bridge/scim-bridge/internal/testutil"
	"github.com/scim-bridge/scim-bridge/schemas"
)

var testTime = time.Date(2025, 3, 14, 15, 9, 26, 535897932, time.UTC)

// codecCases are events that must round-trip; they also seed FuzzDecode.
var codecCases = []struct {
	name string
	ev   Event
}{
	{"UserCreated", Event{
		ID: "8a9f4c1e-0001", Type: UserCreated, Source: "/scim-bridge/test", Time: testTime,
		Tenant: "acme", ResourceType: "User", ResourceID: "2819c223", ExternalID: "bjensen-ext",
		Version: 1, PrevVersion: 0, ChangedAttributes: []string{"active", "emails", "name", "userName"},
		Resource: schemas.Resource{
			"schemas":  []any{schemas.URNUser, schemas.URNEnterprise},
			"id":       "2819c223",
			"userName": "bjensen@example.com",
			"active":   true,
			"name":     map[string]any{"givenName": "Barbara", "familyName": "Jensen <&>"},
			"emails":   []any{map[string]any{"value": "bjensen@example.com", "primary": true}},
			schemas.URNEnterprise: map[string]any{
				"employeeNumber": "701984",
				"costCenter":     json.Number("4130"),
				"weight":         json.Number("1.50e2"),
			},
		},
		RequestID: "req-1", RequestDigest: "0f1e2d3c4b5a69788796a5b4c3d2e1f0",
		Operation: "POST", SCIMEvent: SCIMEventCreateFull,
	}},
	{"UserUpdatedPut", Event{
		ID: "8a9f4c1e-0002", Type: UserUpdated, Source: "/scim-bridge/test", Time: testTime.Add(time.Second),
		Tenant: "acme", ResourceType: "User", ResourceID: "2819c223", Version: 2, PrevVersion: 1,
		ChangedAttributes: []string{"displayName"},
		Resource:          schemas.Resource{"id": "2819c223", "userName": "bjensen", "displayName": "Babs"},
		Operation:         "PUT", SCIMEvent: SCIMEventPutFull,
	}},
	{"UserDeleted", Event{
		ID: "8a9f4c1e-0003", Type: UserDeleted, Source: "/scim-bridge/test", Time: testTime,
		Tenant: "acme", ResourceType: "User", ResourceID: "2819c223", Version: 3, PrevVersion: 2,
		Operation: "DELETE", SCIMEvent: SCIMEventDelete,
	}},
	{"GroupMembersAdded", Event{
		ID: "8a9f4c1e-0004", Type: GroupMembersAdded, Source: "/scim-bridge/test", Time: testTime,
		Tenant: "globex", ResourceType: "Group", ResourceID: "e9e30dba", Version: 7, PrevVersion: 6,
		ChangedAttributes: []string{"members"},
		Resource:          schemas.Resource{"id": "e9e30dba", "displayName": "Tour Guides"},
		MembersAdded:      []schemas.Member{{Value: "2819c223", Type: "User", Display: "Babs"}, {Value: "902c246b"}},
		Operation:         "PATCH", SCIMEvent: SCIMEventPatchFull,
	}},
	{"UserUpdatedEpoch", Event{
		ID: "8a9f4c1e-0005", Type: UserUpdated, Source: "/scim-bridge/test", Time: testTime,
		Tenant: "acme", ResourceType: "User", ResourceID: "2819c223", Version: 4, PrevVersion: 3, Epoch: 7,
		ChangedAttributes: []string{"title"},
		Resource:          schemas.Resource{"id": "2819c223", "userName": "bjensen", "title": "Tour Guide"},
		RequestDigest:     "0f1e2d3c4b5a69788796a5b4c3d2e1f0", Operation: "PATCH", SCIMEvent: SCIMEventPatchFull,
	}},
	{"UnknownTypeKeepsEmptySCIMEvent", Event{
		ID: "x", Type: "user.renamed", Source: "s", Time: time.Unix(0, 1).UTC(),
		Tenant: "t/with/slashes", ResourceType: "User", ResourceID: "ü/1", Version: 1,
	}},
}

func TestCodec_RoundTrip(t *testing.T) {
	for _, tc := range codecCases {
		t.Run(tc.name, func(t *testing.T) {
			key, hs, val, err := Encode(&tc.ev)
			if err != nil {
				t.Fatalf("Encode: %v", err)
			}
			if got, want := string(key), tc.ev.Key(); got != want {
				t.Errorf("Encode key = %q, want %q", got, want)
			}
			got, err := Decode(key, hs, val)
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if !reflect.DeepEqual(got, tc.ev) {
				t.Errorf("Decode(Encode(e)) =\n%#v\nwant\n%#v", got, tc.ev)
			}
			key2, hs2, val2, err := Encode(&got)
			if err != nil {
				t.Fatalf("Encode(Decode): %v", err)
			}
			if !bytes.Equal(key2, key) || !reflect.DeepEqual(hs2, hs) || !bytes.Equal(val2, val) {
				t.Errorf("Encode(Decode(Encode(e))) differs from Encode(e):\n%s\n%s", val2, val)
			}
		})
	}
}

func TestEncode_FillsSCIMEvent(t *testing.T) {
	tests := []struct {
		typ, op, want string
	}{
		{UserCreated, "POST", SCIMEventCreateFull},
		{GroupCreated, "POST", SCIMEventCreateFull},
		{UserUpdated, "PATCH", SCIMEventPatchFull},
		{UserUpdated, "PUT", SCIMEventPutFull},
		{GroupUpdated, "PUT", SCIMEventPutFull},
		{GroupMembersAdded, "PATCH", SCIMEventPatchFull},
		{GroupMembersRemoved, "DELETE", SCIMEventPatchFull},
		{UserDeactivated, "PATCH", SCIMEventDeactivate},
		{UserReactivated, "PUT", SCIMEventActivate},
		{UserDeleted, "DELETE", SCIMEventDelete},
		{GroupDeleted, "DELETE", SCIMEventDelete},
		{"user.renamed", "PATCH", ""},
	}
	for _, tc := range tests {
		t.Run(tc.typ+"/"+tc.op, func(t *testing.T) {
			if got := SCIMEventURI(tc.typ, tc.op); got != tc.want {
				t.Errorf("SCIMEventURI(%q, %q) = %q, want %q", tc.typ, tc.op, got, tc.want)
			}
			ev := codecCases[0].ev
			ev.Type, ev.Operation, ev.SCIMEvent = tc.typ, tc.op, ""
			key, hs, val, err := Encode(&ev)
			if err != nil {
				t.Fatalf("Encode: %v", err)
			}
			got, err := Decode(key, hs, val)
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if got.SCIMEvent != tc.want {
				t.Errorf("Decode(Encode(e)).SCIMEvent = %q, want %q", got.SCIMEvent, tc.want)
			}
		})
	}
}

// TestEncode_Golden pins the wire form of the public event contract
// (docs/events.md). Refresh with go test ./events -run Golden -update and
// review the diff like code.
func TestEncode_Golden(t *testing.T) {
	for _, tc := range codecCases[:5] {
		t.Run(tc.name, func(t *testing.T) {
			key, hs, val, err := Encode(&tc.ev)
			if err != nil {
				t.Fatalf("Encode: %v", err)
			}
			var b strings.Builder
			fmt.Fprintf(&b, "key: %s\n", key)
			for _, h := range hs {
				fmt.Fprintf(&b, "%s: %s\n", h.Key, h.Value)
			}
			var pretty bytes.Buffer
			if err := json.Indent(&pretty, val, "", "  "); err != nil {
				t.Fatalf("value is not JSON: %v", err)
			}
			fmt.Fprintf(&b, "\n%s\n", pretty.Bytes())
			testutil.Golden(t, filepath.Join("testdata", "codec", tc.name+".golden"), []byte(b.String()))
		})
	}
}

func TestEncode_Deterministic(t *testing.T) {
	ev := codecCases[0].ev
	_, _, want, err := Encode(&ev)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 20 {
		// A fresh map each time: insertion order must not matter.
		ev.Resource = schemas.Resource{}
		for k, v := range codecCases[0].ev.Resource {
			ev.Resource[k] = v
		}
		_, _, got, err := Encode(&ev)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("Encode #%d = %s, want %s", i, got, want)
		}
	}
}

func TestEncode_Invalid(t *testing.T) {
	base := codecCases[1].ev
	tests := []struct {
		name  string
		edit  func(*Event)
		field string
	}{
		{"NoID", func(e *Event) { e.ID = "" }, "id"},
		{"NoType", func(e *Event) { e.Type = "" }, "type"},
		{"NoSource", func(e *Event) { e.Source = "" }, "source"},
		{"NoTime", func(e *Event) { e.Time = time.Time{} }, "time"},
		{"TimeAfter9999", func(e *Event) { e.Time = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC) }, "time"},
		{"NoTenant", func(e *Event) { e.Tenant = "" }, "tenant"},
		{"NoResourceType", func(e *Event) { e.ResourceType = "" }, "resourceType"},
		{"NoResourceID", func(e *Event) { e.ResourceID = "" }, "id"},
		{"NegativeEpoch", func(e *Event) { e.Epoch = -1 }, "epoch"},
		{"ClaimType", func(e *Event) { e.Type = PartitionClaimed }, "claim"},
		{"Unmarshalable", func(e *Event) { e.Resource = schemas.Resource{"x": make(chan int)} }, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ev := base
			tc.edit(&ev)
			_, _, _, err := Encode(&ev)
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("Encode = %v, want ErrMalformed", err)
			}
			if !strings.Contains(err.Error(), tc.field) {
				t.Errorf("Encode error %q does not name %q", err, tc.field)
			}
		})
	}
}

func TestDecode_Errors(t *testing.T) {
	key, hs, val, err := Encode(&codecCases[0].ev)
	if err != nil {
		t.Fatal(err)
	}
	without := func(name string) []Header {
		var out []Header
		for _, h := range hs {
			if h.Key != name {
				out = append(out, h)
			}
		}
		return out
	}
	with := func(name, v string) []Header {
		out := without(name)
		return append(out, Header{name, []byte(v)})
	}
	type rec struct {
		key []byte
		hs  []Header
		val []byte
	}
	tests := []struct {
		name string
		rec  rec
		want string // named in the error
	}{
		{"UnknownSpecVersion", rec{key, with(HeaderSpecVersion, "0.3"), val}, HeaderSpecVersion},
		{"WrongContentType", rec{key, with(HeaderContentType, "text/plain"), val}, HeaderContentType},
		{"BadTime", rec{key, with(HeaderTime, "yesterday"), val}, HeaderTime},
		{"TenantMismatch", rec{key, with(HeaderTenant, "globex"), val}, HeaderTenant},
		{"SubjectMismatch", rec{key, with(HeaderSubject, "User/other"), val}, HeaderSubject},
		{"KeyMismatch", rec{[]byte("acme/User/other"), hs, val}, "key"},
		{"DuplicateHeader", rec{key, append(append([]Header(nil), hs...), Header{HeaderID, []byte("again")}), val}, HeaderID},
		{"NotJSON", rec{key, hs, []byte("{")}, "value"},
		{"TrailingData", rec{key, hs, append(append([]byte(nil), val...), " {}"...)}, "value"},
		{"NoResourceID", rec{key, hs, []byte(`{"tenant":"acme","resourceType":"User"}`)}, "id"},
	}
	for _, name := range requiredHeaders {
		tests = append(tests, struct {
			name string
			rec  rec
			want string
		}{"Missing_" + name, rec{key, without(name), val}, name})
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Decode(tc.rec.key, tc.rec.hs, tc.rec.val)
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("Decode = %v, want ErrMalformed", err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Decode error %q does not name %q", err, tc.want)
			}
		})
	}
}

func TestDecode_Lenient(t *testing.T) {
	key, hs, val, err := Encode(&codecCases[0].ev)
	if err != nil {
		t.Fatal(err)
	}
	hs = append([]Header{{"traceparent", []byte("00-abc")}, {"ce_unknownext", []byte("x")}}, hs...)
	for i, h := range hs {
		if h.Key == HeaderContentType {
			hs[i].Value = []byte("application/json; charset=utf-8")
		}
	}
	val = append(bytes.TrimSuffix(val, []byte("}")), `,"newField":{"a":1}}`...)
	got, err := Decode(key, hs, val)
	if err != nil {
		t.Fatalf("Decode with extra headers and fields: %v", err)
	}
	if !reflect.DeepEqual(got, codecCases[0].ev) {
		t.Errorf("Decode = %#v, want %#v", got, codecCases[0].ev)
	}
}

// TestNewEventID: UUIDs of version 7 (RFC 9562 §5.7) whose first 48 bits
// are the Unix milliseconds of their making, so they sort by time.
func TestNewEventID(t *testing.T) {
	seen := map[string]bool{}
	prev := ""
	for range 100 {
		before := time.Now().UnixMilli()
		id := NewEventID()
		after := time.Now().UnixMilli()
		if len(id) != 36 || id[8] != '-' || id[13] != '-' || id[18] != '-' || id[23] != '-' ||
			id[14] != '7' || !strings.ContainsRune("89ab", rune(id[19])) {
			t.Fatalf("NewEventID() = %q, want a version 7 UUID", id)
		}
		ms, err := strconv.ParseInt(id[0:8]+id[9:13], 16, 64)
		if err != nil || ms < before || ms > after {
			t.Fatalf("NewEventID() = %q: time %d (%v), want within [%d, %d]", id, ms, err, before, after)
		}
		if seen[id] {
			t.Fatalf("NewEventID() = %q twice", id)
		}
		if id[:13] < prev[:min(len(prev), 13)] {
			t.Fatalf("NewEventID() = %q after %q: time went back", id, prev)
		}
		seen[id], prev = true, id
	}
}

// TestParseUUID: ParseUUID reads back what FormatUUID writes, and refuses
// any other form (upper case, no dashes, braces, a wrong length or digit).
func TestParseUUID(t *testing.T) {
	for range 100 {
		id := NewEventID()
		u, ok := ParseUUID(id)
		if !ok || FormatUUID(u) != id {
			t.Fatalf("ParseUUID(%q) = %x, %v; FormatUUID of it %q", id, u, ok, FormatUUID(u))
		}
	}
	for _, s := range []string{"", "0190a5c3-1b2c-7d4e-8f01-23456789ABCD", "0190a5c31b2c7d4e8f0123456789abcd",
		"{0190a5c3-1b2c-7d4e-8f01-23456789abcd}", "0190a5c3-1b2c-7d4e-8f01-23456789abc", "0190a5c3-1b2c-7d4e-8f01-23456789abcg",
		"0190a5c3_1b2c-7d4e-8f01-23456789abcd", "u1"} {
		if u, ok := ParseUUID(s); ok {
			t.Errorf("ParseUUID(%q) = %x, true; want false", s, u)
		}
	}
}

// fuzzHeaders turns "k: v" lines into headers, so the fuzzer can shape them.
func fuzzHeaders(s string) []Header {
	var hs []Header
	for _, line := range strings.Split(s, "\n") {
		k, v, ok := strings.Cut(line, ": ")
		if ok {
			hs = append(hs, Header{k, []byte(v)})
		}
	}
	return hs
}

func FuzzDecode(f *testing.F) {
	for _, tc := range codecCases {
		key, hs, val, err := Encode(&tc.ev)
		if err != nil {
			f.Fatal(err)
		}
		var b strings.Builder
		for _, h := range hs {
			fmt.Fprintf(&b, "%s: %s\n", h.Key, h.Value)
		}
		f.Add(key, b.String(), val)
	}
	f.Fuzz(func(t *testing.T, key []byte, headers string, value []byte) {
		e1, err := Decode(key, fuzzHeaders(headers), value)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("Decode error %v does not wrap ErrMalformed", err)
			}
			return
		}
		k1, h1, v1, err := Encode(&e1)
		if err != nil {
			t.Fatalf("Encode(Decode(x)): %v", err)
		}
		e2, err := Decode(k1, h1, v1)
		if err != nil {
			t.Fatalf("Decode(Encode(Decode(x))): %v\n%s", err, v1)
		}
		if !reflect.DeepEqual(e2, e1) {
			t.Fatalf("Decode(Encode(e)) = %#v, want %#v", e2, e1)
		}
		k2, h2, v2, err := Encode(&e2)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(k2, k1) || !reflect.DeepEqual(h2, h1) || !bytes.Equal(v2, v1) {
			t.Fatalf("Encode not stable:\n%s\n%s", v2, v1)
		}
	})
}

func BenchmarkEncode(b *testing.B) {
	ev := codecCases[0].ev
	b.ReportAllocs()
	for b.Loop() {
		if _, _, _, err := Encode(&ev); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecode(b *testing.B) {
	key, hs, val, err := Encode(&codecCases[0].ev)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(val)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Decode(key, hs, val); err != nil {
			b.Fatal(err)
		}
	}
}
