package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/dgraph-io/badger/v4"

	"github.com/scim-bridge/scim-bridge/projection"
	"github.com/scim-bridge/scim-bridge/schemas"
)

// exportProjection returns every key and value of a stopped service's
// projection, in key order.
func exportProjection(t *testing.T, dataDir string) []string {
	t.Helper()
	reg, err := schemas.NewRegistry()
	if err != nil {
		t.Fatal(err)
	}
	st, err := projection.Open(filepath.Join(dataDir, "projection"), reg, projection.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var out []string
	err = st.Export(context.Background(), func(k, v []byte) error {
		out = append(out, fmt.Sprintf("%q=%q", k, v))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(out) == 0 {
		t.Fatal("the projection is empty")
	}
	return out
}

func diffDumps(t *testing.T, what string, got, want []string) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%s: %d keys, want %d", what, len(got), len(want))
	}
	for i := 0; i < len(got) && i < len(want); i++ {
		if got[i] != want[i] {
			t.Fatalf("%s: first difference at key %d:\n got %s\nwant %s", what, i, got[i], want[i])
		}
	}
}

// TestRun_Rebuild proves that replaying the log rebuilds the projection
// exactly: `scim-bridge rebuild`, and a start on an empty projection, both
// produce the same keys and bytes as the live projection.
func TestRun_Rebuild(t *testing.T) {
	s := startService(t, nil)
	provisioningSequence(t, s)
	s.stop()
	live := exportProjection(t, s.dataDir)

	env := map[string]string{"SCIM_DATA_DIR": s.dataDir, "SCIM_LOG_LEVEL": "warn"}
	var stderr bytes.Buffer
	if err := run(context.Background(), []string{"rebuild"}, func(k string) string { return env[k] }, io.Discard, &stderr, nil); err != nil {
		t.Fatalf("rebuild: %v\n%s", err, stderr.String())
	}
	diffDumps(t, "after scim-bridge rebuild", exportProjection(t, s.dataDir), live)

	if err := os.RemoveAll(filepath.Join(s.dataDir, "projection")); err != nil {
		t.Fatal(err)
	}
	s2 := startService(t, map[string]string{"SCIM_DATA_DIR": s.dataDir})
	r := s2.must(200, s2.do("GET", "/Users?count=0", nil))
	if r.Body["totalResults"] != float64(2) {
		t.Errorf("after replay: %s, want 2 users", r.Raw)
	}
	s2.stop()
	diffDumps(t, "after a start on an empty projection", exportProjection(t, s.dataDir), live)

	// A projection written in another key layout (an older version's) is
	// deleted at start and replayed, not refused.
	setProjectionFormat(t, s.dataDir, "0")
	if _, err := projection.Open(filepath.Join(s.dataDir, "projection"), nil, projection.Options{}); !errors.Is(err, projection.ErrFormat) {
		t.Fatalf("Open of a format-0 projection = %v, want ErrFormat", err)
	}
	s3 := startService(t, map[string]string{"SCIM_DATA_DIR": s.dataDir})
	r = s3.must(200, s3.do("GET", "/Users?count=0", nil))
	if r.Body["totalResults"] != float64(2) {
		t.Errorf("after a start on a format-0 projection: %s, want 2 users", r.Raw)
	}
	s3.stop()
	diffDumps(t, "after a start on a format-0 projection", exportProjection(t, s.dataDir), live)
}

// setProjectionFormat overwrites the format version of a stopped service's
// projection, under the key "F" of the projection's key layout.
func setProjectionFormat(t *testing.T, dataDir, version string) {
	t.Helper()
	db, err := badger.Open(badger.DefaultOptions(filepath.Join(dataDir, "projection")).WithLogger(nil))
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(txn *badger.Txn) error { return txn.Set([]byte("F"), []byte(version)) })
	if cerr := db.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		t.Fatal(err)
	}
}
