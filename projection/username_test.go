package projection

import (
	"bytes"
	"context"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/dgraph-io/badger/v4"

	"github.com/scim-bridge/scim-bridge/events"
	"github.com/scim-bridge/scim-bridge/projection/view"
	"github.com/scim-bridge/scim-bridge/schemas"
)

// checkUserNameKeys checks every userName key (nsUserNameID) of s against
// the rest of the state: each folded userName of the u index has one, held
// by a user of that index, whose value is the covering value of the
// holder's record as stored now (coverValue; the id alone when that is over
// the limit or the record is missing), and no key is left without a user.
func checkUserNameKeys(t *testing.T, s *Store) {
	t.Helper()
	claimants := map[string][]string{} // tenant, folded userName -> ids
	values := map[string][]byte{}      // tenant, folded userName -> the key's value
	records := map[string][]byte{}     // tenant, user id -> its record
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
			values[tenant+"\x00"+name] = bytes.Clone(v)
		case nsResource:
			typ, rest, ok := readStr(rest)
			id, _, ok2 := readStr(rest)
			if ok && ok2 && typ == typeUser {
				records[tenant+"\x00"+id] = bytes.Clone(v)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("Export() = %v", err)
	}
	for name, ids := range claimants {
		v, ok := values[name]
		if !ok {
			t.Errorf("userName %q of %v has no userName key", name, ids)
			continue
		}
		holder, _, ok := readStr(v)
		if !ok || !strings.Contains("\x00"+strings.Join(ids, "\x00")+"\x00", "\x00"+holder+"\x00") {
			t.Errorf("userName key %q names %q, not one of its users %v", name, holder, ids)
			continue
		}
		tenant, _, _ := strings.Cut(name, "\x00")
		want := appendStr(nil, holder)
		if rec, ok := records[tenant+"\x00"+holder]; ok {
			r, err := decodeRecord(rec)
			if err != nil {
				t.Fatalf("record of %q: %v", holder, err)
			}
			b, cut, err := encodeRecordCut(r)
			if err != nil {
				t.Fatalf("encode record of %q: %v", holder, err)
			}
			if !bytes.Equal(b, rec) {
				t.Fatalf("record of %q does not encode back to its bytes:\n%s\n%s", holder, b, rec)
			}
			want = coverValue(holder, b, cut, int(min(maxCoverBytes, s.lim.value)))
		}
		if !bytes.Equal(v, want) {
			t.Errorf("userName key %q = %.300q, want the cover of %q's record %.300q", name, v, holder, want)
		}
	}
	for name, v := range values {
		if _, ok := claimants[name]; !ok {
			t.Errorf("userName key %q = %.100q is left without a user", name, v)
		}
	}
}

// holderOf returns who the list for `userName eq name` answers with
// (which must be the one user UserIDByUserName names) and that user's
// resource as the list has it, which must be Get's.
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
	got.RequestDigest = "" // lists have none
	if !reflect.DeepEqual(page.Resources[0], got) {
		t.Errorf("List(userName eq %q) answers\n%+v\nwhere Get answers\n%+v", name, page.Resources[0], got)
	}
	return id
}

// TestStore_UserNameKeyClaimants: should a log hold several users with one
// userName (the bridge refuses them, a hand-made log may not), the
// userName's key stays with the first user who claimed it, passes to the
// claimant of least id when its holder lets go, and covers whoever holds
// it with that user's current record; applying one record at a time and
// in batches writes the same bytes.
func TestStore_UserNameKeyClaimants(t *testing.T) {
	f := newFeed()
	f.userCreated("acme", "u2", "Twin@example.com", "title", "first")
	f.userCreated("acme", "u1", "TWIN@example.com", "title", "second") // not the holder, although of lesser id
	f.groupCreated("acme", "g1", "Admins")
	f.addMembers("acme", "g1", "u1", "u2")
	steps := []struct {
		name   string
		emit   func()
		holder string // of "twin@example.com"
	}{
		{"Created", func() {}, "u2"},
		{"OtherUpdated", func() {
			f.emit(events.UserUpdated, "acme", "User", "u1", user("u1", "twin@EXAMPLE.com", "title", "changed"), nil, nil)
		}, "u2"},
		{"HolderUpdated", func() {
			f.emit(events.UserUpdated, "acme", "User", "u2", user("u2", "Twin@example.com", "title", "changed too"), nil, nil)
		}, "u2"},
		{"HolderDeactivated", func() {
			f.emit(events.UserDeactivated, "acme", "User", "u2", user("u2", "Twin@example.com", "active", false), nil, nil)
		}, "u2"},
		{"ThirdCreated", func() { f.userCreated("acme", "u0", "twin@example.COM") }, "u2"},
		{"HolderRenamed", func() {
			f.emit(events.UserUpdated, "acme", "User", "u2", user("u2", "solo@example.com"), nil, nil)
		}, "u0"},
		{"NewHolderUpdated", func() {
			f.emit(events.UserUpdated, "acme", "User", "u0", user("u0", "twin@example.com", "title", "third"), nil, nil)
		}, "u0"},
		{"HolderDeleted", func() { f.emit(events.UserDeleted, "acme", "User", "u0", nil, nil, nil) }, "u1"},
		{"RenamedBack", func() {
			f.emit(events.UserUpdated, "acme", "User", "u2", user("u2", "TWIN@example.com"), nil, nil)
		}, "u1"},
		{"HolderRenamedAway", func() {
			f.emit(events.UserUpdated, "acme", "User", "u1", user("u1", "other@example.com"), nil, nil)
		}, "u2"},
		{"LastDeleted", func() { f.emit(events.UserDeleted, "acme", "User", "u2", nil, nil, nil) }, ""},
	}
	alone := openMem(t, Options{})
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
	if got := holderOf(t, alone, "other@example.com"); got != "u1" {
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

// TestStore_UserNameKeyNearTheLimits: a user record around the size a
// userName's key may cover (maxCoverBytes) and around the largest value
// the projection stores gets the same verdict applied alone and in a
// batch, and the one CheckEvent announces: the copy under the userName's
// key refuses nothing. A user too large to cover has its id alone there
// and is listed all the same. The stores are on disk, as in production.
func TestStore_UserNameKeyNearTheLimits(t *testing.T) {
	covered := func(id string) func(rec []byte, cut int) int {
		return func(rec []byte, cut int) int { return len(coverValue(id, rec, cut, 1<<30)) }
	}
	f := newFeed()
	f.userCreated("acme", "u1", "alice")
	cases := []struct {
		id, userName string
		measure      func(rec []byte, cut int) int
		size         int
		covered      bool   // the userName's key holds the record
		reason       string // skipped, why ("": applied)
	}{
		{"u2", "at-the-cover-limit", covered("u2"), maxCoverBytes, true, ""},
		{"u3", "over-the-cover-limit", covered("u3"), maxCoverBytes + 1, false, ""},
		{"u4", "at-the-value-limit", storedBytes, maxValueBytes, false, ""},
		{"u5", "over-the-value-limit", storedBytes, maxValueBytes + 1, false, reasonValueTooLarge},
	}
	evs := make([]events.Event, len(cases))
	for i, c := range cases {
		evs[i] = sizedUserCreated(t, f, c.id, c.userName, c.measure, c.size)
		f.raw(evs[i])
	}
	f.userCreated("acme", "u9", "zed") // applies after them

	alone := openAt(t, t.TempDir(), Options{})
	applyAll(t, alone, f.recs)
	batched := openAt(t, t.TempDir(), Options{})
	if err := batched.applyRecords(f.recs); err != nil {
		t.Fatalf("applyRecords() = %v", err)
	}
	if d := diffLines(export(t, alone), export(t, batched)); d != "" {
		t.Errorf("export of a batched replay differs from one-by-one Apply: %s", d)
	}
	checkUserNameKeys(t, alone)
	reasons := skippedReasons(t, alone)
	for i, c := range cases {
		if got := reasons[int64(1+i)]; got != c.reason {
			t.Errorf("%s: skipped for %q, want %q", c.userName, got, c.reason)
		}
		// CheckEvent allows 10 bytes for an update's created time.
		if c.size <= maxValueBytes-10 || c.reason != "" {
			if err := CheckEvent(&evs[i]); (err != nil) != (c.reason != "") {
				t.Errorf("%s: CheckEvent() = %v, but the projection skips it for %q", c.userName, err, c.reason)
			}
		}
		if c.reason != "" {
			continue
		}
		if got := holderOf(t, alone, c.userName); got != c.id {
			t.Errorf("%s: listed %q, want %q", c.userName, got, c.id)
		}
		err := alone.db.View(func(txn *badger.Txn) error {
			_, r, _, err := loadCover(txn, userNameIDKey("acme", c.userName))
			if (r != nil) != c.covered {
				t.Errorf("%s: the userName's key covers the record: %v, want %v", c.userName, r != nil, c.covered)
			}
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if got := holderOf(t, alone, "zed"); got != "u9" {
		t.Errorf("zed: listed %q, want u9", got)
	}
}

// TestStore_UserNameKeyCounted: the copy of a user's record under its
// userName's key counts against the budget of the record that writes it,
// like every other write, byte for byte as Badger sizes entries.
func TestStore_UserNameKeyCounted(t *testing.T) {
	s := openMem(t, Options{})
	f := newFeed()
	f.userCreated("acme", "u1", "alice@example.com", "emails", emails("alice@example.com", "a@x.org"),
		"externalId", "ext-1", "nickName", strings.Repeat("n", 2000))
	ev := f.recs[0].Event
	txn := s.newWriteTxn()
	defer txn.Discard()
	txn.mark()
	if _, err := s.applyEvent(txn, &ev, typeUser, nil, nil); err != nil {
		t.Fatalf("applyEvent() = %v", err)
	}
	counted := txn.size
	if err := s.commit(txn.Txn); err != nil {
		t.Fatalf("commit() = %v", err)
	}
	var written, cover int64
	err := s.Export(context.Background(), func(k, v []byte) error {
		if k[0] == tagTenant {
			written += int64(len(k)) + 12 + int64(len(v))
		}
		if bytes.Equal(k, userNameIDKey("acme", "alice@example.com")) {
			cover = int64(len(v))
		}
		return nil
	})
	if err != nil {
		t.Fatalf("Export() = %v", err)
	}
	if cover < 2000 {
		t.Fatalf("the userName's key holds %d bytes, want the record's copy", cover)
	}
	if counted != written {
		t.Errorf("the record's budget counted %d bytes, its writes are %d (the userName key's value: %d)", counted, written, cover)
	}
}
