package bridge_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/scim-bridge/scim-bridge/bridge"
	"github.com/scim-bridge/scim-bridge/events"
	"github.com/scim-bridge/scim-bridge/schemas"
)

// diffWrite is one write of the differential test: it runs against a
// bridge with ids translated by tr (identity on the concurrent run) and
// returns the id it created, if any.
type diffWrite func(ctx context.Context, b client, e *env, r request, tr func(string) string) (string, error)

// TestGroupCommit_MatchesOneByOne runs rounds of random concurrent writes
// of one tenant — creates racing for a userName, renames that free one,
// member adds racing a user's delete, PUTs replacing members, group
// deletes — and then runs every write that appended something again, one
// at a time, in the order the log holds them, on a fresh bridge. Group
// commit must have produced exactly the events of that serial run: a
// conflict the batch's key set missed (two writes of a batch both passing
// a check the other invalidates) shows up as a write the serial run
// refuses or as different events.
func TestGroupCommit_MatchesOneByOne(t *testing.T) {
	for seed := range uint64(3) {
		t.Run(fmt.Sprintf("seed%d", seed), func(t *testing.T) { groupCommitDiff(t, seed, newEnv(t)) })
	}
}

// TestGroupCommit_PipelinedMatchesOneByOne is the same with a projection
// slower than the bridge, so that writes are planned while the batch
// before theirs is in the log and not yet applied: one that reads what
// that batch changes must wait for it and be planned again, and every
// other must come out as if it had waited.
func TestGroupCommit_PipelinedMatchesOneByOne(t *testing.T) {
	for seed := range uint64(3) {
		t.Run(fmt.Sprintf("seed%d", seed), func(t *testing.T) {
			var a *env
			var early atomic.Int64 // userName checks made while a batch was in flight
			lagging := func() bool {
				end, err := a.log.End(context.Background())
				if err != nil {
					t.Error(err)
					return false
				}
				p := events.PartitionFor(req.Tenant, a.log.Partitions())
				var applied int64
				if done := a.store.Applied(); p < len(done) {
					applied = done[p]
				}
				return applied < end[p]
			}
			a = newEnvProjecting(t, bridge.Options{}, nil,
				func(st bridge.State) bridge.State { return &lagState{State: st, lagging: lagging, early: &early} },
				func(l events.Log) events.Log { return slowRead{Log: l, each: time.Millisecond} })
			groupCommitDiff(t, seed, a)
			if early.Load() == 0 {
				t.Error("no write was planned while the batch before it was in flight")
			}
		})
	}
}

// slowRead delays every record the projection reads.
type slowRead struct {
	events.Log
	each time.Duration
}

func (l slowRead) Read(ctx context.Context, p int, from int64, fn func(events.Record) error) error {
	return l.Log.Read(ctx, p, from, func(r events.Record) error {
		time.Sleep(l.each)
		return fn(r)
	})
}

// lagState counts the userName checks (made by plans only) that find the
// projection behind the log.
type lagState struct {
	bridge.State
	lagging func() bool
	early   *atomic.Int64
}

func (s *lagState) UserIDByUserName(ctx context.Context, tenant, userName string) (string, bool, error) {
	if s.lagging() {
		s.early.Add(1)
	}
	return s.State.UserIDByUserName(ctx, tenant, userName)
}

func groupCommitDiff(t *testing.T, seed uint64, a *env) {
	ctx := context.Background()
	rnd := rand.New(rand.NewPCG(seed, 42))
	writes := map[string]diffWrite{}
	var mu sync.Mutex // guards writes while a round runs
	do := func(reqID string, w diffWrite) {
		mu.Lock()
		writes[reqID] = w
		mu.Unlock()
		r := request{Tenant: req.Tenant, RequestID: reqID}
		w(ctx, a.b, a, r, func(s string) string { return s })
	}

	names := []string{"ann", "bob", "cy", "dee", "eve", "fay", "gus", "hal"}
	for i, n := range names[:5] {
		do(fmt.Sprintf("seed-u%d", i), createUser(n))
	}
	for i := range 3 {
		do(fmt.Sprintf("seed-g%d", i), createGroup(fmt.Sprintf("team%d", i), nil))
	}

	for round := range 12 {
		users, groups := alive(t, a)
		pick := func(ids []string) string {
			if len(ids) == 0 {
				return "none"
			}
			return ids[rnd.IntN(len(ids))]
		}
		subset := func() []string {
			var out []string
			for _, u := range users {
				if rnd.IntN(3) == 0 {
					out = append(out, u)
				}
			}
			return out
		}
		var wg sync.WaitGroup
		start := make(chan struct{})
		for k := range 16 {
			var w diffWrite
			switch rnd.IntN(9) {
			case 0:
				w = createUser(names[rnd.IntN(len(names))])
			case 1, 2:
				w = renameUser(pick(users), names[rnd.IntN(len(names))])
			case 3:
				w = deleteRes("User", pick(users))
			case 4:
				w = patchMembers(pick(groups), "add", []string{pick(users), pick(users)})
			case 5:
				w = patchMembers(pick(groups), "remove", []string{pick(users)})
			case 6:
				w = putGroup(pick(groups), fmt.Sprintf("team-r%d-%d", round, k), subset())
			case 7:
				w = deleteRes("Group", pick(groups))
			case 8:
				w = createGroup(fmt.Sprintf("new-r%d-%d", round, k), subset())
			}
			reqID := fmt.Sprintf("r%02d-%02d", round, k)
			wg.Go(func() {
				<-start
				do(reqID, w)
			})
		}
		close(start)
		wg.Wait()
	}

	// Replay, one at a time, every write that appended, in log order.
	aEvents := a.logEvents(t)
	runs := splitByRequest(t, aEvents)
	b := newEnv(t)
	idMap := map[string]string{} // a's id -> b's id
	tr := func(s string) string {
		if v, ok := idMap[s]; ok {
			return v
		}
		return s
	}
	for _, run := range runs {
		reqID := run[0].RequestID
		w := writes[reqID]
		if w == nil {
			t.Fatalf("log holds events of request %q that no write sent", reqID)
		}
		r := request{Tenant: req.Tenant, RequestID: reqID}
		bID, err := w(ctx, b.b, b, r, tr)
		if err != nil {
			t.Fatalf("request %s was accepted concurrently but the serial run refuses it: %v", reqID, err)
		}
		if run[0].Type == events.UserCreated || run[0].Type == events.GroupCreated {
			idMap[run[0].ResourceID] = bID
		}
	}
	bRuns := splitByRequest(t, b.logEvents(t))
	if len(bRuns) != len(runs) {
		t.Fatalf("serial run appended events of %d writes, the concurrent run of %d", len(bRuns), len(runs))
	}
	// Ids sort differently in the two runs, so a write's events are
	// compared as a set (a user's delete leaves its groups in id order)
	// and member lists sorted after translation.
	for i, run := range runs {
		var got, want []string
		for _, e := range bRuns[i] {
			got = append(got, eventShape(t, e, nil))
		}
		for _, e := range run {
			want = append(want, eventShape(t, e, tr))
		}
		slices.Sort(got)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Errorf("request %s:\nserial     %q\nconcurrent %q", run[0].RequestID, got, want)
		}
	}
	if len(runs) < 40 {
		t.Errorf("only %d writes appended: the random mix no longer exercises the batches", len(runs))
	}
}

// splitByRequest cuts a tenant's events into the runs of one request each,
// failing when a request's events are not contiguous (a write's events are
// appended together).
func splitByRequest(t *testing.T, evs []events.Event) [][]events.Event {
	t.Helper()
	var runs [][]events.Event
	seen := map[string]bool{}
	for _, e := range evs {
		if n := len(runs); n > 0 && runs[n-1][0].RequestID == e.RequestID {
			runs[n-1] = append(runs[n-1], e)
			continue
		}
		if seen[e.RequestID] {
			t.Fatalf("events of request %s are not contiguous in the log", e.RequestID)
		}
		seen[e.RequestID] = true
		runs = append(runs, []events.Event{e})
	}
	return runs
}

// eventShape is what must agree between the runs: everything but times and
// event ids, with ids translated by tr.
func eventShape(t *testing.T, e events.Event, tr func(string) string) string {
	t.Helper()
	res, err := json.Marshal(e.Resource)
	if err != nil {
		t.Fatal(err)
	}
	if tr == nil {
		tr = func(s string) string { return s }
	}
	ms := func(list []schemas.Member) string {
		var out []string
		for _, m := range list {
			out = append(out, tr(m.Value)+"/"+m.Type)
		}
		slices.Sort(out)
		return strings.Join(out, ",")
	}
	r := string(res)
	for _, f := range strings.FieldsFunc(r, func(c rune) bool { return strings.ContainsRune(`",[]:{}`, c) }) {
		if v := tr(f); v != f {
			r = strings.ReplaceAll(r, f, v)
		}
	}
	return fmt.Sprintf("%s %s v%d<-%d changed=%v added=[%s] removed=[%s] op=%s resource=%s",
		e.Type, tr(e.ResourceID), e.Version, e.PrevVersion, e.ChangedAttributes,
		ms(e.MembersAdded), ms(e.MembersRemoved), e.Operation, r)
}

// alive lists the ids of the test tenant's users and groups as the log
// has them now.
func alive(t *testing.T, e *env) (users, groups []string) {
	t.Helper()
	live := map[string]string{}
	var order []string
	for _, ev := range e.logEvents(t) {
		switch ev.Type {
		case events.UserCreated, events.GroupCreated:
			live[ev.ResourceID] = ev.ResourceType
			order = append(order, ev.ResourceID)
		case events.UserDeleted, events.GroupDeleted:
			delete(live, ev.ResourceID)
		}
	}
	for _, id := range order {
		switch live[id] {
		case "User":
			users = append(users, id)
		case "Group":
			groups = append(groups, id)
		}
	}
	return users, groups
}

func createUser(name string) diffWrite {
	return func(ctx context.Context, b client, e *env, r request, tr func(string) string) (string, error) {
		st, err := b.Create(ctx, r, e.users, userBody(name+"@example.com"))
		return st.Resource.ID(), err
	}
}

func renameUser(id, name string) diffWrite {
	return func(ctx context.Context, b client, e *env, r request, tr func(string) string) (string, error) {
		_, err := b.Patch(ctx, r, e.users, tr(id), patchBody(`[{"op":"replace","path":"userName","value":"`+name+`@example.com"}]`))
		return "", err
	}
}

func deleteRes(typ, id string) diffWrite {
	return func(ctx context.Context, b client, e *env, r request, tr func(string) string) (string, error) {
		rt := e.users
		if typ == "Group" {
			rt = e.grps
		}
		return "", b.Delete(ctx, r, rt, tr(id))
	}
}

func memberList(ids []string, tr func(string) string) string {
	var parts []string
	for _, id := range slices.Compact(slices.Sorted(slices.Values(ids))) {
		parts = append(parts, `{"value":"`+tr(id)+`"}`)
	}
	return "[" + strings.Join(parts, ",") + "]"
}

func patchMembers(gid, op string, ids []string) diffWrite {
	return func(ctx context.Context, b client, e *env, r request, tr func(string) string) (string, error) {
		_, err := b.Patch(ctx, r, e.grps, tr(gid), patchBody(`[{"op":"`+op+`","path":"members","value":`+memberList(ids, tr)+`}]`))
		return "", err
	}
}

func diffGroupBody(name string, members []string, tr func(string) string) []byte {
	return []byte(`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"` + name + `","members":` + memberList(members, tr) + `}`)
}

func putGroup(gid, name string, members []string) diffWrite {
	return func(ctx context.Context, b client, e *env, r request, tr func(string) string) (string, error) {
		_, err := b.Replace(ctx, r, e.grps, tr(gid), diffGroupBody(name, members, tr))
		return "", err
	}
}

func createGroup(name string, members []string) diffWrite {
	return func(ctx context.Context, b client, e *env, r request, tr func(string) string) (string, error) {
		st, err := b.Create(ctx, r, e.grps, diffGroupBody(name, members, tr))
		return st.Resource.ID(), err
	}
}
