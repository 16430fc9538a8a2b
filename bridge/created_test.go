package bridge_test

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/scim-bridge/scim-bridge/bridge"
	"github.com/scim-bridge/scim-bridge/events"
	"github.com/scim-bridge/scim-bridge/schemas"
)

// createdByState counts the look-ups of an earlier attempt of a POST.
type createdByState struct {
	bridge.State
	n atomic.Int64
}

func (s *createdByState) CreatedBy(ctx context.Context, tenant, digest string) (string, bool, error) {
	s.n.Add(1)
	return s.State.CreatedBy(ctx, tenant, digest)
}

// A POST of a user whose userName is free does not look up an earlier
// attempt (its user would hold the userName); one whose userName is
// taken, after a lost acknowledgement, does and is answered with the user
// that attempt created; a group, without a unique attribute, always looks.
func TestBridge_CreatedByOnlyWhenTaken(t *testing.T) {
	ctx := context.Background()
	st := &createdByState{}
	e := newEnvWith(t, bridge.Options{}, nil, func(s bridge.State) bridge.State { st.State = s; return st })

	if _, err := e.b.Create(ctx, req, e.users, userBody("free@example.com")); err != nil {
		t.Fatal(err)
	}
	if n := st.n.Load(); n != 0 {
		t.Errorf("a POST of a free userName looked up an earlier attempt %d times, want none", n)
	}

	e.log.setLose(true)
	if _, err := e.b.Create(ctx, req, e.users, userBody("lost@example.com")); schemas.KindOf(err) != schemas.KindUnavailable {
		t.Fatalf("Create with the acknowledgement lost = %v, want KindUnavailable", err)
	}
	e.log.setLose(false)
	e.caughtUp(t)
	landed, _, err := e.store.UserIDByUserName(ctx, req.Tenant, "lost@example.com")
	if err != nil || landed == "" {
		t.Fatalf("the lost write did not land (%q, %v): the test proves nothing", landed, err)
	}
	before := st.n.Load()
	a, err := e.b.Create(ctx, req, e.users, userBody("lost@example.com"))
	if err != nil || a.Resource.ID() != landed {
		t.Fatalf("retried Create = %+v, %v; want the landed user %s", a, err, landed)
	}
	if st.n.Load() == before {
		t.Errorf("the retry of a POST whose userName is taken did not look up its earlier attempt")
	}
	// A different request for a taken userName: 409.
	if _, err := e.b.Create(ctx, req, e.users, []byte(`{"userName":"LOST@example.com","schemas":["urn:ietf:params:scim:schemas:core:2.0:User"]}`)); schemas.KindOf(err) != schemas.KindUniqueness {
		t.Errorf("Create of a taken userName = %v, want KindUniqueness", err)
	}

	before = st.n.Load()
	if _, err := e.b.Create(ctx, req, e.grps, groupBody("Eng")); err != nil {
		t.Fatal(err)
	}
	if st.n.Load() == before {
		t.Errorf("a POST of a group did not look up an earlier attempt")
	}
	if n := e.countTypes(t); n[events.UserCreated] != 2 || n[events.GroupCreated] != 1 {
		t.Errorf("events = %v, want two user.created and one group.created", n)
	}
}
