package scimhttp

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/scim-bridge/scim-bridge/schemas"
)

// encode runs the encoder on v as the handlers do: from the pool, back to it.
func encode(v any) ([]byte, error) {
	e := getEncoder()
	defer putEncoder(e)
	e.value(v)
	return bytes.Clone(e.buf), e.err
}

// checkEncode fails unless the encoder and encoding/json.Marshal agree on
// v: the same bytes, or both an error. It reports whether there were bytes
// to compare.
func checkEncode(t *testing.T, v any) bool {
	t.Helper()
	want, wantErr := json.Marshal(v)
	got, err := encode(v)
	switch {
	case (err != nil) != (wantErr != nil):
		t.Fatalf("encode(%#v) error = %v, json.Marshal error = %v", v, err, wantErr)
	case wantErr != nil:
		return false
	case !bytes.Equal(got, want):
		t.Fatalf("encode(%#v) =\n%s\njson.Marshal =\n%s", v, got, want)
	}
	return true
}

// encodeCases are values whose encoding is easy to get wrong.
var encodeCases = map[string]any{
	"nil":              nil,
	"true":             true,
	"false":            false,
	"empty string":     "",
	"plain":            "bjensen@example.com",
	"quote backslash":  `a"b\c`,
	"short escapes":    "\b\f\n\r\t",
	"controls":         "\x00\x01\x1f\x7f",
	"html":             "<script>&amp;</script>",
	"line separators":  "a\u2028b\u2029c",
	"non-ASCII":        "Zoë 日本 🎉",
	"invalid UTF-8":    "a\xffb\xc3(c\xe2\x82d\xf0\x9f\x98",
	"lone surrogate":   "\xed\xa0\x80",
	"overlong":         "\xc0\xaf",
	"number":           json.Number("42"),
	"number negative":  json.Number("-0.5e+10"),
	"number big":       json.Number("123456789012345678901234567890.000000000000000001E-400"),
	"number empty":     json.Number(""),
	"number invalid":   json.Number("01"),
	"number hex":       json.Number("0x1F"),
	"number trailing":  json.Number("1."),
	"number exp only":  json.Number("1e"),
	"nil map":          map[string]any(nil),
	"empty map":        map[string]any{},
	"nil slice":        []any(nil),
	"empty slice":      []any{},
	"nil resource":     schemas.Resource(nil),
	"resource":         schemas.Resource{"id": "1", "b": []any{schemas.Resource{"x": nil}}},
	"unknown type":     []any{3.5, int64(7), []string{"a<b"}, map[string]string{"k": "v"}},
	"unsupported type": []any{make(chan int)},
	"nested": map[string]any{
		"z":    []any{map[string]any{"b": true, "a": json.Number("1")}, nil, "x"},
		"a":    map[string]any{"<k>": "\u2028", "\xff": "v", "": ""},
		"A":    []any{[]any{}, map[string]any{}},
		"é":    false,
		"$ref": "https://example.com/Users/1?a=1&b=2",
	},
}

func TestEncoder_MatchesMarshal(t *testing.T) {
	for name, v := range encodeCases {
		t.Run(name, func(t *testing.T) { checkEncode(t, v) })
	}
}

// TestEncoder_Random compares the encoder with encoding/json on random
// Resource-shaped values.
func TestEncoder_Random(t *testing.T) {
	const n = 2000
	r := rand.New(rand.NewPCG(1, 2))
	compared := 0
	for range n {
		g := valueGen{next: func() byte { return byte(r.Uint32()) }}
		if checkEncode(t, g.object(0)) {
			compared++
		}
	}
	if compared < n/2 {
		t.Errorf("only %d of %d random values encoded without error; the generator makes too many bad numbers", compared, n)
	}
}

// TestEncoder_Allocs pins the encoder at no allocations once its buffers
// have grown: maps, strings and numbers are written in place.
func TestEncoder_Allocs(t *testing.T) {
	u := typicalUser(1).Resource
	e := getEncoder()
	defer putEncoder(e)
	got := testing.AllocsPerRun(100, func() {
		e.buf = e.buf[:0]
		e.value(u)
	})
	if got != 0 {
		t.Errorf("encoding a user allocates %v times, want 0", got)
	}
}

// FuzzEncode checks that the encoder writes what encoding/json.Marshal
// writes for any Resource-shaped value: the fuzzer's bytes pick the shape
// and supply the strings, keys and numbers.
func FuzzEncode(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte("\x05\x03key\x00\x02value<&>\x01\x04\x1012e5\x00"))
	f.Add([]byte("\x06\x02\xff\xfe\x07\x00\x00\xe2\x80\xa8\x05\x00\x01"))
	f.Add([]byte(strings.Repeat("\x05\x02a\x06", 20)))
	f.Fuzz(func(t *testing.T, data []byte) {
		g := valueGen{next: func() byte {
			if len(data) == 0 {
				return 0
			}
			c := data[0]
			data = data[1:]
			return c
		}}
		checkEncode(t, g.object(0))
	})
}

// valueGen builds values of the kinds a Resource holds from a byte source.
type valueGen struct{ next func() byte }

const maxGenDepth = 4

func (g valueGen) value(depth int) any {
	k := g.next() % 8
	if depth >= maxGenDepth && k >= 5 {
		k %= 5
	}
	switch k {
	case 0:
		return nil
	case 1:
		return g.next()%2 == 0
	case 2, 3:
		return g.string()
	case 4:
		return g.number()
	case 5:
		return g.object(depth + 1)
	case 6:
		n := int(g.next() % 5)
		a := make([]any, n)
		for i := range a {
			a[i] = g.value(depth + 1)
		}
		return a
	default:
		return []any(nil)
	}
}

func (g valueGen) object(depth int) map[string]any {
	n := int(g.next() % 6)
	m := make(map[string]any, n)
	for range n {
		m[g.string()] = g.value(depth)
	}
	return m
}

// alphabet is weighted towards what breaks encoders: escapes, HTML, line
// separators, multi-byte and broken UTF-8.
var alphabet = []string{
	"a", "Z", "0", " ", "\"", "\\", "/", "<", ">", "&", "\n", "\t", "\b", "\f", "\x00", "\x1f", "\x7f",
	"é", "日", "🎉", "\u2028", "\u2029", "\ufffd", "\xff", "\xc3", "\xe2\x80", "\xed\xa0\x80", "\xf4\x90\x80\x80",
}

func (g valueGen) string() string {
	n := int(g.next() % 9)
	var b strings.Builder
	for range n {
		c := g.next()
		if c < 128 {
			b.WriteByte(c) // any single byte, ASCII or not
		} else {
			b.WriteString(alphabet[int(c)%len(alphabet)])
		}
	}
	return b.String()
}

var (
	validNumbers = []string{"0", "-0", "7", "-12", "3.25", "1e9", "1E-9", "-2.5e+300", "1" + strings.Repeat("0", 40),
		"0." + strings.Repeat("9", 30), "", "123456789012345678901234567890e-400"}
	invalidNumbers = []string{"01", "1.", ".5", "+1", "1e", "-", "NaN", "1_000", "0x10", "1e+", " 1"}
)

// number is mostly valid: an invalid one fails the whole Marshal, which
// then compares only errors.
func (g valueGen) number() json.Number {
	switch c := g.next(); c % 16 {
	case 0:
		return json.Number(g.string())
	case 1:
		return json.Number(invalidNumbers[int(c/16)%len(invalidNumbers)])
	default:
		return json.Number(validNumbers[int(c/16)%len(validNumbers)])
	}
}

// An encoder whose scratch buffer grew past maxPooledBuffer is not pooled,
// as one whose output buffer did is not: the pool would keep it for good.
func TestPutEncoder_DropsBigScratch(t *testing.T) {
	e := getEncoder()
	e.scratch = make([]byte, 0, maxPooledBuffer+1)
	putEncoder(e)
	for range 4 {
		got := getEncoder()
		if cap(got.scratch) > maxPooledBuffer {
			t.Fatalf("getEncoder() returned a scratch buffer of %d bytes, want at most %d", cap(got.scratch), maxPooledBuffer)
		}
		defer putEncoder(got)
	}
}
