package tenants

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/scim-bridge/scim-bridge/internal/testutil"
)

// fileOf is a tenants file giving each tenant the listed tokens.
func fileOf(tenantTokens ...string) string {
	var b strings.Builder
	b.WriteString(`{"tenants":[`)
	for i := 0; i+1 < len(tenantTokens); i += 2 {
		if i > 0 {
			b.WriteString(",")
		}
		b.WriteString(`{"name":"` + tenantTokens[i] + `","tokens":["` + HashToken(tenantTokens[i+1]) + `"]}`)
	}
	b.WriteString(`]}`)
	return b.String()
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatalf("WriteFile(%s) = %v", path, err)
	}
}

// checkAuth checks what each token authenticates as ("" for nothing).
func checkAuth(t *testing.T, a interface {
	Authenticate(string) (string, bool)
}, want map[string]string) {
	t.Helper()
	for token, wantTenant := range want {
		got, ok := a.Authenticate(token)
		if got != wantTenant || ok != (wantTenant != "") {
			t.Errorf("Authenticate(%q) = %q, %v, want %q", token, got, ok, wantTenant)
		}
	}
}

func openWatcher(t *testing.T, content string) (*Watcher, string, *prometheus.Registry) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "tenants.json")
	writeFile(t, path, content)
	reg := prometheus.NewRegistry()
	w, err := Open(path, Options{Logger: testutil.Logger(t, slog.LevelInfo), Registerer: reg})
	if err != nil {
		t.Fatalf("Open() = %v", err)
	}
	return w, path, reg
}

func TestOpen_Errors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.json")
	writeFile(t, bad, `{"tenants":[{"name":"A","tokens":[]}]}`)
	typo := filepath.Join(dir, "typo.json")
	writeFile(t, typo, `{"tenants":[{"name":"acme","tokens":["`+HashToken("a")+`"],"ratelimit":{"requestsPerSecond":1}}]}`)
	noTokens := filepath.Join(dir, "notokens.json")
	writeFile(t, noTokens, `{"tenants":[{"name":"acme","tokens":[]}]}`)
	tests := []struct {
		name string
		path string
		opts Options
		want error // nil: any error
	}{
		{"Missing", filepath.Join(dir, "missing.json"), Options{}, os.ErrNotExist},
		{"Invalid", bad, Options{}, ErrBadName},
		{"UnknownKey", typo, Options{}, ErrUnknownKey},
		{"NoTokens", noTokens, Options{}, ErrNoTokens},
		{"NegativeInterval", bad, Options{Interval: -time.Second}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w, err := Open(tt.path, tt.opts)
			if err == nil {
				t.Fatalf("Open(%s) = %v, nil; want an error", tt.path, w)
			}
			if tt.want != nil && !errors.Is(err, tt.want) {
				t.Errorf("Open(%s) = %v, want an error wrapping %v", tt.path, err, tt.want)
			}
		})
	}
}

func TestWatcher_Reload(t *testing.T) {
	t.Run("Rotation", func(t *testing.T) {
		w, path, _ := openWatcher(t, fileOf("acme", "old"))
		checkAuth(t, w, map[string]string{"old": "acme", "new": ""})

		// Step 1: both tokens; step 2: only the new one.
		writeFile(t, path, `{"tenants":[{"name":"acme","tokens":["`+HashToken("old")+`","`+HashToken("new")+`"]}]}`)
		if changed, err := w.Reload(); !changed || err != nil {
			t.Fatalf("Reload() = %v, %v, want true, nil", changed, err)
		}
		checkAuth(t, w, map[string]string{"old": "acme", "new": "acme"})
		writeFile(t, path, fileOf("acme", "new"))
		if changed, err := w.Reload(); !changed || err != nil {
			t.Fatalf("Reload() = %v, %v, want true, nil", changed, err)
		}
		checkAuth(t, w, map[string]string{"old": "", "new": "acme"})
	})
	t.Run("Unchanged", func(t *testing.T) {
		w, _, _ := openWatcher(t, fileOf("acme", "a"))
		before := w.Table()
		if changed, err := w.Reload(); changed || err != nil {
			t.Fatalf("Reload() = %v, %v, want false, nil", changed, err)
		}
		if w.Table() != before {
			t.Errorf("Reload() of the same content replaced the table")
		}
	})
	t.Run("SymlinkSwap", func(t *testing.T) {
		// A Kubernetes Secret volume: tenants.json -> ..data/tenants.json,
		// ..data -> a timestamped directory swapped by rename.
		dir := t.TempDir()
		for _, d := range []string{"v1", "v2"} {
			if err := os.Mkdir(filepath.Join(dir, d), 0o700); err != nil {
				t.Fatal(err)
			}
		}
		writeFile(t, filepath.Join(dir, "v1", "tenants.json"), fileOf("acme", "a"))
		writeFile(t, filepath.Join(dir, "v2", "tenants.json"), fileOf("acme", "a", "globex", "g"))
		mustSymlink(t, "v1", filepath.Join(dir, "..data"))
		mustSymlink(t, filepath.Join("..data", "tenants.json"), filepath.Join(dir, "tenants.json"))
		w, err := Open(filepath.Join(dir, "tenants.json"), Options{})
		if err != nil {
			t.Fatalf("Open() = %v", err)
		}
		mustSymlink(t, "v2", filepath.Join(dir, "..data_tmp"))
		if err := os.Rename(filepath.Join(dir, "..data_tmp"), filepath.Join(dir, "..data")); err != nil {
			t.Fatal(err)
		}
		if changed, err := w.Reload(); !changed || err != nil {
			t.Fatalf("Reload() = %v, %v, want true, nil", changed, err)
		}
		checkAuth(t, w, map[string]string{"a": "acme", "g": "globex"})
	})
	t.Run("BadFileKeepsTable", func(t *testing.T) {
		w, path, reg := openWatcher(t, fileOf("acme", "a"))
		bad := fileOf("acme", "a", "globex", "a") // one hash under two tenants
		writeFile(t, path, bad)
		changed, err := w.Reload()
		if changed || !errors.Is(err, ErrDuplicateToken) {
			t.Fatalf("Reload() = %v, %v, want false, %v", changed, err, ErrDuplicateToken)
		}
		checkAuth(t, w, map[string]string{"a": "acme"})
		checkGauge(t, reg, "scim_tenants_last_reload_successful", 0)

		// The same bad content is counted once.
		if changed, err := w.Reload(); changed || err != nil {
			t.Errorf("second Reload() = %v, %v, want false, nil", changed, err)
		}
		checkGauge(t, reg, "scim_tenants_reload_errors_total", 1)

		// Fixed: the new table applies, the gauge recovers.
		writeFile(t, path, fileOf("globex", "g"))
		if changed, err := w.Reload(); !changed || err != nil {
			t.Fatalf("Reload() = %v, %v, want true, nil", changed, err)
		}
		checkAuth(t, w, map[string]string{"a": "", "g": "globex"})
		checkGauge(t, reg, "scim_tenants_last_reload_successful", 1)
		checkGauge(t, reg, "scim_tenants", 1)
	})
	t.Run("TypoKeepsTable", func(t *testing.T) {
		w, path, reg := openWatcher(t, fileOf("acme", "a"))
		for i, bad := range []string{
			`{"tenants":[{"name":"acme","tokens":["` + HashToken("a") + `"],"rateLimit":{"requestspersecond":1}}]}`,
			`{"tenants":[{"name":"acme","tokens":[]}]}`,
		} {
			writeFile(t, path, bad)
			changed, err := w.Reload()
			if changed || !errors.Is(err, ErrUnknownKey) && !errors.Is(err, ErrNoTokens) || !strings.Contains(err.Error(), `"acme"`) {
				t.Fatalf("Reload(%s) = %v, %v, want false and an error naming the tenant", bad, changed, err)
			}
			checkAuth(t, w, map[string]string{"a": "acme"})
			checkGauge(t, reg, "scim_tenants_last_reload_successful", 0)
			checkGauge(t, reg, "scim_tenants_reload_errors_total", float64(i+1))
		}
	})
	t.Run("BadFileRevertedToTheOneInUse", func(t *testing.T) {
		good := fileOf("acme", "a")
		w, path, reg := openWatcher(t, good)
		bad := fileOf("acme", "a", "globex", "a")
		writeFile(t, path, bad)
		if changed, err := w.Reload(); changed || err == nil {
			t.Fatalf("Reload() of a bad file = %v, %v, want false and an error", changed, err)
		}
		checkGauge(t, reg, "scim_tenants_last_reload_successful", 0)

		// The operator puts back the file in use: nothing to swap, but the
		// file on disk is the one in use again.
		writeFile(t, path, good)
		if changed, err := w.Reload(); changed || err != nil {
			t.Fatalf("Reload() of the file in use = %v, %v, want false, nil", changed, err)
		}
		checkGauge(t, reg, "scim_tenants_last_reload_successful", 1)
		checkGauge(t, reg, "scim_tenants_reload_errors_total", 1)

		// The same bad file again is a new failure, reported again.
		writeFile(t, path, bad)
		if changed, err := w.Reload(); changed || err == nil {
			t.Fatalf("Reload() of the bad file again = %v, %v, want false and an error", changed, err)
		}
		checkGauge(t, reg, "scim_tenants_last_reload_successful", 0)
		checkGauge(t, reg, "scim_tenants_reload_errors_total", 2)
	})
	t.Run("MissingFileRestored", func(t *testing.T) {
		w, path, reg := openWatcher(t, fileOf("acme", "a"))
		if err := os.Remove(path); err != nil {
			t.Fatal(err)
		}
		if _, err := w.Reload(); err == nil {
			t.Fatal("Reload() of a missing file: no error")
		}
		checkGauge(t, reg, "scim_tenants_last_reload_successful", 0)
		writeFile(t, path, fileOf("acme", "a"))
		if changed, err := w.Reload(); changed || err != nil {
			t.Fatalf("Reload() of the restored file = %v, %v, want false, nil", changed, err)
		}
		checkGauge(t, reg, "scim_tenants_last_reload_successful", 1)
	})
	t.Run("MissingFileKeepsTable", func(t *testing.T) {
		w, path, reg := openWatcher(t, fileOf("acme", "a"))
		if err := os.Remove(path); err != nil {
			t.Fatal(err)
		}
		if changed, err := w.Reload(); changed || !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("Reload() = %v, %v, want false, %v", changed, err, os.ErrNotExist)
		}
		checkAuth(t, w, map[string]string{"a": "acme"})
		checkGauge(t, reg, "scim_tenants_reload_errors_total", 1)
	})
}

func mustSymlink(t *testing.T, target, link string) {
	t.Helper()
	if err := os.Symlink(target, link); err != nil {
		t.Skipf("Symlink() = %v", err)
	}
}

// checkGauge checks the value of a single-series gauge or counter.
func checkGauge(t *testing.T, reg *prometheus.Registry, name string, want float64) {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatalf("Gather() = %v", err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		m := mf.GetMetric()[0]
		got := m.GetGauge().GetValue() + m.GetCounter().GetValue()
		if got != want {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
		return
	}
	t.Errorf("%s not registered", name)
}

// syncBuffer is a log destination safe for the Run goroutine and the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestWatcher_Run(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tenants.json")
	writeFile(t, path, fileOf("acme", "a"))
	var logs syncBuffer
	reg := prometheus.NewRegistry()
	w, err := Open(path, Options{Logger: slog.New(slog.NewTextHandler(&logs, nil)), Registerer: reg})
	if err != nil {
		t.Fatalf("Open() = %v", err)
	}
	ticks := make(chan time.Time) // unbuffered: a send returns once Run is back in its loop
	w.newTick = func(time.Duration) (<-chan time.Time, func()) { return ticks, func() {} }
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	// tick has Run reload once and waits until it has finished.
	tick := func() {
		ticks <- time.Time{}
		ticks <- time.Time{} // received only after the first reload returned
	}

	writeFile(t, path, `{"tenants":[{"name":"acme","tokens":["plain-token"]}]}`)
	tick()
	checkAuth(t, w, map[string]string{"a": "acme"})
	if got := logs.String(); !strings.Contains(got, "level=ERROR") || !strings.Contains(got, "tenants file rejected") {
		t.Errorf("log after a bad reload = %q, want an ERROR line", got)
	}
	checkGauge(t, reg, "scim_tenants_reload_errors_total", 1)

	writeFile(t, path, fileOf("globex", "g"))
	tick()
	checkAuth(t, w, map[string]string{"a": "", "g": "globex"})
	if got := logs.String(); !strings.Contains(got, "tenants file reloaded") {
		t.Errorf("log after a good reload = %q, want the reload logged", got)
	}

	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("Run() = %v, want %v", err, context.Canceled)
	}
}
