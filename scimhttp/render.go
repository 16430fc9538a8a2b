package scimhttp

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/scim-bridge/scim-bridge/projection"
	"github.com/scim-bridge/scim-bridge/schemas"
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

// etagOf is the weak entity tag of a stored version (RFC 7644 §3.14).
func etagOf(st projection.Stored) string {
	return `W/"` + strconv.FormatInt(st.Version, 10) + `"`
}

// etagMatches reports whether an If-None-Match header (a list of tags, or
// "*") matches etag, comparing weakly (RFC 9110 §8.8.3.2).
func etagMatches(header, etag string) bool {
	want := strings.TrimPrefix(etag, "W/")
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimSpace(t)
		if t == "*" || strings.TrimPrefix(t, "W/") == want {
			return true
		}
	}
	return false
}

// location is the URL of a resource.
func location(base string, rt *schemas.ResourceType, id string) string {
	return base + rt.Endpoint + "/" + url.PathEscape(id)
}

// render builds the representation of a stored resource: the schema's
// projection for the selection (RFC 7644 §3.4.2.5), meta (RFC 7643 §3.1) and
// $ref on members and groups.
func (s *Server) render(base string, rt *schemas.ResourceType, st projection.Stored, sel schemas.Selection) map[string]any {
	projected := rt.Project(st.Resource, sel)
	out := make(map[string]any, len(projected)+1)
	for k, v := range projected {
		out[k] = v
	}
	if sel.Wants(rt, "meta") {
		out["meta"] = map[string]any{
			"resourceType": rt.Name,
			"created":      st.Created.UTC().Format(time.RFC3339),
			"lastModified": st.LastModified.UTC().Format(time.RFC3339),
			"location":     location(base, rt, st.Resource.ID()),
			"version":      etagOf(st),
		}
	}
	if wantsAttr(sel, "members", "$ref") {
		s.addRefs(out, base, "members", "")
	}
	if wantsAttr(sel, "groups", "$ref") {
		s.addRefs(out, base, "groups", "Group")
	}
	return out
}

// addRefs sets "$ref" on every value of the multi-valued attribute name
// that has a "value": the URL of the resource of the value's "type"
// (default "User"), or of resourceType when given. The value maps are
// copied, never modified in place.
func (s *Server) addRefs(out map[string]any, base, name, resourceType string) {
	vals, ok := out[name].([]any)
	if !ok {
		return
	}
	withRefs := make([]any, len(vals))
	for i, v := range vals {
		withRefs[i] = v
		m, ok := v.(map[string]any)
		if !ok {
			continue
		}
		id, _ := m["value"].(string)
		if id == "" {
			continue
		}
		typ := resourceType
		if typ == "" {
			typ, _ = m["type"].(string)
			if typ == "" {
				typ = "User"
			}
		}
		target, ok := s.reg.ResourceType(typ)
		if !ok {
			continue
		}
		c := make(map[string]any, len(m)+1)
		for k, x := range m {
			c[k] = x
		}
		c["$ref"] = location(base, target, id)
		withRefs[i] = c
	}
	out[name] = withRefs
}

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
func getOptions(rt *schemas.ResourceType, sel schemas.Selection) projection.GetOptions {
	return projection.GetOptions{
		Members: hasAttr(rt, "members") && sel.Wants(rt, "members"),
		Groups:  hasAttr(rt, "groups") && sel.Wants(rt, "groups"),
	}
}

func hasAttr(rt *schemas.ResourceType, name string) bool {
	_, _, ok := rt.Lookup(schemas.AttrPath{Name: name})
	return ok
}

// isGroup reports whether rt is the Group resource type, whose PATCH
// answers 204 by default.
func isGroup(rt *schemas.ResourceType) bool { return strings.EqualFold(rt.Name, "Group") }
