package projection

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/scim-bridge/scim-bridge/events"
	"github.com/scim-bridge/scim-bridge/schemas"
)

// FuzzStore_Apply applies an arbitrary event after a small state, alone
// and inside a batch: applying never fails or panics (an event it cannot
// apply is skipped), both ways end with the same bytes, and every
// userName key names one of the userName's users.
func FuzzStore_Apply(f *testing.F) {
	f.Add("user.updated", "User", "acme", "u1", int64(2), int64(1), []byte(`{"id":"u1","userName":"x","emails":[{"value":"a@b"}]}`), []byte(`[]`))
	f.Add("user.created", "User", "acme", "u9", int64(1), int64(0), []byte(`{"userName":7,"emails":"nope","externalId":["x"]}`), []byte(`null`))
	f.Add("user.deleted", "User", "acme", "nope", int64(1), int64(0), []byte(`null`), []byte(`null`))
	f.Add("group.members_added", "Group", "acme", "nope", int64(1), int64(0), []byte(`null`), []byte(`[{"value":"u1"}]`))
	f.Add("group.members_removed", "group", "acme", "g1", int64(3), int64(2), []byte(`null`), []byte(`[{"value":"u1"},{"value":""}]`))
	f.Add("group.updated", "Group", "acme", "g1", int64(3), int64(2), []byte(`{"displayName":{"a":1},"members":[1,2]}`), []byte(`[]`))
	f.Add("group.deleted", "Group", "acme", "g1", int64(3), int64(2), []byte(`{}`), []byte(`[{"value":"g1","type":"Group"}]`))
	f.Add("user.reactivated", "User", "", "", int64(-1), int64(5), []byte(`[1]`), []byte(`{}`))
	f.Fuzz(func(t *testing.T, typ, rtype, tenant, id string, version, prev int64, resource, members []byte) {
		ev := events.Event{Type: typ, Tenant: tenant, ResourceType: rtype, ResourceID: id, Version: version, PrevVersion: prev}
		dec := json.NewDecoder(bytes.NewReader(resource))
		dec.UseNumber()
		var r map[string]any
		if dec.Decode(&r) == nil {
			ev.Resource = schemas.Resource(r)
		}
		_ = json.Unmarshal(members, &ev.MembersAdded)
		_ = json.Unmarshal(members, &ev.MembersRemoved)

		feed := newFeed()
		feed.userCreated("acme", "u1", "alice", "emails", emails("a@example.com"))
		feed.groupCreated("acme", "g1", "Admins")
		feed.addMembers("acme", "g1", "u1")
		feed.raw(ev)
		feed.userCreated("acme", "u2", "bob")

		opts := Options{memTableSize: 4 << 20}
		alone := openMem(t, opts)
		for _, rec := range feed.recs {
			if err := alone.Apply(rec); err != nil {
				t.Fatalf("Apply(offset %d) = %v", rec.Offset, err)
			}
		}
		batched := openMem(t, opts)
		if err := batched.applyRecords(feed.recs); err != nil {
			t.Fatalf("applyRecords() = %v", err)
		}
		if got, want := batched.Applied()[0], int64(len(feed.recs)); got != want {
			t.Errorf("Applied() = %d, want %d", got, want)
		}
		for _, s := range []*Store{alone, batched} {
			if n := counterValue(t, s.m.skipped.WithLabelValues(reasonPanic)); n != 0 {
				t.Fatalf("applying %+v panicked (see the log)", ev)
			}
		}
		if d := diffLines(export(t, alone), export(t, batched)); d != "" {
			t.Errorf("export of a batched replay differs from one-by-one Apply: %s", d)
		}
		checkUserNameKeys(t, alone)
	})
}
