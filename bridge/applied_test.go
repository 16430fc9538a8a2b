package bridge_test

import (
	"context"
	"slices"
	"testing"

	"github.com/scim-bridge/scim-bridge/bridge"
	"github.com/scim-bridge/scim-bridge/events"
	"github.com/scim-bridge/scim-bridge/projection/view"
	"github.com/scim-bridge/scim-bridge/schemas"
)

// TestBridge_Applied: a write answers with the resource it wrote, its
// version and the position the projection has applied, which a read of
// the projection then reflects; the request's digest is the one its events
// carry; what it ignored comes back instead of being dropped.
func TestBridge_Applied(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	p := events.PartitionFor(req.Tenant, e.log.Partitions())
	br := bridge.Request{Tenant: req.Tenant, RequestID: "r-applied", Digest: "0123456789abcdef0123456789abcdef"}

	u, err := e.users.Decode(userBody("ada@example.com"))
	if err != nil {
		t.Fatal(err)
	}
	a, err := e.b.Bridge.Create(ctx, br, e.users, u)
	if err != nil {
		t.Fatalf("Create = %v", err)
	}
	end, err := e.log.End(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if a.ID == "" || a.Version != 1 || a.Partition != p || a.Offset != end[p]-1 || a.Ignored != nil {
		t.Errorf("Create = %+v, want a new id at version 1, partition %d, offset %d, nothing ignored", a, p, end[p]-1)
	}
	st, err := e.store.Get(ctx, req.Tenant, schemas.User, a.ID, view.GetOptions{})
	if err != nil || st.Version != a.Version || st.RequestDigest != br.Digest {
		t.Errorf("the projection holds %+v, %v; want version %d by request %s", st, err, a.Version, br.Digest)
	}
	evs := e.logEvents(t)
	if len(evs) != 1 || evs[0].RequestDigest != br.Digest || evs[0].RequestID != "r-applied" || evs[0].Operation != "POST" {
		t.Errorf("events = %+v, want one POST event carrying the request's id and digest", evs)
	}

	// A group whose members name nothing: skipped, and said so.
	g, err := e.grps.Decode([]byte(`{"schemas":["` + schemas.URNGroup + `"],"displayName":"G","members":[{"value":"` + a.ID + `"},{"value":"ghost"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	ga, err := e.b.Bridge.Create(ctx, bridge.Request{Tenant: req.Tenant}, e.grps, g)
	if err != nil {
		t.Fatalf("Create group = %v", err)
	}
	if want := []schemas.Ignored{{Kind: schemas.IgnoredMember, Name: "ghost"}}; ga.Version != 2 || !slices.Equal(ga.Ignored, want) {
		t.Errorf("Create group = %+v, want version 2 (created, members added) and %v ignored", ga, want)
	}

	// A PATCH that changes nothing appends nothing: no offset.
	noop, err := schemas.ParsePatch(patchBody(`[{"op":"replace","path":"userName","value":"ada@example.com"}]`), 0)
	if err != nil {
		t.Fatal(err)
	}
	pa, err := e.b.Bridge.Patch(ctx, bridge.Request{Tenant: req.Tenant, IfMatch: schemas.ParseETags(`W/"1"`)}, e.users, a.ID, noop)
	if err != nil || pa.ID != a.ID || pa.Version != 1 || pa.Partition != p || pa.Offset != -1 {
		t.Errorf("no-op Patch = %+v, %v; want %s at version 1, partition %d, offset -1", pa, err, a.ID, p)
	}
	_, err = e.b.Bridge.Patch(ctx, bridge.Request{Tenant: req.Tenant, IfMatch: schemas.ParseETags(`W/"7"`)}, e.users, a.ID, noop)
	if schemas.KindOf(err) != schemas.KindPrecondition {
		t.Errorf("Patch with a stale If-Match = %v, want KindPrecondition", err)
	}
}
