package scimhttp

import (
	"encoding/json"
	"net/url"
	"slices"
	"strings"

	"github.com/scim-bridge/scim-bridge/schemas"
)

// Schema URNs of the bulk messages (RFC 7644 §3.7).
const (
	URNBulkRequest  = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"
	URNBulkResponse = "urn:ietf:params:scim:api:messages:2.0:BulkResponse"
)

// bulkRefPrefix starts a value that names the resource a POST of the same
// request creates (RFC 7644 §3.7.2).
const bulkRefPrefix = "bulkId:"

// bulkRequest is a parsed BulkRequest (RFC 7644 §3.7).
type bulkRequest struct {
	failOnErrors int // 0: no limit
	ops          []bulkOp
	posts        map[string]int // bulkId -> index of the POST that declares it
}

// bulkOp is one operation of a BulkRequest. err, when set, is why it fails
// without running; the fields after method may then be unset.
type bulkOp struct {
	method  string // POST, PUT, PATCH or DELETE; as sent when err says it is none of them
	bulkID  string
	version string // the "version" sent, used as If-Match
	rt      *schemas.ResourceType
	id      string   // the resource of a PUT, PATCH or DELETE: an id, or "bulkId:<id>"
	data    any      // the decoded "data" of a POST, PUT or PATCH
	refs    []string // the bulkIds its path and data reference, each once
	err     error
}

// parseBulkRequest decodes a BulkRequest body. An error is the whole
// request's: the body is not a BulkRequest (KindInvalidSyntax), it holds
// more than maxOps operations (KindTooLarge, RFC 7644 §3.7.4), or two
// operations give the same bulkId (KindInvalidValue: a reference to it
// would be ambiguous). Everything else wrong with one operation is that
// operation's err.
//
// Names match case-insensitively and unknown members are ignored, as in a
// PatchOp body (schemas.ParsePatch); a key given twice in one object is
// refused by the same reader as every other body.
func parseBulkRequest(body []byte, maxOps int, reg *schemas.Registry) (bulkRequest, error) {
	v, err := schemas.ParseRequestJSON(body, "the BulkRequest", 0) // checked and counted by checkBody
	if err != nil {
		return bulkRequest{}, err
	}
	raw, ok := v.(map[string]any)
	if !ok {
		return bulkRequest{}, schemas.Errorf(schemas.KindInvalidSyntax, "the BulkRequest is not a JSON object")
	}
	f := pick(raw, "schemas", "Operations", "failOnErrors")
	schemasRaw, opsRaw, failRaw := f[0], f[1], f[2]
	if !hasURN(schemasRaw, URNBulkRequest) {
		return bulkRequest{}, schemas.Errorf(schemas.KindInvalidSyntax, `"schemas" must be an array holding %s`, URNBulkRequest)
	}
	var req bulkRequest
	if failRaw != nil {
		n, ok := failRaw.(json.Number)
		i, err := n.Int64()
		if !ok || err != nil || i < 1 {
			return bulkRequest{}, schemas.Errorf(schemas.KindInvalidValue, `"failOnErrors" must be a whole number of at least 1`)
		}
		req.failOnErrors = int(min(i, int64(maxOps)+1)) // more than the operations: no limit
	}
	ops, ok := opsRaw.([]any)
	switch {
	case opsRaw == nil:
		return bulkRequest{}, schemas.Errorf(schemas.KindInvalidSyntax, `the BulkRequest has no "Operations"`)
	case !ok:
		return bulkRequest{}, schemas.Errorf(schemas.KindInvalidSyntax, `"Operations" is not an array`)
	case len(ops) == 0:
		return bulkRequest{}, schemas.Errorf(schemas.KindInvalidValue, `"Operations" is empty`)
	case len(ops) > maxOps:
		return bulkRequest{}, schemas.Errorf(schemas.KindTooLarge, "the bulk request has %d operations, more than maxOperations (%d)", len(ops), maxOps)
	}
	req.ops = make([]bulkOp, len(ops))
	req.posts = map[string]int{}
	declared := map[string]int{} // bulkId -> first operation giving it, any method
	for i, o := range ops {
		m, ok := o.(map[string]any)
		if !ok {
			return bulkRequest{}, schemas.Errorf(schemas.KindInvalidSyntax, "Operations[%d] is not a JSON object", i)
		}
		op := parseBulkOp(m, reg)
		if op.bulkID != "" {
			if j, dup := declared[op.bulkID]; dup {
				return bulkRequest{}, schemas.Errorf(schemas.KindInvalidValue,
					"Operations[%d] and Operations[%d] both have bulkId %q; a bulkId must be unique within a request (RFC 7644 §3.7)", j, i, op.bulkID)
			}
			declared[op.bulkID] = i
			if op.method == "POST" {
				req.posts[op.bulkID] = i
			}
		}
		req.ops[i] = op
	}
	for i := range req.ops {
		op := &req.ops[i]
		for _, ref := range op.refs {
			if _, ok := req.posts[ref]; !ok && op.err == nil {
				op.err = schemas.Errorf(schemas.KindInvalidValue, "%s%s: no POST operation of this request has bulkId %q", bulkRefPrefix, ref, ref)
			}
		}
	}
	return req, nil
}

// parseBulkOp reads one element of "Operations".
func parseBulkOp(m map[string]any, reg *schemas.Registry) bulkOp {
	var op bulkOp
	f := pick(m, "method", "bulkId", "version", "path", "data")
	methodRaw, bulkIDRaw, versionRaw, pathRaw, dataRaw := f[0], f[1], f[2], f[3], f[4]
	fail := func(kind schemas.Kind, format string, args ...any) bulkOp {
		if op.err == nil {
			op.err = schemas.Errorf(kind, format, args...)
		}
		return op
	}
	method, ok := methodRaw.(string)
	op.method = method
	switch up := strings.ToUpper(method); {
	case methodRaw == nil:
		fail(schemas.KindInvalidValue, `"method" is required`)
	case !ok:
		fail(schemas.KindInvalidSyntax, `"method" is not a string`)
	case up == "POST", up == "PUT", up == "PATCH", up == "DELETE":
		op.method = up
	default:
		fail(schemas.KindInvalidValue, "method %q is not POST, PUT, PATCH or DELETE", method)
	}
	if bulkIDRaw != nil {
		id, ok := bulkIDRaw.(string)
		switch {
		case !ok:
			fail(schemas.KindInvalidSyntax, `"bulkId" is not a string`)
		case id == "":
			fail(schemas.KindInvalidValue, `"bulkId" is empty`)
		default:
			op.bulkID = id
		}
	}
	if op.method == "POST" && op.bulkID == "" {
		fail(schemas.KindInvalidValue, `"bulkId" is required with POST (RFC 7644 §3.7)`)
	}
	if versionRaw != nil {
		if op.version, ok = versionRaw.(string); !ok {
			fail(schemas.KindInvalidSyntax, `"version" is not a string`)
		}
	}
	path, ok := pathRaw.(string)
	switch {
	case pathRaw == nil:
		return fail(schemas.KindInvalidValue, `"path" is required`)
	case !ok:
		return fail(schemas.KindInvalidSyntax, `"path" is not a string`)
	}
	if op.err != nil {
		return op // a bad method leaves nothing to check the path against
	}
	rt, id, err := parseBulkPath(op.method, path, reg)
	if err != nil {
		op.err = err
		return op
	}
	op.rt, op.id = rt, id
	if ref, ok := strings.CutPrefix(id, bulkRefPrefix); ok {
		op.refs = append(op.refs, ref)
	}
	if op.method == "DELETE" {
		return op // "data" is not used
	}
	switch dataRaw.(type) {
	case nil:
		return fail(schemas.KindInvalidValue, `"data" is required with %s`, op.method)
	case map[string]any:
		op.data = dataRaw
	default:
		return fail(schemas.KindInvalidSyntax, `"data" is not a JSON object`)
	}
	walkBulkRefs(op.data, func(ref string) {
		for _, r := range op.refs {
			if r == ref {
				return
			}
		}
		op.refs = append(op.refs, ref)
	})
	slices.Sort(op.refs) // map order must not decide which error or POST comes first
	return op
}

// parseBulkPath reads an operation's path: a resource type's endpoint for
// a POST ("/Users"), one resource of it for the other methods
// ("/Users/<id>", or "/Groups/bulkId:<id>"). The endpoint matches
// case-insensitively and a trailing slash is ignored, as in a request's URL.
func parseBulkPath(method, path string, reg *schemas.Registry) (*schemas.ResourceType, string, error) {
	p := path
	if len(p) > 1 {
		p = strings.TrimSuffix(p, "/")
	}
	seg, id, hasID := strings.Cut(strings.TrimPrefix(p, "/"), "/")
	var rt *schemas.ResourceType
	for _, t := range reg.ResourceTypes() {
		if strings.EqualFold(strings.TrimPrefix(t.Endpoint, "/"), seg) {
			rt = t
		}
	}
	if rt == nil || !strings.HasPrefix(p, "/") {
		return nil, "", schemas.Errorf(schemas.KindInvalidValue, "path %q is not a resource type's endpoint (%s) or a resource under one", path, endpointList(reg))
	}
	if method == "POST" {
		if hasID {
			return nil, "", schemas.Errorf(schemas.KindInvalidValue, "a POST goes to a resource type's endpoint, e.g. %s, not to %q", rt.Endpoint, path)
		}
		return rt, "", nil
	}
	if !hasID || id == "" || strings.Contains(id, "/") {
		return nil, "", schemas.Errorf(schemas.KindInvalidValue, "%s needs the path of one resource, e.g. %s/{id}, not %q", method, rt.Endpoint, path)
	}
	id, err := url.PathUnescape(id)
	if err != nil {
		return nil, "", schemas.Errorf(schemas.KindInvalidValue, "path %q is not a valid URL path", path)
	}
	return rt, id, nil
}

func endpointList(reg *schemas.Registry) string {
	var eps []string
	for _, t := range reg.ResourceTypes() {
		eps = append(eps, t.Endpoint)
	}
	return strings.Join(eps, ", ")
}

// hasURN reports whether v is an array of strings holding urn (any case).
func hasURN(v any, urn string) bool {
	ss, _ := v.([]any)
	found := false
	for _, s := range ss {
		str, ok := s.(string)
		if !ok {
			return false
		}
		found = found || strings.EqualFold(str, urn)
	}
	return found
}

// walkBulkRefs calls fn with the bulkId of every string value in v (at any
// depth; object keys are names, not values) that is a whole "bulkId:<id>".
func walkBulkRefs(v any, fn func(ref string)) {
	switch v := v.(type) {
	case string:
		if ref, ok := strings.CutPrefix(v, bulkRefPrefix); ok {
			fn(ref)
		}
	case map[string]any:
		for _, x := range v {
			walkBulkRefs(x, fn)
		}
	case []any:
		for _, x := range v {
			walkBulkRefs(x, fn)
		}
	}
}

// replaceBulkRefs replaces, in place, every "bulkId:<id>" string value of v
// with ids[<id>] and returns v (a new string when v is one).
func replaceBulkRefs(v any, ids map[string]string) any {
	switch x := v.(type) {
	case string:
		if ref, ok := strings.CutPrefix(x, bulkRefPrefix); ok {
			if id, ok := ids[ref]; ok {
				return id
			}
		}
	case map[string]any:
		for k, e := range x {
			x[k] = replaceBulkRefs(e, ids)
		}
	case []any:
		for i, e := range x {
			x[i] = replaceBulkRefs(e, ids)
		}
	}
	return v
}

// pick returns the values of m under names, keys matched case-insensitively
// (attribute names are; a key given twice in any case was refused when the
// body was read), nil for a name m lacks.
func pick(m map[string]any, names ...string) []any {
	out := make([]any, len(names))
	for k, v := range m {
		for i, n := range names {
			if strings.EqualFold(k, n) {
				out[i] = v
				break
			}
		}
	}
	return out
}
