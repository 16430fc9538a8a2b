package kafka

import (
	"context"
	"errors"
	"flag"
	"log/slog"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/scim-bridge/scim-bridge/events"
)

// BenchmarkRead reads and decodes -read.records records of the fullest
// partition of an existing topic (-read.topic, on KAFKA_BENCH_BROKERS or
// else KAFKA_TEST_BROKERS) from offset 0, and reports events/s: the Kafka
// half of a rebuild. It skips without a topic.
//
//	go test -run '^$' -bench Read -benchtime 1x ./events/kafka -args -read.topic scale.events
var (
	readTopic   = flag.String("read.topic", "", "existing topic BenchmarkRead reads")
	readRecords = flag.Int64("read.records", 1_000_000, "records BenchmarkRead reads (at most the partition's)")
)

var errEnough = errors.New("enough")

func BenchmarkRead(b *testing.B) {
	if *readTopic == "" {
		b.Skip("-read.topic is not set")
	}
	brokers := os.Getenv("KAFKA_BENCH_BROKERS")
	if brokers == "" {
		brokers = strings.Join(testBrokers(b), ",")
	}
	ctx := context.Background()
	l, err := Open(Options{Brokers: strings.Split(brokers, ","), Topic: *readTopic,
		Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	if err := l.WaitConnected(ctx); err != nil {
		b.Fatal(err)
	}
	end, err := l.End(ctx)
	if err != nil {
		b.Fatal(err)
	}
	p := 0
	for i, e := range end {
		if e > end[p] {
			p = i
		}
	}
	n := min(*readRecords, end[p])
	if n == 0 {
		b.Skip("empty topic")
	}
	cpu0 := cpuTime()
	for b.Loop() {
		var got, last int64 = 0, -1
		err := l.Read(ctx, p, 0, func(rec events.Record) error {
			if rec.Offset <= last {
				b.Fatalf("offset %d after %d", rec.Offset, last)
			}
			last = rec.Offset
			got++
			if got == n {
				return errEnough
			}
			return nil
		})
		if !errors.Is(err, errEnough) {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "events/s")
	// CPU per record (every goroutine) is steadier than events/s on a
	// shared machine.
	b.ReportMetric(float64((cpuTime()-cpu0).Nanoseconds())/1e3/float64(n)/float64(b.N), "cpu-µs/event")
}

// cpuTime returns the CPU time the process has used, user and system.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
