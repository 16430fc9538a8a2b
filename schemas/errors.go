package schemas

import (
	"errors"
	"fmt"
)

// Kind classifies an error for the SCIM protocol. The HTTP status of each kind
// is decided at the edge (scimhttp); the scimType is decided here.
//
// Kinds are append-only: do not reorder or remove any.
type Kind int

const (
	KindOther            Kind = iota // internal error, 500
	KindInvalidValue                 // 400 invalidValue
	KindInvalidSyntax                // 400 invalidSyntax
	KindInvalidFilter                // 400 invalidFilter
	KindInvalidPath                  // 400 invalidPath
	KindNoTarget                     // 400 noTarget
	KindMutability                   // 400 mutability
	KindUniqueness                   // 409 uniqueness
	KindTooMany                      // 400 tooMany
	KindNotFound                     // 404
	KindPrecondition                 // 412 (If-Match mismatch)
	KindTooLarge                     // 413
	KindUnavailable                  // 503 (the log is unreachable)
	KindUnauthorized                 // 401
	KindInvalidVersion               // 400 invalidVers
	KindInvalidCursor                // 400 invalidCursor (RFC 9865)
	KindConflict                     // 409 without scimType (e.g. a concurrent change)
	KindRateLimited                  // 429
	KindNotImplemented               // 501
	KindMethodNotAllowed             // 405
	KindExpiredCursor                // 400 expiredCursor (RFC 9865)
)

// scimTypes maps a kind to the scimType of RFC 7644 §3.12 (and RFC 9865).
var scimTypes = map[Kind]string{
	KindInvalidValue:   "invalidValue",
	KindInvalidSyntax:  "invalidSyntax",
	KindInvalidFilter:  "invalidFilter",
	KindInvalidPath:    "invalidPath",
	KindNoTarget:       "noTarget",
	KindMutability:     "mutability",
	KindUniqueness:     "uniqueness",
	KindTooMany:        "tooMany",
	KindInvalidVersion: "invalidVers",
	KindInvalidCursor:  "invalidCursor",
	KindExpiredCursor:  "expiredCursor",
}

// Error is a SCIM error: a kind, a human detail naming the attribute or
// position at fault, and an optional cause.
type Error struct {
	Kind   Kind
	Detail string
	Err    error
}

// Errorf returns an *Error of the given kind with a formatted detail.
func Errorf(kind Kind, format string, args ...any) *Error {
	return &Error{Kind: kind, Detail: fmt.Sprintf(format, args...)}
}

func (e *Error) Error() string {
	if e.Err != nil {
		return e.Detail + ": " + e.Err.Error()
	}
	return e.Detail
}

func (e *Error) Unwrap() error { return e.Err }

// ScimType returns the scimType of RFC 7644 §3.12 for the error, or "".
func (e *Error) ScimType() string { return scimTypes[e.Kind] }

// KindOf returns the kind of the first *Error in err's chain, or KindOther.
func KindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return KindOther
}
