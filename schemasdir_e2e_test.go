package main

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/scim-bridge/scim-bridge/events"
	"github.com/scim-bridge/scim-bridge/schemas/eventschema"
)

// acmeGroupURN is a required extension of groups.
const acmeGroupURN = "urn:example:scim:schemas:extension:acme:1.0:Group"

// TestRun_CustomExtensionSchemas declares an Entra-style custom extension
// of users and a required extension of groups in SCIM_SCHEMAS_DIR, then
// drives them through the real service: discovery, create, the PATCH shapes
// Entra sends, reads, filters, type errors and the events.
func TestRun_CustomExtensionSchemas(t *testing.T) {
	required := strings.Replace(groupSchema, `"resourceType":"Group"`, `"resourceType":"Group","required":true`, 1)
	dir := writeFiles(t, map[string]string{"contoso.json": contosoSchema, "acme-group.json": required})
	s := startService(t, map[string]string{"SCIM_SCHEMAS_DIR": dir})

	// Discovery: /Schemas serves the definition, /ResourceTypes the
	// extension with its required flag.
	r := s.must(200, s.do("GET", "/Schemas", nil))
	var contoso map[string]any
	for _, x := range r.Body["Resources"].([]any) {
		if m := x.(map[string]any); m["id"] == contosoURN {
			contoso = m
		}
	}
	if contoso == nil || contoso["name"] != "ContosoUser" || len(contoso["attributes"].([]any)) != 2 {
		t.Fatalf("GET /Schemas lacks the Contoso extension: %s", r.Raw)
	}
	if a := contoso["attributes"].([]any)[1].(map[string]any); a["name"] != "badgeNumber" || a["type"] != "integer" || a["mutability"] != "readWrite" {
		t.Errorf("GET /Schemas: badgeNumber = %v, want an integer, readWrite", a)
	}
	s.must(200, s.do("GET", "/Schemas/"+contosoURN, nil))
	r = s.must(200, s.do("GET", "/ResourceTypes/User", nil))
	if exts := r.Body["schemaExtensions"].([]any); !slices.ContainsFunc(exts, func(x any) bool {
		m := x.(map[string]any)
		return m["schema"] == contosoURN && m["required"] == false
	}) {
		t.Errorf("GET /ResourceTypes/User: schemaExtensions = %v, want %s, not required", exts, contosoURN)
	}
	r = s.must(200, s.do("GET", "/ResourceTypes/Group", nil))
	if exts := r.Body["schemaExtensions"].([]any); len(exts) != 1 || exts[0].(map[string]any)["schema"] != acmeGroupURN || exts[0].(map[string]any)["required"] != true {
		t.Errorf("GET /ResourceTypes/Group: schemaExtensions = %v, want %s, required", exts, acmeGroupURN)
	}

	// Create with the extension nested under its URN.
	body := `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User","` + contosoURN + `"],
		"userName":"alice@contoso.com","externalId":"a1",
		"` + contosoURN + `":{"costCenterCode":"CC-100","badgeNumber":42}}`
	r = s.must(201, s.do("POST", "/Users", body))
	id := str(r.Body["id"])
	if ext, _ := r.Body[contosoURN].(map[string]any); ext["costCenterCode"] != "CC-100" || ext["badgeNumber"] != float64(42) {
		t.Errorf("POST /Users: %s = %v, want costCenterCode CC-100 and badgeNumber 42", contosoURN, r.Body[contosoURN])
	}
	if !slices.Contains(r.Body["schemas"].([]any), any(contosoURN)) {
		t.Errorf("POST /Users: schemas = %v, want it to list %s", r.Body["schemas"], contosoURN)
	}

	// A value of the wrong type: 400 invalidValue naming the attribute.
	bad := strings.Replace(strings.Replace(body, `42`, `"forty-two"`, 1), "alice@", "bob@", 1)
	r = s.must(400, s.do("POST", "/Users", bad))
	if r.Body["scimType"] != "invalidValue" || !strings.Contains(str(r.Body["detail"]), contosoURN+":badgeNumber") {
		t.Errorf("POST with badgeNumber a string = %s, want invalidValue naming %s:badgeNumber", r.Raw, contosoURN)
	}

	patch := func(ops string) response {
		return s.do("PATCH", "/Users/"+id, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[`+ops+`]}`)
	}
	// Entra with aadOptscim062020: a path-less replace whose keys are full
	// URN paths, and one whose key is the extension URN with an object.
	s.must(200, patch(`{"op":"replace","value":{"displayName":"Alice Ng","`+contosoURN+`:costCenterCode":"CC-200"}}`))
	r = s.must(200, patch(`{"op":"add","value":{"`+contosoURN+`":{"badgeNumber":43}}}`))
	if ext, _ := r.Body[contosoURN].(map[string]any); ext["costCenterCode"] != "CC-200" || ext["badgeNumber"] != float64(43) {
		t.Errorf("path-less PATCHes: %s = %v, want costCenterCode CC-200 and badgeNumber 43", contosoURN, r.Body[contosoURN])
	}
	// A full URN path, and the same with a value of the wrong type.
	s.must(200, patch(`{"op":"Replace","path":"`+contosoURN+`:costCenterCode","value":"CC-300"}`))
	r = s.must(400, patch(`{"op":"replace","path":"`+contosoURN+`:badgeNumber","value":"x"}`))
	if r.Body["scimType"] != "invalidValue" || !strings.Contains(str(r.Body["detail"]), "badgeNumber") {
		t.Errorf("PATCH badgeNumber to a string = %s, want invalidValue naming badgeNumber", r.Raw)
	}

	r = s.must(200, s.do("GET", "/Users/"+id, nil))
	if ext, _ := r.Body[contosoURN].(map[string]any); ext["costCenterCode"] != "CC-300" || ext["badgeNumber"] != float64(43) || r.Body["displayName"] != "Alice Ng" {
		t.Errorf("GET /Users/%s = %s, want costCenterCode CC-300, badgeNumber 43, displayName Alice Ng", id, r.Raw)
	}

	// Filters on the extension, qualified or not.
	for filter, want := range map[string]float64{
		contosoURN + `:costCenterCode eq "CC-300"`:  1,
		`costCenterCode eq "cc-300"`:                1, // caseExact false
		`badgeNumber gt 40 and userName sw "alice"`: 1,
		contosoURN + `:badgeNumber eq 42`:           0,
		`costCenterCode eq "CC-100"`:                0,
		`costCenterCode pr`:                         1,
	} {
		r = s.must(200, s.do("GET", "/Users?filter="+q(filter), nil))
		if r.Body["totalResults"] != want {
			t.Errorf("GET /Users?filter=%s: totalResults %v, want %v", filter, r.Body["totalResults"], want)
		}
	}

	// A required extension: a group without it is refused (RFC 7643 §6).
	r = s.must(400, s.do("POST", "/Groups", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"Sales"}`))
	if r.Body["scimType"] != "invalidValue" || !strings.Contains(str(r.Body["detail"]), acmeGroupURN) {
		t.Errorf("POST /Groups without the required extension = %s, want invalidValue naming %s", r.Raw, acmeGroupURN)
	}
	r = s.must(201, s.do("POST", "/Groups", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"Sales",
		"`+acmeGroupURN+`":{"budgetOwner":"alice"}}`))
	gid := str(r.Body["id"])
	r = s.must(400, s.do("PUT", "/Groups/"+gid, `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"Sales"}`))
	if r.Body["scimType"] != "invalidValue" || !strings.Contains(str(r.Body["detail"]), acmeGroupURN) {
		t.Errorf("PUT /Groups without the required extension = %s, want invalidValue naming %s", r.Raw, acmeGroupURN)
	}
	s.stop()

	// The events carry the extension in "resource" like the enterprise
	// extension, and match the published event schemas.
	var costs []any
	for _, ev := range readEvents(t, s.dataDir) {
		_, _, value, err := events.Encode(&ev)
		if err != nil {
			t.Fatal(err)
		}
		if err := eventschema.Validate(ev.Type, value); err != nil {
			t.Errorf("%s event: %v\n%s", ev.Type, err, value)
		}
		var data struct {
			Resource map[string]any `json:"resource"`
		}
		if err := json.Unmarshal(value, &data); err != nil {
			t.Fatal(err)
		}
		if ev.ResourceType == "User" {
			ext, _ := data.Resource[contosoURN].(map[string]any)
			costs = append(costs, ext["costCenterCode"])
		}
	}
	if want := []any{"CC-100", "CC-200", "CC-200", "CC-300"}; !slices.Equal(costs, want) {
		t.Errorf("costCenterCode in the user events = %v, want %v", costs, want)
	}
}
