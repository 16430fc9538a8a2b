package scimhttp

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/scim-bridge/scim-bridge/schemas"
)

func TestServer_ServiceProviderConfig(t *testing.T) {
	ts := newTestServer(t, Options{DefaultPageSize: 50, MaxPageSize: 500, CursorTimeout: 600e9})
	rec := ts.do(http.MethodGet, "/scim/v2/ServiceProviderConfig", "")
	if rec.Code != http.StatusOK {
		t.Fatalf("status = %d, want 200; body %s", rec.Code, rec.Body)
	}
	body := decode(t, rec)
	want := map[string]any{
		"schemas":        []any{URNServiceProviderConfig},
		"patch":          map[string]any{"supported": true},
		"bulk":           map[string]any{"supported": true, "maxOperations": DefaultMaxBulkOps, "maxPayloadSize": DefaultMaxBodyBytes},
		"filter":         map[string]any{"supported": true, "maxResults": 500},
		"changePassword": map[string]any{"supported": false},
		"sort":           map[string]any{"supported": true},
		"etag":           map[string]any{"supported": true},
		"pagination": map[string]any{
			"cursor": true, "index": true, "defaultPaginationMethod": "index",
			"defaultPageSize": 50, "maxPageSize": 500, "cursorTimeout": 600,
		},
		"meta": map[string]any{"resourceType": "ServiceProviderConfig", "location": testBase + "/ServiceProviderConfig"},
	}
	for k, v := range want {
		if !equalJSON(body[k], v) {
			t.Errorf("%s = %v, want %v", k, body[k], v)
		}
	}
	schemes, _ := body["authenticationSchemes"].([]any)
	if len(schemes) != 1 || schemes[0].(map[string]any)["type"] != "oauthbearertoken" {
		t.Errorf("authenticationSchemes = %v, want one oauthbearertoken", body["authenticationSchemes"])
	}
}

func TestServer_ResourceTypes(t *testing.T) {
	ts := newTestServer(t, Options{})
	body := decode(t, ts.do(http.MethodGet, "/scim/v2/ResourceTypes", ""))
	checkList(t, body, 2, 1)
	byName := map[string]map[string]any{}
	for _, r := range body["Resources"].([]any) {
		m := r.(map[string]any)
		byName[m["name"].(string)] = m
	}
	user := byName["User"]
	if user == nil {
		t.Fatalf("no User resource type in %v", body)
	}
	checks := map[string]any{
		"schemas":  []any{URNResourceType},
		"id":       "User",
		"endpoint": "/Users",
		"schema":   schemas.URNUser,
		"schemaExtensions": []any{map[string]any{
			"schema": schemas.URNEnterprise, "required": false,
		}},
		"meta": map[string]any{"resourceType": "ResourceType", "location": testBase + "/ResourceTypes/User"},
	}
	for k, v := range checks {
		if !equalJSON(user[k], v) {
			t.Errorf("User.%s = %v, want %v", k, user[k], v)
		}
	}
	if group := byName["Group"]; group == nil || !equalJSON(group["schemaExtensions"], []any{}) {
		t.Errorf("Group resource type = %v, want schemaExtensions []", group)
	}

	one := decode(t, ts.do(http.MethodGet, "/scim/v2/ResourceTypes/group", ""))
	if one["id"] != "Group" || one["endpoint"] != "/Groups" {
		t.Errorf("GET /ResourceTypes/group = %v, want the Group resource type", one)
	}
	checkError(t, ts.do(http.MethodGet, "/scim/v2/ResourceTypes/Device", ""), http.StatusNotFound, "")
}

func TestServer_Schemas(t *testing.T) {
	ts := newTestServer(t, Options{})
	body := decode(t, ts.do(http.MethodGet, "/scim/v2/Schemas", ""))
	res := body["Resources"].([]any)
	checkList(t, body, len(res), 1)
	ids := map[string]bool{}
	for _, r := range res {
		m := r.(map[string]any)
		id, _ := m["id"].(string)
		ids[id] = true
		if !equalJSON(m["schemas"], []any{URNSchema}) {
			t.Errorf("schema %s: schemas = %v, want [%s]", id, m["schemas"], URNSchema)
		}
		if attrs, ok := m["attributes"].([]any); !ok || len(attrs) == 0 {
			t.Errorf("schema %s: attributes = %v, want a non-empty array", id, m["attributes"])
		}
		meta, _ := m["meta"].(map[string]any)
		if meta["resourceType"] != "Schema" || meta["location"] != testBase+"/Schemas/"+id {
			t.Errorf("schema %s: meta = %v", id, meta)
		}
	}
	for _, want := range []string{schemas.URNUser, schemas.URNGroup, schemas.URNEnterprise} {
		if !ids[want] {
			t.Errorf("/Schemas lacks %s", want)
		}
	}

	rec := ts.do(http.MethodGet, "/scim/v2/Schemas/"+schemas.URNGroup, "")
	var one struct {
		ID         string            `json:"id"`
		Attributes []json.RawMessage `json:"attributes"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &one); err != nil || one.ID != schemas.URNGroup || len(one.Attributes) == 0 {
		t.Errorf("GET /Schemas/%s = %s (%v), want the Group schema", schemas.URNGroup, rec.Body, err)
	}
	checkError(t, ts.do(http.MethodGet, "/scim/v2/Schemas/urn:nope", ""), http.StatusNotFound, "")
}

func TestServer_DiscoveryFilter(t *testing.T) {
	for _, path := range []string{"/ServiceProviderConfig", "/ResourceTypes", "/Schemas"} {
		t.Run(path, func(t *testing.T) {
			ts := newTestServer(t, Options{})
			checkError(t, ts.do(http.MethodGet, "/scim/v2"+path+"?filter=name%20eq%20%22User%22", ""), http.StatusForbidden, "")
		})
	}
}
