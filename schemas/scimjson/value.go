package scimjson

import (
	"encoding/json"
	"fmt"
	"hash/maphash"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// maxDepth is how deeply objects and arrays may nest: encoding/json's
// limit, so that both accept the same texts, and a bound on the recursion.
const maxDepth = 10000

// Error is a syntax or type error of a JSON text, at byte Offset.
type Error struct {
	Offset int
	Msg    string
}

func (e *Error) Error() string { return fmt.Sprintf("json: offset %d: %s", e.Offset, e.Msg) }

// ParseValue parses data, one JSON text (RFC 8259) with optional
// surrounding whitespace, into exactly what encoding/json's Decoder with
// UseNumber decodes into an any: map[string]any (duplicate keys: the last
// wins; see Reader.DisallowDuplicateKeys), []any, string, bool, nil and
// json.Number (the number as written).
// It accepts what encoding/json accepts, nesting up to 10,000 levels, and
// unescapes strings as it does, invalid UTF-8 and lone surrogates becoming
// U+FFFD. Errors are *Error.
//
// The strings of the result share one copy of data: holding any of them
// holds all of data.
func ParseValue(data []byte) (any, error) {
	r := NewReader(data)
	v, err := r.Value()
	if err != nil {
		return nil, err
	}
	if err := r.End(); err != nil {
		return nil, err
	}
	return v, nil
}

// ParseObject is ParseValue for a text that must be an object.
func ParseObject(data []byte) (map[string]any, error) {
	r := NewReader(data)
	if r.Peek() != '{' {
		return nil, r.unexpected("object")
	}
	v, err := r.Value()
	if err != nil {
		return nil, err
	}
	if err := r.End(); err != nil {
		return nil, err
	}
	return v.(map[string]any), nil
}

// Reader reads a JSON text value by value, without reflection, for
// decoders that fill their own types (an event, a stored record) and want
// encoding/json's results: Object walks members in document order, Value
// parses as ParseValue does, Skip validates and discards. Each method
// reads one value (after optional whitespace) and returns an error, leaving
// the reader unusable, if the text is not valid JSON or the value is not of
// the kind asked for. DisallowDuplicateKeys makes it refuse an object that
// names a key twice, as a client's SCIM message must not.
//
// The zero value is not usable; it is not safe for concurrent use.
type Reader struct {
	b     []byte // the input
	s     string // a copy of b, sliced for strings without escapes
	pos   int
	depth int
	kvs   []member // scratch: members of the objects being parsed
	elems []any    // scratch: elements of the arrays being parsed

	noDup bool         // DisallowDuplicateKeys
	keys  []string     // scratch with noDup: keys of the objects being read
	seed  maphash.Seed // with noDup, of the hashes of large objects' keys (keySet)

	maxValues int // LimitValues; 0: no limit
	values    int // values and keys read
}

type member struct {
	key string
	val any
}

// NewReader returns a reader of data. Strings it returns share one copy
// of data; data itself is not retained.
func NewReader(data []byte) *Reader {
	return &Reader{b: data, s: string(data)}
}

// NewStringReader returns a reader of s without copying it: strings it
// returns are slices of s.
func NewStringReader(s string) *Reader {
	return &Reader{s: s}
}

func (r *Reader) errorf(format string, args ...any) error {
	return &Error{Offset: r.pos, Msg: fmt.Sprintf(format, args...)}
}

// unexpected reports the byte at the position when a want was expected.
func (r *Reader) unexpected(want string) error {
	if r.pos >= len(r.s) {
		return r.errorf("unexpected end of JSON input, expected %s", want)
	}
	return r.errorf("invalid character %q, expected %s", r.s[r.pos], want)
}

func (r *Reader) skipSpace() {
	for r.pos < len(r.s) {
		switch r.s[r.pos] {
		case ' ', '\t', '\n', '\r':
			r.pos++
		default:
			return
		}
	}
}

// Peek returns the first byte of the next value after whitespace: '{',
// '[', '"', 't', 'f', 'n', '-' or a digit; 0 at the end of the input. It
// consumes nothing but the whitespace.
func (r *Reader) Peek() byte {
	r.skipSpace()
	if r.pos >= len(r.s) {
		return 0
	}
	return r.s[r.pos]
}

// End reports an error unless only whitespace remains.
func (r *Reader) End() error {
	if r.skipSpace(); r.pos < len(r.s) {
		return r.errorf("invalid character %q after top-level value", r.s[r.pos])
	}
	return nil
}

// Null consumes a null and reports whether there was one.
func (r *Reader) Null() bool {
	r.skipSpace()
	if len(r.s)-r.pos >= 4 && r.s[r.pos:r.pos+4] == "null" {
		r.pos += 4
		return true
	}
	return false
}

// String reads a string and returns it unescaped.
func (r *Reader) String() (string, error) {
	if r.Peek() != '"' {
		return "", r.unexpected("string")
	}
	return r.str()
}

// RawString reads a string and returns it as written, quotes included
// (what encoding/json hands a json.Unmarshaler), without copying: the
// bytes are the input's.
func (r *Reader) RawString() ([]byte, error) {
	if r.Peek() != '"' {
		return nil, r.unexpected("string")
	}
	start := r.pos
	if _, err := r.skipString(); err != nil {
		return nil, err
	}
	if r.b == nil {
		return []byte(r.s[start:r.pos]), nil // a string reader's input is immutable
	}
	return r.b[start:r.pos], nil
}

// Offset returns the position in the input of the next byte to read; after
// Peek, that of the next value's first byte, after reading a value, that
// of the byte right after it.
func (r *Reader) Offset() int { return r.pos }

// Number reads a number and returns it as written.
func (r *Reader) Number() (string, error) {
	switch c := r.Peek(); {
	case c == '-', '0' <= c && c <= '9':
		return r.number()
	}
	return "", r.unexpected("number")
}

// Object reads an object, calling fn with each key (unescaped) in document
// order; fn must read the member's value with one call of a reader method.
// An error of fn stops the walk and is returned.
func (r *Reader) Object(fn func(key string) error) error {
	if r.Peek() != '{' {
		return r.unexpected("object")
	}
	if err := r.enter(); err != nil {
		return err
	}
	r.pos++
	if r.Peek() == '}' {
		r.pos++
		r.depth--
		return nil
	}
	keys := keySet{base: len(r.keys)}
	for {
		if r.Peek() != '"' {
			return r.unexpected("string key")
		}
		start := r.pos
		if err := r.count(); err != nil {
			return err
		}
		k, err := r.str()
		if err != nil {
			return err
		}
		if r.noDup {
			if err := keys.add(r, k, start); err != nil {
				return err
			}
		}
		if r.Peek() != ':' {
			return r.unexpected("':' after object key")
		}
		r.pos++
		if err := fn(k); err != nil {
			return err
		}
		switch r.Peek() {
		case ',':
			r.pos++
		case '}':
			r.pos++
			r.depth--
			if r.noDup {
				r.keys = r.keys[:keys.base]
			}
			return nil
		default:
			return r.unexpected("',' or '}' after object value")
		}
	}
}

// Array reads an array, calling fn once per element; fn must read the
// element with one call of a reader method. An error of fn stops the walk
// and is returned.
func (r *Reader) Array(fn func() error) error {
	if r.Peek() != '[' {
		return r.unexpected("array")
	}
	if err := r.enter(); err != nil {
		return err
	}
	r.pos++
	if r.Peek() == ']' {
		r.pos++
		r.depth--
		return nil
	}
	for {
		if err := fn(); err != nil {
			return err
		}
		switch r.Peek() {
		case ',':
			r.pos++
		case ']':
			r.pos++
			r.depth--
			return nil
		default:
			return r.unexpected("',' or ']' after array element")
		}
	}
}

func (r *Reader) enter() error {
	if r.depth >= maxDepth {
		return r.errorf("exceeded max depth %d", maxDepth)
	}
	r.depth++
	return nil
}

// Value reads any value, as ParseValue does.
func (r *Reader) Value() (any, error) {
	if err := r.count(); err != nil {
		return nil, err
	}
	switch c := r.Peek(); c {
	case '{':
		return r.object()
	case '[':
		return r.array()
	case '"':
		s, err := r.str()
		if err != nil {
			return nil, err
		}
		return s, nil
	case 't':
		return true, r.literal("true")
	case 'f':
		return false, r.literal("false")
	case 'n':
		return nil, r.literal("null")
	default:
		if c == '-' || '0' <= c && c <= '9' {
			n, err := r.number()
			if err != nil {
				return nil, err
			}
			return json.Number(n), nil
		}
		return nil, r.unexpected("value")
	}
}

// RawComposite reads an object or an array and returns it as written (a
// slice of the input), following only its strings and brackets: nothing else
// in it is checked, so what it returns may not be valid JSON. It is for a
// caller that hands the value to one that validates it as it reads it.
// An unbalanced or unterminated value is an error.
func (r *Reader) RawComposite() (string, error) {
	s := r.s
	if c := r.Peek(); c != '{' && c != '[' {
		return "", r.unexpected("object or array")
	}
	start := r.pos
	depth := 0
	for i := start; i < len(s); i++ {
		switch s[i] {
		case '"':
			for {
				j := strings.IndexByte(s[i+1:], '"')
				if j < 0 {
					r.pos = len(s)
					return "", r.unexpected("closing quote of string")
				}
				i += 1 + j
				bs := 0 // backslashes right before the quote: an odd count escapes it
				for k := i - 1; k > start && s[k] == '\\'; k-- {
					bs++
				}
				if bs%2 == 0 {
					break
				}
			}
		case '{', '[':
			depth++
			if depth > maxDepth {
				r.pos = i
				return "", r.errorf("exceeded max depth %d", maxDepth)
			}
		case '}', ']':
			depth--
			if depth == 0 {
				r.pos = i + 1
				return s[start:r.pos], nil
			}
		}
	}
	r.pos = len(s)
	return "", r.unexpected("end of object or array")
}

// Skip reads any value and discards it.
func (r *Reader) Skip() error {
	if err := r.count(); err != nil {
		return err
	}
	switch c := r.Peek(); c {
	case '{':
		return r.Object(func(string) error { return r.Skip() })
	case '[':
		return r.Array(r.Skip)
	case '"':
		_, err := r.skipString()
		return err
	case 't':
		return r.literal("true")
	case 'f':
		return r.literal("false")
	case 'n':
		return r.literal("null")
	default:
		if c == '-' || '0' <= c && c <= '9' {
			_, err := r.number()
			return err
		}
		return r.unexpected("value")
	}
}

func (r *Reader) literal(lit string) error {
	if len(r.s)-r.pos >= len(lit) && r.s[r.pos:r.pos+len(lit)] == lit {
		r.pos += len(lit)
		return nil
	}
	for i := 0; r.pos < len(r.s) && r.s[r.pos] == lit[i]; i++ {
		r.pos++ // to the first byte that differs
	}
	return r.unexpected("literal " + lit)
}

func (r *Reader) object() (map[string]any, error) {
	base := len(r.kvs)
	err := r.Object(func(k string) error {
		v, err := r.Value()
		if err != nil {
			return err
		}
		r.kvs = append(grow(r.kvs), member{k, v})
		return nil
	})
	if err != nil {
		return nil, err
	}
	m := make(map[string]any, len(r.kvs)-base)
	for _, kv := range r.kvs[base:] {
		m[kv.key] = kv.val
	}
	clear(r.kvs[base:])
	r.kvs = r.kvs[:base]
	return m, nil
}

func (r *Reader) array() ([]any, error) {
	base := len(r.elems)
	err := r.Array(func() error {
		v, err := r.Value()
		if err != nil {
			return err
		}
		r.elems = append(grow(r.elems), v)
		return nil
	})
	if err != nil {
		return nil, err
	}
	a := make([]any, len(r.elems)-base)
	copy(a, r.elems[base:])
	clear(r.elems[base:])
	r.elems = r.elems[:base]
	return a, nil
}

// TooManyValuesError is the error of a Reader limited by LimitValues for
// a text holding more than Limit values and object keys; Offset is where
// the first one over the limit starts.
type TooManyValuesError struct {
	Offset int
	Limit  int
}

func (e *TooManyValuesError) Error() string {
	return fmt.Sprintf("json: offset %d: more than %d values and object keys", e.Offset, e.Limit)
}

// LimitValues makes the reader refuse, with a *TooManyValuesError, to read
// more than n values and object keys in all, counting every value Value
// and Skip read, nested ones included, and every key Object reads. What a
// tree of values costs in memory grows with their number far more than
// with the bytes of the text (an empty object, "{}", becomes a map of
// hundreds of bytes), so a bound on the number bounds the memory of
// decoding a text of any shape; Skip reaches the limit without building
// anything. n <= 0: no limit.
func (r *Reader) LimitValues(n int) { r.maxValues = n }

// Values returns the number of values and object keys read so far, as
// LimitValues counts them.
func (r *Reader) Values() int { return r.values }

// count counts one value or key, against LimitValues if set.
func (r *Reader) count() error {
	if r.values++; r.maxValues > 0 && r.values > r.maxValues {
		r.skipSpace()
		return &TooManyValuesError{Offset: r.pos, Limit: r.maxValues}
	}
	return nil
}

// grow returns s with room for one more element, doubling its capacity
// when it is full. The scratch slices of a Reader grow by it rather than
// by append's own rule (a quarter at a time past 256 elements), which for
// an array or object of many small values allocated about five times the
// scratch's final size; doubling allocates at most twice it.
func grow[T any](s []T) []T {
	if len(s) < cap(s) {
		return s
	}
	next := make([]T, len(s), max(2*cap(s), 16))
	copy(next, s)
	return next
}

// number reads -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? at r.pos.
func (r *Reader) number() (string, error) {
	s, start := r.s, r.pos
	i := start
	if i < len(s) && s[i] == '-' {
		i++
	}
	switch {
	case i < len(s) && s[i] == '0':
		i++
	case i < len(s) && '1' <= s[i] && s[i] <= '9':
		i = skipDigits(s, i+1)
	default:
		r.pos = i
		return "", r.unexpected("digit")
	}
	if i < len(s) && s[i] == '.' {
		i++
		if i >= len(s) || s[i] < '0' || s[i] > '9' {
			r.pos = i
			return "", r.unexpected("digit after decimal point")
		}
		i = skipDigits(s, i)
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		if i >= len(s) || s[i] < '0' || s[i] > '9' {
			r.pos = i
			return "", r.unexpected("digit in exponent")
		}
		i = skipDigits(s, i)
	}
	r.pos = i
	return s[start:i], nil
}

func skipDigits(s string, i int) int {
	for i < len(s) && '0' <= s[i] && s[i] <= '9' {
		i++
	}
	return i
}

// str reads the string at r.pos (its opening quote) and returns it
// unescaped: a slice of the input when it needs no unescaping.
func (r *Reader) str() (string, error) {
	s := r.s
	start := r.pos + 1
	for i := start; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c == '"' {
				r.pos = i + 1
				return s[start:i], nil
			}
			if c == '\\' || c < ' ' {
				return r.strSlow(start, i)
			}
			i++
			continue
		}
		rr, size := utf8.DecodeRuneInString(s[i:])
		if rr == utf8.RuneError && size == 1 {
			return r.strSlow(start, i)
		}
		i += size
	}
	r.pos = len(s)
	return "", r.unexpected("closing quote of string")
}

// strSlow unescapes the string starting at start whose first i-start bytes
// need no unescaping, exactly as encoding/json does: escapes decoded, a
// valid surrogate pair joined, a lone surrogate and each byte of invalid
// UTF-8 replaced by U+FFFD.
func (r *Reader) strSlow(start, i int) (string, error) {
	s := r.s
	b := make([]byte, 0, len(s[start:i])+16)
	b = append(b, s[start:i]...)
	for i < len(s) {
		c := s[i]
		switch {
		case c == '"':
			r.pos = i + 1
			return string(b), nil
		case c < ' ':
			r.pos = i
			return "", r.errorf("invalid control character %q in string", c)
		case c == '\\':
			if i+1 >= len(s) {
				r.pos = len(s)
				return "", r.unexpected("escape")
			}
			switch e := s[i+1]; e {
			case '"', '\\', '/':
				b = append(b, e)
			case 'b':
				b = append(b, '\b')
			case 'f':
				b = append(b, '\f')
			case 'n':
				b = append(b, '\n')
			case 'r':
				b = append(b, '\r')
			case 't':
				b = append(b, '\t')
			case 'u':
				rr := hex4(s, i+2)
				if rr < 0 {
					r.pos = i
					return "", r.errorf("invalid \\u escape in string")
				}
				i += 6
				if utf16.IsSurrogate(rr) {
					if rr2 := u4(s, i); rr2 >= 0 {
						if d := utf16.DecodeRune(rr, rr2); d != utf8.RuneError {
							b = utf8.AppendRune(b, d)
							i += 6
							continue
						}
					}
					rr = utf8.RuneError
				}
				b = utf8.AppendRune(b, rr)
				continue
			default:
				r.pos = i + 1
				return "", r.errorf("invalid escape %q in string", e)
			}
			i += 2
		case c < utf8.RuneSelf:
			b = append(b, c)
			i++
		default:
			rr, size := utf8.DecodeRuneInString(s[i:])
			b = utf8.AppendRune(b, rr)
			i += size
		}
	}
	r.pos = len(s)
	return "", r.unexpected("closing quote of string")
}

// u4 returns the rune of a \uXXXX escape at s[i:], or -1.
func u4(s string, i int) rune {
	if i+1 >= len(s) || s[i] != '\\' || s[i+1] != 'u' {
		return -1
	}
	return hex4(s, i+2)
}

// hex4 returns the value of the four hex digits at s[i:], or -1.
func hex4(s string, i int) rune {
	if i+4 > len(s) {
		return -1
	}
	var v rune
	for _, c := range []byte(s[i : i+4]) {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c = c - 'a' + 10
		case 'A' <= c && c <= 'F':
			c = c - 'A' + 10
		default:
			return -1
		}
		v = v<<4 | rune(c)
	}
	return v
}

// skipString validates the string at r.pos without unescaping it and
// reports whether it needed unescaping.
func (r *Reader) skipString() (escaped bool, err error) {
	s := r.s
	for i := r.pos + 1; i < len(s); {
		switch c := s[i]; {
		case c == '"':
			r.pos = i + 1
			return escaped, nil
		case c < ' ':
			r.pos = i
			return false, r.errorf("invalid control character %q in string", c)
		case c == '\\':
			escaped = true
			if i+1 >= len(s) {
				r.pos = len(s)
				return false, r.unexpected("escape")
			}
			switch s[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				if hex4(s, i+2) < 0 {
					r.pos = i
					return false, r.errorf("invalid \\u escape in string")
				}
				i += 6
			default:
				r.pos = i + 1
				return false, r.errorf("invalid escape %q in string", s[i+1])
			}
		default:
			i++
		}
	}
	r.pos = len(s)
	return false, r.unexpected("closing quote of string")
}
