package schemas

import (
	"encoding/json"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Filter evaluation (RFC 7644 §3.4.2.2). Matches runs once per resource in
// list scans, so the common path does not allocate: names resolve with
// ResourceType.Lookup (map reads), values are read from the canonical
// Resource in place, and strings compare with case folding rune by rune.
//
// Choices where RFC 7644 §3.4.2.2 leaves room:
//   - "ne" is the negation of "eq": it is true when the attribute is absent,
//     and for a multi-valued attribute when no value equals. So `title ne
//     "x"` and `not (title eq "x")` agree.
//   - `attr eq null` is true when the attribute has no value; `attr ne null`
//     when it has one. Other operators never match null.
//   - A comparison with a complex attribute compares its "value"
//     sub-attribute (`emails eq "x"` is `emails.value eq "x"`).
//   - Unknown attributes, and values of the wrong type, match nothing
//     (CheckFilter rejects both before evaluation).
//   - binary values compare case-exactly, whatever caseExact says
//     (RFC 7643 §2.3.6).

// Matches reports whether r matches e, comparing by attribute type
// (caseExact, dateTime as instants, numbers numerically). A multi-valued
// attribute matches if any value matches. Unknown attributes match nothing.
// Extension attributes are read from under their schema URN (see Resource).
func (rt *ResourceType) Matches(e Expr, r Resource) bool {
	return rt.match(e, r, nil, nil)
}

// valueScope is the complex attribute whose values a value filter tests.
type valueScope struct {
	attr  *Attribute
	canon AttrPath
}

// match evaluates e against obj: the resource when parent is nil, else one
// value of the complex attribute parent (canonical path) inside a value
// filter, whose paths name sub-attributes. d, when not nil, holds the
// resource's meta and membership (MatchesDerived).
func (rt *ResourceType) match(e Expr, obj map[string]any, parent *valueScope, d *Derived) bool {
	if d != nil && parent == nil {
		if m, ok := rt.matchDerived(e, d); ok {
			return m
		}
	}
	switch e := e.(type) {
	case *CompareExpr:
		a, canon, v, ok := rt.resolve(e.Path, obj, parent)
		if !ok {
			return false
		}
		eq := e.Op == OpEq || e.Op == OpNe
		if e.Value == nil {
			// `eq null` means absent; no other operator matches null.
			if !eq {
				return false
			}
			return present(canon, v) == (e.Op == OpNe)
		}
		c := comparison{op: e.Op, want: e.Value}
		if eq {
			c.op = OpEq
		}
		found := c.anyValue(a, canon, v)
		if e.Op == OpNe {
			return !found
		}
		return found
	case *PresentExpr:
		_, canon, v, ok := rt.resolve(e.Path, obj, parent)
		return ok && present(canon, v)
	case *LogicalExpr:
		if e.And {
			return rt.match(e.Left, obj, parent, d) && rt.match(e.Right, obj, parent, d)
		}
		return rt.match(e.Left, obj, parent, d) || rt.match(e.Right, obj, parent, d)
	case *NotExpr:
		return !rt.match(e.X, obj, parent, d)
	case *ValuePathExpr:
		if parent != nil {
			return false
		}
		a, canon, v, ok := rt.resolve(e.Path, obj, nil)
		if !ok || a.Type != TypeComplex || canon.Sub != "" {
			return false
		}
		scope := valueScope{attr: a, canon: canon}
		switch v := v.(type) {
		case map[string]any:
			return rt.match(e.Filter, v, &scope, d)
		case []any:
			for _, el := range v {
				if m, ok := el.(map[string]any); ok && rt.match(e.Filter, m, &scope, d) {
					return true
				}
			}
		}
	}
	return false
}

// resolve looks p up and returns its definition, its canonical path and the
// value it starts from: the attribute's value (for a sub-attribute path, the
// value of the parent attribute, a map or a slice of maps), or inside a
// value filter the sub-attribute's value in obj.
func (rt *ResourceType) resolve(p AttrPath, obj map[string]any, parent *valueScope) (*Attribute, AttrPath, any, bool) {
	if parent != nil {
		if p.URN != "" || p.Sub != "" {
			return nil, AttrPath{}, nil, false
		}
		a := subAttribute(parent.attr, p.Name)
		if a == nil {
			return nil, AttrPath{}, nil, false
		}
		// The value is the element's own sub-attribute: no further descent.
		return a, AttrPath{Name: a.Name}, obj[a.Name], true
	}
	a, canon, ok := rt.lookupFilter(p)
	if !ok {
		return nil, AttrPath{}, nil, false
	}
	container := obj
	if canon.URN != "" {
		container, _ = obj[canon.URN].(map[string]any)
	}
	return a, canon, container[canon.Name], true
}

// schemasAttr defines "schemas" for filters, which RFC 7644 §3.4.2.2
// filters on (`schemas eq "urn:...:enterprise:2.0:User"`) although no schema
// defines it (RFC 7643 §3). URIs compare case-insensitively.
var schemasAttr = &Attribute{Name: "schemas", Type: TypeReference, MultiValued: true, Mutability: ReadOnly, Returned: ReturnedAlways}

// lookupFilter is Lookup plus "schemas".
func (rt *ResourceType) lookupFilter(p AttrPath) (*Attribute, AttrPath, bool) {
	a, canon, ok := rt.Lookup(p)
	if !ok && p.URN == "" && p.Sub == "" && strings.EqualFold(p.Name, "schemas") {
		return schemasAttr, AttrPath{Name: "schemas"}, true
	}
	return a, canon, ok
}

// subAttribute returns a's sub-attribute named name, case-insensitively
// (RFC 7643 §2.1), or nil. A scan of the few sub-attributes is cheaper than
// a map lookup with hashing.
func subAttribute(a *Attribute, name string) *Attribute {
	for _, s := range a.SubAttributes {
		if strings.EqualFold(s.Name, name) {
			return s
		}
	}
	return nil
}

// comparison is one `op want` test, applied to values.
type comparison struct {
	op   CompareOp // OpEq for eq and ne
	want any
}

// anyValue reports whether any value reachable from v (see resolve)
// satisfies c, a being the definition of canon.
func (c comparison) anyValue(a *Attribute, canon AttrPath, v any) bool {
	switch {
	case canon.Sub != "":
		// name.givenName, emails.value: v is the parent's map or maps.
		return c.anyOf(a, canon.Sub, v)
	case a.Type == TypeComplex:
		// emails eq "x" compares emails.value (RFC 7644 §3.4.2.2).
		va := subAttribute(a, "value")
		if va == nil {
			return false
		}
		return c.anyOf(va, va.Name, v)
	}
	return c.anyLeaf(a, v)
}

// anyOf tests sub-attribute sub of the complex value v (a map or a slice
// of maps).
func (c comparison) anyOf(a *Attribute, sub string, v any) bool {
	switch v := v.(type) {
	case map[string]any:
		return c.anyLeaf(a, v[sub])
	case []any:
		for _, el := range v {
			if m, ok := el.(map[string]any); ok && c.anyLeaf(a, m[sub]) {
				return true
			}
		}
	}
	return false
}

// anyLeaf tests a simple value, or each value of a multi-valued one.
func (c comparison) anyLeaf(a *Attribute, v any) bool {
	if vs, ok := v.([]any); ok {
		for _, el := range vs {
			if c.leaf(a, el) {
				return true
			}
		}
		return false
	}
	return v != nil && c.leaf(a, v)
}

// leaf compares one simple value of attribute a by a's type.
func (c comparison) leaf(a *Attribute, v any) bool {
	switch a.Type {
	case TypeBoolean:
		got, ok1 := v.(bool)
		want, ok2 := c.want.(bool)
		return ok1 && ok2 && c.op == OpEq && got == want
	case TypeInteger, TypeDecimal:
		n, ok := compareNumbers(v, c.want)
		return ok && orderMatches(c.op, n)
	case TypeDateTime:
		got, ok1 := v.(string)
		want, ok2 := c.want.(string)
		if !ok1 || !ok2 {
			return false
		}
		if c.op == OpCo || c.op == OpSw || c.op == OpEw {
			return stringMatches(c.op, got, want, true)
		}
		gt, err1 := time.Parse(time.RFC3339Nano, got)
		wt, err2 := time.Parse(time.RFC3339Nano, want)
		if err1 != nil || err2 != nil {
			return false
		}
		return orderMatches(c.op, gt.Compare(wt))
	case TypeComplex:
		return false
	}
	// string, reference, binary
	got, ok1 := v.(string)
	want, ok2 := c.want.(string)
	return ok1 && ok2 && stringMatches(c.op, got, want, a.CaseExact || a.Type == TypeBinary)
}

// orderMatches applies eq and the ordering operators to a comparison result.
func orderMatches(op CompareOp, n int) bool {
	switch op {
	case OpEq:
		return n == 0
	case OpGt:
		return n > 0
	case OpGe:
		return n >= 0
	case OpLt:
		return n < 0
	case OpLe:
		return n <= 0
	}
	return false
}

func stringMatches(op CompareOp, got, want string, caseExact bool) bool {
	if caseExact {
		switch op {
		case OpEq:
			return got == want
		case OpCo:
			return strings.Contains(got, want)
		case OpSw:
			return strings.HasPrefix(got, want)
		case OpEw:
			return strings.HasSuffix(got, want)
		}
		return orderMatches(op, strings.Compare(got, want))
	}
	switch op {
	case OpEq:
		return strings.EqualFold(got, want)
	case OpCo:
		return containsFold(got, want)
	case OpSw:
		_, ok := trimPrefixFold(got, want)
		return ok
	case OpEw:
		return hasSuffixFold(got, want)
	}
	return orderMatches(op, compareFold(got, want))
}

// present reports whether v (see resolve) holds a non-empty value for
// canon: "If the attribute has a non-empty value, or if it contains a
// non-empty node for complex attributes, there is a match" (RFC 7644
// §3.4.2.2).
func present(canon AttrPath, v any) bool {
	if canon.Sub == "" {
		return nonEmpty(v)
	}
	switch v := v.(type) {
	case map[string]any:
		return nonEmpty(v[canon.Sub])
	case []any:
		for _, el := range v {
			if m, ok := el.(map[string]any); ok && nonEmpty(m[canon.Sub]) {
				return true
			}
		}
	}
	return false
}

func nonEmpty(v any) bool {
	switch v := v.(type) {
	case nil:
		return false
	case string:
		return v != ""
	case map[string]any:
		for _, x := range v {
			if nonEmpty(x) {
				return true
			}
		}
		return false
	case []any:
		for _, x := range v {
			if nonEmpty(x) {
				return true
			}
		}
		return false
	}
	return true
}

// compareNumbers compares two numbers (json.Number as decoded, or Go
// numbers) numerically: integers exactly, anything else as float64.
func compareNumbers(a, b any) (int, bool) {
	ai, af, aInt, ok1 := number(a)
	bi, bf, bInt, ok2 := number(b)
	if !ok1 || !ok2 {
		return 0, false
	}
	if aInt && bInt {
		switch {
		case ai < bi:
			return -1, true
		case ai > bi:
			return 1, true
		}
		return 0, true
	}
	if aInt {
		af = float64(ai)
	}
	if bInt {
		bf = float64(bi)
	}
	if math.IsNaN(af) || math.IsNaN(bf) {
		return 0, false
	}
	switch {
	case af < bf:
		return -1, true
	case af > bf:
		return 1, true
	}
	return 0, true
}

// number converts v to an int64 when it is an integer that fits, else to a
// float64. It does not allocate on valid JSON numbers.
func number(v any) (i int64, f float64, isInt, ok bool) {
	switch v := v.(type) {
	case json.Number:
		s := string(v)
		if !strings.ContainsAny(s, ".eE") && len(s) <= 18 {
			if i, err := strconv.ParseInt(s, 10, 64); err == nil {
				return i, 0, true, true
			}
		}
		f, err := strconv.ParseFloat(s, 64)
		return 0, f, false, err == nil
	case int:
		return int64(v), 0, true, true
	case int64:
		return v, 0, true, true
	case float64:
		return 0, v, false, true
	}
	return 0, 0, false, false
}

// Case folding without allocation. Two runes are equal under folding when
// one is in the other's unicode.SimpleFold orbit, as strings.EqualFold
// decides.

func foldRuneEqual(r, s rune) bool {
	if r == s {
		return true
	}
	if r < utf8.RuneSelf && s < utf8.RuneSelf {
		if 'A' <= r && r <= 'Z' {
			r += 'a' - 'A'
		}
		if 'A' <= s && s <= 'Z' {
			s += 'a' - 'A'
		}
		return r == s
	}
	for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
		if f == s {
			return true
		}
	}
	return false
}

// trimPrefixFold reports whether s starts with prefix under case folding
// and returns the rest of s.
func trimPrefixFold(s, prefix string) (string, bool) {
	for prefix != "" {
		if s == "" {
			return "", false
		}
		r, n := utf8.DecodeRuneInString(s)
		p, m := utf8.DecodeRuneInString(prefix)
		if !foldRuneEqual(r, p) {
			return "", false
		}
		s, prefix = s[n:], prefix[m:]
	}
	return s, true
}

func hasSuffixFold(s, suffix string) bool {
	for suffix != "" {
		if s == "" {
			return false
		}
		r, n := utf8.DecodeLastRuneInString(s)
		p, m := utf8.DecodeLastRuneInString(suffix)
		if !foldRuneEqual(r, p) {
			return false
		}
		s, suffix = s[:len(s)-n], suffix[:len(suffix)-m]
	}
	return true
}

func containsFold(s, sub string) bool {
	for {
		if _, ok := trimPrefixFold(s, sub); ok {
			return true
		}
		if s == "" {
			return false
		}
		_, n := utf8.DecodeRuneInString(s)
		s = s[n:]
	}
}

// compareFold orders a and b by their lower-cased runes.
func compareFold(a, b string) int {
	for a != "" && b != "" {
		r, n := utf8.DecodeRuneInString(a)
		s, m := utf8.DecodeRuneInString(b)
		if !foldRuneEqual(r, s) {
			r, s = unicode.ToLower(r), unicode.ToLower(s)
			if r < s {
				return -1
			}
			if r > s {
				return 1
			}
		}
		a, b = a[n:], b[m:]
	}
	switch {
	case a == "" && b == "":
		return 0
	case a == "":
		return -1
	}
	return 1
}

// Fold returns the form under which case-insensitive values compare: two
// values are equal ignoring case, as the evaluator decides (eq, with
// strings.EqualFold), exactly when their folds are equal, and one starts
// with the other ignoring case (sw) exactly when its fold starts with the
// other's. Every rune becomes the least rune of its unicode.SimpleFold
// orbit, lower-cased when that is ASCII (so ASCII reads as lower case), and
// invalid UTF-8 becomes U+FFFD. The projection keys its case-insensitive
// indexes by it, so that an index plan answers what a scan with the
// evaluator would, and the bridge tells by it which writes touch the same
// userName.
func Fold(s string) string {
	ascii := true
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			ascii = false
			break
		}
	}
	if ascii {
		return strings.ToLower(s)
	}
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range s {
		b.WriteRune(foldRune(r))
	}
	return b.String()
}

// foldRune is Fold of one rune.
func foldRune(r rune) rune {
	m := r
	for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
		m = min(m, f)
	}
	if 'A' <= m && m <= 'Z' {
		m += 'a' - 'A'
	}
	return m
}
