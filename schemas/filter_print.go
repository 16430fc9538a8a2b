package schemas

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Canonical printing of filters: lower-case keywords and operators, names
// as written, strings quoted with JSON escaping, numbers as written, and
// parentheses only where the tree needs them ("and" binds tighter than "or";
// chains are left-associative, as the parser builds them). Parsing the
// printed form yields an equal tree.

// String prints the path as written: [URN ":"] name ["." sub].
func (p AttrPath) String() string {
	return string(appendAttrPath(nil, p))
}

func (e *CompareExpr) String() string   { return string(appendExpr(nil, e)) }
func (e *PresentExpr) String() string   { return string(appendExpr(nil, e)) }
func (e *LogicalExpr) String() string   { return string(appendExpr(nil, e)) }
func (e *NotExpr) String() string       { return string(appendExpr(nil, e)) }
func (e *ValuePathExpr) String() string { return string(appendExpr(nil, e)) }

// String prints the path; ParsePath(p.String()) yields an equal Path.
func (p Path) String() string {
	if p.Filter == nil {
		return p.Attr.String()
	}
	b := appendAttrPath(nil, AttrPath{URN: p.Attr.URN, Name: p.Attr.Name})
	b = append(b, '[')
	b = appendExpr(b, p.Filter)
	b = append(b, ']')
	if p.Attr.Sub != "" {
		b = append(b, '.')
		b = append(b, p.Attr.Sub...)
	}
	return string(b)
}

func appendAttrPath(b []byte, p AttrPath) []byte {
	if p.URN != "" {
		b = append(b, p.URN...)
		b = append(b, ':')
	}
	b = append(b, p.Name...)
	if p.Sub != "" {
		b = append(b, '.')
		b = append(b, p.Sub...)
	}
	return b
}

// precedence orders the forms: or < and < everything else.
func filterPrecedence(e Expr) int {
	if l, ok := e.(*LogicalExpr); ok {
		if l.And {
			return 2
		}
		return 1
	}
	return 3
}

func appendExpr(b []byte, e Expr) []byte {
	switch e := e.(type) {
	case *CompareExpr:
		b = appendAttrPath(b, e.Path)
		b = append(b, ' ')
		b = append(b, strings.ToLower(string(e.Op))...)
		b = append(b, ' ')
		return appendValue(b, e.Value)
	case *PresentExpr:
		b = appendAttrPath(b, e.Path)
		return append(b, " pr"...)
	case *LogicalExpr:
		prec := filterPrecedence(e)
		b = appendOperand(b, e.Left, filterPrecedence(e.Left) < prec)
		if e.And {
			b = append(b, " and "...)
		} else {
			b = append(b, " or "...)
		}
		// The parser nests chains to the left, so a right operand of the
		// same precedence was parenthesised.
		return appendOperand(b, e.Right, filterPrecedence(e.Right) <= prec)
	case *NotExpr:
		b = append(b, "not ("...)
		b = appendExpr(b, e.X)
		return append(b, ')')
	case *ValuePathExpr:
		b = appendAttrPath(b, e.Path)
		b = append(b, '[')
		b = appendExpr(b, e.Filter)
		return append(b, ']')
	case nil:
		return append(b, "<nil>"...)
	}
	return fmt.Appendf(b, "<%T>", e)
}

func appendOperand(b []byte, e Expr, paren bool) []byte {
	if !paren {
		return appendExpr(b, e)
	}
	b = append(b, '(')
	b = appendExpr(b, e)
	return append(b, ')')
}

// appendValue prints a comparison value as the filter language writes it.
func appendValue(b []byte, v any) []byte {
	switch v := v.(type) {
	case nil:
		return append(b, "null"...)
	case string:
		return appendQuoted(b, v)
	case bool:
		return strconv.AppendBool(b, v)
	case json.Number:
		return append(b, v...)
	}
	// Not produced by the parser; print something readable.
	return fmt.Append(b, v)
}

// appendQuoted appends s as a JSON string, escaping only what JSON requires
// (quote, backslash, control characters); invalid UTF-8 becomes U+FFFD.
func appendQuoted(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c >= utf8.RuneSelf {
			r, n := utf8.DecodeRuneInString(s[i:])
			b = utf8.AppendRune(b, r)
			i += n
			continue
		}
		switch {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c == '\n':
			b = append(b, '\\', 'n')
		case c == '\r':
			b = append(b, '\\', 'r')
		case c == '\t':
			b = append(b, '\\', 't')
		case c < 0x20:
			b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		default:
			b = append(b, c)
		}
		i++
	}
	return append(b, '"')
}
