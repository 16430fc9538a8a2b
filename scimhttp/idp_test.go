package scimhttp

import (
	"net/http"
	"strings"
	"testing"

	"github.com/scim-bridge/scim-bridge/schemas"
)

// TestServer_IdPReplay replays the request shapes Entra ID and Okta send
// (docs/idp-quirks.md §1.1, §2.1) against a tenant holding one user and one group.
func TestServer_IdPReplay(t *testing.T) {
	tests := []struct {
		name      string
		method    string
		target    string
		body      string
		status    int
		wantTotal int    // for lists; -1 if not a list
		wantIDs   string // for lists
		check     func(t *testing.T, body map[string]any)
	}{
		{"EntraTestConnection", http.MethodGet,
			"/scim/v2/Users?filter=userName+eq+%2240b1d5e2-8c1e-4a53-9b8e-2f0f7f5b1c11%22", "",
			http.StatusOK, 0, "", nil},
		{"EntraTestConnectionExternalID", http.MethodGet,
			"/scim/v2/Users?filter=externalId+eq+%2240b1d5e2-8c1e-4a53-9b8e-2f0f7f5b1c11%22&aadOptscim062020", "",
			http.StatusOK, 0, "", nil},
		{"EntraFindUser", http.MethodGet,
			`/scim/v2/Users?filter=userName+eq+%22Alice%40Example.com%22`, "",
			http.StatusOK, 1, "u1", nil},
		{"OktaTestCredentials", http.MethodGet, "/scim/v2/Users?startIndex=1&count=2", "",
			http.StatusOK, 1, "u1", nil},
		{"OktaGroupsTestCredentials", http.MethodGet, "/scim/v2/Groups?startIndex=1&count=100", "",
			http.StatusOK, 1, "g1", nil},
		{"OktaFindUserPercent20", http.MethodGet,
			"/scim/v2/Users?filter=userName%20eq%20%22alice%40example.com%22&startIndex=1&count=100", "",
			http.StatusOK, 1, "u1", nil},
		{"OktaFindUserMissing", http.MethodGet,
			"/scim/v2/Users?filter=userName%20eq%20%22a%40b%22&startIndex=1&count=100", "",
			http.StatusOK, 0, "", nil},
		{"OktaFindUserMissingPlus", http.MethodGet,
			"/scim/v2/Users?filter=userName+eq+%22a%40b%22", "",
			http.StatusOK, 0, "", nil},
		{"EntraFindGroupExcludedMembers", http.MethodGet,
			"/scim/v2/Groups?excludedAttributes=members&filter=displayName+eq+%22Sales%22", "",
			http.StatusOK, 1, "g1", func(t *testing.T, body map[string]any) {
				g := body["Resources"].([]any)[0].(map[string]any)
				if _, ok := g["members"]; ok {
					t.Errorf("members returned with excludedAttributes=members")
				}
			}},
		{"EntraReadGroupExcludedMembers", http.MethodGet,
			"/scim/v2/Groups/g1?excludedAttributes=members", "",
			http.StatusOK, -1, "", func(t *testing.T, body map[string]any) {
				if _, ok := body["members"]; ok {
					t.Errorf("members returned with excludedAttributes=members")
				}
			}},
		{"EntraAddMembers", http.MethodPatch, "/scim/v2/Groups/g1",
			`{"schemas":["` + schemas.URNPatchOp + `"],"Operations":[{"op":"Add","path":"members","value":[{"$ref":null,"value":"u1"}]}]}`,
			http.StatusNoContent, -1, "", nil},
		{"EntraDisableUser", http.MethodPatch, "/scim/v2/Users/u1",
			`{"schemas":["` + schemas.URNPatchOp + `"],"Operations":[{"op":"Replace","path":"active","value":"False"}]}`,
			http.StatusOK, -1, "", func(t *testing.T, body map[string]any) {
				if body["id"] != "u1" {
					t.Errorf("PATCH user body id = %v, want u1 (full resource)", body["id"])
				}
			}},
		{"EntraUnknownUser", http.MethodGet, "/scim/v2/Users/00000000-0000-0000-0000-000000000000", "",
			http.StatusNotFound, -1, "", nil},
		{"MicrosoftTrailingSlashFilter", http.MethodGet, "/scim/v2/Users/?filter=DisplayName+eq+%22BobIsAmazing%22", "",
			http.StatusOK, 0, "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts := newTestServer(t, Options{})
			ts.store.put("default", "User", schemas.Resource{"id": "u1", "userName": "alice@example.com", "active": true})
			ts.store.put("default", "Group", schemas.Resource{"id": "g1", "displayName": "Sales"}, "u1")
			rec := ts.do(tt.method, tt.target, tt.body, "User-Agent", "")
			if rec.Code != tt.status {
				t.Fatalf("%s %s status = %d, want %d; body %s", tt.method, tt.target, rec.Code, tt.status, rec.Body)
			}
			if rec.Code >= 400 {
				checkError(t, rec, tt.status, "")
				return
			}
			if rec.Code == http.StatusNoContent {
				return
			}
			if got := rec.Header().Get("Content-Type"); got != ContentType {
				t.Errorf("Content-Type = %q, want %q", got, ContentType)
			}
			body := decode(t, rec)
			if tt.wantTotal >= 0 {
				ids := checkList(t, body, tt.wantTotal, 1)
				if got := strings.Join(ids, ","); got != tt.wantIDs {
					t.Errorf("ids = %q, want %q", got, tt.wantIDs)
				}
			}
			if tt.check != nil {
				tt.check(t, body)
			}
		})
	}
}
