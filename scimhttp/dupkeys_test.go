package scimhttp

import (
	"net/http"
	"strings"
	"testing"
)

// TestServer_DuplicateKeys: every request body with a key given twice (or
// twice in two cases: attribute names are case-insensitive, RFC 7643 §2.1)
// is a 400 invalidSyntax naming the key, whatever the route.
func TestServer_DuplicateKeys(t *testing.T) {
	tests := []struct {
		name, method, target, body, key string
	}{
		{"POST", http.MethodPost, "/scim/v2/Users", `{"userName":"a","userName":"b"}`, `"userName"`},
		{"POSTFold", http.MethodPost, "/scim/v2/Users", `{"userName":"a","USERNAME":"b"}`, `"USERNAME"`},
		{"POSTNested", http.MethodPost, "/scim/v2/Users", `{"userName":"a","emails":[{"value":"x","value":"y"}]}`, `"value"`},
		{"PUT", http.MethodPut, "/scim/v2/Users/u01", `{"userName":"a","name":{"givenName":"a","givenName":"b"}}`, `"givenName"`},
		{"PATCH", http.MethodPatch, "/scim/v2/Users/u01", `{"Operations":[{"op":"replace","path":"title","path":"nickName","value":"x"}]}`, `"path"`},
		{"Search", http.MethodPost, "/scim/v2/Users/.search", `{"filter":"userName eq \"a\"","filter":"userName pr"}`, `"filter"`},
		{"SearchFold", http.MethodPost, "/scim/v2/.search", `{"count":1,"Count":1000}`, `"Count"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts := newTestServer(t, Options{})
			seedUsers(ts, 1)
			rec := ts.do(tt.method, tt.target, tt.body)
			m := checkError(t, rec, http.StatusBadRequest, "invalidSyntax")
			if d, _ := m["detail"].(string); !strings.Contains(d, tt.key) || !strings.Contains(d, "twice") {
				t.Errorf("detail = %q, want it to name %s given twice", d, tt.key)
			}
		})
	}
}
