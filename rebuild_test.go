package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"

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
}
