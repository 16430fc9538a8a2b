package events

// MaxEventBytes bounds one encoded event record, key, headers and value
// together, as the bridge appends it. Kafka refuses a record batch over
// the topic's max.message.bytes (1 MiB plus 12 bytes by default) and the
// record travels in a batch with some framing, so this stays below, with
// room to spare; the embedded log takes up to 64 MiB.
const MaxEventBytes = 1_000_000

// EncodedSize returns the size of e's record as Encode makes it: key,
// header keys and values, and value. It fails as Encode does.
func EncodedSize(e *Event) (int, error) {
	key, headers, value, err := Encode(e)
	if err != nil {
		return 0, err
	}
	n := len(key) + len(value)
	for _, h := range headers {
		n += len(h.Key) + len(h.Value)
	}
	return n, nil
}
