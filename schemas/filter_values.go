package schemas

import "strings"

// FilterValue is a value written in the text of a filter or PATCH path:
// Start and End delimit it as written (with its quotes when Quoted), Value
// is its text (a quoted string unquoted).
type FilterValue struct {
	Start, End int
	Value      string
	Quoted     bool
}

// FilterValues returns, in order, the values written in s, a filter or PATCH
// path (RFC 7644 §3.4.2.2, §3.5.2): every quoted string, and the word or
// number that comes next after a comparison operator unless it is true,
// false or null. They are what must be hidden to show s without the data in
// it, as the audit log does. Where an attribute is named like an operator
// ("eq eq 1") the word after it is taken for a value too: more is hidden,
// never less.
//
// s is split into tokens exactly as ParseFilter and ParsePath split it, but
// its grammar is not checked, so a filter or path the parser refuses still
// shows its shape. The error, an *Error of KindInvalidFilter with a
// position, is for a text the lexer cannot split: a character outside the
// syntax, an unterminated string, a bad escape or a bad number.
func FilterValues(s string) ([]FilterValue, error) {
	lx := lexer{src: s, kind: KindInvalidFilter}
	var vals []FilterValue
	afterOp := false // parentheses and brackets do not end it
	for {
		t, err := lx.next()
		if err != nil {
			return nil, err
		}
		switch t.kind {
		case tokEOF:
			return vals, nil
		case tokString:
			vals = append(vals, FilterValue{Start: t.pos, End: t.pos + len(t.text), Value: lexUnquote(t.text), Quoted: true})
			afterOp = false
		case tokWord, tokNumber:
			if afterOp && (t.kind == tokNumber || !isLiteralWord(t.text)) {
				vals = append(vals, FilterValue{Start: t.pos, End: t.pos + len(t.text), Value: t.text})
			}
			_, isOp := parseCompareOp(t.text)
			afterOp = t.kind == tokWord && isOp
		}
	}
}

// isLiteralWord reports whether w is one of the literals true, false and
// null, which the parser reads in any case.
func isLiteralWord(w string) bool {
	return strings.EqualFold(w, "true") || strings.EqualFold(w, "false") || strings.EqualFold(w, "null")
}
