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

const patchOp = `"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"]`

// Request bodies of Entra ID (IDP-QUIRKS §1.1) and Okta (§2.1), as the
// audit log shows them.
var redactTests = []struct {
	name, in, want string
}{
	{
		"Entra/CreateUser",
		`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],"externalId":"alice","userName":"alice@contoso.com","active":true,"emails":[{"primary":true,"type":"work","value":"alice@contoso.com"}],"meta":{"resourceType":"User"},"name":{"formatted":"Alice Ng","familyName":"Ng","givenName":"Alice"},"roles":[]}`,
		`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],"externalId":"<redacted:5 chars>","userName":"<redacted:17 chars>","active":true,"emails":[{"primary":true,"type":"work","value":"<redacted:17 chars>"}],"meta":{"resourceType":"User"},"name":{"formatted":"<redacted:8 chars>","familyName":"<redacted:2 chars>","givenName":"<redacted:5 chars>"},"roles":[]}`,
	},
	{
		"Entra/PatchNoFlag",
		`{` + patchOp + `,"Operations":[{"op":"Replace","path":"emails[type eq \"work\"].value","value":"a.ng@contoso.com"},{"op":"Replace","path":"name.familyName","value":"Ng"}]}`,
		`{` + patchOp + `,"Operations":[{"op":"Replace","path":"emails[type eq \"<redacted:4 chars>\"].value","value":"<redacted:16 chars>"},{"op":"Replace","path":"name.familyName","value":"<redacted:2 chars>"}]}`,
	},
	{
		"Entra/PatchFlag",
		`{` + patchOp + `,"Operations":[{"op":"replace","path":"emails[type eq \"work\"].value","value":"a.ng@contoso.com"},{"op":"replace","value":{"displayName":"Alice Ng","name.givenName":"Alice","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber":"701"}}]}`,
		`{` + patchOp + `,"Operations":[{"op":"replace","path":"emails[type eq \"<redacted:4 chars>\"].value","value":"<redacted:16 chars>"},{"op":"replace","value":{"displayName":"<redacted:8 chars>","name.givenName":"<redacted:5 chars>","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber":"<redacted:3 chars>"}}]}`,
	},
	{
		"Entra/DisableNoFlag",
		`{` + patchOp + `,"Operations":[{"op":"Replace","path":"active","value":"False"}]}`,
		`{` + patchOp + `,"Operations":[{"op":"Replace","path":"active","value":"False"}]}`,
	},
	{
		"Entra/DisableFlag",
		`{` + patchOp + `,"Operations":[{"op":"replace","path":"active","value":false}]}`,
		`{` + patchOp + `,"Operations":[{"op":"replace","path":"active","value":false}]}`,
	},
	{
		"Entra/CreateGroup",
		`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group","http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"],"externalId":"8d7b0a3e-1f0c-4c5e-9a55-0c1f6f0e2b11","displayName":"Sales","meta":{"resourceType":"Group"}}`,
		`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group","http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"],"externalId":"<redacted:36 chars>","displayName":"<redacted:5 chars>","meta":{"resourceType":"Group"}}`,
	},
	{
		"Entra/AddMembers",
		`{` + patchOp + `,"Operations":[{"op":"Add","path":"members","value":[{"$ref":null,"value":"u-1001"},{"$ref":null,"value":"u-1002"}]}]}`,
		`{` + patchOp + `,"Operations":[{"op":"Add","path":"members","value":[{"$ref":null,"value":"<redacted:6 chars>"},{"$ref":null,"value":"<redacted:6 chars>"}]}]}`,
	},
	{
		"Entra/RemoveMembersNoFlag",
		`{` + patchOp + `,"Operations":[{"op":"Remove","path":"members","value":[{"$ref":null,"value":"u-1001"}]}]}`,
		`{` + patchOp + `,"Operations":[{"op":"Remove","path":"members","value":[{"$ref":null,"value":"<redacted:6 chars>"}]}]}`,
	},
	{
		"Entra/RemoveMembersFlag",
		`{` + patchOp + `,"Operations":[{"op":"remove","path":"members[value eq \"u-1001\"]"}]}`,
		`{` + patchOp + `,"Operations":[{"op":"remove","path":"members[value eq \"<redacted:6 chars>\"]"}]}`,
	},
	{
		"Entra/RenameGroup",
		`{` + patchOp + `,"Operations":[{"op":"Replace","path":"displayName","value":"Sales EMEA"}]}`,
		`{` + patchOp + `,"Operations":[{"op":"Replace","path":"displayName","value":"<redacted:10 chars>"}]}`,
	},
	{
		"Okta/CreateUser",
		`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"alice@example.com","name":{"givenName":"Alice","familyName":"Ng"},"emails":[{"primary":true,"value":"alice@example.com","type":"work"}],"displayName":"Alice Ng","locale":"en-US","externalId":"00u1abcd","groups":[],"password":"x7Kq2p9z","active":true}`,
		`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"<redacted:17 chars>","name":{"givenName":"<redacted:5 chars>","familyName":"<redacted:2 chars>"},"emails":[{"primary":true,"value":"<redacted:17 chars>","type":"work"}],"displayName":"<redacted:8 chars>","locale":"<redacted:5 chars>","externalId":"<redacted:8 chars>","groups":[],"password":"<redacted>","active":true}`,
	},
	{
		"Okta/ReplaceUser",
		`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"id":"u-1001","userName":"alice@example.com","name":{"givenName":"Alice","middleName":"","familyName":"Ng"},"emails":[{"primary":true,"value":"alice@example.com","type":"work","display":"alice@example.com"}],"active":true,"groups":[],"meta":{"resourceType":"User"}}`,
		`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"id":"<redacted:6 chars>","userName":"<redacted:17 chars>","name":{"givenName":"<redacted:5 chars>","middleName":"<redacted:0 chars>","familyName":"<redacted:2 chars>"},"emails":[{"primary":true,"value":"<redacted:17 chars>","type":"work","display":"<redacted:17 chars>"}],"active":true,"groups":[],"meta":{"resourceType":"User"}}`,
	},
	{
		"Okta/Deactivate",
		`{` + patchOp + `,"Operations":[{"op":"replace","value":{"active":false}}]}`,
		`{` + patchOp + `,"Operations":[{"op":"replace","value":{"active":false}}]}`,
	},
	{
		"Okta/CreateGroup",
		`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"Sales","members":[]}`,
		`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"<redacted:5 chars>","members":[]}`,
	},
	{
		"Okta/Members",
		`{` + patchOp + `,"Operations":[{"op":"remove","path":"members[value eq \"u-1001\"]"},{"op":"add","path":"members","value":[{"value":"u-1002","display":"bob@example.com"}]}]}`,
		`{` + patchOp + `,"Operations":[{"op":"remove","path":"members[value eq \"<redacted:6 chars>\"]"},{"op":"add","path":"members","value":[{"value":"<redacted:6 chars>","display":"<redacted:15 chars>"}]}]}`,
	},
	{
		"Okta/FullPush",
		`{` + patchOp + `,"Operations":[{"op":"replace","path":"members","value":[{"value":"u-1002","display":"bob@example.com"}]}]}`,
		`{` + patchOp + `,"Operations":[{"op":"replace","path":"members","value":[{"value":"<redacted:6 chars>","display":"<redacted:15 chars>"}]}]}`,
	},
	{
		"Okta/RenameGroup",
		`{` + patchOp + `,"Operations":[{"op":"replace","value":{"id":"g-7","displayName":"Sales EMEA"}}]}`,
		`{` + patchOp + `,"Operations":[{"op":"replace","value":{"id":"<redacted:3 chars>","displayName":"<redacted:10 chars>"}}]}`,
	},
	{
		"Okta/ReplaceGroup",
		`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"Sales","members":[{"value":"u-1002","display":"bob@example.com"}]}`,
		`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"<redacted:5 chars>","members":[{"value":"<redacted:6 chars>","display":"<redacted:15 chars>"}]}`,
	},
	// Secrets (returned: never): nothing of the value, not even its length
	// or type, wherever the attribute is named.
	{
		"Secret/PatchPath",
		`{` + patchOp + `,"Operations":[{"op":"replace","path":"password","value":"s3cr3tpw"}]}`,
		`{` + patchOp + `,"Operations":[{"op":"replace","path":"password","value":"<redacted>"}]}`,
	},
	{
		"Secret/PatchPathAnyCaseURN",
		`{"Operations":[{"op":"Replace","path":"urn:ietf:params:scim:schemas:core:2.0:User:PassWord","value":"s3cr3tpw"}]}`,
		`{"Operations":[{"op":"Replace","path":"urn:ietf:params:scim:schemas:core:2.0:User:PassWord","value":"<redacted>"}]}`,
	},
	{
		"Secret/PatchValueBeforePath",
		`{"Operations":[{"value":"s3cr3tpw","op":"replace","PATH":"Password"},{"value":"u-1001","op":"add","path":"members"}]}`,
		`{"Operations":[{"value":"<redacted>","op":"replace","PATH":"Password"},{"value":"<redacted:6 chars>","op":"add","path":"members"}]}`,
	},
	{
		"Secret/PatchPathNotAString",
		`{"Operations":[{"op":"replace","path":"password","value":{"x":"s3cr3tpw","n":[1,true]}}]}`,
		`{"Operations":[{"op":"replace","path":"password","value":"<redacted>"}]}`,
	},
	{
		"Secret/PathlessValue",
		`{"Operations":[{"op":"replace","value":{"PASSWORD":"s3cr3tpw","urn:ietf:params:scim:schemas:core:2.0:User:password":"s3cr3tpw","active":true}}]}`,
		`{"Operations":[{"op":"replace","value":{"PASSWORD":"<redacted>","urn:ietf:params:scim:schemas:core:2.0:User:password":"<redacted>","active":true}}]}`,
	},
	{
		"Secret/BodyAnyType",
		`{"userName":"alice","Password":"s3cr3tpw","password2":"x","x":{"password":["s3cr3tpw",1]},"y":{"password":12345678},"z":{"password":null}}`,
		`{"userName":"<redacted:5 chars>","Password":"<redacted>","password2":"<redacted:1 chars>","x":{"password":"<redacted>"},"y":{"password":"<redacted>"},"z":{"password":"<redacted>"}}`,
	},
	// Our own edge cases.
	{
		"KeyWithFilter",
		`{` + patchOp + `,"Operations":[{"op":"add","value":{"emails[type eq \"work\"].value":"a@b.c","emails[value eq a@b.c]":"x"}}]}`,
		`{` + patchOp + `,"Operations":[{"op":"add","value":{"emails[type eq \"<redacted:4 chars>\"].value":"<redacted:5 chars>","<redacted key:22 chars>":"<redacted:1 chars>"}}]}`,
	},
	{
		"UnquotedLiteralsInPath",
		`{"Operations":[{"op":"remove","path":"members[value eq u1001 or value eq 42 or display pr]"},{"op":"add","path":"x[active eq TRUE and y eq null]"}]}`,
		`{"Operations":[{"op":"remove","path":"members[value eq <redacted:5 chars> or value eq <redacted:2 chars> or display pr]"},{"op":"add","path":"x[active eq TRUE and y eq null]"}]}`,
	},
	{
		"PathNotPathSyntax",
		`{"Operations":[{"op":"add","path":"/home/alice"},{"op":"add","path":"a[b eq \"unterminated]"}]}`,
		`{"Operations":[{"op":"add","path":"<redacted:11 chars>"},{"op":"add","path":"<redacted:21 chars>"}]}`,
	},
	{
		"EscapedQuoteInLiteral",
		`{"Operations":[{"op":"add","path":"a[b eq \"x\\\"y\"]"}]}`,
		`{"Operations":[{"op":"add","path":"a[b eq \"<redacted:3 chars>\"]"}]}`,
	},
	{
		"OpAndPathOnlyInOperations",
		`{"op":"add","path":"members","Operations":{"op":"add"},"x":{"Operations":[{"op":"add"}]}}`,
		`{"op":"<redacted:3 chars>","path":"<redacted:7 chars>","Operations":{"op":"<redacted:3 chars>"},"x":{"Operations":[{"op":"<redacted:3 chars>"}]}}`,
	},
	{
		"UnknownOp",
		`{"Operations":[{"op":"alice@example.com"}]}`,
		`{"Operations":[{"op":"<redacted:17 chars>"}]}`,
	},
	{
		"SchemasThatAreNotURIs",
		`{"schemas":["urn:ok","alice@example.com","https://x.example/a b",42]}`,
		`{"schemas":["urn:ok","<redacted:17 chars>","<redacted:21 chars>","<number>"]}`,
	},
	{
		"TypeThatIsNotAToken",
		`{"emails":[{"type":"Alice's work mail"},{"type":""}],"meta":{"resourceType":"User"}}`,
		`{"emails":[{"type":"<redacted:17 chars>"},{"type":"<redacted:0 chars>"}],"meta":{"resourceType":"User"}}`,
	},
	{
		"NumbersAndCharacters",
		`{"n":[1,-2.5e3],"name":"Zoë ✓","b":"TRUE","nil":null}`,
		`{"n":["<number>","<number>"],"name":"<redacted:5 chars>","b":"TRUE","nil":null}`,
	},
	{
		"ScalarDocument",
		`"alice"`,
		`"<redacted:5 chars>"`,
	},
	{
		"TooDeep",
		`{"a":` + strings.Repeat(`[`, 40) + `"alice"` + strings.Repeat(`]`, 40) + `,"b":"x"}`,
		`{"a":` + strings.Repeat(`[`, maxAuditDepth-1) + `"<too deep>"` + strings.Repeat(`]`, maxAuditDepth-1) + `,"b":"<redacted:1 chars>"}`,
	},
}

func TestRedactJSON(t *testing.T) {
	// Values of the bodies above that name or identify someone.
	personal := []string{"alice", "Alice", "contoso", "Ng", "bob", "701", "00u1abcd", "x7Kq2p9z", "8d7b0a3e",
		"u-1001", "u-1002", "u1001", "g-7", "Sales", "Zoë", "en-US", "home", "s3cr3tpw"}
	secrets := modelSecrets(t)
	for _, tt := range redactTests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := redactJSON([]byte(tt.in), secrets)
			if err != nil {
				t.Fatalf("redactJSON(%s) = %v", tt.in, err)
			}
			if string(got) != tt.want {
				t.Errorf("redactJSON(%s)\n got %s\nwant %s", tt.in, got, tt.want)
			}
			if !json.Valid(got) {
				t.Errorf("redactJSON(%s) = %s, not JSON", tt.in, got)
			}
			for _, p := range personal {
				if strings.Contains(string(got), p) {
					t.Errorf("redactJSON(%s) = %s, shows %q", tt.in, got, p)
				}
			}
		})
	}
}

// modelSecrets are the secrets of the model schemas: password.
func modelSecrets(t testing.TB) secretNames {
	t.Helper()
	reg, err := schemas.NewRegistry()
	if err != nil {
		t.Fatalf("NewRegistry() = %v", err)
	}
	return newSecretNames(reg)
}

// TestRedactJSON_ExtensionSecrets: an extension attribute or sub-attribute
// the schema never returns is hidden as the password is.
func TestRedactJSON_ExtensionSecrets(t *testing.T) {
	const ext = `{"id":"urn:example:params:scim:schemas:extension:acme:2.0:User","name":"AcmeUser","resourceType":"User",
		"attributes":[{"name":"pin","type":"string","mutability":"writeOnly","returned":"never"},
		{"name":"badge","type":"complex","subAttributes":[{"name":"code","type":"string","returned":"never"},{"name":"color","type":"string"}]}]}`
	reg, err := schemas.NewRegistry([]byte(ext))
	if err != nil {
		t.Fatalf("NewRegistry(ext) = %v", err)
	}
	secrets := newSecretNames(reg)
	for _, n := range []string{"password", "pin", "code"} {
		if _, ok := secrets[n]; !ok {
			t.Errorf("newSecretNames() = %v, want %q in it", secrets, n)
		}
	}
	const urn = "urn:example:params:scim:schemas:extension:acme:2.0:User"
	in := `{"` + urn + `":{"PIN":"123456","badge":{"code":"c0de99","color":"red"}},"Operations":[{"op":"add","path":"` + urn + `:badge.code","value":"c0de99"},{"op":"add","path":"` + urn + `:pin","value":123456}]}`
	want := `{"` + urn + `":{"PIN":"<redacted>","badge":{"code":"<redacted>","color":"<redacted:3 chars>"}},"Operations":[{"op":"add","path":"` + urn + `:badge.code","value":"<redacted>"},{"op":"add","path":"` + urn + `:pin","value":"<redacted>"}]}`
	got, err := redactJSON([]byte(in), secrets)
	if err != nil || string(got) != want {
		t.Errorf("redactJSON(%s)\n got %s, %v\nwant %s", in, got, err, want)
	}
}

func TestRedactJSON_Invalid(t *testing.T) {
	for _, in := range []string{``, `{`, `{"a":}`, `{"a":1} {}`, `[1,]`} {
		if got, err := redactJSON([]byte(in), modelSecrets(t)); err == nil {
			t.Errorf("redactJSON(%q) = %s, nil; want an error", in, got)
		}
	}
}

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

// FuzzRedactJSON: redaction never panics, accepts exactly the valid JSON
// documents and always yields JSON.
func FuzzRedactJSON(f *testing.F) {
	for _, tt := range redactTests {
		f.Add([]byte(tt.in))
	}
	secrets := modelSecrets(f)
	f.Fuzz(func(t *testing.T, in []byte) {
		got, err := redactJSON(in, secrets)
		if valid := json.Valid(in); valid != (err == nil) {
			t.Fatalf("redactJSON(%q) error = %v, but json.Valid = %v", in, err, valid)
		}
		if err == nil && !json.Valid(got) {
			t.Fatalf("redactJSON(%q) = %q, not JSON", in, got)
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
