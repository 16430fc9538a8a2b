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

// TestServer_DenseBodyReserve: a body dense in JSON values counts in the
// budget of bodies in flight for bytesPerValue per value and key, not for
// its size, for as long as its request is served, so that fewer such
// bodies are decoded at once.
func TestServer_DenseBodyReserve(t *testing.T) {
	g := newGateStore("acme")
	srv, reg := newGateServer(t, g, Options{MaxBodyBytes: 1024, MaxInFlightBytes: 4096}) // 2048 per tenant
	h := srv.Handler()
	dense := `{"schemas":["` + schemas.URNUser + `"],"userName":"dense","x":[` + strings.Repeat("1,", 59) + `1]}`
	n, err := schemas.CheckRequestJSON([]byte(dense), "", 0)
	if err != nil || n != 68 {
		t.Fatalf("CheckRequestJSON(dense) = %d, %v; want 68 values", n, err)
	}
	held := serve(h, request("a", http.MethodPost, "/scim/v2/Users", strings.NewReader(dense)))
	g.waitEntered(t, 1)
	if got, want := metricValues(t, reg, "scim_http_body_bytes_in_flight")[""], float64(68*bytesPerValue); got != want {
		t.Errorf("scim_http_body_bytes_in_flight with the dense body held = %v, want %v (68 values), not its %d bytes", got, want, len(dense))
	}
	// 1088 + 1000 bytes are more than acme's 2048.
	rec := await(t, serve(h, request("a", http.MethodPost, "/scim/v2/Users", strings.NewReader(userBody(1000)))), "acme's second body")
	checkError(t, rec, http.StatusServiceUnavailable, "")
	g.open()
	if rec := await(t, held, "the dense body"); rec.Code != http.StatusCreated {
		t.Errorf("POST of the dense body = %d, want 201; body %s", rec.Code, rec.Body)
	}
	if got := metricValues(t, reg, "scim_http_body_bytes_in_flight")[""]; got != 0 {
		t.Errorf("scim_http_body_bytes_in_flight after = %v, want 0", got)
	}
}
