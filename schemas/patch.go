package schemas

import (
	"errors"
	"strings"

	"github.com/scim-bridge/scim-bridge/schemas/scimjson"
)

// DefaultMaxOperations is the PATCH operation limit scim-bridge advertises
// (ServiceProviderConfig "patch"); callers pass it, or their own, to
// ParsePatch.
const DefaultMaxOperations = 1000

// PatchOp is one operation of a PatchOp request. Op is "add", "replace" or
// "remove" (lower-cased on parse). Path is nil when absent.
type PatchOp struct {
	Op    string
	Path  *Path
	Value any // decoded JSON (UseNumber), nil when absent
}

// Patch is a parsed PatchOp request body.
type Patch struct {
	Ops []PatchOp
}

// ParsePatch decodes a PatchOp body (RFC 7644 §3.5.2). More than maxOps
// operations is KindTooMany (maxOps <= 0 means no limit); malformed bodies
// are KindInvalidSyntax; an empty Operations array is KindInvalidValue.
//
// It is lenient where identity providers are known to differ from the RFC
// (see docs/idp-quirks.md §0):
//
//   - "schemas" may be absent; when present it must contain the PatchOp URN
//     (RFC 7644 §3.5.2), else KindInvalidSyntax.
//   - member names ("Operations", "op", "path", "value") match
//     case-insensitively and unknown members (Postman's "name", a stray
//     "id") are ignored; a key given twice in one object, in any case and at
//     any depth (inside "value" too), is KindInvalidSyntax naming the key
//     (see [scimjson.Reader.DisallowDuplicateKeys]);
//   - op names match case-insensitively ("Replace", Entra without the
//     aadOptscim062020 flag); an unknown op is KindInvalidSyntax, because the
//     body then does not conform to the PatchOp schema (RFC 7644 §3.12);
//   - an empty "path" is the same as no path;
//   - "value" may be absent only for remove: add and replace without a value
//     are KindInvalidValue (RFC 7644 §3.5.2.1, §3.5.2.3 "MUST contain a
//     value member"). A JSON null value is kept (nil) and means "unassign".
//
// Paths are parsed with ParsePath; their errors (KindInvalidPath) are
// returned as they are, with the operation's index prefixed to the detail.
func ParsePatch(body []byte, maxOps int) (Patch, error) {
	r := scimjson.NewReader(body)
	r.DisallowDuplicateKeys()
	v, err := r.Value()
	if err != nil {
		var de *scimjson.DuplicateKeyError
		if errors.As(err, &de) {
			return Patch{}, requestJSONError(err, "PatchOp body")
		}
		return Patch{}, &Error{Kind: KindInvalidSyntax, Detail: "PatchOp body is not a JSON object", Err: err}
	}
	if r.End() != nil {
		return Patch{}, Errorf(KindInvalidSyntax, "PatchOp body has data after the JSON object")
	}
	raw, ok := v.(map[string]any)
	if !ok {
		return Patch{}, Errorf(KindInvalidSyntax, "PatchOp body is not a JSON object")
	}
	// Keys are unique ignoring case (DisallowDuplicateKeys), so at most one
	// matches each name.
	var schemasRaw, opsRaw any
	for k, v := range raw {
		switch {
		case strings.EqualFold(k, "schemas"):
			if schemasRaw = v; v == nil {
				schemasRaw = []any(nil) // present: null is not an array of strings
			}
		case strings.EqualFold(k, "Operations"):
			opsRaw = v
		}
	}
	if schemasRaw != nil {
		ss, ok := schemasRaw.([]any)
		if !ok {
			return Patch{}, Errorf(KindInvalidSyntax, `"schemas" is not an array of strings`)
		}
		found := false
		for _, s := range ss {
			str, ok := s.(string)
			if !ok {
				return Patch{}, Errorf(KindInvalidSyntax, `"schemas" is not an array of strings`)
			}
			found = found || strings.EqualFold(str, URNPatchOp)
		}
		if !found {
			return Patch{}, Errorf(KindInvalidSyntax, `"schemas" does not contain %s`, URNPatchOp)
		}
	}
	if opsRaw == nil {
		return Patch{}, Errorf(KindInvalidSyntax, `PatchOp body has no "Operations"`)
	}
	ops, ok := opsRaw.([]any)
	if !ok {
		return Patch{}, Errorf(KindInvalidSyntax, `"Operations" is not an array`)
	}
	if len(ops) == 0 {
		return Patch{}, Errorf(KindInvalidValue, `"Operations" is empty`)
	}
	if maxOps > 0 && len(ops) > maxOps {
		return Patch{}, Errorf(KindTooMany, "%d operations, at most %d allowed", len(ops), maxOps)
	}
	p := Patch{Ops: make([]PatchOp, 0, len(ops))}
	for i, o := range ops {
		op, err := parsePatchOp(o)
		if err != nil {
			return Patch{}, withOpIndex(err, "Operations[%d]: ", i)
		}
		p.Ops = append(p.Ops, op)
	}
	return p, nil
}

// parsePatchOp reads one element of "Operations".
func parsePatchOp(raw any) (PatchOp, error) {
	m, ok := raw.(map[string]any)
	if !ok {
		return PatchOp{}, Errorf(KindInvalidSyntax, "operation is not a JSON object")
	}
	var opRaw, pathRaw, valueRaw any
	hasValue := false
	for k, v := range m {
		switch {
		case strings.EqualFold(k, "op"):
			opRaw = v
		case strings.EqualFold(k, "path"):
			pathRaw = v
		case strings.EqualFold(k, "value"):
			valueRaw, hasValue = v, true
		}
	}
	name, ok := opRaw.(string)
	if !ok {
		return PatchOp{}, Errorf(KindInvalidSyntax, `"op" is missing or not a string`)
	}
	op := PatchOp{Op: strings.ToLower(name)}
	switch op.Op {
	case "add", "replace", "remove":
	default:
		return PatchOp{}, Errorf(KindInvalidSyntax, `unknown op %q: want "add", "replace" or "remove"`, name)
	}
	if pathRaw != nil {
		s, ok := pathRaw.(string)
		if !ok {
			return PatchOp{}, Errorf(KindInvalidSyntax, `"path" is not a string`)
		}
		if strings.TrimSpace(s) != "" {
			path, err := ParsePath(s)
			if err != nil {
				return PatchOp{}, err
			}
			op.Path = &path
		}
	}
	if !hasValue {
		if op.Op != "remove" {
			return PatchOp{}, Errorf(KindInvalidValue, `%s operation has no "value"`, op.Op)
		}
		return op, nil
	}
	op.Value = valueRaw
	return op, nil
}

// prefixDetail returns err with prefix prepended to its detail when err is an
// *Error, so that a client sees which operation failed.
func withOpIndex(err error, format string, args ...any) error {
	e, ok := err.(*Error)
	if !ok {
		return &Error{Kind: KindInvalidSyntax, Detail: strings.TrimSuffix(Errorf(KindOther, format, args...).Detail, ": "), Err: err}
	}
	c := *e
	c.Detail = Errorf(KindOther, format, args...).Detail + c.Detail
	return &c
}
