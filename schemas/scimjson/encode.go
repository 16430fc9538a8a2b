package scimjson

import (
	"bytes"
	"encoding/json"
	"slices"
	"strconv"
	"sync"
	"unicode/utf8"
)

// Append appends the JSON of v — a value as ParseValue returns them
// (string, bool, json.Number, nil, []any, map[string]any) — to dst, byte
// for byte what encoding/json.Marshal writes for it: map keys sorted
// bytewise, strings escaped as AppendString escapes them, json.Number
// written as is once checked ("" as 0). Any other type, a named map type
// such as schemas.Resource included, is handed to encoding/json, whose
// error is returned: convert a resource to map[string]any to write it
// without reflection. Storing a resource and answering with one both go
// through here.
func Append(dst []byte, v any) ([]byte, error) {
	w := writers.Get().(*Writer)
	dst, err := w.Append(dst, v)
	writers.Put(w)
	return dst, err
}

// writers keeps the Writers of Append, whose key buffers have grown.
var writers = sync.Pool{New: func() any { return new(Writer) }}

// Writer is Append with a key buffer kept between calls, so that
// writing allocates nothing once the buffer has grown. The zero value is
// ready to use; a Writer is not safe for concurrent use.
type Writer struct {
	keys []string // a stack of key slices, one per open object

	// NoHTMLEscape writes <, > and & as they are (AppendStringNoHTML),
	// as a json.Encoder after SetEscapeHTML(false) writes them: the
	// bytes that encoder writes for v, without its trailing newline.
	NoHTMLEscape bool
}

// Append is the package-level Append, reusing w's key buffer.
func (w *Writer) Append(dst []byte, v any) ([]byte, error) {
	switch v := v.(type) {
	case nil:
		return append(dst, "null"...), nil
	case string:
		if w.NoHTMLEscape {
			return AppendStringNoHTML(dst, v), nil
		}
		return AppendString(dst, v), nil
	case bool:
		return strconv.AppendBool(dst, v), nil
	case json.Number:
		switch {
		case v == "":
			return append(dst, '0'), nil
		case ValidNumber(string(v)):
			return append(dst, v...), nil
		}
	case map[string]any:
		return w.object(dst, v)
	case []any:
		if v == nil {
			return append(dst, "null"...), nil
		}
		dst = append(dst, '[')
		for i, e := range v {
			if i > 0 {
				dst = append(dst, ',')
			}
			var err error
			if dst, err = w.Append(dst, e); err != nil {
				return dst, err
			}
		}
		return append(dst, ']'), nil
	}
	if w.NoHTMLEscape {
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(v); err != nil {
			return dst, err
		}
		return append(dst, bytes.TrimSuffix(buf.Bytes(), []byte("\n"))...), nil
	}
	enc, err := json.Marshal(v)
	if err != nil {
		return dst, err
	}
	return append(dst, enc...), nil
}

func (w *Writer) object(dst []byte, m map[string]any) ([]byte, error) {
	if m == nil {
		return append(dst, "null"...), nil
	}
	start := len(w.keys)
	for k := range m {
		w.keys = append(w.keys, k)
	}
	slices.Sort(w.keys[start:])
	defer func() {
		clear(w.keys[start:]) // do not keep the strings alive
		w.keys = w.keys[:start]
	}()
	dst = append(dst, '{')
	for i := start; i < len(w.keys); i++ {
		if i > start {
			dst = append(dst, ',')
		}
		k := w.keys[i] // re-read: nested objects may grow w.keys
		if w.NoHTMLEscape {
			dst = AppendStringNoHTML(dst, k)
		} else {
			dst = AppendString(dst, k)
		}
		dst = append(dst, ':')
		var err error
		if dst, err = w.Append(dst, m[k]); err != nil {
			return dst, err
		}
	}
	return append(dst, '}'), nil
}

// ValidNumber reports whether s is a JSON number (RFC 8259 §6), the
// check encoding/json makes before writing a json.Number.
func ValidNumber(s string) bool {
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
		for len(s) > 0 && isDigitByte(s[0]) {
			s = s[1:]
		}
	default:
		return false
	}
	if len(s) >= 2 && s[0] == '.' && isDigitByte(s[1]) {
		s = s[2:]
		for len(s) > 0 && isDigitByte(s[0]) {
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
		for len(s) > 0 && isDigitByte(s[0]) {
			s = s[1:]
		}
	}
	return s == ""
}

func isDigitByte(c byte) bool { return '0' <= c && c <= '9' }

const hexDigits = "0123456789abcdef"

// plain[c] is true for the ASCII bytes a JSON string carries unescaped
// when HTML characters are escaped: not a control character, ", \, <, > or &.
var plain = func() (t [utf8.RuneSelf]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\' && c != '<' && c != '>' && c != '&'
	}
	return t
}()

// plainNoHTML is plain with <, > and & unescaped.
var plainNoHTML = func() (t [utf8.RuneSelf]bool) {
	t = plain
	t['<'], t['>'], t['&'] = true, true, true
	return t
}()

// AppendString appends s as a JSON string, escaped byte for byte as
// encoding/json.Marshal escapes it: <, > and & as \u003c, \u003e and
// \u0026, control characters escaped, invalid UTF-8 as \ufffd, U+2028 and
// U+2029 escaped.
func AppendString[S []byte | string](dst []byte, s S) []byte {
	return appendString(dst, s, &plain)
}

// AppendStringNoHTML is AppendString leaving <, > and & as they are, as a
// json.Encoder does after SetEscapeHTML(false).
func AppendStringNoHTML[S []byte | string](dst []byte, s S) []byte {
	return appendString(dst, s, &plainNoHTML)
}

func appendString[S []byte | string](dst []byte, s S, plain *[utf8.RuneSelf]bool) []byte {
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
