package projection

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode"

	"github.com/scim-bridge/scim-bridge/projection/view"
	"github.com/scim-bridge/scim-bridge/schemas"
)

// manyUsers applies n users "user0000"… of tenant acme, each a second
// after the previous, and returns the feed.
func manyUsers(t *testing.T, s *Store, n int) *feed {
	t.Helper()
	f := newFeed()
	for i := range n {
		f.userCreated("acme", fmt.Sprintf("u%05d", i), fmt.Sprintf("user%05d", i), "title", "Engineer")
	}
	applyAll(t, s, f.recs)
	return f
}

// orOf joins terms with "or".
func orOf(terms []string) string { return strings.Join(terms, " or ") }

// TestStore_ListPlanBounded: a filter repeating one condition, or listing
// many conditions each reading much of an index, costs a bounded number of
// index reads (a filter of 227 `userName sw ""` once read the whole
// userName index 227 times), and answers what the evaluator answers.
func TestStore_ListPlanBounded(t *testing.T) {
	const n = 3000
	s := openMem(t, Options{})
	f := manyUsers(t, s, n)
	var stats listStats
	s.probe = &listProbe{done: func(st listStats) { stats = st }}

	repeat := func(term string, k int) []string {
		out := make([]string, k)
		for i := range out {
			out[i] = term
		}
		return out
	}
	// Filters stay under the 4 KiB the parser allows.
	var modified, prefixes, cased []string
	for i := range 80 {
		// Each matches most users: a range read over most of the
		// lastModified index.
		modified = append(modified, `meta.lastModified gt "`+f.recs[i].Event.Time.Format(time.RFC3339)+`"`)
	}
	for i := range 150 {
		prefixes = append(prefixes, fmt.Sprintf(`userName sw "user%04d"`, i)) // 10 users each
	}
	for i := range 8 {
		// Conditions spelt differently, each a read of the whole userName
		// index.
		attr := []string{"userName", "USERNAME", "UserName", "username"}[i%4]
		cased = append(cased, attr+` sw "`+strings.Repeat("U", i/4)+`"`)
	}

	tests := []struct {
		name     string
		filter   string
		maxKeys  int // index keys the planner may visit
		maxTotal int // index keys and records together
	}{
		{"SameTerm", orOf(repeat(`userName sw ""`, 227)), n, n},
		{"SameTermAnd", strings.Join(repeat(`userName sw "user0"`, 160), " and "), n, n},
		{"ManyRanges", orOf(modified), maxPlanKeys(n), maxPlanKeys(n) + n},
		{"ManySmallRanges", orOf(prefixes), maxIndexRanges * 10, maxIndexRanges*10 + n},
		{"SpellingsOfOneRange", orOf(cased), maxPlanKeys(n), maxPlanKeys(n) + n},
		// One candidate: evaluated, no index read for the rest.
		{"FewCandidates", `userName eq "user00042" and (` + orOf(modified[:70]) + `)`, 1, 2},
		// A thousand candidates: the rest is planned until the budget runs
		// out, then evaluated on them.
		{"RangesUnderAnd", `userName sw "user000" and (` + orOf(modified[:70]) + `)`, maxPlanKeys(n), maxPlanKeys(n) + 1000},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := mustParse(t, tc.filter)
			want := bruteForce(t, s, "User", e)
			page, err := s.List(context.Background(), "acme", "User", view.Query{Filter: e, Count: 5})
			if err != nil {
				t.Fatalf("List() = %v", err)
			}
			if page.Total != len(want) || !slices.Equal(ids(page), want[:min(5, len(want))]) {
				t.Errorf("List() = %d: %v, want %d: %v", page.Total, ids(page), len(want), want[:min(5, len(want))])
			}
			t.Logf("%d matches; %d index ranges, %d keys, %d records", page.Total, stats.ranges, stats.keys, stats.records)
			if stats.keys > tc.maxKeys || stats.keys+stats.records > tc.maxTotal {
				t.Errorf("List() visited %d index keys and %d records, want at most %d keys and %d in all",
					stats.keys, stats.records, tc.maxKeys, tc.maxTotal)
			}
		})
	}
}

// TestStore_ListPointReads: what Okta and Entra send before every create,
// `userName eq`, costs List the point read of the userName's key and one of
// the user's record, and nothing for a userName nobody has; a plan reads
// the type's counter (for its key budget, maxPlanKeys) only once it has
// read more index keys than the budget's slack, and then still plans what
// the budget affords.
func TestStore_ListPointReads(t *testing.T) {
	const n = 3000
	s := openMem(t, Options{})
	manyUsers(t, s, n)
	var stats listStats
	s.probe = &listProbe{done: func(st listStats) { stats = st }}
	for _, tc := range []struct {
		name    string
		filter  string
		matches int
		points  int // point reads: counters, point keys, the page's records
		keys    int // index keys the planner read
		records int // records the evaluator read
	}{
		{"UserNameEq", `userName eq "USER00042"`, 1, 2, 1, 0},
		{"UserNameEqNobody", `userName eq "nobody"`, 0, 1, 1, 0},
		{"IDEq", `id eq "u00042"`, 1, 2, 1, 0},
		{"SmallRange", `userName sw "user0004"`, 10, 5, 10, 0},
		// More keys than the slack: the counter is read and the whole
		// range planned.
		{"RangePastTheSlack", `userName sw "user"`, n, 1 + 5, n, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			page, err := s.List(context.Background(), "acme", "User", view.Query{Filter: mustParse(t, tc.filter), Count: 5})
			if err != nil || page.Total != tc.matches {
				t.Fatalf("List() = %d matches, %v, want %d", page.Total, err, tc.matches)
			}
			if stats.points != tc.points || stats.keys != tc.keys || stats.records != tc.records {
				t.Errorf("List() made %d point reads, read %d index keys and %d records; want %d, %d and %d",
					stats.points, stats.keys, stats.records, tc.points, tc.keys, tc.records)
			}
		})
	}
}

// TestStore_ListStopsWhenCanceled cancels a List after it visited 100
// index keys or records: it must stop soon after, wherever it is, with the
// context's error.
func TestStore_ListStopsWhenCanceled(t *testing.T) {
	const n = 3000
	s := openMem(t, Options{})
	f := manyUsers(t, s, n)
	old := f.recs[10].Event.Time.Format(time.RFC3339)

	tests := []struct {
		name, filter string // "": no filter
		sortBy       bool
		cancelAt     int // visits
	}{
		{"DeepStartIndex", "", false, 100},
		{"PrefixRead", `userName sw "user"`, false, 100},
		{"TimeRange", `meta.lastModified gt "` + old + `"`, false, 100},
		{"ManyRanges", `userName sw "user0" or userName sw "user1" or userName sw "user2"`, false, 100},
		{"Scan", `title eq "nobody"`, false, 100},
		// After the plan's n index keys, among its candidates.
		{"Candidates", `userName sw "user" and title eq "nobody"`, false, n + 100},
		{"Sorted", `userName sw "user"`, true, n + 100},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			visits := 0
			var stats listStats
			s.probe = &listProbe{
				visit: func() {
					if visits++; visits == tc.cancelAt {
						cancel()
					}
				},
				done: func(st listStats) { stats = st },
			}
			q := view.Query{Count: 10}
			if tc.filter != "" {
				q.Filter = mustParse(t, tc.filter)
			} else {
				q.StartIndex = n - 5
			}
			if tc.sortBy {
				q.SortBy = &schemas.AttrPath{Name: "userName"}
			}
			_, err := s.List(ctx, "acme", "User", q)
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("List() after cancel = %v, want context.Canceled", err)
			}
			// It checks the context every ctxCheckEvery visits.
			if got := stats.keys + stats.records + stats.skipped; got > tc.cancelAt+ctxCheckEvery {
				t.Errorf("List() visited %d keys and records after the cancel at %d, want at most %d", got, tc.cancelAt, tc.cancelAt+ctxCheckEvery)
			}
		})
	}
}

// TestStore_ListPlanMatchesEvaluator compares List with the evaluator alone
// (bruteForce) over random filters on random data: and/or/not of indexed
// and unindexed conditions, with repeated terms, prefixes and values in
// other cases, under the default budget and under budgets so small that
// plans give up part way.
func TestStore_ListPlanMatchesEvaluator(t *testing.T) {
	s := openMem(t, Options{})
	f := randomTenant(t, s, 400, 40)
	rng := rand.New(rand.NewPCG(3, 5))
	times := func() string {
		return f.recs[rng.IntN(len(f.recs))].Event.Time.Format(time.RFC3339)
	}
	flipCase := func(v string) string {
		out := []rune(v)
		for i, r := range out {
			if rng.IntN(2) == 0 {
				out[i] = unicode.ToUpper(r)
			} else {
				out[i] = unicode.ToLower(r)
			}
		}
		return string(out)
	}
	// Values from the data set: userNames (randomTenant's stems and a
	// number), emails, ids.
	stems := []string{"alice", "ALBERT", "Al", "bob", "Bobby", "carol", "\u212Aelvin", "kelvin", "\u017Fam", "sam", "zoë", "ZOË"}
	userName := func() string {
		i := rng.IntN(420)
		return fmt.Sprintf("%s%d", stems[i%len(stems)], i)
	}
	prefix := func() string {
		n := userName()
		r := []rune(n)
		return string(r[:rng.IntN(len(r)+1)])
	}
	quote := func(v string) string { return strconv.Quote(flipCase(v)) }
	ops := []string{"gt", "ge", "lt", "le"}
	leaves := map[string][]func() string{
		"User": {
			func() string { return `userName eq ` + quote(userName()) },
			func() string { return `userName sw ` + quote(prefix()) },
			func() string { return `userName sw ""` },
			func() string { return `userName co ` + quote(prefix()) },
			func() string {
				return `emails.value eq ` + quote(fmt.Sprintf("%s.%d@example.com", stems[rng.IntN(len(stems))], rng.IntN(5)))
			},
			func() string {
				return `emails[value eq ` + quote(fmt.Sprintf("%s.%d@example.com", stems[rng.IntN(len(stems))], rng.IntN(5))) + `]`
			},
			func() string { return `emails pr` },
			func() string { return fmt.Sprintf(`externalId eq "ext-%d"`, rng.IntN(200)) },
			func() string { return fmt.Sprintf(`id eq "u%04d"`, rng.IntN(420)) },
			func() string { return `title eq ` + quote("engineer") },
			func() string { return `active eq true` },
			func() string { return `meta.lastModified ` + ops[rng.IntN(4)] + ` "` + times() + `"` },
			func() string { return fmt.Sprintf(`groups[value eq "g%03d"]`, rng.IntN(40)) },
			func() string { return fmt.Sprintf(`groups eq "g%03d"`, rng.IntN(40)) },
			func() string { return `groups pr` },
		},
		"Group": {
			func() string {
				return `displayName eq ` + quote([]string{"Admins", "Engineering", "eng-ops", "Sales"}[rng.IntN(4)]+fmt.Sprint(rng.IntN(3)))
			},
			func() string {
				return `displayName sw ` + quote([]string{"", "a", "eng", "Engineering1", "s"}[rng.IntN(5)])
			},
			func() string { return fmt.Sprintf(`externalId eq "gext-%d"`, rng.IntN(4)) },
			func() string { return fmt.Sprintf(`id eq "g%03d"`, rng.IntN(45)) },
			func() string { return `meta.lastModified ` + ops[rng.IntN(4)] + ` "` + times() + `"` },
			func() string { return fmt.Sprintf(`members[value eq "u%04d"]`, rng.IntN(400)) },
			func() string { return fmt.Sprintf(`members.value eq "u%04d"`, rng.IntN(400)) },
			func() string { return `members pr` },
		},
	}
	// filter draws a few leaves and combines them, reusing them so that
	// terms repeat.
	filter := func(typ string) string {
		pool := make([]string, 1+rng.IntN(4))
		for i := range pool {
			ls := leaves[typ]
			pool[i] = ls[rng.IntN(len(ls))]()
		}
		var build func(depth int) string
		build = func(depth int) string {
			if depth == 0 || rng.IntN(3) == 0 {
				return pool[rng.IntN(len(pool))]
			}
			switch rng.IntN(5) {
			case 0:
				return "not (" + build(depth-1) + ")"
			case 1, 2:
				return build(depth-1) + " and " + build(depth-1)
			}
			if rng.IntN(2) == 0 {
				return "(" + build(depth-1) + ") or (" + build(depth-1) + ")"
			}
			return build(depth-1) + " or " + build(depth-1)
		}
		return build(4)
	}
	budgets := []struct {
		name               string
		maxRanges, maxKeys int
	}{
		{"default", 0, 0},
		{"oneRange", 1, 0},
		{"fewKeys", 0, 20},
		{"tiny", 2, 5},
	}
	for i := range 150 {
		for _, typ := range []string{"User", "Group"} {
			fs := filter(typ)
			e := mustParse(t, fs)
			want := bruteForce(t, s, typ, e)
			for _, b := range budgets {
				s.probe = &listProbe{maxRanges: b.maxRanges, maxKeys: b.maxKeys}
				page, err := s.List(context.Background(), "acme", typ, view.Query{Filter: e, Count: 1000})
				if err != nil {
					t.Fatalf("%d: List(%s, %s) with budget %s = %v", i, typ, fs, b.name, err)
				}
				if got := ids(page); !slices.Equal(got, want) || page.Total != len(want) {
					t.Errorf("%d: List(%s, %s) with budget %s = %d: %v, want %d: %v", i, typ, fs, b.name, page.Total, got, len(want), want)
				}
			}
		}
	}
	s.probe = nil
}

func TestDedupe(t *testing.T) {
	tests := []struct{ in, want string }{
		{`a eq 1 or a eq 1`, `a eq 1`},
		{`a eq 1 or b eq 2 or a eq 1 or b eq 2 or c eq 3`, `a eq 1 or b eq 2 or c eq 3`},
		{`a eq 1 or (b eq 2 or a eq 1)`, `a eq 1 or b eq 2`},
		{`a eq 1 and a eq 1 and b pr`, `a eq 1 and b pr`},
		{`a eq 1 and (a eq 1 or a eq 1)`, `a eq 1`},
		{`(a eq 1 and b eq 2) or (a eq 1 and b eq 2)`, `a eq 1 and b eq 2`},
		{`not (a eq 1 or a eq 1)`, `not (a eq 1)`},
		{`emails[type eq "w" or type eq "w"]`, `emails[type eq "w"]`},
		{`a eq 1 or A eq 1`, `a eq 1 or A eq 1`},
	}
	for _, tt := range tests {
		e := mustParse(t, tt.in)
		before := e.String()
		if got, want := dedupe(e).String(), mustParse(t, tt.want).String(); got != want {
			t.Errorf("dedupe(%s) = %s, want %s", tt.in, got, want)
		}
		if e.String() != before {
			t.Errorf("dedupe(%s) changed its argument to %s", tt.in, e)
		}
	}
}
