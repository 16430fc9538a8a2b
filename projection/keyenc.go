package projection

import (
	"encoding/binary"
	"math"
	"strings"
	"time"

	"github.com/scim-bridge/scim-bridge/schemas"
)

// The encoding of key components: strings and integers that sort as their
// values do, time keys, and the folded form of case-insensitive values. The
// layout that puts them together is in keys.go.

// appendStr appends s as one order-preserving key component: 0x00 is escaped
// as 0x00 0xFF and the component ends with 0x00 0x01. Byte order of encoded
// components is the byte order of the strings, and a component is never a
// prefix of a different one, so "a" and "ab" do not collide.
func appendStr(b []byte, s string) []byte {
	b = appendStrPrefix(b, s)
	return append(b, 0x00, 0x01)
}

// appendStrPrefix appends s escaped but unterminated: the key prefix of every
// component that starts with s (for `sw`).
func appendStrPrefix(b []byte, s string) []byte {
	if strings.IndexByte(s, 0x00) < 0 {
		return append(b, s...) // nothing to escape: one copy
	}
	for i := 0; i < len(s); i++ {
		if s[i] == 0x00 {
			b = append(b, 0x00, 0xFF)
			continue
		}
		b = append(b, s[i])
	}
	return b
}

// readStr decodes one component written by appendStr and returns the rest.
func readStr(b []byte) (s string, rest []byte, ok bool) {
	var sb strings.Builder
	for i := 0; i < len(b); i++ {
		if b[i] != 0x00 {
			sb.WriteByte(b[i])
			continue
		}
		if i+1 >= len(b) {
			return "", nil, false
		}
		switch b[i+1] {
		case 0x01:
			return sb.String(), b[i+2:], true
		case 0xFF:
			sb.WriteByte(0x00)
			i++
		default:
			return "", nil, false
		}
	}
	return "", nil, false
}

// lastStr decodes the last component of key after skipping prefix, which
// must end where a component starts; it is how index keys yield their id.
func lastStr(key, prefix []byte) (string, bool) {
	if len(key) < len(prefix) {
		return "", false
	}
	s, rest, ok := readStr(key[len(prefix):])
	if !ok || len(rest) != 0 {
		return "", false
	}
	return s, true
}

func appendU32(b []byte, v uint32) []byte { return binary.BigEndian.AppendUint32(b, v) }
func appendI64(b []byte, v int64) []byte  { return binary.BigEndian.AppendUint64(b, uint64(v)) }

// Time keys are 8 bytes ordered like instants: Unix nanoseconds with the
// sign bit flipped. 64-bit nanoseconds span 1677-09-21 to 2262-04-11, SCIM
// dateTimes years 0001 to 9999 (and UnixNano is undefined outside its
// span), so an instant at or beyond either end saturates to the first
// (all 0x00) or last (all 0xFF) key, which no instant strictly inside
// uses. The order of instants inside is kept exactly, and everything
// outside sorts beyond it; only instants outside on the same side share a
// key, and timeRange says when a bound falls there.
var (
	minTimeKey = time.Unix(0, math.MinInt64) // and earlier: key 0x00…00
	maxTimeKey = time.Unix(0, math.MaxInt64) // and later: key 0xFF…FF
)

// appendTime appends the time key of t.
func appendTime(b []byte, t time.Time) []byte {
	switch {
	case !t.After(minTimeKey):
		return binary.BigEndian.AppendUint64(b, 0)
	case !t.Before(maxTimeKey):
		return binary.BigEndian.AppendUint64(b, math.MaxUint64)
	}
	return binary.BigEndian.AppendUint64(b, uint64(t.UnixNano())^(1<<63))
}

// ownTimeKey reports whether t has a time key no other instant shares.
func ownTimeKey(t time.Time) bool { return t.After(minTimeKey) && t.Before(maxTimeKey) }

// timeRange returns the time keys of the instants s with "s op t" for op
// gt, ge, lt or le (ok false for others): from inclusive (nil: from the
// first key), to exclusive (nil: past the last). exact reports that the
// range holds just those instants; when a bound falls where keys saturate,
// it holds them among others, and the caller must compare each.
func timeRange(op schemas.CompareOp, t time.Time) (from, to []byte, exact, ok bool) {
	switch op {
	case schemas.OpGt: // s > t  ⟺  s ≥ t+1ns
		from, exact = lowerTimeKey(t.Add(time.Nanosecond))
	case schemas.OpGe:
		from, exact = lowerTimeKey(t)
	case schemas.OpLt:
		to, exact = upperTimeKey(t)
	case schemas.OpLe: // s ≤ t  ⟺  s < t+1ns
		to, exact = upperTimeKey(t.Add(time.Nanosecond))
	default:
		return nil, nil, false, false
	}
	return from, to, exact, true
}

// lowerTimeKey returns the first key an instant s ≥ w can have.
func lowerTimeKey(w time.Time) ([]byte, bool) {
	switch {
	case ownTimeKey(w):
		return appendTime(nil, w), true
	case w.After(minTimeKey): // beyond the last own key: the saturated ones
		return appendTime(nil, maxTimeKey), false
	}
	return nil, false // before the first own key: all
}

// upperTimeKey returns the key before which every instant s < u lies.
func upperTimeKey(u time.Time) ([]byte, bool) {
	switch {
	case ownTimeKey(u):
		return appendTime(nil, u), true
	case u.After(minTimeKey): // beyond the last own key: all
		return nil, false
	}
	return binary.BigEndian.AppendUint64(nil, 1), false // just the saturated first key
}

func decodeI64(b []byte) int64 {
	if len(b) != 8 {
		return 0
	}
	return int64(binary.BigEndian.Uint64(b))
}
