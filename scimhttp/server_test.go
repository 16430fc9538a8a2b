package scimhttp

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/scim-bridge/scim-bridge/internal/testutil"
	"github.com/scim-bridge/scim-bridge/schemas"
)

const (
	testToken = "s3cret-token"
	testBase  = "https://scim.example.com/scim/v2"
)

// testServer is a Server on the real write path and read model (stack),
// reached through a faultStore, with a fresh metrics registry and logs
// going to the test.
type testServer struct {
	t     testing.TB
	srv   *Server
	stack *stack
	store *faultStore
	reg   *prometheus.Registry
}

// newTestServer is a test server whose token testToken is the tenant
// "default".
func newTestServer(t testing.TB, opts Options) *testServer {
	t.Helper()
	return newAuthServer(t, StaticToken(testToken, "default"), opts)
}

// newAuthServer is a test server with the authenticator auth.
func newAuthServer(t testing.TB, auth Authenticator, opts Options) *testServer {
	t.Helper()
	reg, err := schemas.NewRegistry()
	if err != nil {
		t.Fatalf("NewRegistry() = %v", err)
	}
	st := newStack(t, reg)
	store := &faultStore{r: st.proj, w: st.bridge}
	preg := prometheus.NewRegistry()
	opts.Registerer = preg
	if opts.Logger == nil {
		opts.Logger = testutil.Logger(t, slog.LevelInfo)
	}
	if opts.BaseURL == "" {
		opts.BaseURL = testBase
	}
	srv, err := New(reg, store, store, auth, opts)
	if err != nil {
		t.Fatalf("New() = %v", err)
	}
	return &testServer{t: t, srv: srv, stack: st, store: store, reg: preg}
}

// put adds a resource as if written earlier (stack.put).
func (ts *testServer) put(tenant, typ string, r schemas.Resource, members ...string) {
	ts.t.Helper()
	ts.stack.put(tenant, typ, r, members...)
}

// do sends an authenticated request; body may be "" for none.
func (ts *testServer) do(method, target, body string, header ...string) *httptest.ResponseRecorder {
	ts.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req := httptest.NewRequest(method, target, rd)
	req.Header.Set("Authorization", "Bearer "+testToken)
	if body != "" {
		req.Header.Set("Content-Type", "application/scim+json; charset=utf-8")
	}
	for i := 0; i+1 < len(header); i += 2 {
		if header[i+1] == "" {
			req.Header.Del(header[i])
		} else {
			req.Header.Set(header[i], header[i+1])
		}
	}
	rec := httptest.NewRecorder()
	ts.srv.Handler().ServeHTTP(rec, req)
	return rec
}

// decode decodes a JSON body with json.Number, so tests can tell integers
// from strings.
func decode(t *testing.T, rec *httptest.ResponseRecorder) map[string]any {
	t.Helper()
	d := json.NewDecoder(bytes.NewReader(rec.Body.Bytes()))
	d.UseNumber()
	var m map[string]any
	if err := d.Decode(&m); err != nil {
		t.Fatalf("decode body %q: %v", rec.Body.String(), err)
	}
	return m
}

// checkError checks a SCIM error response.
func checkError(t *testing.T, rec *httptest.ResponseRecorder, status int, scimType string) map[string]any {
	t.Helper()
	if rec.Code != status {
		t.Fatalf("status = %d, want %d; body %s", rec.Code, status, rec.Body)
	}
	if got := rec.Header().Get("Content-Type"); got != ContentType {
		t.Errorf("Content-Type = %q, want %q", got, ContentType)
	}
	m := decode(t, rec)
	if got, want := m["status"], any(strconv.Itoa(status)); got != want {
		t.Errorf("body status = %#v, want %#v (a string)", got, want)
	}
	if got := m["schemas"]; !equalJSON(got, []any{schemas.URNError}) {
		t.Errorf("body schemas = %v, want [%s]", got, schemas.URNError)
	}
	gotType, _ := m["scimType"].(string)
	if gotType != scimType {
		t.Errorf("scimType = %q, want %q", gotType, scimType)
	}
	if d, _ := m["detail"].(string); d == "" {
		t.Errorf("detail is empty")
	}
	return m
}

// userJSON is a POST or PUT body of a user named userName.
func userJSON(userName string) string {
	return `{"schemas":["` + schemas.URNUser + `"],"userName":"` + userName + `"}`
}

// renameJSON is a PATCH body that sets displayName, which users and groups
// both have.
const renameJSON = `{"Operations":[{"op":"replace","path":"displayName","value":"Renamed"}]}`

func equalJSON(a, b any) bool {
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return bytes.Equal(ja, jb)
}
