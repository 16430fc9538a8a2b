// Package events owns the domain events of scim-bridge and the log they are
// appended to: event types and their codec (CloudEvents 1.0, Kafka binary
// content mode), the Log interface, the embedded log, and (in events/kafka)
// the Kafka log. The contract every Log must pass is events/eventstest.
//
// It imports schemas only; projection, bridge and scimhttp build on it.
package events

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/scim-bridge/scim-bridge/schemas"
)

// Event types: stable names, part of the public event contract.
const (
	UserCreated         = "user.created"
	UserUpdated         = "user.updated"
	UserDeactivated     = "user.deactivated"
	UserReactivated     = "user.reactivated"
	UserDeleted         = "user.deleted"
	GroupCreated        = "group.created"
	GroupUpdated        = "group.updated"
	GroupDeleted        = "group.deleted"
	GroupMembersAdded   = "group.members_added"
	GroupMembersRemoved = "group.members_removed"
)

// Event is one domain event. Its JSON form (the record value) is the event
// data of the public contract; ID, Type, Source, Time and Tenant travel as
// CloudEvents headers as well.
//
// RequestDigest identifies the SCIM request that caused the event, so that
// a retry of that request is recognised: 32 lower-case hex digits (SHA-256
// truncated to 128 bits, computed by the bridge), the same in every event of
// one write, empty in events written before the field existed.
//
// Epoch is the epoch under which the writer appended the event: that of its
// claim on the partition (see Claim), 0 for a writer that never claims and
// in events written before the field existed (the data then has no
// "epoch"). An event whose epoch is lower than the claim in force before it
// is void (see Fence).
type Event struct {
	ID     string    `json:"-"` // ce_id: unique per event (a retried append keeps it)
	Type   string    `json:"-"` // ce_type, e.g. "user.created"
	Source string    `json:"-"` // ce_source, e.g. "/scim-bridge/<instance>"
	Time   time.Time `json:"-"` // ce_time: when the bridge accepted the write

	Tenant            string           `json:"tenant"`
	ResourceType      string           `json:"resourceType"` // "User" or "Group"
	ResourceID        string           `json:"id"`
	ExternalID        string           `json:"externalId,omitempty"`
	Version           int64            `json:"version"`         // per resource, 1 on create, +1 per event
	PrevVersion       int64            `json:"prevVersion"`     // 0 on create
	Epoch             int64            `json:"epoch,omitempty"` // the writer's claim epoch (see above)
	ChangedAttributes []string         `json:"changedAttributes,omitempty"`
	Resource          schemas.Resource `json:"resource,omitempty"` // post-image; groups without members; absent on delete
	MembersAdded      []schemas.Member `json:"membersAdded,omitempty"`
	MembersRemoved    []schemas.Member `json:"membersRemoved,omitempty"`
	RequestID         string           `json:"requestId,omitempty"`
	RequestDigest     string           `json:"requestDigest,omitempty"` // the request that caused it (see above)
	Operation         string           `json:"operation,omitempty"`     // "POST", "PUT", "PATCH", "DELETE"
	SCIMEvent         string           `json:"scimEvent"`               // RFC 9967 event URI
}

// Key returns the record key: "<tenant>/<ResourceType>/<id>".
func (e *Event) Key() string { return e.Tenant + "/" + e.ResourceType + "/" + e.ResourceID }

// Record is an event as read back from a log, with its position.
type Record struct {
	Partition int
	Offset    int64
	Event     Event

	// Claim is set for a claim record (see Claim); Event is then empty.
	Claim *Claim

	resourceJSON string // see ResourceJSON

	// Err is set, wrapping ErrMalformed, for a record at this position
	// that is neither an event nor a claim of this contract (another
	// producer's, say); Event and Claim are then empty. Logs pass such
	// records on rather than stop, so a consumer can skip them.
	Err error
}

// ResourceJSON returns the JSON text that Event.Resource was decoded from
// (DecodeRecord), a slice of the record's value, or "" when there is none
// or the value named the resource more than once. It is the resource as
// long as Event.Resource is left as decoded. A consumer that stores the
// resource as JSON can keep this text when it is already in the form it
// writes (scimjson.Canonical), rather than write the map again.
func (r *Record) ResourceJSON() string { return r.resourceJSON }

// Validate reports whether e can be encoded: ID, Type, Source, Tenant,
// ResourceType and ResourceID are set, Type is not that of a claim, Epoch is
// not negative and Time is a set time within years 0–9999 (RFC 3339).
// Errors wrap ErrMalformed and name the field.
func (e *Event) Validate() error {
	switch {
	case e.ID == "":
		return fmt.Errorf("%w: missing id", ErrMalformed)
	case e.Type == "":
		return fmt.Errorf("%w: event %s: missing type", ErrMalformed, e.ID)
	case e.Type == PartitionClaimed:
		return fmt.Errorf("%w: event %s: type %s is that of a claim, not an event", ErrMalformed, e.ID, e.Type)
	case e.Source == "":
		return fmt.Errorf("%w: event %s: missing source", ErrMalformed, e.ID)
	case e.Time.IsZero():
		return fmt.Errorf("%w: event %s: missing time", ErrMalformed, e.ID)
	case e.Time.UTC().Year() < 0 || e.Time.UTC().Year() > 9999:
		return fmt.Errorf("%w: event %s: time %v outside RFC 3339", ErrMalformed, e.ID, e.Time)
	case e.Tenant == "":
		return fmt.Errorf("%w: event %s: missing tenant", ErrMalformed, e.ID)
	case e.ResourceType == "":
		return fmt.Errorf("%w: event %s: missing resourceType", ErrMalformed, e.ID)
	case e.ResourceID == "":
		return fmt.Errorf("%w: event %s: missing id of the resource", ErrMalformed, e.ID)
	case e.Epoch < 0:
		return fmt.Errorf("%w: event %s: negative epoch %d", ErrMalformed, e.ID, e.Epoch)
	}
	return nil
}

// NewEventID returns a new UUID version 7 (RFC 9562 §5.7): 48 bits of Unix
// milliseconds, then 74 random bits. It is the one id generator of
// scim-bridge: the bridge uses it for every event's id (ce_id) and for the
// ids of new resources, which so sort roughly by creation and keep index
// keys local.
func NewEventID() string {
	var u [16]byte
	_, _ = rand.Read(u[6:]) // crypto/rand.Read never fails (Go 1.24+)
	ms := uint64(time.Now().UnixMilli())
	u[0], u[1], u[2], u[3], u[4], u[5] = byte(ms>>40), byte(ms>>32), byte(ms>>24), byte(ms>>16), byte(ms>>8), byte(ms)
	u[6] = u[6]&0x0f | 0x70
	u[8] = u[8]&0x3f | 0x80
	return FormatUUID(u)
}

// FormatUUID writes u in the canonical form NewEventID gives: lower-case
// hex in groups of 8-4-4-4-12.
func FormatUUID(u [16]byte) string {
	var s [36]byte
	hex.Encode(s[0:8], u[0:4])
	s[8] = '-'
	hex.Encode(s[9:13], u[4:6])
	s[13] = '-'
	hex.Encode(s[14:18], u[6:8])
	s[18] = '-'
	hex.Encode(s[19:23], u[8:10])
	s[23] = '-'
	hex.Encode(s[24:], u[10:])
	return string(s[:])
}

// ParseUUID is FormatUUID's inverse: it decodes a UUID in canonical form,
// 36 characters of lower-case hex in groups of 8-4-4-4-12, and reports
// false for anything else.
func ParseUUID(s string) (u [16]byte, ok bool) {
	if len(s) != 36 || s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-' {
		return u, false
	}
	j := 0
	for i := 0; i < 36; {
		if i == 8 || i == 13 || i == 18 || i == 23 {
			i++
			continue
		}
		hi, ok1 := lowerHex(s[i])
		lo, ok2 := lowerHex(s[i+1])
		if !ok1 || !ok2 {
			return u, false
		}
		u[j] = hi<<4 | lo
		j++
		i += 2
	}
	return u, true
}

func lowerHex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	}
	return 0, false
}
