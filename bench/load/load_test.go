package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// fakeSCIM answers the few SCIM requests the tool sends, per tenant, and
// counts them. Every third GET /Users/{id} is a 500, so the tool has errors
// to count.
type fakeSCIM struct {
	tokens map[string]string // token -> tenant
	// strictRemove makes the fake refuse, with 400, a member remove that
	// carries a value, as servers do that read RFC 7644 literally; it then
	// takes only removes whose path selects the member.
	strictRemove bool

	mu       sync.Mutex
	requests int
	gets     int
	failed   int // 500s sent
	byOp     map[string]int
	users    map[string][]fakeUser // tenant -> users in creation order
	groups   map[string]*fakeGroup // id -> group
	nextID   int
}

type fakeUser struct{ id, userName string }

type fakeGroup struct {
	tenant, name string
	members      map[string]bool
}

func newFakeSCIM(tokens map[string]string) *fakeSCIM {
	return &fakeSCIM{tokens: tokens, byOp: map[string]int{}, users: map[string][]fakeUser{}, groups: map[string]*fakeGroup{}}
}

var filterRE = regexp.MustCompile(`^(userName|displayName) eq "(.*)"$`)

var memberPathRE = regexp.MustCompile(`^members\[value eq "(.*)"\]$`)

func (f *fakeSCIM) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	f.mu.Lock()
	defer f.mu.Unlock()
	f.requests++
	tenant, ok := f.tokens[strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")]
	if !ok {
		http.Error(w, `{"status":"401"}`, http.StatusUnauthorized)
		return
	}
	path := strings.TrimPrefix(r.URL.Path, "/scim/v2")
	q := r.URL.Query()
	reply := func(status int, v any) {
		w.Header().Set("Content-Type", "application/scim+json")
		w.WriteHeader(status)
		if v != nil {
			json.NewEncoder(w).Encode(v)
		}
	}
	list := func(rs []map[string]string, next string) {
		if rs == nil {
			rs = []map[string]string{}
		}
		reply(http.StatusOK, map[string]any{"totalResults": len(rs), "Resources": rs, "nextCursor": next})
	}
	switch {
	case r.Method == http.MethodPost && path == "/Users":
		f.byOp["post"]++
		var u struct{ UserName string }
		json.Unmarshal(body, &u)
		for _, x := range f.users[tenant] {
			if strings.EqualFold(x.userName, u.UserName) {
				reply(http.StatusConflict, map[string]string{"status": "409", "scimType": "uniqueness"})
				return
			}
		}
		f.nextID++
		id := "u" + strconv.Itoa(f.nextID)
		f.users[tenant] = append(f.users[tenant], fakeUser{id, u.UserName})
		reply(http.StatusCreated, map[string]string{"id": id, "userName": u.UserName})
	case r.Method == http.MethodGet && path == "/Users" && q.Has("filter"):
		f.byOp["filter"]++
		m := filterRE.FindStringSubmatch(q.Get("filter"))
		var rs []map[string]string
		for _, x := range f.users[tenant] {
			if m != nil && strings.EqualFold(x.userName, m[2]) {
				rs = append(rs, map[string]string{"id": x.id, "userName": x.userName})
			}
		}
		list(rs, "")
	case r.Method == http.MethodGet && path == "/Users":
		f.byOp["list"]++
		us := f.users[tenant]
		from, _ := strconv.Atoi(q.Get("cursor"))
		if !q.Has("cursor") {
			from, _ = strconv.Atoi(q.Get("startIndex"))
			from = max(from-1, 0)
		}
		count, _ := strconv.Atoi(q.Get("count"))
		to := min(from+count, len(us))
		var rs []map[string]string
		for _, x := range us[min(from, to):to] {
			rs = append(rs, map[string]string{"id": x.id, "userName": x.userName})
		}
		next := ""
		if q.Has("cursor") && to < len(us) {
			next = strconv.Itoa(to)
		}
		list(rs, next)
	case r.Method == http.MethodGet && strings.HasPrefix(path, "/Users/"):
		f.byOp["get"]++
		f.gets++
		if f.gets%3 == 0 {
			f.failed++
			reply(http.StatusInternalServerError, map[string]string{"status": "500"})
			return
		}
		reply(http.StatusOK, map[string]string{"id": strings.TrimPrefix(path, "/Users/")})
	case r.Method == http.MethodPatch && strings.HasPrefix(path, "/Users/"):
		f.byOp["patch"]++
		reply(http.StatusOK, map[string]string{"id": strings.TrimPrefix(path, "/Users/")})
	case r.Method == http.MethodPost && path == "/Groups":
		var g struct{ DisplayName string }
		json.Unmarshal(body, &g)
		f.nextID++
		id := "g" + strconv.Itoa(f.nextID)
		f.groups[id] = &fakeGroup{tenant: tenant, name: g.DisplayName, members: map[string]bool{}}
		reply(http.StatusCreated, map[string]string{"id": id})
	case r.Method == http.MethodGet && path == "/Groups":
		m := filterRE.FindStringSubmatch(q.Get("filter"))
		var rs []map[string]string
		for id, g := range f.groups {
			if m != nil && g.tenant == tenant && g.name == m[2] {
				rs = append(rs, map[string]string{"id": id})
			}
		}
		list(rs, "")
	case r.Method == http.MethodPatch && strings.HasPrefix(path, "/Groups/"):
		f.byOp["member"]++
		g := f.groups[strings.TrimPrefix(path, "/Groups/")]
		var p struct {
			Operations []struct {
				Op    string
				Path  string
				Value []struct{ Value string }
			}
		}
		if g == nil || g.tenant != tenant || json.Unmarshal(body, &p) != nil {
			reply(http.StatusNotFound, nil)
			return
		}
		for _, o := range p.Operations {
			remove := strings.EqualFold(o.Op, "remove")
			if remove && f.strictRemove && o.Value != nil {
				reply(http.StatusBadRequest, map[string]string{"status": "400", "scimType": "invalidValue"})
				return
			}
			if m := memberPathRE.FindStringSubmatch(o.Path); remove && m != nil {
				delete(g.members, m[1])
				continue
			}
			for _, v := range o.Value {
				g.members[v.Value] = strings.EqualFold(o.Op, "add")
				if !g.members[v.Value] {
					delete(g.members, v.Value)
				}
			}
		}
		reply(http.StatusNoContent, nil)
	default:
		reply(http.StatusNotFound, nil)
	}
}

// startFake serves a fakeSCIM for tenants a and b and returns it, its base
// URL and a tokens file naming both.
func startFake(t *testing.T) (*fakeSCIM, string, string) {
	t.Helper()
	f := newFakeSCIM(map[string]string{"tok-a": "a", "tok-b": "b", "tok-c": "c"})
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	tokens := filepath.Join(t.TempDir(), "tokens")
	if err := os.WriteFile(tokens, []byte("# tenant token\na tok-a\n\nb tok-b\nc tok-c\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return f, srv.URL + "/scim/v2", tokens
}

func runJSON(t *testing.T, args ...string) *report {
	t.Helper()
	var out, errs bytes.Buffer
	if err := runMain(context.Background(), append(args, "--json", "--progress", "0"), &out, &errs); err != nil {
		t.Fatalf("runMain(%q): %v\nstderr: %s", args, err, errs.String())
	}
	var rep report
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatalf("decode report: %v\n%s", err, out.String())
	}
	return &rep
}

// checkPhase checks that a phase's figures add up: ops to the total,
// statuses to each op, errors to the non-2xx statuses.
func checkPhase(t *testing.T, name string, p *phaseReport, wantOps []string) {
	t.Helper()
	if p == nil {
		t.Fatalf("%s: no report", name)
	}
	var ops []string
	var sum, errs uint64
	for _, o := range p.Ops {
		ops = append(ops, o.Op)
		sum += o.Requests
		errs += o.Errors
		var st, stErr uint64
		for code, n := range o.Statuses {
			st += n
			if c, _ := strconv.Atoi(code); c < 200 || c > 299 {
				stErr += n
			}
		}
		if st != o.Requests || stErr != o.Errors {
			t.Errorf("%s %s: statuses %v add up to %d (%d errors), want %d (%d errors)", name, o.Op, o.Statuses, st, stErr, o.Requests, o.Errors)
		}
		if o.Requests > 0 && (o.P50Ms <= 0 || o.P50Ms > o.P99Ms || o.P99Ms > o.MaxMs) {
			t.Errorf("%s %s: p50 %v, p99 %v, max %v are not ordered", name, o.Op, o.P50Ms, o.P99Ms, o.MaxMs)
		}
	}
	if fmt.Sprint(ops) != fmt.Sprint(wantOps) {
		t.Errorf("%s: ops %v, want %v", name, ops, wantOps)
	}
	if sum != uint64(p.Requests) || p.All.Requests != sum {
		t.Errorf("%s: ops add up to %d, want requests %d (all: %d)", name, sum, p.Requests, p.All.Requests)
	}
	if errs != p.Errors || p.All.Errors != errs {
		t.Errorf("%s: op errors add up to %d, want %d (all: %d)", name, errs, p.Errors, p.All.Errors)
	}
}

// checkGroups checks that every big group holds the first groupSize users of
// its tenant, as seeding left it and the member op must leave it.
func checkGroups(t *testing.T, f *fakeSCIM, groupSize int) {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, g := range f.groups {
		if !strings.HasSuffix(g.name, "-group-0") {
			continue
		}
		var got []string
		for id := range g.members {
			got = append(got, id)
		}
		var want []string
		for _, u := range f.users[g.tenant] {
			if j, ok := (&tenant{name: g.tenant}).userIndex(u.userName); ok && j < groupSize {
				want = append(want, u.id)
			}
		}
		sort.Strings(got)
		sort.Strings(want)
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("group %s members = %v, want %v", g.name, got, want)
		}
	}
}

func TestRun_DurationAgainstFake(t *testing.T) {
	f, base, tokens := startFake(t)
	rep := runJSON(t, "--url", base, "--tokens-file", tokens, "--tenants", "2", "--users", "41",
		"--group-size", "5", "--concurrency", "4", "--seed-concurrency", "3", "--duration", "1s")

	if s := rep.Seed; s.UsersCreated != 41 || s.Groups != 2 || s.MemberPatches != 2 {
		t.Errorf("seed = %+v, want 41 users created, 2 groups, 2 member patches", s)
	}
	f.mu.Lock()
	na, nb := len(f.users["a"]), len(f.users["b"])
	f.mu.Unlock()
	if na < 21 || nb < 20 {
		t.Errorf("users of a, b = %d, %d; want at least 21, 20 (seeded, plus posts)", na, nb)
	}
	ops := []string{"get", "filter", "list", "patch", "post", "member"}
	checkPhase(t, "baseline", rep.Baseline, ops)
	checkPhase(t, "run", rep.Run, ops)
	if rep.Baseline.Errors != 0 {
		t.Errorf("baseline errors = %d, want 0", rep.Baseline.Errors)
	}
	// By default the bare server is a child process, whose CPU is reported.
	if rep.BaselineURL != "child process" || rep.Baseline.ServerCPUCores <= 0 {
		t.Errorf("baseline ran at %q with server CPU %v; want a child process with its CPU above 0",
			rep.BaselineURL, rep.Baseline.ServerCPUCores)
	}
	for _, o := range rep.Run.Ops {
		if o.Requests > 0 && (o.Ratio == nil || *o.Ratio <= 0) {
			t.Errorf("run %s: ratio %v, want one above 0", o.Op, o.Ratio)
		}
	}

	// Ops in flight at the deadline finish and count, so the fake saw
	// exactly what the tool reports.
	f.mu.Lock()
	seen, failed := f.requests, f.failed
	f.mu.Unlock()
	if got := int64(seen); got != rep.Seed.Requests+rep.Run.Requests+rep.Run.CleanupRequests {
		t.Errorf("fake saw %d requests, tool counted seed %d + run %d + cleanup %d", got, rep.Seed.Requests, rep.Run.Requests, rep.Run.CleanupRequests)
	}
	get := rep.Run.Ops[0]
	if int(get.Errors) != failed || get.Statuses["500"] != get.Errors {
		t.Errorf("get errors = %d (statuses %v), fake sent %d 500s", get.Errors, get.Statuses, failed)
	}
	checkGroups(t, f, 5)
}

func TestRun_MaxRequestsAgainstFake(t *testing.T) {
	f, base, tokens := startFake(t)
	args := []string{"--url", base, "--tokens-file", tokens, "--users", "30", "--group-size", "3",
		"--concurrency", "3", "--duration", "1m", "--max-requests", "120", "--mix", "get=5,member=3,list=1",
		"--list-cursor", "--baseline=false"}
	rep := runJSON(t, args...)
	if rep.Tenants != 3 || rep.Baseline != nil {
		t.Errorf("tenants %d, baseline %v; want 3 (all lines), none", rep.Tenants, rep.Baseline)
	}
	checkPhase(t, "run", rep.Run, []string{"get", "list", "member"})
	f.mu.Lock()
	seen, failed, byOp := f.requests, f.failed, f.byOp
	f.mu.Unlock()
	if rep.Run.Requests != 120 {
		t.Errorf("run requests = %d, want 120", rep.Run.Requests)
	}
	if got := int64(seen); got != rep.Seed.Requests+rep.Run.Requests+rep.Run.CleanupRequests {
		t.Errorf("fake saw %d requests, tool counted seed %d + run %d + cleanup %d", got, rep.Seed.Requests, rep.Run.Requests, rep.Run.CleanupRequests)
	}
	get := rep.Run.Ops[0]
	if int(get.Errors) != failed || int(get.Requests) != byOp["get"] {
		t.Errorf("get: %d requests, %d errors; fake saw %d, sent %d 500s", get.Requests, get.Errors, byOp["get"], failed)
	}
	checkGroups(t, f, 3)

	// A second run finds the seeded users by listing instead of seeding.
	before := seen
	rep = runJSON(t, append(args, "--skip-seed")...)
	if !rep.Seed.Skipped || rep.Run.Requests != 120 {
		t.Errorf("--skip-seed: seed %+v, run requests %d; want skipped, 120", rep.Seed, rep.Run.Requests)
	}
	f.mu.Lock()
	posts := f.byOp["post"]
	f.mu.Unlock()
	if posts != 30 {
		t.Errorf("fake saw %d creates over both runs, want the 30 of the first seed (after %d requests)", posts, before)
	}
	checkGroups(t, f, 3)
}

func TestRun_FlagErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{}, "exactly one of --token"},
		{[]string{"--token", "x", "--url", "http://10.1.2.3/scim/v2"}, "not on loopback"},
		{[]string{"--token", "x", "--duration", "11m"}, "--duration"},
		{[]string{"--token", "x", "--mix", "get=1,nope=2"}, "unknown op"},
		{[]string{"--token", "x", "--tenants", "2"}, "needs --tokens-file"},
		{[]string{"--token", "x", "--groups", "0"}, "member op needs a group"},
		{[]string{"--token", "x", "--concurrency", "0"}, "--concurrency"},
		{[]string{"--token", "x", "--member-remove", "path"}, "--member-remove"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			t.Setenv("SCIM_TOKEN", "")
			var out, errs bytes.Buffer
			err := runMain(context.Background(), tc.args, &out, &errs)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("runMain(%q) = %v, want an error mentioning %q", tc.args, err, tc.want)
			}
		})
	}
}

func TestReadTokens(t *testing.T) {
	ts, err := readTokens(strings.NewReader("# c\n a  tok1 \n\nb tok2\n"))
	if err != nil || len(ts) != 2 || ts[0].name != "a" || ts[1].auth != "Bearer tok2" {
		t.Fatalf("readTokens = %v, %v; want a and b", ts, err)
	}
	for _, in := range []string{"", "a\n", "a b c\n", "a x\na y\n"} {
		if _, err := readTokens(strings.NewReader(in)); err == nil {
			t.Errorf("readTokens(%q) = nil error, want one", in)
		}
	}
}

func TestTenant_UserIndex(t *testing.T) {
	tn := &tenant{name: "acme"}
	for _, j := range []int{0, 7, 123456} {
		if got, ok := tn.userIndex(tn.userName(j)); !ok || got != j {
			t.Errorf("userIndex(userName(%d)) = %d, %v", j, got, ok)
		}
	}
	for _, s := range []string{"load-acme-run-x-1@example.com", "load-acme-07@example.com", "load-other-1@example.com", "load-acme--1@example.com"} {
		if j, ok := tn.userIndex(s); ok {
			t.Errorf("userIndex(%q) = %d, true; want false", s, j)
		}
	}
}

func TestRun_BaselineElsewhere(t *testing.T) {
	_, base, tokens := startFake(t)
	b, err := listenBare("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	common := []string{"--url", base, "--tokens-file", tokens, "--users", "9", "--group-size", "2",
		"--concurrency", "2", "--duration", "1m", "--max-requests", "40", "--mix", "get=1"}
	for _, tc := range []struct {
		flags []string
		where string
	}{
		{[]string{"--baseline-url", b.URL()}, b.URL()},
		{[]string{"--baseline-in-process"}, "in-process"},
	} {
		rep := runJSON(t, append(tc.flags, common...)...)
		if rep.Baseline == nil || rep.BaselineURL != tc.where || rep.Baseline.Requests != 40 || rep.Baseline.Errors != 0 {
			t.Errorf("%v: baseline at %q = %+v; want 40 requests without errors at %q", tc.flags, rep.BaselineURL, rep.Baseline, tc.where)
		}
		if rep.Baseline != nil && rep.Baseline.ServerCPUCores != 0 {
			t.Errorf("%v: server CPU %v reported for a bare server that is not the tool's child", tc.flags, rep.Baseline.ServerCPUCores)
		}
	}
}

// The member op's removes take the shape --member-remove names: against a
// server that refuses a remove carrying a value, the default shape fails
// and "filter" leaves the group as seeded without errors.
func TestRun_MemberRemoveByFilter(t *testing.T) {
	f, base, tokens := startFake(t)
	f.strictRemove = true
	args := []string{"--url", base, "--tokens-file", tokens, "--tenants", "1", "--users", "20", "--group-size", "5",
		"--concurrency", "2", "--duration", "1m", "--max-requests", "40", "--mix", "member=1", "--baseline=false"}

	rep := runJSON(t, args...)
	if m := rep.Run.Ops[0]; m.Statuses["400"] == 0 {
		t.Errorf("value-array removes against the strict fake: statuses %v, want some 400s", m.Statuses)
	}

	f2, base2, tokens2 := startFake(t)
	f2.strictRemove = true
	args2 := append([]string{}, args...)
	args2[1], args2[3] = base2, tokens2
	rep = runJSON(t, append(args2, "--member-remove", "filter")...)
	checkPhase(t, "run", rep.Run, []string{"member"})
	if m := rep.Run.Ops[0]; m.Requests != 40 || m.Errors != 0 {
		t.Errorf("--member-remove filter: %d requests, statuses %v; want 40 without errors", m.Requests, m.Statuses)
	}
	checkGroups(t, f2, 5)
}

// A seed file lets a later run skip seeding without listing the users: the
// second run sends no list and no create, drives the seeded ids, and a seed
// file that does not match the run's flags or server is refused.
func TestRun_SeedFile(t *testing.T) {
	f, base, tokens := startFake(t)
	seedFile := filepath.Join(t.TempDir(), "seed.json")
	common := []string{"--url", base, "--tokens-file", tokens, "--tenants", "2", "--users", "21", "--group-size", "4",
		"--seed-file", seedFile}
	rep := runJSON(t, append(common, "--seed-only")...)
	if rep.Seed.UsersCreated != 21 || rep.Run != nil {
		t.Fatalf("seed-only: %+v, run %v; want 21 users created, no run", rep.Seed, rep.Run)
	}
	f.mu.Lock()
	before := maps.Clone(f.byOp)
	f.mu.Unlock()

	rep = runJSON(t, append(common, "--skip-seed", "--concurrency", "3", "--duration", "1m", "--max-requests", "60",
		"--mix", "get=2,filter=1,member=1", "--baseline=false")...)
	if !rep.Seed.Skipped || rep.Seed.FromFile != seedFile || rep.Seed.Groups != 2 {
		t.Errorf("seed = %+v, want skipped, read from %s, 2 groups", rep.Seed, seedFile)
	}
	checkPhase(t, "run", rep.Run, []string{"get", "filter", "member"})
	f.mu.Lock()
	after := maps.Clone(f.byOp)
	f.mu.Unlock()
	if after["list"] != before["list"] || after["post"] != before["post"] {
		t.Errorf("requests by op before the run %v, after %v; want no list and no post in between", before, after)
	}
	// The fake fails every third GET; the rest found the seeded ids.
	if g := rep.Run.Ops[0]; g.Statuses["200"] == 0 || g.Statuses["404"] != 0 {
		t.Errorf("get statuses %v, want 200s and no 404", g.Statuses)
	}
	checkGroups(t, f, 4)

	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--users", "22"}, "has 11 users, --users gives it 11"},
		{[]string{"--group-size", "3"}, "--group-size gives it 3"},
		{[]string{"--tenants", "3"}, "has 2 tenant(s), the run speaks for 3"},
		{[]string{"--url", strings.Replace(base, "/scim/v2", "/other", 1)}, "seeded " + base},
	} {
		var out, errs bytes.Buffer
		args := append(append([]string{}, common...), "--skip-seed", "--baseline=false", "--max-requests", "1", "--progress", "0")
		args = append(args, tc.args...)
		err := runMain(context.Background(), args, &out, &errs)
		if err == nil || !strings.Contains(err.Error(), "seed again") {
			t.Errorf("%v: err = %v, want a mismatch asking to seed again", tc.args, err)
		}
	}
	var out, errs bytes.Buffer
	missing := append(append([]string{}, common[:len(common)-1]...), filepath.Join(t.TempDir(), "none.json"), "--skip-seed", "--max-requests", "1")
	if err := runMain(context.Background(), missing, &out, &errs); err == nil || !strings.Contains(err.Error(), "--seed-file") {
		t.Errorf("missing seed file: err = %v, want one naming --seed-file", err)
	}
}
