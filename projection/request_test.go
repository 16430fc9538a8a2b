package projection

import (
	"context"
	"fmt"
	"testing"

	"github.com/scim-bridge/scim-bridge/events"
	"github.com/scim-bridge/scim-bridge/projection/view"
	"github.com/scim-bridge/scim-bridge/schemas"
)

// digest sets the request digest of the feed's last n events (one write).
func (f *feed) digest(d string, n int) {
	for i := len(f.recs) - n; i < len(f.recs); i++ {
		f.recs[i].Event.RequestDigest = d
	}
}

func createdBy(t *testing.T, s *Store, tenant, digest string) string {
	t.Helper()
	id, found, err := s.CreatedBy(context.Background(), tenant, digest)
	if err != nil {
		t.Fatalf("CreatedBy(%s) = %v", digest, err)
	}
	if !found {
		return ""
	}
	return id
}

func deletedBy(t *testing.T, s *Store, tenant, typ, id string) string {
	t.Helper()
	d, found, err := s.DeletedBy(context.Background(), tenant, typ, id)
	if err != nil {
		t.Fatalf("DeletedBy(%s %s) = %v", typ, id, err)
	}
	if !found {
		return ""
	}
	return d
}

// The projection keeps the digest of the request behind each resource's
// current state, finds a resource by the POST that created it while that
// state lasts, and remembers deletions by their DELETE.
func TestStore_RequestDigests(t *testing.T) {
	ctx := context.Background()
	f := newFeed()
	f.userCreated("acme", "u1", "alice")
	f.digest("post-u1", 1)
	f.groupCreated("acme", "g1", "Admins")
	f.addMembers("acme", "g1", "u1")
	f.digest("post-g1", 2) // one POST, two events
	f.userCreated("acme", "u2", "bob")
	f.digest("post-same", 1)
	f.userCreated("acme", "u3", "bob") // the same POST, landed twice
	f.digest("post-same", 1)
	f.userCreated("acme", "u4", "dave") // no digest: written before digests
	f.userCreated("globex", "u1", "alice")
	f.digest("post-u1", 1)
	s := openMem(t, Options{})
	applyAll(t, s, f.recs)

	for _, tc := range []struct{ tenant, digest, want string }{
		{"acme", "post-u1", "u1"},
		{"acme", "post-g1", "g1"},
		{"acme", "post-same", "u2"},
		{"acme", "", ""},
		{"acme", "nope", ""},
		{"globex", "post-u1", "u1"},
		{"globex", "post-g1", ""},
	} {
		if got := createdBy(t, s, tc.tenant, tc.digest); got != tc.want {
			t.Errorf("CreatedBy(%s, %q) = %q, want %q", tc.tenant, tc.digest, got, tc.want)
		}
	}
	if st, err := s.Get(ctx, "acme", "Group", "g1", view.GetOptions{}); err != nil || st.RequestDigest != "post-g1" {
		t.Errorf("Get(g1) = %+v, %v; want RequestDigest post-g1", st, err)
	}
	// The second landing of a POST creates nothing.
	if _, err := s.Get(ctx, "acme", "User", "u3", view.GetOptions{}); schemas.KindOf(err) != schemas.KindNotFound {
		t.Errorf("Get(u3), the second landing of u2's POST = %v, want KindNotFound", err)
	}
	if id, _, _ := s.UserIDByUserName(ctx, "acme", "bob"); id != "u2" {
		t.Errorf("userName bob belongs to %q, want u2", id)
	}

	// Changing a resource ends its POST's claim; deleting records the DELETE.
	f.emit(events.UserUpdated, "acme", "User", "u1", user("u1", "alice2"), nil, nil)
	f.digest("put-u1", 1)
	f.removeMembers("acme", "g1", "u1")
	f.emit(events.UserDeleted, "acme", "User", "u1", nil, nil, nil)
	f.digest("delete-u1", 2)
	f.emit(events.UserUpdated, "acme", "User", "u2", user("u2", "bob2"), nil, nil)
	f.digest("put-u2", 1)
	f.emit(events.UserDeleted, "acme", "User", "u4", nil, nil, nil)
	f.userCreated("acme", "u5", "bob") // after u2 changed: a new write
	f.digest("post-same", 1)
	applyAll(t, s, f.recs[len(f.recs)-6:])

	for _, tc := range []struct{ digest, want string }{
		{"post-u1", ""}, {"post-g1", ""}, {"post-same", "u5"},
	} {
		if got := createdBy(t, s, "acme", tc.digest); got != tc.want {
			t.Errorf("after the changes: CreatedBy(%q) = %q, want %q", tc.digest, got, tc.want)
		}
	}
	if st, err := s.Get(ctx, "acme", "Group", "g1", view.GetOptions{}); err != nil || st.RequestDigest != "delete-u1" {
		t.Errorf("Get(g1) after its member's delete = %+v, %v; want RequestDigest delete-u1", st, err)
	}
	if got := deletedBy(t, s, "acme", "User", "u1"); got != "delete-u1" {
		t.Errorf("DeletedBy(u1) = %q, want delete-u1", got)
	}
	for _, id := range []string{"u4", "u2"} { // no digest; not deleted
		if got := deletedBy(t, s, "acme", "User", id); got != "" {
			t.Errorf("DeletedBy(%s) = %q, want none", id, got)
		}
	}
	if got := deletedBy(t, s, "globex", "User", "u1"); got != "" {
		t.Errorf("DeletedBy(globex u1) = %q, want none (another tenant's)", got)
	}
	if n := keysWithPrefix(t, s, tenantNS("acme", nsCreatedBy)); n != 1 {
		t.Errorf("acme has %d POST index keys, want 1 (u5's)", n)
	}
}

// Each tenant keeps its last deletions in a ring: older tombstones go, so
// they cost a bounded number of keys, and applying in batches writes the
// same bytes as one record at a time.
func TestStore_TombstoneRing(t *testing.T) {
	const ring = 3
	f := newFeed()
	for i := range 5 {
		f.userCreated("acme", fmt.Sprintf("u%d", i), fmt.Sprintf("user%d", i))
	}
	f.groupCreated("globex", "g", "G")
	for i := range 5 {
		f.emit(events.UserDeleted, "acme", "User", fmt.Sprintf("u%d", i), nil, nil, nil)
		f.digest(fmt.Sprintf("del-%d", i), 1)
	}
	f.emit(events.GroupDeleted, "globex", "Group", "g", nil, nil, nil)
	f.digest("del-g", 1)

	s := openMem(t, Options{tombstones: ring})
	applyAll(t, s, f.recs)
	for i := range 5 {
		want := ""
		if i >= 5-ring {
			want = fmt.Sprintf("del-%d", i)
		}
		if got := deletedBy(t, s, "acme", "User", fmt.Sprintf("u%d", i)); got != want {
			t.Errorf("DeletedBy(u%d) = %q, want %q", i, got, want)
		}
	}
	if got := deletedBy(t, s, "globex", "Group", "g"); got != "del-g" {
		t.Errorf("DeletedBy(globex g) = %q, want del-g (its own ring)", got)
	}
	for ns, want := range map[byte]int{nsDeleted: ring, nsDeletedRing: ring, nsDeletedNext: 1} {
		if n := keysWithPrefix(t, s, tenantNS("acme", ns)); n != want {
			t.Errorf("acme has %d keys in namespace %c, want %d", n, ns, want)
		}
	}

	b := openMem(t, Options{tombstones: ring, ApplyBatch: 4})
	if err := b.applyRecords(f.recs); err != nil {
		t.Fatalf("applyRecords() = %v", err)
	}
	if d := diffLines(export(t, s), export(t, b)); d != "" {
		t.Errorf("batched apply differs from one by one: %s", d)
	}
}
