package projection

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/scim-bridge/scim-bridge/events"
	"github.com/scim-bridge/scim-bridge/projection/view"
	"github.com/scim-bridge/scim-bridge/schemas"
)

// diffInstants are the instants the differential test stores and asks
// about: SCIM's whole dateTime range (years 0001 to 9999), the edges of
// what 64-bit Unix nanoseconds hold (1677-09-21 to 2262-04-11) and their
// neighbours, the epoch, and ordinary times.
var diffInstants = func() []time.Time {
	var out []time.Time
	for _, s := range []string{
		"0001-01-01T00:00:00Z",
		"0001-01-01T00:00:00.000000001Z",
		"1000-06-15T12:30:00.5Z",
		"1677-09-21T00:12:43.145224191Z",
		"1677-09-21T00:12:43.145224192Z",
		"1677-09-21T00:12:43.145224193Z",
		"1969-12-31T23:59:59.999999999Z",
		"1970-01-01T00:00:00Z",
		"2025-03-01T12:00:00Z",
		"2025-03-01T12:00:00.000000001Z",
		"2025-03-01T12:00:01Z",
		"2025-03-01T13:59:59.999Z",
		"2262-04-11T23:47:16.854775806Z",
		"2262-04-11T23:47:16.854775807Z",
		"2262-04-11T23:47:16.854775808Z",
		"2999-01-01T00:00:00Z",
		"9999-12-31T23:59:59.999999999Z",
	} {
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			panic(err)
		}
		out = append(out, t)
	}
	return out
}()

// diffTenant applies users and groups whose created and lastModified times
// are drawn from diffInstants (and some ordinary ones), with the string
// attributes the indexes serve.
func diffTenant(t *testing.T, s *Store, rng *rand.Rand) {
	t.Helper()
	stems := []string{"alice", "ALBERT", "al", "bob", "Bobby", "\u212Aelvin", "kelvin", "zoë", "ZOË"}
	titles := []string{"Engineer", "engineer", "Manager"}
	var recs []events.Record
	ver := map[string]int64{}
	at := func() time.Time {
		if rng.IntN(3) == 0 {
			return time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC).Add(time.Duration(rng.IntN(7200)) * time.Second)
		}
		return diffInstants[rng.IntN(len(diffInstants))]
	}
	emit := func(typ, rtype, id string, r schemas.Resource, added []schemas.Member) {
		k := rtype + "/" + id
		n := len(recs)
		recs = append(recs, events.Record{Offset: int64(n), Event: events.Event{
			ID: fmt.Sprintf("ev-%06d", n), Type: typ, Source: "/test", Time: at(),
			Tenant: "acme", ResourceType: rtype, ResourceID: id, Version: ver[k] + 1, PrevVersion: ver[k],
			Resource: r, MembersAdded: added,
		}})
		ver[k]++
	}
	for i := range 150 {
		id := fmt.Sprintf("u%04d", i)
		kv := []any{"title", titles[rng.IntN(len(titles))]}
		if rng.IntN(2) == 0 {
			kv = append(kv, "emails", emails(fmt.Sprintf("%s.%d@Example.com", stems[rng.IntN(len(stems))], rng.IntN(3))))
		}
		if rng.IntN(3) == 0 {
			kv = append(kv, "externalId", fmt.Sprintf("ext-%d", rng.IntN(20)))
		}
		name := fmt.Sprintf("%s%d", stems[i%len(stems)], i)
		emit(events.UserCreated, "User", id, user(id, name, kv...), nil)
		if rng.IntN(2) == 0 { // lastModified differs from created, in either order
			emit(events.UserUpdated, "User", id, user(id, strings.ToUpper(name), kv...), nil)
		}
	}
	for i := range 30 {
		id := fmt.Sprintf("g%03d", i)
		emit(events.GroupCreated, "Group", id, group(id, fmt.Sprintf("%s%d", []string{"Admins", "eng", "Sales"}[i%3], i)), nil)
		if rng.IntN(2) == 0 {
			emit(events.GroupMembersAdded, "Group", id, nil, members(fmt.Sprintf("u%04d", rng.IntN(150))))
		}
	}
	applyAll(t, s, recs)
}

// diffTime writes an instant as a client might: in some offset (when the
// local date stays within years 0001 to 9999) and with or without a
// fraction.
func diffTime(rng *rand.Rand, t time.Time) string {
	if rng.IntN(3) == 0 {
		t = diffInstants[rng.IntN(len(diffInstants))]
	}
	offsets := []int{0, 14 * 3600, -12 * 3600, 5*3600 + 1800, -(9*3600 + 30*60)}
	if local := t.In(time.FixedZone("", offsets[rng.IntN(len(offsets))])); local.Year() >= 1 && local.Year() <= 9999 {
		t = local
	}
	layouts := []string{time.RFC3339Nano, time.RFC3339, "2006-01-02T15:04:05.000Z07:00", "2006-01-02T15:04:05.000000000Z07:00"}
	return t.Format(layouts[rng.IntN(len(layouts))])
}

// diffFilter builds a random filter over meta.created, meta.lastModified
// (which an index answers) and the string attributes with indexes.
func diffFilter(rng *rand.Rand, typ string, depth int) string {
	if depth > 0 && rng.IntN(3) == 0 {
		l, r := diffFilter(rng, typ, depth-1), diffFilter(rng, typ, depth-1)
		switch rng.IntN(3) {
		case 0:
			return "(" + l + ") and (" + r + ")"
		case 1:
			return "(" + l + ") or (" + r + ")"
		default:
			return "not (" + l + ")"
		}
	}
	if rng.IntN(2) == 0 {
		attr := []string{"meta.lastModified", "meta.created", "META.LASTMODIFIED"}[rng.IntN(3)]
		op := []string{"gt", "ge", "lt", "le", "eq", "ne"}[rng.IntN(6)]
		return fmt.Sprintf("%s %s %q", attr, op, diffTime(rng, diffInstants[rng.IntN(len(diffInstants))]))
	}
	op := []string{"eq", "sw", "co", "ew", "ne"}[rng.IntN(5)]
	words := []string{"al", "AL", "alice0", "BOB3", "k", "\u212A", "zoë", "ZOË8", "engineer", "ext-3", "sales2", "admins0", ""}
	w := words[rng.IntN(len(words))]
	attrs := []string{"userName", "title", "emails.value", "externalId", "id"}
	if typ == "Group" {
		attrs = []string{"displayName", "externalId", "id"}
	}
	return fmt.Sprintf("%s %s %q", attrs[rng.IntN(len(attrs))], op, w)
}

// TestStore_ListPlansMatchEvaluator is a differential test: for random
// filters over random data, what List answers (from an index where one
// applies) must be exactly what the evaluator gives on every record, for
// every dateTime SCIM allows, in any offset.
func TestStore_ListPlansMatchEvaluator(t *testing.T) {
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(2026, 6))
	s := openMem(t, Options{})
	diffTenant(t, s, rng)

	// The cases that went wrong, always; then random ones.
	filters := []string{
		`meta.lastModified gt "2999-01-01T00:00:00Z"`,
		`meta.lastModified lt "0001-01-01T00:00:00.000000001Z"`,
		`meta.lastModified ge "9999-12-31T23:59:59.999999999Z"`,
		`meta.lastModified le "1000-01-01T00:00:00+14:00"`,
		`meta.lastModified gt "2262-04-11T23:47:16.854775807Z"`,
		`meta.lastModified lt "2262-04-12T00:00:00Z"`,
		`meta.lastModified ge "1677-09-21T00:12:43.145224192Z"`,
		`meta.lastModified gt "1677-09-20T00:00:00-12:00"`,
	}
	for range 600 {
		filters = append(filters, diffFilter(rng, "User", 3))
	}
	for range 150 {
		filters = append(filters, "Group|"+diffFilter(rng, "Group", 2))
	}
	planned := 0
	for _, f := range filters {
		typ := "User"
		if g, ok := strings.CutPrefix(f, "Group|"); ok {
			typ, f = "Group", g
		}
		e, err := schemas.ParseFilter(f)
		if err != nil {
			t.Fatalf("ParseFilter(%s) = %v", f, err)
		}
		want := bruteForce(t, s, typ, e)
		page, err := s.List(ctx, "acme", typ, view.Query{Filter: e, Count: 10000})
		if err != nil {
			t.Fatalf("List(%s) = %v", f, err)
		}
		if got := ids(page); !slices.Equal(got, want) || page.Total != len(want) {
			t.Errorf("%s filter %s:\n List = %v (total %d)\n evaluator = %v", typ, f, got, page.Total, want)
		}
		if strings.Contains(strings.ToLower(f), "lastmodified") {
			planned++
		}
	}
	if planned < 100 {
		t.Errorf("only %d filters used meta.lastModified, want at least 100", planned)
	}
}

// TestAppendTime_Order: time keys order instants as instants (strictly
// where both have keys of their own), across SCIM's whole dateTime range.
func TestAppendTime_Order(t *testing.T) {
	for _, a := range diffInstants {
		for _, b := range diffInstants {
			ka, kb := string(appendTime(nil, a)), string(appendTime(nil, b))
			switch {
			case a.Before(b) && ka > kb, a.Equal(b) && ka != kb:
				t.Errorf("key(%v) vs key(%v) out of order", a, b)
			case a.Before(b) && ownTimeKey(a) != ownTimeKey(b) && ka >= kb:
				t.Errorf("key(%v) = key(%v): an own key is shared", a, b)
			case a.Before(b) && ownTimeKey(a) && ownTimeKey(b) && ka >= kb:
				t.Errorf("key(%v) >= key(%v), want <", a, b)
			}
		}
	}
}
