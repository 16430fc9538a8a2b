package events_test

import (
	"errors"
	"fmt"
	"runtime"
	"sync/atomic"
	"testing"

	"github.com/scim-bridge/scim-bridge/events"
	"github.com/scim-bridge/scim-bridge/events/eventstest"
)

// BenchmarkEmbeddedAppend measures one-event appends, each waiting for its
// fsync, from 1 and 16 concurrent appenders (group commit), on a log of 1
// and of 4 partitions. Appender i writes for tenant i, so the 16 appenders
// spread over the partitions; every tenant of a partition shares its
// committer and fsync. It reports fsyncs/append: 1 for a lone appender,
// less when concurrent appends share one. Run it on the disk the log will
// use: TMPDIR on tmpfs makes fsync free.
func BenchmarkEmbeddedAppend(b *testing.B) {
	for _, partitions := range []int{1, 4} {
		for _, appenders := range []int{1, 16} {
			b.Run(fmt.Sprintf("Partitions=%d/Appenders=%d", partitions, appenders), func(b *testing.B) {
				benchmarkAppend(b, partitions, appenders)
			})
		}
	}
}

func benchmarkAppend(b *testing.B, partitions, appenders int) {
	l, err := events.OpenEmbedded(b.TempDir(), events.EmbeddedOptions{Partitions: partitions})
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	b.ReportAllocs()
	var appends, failed atomic.Int64
	syncs := events.Syncs(l)
	if appenders == 1 {
		ev := eventstest.Event("tenant-0", "User", "u1", 1)
		for b.Loop() {
			if _, _, err := l.Append(b.Context(), []events.Event{ev}); err != nil {
				b.Fatal(err)
			}
			appends.Add(1)
		}
	} else {
		b.SetParallelism(max(1, appenders/runtime.GOMAXPROCS(0)))
		var next atomic.Int64
		b.RunParallel(func(pb *testing.PB) {
			ev := eventstest.Event(fmt.Sprintf("tenant-%d", next.Add(1)-1), "User", "u1", 1)
			for pb.Next() {
				if _, _, err := l.Append(b.Context(), []events.Event{ev}); err != nil {
					failed.Add(1)
				}
				appends.Add(1)
			}
		})
	}
	if failed.Load() > 0 {
		b.Fatalf("%d appends failed", failed.Load())
	}
	b.ReportMetric(float64(events.Syncs(l)-syncs)/float64(max(appends.Load(), 1)), "fsyncs/append")
}

// BenchmarkEmbeddedRead measures reading and decoding records back:
// Seek reads one record at a time from rotating offsets (one op is one
// Read call), Stream reads all 10,000 records in one Read (one op), reported
// per event as ns/event.
func BenchmarkEmbeddedRead(b *testing.B) {
	l, err := events.OpenEmbedded(b.TempDir(), events.EmbeddedOptions{})
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	const n = 10000
	batch := make([]events.Event, 100)
	for i := 0; i < n; i += len(batch) {
		for j := range batch {
			batch[j] = eventstest.Event("acme", "User", "u1", int64(i+j+1))
		}
		if _, _, err := l.Append(b.Context(), batch); err != nil {
			b.Fatal(err)
		}
	}
	stop := errors.New("stop")
	b.Run("Seek", func(b *testing.B) {
		b.ReportAllocs()
		var from int64
		for b.Loop() {
			err := l.Read(b.Context(), 0, from, func(events.Record) error { return stop })
			if !errors.Is(err, stop) {
				b.Fatal(err)
			}
			from = (from + 7919) % n
		}
	})
	b.Run("Stream", func(b *testing.B) {
		b.ReportAllocs()
		events := 0
		for b.Loop() {
			err := l.Read(b.Context(), 0, 0, func(r eventsRecord) error {
				events++
				if r.Offset == n-1 {
					return stop
				}
				return nil
			})
			if !errors.Is(err, stop) {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(events), "ns/event")
	})
}

type eventsRecord = events.Record
