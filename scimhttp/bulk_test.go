package scimhttp

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/scim-bridge/scim-bridge/schemas"
	"github.com/scim-bridge/scim-bridge/scimhttp/tenants"
)

// bulkBody is a BulkRequest of the given operations; failOnErrors 0 leaves
// it out.
func bulkBody(failOnErrors int, ops ...string) string {
	fail := ""
	if failOnErrors > 0 {
		fail = fmt.Sprintf(`"failOnErrors":%d,`, failOnErrors)
	}
	return `{"schemas":["` + URNBulkRequest + `"],` + fail + `"Operations":[` + strings.Join(ops, ",") + `]}`
}

func postUser(bulkID, userName string) string {
	return `{"method":"POST","path":"/Users","bulkId":"` + bulkID + `","data":{"schemas":["` + schemas.URNUser + `"],"userName":"` + userName + `"}}`
}

// postGroup is a POST of a group whose members are the given values
// ("bulkId:<id>" references or ids).
func postGroup(bulkID, name string, members ...string) string {
	var ms []string
	for _, m := range members {
		ms = append(ms, `{"value":"`+m+`"}`)
	}
	return `{"method":"POST","path":"/Groups","bulkId":"` + bulkID + `","data":{"schemas":["` + schemas.URNGroup + `"],"displayName":"` + name + `","members":[` + strings.Join(ms, ",") + `]}}`
}

// bulkResults posts a BulkRequest, checks it is answered 200 with a
// BulkResponse and returns its operations.
func bulkResults(t *testing.T, ts *testServer, body string) []map[string]any {
	t.Helper()
	rec := ts.do(http.MethodPost, "/scim/v2/Bulk", body)
	if rec.Code != http.StatusOK {
		t.Fatalf("POST /Bulk = %d, want 200; body %s", rec.Code, rec.Body)
	}
	if got := rec.Header().Get("Content-Type"); got != ContentType {
		t.Errorf("Content-Type = %q, want %q", got, ContentType)
	}
	m := decode(t, rec)
	if !equalJSON(m["schemas"], []any{URNBulkResponse}) {
		t.Errorf("schemas = %v, want [%s]", m["schemas"], URNBulkResponse)
	}
	var out []map[string]any
	ops, _ := m["Operations"].([]any)
	for _, o := range ops {
		out = append(out, o.(map[string]any))
	}
	return out
}

// checkResult checks one operation's result: its method, bulkId and
// status, a location under endpoint and, for a 200 or 201, a version (a
// 204 has none, a failure has a response). It returns the resource id.
func checkResult(t *testing.T, res map[string]any, method, bulkID, status, endpoint string) string {
	t.Helper()
	if res["method"] != method || str(res["bulkId"]) != bulkID || res["status"] != status {
		t.Fatalf("result = %v, want method %s, bulkId %q, status %s", res, method, bulkID, status)
	}
	loc := str(res["location"])
	id, ok := strings.CutPrefix(loc, testBase+endpoint+"/")
	if !ok || id == "" {
		t.Fatalf("result location = %q, want %s%s/{id}", loc, testBase, endpoint)
	}
	if res["response"] != nil {
		t.Errorf("result %v has a response; a success has none", res)
	}
	v := str(res["version"])
	if status == "204" && v != "" || status != "204" && !strings.HasPrefix(v, `W/"`) {
		t.Errorf("result %v: version %q", res, v)
	}
	return id
}

// etag is what GET answers as the ETag of a resource, "" when it is gone.
func etag(t *testing.T, ts *testServer, endpoint, id string) string {
	t.Helper()
	return ts.do(http.MethodGet, "/scim/v2"+endpoint+"/"+id, "").Header().Get("ETag")
}

// checkOpError checks a failed operation's SCIM error.
func checkOpError(t *testing.T, res map[string]any, status, scimType, detailPart string) {
	t.Helper()
	resp, _ := res["response"].(map[string]any)
	if res["status"] != status || resp == nil || resp["status"] != status || str(resp["scimType"]) != scimType ||
		!equalJSON(resp["schemas"], []any{schemas.URNError}) || !strings.Contains(str(resp["detail"]), detailPart) {
		t.Errorf("result = %v, want status %s with an error of scimType %q whose detail says %q", res, status, scimType, detailPart)
	}
	if res["version"] != nil {
		t.Errorf("failed result %v has a version", res)
	}
}

func str(v any) string { s, _ := v.(string); return s }

// members returns the member ids of a group, sorted.
func members(t *testing.T, ts *testServer, groupID string) []string {
	t.Helper()
	rec := ts.do(http.MethodGet, "/scim/v2/Groups/"+groupID, "")
	if rec.Code != http.StatusOK {
		t.Fatalf("GET group = %d %s", rec.Code, rec.Body)
	}
	var ids []string
	ms, _ := decode(t, rec)["members"].([]any)
	for _, m := range ms {
		ids = append(ids, str(m.(map[string]any)["value"]))
	}
	slices.Sort(ids)
	return ids
}

// total is the number of resources at an endpoint.
func total(t *testing.T, ts *testServer, endpoint string) string {
	t.Helper()
	return decode(t, ts.do(http.MethodGet, "/scim/v2"+endpoint+"?count=0", ""))["totalResults"].(interface{ String() string }).String()
}

func sorted(ids ...string) []string {
	ids = slices.Clone(ids)
	slices.Sort(ids)
	return ids
}

// TestBulk_MembersByBulkID creates two users and a group whose members
// reference them by bulkId; the group comes first, so its POST waits for
// theirs (RFC 7644 §3.7.2), and the response still lists the request's
// order.
func TestBulk_MembersByBulkID(t *testing.T) {
	ts := newTestServer(t, Options{})
	got := bulkResults(t, ts, bulkBody(0,
		postGroup("g", "Tour Guides", "bulkId:alice", "bulkId:bob"),
		postUser("alice", "alice@example.com"),
		postUser("bob", "bob@example.com"),
	))
	if len(got) != 3 {
		t.Fatalf("results = %v, want 3", got)
	}
	g := checkResult(t, got[0], "POST", "g", "201", "/Groups")
	alice := checkResult(t, got[1], "POST", "alice", "201", "/Users")
	bob := checkResult(t, got[2], "POST", "bob", "201", "/Users")
	if m := members(t, ts, g); !slices.Equal(m, sorted(alice, bob)) {
		t.Errorf("members = %v, want alice %s and bob %s", m, alice, bob)
	}
	if got[0]["version"] != `W/"2"` || etag(t, ts, "/Groups", g) != `W/"2"` { // created, then its members added
		t.Errorf("group version = %v, want W/\"2\" as GET says", got[0]["version"])
	}
	if got[1]["version"] != `W/"1"` || etag(t, ts, "/Users", alice) != `W/"1"` {
		t.Errorf("user version = %v, want W/\"1\" as GET says", got[1]["version"])
	}
}

// TestBulk_PatchByBulkID patches a group the same request creates, through
// its path /Groups/bulkId:<id>, adding a user the request creates too.
func TestBulk_PatchByBulkID(t *testing.T) {
	ts := newTestServer(t, Options{})
	got := bulkResults(t, ts, bulkBody(0,
		postGroup("g", "Sales"),
		postUser("u", "carol@example.com"),
		`{"method":"PATCH","path":"/Groups/bulkId:g","data":{"schemas":["`+schemas.URNPatchOp+`"],"Operations":[
			{"op":"add","path":"members","value":[{"value":"bulkId:u"}]},
			{"op":"replace","path":"displayName","value":"Sales EMEA"}]}}`,
	))
	if len(got) != 3 {
		t.Fatalf("results = %v, want 3", got)
	}
	g := checkResult(t, got[0], "POST", "g", "201", "/Groups")
	u := checkResult(t, got[1], "POST", "u", "201", "/Users")
	if id := checkResult(t, got[2], "PATCH", "", "200", "/Groups"); id != g {
		t.Errorf("PATCH location names %s, want the group %s", id, g)
	}
	if m := members(t, ts, g); !slices.Equal(m, []string{u}) {
		t.Errorf("members = %v, want [%s]", m, u)
	}
	if got[2]["version"] != etag(t, ts, "/Groups", g) || got[2]["version"] != `W/"3"` { // + members added, renamed
		t.Errorf("PATCH version = %v, want W/\"3\" as GET says", got[2]["version"])
	}
	if name := decode(t, ts.do(http.MethodGet, "/scim/v2/Groups/"+g, ""))["displayName"]; name != "Sales EMEA" {
		t.Errorf("displayName = %v, want Sales EMEA", name)
	}
}

// TestBulk_PutAndDelete: a PUT answers 200 with the new version, a DELETE
// 204 with the location and no version, both of resources the request
// created.
func TestBulk_PutAndDelete(t *testing.T) {
	ts := newTestServer(t, Options{})
	got := bulkResults(t, ts, bulkBody(0,
		postUser("a", "dave@example.com"),
		`{"method":"PUT","path":"/Users/bulkId:a","version":"W/\"1\"","data":{"schemas":["`+schemas.URNUser+`"],"userName":"dave@example.com","displayName":"Dave"}}`,
		postUser("b", "erin@example.com"),
		`{"method":"DELETE","path":"/Users/bulkId:b"}`,
	))
	if len(got) != 4 {
		t.Fatalf("results = %v, want 4", got)
	}
	a := checkResult(t, got[0], "POST", "a", "201", "/Users")
	if id := checkResult(t, got[1], "PUT", "", "200", "/Users"); id != a || got[1]["version"] != `W/"2"` || etag(t, ts, "/Users", a) != `W/"2"` {
		t.Errorf("PUT result = %v, want the user %s at version W/\"2\"", got[1], a)
	}
	b := checkResult(t, got[2], "POST", "b", "201", "/Users")
	if id := checkResult(t, got[3], "DELETE", "", "204", "/Users"); id != b || etag(t, ts, "/Users", b) != "" {
		t.Errorf("DELETE location names %s, want %s, which GET no longer finds", id, b)
	}
	if n := total(t, ts, "/Users"); n != "1" {
		t.Errorf("users = %s, want 1", n)
	}
}

// TestBulk_CircularReference: two groups that are each other's member are
// answered 409 (RFC 7644 §3.7.1 allows it), as is an operation that needs
// one of them; the rest of the request runs.
func TestBulk_CircularReference(t *testing.T) {
	ts := newTestServer(t, Options{})
	got := bulkResults(t, ts, bulkBody(0,
		postGroup("a", "A", "bulkId:b"),
		postGroup("b", "B", "bulkId:a"),
		postUser("u", "frank@example.com"),
		`{"method":"PATCH","path":"/Groups/bulkId:a","data":{"Operations":[{"op":"add","path":"members","value":[{"value":"bulkId:u"}]}]}}`,
		postGroup("self", "Self", "bulkId:self"),
	))
	if len(got) != 5 {
		t.Fatalf("results = %v, want 5", got)
	}
	checkOpError(t, got[0], "409", "", "cycle")
	checkOpError(t, got[1], "409", "", "cycle")
	checkResult(t, got[2], "POST", "u", "201", "/Users")
	checkOpError(t, got[3], "409", "", "bulkId:a: the POST with that bulkId (Operations[0]) failed")
	checkOpError(t, got[4], "409", "", "cycle")
	for i, res := range []map[string]any{got[0], got[1], got[4]} {
		if res["location"] != nil {
			t.Errorf("failed POST %d has a location: %v", i, res)
		}
	}
	if n := total(t, ts, "/Groups"); n != "0" {
		t.Errorf("groups = %s, want 0", n)
	}
}

// TestBulk_FailOnErrors: with failOnErrors 2 the second error ends the
// request; what follows is not processed and not in the response.
func TestBulk_FailOnErrors(t *testing.T) {
	ts := newTestServer(t, Options{})
	got := bulkResults(t, ts, bulkBody(2,
		postUser("a", "gina@example.com"),
		`{"method":"PUT","path":"/Users/no-such-user","data":{"schemas":["`+schemas.URNUser+`"],"userName":"x@example.com"}}`,
		postUser("b", "hank@example.com"),
		postUser("dup", "GINA@example.com"),
		postUser("c", "ivan@example.com"),
		`{"method":"DELETE","path":"/Users/bulkId:a"}`,
	))
	if len(got) != 4 {
		t.Fatalf("results = %v, want 4: the operations up to the second error", got)
	}
	checkResult(t, got[0], "POST", "a", "201", "/Users")
	checkOpError(t, got[1], "404", "", "")
	if got[1]["location"] != testBase+"/Users/no-such-user" {
		t.Errorf("failed PUT location = %v, want the resource it named", got[1]["location"])
	}
	checkResult(t, got[2], "POST", "b", "201", "/Users")
	checkOpError(t, got[3], "409", "uniqueness", "userName")
	if n := total(t, ts, "/Users"); n != "2" {
		t.Errorf("users = %s, want 2: ivan is not created, gina not deleted", n)
	}

	// Without failOnErrors every operation runs.
	got = bulkResults(t, ts, bulkBody(0,
		`{"method":"DELETE","path":"/Users/no-such-user"}`,
		`{"method":"DELETE","path":"/Users/no-such-user-either"}`,
		postUser("c", "ivan@example.com"),
	))
	if len(got) != 3 || got[0]["status"] != "404" || got[1]["status"] != "404" || got[2]["status"] != "201" {
		t.Errorf("results = %v, want 404, 404, 201", got)
	}
}

// TestBulk_Limits: more operations than maxOperations, or a body over
// maxPayloadSize, is 413 with the limit in the detail (RFC 7644 §3.7.4),
// and nothing runs; /ServiceProviderConfig advertises exactly the limits
// enforced.
func TestBulk_Limits(t *testing.T) {
	ts := newTestServer(t, Options{MaxBulkOps: 3, MaxBodyBytes: 2048})
	spc := decode(t, ts.do(http.MethodGet, "/scim/v2/ServiceProviderConfig", ""))
	if want := map[string]any{"supported": true, "maxOperations": 3, "maxPayloadSize": 2048}; !equalJSON(spc["bulk"], want) {
		t.Errorf("bulk = %v, want %v", spc["bulk"], want)
	}

	rec := ts.do(http.MethodPost, "/scim/v2/Bulk", bulkBody(0,
		postUser("a", "a@example.com"), postUser("b", "b@example.com"), postUser("c", "c@example.com"), postUser("d", "d@example.com")))
	if e := checkError(t, rec, http.StatusRequestEntityTooLarge, ""); !strings.Contains(str(e["detail"]), "maxOperations (3)") {
		t.Errorf("detail = %v, want it to name maxOperations (3)", e["detail"])
	}

	big := postUser("a", "a@example.com"+strings.Repeat(" ", 2048))
	rec = ts.do(http.MethodPost, "/scim/v2/Bulk", bulkBody(0, big))
	if e := checkError(t, rec, http.StatusRequestEntityTooLarge, ""); !strings.Contains(str(e["detail"]), "maxPayloadSize (2048 bytes)") {
		t.Errorf("detail = %v, want it to name maxPayloadSize (2048 bytes)", e["detail"])
	}
	if n := total(t, ts, "/Users"); n != "0" {
		t.Fatalf("users = %s after refused requests, want 0", n)
	}

	// At the limits: accepted.
	body := bulkBody(0, postUser("a", "a@example.com"), postUser("b", "b@example.com"), postUser("c", "c@example.com"))
	body = strings.Replace(body, `"Operations"`, strings.Repeat(" ", 2048-len(body))+`"Operations"`, 1)
	if len(body) != 2048 {
		t.Fatalf("body is %d bytes, want 2048", len(body))
	}
	if got := bulkResults(t, ts, body); len(got) != 3 || got[2]["status"] != "201" {
		t.Errorf("results = %v, want 3 created", got)
	}
}

// TestBulk_Defaults: /ServiceProviderConfig advertises the defaults.
func TestBulk_Defaults(t *testing.T) {
	ts := newTestServer(t, Options{})
	spc := decode(t, ts.do(http.MethodGet, "/scim/v2/ServiceProviderConfig", ""))
	if want := map[string]any{"supported": true, "maxOperations": DefaultMaxBulkOps, "maxPayloadSize": DefaultMaxBodyBytes}; !equalJSON(spc["bulk"], want) {
		t.Errorf("bulk = %v, want %v", spc["bulk"], want)
	}
}

// TestBulk_BadRequest: what is wrong with the request as a whole is a
// SCIM error for it, and nothing runs.
func TestBulk_BadRequest(t *testing.T) {
	ok := postUser("a", "a@example.com")
	tests := []struct {
		name, body, scimType, detail string
	}{
		{"NotJSON", `{"schemas":`, "invalidSyntax", "not valid JSON"},
		{"NotObject", `[]`, "invalidSyntax", "not a JSON object"},
		{"NoSchemas", `{"Operations":[` + ok + `]}`, "invalidSyntax", URNBulkRequest},
		{"WrongSchemas", `{"schemas":["` + schemas.URNPatchOp + `"],"Operations":[` + ok + `]}`, "invalidSyntax", URNBulkRequest},
		{"NoOperations", `{"schemas":["` + URNBulkRequest + `"]}`, "invalidSyntax", `no "Operations"`},
		{"OperationsNotArray", `{"schemas":["` + URNBulkRequest + `"],"Operations":{}}`, "invalidSyntax", "not an array"},
		{"EmptyOperations", bulkBody(0), "invalidValue", "empty"},
		{"OperationNotObject", bulkBody(0, ok, `"DELETE /Users/x"`), "invalidSyntax", "Operations[1] is not a JSON object"},
		{"FailOnErrorsZero", strings.Replace(bulkBody(1, ok), `"failOnErrors":1`, `"failOnErrors":0`, 1), "invalidValue", "failOnErrors"},
		{"FailOnErrorsString", strings.Replace(bulkBody(1, ok), `"failOnErrors":1`, `"failOnErrors":"1"`, 1), "invalidValue", "failOnErrors"},
		{"DuplicateBulkID", bulkBody(0, ok, postUser("a", "b@example.com")), "invalidValue", `Operations[0] and Operations[1] both have bulkId "a"`},
		{"DuplicateKey", bulkBody(0, `{"method":"POST","path":"/Users","bulkId":"x","data":{"userName":"a","UserName":"b"}}`), "invalidSyntax", "given twice"},
		{"DuplicateKeyInOperation", bulkBody(0, `{"method":"POST","Method":"DELETE","path":"/Users","bulkId":"x","data":{"userName":"a"}}`), "invalidSyntax", "given twice"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts := newTestServer(t, Options{})
			e := checkError(t, ts.do(http.MethodPost, "/scim/v2/Bulk", tt.body), http.StatusBadRequest, tt.scimType)
			if !strings.Contains(str(e["detail"]), tt.detail) {
				t.Errorf("detail = %q, want it to say %q", e["detail"], tt.detail)
			}
			if n := total(t, ts, "/Users"); n != "0" {
				t.Errorf("users = %s, want 0", n)
			}
		})
	}
}

// TestBulk_BadOperation: what is wrong with one operation fails that
// operation only (RFC 7644 §3.7.3 shows a failed POST in a 200
// BulkResponse); the others run.
func TestBulk_BadOperation(t *testing.T) {
	tests := []struct {
		name, op, status, scimType, detail string
	}{
		{"NoMethod", `{"path":"/Users","bulkId":"x","data":{}}`, "400", "invalidValue", `"method" is required`},
		{"BadMethod", `{"method":"GET","path":"/Users/x"}`, "400", "invalidValue", `method "GET" is not POST, PUT, PATCH or DELETE`},
		{"MethodNotString", `{"method":1,"path":"/Users/x"}`, "400", "invalidSyntax", `"method" is not a string`},
		{"NoPath", `{"method":"DELETE"}`, "400", "invalidValue", `"path" is required`},
		{"PathOutside", `{"method":"DELETE","path":"/Schemas/x"}`, "400", "invalidValue", "is not a resource type's endpoint (/Users, /Groups)"},
		{"PathBulk", `{"method":"POST","path":"/Bulk","bulkId":"x","data":{}}`, "400", "invalidValue", "is not a resource type's endpoint"},
		{"PathRelative", `{"method":"DELETE","path":"Users/x"}`, "400", "invalidValue", "is not a resource type's endpoint"},
		{"PostToID", `{"method":"POST","path":"/Users/x","bulkId":"x","data":{"userName":"z"}}`, "400", "invalidValue", "a POST goes to a resource type's endpoint"},
		{"DeleteCollection", `{"method":"DELETE","path":"/Users"}`, "400", "invalidValue", "DELETE needs the path of one resource"},
		{"PostWithoutBulkID", `{"method":"POST","path":"/Users","data":{"userName":"z"}}`, "400", "invalidValue", `"bulkId" is required with POST`},
		{"EmptyBulkID", `{"method":"POST","path":"/Users","bulkId":"","data":{"userName":"z"}}`, "400", "invalidValue", `"bulkId" is empty`},
		{"NoData", `{"method":"PUT","path":"/Users/x"}`, "400", "invalidValue", `"data" is required with PUT`},
		{"DataNotObject", `{"method":"PATCH","path":"/Users/x","data":"x"}`, "400", "invalidSyntax", `"data" is not a JSON object`},
		{"UnknownBulkID", `{"method":"PATCH","path":"/Groups/bulkId:nope","data":{"Operations":[{"op":"remove","path":"members"}]}}`, "400", "invalidValue", `no POST operation of this request has bulkId "nope"`},
		{"UnknownBulkIDInData", postGroup("g", "G", "bulkId:nope"), "400", "invalidValue", `no POST operation of this request has bulkId "nope"`},
		{"BulkIDOfNotAPost", `{"method":"DELETE","path":"/Users/bulkId:ok2"}`, "400", "invalidValue", `no POST operation of this request has bulkId "ok2"`},
		{"InvalidResource", `{"method":"POST","path":"/Users","bulkId":"x","data":{"schemas":["` + schemas.URNUser + `"],"userName":""}}`, "400", "invalidValue", "userName"},
		{"VersionMismatch", `{"method":"PATCH","path":"/Users/bulkId:ok","version":"W/\"7\"","data":{"Operations":[{"op":"replace","path":"active","value":false}]}}`, "412", "", "If-Match"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts := newTestServer(t, Options{})
			got := bulkResults(t, ts, bulkBody(0,
				postUser("ok", "ok@example.com"),
				tt.op,
				`{"method":"DELETE","path":"/Users/none","bulkId":"ok2"}`,
				postUser("ok3", "ok3@example.com"),
			))
			if len(got) != 4 {
				t.Fatalf("results = %v, want 4", got)
			}
			checkResult(t, got[0], "POST", "ok", "201", "/Users")
			checkOpError(t, got[1], tt.status, tt.scimType, tt.detail)
			checkResult(t, got[3], "POST", "ok3", "201", "/Users")
		})
	}
}

// TestBulk_IfMatchHeaderIsNotTheOperations: the request's own If-Match
// header says nothing about its operations; each has its "version".
func TestBulk_IfMatchHeaderIsNotTheOperations(t *testing.T) {
	ts := newTestServer(t, Options{})
	got := bulkResults(t, ts, bulkBody(0, postUser("a", "a@example.com"),
		`{"method":"PATCH","path":"/Users/bulkId:a","data":{"Operations":[{"op":"replace","path":"active","value":false}]}}`))
	rec := ts.do(http.MethodPost, "/scim/v2/Bulk", bulkBody(0,
		`{"method":"DELETE","path":"/Users/`+strings.TrimPrefix(str(got[0]["location"]), testBase+"/Users/")+`"}`), "If-Match", `W/"1"`)
	if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), `"status":"204"`) {
		t.Errorf("DELETE with a stale If-Match header = %d %s, want the operation's 204", rec.Code, rec.Body)
	}
}

// TestBulk_RateLimit: each operation counts against the tenant's rate
// limit as a request would, and a tenant's burst bounds (and is
// advertised as) its maxOperations.
func TestBulk_RateLimit(t *testing.T) {
	now := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	opts := Options{RateLimit: tenants.RateLimit{RequestsPerSecond: 0.001, Burst: 4}, Now: func() time.Time { return now }}

	ts := newTestServer(t, opts)
	spc := decode(t, ts.do(http.MethodGet, "/scim/v2/ServiceProviderConfig", "")) // one request: 3 left
	if got := spc["bulk"].(map[string]any)["maxOperations"]; !equalJSON(got, 4) {
		t.Errorf("maxOperations = %v, want the burst 4", got)
	}
	rec := ts.do(http.MethodPost, "/scim/v2/Bulk", bulkBody(0,
		postUser("a", "a@example.com"), postUser("b", "b@example.com"), postUser("c", "c@example.com")))
	if rec.Code != http.StatusOK { // three operations: none left
		t.Fatalf("bulk of 3 = %d %s, want 200", rec.Code, rec.Body)
	}
	rec = ts.do(http.MethodPost, "/scim/v2/Bulk", bulkBody(0, postUser("d", "d@example.com")))
	checkError(t, rec, http.StatusTooManyRequests, "")

	ts = newTestServer(t, opts)
	rec = ts.do(http.MethodPost, "/scim/v2/Bulk", bulkBody(0,
		postUser("a", "a@example.com"), postUser("b", "b@example.com"), postUser("c", "c@example.com"),
		postUser("d", "d@example.com"), postUser("e", "e@example.com")))
	if e := checkError(t, rec, http.StatusRequestEntityTooLarge, ""); !strings.Contains(str(e["detail"]), "maxOperations (4)") {
		t.Errorf("detail = %v, want maxOperations (4)", e["detail"])
	}
	// 4 - 1 (the refused request) = 3 left: a bulk of 4 waits for one more.
	rec = ts.do(http.MethodPost, "/scim/v2/Bulk", bulkBody(0,
		postUser("a", "a@example.com"), postUser("b", "b@example.com"), postUser("c", "c@example.com"), postUser("d", "d@example.com")))
	if e := checkError(t, rec, http.StatusTooManyRequests, ""); !strings.Contains(str(e["detail"]), "each operation of a bulk request counts as one") {
		t.Errorf("detail = %v, want it to say operations count", e["detail"])
	}
	if rec.Header().Get("Retry-After") == "" {
		t.Errorf("429 without Retry-After")
	}
	ts.srv.opts.RateLimit = tenants.RateLimit{} // read the total unlimited
	if n := total(t, ts, "/Users"); n != "0" {
		t.Errorf("users = %s, want 0", n)
	}
}

// TestBulk_MetricsAndAudit: operations are counted by method, status and
// tenant; the audit line redacts each operation's data as that single
// request's body (a password in a PATCH shows no length) and lists what
// each operation did.
func TestBulk_MetricsAndAudit(t *testing.T) {
	var audit bytes.Buffer
	ts := newTestServer(t, Options{Audit: true, AuditLogger: slog.New(slog.NewJSONHandler(&audit, nil))})
	got := bulkResults(t, ts, bulkBody(0,
		postUser("a", "alice@example.com"),
		`{"method":"PATCH","path":"/Users/bulkId:a","data":{"Operations":[{"op":"replace","path":"password","value":"s3cr3tpw"}]}}`,
		`{"method":"DELETE","path":"/Users/no-such-user"}`,
	))
	if len(got) != 3 {
		t.Fatalf("results = %v", got)
	}
	id := checkResult(t, got[0], "POST", "a", "201", "/Users")

	mfs, err := ts.reg.Gather()
	if err != nil {
		t.Fatalf("Gather() = %v", err)
	}
	counts := map[string]float64{}
	for _, mf := range mfs {
		if mf.GetName() == "scim_http_bulk_operations_total" {
			for _, m := range mf.GetMetric() {
				counts[labels(m)] = m.GetCounter().GetValue()
			}
		}
	}
	wantCounts := map[string]float64{
		"method=POST,status=201,tenant=default":   1,
		"method=PATCH,status=200,tenant=default":  1,
		"method=DELETE,status=404,tenant=default": 1,
	}
	if !maps.Equal(counts, wantCounts) {
		t.Errorf("scim_http_bulk_operations_total = %v, want %v", counts, wantCounts)
	}

	raw := audit.String()
	lines := auditLines(t, &audit)
	if len(lines) != 1 {
		t.Fatalf("audit lines = %v, want 1", lines)
	}
	line := lines[0]
	if line["route"] != "/scim/v2/Bulk" || line["status"] != 200.0 {
		t.Errorf("audit line = %v, want route /scim/v2/Bulk and status 200", line)
	}
	wantOps := []any{
		map[string]any{"method": "POST", "resource_id": id, "status": 201},
		map[string]any{"method": "PATCH", "resource_id": id, "status": 200},
		map[string]any{"method": "DELETE", "resource_id": "no-such-user", "status": 404},
	}
	if !equalJSON(line["operations"], wantOps) {
		t.Errorf("audit operations = %v, want %v", line["operations"], wantOps)
	}
	wantBody := map[string]any{
		"schemas": []any{URNBulkRequest},
		"Operations": []any{
			map[string]any{"method": "POST", "path": "/Users", "bulkId": "<redacted:1 chars>", "data": map[string]any{
				"schemas": []any{schemas.URNUser}, "userName": "<redacted:17 chars>"}},
			map[string]any{"method": "PATCH", "path": "/Users/bulkId:<redacted:1 chars>", "data": map[string]any{
				"Operations": []any{map[string]any{"op": "replace", "path": "password", "value": "<redacted>"}}}},
			map[string]any{"method": "DELETE", "path": "/Users/no-such-user"},
		},
	}
	if !equalJSON(line["body"], wantBody) {
		t.Errorf("audit body = %v\nwant %v", line["body"], wantBody)
	}
	if strings.Contains(raw, "alice") || strings.Contains(raw, "s3cr3tpw") {
		t.Errorf("audit line shows a value: %s", raw)
	}
}

// TestBulk_WriteRequests: the handler reads nothing back (a success
// answers no body) and takes each operation's version as its If-Match.
func TestBulk_WriteRequests(t *testing.T) {
	ts := newTestServer(t, Options{})
	ts.put("default", "Group", map[string]any{"id": "g1", "displayName": "G"}, "u9") // version 2
	rename := func(version, name string) string {
		return `{"method":"PATCH","path":"/groups/g1/","version":"W/\"` + version + `\"","data":{"Operations":[{"op":"replace","path":"displayName","value":"` + name + `"}]}}`
	}
	got := bulkResults(t, ts, bulkBody(0, rename("2", "H"), rename("2", "I")))
	if len(got) != 2 || got[0]["status"] != "200" || got[0]["location"] != testBase+"/Groups/g1" || got[0]["version"] != `W/"3"` {
		t.Fatalf("results = %v, want a 200 at /Groups/g1 at version W/\"3\" first", got)
	}
	checkOpError(t, got[1], "412", "", "If-Match")
	if ts.store.gets != 0 {
		t.Errorf("the bulk request read %d resources back, want none", ts.store.gets)
	}
}

// FuzzServer_Bulk sends arbitrary bulk bodies to a test server (the real
// write path): never a 500, for the request or one of its operations,
// always SCIM JSON, and a 200 lists no more results than operations
// allowed.
func FuzzServer_Bulk(f *testing.F) {
	for _, seed := range []string{
		bulkBody(0, postGroup("g", "G", "bulkId:u"), postUser("u", "u@example.com")),
		bulkBody(1, postGroup("a", "A", "bulkId:b"), postGroup("b", "B", "bulkId:a"), `{"method":"DELETE","path":"/Users/bulkId:a"}`),
		bulkBody(0, `{"method":"PATCH","path":"/Groups/bulkId:g","data":{"Operations":[{"op":"add","path":"members","value":[{"value":"bulkId:u"}]}]}}`),
		bulkBody(0, `{"method":"put","path":"/users/x/","version":"W/\"1\"","data":{"userName":"bulkId:"}}`),
		`{"schemas":["` + URNBulkRequest + `"],"failOnErrors":1e3,"Operations":[{"method":"POST"}]}`,
		`{"schemas":["` + URNBulkRequest + `"],"Operations":[{"method":"DELETE","path":"/Users/%zz"},{"method":"DELETE","path":"/"}]}`,
	} {
		f.Add(seed)
	}
	ts := newTestServer(f, Options{MaxBulkOps: 20})
	ts.srv.log = slog.New(slog.DiscardHandler)
	ts.put("default", "Group", schemas.Resource{"id": "g1", "displayName": "Sales"}, "u01")
	f.Fuzz(func(t *testing.T, body string) {
		req := httptest.NewRequest(http.MethodPost, "/scim/v2/Bulk", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+testToken)
		rec := httptest.NewRecorder()
		ts.srv.Handler().ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("POST /Bulk %q: status %d: %s", body, rec.Code, rec.Body)
		}
		if got := rec.Header().Get("Content-Type"); got != ContentType || !json.Valid(rec.Body.Bytes()) {
			t.Fatalf("POST /Bulk %q: Content-Type %q, body %q", body, got, rec.Body)
		}
		if rec.Code != http.StatusOK {
			return
		}
		var resp struct{ Operations []struct{ Status string } }
		if err := json.Unmarshal(rec.Body.Bytes(), &resp); err != nil {
			t.Fatalf("POST /Bulk %q: %v", body, err)
		}
		if len(resp.Operations) > 20 {
			t.Fatalf("POST /Bulk %q: %d results, over maxOperations", body, len(resp.Operations))
		}
		for _, op := range resp.Operations {
			if len(op.Status) != 3 || op.Status[0] == '5' {
				t.Fatalf("POST /Bulk %q: an operation answered %q: %s", body, op.Status, rec.Body)
			}
		}
	})
}
