package scimhttp

import (
	"bytes"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/scim-bridge/scim-bridge/schemas"
)

// TestServer_IgnoredInput: a tenant's "strict" reaches the write path, and
// what a write ignored is counted by tenant, resource type and kind and
// listed, redacted, on the audit line.
func TestServer_IgnoredInput(t *testing.T) {
	acme := tenantOf("acme", "a")
	acme.Audit = true
	strict := tenantOf("strictco", "s")
	strict.Strict = true
	var audit bytes.Buffer
	ts := newAuthServer(t, mustTable(t, acme, strict), Options{
		AuditLogger: slog.New(slog.NewJSONHandler(&audit, nil)),
	})
	ts.put("acme", "User", schemas.Resource{"id": "u1", "userName": "alice@example.com"})
	ts.put("acme", "Group", schemas.Resource{"id": "g1", "displayName": "Sales"})
	ts.put("strictco", "User", schemas.Resource{"id": "u1", "userName": "alice@example.com"})
	const custom = "urn:ietf:params:scim:schemas:extension:CustomExt:2.0:User:costCode"
	// An attribute of a schema the server lacks, and one whose name is
	// data (a client's mistake), both ignored; members that name nothing.
	patch := `{` + patchOp + `,"Operations":[{"op":"Replace","value":{"active":false,"` + custom + `":"X1","alice@example.com":"x"}}]}`
	addMembers := `{` + patchOp + `,"Operations":[{"op":"Add","path":"members","value":[{"value":"01a24c7c-8047-7643-94cc-a61c2ab32fe2"},{"value":"bob@example.com"}]}]}`

	if rec := doAs(ts, "a", http.MethodPatch, "/scim/v2/Users/u1", patch); rec.Code != http.StatusOK {
		t.Fatalf("PATCH as acme = %d %s", rec.Code, rec.Body)
	}
	if rec := doAs(ts, "a", http.MethodPatch, "/scim/v2/Groups/g1", addMembers); rec.Code != http.StatusNoContent {
		t.Fatalf("PATCH group as acme = %d %s", rec.Code, rec.Body)
	}
	// strictco's write fails on what acme's ignored, and changes nothing.
	checkError(t, doAs(ts, "s", http.MethodPatch, "/scim/v2/Users/u1", patch), http.StatusBadRequest, "invalidValue")
	if rec := doAs(ts, "s", http.MethodGet, "/scim/v2/Users/u1", ""); rec.Header().Get("ETag") != `W/"1"` {
		t.Errorf("strictco's user after the refused PATCH: ETag %q, want W/\"1\"", rec.Header().Get("ETag"))
	}

	lines := auditLines(t, &audit)
	if len(lines) != 2 {
		t.Fatalf("audit lines = %d, want 2 (acme's writes):\n%s", len(lines), audit.String())
	}
	wantIgnored := [][]any{
		{ // in the order of the value's keys
			map[string]any{"kind": "attribute", "name": "<redacted key:17 chars>"},
			map[string]any{"kind": "schema", "name": custom},
		},
		{
			map[string]any{"kind": "member", "name": "01a24c7c-8047-7643-94cc-a61c2ab32fe2"},
			map[string]any{"kind": "member", "name": "<redacted:15 chars>"},
		},
	}
	for i, want := range wantIgnored {
		if got := lines[i]["ignored"]; !equalJSON(got, want) || lines[i]["ignored_count"] != float64(len(want)) {
			t.Errorf("audit line %d ignored = %v (count %v), want %v", i, got, lines[i]["ignored_count"], want)
		}
	}
	if strings.Contains(audit.String(), "alice@") || strings.Contains(audit.String(), "bob@") {
		t.Errorf("audit log shows personal data: %s", audit.String())
	}

	mfs, err := ts.reg.Gather()
	if err != nil {
		t.Fatalf("Gather() = %v", err)
	}
	got := map[string]float64{}
	for _, mf := range mfs {
		if mf.GetName() == "scim_ignored_input_total" {
			for _, m := range mf.GetMetric() {
				got[labels(m)] = m.GetCounter().GetValue()
			}
		}
	}
	wantMetric := map[string]float64{
		"kind=schema,resource_type=User,tenant=acme":    1,
		"kind=attribute,resource_type=User,tenant=acme": 1,
		"kind=member,resource_type=Group,tenant=acme":   2,
	}
	if len(got) != len(wantMetric) {
		t.Errorf("scim_ignored_input_total = %v, want %v", got, wantMetric)
	}
	for k, v := range wantMetric {
		if got[k] != v {
			t.Errorf("scim_ignored_input_total{%s} = %v, want %v", k, got[k], v)
		}
	}
}
