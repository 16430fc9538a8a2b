package kafka

import (
	"slices"
	"testing"
	"time"

	"github.com/scim-bridge/scim-bridge/events"
	"github.com/scim-bridge/scim-bridge/schemas"
	"github.com/scim-bridge/scim-bridge/schemas/eventschema"
)

// sampleEvents returns one event of every type, shaped as the bridge
// produces them.
func sampleEvents() []events.Event {
	user := schemas.Resource{
		"schemas":  []any{schemas.URNUser},
		"id":       "u1",
		"userName": "ada@example.com",
		"active":   true,
	}
	group := schemas.Resource{"schemas": []any{schemas.URNGroup}, "id": "g1", "displayName": "Engineers"}
	members := []schemas.Member{{Value: "u1", Type: "User", Display: "Ada"}}
	ev := func(typ, rt, id, op string, v int64, res schemas.Resource) events.Event {
		return events.Event{
			ID: events.NewEventID(), Type: typ, Source: "/scim-bridge/test",
			Time:   time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC),
			Tenant: "acme", ResourceType: rt, ResourceID: id, Version: v, PrevVersion: v - 1,
			Resource: res, RequestID: "req-1", RequestDigest: "9f86d081884c7d659a2feaa0c55ad015", Operation: op,
		}
	}
	changed := func(e events.Event, attrs ...string) events.Event { e.ChangedAttributes = attrs; return e }
	added := ev(events.GroupMembersAdded, "Group", "g1", "PATCH", 2, group)
	added.MembersAdded, added.ChangedAttributes = members, []string{"members"}
	removed := ev(events.GroupMembersRemoved, "Group", "g1", "DELETE", 3, group)
	removed.MembersRemoved, removed.ChangedAttributes = members, []string{"members"}
	updated := changed(ev(events.UserUpdated, "User", "u1", "PUT", 2, user), "userName")
	updated.Epoch = 3 // written by the owner of a claim
	return []events.Event{
		changed(ev(events.UserCreated, "User", "u1", "POST", 1, user), "active", "schemas", "userName"),
		updated,
		changed(ev(events.UserDeactivated, "User", "u1", "PATCH", 3, user), "active"),
		changed(ev(events.UserReactivated, "User", "u1", "PATCH", 4, user), "active"),
		ev(events.UserDeleted, "User", "u1", "DELETE", 5, nil),
		changed(ev(events.GroupCreated, "Group", "g1", "POST", 1, group), "displayName", "schemas"),
		changed(ev(events.GroupUpdated, "Group", "g1", "PATCH", 2, group), "displayName"),
		added,
		removed,
		ev(events.GroupDeleted, "Group", "g1", "DELETE", 4, nil),
	}
}

// validateRecord checks an encoded record against the published schemas.
func validateRecord(t *testing.T, typ string, headers []events.Header, value []byte) {
	t.Helper()
	h := map[string]string{}
	for _, x := range headers {
		h[x.Key] = string(x.Value)
	}
	if err := eventschema.ValidateHeaders(typ, h); err != nil {
		t.Errorf("headers of %s: %v", typ, err)
	}
	if err := eventschema.Validate(typ, value); err != nil {
		t.Errorf("value of %s: %v\n%s", typ, err, value)
	}
}

func TestEventSchema_Encode(t *testing.T) {
	var types []string
	for _, e := range sampleEvents() {
		types = append(types, e.Type)
		t.Run(e.Type, func(t *testing.T) {
			_, headers, value, err := events.Encode(&e)
			if err != nil {
				t.Fatalf("Encode(%s): %v", e.Type, err)
			}
			validateRecord(t, e.Type, headers, value)
		})
	}
	types = append(types, events.PartitionClaimed)
	t.Run(events.PartitionClaimed, func(t *testing.T) {
		c := events.Claim{ID: events.NewEventID(), Source: "/scim-bridge/test", Time: time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC),
			Partition: 5, Epoch: 9, Owner: "http://10.0.0.7:8080"}
		_, headers, value, err := events.EncodeClaim(&c)
		if err != nil {
			t.Fatalf("EncodeClaim: %v", err)
		}
		validateRecord(t, events.PartitionClaimed, headers, value)
	})
	want := eventschema.Types()
	slices.Sort(types)
	slices.Sort(want)
	if got := types; !slices.Equal(got, want) {
		t.Errorf("event types with samples = %v, eventschema.Types() = %v: every type needs a schema", got, want)
	}
}

// TestEventSchema_Rejects makes sure the validation above can fail: events
// that break the contract do not pass.
func TestEventSchema_Rejects(t *testing.T) {
	samples := sampleEvents()
	tests := []struct {
		name string
		e    events.Event
	}{
		{"Password", func() events.Event {
			e := samples[0]
			e.Resource = schemas.Resource{"id": "u1", "password": "secret"}
			return e
		}()},
		{"DeleteWithResource", func() events.Event { e := samples[4]; e.Resource = samples[0].Resource; return e }()},
		{"MembersInGroup", func() events.Event {
			e := samples[5]
			e.Resource = schemas.Resource{"id": "g1", "members": []any{map[string]any{"value": "u1"}}}
			return e
		}()},
		{"MembersAddedWithoutMembers", func() events.Event { e := samples[7]; e.MembersAdded = nil; return e }()},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, _, value, err := events.Encode(&tc.e)
			if err != nil {
				t.Fatalf("Encode: %v", err)
			}
			if err := eventschema.Validate(tc.e.Type, value); err == nil {
				t.Errorf("Validate(%s) = nil, want an error for\n%s", tc.e.Type, value)
			}
		})
	}
}
