package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/scim-bridge/scim-bridge/events"
	"github.com/scim-bridge/scim-bridge/internal/testutil"
	"github.com/scim-bridge/scim-bridge/scimhttp/tenants"
)

// Several replicas of the built binary on one topic, under a mixed load
// over several tenants sent to all of them, through crashes, pauses and
// conflicting writes. After each scenario: no acknowledged write is lost,
// no two conflicting writes were both acknowledged, every answer was the
// expected one or 503 with Retry-After, and every replica's projection
// equals the others' and a rebuild from the topic.

const (
	replicaPartitions = 6
	// A short session so partitions move within seconds (the test broker
	// allows it: group.min.session.timeout.ms=1000).
	replicaSession = "3s"
)

// replica is one scim-bridge process of a cluster, restartable on the same
// address and data directory.
type replica struct {
	name string
	env  map[string]string
	p    *process
	down atomic.Bool // killed or paused: the load leaves it alone and excuses its failures
}

func (r *replica) base() string  { return "http://" + r.env["SCIM_LISTEN"] }
func (r *replica) admin() string { return "http://" + r.env["SCIM_ADMIN_LISTEN"] }

type tenantToken struct{ name, token string }

// cluster is n replicas on one fresh topic, serving several tenants that
// cover every partition.
type cluster struct {
	t       *testing.T
	kafka   map[string]string
	tenants []tenantToken
	reps    []*replica
	client  *http.Client
}

func newCluster(t *testing.T, n int) *cluster {
	t.Helper()
	if testing.Short() {
		t.Skip("runs three replicas of the binary on Kafka")
	}
	c := &cluster{t: t, kafka: kafkaEnv(t), client: &http.Client{Timeout: 30 * time.Second}}
	c.kafka["KAFKA_PARTITIONS"] = strconv.Itoa(replicaPartitions)

	// One tenant per partition, so the load touches all of them.
	file := filepath.Join(t.TempDir(), "tenants.json")
	var ts []tenants.Tenant
	seen := map[int]bool{}
	for i := 0; len(seen) < replicaPartitions; i++ {
		name := "tenant-" + strconv.Itoa(i)
		p := events.PartitionFor(name, replicaPartitions)
		if seen[p] {
			continue
		}
		seen[p] = true
		token, hash := newToken(t)
		c.tenants = append(c.tenants, tenantToken{name, token})
		ts = append(ts, tenants.Tenant{Name: name, Tokens: []string{hash}})
	}
	writeTenants(t, file, ts...)

	for i := range n {
		env := map[string]string{
			"SCIM_LISTEN":           freeAddr(t),
			"SCIM_ADMIN_LISTEN":     freeAddr(t),
			"SCIM_DATA_DIR":         t.TempDir(),
			"SCIM_TOKEN":            "",
			"SCIM_TENANTS_FILE":     file,
			"SCIM_RETRY_AFTER":      "1s",
			"KAFKA_SESSION_TIMEOUT": replicaSession,
			"KAFKA_APPEND_TIMEOUT":  "2s",
		}
		for k, v := range c.kafka {
			env[k] = v
		}
		c.reps = append(c.reps, &replica{name: "r" + strconv.Itoa(i), env: env})
	}
	var wg sync.WaitGroup
	for _, r := range c.reps {
		wg.Go(func() { c.start(r) })
	}
	wg.Wait()
	c.waitOwned()
	return c
}

// start starts r's process and waits until it is ready.
func (c *cluster) start(r *replica) {
	r.p = startProcess(c.t, r.env)
	r.down.Store(false)
}

// kill sends SIGKILL to r, as a crashed pod.
func (c *cluster) kill(r *replica) {
	r.down.Store(true)
	r.p.kill(c.t)
}

// ownership returns, per partition, the replica writing for it according
// to the replicas' metrics (nil: none), from the live replicas.
func (c *cluster) ownership() []*replica {
	owners := make([]*replica, replicaPartitions)
	for _, r := range c.reps {
		if r.down.Load() {
			continue
		}
		for p, epoch := range c.epochs(r) {
			if epoch > 0 {
				owners[p] = r
			}
		}
	}
	return owners
}

// epochs scrapes scim_ownership_epoch of r.
func (c *cluster) epochs(r *replica) map[int]float64 {
	resp, err := c.client.Get(r.admin() + "/metrics")
	if err != nil {
		return nil
	}
	defer resp.Body.Close()
	out := map[int]float64{}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line, ok := strings.CutPrefix(sc.Text(), `scim_ownership_epoch{partition="`)
		if !ok {
			continue
		}
		ps, val, _ := strings.Cut(line, `"} `)
		p, _ := strconv.Atoi(ps)
		v, _ := strconv.ParseFloat(val, 64)
		out[p] = v
	}
	return out
}

// waitOwned waits until every partition has a writer among the live
// replicas.
func (c *cluster) waitOwned() []*replica {
	c.t.Helper()
	var owners []*replica
	c.waitFor("every partition owned", 60*time.Second, func() bool {
		owners = c.ownership()
		return !slices.Contains(owners, nil)
	})
	return owners
}

func (c *cluster) waitFor(what string, timeout time.Duration, cond func() bool) {
	c.t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			c.t.Fatalf("not within %v: %s", timeout, what)
		}
		time.Sleep(50 * time.Millisecond) // polling a condition
	}
}

// live returns the replicas not down.
func (c *cluster) live() []*replica {
	var out []*replica
	for _, r := range c.reps {
		if !r.down.Load() {
			out = append(out, r)
		}
	}
	return out
}

// answer is one HTTP exchange with a replica.
type answer struct {
	status int
	header http.Header
	body   map[string]any
	err    error
	took   time.Duration
}

func (c *cluster) do(r *replica, tt tenantToken, method, path, body string) answer {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, r.base()+"/scim/v2"+path, rd)
	if err != nil {
		return answer{err: err}
	}
	req.Header.Set("Authorization", "Bearer "+tt.token)
	if body != "" {
		req.Header.Set("Content-Type", "application/scim+json")
	}
	start := time.Now()
	resp, err := c.client.Do(req)
	if err != nil {
		return answer{err: err, took: time.Since(start)}
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	a := answer{status: resp.StatusCode, header: resp.Header, err: err, took: time.Since(start)}
	if len(raw) > 0 {
		json.Unmarshal(raw, &a.body)
	}
	return a
}

func userJSON(name string) string {
	return `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"` + name + `"}`
}

// ackedUser is a user whose creation was acknowledged.
type ackedUser struct {
	tenant   int
	id, name string
	deleted  bool // its DELETE was acknowledged
	maybeDel bool // its DELETE got 503 or no answer: it may be gone
}

// load is a mixed load: each worker creates a user through one replica,
// reads it back through another (read your writes across replicas), and
// sometimes patches or deletes it through a third.
type load struct {
	c       *cluster
	stop    chan struct{}
	wg      sync.WaitGroup
	mu      sync.Mutex
	users   []*ackedUser
	maybe   int // creates answered 503 or not at all: they may exist
	counts  map[string]int
	retries int // 503s
	bad     []string
}

func (c *cluster) startLoad(workers int) *load {
	l := &load{c: c, stop: make(chan struct{}), counts: map[string]int{}}
	for w := range workers {
		l.wg.Go(func() { l.work(w) })
	}
	return l
}

func (l *load) stopped() bool {
	select {
	case <-l.stop:
		return true
	default:
		return false
	}
}

// finish stops the load and waits for its requests.
func (l *load) finish() {
	close(l.stop)
	l.wg.Wait()
}

// pick returns a live replica other than not (any live one when not is nil
// or the only one).
func (l *load) pick(rng *rand.Rand, not *replica) *replica {
	live := l.c.live()
	if len(live) == 0 {
		return nil
	}
	for range 8 {
		r := live[rng.IntN(len(live))]
		if r != not {
			return r
		}
	}
	return live[0]
}

// check records a's outcome for a request of what to r that should get
// want: it counts, and anything but want, 503 with Retry-After, or a failure
// of a replica that is down, is a bad answer.
func (l *load) check(what string, r *replica, a answer, want int) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	switch {
	case a.err != nil && r.down.Load():
		l.counts[what+" down"]++
		return false
	case a.err != nil:
		l.bad = append(l.bad, fmt.Sprintf("%s to %s: %v", what, r.name, a.err))
		return false
	case a.status == want:
		l.counts[fmt.Sprintf("%s %d", what, a.status)]++
		return true
	case a.status == http.StatusServiceUnavailable && a.header.Get("Retry-After") != "":
		l.counts[what+" 503"]++
		l.retries++
		return false
	}
	l.bad = append(l.bad, fmt.Sprintf("%s to %s: %d %v, want %d", what, r.name, a.status, a.body, want))
	return false
}

func (l *load) work(w int) {
	rng := rand.New(rand.NewPCG(uint64(w), uint64(time.Now().UnixNano())))
	for i := 0; !l.stopped(); i++ {
		ti := rng.IntN(len(l.c.tenants))
		tt := l.c.tenants[ti]
		a := l.pick(rng, nil)
		if a == nil {
			time.Sleep(50 * time.Millisecond)
			continue
		}
		name := fmt.Sprintf("w%d-%d@load.test", w, i)
		ans := l.c.do(a, tt, "POST", "/Users", userJSON(name))
		if !l.check("POST", a, ans, http.StatusCreated) {
			l.mu.Lock()
			l.maybe++
			l.mu.Unlock()
			time.Sleep(20 * time.Millisecond)
			continue
		}
		u := &ackedUser{tenant: ti, id: str(ans.body["id"]), name: name}
		l.mu.Lock()
		l.users = append(l.users, u)
		l.mu.Unlock()

		// Read your writes, on another replica.
		b := l.pick(rng, a)
		ans = l.c.do(b, tt, "GET", "/Users/"+u.id, "")
		if ans.err == nil && ans.status == http.StatusNotFound {
			l.mu.Lock()
			l.bad = append(l.bad, fmt.Sprintf("read your writes: GET of %s through %s after its 201 through %s = 404", u.id, b.name, a.name))
			l.mu.Unlock()
		} else {
			l.check("GET", b, ans, http.StatusOK)
		}

		switch rng.IntN(4) {
		case 0:
			c := l.pick(rng, b)
			ans = l.c.do(c, tt, "PATCH", "/Users/"+u.id,
				`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","path":"title","value":"t`+strconv.Itoa(i)+`"}]}`)
			l.check("PATCH", c, ans, http.StatusOK)
		case 1:
			c := l.pick(rng, b)
			ans = l.c.do(c, tt, "DELETE", "/Users/"+u.id, "")
			ok := l.check("DELETE", c, ans, http.StatusNoContent)
			l.mu.Lock()
			u.deleted, u.maybeDel = ok, !ok
			l.mu.Unlock()
		}
	}
}

// report logs what the load did and fails on bad answers.
func (l *load) report(t *testing.T) {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	var keys []string
	total := 0
	for k, n := range l.counts {
		keys = append(keys, fmt.Sprintf("%s=%d", k, n))
		total += n
	}
	slices.Sort(keys)
	t.Logf("load: %d requests, %d users acknowledged, %d 503s (%.2f%%): %s", total, len(l.users), l.retries,
		100*float64(l.retries)/float64(max(total, 1)), strings.Join(keys, " "))
	for i, b := range l.bad {
		if i == 20 {
			t.Errorf("… and %d more bad answers", len(l.bad)-20)
			break
		}
		t.Errorf("bad answer: %s", b)
	}
}

// verify checks, with the load finished, that every replica holds the same
// users, among them every acknowledged one and none acknowledged deleted;
// then it kills all the replicas at once and compares their projections
// with each other and with a rebuild from the topic, and reads the topic as
// a consumer would.
func (c *cluster) verify(l *load) {
	c.t.Helper()
	t := c.t
	l.report(t)
	live := c.live()
	if len(live) != len(c.reps) {
		t.Fatalf("%d of %d replicas up at the end", len(live), len(c.reps))
	}
	// Every replica's view of every tenant, read after its Sync.
	views := make([]map[string]string, len(c.reps)) // id → userName
	for i, r := range c.reps {
		views[i] = map[string]string{}
		for _, tt := range c.tenants {
			for start := 1; ; start += 1000 {
				a := c.do(r, tt, "GET", "/Users?count=1000&startIndex="+strconv.Itoa(start), "")
				if a.err != nil || a.status != http.StatusOK {
					t.Fatalf("list %s users through %s: %d %v %v", tt.name, r.name, a.status, a.err, a.body)
				}
				res, _ := a.body["Resources"].([]any)
				for _, x := range res {
					m, _ := x.(map[string]any)
					views[i][str(m["id"])] = str(m["userName"])
				}
				if len(res) < 1000 {
					break
				}
			}
		}
	}
	for i := 1; i < len(views); i++ {
		if len(views[i]) != len(views[0]) {
			t.Errorf("%s lists %d users, %s %d", c.reps[i].name, len(views[i]), c.reps[0].name, len(views[0]))
		}
	}
	for _, u := range l.users {
		for i, v := range views {
			_, has := v[u.id]
			switch {
			case u.deleted && has:
				t.Errorf("user %s: its DELETE was acknowledged, %s still lists it", u.id, c.reps[i].name)
			case !u.deleted && !u.maybeDel && !has:
				t.Errorf("acknowledged user %s (%s) lost: %s does not list it", u.id, u.name, c.reps[i].name)
			}
		}
	}

	// All at once, so no survivor claims the others' partitions.
	for _, r := range c.reps {
		r.down.Store(true)
		r.p.cmd.Process.Signal(syscall.SIGKILL)
	}
	for _, r := range c.reps {
		<-r.p.exited
	}
	dumps := make([][]string, len(c.reps))
	for i, r := range c.reps {
		dumps[i] = exportProjection(t, r.env["SCIM_DATA_DIR"])
	}
	for i := 1; i < len(dumps); i++ {
		diffDumps(t, c.reps[i].name+" against "+c.reps[0].name, dumps[i], dumps[0])
	}
	renv := map[string]string{"SCIM_DATA_DIR": t.TempDir(), "SCIM_LOG_LEVEL": "warn"}
	for k, v := range c.kafka {
		renv[k] = v
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := run(ctx, []string{"rebuild"}, func(k string) string { return renv[k] }, io.Discard, testutil.Writer(t), nil); err != nil {
		t.Fatalf("rebuild: %v", err)
	}
	diffDumps(t, "rebuild from the topic against "+c.reps[0].name, exportProjection(t, renv["SCIM_DATA_DIR"]), dumps[0])

	// The topic as a consumer reads it: every acknowledged user created
	// once, by an event that is not void.
	created := map[string]int{}
	for _, ev := range topicEvents(t, c.kafka) {
		if ev.Type == events.UserCreated {
			created[ev.ResourceID]++
		}
	}
	for _, u := range l.users {
		if created[u.id] != 1 {
			t.Errorf("acknowledged user %s created %d times in the topic, want 1", u.id, created[u.id])
		}
	}
}

// percentile returns the p-th percentile of ds.
func percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[min(len(s)-1, int(p*float64(len(s))))]
}

// measureForwarding times writes sent to the replica that writes for their
// tenant (local) and to another one (forwarded), interleaved.
func (c *cluster) measureForwarding() {
	c.t.Helper()
	owners := c.waitOwned()
	var local, forwarded []time.Duration
	for i := range 60 {
		for _, tt := range c.tenants {
			own := owners[events.PartitionFor(tt.name, replicaPartitions)]
			other := c.reps[(slices.Index(c.reps, own)+1+i%2)%len(c.reps)]
			for _, r := range []*replica{own, other} {
				a := c.do(r, tt, "POST", "/Users", userJSON(fmt.Sprintf("m%d-%s@measure.test", i, r.name)))
				if a.err != nil || a.status != http.StatusCreated {
					continue // ownership moved meanwhile: not a measurement
				}
				if r == own {
					local = append(local, a.took)
				} else {
					forwarded = append(forwarded, a.took)
				}
			}
		}
	}
	c.t.Logf("POST /Users latency: local p50 %v p99 %v (%d), forwarded p50 %v p99 %v (%d)",
		percentile(local, 0.5), percentile(local, 0.99), len(local),
		percentile(forwarded, 0.5), percentile(forwarded, 0.99), len(forwarded))
}

// TestReplicas_KillAndRestart: kill -9 the writer of a tenant under load;
// the tenant's writes answer 503 with Retry-After until another replica
// takes its partitions, then succeed there (the failover time is logged);
// the killed replica restarts on its data and rejoins.
func TestReplicas_KillAndRestart(t *testing.T) {
	c := newCluster(t, 3)
	c.measureForwarding()
	l := c.startLoad(6)
	time.Sleep(2 * time.Second) // let the load run: a duration of load, not a timing assertion

	owners := c.waitOwned()
	victim := owners[events.PartitionFor(c.tenants[0].name, replicaPartitions)]
	tt := c.tenants[0]
	c.kill(victim)
	killed := time.Now()
	var via *replica
	for i := 0; ; i++ {
		via = c.live()[i%2]
		a := c.do(via, tt, "POST", "/Users", userJSON(fmt.Sprintf("failover-%d@kill.test", i)))
		if a.err == nil && a.status == http.StatusCreated {
			break
		}
		if a.err != nil || a.status != http.StatusServiceUnavailable || a.header.Get("Retry-After") == "" {
			t.Fatalf("write for the killed writer's tenant through %s: %d %v %v, want 201 or 503 with Retry-After", via.name, a.status, a.err, a.body)
		}
		if time.Since(killed) > 60*time.Second {
			t.Fatal("no write accepted for the killed writer's tenant within 60s")
		}
		time.Sleep(50 * time.Millisecond) // the client's retry pace
	}
	t.Logf("failover: kill -9 of %s → first accepted write for its tenant %s after %v (KAFKA_SESSION_TIMEOUT=%s)",
		victim.name, tt.name, time.Since(killed).Round(time.Millisecond), replicaSession)

	time.Sleep(2 * time.Second) // load on two replicas
	c.start(victim)
	c.waitOwned()
	time.Sleep(2 * time.Second) // load on three again
	l.finish()
	c.verify(l)
}

// TestReplicas_PausedOwner: SIGSTOP the writer of a tenant with writes to it
// in flight, until its partitions move; the same userNames are then created
// through the others; SIGCONT it. Its in-flight writes, planned under a
// claim no longer in force, are never acknowledged: each userName has
// exactly one 201.
func TestReplicas_PausedOwner(t *testing.T) {
	c := newCluster(t, 3)
	l := c.startLoad(4)
	time.Sleep(2 * time.Second) // a duration of load

	tt := c.tenants[1]
	p := events.PartitionFor(tt.name, replicaPartitions)
	victim := c.waitOwned()[p]
	const n = 12
	type result struct {
		i int
		a answer
	}
	results := make(chan result, n)
	// The paused writer's and the others' creates differ (displayName), so
	// they are two requests, not a retry of one (which would be answered
	// with the resource the first created).
	stale := func(i int, by string) string {
		return `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"stale-` + strconv.Itoa(i) +
			`@pause.test","displayName":"` + by + `"}`
	}
	send := func(i int) {
		results <- result{i, c.do(victim, tt, "POST", "/Users", stale(i, "paused"))}
	}
	victim.down.Store(true)
	for i := range n / 2 {
		go send(i)
	}
	if err := victim.p.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { victim.p.cmd.Process.Signal(syscall.SIGCONT) })
	for i := n / 2; i < n; i++ {
		go send(i) // queued in the frozen process's socket
	}
	c.waitFor("the frozen writer's partition moved", 60*time.Second, func() bool {
		o := c.ownership()[p]
		return o != nil && o != victim
	})
	// The same userNames through the others: the new writer takes them.
	others := c.live()
	winners := map[int]bool{}
	for i := range n {
		for try := 0; ; try++ {
			a := c.do(others[i%len(others)], tt, "POST", "/Users", stale(i, "others"))
			if a.err == nil && (a.status == http.StatusCreated || a.status == http.StatusConflict) {
				winners[i] = a.status == http.StatusCreated
				break
			}
			if a.err != nil || a.status != http.StatusServiceUnavailable || try > 200 {
				t.Fatalf("create stale-%d through %s: %d %v %v", i, others[i%len(others)].name, a.status, a.err, a.body)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	if err := victim.p.cmd.Process.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	got := map[int]int{}
	unanswered := map[int]bool{} // answered 503: the write may have landed all the same
	for range n {
		res := <-results
		a := res.a
		if a.err != nil {
			t.Errorf("in-flight write to the paused writer: %v", a.err)
			continue
		}
		got[a.status]++
		switch {
		case a.status == http.StatusCreated:
			if name := str(a.body["userName"]); name != fmt.Sprintf("stale-%d@pause.test", res.i) {
				t.Errorf("the paused writer answered the create of stale-%d with %s", res.i, name)
			}
			if winners[res.i] {
				t.Errorf("stale-%d was acknowledged by the paused writer and by the new one", res.i)
			}
			winners[res.i] = true
		case a.status == http.StatusServiceUnavailable && a.header.Get("Retry-After") != "":
			unanswered[res.i] = true
		case a.status != http.StatusConflict:
			t.Errorf("in-flight write to the paused writer: %d %v", a.status, a.body)
		}
	}
	t.Logf("in-flight writes to the paused writer after SIGCONT: %v (201 only for those it appended before the pause)", got)
	// A write the paused writer appended just before it froze may have
	// landed while its answer (503: it could not read the log's
	// acknowledgement in time) says it may have: its client retries the same
	// request, which is answered as the write that landed, or created now
	// if the name is still free. Either way exactly one client ends with
	// the user.
	retried := 0
	for i := range n {
		if winners[i] || !unanswered[i] {
			continue
		}
		for try := 0; ; try++ {
			r := others[i%len(others)]
			a := c.do(r, tt, "POST", "/Users", stale(i, "paused"))
			if a.err == nil && a.status == http.StatusCreated {
				winners[i] = true
				retried++
				break
			}
			if a.err != nil || a.status != http.StatusServiceUnavailable || try > 200 {
				t.Errorf("retry of the paused writer's create of stale-%d through %s: %d %v %v", i, r.name, a.status, a.err, a.body)
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	t.Logf("paused writer's creates answered 503 and acknowledged through their retry: %d", retried)
	for i := range n {
		if !winners[i] {
			t.Errorf("stale-%d was acknowledged by nobody", i)
		}
	}

	c.waitFor("the resumed replica ready", 60*time.Second, func() bool {
		resp, err := c.client.Get(victim.base() + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	victim.down.Store(false)
	c.waitOwned()
	time.Sleep(2 * time.Second) // load on three again
	l.finish()
	c.verify(l)
	c.checkUnique(tt, "stale-", n)
}

// checkUnique reads the topic as a consumer: each of the n userNames
// prefix<i>@… is created exactly once.
func (c *cluster) checkUnique(tt tenantToken, prefix string, n int) {
	c.t.Helper()
	names := map[string]int{}
	for _, ev := range topicEvents(c.t, c.kafka) {
		if ev.Type == events.UserCreated && ev.Tenant == tt.name && strings.HasPrefix(str(ev.Resource["userName"]), prefix) {
			names[str(ev.Resource["userName"])]++
		}
	}
	if len(names) != n {
		c.t.Errorf("%d userNames %s… created in the topic, want %d", len(names), prefix, n)
	}
	for name, k := range names {
		if k != 1 {
			c.t.Errorf("%s created %d times in the topic (not void), want once", name, k)
		}
	}
}

// TestReplicas_ConflictingCreates: the same userName created at once
// through every replica, over and over, with one replica restarting
// meanwhile so ownership moves: exactly one create of each is
// acknowledged, the others get 409 (or 503 with Retry-After while their
// tenant's writer changes).
func TestReplicas_ConflictingCreates(t *testing.T) {
	c := newCluster(t, 3)
	l := c.startLoad(2)
	const n = 40
	restarted := make(chan struct{})
	go func() {
		defer close(restarted)
		time.Sleep(time.Second) // a moment into the conflicts
		r := c.reps[2]
		r.down.Store(true)
		r.p.cmd.Process.Signal(syscall.SIGTERM)
		r.p.wait(t, 60*time.Second)
		c.start(r)
	}()
	tt := c.tenants[2]
	for i := range n {
		var wg sync.WaitGroup
		statuses := make([]int, len(c.reps))
		for j, r := range c.reps {
			wg.Go(func() {
				for try := 0; try < 400; try++ {
					if r.down.Load() {
						r = c.reps[(j+1)%len(c.reps)]
					}
					a := c.do(r, tt, "POST", "/Users", userJSON(fmt.Sprintf("dup-%d@conflict.test", i)))
					if a.err == nil && a.status != http.StatusServiceUnavailable {
						statuses[j] = a.status
						return
					}
					if a.err == nil && a.header.Get("Retry-After") == "" {
						statuses[j] = a.status
						return
					}
					time.Sleep(50 * time.Millisecond)
				}
			})
		}
		wg.Wait()
		created := 0
		for _, s := range statuses {
			switch s {
			case http.StatusCreated:
				created++
			case http.StatusConflict:
			default:
				t.Errorf("dup-%d: a create answered %d", i, s)
			}
		}
		if created != 1 {
			t.Errorf("dup-%d: %d creates acknowledged (statuses %v), want exactly 1", i, created, statuses)
		}
	}
	<-restarted
	c.waitOwned()
	l.finish()
	c.verify(l)
	c.checkUnique(tt, "dup-", n)
}

// TestReplicas_RollingRestart: SIGTERM one replica at a time under load,
// each restarting on its own data directory once the previous is ready
// again, as a Deployment's rolling update does. A replica hands its
// partitions over as it stops; the load sees nothing but the expected
// answers and a few 503s with Retry-After while partitions change hands.
func TestReplicas_RollingRestart(t *testing.T) {
	c := newCluster(t, 3)
	l := c.startLoad(6)
	time.Sleep(2 * time.Second) // a duration of load
	for _, r := range c.reps {
		r.down.Store(true) // as the Service stops routing to a terminating pod
		if err := r.p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		if code := r.p.wait(t, 60*time.Second); code != 0 {
			t.Errorf("%s exited with %d after SIGTERM, want 0", r.name, code)
		}
		c.start(r)
		c.waitOwned()
		time.Sleep(time.Second) // a duration of load on the restarted replica
	}
	l.finish()
	l.mu.Lock()
	total := 0
	for _, n := range l.counts {
		total += n
	}
	ratio := float64(l.retries) / float64(max(total, 1))
	l.mu.Unlock()
	t.Logf("rolling restart: %d 503s of %d requests (%.2f%%)", l.retries, total, 100*ratio)
	c.verify(l)
}
