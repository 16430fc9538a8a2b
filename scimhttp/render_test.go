package scimhttp

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/scim-bridge/scim-bridge/projection/view"
	"github.com/scim-bridge/scim-bridge/schemas"
)

// recorded answers with write into a recorder and returns the status,
// headers and body.
func recorded(write func(http.ResponseWriter)) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	write(rec)
	return rec
}

func checkSameResponse(t *testing.T, got, want *httptest.ResponseRecorder) {
	t.Helper()
	if got.Code != want.Code {
		t.Errorf("status = %d, want %d", got.Code, want.Code)
	}
	for _, h := range []string{"Content-Type", "Content-Length", "ETag"} {
		if g, w := got.Header().Get(h), want.Header().Get(h); g != w {
			t.Errorf("%s = %q, want %q", h, g, w)
		}
	}
	if g, w := got.Body.String(), want.Body.String(); g != w {
		t.Errorf("body =\n%s\nwant (encoding/json)\n%s", g, w)
	}
}

// renderCases are stored resources with what render special-cases: meta,
// members and groups with and without a resolvable $ref, odd values.
func renderCases(t *testing.T) map[string]view.Stored {
	t.Helper()
	at := time.Date(2026, 3, 4, 5, 6, 7, 0, time.FixedZone("CET", 3600))
	group := schemas.Resource{
		"schemas":     []any{schemas.URNGroup},
		"id":          "g/1 & <2>",
		"displayName": "Tour \u2028 Guides \xff",
		"members": []any{
			map[string]any{"value": "u1", "type": "User", "display": "Babs"},
			map[string]any{"value": "g2", "type": "Group"},
			map[string]any{"value": "u3"},
			map[string]any{"value": "x", "type": "Printer"},
			map[string]any{"value": "", "type": "User"},
			map[string]any{"type": "User", "$ref": "stale"},
			map[string]any{"value": "u4", "$ref": "stale"},
			map[string]any(nil),
			"not an object",
			nil,
		},
	}
	return map[string]view.Stored{
		"user":                     typicalUser(7),
		"group":                    {Type: "Group", Resource: group, Version: 12, Created: at, LastModified: at},
		"group nil members":        {Type: "Group", Resource: schemas.Resource{"id": "g", "members": []any(nil)}, Version: 1},
		"group members not a list": {Type: "Group", Resource: schemas.Resource{"id": "g", "members": "u1"}, Version: 1},
		"user id needs escaping":   {Type: "User", Resource: schemas.Resource{"id": "a b/é?&", "userName": "x"}, Version: -1},
		"user meta stored":         {Type: "User", Resource: schemas.Resource{"id": "u", "meta": map[string]any{"x": 1}}, Version: 2},
		"empty":                    {Type: "User", Resource: schemas.Resource{}},
	}
}

// TestServer_EncodedMatchesMarshal checks writeResource and listWriter
// against rendering maps and marshalling them with encoding/json, the path
// they replaced, over selections that keep or drop meta and $ref.
func TestServer_EncodedMatchesMarshal(t *testing.T) {
	ts := newTestServer(t, Options{BaseURL: "https://scim.example.com/a&b/scim/v2"})
	s := ts.srv
	selections := []struct{ attributes, excluded string }{
		{"", ""},
		{"", "meta"},
		{"", "members,groups"},
		{"", "members.$ref,groups.$ref"},
		{"members.value,groups.display", ""},
		{"meta,displayName,userName", ""},
		{"meta.version", ""},
		{"members.$ref,groups.$ref", ""},
	}
	req := httptest.NewRequest(http.MethodGet, Prefix+"/Users/x", nil)
	for name, st := range renderCases(t) {
		rt, ok := s.reg.ResourceType(st.Type)
		if !ok {
			t.Fatalf("ResourceType(%q) not found", st.Type)
		}
		for _, sc := range selections {
			sel, err := rt.ParseSelection(sc.attributes, sc.excluded)
			if err != nil {
				t.Fatalf("ParseSelection(%q, %q) = %v", sc.attributes, sc.excluded, err)
			}
			t.Run(name+"/"+sc.attributes+"-"+sc.excluded, func(t *testing.T) {
				got := recorded(func(w http.ResponseWriter) { s.writeResource(w, req, http.StatusCreated, rt, st, sel) })
				want := recorded(func(w http.ResponseWriter) { s.writeResourceMap(w, req, http.StatusCreated, rt, st, sel) })
				checkSameResponse(t, got, want)

				page := view.Page{Total: 9, Resources: []view.Stored{st, st}, NextCursor: "c<1>"}
				start := 3
				for _, start := range []*int{&start, nil} {
					got := recorded(func(w http.ResponseWriter) { s.writeListEncoded(w, testBase, rt, sel, page, start) })
					want := recorded(func(w http.ResponseWriter) { s.writeListMap(w, testBase, rt, sel, page, start) })
					checkSameResponse(t, got, want)
				}
			})
		}
	}
}

func TestServer_EncodedEmptyList(t *testing.T) {
	ts := newTestServer(t, Options{})
	rt, _ := ts.srv.reg.ResourceType("User")
	one := 1
	got := recorded(func(w http.ResponseWriter) {
		ts.srv.writeListEncoded(w, testBase, rt, schemas.Selection{}, view.Page{}, &one)
	})
	want := `{"schemas":["` + schemas.URNListResponse + `"],"totalResults":0,"startIndex":1,"itemsPerPage":0,"Resources":[]}`
	if got.Body.String() != want {
		t.Errorf("empty ListResponse = %s, want %s", got.Body, want)
	}
}

// TestServer_EncodeFailure checks that a value encoding/json cannot encode
// still answers 500 with a SCIM error, as writeJSON does.
func TestServer_EncodeFailure(t *testing.T) {
	ts := newTestServer(t, Options{})
	rt, _ := ts.srv.reg.ResourceType("User")
	st := view.Stored{Type: "User", Resource: schemas.Resource{"id": "u", "userName": json.Number("1x")}}
	req := httptest.NewRequest(http.MethodGet, Prefix+"/Users/u", nil)
	got := recorded(func(w http.ResponseWriter) { ts.srv.writeResource(w, req, http.StatusOK, rt, st, schemas.Selection{}) })
	want := recorded(func(w http.ResponseWriter) {
		ts.srv.writeResourceMap(w, req, http.StatusOK, rt, st, schemas.Selection{})
	})
	if got.Code != http.StatusInternalServerError {
		t.Errorf("status = %d, want 500", got.Code)
	}
	checkSameResponse(t, got, want)
}
