package events

import (
	"encoding/json"
	"fmt"
	"mime"
	"strconv"
	"strings"
	"time"
)

// PartitionClaimed is the ce_type of a claim record: a replica that became
// the writer of a partition says so in the partition itself. It is not a
// domain event; see Claim.
const PartitionClaimed = "partition.claimed"

// claimKeyPrefix starts the record key of a claim: "_claim/<partition>".
// Event keys have three parts, "<tenant>/<ResourceType>/<id>"; readers tell
// the two apart by ce_type, never by the key.
const claimKeyPrefix = "_claim/"

// Claim is an ownership claim: the replica at Owner writes for Partition
// from here on, under Epoch (the consumer-group generation that gave it the
// partition). Every write event carries its writer's epoch
// (Event.Epoch), and every reader of the partition holds a Fence: a write
// event older than the claim in force before it is void (see Fence). So a
// former owner that was paused and still appends cannot change what any
// reader applies, whatever the clocks say.
//
// On the wire a claim is a record of the partition it claims, CloudEvents
// 1.0 in Kafka binary content mode like the events: headers
// ce_specversion, ce_id, ce_source, ce_type "partition.claimed", ce_time and
// content-type (no ce_subject, no ce_tenant: it belongs to no tenant), key
// "_claim/<partition>", value {"partition", "epoch", "owner"}.
type Claim struct {
	ID     string    `json:"-"` // ce_id
	Source string    `json:"-"` // ce_source
	Time   time.Time `json:"-"` // ce_time: when it was claimed; informational, nothing decides by it

	Partition int    `json:"partition"` // the partition claimed; the record is in it
	Epoch     int64  `json:"epoch"`     // ≥ 1
	Owner     string `json:"owner"`     // base URL other replicas reach the owner at (see MaxOwnerBytes)
}

// MaxOwnerBytes bounds Claim.Owner, which must be printable ASCII without
// spaces (bytes 0x21–0x7E), as a URL is: every reader keeps the owner of
// the claim in force with its position, so it is small and compares
// byte for byte.
const MaxOwnerBytes = 1024

// Key returns the record key: "_claim/<partition>".
func (c *Claim) Key() string { return claimKeyPrefix + strconv.Itoa(c.Partition) }

// Validate reports whether c can be encoded: ID and Source set, Time a set
// time within years 0–9999, Partition ≥ 0, Epoch ≥ 1 and Owner set, at
// most MaxOwnerBytes of printable ASCII. Errors wrap ErrMalformed and name
// the field.
func (c *Claim) Validate() error {
	switch {
	case c.ID == "":
		return fmt.Errorf("%w: claim: missing id", ErrMalformed)
	case c.Source == "":
		return fmt.Errorf("%w: claim %s: missing source", ErrMalformed, c.ID)
	case c.Time.IsZero():
		return fmt.Errorf("%w: claim %s: missing time", ErrMalformed, c.ID)
	case c.Time.UTC().Year() < 0 || c.Time.UTC().Year() > 9999:
		return fmt.Errorf("%w: claim %s: time %v outside RFC 3339", ErrMalformed, c.ID, c.Time)
	case c.Partition < 0:
		return fmt.Errorf("%w: claim %s: negative partition %d", ErrMalformed, c.ID, c.Partition)
	case c.Epoch < 1:
		return fmt.Errorf("%w: claim %s: epoch %d, want at least 1", ErrMalformed, c.ID, c.Epoch)
	case c.Owner == "":
		return fmt.Errorf("%w: claim %s: missing owner", ErrMalformed, c.ID)
	case len(c.Owner) > MaxOwnerBytes:
		return fmt.Errorf("%w: claim %s: owner of %d bytes, over %d", ErrMalformed, c.ID, len(c.Owner), MaxOwnerBytes)
	case strings.ContainsFunc(c.Owner, func(r rune) bool { return r < 0x21 || r > 0x7e }):
		return fmt.Errorf("%w: claim %s: owner is not printable ASCII without spaces", ErrMalformed, c.ID)
	}
	return nil
}

// claimHeaders are the headers of a claim record, in EncodeClaim's order;
// DecodeClaim insists on each, once.
var claimHeaders = []string{
	HeaderSpecVersion, HeaderID, HeaderSource, HeaderType, HeaderTime, HeaderContentType,
}

// EncodeClaim returns the record of c (see Claim). Deterministic for equal
// claims. It fails, wrapping ErrMalformed, when c.Validate does.
func EncodeClaim(c *Claim) (key []byte, headers []Header, value []byte, err error) {
	if err := c.Validate(); err != nil {
		return nil, nil, nil, fmt.Errorf("encode claim: %w", err)
	}
	value, err = json.Marshal(c)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("encode claim %s: %w: %w", c.ID, ErrMalformed, err)
	}
	headers = []Header{
		{HeaderSpecVersion, []byte(SpecVersion)},
		{HeaderID, []byte(c.ID)},
		{HeaderSource, []byte(c.Source)},
		{HeaderType, []byte(PartitionClaimed)},
		{HeaderTime, []byte(c.Time.UTC().Format(timeLayout))},
		{HeaderContentType, []byte(ContentType)},
	}
	return []byte(c.Key()), headers, value, nil
}

// DecodeClaim is the inverse of EncodeClaim, as strict about the envelope
// as Decode: each header of a claim present once, ce_type
// "partition.claimed", the key naming the data's partition, the data
// valid (Claim.Validate). Other headers and unknown data fields are
// ignored. Errors wrap ErrMalformed.
func DecodeClaim(key []byte, headers []Header, value []byte) (Claim, error) {
	h := make(map[string]string, len(claimHeaders))
	for _, hd := range headers {
		if !isClaimHeader(hd.Key) {
			continue
		}
		if _, dup := h[hd.Key]; dup {
			return Claim{}, fmt.Errorf("%w: claim: duplicate header %s", ErrMalformed, hd.Key)
		}
		h[hd.Key] = string(hd.Value)
	}
	for _, name := range claimHeaders {
		if h[name] == "" {
			return Claim{}, fmt.Errorf("%w: claim: missing header %s", ErrMalformed, name)
		}
	}
	switch {
	case h[HeaderSpecVersion] != SpecVersion:
		return Claim{}, fmt.Errorf("%w: claim: unsupported %s %q", ErrMalformed, HeaderSpecVersion, h[HeaderSpecVersion])
	case h[HeaderType] != PartitionClaimed:
		return Claim{}, fmt.Errorf("%w: claim: %s %q", ErrMalformed, HeaderType, h[HeaderType])
	}
	if mt, _, err := mime.ParseMediaType(h[HeaderContentType]); err != nil || mt != ContentType {
		return Claim{}, fmt.Errorf("%w: claim: %s %q is not %s", ErrMalformed, HeaderContentType, h[HeaderContentType], ContentType)
	}
	t, err := time.Parse(time.RFC3339Nano, h[HeaderTime])
	if err != nil {
		return Claim{}, fmt.Errorf("%w: claim: %s: %w", ErrMalformed, HeaderTime, err)
	}
	// Claims are rare (one per partition and rebalance): encoding/json,
	// whose reflection only the events' hot path could not afford.
	var c Claim
	if err := json.Unmarshal(value, &c); err != nil {
		return Claim{}, fmt.Errorf("%w: claim: value: %w", ErrMalformed, err)
	}
	c.ID, c.Source, c.Time = h[HeaderID], h[HeaderSource], t.UTC()
	if err := c.Validate(); err != nil {
		return Claim{}, err
	}
	if k := c.Key(); string(key) != k {
		return Claim{}, fmt.Errorf("%w: claim: key %q differs from data %q", ErrMalformed, key, k)
	}
	return c, nil
}

func isClaimHeader(name string) bool {
	for _, c := range claimHeaders {
		if c == name {
			return true
		}
	}
	return false
}

// DecodeRecord decodes the record at offset off of partition p: a claim
// (ce_type "partition.claimed", see DecodeClaim) or an event (Decode). A
// record that is neither, or a claim of another partition than the one it
// was read from, comes back with Err set, wrapping ErrMalformed. Both logs
// read records with it, and so may any consumer.
func DecodeRecord(p int, off int64, key []byte, headers []Header, value []byte) Record {
	rec := Record{Partition: p, Offset: off}
	if !isClaimRecord(headers) {
		var err error
		if rec.Event, rec.resourceJSON, err = decode(key, headers, value); err != nil {
			rec.Event, rec.resourceJSON, rec.Err = Event{}, "", err
		}
		return rec
	}
	c, err := DecodeClaim(key, headers, value)
	switch {
	case err != nil:
		rec.Err = err
	case c.Partition != p:
		rec.Err = fmt.Errorf("%w: claim %s of partition %d in partition %d", ErrMalformed, c.ID, c.Partition, p)
	default:
		rec.Claim = &c
	}
	return rec
}

// isClaimRecord reports whether headers say ce_type "partition.claimed".
func isClaimRecord(headers []Header) bool {
	for _, h := range headers {
		if h.Key == HeaderType && string(h.Value) == PartitionClaimed {
			return true
		}
	}
	return false
}
