package schemas

import (
	"bytes"
	"encoding/json"
	"strings"
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
// (see IDP-QUIRKS.md §0):
//
//   - "schemas" may be absent; when present it must contain the PatchOp URN
//     (RFC 7644 §3.5.2), else KindInvalidSyntax.
//   - member names ("Operations", "op", "path", "value") match
//     case-insensitively and unknown members (Postman's "name", a stray
//     "id") are ignored;
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
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var raw map[string]json.RawMessage
	if err := dec.Decode(&raw); err != nil {
		return Patch{}, &Error{Kind: KindInvalidSyntax, Detail: "PatchOp body is not a JSON object", Err: err}
	}
	if dec.More() {
		return Patch{}, Errorf(KindInvalidSyntax, "PatchOp body has data after the JSON object")
	}
	var schemasRaw, opsRaw json.RawMessage
	for k, v := range raw {
		switch {
		case strings.EqualFold(k, "schemas"):
			schemasRaw = v
		case strings.EqualFold(k, "Operations"):
			opsRaw = v
		}
	}
	if schemasRaw != nil {
		var ss []string
		if err := json.Unmarshal(schemasRaw, &ss); err != nil {
			return Patch{}, &Error{Kind: KindInvalidSyntax, Detail: `"schemas" is not an array of strings`, Err: err}
		}
		if !hasFold(ss, URNPatchOp) {
			return Patch{}, Errorf(KindInvalidSyntax, `"schemas" does not contain %s`, URNPatchOp)
		}
	}
	if opsRaw == nil || bytes.Equal(bytes.TrimSpace(opsRaw), []byte("null")) {
		return Patch{}, Errorf(KindInvalidSyntax, `PatchOp body has no "Operations"`)
	}
	var ops []json.RawMessage
	if err := json.Unmarshal(opsRaw, &ops); err != nil {
		return Patch{}, &Error{Kind: KindInvalidSyntax, Detail: `"Operations" is not an array`, Err: err}
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

// parsePatchOp decodes one element of "Operations".
func parsePatchOp(raw json.RawMessage) (PatchOp, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil || m == nil {
		return PatchOp{}, &Error{Kind: KindInvalidSyntax, Detail: "operation is not a JSON object", Err: err}
	}
	var opRaw, pathRaw, valueRaw json.RawMessage
	for k, v := range m {
		switch {
		case strings.EqualFold(k, "op"):
			opRaw = v
		case strings.EqualFold(k, "path"):
			pathRaw = v
		case strings.EqualFold(k, "value"):
			valueRaw = v
		}
	}
	var name string
	if err := json.Unmarshal(opRaw, &name); opRaw == nil || err != nil {
		return PatchOp{}, Errorf(KindInvalidSyntax, `"op" is missing or not a string`)
	}
	op := PatchOp{Op: strings.ToLower(name)}
	switch op.Op {
	case "add", "replace", "remove":
	default:
		return PatchOp{}, Errorf(KindInvalidSyntax, `unknown op %q: want "add", "replace" or "remove"`, name)
	}
	if pathRaw != nil && !rawIsNull(pathRaw) {
		var s string
		if err := json.Unmarshal(pathRaw, &s); err != nil {
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
	if valueRaw == nil {
		if op.Op != "remove" {
			return PatchOp{}, Errorf(KindInvalidValue, `%s operation has no "value"`, op.Op)
		}
		return op, nil
	}
	dec := json.NewDecoder(bytes.NewReader(valueRaw))
	dec.UseNumber()
	if err := dec.Decode(&op.Value); err != nil {
		return PatchOp{}, &Error{Kind: KindInvalidSyntax, Detail: `"value" is not JSON`, Err: err}
	}
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

func rawIsNull(b json.RawMessage) bool {
	return bytes.Equal(bytes.TrimSpace(b), []byte("null"))
}

func hasFold(ss []string, s string) bool {
	for _, x := range ss {
		if strings.EqualFold(x, s) {
			return true
		}
	}
	return false
}
