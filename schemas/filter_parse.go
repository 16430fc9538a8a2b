package schemas

import (
	"encoding/json"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// The filter parser, by recursive descent over the grammar of RFC 7644
// §3.4.2.2 (Figure 1), with "and" binding tighter than "or" and keywords
// matched case-insensitively:
//
//	filter    = or EOF
//	or        = and *("or" and)
//	and       = unary *("and" unary)
//	unary     = "not" "(" or ")" / "(" or ")" / attrExp / valuePath
//	attrExp   = attrPath "pr" / attrPath compareOp compValue
//	valuePath = attrPath "[" valFilter "]" ["." subAttr (compareOp compValue / "pr")]
//
// The optional tail after a valuePath is Entra ID's `emails[type eq
// "work"].value eq "x"` (docs/idp-quirks.md Q7), which RFC 7644's ABNF does not
// allow; it parses as `emails[type eq "work" and value eq "x"]`. So does the
// older `emails[type eq "work"] eq "x"`, comparing the "value" sub-attribute
// as RFC 7644 §3.4.2.2 does for `emails eq "x"`. A valFilter is an or-filter
// whose paths are bare sub-attribute names and which holds no value path.
//
// Recursion is bounded by MaxFilterDepth and the input by MaxFilterLength, so
// no input makes the parser overflow the stack or run in more than linear time.

// ParseFilter parses a filter (RFC 7644 §3.4.2.2). Errors are *Error of
// KindInvalidFilter with a position, e.g. `1:13: expected value after "eq",
// found end of input`. Input length and nesting depth are bounded
// (MaxFilterLength, MaxFilterDepth).
func ParseFilter(s string) (Expr, error) {
	var p parser
	if err := p.init(s, KindInvalidFilter, "filter"); err != nil {
		return nil, err
	}
	if p.tok.kind == tokEOF {
		return nil, p.errorf(p.tok, "empty filter")
	}
	e, err := p.parseOr(false)
	if err != nil {
		return nil, err
	}
	if p.tok.kind != tokEOF {
		return nil, p.errorf(p.tok, `expected "and", "or" or end of filter, found %s`, p.tok.describe())
	}
	return e, nil
}

type parser struct {
	lx    lexer
	tok   token // the current token
	depth int
}

// init prepares p to parse s, reading the first token; errors are of kind.
func (p *parser) init(s string, kind Kind, what string) error {
	p.lx = lexer{src: s, kind: kind}
	if len(s) > MaxFilterLength {
		return &Error{Kind: kind, Detail: what + " longer than the limit of " + strconv.Itoa(MaxFilterLength) + " bytes"}
	}
	if !utf8.ValidString(s) {
		i := 0
		for i < len(s) {
			r, n := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && n == 1 {
				break
			}
			i += n
		}
		return p.lx.errorf(i, "invalid UTF-8")
	}
	return p.advance()
}

func (p *parser) advance() error {
	t, err := p.lx.next()
	if err != nil {
		return err
	}
	p.tok = t
	return nil
}

// advanceValue reads the token after a comparison operator. RFC 7644
// §3.4.2.2 wants string values quoted, but clients in the field (among them
// Microsoft's reference test collection) also send bare ones: `userName sw
// O`, `meta.created gt 2015-10-10T14:38:21.8617979-07:00`. A value that
// does not start like a JSON string, number or literal and runs to the next
// space, ")" or "]" is read as that string. Quoted values, numbers, true,
// false and null read as before, so no valid filter changes meaning.
func (p *parser) advanceValue() error {
	lx := &p.lx
	for lx.pos < len(lx.src) && lexSpace(lx.src[lx.pos]) {
		lx.pos++
	}
	start := lx.pos
	end := start
	for end < len(lx.src) && !lexSpace(lx.src[end]) {
		switch lx.src[end] {
		case '(', ')', '[', ']', '"':
			goto done
		}
		end++
	}
done:
	if end > start && lx.src[start] != '"' {
		text := lx.src[start:end]
		if !isBareLiteral(text) {
			lx.pos = end
			p.tok = token{kind: tokBare, pos: start, text: text}
			return nil
		}
	}
	return p.advance()
}

// isBareLiteral reports whether a bare value is for the ordinary lexer: a
// literal, or something that starts like a number (so "01" stays an invalid
// number) unless it is an RFC 3339 dateTime.
func isBareLiteral(s string) bool {
	switch strings.ToLower(s) {
	case "true", "false", "null":
		return true
	}
	if c := s[0]; c == '-' || ('0' <= c && c <= '9') {
		_, err := time.Parse(time.RFC3339Nano, s)
		return err != nil
	}
	return false
}

func (p *parser) errorf(t token, format string, args ...any) *Error {
	return p.lx.errorf(t.pos, format, args...)
}

// enter counts one level of nesting at t; leave undoes it.
func (p *parser) enter(t token) error {
	p.depth++
	if p.depth > MaxFilterDepth {
		return p.errorf(t, "nested more than %d levels deep", MaxFilterDepth)
	}
	return nil
}

func (p *parser) leave() { p.depth-- }

func (p *parser) isKeyword(kw string) bool {
	return p.tok.kind == tokWord && strings.EqualFold(p.tok.text, kw)
}

// parseOr parses an or-chain; inValue says it is a value filter ("[...]").
func (p *parser) parseOr(inValue bool) (Expr, error) {
	left, err := p.parseAnd(inValue)
	if err != nil {
		return nil, err
	}
	for p.isKeyword("or") {
		op := p.tok
		if err := p.advance(); err != nil {
			return nil, err
		}
		if err := p.expectOperand(op); err != nil {
			return nil, err
		}
		right, err := p.parseAnd(inValue)
		if err != nil {
			return nil, err
		}
		left = &LogicalExpr{And: false, Left: left, Right: right}
	}
	return left, nil
}

func (p *parser) parseAnd(inValue bool) (Expr, error) {
	left, err := p.parseUnary(inValue)
	if err != nil {
		return nil, err
	}
	for p.isKeyword("and") {
		op := p.tok
		if err := p.advance(); err != nil {
			return nil, err
		}
		if err := p.expectOperand(op); err != nil {
			return nil, err
		}
		right, err := p.parseUnary(inValue)
		if err != nil {
			return nil, err
		}
		left = &LogicalExpr{And: true, Left: left, Right: right}
	}
	return left, nil
}

// expectOperand reports a missing operand after a logical operator.
func (p *parser) expectOperand(op token) error {
	if p.tok.kind == tokWord || p.tok.kind == tokLParen {
		return nil
	}
	return p.errorf(p.tok, "expected expression after %q, found %s", strings.ToLower(op.text), p.tok.describe())
}

func (p *parser) parseUnary(inValue bool) (Expr, error) {
	t := p.tok
	switch t.kind {
	case tokLParen:
		return p.parseParen(t, inValue)
	case tokWord:
	default:
		return nil, p.errorf(t, "expected attribute path, \"not\" or \"(\", found %s", t.describe())
	}
	if strings.EqualFold(t.text, "not") {
		// "not" is the operator when a parenthesis follows; otherwise it is
		// an attribute named "not".
		save := p.lx.pos
		if err := p.advance(); err != nil {
			return nil, err
		}
		if p.tok.kind == tokLParen {
			x, err := p.parseParen(p.tok, inValue)
			if err != nil {
				return nil, err
			}
			return &NotExpr{X: x}, nil
		}
		p.lx.pos, p.tok = save, t
	}
	path, err := p.wordPath(t, inValue)
	if err != nil {
		return nil, err
	}
	if err := p.advance(); err != nil {
		return nil, err
	}
	if p.tok.kind == tokLBrack {
		if inValue {
			return nil, p.errorf(p.tok, "value filter inside a value filter")
		}
		return p.parseValuePath(path)
	}
	return p.parseAttrExp(path, t)
}

// parseParen parses "(" or ")" starting at the current token, lp.
func (p *parser) parseParen(lp token, inValue bool) (Expr, error) {
	if err := p.enter(lp); err != nil {
		return nil, err
	}
	if err := p.advance(); err != nil {
		return nil, err
	}
	x, err := p.parseOr(inValue)
	if err != nil {
		return nil, err
	}
	if p.tok.kind != tokRParen {
		return nil, p.errorf(p.tok, `expected ")" to close "(" at %s, found %s`, p.lx.posString(lp.pos), p.tok.describe())
	}
	p.leave()
	return x, p.advance()
}

// parseAttrExp parses the operator and value after path (written as t).
func (p *parser) parseAttrExp(path AttrPath, t token) (Expr, error) {
	opTok := p.tok
	if opTok.kind != tokWord {
		return nil, p.errorf(opTok, "expected operator after %q, found %s", t.text, opTok.describe())
	}
	if strings.EqualFold(opTok.text, "pr") {
		return &PresentExpr{Path: path}, p.advance()
	}
	op, ok := parseCompareOp(opTok.text)
	if !ok {
		return nil, p.errorf(opTok, "expected operator after %q, found %s", t.text, opTok.describe())
	}
	if err := p.advanceValue(); err != nil {
		return nil, err
	}
	v, err := p.value(op)
	if err != nil {
		return nil, err
	}
	return &CompareExpr{Path: path, Op: op, Value: v}, p.advance()
}

// parseValuePath parses "[" valFilter "]" and the optional Entra tail after
// path; the current token is "[".
func (p *parser) parseValuePath(path AttrPath) (Expr, error) {
	inner, rb, err := p.bracket(path)
	if err != nil {
		return nil, err
	}
	// `attr[f].sub op v`: the sub-attribute word must touch the "]".
	if p.tok.kind == tokWord && p.tok.text[0] == '.' && p.tok.pos == rb.pos+1 {
		subTok := p.tok
		sub, err := p.subAttr(subTok)
		if err != nil {
			return nil, err
		}
		if err := p.advance(); err != nil {
			return nil, err
		}
		cond, err := p.parseAttrExp(AttrPath{Name: sub}, token{text: path.String() + "[...]" + subTok.text})
		if err != nil {
			return nil, err
		}
		return &ValuePathExpr{Path: path, Filter: &LogicalExpr{And: true, Left: inner, Right: cond}}, nil
	}
	// `attr[f] op v` compares the "value" sub-attribute.
	if p.tok.kind == tokWord {
		if _, ok := parseCompareOp(p.tok.text); ok || strings.EqualFold(p.tok.text, "pr") {
			cond, err := p.parseAttrExp(AttrPath{Name: "value"}, token{text: path.String() + "[...]"})
			if err != nil {
				return nil, err
			}
			return &ValuePathExpr{Path: path, Filter: &LogicalExpr{And: true, Left: inner, Right: cond}}, nil
		}
	}
	return &ValuePathExpr{Path: path, Filter: inner}, nil
}

// bracket parses "[" valFilter "]" and returns the filter and the "]" token;
// the current token is "[" and is the token after "]" on return.
func (p *parser) bracket(path AttrPath) (Expr, token, error) {
	lb := p.tok
	if path.Sub != "" {
		return nil, token{}, p.errorf(lb, "value filter after sub-attribute %q; write %s[...].%s", path.Sub,
			AttrPath{URN: path.URN, Name: path.Name}, path.Sub)
	}
	if err := p.enter(lb); err != nil {
		return nil, token{}, err
	}
	if err := p.advance(); err != nil {
		return nil, token{}, err
	}
	if p.tok.kind == tokRBrack {
		return nil, token{}, p.errorf(p.tok, "empty value filter")
	}
	inner, err := p.parseOr(true)
	if err != nil {
		return nil, token{}, err
	}
	if p.tok.kind != tokRBrack {
		return nil, token{}, p.errorf(p.tok, `expected "]" to close "[" at %s, found %s`, p.lx.posString(lb.pos), p.tok.describe())
	}
	p.leave()
	rb := p.tok
	return inner, rb, p.advance()
}

// value parses the comparison value after op (the current token).
func (p *parser) value(op CompareOp) (any, error) {
	t := p.tok
	switch t.kind {
	case tokString:
		return lexUnquote(t.text), nil
	case tokNumber:
		return json.Number(t.text), nil
	case tokBare:
		if !utf8.ValidString(t.text) {
			return nil, p.errorf(t, "value after %q is not valid UTF-8", string(op))
		}
		return t.text, nil
	case tokWord:
		switch {
		case strings.EqualFold(t.text, "true"):
			return true, nil
		case strings.EqualFold(t.text, "false"):
			return false, nil
		case strings.EqualFold(t.text, "null"):
			return nil, nil
		}
		return nil, p.errorf(t, "expected value after %q, found %s (strings must be quoted)", string(op), t.describe())
	}
	return nil, p.errorf(t, "expected value after %q, found %s", string(op), t.describe())
}

func parseCompareOp(w string) (CompareOp, bool) {
	if len(w) != 2 {
		return "", false
	}
	switch CompareOp([]byte{w[0] | 0x20, w[1] | 0x20}) {
	case OpEq:
		return OpEq, true
	case OpNe:
		return OpNe, true
	case OpCo:
		return OpCo, true
	case OpSw:
		return OpSw, true
	case OpEw:
		return OpEw, true
	case OpGt:
		return OpGt, true
	case OpGe:
		return OpGe, true
	case OpLt:
		return OpLt, true
	case OpLe:
		return OpLe, true
	}
	return "", false
}

// wordPath parses the attribute path written as the word t (RFC 7644
// §3.10 attrPath: [URI ":"] ATTRNAME *1subAttr). When the word starts with
// "urn:", the attribute is what follows the last ":", so URNs with dotted
// segments ("...:2.0:User") need no special case. In a value filter only a
// bare sub-attribute name is allowed.
func (p *parser) wordPath(t token, inValue bool) (AttrPath, error) {
	var path AttrPath
	rest := t.text
	if len(rest) >= 4 && strings.EqualFold(rest[:4], "urn:") {
		i := strings.LastIndexByte(rest, ':')
		path.URN, rest = rest[:i], rest[i+1:]
		if strings.Contains(path.URN, "::") || strings.HasSuffix(path.URN, ":") || len(path.URN) == 3 {
			return AttrPath{}, p.errorf(t, "invalid schema URN %q", path.URN)
		}
		if rest == "" || !lexAlpha(rest[0]) && rest[0] != '$' {
			return AttrPath{}, p.errorf(t, "expected attribute name after schema URN in %q", t.text)
		}
	}
	name, sub, dotted := strings.Cut(rest, ".")
	if !filterAttrName(name) {
		return AttrPath{}, p.errorf(t, "invalid attribute name %q", t.text)
	}
	if dotted && !filterAttrName(sub) {
		return AttrPath{}, p.errorf(t, "invalid sub-attribute name in %q", t.text)
	}
	path.Name, path.Sub = name, sub
	if inValue && (path.URN != "" || path.Sub != "") {
		return AttrPath{}, p.errorf(t, "expected a sub-attribute name in value filter, found %q", t.text)
	}
	return path, nil
}

// subAttr parses the ".sub" word t after a value filter's "]".
func (p *parser) subAttr(t token) (string, error) {
	sub := t.text[1:]
	if !filterAttrName(sub) {
		return "", p.errorf(t, "invalid sub-attribute %q after value filter", t.text)
	}
	return sub, nil
}

// validName reports whether s is an ATTRNAME of RFC 7643 §2.1 (ALPHA
// *(nameChar), nameChar = "-" / "_" / DIGIT / ALPHA) or "$ref".
func filterAttrName(s string) bool {
	if s == "" {
		return false
	}
	if s[0] == '$' {
		return strings.EqualFold(s, "$ref")
	}
	if !lexAlpha(s[0]) {
		return false
	}
	for i := 1; i < len(s); i++ {
		if c := s[i]; !lexAlpha(c) && !lexDigit(c) && c != '-' && c != '_' {
			return false
		}
	}
	return true
}

// posString formats byte offset pos as "line:col".
func (lx *lexer) posString(pos int) string {
	d := lx.errorf(pos, "").Detail
	return d[:len(d)-2]
}
