package scimhttp

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/scim-bridge/scim-bridge/projection/view"
	"github.com/scim-bridge/scim-bridge/schemas"
	"github.com/scim-bridge/scim-bridge/schemas/scimjson"
)

// urnRawTest is an extension with what the projection must honour when it
// renders the stored bytes: attributes returned on request only or never
// (which a resource stored under an older definition of the schema may
// still hold), a complex attribute and a sub-attribute returned never.
const urnRawTest = "urn:example:params:scim:schemas:extension:raw:2.0:User"

const rawTestExtension = `{"id":"` + urnRawTest + `","name":"RawTest","resourceType":"User","attributes":[
 {"name":"badge","type":"integer"},
 {"name":"secret","type":"string","returned":"never"},
 {"name":"audit","type":"string","returned":"request"},
 {"name":"site","type":"complex","subAttributes":[
   {"name":"value","type":"string"},{"name":"floor","type":"integer"},{"name":"pin","type":"string","returned":"never"}]}]}`

// rawCase is a resource as the projection stores it (Stored) and the
// derived attributes a read loads with it.
type rawCase struct {
	typ     string
	stored  schemas.Resource
	derived schemas.Resource // members or groups, nil for none
	asIs    bool             // the default selection renders it from the bytes
}

// rawCases are resources as IdPs create them (decoded as a write decodes
// them) and stored resources with what the bytes path must leave to the
// decoding one.
func rawCases(t *testing.T, reg *schemas.Registry) map[string]rawCase {
	t.Helper()
	decode := func(typ, body string) schemas.Resource {
		rt, _ := reg.ResourceType(typ)
		r, err := rt.Decode([]byte(body))
		if err != nil {
			t.Fatalf("Decode(%s) = %v", body, err)
		}
		return r
	}
	withID := func(r schemas.Resource, id string) schemas.Resource {
		r["id"] = id
		return r
	}
	groups := schemas.Resource{"groups": []any{
		map[string]any{"value": "g-1", "type": "direct", "display": "Sales & <EMEA>"},
		map[string]any{"value": "g/2 é", "type": "direct"},
	}}
	members := schemas.Resource{"members": []any{
		map[string]any{"value": "u-1", "type": "User", "display": "alice"},
		map[string]any{"value": "g-2", "type": "Group"},
	}}
	typical := typicalUser(3).Resource
	typical = withID(typical, typical.ID())
	delete(typical, "groups") // derived, never stored
	entraUser := decode("User", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],"externalId":"alice","userName":"alice@contoso.com","active":true,"emails":[{"primary":true,"type":"work","value":"alice@contoso.com"}],"meta":{"resourceType":"User"},"name":{"formatted":"Alice Ng","familyName":"Ng","givenName":"Alice"},"roles":[],"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"employeeNumber":"701","manager":{"value":"m-1"}}}`)
	oktaUser := decode("User", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"alice@example.com","name":{"givenName":"Alice","middleName":"","familyName":"Ng"},"emails":[{"primary":true,"value":"alice@example.com","type":"work","display":"alice@example.com"}],"displayName":"Alice Ng","locale":"en-US","externalId":"00u1abcd","groups":[],"password":"x7Kq2p9z","active":true}`)
	unicode := decode("User", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"zoë\u2028@例え.jp","displayName":"\"quoted\" \\ back\tslash <b>&amp;</b> \ud83d\ude00","nickName":"\u0000\u001f","title":""}`)
	custom := decode("User", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User","`+urnRawTest+`"],"userName":"c","`+urnRawTest+`":{"badge":7,"site":{"value":"HQ","floor":3}}}`)
	entraGroup := decode("Group", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group","http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"],"externalId":"<Entra objectId>","displayName":"Sales","meta":{"resourceType":"Group"}}`)
	delete(entraGroup, "members")
	return map[string]rawCase{
		"typical user with groups": {typ: "User", stored: typical, derived: groups, asIs: true},
		"typical user alone":       {typ: "User", stored: typical, asIs: true},
		"entra user":               {typ: "User", stored: withID(entraUser, "e-1"), derived: groups, asIs: true},
		"okta user":                {typ: "User", stored: withID(oktaUser, "o-1"), asIs: true},
		"unicode and escapes":      {typ: "User", stored: withID(unicode, "id \"<&>\" é\u2028"), derived: groups, asIs: true},
		"custom extension":         {typ: "User", stored: withID(custom, "c-1"), asIs: true},
		"entra group with members": {typ: "Group", stored: withID(entraGroup, "g-1"), derived: members, asIs: true},
		"group alone":              {typ: "Group", stored: schemas.Resource{"id": "g", "displayName": "x"}, asIs: true},
		"empty":                    {typ: "User", stored: schemas.Resource{}, asIs: true},
		"no id":                    {typ: "User", stored: schemas.Resource{"userName": "x"}, derived: groups, asIs: true},

		// What the bytes path leaves to decoding and projecting.
		"password stored":   {typ: "User", stored: schemas.Resource{"id": "p", "userName": "x", "password": "hunter2"}},
		"never attribute":   {typ: "User", stored: schemas.Resource{"id": "p", urnRawTest: map[string]any{"secret": "s", "badge": 1}}},
		"never sub":         {typ: "User", stored: schemas.Resource{"id": "p", urnRawTest: map[string]any{"site": map[string]any{"value": "HQ", "pin": "1234"}}}},
		"request attribute": {typ: "User", stored: schemas.Resource{"id": "p", urnRawTest: map[string]any{"audit": "a"}}},
		"odd spelling":      {typ: "User", stored: schemas.Resource{"id": "p", "USERNAME": "x", "name": map[string]any{"GivenName": "a"}}},
		"unknown attribute": {typ: "User", stored: schemas.Resource{"id": "p", "shoeSize": "9"}},
		"null value":        {typ: "User", stored: schemas.Resource{"id": "p", "nickName": nil}},
		"empty complex":     {typ: "User", stored: schemas.Resource{"id": "p", "name": map[string]any{}, "emails": []any{}}},
		"id not a string":   {typ: "User", stored: schemas.Resource{"id": true, "userName": "x"}, asIs: true},
		"meta stored":       {typ: "User", stored: schemas.Resource{"id": "u", "meta": map[string]any{"x": "y"}}, derived: groups},
		"groups stored":     {typ: "User", stored: schemas.Resource{"id": "u", "groups": []any{map[string]any{"value": "old"}}}, derived: groups},
		"members stored":    {typ: "Group", stored: schemas.Resource{"id": "g", "members": []any{map[string]any{"value": "old"}}}, derived: members},
	}
}

// TestServer_RawMatchesDecoded checks that a resource rendered from its
// stored JSON (view.Stored.Raw) answers byte for byte what the decoded
// resource rendered through maps and encoding/json answers, over selections
// that keep or drop meta, $ref and the derived attributes, and that the
// bytes are copied (appendRaw) where the projection leaves them as they
// are.
func TestServer_RawMatchesDecoded(t *testing.T) {
	reg, err := schemas.NewRegistry([]byte(rawTestExtension))
	if err != nil {
		t.Fatalf("NewRegistry() = %v", err)
	}
	ts := newTestServer(t, Options{BaseURL: "https://scim.example.com/a&b/scim/v2"})
	s := ts.srv
	s.reg = reg
	selections := []struct{ attributes, excluded string }{
		{"", ""},
		{"", "meta"},
		{"", "members,groups"},
		{"", "members.$ref,groups.$ref"},
		{"", "userName,emails.type," + urnRawTest + ":badge"},
		{"", urnRawTest},
		{"members.value,groups.display", ""},
		{"meta,displayName,userName", ""},
		{urnRawTest + ":audit", ""},
	}
	req := httptest.NewRequest(http.MethodGet, Prefix+"/Users/x", nil)
	at := time.Date(2026, 3, 4, 5, 6, 7, 0, time.FixedZone("CET", 3600))
	for name, c := range rawCases(t, reg) {
		rt, _ := reg.ResourceType(c.typ)
		raw, err := scimjson.Append(nil, map[string]any(c.stored)) // as encodeRecord stores it
		if err != nil {
			t.Fatalf("%s: Append() = %v", name, err)
		}
		decoded, err := scimjson.ParseObject(raw) // as the store decodes it
		if err != nil {
			t.Fatalf("%s: ParseObject() = %v", name, err)
		}
		for k, v := range c.derived {
			decoded[k] = v // as the store attaches them
		}
		stRaw := view.Stored{Type: c.typ, Raw: string(raw), Resource: c.derived, Version: 4, Created: at, LastModified: at.Add(time.Minute)}
		stMap := stRaw
		stMap.Raw, stMap.Resource = "", decoded
		for _, sc := range selections {
			sel, err := rt.ParseSelection(sc.attributes, sc.excluded)
			if err != nil {
				t.Fatalf("ParseSelection(%q, %q) = %v", sc.attributes, sc.excluded, err)
			}
			t.Run(name+"/"+sc.attributes+"-"+sc.excluded, func(t *testing.T) {
				got := recorded(func(w http.ResponseWriter) { s.writeResource(w, req, http.StatusOK, rt, stRaw, sel) })
				want := recorded(func(w http.ResponseWriter) { s.writeResourceMap(w, req, http.StatusOK, rt, stMap, sel) })
				checkSameResponse(t, got, want)
				for _, secret := range []string{"hunter2", "x7Kq2p9z", "1234", `"secret"`} {
					if strings.Contains(got.Body.String(), secret) {
						t.Errorf("body shows %s: %s", secret, got.Body)
					}
				}
				page := view.Page{Total: 9, Resources: []view.Stored{stRaw, stMap, stRaw}}
				start := 2
				got = recorded(func(w http.ResponseWriter) { s.writeListEncoded(w, testBase, rt, sel, page, &start) })
				page.Resources = []view.Stored{stMap, stMap, stMap}
				want = recorded(func(w http.ResponseWriter) { s.writeListMap(w, testBase, rt, sel, page, &start) })
				checkSameResponse(t, got, want)
			})
		}
		t.Run(name+"/from the bytes", func(t *testing.T) {
			e := getEncoder()
			defer putEncoder(e)
			if got := s.appendRaw(e, testBase, rt, stRaw, schemas.Selection{}); got != c.asIs {
				t.Errorf("appendRaw() = %v, want %v", got, c.asIs)
			}
			if !c.asIs && len(e.buf) != 0 {
				t.Errorf("appendRaw() left %q behind", e.buf)
			}
		})
	}
}

// TestServer_RawDamaged: stored JSON that does not parse (the store hands
// it over unchecked, see view.Stored.Raw) answers 500 with a SCIM error,
// as a record that does not decode does.
func TestServer_RawDamaged(t *testing.T) {
	ts := newTestServer(t, Options{})
	rt, _ := ts.srv.reg.ResourceType("User")
	req := httptest.NewRequest(http.MethodGet, Prefix+"/Users/u", nil)
	for _, raw := range []string{`{"id":"u","userName":]`, `{"id":"u"`, `{"id":"u"} x`, `{"id":"\q"}`} {
		st := view.Stored{Type: "User", Raw: raw, Resource: schemas.Resource{"groups": []any{}}}
		got := recorded(func(w http.ResponseWriter) { ts.srv.writeResource(w, req, http.StatusOK, rt, st, schemas.Selection{}) })
		if got.Code != http.StatusInternalServerError || !strings.Contains(got.Body.String(), schemas.URNError) {
			t.Errorf("Raw %s: answered %d %s, want 500 and a SCIM error", raw, got.Code, got.Body)
		}
	}
}

// TestServer_WriteAnswersRaw: the answer to a POST, PUT or PATCH is the
// written resource read back as stored (view.GetOptions.Raw) unless an
// attributes list forbids it, and it is byte for byte the answer read back
// decoded. The same writes run on two servers, one whose writes read their
// answer decoded; users are in groups, groups have members.
func TestServer_WriteAnswersRaw(t *testing.T) {
	const entraUser = `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],"externalId":"carol","userName":"carol@contoso.com","active":true,"displayName":"\"Carol\" <b>&amp;</b> \u2028 zoë \ud83d\ude00","emails":[{"primary":true,"type":"work","value":"carol@contoso.com"}],"meta":{"resourceType":"User"},"name":{"formatted":"Carol Ng","familyName":"Ng","givenName":"Carol"},"roles":[],"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"employeeNumber":"701","manager":{"value":"u2"}}}`
	writes := []struct {
		method, target, body string
		raw                  bool // the answer is read as stored
	}{
		{http.MethodPost, "/scim/v2/Users", entraUser, true}, // id-1
		{http.MethodPost, "/scim/v2/Groups", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"Eng & <Ops>","members":[{"value":"u1"},{"value":"id-1"}]}`, true}, // id-2
		{http.MethodPut, "/scim/v2/Users/u1", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"alice","displayName":"Alice","emails":[{"value":"a@example.com","type":"work"}]}`, true},
		{http.MethodPatch, "/scim/v2/Users/u1", renameJSON, true},
		{http.MethodPatch, "/scim/v2/Users/id-1", `{"Operations":[{"op":"add","path":"nickName","value":"cc"}]}`, true},
		{http.MethodPatch, "/scim/v2/Groups/g1?excludedAttributes=meta", `{"Operations":[{"op":"add","path":"members","value":[{"value":"id-1"}]}]}`, true},
		{http.MethodPut, "/scim/v2/Groups/id-2", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"Eng","members":[{"value":"u2"},{"value":"g1","type":"Group"}]}`, true},
		{http.MethodPatch, "/scim/v2/Users/u2?excludedAttributes=groups.$ref,emails", renameJSON, true},
		{http.MethodPost, "/scim/v2/Users?excludedAttributes=groups", userJSON("dave"), true},
		{http.MethodPost, "/scim/v2/Users?attributes=userName,groups", userJSON("erin"), false},
		{http.MethodPut, "/scim/v2/Users/u2?attributes=displayName", userJSON("bob"), false},
	}
	servers := map[bool]*testServer{}
	for _, decoded := range []bool{false, true} {
		ts := newTestServer(t, Options{})
		ts.store.noRaw = decoded
		ts.put("default", "User", schemas.Resource{"id": "u1", "userName": "alice"})
		ts.put("default", "User", schemas.Resource{"id": "u2", "userName": "bob", "emails": []any{map[string]any{"value": "b@example.com"}}})
		ts.put("default", "Group", schemas.Resource{"id": "g1", "displayName": "Sales"}, "u1", "u2")
		servers[decoded] = ts
	}
	for _, w := range writes {
		got := servers[false].do(w.method, w.target, w.body)
		want := servers[true].do(w.method, w.target, w.body)
		name := w.method + " " + w.target
		if got.Code >= 300 {
			t.Fatalf("%s: %d %s", name, got.Code, got.Body)
		}
		if a := servers[false].store.answer; a.Raw != w.raw {
			t.Errorf("%s: answer read with %+v, want Raw %v", name, a, w.raw)
		}
		if g, w := got.Header().Get("Location"), want.Header().Get("Location"); g != w {
			t.Errorf("%s: Location = %q, want %q", name, g, w)
		}
		t.Run(name, func(t *testing.T) { checkSameResponse(t, got, want) })
	}
}
