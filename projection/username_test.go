package projection

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/scim-bridge/scim-bridge/events"
	"github.com/scim-bridge/scim-bridge/projection/view"
	"github.com/scim-bridge/scim-bridge/schemas"
)

// checkUserNameKeys checks every userName key (nsUserNameID) of s against
// the u index: each folded userName there has one, naming one of the users
// that index lists under it, and no key is left without a user.
func checkUserNameKeys(t *testing.T, s *Store) {
	t.Helper()
	claimants := map[string][]string{} // tenant, folded userName -> ids
	holders := map[string]string{}     // tenant, folded userName -> the key's id
	err := s.Export(context.Background(), func(k, v []byte) error {
		if len(k) == 0 || k[0] != tagTenant {
			return nil
		}
		tenant, rest, ok := readStr(k[1:])
		if !ok || len(rest) == 0 {
			return fmt.Errorf("malformed key %q", k)
		}
		ns, rest := rest[0], rest[1:]
		switch ns {
		case nsUserName:
			name, rest, ok := readStr(rest)
			id, _, ok2 := readStr(rest)
			if !ok || !ok2 {
				return fmt.Errorf("malformed key %q", k)
			}
			claimants[tenant+"\x00"+name] = append(claimants[tenant+"\x00"+name], id)
		case nsUserNameID:
			name, _, ok := readStr(rest)
			if !ok {
				return fmt.Errorf("malformed key %q", k)
			}
			holders[tenant+"\x00"+name] = string(v)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("Export() = %v", err)
	}
	for name, ids := range claimants {
		holder, ok := holders[name]
		switch {
		case !ok:
			t.Errorf("userName %q of %v has no userName key", name, ids)
		case !slices.Contains(ids, holder):
			t.Errorf("userName key %q names %q, not one of its users %v", name, holder, ids)
		}
	}
	for name, holder := range holders {
		if _, ok := claimants[name]; !ok {
			t.Errorf("userName key %q = %q is left without a user", name, holder)
		}
	}
}

// holderOf returns the user the list for `userName eq name` answers with,
// which must be the one UserIDByUserName names, as Get has it ("" for
// none).
func holderOf(t *testing.T, s *Store, name string) string {
	t.Helper()
	ctx := context.Background()
	id, found, err := s.UserIDByUserName(ctx, "acme", name)
	if err != nil {
		t.Fatalf("UserIDByUserName(%q) = %v", name, err)
	}
	e, err := schemas.ParseFilter(`userName eq "` + name + `"`)
	if err != nil {
		t.Fatal(err)
	}
	page, err := s.List(ctx, "acme", "User", view.Query{Filter: e, Count: 10, Get: view.GetOptions{Groups: true}})
	if err != nil {
		t.Fatalf("List(userName eq %q) = %v", name, err)
	}
	if !found {
		if page.Total != 0 {
			t.Errorf("List(userName eq %q) = %d users, want none (UserIDByUserName finds none)", name, page.Total)
		}
		return ""
	}
	if page.Total != 1 || len(page.Resources) != 1 || page.Resources[0].Resource.ID() != id {
		t.Fatalf("List(userName eq %q) = %+v, want the one user %q", name, page, id)
	}
	got, err := s.Get(ctx, "acme", "User", id, view.GetOptions{Groups: true})
	if err != nil {
		t.Fatalf("Get(%q) = %v", id, err)
	}
	if st := page.Resources[0]; st.Version != got.Version || !st.LastModified.Equal(got.LastModified) {
		t.Errorf("List(userName eq %q) answers version %d of %v, Get version %d of %v",
			name, st.Version, st.LastModified, got.Version, got.LastModified)
	}
	return id
}

// TestStore_UserNameKeyClaimants: should a log hold several users with one
// userName (the bridge refuses them, a hand-made log may not), the
// userName's key stays with the first user who claimed it, whatever the
// others do, and passes to the claimant of least id when its holder lets
// go (a rename, a delete); userName eq answers with the holder, and
// applying one record at a time and in batches writes the same bytes.
// With UUID ids, which the userName hints hold, the hints must not answer
// with a claimant the key does not name (such names are never hinted).
func TestStore_UserNameKeyClaimants(t *testing.T) {
	for _, ids := range []struct {
		name string
		of   func(n int) string
	}{{"PlainIDs", func(n int) string { return fmt.Sprintf("u%d", n) }}, {"UUIDs", hintID}} {
		t.Run(ids.name, func(t *testing.T) { testUserNameKeyClaimants(t, ids.of) })
	}
}

func testUserNameKeyClaimants(t *testing.T, idOf func(n int) string) {
	u0, u1, u2 := idOf(0), idOf(1), idOf(2)
	f := newFeed()
	f.userCreated("acme", u2, "Twin@example.com", "title", "first")
	f.userCreated("acme", u1, "TWIN@example.com", "title", "second") // not the holder, although of lesser id
	f.groupCreated("acme", "g1", "Admins")
	f.addMembers("acme", "g1", u1, u2)
	steps := []struct {
		name   string
		emit   func()
		holder string // of "twin@example.com"
	}{
		{"Created", func() {}, u2},
		{"OtherUpdated", func() {
			f.emit(events.UserUpdated, "acme", "User", u1, user(u1, "twin@EXAMPLE.com", "title", "changed"), nil, nil)
		}, u2},
		{"HolderUpdated", func() {
			f.emit(events.UserUpdated, "acme", "User", u2, user(u2, "Twin@example.com", "title", "changed too"), nil, nil)
		}, u2},
		{"HolderDeactivated", func() {
			f.emit(events.UserDeactivated, "acme", "User", u2, user(u2, "Twin@example.com", "active", false), nil, nil)
		}, u2},
		{"ThirdCreated", func() { f.userCreated("acme", u0, "twin@example.COM") }, u2},
		{"HolderRenamed", func() {
			f.emit(events.UserUpdated, "acme", "User", u2, user(u2, "solo@example.com"), nil, nil)
		}, u0},
		{"NewHolderUpdated", func() {
			f.emit(events.UserUpdated, "acme", "User", u0, user(u0, "twin@example.com", "title", "third"), nil, nil)
		}, u0},
		{"HolderDeleted", func() { f.emit(events.UserDeleted, "acme", "User", u0, nil, nil, nil) }, u1},
		{"RenamedBack", func() {
			f.emit(events.UserUpdated, "acme", "User", u2, user(u2, "TWIN@example.com"), nil, nil)
		}, u1},
		{"HolderRenamedAway", func() {
			f.emit(events.UserUpdated, "acme", "User", u1, user(u1, "other@example.com"), nil, nil)
		}, u2},
		{"LastDeleted", func() { f.emit(events.UserDeleted, "acme", "User", u2, nil, nil, nil) }, ""},
	}
	alone := openMem(t, Options{})
	waitHints(t, alone)
	applied := 0
	for _, step := range steps {
		step.emit()
		applyAll(t, alone, f.recs[applied:])
		applied = len(f.recs)
		if got := holderOf(t, alone, "twin@example.com"); got != step.holder {
			t.Errorf("%s: userName key held by %q, want %q", step.name, got, step.holder)
		}
		checkUserNameKeys(t, alone)
	}
	if got := holderOf(t, alone, "solo@example.com"); got != "" {
		t.Errorf("solo@example.com held by %q after its user was renamed back", got)
	}
	if got := holderOf(t, alone, "other@example.com"); got != u1 {
		t.Errorf("other@example.com held by %q, want u1", got)
	}
	batched := openMem(t, Options{})
	if err := batched.applyRecords(f.recs); err != nil {
		t.Fatalf("applyRecords() = %v", err)
	}
	if d := diffLines(export(t, alone), export(t, batched)); d != "" {
		t.Errorf("export of a batched replay differs from one-by-one Apply: %s", d)
	}
}
