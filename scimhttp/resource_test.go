package scimhttp

import (
	"net/http"
	"strings"
	"testing"

	"github.com/scim-bridge/scim-bridge/bridge"
	"github.com/scim-bridge/scim-bridge/projection/view"
	"github.com/scim-bridge/scim-bridge/schemas"
)

func TestServer_Create(t *testing.T) {
	ts := newTestServer(t, Options{})
	rec := ts.do(http.MethodPost, "/scim/v2/Users",
		`{"schemas":["`+schemas.URNUser+`"],"userName":"alice@example.com","active":true}`)
	if rec.Code != http.StatusCreated {
		t.Fatalf("POST /Users status = %d, want 201; body %s", rec.Code, rec.Body)
	}
	if got, want := rec.Header().Get("Location"), testBase+"/Users/id-1"; got != want {
		t.Errorf("Location = %q, want %q", got, want)
	}
	if got, want := rec.Header().Get("ETag"), `W/"1"`; got != want {
		t.Errorf("ETag = %q, want %q", got, want)
	}
	body := decode(t, rec)
	if got := body["userName"]; got != "alice@example.com" {
		t.Errorf("userName = %v, want alice@example.com", got)
	}
	meta, _ := body["meta"].(map[string]any)
	want := map[string]any{
		"resourceType": "User",
		"created":      "2026-11-27T10:00:00Z",
		"lastModified": "2026-11-27T10:00:00Z",
		"location":     testBase + "/Users/id-1",
		"version":      `W/"1"`,
	}
	if !equalJSON(meta, want) {
		t.Errorf("meta = %v, want %v", meta, want)
	}
}

func TestServer_Get(t *testing.T) {
	tests := []struct {
		name        string
		target      string
		ifNoneMatch string
		status      int
	}{
		{"Plain", "/scim/v2/Users/u1", "", http.StatusOK},
		{"IfNoneMatchCurrent", "/scim/v2/Users/u1", `W/"1"`, http.StatusNotModified},
		{"IfNoneMatchStrongForm", "/scim/v2/Users/u1", `"1"`, http.StatusNotModified},
		{"IfNoneMatchList", "/scim/v2/Users/u1", `W/"7", W/"1"`, http.StatusNotModified},
		{"IfNoneMatchStar", "/scim/v2/Users/u1", `*`, http.StatusNotModified},
		{"IfNoneMatchOld", "/scim/v2/Users/u1", `W/"0"`, http.StatusOK},
		{"TrailingSlash", "/scim/v2/Users/u1/", "", http.StatusOK},
		{"LowerCaseEndpoint", "/scim/v2/users/u1", "", http.StatusOK},
		{"UpperCaseEndpoint", "/scim/v2/USERS/u1/", "", http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts := newTestServer(t, Options{})
			ts.put("default", "User", schemas.Resource{"id": "u1", "userName": "alice", "schemas": []any{schemas.URNUser}})
			rec := ts.do(http.MethodGet, tt.target, "", "If-None-Match", tt.ifNoneMatch)
			if rec.Code != tt.status {
				t.Fatalf("GET status = %d, want %d; body %s", rec.Code, tt.status, rec.Body)
			}
			if got, want := rec.Header().Get("ETag"), `W/"1"`; got != want {
				t.Errorf("ETag = %q, want %q", got, want)
			}
			if tt.status == http.StatusNotModified {
				if rec.Body.Len() != 0 {
					t.Errorf("304 body = %q, want empty", rec.Body)
				}
				return
			}
			if got := decode(t, rec)["id"]; got != "u1" {
				t.Errorf("id = %v, want u1", got)
			}
		})
	}
}

func TestServer_OtherTenant(t *testing.T) {
	ts := newTestServer(t, Options{})
	ts.put("other", "User", schemas.Resource{"id": "u1", "userName": "alice"})
	checkError(t, ts.do(http.MethodGet, "/scim/v2/Users/u1", ""), http.StatusNotFound, "")
}

func TestServer_GetOptions(t *testing.T) {
	tests := []struct {
		name   string
		target string
		want   view.GetOptions
	}{
		{"GroupDefault", "/scim/v2/Groups/g1", view.GetOptions{Members: true, Raw: true}},
		{"GroupExcludedMembers", "/scim/v2/Groups/g1?excludedAttributes=members", view.GetOptions{Raw: true}},
		{"GroupAttributesDisplayName", "/scim/v2/Groups/g1?attributes=displayName", view.GetOptions{}},
		{"GroupAttributesMembersValue", "/scim/v2/Groups/g1?attributes=members.value", view.GetOptions{Members: true}},
		{"UserDefault", "/scim/v2/Users/u1", view.GetOptions{Groups: true, Raw: true}},
		{"UserAttributesUserName", "/scim/v2/Users/u1?attributes=userName", view.GetOptions{}},
		{"UserExcludedGroups", "/scim/v2/Users/u1?excludedAttributes=groups", view.GetOptions{Raw: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts := newTestServer(t, Options{})
			ts.put("default", "User", schemas.Resource{"id": "u1", "userName": "alice"})
			ts.put("default", "Group", schemas.Resource{"id": "g1", "displayName": "Sales"}, "u1")
			rec := ts.do(http.MethodGet, tt.target, "")
			if rec.Code != http.StatusOK {
				t.Fatalf("GET status = %d, want 200; body %s", rec.Code, rec.Body)
			}
			if got := ts.store.lastGet; got != tt.want {
				t.Errorf("GetOptions = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestServer_Refs(t *testing.T) {
	ts := newTestServer(t, Options{})
	ts.put("default", "User", schemas.Resource{"id": "u1", "userName": "alice"})
	ts.put("default", "Group", schemas.Resource{"id": "g1", "displayName": "Sales"}, "u1")

	group := decode(t, ts.do(http.MethodGet, "/scim/v2/Groups/g1", ""))
	wantMembers := []any{map[string]any{"value": "u1", "type": "User", "$ref": testBase + "/Users/u1"}}
	if !equalJSON(group["members"], wantMembers) {
		t.Errorf("group members = %v, want %v", group["members"], wantMembers)
	}

	user := decode(t, ts.do(http.MethodGet, "/scim/v2/Users/u1", ""))
	groups, _ := user["groups"].([]any)
	if len(groups) != 1 {
		t.Fatalf("user groups = %v, want one", user["groups"])
	}
	if got, want := groups[0].(map[string]any)["$ref"], testBase+"/Groups/g1"; got != want {
		t.Errorf("groups[0].$ref = %v, want %v", got, want)
	}
}

func TestServer_ExcludedMembers(t *testing.T) {
	ts := newTestServer(t, Options{})
	ts.put("default", "Group", schemas.Resource{"id": "g1", "displayName": "Sales"}, "u1")
	body := decode(t, ts.do(http.MethodGet, "/scim/v2/Groups/g1?excludedAttributes=members", ""))
	if _, ok := body["members"]; ok {
		t.Errorf("members present with excludedAttributes=members: %v", body["members"])
	}
	if got := body["displayName"]; got != "Sales" {
		t.Errorf("displayName = %v, want Sales", got)
	}
}

func TestServer_MetaSelection(t *testing.T) {
	tests := []struct {
		name     string
		query    string
		wantMeta bool
	}{
		{"Default", "", true},
		{"AttributesUserName", "?attributes=userName", false},
		{"AttributesMeta", "?attributes=userName,meta", true},
		{"ExcludedMeta", "?excludedAttributes=meta", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts := newTestServer(t, Options{})
			ts.put("default", "User", schemas.Resource{"id": "u1", "userName": "alice"})
			body := decode(t, ts.do(http.MethodGet, "/scim/v2/Users/u1"+tt.query, ""))
			if _, got := body["meta"]; got != tt.wantMeta {
				t.Errorf("meta present = %v, want %v; body %v", got, tt.wantMeta, body)
			}
			if body["id"] != "u1" {
				t.Errorf("id = %v, want u1 (always returned)", body["id"])
			}
		})
	}
}

// TestServer_Writes: what each write answers, with which ETag, how If-Match
// reaches the write path, and what the answer reads back (a 204 reads
// nothing). The user u1 is at version 1, the group g1 (members added) at 2.
func TestServer_Writes(t *testing.T) {
	// An answer without an attributes list is read as stored (Raw), as a
	// GET reads it.
	users, groups := view.GetOptions{Groups: true, Raw: true}, view.GetOptions{}
	groupsExcluded := view.GetOptions{Raw: true}
	tests := []struct {
		name     string
		opts     Options
		method   string
		target   string
		body     string
		ifMatch  string
		status   int
		wantETag string           // "" for none
		wantGet  *view.GetOptions // what the answer loads; nil: no answer
	}{
		{"PutUser", Options{}, http.MethodPut, "/scim/v2/Users/u1", userJSON("bob"), "", http.StatusOK, `W/"2"`, &users},
		{"PutUserIfMatch", Options{}, http.MethodPut, "/scim/v2/Users/u1", userJSON("bob"), `W/"1"`, http.StatusOK, `W/"2"`, &users},
		{"PutUserStale", Options{}, http.MethodPut, "/scim/v2/Users/u1", userJSON("bob"), `W/"9"`, http.StatusPreconditionFailed, "", nil},
		{"PatchUser", Options{}, http.MethodPatch, "/scim/v2/Users/u1", renameJSON, "", http.StatusOK, `W/"2"`, &users},
		{"PatchUserNoContentOption", Options{UserPatchNoContent: true}, http.MethodPatch, "/scim/v2/Users/u1", renameJSON, "", http.StatusNoContent, `W/"2"`, nil},
		{"PatchGroup", Options{}, http.MethodPatch, "/scim/v2/Groups/g1", renameJSON, "", http.StatusNoContent, `W/"3"`, nil},
		{"PatchGroupWithAttributes", Options{}, http.MethodPatch, "/scim/v2/Groups/g1?attributes=displayName", renameJSON, "", http.StatusOK, `W/"3"`, &groups},
		{"PatchGroupWithExcluded", Options{}, http.MethodPatch, "/scim/v2/Groups/g1?excludedAttributes=members", renameJSON, "", http.StatusOK, `W/"3"`, &groupsExcluded},
		{"PatchGroupIfMatch", Options{}, http.MethodPatch, "/scim/v2/Groups/g1", renameJSON, `W/"2"`, http.StatusNoContent, `W/"3"`, nil},
		{"PatchGroupStale", Options{}, http.MethodPatch, "/scim/v2/Groups/g1", renameJSON, `W/"1"`, http.StatusPreconditionFailed, "", nil},
		{"PatchMissing", Options{}, http.MethodPatch, "/scim/v2/Users/nope", renameJSON, "", http.StatusNotFound, "", nil},
		{"DeleteUser", Options{}, http.MethodDelete, "/scim/v2/Users/u1", "", "", http.StatusNoContent, "", nil},
		{"DeleteGroupIfMatch", Options{}, http.MethodDelete, "/scim/v2/Groups/g1", "", `W/"2"`, http.StatusNoContent, "", nil},
		{"DeleteGroupStale", Options{}, http.MethodDelete, "/scim/v2/Groups/g1", "", `W/"1"`, http.StatusPreconditionFailed, "", nil},
		{"DeleteMissing", Options{}, http.MethodDelete, "/scim/v2/Users/nope", "", "", http.StatusNotFound, "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts := newTestServer(t, tt.opts)
			ts.put("default", "User", schemas.Resource{"id": "u1", "userName": "alice"})
			ts.put("default", "Group", schemas.Resource{"id": "g1", "displayName": "Sales"}, "u1")
			rec := ts.do(tt.method, tt.target, tt.body, "If-Match", tt.ifMatch)
			if rec.Code != tt.status {
				t.Fatalf("%s %s status = %d, want %d; body %s", tt.method, tt.target, rec.Code, tt.status, rec.Body)
			}
			if rec.Code >= 400 {
				checkError(t, rec, tt.status, "")
				return
			}
			if got := rec.Header().Get("ETag"); got != tt.wantETag {
				t.Errorf("ETag = %q, want %q", got, tt.wantETag)
			}
			// The answer is the resource the write read back (Request.Answer,
			// Applied.Stored): the handler reads nothing again.
			if ts.store.gets != 0 {
				t.Errorf("the handler read back %d resources, want none", ts.store.gets)
			}
			switch {
			case tt.wantGet == nil && ts.store.answer != (view.GetOptions{}):
				t.Errorf("the write loaded %+v for no answer", ts.store.answer)
			case tt.wantGet != nil && ts.store.answer != *tt.wantGet:
				t.Errorf("the write loaded %+v for its answer, want %+v", ts.store.answer, *tt.wantGet)
			}
			if got := rec.Body.Len() > 0; got != (tt.wantGet != nil) {
				t.Fatalf("body present = %v, want %v; body %s", got, tt.wantGet != nil, rec.Body)
			}
			if tt.wantGet == nil {
				return
			}
			body := decode(t, rec)
			if strings.Contains(tt.target, "Groups") {
				if _, ok := body["members"]; ok {
					t.Errorf("members in a projected group PATCH response: %v", body["members"])
				}
			}
			if meta, ok := body["meta"].(map[string]any); ok && meta["version"] != tt.wantETag {
				t.Errorf("meta.version = %v, want %s", meta["version"], tt.wantETag)
			}
			if tt.method == http.MethodPatch && body["displayName"] != "Renamed" {
				t.Errorf("displayName = %v, want Renamed", body["displayName"])
			}
		})
	}
}

func TestServer_HEAD(t *testing.T) {
	ts := newTestServer(t, Options{})
	ts.put("default", "User", schemas.Resource{"id": "u1", "userName": "alice"})
	rec := ts.do(http.MethodHead, "/scim/v2/Users/u1", "")
	if rec.Code != http.StatusOK {
		t.Errorf("HEAD status = %d, want 200", rec.Code)
	}
}

// TestServer_MaxPatchOps: Options.MaxPatchOps bounds a PATCH's operations,
// alone or in a bulk request: more is 400 tooMany, and nothing is written.
func TestServer_MaxPatchOps(t *testing.T) {
	ts := newTestServer(t, Options{MaxPatchOps: 2})
	ts.put("default", "User", schemas.Resource{"id": "u1", "userName": "alice"})
	op := `{"op":"replace","path":"title","value":"T"}`
	two := `{"Operations":[` + op + `,` + op + `]}`
	three := `{"Operations":[` + op + `,` + op + `,` + op + `]}`

	e := checkError(t, ts.do(http.MethodPatch, "/scim/v2/Users/u1", three), http.StatusBadRequest, "tooMany")
	if d, _ := e["detail"].(string); !strings.Contains(d, "2") {
		t.Errorf("detail = %q, want it to name the limit 2", d)
	}
	got := bulkResults(t, ts, bulkBody(0, `{"method":"PATCH","path":"/Users/u1","data":`+three+`}`))
	if len(got) != 1 {
		t.Fatalf("bulk results = %v, want 1", got)
	}
	checkOpError(t, got[0], "400", "tooMany", "")
	if rec := ts.do(http.MethodGet, "/scim/v2/Users/u1", ""); rec.Header().Get("ETag") != `W/"1"` {
		t.Errorf("after refused PATCHes ETag = %q, want W/\"1\": nothing written", rec.Header().Get("ETag"))
	}
	if rec := ts.do(http.MethodPatch, "/scim/v2/Users/u1", two); rec.Code != http.StatusOK {
		t.Errorf("PATCH of 2 operations = %d %s, want 200", rec.Code, rec.Body)
	}
}

// TestServer_RequestDigest: the events of a write carry the digest of the
// request as received (bridge.RequestDigest over its method, id, If-Match
// header as sent and body bytes), which is what recognises its retry.
func TestServer_RequestDigest(t *testing.T) {
	ts := newTestServer(t, Options{})
	ts.put("default", "User", schemas.Resource{"id": "u1", "userName": "alice"})
	post := "{ \"userName\" : \"bob\",\n \"schemas\":[\"" + schemas.URNUser + "\"] }"
	patch := `{"Operations":[{"op":"replace","path":"title","value":"T"}]}`
	reqs := []struct{ method, target, id, ifMatch, body string }{
		{http.MethodPost, "/scim/v2/Users", "", " W/\"7\" ", post}, // a POST's If-Match counts, though it is not checked
		{http.MethodPatch, "/scim/v2/Users/u1", "u1", ` W/"1" `, patch},
		{http.MethodDelete, "/scim/v2/Users/u1", "u1", "", ""},
	}
	for _, r := range reqs {
		if rec := ts.do(r.method, r.target, r.body, "If-Match", r.ifMatch); rec.Code >= 300 {
			t.Fatalf("%s %s = %d %s", r.method, r.target, rec.Code, rec.Body)
		}
	}
	evs := ts.stack.events()[1:] // after the seeded user
	if len(evs) != len(reqs) {
		t.Fatalf("events = %d, want %d", len(evs), len(reqs))
	}
	for i, r := range reqs {
		var body []byte
		if r.body != "" {
			body = []byte(r.body)
		}
		if want := bridge.RequestDigest("default", r.method, schemas.User, r.id, r.ifMatch, body); evs[i].RequestDigest != want {
			t.Errorf("%s: requestDigest = %s, want %s", r.method, evs[i].RequestDigest, want)
		}
	}
}
