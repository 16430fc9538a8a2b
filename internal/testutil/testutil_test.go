package testutil

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// recorder is a testing.TB that keeps what Golden reports.
type recorder struct {
	testing.TB
	errs []string
}

func (r *recorder) Helper() {}

func (r *recorder) Errorf(format string, args ...any) {
	r.errs = append(r.errs, fmt.Sprintf(format, args...))
}

func (r *recorder) Fatalf(format string, args ...any) {
	r.errs = append(r.errs, fmt.Sprintf(format, args...))
}

func TestGolden(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.golden")
	if err := os.WriteFile(path, []byte("a\nb\nc\n"), 0o644); err != nil {
		t.Fatal(err)
	}

	same := &recorder{TB: t}
	Golden(same, path, []byte("a\nb\nc\n"))
	if len(same.errs) != 0 {
		t.Errorf("Golden(equal) reported %q", same.errs)
	}

	differ := &recorder{TB: t}
	Golden(differ, path, []byte("a\nB\nc\n"))
	if len(differ.errs) != 1 || !diffLine(differ.errs[0], '-', `"b"`) || !diffLine(differ.errs[0], '+', `"B"`) {
		t.Errorf("Golden(different) reported %q, want a line diff removing b and adding B", differ.errs)
	}

	missing := &recorder{TB: t}
	Golden(missing, filepath.Join(t.TempDir(), "none.golden"), nil)
	if len(missing.errs) != 1 || !strings.Contains(missing.errs[0], "-update") {
		t.Errorf("Golden(missing file) reported %q, want one error naming -update", missing.errs)
	}
}

// TestMain writes, in the child process of TestWriter_AfterTest, to the
// writer of a test after every test has ended, as a goroutine still closing
// down may.
func TestMain(m *testing.M) {
	code := m.Run()
	if afterTest != nil {
		if n, err := afterTest.Write([]byte("after the tests\n")); n != 16 || err != nil {
			fmt.Printf("Write after the tests = %d, %v; want 16, nil\n", n, err)
			code = 1
		}
	}
	os.Exit(code)
}

// TestWriter_AfterTest: a write after the test has ended is dropped, where
// t.Output would panic once every test has ended. The write happens in a
// child process, after its tests have run.
func TestWriter_AfterTest(t *testing.T) {
	if os.Getenv("TESTUTIL_AFTER_TEST") != "" {
		t.Skip("in the child process")
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestWriter_AfterTestOpen$")
	cmd.Env = append(os.Environ(), "TESTUTIL_AFTER_TEST=1")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("child process: %v\n%s", err, out)
	}
}

// afterTest is the writer TestWriter_AfterTestOpen leaves for TestMain in
// the child process of TestWriter_AfterTest.
var afterTest io.Writer

func TestWriter_AfterTestOpen(t *testing.T) {
	if os.Getenv("TESTUTIL_AFTER_TEST") == "" {
		t.Skip("run by TestWriter_AfterTest")
	}
	afterTest = Writer(t)
}

// diffLine reports whether diff has a line marked mark that shows s.
// (go-cmp varies the spaces of its output on purpose, so only the mark
// and the text are checked.)
func diffLine(diff string, mark byte, s string) bool {
	for _, l := range strings.Split(diff, "\n") {
		if len(l) > 0 && l[0] == mark && strings.Contains(l, s) {
			return true
		}
	}
	return false
}
