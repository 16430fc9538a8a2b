package events

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// A well-framed record that is no event of this contract (another
// version's, a hand-made one) is passed to the reader with Record.Err set,
// and reading goes on past it.
func TestEmbedded_ReadPassesMalformedRecords(t *testing.T) {
	dir := t.TempDir()
	ev := func(id string, v int64) Event {
		return Event{ID: id, Type: UserCreated, Source: "/test", Time: time.Unix(1, 0), Tenant: "acme",
			ResourceType: "User", ResourceID: "u" + id, Version: v}
	}
	l, err := OpenEmbedded(dir, EmbeddedOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := l.Append(context.Background(), []Event{ev("1", 1)}); err != nil {
		t.Fatal(err)
	}
	l.Close()
	frame, err := appendFrame(nil, []byte("acme/User/x"), []Header{{Key: "ce_id", Value: []byte("x")}}, []byte(`{"not":"an event"}`))
	if err != nil {
		t.Fatal(err)
	}
	segs, _ := filepath.Glob(filepath.Join(dir, "partition-0000", "*.log"))
	// Where the next record would go: before the zeros ahead of the
	// records (a record's last byte is never zero).
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
	f.Close()

	l, err = OpenEmbedded(dir, EmbeddedOptions{})
	if err != nil {
		t.Fatalf("OpenEmbedded() with a malformed record = %v", err)
	}
	defer l.Close()
	if _, _, err := l.Append(context.Background(), []Event{ev("2", 1)}); err != nil {
		t.Fatal(err)
	}
	stop := errors.New("stop")
	var recs []Record
	err = l.Read(context.Background(), 0, 0, func(r Record) error {
		recs = append(recs, r)
		if len(recs) == 3 {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) {
		t.Fatalf("Read() = %v after %d records, want all three", err, len(recs))
	}
	if recs[0].Err != nil || recs[2].Err != nil || recs[2].Event.ID != "2" {
		t.Errorf("records 0 and 2 = %+v, %+v, want the appended events", recs[0], recs[2])
	}
	if !errors.Is(recs[1].Err, ErrMalformed) || recs[1].Offset != 1 || recs[1].Event.ID != "" {
		t.Errorf("record 1 = %+v, want offset 1 with Err wrapping ErrMalformed and no event", recs[1])
	}
}
