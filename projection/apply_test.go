package projection

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/scim-bridge/scim-bridge/events"
	"github.com/scim-bridge/scim-bridge/projection/view"
	"github.com/scim-bridge/scim-bridge/schemas"
)

func TestStore_ApplyUser(t *testing.T) {
	ctx := context.Background()
	s := openMem(t, Options{})
	f := newFeed()
	f.userCreated("acme", "u1", "Alice", "emails", emails("alice@example.com"), "externalId", "ext-1")
	f.emit(events.UserUpdated, "acme", "User", "u1", user("u1", "Alicia", "emails", emails("alicia@example.com")), nil, nil)
	f.emit(events.UserDeactivated, "acme", "User", "u1", user("u1", "Alicia", "active", false), nil, nil)
	applyAll(t, s, f.recs)

	t.Run("Get", func(t *testing.T) {
		got, err := s.Get(ctx, "acme", "User", "u1", view.GetOptions{})
		if err != nil {
			t.Fatalf("Get() = %v", err)
		}
		if got.Version != 3 {
			t.Errorf("Get().Version = %d, want 3", got.Version)
		}
		if want := baseTime; !got.Created.Equal(want) {
			t.Errorf("Get().Created = %v, want %v", got.Created, want)
		}
		if want := baseTime.Add(2 * time.Second); !got.LastModified.Equal(want) {
			t.Errorf("Get().LastModified = %v, want %v", got.LastModified, want)
		}
		if got.Resource["active"] != false || got.Resource["userName"] != "Alicia" {
			t.Errorf("Get().Resource = %v, want the deactivated post-image", got.Resource)
		}
	})
	t.Run("IndexesFollowUpdates", func(t *testing.T) {
		for _, tc := range []struct {
			userName string
			wantOK   bool
		}{{"alice", false}, {"ALICIA", true}, {"alicia", true}} {
			id, ok, err := s.UserIDByUserName(ctx, "acme", tc.userName)
			if err != nil || ok != tc.wantOK || (ok && id != "u1") {
				t.Errorf("UserIDByUserName(%q) = %q, %v, %v, want ok=%v", tc.userName, id, ok, err, tc.wantOK)
			}
		}
		// The deactivation dropped emails and externalId: no index keys left.
		if n := keysWithPrefix(t, s, tenantNS("acme", nsEmail)); n != 0 {
			t.Errorf("email index keys = %d, want 0", n)
		}
		if n := keysWithPrefix(t, s, tenantNS("acme", nsExternalID)); n != 0 {
			t.Errorf("externalId index keys = %d, want 0", n)
		}
		if n := keysWithPrefix(t, s, tenantNS("acme", nsModified)); n != 1 {
			t.Errorf("lastModified index keys = %d, want 1", n)
		}
	})
	t.Run("OtherTenant", func(t *testing.T) {
		_, err := s.Get(ctx, "other", "User", "u1", view.GetOptions{})
		if schemas.KindOf(err) != schemas.KindNotFound {
			t.Errorf("Get(other tenant) = %v, want KindNotFound", err)
		}
	})
	t.Run("Delete", func(t *testing.T) {
		f.emit(events.UserDeleted, "acme", "User", "u1", nil, nil, nil)
		applyAll(t, s, f.recs[len(f.recs)-1:])
		_, err := s.Get(ctx, "acme", "User", "u1", view.GetOptions{})
		if schemas.KindOf(err) != schemas.KindNotFound {
			t.Errorf("Get(deleted) = %v, want KindNotFound", err)
		}
		// Only the format and the position remain: no tenant key at all.
		if n := keysWithPrefix(t, s, []byte{tagTenant}); n != 0 {
			t.Errorf("tenant keys after delete = %d, want 0:\n%v", n, export(t, s))
		}
		if got, want := s.Applied(), []int64{4}; !slices.Equal(got, want) {
			t.Errorf("Applied() = %v, want %v", got, want)
		}
	})
}

func TestStore_ApplyGroupMembers(t *testing.T) {
	ctx := context.Background()
	s := openMem(t, Options{})
	f := newFeed()
	f.userCreated("acme", "u1", "alice")
	f.userCreated("acme", "u2", "bob")
	f.userCreated("acme", "u3", "carol")
	f.groupCreated("acme", "g1", "Admins")
	f.addMembers("acme", "g1", "u1", "u2", "u3")
	f.groupCreated("acme", "g2", "Ops")
	f.addMembers("acme", "g2", "u1")
	f.removeMembers("acme", "g1", "u2")
	applyAll(t, s, f.recs)

	t.Run("GroupWithMembers", func(t *testing.T) {
		got, err := s.Get(ctx, "acme", "Group", "g1", view.GetOptions{Members: true})
		if err != nil {
			t.Fatalf("Get() = %v", err)
		}
		want := []any{
			map[string]any{"value": "u1", "type": "User", "display": "display u1"},
			map[string]any{"value": "u3", "type": "User", "display": "display u3"},
		}
		if !reflect.DeepEqual(got.Resource["members"], want) {
			t.Errorf("Get().Resource[members] = %v, want %v", got.Resource["members"], want)
		}
		if got.Version != 3 {
			t.Errorf("Get().Version = %d, want 3 (created, added, removed)", got.Version)
		}
		if want := baseTime.Add(7 * time.Second); !got.LastModified.Equal(want) {
			t.Errorf("Get().LastModified = %v, want %v (the member removal)", got.LastModified, want)
		}
	})
	t.Run("GroupWithoutMembers", func(t *testing.T) {
		got, err := s.Get(ctx, "acme", "Group", "g1", view.GetOptions{})
		if err != nil {
			t.Fatalf("Get() = %v", err)
		}
		if _, ok := got.Resource["members"]; ok {
			t.Errorf("Get(no Members).Resource has members: %v", got.Resource)
		}
	})
	t.Run("UserGroups", func(t *testing.T) {
		got, err := s.Get(ctx, "acme", "User", "u1", view.GetOptions{Groups: true})
		if err != nil {
			t.Fatalf("Get() = %v", err)
		}
		want := []any{
			map[string]any{"value": "g1", "display": "Admins", "type": "direct"},
			map[string]any{"value": "g2", "display": "Ops", "type": "direct"},
		}
		if !reflect.DeepEqual(got.Resource["groups"], want) {
			t.Errorf("Get().Resource[groups] = %v, want %v", got.Resource["groups"], want)
		}
	})
	t.Run("Members", func(t *testing.T) {
		m := s.Members(ctx, "acme", "g1")
		for _, tc := range []struct {
			id   string
			want bool
		}{{"u1", true}, {"u2", false}, {"u3", true}, {"g2", false}} {
			if got := m.Contains(tc.id); got != tc.want {
				t.Errorf("Members(g1).Contains(%q) = %v, want %v", tc.id, got, tc.want)
			}
		}
		if got := len(m.List()); got != 2 {
			t.Errorf("len(Members(g1).List()) = %d, want 2", got)
		}
	})
	t.Run("UserDeleteRemovesMemberships", func(t *testing.T) {
		// The bridge removes u1 from g1 first; from g2 it does not, and the
		// projection still cleans up.
		f.removeMembers("acme", "g1", "u1")
		f.emit(events.UserDeleted, "acme", "User", "u1", nil, nil, nil)
		applyAll(t, s, f.recs[len(f.recs)-2:])
		for _, g := range []string{"g1", "g2"} {
			if s.Members(ctx, "acme", g).Contains("u1") {
				t.Errorf("Members(%s).Contains(u1) after user delete = true", g)
			}
		}
		got, err := s.GroupsOf(ctx, "acme", "u1")
		if err != nil || len(got) != 0 {
			t.Errorf("GroupsOf(u1) = %v, %v, want none", got, err)
		}
		if got := counter(t, s, memberCountKey("acme", "g2")); got != 0 {
			t.Errorf("member count of g2 = %d, want 0", got)
		}
		if got := counter(t, s, memberCountKey("acme", "g1")); got != 1 {
			t.Errorf("member count of g1 = %d, want 1", got)
		}
	})
}

func counter(t *testing.T, s *Store, key []byte) int64 {
	t.Helper()
	var n int64
	err := s.Export(context.Background(), func(k, v []byte) error {
		if string(k) == string(key) {
			n = decodeI64(v)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("Export() = %v", err)
	}
	return n
}

// TestStore_ApplyLargeGroup drives the batched paths with a tiny batch: a
// member delta and a group delete spanning several transactions.
func TestStore_ApplyLargeGroup(t *testing.T) {
	ctx := context.Background()
	f := newFeed()
	var ids []string
	for i := range 23 {
		id := "u" + string(rune('a'+i))
		ids = append(ids, id)
		f.userCreated("acme", id, "user-"+id)
	}
	f.groupCreated("acme", "g1", "Everyone")
	f.addMembers("acme", "g1", ids...)
	f.groupCreated("acme", "g2", "Parent")
	f.emit(events.GroupMembersAdded, "acme", "Group", "g2", nil, []schemas.Member{{Value: "g1", Type: "Group"}}, nil)
	beforeDelete := len(f.recs)
	f.emit(events.GroupDeleted, "acme", "Group", "g1", nil, nil, nil)

	for _, batch := range []int{1, 5, 23, 1000} {
		t.Run("Batch"+strconv.Itoa(batch), func(t *testing.T) {
			s := openMem(t, Options{MemberBatch: batch})
			applyAll(t, s, f.recs[:beforeDelete])
			list, err := s.MemberList(ctx, "acme", "g1")
			if err != nil || len(list) != len(ids) {
				t.Fatalf("MemberList(g1) = %d members, %v, want %d", len(list), err, len(ids))
			}
			if got := counter(t, s, memberCountKey("acme", "g1")); got != int64(len(ids)) {
				t.Errorf("member count = %d, want %d", got, len(ids))
			}
			applyAll(t, s, f.recs[beforeDelete:])
			for _, ns := range []byte{nsMember, nsMemberOf, nsMemberCount} {
				if n := keysWithPrefix(t, s, tenantNS("acme", ns)); n != 0 {
					t.Errorf("keys in namespace %q after group delete = %d, want 0", ns, n)
				}
			}
			if n := keysWithPrefix(t, s, []byte{tagGone}); n != 0 {
				t.Errorf("tombstones after group delete = %d, want 0", n)
			}
			gs, err := s.GroupsOf(ctx, "acme", ids[0])
			if err != nil || len(gs) != 0 {
				t.Errorf("GroupsOf(%s) = %v, %v, want none", ids[0], gs, err)
			}
		})
	}
}

// TestStore_ApplyCleanupAfterCrash leaves a tombstone and members behind as
// a crash after the delete's transaction would, and checks Open finishes.
func TestStore_ApplyCleanupAfterCrash(t *testing.T) {
	dir := t.TempDir()
	f := newFeed()
	f.groupCreated("acme", "g1", "Everyone")
	f.addMembers("acme", "g1", "u1", "u2", "u3", "u4", "u5")
	f.emit(events.GroupDeleted, "acme", "Group", "g1", nil, nil, nil)

	s := openAt(t, dir, Options{MemberBatch: 2})
	applyAll(t, s, f.recs[:2])
	// The delete's own transaction, without the follow-up batches.
	err := s.update(func(txn *writeTxn) error {
		cur, err := loadRecord(txn.kv, resourceKey("acme", typeGroup, "g1"))
		if err != nil {
			return err
		}
		if _, err := s.deleteResource(txn, "acme", typeGroup, "g1", cur); err != nil {
			return err
		}
		return txn.Set(posKey(0), appendI64(nil, 3))
	})
	if err != nil {
		t.Fatalf("delete transaction: %v", err)
	}
	if n := keysWithPrefix(t, s, []byte{tagGone}); n != 1 {
		t.Fatalf("tombstones before reopen = %d, want 1", n)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close() = %v", err)
	}

	s = openAt(t, dir, Options{MemberBatch: 2})
	straight := openMem(t, Options{})
	applyAll(t, straight, f.recs)
	if d := diffLines(export(t, straight), export(t, s)); d != "" {
		t.Errorf("Export after reopen differs from a straight apply (-want +got):\n%s", d)
	}
}

func TestStore_ApplyIdempotent(t *testing.T) {
	f := newFeed()
	f.userCreated("acme", "u1", "alice", "emails", emails("a@example.com", "A@EXAMPLE.COM"))
	f.userCreated("acme", "u2", "bob")
	f.groupCreated("acme", "g1", "Admins")
	f.addMembers("acme", "g1", "u1", "u2")
	f.emit(events.UserUpdated, "acme", "User", "u2", user("u2", "bobby"), nil, nil)
	f.removeMembers("acme", "g1", "u2")
	f.emit(events.UserDeleted, "acme", "User", "u2", nil, nil, nil)

	once := openMem(t, Options{})
	applyAll(t, once, f.recs)
	twice := openMem(t, Options{})
	applyAll(t, twice, f.recs)
	applyAll(t, twice, f.recs)
	if d := diffLines(export(t, once), export(t, twice)); d != "" {
		t.Errorf("Export after replaying every record differs (-once +twice):\n%s", d)
	}
}

func TestStore_ApplySkips(t *testing.T) {
	tests := []struct {
		name   string
		build  func(f *feed)
		reason string
	}{
		{"PrevVersionMismatch", func(f *feed) {
			f.raw(events.Event{Type: events.UserUpdated, Tenant: "acme", ResourceType: "User", ResourceID: "u1",
				Version: 5, PrevVersion: 4, Resource: user("u1", "x")})
		}, reasonVersionMismatch},
		{"DuplicateID", func(f *feed) {
			dup := f.recs[0].Event
			f.raw(dup)
		}, reasonDuplicate},
		{"StaleVersion", func(f *feed) {
			f.raw(events.Event{Type: events.UserUpdated, Tenant: "acme", ResourceType: "User", ResourceID: "u1",
				Version: 1, PrevVersion: 0, Resource: user("u1", "x")})
		}, reasonDuplicate},
		{"UpdateOfMissing", func(f *feed) {
			f.raw(events.Event{Type: events.UserUpdated, Tenant: "acme", ResourceType: "User", ResourceID: "nope",
				Version: 2, PrevVersion: 1, Resource: user("nope", "x")})
		}, reasonNotFound},
		{"DeleteTwice", func(f *feed) {
			f.raw(events.Event{Type: events.UserDeleted, Tenant: "acme", ResourceType: "User", ResourceID: "u1",
				Version: 2, PrevVersion: 1})
			f.raw(events.Event{Type: events.UserDeleted, Tenant: "acme", ResourceType: "User", ResourceID: "u1",
				Version: 2, PrevVersion: 1})
		}, reasonNotFound},
		{"MissingResource", func(f *feed) {
			f.raw(events.Event{Type: events.UserUpdated, Tenant: "acme", ResourceType: "User", ResourceID: "u1",
				Version: 2, PrevVersion: 1})
		}, reasonInvalid},
		{"WrongResourceType", func(f *feed) {
			f.raw(events.Event{Type: events.GroupDeleted, Tenant: "acme", ResourceType: "User", ResourceID: "u1",
				Version: 2, PrevVersion: 1})
		}, reasonInvalid},
		{"UnknownType", func(f *feed) {
			f.raw(events.Event{Type: "user.renamed", Tenant: "acme", ResourceType: "User", ResourceID: "u1",
				Version: 2, PrevVersion: 1})
		}, reasonUnknownType},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			reg := prometheus.NewRegistry()
			s := openMem(t, Options{Registerer: reg})
			f := newFeed()
			f.userCreated("acme", "u1", "alice")
			tc.build(f)
			before := openMem(t, Options{})
			applyAll(t, before, f.recs[:len(f.recs)-1])
			applyAll(t, s, f.recs)

			last := f.recs[len(f.recs)-1]
			if got := counterValue(t, s.m.skipped.WithLabelValues(tc.reason)); got != 1 {
				t.Errorf("skipped{reason=%q} = %v, want 1", tc.reason, got)
			}
			if got, want := s.Applied(), []int64{last.Offset + 1}; !slices.Equal(got, want) {
				t.Errorf("Applied() = %v, want %v", got, want)
			}
			var sr skipRecord
			err := s.Export(context.Background(), func(k, v []byte) error {
				if string(k) == string(skipKey(0, last.Offset)) {
					return json.Unmarshal(v, &sr)
				}
				return nil
			})
			if err != nil || sr.Reason != tc.reason || sr.EventID != last.Event.ID {
				t.Errorf("skipped record = %+v, %v, want reason %q for %s", sr, err, tc.reason, last.Event.ID)
			}
			// Nothing but the skip record and the position changed.
			want := export(t, before)
			got := export(t, s)
			if len(got) != len(want)+1 {
				t.Errorf("Export() has %d keys, want %d (+1 skip record):\n%v", len(got), len(want)+1, got)
			}
		})
	}
}

// TestStore_Reopen applies half a log, closes (as a crash after a commit
// would leave it), reopens on the same directory, replays the whole log and
// compares with a straight apply.
func TestStore_Reopen(t *testing.T) {
	f := newFeed()
	for i := range 30 {
		id := "u" + strconv.Itoa(100+i)
		f.userCreated("acme", id, "user"+id, "emails", emails(id+"@example.com"))
		if i%3 == 0 {
			f.emit(events.UserUpdated, "acme", "User", id, user(id, "renamed"+id), nil, nil)
		}
	}
	f.groupCreated("acme", "g1", "All")
	f.addMembers("acme", "g1", "u100", "u101", "u102")
	f.removeMembers("acme", "g1", "u101")

	dir := t.TempDir()
	half := len(f.recs) / 2
	s := openAt(t, dir, Options{})
	applyAll(t, s, f.recs[:half])
	if err := s.Close(); err != nil {
		t.Fatalf("Close() = %v", err)
	}
	s = openAt(t, dir, Options{})
	if got, want := s.Applied(), []int64{int64(half)}; !slices.Equal(got, want) {
		t.Errorf("Applied() after reopen = %v, want %v", got, want)
	}
	applyAll(t, s, f.recs)

	straight := openMem(t, Options{})
	applyAll(t, straight, f.recs)
	if d := diffLines(export(t, straight), export(t, s)); d != "" {
		t.Errorf("Export after reopen differs from a straight apply (-want +got):\n%s", d)
	}
}

func TestStore_WaitApplied(t *testing.T) {
	s := openMem(t, Options{})
	f := newFeed()
	f.userCreated("acme", "u1", "alice")
	f.userCreated("acme", "u2", "bob")

	t.Run("Cancelled", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if err := s.WaitApplied(ctx, 0, 0); err != context.Canceled {
			t.Errorf("WaitApplied(cancelled) = %v, want context.Canceled", err)
		}
	})
	t.Run("Wakes", func(t *testing.T) {
		done := make(chan error, 1)
		go func() { done <- s.WaitApplied(context.Background(), 0, 1) }()
		applyAll(t, s, f.recs)
		if err := <-done; err != nil {
			t.Errorf("WaitApplied(0, 1) = %v", err)
		}
	})
}

func counterValue(t *testing.T, c prometheus.Counter) float64 {
	t.Helper()
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		t.Fatalf("Write() = %v", err)
	}
	return m.GetCounter().GetValue()
}

// TestStore_ApplyBatchedDeltaReplay leaves the first batches of a large
// member delta written without the final transaction, as a crash would,
// then applies the record: the result equals a straight apply.
func TestStore_ApplyBatchedDeltaReplay(t *testing.T) {
	f := newFeed()
	var ids []string
	for i := range 23 {
		ids = append(ids, fmt.Sprintf("u%02d", i))
	}
	f.groupCreated("acme", "g1", "Everyone")
	f.addMembers("acme", "g1", ids...)

	s := openMem(t, Options{MemberBatch: 5})
	applyAll(t, s, f.recs[:1])
	err := s.update(func(txn *writeTxn) error {
		_, err := applyMemberOps(txn, "acme", "g1", memberOps(&f.recs[1].Event)[:10], 10)
		return err
	})
	if err != nil {
		t.Fatalf("first batches: %v", err)
	}
	applyAll(t, s, f.recs)

	straight := openMem(t, Options{})
	applyAll(t, straight, f.recs)
	if d := diffLines(export(t, straight), export(t, s)); d != "" {
		t.Errorf("Export after a replayed batched delta differs (-want +got):\n%s", d)
	}
}
