package projection

import (
	"encoding/json"
	"strconv"
	"time"

	"github.com/scim-bridge/scim-bridge/schemas/scimjson"
)

// encodeRecord returns the JSON of r, byte for byte what json.Marshal(r)
// writes (sorted map keys, HTML-escaped strings), with the resource written
// by scimjson.Append, without reflection. Applying writes one record per
// event, and reflection was most of its cost.
func encodeRecord(r *record) ([]byte, error) {
	b, _, err := encodeRecordCut(r)
	return b, err
}

// encodeRecordCut is encodeRecord, also returning where the fields that
// only applying and the bridge read (eventId, requestDigest) start, so
// that b[:cut] followed by '}' is the record without them: what a
// userName's covering key holds (see coverValue).
func encodeRecordCut(r *record) (b []byte, cut int, err error) {
	if !jsonTime(r.Created) || !jsonTime(r.LastModified) {
		b, err = json.Marshal(r) // encoding/json reports the error
		return b, len(b), err
	}
	b = make([]byte, 0, 512)
	b = append(b, `{"resource":`...)
	b, err = scimjson.Append(b, map[string]any(r.Resource))
	if err != nil {
		return nil, 0, err
	}
	b = append(b, `,"version":`...)
	b = strconv.AppendInt(b, r.Version, 10)
	b = append(b, `,"created":"`...)
	b = r.Created.AppendFormat(b, time.RFC3339Nano)
	b = append(b, `","lastModified":"`...)
	b = r.LastModified.AppendFormat(b, time.RFC3339Nano)
	b = append(b, '"')
	cut = len(b)
	if r.EventID != "" {
		b = append(b, `,"eventId":`...)
		b = scimjson.AppendString(b, r.EventID)
	}
	if r.RequestDigest != "" {
		b = append(b, `,"requestDigest":`...)
		b = scimjson.AppendString(b, r.RequestDigest)
	}
	return append(b, '}'), cut, nil
}

// jsonTime reports whether time.Time.MarshalJSON accepts t (a four-digit
// year), which makes it RFC 3339 with nanoseconds, as AppendFormat writes.
func jsonTime(t time.Time) bool {
	y := t.Year()
	return y >= 0 && y <= 9999
}
