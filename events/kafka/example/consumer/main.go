// Command consumer is a small downstream consumer of scim-bridge's event
// topic, written the way another team would: a kafka-go consumer group,
// events.Decode for the CloudEvents envelope, and dedupe by version, since
// delivery is at least once. It prints one line per new event:
//
//	go run ./events/kafka/example/consumer --brokers 127.0.0.1:9092 --topic scim.events --group audit
//
// Order is per tenant (one partition per tenant), so keeping the last
// version applied per resource is enough to drop duplicates: a retried
// append repeats an event with the same ce_id and version. A real consumer
// keeps that state with what it applies (here it lives in memory only).
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

	last := map[string]int64{} // resource key -> last version printed
	for {
		m, err := r.FetchMessage(ctx)
		if err != nil {
			return fmt.Errorf("fetch: %w", err)
		}
		hdrs := make([]events.Header, len(m.Headers))
		for i, h := range m.Headers {
			hdrs[i] = events.Header{Key: h.Key, Value: h.Value}
		}
		e, err := events.Decode(m.Key, hdrs, m.Value)
		if err != nil {
			// Not our contract: report it and move on rather than stall.
			fmt.Fprintf(out, "skip partition=%d offset=%d: %v\n", m.Partition, m.Offset, err)
		} else if k := e.Key(); e.Version > last[k] {
			last[k] = e.Version
			fmt.Fprintf(out, "%s %s %s v%d id=%s partition=%d offset=%d\n",
				e.Time.Format("2006-01-02T15:04:05.000Z"), e.Type, k, e.Version, e.ID, m.Partition, m.Offset)
		}
		if err := r.CommitMessages(ctx, m); err != nil {
			return fmt.Errorf("commit offset %d: %w", m.Offset, err)
		}
	}
}
