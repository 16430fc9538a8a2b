package events

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

var testClaim = Claim{
	ID: "8a9f4c1e-0100", Source: "/scim-bridge/test", Time: testTime,
	Partition: 3, Epoch: 7, Owner: "http://10.0.0.5:8080",
}

func TestClaim_RoundTrip(t *testing.T) {
	key, hs, val, err := EncodeClaim(&testClaim)
	if err != nil {
		t.Fatalf("EncodeClaim: %v", err)
	}
	got, err := DecodeClaim(key, hs, val)
	if err != nil {
		t.Fatalf("DecodeClaim: %v", err)
	}
	if !reflect.DeepEqual(got, testClaim) {
		t.Errorf("DecodeClaim(EncodeClaim(c)) = %#v, want %#v", got, testClaim)
	}
	k2, h2, v2, err := EncodeClaim(&got)
	if err != nil {
		t.Fatalf("EncodeClaim(DecodeClaim): %v", err)
	}
	if !bytes.Equal(k2, key) || !reflect.DeepEqual(h2, hs) || !bytes.Equal(v2, val) {
		t.Errorf("EncodeClaim(DecodeClaim(EncodeClaim(c))) differs: %s, want %s", v2, val)
	}

	rec := DecodeRecord(3, 42, key, hs, val)
	if rec.Err != nil || rec.Claim == nil || !reflect.DeepEqual(*rec.Claim, testClaim) ||
		!reflect.DeepEqual(rec.Event, Event{}) || rec.Partition != 3 || rec.Offset != 42 {
		t.Errorf("DecodeRecord(claim) = %+v (claim %+v), want the claim at 3/42", rec, rec.Claim)
	}
	ev := codecCases[0].ev
	ek, eh, evl, err := Encode(&ev)
	if err != nil {
		t.Fatal(err)
	}
	rec = DecodeRecord(1, 5, ek, eh, evl)
	if rec.Err != nil || rec.Claim != nil || !reflect.DeepEqual(rec.Event, ev) {
		t.Errorf("DecodeRecord(event) = %+v, want the event", rec)
	}
}

// TestEncodeClaim_Golden pins the wire form of a claim, part of the public
// contract. Refresh with go test ./events -run Golden -update.
func TestEncodeClaim_Golden(t *testing.T) {
	key, hs, val, err := EncodeClaim(&testClaim)
	if err != nil {
		t.Fatalf("EncodeClaim: %v", err)
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
	path := filepath.Join("testdata", "codec", "PartitionClaimed.golden")
	if *update {
		if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read golden (run with -update to create): %v", err)
	}
	if got := b.String(); got != string(want) {
		t.Errorf("EncodeClaim =\n%s\nwant (%s)\n%s", got, path, want)
	}
}

func TestEncodeClaim_Invalid(t *testing.T) {
	tests := []struct {
		name  string
		edit  func(*Claim)
		field string
	}{
		{"NoID", func(c *Claim) { c.ID = "" }, "id"},
		{"NoSource", func(c *Claim) { c.Source = "" }, "source"},
		{"NoTime", func(c *Claim) { c.Time = time.Time{} }, "time"},
		{"NegativePartition", func(c *Claim) { c.Partition = -1 }, "partition"},
		{"EpochZero", func(c *Claim) { c.Epoch = 0 }, "epoch"},
		{"NoOwner", func(c *Claim) { c.Owner = "" }, "owner"},
		{"OwnerTooLong", func(c *Claim) { c.Owner = "http://" + strings.Repeat("a", MaxOwnerBytes) }, "owner"},
		{"OwnerWithSpace", func(c *Claim) { c.Owner = "http://a b" }, "owner"},
		{"OwnerNotASCII", func(c *Claim) { c.Owner = "http://bücher.example" }, "owner"},
		{"OwnerInvalidUTF8", func(c *Claim) { c.Owner = "http://\xff" }, "owner"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := testClaim
			tc.edit(&c)
			_, _, _, err := EncodeClaim(&c)
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("EncodeClaim = %v, want ErrMalformed", err)
			}
			if !strings.Contains(err.Error(), tc.field) {
				t.Errorf("EncodeClaim error %q does not name %q", err, tc.field)
			}
		})
	}
}

func TestDecodeClaim_Errors(t *testing.T) {
	key, hs, val, err := EncodeClaim(&testClaim)
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
	with := func(name, v string) []Header { return append(without(name), Header{name, []byte(v)}) }
	tests := []struct {
		name     string
		key      []byte
		hs       []Header
		val      []byte
		want     string // named in the error
		asRecord bool   // DecodeRecord sees a claim (ce_type says so)
	}{
		{"SpecVersion", key, with(HeaderSpecVersion, "0.3"), val, HeaderSpecVersion, true},
		{"ContentType", key, with(HeaderContentType, "text/plain"), val, HeaderContentType, true},
		{"BadTime", key, with(HeaderTime, "yesterday"), val, HeaderTime, true},
		{"OtherType", key, with(HeaderType, UserCreated), val, HeaderType, false},
		{"DuplicateHeader", key, append(append([]Header(nil), hs...), Header{HeaderID, []byte("again")}), val, HeaderID, true},
		{"KeyOfOtherPartition", []byte("_claim/4"), hs, val, "key", true},
		{"EventKey", []byte("acme/User/u1"), hs, val, "key", true},
		{"NotJSON", key, hs, []byte("{"), "value", true},
		{"TrailingData", key, hs, append(append([]byte(nil), val...), " {}"...), "value", true},
		{"EpochZero", key, hs, []byte(`{"partition":3,"epoch":0,"owner":"http://x"}`), "epoch", true},
		{"EpochNotInteger", key, hs, []byte(`{"partition":3,"epoch":1.5,"owner":"http://x"}`), "value", true},
		{"NoOwner", key, hs, []byte(`{"partition":3,"epoch":2}`), "owner", true},
		{"NegativePartition", []byte("_claim/-1"), hs, []byte(`{"partition":-1,"epoch":2,"owner":"http://x"}`), "partition", true},
	}
	for _, name := range claimHeaders {
		tests = append(tests, struct {
			name     string
			key      []byte
			hs       []Header
			val      []byte
			want     string
			asRecord bool
		}{"Missing_" + name, key, without(name), val, name, name != HeaderType})
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := DecodeClaim(tc.key, tc.hs, tc.val)
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("DecodeClaim = %v, want ErrMalformed", err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("DecodeClaim error %q does not name %q", err, tc.want)
			}
			rec := DecodeRecord(3, 0, tc.key, tc.hs, tc.val)
			if !errors.Is(rec.Err, ErrMalformed) || rec.Claim != nil || !reflect.DeepEqual(rec.Event, Event{}) {
				t.Errorf("DecodeRecord = %+v, want Err wrapping ErrMalformed and nothing else", rec)
			}
		})
	}

	t.Run("OtherPartition", func(t *testing.T) {
		rec := DecodeRecord(2, 0, key, hs, val)
		if !errors.Is(rec.Err, ErrMalformed) || rec.Claim != nil {
			t.Errorf("DecodeRecord of partition 3's claim read from partition 2 = %+v, want ErrMalformed", rec)
		}
	})
	t.Run("EventWithClaimType", func(t *testing.T) {
		// A record that says it is a claim is decoded as one, whatever
		// it holds: never as an event.
		ev := codecCases[0].ev
		ek, eh, evl, err := Encode(&ev)
		if err != nil {
			t.Fatal(err)
		}
		for i := range eh {
			if eh[i].Key == HeaderType {
				eh[i].Value = []byte(PartitionClaimed)
			}
		}
		if rec := DecodeRecord(0, 0, ek, eh, evl); !errors.Is(rec.Err, ErrMalformed) {
			t.Errorf("DecodeRecord(event with ce_type %s) = %+v, want ErrMalformed", PartitionClaimed, rec)
		}
		if _, err := Decode(ek, eh, evl); !errors.Is(err, ErrMalformed) {
			t.Errorf("Decode(event with ce_type %s) = %v, want ErrMalformed", PartitionClaimed, err)
		}
	})
}

func TestDecodeClaim_Lenient(t *testing.T) {
	key, hs, _, err := EncodeClaim(&testClaim)
	if err != nil {
		t.Fatal(err)
	}
	hs = append([]Header{{"traceparent", []byte("00-abc")}, {HeaderTenant, []byte("ignored")}}, hs...)
	val := []byte(`{"owner":"http://10.0.0.5:8080","epoch":7,"partition":3,"claimedAt":"2025-03-14T15:09:26Z"}`)
	got, err := DecodeClaim(key, hs, val)
	if err != nil {
		t.Fatalf("DecodeClaim with extra headers and fields: %v", err)
	}
	if !reflect.DeepEqual(got, testClaim) {
		t.Errorf("DecodeClaim = %#v, want %#v", got, testClaim)
	}
}

// TestFence walks the fencing sequence with the rule a reader applies.
func TestFence(t *testing.T) {
	claim := func(epoch int64, owner string) *Claim { return &Claim{Partition: 0, Epoch: epoch, Owner: owner} }
	write := func(epoch int64) *Event { return &Event{Epoch: epoch} }
	steps := []struct {
		claim *Claim
		event *Event
		void  bool
		after Fence
	}{
		{event: write(0), after: Fence{}},
		{event: write(5), after: Fence{}}, // above the fence is not void: only older writers are
		{claim: claim(1, "a"), after: Fence{1, "a"}},
		{event: write(0), void: true, after: Fence{1, "a"}},
		{event: write(1), after: Fence{1, "a"}},
		{claim: claim(3, "b"), after: Fence{3, "b"}}, // epochs need not be consecutive
		{event: write(1), void: true, after: Fence{3, "b"}},
		{event: write(2), void: true, after: Fence{3, "b"}},
		{event: write(3), after: Fence{3, "b"}},
		{claim: claim(2, "a"), void: true, after: Fence{3, "b"}},
		{claim: claim(3, "c"), void: true, after: Fence{3, "b"}},
		{claim: claim(3, "b"), after: Fence{3, "b"}},
		{event: write(4), after: Fence{3, "b"}},
	}
	var f Fence
	for i, s := range steps {
		var void bool
		if s.claim != nil {
			var ok bool
			f, ok = f.Claim(s.claim)
			void = !ok
		} else {
			void = f.Voids(s.event)
		}
		if void != s.void || f != s.after {
			t.Errorf("step %d: void %v, fence %+v; want void %v, fence %+v", i, void, f, s.void, s.after)
		}
	}
}

func FuzzDecodeClaim(f *testing.F) {
	key, hs, val, err := EncodeClaim(&testClaim)
	if err != nil {
		f.Fatal(err)
	}
	var b strings.Builder
	for _, h := range hs {
		fmt.Fprintf(&b, "%s: %s\n", h.Key, h.Value)
	}
	f.Add(key, b.String(), val)
	f.Add([]byte("_claim/0"), b.String(), []byte(`{"partition":0,"epoch":1,"owner":"x","Epoch":2}`))
	f.Fuzz(func(t *testing.T, key []byte, headers string, value []byte) {
		c1, err := DecodeClaim(key, fuzzHeaders(headers), value)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("DecodeClaim error %v does not wrap ErrMalformed", err)
			}
			return
		}
		k1, h1, v1, err := EncodeClaim(&c1)
		if err != nil {
			t.Fatalf("EncodeClaim(DecodeClaim(x)): %v", err)
		}
		c2, err := DecodeClaim(k1, h1, v1)
		if err != nil || !reflect.DeepEqual(c2, c1) {
			t.Fatalf("DecodeClaim(EncodeClaim(c)) = %#v, %v; want %#v", c2, err, c1)
		}
		if rec := DecodeRecord(c1.Partition, 0, k1, h1, v1); rec.Claim == nil || !reflect.DeepEqual(*rec.Claim, c1) {
			t.Fatalf("DecodeRecord(EncodeClaim(c)) = %+v, want the claim", rec)
		}
	})
}
