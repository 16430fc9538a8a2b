package schemas

import (
	"fmt"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// The lexer of the filter language (RFC 7644 §3.4.2.2) and of PATCH paths
// (§3.5.2). It is context-free: a word is a run of name characters, which
// covers attribute paths with their URN prefix and dotted sub-attribute
// ("urn:ietf:params:scim:schemas:core:2.0:User:name.givenName") as well as
// the keywords and operators; the parser decides what a word means where it
// stands. Values are JSON strings and JSON numbers.

const (
	// MaxFilterLength bounds the length of a filter or PATCH path, in bytes.
	MaxFilterLength = 4096
	// MaxFilterDepth bounds the nesting of parentheses, "not" and value
	// filters ("[...]") in a filter.
	MaxFilterDepth = 32
)

type tokenKind uint8

const (
	tokEOF    tokenKind = iota
	tokWord             // attribute path, keyword, operator, true/false/null
	tokString           // "..." (text holds the raw quoted form)
	tokNumber           // JSON number
	tokLParen           // (
	tokRParen           // )
	tokLBrack           // [
	tokRBrack           // ]
	tokBare             // an unquoted string value (see parser.advanceValue)
)

type token struct {
	kind tokenKind
	pos  int    // byte offset in the input
	text string // the token as written
}

// describe names a token in error messages.
func (t token) describe() string {
	switch t.kind {
	case tokEOF:
		return "end of input"
	case tokString:
		if len(t.text) > 32 {
			return "string"
		}
	}
	return fmt.Sprintf("%q", t.text)
}

// lexer splits its input into tokens. Errors carry the kind given at
// construction (KindInvalidFilter or KindInvalidPath).
type lexer struct {
	src  string
	pos  int
	kind Kind
}

// errorf returns an *Error positioned at byte offset pos, as "line:col: ...",
// with the column counted in characters.
func (lx *lexer) errorf(pos int, format string, args ...any) *Error {
	line, col := 1, 1
	for i, r := range lx.src {
		if i >= pos {
			break
		}
		if r == '\n' {
			line++
			col = 1
		} else {
			col++
		}
	}
	return &Error{Kind: lx.kind, Detail: fmt.Sprintf("%d:%d: ", line, col) + fmt.Sprintf(format, args...)}
}

func lexSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

func lexAlpha(c byte) bool { return 'a' <= c|0x20 && c|0x20 <= 'z' }

func lexDigit(c byte) bool { return '0' <= c && c <= '9' }

// isWordByte reports whether c may appear in a word: the name characters of
// RFC 7643 §2.1 (ALPHA, DIGIT, "-", "_", "$" for "$ref") plus the URN and
// sub-attribute separators ":" and ".".
func lexWordByte(c byte) bool {
	return lexAlpha(c) || lexDigit(c) || c == '-' || c == '_' || c == '$' || c == ':' || c == '.'
}

// next returns the next token.
func (lx *lexer) next() (token, error) {
	for lx.pos < len(lx.src) && lexSpace(lx.src[lx.pos]) {
		lx.pos++
	}
	start := lx.pos
	if start == len(lx.src) {
		return token{kind: tokEOF, pos: start}, nil
	}
	c := lx.src[start]
	switch {
	case c == '(':
		lx.pos++
		return token{kind: tokLParen, pos: start, text: "("}, nil
	case c == ')':
		lx.pos++
		return token{kind: tokRParen, pos: start, text: ")"}, nil
	case c == '[':
		lx.pos++
		return token{kind: tokLBrack, pos: start, text: "["}, nil
	case c == ']':
		lx.pos++
		return token{kind: tokRBrack, pos: start, text: "]"}, nil
	case c == '"':
		return lx.lexString()
	case c == '-' || lexDigit(c):
		return lx.lexNumber()
	case lexAlpha(c) || c == '$' || c == '_' || c == '.' || c == ':':
		for lx.pos < len(lx.src) && lexWordByte(lx.src[lx.pos]) {
			lx.pos++
		}
		return token{kind: tokWord, pos: start, text: lx.src[start:lx.pos]}, nil
	}
	r, _ := utf8.DecodeRuneInString(lx.src[start:])
	return token{}, lx.errorf(start, "unexpected character %q", r)
}

// lexString scans a JSON string (RFC 8259 §7); the token keeps the quotes.
func (lx *lexer) lexString() (token, error) {
	start := lx.pos
	i := start + 1
	for i < len(lx.src) {
		switch c := lx.src[i]; {
		case c == '"':
			lx.pos = i + 1
			return token{kind: tokString, pos: start, text: lx.src[start:lx.pos]}, nil
		case c == '\\':
			if i+1 >= len(lx.src) {
				return token{}, lx.errorf(start, "unterminated string")
			}
			switch lx.src[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				if i+6 > len(lx.src) || !lexHex4(lx.src[i+2:i+6]) {
					return token{}, lx.errorf(i, `invalid escape in string: \u must be followed by 4 hex digits`)
				}
				i += 6
			default:
				return token{}, lx.errorf(i, "invalid escape %q in string", lx.src[i:i+2])
			}
		case c < 0x20:
			return token{}, lx.errorf(i, "control character %q in string", c)
		default:
			i++
		}
	}
	return token{}, lx.errorf(start, "unterminated string")
}

func lexHex4(s string) bool {
	for i := 0; i < 4; i++ {
		c := s[i]
		if !lexDigit(c) && !('a' <= c|0x20 && c|0x20 <= 'f') {
			return false
		}
	}
	return true
}

// lexNumber scans a JSON number: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func (lx *lexer) lexNumber() (token, error) {
	s, start := lx.src, lx.pos
	i := start
	bad := func() (token, error) {
		j := i
		for j < len(s) && (lexWordByte(s[j]) || s[j] == '+') {
			j++
		}
		if j == i {
			j = min(i+1, len(s))
		}
		return token{}, lx.errorf(start, "invalid number %q", s[start:j])
	}
	digits := func() int {
		n := 0
		for i < len(s) && lexDigit(s[i]) {
			i++
			n++
		}
		return n
	}
	if s[i] == '-' {
		i++
	}
	switch {
	case i < len(s) && s[i] == '0':
		i++
	case i < len(s) && lexDigit(s[i]):
		digits()
	default:
		return bad()
	}
	if i < len(s) && s[i] == '.' {
		i++
		if digits() == 0 {
			return bad()
		}
	}
	if i < len(s) && s[i]|0x20 == 'e' {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		if digits() == 0 {
			return bad()
		}
	}
	// A number must end where a word would: "12ab" or "1.2.3" is one bad token.
	if i < len(s) && (lexWordByte(s[i]) || s[i] == '+') {
		return bad()
	}
	lx.pos = i
	return token{kind: tokNumber, pos: start, text: s[start:i]}, nil
}

// unquote decodes a JSON string token already checked by lexString. Without
// escapes it returns a substring of the input, without allocating. A lone
// surrogate decodes to U+FFFD, as encoding/json does.
func lexUnquote(q string) string {
	s := q[1 : len(q)-1]
	if strings.IndexByte(s, '\\') < 0 {
		return s
	}
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); {
		c := s[i]
		if c != '\\' {
			b = append(b, c)
			i++
			continue
		}
		switch s[i+1] {
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
			r := lexHexValue(s[i+2 : i+6])
			i += 6
			if utf16.IsSurrogate(r) {
				r2 := utf8.RuneError
				if i+6 <= len(s) && s[i] == '\\' && s[i+1] == 'u' {
					if d := utf16.DecodeRune(r, lexHexValue(s[i+2:i+6])); d != utf8.RuneError {
						r2 = d
						i += 6
					}
				}
				r = r2
			}
			b = utf8.AppendRune(b, r)
			continue
		default: // '"', '\\', '/'
			b = append(b, s[i+1])
		}
		i += 2
	}
	return string(b)
}

func lexHexValue(s string) rune {
	var r rune
	for i := 0; i < 4; i++ {
		c := s[i]
		switch {
		case lexDigit(c):
			r = r<<4 | rune(c-'0')
		default:
			r = r<<4 | rune(c|0x20-'a'+10)
		}
	}
	return r
}
