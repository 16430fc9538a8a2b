package events

import (
	"errors"
	"fmt"
	"mime"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/scim-bridge/scim-bridge/schemas"
	"github.com/scim-bridge/scim-bridge/schemas/scimjson"
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
	scimEvent := e.SCIMEvent
	if scimEvent == "" {
		scimEvent = SCIMEventURI(e.Type, e.Operation)
	}
	// The value, the key and the headers' values share one buffer, sliced
	// once it is complete (full slice expressions: appending to one never
	// overwrites another).
	buf := make([]byte, 0, 1024)
	buf, err = encodeData(buf, e, scimEvent)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("encode event %s: %w: %w", e.ID, ErrMalformed, err)
	}
	var ends [2 + len(requiredHeaders)]int
	ends[0] = len(buf)
	buf = append(buf, e.Tenant...)
	buf = append(buf, '/')
	buf = append(buf, e.ResourceType...)
	buf = append(buf, '/')
	buf = append(buf, e.ResourceID...)
	ends[1] = len(buf)
	// The header values in requiredHeaders' order.
	buf = append(buf, SpecVersion...)
	ends[2] = len(buf)
	buf = append(buf, e.ID...)
	ends[3] = len(buf)
	buf = append(buf, e.Source...)
	ends[4] = len(buf)
	buf = append(buf, e.Type...)
	ends[5] = len(buf)
	buf = append(buf, e.ResourceType...)
	buf = append(buf, '/')
	buf = append(buf, e.ResourceID...)
	ends[6] = len(buf)
	buf = e.Time.UTC().AppendFormat(buf, timeLayout)
	ends[7] = len(buf)
	buf = append(buf, ContentType...)
	ends[8] = len(buf)
	buf = append(buf, e.Tenant...)
	ends[9] = len(buf)

	value = buf[:ends[0]:ends[0]]
	key = buf[ends[0]:ends[1]:ends[1]]
	headers = make([]Header, len(requiredHeaders))
	for i, name := range requiredHeaders {
		headers[i] = Header{name, buf[ends[i+1]:ends[i+2]:ends[i+2]]}
	}
	return key, headers, value, nil
}

// encodeData appends the JSON of e's data to dst with scimEvent as its
// scimEvent: byte for byte what a json.Encoder with SetEscapeHTML(false)
// writes for the Event (fields in declaration order, omitempty ones left
// out when empty, the resource's keys sorted), without its newline and
// without reflection, which was most of the cost of encoding an event.
func encodeData(dst []byte, e *Event, scimEvent string) ([]byte, error) {
	str := scimjson.AppendStringNoHTML[string]
	dst = append(dst, `{"tenant":`...)
	dst = str(dst, e.Tenant)
	dst = append(dst, `,"resourceType":`...)
	dst = str(dst, e.ResourceType)
	dst = append(dst, `,"id":`...)
	dst = str(dst, e.ResourceID)
	if e.ExternalID != "" {
		dst = append(dst, `,"externalId":`...)
		dst = str(dst, e.ExternalID)
	}
	dst = append(dst, `,"version":`...)
	dst = strconv.AppendInt(dst, e.Version, 10)
	dst = append(dst, `,"prevVersion":`...)
	dst = strconv.AppendInt(dst, e.PrevVersion, 10)
	if e.Epoch != 0 {
		dst = append(dst, `,"epoch":`...)
		dst = strconv.AppendInt(dst, e.Epoch, 10)
	}
	if len(e.ChangedAttributes) > 0 {
		dst = append(dst, `,"changedAttributes":[`...)
		for i, a := range e.ChangedAttributes {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = str(dst, a)
		}
		dst = append(dst, ']')
	}
	if len(e.Resource) > 0 {
		dst = append(dst, `,"resource":`...)
		w := dataWriters.Get().(*scimjson.Writer)
		var err error
		dst, err = w.Append(dst, map[string]any(e.Resource))
		dataWriters.Put(w)
		if err != nil {
			return dst, err
		}
	}
	if len(e.MembersAdded) > 0 {
		dst = append(dst, `,"membersAdded":`...)
		dst = appendMembers(dst, e.MembersAdded)
	}
	if len(e.MembersRemoved) > 0 {
		dst = append(dst, `,"membersRemoved":`...)
		dst = appendMembers(dst, e.MembersRemoved)
	}
	if e.RequestID != "" {
		dst = append(dst, `,"requestId":`...)
		dst = str(dst, e.RequestID)
	}
	if e.RequestDigest != "" {
		dst = append(dst, `,"requestDigest":`...)
		dst = str(dst, e.RequestDigest)
	}
	if e.Operation != "" {
		dst = append(dst, `,"operation":`...)
		dst = str(dst, e.Operation)
	}
	dst = append(dst, `,"scimEvent":`...)
	dst = str(dst, scimEvent)
	return append(dst, '}'), nil
}

// dataWriters keeps Writers, whose key buffers have grown, between events.
var dataWriters = sync.Pool{New: func() any { return &scimjson.Writer{NoHTMLEscape: true} }}

// appendMembers appends ms as encoding/json writes []schemas.Member.
func appendMembers(dst []byte, ms []schemas.Member) []byte {
	dst = append(dst, '[')
	for i, m := range ms {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, `{"value":`...)
		dst = scimjson.AppendStringNoHTML(dst, m.Value)
		if m.Type != "" {
			dst = append(dst, `,"type":`...)
			dst = scimjson.AppendStringNoHTML(dst, m.Type)
		}
		if m.Display != "" {
			dst = append(dst, `,"display":`...)
			dst = scimjson.AppendStringNoHTML(dst, m.Display)
		}
		dst = append(dst, '}')
	}
	return append(dst, ']')
}

func subject(e *Event) string { return e.ResourceType + "/" + e.ResourceID }

// requiredHeaders are the headers Decode insists on, in Encode's order.
var requiredHeaders = [...]string{
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
	e, _, err := decode(key, headers, value)
	return e, err
}

// decode is Decode, also returning the JSON text of the resource (see
// Record.ResourceJSON).
func decode(key []byte, headers []Header, value []byte) (e Event, resourceJSON string, err error) {
	// The required headers' values by their index in requiredHeaders; seen
	// tells a repeated header, even an empty one. They are compared as
	// bytes and copied only into the strings the event keeps: a replay
	// decodes every record.
	var (
		h    [len(requiredHeaders)][]byte
		seen [len(requiredHeaders)]bool
	)
	for _, hd := range headers {
		i := requiredIndex(hd.Key)
		if i < 0 {
			continue
		}
		if seen[i] {
			return Event{}, "", fmt.Errorf("%w: duplicate header %s", ErrMalformed, hd.Key)
		}
		seen[i] = true
		h[i] = hd.Value
	}
	for i, name := range requiredHeaders {
		if len(h[i]) == 0 {
			return Event{}, "", fmt.Errorf("%w: missing header %s", ErrMalformed, name)
		}
	}
	const (
		iSpecVersion = iota
		iID
		iSource
		iType
		iSubject
		iTime
		iContentType
		iTenant
	)
	if v := h[iSpecVersion]; string(v) != SpecVersion {
		return Event{}, "", fmt.Errorf("%w: unsupported %s %q", ErrMalformed, HeaderSpecVersion, v)
	}
	if ct := h[iContentType]; string(ct) != ContentType { // what Encode writes needs no parsing
		if mt, _, err := mime.ParseMediaType(string(ct)); err != nil || mt != ContentType {
			return Event{}, "", fmt.Errorf("%w: %s %q is not %s", ErrMalformed, HeaderContentType, ct, ContentType)
		}
	}
	t, ok := parseTimeLayout(h[iTime])
	if !ok {
		var err error
		if t, err = time.Parse(time.RFC3339Nano, string(h[iTime])); err != nil {
			return Event{}, "", fmt.Errorf("%w: %s: %w", ErrMalformed, HeaderTime, err)
		}
	}

	if resourceJSON, err = decodeDataText(value, &e); err != nil {
		return Event{}, "", fmt.Errorf("%w: value: %w", ErrMalformed, err)
	}
	e.ID, e.Source = joinedStrings(h[iID], h[iSource])
	e.Type, e.Time = eventType(h[iType]), t.UTC()
	if e.Tenant != string(h[iTenant]) {
		return Event{}, "", fmt.Errorf("%w: %s %q differs from data tenant %q", ErrMalformed, HeaderTenant, h[iTenant], e.Tenant)
	}
	if err := e.Validate(); err != nil {
		return Event{}, "", err
	}
	if sub := h[iSubject]; !isJoined(sub, "", e.ResourceType, e.ResourceID) {
		return Event{}, "", fmt.Errorf("%w: %s %q differs from data %q", ErrMalformed, HeaderSubject, sub, subject(&e))
	}
	if !isJoined(key, e.Tenant, e.ResourceType, e.ResourceID) {
		return Event{}, "", fmt.Errorf("%w: key %q differs from data %q", ErrMalformed, key, e.Key())
	}
	if e.SCIMEvent == "" {
		e.SCIMEvent = SCIMEventURI(e.Type, e.Operation)
	}
	if len(e.Resource) == 0 {
		e.Resource, resourceJSON = nil, ""
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
	return e, resourceJSON, nil
}

// joinedStrings returns a and b as strings sharing one allocation.
func joinedStrings(a, b []byte) (string, string) {
	var buf [128]byte
	s := string(append(append(buf[:0], a...), b...))
	return s[:len(a)], s[len(a):]
}

// eventType returns typ as a string, without a copy for the types of this
// contract.
func eventType(typ []byte) string {
	switch string(typ) {
	case UserCreated:
		return UserCreated
	case UserUpdated:
		return UserUpdated
	case UserDeactivated:
		return UserDeactivated
	case UserReactivated:
		return UserReactivated
	case UserDeleted:
		return UserDeleted
	case GroupCreated:
		return GroupCreated
	case GroupUpdated:
		return GroupUpdated
	case GroupDeleted:
		return GroupDeleted
	case GroupMembersAdded:
		return GroupMembersAdded
	case GroupMembersRemoved:
		return GroupMembersRemoved
	}
	return string(typ)
}

// parseTimeLayout parses b when it is in timeLayout, as Encode writes
// ce_time, to what time.Parse(time.RFC3339Nano, b) returns for it, without
// converting b to a string; ok is false for anything else (a value in
// another RFC 3339 form, or out of range), which time.Parse then reads or
// refuses.
func parseTimeLayout(b []byte) (t time.Time, ok bool) {
	// 2006-01-02T15:04:05.000000000Z
	if len(b) != len(timeLayout) || b[4] != '-' || b[7] != '-' || b[10] != 'T' || b[13] != ':' ||
		b[16] != ':' || b[19] != '.' || b[29] != 'Z' {
		return time.Time{}, false
	}
	num := func(from, to int) int {
		n := 0
		for _, c := range b[from:to] {
			if c < '0' || c > '9' {
				return -1
			}
			n = n*10 + int(c-'0')
		}
		return n
	}
	year, month, day := num(0, 4), num(5, 7), num(8, 10)
	hour, minute, sec, nsec := num(11, 13), num(14, 16), num(17, 19), num(20, 29)
	if year < 0 || month < 1 || month > 12 || day < 1 || hour < 0 || hour > 23 || minute < 0 || minute > 59 ||
		sec < 0 || sec > 59 || nsec < 0 {
		return time.Time{}, false
	}
	// The last day of the month: the day before the first of the next.
	if day > time.Date(year, time.Month(month)+1, 0, 0, 0, 0, 0, time.UTC).Day() {
		return time.Time{}, false
	}
	return time.Date(year, time.Month(month), day, hour, minute, sec, nsec, time.UTC), true
}

// isJoined reports whether s is tenant+"/"+typ+"/"+id (typ+"/"+id for an
// empty tenant), without building that string.
func isJoined[S string | []byte](s S, tenant, typ, id string) bool {
	if tenant != "" {
		if len(s) <= len(tenant) || string(s[:len(tenant)]) != tenant || s[len(tenant)] != '/' {
			return false
		}
		s = s[len(tenant)+1:]
	}
	return len(s) == len(typ)+1+len(id) && string(s[:len(typ)]) == typ && s[len(typ)] == '/' && string(s[len(typ)+1:]) == id
}

// requiredIndex returns the index of name in requiredHeaders, or -1.
func requiredIndex(name string) int {
	for i, r := range requiredHeaders {
		if r == name {
			return i
		}
	}
	return -1
}

// decodeData decodes the event data into e as encoding/json with UseNumber
// decodes it into an Event, then insists that only whitespace follows,
// without reflection (it was a third of the cost of a replay). What
// encoding/json does, it does: keys match field names case-insensitively,
// unknown fields are skipped, null leaves a string or number as it was and
// sets a list or the resource to nil, a repeated list is decoded into the
// previous one's backing array, a repeated resource merges into the first.
func decodeData(value []byte, e *Event) error {
	_, err := decodeDataText(value, e)
	return err
}

// decodeDataText is decodeData, also returning the text of the resource
// when it is one object named once (else "").
func decodeDataText(value []byte, e *Event) (resourceJSON string, err error) {
	r := dataReaders.Get().(*scimjson.Reader)
	r.Reset(value)
	defer func() {
		r.Reset(nil) // keep nothing of value
		dataReaders.Put(r)
	}()
	resources := 0
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
				return readList(r, &e.ChangedAttributes, (*scimjson.Reader).StringInto)
			case "resource":
				resources++
				object := r.Peek() == '{' // past any whitespace
				start := r.Offset()
				if !object || resources > 1 {
					resourceJSON = ""
					return scimjson.ObjectInto(r, &e.Resource)
				}
				if err := scimjson.ObjectInto(r, &e.Resource); err != nil {
					return err
				}
				resourceJSON = r.Text(start, r.Offset())
				return nil
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
			return "", err
		}
	}
	return resourceJSON, r.End()
}

// dataReaders keeps Readers, whose scratch has grown, between events.
var dataReaders = sync.Pool{New: func() any { return scimjson.NewReader(nil) }}

// eventFields are the JSON names of Event's data fields.
var eventFields = []string{
	"tenant", "resourceType", "id", "externalId", "version", "prevVersion", "epoch",
	"changedAttributes", "resource", "membersAdded", "membersRemoved",
	"requestId", "requestDigest", "operation", "scimEvent",
}

// eventField returns the field name key matches, exactly or else
// case-insensitively as encoding/json matches, or "".
func eventField(key string) string { return scimjson.MatchField(key, eventFields) }

// firstListCap is the capacity readList gives a list when it first
// grows one: the changed attributes of a typical write fit.
const firstListCap = 8

// readList reads an array into *p with readElem, the way encoding/json
// decodes into a slice: null sets nil; elements are decoded into *p's
// backing array (an element left alone by null keeps what it held there),
// which grows as needed; [] gives an empty slice.
func readList[T any](r *scimjson.Reader, p *[]T, readElem func(*scimjson.Reader, *T) error) error {
	if r.Null() {
		*p = nil
		return nil
	}
	s := *p
	i := 0
	err := r.Array(func() error {
		if i >= cap(s) {
			// Room for a first few at once (a write's changed
			// attributes: one allocation, not one per doubling from
			// one), then append's growth.
			s = slices.Grow(s, max(1, firstListCap-i))
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
func readMember(r *scimjson.Reader, m *schemas.Member) error {
	if r.Null() {
		return nil
	}
	return r.Object(func(key string) error {
		switch scimjson.MatchField(key, memberFields) {
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
