package bridge_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/scim-bridge/scim-bridge/bridge"
	"github.com/scim-bridge/scim-bridge/projection"
	"github.com/scim-bridge/scim-bridge/schemas"
)

// failingMembers is a State whose group member reads fail, as a disk error
// or a request that ended mid-plan would.
type failingMembers struct {
	*projection.Store
	err error
}

func (f failingMembers) Members(ctx context.Context, tenant, groupID string) schemas.Members {
	return brokenSet{f.err}
}

type brokenSet struct{ err error }

func (b brokenSet) Contains(string) bool { return false }
func (b brokenSet) Lookup(string) (schemas.Member, bool) {
	return schemas.Member{}, false
}
func (b brokenSet) List() []schemas.Member { return nil }
func (b brokenSet) Err() error             { return b.err }

// A failed membership read must fail the write, not read as "not a
// member": before, the removal of a member was silently dropped and the
// rest of the PATCH committed.
func TestBridge_MemberReadFailureAppendsNothing(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	var ids []string
	for i := range 2 {
		st, err := e.b.Create(ctx, req, e.users, userBody(fmt.Sprintf("m%d@example.com", i)))
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, st.Resource.ID())
	}
	g, err := e.b.Create(ctx, req, e.grps,
		[]byte(`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"Ops","members":[{"value":"`+ids[0]+`"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	before := len(e.logEvents(t))

	disk := errors.New("disk read failed")
	nb, err := bridge.New(e.log, failingMembers{Store: e.store, err: disk}, e.reg, bridge.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer nb.Close()
	b := client{nb, e.store}
	for _, tc := range []struct {
		name string
		do   func() error
	}{
		{"PatchRemoveAndRename", func() error {
			_, err := b.Patch(ctx, req, e.grps, g.Resource.ID(), patchBody(`[
				{"op":"remove","path":"members[value eq \"`+ids[0]+`\"]"},
				{"op":"replace","path":"displayName","value":"Ops EMEA"}]`))
			return err
		}},
		{"PatchEntraRemove", func() error {
			_, err := b.Patch(ctx, req, e.grps, g.Resource.ID(), patchBody(`[
				{"op":"Remove","path":"members","value":[{"value":"`+ids[0]+`"}]},
				{"op":"Add","path":"members","value":[{"value":"`+ids[1]+`"}]}]`))
			return err
		}},
		{"PutMembers", func() error {
			_, err := b.Replace(ctx, req, e.grps, g.Resource.ID(),
				[]byte(`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"Ops","members":[{"value":"`+ids[1]+`"}]}`))
			return err
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.do(); !errors.Is(err, disk) {
				t.Errorf("write with failing member reads = %v, want the read's error", err)
			}
		})
	}
	if after := len(e.logEvents(t)); after != before {
		t.Errorf("the log grew from %d to %d events: a write planned on failed reads was appended", before, after)
	}
	ms, err := e.store.MemberList(ctx, req.Tenant, g.Resource.ID())
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) != 1 || ms[0].Value != ids[0] {
		t.Errorf("members = %v, want only %s", ms, ids[0])
	}
}
