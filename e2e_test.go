package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/scim-bridge/scim-bridge/events"
)

// TestRun_EmbeddedProvisioning drives Okta- and Entra-shaped provisioning
// sequences through the real service on the embedded log, then checks the
// events the log holds.
func TestRun_EmbeddedProvisioning(t *testing.T) {
	s := startService(t, nil)
	ids := provisioningSequence(t, s)
	checkMetrics(t, s)
	s.stop()
	checkProvisioningEvents(t, readEvents(t, s.dataDir), ids)
}

// provisioned names the resources a provisioning sequence made.
type provisioned struct {
	alice, bob, carol, sales, eng string
}

func q(filter string) string { return url.QueryEscape(filter) }

// provisioningSequence is what Okta and Entra ID send when they provision
// users and groups (shapes from their documentation; see docs/idp-quirks.md).
func provisioningSequence(t *testing.T, s *service) provisioned {
	var p provisioned

	// Okta: Test API Credentials.
	r := s.must(200, s.do("GET", "/Users?startIndex=1&count=2", nil))
	if r.Body["totalResults"] != float64(0) || len(r.Body["Resources"].([]any)) != 0 {
		t.Fatalf("empty server: list = %s", r.Raw)
	}
	// Entra: Test Connection probes a random userName: 200 and an empty list.
	r = s.must(200, s.do("GET", "/Users?filter=userName+eq+%22c2a1e9f0-6b1e-4a4e-9c6f-3d2f1b0e8a77%22", nil))
	if r.Body["totalResults"] != float64(0) || r.Body["itemsPerPage"] != float64(0) {
		t.Fatalf("probe = %s, want totalResults 0 and itemsPerPage 0", r.Raw)
	}

	// Okta: create alice (lookup, POST with a placeholder password).
	s.must(200, s.do("GET", "/Users?filter="+q(`userName eq "alice@example.com"`)+"&startIndex=1&count=100", nil))
	oktaUser := `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"alice@example.com",
		"name":{"givenName":"Alice","familyName":"Ng"},"emails":[{"primary":true,"value":"alice@example.com","type":"work"}],
		"displayName":"Alice Ng","locale":"en-US","externalId":"00u1abcd","groups":[],"password":"x7Kq2p9z","active":true}`
	r = s.must(201, s.do("POST", "/Users", oktaUser))
	p.alice = str(r.Body["id"])
	if p.alice == "" || r.Header.Get("Location") == "" || !strings.HasSuffix(r.Header.Get("Location"), "/Users/"+p.alice) {
		t.Fatalf("POST /Users: id %q, Location %q", p.alice, r.Header.Get("Location"))
	}
	if _, ok := r.Body["password"]; ok {
		t.Fatalf("POST /Users echoed the password: %s", r.Raw)
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/scim+json") {
		t.Errorf("Content-Type = %q, want application/scim+json", ct)
	}
	meta, _ := r.Body["meta"].(map[string]any)
	if meta["resourceType"] != "User" || str(meta["version"]) != `W/"1"` || r.Header.Get("ETag") != `W/"1"` {
		t.Errorf("meta = %v, ETag %q; want resourceType User and version W/\"1\"", meta, r.Header.Get("ETag"))
	}
	// The same user again: 409 uniqueness, case-insensitively.
	r = s.must(409, s.do("POST", "/Users", strings.Replace(oktaUser, "alice@example.com\",\n", "ALICE@example.com\",\n", 1)))
	if r.Body["scimType"] != "uniqueness" || r.Body["status"] != "409" {
		t.Errorf("duplicate POST = %s, want scimType uniqueness and status \"409\"", r.Raw)
	}
	// Okta's spec test: an upper-cased userName filter finds her.
	r = s.must(200, s.do("GET", "/Users?filter="+q(`userName eq "ALICE@EXAMPLE.COM"`), nil))
	if r.Body["totalResults"] != float64(1) {
		t.Fatalf("filter on upper-cased userName = %s, want 1 result", r.Raw)
	}
	// Okta AIW: GET then PUT the whole user.
	r = s.must(200, s.do("GET", "/Users/"+p.alice, nil))
	put := `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"id":"` + p.alice + `","userName":"alice@example.com",
		"name":{"givenName":"Alice","middleName":"","familyName":"Ng-Smith"},
		"emails":[{"primary":true,"value":"alice@example.com","type":"work","display":"alice@example.com"}],
		"active":true,"groups":[],"meta":{"resourceType":"User"}}`
	r = s.must(200, s.do("PUT", "/Users/"+p.alice, put))
	if name, _ := r.Body["name"].(map[string]any); name["familyName"] != "Ng-Smith" {
		t.Errorf("PUT: name = %v, want familyName Ng-Smith", r.Body["name"])
	}
	// If-Match with a stale version: 412, nothing changes.
	s.must(412, s.do("PATCH", "/Users/"+p.alice, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","path":"displayName","value":"Nope"}]}`, "If-Match", `W/"1"`))
	// Okta OIN: deactivate with a path-less replace.
	r = s.must(200, s.do("PATCH", "/Users/"+p.alice, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","value":{"active":false}}]}`))
	if r.Body["active"] != false {
		t.Fatalf("deactivate: active = %v, want false", r.Body["active"])
	}
	// Deactivated is not gone: filters still find her, with active false.
	r = s.must(200, s.do("GET", "/Users?filter="+q(`userName eq "alice@example.com"`), nil))
	if res := r.Body["Resources"].([]any); len(res) != 1 || res[0].(map[string]any)["active"] != false {
		t.Fatalf("inactive user lookup = %s", r.Raw)
	}
	// Reactivate.
	s.must(200, s.do("PATCH", "/Users/"+p.alice, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","value":{"active":true}}]}`))

	// Entra: create bob with the enterprise extension (lookup first).
	s.must(200, s.do("GET", "/Users?filter="+q(`userName eq "bob@contoso.com"`), nil))
	entraUser := `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
		"externalId":"bob","userName":"bob@contoso.com","active":true,
		"emails":[{"primary":true,"type":"work","value":"bob@contoso.com"}],"meta":{"resourceType":"User"},
		"name":{"formatted":"Bob Li","familyName":"Li","givenName":"Bob"},"roles":[],
		"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"department":"Sales","employeeNumber":"42"},
		"urn:ietf:params:scim:schemas:extension:CustomExt:2.0:User:costCode":"C-7"}`
	r = s.must(201, s.do("POST", "/Users", entraUser))
	p.bob = str(r.Body["id"])
	// Entra (no flag): change the work email, then disable with the string "False".
	r = s.must(200, s.do("PATCH", "/Users/"+p.bob, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[
		{"op":"Replace","path":"emails[type eq \"work\"].value","value":"b.li@contoso.com"},
		{"op":"Replace","path":"name.familyName","value":"Li"}]}`))
	if emails, _ := r.Body["emails"].([]any); len(emails) != 1 || emails[0].(map[string]any)["value"] != "b.li@contoso.com" {
		t.Errorf("PATCH work email: emails = %v", r.Body["emails"])
	}
	r = s.must(200, s.do("PATCH", "/Users/"+p.bob, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"Replace","path":"active","value":"False"}]}`))
	if r.Body["active"] != false {
		t.Errorf("Entra disable: active = %v, want false", r.Body["active"])
	}
	// Entra (flag): path-less replace with dotted and URN keys.
	r = s.must(200, s.do("PATCH", "/Users/"+p.bob, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[
		{"op":"replace","value":{"displayName":"Bob Li","name.givenName":"Robert","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber":"701",
		"urn:ietf:params:scim:schemas:extension:CustomExt:2.0:User:costCode":"C-7"}}]}`))
	ent, _ := r.Body["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"].(map[string]any)
	if ent["employeeNumber"] != "701" || ent["department"] != "Sales" {
		t.Errorf("enterprise extension after PATCH = %v, want employeeNumber 701 and department kept", ent)
	}
	// Entra: lookup by externalId.
	r = s.must(200, s.do("GET", "/Users?filter="+q(`externalId eq "bob"`), nil))
	if r.Body["totalResults"] != float64(1) {
		t.Errorf("externalId lookup = %s", r.Raw)
	}
	r = s.must(201, s.do("POST", "/Users", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"carol@example.com","active":"True"}`))
	p.carol = str(r.Body["id"])
	if r.Body["active"] != true {
		t.Errorf(`active "True" stored as %v, want true`, r.Body["active"])
	}

	// Okta: push a group (lookup, POST with no members), then members.
	s.must(200, s.do("GET", "/Groups?filter="+q(`displayName eq "Sales"`)+"&startIndex=1&count=100", nil))
	r = s.must(201, s.do("POST", "/Groups", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"Sales","members":[]}`))
	p.sales = str(r.Body["id"])
	patchGroup(t, s, p.sales, `[{"op":"add","path":"members","value":[{"value":"`+p.alice+`","display":"alice@example.com"},{"value":"`+p.bob+`"}]}]`)
	checkMembers(t, s, p.sales, p.alice, p.bob)
	r = s.must(200, s.do("GET", "/Users/"+p.alice, nil))
	if groups, _ := r.Body["groups"].([]any); len(groups) != 1 || groups[0].(map[string]any)["value"] != p.sales {
		t.Errorf("alice's groups = %v, want [%s]", r.Body["groups"], p.sales)
	}
	// Okta OIN: remove one by filter, add another in the same request.
	patchGroup(t, s, p.sales, `[{"op":"remove","path":"members[value eq \"`+p.alice+`\"]"},{"op":"add","path":"members","value":[{"value":"`+p.carol+`"}]}]`)
	checkMembers(t, s, p.sales, p.bob, p.carol)
	// Okta: full replace of the member list; rename by path-less replace.
	patchGroup(t, s, p.sales, `[{"op":"replace","path":"members","value":[{"value":"`+p.alice+`"},{"value":"`+p.bob+`"}]}]`)
	checkMembers(t, s, p.sales, p.alice, p.bob)
	patchGroup(t, s, p.sales, `[{"op":"replace","value":{"id":"`+p.sales+`","displayName":"Sales EMEA"}}]`)

	// Entra: create a group (with its own schema URI), add, remove (no flag).
	r = s.must(200, s.do("GET", "/Groups?excludedAttributes=members&filter="+q(`displayName eq "Engineering"`), nil))
	r = s.must(201, s.do("POST", "/Groups", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group","http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"],
		"externalId":"8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159","displayName":"Engineering","meta":{"resourceType":"Group"}}`))
	p.eng = str(r.Body["id"])
	patchGroup(t, s, p.eng, `[{"op":"Add","path":"members","value":[{"$ref":null,"value":"`+p.bob+`"},{"$ref":null,"value":"`+p.carol+`"}]}]`)
	patchGroup(t, s, p.eng, `[{"op":"Remove","path":"members","value":[{"$ref":null,"value":"`+p.carol+`"}]}]`)
	checkMembers(t, s, p.eng, p.bob)
	r = s.must(200, s.do("GET", "/Groups/"+p.eng+"?excludedAttributes=members", nil))
	if _, ok := r.Body["members"]; ok {
		t.Errorf("excludedAttributes=members returned members: %s", r.Raw)
	}
	// A member that does not exist (deleted here, still assigned in the
	// IdP) is skipped; the others in the same PATCH are added.
	patchGroup(t, s, p.eng, `[{"op":"Add","path":"members","value":[{"value":"no-such-user"},{"value":"`+p.carol+`"}]}]`)
	checkMembers(t, s, p.eng, p.bob, p.carol)

	// Delete bob: he leaves both groups. Delete the Engineering group.
	s.must(204, s.do("DELETE", "/Users/"+p.bob, nil))
	s.must(404, s.do("GET", "/Users/"+p.bob, nil))
	checkMembers(t, s, p.sales, p.alice)
	checkMembers(t, s, p.eng, p.carol)
	s.must(204, s.do("DELETE", "/Groups/"+p.eng, nil))
	r = s.must(404, s.do("GET", "/Groups/"+p.eng, nil))
	if r.Body["status"] != "404" {
		t.Errorf("404 body = %s, want a SCIM error with status \"404\"", r.Raw)
	}
	// Unauthenticated: 401 with a SCIM error body.
	r = s.do("GET", "/Users", nil, "Authorization", "Bearer wrong")
	if r.Status != 401 || r.Body["status"] != "401" {
		t.Errorf("bad token: %d %s, want 401 with a SCIM error", r.Status, r.Raw)
	}
	return p
}

// checkMetrics reads /metrics after a provisioning sequence: the families
// operators and the dashboard rely on are there, with plausible values.
func checkMetrics(t *testing.T, s *service) {
	t.Helper()
	resp, err := http.Get(s.admin + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	body := string(raw)
	for _, want := range []string{
		`scim_http_requests_total{method="POST",route="/scim/v2/Users",status="201",tenant="default"}`,
		`scim_http_request_duration_seconds_bucket{method="GET"`,
		`scim_bridge_events_appended_total{log="embedded",type="user.created"} 3`,
		`scim_bridge_append_duration_seconds_count{log="embedded"}`,
		`scim_projection_caught_up 1`,
		`scim_projection_lag_events{partition="0"}`,
		`scim_projection_last_applied_event_timestamp_seconds{partition="0"}`,
		`scim_projection_applied_events_total{type="group.members_added"}`,
		`scim_projection_badger_lsm_bytes`,
		`scim_build_info{version=`,
		`go_goroutines`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics has no %s", want)
		}
	}
}

func patchGroup(t *testing.T, s *service, id, ops string) {
	t.Helper()
	r := s.do("PATCH", "/Groups/"+id, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":`+ops+`}`)
	if r.Status != 204 && r.Status != 200 {
		t.Fatalf("PATCH /Groups/%s %s = %d %s", id, ops, r.Status, r.Raw)
	}
}

func checkMembers(t *testing.T, s *service, group string, want ...string) {
	t.Helper()
	r := s.must(200, s.do("GET", "/Groups/"+group, nil))
	var got []string
	ms, _ := r.Body["members"].([]any)
	for _, m := range ms {
		got = append(got, str(m.(map[string]any)["value"]))
	}
	slices.Sort(got)
	want = slices.Clone(want)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("members of %s = %v, want %v", group, got, want)
	}
}

// checkProvisioningEvents checks the log after provisioningSequence: the
// event types per resource, chained versions, no password anywhere.
func checkProvisioningEvents(t *testing.T, evs []events.Event, p provisioned) {
	t.Helper()
	byID := map[string][]events.Event{}
	for _, e := range evs {
		if e.Tenant != "default" {
			t.Errorf("event %s has tenant %q, want default", e.ID, e.Tenant)
		}
		raw, _ := json.Marshal(e)
		if strings.Contains(string(raw), "x7Kq2p9z") || strings.Contains(strings.ToLower(string(raw)), `"password"`) {
			t.Errorf("event %s carries a password: %s", e.Type, raw)
		}
		if e.SCIMEvent == "" || !strings.HasPrefix(e.SCIMEvent, "urn:ietf:params:scim:event:") {
			t.Errorf("event %s has SCIM event URI %q", e.Type, e.SCIMEvent)
		}
		for _, m := range append(e.MembersAdded, e.MembersRemoved...) {
			if m.Type != "User" && m.Type != "Group" {
				t.Errorf("event %s (%s) has member %+v without its type", e.Type, e.Operation, m)
			}
		}
		byID[e.ResourceID] = append(byID[e.ResourceID], e)
	}
	for id, list := range byID {
		for i, e := range list {
			if e.Version != int64(i+1) || e.PrevVersion != int64(i) {
				t.Errorf("resource %s event %d (%s): version %d prev %d, want %d and %d", id, i, e.Type, e.Version, e.PrevVersion, i+1, i)
			}
		}
	}
	want := map[string][]string{
		p.alice: {"user.created", "user.updated", "user.deactivated", "user.reactivated"},
		p.bob:   {"user.created", "user.updated", "user.deactivated", "user.updated", "user.deleted"},
		p.carol: {"user.created"},
		p.sales: {"group.created", "group.members_added", "group.members_added", "group.members_removed",
			"group.members_added", "group.members_removed", "group.updated", "group.members_removed"},
		p.eng: {"group.created", "group.members_added", "group.members_removed", "group.members_added", "group.members_removed", "group.deleted"},
	}
	for id, types := range want {
		if got := eventTypes(byID[id]); !slices.Equal(got, types) {
			t.Errorf("events of %s = %v, want %v", id, got, types)
		}
	}
}
