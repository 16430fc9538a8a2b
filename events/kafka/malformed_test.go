package kafka

import (
	"errors"
	"testing"

	"github.com/segmentio/kafka-go"

	"github.com/scim-bridge/scim-bridge/events"
	"github.com/scim-bridge/scim-bridge/events/eventstest"
)

// A record on the topic that is no event of this contract (a stray
// producer's) is passed to the reader with Record.Err set, and reading goes
// on past it: one bad record must not stop the projection.
func TestLog_ReadPassesMalformedRecords(t *testing.T) {
	brokers := testBrokers(t)
	l := mustOpen(t, testOptions(t, brokers, 1))
	if _, _, err := l.Append(t.Context(), []events.Event{eventstest.Event("acme", "User", "u1", 1)}); err != nil {
		t.Fatal(err)
	}
	conn, err := kafka.DialLeader(t.Context(), "tcp", brokers[0], l.opts.Topic, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.WriteMessages(kafka.Message{Key: []byte("acme/User/x"), Value: []byte(`{"not":"an event"}`)}); err != nil {
		t.Fatal(err)
	}
	conn.Close()
	if _, _, err := l.Append(t.Context(), []events.Event{eventstest.Event("acme", "User", "u2", 1)}); err != nil {
		t.Fatal(err)
	}

	stop := errors.New("stop")
	var recs []events.Record
	err = l.Read(t.Context(), 0, 0, func(r events.Record) error {
		recs = append(recs, r)
		if len(recs) == 3 {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) {
		t.Fatalf("Read() = %v after %d records, want all three", err, len(recs))
	}
	if recs[0].Err != nil || recs[2].Err != nil || recs[2].Event.ResourceID != "u2" {
		t.Errorf("records 0 and 2 = %+v, %+v, want the appended events", recs[0], recs[2])
	}
	if !errors.Is(recs[1].Err, events.ErrMalformed) || recs[1].Offset != 1 || recs[1].Event.ID != "" {
		t.Errorf("record 1 = %+v, want offset 1 with Err wrapping ErrMalformed and no event", recs[1])
	}
}
