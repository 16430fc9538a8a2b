package scimjson

import "unicode/utf8"

// Canonical reports whether text is one JSON value written exactly as
// Append writes the value that ParseValue reads from it: no whitespace,
// object keys in increasing byte order (none repeated), numbers as they
// are, strings with no byte that Append escapes. A caller holding such a
// text (an event's resource, say) can keep it instead of writing its
// value again. It is conservative: a string with any escape sequence
// makes it false, even one Append writes the same way.
func Canonical(text string) bool {
	end, ok := canonicalValue(text, 0)
	return ok && end == len(text)
}

// Text returns the input from offset from to offset to (Offset), a slice
// of the reader's copy, not a copy of its own.
func (r *Reader) Text(from, to int) string { return r.s[from:to] }

// canonicalValue checks the value at s[i:] and returns the offset after
// it.
func canonicalValue(s string, i int) (int, bool) {
	if i >= len(s) {
		return i, false
	}
	switch c := s[i]; {
	case c == '{':
		i++
		if i < len(s) && s[i] == '}' {
			return i + 1, true
		}
		prev := -1 // the previous key, as s[prev:prevEnd]
		prevEnd := 0
		for {
			start := i
			end, ok := canonicalString(s, i)
			if !ok {
				return end, false
			}
			if prev >= 0 && s[prev+1:prevEnd-1] >= s[start+1:end-1] {
				return end, false // out of order, or repeated
			}
			prev, prevEnd = start, end
			if end >= len(s) || s[end] != ':' {
				return end, false
			}
			if i, ok = canonicalValue(s, end+1); !ok || i >= len(s) {
				return i, false
			}
			switch s[i] {
			case ',':
				i++
			case '}':
				return i + 1, true
			default:
				return i, false
			}
		}
	case c == '[':
		i++
		if i < len(s) && s[i] == ']' {
			return i + 1, true
		}
		for {
			var ok bool
			if i, ok = canonicalValue(s, i); !ok || i >= len(s) {
				return i, false
			}
			switch s[i] {
			case ',':
				i++
			case ']':
				return i + 1, true
			default:
				return i, false
			}
		}
	case c == '"':
		return canonicalString(s, i)
	case c == 't':
		return i + 4, len(s)-i >= 4 && s[i:i+4] == "true"
	case c == 'f':
		return i + 5, len(s)-i >= 5 && s[i:i+5] == "false"
	case c == 'n':
		return i + 4, len(s)-i >= 4 && s[i:i+4] == "null"
	case c == '-' || '0' <= c && c <= '9':
		j := i
		for j < len(s) && (isDigitByte(s[j]) || s[j] == '-' || s[j] == '+' || s[j] == '.' || s[j] == 'e' || s[j] == 'E') {
			j++
		}
		return j, ValidNumber(s[i:j])
	}
	return i, false
}

// canonicalString checks the string at s[i:] (its opening quote) and
// returns the offset after its closing quote: every byte one that
// AppendString writes as it is.
func canonicalString(s string, i int) (int, bool) {
	if i >= len(s) || s[i] != '"' {
		return i, false
	}
	for i++; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"':
				return i + 1, true
			case !plain[c]:
				return i, false // an escape, or a byte Append escapes
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 || r == '\u2028' || r == '\u2029' {
			return i, false
		}
		i += size
	}
	return i, false
}
