package scimhttp

import (
	"encoding/json"
	"slices"
	"strconv"
	"sync"
	"unicode/utf8"

	"github.com/scim-bridge/scim-bridge/schemas"
)

// encoder appends the JSON of the values a [schemas.Resource] holds
// (string, bool, json.Number, nil, []any, map[string]any) to buf, producing
// exactly the bytes encoding/json.Marshal produces for them: map keys sorted
// bytewise, strings escaped as encoding/json escapes them (<, > and & as
// \u003c, \u003e and \u0026; U+2028 and U+2029 escaped; invalid UTF-8 as
// \ufffd), json.Number as is once checked. Any other type is handed to
// encoding/json, whose error, if any, is kept in err.
//
// Encoders come from getEncoder and go back with putEncoder; one is not safe
// for concurrent use.
type encoder struct {
	buf     []byte
	keys    []string // a stack of key slices, one per open object
	scratch []byte   // a URL being assembled before it is escaped
	err     error    // the first failure of encoding/json on a value
}

// maxPooledBuffer keeps the pool from holding on to the buffer of one huge
// response.
const maxPooledBuffer = 4 << 20

var encoders = sync.Pool{New: func() any { return new(encoder) }}

func getEncoder() *encoder { return encoders.Get().(*encoder) }

func putEncoder(e *encoder) {
	if cap(e.buf) > maxPooledBuffer {
		return
	}
	e.buf, e.scratch, e.err = e.buf[:0], e.scratch[:0], nil
	encoders.Put(e)
}

// value appends v.
func (e *encoder) value(v any) {
	switch v := v.(type) {
	case nil:
		e.buf = append(e.buf, "null"...)
	case string:
		e.buf = appendString(e.buf, v)
	case bool:
		e.buf = strconv.AppendBool(e.buf, v)
	case json.Number:
		e.number(v)
	case map[string]any:
		e.object(v)
	case schemas.Resource:
		e.object(v)
	case []any:
		if v == nil {
			e.buf = append(e.buf, "null"...)
			return
		}
		e.buf = append(e.buf, '[')
		for i, x := range v {
			if i > 0 {
				e.buf = append(e.buf, ',')
			}
			e.value(x)
		}
		e.buf = append(e.buf, ']')
	default:
		e.fallback(v)
	}
}

// number appends n as encoding/json does: "" is 0, anything not a JSON
// number is an error (which encoding/json reports).
func (e *encoder) number(n json.Number) {
	switch {
	case n == "":
		e.buf = append(e.buf, '0')
	case validNumber(string(n)):
		e.buf = append(e.buf, n...)
	default:
		e.fallback(n)
	}
}

// fallback appends what encoding/json makes of v; its output is compact and
// HTML-escaped, so it is what v would have been inside a larger Marshal.
func (e *encoder) fallback(v any) {
	b, err := json.Marshal(v)
	if err != nil {
		if e.err == nil {
			e.err = err
		}
		e.buf = append(e.buf, "null"...) // keeps the output well-formed; it is never sent
		return
	}
	e.buf = append(e.buf, b...)
}

// object appends m with its keys sorted.
func (e *encoder) object(m map[string]any) {
	if m == nil {
		e.buf = append(e.buf, "null"...)
		return
	}
	start := e.sortedKeys(m, "")
	e.buf = append(e.buf, '{')
	for i := start; i < len(e.keys); i++ {
		if i > start {
			e.buf = append(e.buf, ',')
		}
		k := e.keys[i] // re-read: nested objects may grow e.keys
		e.key(k)
		e.value(m[k])
	}
	e.buf = append(e.buf, '}')
	e.popKeys(start)
}

// sortedKeys pushes the keys of m, and extra when it is not "" and not
// already one of them, onto e.keys, sorted, and returns where they start.
// The caller pops them with popKeys.
func (e *encoder) sortedKeys(m map[string]any, extra string) int {
	start := len(e.keys)
	for k := range m {
		e.keys = append(e.keys, k)
	}
	if extra != "" {
		if _, ok := m[extra]; !ok {
			e.keys = append(e.keys, extra)
		}
	}
	slices.Sort(e.keys[start:])
	return start
}

func (e *encoder) popKeys(start int) {
	clear(e.keys[start:]) // the pool must not keep the strings alive
	e.keys = e.keys[:start]
}

// key appends k and the colon.
func (e *encoder) key(k string) {
	e.buf = appendString(e.buf, k)
	e.buf = append(e.buf, ':')
}

// validNumber reports whether s is a JSON number (RFC 8259 §6), the check
// encoding/json makes before writing a json.Number.
func validNumber(s string) bool {
	if s == "" {
		return false
	}
	if s[0] == '-' {
		s = s[1:]
		if s == "" {
			return false
		}
	}
	switch {
	case s[0] == '0':
		s = s[1:]
	case '1' <= s[0] && s[0] <= '9':
		s = s[1:]
		for len(s) > 0 && isDigit(s[0]) {
			s = s[1:]
		}
	default:
		return false
	}
	if len(s) >= 2 && s[0] == '.' && isDigit(s[1]) {
		s = s[2:]
		for len(s) > 0 && isDigit(s[0]) {
			s = s[1:]
		}
	}
	if len(s) >= 2 && (s[0] == 'e' || s[0] == 'E') {
		s = s[1:]
		if s[0] == '+' || s[0] == '-' {
			s = s[1:]
			if s == "" {
				return false
			}
		}
		for len(s) > 0 && isDigit(s[0]) {
			s = s[1:]
		}
	}
	return s == ""
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

const hexDigits = "0123456789abcdef"

// plain[c] is true for the ASCII bytes a JSON string carries unescaped when
// HTML characters are escaped: not a control character, ", \, <, > or &.
var plain = func() (t [utf8.RuneSelf]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\' && c != '<' && c != '>' && c != '&'
	}
	return t
}()

// appendString appends s as a JSON string, escaped byte for byte as
// encoding/json.Marshal escapes it.
func appendString[S []byte | string](dst []byte, s S) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if plain[c] {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '\\', '"':
				dst = append(dst, '\\', c)
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default: // other control characters, <, > and &
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		// At most four bytes converted: stack-allocated for a []byte.
		r, size := utf8.DecodeRuneInString(string(s[i:min(len(s), i+utf8.UTFMax)]))
		switch {
		case r == utf8.RuneError && size == 1:
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			// Valid JSON, but not valid JavaScript (JSONP).
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}
