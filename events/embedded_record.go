package events

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"slices"
)

// On disk, a segment is a sequence of frames, one per record:
//
//	[length uint32 BE][CRC-32C uint32 BE][payload: length bytes]
//
// and the payload holds exactly what Encode produced:
//
//	uvarint len(key), key,
//	uvarint #headers, then per header uvarint len(name), name, uvarint len(value), value,
//	uvarint len(value), value
//
// The CRC (Castagnoli) covers the payload. Offsets are implicit: the
// segment's file name is the offset of its first record, and records follow
// densely.
const (
	frameHeaderLen  = 8
	maxFramePayload = 64 << 20 // a record larger than this is refused
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// errTorn and errBadFrame classify what ends a scan before the end of a
// segment: a record cut short (a crash mid-write) or bytes that are not a
// record (garbage, a CRC mismatch).
var (
	errTorn     = errors.New("torn record")
	errBadFrame = errors.New("bad frame")
)

// appendFrame appends the frame of one encoded record to buf.
func appendFrame(buf, key []byte, hs []Header, value []byte) ([]byte, error) {
	n := frameHeaderLen + 3*binary.MaxVarintLen64 + len(key) + len(value)
	for _, h := range hs {
		n += 2*binary.MaxVarintLen64 + len(h.Key) + len(h.Value)
	}
	buf = slices.Grow(buf, n) // once: n bounds the frame's size
	start := len(buf)
	buf = append(buf, make([]byte, frameHeaderLen)...)
	buf = binary.AppendUvarint(buf, uint64(len(key)))
	buf = append(buf, key...)
	buf = binary.AppendUvarint(buf, uint64(len(hs)))
	for _, h := range hs {
		buf = binary.AppendUvarint(buf, uint64(len(h.Key)))
		buf = append(buf, h.Key...)
		buf = binary.AppendUvarint(buf, uint64(len(h.Value)))
		buf = append(buf, h.Value...)
	}
	buf = binary.AppendUvarint(buf, uint64(len(value)))
	buf = append(buf, value...)
	payload := buf[start+frameHeaderLen:]
	if len(payload) > maxFramePayload {
		return buf[:start], fmt.Errorf("%w: record of %d bytes exceeds %d", ErrMalformed, len(payload), maxFramePayload)
	}
	binary.BigEndian.PutUint32(buf[start:], uint32(len(payload)))
	binary.BigEndian.PutUint32(buf[start+4:], crc32.Checksum(payload, castagnoli))
	return buf, nil
}

// readFrame reads the next frame from r into buf (reused when large
// enough) and returns its payload. At a clean end it returns io.EOF; a
// frame cut short gives errTorn, a bad length or CRC errBadFrame.
func readFrame(r *bufio.Reader, buf []byte) ([]byte, error) {
	var hdr [frameHeaderLen]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		if err == io.ErrUnexpectedEOF {
			return nil, errTorn
		}
		return nil, err
	}
	n := binary.BigEndian.Uint32(hdr[:4])
	if n == 0 || n > maxFramePayload {
		return nil, fmt.Errorf("%w: length %d", errBadFrame, n)
	}
	if cap(buf) < int(n) {
		buf = make([]byte, n)
	}
	buf = buf[:n]
	if _, err := io.ReadFull(r, buf); err != nil {
		if err == io.ErrUnexpectedEOF || err == io.EOF {
			return nil, errTorn
		}
		return nil, err
	}
	if got, want := crc32.Checksum(buf, castagnoli), binary.BigEndian.Uint32(hdr[4:]); got != want {
		return nil, fmt.Errorf("%w: CRC-32C %08x, want %08x", errBadFrame, got, want)
	}
	return buf, nil
}

// decodePayload splits a frame payload into key, headers and value. The
// slices alias p.
func decodePayload(p []byte) (key []byte, hs []Header, value []byte, err error) {
	d := payloadDecoder{p: p}
	key = d.bytes()
	nh := d.uvarint()
	if nh > uint64(len(p)) {
		d.err = errBadFrame
	}
	if d.err == nil {
		hs = make([]Header, 0, min(nh, 16))
	}
	for i := uint64(0); i < nh && d.err == nil; i++ {
		k := d.bytes()
		v := d.bytes()
		hs = append(hs, Header{Key: headerName(k), Value: v})
	}
	value = d.bytes()
	if d.err == nil && len(d.p) != 0 {
		d.err = fmt.Errorf("%w: %d bytes after the value", errBadFrame, len(d.p))
	}
	if d.err != nil {
		return nil, nil, nil, fmt.Errorf("%w: payload: %w", ErrCorrupt, d.err)
	}
	return key, hs, value, nil
}

// headerName returns k as a string, without a copy for the names Encode
// writes (EncodeClaim writes some of them).
func headerName(k []byte) string {
	for _, name := range requiredHeaders {
		if string(k) == name {
			return name
		}
	}
	return string(k)
}

type payloadDecoder struct {
	p   []byte
	err error
}

func (d *payloadDecoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.p)
	var min [binary.MaxVarintLen64]byte
	if n <= 0 || n != len(binary.AppendUvarint(min[:0], v)) {
		d.err = fmt.Errorf("%w: bad varint", errBadFrame) // or not minimal: one payload, one encoding
		return 0
	}
	d.p = d.p[n:]
	return v
}

func (d *payloadDecoder) bytes() []byte {
	n := d.uvarint()
	if d.err != nil {
		return nil
	}
	if n > uint64(len(d.p)) {
		d.err = fmt.Errorf("%w: length %d beyond the payload", errBadFrame, n)
		return nil
	}
	b := d.p[:n:n]
	d.p = d.p[n:]
	return b
}
