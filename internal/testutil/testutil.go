// Package testutil holds the helpers every package's tests share: golden
// files with readable diffs and a logger that writes to the test's log.
//
// It is imported by tests only, and imports nothing of the module, so any
// layer's tests may use it without an upward import (layers_test.go checks
// that it stays a leaf). It lives in internal/ at the module root, outside
// the layers, because it belongs to none of them; internal/ keeps it out of
// the module's API.
package testutil

import (
	"flag"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/ instead of comparing with them")

// Golden compares got with the golden file at path and reports a
// difference as a line diff, -want +got. With the -update flag it writes
// got to path instead (creating its directory): review the change like
// code.
func Golden(t testing.TB, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run the test with -update to create it)", err)
	}
	// Compared as lines, so that go-cmp shows the lines that differ with
	// the unchanged ones around them, however short the file.
	if diff := cmp.Diff(strings.Split(string(want), "\n"), strings.Split(string(got), "\n")); diff != "" {
		t.Errorf("%s differs (-want +got); if the change is right, run the test with -update and review it:\n%s", path, diff)
	}
}

// Logger returns a logger that writes records at level and above to t's
// output, which go test shows for a failing test or with -v.
func Logger(t testing.TB, level slog.Leveler) *slog.Logger {
	return slog.New(slog.NewTextHandler(Writer(t), &slog.HandlerOptions{Level: level}))
}

// Writer returns a writer to t's output, for a component that takes an
// io.Writer for its logs. It is safe for concurrent use. What is written
// after t has ended (a goroutine still closing down) is dropped: t's output
// would show it under another test, or panic once every test has ended.
func Writer(t testing.TB) io.Writer {
	w := &writer{out: t.Output()}
	t.Cleanup(func() {
		w.mu.Lock()
		w.done = true
		w.mu.Unlock()
	})
	return w
}

type writer struct {
	mu   sync.Mutex
	out  io.Writer
	done bool
}

func (w *writer) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.done {
		_, _ = w.out.Write(p)
	}
	return len(p), nil
}
