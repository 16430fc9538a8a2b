package bridge_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/scim-bridge/scim-bridge/events"
	"github.com/scim-bridge/scim-bridge/projection"
	"github.com/scim-bridge/scim-bridge/schemas"
)

// A write whose events a claim voids did not happen: it fails with
// KindUnavailable (503 and Retry-After), and once the bridge writes under
// the claim's epoch, writes go through again, the barrier passing the void
// records at the end of the partition.
func TestBridge_FencedWrite(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	if _, err := e.b.Create(ctx, req, e.users, userBody("alice@example.com")); err != nil {
		t.Fatalf("Create(alice) under epoch 0 = %v", err)
	}

	// Another replica claims the tenant's partition.
	p := events.PartitionFor(req.Tenant, e.log.Partitions())
	c := events.Claim{ID: events.NewEventID(), Source: "/scim-bridge/other", Time: time.Now(),
		Partition: p, Epoch: 1, Owner: "http://b.example:8080"}
	off, err := e.log.AppendClaim(ctx, c)
	if err != nil {
		t.Fatalf("AppendClaim() = %v", err)
	}
	if err := e.store.WaitApplied(ctx, p, off); err != nil {
		t.Fatalf("WaitApplied(claim) = %v", err)
	}

	// This bridge still writes under epoch 0: fenced off.
	_, err = e.b.Create(ctx, req, e.users, userBody("bob@example.com"))
	if schemas.KindOf(err) != schemas.KindUnavailable || !errors.Is(err, projection.ErrVoid) {
		t.Fatalf("Create(bob) under a stale epoch = %v, want KindUnavailable wrapping projection.ErrVoid", err)
	}
	evs := e.logEvents(t)
	if last := evs[len(evs)-1]; last.Type != events.UserCreated || last.Epoch != 0 {
		t.Fatalf("last event = %s under epoch %d, want bob's user.created under 0", last.Type, last.Epoch)
	}

	// Under the claim's epoch the same write goes through: bob was not
	// created before (userName is unique), and the barrier waited past the
	// void record.
	e.b.SetEpoch(1)
	st, err := e.b.Create(ctx, req, e.users, userBody("bob@example.com"))
	if err != nil {
		t.Fatalf("Create(bob) under the claim's epoch = %v, want success", err)
	}
	if st.Version != 1 {
		t.Errorf("Create(bob) = version %d, want 1", st.Version)
	}
	evs = e.logEvents(t)
	if last := evs[len(evs)-1]; last.Epoch != 1 || last.ResourceID != st.Resource.ID() {
		t.Errorf("last event = %s of %s under epoch %d, want bob's under 1", last.Type, last.ResourceID, last.Epoch)
	}
}
