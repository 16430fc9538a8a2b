// Command consumer is a small downstream consumer of scim-bridge's event
// topic, written the way another team would: a kafka-go consumer group,
// events.DecodeRecord for the CloudEvents envelope, the fencing rule of
// several replicas, and dedupe by version, since delivery is at least
// once. It prints one line per new event:
//
//	go run ./events/kafka/example/consumer --brokers 127.0.0.1:9092 --topic scim.events --group audit
//
// The rule, per partition in offset order (events.Fence): a claim record
// (partition.claimed) is never an event, but the claim in force fences off
// older writers, so an event whose epoch is lower than the claim in force
// is void and dropped, as the service drops it. Order is per tenant (one
// partition per tenant), so keeping the last version applied per resource
// is enough to drop duplicates: a retried append repeats an event with the
// same ce_id and version. A real consumer keeps that state, the claim in
// force per partition included, with what it applies (here it lives in
// memory only, so a restart that resumes from the group's committed
// offsets would forget it).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/segmentio/kafka-go"

	"github.com/scim-bridge/scim-bridge/events"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout); err != nil && !errors.Is(err, context.Canceled) {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("consumer", flag.ContinueOnError)
	brokers := fs.String("brokers", "127.0.0.1:9092", "comma-separated Kafka brokers")
	topic := fs.String("topic", "scim.events", "event topic")
	group := fs.String("group", "scim-events-example", "consumer group")
	if err := fs.Parse(args); err != nil {
		return err
	}
	r := kafka.NewReader(kafka.ReaderConfig{
		Brokers:     strings.Split(*brokers, ","),
		Topic:       *topic,
		GroupID:     *group,
		StartOffset: kafka.FirstOffset, // a new group reads the topic from the start
		MinBytes:    1,
		MaxBytes:    10 << 20,
	})
	defer r.Close()

	last := map[string]int64{}       // resource key -> last version printed
	fences := map[int]events.Fence{} // partition -> the claim in force
	for {
		m, err := r.FetchMessage(ctx)
		if err != nil {
			return fmt.Errorf("fetch: %w", err)
		}
		hdrs := make([]events.Header, len(m.Headers))
		for i, h := range m.Headers {
			hdrs[i] = events.Header{Key: h.Key, Value: h.Value}
		}
		rec := events.DecodeRecord(m.Partition, m.Offset, m.Key, hdrs, m.Value)
		e, f := &rec.Event, fences[m.Partition]
		switch {
		case rec.Err != nil:
			// Not our contract: report it and move on rather than stall.
			fmt.Fprintf(out, "skip partition=%d offset=%d: %v\n", m.Partition, m.Offset, rec.Err)
		case rec.Claim != nil:
			// A replica became the writer of the partition: no event,
			// but older writers are fenced off from here on.
			if next, ok := f.Claim(rec.Claim); ok {
				fences[m.Partition] = next
			}
		case f.Voids(e):
			// Written by a replica that had lost the partition: void,
			// the service did not apply it either.
		case e.Version > last[e.Key()]:
			last[e.Key()] = e.Version
			fmt.Fprintf(out, "%s %s %s v%d id=%s partition=%d offset=%d\n",
				e.Time.Format("2006-01-02T15:04:05.000Z"), e.Type, e.Key(), e.Version, e.ID, m.Partition, m.Offset)
		}
		if err := r.CommitMessages(ctx, m); err != nil {
			return fmt.Errorf("commit offset %d: %w", m.Offset, err)
		}
	}
}
