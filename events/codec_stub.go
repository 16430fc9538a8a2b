package events

// Header is a record header (Kafka header, or its embedded-log equivalent).
type Header struct {
	Key   string
	Value []byte
}

// Encode returns the record of e in CloudEvents 1.0 Kafka binary content
// mode: key "<tenant>/<ResourceType>/<id>", headers ce_specversion, ce_id,
// ce_source, ce_type, ce_subject, ce_time, content-type, ce_tenant, and the
// JSON event data as value. Deterministic for equal events.
func Encode(e *Event) (key []byte, headers []Header, value []byte, err error) {
	panic("unimplemented")
}

// Decode is the inverse of Encode.
func Decode(key []byte, headers []Header, value []byte) (Event, error) { panic("unimplemented") }
