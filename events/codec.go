package events

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"slices"
	"time"

	"github.com/scim-bridge/scim-bridge/schemas"
)

// ErrMalformed is returned (wrapped) by Decode for a record that is not an
// event of this contract, and by Encode for an event that cannot be one.
var ErrMalformed = errors.New("malformed event record")

// SpecVersion is the CloudEvents version of our records.
const SpecVersion = "1.0"

// ContentType is the media type of the record value.
const ContentType = "application/json"

// Header names of the CloudEvents 1.0 Kafka protocol binding, binary content
// mode (§3.2.3): context attributes travel as "ce_"-prefixed headers, the
// data content type as "content-type". "tenant" is our extension attribute.
const (
	HeaderSpecVersion = "ce_specversion"
	HeaderID          = "ce_id"
	HeaderSource      = "ce_source"
	HeaderType        = "ce_type"
	HeaderSubject     = "ce_subject"
	HeaderTime        = "ce_time"
	HeaderTenant      = "ce_tenant"
	HeaderContentType = "content-type"
)

// timeLayout is RFC 3339 in UTC with a fixed nine-digit fraction, so equal
// times always give equal bytes and the strings sort in time order.
const timeLayout = "2006-01-02T15:04:05.000000000Z"

// Header is a record header (Kafka header, or its embedded-log equivalent).
type Header struct {
	Key   string
	Value []byte
}

// Encode returns the record of e in CloudEvents 1.0 Kafka binary content
// mode: key "<tenant>/<ResourceType>/<id>", headers ce_specversion, ce_id,
// ce_source, ce_type, ce_subject, ce_time, content-type, ce_tenant, and the
// JSON event data as value. Deterministic for equal events.
//
// ce_subject is "<ResourceType>/<id>" (e.g. "User/2819c223"): the subject
// within the tenant, which is the ce_tenant extension; the key adds the
// tenant in front. ce_time is e.Time in UTC with nanoseconds. If
// e.SCIMEvent is empty, the value carries SCIMEventURI(e.Type, e.Operation).
// The value marshals e with sorted Resource keys and no HTML escaping.
// Encode fails, wrapping ErrMalformed, when e.Validate does.
func Encode(e *Event) (key []byte, headers []Header, value []byte, err error) {
	if err := e.Validate(); err != nil {
		return nil, nil, nil, fmt.Errorf("encode event: %w", err)
	}
	ev := *e
	if ev.SCIMEvent == "" {
		ev.SCIMEvent = SCIMEventURI(ev.Type, ev.Operation)
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(&ev); err != nil {
		return nil, nil, nil, fmt.Errorf("encode event %s: %w: %w", ev.ID, ErrMalformed, err)
	}
	value = bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
	headers = []Header{
		{HeaderSpecVersion, []byte(SpecVersion)},
		{HeaderID, []byte(ev.ID)},
		{HeaderSource, []byte(ev.Source)},
		{HeaderType, []byte(ev.Type)},
		{HeaderSubject, []byte(subject(&ev))},
		{HeaderTime, []byte(ev.Time.UTC().Format(timeLayout))},
		{HeaderContentType, []byte(ContentType)},
		{HeaderTenant, []byte(ev.Tenant)},
	}
	return []byte(ev.Key()), headers, value, nil
}

func subject(e *Event) string { return e.ResourceType + "/" + e.ResourceID }

// requiredHeaders are the headers Decode insists on, in Encode's order.
var requiredHeaders = []string{
	HeaderSpecVersion, HeaderID, HeaderSource, HeaderType,
	HeaderSubject, HeaderTime, HeaderContentType, HeaderTenant,
}

// Decode is the inverse of Encode. It is strict about the envelope: every
// header Encode writes must be present exactly once (the error names a
// missing one), ce_specversion must be "1.0", content-type
// application/json, and key, ce_subject and ce_tenant must agree with the
// data. Other headers (tracing, say) are ignored, and so are unknown fields
// of the value, so that producers can add data fields before every
// consumer knows them. The value is decoded with UseNumber, so Resource
// round-trips exactly. A value without scimEvent gets
// SCIMEventURI(Type, Operation). Empty lists and an empty resource decode
// as nil. Errors wrap ErrMalformed.
func Decode(key []byte, headers []Header, value []byte) (Event, error) {
	h := make(map[string]string, len(requiredHeaders))
	for _, hd := range headers {
		if !isRequired(hd.Key) {
			continue
		}
		if _, dup := h[hd.Key]; dup {
			return Event{}, fmt.Errorf("%w: duplicate header %s", ErrMalformed, hd.Key)
		}
		h[hd.Key] = string(hd.Value)
	}
	for _, name := range requiredHeaders {
		if h[name] == "" {
			return Event{}, fmt.Errorf("%w: missing header %s", ErrMalformed, name)
		}
	}
	if v := h[HeaderSpecVersion]; v != SpecVersion {
		return Event{}, fmt.Errorf("%w: unsupported %s %q", ErrMalformed, HeaderSpecVersion, v)
	}
	if mt, _, err := mime.ParseMediaType(h[HeaderContentType]); err != nil || mt != ContentType {
		return Event{}, fmt.Errorf("%w: %s %q is not %s", ErrMalformed, HeaderContentType, h[HeaderContentType], ContentType)
	}
	t, err := time.Parse(time.RFC3339Nano, h[HeaderTime])
	if err != nil {
		return Event{}, fmt.Errorf("%w: %s: %w", ErrMalformed, HeaderTime, err)
	}

	var e Event
	if err := decodeData(value, &e); err != nil {
		return Event{}, fmt.Errorf("%w: value: %w", ErrMalformed, err)
	}
	e.ID, e.Source, e.Type, e.Time = h[HeaderID], h[HeaderSource], h[HeaderType], t.UTC()
	if e.Tenant != h[HeaderTenant] {
		return Event{}, fmt.Errorf("%w: %s %q differs from data tenant %q", ErrMalformed, HeaderTenant, h[HeaderTenant], e.Tenant)
	}
	if err := e.Validate(); err != nil {
		return Event{}, err
	}
	if s := subject(&e); h[HeaderSubject] != s {
		return Event{}, fmt.Errorf("%w: %s %q differs from data %q", ErrMalformed, HeaderSubject, h[HeaderSubject], s)
	}
	if k := e.Key(); string(key) != k {
		return Event{}, fmt.Errorf("%w: key %q differs from data %q", ErrMalformed, key, k)
	}
	if e.SCIMEvent == "" {
		e.SCIMEvent = SCIMEventURI(e.Type, e.Operation)
	}
	if len(e.Resource) == 0 {
		e.Resource = nil
	}
	if len(e.ChangedAttributes) == 0 {
		e.ChangedAttributes = nil
	}
	if len(e.MembersAdded) == 0 {
		e.MembersAdded = nil
	}
	if len(e.MembersRemoved) == 0 {
		e.MembersRemoved = nil
	}
	return e, nil
}

func isRequired(name string) bool {
	for _, r := range requiredHeaders {
		if r == name {
			return true
		}
	}
	return false
}

// decodeData decodes the event data into e as encoding/json with UseNumber
// decodes it into an Event, then insists that only whitespace follows,
// without reflection (it was a third of the cost of a replay). What
// encoding/json does, it does: keys match field names case-insensitively,
// unknown fields are skipped, null leaves a string or number as it was and
// sets a list or the resource to nil, a repeated list is decoded into the
// previous one's backing array, a repeated resource merges into the first.
func decodeData(value []byte, e *Event) error {
	r := schemas.NewJSONReader(value)
	if !r.Null() {
		err := r.Object(func(key string) error {
			switch eventField(key) {
			case "tenant":
				return r.StringInto(&e.Tenant)
			case "resourceType":
				return r.StringInto(&e.ResourceType)
			case "id":
				return r.StringInto(&e.ResourceID)
			case "externalId":
				return r.StringInto(&e.ExternalID)
			case "version":
				return r.Int64Into(&e.Version)
			case "prevVersion":
				return r.Int64Into(&e.PrevVersion)
			case "epoch":
				return r.Int64Into(&e.Epoch)
			case "changedAttributes":
				return readList(r, &e.ChangedAttributes, (*schemas.JSONReader).StringInto)
			case "resource":
				return r.ResourceInto(&e.Resource)
			case "membersAdded":
				return readList(r, &e.MembersAdded, readMember)
			case "membersRemoved":
				return readList(r, &e.MembersRemoved, readMember)
			case "requestId":
				return r.StringInto(&e.RequestID)
			case "requestDigest":
				return r.StringInto(&e.RequestDigest)
			case "operation":
				return r.StringInto(&e.Operation)
			case "scimEvent":
				return r.StringInto(&e.SCIMEvent)
			}
			return r.Skip()
		})
		if err != nil {
			return err
		}
	}
	return r.End()
}

// eventFields are the JSON names of Event's data fields.
var eventFields = []string{
	"tenant", "resourceType", "id", "externalId", "version", "prevVersion", "epoch",
	"changedAttributes", "resource", "membersAdded", "membersRemoved",
	"requestId", "requestDigest", "operation", "scimEvent",
}

// eventField returns the field name key matches, exactly or else
// case-insensitively as encoding/json matches, or "".
func eventField(key string) string { return schemas.MatchJSONField(key, eventFields) }

// readList reads an array into *p with readElem, the way encoding/json
// decodes into a slice: null sets nil; elements are decoded into *p's
// backing array (an element left alone by null keeps what it held there),
// which grows as needed; [] gives an empty slice.
func readList[T any](r *schemas.JSONReader, p *[]T, readElem func(*schemas.JSONReader, *T) error) error {
	if r.Null() {
		*p = nil
		return nil
	}
	s := *p
	i := 0
	err := r.Array(func() error {
		if i >= cap(s) {
			s = slices.Grow(s, 1)
		}
		if i >= len(s) {
			s = s[:i+1]
		}
		i++
		return readElem(r, &s[i-1])
	})
	if err != nil {
		return err
	}
	if i == 0 {
		s = []T{}
	}
	*p = s[:i]
	return nil
}

// memberFields are the JSON names of schemas.Member's fields.
var memberFields = []string{"value", "type", "display"}

// readMember reads an object into *m; null leaves *m as it was.
func readMember(r *schemas.JSONReader, m *schemas.Member) error {
	if r.Null() {
		return nil
	}
	return r.Object(func(key string) error {
		switch schemas.MatchJSONField(key, memberFields) {
		case "value":
			return r.StringInto(&m.Value)
		case "type":
			return r.StringInto(&m.Type)
		case "display":
			return r.StringInto(&m.Display)
		}
		return r.Skip()
	})
}
