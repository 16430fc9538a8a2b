package projection

import (
	"context"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/scim-bridge/scim-bridge/events"
	"github.com/scim-bridge/scim-bridge/projection/view"
	"github.com/scim-bridge/scim-bridge/schemas"
)

// hintID is a canonical UUID, the ids the bridge gives and the hints hold;
// they sort as n does.
func hintID(n int) string { return fmt.Sprintf("0190a1b2-0000-7000-8000-%012x", n) }

// waitHints waits for the scan that fills s's hints at open.
func waitHints(t testing.TB, s *Store) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); !s.hints.ready.Load(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the userName hints' scan did not finish")
		}
	}
}

// lookupUser lists `userName eq name` in tenant and returns the page and
// how many point reads it took.
func lookupUser(t testing.TB, s *Store, tenant, name string, get view.GetOptions) (view.Page, int) {
	t.Helper()
	var stats listStats
	s.probe = &listProbe{done: func(st listStats) { stats = st }}
	defer func() { s.probe = nil }()
	e, err := schemas.ParseFilter(`userName eq "` + name + `"`)
	if err != nil {
		t.Fatal(err)
	}
	page, err := s.List(context.Background(), tenant, "User", view.Query{Filter: e, Count: 10, Get: get})
	if err != nil {
		t.Fatalf("List(userName eq %q) = %v", name, err)
	}
	return page, stats.points
}

// TestStore_UserNameHints: `userName eq` takes the user a hint names and
// answers from its record in one point read, and a hint that no longer
// names the holder (a rename, a delete, a userName taken again, another
// tenant's user, another name in the same slot) is never answered with:
// the list reads the userName's key instead and answers as a store
// without hints does, to the byte. Each stale case puts its stale hint
// back itself, so that it would answer with the old holder if the record
// were not checked.
func TestStore_UserNameHints(t *testing.T) {
	for _, tc := range []struct {
		name string
		hash func(tenant, folded string) uint64
	}{
		{"Hashed", nil},
		// Every name in one slot of one set: the table holds one hint,
		// the last put, for every name.
		{"AllColliding", func(string, string) uint64 { return 42 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFeed()
			hinted := openMem(t, Options{})
			waitHints(t, hinted)
			hinted.hints.hash = tc.hash
			plain := openMem(t, Options{UserNameHintBytes: -1})
			if plain.hints != nil {
				t.Fatal("UserNameHintBytes -1 made a table")
			}
			applied := 0
			apply := func() {
				applyAll(t, hinted, f.recs[applied:])
				applyAll(t, plain, f.recs[applied:])
				applied = len(f.recs)
			}
			// check lists name in both stores: the same page, holder's
			// (""; none), in the point reads wanted (0: not checked).
			check := func(step, tenant, name, holder string, points int) {
				t.Helper()
				for _, get := range []view.GetOptions{{Raw: true}, {Groups: true}, {Raw: true, Groups: true}} {
					got, n := lookupUser(t, hinted, tenant, name, get)
					want, _ := lookupUser(t, plain, tenant, name, get)
					if !reflect.DeepEqual(got, want) {
						t.Errorf("%s: userName eq %q (%+v) with hints = %+v, without = %+v", step, name, get, got, want)
					}
					var ids []string
					for _, st := range got.Resources {
						if st.Raw != "" {
							ids = append(ids, idOfRaw(t, st.Raw))
						} else {
							ids = append(ids, st.Resource.ID())
						}
					}
					if wantIDs := []string{holder}; holder == "" && len(ids) != 0 || holder != "" && !reflect.DeepEqual(ids, wantIDs) {
						t.Errorf("%s: userName eq %q in %s = %v, want [%s]", step, name, tenant, ids, holder)
					}
					if points > 0 && n != points {
						t.Errorf("%s: userName eq %q made %d point reads, want %d", step, name, n, points)
					}
				}
			}
			alice, bob, carol, dave := hintID(1), hintID(2), hintID(3), hintID(4)
			f.userCreated("acme", alice, "Alice@Example.com", "title", "first")
			f.userCreated("acme", bob, "bob@example.com")
			f.userCreated("beta", carol, "bob@example.com") // same userName, another tenant
			f.groupCreated("acme", "g1", "Admins")
			f.addMembers("acme", "g1", alice)
			apply()
			hits := 1 // the record only
			if tc.hash != nil {
				hits = 0 // colliding: whether the slot holds this name depends on the last put
			}
			check("Created", "acme", "alice@example.COM", alice, hits)
			check("OtherTenant", "beta", "BOB@example.com", carol, 0)
			check("Tenant", "acme", "bob@example.com", bob, 0)
			check("Nobody", "acme", "nobody@example.com", "", 0)

			// Renamed: alice@ is no longer Alice's.
			f.emit(events.UserUpdated, "acme", "User", alice, user(alice, "alice2@example.com"), nil, nil)
			apply()
			hinted.hints.put("acme", "alice@example.com", alice)
			check("RenamedOld", "acme", "Alice@example.com", "", 2) // the record, then the key
			check("RenamedNew", "acme", "alice2@example.com", alice, hits)

			// Deleted: bob@ is nobody's in acme, still carol's in beta.
			f.emit(events.UserDeleted, "acme", "User", bob, nil, nil, nil)
			apply()
			hinted.hints.put("acme", "bob@example.com", bob)
			check("Deleted", "acme", "bob@example.com", "", 2)
			hinted.hints.put("beta", "bob@example.com", bob)
			check("DeletedOtherTenant", "beta", "bob@example.com", carol, 0)

			// Taken again: alice@ by Dave, bob@ by Alice.
			f.userCreated("acme", dave, "ALICE@example.com")
			f.emit(events.UserUpdated, "acme", "User", alice, user(alice, "Bob@Example.com", "title", "moved"), nil, nil)
			apply()
			hinted.hints.put("acme", "alice@example.com", alice)
			check("ReusedAfterRename", "acme", "alice@example.com", dave, 0)
			hinted.hints.put("acme", "bob@example.com", bob)
			check("ReusedAfterDelete", "acme", "bob@example.com", alice, 0)
			// The fallback corrected the hint.
			check("Corrected", "acme", "bob@example.com", alice, hits)

			// Another tenant's holder of the same userName.
			hinted.hints.put("acme", "bob@example.com", carol)
			check("OtherTenantsUser", "acme", "bob@example.com", alice, 0)
		})
	}
}

// idOfRaw returns the id in a resource held as its stored JSON.
func idOfRaw(t testing.TB, raw string) string {
	t.Helper()
	rec, err := decodeRecord([]byte(`{"resource":` + raw + `}`))
	if err != nil {
		t.Fatalf("decode %q: %v", raw, err)
	}
	return rec.Resource.ID()
}

// TestStore_UserNameHintsScan: a Store opened on a projection hints its
// users from the scan of the userName index, in the background: until the
// scan is done, `userName eq` reads the userName's key; afterwards it
// reads the record only. A userName two users held before the Store
// opened is never hinted (their key names one of them, which the record
// alone cannot tell), even after a write of the other one.
func TestStore_UserNameHintsScan(t *testing.T) {
	dir := t.TempDir()
	f := newFeed()
	const n = 50
	for i := range n {
		f.userCreated("acme", hintID(i), fmt.Sprintf("User%02d@example.com", i))
	}
	holder, other := hintID(100), hintID(99) // other has the lesser id
	f.userCreated("acme", holder, "twin@example.com", "title", "first")
	f.userCreated("acme", other, "TWIN@example.com", "title", "second")
	s := openAt(t, dir, Options{})
	applyAll(t, s, f.recs)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = openAt(t, dir, Options{UserNameHintBytes: -1})
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openAt(t, dir, Options{})
	s.stopScan()
	s.hints.ready.Store(false) // as if the scan were still running
	if _, points := lookupUser(t, s, "acme", "user07@example.com", view.GetOptions{Raw: true}); points != 2 {
		t.Errorf("userName eq before the scan made %d point reads, want 2 (the key, the record)", points)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = openAt(t, dir, Options{})
	waitHints(t, s)
	for i := range n {
		name := fmt.Sprintf("user%02d@EXAMPLE.com", i)
		page, points := lookupUser(t, s, "acme", name, view.GetOptions{Raw: true})
		if len(page.Resources) != 1 || idOfRaw(t, page.Resources[0].Raw) != hintID(i) || points != 1 {
			t.Errorf("userName eq %q = %+v in %d point reads, want %s in 1", name, page, points, hintID(i))
		}
	}
	// The other twin's replace keeps its userName; it must not make it
	// the answer.
	f.emit(events.UserUpdated, "acme", "User", other, user(other, "twin@example.com", "title", "changed"), nil, nil)
	applyAll(t, s, f.recs[len(f.recs)-1:])
	if got := holderOf(t, s, "twin@example.com"); got != holder {
		t.Errorf("userName eq twin@ = %q after the other twin's write, want the key's holder %q", got, holder)
	}
}

// TestStore_UserNameHintsConcurrent renames users back and forth while
// lists look them up: every answer is the user whose record holds the
// userName in the list's snapshot (run it under -race too).
func TestStore_UserNameHintsConcurrent(t *testing.T) {
	s := openMem(t, Options{})
	waitHints(t, s)
	f := newFeed()
	const users = 8
	for i := range users {
		f.userCreated("acme", hintID(i), fmt.Sprintf("a%d", i))
	}
	applyAll(t, s, f.recs)
	// Round r: user i is named a{(i+r)%users}, renamed through b{i} so that
	// no two hold one name at once. The lists run beside the writes.
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for g := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := 0; ; k++ {
				select {
				case <-stop:
					return
				default:
				}
				name := fmt.Sprintf("A%d", (k+g)%users)
				e, _ := schemas.ParseFilter(`userName eq "` + name + `"`)
				page, err := s.List(context.Background(), "acme", "User", view.Query{Filter: e, Count: 10})
				if err != nil {
					t.Errorf("List() = %v", err)
					return
				}
				for _, st := range page.Resources {
					if un, _ := st.Resource["userName"].(string); !strings.EqualFold(un, name) {
						t.Errorf("userName eq %q answered %s, whose userName is %q", name, st.Resource.ID(), un)
						return
					}
				}
				if page.Total != len(page.Resources) {
					t.Errorf("userName eq %q: total %d, %d resources", name, page.Total, len(page.Resources))
					return
				}
			}
		}()
	}
	for r := 1; r <= 30; r++ {
		for i := range users {
			f.emit(events.UserUpdated, "acme", "User", hintID(i), user(hintID(i), fmt.Sprintf("b%d", i)), nil, nil)
			applyAll(t, s, f.recs[len(f.recs)-1:])
		}
		for i := range users {
			id := hintID(i)
			f.emit(events.UserUpdated, "acme", "User", id, user(id, fmt.Sprintf("a%d", (i+r)%users)), nil, nil)
			applyAll(t, s, f.recs[len(f.recs)-1:])
		}
	}
	close(stop)
	wg.Wait()
}

// TestUserNameHints_Table: puts and lookups of the table itself: ids that
// are not canonical UUIDs are not hinted, a full set replaces one of its
// slots, and a name marked as held twice is not answered.
func TestUserNameHints_Table(t *testing.T) {
	h, err := newUserNameHints(hintSetBytes) // one set
	if err != nil {
		t.Fatal(err)
	}
	defer h.close()
	h.ready.Store(true)
	for _, id := range []string{"u1", "0190A1B2-0000-7000-8000-000000000001", "0190a1b2-0000-7000-8000-00000000000g", "0190a1b2000070008000000000000001xxxx"} {
		h.put("acme", "x", id)
		if got, ok := h.lookup("acme", "x"); ok {
			t.Errorf("put(%q) then lookup = %q, want no hint", id, got)
		}
	}
	for i := range hintWays + 5 {
		h.put("acme", fmt.Sprint(i), hintID(i))
	}
	held := 0
	for i := range hintWays + 5 {
		if got, ok := h.lookup("acme", fmt.Sprint(i)); ok {
			held++
			if got != hintID(i) {
				t.Errorf("lookup(%d) = %q, want %q", i, got, hintID(i))
			}
		}
	}
	if held != hintWays {
		t.Errorf("one set of %d slots holds %d hints", hintWays, held)
	}
	h.put("acme", "twin", hintID(1))
	h.markDup("acme", "twin")
	if got, ok := h.lookup("acme", "twin"); ok {
		t.Errorf("lookup of a name two users hold = %q", got)
	}
	if got, ok := h.lookup("beta", "twin"); ok {
		t.Errorf("lookup in another tenant = %q", got)
	}
	if h, err := newUserNameHints(hintSetBytes - 1); h != nil || err != nil {
		t.Errorf("newUserNameHints(less than a set) = %v, %v; want none", h, err)
	}
}
