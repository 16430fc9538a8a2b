package main

import (
	"bytes"
	"context"
	be "encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dgraph-io/badger/v4"

	"github.com/scim-bridge/scim-bridge/events"
	"github.com/scim-bridge/scim-bridge/events/eventstest"
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
// produce the same keys and bytes as the live projection. The log also
// holds claims and the void writes of former owners, which every replay
// voids again, and enough users that both replays take the bulk path
// (projection/bulk.go) while the live projection applied them one
// transaction at a time.
func TestRun_Rebuild(t *testing.T) {
	s := startService(t, nil)
	provisioningSequence(t, s)
	s.stop()
	voids := appendFenced(t, s.dataDir)
	appendUsers(t, s.dataDir, "bulk", 10_000)
	s = startService(t, map[string]string{"SCIM_DATA_DIR": s.dataDir}) // applies them
	s.stop()
	live := exportProjection(t, s.dataDir)
	if got := countVoid(live); got != voids {
		t.Fatalf("live projection has %d void records, want %d", got, voids)
	}

	env := map[string]string{"SCIM_DATA_DIR": s.dataDir, "SCIM_LOG_LEVEL": "info", "SCIM_REPLAY_MEMORY_BYTES": "1048576"}
	var stderr bytes.Buffer
	if err := run(context.Background(), []string{"rebuild"}, func(k string) string { return env[k] }, io.Discard, &stderr, nil); err != nil {
		t.Fatalf("rebuild: %v\n%s", err, stderr.String())
	}
	if !strings.Contains(stderr.String(), "bulk replay done") {
		t.Errorf("rebuild did not replay in bulk:\n%.3000s", stderr.String())
	}
	diffDumps(t, "after scim-bridge rebuild", exportProjection(t, s.dataDir), live)

	if err := os.RemoveAll(filepath.Join(s.dataDir, "projection")); err != nil {
		t.Fatal(err)
	}
	logs := &logBuffer{t: t}
	s2 := startServiceLogs(t, map[string]string{"SCIM_DATA_DIR": s.dataDir, "SCIM_LOG_LEVEL": "info"}, logs)
	s2.waitReady()
	r := s2.must(200, s2.do("GET", "/Users?count=0", nil))
	if r.Body["totalResults"] != float64(2) {
		t.Errorf("after replay: %s, want 2 users", r.Raw)
	}
	s2.stop()
	if !strings.Contains(logs.String(), "bulk replay done") {
		t.Errorf("the start on an empty projection did not replay in bulk")
	}
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

// appendFenced appends the records of the fencing contract
// (eventstest.FencedSequence) for the tenant "fenced" to the embedded log
// of a stopped service, and returns how many of them are void.
func appendFenced(t *testing.T, dataDir string) int {
	t.Helper()
	l, err := events.OpenEmbedded(filepath.Join(dataDir, "log"), events.EmbeddedOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	seq := eventstest.FencedSequence("fenced", events.PartitionFor("fenced", l.Partitions()))
	eventstest.AppendFenced(t, l, seq)
	voids := 0
	for _, r := range seq {
		if r.Void {
			voids++
		}
	}
	return voids
}

// appendUsers appends n user.created events of tenant to the embedded log
// of a stopped service.
func appendUsers(t *testing.T, dataDir, tenant string, n int) {
	t.Helper()
	l, err := events.OpenEmbedded(filepath.Join(dataDir, "log"), events.EmbeddedOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	var batch []events.Event
	for i := range n {
		ev := eventstest.Event(tenant, "User", fmt.Sprintf("bulk-%05d", i), 1)
		ev.Epoch = 1 << 20 // above any claim appendFenced leaves in force
		batch = append(batch, ev)
		if len(batch) == 500 || i == n-1 {
			if _, _, err := l.Append(context.Background(), batch); err != nil {
				t.Fatal(err)
			}
			batch = batch[:0]
		}
	}
}

// countVoid counts the records an export says were skipped as void.
func countVoid(export []string) int {
	n := 0
	for _, line := range export {
		n += strings.Count(line, `\"reason\":\"void\"`)
	}
	return n
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

// TestRun_RebuildNoLog runs rebuild on a data directory that holds no
// embedded log (a mistyped SCIM_DATA_DIR): it must refuse, naming the
// setting, and create nothing, rather than replay the empty log it would
// create and report success.
func TestRun_RebuildNoLog(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "typo")
	env := map[string]string{"SCIM_DATA_DIR": dir, "SCIM_LOG_LEVEL": "warn"}
	err := run(context.Background(), []string{"rebuild"}, func(k string) string { return env[k] }, io.Discard, io.Discard, nil)
	if err == nil || !strings.Contains(err.Error(), "SCIM_DATA_DIR") {
		t.Errorf("rebuild without a log = %v, want an error naming SCIM_DATA_DIR", err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("rebuild without a log left %s behind (%v), want nothing created", dir, err)
	}
}

// TestProcess_RebuildStops runs rebuild on an embedded log with a record it
// cannot read (intact framing and checksum, but not a record inside): the
// replay stops there and never catches up. rebuild must exit non-zero with
// the reason instead of waiting forever for a catch-up.
func TestProcess_RebuildStops(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	s := startService(t, nil)
	provisioningSequence(t, s)
	s.stop()
	appendUnreadableRecord(t, s.dataDir)

	p := startBinary(t, []string{"rebuild"}, map[string]string{"SCIM_DATA_DIR": s.dataDir})
	if code := p.wait(t, 60*time.Second); code != 1 {
		t.Errorf("rebuild of a log the projection cannot follow: exit code %d, want 1", code)
	}
	if out := p.stderr.String(); !strings.Contains(out, "replay stopped before the projection caught up") || !strings.Contains(out, "corrupt") {
		t.Errorf("stderr = %s\nwant the replay's stop and its reason", out)
	}
}

// appendUnreadableRecord appends a frame to the embedded log of a stopped
// service whose length and CRC-32C are right (so opening the log accepts
// it) but whose payload is not an encoded record (so reading it fails).
// The frame layout is the embedded log's: length and CRC, big-endian, then
// the payload.
func appendUnreadableRecord(t *testing.T, dataDir string) {
	t.Helper()
	segs, err := filepath.Glob(filepath.Join(dataDir, "log", "partition-*", "*.log"))
	if err != nil || len(segs) == 0 {
		t.Fatalf("segments of the embedded log: %v, %v", segs, err)
	}
	slices.Sort(segs)
	payload := []byte("not an encoded record")
	frame := be.BigEndian.AppendUint32(nil, uint32(len(payload)))
	frame = be.BigEndian.AppendUint32(frame, crc32.Checksum(payload, crc32.MakeTable(crc32.Castagnoli)))
	frame = append(frame, payload...)
	// Where the next record would go: before the zeros the log keeps
	// ahead of its records (a record's last byte is never zero).
	seg, err := os.ReadFile(segs[len(segs)-1])
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(segs[len(segs)-1], os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt(frame, int64(len(bytes.TrimRight(seg, "\x00")))); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// SCIM_REPLAY_MEMORY_BYTES is a setting of serve and rebuild (both list
// it in their help), a flag wins over it, and a budget under 1 MiB is
// refused with the variable named.
func TestConfig_ReplayMemory(t *testing.T) {
	for _, cmd := range []string{"serve", "rebuild"} {
		if _, help, _ := runCLI(t, nil, cmd, "--help"); !strings.Contains(help, "--replay-memory-bytes  [SCIM_REPLAY_MEMORY_BYTES]") {
			t.Errorf("%s --help does not list SCIM_REPLAY_MEMORY_BYTES:\n%s", cmd, help)
		}
		c, err := parseConfig(cmd, []string{"--replay-memory-bytes", "2097152"}, func(k string) string {
			return map[string]string{"SCIM_TOKEN": "x", "SCIM_REPLAY_MEMORY_BYTES": "3145728"}[k]
		}, io.Discard)
		if err != nil || c.ReplayMemory != 2<<20 {
			t.Errorf("%s: --replay-memory-bytes over SCIM_REPLAY_MEMORY_BYTES: %d, %v; want %d", cmd, c.ReplayMemory, err, 2<<20)
		}
		c, err = parseConfig(cmd, nil, func(k string) string { return map[string]string{"SCIM_TOKEN": "x"}[k] }, io.Discard)
		if err != nil || c.ReplayMemory != defaultReplayMemory {
			t.Errorf("%s: default replay memory %d, %v; want %d", cmd, c.ReplayMemory, err, defaultReplayMemory)
		}
		_, err = parseConfig(cmd, nil, func(k string) string {
			return map[string]string{"SCIM_TOKEN": "x", "SCIM_REPLAY_MEMORY_BYTES": "1000"}[k]
		}, io.Discard)
		if err == nil || !strings.Contains(err.Error(), "SCIM_REPLAY_MEMORY_BYTES") {
			t.Errorf("%s: SCIM_REPLAY_MEMORY_BYTES=1000: %v, want an error naming it", cmd, err)
		}
	}
}

// SCIM_USERNAME_HINT_BYTES is a setting of serve: a flag wins over it, 0
// turns the table off, and a size that is neither 0 nor at least 4096 is
// refused with the variable named.
func TestConfig_UserNameHints(t *testing.T) {
	if _, help, _ := runCLI(t, nil, "serve", "--help"); !strings.Contains(help, "--username-hint-bytes  [SCIM_USERNAME_HINT_BYTES]") {
		t.Errorf("serve --help does not list SCIM_USERNAME_HINT_BYTES:\n%s", help)
	}
	env := func(v string) func(string) string {
		return func(k string) string {
			return map[string]string{"SCIM_TOKEN": "x", "SCIM_USERNAME_HINT_BYTES": v}[k]
		}
	}
	for _, tc := range []struct {
		env  string
		args []string
		want int64
	}{
		{"", nil, defaultUserNameHints},
		{"0", nil, 0},
		{"8388608", nil, 8 << 20},
		{"8388608", []string{"--username-hint-bytes", "4096"}, 4096},
	} {
		c, err := parseConfig("serve", tc.args, env(tc.env), io.Discard)
		if err != nil || c.UserNameHints != tc.want {
			t.Errorf("SCIM_USERNAME_HINT_BYTES=%q %v: %d, %v; want %d", tc.env, tc.args, c.UserNameHints, err, tc.want)
		}
	}
	for _, v := range []string{"-1", "100", "4095"} {
		_, err := parseConfig("serve", nil, env(v), io.Discard)
		if err == nil || !strings.Contains(err.Error(), "SCIM_USERNAME_HINT_BYTES") {
			t.Errorf("SCIM_USERNAME_HINT_BYTES=%s: %v, want an error naming it", v, err)
		}
	}
}
