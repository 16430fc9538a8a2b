package projection

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dgraph-io/badger/v4"

	"github.com/scim-bridge/scim-bridge/events"
	"github.com/scim-bridge/scim-bridge/projection/view"
	"github.com/scim-bridge/scim-bridge/schemas"
)

// randomTenant applies a random but reproducible data set: users with
// userNames of mixed case (and runes whose case folding is not ASCII's),
// emails, externalIds, titles, updates; groups with members.
func randomTenant(t testing.TB, s *Store, nUsers, nGroups int) *feed {
	t.Helper()
	rng := rand.New(rand.NewPCG(7, 11))
	stems := []string{"alice", "ALBERT", "Al", "bob", "Bobby", "carol", "\u212Aelvin", "kelvin", "\u017Fam", "sam", "zoë", "ZOË"}
	titles := []string{"Engineer", "engineer", "Manager", ""}
	f := newFeed()
	for i := range nUsers {
		id := fmt.Sprintf("u%04d", i)
		kv := []any{"active", rng.IntN(4) != 0}
		if ti := titles[rng.IntN(len(titles))]; ti != "" {
			kv = append(kv, "title", ti)
		}
		var es []string
		for range rng.IntN(3) {
			es = append(es, fmt.Sprintf("%s.%d@Example.com", stems[rng.IntN(len(stems))], rng.IntN(5)))
		}
		if len(es) > 0 {
			kv = append(kv, "emails", emails(es...))
		}
		if rng.IntN(3) == 0 {
			kv = append(kv, "externalId", fmt.Sprintf("ext-%d", rng.IntN(nUsers/2+1)))
		}
		name := fmt.Sprintf("%s%d", stems[i%len(stems)], i)
		f.userCreated("acme", id, name, kv...)
		if rng.IntN(4) == 0 {
			f.emit(events.UserUpdated, "acme", "User", id, user(id, strings.ToUpper(name), kv...), nil, nil)
		}
	}
	// Another tenant with look-alike data must never leak into results.
	f.userCreated("other", "u0001", "alice1")
	names := []string{"Admins", "admins", "Engineering", "eng-ops", "Sales"}
	for i := range nGroups {
		id := fmt.Sprintf("g%03d", i)
		r := group(id, names[rng.IntN(len(names))]+fmt.Sprint(i%3))
		if rng.IntN(2) == 0 {
			r["externalId"] = fmt.Sprintf("gext-%d", i%4)
		}
		f.emit(events.GroupCreated, "acme", "Group", id, r, nil, nil)
		var ms []string
		for range rng.IntN(6) {
			ms = append(ms, fmt.Sprintf("u%04d", rng.IntN(nUsers)))
		}
		if len(ms) > 0 {
			f.addMembers("acme", id, ms...)
		}
	}
	applyAll(t, s, f.recs)
	return f
}

// bruteForce evaluates filter on every resource of the type, in id order.
func bruteForce(t *testing.T, s *Store, typ string, filter schemas.Expr) []string {
	t.Helper()
	rt, _ := s.reg.ResourceType(typ)
	var out []string
	err := s.db.View(func(txn *badger.Txn) error {
		l := &lister{txn: txn, tenant: "acme", typ: typ, rt: rt}
		return l.each(context.Background(), nil, func(id string, r *record) {
			if l.match(filter, r) {
				out = append(out, id)
			}
		})
	})
	if err != nil {
		t.Fatalf("scan: %v", err)
	}
	return out
}

func ids(p view.Page) []string {
	out := make([]string, len(p.Resources))
	for i, r := range p.Resources {
		out[i] = r.Resource.ID()
	}
	return out
}

func mustParse(t *testing.T, f string) schemas.Expr {
	t.Helper()
	e, err := schemas.ParseFilter(f)
	if err != nil {
		t.Fatalf("ParseFilter(%q) = %v", f, err)
	}
	return e
}

func TestStore_ListPlansMatchScan(t *testing.T) {
	ctx := context.Background()
	s := openMem(t, Options{})
	f := randomTenant(t, s, 300, 40)
	mid := f.recs[200].Event.Time.Format(time.RFC3339)
	midG := f.recs[len(f.recs)-30].Event.Time.Format(time.RFC3339)

	tests := []struct {
		typ, filter string
		planned     bool // an index plan exists (else a scan)
	}{
		{"User", `userName eq "alice12"`, true},
		{"User", `USERNAME eq "ALICE12"`, true},
		{"User", `userName eq "KELVIN6"`, true},
		{"User", `userName eq "Kelvin6"`, true},
		{"User", `userName eq "SAM8"`, true},
		{"User", `userName eq "zoË10"`, true},
		{"User", `userName sw "al"`, true},
		{"User", `userName sw "AL"`, true},
		{"User", `userName sw "k"`, true},
		{"User", `userName sw "\u212A"`, true},
		{"User", `userName sw "s"`, true},
		{"User", `userName sw "\u017F"`, true},
		{"User", `userName sw "zoë"`, true},
		{"User", `userName sw ""`, true},
		{"User", `emails.value eq "bob.1@example.com"`, true},
		{"User", `emails eq "BOB.1@EXAMPLE.COM"`, true},
		{"User", `emails[value eq "kelvin.2@example.com"]`, true},
		{"User", `emails[type eq "work" and value eq "sam.0@example.com"]`, false},
		{"User", `urn:ietf:params:scim:schemas:core:2.0:User:userName eq "bob3"`, true},
		{"User", `externalId eq "ext-3"`, true},
		{"User", `externalId eq "EXT-3"`, true},
		{"User", `id eq "u0005"`, true},
		{"User", `id eq "nope"`, true},
		{"User", `meta.lastModified gt "` + mid + `"`, true},
		{"User", `meta.lastModified ge "` + mid + `"`, true},
		{"User", `meta.lastModified lt "` + mid + `"`, true},
		{"User", `meta.lastModified le "` + mid + `"`, true},
		{"User", `meta.created gt "` + mid + `"`, false},
		{"User", `userName sw "al" and active eq true`, true},
		{"User", `active eq true and userName sw "b"`, true},
		{"User", `userName sw "al" and emails pr`, true},
		{"User", `userName sw "b" and externalId eq "ext-1"`, true},
		{"User", `userName eq "bob15" or emails.value eq "carol.2@example.com"`, true},
		{"User", `userName sw "a" or title eq "engineer"`, false},
		{"User", `not (userName sw "a")`, false},
		{"User", `title eq "ENGINEER"`, false},
		{"User", `active eq false and meta.lastModified ge "` + mid + `"`, true},
		{"User", `displayName eq "x"`, false},
		{"Group", `displayName eq "admins1"`, true},
		{"Group", `displayName sw "ENG"`, true},
		{"Group", `displayName sw "eng" and externalId pr`, true},
		{"Group", `externalId eq "gext-2" or displayName eq "sales0"`, true},
		{"Group", `meta.lastModified lt "` + midG + `"`, true},
		{"Group", `userName eq "alice3"`, false},
	}
	for _, tc := range tests {
		t.Run(tc.typ+"/"+tc.filter, func(t *testing.T) {
			e := mustParse(t, tc.filter)
			want := bruteForce(t, s, tc.typ, e)
			page, err := s.List(ctx, "acme", tc.typ, view.Query{Filter: e, Count: 10000})
			if err != nil {
				t.Fatalf("List() = %v", err)
			}
			if got := ids(page); !slices.Equal(got, want) {
				t.Errorf("List(%s) = %v, want %v", tc.filter, got, want)
			}
			if page.Total != len(want) {
				t.Errorf("List(%s).Total = %d, want %d", tc.filter, page.Total, len(want))
			}
			// Without meta, the evaluator alone must agree too.
			if !strings.Contains(tc.filter, "meta.") {
				rt, _ := s.reg.ResourceType(tc.typ)
				var direct []string
				for _, r := range allOf(t, s, tc.typ) {
					if rt.Matches(e, r.Resource) {
						direct = append(direct, r.Resource.ID())
					}
				}
				if !slices.Equal(direct, want) {
					t.Errorf("rt.Matches(%s) over all = %v, want %v", tc.filter, direct, want)
				}
			}
			err = s.db.View(func(txn *badger.Txn) error {
				rt, _ := s.reg.ResourceType(tc.typ)
				p, err := (&lister{txn: txn, tenant: "acme", typ: tc.typ, rt: rt}).plan(ctx, e)
				if (p != nil) != tc.planned {
					t.Errorf("plan(%s) = %v, want planned=%v", tc.filter, p, tc.planned)
				}
				return err
			})
			if err != nil {
				t.Fatalf("plan: %v", err)
			}
		})
	}
}

func allOf(t *testing.T, s *Store, typ string) []view.Stored {
	t.Helper()
	page, err := s.List(context.Background(), "acme", typ, view.Query{Count: 1 << 20})
	if err != nil {
		t.Fatalf("List(all) = %v", err)
	}
	return page.Resources
}

func TestStore_ListPaging(t *testing.T) {
	ctx := context.Background()
	s := openMem(t, Options{})
	randomTenant(t, s, 120, 10)
	rt, _ := s.reg.ResourceType("User")
	userName := &schemas.AttrPath{Name: "userName"}
	lastModified := &schemas.AttrPath{Name: "meta", Sub: "lastModified"}

	tests := []struct {
		name   string
		filter string
		sortBy *schemas.AttrPath
		desc   bool
	}{
		{"All", "", nil, false},
		{"Indexed", `userName sw "a"`, nil, false},
		{"Candidates", `userName sw "b" and active eq true`, nil, false},
		{"Scan", `title pr`, nil, false},
		{"SortUserName", "", userName, false},
		{"SortUserNameDesc", `active eq true`, userName, true},
		{"SortLastModified", `userName sw "k"`, lastModified, false},
		{"SortTitleMissingLast", "", &schemas.AttrPath{Name: "title"}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			q := view.Query{SortBy: tc.sortBy, Descending: tc.desc, Count: 1 << 20}
			if tc.filter != "" {
				q.Filter = mustParse(t, tc.filter)
			}
			full, err := s.List(ctx, "acme", "User", q)
			if err != nil {
				t.Fatalf("List(all) = %v", err)
			}
			want := ids(full)
			if full.Total != len(want) || len(want) == 0 {
				t.Fatalf("List(all).Total = %d with %d resources, want equal and > 0", full.Total, len(want))
			}
			if tc.sortBy != nil {
				checkSorted(t, s, rt, full.Resources, *tc.sortBy, tc.desc)
			} else if !slices.IsSorted(want) {
				t.Errorf("List(all) = %v, want sorted by id", want)
			}

			t.Run("StartIndex", func(t *testing.T) {
				var got []string
				for start := 1; start <= len(want); start += 7 {
					q := q
					q.StartIndex, q.Count = start, 7
					p, err := s.List(ctx, "acme", "User", q)
					if err != nil {
						t.Fatalf("List(startIndex=%d) = %v", start, err)
					}
					if p.Total != len(want) || p.NextCursor != "" {
						t.Errorf("List(startIndex=%d) = total %d, cursor %q, want %d, none", start, p.Total, p.NextCursor, len(want))
					}
					got = append(got, ids(p)...)
				}
				if !slices.Equal(got, want) {
					t.Errorf("pages by startIndex = %v, want %v", got, want)
				}
			})
			t.Run("Cursor", func(t *testing.T) {
				var got []string
				q := q
				q.UseCursor, q.Count = true, 7
				for pages := 0; ; pages++ {
					if pages > len(want) {
						t.Fatalf("cursor paging does not end")
					}
					p, err := s.List(ctx, "acme", "User", q)
					if err != nil {
						t.Fatalf("List(cursor %q) = %v", q.Cursor, err)
					}
					if p.Total != len(want) {
						t.Errorf("List(cursor).Total = %d, want %d", p.Total, len(want))
					}
					got = append(got, ids(p)...)
					if p.NextCursor == "" {
						break
					}
					q.Cursor = p.NextCursor
				}
				if !slices.Equal(got, want) {
					t.Errorf("pages by cursor = %v, want %v", got, want)
				}
			})
			t.Run("TotalsOnly", func(t *testing.T) {
				q := q
				q.Count = 0
				p, err := s.List(ctx, "acme", "User", q)
				if err != nil || p.Total != len(want) || len(p.Resources) != 0 {
					t.Errorf("List(count=0) = total %d, %d resources, %v, want %d, 0", p.Total, len(p.Resources), err, len(want))
				}
			})
			t.Run("PastTheEnd", func(t *testing.T) {
				q := q
				q.StartIndex, q.Count = len(want)+1, 10
				p, err := s.List(ctx, "acme", "User", q)
				if err != nil || p.Total != len(want) || len(p.Resources) != 0 {
					t.Errorf("List(startIndex past end) = total %d, %d resources, %v, want %d, 0", p.Total, len(p.Resources), err, len(want))
				}
			})
		})
	}
}

// checkSorted checks rs are ordered by (SortKey, id), reversed when desc.
func checkSorted(t *testing.T, s *Store, rt *schemas.ResourceType, rs []view.Stored, p schemas.AttrPath, desc bool) {
	t.Helper()
	key := func(st view.Stored) []byte {
		if p.Name == "meta" {
			return appendTime(nil, st.LastModified)
		}
		return rt.SortKey(st.Resource, p)
	}
	for i := 1; i < len(rs); i++ {
		c := bytes.Compare(key(rs[i-1]), key(rs[i]))
		if c == 0 {
			c = strings.Compare(rs[i-1].Resource.ID(), rs[i].Resource.ID())
		}
		if desc {
			c = -c
		}
		if c >= 0 {
			t.Errorf("resources %d and %d (%s, %s) out of order", i-1, i, rs[i-1].Resource.ID(), rs[i].Resource.ID())
		}
	}
}

func TestStore_ListCursorErrors(t *testing.T) {
	ctx := context.Background()
	s := openMem(t, Options{})
	randomTenant(t, s, 30, 2)
	first, err := s.List(ctx, "acme", "User", view.Query{Filter: mustParse(t, `userName sw "a"`), UseCursor: true, Count: 1})
	if err != nil || first.NextCursor == "" {
		t.Fatalf("List(first page) = cursor %q, %v, want a cursor", first.NextCursor, err)
	}
	tests := []struct {
		name string
		q    view.Query
	}{
		{"OtherFilter", view.Query{Filter: mustParse(t, `userName sw "b"`), Cursor: first.NextCursor}},
		{"NoFilter", view.Query{Cursor: first.NextCursor}},
		{"OtherSort", view.Query{Filter: mustParse(t, `userName sw "a"`), SortBy: &schemas.AttrPath{Name: "userName"}, Cursor: first.NextCursor}},
		{"Garbage", view.Query{Filter: mustParse(t, `userName sw "a"`), Cursor: "not a cursor!"}},
		{"Truncated", view.Query{Filter: mustParse(t, `userName sw "a"`), Cursor: first.NextCursor[:5]}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.q.UseCursor, tc.q.Count = true, 1
			_, err := s.List(ctx, "acme", "User", tc.q)
			if got := schemas.KindOf(err); got != schemas.KindInvalidCursor {
				t.Errorf("List() = %v (kind %v), want KindInvalidCursor", err, got)
			}
		})
	}
	t.Run("OtherTenant", func(t *testing.T) {
		_, err := s.List(ctx, "other", "User", view.Query{Filter: mustParse(t, `userName sw "a"`), UseCursor: true, Cursor: first.NextCursor, Count: 1})
		if got := schemas.KindOf(err); got != schemas.KindInvalidCursor {
			t.Errorf("List(other tenant) = %v, want KindInvalidCursor", err)
		}
	})
}

func TestStore_ListGetOptions(t *testing.T) {
	ctx := context.Background()
	s := openMem(t, Options{})
	f := newFeed()
	f.userCreated("acme", "u1", "alice")
	f.groupCreated("acme", "g1", "Admins")
	f.addMembers("acme", "g1", "u1")
	applyAll(t, s, f.recs)

	p, err := s.List(ctx, "acme", "Group", view.Query{Count: 10, Get: view.GetOptions{Members: true}})
	if err != nil || len(p.Resources) != 1 {
		t.Fatalf("List(Groups) = %d resources, %v, want 1", len(p.Resources), err)
	}
	if ms, _ := p.Resources[0].Resource["members"].([]any); len(ms) != 1 {
		t.Errorf("List(Groups, Members).members = %v, want one member", p.Resources[0].Resource["members"])
	}
	p, err = s.List(ctx, "acme", "Group", view.Query{Count: 10})
	if err != nil || len(p.Resources) != 1 {
		t.Fatalf("List(Groups) = %d resources, %v, want 1", len(p.Resources), err)
	}
	if _, ok := p.Resources[0].Resource["members"]; ok {
		t.Errorf("List(Groups) without Members has members")
	}
	p, err = s.List(ctx, "acme", "User", view.Query{Count: 10, Get: view.GetOptions{Groups: true}})
	if err != nil || len(p.Resources) != 1 {
		t.Fatalf("List(Users) = %d resources, %v, want 1", len(p.Resources), err)
	}
	if gs, _ := p.Resources[0].Resource["groups"].([]any); len(gs) != 1 {
		t.Errorf("List(Users, Groups).groups = %v, want one group", p.Resources[0].Resource["groups"])
	}
	if _, err := s.List(ctx, "acme", "Widget", view.Query{}); schemas.KindOf(err) != schemas.KindNotFound {
		t.Errorf("List(Widget) = %v, want KindNotFound", err)
	}
}
