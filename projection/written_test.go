package projection

import (
	"context"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/scim-bridge/scim-bridge/events"
	"github.com/scim-bridge/scim-bridge/projection/view"
)

// writtenFeed is a log of writes of every kind that writes a resource,
// with attribute values the stored JSON escapes, and a delete.
func writtenFeed() *feed {
	f := newFeed()
	f.userCreated("acme", "u1", "Zoë <z&z>@example.com", "emails", emails("z@example.com"),
		"name", map[string]any{"givenName": "Zoë", "familyName": "\"Quote\"\u2028"}, "active", true,
		"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User", map[string]any{"employeeNumber": "42"})
	f.digest("post-u1", 1)
	f.userCreated("acme", "u2", "bob")
	f.groupCreated("acme", "g1", "Admins")
	f.addMembers("acme", "g1", "u1")
	f.digest("post-g1", 2)
	f.emit(events.UserUpdated, "acme", "User", "u1", user("u1", "zoe", "displayName", "Zoë Z"), nil, nil)
	f.emit(events.UserDeactivated, "acme", "User", "u2", user("u2", "bob", "active", false), nil, nil)
	f.emit(events.GroupUpdated, "acme", "Group", "g1", group("g1", "Admins & Co"), nil, nil)
	f.removeMembers("acme", "g1", "u1")
	f.emit(events.UserDeleted, "acme", "User", "u2", nil, nil, nil)
	f.userCreated("globex", "u1", "alice")
	return f
}

// writtenOptions are the loads a write's answer asks for.
var writtenOptions = []view.GetOptions{{Raw: true}, {Raw: true, Groups: true}, {Raw: true, Members: true}}

// checkWritten checks, right after rec applied, that Written answers for
// rec's resource exactly as Get does, or that it has nothing for a delete.
func checkWritten(t *testing.T, s *Store, rec events.Record) {
	t.Helper()
	ctx := context.Background()
	ev := &rec.Event
	for _, o := range writtenOptions {
		st, found, err := s.Written(ctx, rec.Partition, rec.Offset, ev.Tenant, ev.ResourceType, ev.ResourceID, o)
		if err != nil {
			t.Fatalf("Written(%d/%d, %+v) = %v", rec.Partition, rec.Offset, o, err)
		}
		if ev.Type == events.UserDeleted {
			if found {
				t.Errorf("Written(%d/%d: %s) found %+v, want nothing", rec.Partition, rec.Offset, ev.Type, st)
			}
			continue
		}
		if !found {
			t.Fatalf("Written(%d/%d: %s %s, %+v) found nothing", rec.Partition, rec.Offset, ev.Type, ev.ResourceID, o)
		}
		want, err := s.Get(ctx, ev.Tenant, ev.ResourceType, ev.ResourceID, o)
		if err != nil {
			t.Fatalf("Get(%s) = %v", ev.ResourceID, err)
		}
		if !reflect.DeepEqual(st, want) {
			t.Errorf("Written(%d/%d: %s %s, %+v) =\n%#v\nwant Get's\n%#v", rec.Partition, rec.Offset, ev.Type, ev.ResourceID, o, st, want)
		}
	}
}

// A write's answer comes from what its last record wrote, without reading
// Badger for the record: it is what Get returns right after that record
// applied, whether the record's resource came with the text it was
// decoded from (a log's record) or not.
func TestStore_Written(t *testing.T) {
	ctx := context.Background()
	t.Run("Applied", func(t *testing.T) {
		s := openMem(t, Options{})
		for _, rec := range writtenFeed().recs {
			applyAll(t, s, []events.Record{rec})
			checkWritten(t, s, rec)
		}
	})
	t.Run("FromTheLog", func(t *testing.T) {
		log := openLog(t)
		s := openMem(t, Options{})
		stop := runBackground(ctx, t, s, log)
		defer stop()
		for _, rec := range writtenFeed().recs {
			p, off, err := log.Append(ctx, []events.Event{rec.Event})
			if err != nil {
				t.Fatalf("Append() = %v", err)
			}
			wctx, wcancel := context.WithTimeout(ctx, 30*time.Second)
			err = s.WaitApplied(wctx, p, off)
			wcancel()
			if err != nil {
				t.Fatalf("WaitApplied(%d/%d) = %v", p, off, err)
			}
			rec.Partition, rec.Offset = p, off
			checkWritten(t, s, rec)
		}
	})

	t.Run("Nothing", func(t *testing.T) {
		s := openMem(t, Options{})
		f := newFeed()
		f.userCreated("acme", "u1", "alice")
		f.raw(f.recs[0].Event) // the same event again: skipped as a duplicate
		f.userCreated("acme", "big", "big", "nickName", strings.Repeat("x", windowResourceBytes))
		applyAll(t, s, f.recs)
		for _, tc := range []struct {
			name            string
			off             int64
			tenant, typ, id string
			o               view.GetOptions
		}{
			{"DecodedAnswer", 0, "acme", "User", "u1", view.GetOptions{}},
			{"OtherTenant", 0, "globex", "User", "u1", view.GetOptions{Raw: true}},
			{"OtherType", 0, "acme", "Group", "u1", view.GetOptions{Raw: true}},
			{"OtherID", 0, "acme", "User", "u2", view.GetOptions{Raw: true}},
			{"Skipped", 1, "acme", "User", "u1", view.GetOptions{Raw: true}},
			{"TooLarge", 2, "acme", "User", "big", view.GetOptions{Raw: true}},
			{"NotApplied", 3, "acme", "User", "u1", view.GetOptions{Raw: true}},
		} {
			st, found, err := s.Written(ctx, 0, tc.off, tc.tenant, tc.typ, tc.id, tc.o)
			if err != nil || found {
				t.Errorf("%s: Written(0/%d, %s %s %s, %+v) = %+v, %v, %v; want nothing", tc.name, tc.off, tc.tenant, tc.typ, tc.id, tc.o, st, found, err)
			}
		}
		if _, err := s.Get(ctx, "acme", "User", "big", view.GetOptions{Raw: true}); err != nil {
			t.Errorf("Get(big) = %v; want the user applied", err)
		}
		if _, found, _ := s.Written(ctx, 0, 0, "acme", "user", "u1", view.GetOptions{Raw: true}); !found {
			t.Errorf("Written(0/0, acme user u1) found nothing; want the user (types in any case, as Get)")
		}
	})

	// Two writes of one resource applied in one transaction: each answer
	// is the resource as its own write left it.
	t.Run("AsWritten", func(t *testing.T) {
		s := openMem(t, Options{})
		f := newFeed()
		f.userCreated("acme", "u1", "alice")
		f.emit(events.UserUpdated, "acme", "User", "u1", user("u1", "alice2"), nil, nil)
		if err := s.applyRecords(f.recs); err != nil {
			t.Fatalf("applyRecords() = %v", err)
		}
		for off, want := range []int64{1, 2} {
			st, found, err := s.Written(ctx, 0, int64(off), "acme", "User", "u1", view.GetOptions{Raw: true})
			if err != nil || !found || st.Version != want {
				t.Errorf("Written(0/%d) = version %d, %v, %v; want version %d", off, st.Version, found, err, want)
			}
		}
	})

	// The window keeps the last windowRecords records only, and none of a
	// bulk replay.
	t.Run("Bounded", func(t *testing.T) {
		s := openMem(t, Options{})
		f := newFeed()
		for i := range windowRecords + 1 {
			f.userCreated("acme", fmt.Sprintf("u%d", i), fmt.Sprintf("user%d", i))
		}
		if err := s.applyRecords(f.recs); err != nil {
			t.Fatalf("applyRecords() = %v", err)
		}
		if _, found, _ := s.Written(ctx, 0, 0, "acme", "User", "u0", view.GetOptions{Raw: true}); found {
			t.Errorf("Written(0/0) found the user %d records later; want it dropped", windowRecords)
		}
		last := int64(windowRecords)
		if _, found, _ := s.Written(ctx, 0, last, "acme", "User", fmt.Sprintf("u%d", last), view.GetOptions{Raw: true}); !found {
			t.Errorf("Written(0/%d) found nothing; want the last user", last)
		}
	})
	t.Run("Bulk", func(t *testing.T) {
		s := openAt(t, t.TempDir(), Options{BulkThreshold: 1})
		f := newFeed()
		f.userCreated("acme", "u1", "alice")
		f.userCreated("acme", "u2", "bob")
		log := newSliceLog(f.recs)
		stop := runBackground(ctx, t, s, log)
		defer stop()
		wctx, wcancel := context.WithTimeout(ctx, 30*time.Second)
		defer wcancel()
		if err := s.WaitApplied(wctx, 0, 1); err != nil {
			t.Fatalf("WaitApplied(0/1) = %v", err)
		}
		if !s.bulked {
			t.Fatal("Run did not replay in bulk")
		}
		if _, found, _ := s.Written(ctx, 0, 1, "acme", "User", "u2", view.GetOptions{Raw: true}); found {
			t.Errorf("Written(0/1) found the user a bulk replay wrote; want nothing")
		}
	})
}
