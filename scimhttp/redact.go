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

// The redaction of a request body for the audit line: what of each JSON
// value is shown depends on where it sits (the rules are listed with the
// audit line, in audit.go).

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

// redactPath replaces every value written in an attribute path or filter
// (RFC 7644 §3.4.2.2, §3.5.2) with a redacted one: quoted strings, and
// unquoted words after a comparison operator other than true, false and
// null, as [schemas.FilterValues] finds them with the filter parser's
// lexer. ok is false when p is not made of filter tokens (or a string is
// unterminated): the caller redacts it all.
func redactPath(p string) (string, bool) {
	vals, err := schemas.FilterValues(p)
	if err != nil {
		return "", false
	}
	var b strings.Builder
	last := 0
	for _, v := range vals {
		b.WriteString(p[last:v.Start])
		if v.Quoted {
			b.WriteString(`"` + redacted(v.Value) + `"`)
		} else {
			b.WriteString(redacted(v.Value))
		}
		last = v.End
	}
	b.WriteString(p[last:])
	return b.String(), true
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
