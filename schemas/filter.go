package schemas

// The filter AST (RFC 7644 §3.4.2.2). The projection plans index lookups over
// it, so its shape is part of the package's API.

// Expr is a filter expression: *CompareExpr, *PresentExpr, *LogicalExpr,
// *NotExpr or *ValuePathExpr.
type Expr interface {
	// String prints the expression in filter syntax; parsing the result
	// yields an equal expression.
	String() string
	expr()
}

// AttrPath is an attribute path as written in a filter or PATCH path:
// optional schema URN, attribute name, optional sub-attribute. Names are kept
// as written; resolve them against a ResourceType (case-insensitively) with
// ResourceType.Lookup.
type AttrPath struct {
	URN  string // "" for the core schema (or as written, when given)
	Name string // e.g. "emails"
	Sub  string // e.g. "value", or ""
}

// CompareOp is a comparison operator.
type CompareOp string

const (
	OpEq CompareOp = "eq"
	OpNe CompareOp = "ne"
	OpCo CompareOp = "co"
	OpSw CompareOp = "sw"
	OpEw CompareOp = "ew"
	OpGt CompareOp = "gt"
	OpGe CompareOp = "ge"
	OpLt CompareOp = "lt"
	OpLe CompareOp = "le"
)

// CompareExpr is `path op value`. Value is a string, bool, json.Number or nil
// (for the literal null).
type CompareExpr struct {
	Path  AttrPath
	Op    CompareOp
	Value any
}

// PresentExpr is `path pr`.
type PresentExpr struct {
	Path AttrPath
}

// LogicalExpr is `left and right` or `left or right`.
type LogicalExpr struct {
	And         bool // false means or
	Left, Right Expr
}

// NotExpr is `not (x)`.
type NotExpr struct {
	X Expr
}

// ValuePathExpr is `path[filter]`: some value of the multi-valued complex
// attribute Path matches Filter, whose paths are relative to the value
// (their Name is the sub-attribute). Entra's `emails[type eq "work"].value eq
// "x"` parses as a ValuePathExpr whose Filter is the and of both conditions.
type ValuePathExpr struct {
	Path   AttrPath
	Filter Expr
}

func (*CompareExpr) expr()   {}
func (*PresentExpr) expr()   {}
func (*LogicalExpr) expr()   {}
func (*NotExpr) expr()       {}
func (*ValuePathExpr) expr() {}
