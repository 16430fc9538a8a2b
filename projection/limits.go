package projection

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/dgraph-io/badger/v4"

	"github.com/scim-bridge/scim-bridge/events"
	"github.com/scim-bridge/scim-bridge/schemas"
)

// Limits of what applying one record may write. An event whose writes would
// break one is not applied: it is skipped with the reason of the first
// limit it breaks (see verdictError), which is a function of the event and
// the stored state alone, so every replica and every rebuild decide the
// same, however records are batched into transactions.
//
// Badger refuses a key over 65000 bytes (txn.go, maxKeySize), a value over
// the value threshold in memory (and over the value log file size on disk;
// in memory a value at the threshold is refused too, by a panic),
// and a transaction past 15% of the memtable size or its entry count (for
// the 32 MiB memtable Open uses: 5,033,164 bytes, 52,428 entries, counting
// each entry as Badger's Entry.estimateSize does plus 10 bytes). The limits
// below stay inside those, so a record within them always fits in a
// transaction of its own together with the partition's position.
const (
	// maxKeyBytes is Badger's key limit.
	maxKeyBytes = 65000

	// maxValueBytes bounds one value (a stored resource). It is above what
	// the bridge lets through (events.MaxEventBytes, see CheckEvent) and at
	// or below Badger's in-memory value threshold with the default memtable.
	maxValueBytes = 1 << 20

	// maxIDBytes bounds a tenant, a resource id and a member id: they are
	// components of many keys, and of the value listing a member's groups
	// (up to maxInlineGroups group ids).
	maxIDBytes = 1 << 10

	// maxMemberValueBytes bounds a membership entry's value: the member's
	// type and display.
	maxMemberValueBytes = schemas.MaxStringBytes + maxIDBytes

	// maxIndexKeys bounds the secondary index keys of one resource (one
	// per distinct email, plus userName, externalId, displayName and
	// lastModified).
	maxIndexKeys = 10_000

	// maxRecordBytes and maxRecordEntries bound what one record writes in
	// a transaction, estimated as Badger does; Open lowers them for a
	// smaller memtable (tests).
	maxRecordBytes   = 4_000_000
	maxRecordEntries = 40_000
)

// limits are the bounds of one Store: the constants above, lowered where
// the Badger options of the Store are tighter (only tests shrink them).
type limits struct {
	value          int64 // largest value
	recordBytes    int64 // what one record may write in one transaction
	recordEntries  int64
	valueThreshold int64 // Badger's: values at least this large go to the value log
}

func newLimits(db *badger.DB, inMemory bool, valueThreshold int64) limits {
	l := limits{
		value:          maxValueBytes,
		recordBytes:    min(maxRecordBytes, db.MaxBatchSize()*4/5),
		recordEntries:  min(maxRecordEntries, db.MaxBatchCount()*4/5),
		valueThreshold: valueThreshold,
	}
	if inMemory {
		// Badger sends a value at or over the threshold to the value log,
		// which an in-memory Badger does not have (it panics).
		l.value = min(l.value, valueThreshold-1)
	}
	return l
}

// verdictError is what applying returns for a record that must be skipped
// rather than applied: the reason is a label of
// scim_projection_skipped_events_total. It carries no key or value.
type verdictError struct {
	reason string
	panic  string // reasonPanic: what the panic said
	stack  []byte // reasonPanic: where
}

func (e *verdictError) Error() string { return "event not applicable: " + e.reason }

func skipWith(reason string) error { return &verdictError{reason: reason} }

// verdictOf returns the skip reason err carries, or "".
func verdictOf(err error) string {
	var v *verdictError
	if errors.As(err, &v) {
		return v.reason
	}
	return ""
}

// errOwnTxns is returned by applying a member delta in a shared
// transaction when its writes outgrow half a record's budget: it must be
// applied in transactions of its own (see Store.apply).
var errOwnTxns = errors.New("member delta needs transactions of its own")

// writeTxn is the transaction of applying. Every write goes through Set or
// Delete, which check it against the Store's limits before Badger sees it
// and count it against the budget of the record being applied (since
// mark), so a limit is found the same way whatever else the transaction
// holds. Reads go to kv.
type writeTxn struct {
	kv      kvTxn
	lim     *limits
	hints   *userNameHints // told which user takes a userName (nil: none)
	filter  *keyFilter     // told of every key of its namespaces that is set (keyfilter.go)
	keys    keyArena       // the storage of the keys applying builds
	entries int64          // entries written for the current record
	size    int64          // their estimated size

	// keep says to keep what each record writes for the written window
	// (written.go): put is the resource putRecord stored for the current
	// record, kept those of the records applied into t so far.
	keep bool
	put  *written
	kept []written
}

// newWriteTxn starts a transaction of applying; one of Badger's keeps what
// its records write for the written window.
func (s *Store) newWriteTxn() *writeTxn {
	_, bulk := s.kv.(*bulkKV)
	return &writeTxn{kv: s.kv.newTxn(), lim: &s.lim, hints: s.hints, filter: s.filter, keep: !bulk}
}

// Discard drops what t holds that is not committed.
func (t *writeTxn) Discard() { t.kv.discard() }

// mark starts the budget of the next record.
func (t *writeTxn) mark() { t.entries, t.size = 0, 0 }

// full reports whether the current record has written half its budget:
// where work split over several transactions ends one.
func (t *writeTxn) full() bool {
	return t.entries >= t.lim.recordEntries/2 || t.size >= t.lim.recordBytes/2
}

// Set writes key = value after checking both and the record's budget.
func (t *writeTxn) Set(key, value []byte) error {
	switch {
	case len(key) > maxKeyBytes:
		return skipWith(reasonKeyTooLarge)
	case int64(len(value)) > t.lim.value:
		return skipWith(reasonValueTooLarge)
	}
	if err := t.count(key, value); err != nil {
		return err
	}
	return storageError(t.kv.set(key, value))
}

// Delete deletes key. A key over Badger's limit cannot have been written,
// so deleting it is a no-op.
func (t *writeTxn) Delete(key []byte) error {
	if len(key) > maxKeyBytes {
		return nil
	}
	if err := t.count(key, nil); err != nil {
		return err
	}
	return storageError(t.kv.delete(key))
}

// count adds one entry to the record's budget, sized as Badger's
// Txn.checkSize sizes it.
func (t *writeTxn) count(key, value []byte) error {
	size := int64(len(key)) + 10 + 2
	if int64(len(value)) < t.lim.valueThreshold {
		size += int64(len(value))
	} else {
		size += 12 // a value pointer
	}
	t.entries++
	t.size += size
	if t.entries > t.lim.recordEntries || t.size > t.lim.recordBytes {
		return skipWith(reasonTxnTooBig)
	}
	return nil
}

// storageError keeps Badger's errors out of logs when they could carry
// what they were about: some (a key over the limit) print the key, which
// holds attribute values, after their first line. ErrTxnTooBig passes
// unchanged (applyTxn splits on it).
func storageError(err error) error {
	if err == nil || errors.Is(err, badger.ErrTxnTooBig) {
		return err
	}
	return &redactedError{err: err}
}

type redactedError struct{ err error }

func (e *redactedError) Error() string {
	msg, _, _ := strings.Cut(e.err.Error(), "\n")
	return "badger: " + msg
}

func (e *redactedError) Unwrap() error { return e.err }

// checkRecord returns the reason a record can never be applied, judged
// from the record alone, or "": one that is no event (Record.Err) is
// reasonInvalid, otherwise see checkEvent.
func checkRecord(rec *events.Record) string {
	if rec.Err != nil {
		return reasonInvalid
	}
	return checkEvent(&rec.Event, canonicalType(rec.Event.ResourceType))
}

// checkEvent returns the reason an event can never be applied, judged from
// the event alone, or "": malformed (reasonInvalid, reasonUnknownType),
// ids longer than maxIDBytes or member entries over their limits. Member
// deltas are checked here in full, before any of their transactions, so
// that a skipped delta writes nothing.
func checkEvent(ev *events.Event, typ string) string {
	if r := validate(ev, typ); r != "" {
		return r
	}
	if len(ev.Tenant) > maxIDBytes || len(ev.ResourceID) > maxIDBytes {
		return reasonKeyTooLarge
	}
	for _, ms := range [][]schemas.Member{ev.MembersRemoved, ev.MembersAdded} {
		for _, m := range ms {
			switch {
			case len(m.Value) > maxIDBytes:
				return reasonKeyTooLarge
			case len(m.Type)+len(m.Display)+2 > maxMemberValueBytes:
				return reasonValueTooLarge
			}
		}
	}
	return ""
}

// maxPlainEventBytes bounds the events (their events.EncodedSize) whose
// stored record and index keys Store.CheckEvent does not compute, because
// they cannot break a limit. The record holds the event's resource (or
// less: members are not stored) encoded as the event encodes it but for
// <, > and &, six bytes each instead of one, and beside it a version, two
// times (at most 35 bytes each), the event id and the request digest, the
// first and the last two of which the event holds too, plus under 256
// bytes of keys and punctuation: an event of n bytes makes a record of at
// most 6n+256 bytes. An index key is a short prefix, the tenant, a folded
// value (Fold never lengthens valid UTF-8, which a decoded string is) and
// the id, all in the event: under n+64 bytes. A resource has at most three
// index keys besides its emails, and each distinct email takes at least
// 13 bytes ({"value":"x"}): under n/13+3 keys. At 16 KiB that is a record
// of 98,560 bytes, keys of 16,448 bytes and 1,263 keys, far below
// maxValueBytes, maxKeyBytes and maxIndexKeys (TestCheckEvent_PlainBound).
const maxPlainEventBytes = 16 << 10

// CheckEvent is the package's CheckEvent, for the bridge, which knows the
// store by the interface it validates against. encodedSize is ev's
// events.EncodedSize: the record of an event of at most
// maxPlainEventBytes is not encoded to be measured, nor are its index keys
// made, since they are within the limits (a third of a POST's check).
func (s *Store) CheckEvent(ev *events.Event, encodedSize int) error {
	if encodedSize <= maxPlainEventBytes && jsonTime(ev.Time.UTC()) {
		return checkIDs(ev)
	}
	return CheckEvent(ev)
}

// CheckEvent reports whether the projection would refuse ev for its size
// whatever the state: an id, a member or the stored resource over the
// projection's limits, or more index entries than it keeps for one
// resource. The bridge calls it before appending, so that what it accepts
// is applied. The error names the limit, never a value.
func CheckEvent(ev *events.Event) error {
	if err := checkIDs(ev); err != nil {
		return err
	}
	typ := canonicalType(ev.ResourceType)
	if ev.Resource == nil {
		return nil
	}
	at := ev.Time.UTC()
	next := &record{Resource: withoutMembers(ev.Resource), Version: ev.Version, Created: at, LastModified: at, EventID: ev.ID,
		RequestDigest: ev.RequestDigest}
	v, err := encodeRecord(next)
	if err != nil {
		return fmt.Errorf("encode the stored resource: %w", err)
	}
	// created, kept from the stored record on updates, may print up to 10
	// bytes longer than the event's time.
	if len(v)+10 > maxValueBytes {
		return fmt.Errorf("it would take %d bytes, over the limit of %d", len(v), maxValueBytes)
	}
	if typ == "" {
		return nil
	}
	keys := indexKeys(nil, ev.Tenant, typ, ev.ResourceID, next)
	name := ""
	if typ == typeUser {
		name = foldedUserName(next)
	}
	if n := len(keys) + userNameEntries(name); n > maxIndexKeys {
		return fmt.Errorf("it has %d index entries, over the limit of %d", n, maxIndexKeys)
	}
	// The sizes in the order the keys are written: lastModified,
	// externalId, the userName entry, the others.
	sizes := make([]int, 0, len(keys)+1)
	for _, k := range keys {
		sizes = append(sizes, len(k))
	}
	if name != "" {
		at := 1
		if next.Resource.ExternalID() != "" {
			at = 2
		}
		sizes = slices.Insert(sizes, at, userNameEntrySize(ev.Tenant, name, ev.ResourceID))
	}
	for _, n := range sizes {
		if n > maxKeyBytes {
			return fmt.Errorf("an indexed value makes a key of %d bytes, over the limit of %d", n, maxKeyBytes)
		}
	}
	return nil
}

// checkIDs is CheckEvent's check of the ids and members of ev.
func checkIDs(ev *events.Event) error {
	if r := checkEvent(ev, canonicalType(ev.ResourceType)); r == reasonKeyTooLarge || r == reasonValueTooLarge {
		return fmt.Errorf("an id or a member is over the limits (%s)", r)
	}
	return nil
}

// quoted matches what %q prints.
var quoted = regexp.MustCompile(`"(?:[^"\\]|\\.)*"`)

// elideQuoted replaces the quoted strings of an error message, where the
// codec quotes what it read, by "…".
func elideQuoted(s string) string { return quoted.ReplaceAllLiteralString(s, `"…"`) }

// clip shortens s for a log line or a skip record: an event that was
// skipped for its size may carry an id of any length.
func clip(s string) string {
	const n = 256
	if len(s) <= n {
		return s
	}
	i := n
	for i > 0 && !utf8.RuneStart(s[i]) {
		i--
	}
	return s[:i] + "…"
}
