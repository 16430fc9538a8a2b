package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// The broker stalls (SIGSTOP) while writes are in flight. A produce request
// already written to the broker's socket when it stops is appended when it
// resumes, after its write was answered 503: these tests make sure such a
// write is answered in bounded time, and that retrying the same request is
// answered as its first attempt would have been.

const stallAppendTimeout = 4 * time.Second

// stallBound is how long a write may take while the broker is stalled: the
// append timeout, the bridge's one-second margin, and slack for a loaded
// machine (less than a second append timeout, which a write queued behind
// a stuck one used to add).
const stallBound = stallAppendTimeout + 2500*time.Millisecond

// stalled is a write that was answered 503 while the broker was stopped.
type stalled struct {
	worker int
	took   time.Duration
	retry  func() (response, error)
	// landed reports, once the broker is back and the projection has caught
	// up, whether the write took effect after all; check verifies the
	// retry's answer (landed as seen before the retry).
	landed func() bool
	check  func(t *testing.T, r response, landed bool)
}

// stallWrites runs write(worker, i) for i = 0, 1, ... in each of workers
// goroutines, stops the broker once warm writes have succeeded, and returns,
// per worker, the first write answered 503 (each worker stops there). A
// write must answer 2xx or 503.
func stallWrites(t *testing.T, pid, workers, warm int, write func(w, i int) (response, *stalled, error)) []*stalled {
	t.Helper()
	var ok atomic.Int64
	var once sync.Once
	stop := func() {
		once.Do(func() {
			if err := freeze(pid); err != nil {
				t.Errorf("stop the broker: %v", err)
			}
		})
	}
	out := make([]*stalled, workers)
	errs := make([]error, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := 0; ; i++ {
				start := time.Now()
				r, st, err := write(w, i)
				took := time.Since(start)
				switch {
				case err != nil:
					errs[w] = err
					return
				case r.Status == http.StatusServiceUnavailable:
					if r.Header.Get("Retry-After") == "" {
						errs[w] = fmt.Errorf("worker %d: 503 without Retry-After: %s", w, r.Raw)
						return
					}
					st.worker, st.took = w, took
					out[w] = st
					return
				case r.Status >= 300:
					errs[w] = fmt.Errorf("worker %d write %d = %d %s", w, i, r.Status, r.Raw)
					return
				}
				if ok.Add(1) == int64(warm) {
					// Stop at a moment unrelated to any answer, so that
					// the stall finds writes at every stage, a produce
					// request in flight among them.
					go func() {
						time.Sleep(time.Duration(rand.IntN(4000)) * time.Microsecond)
						stop()
					}()
				}
			}
		})
	}
	wg.Wait()
	stop() // in case every worker failed before warm
	for _, err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	return out
}

// resumeAndRetry resumes the broker, waits until the service has caught up,
// and retries every stalled write, checking its answer. It returns how many
// of them had landed before their retry.
func resumeAndRetry(t *testing.T, s *service, pid int, sts []*stalled) int {
	t.Helper()
	if err := syscall.Kill(pid, syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	s.waitReady()
	landed := 0
	var slowest time.Duration
	for _, st := range sts {
		if st == nil {
			continue
		}
		slowest = max(slowest, st.took)
		if st.took > stallBound {
			t.Errorf("worker %d: 503 after %v, want within %v", st.worker, st.took, stallBound)
		}
		l := st.landed()
		if l {
			landed++
		}
		r, err := st.retry()
		if err != nil {
			t.Fatalf("worker %d retry: %v", st.worker, err)
		}
		st.check(t, r, l)
	}
	t.Logf("%d of %d stalled writes had landed; the slowest 503 took %v", landed, len(sts), slowest)
	return landed
}

// try is service.do for other goroutines: it returns errors instead of
// failing the test.
func (s *service) try(method, path, body string, headers ...string) (response, error) {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, s.base+"/scim/v2"+path, rd)
	if err != nil {
		return response{}, err
	}
	req.Header.Set("Authorization", "Bearer "+testToken)
	if rd != nil {
		req.Header.Set("Content-Type", "application/scim+json; charset=utf-8")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return response{}, fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return response{}, err
	}
	r := response{Status: resp.StatusCode, Header: resp.Header, Raw: raw}
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &r.Body); err != nil {
			return response{}, fmt.Errorf("%s %s: body is not JSON: %w", method, path, err)
		}
	}
	return r, nil
}

// stallCycles repeats a stall until at least one stalled write had landed
// before its retry (the case that matters), at most sixteen times: on a busy
// machine a stall may catch no produce request on the broker's socket.
func stallCycles(t *testing.T, name string, cycle func(round int) int) {
	t.Helper()
	for round := range 16 {
		if n := cycle(round); n > 0 || t.Failed() {
			t.Logf("%s: %d stalled writes had landed before their retry (round %d)", name, n, round)
			return
		}
	}
	t.Errorf("%s: no stalled write had landed in sixteen stalls; the test proved nothing", name)
}

// TestKafka_StallRetry stops the broker while POST, PATCH (with If-Match)
// and DELETE requests are in flight. Each is answered 503 within the append
// timeout plus the documented margin; once the broker is back, retrying the
// same request is answered as its first attempt would have been, whether
// that attempt landed or not: POST 201 with the user that landed (one user
// per userName), PATCH 200 (not 412), DELETE 204 (not 404).
func TestKafka_StallRetry(t *testing.T) {
	env := kafkaEnv(t)
	addr, pid := dedicatedBroker(t)
	env["KAFKA_BROKERS"] = addr
	env["KAFKA_APPEND_TIMEOUT"] = stallAppendTimeout.String()
	s := startService(t, env)
	const workers = 8

	userBody := func(name string) string {
		return `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"` + name + `"}`
	}
	create := func(name string) string {
		return str(s.must(201, s.do("POST", "/Users", userBody(name))).Body["id"])
	}
	findUser := func(name string) (ids []string) {
		r := s.must(200, s.do("GET", "/Users?filter="+q(`userName eq "`+name+`"`), nil))
		res, _ := r.Body["Resources"].([]any)
		for _, x := range res {
			m, _ := x.(map[string]any)
			ids = append(ids, str(m["id"]))
		}
		return ids
	}

	// POST
	{
		stallCycles(t, "POST", func(round int) int {
			sts := stallWrites(t, pid, workers, 40, func(w, i int) (response, *stalled, error) {
				name := fmt.Sprintf("post-%d-%d-%d@example.com", round, w, i)
				body := userBody(name)
				r, err := s.try("POST", "/Users", body)
				var landedID string
				return r, &stalled{
					retry: func() (response, error) { return s.try("POST", "/Users", body) },
					landed: func() bool {
						ids := findUser(name)
						if len(ids) == 1 {
							landedID = ids[0]
						}
						return len(ids) == 1
					},
					check: func(t *testing.T, r response, landed bool) {
						if r.Status != 201 {
							t.Errorf("retried POST of %s (landed %v) = %d %s, want 201", name, landed, r.Status, r.Raw)
							return
						}
						if landed && str(r.Body["id"]) != landedID {
							t.Errorf("retried POST of %s = id %v, want the landed user %s", name, r.Body["id"], landedID)
						}
						if loc := r.Header.Get("Location"); !strings.HasSuffix(loc, "/Users/"+str(r.Body["id"])) {
							t.Errorf("retried POST of %s: Location %q", name, loc)
						}
						if ids := findUser(name); len(ids) != 1 {
							t.Errorf("users named %s after the retry: %v, want exactly one", name, ids)
						}
					},
				}, err
			})
			return resumeAndRetry(t, s, pid, sts)
		})
	}

	// PATCH
	{
		stallCycles(t, "PATCH", func(round int) int {
			ids := make([]string, workers)
			etags := make([]string, workers)
			for w := range ids {
				ids[w] = create(fmt.Sprintf("patch-%d-%d@example.com", round, w))
				etags[w] = s.must(200, s.do("GET", "/Users/"+ids[w], nil)).Header.Get("ETag")
			}
			sts := stallWrites(t, pid, workers, 40, func(w, i int) (response, *stalled, error) {
				id, ifMatch := ids[w], etags[w]
				value := fmt.Sprintf("name %d", i)
				body := `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","path":"displayName","value":"` + value + `"}]}`
				r, err := s.try("PATCH", "/Users/"+id, body, "If-Match", ifMatch)
				if err == nil && r.Status == 200 {
					etags[w] = r.Header.Get("ETag")
				}
				var landedETag string
				return r, &stalled{
					retry: func() (response, error) { return s.try("PATCH", "/Users/"+id, body, "If-Match", ifMatch) },
					landed: func() bool {
						g := s.must(200, s.do("GET", "/Users/"+id, nil))
						landedETag = g.Header.Get("ETag")
						return g.Body["displayName"] == value
					},
					check: func(t *testing.T, r response, landed bool) {
						if r.Status != 200 || r.Body["displayName"] != value {
							t.Errorf("retried PATCH of %s with If-Match %s (landed %v) = %d %s, want 200 with displayName %q",
								id, ifMatch, landed, r.Status, r.Raw, value)
							return
						}
						if landed && r.Header.Get("ETag") != landedETag {
							t.Errorf("retried PATCH of %s: ETag %s, want %s (the landed write, nothing appended again)",
								id, r.Header.Get("ETag"), landedETag)
						}
					},
				}, err
			})
			return resumeAndRetry(t, s, pid, sts)
		})
	}

	// DELETE
	{
		stallCycles(t, "DELETE", func(round int) int {
			const per = 30
			ids := make([][]string, workers)
			for w := range ids {
				for i := range per {
					ids[w] = append(ids[w], create(fmt.Sprintf("delete-%d-%d-%d@example.com", round, w, i)))
				}
			}
			sts := stallWrites(t, pid, workers, 20, func(w, i int) (response, *stalled, error) {
				if i >= per {
					return response{}, nil, fmt.Errorf("worker %d ran out of users before the stall", w)
				}
				id := ids[w][i]
				r, err := s.try("DELETE", "/Users/"+id, "")
				return r, &stalled{
					retry:  func() (response, error) { return s.try("DELETE", "/Users/"+id, "") },
					landed: func() bool { return s.do("GET", "/Users/"+id, nil).Status == 404 },
					check: func(t *testing.T, r response, landed bool) {
						if r.Status != 204 {
							t.Errorf("retried DELETE of %s (landed %v) = %d %s, want 204", id, landed, r.Status, r.Raw)
						}
						if g := s.do("GET", "/Users/"+id, nil); g.Status != 404 {
							t.Errorf("GET of %s after the retried DELETE = %d, want 404", id, g.Status)
						}
					},
				}, err
			})
			return resumeAndRetry(t, s, pid, sts)
		})
	}
}
