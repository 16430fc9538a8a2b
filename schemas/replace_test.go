package schemas

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestResourceType_Replace(t *testing.T) {
	tests := []struct {
		name    string
		group   bool
		members []string
		body    string
		want    map[string]string // attribute -> JSON, "" for absent
		change  []string
		added   []string
		removed []string
		err     Kind // KindOther: no error
	}{
		{
			name:   "RFC7644_3.5.1_ReplacesAttributes",
			body:   `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"alice@contoso.com","externalId":"alice","title":"CTO"}`,
			want:   map[string]string{"title": `"CTO"`, "emails": "", "name": "", ptEnt: "", "id": `"u1"`, "schemas": `["urn:ietf:params:scim:schemas:core:2.0:User"]`},
			change: []string{"active", "displayName", "emails", "name", "schemas", "title", ptEnt + ":employeeNumber", ptEnt + ":manager"},
		},
		{
			name:   "RFC7644_3.5.1_ReadOnlyIDKept",
			body:   `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"id":"other","userName":"alice@contoso.com","externalId":"alice","active":true,"displayName":"Alice Ng","name":{"formatted":"Alice Ng","familyName":"Ng","givenName":"Alice"},"emails":[{"primary":true,"type":"work","value":"alice@contoso.com"},{"type":"home","value":"alice@home.example"}],"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"employeeNumber":"700","manager":{"value":"m1","displayName":"Boss"}}}`,
			want:   map[string]string{"id": `"u1"`},
			change: nil,
		},
		{
			name:    "Group_RFC7644_3.5.1_MembersDelta",
			group:   true,
			members: []string{"u1", "u2"},
			body:    `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"Sales","externalId":"sales","members":[{"value":"u2"},{"value":"u3","type":"user"}]}`,
			want:    map[string]string{"members": "", "displayName": `"Sales"`},
			added:   []string{"u3"},
			removed: []string{"u1"},
		},
		{
			name:    "Group_RequiredDisplayName",
			group:   true,
			members: []string{"u1"},
			body:    `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"externalId":"sales"}`,
			err:     KindInvalidValue,
		},
	}
	user, group := ptType(t, "User"), ptType(t, "Group")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rt, start := user, ptUser
			if tt.group {
				rt, start = group, ptGroup
			}
			old := Resource(ptDecode(t, start).(map[string]any))
			before := ptJSON(t, old)
			var got Resource
			var c Change
			next, err := rt.Decode([]byte(tt.body))
			if err == nil {
				got, c, err = rt.Replace(old, ptNewMembers(tt.members...), next)
			}
			if tt.err != KindOther {
				if KindOf(err) != tt.err {
					t.Fatalf("Replace(%s) error = %v (kind %v), want kind %v", tt.body, err, KindOf(err), tt.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Replace(%s) error: %v", tt.body, err)
			}
			if after := ptJSON(t, old); after != before {
				t.Errorf("Replace modified old:\n%s\nwant\n%s", after, before)
			}
			checkChange(t, fmt.Sprintf("Replace(%s)", tt.body), got, c, tt.want, tt.change, tt.added, tt.removed)
		})
	}
}

// TestResourceType_Replace_Immutable pins RFC 7644 §3.5.1 for immutable
// attributes, with an extension schema that has one.
func TestResourceType_Replace_Immutable(t *testing.T) {
	ext := `{"id":"urn:example:params:scim:schemas:extension:badge:2.0:User","name":"Badge","resourceType":"User",
		"attributes":[{"name":"badgeId","type":"string","multiValued":false,"required":false,"caseExact":true,"mutability":"immutable","returned":"default","uniqueness":"none"},
		{"name":"floor","type":"string","multiValued":false,"required":false,"caseExact":false,"mutability":"readWrite","returned":"default","uniqueness":"none"}]}`
	reg, err := NewRegistry([]byte(ext))
	if err != nil {
		t.Fatalf("NewRegistry: %v", err)
	}
	rt, _ := reg.ResourceType("User")
	const urn = "urn:example:params:scim:schemas:extension:badge:2.0:User"
	withBadge := Resource{"schemas": []any{URNUser, urn}, "id": "u1", "userName": "a", urn: map[string]any{"badgeId": "B1"}}
	without := Resource{"schemas": []any{URNUser}, "id": "u1", "userName": "a"}
	tests := []struct {
		name string
		old  Resource
		body string
		want string // JSON of the extension object, or an error kind
	}{
		{"SameValue", withBadge, `{"schemas":["` + URNUser + `"],"userName":"a","` + urn + `":{"badgeId":"B1","floor":"3"}}`, `{"badgeId":"B1","floor":"3"}`},
		{"OmittedKeepsOld", withBadge, `{"schemas":["` + URNUser + `"],"userName":"a","` + urn + `":{"floor":"3"}}`, `{"badgeId":"B1","floor":"3"}`},
		{"ChangedIsMutability", withBadge, `{"schemas":["` + URNUser + `"],"userName":"a","` + urn + `":{"badgeId":"B2"}}`, "mutability"},
		{"SetWhenOldHadNone", without, `{"schemas":["` + URNUser + `"],"userName":"a","` + urn + `":{"badgeId":"B2"}}`, `{"badgeId":"B2"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			next, err := rt.Decode([]byte(tt.body))
			if err != nil {
				t.Fatalf("Decode(%s): %v", tt.body, err)
			}
			got, _, err := rt.Replace(tt.old, nil, next)
			var e *Error
			if errors.As(err, &e) {
				if e.ScimType() != tt.want {
					t.Errorf("Replace(%s) error = %v, want %s", tt.body, err, tt.want)
				}
				return
			}
			if err != nil {
				t.Fatalf("Replace(%s) error: %v", tt.body, err)
			}
			if g := ptJSON(t, got[urn]); g != tt.want {
				t.Errorf("Replace(%s)[%s] = %s, want %s", tt.body, urn, g, tt.want)
			}
		})
	}
	// PATCH: the same rules (RFC 7644 §3.5.2 "a client MAY add a value to an
	// immutable attribute if the attribute had no previous value").
	patch := func(old Resource, ops string) error {
		p, err := ParsePatch([]byte(`{"Operations":`+ops+`}`), 0)
		if err != nil {
			t.Fatalf("ParsePatch(%s): %v", ops, err)
		}
		_, _, err = rt.ApplyPatch(old, nil, p)
		return err
	}
	if err := patch(without, `[{"op":"add","path":"badgeId","value":"B9"}]`); err != nil {
		t.Errorf("ApplyPatch(add badgeId to none) error: %v", err)
	}
	if err := patch(withBadge, `[{"op":"replace","path":"badgeId","value":"B9"}]`); KindOf(err) != KindMutability {
		t.Errorf("ApplyPatch(replace badgeId) error = %v, want mutability", err)
	}
	if err := patch(withBadge, `[{"op":"remove","path":"badgeId"}]`); KindOf(err) != KindMutability {
		t.Errorf("ApplyPatch(remove badgeId) error = %v, want mutability", err)
	}
}

// idpCase is one file of testdata/idp: a real Okta, Entra ID or reference
// test-suite request body (docs/idp-quirks.md), the resource it applies to and
// the expected outcome.
type idpCase struct {
	Source       string          `json:"source"`
	ResourceType string          `json:"resourceType"`
	Method       string          `json:"method"` // PATCH or PUT
	Resource     json.RawMessage `json:"resource"`
	Members      []Member        `json:"members"`
	Body         json.RawMessage `json:"body"`
	Want         *struct {
		Resource json.RawMessage `json:"resource"`
		Change   idpChange       `json:"change"`
	} `json:"want"`
	WantError string `json:"wantError"` // scimType
}

type idpChange struct {
	Attributes     []string `json:"attributes"`
	MembersAdded   []Member `json:"membersAdded"`
	MembersRemoved []Member `json:"membersRemoved"`
}

// TestIdPReplay runs every request body of testdata/idp through ParsePatch
// and ApplyPatch (PATCH) or Decode and Replace (PUT).
func TestIdPReplay(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "idp", "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no testdata/idp files (%v)", err)
	}
	reg := ptRegistry(t)
	for _, file := range files {
		t.Run(strings.TrimSuffix(filepath.Base(file), ".json"), func(t *testing.T) {
			b, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			var tc idpCase
			if err := json.Unmarshal(b, &tc); err != nil {
				t.Fatalf("%s: %v", file, err)
			}
			rt, ok := reg.ResourceType(tc.ResourceType)
			if !ok {
				t.Fatalf("%s: unknown resourceType %q", file, tc.ResourceType)
			}
			old := Resource(ptDecode(t, string(tc.Resource)).(map[string]any))
			ms := &ptMembers{ms: tc.Members}
			var got Resource
			var c Change
			switch tc.Method {
			case "PATCH":
				var p Patch
				p, err = ParsePatch(tc.Body, DefaultMaxOperations)
				if err == nil {
					got, c, err = rt.ApplyPatch(old, ms, p)
				}
			case "PUT":
				var next Resource
				next, err = rt.Decode(tc.Body)
				if err == nil {
					got, c, err = rt.Replace(old, ms, next)
				}
			default:
				t.Fatalf("%s: method %q", file, tc.Method)
			}
			if tc.WantError != "" {
				var e *Error
				if !errors.As(err, &e) || e.ScimType() != tc.WantError {
					t.Fatalf("%s (%s): error = %v, want scimType %s", file, tc.Source, err, tc.WantError)
				}
				return
			}
			if err != nil {
				t.Fatalf("%s (%s): error: %v", file, tc.Source, err)
			}
			want := ptJSON(t, ptDecode(t, string(tc.Want.Resource)))
			if g := ptJSON(t, got); g != want {
				t.Errorf("%s (%s): resource =\n%s\nwant\n%s", file, tc.Source, g, want)
			}
			gc := idpChange(c)
			if g, w := ptJSON(t, normChange(gc)), ptJSON(t, normChange(tc.Want.Change)); g != w {
				t.Errorf("%s (%s): change =\n%s\nwant\n%s", file, tc.Source, g, w)
			}
		})
	}
}

func normChange(c idpChange) idpChange {
	if len(c.Attributes) == 0 {
		c.Attributes = nil
	}
	if len(c.MembersAdded) == 0 {
		c.MembersAdded = nil
	}
	if len(c.MembersRemoved) == 0 {
		c.MembersRemoved = nil
	}
	return c
}
