package scimhttp

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/scim-bridge/scim-bridge/schemas"
)

// FuzzServer_Request sends arbitrary query strings and search bodies: the
// server must never answer 500 and always answer SCIM JSON.
func FuzzServer_Request(f *testing.F) {
	seeds := []struct{ query, body string }{
		{"filter=userName+eq+%22a%40b%22", `{}`},
		{"startIndex=1&count=2", `{"startIndex":1,"count":2}`},
		{"filter=userName%20eq%20%22x%22&attributes=userName,emails", `{"filter":"userName eq \"x\"","attributes":["userName"]}`},
		{"sortBy=name.familyName&sortOrder=descending", `{"sortBy":"meta.lastModified"}`},
		{"cursor=&count=1", `{"cursor":"c1","count":"1"}`},
		{"excludedAttributes=members&filter=displayName+eq+%22Sales%22", `{"excludedAttributes":["members"]}`},
		{"filter=emails%5Btype+eq+%22work%22%5D.value+eq+%22a%22", `{"filter":"emails[type eq \"work\" and value co \"@\"]"}`},
		{"filter=((((", `{"filter":"not (`},
		{"count=-1&startIndex=-1", `[]`},
	}
	for _, s := range seeds {
		f.Add(s.query, s.body)
	}
	ts := newTestServer(f, Options{})
	ts.srv.log = slog.New(slog.DiscardHandler)
	seedUsers(ts, 3)
	ts.put("default", "Group", schemas.Resource{"id": "g1", "displayName": "Sales"}, "u01")
	f.Fuzz(func(t *testing.T, query, body string) {
		for _, req := range []*http.Request{
			httptest.NewRequest(http.MethodGet, "/scim/v2/Users", nil),
			httptest.NewRequest(http.MethodGet, "/scim/v2/Groups/g1", nil),
			httptest.NewRequest(http.MethodPost, "/scim/v2/.search", strings.NewReader(body)),
			httptest.NewRequest(http.MethodPost, "/scim/v2/Users/.search", strings.NewReader(body)),
		} {
			req.URL.RawQuery = query
			req.Header.Set("Authorization", "Bearer "+testToken)
			rec := httptest.NewRecorder()
			ts.srv.Handler().ServeHTTP(rec, req)
			if rec.Code >= 500 {
				t.Fatalf("%s %s?%s body %q: status %d: %s", req.Method, req.URL.Path, query, body, rec.Code, rec.Body)
			}
			if got := rec.Header().Get("Content-Type"); got != ContentType {
				t.Fatalf("%s %s?%s: Content-Type = %q", req.Method, req.URL.Path, query, got)
			}
			if !json.Valid(rec.Body.Bytes()) {
				t.Fatalf("%s %s?%s: body is not JSON: %q", req.Method, req.URL.Path, query, rec.Body)
			}
		}
	})
}
