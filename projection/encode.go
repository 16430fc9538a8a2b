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
// event, and reflection was most of its cost. A resource whose text is
// known (r.resourceJSON) and already what Append writes is copied instead
// of written again.
func encodeRecord(r *record) ([]byte, error) {
	v, _, err := encodeRecordAt(r)
	return v, err
}

// encodeRecordAt is encodeRecord that also returns where the resource's
// JSON ends in v: it is v[len(recordStart):end]. end is 0 when v is
// encoding/json's.
func encodeRecordAt(r *record) (v []byte, end int, err error) {
	if !jsonTime(r.Created) || !jsonTime(r.LastModified) {
		v, err = json.Marshal(r) // encoding/json reports the error
		return v, 0, err
	}
	b := make([]byte, 0, 512)
	b = append(b, recordStart...)
	if r.resourceJSON != "" && scimjson.Canonical(r.resourceJSON) {
		// What Append would write: a replay's records are mostly
		// their events' resources, already in this form.
		b = append(b, r.resourceJSON...)
	} else {
		var err error
		if b, err = scimjson.Append(b, map[string]any(r.Resource)); err != nil {
			return nil, 0, err
		}
	}
	end = len(b)
	b = append(b, `,"version":`...)
	b = strconv.AppendInt(b, r.Version, 10)
	b = append(b, `,"created":"`...)
	b = r.Created.AppendFormat(b, time.RFC3339Nano)
	b = append(b, `","lastModified":"`...)
	b = r.LastModified.AppendFormat(b, time.RFC3339Nano)
	b = append(b, '"')
	if r.EventID != "" {
		b = append(b, `,"eventId":`...)
		b = scimjson.AppendString(b, r.EventID)
	}
	if r.RequestDigest != "" {
		b = append(b, `,"requestDigest":`...)
		b = scimjson.AppendString(b, r.RequestDigest)
	}
	return append(b, '}'), end, nil
}

// recordStart is how encodeRecordAt's records begin.
const recordStart = `{"resource":`

// jsonTime reports whether time.Time.MarshalJSON accepts t (a four-digit
// year), which makes it RFC 3339 with nanoseconds, as AppendFormat writes.
func jsonTime(t time.Time) bool {
	y := t.Year()
	return y >= 0 && y <= 9999
}
