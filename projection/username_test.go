package projection

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/scim-bridge/scim-bridge/events"
	"github.com/scim-bridge/scim-bridge/projection/view"
	"github.com/scim-bridge/scim-bridge/schemas"
)

// checkUserNameKeys checks every userName key (nsUserName) of s against
// the stored users: each folded userName a user holds has one, listing
// every user holding it, each once, the others than the first in byte
// order, and no key is left without a user.
func checkUserNameKeys(t *testing.T, s *Store) {
	t.Helper()
	claimants := map[string][]string{} // tenant, folded userName -> ids, from the records
	holders := map[string][]string{}   // tenant, folded userName -> the key's ids
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
		case nsResource:
			typ, rest, ok := readStr(rest)
			if !ok || typ != typeUser {
				return nil
			}
			id, _, ok := readStr(rest)
			if !ok {
				return fmt.Errorf("malformed key %q", k)
			}
			rec, err := decodeRecord(v)
			if err != nil {
				return err
			}
			if name := foldedUserName(rec); name != "" {
				claimants[tenant+"\x00"+name] = append(claimants[tenant+"\x00"+name], id)
			}
		case 'u':
			return fmt.Errorf("key %q in the namespace of format 6's userName index, which a user's userName key replaced", k)
		case nsUserName:
			name, _, ok := readStr(rest)
			if !ok {
				return fmt.Errorf("malformed key %q", k)
			}
			h, err := decodeUserNameHolders(v)
			if err != nil {
				return fmt.Errorf("userName key %q: %w", name, err)
			}
			holders[tenant+"\x00"+name] = h
		}
		return nil
	})
	if err != nil {
		t.Fatalf("Export() = %v", err)
	}
	for name, ids := range claimants {
		h, ok := holders[name]
		switch {
		case !ok:
			t.Errorf("userName %q of %v has no userName key", name, ids)
		case len(h) != len(ids) || !slices.Equal(slices.Sorted(slices.Values(h)), ids): // ids: in key order
			t.Errorf("userName key %q lists %q, want its users %q", name, h, ids)
		case !slices.IsSorted(h[1:]):
			t.Errorf("userName key %q lists %q: the others than the holder not in order", name, h)
		}
	}
	for name, h := range holders {
		if _, ok := claimants[name]; !ok {
			t.Errorf("userName key %q = %q is left without a user", name, h)
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

// TestStore_UserNameHolders: several users holding one userName (a log
// the bridge did not write alone: two writers in the Kafka window, D40)
// answer every userName filter as when each had an index key of its own:
// userName eq, and UserIDByUserName, with the holder alone (the first
// claimant still holding it, then the claimant of least id), userName sw
// with every user whose userName starts so, in id order, through the
// holder's deletion and renames into and out of a crowded userName.
func TestStore_UserNameHolders(t *testing.T) {
	for _, ids := range []struct {
		name string
		of   func(n int) string
	}{{"PlainIDs", func(n int) string { return fmt.Sprintf("u%d", n) }}, {"UUIDs", hintID}} {
		t.Run(ids.name, func(t *testing.T) { testUserNameHolders(t, ids.of) })
	}
}

func testUserNameHolders(t *testing.T, idOf func(n int) string) {
	u1, u2, u3, u4, u5, u6 := idOf(1), idOf(2), idOf(3), idOf(4), idOf(5), idOf(6)
	f := newFeed()
	s := openMem(t, Options{})
	waitHints(t, s)
	ctx := context.Background()
	applied := 0
	steps := []struct {
		name           string
		emit           func()
		crowd, crowded string // the holders userName eq answers with
	}{
		{"Created", func() {
			f.userCreated("acme", u2, "Crowd@example.com")
			f.userCreated("acme", u3, "CROWD@example.com")
			f.userCreated("acme", u1, "crowd@EXAMPLE.com")
			f.userCreated("acme", u4, "crowded@example.com")
			f.userCreated("acme", u5, "solo@example.com")
		}, u2, u4},
		{"OtherUpdated", func() {
			f.emit(events.UserUpdated, "acme", "User", u3, user(u3, "crowd@example.com", "title", "x"), nil, nil)
		}, u2, u4},
		{"HolderDeleted", func() { f.emit(events.UserDeleted, "acme", "User", u2, nil, nil, nil) }, u1, u4},
		{"OtherRenamed", func() {
			f.emit(events.UserUpdated, "acme", "User", u3, user(u3, "crowded@example.com"), nil, nil)
		}, u1, u4},
		{"LastRenamed", func() {
			f.emit(events.UserUpdated, "acme", "User", u1, user(u1, "Crowded@Example.com"), nil, nil)
		}, "", u4},
		{"CrowdedHolderDeleted", func() { f.emit(events.UserDeleted, "acme", "User", u4, nil, nil, nil) }, "", u1},
		{"Joined", func() { f.userCreated("acme", u6, "CROWDED@example.com") }, "", u1},
		{"HolderRenamedBack", func() {
			f.emit(events.UserUpdated, "acme", "User", u1, user(u1, "crowd@example.com"), nil, nil)
		}, u1, u3},
		{"HolderDeactivated", func() {
			f.emit(events.UserDeactivated, "acme", "User", u3, user(u3, "crowded@example.com", "active", false), nil, nil)
		}, u1, u3},
	}
	for _, step := range steps {
		step.emit()
		applyAll(t, s, f.recs[applied:])
		applied = len(f.recs)
		checkUserNameKeys(t, s)
		for name, want := range map[string]string{"crowd@example.com": step.crowd, "CROWDED@example.com": step.crowded} {
			if got := holderOf(t, s, name); got != want {
				t.Errorf("%s: userName eq %q answers %q, want %q", step.name, name, got, want)
			}
		}
		for _, filter := range []string{`userName sw "crowd"`, `userName sw "CROWD@"`, `userName sw "crowde"`,
			`userName sw "c" or userName eq "solo@example.com"`, `userName sw "crowd" and title eq "x"`, `userName sw ""`} {
			e := mustParse(t, filter)
			page, err := s.List(ctx, "acme", "User", view.Query{Filter: e, Count: 100})
			if err != nil {
				t.Fatalf("%s: List(%s) = %v", step.name, filter, err)
			}
			if got, want := ids(page), bruteForce(t, s, "User", e); !slices.Equal(got, want) || page.Total != len(want) {
				t.Errorf("%s: List(%s) = %v (total %d), want %v", step.name, filter, got, page.Total, want)
			}
		}
	}
}

// TestStore_UserNameEntryLimits: the limits hold a user's userName entry
// to what they held its index key to when each user had a key of its
// own: a userName is too large when key and id would make a key over
// maxKeyBytes (although the userName's key alone is shorter), and the
// entry counts towards maxIndexKeys; applying skips such a user and
// CheckEvent refuses it, and one entry less fits.
func TestStore_UserNameEntryLimits(t *testing.T) {
	const id = "u9"
	// The key of (tenant acme, userName, id) in one namespace: 1 + 6 + 1
	// + len(userName)+2 + 4 bytes.
	longest := strings.Repeat("a", maxKeyBytes-14)
	for _, c := range []struct {
		name   string
		user   schemas.Resource
		reason string // "" applied
	}{
		{"KeyAtLimit", user(id, longest), ""},
		{"KeyOverLimit", user(id, longest+"a"), reasonKeyTooLarge},
		// lastModified, the userName and the emails.
		{"EntriesAtLimit", user(id, "nine", "emails", manyEmails(maxIndexKeys-2, "e")), ""},
		{"EntriesOverLimit", user(id, "nine", "emails", manyEmails(maxIndexKeys-1, "e")), reasonTooManyValues},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := newFeed()
			ev := f.emit(events.UserCreated, "acme", "User", id, c.user, nil, nil)
			if err := CheckEvent(&ev); (err != nil) != (c.reason != "") {
				t.Errorf("CheckEvent() = %v, want an error: %v", err, c.reason != "")
			}
			s := openMem(t, Options{})
			applyAll(t, s, f.recs)
			_, found, err := s.UserIDByUserName(context.Background(), "acme", c.user["userName"].(string))
			if err != nil || found != (c.reason == "") {
				t.Errorf("UserIDByUserName() = %v, %v, want found: %v", found, err, c.reason == "")
			}
			if c.reason != "" {
				if got := counterValue(t, s.m.skipped.WithLabelValues(c.reason)); got != 1 {
					t.Errorf("skipped{reason=%s} = %v, want 1", c.reason, got)
				}
			}
			checkUserNameKeys(t, s)
		})
	}
}
