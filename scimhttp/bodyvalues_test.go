package scimhttp

import (
	"net/http"
	"strings"
	"testing"

	"github.com/scim-bridge/scim-bridge/schemas"
)

// TestServer_MaxBodyValues: a body of more JSON values and keys than
// Options.MaxBodyValues is 413 naming the limit, whatever the method, and
// nothing is written; a body at the limit is served.
func TestServer_MaxBodyValues(t *testing.T) {
	const user = `{"schemas":["` + schemas.URNUser + `"],"userName":"alice","emails":[{"value":"a@example.com"}]}` // 11 values and keys
	ts := newTestServer(t, Options{MaxBodyValues: 11})
	rec := ts.do("POST", "/scim/v2/Users", user)
	if rec.Code != http.StatusCreated {
		t.Fatalf("POST /Users of 11 values = %d, want 201; body %s", rec.Code, rec.Body)
	}
	id := str(decode(t, rec)["id"])

	over := strings.Replace(user, `"alice"`, `"alice","title":"x"`, 1)
	patch := `{"schemas":["` + schemas.URNPatchOp + `"],"Operations":[{"op":"replace","path":"title","value":["x","y"]}]}`
	bulk := `{"schemas":["` + URNBulkRequest + `"],"Operations":[{"method":"DELETE","bulkId":"b","path":"/Users/` + id + `"}]}`
	for _, tt := range []struct {
		method, target, body, what string
	}{
		{"POST", "/scim/v2/Users", over, "the request body"},
		{"PUT", "/scim/v2/Users/" + id, over, "the request body"},
		{"PATCH", "/scim/v2/Users/" + id, patch, "the request body"},
		{"POST", "/scim/v2/Bulk", bulk, "the BulkRequest"},
		{"POST", "/scim/v2/Users/.search", `{"schemas":["` + schemas.URNSearch + `"],"filter":"userName pr","attributes":["a","b","c","d","e","f","g"]}`, "the request body"},
	} {
		rec := ts.do(tt.method, tt.target, tt.body)
		e := checkError(t, rec, http.StatusRequestEntityTooLarge, "")
		if want := tt.what + " holds more than 11 JSON values (object keys included)"; str(e["detail"]) != want {
			t.Errorf("%s %s: detail = %q, want %q", tt.method, tt.target, e["detail"], want)
		}
	}
	rec = ts.do("GET", "/scim/v2/Users/"+id, "")
	if rec.Code != http.StatusOK || strings.Contains(rec.Body.String(), `"title"`) {
		t.Errorf("GET after the refused writes = %d %s, want 200 without a title", rec.Code, rec.Body)
	}
}
