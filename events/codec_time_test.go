package events

import (
	"testing"
	"time"
)

// parseTimeLayout must agree with time.Parse(time.RFC3339Nano) on every
// value it accepts, and leave the rest to it.
func TestParseTimeLayout(t *testing.T) {
	for _, s := range []string{
		"2026-12-07T03:52:07.123456789Z",
		"0000-01-01T00:00:00.000000000Z",
		"9999-12-31T23:59:59.999999999Z",
		"2024-02-29T12:00:00.000000001Z", // a leap day
		"2000-02-29T00:00:00.000000000Z",
		"2023-02-29T00:00:00.000000000Z", // no such day
		"1900-02-29T00:00:00.000000000Z",
		"2026-04-31T00:00:00.000000000Z",
		"2026-00-10T00:00:00.000000000Z",
		"2026-13-10T00:00:00.000000000Z",
		"2026-12-00T00:00:00.000000000Z",
		"2026-12-07T24:00:00.000000000Z",
		"2026-12-07T23:60:00.000000000Z",
		"2026-12-07T23:59:60.000000000Z", // a leap second: time.Parse refuses it
		"2026-12-07T03:52:07.12345678Z",  // eight digits: time.Parse's
		"2026-12-07T03:52:07Z",
		"2026-12-07T03:52:07.123456789+01:00",
		"2026-12-07t03:52:07.123456789Z",
		"2026-12-07T03:52:07.123456789z",
		"2026-12-07T03:52:07.12345678aZ",
		"2026-1a-07T03:52:07.123456789Z",
		"-026-12-07T03:52:07.123456789Z",
		"+026-12-07T03:52:07.123456789Z",
		"",
	} {
		want, werr := time.Parse(time.RFC3339Nano, s)
		got, ok := parseTimeLayout([]byte(s))
		if !ok {
			continue // left to time.Parse
		}
		if werr != nil {
			t.Errorf("parseTimeLayout(%q) = %v, time.Parse refuses it: %v", s, got, werr)
			continue
		}
		if !got.Equal(want) || got.UTC() != want.UTC() {
			t.Errorf("parseTimeLayout(%q) = %v, time.Parse %v", s, got, want)
		}
	}
	if _, ok := parseTimeLayout([]byte("2026-12-07T03:52:07.123456789Z")); !ok {
		t.Error("parseTimeLayout refuses what Encode writes")
	}
}

// Decode allocates the strings an event keeps, not the headers it only
// compares.
func TestDecodeAllocations(t *testing.T) {
	ev := Event{ID: "e-1", Type: UserCreated, Source: "/test", Time: time.Date(2026, 12, 7, 3, 52, 7, 1, time.UTC),
		Tenant: "acme", ResourceType: "User", ResourceID: "u-1", Version: 1,
		Resource: map[string]any{"id": "u-1", "userName": "alice"}}
	key, headers, value, err := Encode(&ev)
	if err != nil {
		t.Fatal(err)
	}
	got, err := Decode(key, headers, value)
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != ev.ID || got.Source != ev.Source || got.Type != ev.Type || !got.Time.Equal(ev.Time) {
		t.Fatalf("Decode = %+v, want %+v", got, ev)
	}
	n := testing.AllocsPerRun(100, func() {
		if _, err := Decode(key, headers, value); err != nil {
			t.Fatal(err)
		}
	})
	// The value's copy, the resource's map and the strings in its
	// interfaces, ID and Source together: 6. The headers themselves add
	// none (they were 7 more), nor does the reader of the value (2).
	if n > 6 {
		t.Errorf("Decode allocates %v times, want at most 6", n)
	}
}
