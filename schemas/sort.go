package schemas

import (
	"encoding/binary"
	"encoding/json"
	"math"
	"strconv"
	"strings"
)

// Sort key tags: every present value sorts before a missing one.
const (
	sortPresent byte = 0x01
	sortMissing byte = 0x02
)

// SortKey returns a byte string that orders resources by the attribute at p
// as RFC 7644 §3.4.2.3 asks: compare the keys of two resources with
// bytes.Compare. Ordering is by the attribute's type: strings case-folded
// unless caseExact (Unicode simple lower-casing), integers and decimals
// numerically, dateTime by instant, booleans false before true, binary and
// references by their bytes. For a multi-valued attribute the primary value
// is used, or else the first (RFC 7644 §3.4.2.3); a multi-valued complex
// attribute without a sub-attribute sorts by its "value" sub-attribute.
// Resources without a value, and paths the resource type does not define,
// get a key greater than every present value, so they sort last in
// ascending order (a descending sort reverses the comparison).
func (rt *ResourceType) SortKey(r Resource, p AttrPath) []byte {
	a, canon, ok := rt.Lookup(p)
	if !ok {
		return []byte{sortMissing}
	}
	top := a
	if canon.Sub != "" {
		top, _, _ = rt.Lookup(AttrPath{URN: canon.URN, Name: canon.Name})
	}
	var v any
	if canon.URN == "" {
		v = r[canon.Name]
	} else if ext, ok := r[canon.URN].(map[string]any); ok {
		v = ext[canon.Name]
	}
	if arr, ok := v.([]any); ok {
		v = primaryOrFirst(arr)
	}
	sub := canon.Sub
	if sub == "" && top.Type == TypeComplex {
		sub = "value"
		if a = findSubAttr(top, sub); a == nil {
			return []byte{sortMissing}
		}
	}
	if sub != "" {
		m, _ := v.(map[string]any)
		v = m[sub]
	}
	return appendSortValue(a, v)
}

func primaryOrFirst(arr []any) any {
	for _, el := range arr {
		if m, ok := el.(map[string]any); ok {
			if p, _ := m["primary"].(bool); p {
				return el
			}
		}
	}
	if len(arr) == 0 {
		return nil
	}
	return arr[0]
}

func appendSortValue(a *Attribute, v any) []byte {
	missing := []byte{sortMissing}
	switch a.Type {
	case TypeBoolean:
		b, ok := v.(bool)
		if !ok {
			return missing
		}
		if b {
			return []byte{sortPresent, 1}
		}
		return []byte{sortPresent, 0}
	case TypeInteger, TypeDecimal:
		f, ok := sortNumber(v)
		if !ok {
			return missing
		}
		return append([]byte{sortPresent}, orderedFloat(f)...)
	case TypeDateTime:
		s, ok := v.(string)
		if !ok {
			return missing
		}
		t, ok := parseXSDDateTime(s)
		if !ok {
			return missing
		}
		key := make([]byte, 1, 13)
		key[0] = sortPresent
		key = binary.BigEndian.AppendUint64(key, uint64(t.Unix())^(1<<63))
		return binary.BigEndian.AppendUint32(key, uint32(t.Nanosecond()))
	case TypeComplex:
		return missing
	}
	s, ok := v.(string)
	if !ok {
		return missing
	}
	if !a.CaseExact {
		s = strings.ToLower(s)
	}
	return append([]byte{sortPresent}, s...)
}

func sortNumber(v any) (float64, bool) {
	switch n := v.(type) {
	case json.Number:
		f, err := strconv.ParseFloat(string(n), 64)
		return f, err == nil
	case float64:
		return n, true
	case int:
		return float64(n), true
	case int64:
		return float64(n), true
	}
	return 0, false
}

// orderedFloat encodes f so that bytes.Compare orders encodings as the
// numbers: flip the sign bit of non-negative values, all bits of negative
// ones.
func orderedFloat(f float64) []byte {
	if f == 0 {
		f = 0 // -0 sorts with 0
	}
	u := math.Float64bits(f)
	if u&(1<<63) != 0 {
		u = ^u
	} else {
		u |= 1 << 63
	}
	return binary.BigEndian.AppendUint64(nil, u)
}
