package scimhttp

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/scim-bridge/scim-bridge/bridge"
	"github.com/scim-bridge/scim-bridge/events"
	"github.com/scim-bridge/scim-bridge/projection"
	"github.com/scim-bridge/scim-bridge/schemas"
)

// BenchmarkCreateUser is POST /Users through the whole write path as serve
// builds it: the handler, the bridge with its metrics, the embedded log
// (every batch fsynced) and a Badger projection on disk following it, all
// in a temporary directory, with 16 concurrent clients as bench/load's POST
// run has. Per op: one new user with Entra ID's body, answered 201 after
// the projection applied it. allocs/op counts every goroutine's
// allocations (the log's committer, the projection's applier, Badger's
// write pipeline), divided by the POSTs, and so does cpu-µs/op, the
// process's CPU time per POST (the requests' building and recording, which
// the service does not do, included).
func BenchmarkCreateUser(b *testing.B) {
	reg, err := schemas.NewRegistry()
	if err != nil {
		b.Fatal(err)
	}
	dir := b.TempDir()
	logger := slog.New(slog.DiscardHandler)
	preg := prometheus.NewRegistry()
	el, err := events.OpenEmbedded(filepath.Join(dir, "log"), events.EmbeddedOptions{Logger: logger})
	if err != nil {
		b.Fatal(err)
	}
	defer el.Close()
	store, err := projection.Open(filepath.Join(dir, "projection"), reg, projection.Options{Logger: logger, Registerer: preg})
	if err != nil {
		b.Fatal(err)
	}
	defer store.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- store.Run(ctx, el) }()
	defer func() {
		cancel()
		if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
			b.Errorf("projection Run: %v", err)
		}
	}()
	br, err := bridge.New(el, store, reg, bridge.Options{Logger: logger,
		Registerer: prometheus.WrapRegistererWith(prometheus.Labels{"log": "embedded"}, preg)})
	if err != nil {
		b.Fatal(err)
	}
	defer br.Close()
	srv, err := New(reg, br, store, StaticToken(testToken, "default"), Options{Logger: logger, Registerer: preg, BaseURL: testBase})
	if err != nil {
		b.Fatal(err)
	}
	h := srv.Handler()

	var n atomic.Int64
	b.SetParallelism(max(1, 16/runtime.GOMAXPROCS(0)))
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := cpuTime()
	defer func() { b.ReportMetric(float64((cpuTime()-cpu0).Nanoseconds())/1e3/float64(b.N), "cpu-µs/op") }()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := strconv.FormatInt(n.Add(1), 10)
			body := `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"externalId":"ext-` + i +
				`","userName":"user` + i + `@example.com","active":true,"displayName":"Load User ` + i +
				`","emails":[{"primary":true,"type":"work","value":"user` + i + `@example.com"}],` +
				`"name":{"familyName":"User ` + i + `","givenName":"Load"}}`
			req := httptest.NewRequest(http.MethodPost, Prefix+"/Users", strings.NewReader(body))
			req.Header.Set("Authorization", "Bearer "+testToken)
			req.Header.Set("Content-Type", "application/scim+json")
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != http.StatusCreated {
				b.Errorf("POST /Users = %d %s", rec.Code, rec.Body)
				return
			}
		}
	})
}

// cpuTime is the CPU time (user and system) the process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
