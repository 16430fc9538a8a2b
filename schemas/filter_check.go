package schemas

import (
	"encoding/json"
	"math"
	"strconv"
	"time"
)

// CheckFilter validates a parsed filter against the resource type (RFC 7644
// §3.4.2.2): every attribute must resolve (ResourceType.Lookup), value
// filters apply only to complex attributes, and each comparison must suit
// the attribute's type: ordering operators (gt, ge, lt, le) are not defined
// on boolean or binary attributes, co/sw/ew only on string and reference
// ones, the value must be of the attribute's type (a dateTime a valid RFC
// 3339 instant), and null compares only with eq and ne. A comparison with a
// complex attribute compares its "value" sub-attribute. Errors are *Error of
// KindInvalidFilter. The nesting is bounded by MaxFilterDepth, as the parser
// bounds it, for trees built by hand.
func (rt *ResourceType) CheckFilter(e Expr) error {
	return rt.check(e, nil, 0)
}

func (rt *ResourceType) check(e Expr, parent *AttrPath, depth int) error {
	if depth > MaxFilterDepth {
		return Errorf(KindInvalidFilter, "filter nested more than %d levels deep", MaxFilterDepth)
	}
	switch e := e.(type) {
	case *CompareExpr:
		a, canon, err := rt.checkPath(e.Path, parent)
		if err != nil {
			return err
		}
		if a.Type == TypeComplex && parent == nil {
			// emails eq "x" compares emails.value (RFC 7644 §3.4.2.2).
			va, _, ok := rt.Lookup(AttrPath{URN: canon.URN, Name: canon.Name, Sub: "value"})
			if !ok {
				return Errorf(KindInvalidFilter, "cannot compare complex attribute %q; compare one of its sub-attributes", e.Path.String())
			}
			a = va
		}
		return checkCompare(a, e, parent)
	case *PresentExpr:
		_, _, err := rt.checkPath(e.Path, parent)
		return err
	case *LogicalExpr:
		// Depth counts what the printed filter parenthesises.
		prec := filterPrecedence(e)
		ld, rd := depth, depth
		if filterPrecedence(e.Left) < prec {
			ld++
		}
		if filterPrecedence(e.Right) <= prec {
			rd++
		}
		if err := rt.check(e.Left, parent, ld); err != nil {
			return err
		}
		return rt.check(e.Right, parent, rd)
	case *NotExpr:
		return rt.check(e.X, parent, depth+1)
	case *ValuePathExpr:
		if parent != nil {
			return Errorf(KindInvalidFilter, "value filter %q inside a value filter", e.Path.String())
		}
		a, canon, err := rt.checkPath(e.Path, nil)
		if err != nil {
			return err
		}
		if a.Type != TypeComplex || canon.Sub != "" {
			return Errorf(KindInvalidFilter, "value filter on %q, which is not a complex attribute", e.Path.String())
		}
		return rt.check(e.Filter, &canon, depth+1)
	case nil:
		return Errorf(KindInvalidFilter, "empty filter")
	}
	return Errorf(KindInvalidFilter, "unsupported filter expression %T", e)
}

// checkPath resolves p, a sub-attribute name of parent inside a value filter.
func (rt *ResourceType) checkPath(p AttrPath, parent *AttrPath) (*Attribute, AttrPath, error) {
	if parent != nil {
		full := AttrPath{URN: parent.URN, Name: parent.Name, Sub: p.Name}
		if p.URN != "" || p.Sub != "" {
			return nil, AttrPath{}, Errorf(KindInvalidFilter, "%q in the value filter of %q is not a sub-attribute name", p.String(), parent.String())
		}
		a, canon, ok := rt.Lookup(full)
		if !ok {
			return nil, AttrPath{}, Errorf(KindInvalidFilter, "unknown attribute %q", full.String())
		}
		return a, canon, nil
	}
	a, canon, ok := rt.lookupFilter(p)
	if !ok {
		return nil, AttrPath{}, Errorf(KindInvalidFilter, "unknown attribute %q", p.String())
	}
	return a, canon, nil
}

// checkCompare checks e's operator and value against a, the definition the
// comparison applies to.
func checkCompare(a *Attribute, e *CompareExpr, parent *AttrPath) error {
	name := e.Path.String()
	if parent != nil {
		name = AttrPath{URN: parent.URN, Name: parent.Name, Sub: e.Path.Name}.String()
	}
	if _, ok := parseCompareOp(string(e.Op)); !ok {
		return Errorf(KindInvalidFilter, "unknown operator %q", string(e.Op))
	}
	op := e.Op
	ordering := op == OpGt || op == OpGe || op == OpLt || op == OpLe
	substring := op == OpCo || op == OpSw || op == OpEw
	if e.Value == nil {
		if op != OpEq && op != OpNe {
			return Errorf(KindInvalidFilter, "%q %s null: only eq and ne compare with null", name, op)
		}
		return nil
	}
	if substring && a.Type != TypeString && a.Type != TypeReference {
		return Errorf(KindInvalidFilter, "operator %q is not supported on %s attribute %q", string(op), a.Type, name)
	}
	if ordering && (a.Type == TypeBoolean || a.Type == TypeBinary) {
		return Errorf(KindInvalidFilter, "operator %q is not supported on %s attribute %q", string(op), a.Type, name)
	}
	wrong := func() error {
		return Errorf(KindInvalidFilter, "%s attribute %q cannot be compared with %s", a.Type, name, string(appendValue(nil, e.Value)))
	}
	switch a.Type {
	case TypeBoolean:
		if _, ok := e.Value.(bool); !ok {
			return wrong()
		}
	case TypeInteger:
		n, ok := e.Value.(json.Number)
		if !ok {
			return wrong()
		}
		if _, err := strconv.ParseInt(string(n), 10, 64); err != nil {
			f, err := strconv.ParseFloat(string(n), 64)
			if err != nil || f != math.Trunc(f) {
				return wrong()
			}
		}
	case TypeDecimal:
		n, ok := e.Value.(json.Number)
		if !ok {
			return wrong()
		}
		if _, err := strconv.ParseFloat(string(n), 64); err != nil {
			return wrong()
		}
	case TypeDateTime:
		s, ok := e.Value.(string)
		if !ok {
			return wrong()
		}
		if _, err := time.Parse(time.RFC3339Nano, s); err != nil {
			return Errorf(KindInvalidFilter, "dateTime attribute %q cannot be compared with %q: not an RFC 3339 date and time", name, s)
		}
	case TypeComplex:
		return Errorf(KindInvalidFilter, "cannot compare complex attribute %q; compare one of its sub-attributes", name)
	default: // string, reference, binary
		if _, ok := e.Value.(string); !ok {
			return wrong()
		}
	}
	return nil
}
