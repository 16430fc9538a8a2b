package projection

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/scim-bridge/scim-bridge/events"
	"github.com/scim-bridge/scim-bridge/schemas"
)

// BenchmarkReplay rebuilds a projection from an embedded log of
// -replay.users user.created events of one tenant (so one partition) plus a
// few groups and member changes, into a fresh on-disk Store each iteration,
// and reports events/s from Run's start to WaitCaughtUp. The log is built
// once per process, in -replay.log when set (and kept there, so a second
// process measures the replay alone, peak RSS included), else in a temp dir.
//
//	go test -run '^$' -bench Replay -benchtime 5x ./projection
//	go test -run '^$' -bench Replay -benchtime 1x -replay.users 1000000 -replay.log /tmp/replay-1m ./projection
var (
	replayUsers = flag.Int("replay.users", 100_000, "user.created events in the BenchmarkReplay log")
	replayDir   = flag.String("replay.log", "", "directory of the BenchmarkReplay log (built if empty)")
)

var replayLog struct {
	once   sync.Once
	dir    string
	temp   bool
	events int64
	err    error
}

// replayFixture returns the directory of the replay log and its number of
// records, building it on first use.
func replayFixture(b *testing.B) (string, int64) {
	b.Helper()
	replayLog.once.Do(func() {
		replayLog.dir = *replayDir
		if replayLog.dir == "" {
			replayLog.dir, replayLog.err = os.MkdirTemp("", "projection-replay-")
			if replayLog.err != nil {
				return
			}
			replayLog.temp = true
		}
		replayLog.events, replayLog.err = buildReplayLog(replayLog.dir, *replayUsers)
	})
	if replayLog.err != nil {
		b.Fatalf("replay log: %v", replayLog.err)
	}
	return replayLog.dir, replayLog.events
}

// buildReplayLog appends the replay events to the log in dir unless it
// already holds them, and returns the number of records.
func buildReplayLog(dir string, users int) (int64, error) {
	ctx := context.Background()
	log, err := events.OpenEmbedded(dir, events.EmbeddedOptions{Partitions: 1})
	if err != nil {
		return 0, err
	}
	defer log.Close()
	end, err := log.End(ctx)
	if err != nil {
		return 0, err
	}
	if end[0] > 0 {
		return end[0], nil
	}
	start := time.Now()
	var n int64
	var chunk []events.Event
	emit := func(ev events.Event) error {
		ev.ID = fmt.Sprintf("replay-%d", n)
		ev.Source = "/bench"
		ev.Time = baseTime.Add(time.Duration(n) * time.Millisecond)
		ev.Tenant = "acme"
		n++
		chunk = append(chunk, ev)
		if len(chunk) < 1000 {
			return nil
		}
		return flush(ctx, log, &chunk)
	}
	const groups = 5
	for g := range groups {
		id := fmt.Sprintf("group-%d", g)
		if err := emit(events.Event{Type: events.GroupCreated, ResourceType: "Group", ResourceID: id,
			Version: 1, Resource: group(id, fmt.Sprintf("Group %d", g))}); err != nil {
			return 0, err
		}
	}
	gver := make([]int64, groups)
	for i := range users {
		id := benchID(i)
		un := benchUserName(i)
		err := emit(events.Event{Type: events.UserCreated, ResourceType: "User", ResourceID: id, Version: 1,
			Resource: user(id, un, "emails", emails(un), "externalId", fmt.Sprintf("ext-%d", i), "active", true,
				"name", map[string]any{"givenName": "Given", "familyName": fmt.Sprintf("Family%d", i)})})
		if err != nil {
			return 0, err
		}
		if i%1000 == 999 { // every thousand users, add them to a group
			g := (i / 1000) % groups
			ids := make([]string, 1000)
			for j := range ids {
				ids[j] = benchID(i - j)
			}
			gver[g]++
			err := emit(events.Event{Type: events.GroupMembersAdded, ResourceType: "Group",
				ResourceID: fmt.Sprintf("group-%d", g), Version: gver[g] + 1, PrevVersion: gver[g],
				MembersAdded: members(ids...)})
			if err != nil {
				return 0, err
			}
		}
	}
	if err := flush(ctx, log, &chunk); err != nil {
		return 0, err
	}
	fmt.Fprintf(os.Stderr, "replay log: %d records in %v\n", n, time.Since(start).Round(time.Millisecond))
	return n, nil
}

func flush(ctx context.Context, log events.Log, chunk *[]events.Event) error {
	if len(*chunk) == 0 {
		return nil
	}
	_, _, err := log.Append(ctx, *chunk)
	*chunk = (*chunk)[:0]
	return err
}

func BenchmarkReplay(b *testing.B) {
	dir, n := replayFixture(b)
	if replayLog.temp {
		b.Cleanup(func() { os.RemoveAll(replayLog.dir) })
	}
	for _, bc := range []struct {
		name  string
		batch int
	}{
		{"Batch", 0},
		{"OneTxnPerRecord", 1},
	} {
		b.Run(bc.name, func(b *testing.B) {
			benchReplay(b, dir, n, Options{ApplyBatch: bc.batch})
		})
	}
}

func benchReplay(b *testing.B, logDir string, n int64, opts Options) {
	ctx := context.Background()
	log, err := events.OpenEmbedded(logDir, events.EmbeddedOptions{})
	if err != nil {
		b.Fatal(err)
	}
	defer log.Close()
	reg, err := schemas.NewRegistry()
	if err != nil {
		b.Fatal(err)
	}
	opts.Logger = slog.New(slog.DiscardHandler)
	opts.PollInterval = time.Hour // the first End is read at start; no polls needed
	var total, cpu time.Duration
	for b.Loop() {
		b.StopTimer()
		dir := b.TempDir()
		opts.Registerer = prometheus.NewRegistry()
		s, err := Open(dir, reg, opts)
		if err != nil {
			b.Fatal(err)
		}
		runCtx, cancel := context.WithCancel(ctx)
		done := make(chan error, 1)
		b.StartTimer()
		start, cpuStart := time.Now(), cpuTime()
		go func() { done <- s.Run(runCtx, log) }()
		if err := s.WaitCaughtUp(ctx); err != nil {
			b.Fatal(err)
		}
		total += time.Since(start)
		cpu += cpuTime() - cpuStart
		b.StopTimer()
		cancel()
		<-done
		if got := s.Applied()[0]; got != n {
			b.Fatalf("Applied() = %d, want %d", got, n)
		}
		if err := s.Close(); err != nil {
			b.Fatal(err)
		}
		os.RemoveAll(dir)
		b.StartTimer()
	}
	b.ReportMetric(float64(n)*float64(b.N)/total.Seconds(), "events/s")
	// CPU per event (user + system, every goroutine, Badger's included) is
	// steadier than events/s on a shared machine.
	b.ReportMetric(float64(cpu.Nanoseconds())/1e3/float64(n)/float64(b.N), "cpu-µs/event")
	b.ReportMetric(0, "ns/op")
	if hwm := peakRSS(); hwm != "" {
		b.Logf("peak RSS of the process (VmHWM): %s", hwm)
	}
}

// cpuTime returns the CPU time the process has used, user and system.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// peakRSS returns VmHWM from /proc/self/status, or "" where there is none.
func peakRSS() string {
	f, err := os.Open(filepath.Join("/proc", "self", "status"))
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			return strings.TrimSpace(v)
		}
	}
	return ""
}
