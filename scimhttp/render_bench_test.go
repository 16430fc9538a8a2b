package scimhttp

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"

	"github.com/scim-bridge/scim-bridge/projection/view"
	"github.com/scim-bridge/scim-bridge/schemas"
)

// This file keeps the encoding/json path that appendResource and listWriter
// replaced: renderMap builds the response as maps and writeJSON marshals
// them. The differential tests check the new path against it byte for byte,
// and the benchmarks measure both in one run.

// renderMap builds the representation of a stored resource as a map: the
// schema's projection for the selection (RFC 7644 §3.4.2.5), meta (RFC 7643
// §3.1) and $ref on members and groups.
func (s *Server) renderMap(base string, rt *schemas.ResourceType, st view.Stored, sel schemas.Selection) map[string]any {
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
			"version":      schemas.ETag(st.Version),
		}
	}
	if wantsAttr(sel, "members", "$ref") {
		s.addRefsMap(out, base, "members", "")
	}
	if wantsAttr(sel, "groups", "$ref") {
		s.addRefsMap(out, base, "groups", "Group")
	}
	return out
}

// addRefsMap sets "$ref" on copies of the values of out[name].
func (s *Server) addRefsMap(out map[string]any, base, name, resourceType string) {
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
		target, id := s.refTarget(m, resourceType)
		if target == nil {
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

// writeResourceMap is writeResource over renderMap and writeJSON.
func (s *Server) writeResourceMap(w http.ResponseWriter, r *http.Request, status int, rt *schemas.ResourceType, st view.Stored, sel schemas.Selection) {
	w.Header().Set("ETag", schemas.ETag(st.Version))
	s.writeJSON(w, status, s.renderMap(s.baseURL(r), rt, st, sel))
}

// writeListMap is the ListResponse of list over renderMap and writeJSON.
func (s *Server) writeListMap(w http.ResponseWriter, base string, rt *schemas.ResourceType, sel schemas.Selection, page view.Page, start *int) {
	resources := make([]any, 0, len(page.Resources))
	for _, st := range page.Resources {
		resources = append(resources, s.renderMap(base, rt, st, sel))
	}
	resp := newListResponse(page.Total, start, resources)
	resp.NextCursor = page.NextCursor
	s.writeJSON(w, http.StatusOK, resp)
}

// writeListEncoded is the ListResponse of list over listWriter.
func (s *Server) writeListEncoded(w http.ResponseWriter, base string, rt *schemas.ResourceType, sel schemas.Selection, page view.Page, start *int) {
	lw := s.newListWriter()
	for _, st := range page.Resources {
		lw.add(base, rt, st, sel)
	}
	lw.write(w, page.Total, start, page.NextCursor)
}

// discardWriter is a ResponseWriter that keeps nothing but its header.
type discardWriter struct{ h http.Header }

func (d *discardWriter) Header() http.Header         { return d.h }
func (d *discardWriter) Write(p []byte) (int, error) { return len(p), nil }
func (d *discardWriter) WriteHeader(int)             {}

// typicalUser is a user as Okta or Entra ID provisions it, with the groups
// a read loads.
func typicalUser(i int) view.Stored {
	id := fmt.Sprintf("2819c223-7f76-453a-919d-%012d", i)
	r := schemas.Resource{
		"schemas":    []any{schemas.URNUser, schemas.URNEnterprise},
		"id":         id,
		"externalId": fmt.Sprintf("00u1ab2cd3EF4gh5ij6k%d", i),
		"userName":   fmt.Sprintf("bjensen%d@example.com", i),
		"name": map[string]any{
			"formatted":  "Ms. Barbara J Jensen III",
			"familyName": "Jensen",
			"givenName":  "Barbara",
		},
		"displayName":       "Babs Jensen",
		"nickName":          "Babs",
		"title":             "Tour Guide",
		"preferredLanguage": "en-US",
		"locale":            "en-US",
		"timezone":          "America/Los_Angeles",
		"active":            true,
		"emails": []any{
			map[string]any{"value": fmt.Sprintf("bjensen%d@example.com", i), "type": "work", "primary": true},
			map[string]any{"value": "babs@jensen.org", "type": "home"},
		},
		"phoneNumbers": []any{
			map[string]any{"value": "+1 555-555-5555", "type": "work"},
		},
		"addresses": []any{
			map[string]any{
				"streetAddress": "100 Universal City Plaza", "locality": "Hollywood", "region": "CA",
				"postalCode": "91608", "country": "USA", "type": "work", "primary": true,
			},
		},
		schemas.URNEnterprise: map[string]any{
			"employeeNumber": json.Number("701984"),
			"costCenter":     "4130",
			"organization":   "Universal Studios",
			"division":       "Theme Park",
			"department":     "Tour Operations & <Guests>",
			"manager":        map[string]any{"value": "26118915-6090-4610-87e4-49d8ca9f808d"},
		},
		"groups": []any{
			map[string]any{"value": "e9e30dba-f08f-4109-8486-d5c6a331660a", "type": "direct", "display": "Tour Guides"},
			map[string]any{"value": "fc348aa8-3835-40eb-a20b-c726e15c55b5", "type": "direct", "display": "Employees"},
		},
	}
	t := time.Date(2026, 1, 23, 4, 56, 22, 0, time.UTC)
	return view.Stored{Type: "User", Resource: r, Version: int64(i + 3), Created: t, LastModified: t.Add(time.Hour)}
}

func newBenchServer(b testing.TB) (*Server, *schemas.ResourceType) {
	ts := newTestServer(b, Options{})
	rt, ok := ts.srv.reg.ResourceType("User")
	if !ok {
		b.Fatal(`ResourceType("User") not found`)
	}
	return ts.srv, rt
}

// BenchmarkWriteUser is GET /Users/{id}'s rendering and encoding of one
// user with meta and groups.
func BenchmarkWriteUser(b *testing.B) {
	s, rt := newBenchServer(b)
	st := typicalUser(1)
	req := httptest.NewRequest(http.MethodGet, Prefix+"/Users/"+st.Resource.ID(), nil)
	for _, bc := range []struct {
		name  string
		write func(http.ResponseWriter, *http.Request, int, *schemas.ResourceType, view.Stored, schemas.Selection)
	}{
		{"encoding-json", s.writeResourceMap},
		{"encoder", s.writeResource},
	} {
		b.Run(bc.name, func(b *testing.B) {
			w := &discardWriter{h: http.Header{}}
			b.ReportAllocs()
			for b.Loop() {
				bc.write(w, req, http.StatusOK, rt, st, schemas.Selection{})
			}
		})
	}
}

// BenchmarkWriteList100 is a ListResponse of 100 such users.
func BenchmarkWriteList100(b *testing.B) {
	s, rt := newBenchServer(b)
	page := view.Page{Total: 1000}
	for i := range 100 {
		page.Resources = append(page.Resources, typicalUser(i))
	}
	start := 1
	for _, bc := range []struct {
		name  string
		write func(http.ResponseWriter, string, *schemas.ResourceType, schemas.Selection, view.Page, *int)
	}{
		{"encoding-json", s.writeListMap},
		{"encoder", s.writeListEncoded},
	} {
		b.Run(bc.name, func(b *testing.B) {
			w := &discardWriter{h: http.Header{}}
			b.ReportAllocs()
			for b.Loop() {
				bc.write(w, testBase, rt, schemas.Selection{}, page, &start)
			}
		})
	}
}

// decodedReader is a Reader that never asks for a resource's stored JSON
// (view.GetOptions.Raw): reads decode every resource into a map, as they
// all did before the bytes path.
type decodedReader struct{ Reader }

func (d decodedReader) Get(ctx context.Context, tenant, typ, id string, o view.GetOptions) (view.Stored, error) {
	o.Raw = false
	return d.Reader.Get(ctx, tenant, typ, id, o)
}

func (d decodedReader) List(ctx context.Context, tenant, typ string, q view.Query) (view.Page, error) {
	q.Get.Raw = false
	return d.Reader.List(ctx, tenant, typ, q)
}

// BenchmarkServeGet is GET /Users/{id} and `GET /Users?filter=userName eq`
// through the whole handler (authentication, routing, parameters, the
// projection's read, rendering) over an in-memory projection of 1,000
// typical users, each in one group (the groups a read derives):
//
//   - Get, Filter: as served, the resource rendered from its stored JSON.
//   - GetDecoded, FilterDecoded: the same with every resource decoded into
//     a map and rendered from it (decodedReader), the path the bytes
//     replace where the projection leaves a resource as it is.
//
// Filter/Get is the userName lookup's cost against a GET's, without the
// network and the load tool.
func BenchmarkServeGet(b *testing.B) {
	reg, err := schemas.NewRegistry()
	if err != nil {
		b.Fatal(err)
	}
	st := newStack(b, reg)
	const users = 1000
	ids := make([]string, users)
	for i := range users {
		u := typicalUser(i).Resource
		delete(u, "groups")
		ids[i] = u.ID()
		st.put("default", "User", u)
	}
	st.put("default", "Group", schemas.Resource{"id": "g-all", "displayName": "Everyone"}, ids...)
	for _, bc := range []struct {
		name   string
		r      Reader
		filter bool
	}{
		{"Get", st.proj, false},
		{"GetDecoded", decodedReader{st.proj}, false},
		{"Filter", st.proj, true},
		{"FilterDecoded", decodedReader{st.proj}, true},
	} {
		b.Run(bc.name, func(b *testing.B) {
			srv, err := New(reg, st.bridge, bc.r, StaticToken(testToken, "default"),
				Options{Logger: slog.New(slog.DiscardHandler), BaseURL: testBase})
			if err != nil {
				b.Fatal(err)
			}
			h := srv.Handler()
			reqs := make([]*http.Request, 64)
			for j := range reqs {
				i := j * 7919 % users
				target := Prefix + "/Users/" + ids[i]
				if bc.filter {
					target = Prefix + "/Users?filter=" + url.QueryEscape(fmt.Sprintf(`userName eq "bjensen%d@example.com"`, i))
				}
				reqs[j] = httptest.NewRequest(http.MethodGet, target, nil)
				reqs[j].Header.Set("Authorization", "Bearer "+testToken)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, reqs[0])
			if rec.Code != http.StatusOK || !json.Valid(rec.Body.Bytes()) {
				b.Fatalf("GET = %d %s", rec.Code, rec.Body)
			}
			w := &discardWriter{h: http.Header{}}
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				clear(w.h)
				h.ServeHTTP(w, reqs[i%len(reqs)])
				i++
			}
		})
	}
}
