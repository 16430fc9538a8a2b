package bridge_test

import (
	"context"
	"reflect"
	"sync/atomic"
	"testing"

	"github.com/scim-bridge/scim-bridge/bridge"
	"github.com/scim-bridge/scim-bridge/projection/view"
	"github.com/scim-bridge/scim-bridge/schemas"
)

// answerReads counts the reads of the state that load what a write's
// answer asks for (GetOptions.Raw: the plan's reads never do).
type answerReads struct {
	bridge.State
	n atomic.Int64
}

func (s *answerReads) Get(ctx context.Context, tenant, resourceType, id string, o view.GetOptions) (view.Stored, error) {
	if o.Raw {
		s.n.Add(1)
	}
	return s.State.Get(ctx, tenant, resourceType, id, o)
}

// A write's answer is what the projection kept of its last event, not a
// read of what it just applied, and it is what that read would give.
func TestBridge_AnswerFromWritten(t *testing.T) {
	ctx := context.Background()
	reads := &answerReads{}
	e := newEnvWith(t, bridge.Options{}, nil, func(st bridge.State) bridge.State { reads.State = st; return reads })
	b := e.b.Bridge
	answer := view.GetOptions{Raw: true, Groups: true}
	groupAnswer := view.GetOptions{Raw: true, Members: true}
	write := func(name string, rt *schemas.ResourceType, o view.GetOptions, do func(bridge.Request) (bridge.Applied, error)) bridge.Applied {
		t.Helper()
		r := req
		r.RequestID = name
		br := e.b.request(r, name, rt, "", []byte(name))
		br.Answer = o
		before := reads.n.Load()
		a, err := do(br)
		if err != nil {
			t.Fatalf("%s = %v", name, err)
		}
		if n := reads.n.Load() - before; n != 0 {
			t.Errorf("%s read its resource back %d times; want its answer from what the projection kept", name, n)
		}
		want, err := e.store.Get(ctx, req.Tenant, rt.Name, a.ID, o)
		if err != nil {
			t.Fatalf("Get(%s) after %s = %v", a.ID, name, err)
		}
		if !reflect.DeepEqual(a.Stored, want) {
			t.Errorf("%s answered\n%#v\nwant what Get gives\n%#v", name, a.Stored, want)
		}
		return a
	}
	decode := func(rt *schemas.ResourceType, body string) schemas.Resource {
		t.Helper()
		r, err := rt.DecodeWith([]byte(body), nil)
		if err != nil {
			t.Fatalf("decode %s: %v", body, err)
		}
		return r
	}

	u := write("POST user", e.users, answer, func(br bridge.Request) (bridge.Applied, error) {
		return b.Create(ctx, br, e.users, decode(e.users, `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"Zoë <z&z>","name":{"givenName":"Zoë"}}`))
	})
	g := write("POST group", e.grps, groupAnswer, func(br bridge.Request) (bridge.Applied, error) {
		return b.Create(ctx, br, e.grps, decode(e.grps, `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"Admins","members":[{"value":"`+u.ID+`"}]}`))
	})
	write("PUT user", e.users, answer, func(br bridge.Request) (bridge.Applied, error) {
		return b.Replace(ctx, br, e.users, u.ID, decode(e.users, `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"zoe","active":false}`))
	})
	write("PATCH user", e.users, answer, func(br bridge.Request) (bridge.Applied, error) {
		p, err := schemas.ParsePatch(patchBody(`[{"op":"replace","path":"displayName","value":"Zoë Z"}]`), schemas.DefaultMaxOperations)
		if err != nil {
			t.Fatal(err)
		}
		return b.Patch(ctx, br, e.users, u.ID, p)
	})
	write("PATCH group", e.grps, groupAnswer, func(br bridge.Request) (bridge.Applied, error) {
		p, err := schemas.ParsePatch(patchBody(`[{"op":"remove","path":"members[value eq \"`+u.ID+`\"]"}]`), schemas.DefaultMaxOperations)
		if err != nil {
			t.Fatal(err)
		}
		return b.Patch(ctx, br, e.grps, g.ID, p)
	})
}
