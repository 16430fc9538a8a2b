package events

import (
	"fmt"
	"sync"
)

// MaxEventBytes bounds one encoded event record, key, headers and value
// together, as the bridge appends it. Kafka refuses a record batch over
// the topic's max.message.bytes (1 MiB plus 12 bytes by default) and the
// record travels in a batch with some framing, so this stays below, with
// room to spare; the embedded log takes up to 64 MiB.
const MaxEventBytes = 1_000_000

// EncodedSize returns the size of e's record as Encode makes it: key,
// header keys and values, and value. It fails as Encode does. It encodes
// only the value, into a buffer kept for the next call.
func EncodedSize(e *Event) (int, error) {
	if err := e.Validate(); err != nil {
		return 0, fmt.Errorf("encode event: %w", err)
	}
	scimEvent := e.SCIMEvent
	if scimEvent == "" {
		scimEvent = SCIMEventURI(e.Type, e.Operation)
	}
	bp := sizeBuffers.Get().(*[]byte)
	defer sizeBuffers.Put(bp)
	var err error
	*bp, err = encodeData((*bp)[:0], e, scimEvent)
	if err != nil {
		return 0, fmt.Errorf("encode event %s: %w: %w", e.ID, ErrMalformed, err)
	}
	subject := len(e.ResourceType) + 1 + len(e.ResourceID)
	n := len(*bp) + len(e.Tenant) + 1 + subject // value, key
	for _, name := range requiredHeaders {
		n += len(name)
	}
	n += len(SpecVersion) + len(e.ID) + len(e.Source) + len(e.Type) + subject + len(timeLayout) + len(ContentType) + len(e.Tenant)
	if cap(*bp) > 64<<10 {
		*bp = nil // do not keep a large resource's buffer
	}
	return n, nil
}

var sizeBuffers = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}
