package scimhttp

import (
	"net/http"
	"strings"
	"testing"

	"github.com/scim-bridge/scim-bridge/schemas"
)

// TestServer_IdPReplay replays the request shapes Entra ID and Okta send
// (docs/idp-quirks.md §1.1, §2.1) against a tenant holding one user and one group,
// on the real write path and read model; check looks at the answer and,
// through ts, at what a later read returns.
func TestServer_IdPReplay(t *testing.T) {
	tests := []struct {
		name      string
		method    string
		target    string
		body      string
		status    int
		wantTotal int    // for lists; -1 if not a list
		wantIDs   string // for lists
		check     func(t *testing.T, ts *testServer, body map[string]any)
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
			http.StatusOK, 1, "g1", func(t *testing.T, _ *testServer, body map[string]any) {
				g := body["Resources"].([]any)[0].(map[string]any)
				if _, ok := g["members"]; ok {
					t.Errorf("members returned with excludedAttributes=members")
				}
			}},
		{"EntraReadGroupExcludedMembers", http.MethodGet,
			"/scim/v2/Groups/g1?excludedAttributes=members", "",
			http.StatusOK, -1, "", func(t *testing.T, _ *testServer, body map[string]any) {
				if _, ok := body["members"]; ok {
					t.Errorf("members returned with excludedAttributes=members")
				}
			}},
		{"EntraAddMembers", http.MethodPatch, "/scim/v2/Groups/g1",
			`{"schemas":["` + schemas.URNPatchOp + `"],"Operations":[{"op":"Add","path":"members","value":[{"$ref":null,"value":"u1"}]}]}`,
			http.StatusNoContent, -1, "", nil},
		{"EntraDisableUser", http.MethodPatch, "/scim/v2/Users/u1",
			`{"schemas":["` + schemas.URNPatchOp + `"],"Operations":[{"op":"Replace","path":"active","value":"False"}]}`,
			http.StatusOK, -1, "", func(t *testing.T, _ *testServer, body map[string]any) {
				if body["id"] != "u1" {
					t.Errorf("PATCH user body id = %v, want u1 (full resource)", body["id"])
				}
			}},
		{"EntraUnknownUser", http.MethodGet, "/scim/v2/Users/00000000-0000-0000-0000-000000000000", "",
			http.StatusNotFound, -1, "", nil},
		{"EntraDisableUserFoundInactive", http.MethodPatch, "/scim/v2/Users/u1",
			`{"schemas":["` + schemas.URNPatchOp + `"],"Operations":[{"op":"Replace","path":"active","value":"False"}]}`,
			http.StatusOK, -1, "", func(t *testing.T, ts *testServer, body map[string]any) {
				// Entra's validator re-reads a disabled user by filter (docs/idp-quirks.md §3, Q16).
				list := decode(t, ts.do(http.MethodGet, "/scim/v2/Users?filter=userName+eq+%22alice%40example.com%22", ""))
				res, _ := list["Resources"].([]any)
				if len(res) != 1 || res[0].(map[string]any)["active"] != false {
					t.Errorf("filter after disabling = %v, want the user with active false", list)
				}
			}},
		{"EntraFilterValuePath", http.MethodGet,
			"/scim/v2/Users?filter=" + urlEscape(`emails[type eq "work"].value eq "ALICE@example.com"`), "",
			http.StatusOK, 1, "u1", nil},
		{"EntraFilterAndNoMatch", http.MethodGet,
			"/scim/v2/Users?filter=" + urlEscape(`userName eq "alice@example.com" and active eq false`), "",
			http.StatusOK, 0, "", nil},
		{"EntraRemoveMembersNoFlag", http.MethodPatch, "/scim/v2/Groups/g1",
			`{"schemas":["` + schemas.URNPatchOp + `"],"Operations":[{"op":"Remove","path":"members","value":[{"$ref":null,"value":"u1"}]}]}`,
			http.StatusNoContent, -1, "", noMembers},
		{"EntraRemoveMembersFlag", http.MethodPatch, "/scim/v2/Groups/g1",
			`{"schemas":["` + schemas.URNPatchOp + `"],"Operations":[{"op":"remove","path":"members[value eq \"u1\"]"}]}`,
			http.StatusNoContent, -1, "", noMembers},
		{"EntraReplaceWorkEmail", http.MethodPatch, "/scim/v2/Users/u1",
			`{"schemas":["` + schemas.URNPatchOp + `"],"Operations":[{"op":"Replace","path":"emails[type eq \"work\"].value","value":"a.ng@example.com"}]}`,
			http.StatusOK, -1, "", func(t *testing.T, _ *testServer, body map[string]any) {
				want := []any{map[string]any{"value": "a.ng@example.com", "type": "work", "primary": true}}
				if !equalJSON(body["emails"], want) {
					t.Errorf("emails = %v, want %v", body["emails"], want)
				}
			}},
		{"EntraCreateUser", http.MethodPost, "/scim/v2/Users",
			`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],"externalId":"bob","userName":"bob@contoso.com","active":true,"emails":[{"primary":true,"type":"work","value":"bob@contoso.com"}],"meta":{"resourceType":"User"},"name":{"formatted":"Bob Ng","familyName":"Ng","givenName":"Bob"},"roles":[]}`,
			http.StatusCreated, -1, "", func(t *testing.T, ts *testServer, body map[string]any) {
				if body["userName"] != "bob@contoso.com" || body["externalId"] != "bob" {
					t.Errorf("created user = %v", body)
				}
				list := decode(t, ts.do(http.MethodGet, "/scim/v2/Users?filter=externalId+eq+%22bob%22", ""))
				if ids := checkList(t, list, 1, 1); len(ids) != 1 || ids[0] != body["id"] {
					t.Errorf("externalId filter after create = %v, want the new user %v", ids, body["id"])
				}
			}},
		{"EntraCreateUserTaken", http.MethodPost, "/scim/v2/Users",
			`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"Alice@Example.com","active":true}`,
			http.StatusConflict, -1, "", nil},
		{"OktaCreateUser", http.MethodPost, "/scim/v2/Users",
			`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"carol@example.com","name":{"givenName":"Carol","familyName":"Ng"},"emails":[{"primary":true,"value":"carol@example.com","type":"work"}],"displayName":"Carol Ng","locale":"en-US","externalId":"00u1abcd","groups":[],"password":"x7Kq2p9z","active":true}`,
			http.StatusCreated, -1, "", func(t *testing.T, _ *testServer, body map[string]any) {
				if _, ok := body["password"]; ok || body["userName"] != "carol@example.com" || body["active"] != true {
					t.Errorf("created user = %v, want carol, active, without a password", body)
				}
			}},
		{"OktaPushGroup", http.MethodPost, "/scim/v2/Groups",
			`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"Engineering","members":[]}`,
			http.StatusCreated, -1, "", func(t *testing.T, _ *testServer, body map[string]any) {
				if body["displayName"] != "Engineering" || body["members"] != nil {
					t.Errorf("created group = %v, want Engineering without members", body)
				}
			}},
		{"OktaReplaceGroup", http.MethodPut, "/scim/v2/Groups/g1",
			`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"Sales","members":[]}`,
			http.StatusOK, -1, "", func(t *testing.T, ts *testServer, body map[string]any) {
				noMembers(t, ts, nil)
			}},
		{"MicrosoftTrailingSlashFilter", http.MethodGet, "/scim/v2/Users/?filter=DisplayName+eq+%22BobIsAmazing%22", "",
			http.StatusOK, 0, "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts := newTestServer(t, Options{})
			ts.put("default", "User", schemas.Resource{"id": "u1", "userName": "alice@example.com", "active": true,
				"emails": []any{map[string]any{"value": "alice@example.com", "type": "work", "primary": true}}})
			ts.put("default", "Group", schemas.Resource{"id": "g1", "displayName": "Sales"}, "u1")
			rec := ts.do(tt.method, tt.target, tt.body, "User-Agent", "")
			if rec.Code != tt.status {
				t.Fatalf("%s %s status = %d, want %d; body %s", tt.method, tt.target, rec.Code, tt.status, rec.Body)
			}
			if rec.Code >= 400 {
				scimType := ""
				if rec.Code == http.StatusConflict {
					scimType = "uniqueness" // the only conflict replayed
				}
				checkError(t, rec, tt.status, scimType)
				return
			}
			if rec.Code == http.StatusNoContent {
				if tt.check != nil {
					tt.check(t, ts, nil)
				}
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
				tt.check(t, ts, body)
			}
		})
	}
}

// noMembers checks that group g1 has no members left.
func noMembers(t *testing.T, ts *testServer, _ map[string]any) {
	t.Helper()
	g := decode(t, ts.do(http.MethodGet, "/scim/v2/Groups/g1", ""))
	if _, ok := g["members"]; ok {
		t.Errorf("group members = %v, want none", g["members"])
	}
}
