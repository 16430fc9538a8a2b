package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"time"
)

// memberChunk is the most members one seeding PATCH adds: the service's
// default limit of PATCH operations is 1000, and a value array of 1000
// members stays far below its 1 MiB body limit.
const memberChunk = 1000

// seedOptions says what to seed.
type seedOptions struct {
	users, groups, groupSize int
	concurrency              int
	progressEvery            time.Duration // 0: no progress lines
}

// seedStats is what seeding did, for the report.
type seedStats struct {
	Skipped        bool    `json:"skipped"`
	FromFile       string  `json:"from_file,omitempty"` // the --seed-file a skipped seed was read from
	Users          int     `json:"users"`
	UsersCreated   int64   `json:"users_created"`
	UsersExisting  int64   `json:"users_existing"`
	Groups         int     `json:"groups"`
	MemberPatches  int64   `json:"member_patches"`
	Requests       int64   `json:"requests"`
	Seconds        float64 `json:"seconds"`
	UsersPerSecond float64 `json:"users_per_second"`
}

// parallel calls fn(i) for every i in [0,n) from conc goroutines, each with
// its own requester. It stops at the first error and returns it. done
// counts finished calls, for progress, and sent the requests.
func parallel(ctx context.Context, cl *http.Client, n, conc int, done, sent *atomic.Int64, fn func(ctx context.Context, rq *requester, i int) error) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(conc, n) {
		wg.Go(func() {
			rq := &requester{client: cl, sent: sent}
			for ctx.Err() == nil {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				if err := fn(ctx, rq, i); err != nil {
					cancel(err)
					return
				}
				done.Add(1)
			}
		})
	}
	wg.Wait()
	if err := context.Cause(ctx); err != nil && ctx.Err() != nil {
		return err
	}
	return nil
}

// progress prints "phase: done/total, rate" to w every interval until stop
// is called.
func progress(w io.Writer, every time.Duration, phase string, total int, done *atomic.Int64) (stop func()) {
	if every <= 0 || w == nil {
		return func() {}
	}
	quit := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		start, last, lastAt := time.Now(), int64(0), time.Now()
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-quit:
				return
			case now := <-t.C:
				d := done.Load()
				fmt.Fprintf(w, "seed %s: %d/%d (%.1f%%), %.0f/s now, %.0f/s average, %s elapsed\n",
					phase, d, total, 100*float64(d)/float64(max(total, 1)),
					float64(d-last)/now.Sub(lastAt).Seconds(), float64(d)/now.Sub(start).Seconds(),
					now.Sub(start).Round(time.Second))
				last, lastAt = d, now
			}
		}
	})
	return func() { close(quit); wg.Wait() }
}

// seed creates opts.users users and opts.groups groups spread over the
// tenants (global user i is user i/T of tenant i%T), then adds the first
// opts.groupSize users of each tenant to its first group in chunks. Users and
// groups that already exist are found and reused, so an interrupted seed can
// be run again.
func seed(ctx context.Context, cl *http.Client, base string, ts []*tenant, opts seedOptions, log io.Writer) (seedStats, error) {
	start := time.Now()
	var st seedStats
	var created, existing, requests atomic.Int64
	T := len(ts)
	for i, t := range ts {
		t.users = make([]string, spread(opts.users, T, i))
		t.groups = spread(opts.groups, T, i)
		t.groupSize = 0
		if t.groups > 0 {
			t.groupSize = min(opts.groupSize, len(t.users))
		}
	}

	var done atomic.Int64
	stop := progress(log, opts.progressEvery, "users", opts.users, &done)
	err := parallel(ctx, cl, opts.users, opts.concurrency, &done, &requests, func(ctx context.Context, rq *requester, i int) error {
		t, j := ts[i%T], i/T
		id, existed, err := createUser(ctx, rq, base, t, j)
		if err != nil {
			return err
		}
		if existed {
			existing.Add(1)
		} else {
			created.Add(1)
		}
		t.users[j] = id
		return nil
	})
	stop()
	if err != nil {
		return st, fmt.Errorf("seed users: %w", err)
	}
	usersDone := time.Since(start)

	type groupJob struct {
		t *tenant
		k int
	}
	var gjobs []groupJob
	for _, t := range ts {
		for k := range t.groups {
			gjobs = append(gjobs, groupJob{t, k})
		}
	}
	done.Store(0)
	stop = progress(log, opts.progressEvery, "groups", len(gjobs), &done)
	err = parallel(ctx, cl, len(gjobs), opts.concurrency, &done, &requests, func(ctx context.Context, rq *requester, i int) error {
		g := gjobs[i]
		id, err := createGroup(ctx, rq, base, g.t, g.k)
		if err == nil && g.k == 0 {
			g.t.groupID = id
		}
		return err
	})
	stop()
	if err != nil {
		return st, fmt.Errorf("seed groups: %w", err)
	}

	type chunkJob struct {
		t        *tenant
		from, to int
	}
	var cjobs []chunkJob
	for _, t := range ts {
		for from := 0; from < t.groupSize; from += memberChunk {
			cjobs = append(cjobs, chunkJob{t, from, min(from+memberChunk, t.groupSize)})
		}
	}
	done.Store(0)
	stop = progress(log, opts.progressEvery, "members (chunks of 1000)", len(cjobs), &done)
	err = parallel(ctx, cl, len(cjobs), opts.concurrency, &done, &requests, func(ctx context.Context, rq *requester, i int) error {
		c := cjobs[i]
		status, err := rq.send(ctx, http.MethodPatch, base+"/Groups/"+c.t.groupID, c.t.auth, memberPatch("add", c.t.users[c.from:c.to]), true)
		if err != nil {
			return fmt.Errorf("add members %d-%d of tenant %s: %w", c.from, c.to, c.t.name, err)
		}
		if status != http.StatusOK && status != http.StatusNoContent {
			return &statusError{fmt.Sprintf("add members %d-%d of tenant %s", c.from, c.to, c.t.name), status, rq.bodyText()}
		}
		return nil
	})
	stop()
	if err != nil {
		return st, fmt.Errorf("seed members: %w", err)
	}

	st.Users = opts.users
	st.UsersCreated, st.UsersExisting = created.Load(), existing.Load()
	st.Groups = len(gjobs)
	st.MemberPatches = int64(len(cjobs))
	st.Requests = requests.Load()
	st.Seconds = time.Since(start).Seconds()
	st.UsersPerSecond = float64(opts.users) / usersDone.Seconds()
	return st, nil
}

// discover finds users and groups seeded by an earlier run (--skip-seed):
// it lists each tenant's users by cursor (RFC 9865) and keeps those whose
// userName follows the seeding scheme, and finds each tenant's big group by
// displayName. The big group is assumed to hold the first groupSize users,
// as seeding left it.
func discover(ctx context.Context, cl *http.Client, base string, ts []*tenant, opts seedOptions, log io.Writer) (seedStats, error) {
	start := time.Now()
	st := seedStats{Skipped: true, Users: opts.users}
	for i := range ts {
		st.Groups += spread(opts.groups, len(ts), i)
	}
	T := len(ts)
	var done atomic.Int64
	stop := progress(log, opts.progressEvery, "discovery (users listed)", opts.users, &done)
	defer stop()
	err := parallel(ctx, cl, T, opts.concurrency, new(atomic.Int64), new(atomic.Int64), func(ctx context.Context, rq *requester, i int) error {
		t := ts[i]
		t.users = make([]string, spread(opts.users, T, i))
		t.groups = spread(opts.groups, T, i)
		found := 0
		cursor := ""
		for {
			u := base + "/Users?count=1000&attributes=userName&cursor=" + url.QueryEscape(cursor)
			status, err := rq.send(ctx, http.MethodGet, u, t.auth, nil, true)
			if err != nil {
				return fmt.Errorf("list users of tenant %s: %w", t.name, err)
			}
			if status != http.StatusOK {
				return &statusError{"list users of tenant " + t.name, status, rq.bodyText()}
			}
			var p listPage
			if err := json.Unmarshal(rq.buf.Bytes(), &p); err != nil {
				return fmt.Errorf("list users of tenant %s: decode: %w", t.name, err)
			}
			for _, r := range p.Resources {
				if j, ok := t.userIndex(r.UserName); ok && j < len(t.users) && t.users[j] == "" {
					t.users[j] = r.ID
					found++
					done.Add(1)
				}
			}
			if p.NextCursor == "" || len(p.Resources) == 0 {
				break
			}
			cursor = p.NextCursor
		}
		if found < len(t.users) {
			return fmt.Errorf("tenant %s: found %d of its %d seeded users; seed first (run without --skip-seed)", t.name, found, len(t.users))
		}
		if t.groups == 0 {
			return nil
		}
		id, ok, err := findOne(ctx, rq, base+"/Groups", t.auth, `displayName eq "`+t.groupName(0)+`"`)
		if err != nil {
			return fmt.Errorf("find group of tenant %s: %w", t.name, err)
		}
		if !ok {
			return fmt.Errorf("tenant %s: no group %q; seed first (run without --skip-seed)", t.name, t.groupName(0))
		}
		t.groupID, t.groupSize = id, min(opts.groupSize, len(t.users))
		return nil
	})
	st.Seconds = time.Since(start).Seconds()
	return st, err
}
