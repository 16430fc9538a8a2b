package scimhttp

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/scim-bridge/scim-bridge/projection/view"
	"github.com/scim-bridge/scim-bridge/schemas"
	"github.com/scim-bridge/scim-bridge/schemas/scimjson"
)

// baseURL is the external URL of the SCIM root for r, without a trailing
// slash: Options.BaseURL, or derived from the request.
func (s *Server) baseURL(r *http.Request) string {
	if s.opts.BaseURL != "" {
		return s.opts.BaseURL
	}
	scheme, host := "http", r.Host
	if r.TLS != nil {
		scheme = "https"
	}
	if s.opts.TrustForwardedHeaders {
		if p := firstValue(r.Header.Get("X-Forwarded-Proto")); p == "http" || p == "https" {
			scheme = p
		}
		if h := firstValue(r.Header.Get("X-Forwarded-Host")); h != "" && validHost(h) {
			host = h
		}
	}
	return scheme + "://" + host + Prefix
}

// firstValue returns the first element of a comma-separated header,
// lower-cased and trimmed.
func firstValue(h string) string {
	v, _, _ := strings.Cut(h, ",")
	return strings.ToLower(strings.TrimSpace(v))
}

// validHost accepts host[:port] made of the characters a host name, an IPv4
// or a bracketed IPv6 address may contain, so a forwarded header cannot
// inject a path or a scheme into meta.location.
func validHost(h string) bool {
	if len(h) > 255 {
		return false
	}
	for i := 0; i < len(h); i++ {
		c := h[i]
		switch {
		case 'a' <= c && c <= 'z', '0' <= c && c <= '9', c == '.', c == '-', c == ':', c == '[', c == ']':
		default:
			return false
		}
	}
	return true
}

// location is the URL of a resource.
func location(base string, rt *schemas.ResourceType, id string) string {
	return base + rt.Endpoint + "/" + url.PathEscape(id)
}

// appendResource appends the representation of a stored resource: the
// schema's projection for the selection (RFC 7644 §3.4.2.5), meta (RFC 7643
// §3.1) and $ref on members and groups. It encodes meta and the $refs as it
// goes instead of building a merged map, so the bytes are those of
// encoding/json.Marshal on the map that would hold them (render_bench_test.go
// keeps that map-building path as the reference). A resource held as its
// stored JSON (view.Stored.Raw) is copied from it when the projection
// leaves it as it is (appendRaw), else decoded first.
func (s *Server) appendResource(e *encoder, base string, rt *schemas.ResourceType, st view.Stored, sel schemas.Selection) {
	if st.Raw != "" {
		if s.appendRaw(e, base, rt, st, sel) {
			return
		}
		var err error
		if st, err = decodeRaw(st); err != nil {
			if e.err == nil {
				e.err = err
			}
			return
		}
	}
	projected := rt.Project(st.Resource, sel)
	wantMeta := sel.Wants(rt, "meta")
	memberRefs := wantsAttr(sel, "members", "$ref")
	groupRefs := wantsAttr(sel, "groups", "$ref")
	extra := ""
	if wantMeta {
		extra = "meta" // replaces a stored "meta", which a Resource never has
	}
	id := st.Resource.ID()
	start := e.sortedKeys(projected, extra)
	e.buf = append(e.buf, '{')
	for i := start; i < len(e.keys); i++ {
		if i > start {
			e.buf = append(e.buf, ',')
		}
		k := e.keys[i]
		e.key(k)
		s.appendMember(e, base, rt, st, id, k, projected[k], wantMeta, memberRefs, groupRefs)
	}
	e.buf = append(e.buf, '}')
	e.popKeys(start)
}

// appendMember appends the value of the resource's member k (v, unless k is
// the meta appendResource adds), keyed already.
func (s *Server) appendMember(e *encoder, base string, rt *schemas.ResourceType, st view.Stored, id, k string, v any, wantMeta, memberRefs, groupRefs bool) {
	switch {
	case k == "meta" && wantMeta:
		appendMeta(e, base, rt, st, id)
	case k == "members" && memberRefs:
		s.appendRefs(e, base, v, "")
	case k == "groups" && groupRefs:
		s.appendRefs(e, base, v, schemas.Group)
	default:
		e.value(v)
	}
}

// appendRaw is appendResource for a resource held as its stored JSON
// (st.Raw, with the derived attributes loaded in st.Resource), when the
// projection returns it as it is (schemas.ResourceType.RawMembers): the
// stored members are copied as written and meta and the derived attributes
// are encoded between them, all in key order, the bytes appendResource
// writes for the decoded resource. It appends nothing and reports false
// otherwise.
func (s *Server) appendRaw(e *encoder, base string, rt *schemas.ResourceType, st view.Stored, sel schemas.Selection) bool {
	members, ok := rt.RawMembers(e.members[:0], st.Raw, sel)
	defer func() {
		clear(members) // the pool must not keep the strings alive
		e.members = members[:0]
	}()
	if !ok || !rt.ProjectsAsIs(st.Resource, sel) {
		return false
	}
	wantMeta := sel.Wants(rt, "meta")
	extra := ""
	if wantMeta {
		extra = "meta"
	}
	id := ""
	for _, m := range members {
		if m.Key == "id" {
			if id, ok = rawString(m.Value); !ok {
				return false
			}
			break
		}
	}
	mark := len(e.buf)
	start := e.sortedKeys(st.Resource, extra)
	defer e.popKeys(start)
	memberRefs := len(st.Resource) > 0 && wantsAttr(sel, "members", "$ref")
	groupRefs := len(st.Resource) > 0 && wantsAttr(sel, "groups", "$ref")
	e.buf = append(e.buf, '{')
	i, j := 0, start
	for n := 0; i < len(members) || j < len(e.keys); n++ {
		if n > 0 {
			e.buf = append(e.buf, ',')
		}
		if j == len(e.keys) || i < len(members) && members[i].Key < e.keys[j] {
			e.key(members[i].Key)
			e.buf = append(e.buf, members[i].Value...)
			i++
			continue
		}
		k := e.keys[j]
		if i < len(members) && members[i].Key == k {
			e.buf = e.buf[:mark] // a stored member meta or a derived one replaces
			return false
		}
		e.key(k)
		s.appendMember(e, base, rt, st, id, k, st.Resource[k], wantMeta, memberRefs, groupRefs)
		j++
	}
	e.buf = append(e.buf, '}')
	return true
}

// rawString returns what Resource.ID returns for the stored member value
// v: the string it encodes, "" for any other value. ok is false when v
// does not decode.
func rawString(v string) (string, bool) {
	if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' && !strings.ContainsAny(v[1:len(v)-1], `"\`) {
		return v[1 : len(v)-1], true // no escapes: the string as written
	}
	if !strings.HasPrefix(v, `"`) {
		return "", true
	}
	str, err := scimjson.NewStringReader(v).String()
	return str, err == nil
}

// decodeRaw returns st with its stored JSON decoded into Resource, with
// the derived attributes set on it as the store sets them on a decoded
// resource.
func decodeRaw(st view.Stored) (view.Stored, error) {
	m, err := scimjson.ParseObject([]byte(st.Raw))
	if err != nil {
		return st, err
	}
	for k, v := range st.Resource {
		m[k] = v
	}
	st.Resource, st.Raw = m, ""
	return st, nil
}

// appendMeta appends the meta attribute (RFC 7643 §3.1), keys sorted; id
// is the resource's.
func appendMeta(e *encoder, base string, rt *schemas.ResourceType, st view.Stored, id string) {
	e.buf = append(e.buf, `{"created":`...)
	e.scratch = st.Created.UTC().AppendFormat(e.scratch[:0], time.RFC3339)
	e.buf = scimjson.AppendString(e.buf, e.scratch)
	e.buf = append(e.buf, `,"lastModified":`...)
	e.scratch = st.LastModified.UTC().AppendFormat(e.scratch[:0], time.RFC3339)
	e.buf = scimjson.AppendString(e.buf, e.scratch)
	e.buf = append(e.buf, `,"location":`...)
	appendLocation(e, base, rt, id)
	e.buf = append(e.buf, `,"resourceType":`...)
	e.buf = scimjson.AppendString(e.buf, rt.Name)
	e.buf = append(e.buf, `,"version":`...)
	e.scratch = schemas.AppendETag(e.scratch[:0], st.Version)
	e.buf = scimjson.AppendString(e.buf, e.scratch)
	e.buf = append(e.buf, '}')
}

// appendLocation appends location(base, rt, id) as a JSON string. The URL
// is assembled first and escaped whole, as encoding/json escapes the string.
func appendLocation(e *encoder, base string, rt *schemas.ResourceType, id string) {
	e.scratch = append(e.scratch[:0], base...)
	e.scratch = append(e.scratch, rt.Endpoint...)
	e.scratch = append(e.scratch, '/')
	e.scratch = append(e.scratch, url.PathEscape(id)...)
	e.buf = scimjson.AppendString(e.buf, e.scratch)
}

// appendRefs appends the multi-valued attribute v with "$ref" on every
// value that has a "value": the URL of the resource of the value's "type"
// (default "User"), or of resourceType when given. v itself is not
// modified.
func (s *Server) appendRefs(e *encoder, base string, v any, resourceType string) {
	vals, ok := v.([]any)
	if !ok {
		e.value(v)
		return
	}
	e.buf = append(e.buf, '[') // even for a nil slice: a list of refs is never null
	for i, x := range vals {
		if i > 0 {
			e.buf = append(e.buf, ',')
		}
		m, ok := x.(map[string]any)
		if !ok {
			e.value(x)
			continue
		}
		target, id := s.refTarget(m, resourceType)
		if target == nil {
			e.value(m)
			continue
		}
		start := e.sortedKeys(m, "$ref")
		e.buf = append(e.buf, '{')
		for j := start; j < len(e.keys); j++ {
			if j > start {
				e.buf = append(e.buf, ',')
			}
			k := e.keys[j]
			e.key(k)
			if k == "$ref" {
				appendLocation(e, base, target, id)
			} else {
				e.value(m[k])
			}
		}
		e.buf = append(e.buf, '}')
		e.popKeys(start)
	}
	e.buf = append(e.buf, ']')
}

// refTarget returns the resource type and id a value's $ref points to, or
// nil when it has none: no "value", or a "type" the registry lacks.
func (s *Server) refTarget(m map[string]any, resourceType string) (*schemas.ResourceType, string) {
	id, _ := m["value"].(string)
	if id == "" {
		return nil, ""
	}
	typ := resourceType
	if typ == "" {
		typ, _ = m["type"].(string)
		if typ == "" {
			typ = schemas.User
		}
	}
	target, ok := s.reg.ResourceType(typ)
	if !ok {
		return nil, ""
	}
	return target, id
}

// listWriter encodes a ListResponse (RFC 7644 §3.4.2) one resource at a
// time into one pooled buffer: Resources are never collected as maps.
// Its zero value is not usable; see newListWriter. write releases the
// buffer; a writer abandoned on an error is left to the garbage collector.
type listWriter struct {
	s *Server
	e *encoder
	n int // resources added
}

func (s *Server) newListWriter() listWriter { return listWriter{s: s, e: getEncoder()} }

// add appends one resource, as appendResource renders it.
func (lw *listWriter) add(base string, rt *schemas.ResourceType, st view.Stored, sel schemas.Selection) {
	if lw.n > 0 {
		lw.e.buf = append(lw.e.buf, ',')
	}
	lw.s.appendResource(lw.e, base, rt, st, sel)
	lw.n++
}

// maxOneWrite is the largest page of resources listWriter.write copies
// behind the ListResponse's head to send both in one Write.
const maxOneWrite = 64 << 10

// write answers 200 with the ListResponse and releases the buffer. The
// members come in listResponse's field order; startIndex is absent when
// nil (cursor pagination, RFC 9865), nextCursor when "", and itemsPerPage
// is the number of resources added.
func (lw *listWriter) write(w http.ResponseWriter, total int, startIndex *int, nextCursor string) {
	e := lw.e
	defer putEncoder(e)
	head := append(e.scratch[:0], `{"schemas":[`...)
	head = scimjson.AppendString(head, schemas.URNListResponse)
	head = append(head, `],"totalResults":`...)
	head = strconv.AppendInt(head, int64(total), 10)
	if startIndex != nil {
		head = append(head, `,"startIndex":`...)
		head = strconv.AppendInt(head, int64(*startIndex), 10)
	}
	head = append(head, `,"itemsPerPage":`...)
	head = strconv.AppendInt(head, int64(lw.n), 10)
	if nextCursor != "" {
		head = append(head, `,"nextCursor":`...)
		head = scimjson.AppendString(head, nextCursor)
	}
	head = append(head, `,"Resources":[`...)
	if len(e.buf) > maxOneWrite {
		e.scratch = head
		lw.s.writeEncoded(w, http.StatusOK, e.err, head, e.buf, []byte("]}"))
		return
	}
	// A small page (a userName lookup's) goes out in one Write: copying it
	// after the head costs less than two more Writes through the response's
	// layers. A large one is not copied.
	head = append(append(head, e.buf...), "]}"...)
	e.scratch = head
	lw.s.writeEncoded(w, http.StatusOK, e.err, head)
}

// writeEncoded answers status with the concatenation of parts, already
// encoded JSON, like writeJSON does with what it marshals. When encoding
// failed (err, from encoding/json on a value the encoder handed it),
// writeJSON gets the failure and answers as it does for its own.
func (s *Server) writeEncoded(w http.ResponseWriter, status int, err error, parts ...[]byte) {
	if err != nil {
		s.writeJSON(w, status, failedEncoding{err})
		return
	}
	n := 0
	for _, p := range parts {
		n += len(p)
	}
	h := w.Header()
	h.Set("Content-Type", ContentType)
	h.Set("Content-Length", strconv.Itoa(n))
	w.WriteHeader(status)
	for _, p := range parts {
		if _, err := w.Write(p); err != nil {
			return // the client may be gone; nothing to do about it
		}
	}
}

// failedEncoding makes encoding/json fail with err, so that writeJSON
// reports an encoding failure found earlier.
type failedEncoding struct{ err error }

func (f failedEncoding) MarshalJSON() ([]byte, error) { return nil, f.err }

// wantsAttr reports whether the selection returns the (core) attribute
// name, or its sub-attribute sub when sub is not "": here, whether $ref,
// which Project never sees, is wanted.
func wantsAttr(sel schemas.Selection, name, sub string) bool {
	for _, ex := range sel.Excluded {
		if ex.URN == "" && strings.EqualFold(ex.Name, name) &&
			(ex.Sub == "" || (sub != "" && strings.EqualFold(ex.Sub, sub))) {
			return false
		}
	}
	if len(sel.Attributes) == 0 {
		return true
	}
	for _, a := range sel.Attributes {
		if a.URN == "" && strings.EqualFold(a.Name, name) &&
			(a.Sub == "" || sub == "" || strings.EqualFold(a.Sub, sub)) {
			return true
		}
	}
	return false
}

// getOptions loads members and groups only when the selection returns them
// (a group read with excludedAttributes=members never loads its members).
func getOptions(rt *schemas.ResourceType, sel schemas.Selection) view.GetOptions {
	return view.GetOptions{
		Members: hasAttr(rt, "members") && sel.Wants(rt, "members"),
		Groups:  hasAttr(rt, "groups") && sel.Wants(rt, "groups"),
	}
}

// readOptions are getOptions for a read the handler renders itself (GET,
// a list, the answer to a write): without an attributes list, which always changes the
// resource, it asks for the resource as stored (view.GetOptions.Raw), which
// appendResource copies instead of decoding when it can.
func readOptions(rt *schemas.ResourceType, sel schemas.Selection) view.GetOptions {
	o := getOptions(rt, sel)
	o.Raw = len(sel.Attributes) == 0
	return o
}

func hasAttr(rt *schemas.ResourceType, name string) bool {
	_, _, ok := rt.Lookup(schemas.AttrPath{Name: name})
	return ok
}
