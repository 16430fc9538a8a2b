package main

import (
	"context"
	"encoding/json"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// runOptions bound one measured run.
type runOptions struct {
	concurrency int
	duration    time.Duration
	maxOps      int64 // 0: no bound but the duration
	mix         mix
	randSeed    uint64
	listCursor  bool   // list by cursor instead of startIndex
	runID       string // makes the userNames of posted users unique per run
	// memberRemove is the shape of the member op's removes: removeByValue
	// (or "") or removeByFilter.
	memberRemove string
}

// opStats is what one op saw. Safe for concurrent use.
type opStats struct {
	hist   histogram
	status [600]atomic.Uint64 // by HTTP status; 0 is "no response"
}

func (s *opStats) record(d time.Duration, status int) {
	s.hist.Record(d)
	if status < 0 || status >= len(s.status) {
		status = 0
	}
	s.status[status].Add(1)
}

// errors counts responses that were not 2xx, and requests that got none.
func (s *opStats) errors() uint64 {
	var n uint64
	for code := range s.status {
		if code < 200 || code > 299 {
			n += s.status[code].Load()
		}
	}
	return n
}

// runStats is a finished run.
type runStats struct {
	ops       [numOps]*opStats
	elapsed   time.Duration
	cleanup   int64 // requests sent after the run to leave the big groups as seeded
	cpu       time.Duration
	completed int64 // ops completed
}

// workerState is one simulated identity provider connection: it speaks for
// a single tenant, with its own PRNG stream and requester.
type workerState struct {
	id      int
	t       *tenant
	rank, n int // this worker is the rank-th of the n workers of its tenant
	rng     *rand.Rand
	rq      requester
	posted  int
	cursor  string // the list op's cursor, "" to start over

	// pending is the user this worker's member ops move: wasMember says
	// whether seeding put it in the big group, moved whether it is out of
	// that state now and must be moved back.
	pending          string
	wasMember, moved bool
}

// drive drives base with opts.concurrency workers until the duration passes
// or maxOps ops were sent, whichever is first. Worker w speaks for tenant
// w%len(ts).
func drive(ctx context.Context, cl *http.Client, base string, ts []*tenant, opts runOptions) *runStats {
	rs := &runStats{}
	for o := range rs.ops {
		rs.ops[o] = new(opStats)
	}
	perTenant := make([]int, len(ts))
	workers := make([]*workerState, opts.concurrency)
	for w := range workers {
		ti := w % len(ts)
		workers[w] = &workerState{
			id:   w,
			t:    ts[ti],
			rank: perTenant[ti],
			rng:  rand.New(rand.NewPCG(opts.randSeed, uint64(w))),
			rq:   requester{client: cl},
		}
		perTenant[ti]++
	}
	for _, w := range workers {
		w.n = perTenant[w.id%len(ts)]
	}

	// The deadline stops workers from starting ops; it does not cut off
	// the ones in flight, which would leave a member op applied but not
	// known to be and every count uncertain by one op per worker. Only
	// cancelling ctx (an interrupt) does.
	deadline, cancel := context.WithTimeout(ctx, opts.duration)
	defer cancel()
	var issued atomic.Int64
	cpu0 := cpuTime()
	start := time.Now()
	var wg sync.WaitGroup
	for _, w := range workers {
		wg.Go(func() {
			for deadline.Err() == nil {
				if opts.maxOps > 0 && issued.Add(1) > opts.maxOps {
					return
				}
				o := opts.mix.pick(w.rng)
				t0 := time.Now()
				status := w.do(ctx, base, o, opts)
				if status == 0 && ctx.Err() != nil {
					return // interrupted: not the service's error
				}
				rs.ops[o].record(time.Since(t0), status)
			}
		})
	}
	wg.Wait()
	rs.elapsed = time.Since(start)
	rs.cpu = cpuTime() - cpu0

	// Leave every big group as seeding left it. Not measured.
	for _, w := range workers {
		if w.pending != "" && w.moved {
			w.rq.do(context.Background(), http.MethodPatch, base+"/Groups/"+w.t.groupID, w.t.auth, memberChange(w.memberOp(), []string{w.pending}, opts.memberRemove), false)
			rs.cleanup++
		}
	}
	for _, s := range rs.ops {
		rs.completed += int64(s.hist.Count())
	}
	return rs
}

// do sends one op and returns the response's status, 0 for none.
func (w *workerState) do(ctx context.Context, base string, o op, opts runOptions) int {
	t := w.t
	switch o {
	case opGet:
		j := w.rng.IntN(len(t.users))
		status, _ := w.rq.do(ctx, http.MethodGet, base+"/Users/"+t.users[j], t.auth, nil, false)
		return status
	case opFilter:
		// Entra ID's lookup before a create (docs/idp-quirks.md §1.1), as it encodes it.
		j := w.rng.IntN(len(t.users))
		u := base + "/Users?filter=" + url.QueryEscape(`userName eq "`+t.userName(j)+`"`)
		status, _ := w.rq.do(ctx, http.MethodGet, u, t.auth, nil, false)
		return status
	case opList:
		return w.list(ctx, base, opts.listCursor)
	case opPatch:
		j := w.rng.IntN(len(t.users))
		body := []byte(`{"schemas":["` + urnPatchOp + `"],"Operations":[{"op":"Replace","path":"displayName","value":"Load User ` +
			strconv.Itoa(j) + ` r` + strconv.FormatUint(w.rng.Uint64()%1e6, 10) + `"}]}`)
		status, _ := w.rq.do(ctx, http.MethodPatch, base+"/Users/"+t.users[j], t.auth, body, false)
		return status
	case opPost:
		w.posted++
		id := opts.runID + "-" + strconv.Itoa(w.id) + "-" + strconv.Itoa(w.posted)
		name := "load-" + t.name + "-run-" + id + "@example.com"
		status, _ := w.rq.do(ctx, http.MethodPost, base+"/Users", t.auth, userBody(name, "load-run-"+id, "Load Run "+id), false)
		return status
	case opMember:
		return w.member(ctx, base, opts.memberRemove)
	}
	panic("unknown op " + o.String())
}

// list fetches one page of 100 users: at a random startIndex, the way Okta
// imports, or the next page of this worker's cursor walk.
func (w *workerState) list(ctx context.Context, base string, byCursor bool) int {
	t := w.t
	if !byCursor {
		si := 1 + w.rng.IntN(max(1, len(t.users)-99))
		status, _ := w.rq.do(ctx, http.MethodGet, base+"/Users?startIndex="+strconv.Itoa(si)+"&count=100", t.auth, nil, false)
		return status
	}
	status, err := w.rq.do(ctx, http.MethodGet, base+"/Users?count=100&cursor="+url.QueryEscape(w.cursor), t.auth, nil, true)
	w.cursor = ""
	if err == nil && status == http.StatusOK {
		var p struct {
			NextCursor string `json:"nextCursor"`
		}
		if json.Unmarshal(w.rq.buf.Bytes(), &p) == nil {
			w.cursor = p.NextCursor
		}
	}
	return status
}

// member moves one user into or out of the tenant's big group, and on the
// worker's next member op moves it back, so the group stays at its seeded
// size. Users are drawn from the ones outside the group, split between the
// tenant's workers so two workers never move the same user; when the group
// holds every user, a member is removed first and added back next.
func (w *workerState) member(ctx context.Context, base, removeShape string) int {
	t := w.t
	if w.pending == "" {
		j, ok := w.pick(t.groupSize, len(t.users)-t.groupSize)
		if !ok {
			j, ok = w.pick(0, t.groupSize)
		}
		if !ok {
			j = w.rng.IntN(len(t.users)) // more workers than users: share them
		}
		w.pending, w.wasMember, w.moved = t.users[j], j < t.groupSize, false
	}
	op := w.memberOp()
	status, _ := w.rq.do(ctx, http.MethodPatch, base+"/Groups/"+t.groupID, t.auth, memberChange(op, []string{w.pending}, removeShape), false)
	if status >= 200 && status <= 299 {
		if w.moved {
			w.pending = ""
		}
		w.moved = !w.moved
	}
	return status
}

// memberOp is the PATCH op that moves w.pending next: away from its seeded
// state, or back to it.
func (w *workerState) memberOp() string {
	if w.wasMember != w.moved {
		return "remove"
	}
	return "add"
}

// pick draws a user index from [from, from+n) that belongs to this worker
// (index ≡ rank mod workers of the tenant); ok is false if there is none.
func (w *workerState) pick(from, n int) (j int, ok bool) {
	mine := (n - w.rank + w.n - 1) / w.n // how many of the n are this worker's
	if n <= 0 || mine <= 0 {
		return 0, false
	}
	return from + w.rank + w.n*w.rng.IntN(mine), true
}
