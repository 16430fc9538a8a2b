package events_test

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/scim-bridge/scim-bridge/events"
	"github.com/scim-bridge/scim-bridge/events/eventstest"
)

// killChildEnv names, in a child process of TestEmbedded_KillMidAppend, the
// log directory it appends to until it is killed.
const killChildEnv = "EVENTS_KILL_CHILD_DIR"

// killEvent is the event at offset off: large (writes of several pages,
// which SIGKILL can cut between pages) and telling its offset, so that a
// record read back is checked whole.
func killEvent(off int64) events.Event {
	e := eventstest.Event("acme", "User", fmt.Sprintf("u%d", off), 2)
	e.ID = fmt.Sprintf("event-%d", off)
	e.Resource["displayName"] = strings.Repeat(strconv.FormatInt(off%10, 10), 64<<10)
	return e
}

// TestEmbedded_KillMidAppend kills a process appending large batches with
// SIGKILL at random moments, over and over, on one log: after each kill
// the reopened log holds every batch whose append returned, each record
// whole and at its offset, nothing half-written, and takes appends again
// where it ends (over the zeros ahead, or a torn tail it cut off).
func TestEmbedded_KillMidAppend(t *testing.T) {
	if dir := os.Getenv(killChildEnv); dir != "" {
		appendUntilKilled(dir)
		return
	}
	if testing.Short() {
		t.Skip("starts and kills processes")
	}
	dir := t.TempDir()
	rnd := rand.New(rand.NewPCG(7, 7))
	for round := range 10 {
		cmd := exec.Command(os.Args[0], "-test.run=^TestEmbedded_KillMidAppend$")
		cmd.Env = append(os.Environ(), killChildEnv+"="+dir)
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		// Lines "acked <last offset>": read them until the kill, in the
		// background, keeping the highest.
		acked := make(chan int64, 1)
		started := make(chan struct{})
		go func() {
			last := int64(-1)
			sc := bufio.NewScanner(out)
			for sc.Scan() {
				if off, ok := strings.CutPrefix(sc.Text(), "acked "); ok {
					n, _ := strconv.ParseInt(off, 10, 64)
					if last < 0 {
						close(started)
					}
					last = max(last, n)
				}
			}
			if last < 0 {
				close(started)
			}
			acked <- last
		}()
		select {
		case <-started:
		case <-time.After(60 * time.Second):
			cmd.Process.Kill()
			t.Fatal("the child acknowledged no append within 60s")
		}
		time.Sleep(time.Duration(rnd.IntN(40)) * time.Millisecond) // a random moment of the stream
		if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		cmd.Wait()
		last := <-acked

		l := openEmbedded(t, dir, events.EmbeddedOptions{})
		end, err := l.End(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if end[0] <= last {
			t.Fatalf("round %d: the log ends at %d after a kill; offset %d was acknowledged", round, end[0], last)
		}
		for i, got := range readAll(t, l) {
			want := killEvent(int64(i))
			if got.ID != want.ID || got.Resource["displayName"] != want.Resource["displayName"] {
				t.Fatalf("round %d: the record at offset %d is event %s, not the one appended there", round, i, got.ID)
			}
		}
		t.Logf("round %d: %d records, %d acknowledged", round, end[0], last+1)
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

// appendUntilKilled appends batches of killEvent to the log in dir,
// printing "acked <last offset>" after each, until the process is killed.
func appendUntilKilled(dir string) {
	l, err := events.OpenEmbedded(dir, events.EmbeddedOptions{})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	end, err := l.End(context.Background())
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	next := end[0]
	for {
		evs := make([]events.Event, 8)
		for i := range evs {
			evs[i] = killEvent(next + int64(i))
		}
		_, last, err := l.Append(context.Background(), evs)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		next = last + 1
		fmt.Printf("acked %d\n", last)
	}
}
