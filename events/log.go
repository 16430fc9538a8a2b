package events

import (
	"context"
	"errors"
)

// ErrUnavailable is returned (wrapped) by Append when the log cannot be
// reached or did not acknowledge in time: nothing may be assumed written.
// Callers answer 503 and the client retries.
var ErrUnavailable = errors.New("event log unavailable")

// Log is an append-only, partitioned event log. One tenant's events always go
// to the same partition (PartitionFor), so they are totally ordered.
//
// Implementations are safe for concurrent use.
type Log interface {
	// Partitions returns the number of partitions; it does not change while
	// the log is open. A log that connects in the background (the Kafka
	// log) returns 0 until it has connected; until then its Append and End
	// fail with ErrUnavailable and its Read waits.
	Partitions() int

	// Append durably appends evs, all of one tenant, to that tenant's
	// partition in order, and returns the partition and the offset of the
	// last one. It returns only once the log has acknowledged them durably
	// (Kafka: acks=all; embedded: fsync). On error none or some of them may
	// have been written (the caller's retry may duplicate; consumers dedupe
	// by Event.ID and Version). Appends of different tenants do not wait
	// for each other beyond what sharing a round trip costs.
	//
	// When Append returns, with or without error, its records are either
	// in the log, ahead of every later append of the partition (and below
	// an End asked after it returned, unless the log has failed for good
	// and writes nothing more until it is reopened), or never will be: a
	// caller that plans its next append against the log's end read after
	// this one returned sees everything this one wrote. So Append drops a
	// request still queued when ctx ends, and waits, past ctx, for the
	// outcome of one already being written: a stalled disk or broker holds
	// that Append (bounded, for Kafka, by the produce attempt's own
	// timeout; not at all for a hung disk, which holds every later append
	// anyway). docs/decisions.md D40 says where Kafka falls short.
	Append(ctx context.Context, evs []Event) (partition int, last int64, err error)

	// AppendClaim durably appends claim c to partition c.Partition and
	// returns its offset, with Append's guarantees: acknowledged durably
	// before it returns, in order with the appends of the partition, and
	// possibly written (even twice) when it fails. A claim lands between
	// the records of two appends, never among the records of one. Whether
	// it took effect is for the readers to find (see Fence).
	AppendClaim(ctx context.Context, c Claim) (offset int64, err error)

	// End returns, per partition, the offset the next appended record will
	// get (the high watermark): records at offsets < End are readable.
	End(ctx context.Context) ([]int64, error)

	// Read calls fn, in offset order, for each record of partition p at
	// offset >= from, waiting for new records, until ctx is done (returning
	// ctx.Err()) or fn returns an error (returning it). Records are decoded
	// with DecodeRecord: an event, a claim (Record.Claim), or, for a record
	// that is neither, Record.Err set: one bad record must not stop every
	// consumer of the partition.
	Read(ctx context.Context, p int, from int64, fn func(Record) error) error

	// Close releases the log. Appends and reads after Close fail.
	Close() error
}

// PartitionFor returns the partition of a tenant among n partitions
// (FNV-1a of the tenant name, modulo n). Every Log and every producer of
// our events uses it, so a tenant's partition never depends on the log.
func PartitionFor(tenant string, n int) int {
	if n <= 1 {
		return 0
	}
	var h uint32 = 2166136261
	for i := 0; i < len(tenant); i++ {
		h ^= uint32(tenant[i])
		h *= 16777619
	}
	return int(h % uint32(n))
}
