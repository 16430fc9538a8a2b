package scimhttp

import (
	"bufio"
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/scim-bridge/scim-bridge/schemas"
	"github.com/scim-bridge/scim-bridge/scimhttp/tenants"
)

// auditLines parses the JSON lines of an audit log.
func auditLines(t *testing.T, buf *bytes.Buffer) []map[string]any {
	t.Helper()
	var lines []map[string]any
	sc := bufio.NewScanner(buf)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("audit line %q: %v", sc.Text(), err)
		}
		lines = append(lines, m)
	}
	return lines
}

func TestServer_Audit(t *testing.T) {
	acme := tenantOf("acme", "a")
	acme.Audit = true
	var audit bytes.Buffer
	ts := newAuthServer(t, mustTable(t, acme, tenantOf("globex", "g")), Options{
		AuditLogger: slog.New(slog.NewJSONHandler(&audit, nil)),
	})
	ts.put("acme", "User", map[string]any{"id": "u1", "userName": "alice@example.com"})
	ts.put("globex", "User", map[string]any{"id": "u1", "userName": "alice@example.com"})
	patch := `{` + patchOp + `,"Operations":[{"op":"Replace","path":"active","value":"False"}]}`

	reqs := []struct{ token, method, target, body string }{
		{"g", http.MethodPost, "/scim/v2/Users", userJSON("bob@example.com")}, // not audited
		{"g", http.MethodPatch, "/scim/v2/Users/u1", patch},                   // not audited
		{"a", http.MethodGet, "/scim/v2/Users/u1", ""},                        // a read
		{"a", http.MethodPost, "/scim/v2/Users/.search", `{"filter":"userName eq \"alice@example.com\""}`},
		{"a", http.MethodPost, "/scim/v2/Users", userJSON("bob@example.com")},
		{"a", http.MethodPatch, "/scim/v2/Users/u1", patch},
		{"a", http.MethodDelete, "/scim/v2/Users/u1", ""},
		{"a", http.MethodPut, "/scim/v2/Users/nope", userJSON("carol@example.com")},
	}
	for _, r := range reqs {
		doAs(ts, r.token, r.method, r.target, r.body)
	}
	got := auditLines(t, &audit)
	want := []map[string]any{
		{"msg": "scim write", "tenant": "acme", "method": "POST", "route": "/scim/v2/Users", "resource_id": "id-2", "status": 201.0,
			"body_bytes": float64(len(userJSON("bob@example.com"))), "body": map[string]any{"schemas": []any{schemas.URNUser}, "userName": "<redacted:15 chars>"}},
		{"msg": "scim write", "tenant": "acme", "method": "PATCH", "route": "/scim/v2/Users/{id}", "resource_id": "u1", "status": 200.0,
			"body_bytes": float64(len(patch)), "body": map[string]any{
				"schemas":    []any{"urn:ietf:params:scim:api:messages:2.0:PatchOp"},
				"Operations": []any{map[string]any{"op": "Replace", "path": "active", "value": "False"}},
			}},
		{"msg": "scim write", "tenant": "acme", "method": "DELETE", "route": "/scim/v2/Users/{id}", "resource_id": "u1", "status": 204.0},
		{"msg": "scim write", "tenant": "acme", "method": "PUT", "route": "/scim/v2/Users/{id}", "resource_id": "nope", "status": 404.0,
			"body_bytes": float64(len(userJSON("carol@example.com"))), "body": map[string]any{"schemas": []any{schemas.URNUser}, "userName": "<redacted:17 chars>"}},
	}
	if len(got) != len(want) {
		t.Fatalf("audit lines = %d, want %d:\n%s", len(got), len(want), audit.String())
	}
	for i := range want {
		if id, _ := got[i]["request_id"].(string); id == "" {
			t.Errorf("audit line %d has no request_id: %v", i, got[i])
		}
		if got[i]["level"] != "INFO" {
			t.Errorf("audit line %d level = %v, want INFO", i, got[i]["level"])
		}
		delete(got[i], "request_id")
		delete(got[i], "time")
		delete(got[i], "level")
		if !equalJSON(got[i], want[i]) {
			t.Errorf("audit line %d = %v, want %v", i, got[i], want[i])
		}
	}
}

func TestServer_AuditOptions(t *testing.T) {
	t.Run("StaticTokenAuditAll", func(t *testing.T) {
		var audit bytes.Buffer
		ts := newAuthServer(t, StaticToken("tok", "default"), Options{
			Audit: true, AuditLogger: slog.New(slog.NewJSONHandler(&audit, nil)),
		})
		doAs(ts, "tok", http.MethodPost, "/scim/v2/Users", `{"userName":"bob"}`)
		if lines := auditLines(t, &audit); len(lines) != 1 || lines[0]["tenant"] != "default" {
			t.Errorf("audit lines = %v, want one for tenant default", lines)
		}
	})
	t.Run("NoAuditLoggerUsesLogger", func(t *testing.T) {
		var logs bytes.Buffer
		tbl, err := tenants.NewStatic("tok", tenants.Tenant{Audit: true})
		if err != nil {
			t.Fatalf("NewStatic() = %v", err)
		}
		ts := newAuthServer(t, tbl, Options{Logger: slog.New(slog.NewJSONHandler(&logs, nil))})
		doAs(ts, "tok", http.MethodPost, "/scim/v2/Users", `{"userName":"bob"}`)
		if !strings.Contains(logs.String(), `"msg":"scim write"`) {
			t.Errorf("log = %s, want an audit line", logs.String())
		}
	})
	t.Run("BodyOverTheLimit", func(t *testing.T) {
		tests := []struct {
			name     string
			chunked  bool // no Content-Length: the handler reads up to the limit
			wantBody string
		}{
			{"Declared", false, "<not read>"}, // refused on Content-Length alone
			{"Chunked", true, "<larger than the body limit>"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				var audit bytes.Buffer
				ts := newAuthServer(t, StaticToken("tok", "default"), Options{
					Audit: true, AuditLogger: slog.New(slog.NewJSONHandler(&audit, nil)), MaxBodyBytes: 16,
				})
				body := `{"userName":"someone-with-a-long-name"}`
				req := httptest.NewRequest(http.MethodPost, "/scim/v2/Users", strings.NewReader(body))
				req.Header.Set("Authorization", "Bearer tok")
				if tt.chunked {
					req.ContentLength = -1
				}
				rec := httptest.NewRecorder()
				ts.srv.Handler().ServeHTTP(rec, req)
				if rec.Code != http.StatusRequestEntityTooLarge {
					t.Fatalf("POST = %d, want 413", rec.Code)
				}
				lines := auditLines(t, &audit)
				if len(lines) != 1 || lines[0]["body"] != tt.wantBody || lines[0]["status"] != 413.0 {
					t.Errorf("audit lines = %v, want one with status 413 and body %q", lines, tt.wantBody)
				}
			})
		}
	})
	t.Run("NotJSON", func(t *testing.T) {
		var audit bytes.Buffer
		ts := newAuthServer(t, StaticToken("tok", "default"), Options{
			Audit: true, AuditLogger: slog.New(slog.NewJSONHandler(&audit, nil)),
		})
		doAs(ts, "tok", http.MethodPost, "/scim/v2/Users", `userName=alice`)
		lines := auditLines(t, &audit)
		if len(lines) != 1 || lines[0]["body"] != "<not JSON>" || lines[0]["status"] != 400.0 {
			t.Errorf("audit lines = %v, want one with status 400 and body <not JSON>", lines)
		}
	})
}

// TestServer_AuditPassword: the server's audit line shows nothing of a
// password, in a body or as a PATCH value, not even its length.
func TestServer_AuditPassword(t *testing.T) {
	var audit bytes.Buffer
	ts := newAuthServer(t, StaticToken("tok", "default"), Options{
		Audit: true, AuditLogger: slog.New(slog.NewJSONHandler(&audit, nil)),
	})
	ts.put("default", "User", map[string]any{"id": "u1", "userName": "alice@example.com"})
	doAs(ts, "tok", http.MethodPost, "/scim/v2/Users", `{"userName":"bob","password":"s3cr3tpw"}`)
	doAs(ts, "tok", http.MethodPatch, "/scim/v2/Users/u1", `{"Operations":[{"op":"replace","path":"password","value":"s3cr3tpw"}]}`)
	doAs(ts, "tok", http.MethodPatch, "/scim/v2/Users/u1", `{"Operations":[{"op":"replace","value":{"Password":"s3cr3tpw"}}]}`)
	lines := auditLines(t, &audit)
	want := []any{
		map[string]any{"userName": "<redacted:3 chars>", "password": "<redacted>"},
		map[string]any{"Operations": []any{map[string]any{"op": "replace", "path": "password", "value": "<redacted>"}}},
		map[string]any{"Operations": []any{map[string]any{"op": "replace", "value": map[string]any{"Password": "<redacted>"}}}},
	}
	if len(lines) != len(want) {
		t.Fatalf("audit lines = %d, want %d:\n%s", len(lines), len(want), audit.String())
	}
	for i, w := range want {
		if !equalJSON(lines[i]["body"], w) {
			t.Errorf("audit line %d body = %v, want %v", i, lines[i]["body"], w)
		}
	}
}
