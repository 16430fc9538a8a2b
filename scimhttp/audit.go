package scimhttp

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/scim-bridge/scim-bridge/schemas"
)

// The audit log records one line per write request (POST, PUT, PATCH,
// DELETE; searches are reads) of an audited tenant, at Info on
// Options.AuditLogger, after the response is written:
//
//	msg="scim write" request_id=… tenant=acme method=PATCH
//	route=/scim/v2/Users/{id} resource_id=… status=200 body_bytes=312
//	body={"schemas":["urn:…:PatchOp"],"Operations":[{"op":"Replace",…}]}
//
// resource_id is the id in the URL, or for a create the id of the new
// resource (from Location): ids are ours, not personal data. body is the
// request body redacted, to show what an IdP sent (its shape, attribute
// names, PATCH op names and paths, how it types booleans) and never a
// value that could name or identify a person:
//
//   - the JSON shape and key order are kept; keys are kept too (they are
//     attribute names and URNs), with quoted literals inside them redacted,
//     since Entra sends keys like `emails[type eq "work"].value`;
//   - every string becomes "<redacted:N chars>" (N counts characters), so
//     an empty string still shows as one;
//   - the value of a secret, an attribute the schema never returns
//     (returned "never" or mutability "writeOnly": "password"), becomes
//     "<redacted>" whatever it is (string, number, object, null), keeping
//     neither length nor type: under a key naming it (any case, dotted or
//     URN-qualified, at any depth) and as the "value" of a PATCH operation
//     whose "path" names it, before or after the value;
//   - kept as sent: URIs under "schemas"; "op" of a PATCH operation when it
//     is add, replace or remove in any case; "path" of a PATCH operation with
//     every literal redacted, quoted or not (`members[value eq "<redacted:36
//     chars>"]`), wholly redacted if anything else in it is not path syntax;
//     short tokens ([A-Za-z0-9_-], at most 32) under "type" and
//     "resourceType" ("work", "User"); and the strings "true" and "false" in
//     any case, which are Entra's booleans (IDP-QUIRKS Q2), not data;
//   - JSON booleans and null are kept; numbers become "<number>".
//
// A bulk request (POST /Bulk) is one line: each operation's "data" is
// redacted as the body of that single request would be, its "method" is
// kept when it is one of the four, its "path" keeps the endpoint and an id
// that looks like one (a "bulkId:" reference keeps only the prefix), and
// its "bulkId" and "version" are redacted like any string. The line adds
// what each operation that ran did, with ids and statuses only:
//
//	operations=[{"method":"POST","resource_id":"…","status":201},
//	            {"method":"PATCH","resource_id":"…","status":404}]
//
// A write that ignored unknown input (schemas.Unknowns: attributes the
// schema does not define, attributes under an unknown schema URN, member
// ids that name nothing) adds what it ignored, so an operator sees an
// identity provider's mapping problem:
//
//	ignored_count=2 ignored=[{"kind":"schema","name":"urn:…:CustomExt:2.0:User:costCode"},
//	                         {"kind":"member","name":"01a2…"}]
//
// Names are shown as body keys are (redactKey), member ids when they look
// like ids (at most 128 of [A-Za-z0-9._:-]), else redacted; at most
// maxAuditIgnored are listed, ignored_count counts them all.
//
// Only the first Options.MaxBodyBytes of a body are seen (the handler reads
// no more); a larger body, one that is not JSON, or one refused unread
// (its Content-Length over the limit, a wrong Content-Type) shows as a
// string saying so; body_bytes counts what was read, or the declared length
// of an unread body. Nesting deeper than maxAuditDepth shows as "<too deep>".
const maxAuditDepth = 32

// maxAuditIgnored bounds the ignored names one audit line lists.
const maxAuditIgnored = 100

// isWrite reports whether a request of this method changes state.
func isWrite(method string) bool {
	switch method {
	case http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete:
		return true
	}
	return false
}

// serveAudited serves r through next and writes its audit line.
func (s *Server) serveAudited(next http.Handler, rec *recorder, r *http.Request, st *requestState) {
	tee := &bodyTee{rc: r.Body, max: s.opts.MaxBodyBytes}
	if r.Body != nil && r.Body != http.NoBody {
		r.Body = tee
	}
	next.ServeHTTP(rec, r)
	if strings.HasSuffix(st.route, "/.search") {
		return // a read
	}
	status := rec.status
	if status == 0 {
		status = http.StatusOK
	}
	attrs := []any{
		"request_id", RequestIDFromContext(r.Context()),
		"tenant", st.tenant,
		"method", sanitizeMethod(r.Method),
		"route", st.route,
	}
	if id := auditResourceID(r, rec, st.route); id != "" {
		attrs = append(attrs, "resource_id", id)
	}
	attrs = append(attrs, "status", status)
	switch {
	case tee.n > 0:
		attrs = append(attrs, "body_bytes", tee.n, "body", auditBody(tee, s.secrets, st.route == Prefix+"/Bulk"))
	case r.ContentLength > 0: // refused before reading (415, 413)
		attrs = append(attrs, "body_bytes", r.ContentLength, "body", json.RawMessage(`"<not read>"`))
	}
	if len(st.ignored) > 0 {
		attrs = append(attrs, "ignored_count", len(st.ignored), "ignored", auditIgnored(st.ignored))
	}
	if len(st.bulk) > 0 {
		ops, _ := json.Marshal(st.bulk) // strings and ints only: never fails
		attrs = append(attrs, "operations", json.RawMessage(ops))
	}
	s.audit.Info("scim write", attrs...)
}

// bulkAudit is what one operation of a bulk request did, for the audit line.
type bulkAudit struct {
	Method     string `json:"method"`
	ResourceID string `json:"resource_id,omitempty"`
	Status     int    `json:"status"`
}

// auditIgnored lists what a write ignored as JSON, redacted like the body.
func auditIgnored(ig []schemas.Ignored) json.RawMessage {
	type entry struct {
		Kind string `json:"kind"`
		Name string `json:"name"`
	}
	out := make([]entry, 0, min(len(ig), maxAuditIgnored))
	for _, x := range ig[:min(len(ig), maxAuditIgnored)] {
		name := redactKey(x.Name)
		if x.Kind == schemas.IgnoredMember {
			name = x.Name
			if !isID(name) {
				name = redacted(name)
			}
		}
		out = append(out, entry{Kind: string(x.Kind), Name: name})
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(out) // strings only: never fails
	return bytes.TrimSpace(buf.Bytes())
}

// isID reports whether s looks like a resource id rather than data: the
// ids we issue are UUIDs.
func isID(s string) bool {
	if s == "" || len(s) > 128 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("._:-", c) >= 0) {
			return false
		}
	}
	return true
}

// auditResourceID is the id a write was about: the {id} of its route, or
// the new resource's id from Location.
func auditResourceID(r *http.Request, rec *recorder, route string) string {
	if strings.HasSuffix(route, "/{id}") {
		return r.URL.Path[strings.LastIndexByte(r.URL.Path, '/')+1:]
	}
	if loc := rec.Header().Get("Location"); loc != "" {
		return loc[strings.LastIndexByte(loc, '/')+1:]
	}
	return ""
}

// auditBody is the redacted body as raw JSON, which slog's JSON handler
// embeds as JSON and its text handler quotes as a string.
func auditBody(tee *bodyTee, secrets secretNames, bulk bool) json.RawMessage {
	if tee.truncated {
		return json.RawMessage(`"<larger than the body limit>"`)
	}
	top := ctxTop
	if bulk {
		top = ctxBulk
	}
	out, err := redactJSONFrom(tee.buf.Bytes(), secrets, top)
	if err != nil {
		return json.RawMessage(`"<not JSON>"`)
	}
	return out
}

// bodyTee keeps a copy of the first max bytes read through it.
type bodyTee struct {
	rc        io.ReadCloser
	max       int64
	buf       bytes.Buffer
	n         int64 // bytes read through it
	truncated bool
}

func (t *bodyTee) Read(p []byte) (int, error) {
	n, err := t.rc.Read(p)
	t.n += int64(n)
	if room := t.max - int64(t.buf.Len()); int64(n) > room {
		t.buf.Write(p[:max(room, 0)])
		t.truncated = true
	} else {
		t.buf.Write(p[:n])
	}
	return n, err
}

func (t *bodyTee) Close() error { return t.rc.Close() }

// redactCtx is where a JSON value sits, which decides what of it is kept.
type redactCtx uint8

const (
	ctxPlain      redactCtx = iota
	ctxTop                  // the document
	ctxSchemas              // under "schemas": URIs
	ctxOperations           // under the top-level "Operations"
	ctxOperation            // one PATCH operation
	ctxOp                   // its "op"
	ctxPath                 // its "path"
	ctxToken                // under "type" or "resourceType"
	ctxSecret               // a secret's value: nothing of it is shown
)

// The contexts of a BulkRequest.
const (
	ctxBulk           redactCtx = ctxSecret + 1 + iota // the document
	ctxBulkOperations                                  // under its "Operations"
	ctxBulkOperation                                   // one bulk operation, whose "data" is a ctxTop
	ctxBulkMethod                                      // its "method"
	ctxBulkPath                                        // its "path"
)

// childCtx is the context of the value under key in an object in c.
func (rw *redactWriter) childCtx(c redactCtx, key string) redactCtx {
	switch {
	case rw.secrets.names(key):
		return ctxSecret
	case strings.EqualFold(key, "schemas"):
		return ctxSchemas
	case c == ctxTop && strings.EqualFold(key, "Operations"):
		return ctxOperations
	case c == ctxBulk && strings.EqualFold(key, "Operations"):
		return ctxBulkOperations
	case c == ctxBulkOperation && strings.EqualFold(key, "data"):
		return ctxTop
	case c == ctxBulkOperation && strings.EqualFold(key, "method"):
		return ctxBulkMethod
	case c == ctxBulkOperation && strings.EqualFold(key, "path"):
		return ctxBulkPath
	case c == ctxOperation && strings.EqualFold(key, "op"):
		return ctxOp
	case c == ctxOperation && strings.EqualFold(key, "path"):
		return ctxPath
	case strings.EqualFold(key, "type"), strings.EqualFold(key, "resourceType"):
		return ctxToken
	}
	return ctxPlain
}

// elemCtx is the context of the elements of an array in c.
func elemCtx(c redactCtx) redactCtx {
	switch c {
	case ctxOperations:
		return ctxOperation
	case ctxBulkOperations:
		return ctxBulkOperation
	case ctxTop, ctxOperation, ctxBulk, ctxBulkOperation, ctxBulkMethod, ctxBulkPath:
		return ctxPlain
	}
	return c
}

// redactJSON rewrites a JSON document as the audit log shows it (see
// above), hiding wholly the values of the attributes in secrets. It fails
// on anything but exactly one JSON value.
func redactJSON(doc []byte, secrets secretNames) (json.RawMessage, error) {
	return redactJSONFrom(doc, secrets, ctxTop)
}

// redactJSONFrom is redactJSON of a document in context top: ctxTop for a
// resource, PatchOp or SearchRequest, ctxBulk for a BulkRequest.
func redactJSONFrom(doc []byte, secrets secretNames, top redactCtx) (json.RawMessage, error) {
	rw := &redactWriter{dec: newRedactDecoder(doc), out: new(bytes.Buffer), secrets: secrets}
	rw.enc = json.NewEncoder(rw.out)
	rw.enc.SetEscapeHTML(false)
	if err := rw.value(top, 0); err != nil {
		return nil, err
	}
	if _, err := rw.dec.Token(); err != io.EOF {
		return nil, errors.New("data after the JSON value")
	}
	return rw.out.Bytes(), nil
}

func newRedactDecoder(doc []byte) *json.Decoder {
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.UseNumber()
	return dec
}

type redactWriter struct {
	dec     *json.Decoder
	out     *bytes.Buffer
	enc     *json.Encoder // writes strings to out
	secrets secretNames
}

func (rw *redactWriter) value(c redactCtx, depth int) error {
	tok, err := rw.dec.Token()
	if err != nil {
		return err
	}
	if c == ctxSecret {
		rw.out.WriteString(`"<redacted>"`)
		if d, ok := tok.(json.Delim); ok && (d == '{' || d == '[') {
			return rw.skip()
		}
		return nil
	}
	switch t := tok.(type) {
	case json.Delim:
		if depth >= maxAuditDepth {
			rw.out.WriteString(`"<too deep>"`)
			return rw.skip()
		}
		if t == '{' {
			return rw.object(c, depth+1)
		}
		return rw.array(c, depth+1)
	case string:
		rw.str(redactString(c, t))
	case json.Number:
		rw.out.WriteString(`"<number>"`)
	case bool:
		rw.out.WriteString(strconv.FormatBool(t))
	case nil:
		rw.out.WriteString("null")
	}
	return nil
}

func (rw *redactWriter) object(c redactCtx, depth int) error {
	if c == ctxOperation {
		return rw.operation(depth)
	}
	rw.out.WriteByte('{')
	for i := 0; rw.dec.More(); i++ {
		if i > 0 {
			rw.out.WriteByte(',')
		}
		tok, err := rw.dec.Token()
		if err != nil {
			return err
		}
		key, _ := tok.(string) // the decoder allows only strings here
		rw.str(redactKey(key))
		rw.out.WriteByte(':')
		if err := rw.value(rw.childCtx(c, key), depth); err != nil {
			return err
		}
	}
	rw.out.WriteByte('}')
	_, err := rw.dec.Token()
	return err
}

// operation writes a PATCH operation, whose "value" is a secret's when its
// "path" names one, wherever the path stands: its members are read whole
// first, then each is redacted in document order.
func (rw *redactWriter) operation(depth int) error {
	type member struct {
		key string
		raw json.RawMessage
	}
	var members []member
	secret := false
	for rw.dec.More() {
		tok, err := rw.dec.Token()
		if err != nil {
			return err
		}
		key, _ := tok.(string)
		var raw json.RawMessage
		if err := rw.dec.Decode(&raw); err != nil {
			return err
		}
		if strings.EqualFold(key, "path") {
			var p string
			secret = secret || json.Unmarshal(raw, &p) == nil && rw.secrets.names(p)
		}
		members = append(members, member{key, raw})
	}
	if _, err := rw.dec.Token(); err != nil {
		return err
	}
	rw.out.WriteByte('{')
	for i, m := range members {
		if i > 0 {
			rw.out.WriteByte(',')
		}
		rw.str(redactKey(m.key))
		rw.out.WriteByte(':')
		c := rw.childCtx(ctxOperation, m.key)
		if secret && strings.EqualFold(m.key, "value") {
			c = ctxSecret
		}
		sub := *rw
		sub.dec = newRedactDecoder(m.raw)
		if err := sub.value(c, depth); err != nil {
			return err
		}
	}
	rw.out.WriteByte('}')
	return nil
}

func (rw *redactWriter) array(c redactCtx, depth int) error {
	rw.out.WriteByte('[')
	for i := 0; rw.dec.More(); i++ {
		if i > 0 {
			rw.out.WriteByte(',')
		}
		if err := rw.value(elemCtx(c), depth); err != nil {
			return err
		}
	}
	rw.out.WriteByte(']')
	_, err := rw.dec.Token()
	return err
}

// skip consumes the rest of an object or array whose opening was read.
func (rw *redactWriter) skip() error {
	for open := 1; open > 0; {
		tok, err := rw.dec.Token()
		if err != nil {
			return err
		}
		switch tok {
		case json.Delim('{'), json.Delim('['):
			open++
		case json.Delim('}'), json.Delim(']'):
			open--
		}
	}
	return nil
}

// str writes s as a JSON string without HTML escaping, so "<redacted>"
// stays readable.
func (rw *redactWriter) str(s string) {
	_ = rw.enc.Encode(s)              // a string always encodes
	rw.out.Truncate(rw.out.Len() - 1) // Encode's newline
}

func redacted(s string) string {
	return fmt.Sprintf("<redacted:%d chars>", utf8.RuneCountInString(s))
}

// redactString is what the audit log shows of string s in context c.
func redactString(c redactCtx, s string) string {
	if strings.EqualFold(s, "true") || strings.EqualFold(s, "false") {
		return s
	}
	switch c {
	case ctxSchemas:
		if len(s) <= 256 && (strings.HasPrefix(s, "urn:") || strings.HasPrefix(s, "http://") || strings.HasPrefix(s, "https://")) &&
			!strings.ContainsAny(s, " \"@?#") {
			return s
		}
	case ctxOp:
		if strings.EqualFold(s, "add") || strings.EqualFold(s, "replace") || strings.EqualFold(s, "remove") {
			return s
		}
	case ctxPath:
		if p, ok := redactPath(s); ok {
			return p
		}
	case ctxToken:
		if isToken(s) {
			return s
		}
	case ctxBulkMethod:
		switch strings.ToUpper(s) {
		case http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete:
			return s
		}
	case ctxBulkPath:
		return redactBulkPath(s)
	}
	return redacted(s)
}

// redactBulkPath is what the audit log shows of a bulk operation's path:
// "/<endpoint>[/<id>]" with the endpoint kept when it is a token and the
// id when it looks like one of ours (isID); a "bulkId:" reference keeps
// its prefix only, since the client chose the rest.
func redactBulkPath(p string) string {
	rest, ok := strings.CutPrefix(p, "/")
	seg, id, hasID := strings.Cut(rest, "/")
	if !ok || !isToken(seg) {
		return redacted(p)
	}
	switch ref, isRef := strings.CutPrefix(id, bulkRefPrefix); {
	case !hasID:
		return p
	case isRef:
		return "/" + seg + "/" + bulkRefPrefix + redacted(ref)
	case isID(id):
		return p
	}
	return "/" + seg + "/" + redacted(id)
}

// redactKey keeps an object key, with the quoted literals of a filter in
// it redacted; a key that is not attribute-path syntax is redacted whole.
func redactKey(k string) string {
	if p, ok := redactPath(k); ok {
		return p
	}
	return "<redacted key:" + strconv.Itoa(utf8.RuneCountInString(k)) + " chars>"
}

// redactPath replaces every literal of an attribute path or filter
// (RFC 7644 §3.4.2.2, §3.5.2) with a redacted one: quoted strings, and
// unquoted words after a comparison operator other than true, false and
// null. ok is false when something else in p is not path syntax (or a
// string is unterminated): the caller redacts it all.
func redactPath(p string) (string, bool) {
	var b strings.Builder
	afterOp := false
	for i := 0; i < len(p); i++ {
		c := p[i]
		switch {
		case c == '"':
			j := i + 1
			for ; j < len(p) && p[j] != '"'; j++ {
				if p[j] == '\\' {
					j++
				}
			}
			if j >= len(p) {
				return "", false
			}
			var lit string
			if err := json.Unmarshal([]byte(p[i:j+1]), &lit); err != nil {
				lit = p[i+1 : j]
			}
			b.WriteString(`"` + redacted(lit) + `"`)
			i, afterOp = j, false
		case isWordByte(c):
			j := i
			for j < len(p) && isWordByte(p[j]) {
				j++
			}
			w := p[i:j]
			switch {
			case afterOp && !strings.EqualFold(w, "true") && !strings.EqualFold(w, "false") && !strings.EqualFold(w, "null"):
				b.WriteString(redacted(w))
			default:
				b.WriteString(w)
			}
			afterOp = isCompareOp(w)
			i = j - 1
		case strings.IndexByte(" []()", c) >= 0:
			b.WriteByte(c)
		default:
			return "", false
		}
	}
	return b.String(), true
}

// isWordByte reports whether c belongs to a name, a URN or a number.
func isWordByte(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
		strings.IndexByte(".:_-$+", c) >= 0
}

// isCompareOp reports whether w is a filter comparison operator taking a
// value (RFC 7644 §3.4.2.2); "pr" takes none.
func isCompareOp(w string) bool {
	switch strings.ToLower(w) {
	case "eq", "ne", "co", "sw", "ew", "gt", "lt", "ge", "le":
		return true
	}
	return false
}

// isToken reports whether s is a short canonical value such as "work".
func isToken(s string) bool {
	if s == "" || len(s) > 32 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}
