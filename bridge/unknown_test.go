package bridge_test

import (
	"context"
	"slices"
	"testing"

	"github.com/scim-bridge/scim-bridge/events"
	"github.com/scim-bridge/scim-bridge/schemas"
)

const customURN = "urn:ietf:params:scim:schemas:extension:CustomExt:2.0:User"

// reporting returns req reporting what a write ignored into *got, and
// failing the test if a write reports twice.
func reporting(t *testing.T, strict bool, got *[]schemas.Ignored) request {
	r := req
	r.Strict = strict
	*got = nil
	calls := 0
	r.Ignored = func(ig []schemas.Ignored) {
		calls++
		if calls > 1 {
			t.Errorf("Ignored called %d times for one write", calls)
		}
		*got = append(*got, ig...)
	}
	return r
}

// TestBridge_UnknownInput: POST, PUT and PATCH (path-less, as Entra sends a
// mapped custom attribute on every update) ignore and report unknown
// attributes by default and fail in strict mode.
func TestBridge_UnknownInput(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	var got []schemas.Ignored

	body := []byte(`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User","` + customURN + `"],"userName":"ann@example.com",
		"` + customURN + `":{"costCode":"7"}}`)
	if _, err := e.b.Create(ctx, reporting(t, true, &got), e.users, body); schemas.KindOf(err) != schemas.KindInvalidValue {
		t.Fatalf("Create(unknown schema, strict) = %v, want KindInvalidValue", err)
	}
	st, err := e.b.Create(ctx, reporting(t, false, &got), e.users, body)
	if err != nil {
		t.Fatalf("Create(unknown schema) = %v", err)
	}
	if want := []schemas.Ignored{{Kind: schemas.IgnoredSchema, Name: customURN}}; !slices.Equal(got, want) {
		t.Errorf("Create reported %v, want %v", got, want)
	}
	id := st.Resource.ID()

	patch := patchBody(`[{"op":"Replace","value":{"displayName":"Ann","` + customURN + `:costCode":"8"}}]`)
	if _, err := e.b.Patch(ctx, reporting(t, true, &got), e.users, id, patch); schemas.KindOf(err) != schemas.KindInvalidValue {
		t.Fatalf("Patch(unknown key, strict) = %v, want KindInvalidValue", err)
	}
	st, err = e.b.Patch(ctx, reporting(t, false, &got), e.users, id, patch)
	if err != nil || st.Resource["displayName"] != "Ann" {
		t.Fatalf("Patch(unknown key) = %v, %v; want displayName Ann", st.Resource, err)
	}
	if want := []schemas.Ignored{{Kind: schemas.IgnoredSchema, Name: customURN + ":costCode"}}; !slices.Equal(got, want) {
		t.Errorf("Patch reported %v, want %v", got, want)
	}

	put := []byte(`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"ann@example.com","nickname2":"a"}`)
	if _, err := e.b.Replace(ctx, reporting(t, true, &got), e.users, id, put); schemas.KindOf(err) != schemas.KindInvalidValue {
		t.Fatalf("Replace(unknown attribute, strict) = %v, want KindInvalidValue", err)
	}
	if _, err := e.b.Replace(ctx, reporting(t, false, &got), e.users, id, put); err != nil {
		t.Fatalf("Replace(unknown attribute) = %v", err)
	}
	if want := []schemas.Ignored{{Kind: schemas.IgnoredAttribute, Name: "nickname2"}}; !slices.Equal(got, want) {
		t.Errorf("Replace reported %v, want %v", got, want)
	}

	// A write that ignores nothing reports nothing.
	if _, err := e.b.Patch(ctx, reporting(t, false, &got), e.users, id, patchBody(`[{"op":"replace","path":"title","value":"x"}]`)); err != nil || got != nil {
		t.Errorf("Patch(known) = %v, reported %v; want no error, nothing", err, got)
	}
}

// TestBridge_UnknownMembers: one unknown id in a batched member add (a user
// deleted on our side while the IdP still lists it) no longer blocks the
// others; strict mode keeps the 400. Every member event says the member's
// type, also for a removal by bare value.
func TestBridge_UnknownMembers(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	var ids []string
	for _, n := range []string{"a", "b", "c"} {
		st, err := e.b.Create(ctx, req, e.users, userBody(n+"@example.com"))
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, st.Resource.ID())
	}
	var got []schemas.Ignored
	g, err := e.b.Create(ctx, reporting(t, false, &got), e.grps,
		[]byte(`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"Eng","members":[{"value":"`+ids[0]+`"},{"value":"gone-1"}]}`))
	if err != nil {
		t.Fatalf("Create(group with an unknown member) = %v", err)
	}
	gid := g.Resource.ID()
	if want := []schemas.Ignored{{Kind: schemas.IgnoredMember, Name: "gone-1"}}; !slices.Equal(got, want) {
		t.Errorf("Create reported %v, want %v", got, want)
	}

	add := patchBody(`[{"op":"add","path":"members","value":[{"value":"` + ids[1] + `"},{"value":"gone-2"},{"value":"` + ids[2] + `"}]}]`)
	if _, err := e.b.Patch(ctx, reporting(t, true, &got), e.grps, gid, add); schemas.KindOf(err) != schemas.KindInvalidValue {
		t.Fatalf("Patch(add with an unknown member, strict) = %v, want KindInvalidValue", err)
	}
	if _, err := e.b.Patch(ctx, reporting(t, false, &got), e.grps, gid, add); err != nil {
		t.Fatalf("Patch(add with an unknown member) = %v", err)
	}
	if want := []schemas.Ignored{{Kind: schemas.IgnoredMember, Name: "gone-2"}}; !slices.Equal(got, want) {
		t.Errorf("Patch reported %v, want %v", got, want)
	}
	checkMembers := func(want ...string) {
		t.Helper()
		ms, err := e.store.MemberList(ctx, req.Tenant, gid)
		if err != nil {
			t.Fatal(err)
		}
		var have []string
		for _, m := range ms {
			have = append(have, m.Value)
		}
		want = slices.Clone(want)
		slices.Sort(want)
		if !slices.Equal(have, want) {
			t.Errorf("members = %v, want %v", have, want)
		}
	}
	checkMembers(ids...)

	// Entra's removal: a bare value, no type.
	if _, err := e.b.Patch(ctx, req, e.grps, gid, patchBody(`[{"op":"Remove","path":"members","value":[{"value":"`+ids[1]+`"}]}]`)); err != nil {
		t.Fatal(err)
	}
	if err := e.b.Delete(ctx, req, e.users, ids[2]); err != nil {
		t.Fatal(err)
	}
	checkMembers(ids[0])
	var changes int
	for _, ev := range e.logEvents(t) {
		if ev.Type != events.GroupMembersAdded && ev.Type != events.GroupMembersRemoved {
			continue
		}
		for _, m := range append(ev.MembersAdded, ev.MembersRemoved...) {
			changes++
			if m.Type != "User" || m.Value == "gone-1" || m.Value == "gone-2" {
				t.Errorf("%s (%s) member %+v: want an existing member of type User", ev.Type, ev.Operation, m)
			}
		}
	}
	if changes != 5 { // a; b and c; b removed; c deleted
		t.Errorf("%d member changes in the events, want 5", changes)
	}
}
