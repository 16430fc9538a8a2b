package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/scim-bridge/scim-bridge/events"
	"github.com/scim-bridge/scim-bridge/events/eventstest"
	"github.com/scim-bridge/scim-bridge/events/kafka"
)

// lines collects output lines and signals when n have arrived.
type lines struct {
	mu   sync.Mutex
	buf  strings.Builder
	n    int
	done chan struct{}
}

func (l *lines) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf.Write(p)
	if strings.Count(l.buf.String(), "\n") == l.n {
		close(l.done)
	}
	return len(p), nil
}

func TestRun_Dedupes(t *testing.T) {
	addr := os.Getenv("KAFKA_TEST_BROKERS")
	if addr == "" {
		msg := "KAFKA_TEST_BROKERS is not set: start the broker with scripts/kafka/kafka.sh start"
		if os.Getenv("CI") != "" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	var b [4]byte
	rand.Read(b[:])
	topic := "test.example-consumer." + hex.EncodeToString(b[:])
	l, err := kafka.Open(kafka.Options{Brokers: strings.Split(addr, ","), Topic: topic, Partitions: 2})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer l.Close()
	if err := l.WaitConnected(t.Context()); err != nil {
		t.Fatalf("WaitConnected: %v", err)
	}

	v1, v2 := eventstest.Event("acme", "User", "u1", 1), eventstest.Event("acme", "User", "u1", 2)
	// v1 twice, as a retried append would write it, then v2.
	for _, evs := range [][]events.Event{{v1}, {v1, v2}} {
		if _, _, err := l.Append(t.Context(), evs); err != nil {
			t.Fatalf("Append: %v", err)
		}
	}

	out := &lines{n: 2, done: make(chan struct{})}
	ctx, cancel := context.WithCancel(t.Context())
	errc := make(chan error, 1)
	go func() { errc <- run(ctx, []string{"--brokers", addr, "--topic", topic, "--group", topic}, out) }()
	select {
	case <-out.done:
	case err := <-errc:
		t.Fatalf("run returned %v before printing 2 lines", err)
	case <-time.After(60 * time.Second):
		t.Fatalf("run printed only %q", out.buf.String())
	}
	cancel()
	<-errc

	got := strings.Split(strings.TrimSpace(out.buf.String()), "\n")
	for i, want := range []string{"user.created acme/User/u1 v1 id=" + v1.ID, "user.updated acme/User/u1 v2 id=" + v2.ID} {
		if i >= len(got) || !strings.Contains(got[i], want) {
			t.Errorf("line %d = %q, want it to contain %q (all output: %q)", i, got, want, out.buf.String())
		}
	}
	if len(got) != 2 {
		t.Errorf("printed %d lines, want 2 (the duplicate v1 dropped): %q", len(got), got)
	}
}

// TestRun_Fencing: the consumer drops what the fencing rule voids, claims
// included, exactly as the projection does for the same sequence
// (projection's TestStore_Fencing applies eventstest.FencedSequence too),
// and the claims of one partition fence nothing in another.
func TestRun_Fencing(t *testing.T) {
	addr := os.Getenv("KAFKA_TEST_BROKERS")
	if addr == "" {
		msg := "KAFKA_TEST_BROKERS is not set: start the broker with scripts/kafka/kafka.sh start"
		if os.Getenv("CI") != "" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	var b [4]byte
	rand.Read(b[:])
	topic := "test.example-consumer-fencing." + hex.EncodeToString(b[:])
	l, err := kafka.Open(kafka.Options{Brokers: strings.Split(addr, ","), Topic: topic, Partitions: 2})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer l.Close()
	if err := l.WaitConnected(t.Context()); err != nil {
		t.Fatalf("WaitConnected: %v", err)
	}

	p := events.PartitionFor("acme", 2)
	other := "globex"
	for i := 0; events.PartitionFor(other, 2) == p; i++ {
		other = fmt.Sprintf("globex%d", i)
	}
	seq := eventstest.FencedSequence("acme", p)
	eventstest.AppendFenced(t, l, seq)
	// Epoch 0 in the other partition: acme's claims do not reach it.
	o := eventstest.Event(other, "User", "o1", 1)
	if _, _, err := l.Append(t.Context(), []events.Event{o}); err != nil {
		t.Fatalf("Append: %v", err)
	}

	var want []string // acme's lines, in order
	for _, r := range seq {
		if r.Claim == nil && !r.Void {
			want = append(want, fmt.Sprintf("%s acme/User/u1 v%d id=%s", r.Event.Type, r.Event.Version, r.Event.ID))
		}
	}
	out := &lines{n: len(want) + 1, done: make(chan struct{})}
	ctx, cancel := context.WithCancel(t.Context())
	errc := make(chan error, 1)
	go func() { errc <- run(ctx, []string{"--brokers", addr, "--topic", topic, "--group", topic}, out) }()
	select {
	case <-out.done:
	case err := <-errc:
		t.Fatalf("run returned %v before printing %d lines", err, out.n)
	case <-time.After(60 * time.Second):
		t.Fatalf("run printed only %q", out.buf.String())
	}
	cancel()
	<-errc

	// The last record of acme's sequence is applied, so once its line is
	// out every void record before it has been read and dropped.
	var got []string
	otherSeen := false
	for _, line := range strings.Split(strings.TrimSpace(out.buf.String()), "\n") {
		switch {
		case strings.Contains(line, " acme/"):
			_, rest, _ := strings.Cut(line, " ") // drop the time
			rest, _, _ = strings.Cut(rest, " partition=")
			got = append(got, rest)
		case strings.Contains(line, "user.created "+other+"/User/o1 v1 id="+o.ID):
			otherSeen = true
		default:
			t.Errorf("unexpected line %q", line)
		}
	}
	if !slices.Equal(got, want) {
		t.Errorf("acme's events printed:\n%s\nwant the ones the rule does not void:\n%s",
			strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if !otherSeen {
		t.Errorf("the event of %s (partition %d, epoch 0) was not printed: %q", other, 1-p, out.buf.String())
	}
}
