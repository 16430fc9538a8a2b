//go:build unix

package events_test

import (
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/scim-bridge/scim-bridge/events"
)

// logModes returns the permission bits of everything under dir, by path
// relative to dir ("." for dir itself).
func logModes(t *testing.T, dir string) map[string]fs.FileMode {
	t.Helper()
	modes := map[string]fs.FileMode{}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		modes[rel] = info.Mode()
		return nil
	})
	if err != nil {
		t.Fatalf("walk %s: %v", dir, err)
	}
	return modes
}

// checkPrivate checks that only the owner can reach anything under dir:
// directories rwx------, files rw-------, whatever the umask (which can
// only take bits away, so the owner's bits are checked as at least these).
func checkPrivate(t *testing.T, dir string) {
	t.Helper()
	modes := logModes(t, dir)
	for _, want := range []string{".", "LOCK", "meta.json", "partition-0000",
		filepath.Join("partition-0000", "00000000000000000000.log")} {
		if _, ok := modes[want]; !ok {
			t.Errorf("%s: no %s in the log directory (%v)", dir, want, modes)
		}
	}
	for path, m := range modes {
		want := fs.FileMode(0o600)
		if m.IsDir() {
			want = 0o700
		}
		if m.Perm()&0o077 != 0 || m.Perm()&want != want {
			t.Errorf("%s: mode %v, want %v", path, m.Perm(), want)
		}
	}
}

// TestEmbedded_Modes: the log holds every tenant's personal data, so what
// it creates is private to the user running it.
func TestEmbedded_Modes(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data", "log") // created by OpenEmbedded
	opts := events.EmbeddedOptions{Partitions: 2, SegmentBytes: 3 << 10}
	l := openEmbedded(t, dir, opts)
	appendEach(t, l, 40) // several segments
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	checkPrivate(t, dir)
	if m := logModes(t, filepath.Dir(dir))["."]; m.Perm()&0o077 != 0 {
		t.Errorf("%s (created on the way): mode %v, want no access for others", filepath.Dir(dir), m.Perm())
	}
}

// TestEmbedded_TightensModes: a log written by an earlier version, or
// copied with looser modes, is made private when opened.
func TestEmbedded_TightensModes(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "log")
	opts := events.EmbeddedOptions{SegmentBytes: 3 << 10}
	l := openEmbedded(t, dir, opts)
	evs := appendEach(t, l, 40)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	for path, m := range logModes(t, dir) {
		loose := fs.FileMode(0o644)
		if m.IsDir() {
			loose = 0o755
		}
		if err := os.Chmod(filepath.Join(dir, path), loose); err != nil { // not subject to the umask
			t.Fatal(err)
		}
	}
	l = openEmbedded(t, dir, opts)
	defer l.Close()
	checkPrivate(t, dir)
	if got := readAll(t, l); len(got) != len(evs) {
		t.Errorf("read %d events after reopening, want %d", len(got), len(evs))
	}
}
