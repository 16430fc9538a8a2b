package scimhttp

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"

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
//     any case, which are Entra's booleans (docs/idp-quirks.md Q2), not data;
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
