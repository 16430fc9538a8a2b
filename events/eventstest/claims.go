package eventstest

import (
	"reflect"
	"testing"
	"time"

	"github.com/scim-bridge/scim-bridge/events"
)

// Claim returns a complete claim of partition p, in the form DecodeClaim
// returns it.
func Claim(p int, epoch int64, owner string) events.Claim {
	return events.Claim{
		ID: events.NewEventID(), Source: "/scim-bridge/eventstest", Time: baseTime.Add(time.Duration(epoch) * time.Second),
		Partition: p, Epoch: epoch, Owner: owner,
	}
}

// FencedRecord is one record of FencedSequence: an event, or a claim when
// Claim is set, and whether the rule of events.Fence voids it.
type FencedRecord struct {
	Event events.Event
	Claim *events.Claim
	Void  bool
}

// FencedSequence returns the records of the fencing contract, in log
// order: events of tenant's user "u1" (created, then updated) written
// under several epochs, and claims of partition p (the tenant's), with
// what the rule decides for each:
//
//	write e0 v1          applied: no claim yet
//	claim e1 by A        takes effect
//	write e0 v2          void: older than the claim
//	write e1 v2          applied (v2 again: the void one changed nothing)
//	claim e2 by B        takes effect
//	write e1 v3          void: A wakes up after losing the partition
//	write e2 v3          applied
//	claim e1 by A        void: older than the claim in force
//	claim e2 by C        void: the epoch is B's
//	claim e2 by B        takes effect (the same claim again), changes nothing
//	write e1 v4          void: A's stale claim did not bring it back
//	write e2 v4          applied
//
// The applied writes make one version chain, v1 to v4; without fencing,
// the void ones would win their versions instead.
func FencedSequence(tenant string, p int) []FencedRecord {
	const a, b, c = "http://a.example:8080", "http://b.example:8080", "http://c.example:8080"
	write := func(v, epoch int64, void bool) FencedRecord {
		e := Event(tenant, "User", "u1", v)
		e.Epoch = epoch
		return FencedRecord{Event: e, Void: void}
	}
	claim := func(epoch int64, owner string, void bool) FencedRecord {
		c := Claim(p, epoch, owner)
		return FencedRecord{Claim: &c, Void: void}
	}
	return []FencedRecord{
		write(1, 0, false),
		claim(1, a, false),
		write(2, 0, true),
		write(2, 1, false),
		claim(2, b, false),
		write(3, 1, true),
		write(3, 2, false),
		claim(1, a, true),
		claim(2, c, true),
		claim(2, b, false),
		write(4, 1, true),
		write(4, 2, false),
	}
}

// AppendFenced appends seq to l, each record on its own (events with
// Append, claims with AppendClaim), and returns the offset of each.
func AppendFenced(t *testing.T, l events.Log, seq []FencedRecord) []int64 {
	t.Helper()
	offs := make([]int64, len(seq))
	for i, r := range seq {
		if r.Claim != nil {
			off, err := l.AppendClaim(t.Context(), *r.Claim)
			if err != nil {
				t.Fatalf("AppendClaim(epoch %d of partition %d): %v", r.Claim.Epoch, r.Claim.Partition, err)
			}
			offs[i] = off
			continue
		}
		_, off := mustAppend(t, l, r.Event)
		offs[i] = off
	}
	return offs
}

// testClaims: claims go to the partition they name, in order with the
// events, and read back as claims; invalid ones are refused.
func testClaims(t *testing.T, open Opener) {
	l, _ := openLog(t, open)
	p := events.PartitionFor("acme", l.Partitions())
	seq := FencedSequence("acme", p)
	offs := AppendFenced(t, l, seq)
	for i := 1; i < len(offs); i++ {
		if offs[i] != offs[i-1]+1 {
			t.Fatalf("offsets of the sequence = %v, want consecutive", offs)
		}
	}
	recs := readN(t, l, p, offs[0], len(seq))
	for i, r := range recs {
		if r.Err != nil {
			t.Errorf("record %d: Err = %v", i, r.Err)
			continue
		}
		if r.Partition != p || r.Offset != offs[i] {
			t.Errorf("record %d at %d/%d, want %d/%d", i, r.Partition, r.Offset, p, offs[i])
		}
		if seq[i].Claim == nil {
			if r.Claim != nil || !reflect.DeepEqual(r.Event, seq[i].Event) {
				t.Errorf("record %d = %+v / claim %+v, want event %+v", i, r.Event, r.Claim, seq[i].Event)
			}
			continue
		}
		if r.Claim == nil || !reflect.DeepEqual(*r.Claim, *seq[i].Claim) || !reflect.DeepEqual(r.Event, events.Event{}) {
			t.Errorf("record %d = claim %+v, event %+v; want claim %+v and no event", i, r.Claim, r.Event, *seq[i].Claim)
		}
	}

	// Another partition's claim lands there, not in p.
	if n := l.Partitions(); n > 1 {
		q := (p + 1) % n
		c := Claim(q, 1, "http://q.example:8080")
		off, err := l.AppendClaim(t.Context(), c)
		if err != nil {
			t.Fatalf("AppendClaim(partition %d): %v", q, err)
		}
		got := readN(t, l, q, off, 1)[0]
		if got.Claim == nil || !reflect.DeepEqual(*got.Claim, c) {
			t.Errorf("claim of partition %d read back as %+v", q, got)
		}
	}

	before := mustEnd(t, l)
	bad := map[string]events.Claim{
		"EpochZero":         Claim(p, 0, "http://a.example:8080"),
		"NoOwner":           Claim(p, 3, ""),
		"NegativePartition": Claim(-1, 3, "http://a.example:8080"),
		"PartitionTooHigh":  Claim(l.Partitions(), 3, "http://a.example:8080"),
	}
	for name, c := range bad {
		t.Run(name, func(t *testing.T) {
			if _, err := l.AppendClaim(t.Context(), c); err == nil {
				t.Errorf("AppendClaim(%+v) = nil error, want an error", c)
			}
		})
	}
	if after := mustEnd(t, l); !reflect.DeepEqual(after, before) {
		t.Errorf("End after rejected claims = %v, want %v", after, before)
	}
}
