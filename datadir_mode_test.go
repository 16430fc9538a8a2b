//go:build unix

package main

import (
	"os"
	"path/filepath"
	"testing"
)

// TestRun_DataDirPrivate: the data directory serve creates (projection and
// embedded log: every tenant's personal data) is for the service's user
// alone, whatever the umask.
func TestRun_DataDirPrivate(t *testing.T) {
	dataDir := filepath.Join(t.TempDir(), "data") // does not exist yet
	s := startService(t, map[string]string{"SCIM_DATA_DIR": dataDir})
	s.stop()
	for _, dir := range []string{dataDir, filepath.Join(dataDir, "log")} {
		info, err := os.Stat(dir)
		if err != nil {
			t.Fatal(err)
		}
		if perm := info.Mode().Perm(); perm&0o077 != 0 || perm&0o700 != 0o700 {
			t.Errorf("%s: mode %v, want rwx------", dir, perm)
		}
	}
}
