package projection

import (
	"fmt"
	"strings"
	"testing"

	"github.com/scim-bridge/scim-bridge/events"
	"github.com/scim-bridge/scim-bridge/schemas"
)

// TestCheckEvent_PlainBound: Store.CheckEvent does not encode the record
// of an event of at most maxPlainEventBytes, on the bound that such an
// event's record, index keys and their number are within the limits
// (maxPlainEventBytes). The events here are made to break that bound at
// the threshold: a resource of <, > and & (six bytes each in the record,
// one in the event) in values and keys, a group's members (not stored),
// as many distinct emails as fit, ids at their limit, a userName that
// folds to other runes. Each is measured against the bound, and the full
// check, which encodes the record, must accept it as the short one does.
func TestCheckEvent_PlainBound(t *testing.T) {
	const n = maxPlainEventBytes
	if 6*n+256+10 > maxValueBytes || n+64 > maxKeyBytes || n/13+3 > maxIndexKeys {
		t.Fatalf("maxPlainEventBytes %d: its bound breaks a limit", n)
	}
	s := openMem(t, Options{})
	at := baseTime
	base := func(typ, rtype, tenant, id string, r schemas.Resource) events.Event {
		return events.Event{ID: "ev-<&>", Type: typ, Source: "/test", Time: at, Tenant: tenant,
			ResourceType: rtype, ResourceID: id, Version: 1, Resource: r, RequestDigest: strings.Repeat("<", 64)}
	}
	longID := strings.Repeat("i", maxIDBytes)
	cases := map[string]func(pad int) events.Event{
		"html in values": func(pad int) events.Event {
			return base(events.UserCreated, "User", "acme", "u1", user("u1", "<&>", "displayName", strings.Repeat("<", pad)))
		},
		"html in keys": func(pad int) events.Event {
			r := user("u1", "x")
			for i := 0; pad > 0; i++ {
				k := fmt.Sprintf("%d%s", i, strings.Repeat("&", min(pad, 500)))
				r[k] = "<>"
				pad -= min(pad, 500)
			}
			return base(events.UserCreated, "User", "acme", "u1", r)
		},
		"group members": func(pad int) events.Event {
			ev := base(events.GroupCreated, "Group", "acme", "g1", group("g1", strings.Repeat(">", pad)))
			ev.Resource["members"] = []any{map[string]any{"value": "u1"}}
			ev.MembersAdded = members("u1")
			return ev
		},
		"emails": func(pad int) events.Event {
			var vs []any
			for i := 0; pad > 0; i++ {
				v := fmt.Sprintf("%x", i)
				vs = append(vs, map[string]any{"value": v})
				pad -= len(v) + 13
			}
			return base(events.UserCreated, "User", "acme", "u1", user("u1", "x", "emails", vs))
		},
		"ids at their limit": func(pad int) events.Event {
			return base(events.UserCreated, "User", longID, longID, user(longID, strings.Repeat("K", pad), "externalId", "<&>"))
		},
		"folded userName": func(pad int) events.Event {
			return base(events.UserUpdated, "User", "acme", "u1", user("u1", strings.Repeat("\u212a", pad/3)))
		},
	}
	for name, make := range cases {
		t.Run(name, func(t *testing.T) {
			// The largest pad whose event is at most n bytes (the size
			// grows with the pad): the worst at the threshold.
			sized := func(pad int) (events.Event, int) {
				ev := make(pad)
				m, err := events.EncodedSize(&ev)
				if err != nil {
					t.Fatalf("EncodedSize() = %v", err)
				}
				return ev, m
			}
			lo, hi := 0, n // sized(lo) <= n < sized(hi)
			for hi-lo > 1 {
				if mid := (lo + hi) / 2; func() bool { _, m := sized(mid); return m <= n }() {
					lo = mid
				} else {
					hi = mid
				}
			}
			ev, size := sized(lo)
			if size < n-600 {
				t.Fatalf("the event is %d bytes, not near the threshold %d", size, n)
			}
			rec := &record{Resource: withoutMembers(ev.Resource), Version: ev.Version, Created: at, LastModified: at,
				EventID: ev.ID, RequestDigest: ev.RequestDigest}
			v, err := encodeRecord(rec)
			if err != nil {
				t.Fatalf("encodeRecord() = %v", err)
			}
			if len(v) > 6*size+256 {
				t.Errorf("an event of %d bytes makes a record of %d, over 6n+256 = %d", size, len(v), 6*size+256)
			}
			typ := canonicalType(ev.ResourceType)
			var sizes []int // of the index keys, and of the userName entry
			for _, k := range indexKeys(nil, ev.Tenant, typ, ev.ResourceID, rec) {
				sizes = append(sizes, len(k))
			}
			if name := foldedUserName(rec); typ == typeUser && name != "" {
				sizes = append(sizes, userNameEntrySize(ev.Tenant, name, ev.ResourceID))
			}
			if len(sizes) > size/13+3 {
				t.Errorf("an event of %d bytes makes %d index entries, over n/13+3", size, len(sizes))
			}
			for _, k := range sizes {
				if k > size+64 {
					t.Errorf("an event of %d bytes makes an index entry of %d bytes, over n+64", size, k)
				}
			}
			if err := CheckEvent(&ev); err != nil {
				t.Errorf("CheckEvent() = %v, but the check without the record passes it", err)
			}
			if err := s.CheckEvent(&ev, size); err != nil {
				t.Errorf("Store.CheckEvent(%d bytes) = %v", size, err)
			}
		})
	}
}

// TestStore_CheckEventSized: past maxPlainEventBytes the store measures
// the record. The smallest events whose record can break the value limit
// are of <, > and & (six bytes each in the record): one with just enough of
// them, far under the log's limit, is refused, and one as large with plain
// characters passes. Ids over their limit are refused at any size.
func TestStore_CheckEventSized(t *testing.T) {
	s := openMem(t, Options{})
	event := func(c string) events.Event {
		r := user("u1", "x")
		for i, left := 0, maxValueBytes/6+64; left > 0; i++ {
			r[fmt.Sprintf("x%d", i)] = strings.Repeat(c, min(left, schemas.MaxStringBytes))
			left -= schemas.MaxStringBytes
		}
		return events.Event{ID: "ev-1", Type: events.UserCreated, Source: "/test", Time: baseTime, Tenant: "acme",
			ResourceType: "User", ResourceID: "u1", Version: 1, Resource: r}
	}
	for _, c := range []struct {
		char string
		fits bool
	}{{"<", false}, {"&", false}, {"p", true}} {
		ev := event(c.char)
		size, err := events.EncodedSize(&ev)
		if err != nil {
			t.Fatal(err)
		}
		if size > events.MaxEventBytes/5 {
			t.Fatalf("the event is %d bytes, want it far under the log's limit", size)
		}
		if err := s.CheckEvent(&ev, size); (err == nil) != c.fits {
			t.Errorf("Store.CheckEvent(%d bytes of %s) = %v, want it to pass: %v", size, c.char, err, c.fits)
		}
	}
	long := strings.Repeat("i", maxIDBytes+1)
	small := events.Event{ID: "ev-2", Type: events.UserCreated, Source: "/test", Time: baseTime, Tenant: "acme",
		ResourceType: "User", ResourceID: long, Version: 1, Resource: user(long, "x")}
	size, err := events.EncodedSize(&small)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.CheckEvent(&small, size); err == nil {
		t.Errorf("Store.CheckEvent(an id over the limit, %d bytes) = nil", size)
	}
}
