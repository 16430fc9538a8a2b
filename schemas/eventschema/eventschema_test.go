package eventschema

import (
	"errors"
	"io/fs"
	"regexp"
	"strings"
	"testing"
)

const userCreated = `{"tenant":"acme","resourceType":"User","id":"u1","externalId":"e1","version":1,"prevVersion":0,
"changedAttributes":["active","userName"],"resource":{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],
"id":"u1","userName":"ada","active":true},"requestId":"r1","requestDigest":"00112233445566778899aabbccddeeff","operation":"POST",
"scimEvent":"urn:ietf:params:scim:event:prov:create:full"}`

func TestValidate(t *testing.T) {
	tests := []struct {
		name, typ, value string
		wantErr          error
	}{
		{"UserCreated", "user.created", userCreated, nil},
		{"UserDeleted", "user.deleted", `{"tenant":"acme","resourceType":"User","id":"u1","version":3,"prevVersion":2,
			"operation":"DELETE","scimEvent":"urn:ietf:params:scim:event:prov:delete"}`, nil},
		{"MembersAdded", "group.members_added", `{"tenant":"acme","resourceType":"Group","id":"g1","version":2,
			"prevVersion":1,"resource":{"id":"g1","displayName":"x"},"membersAdded":[{"value":"u1","type":"User"}],
			"scimEvent":"urn:ietf:params:scim:event:prov:patch:full"}`, nil},
		{"UnknownFieldsAllowed", "user.created", strings.Replace(userCreated, `"tenant"`, `"future":1,"tenant"`, 1), nil},
		// Extension attributes, the enterprise one or a custom one of
		// SCIM_SCHEMAS_DIR, sit in an object under the extension's URN.
		{"ExtensionObjects", "user.created", strings.Replace(userCreated, `"active":true`, `"active":true,
			"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"employeeNumber":"7"},
			"urn:ietf:params:scim:schemas:extension:Contoso:2.0:User":{"costCenterCode":"CC-1","badgeNumber":42}`, 1), nil},

		{"NoRequestDigest", "user.created", strings.Replace(userCreated, `"requestDigest":"00112233445566778899aabbccddeeff",`, ``, 1), nil},
		{"RequestDigestNotHex", "user.created", strings.Replace(userCreated, `"00112233445566778899aabbccddeeff"`, `"00112233445566778899AABBCCDDEEFF"`, 1), ErrInvalid},
		{"RequestDigestShort", "user.created", strings.Replace(userCreated, `"00112233445566778899aabbccddeeff"`, `"0011"`, 1), ErrInvalid},
		{"Password", "user.created", strings.Replace(userCreated, `"active":true`, `"password":"x"`, 1), ErrInvalid},
		{"ExtensionNotObject", "user.created", strings.Replace(userCreated, `"active":true`, `"active":true,
			"urn:ietf:params:scim:schemas:extension:Contoso:2.0:User":"CC-1"`, 1), ErrInvalid},
		{"Meta", "user.created", strings.Replace(userCreated, `"active":true`, `"meta":{}`, 1), ErrInvalid},
		{"CreatedAtVersion2", "user.created", strings.Replace(userCreated, `"version":1`, `"version":2`, 1), ErrInvalid},
		{"WrongResourceType", "group.created", userCreated, ErrInvalid},
		{"WrongSCIMEvent", "user.updated", strings.Replace(userCreated, `"version":1,"prevVersion":0`, `"version":2,"prevVersion":1`, 1), ErrInvalid},
		{"NoTenant", "user.created", strings.Replace(userCreated, `"tenant":"acme",`, ``, 1), ErrInvalid},
		{"DeletedWithResource", "user.deleted", `{"tenant":"acme","resourceType":"User","id":"u1","version":3,"prevVersion":2,
			"resource":{"id":"u1"},"scimEvent":"urn:ietf:params:scim:event:prov:delete"}`, ErrInvalid},
		{"GroupWithMembers", "group.created", `{"tenant":"acme","resourceType":"Group","id":"g1","version":1,"prevVersion":0,
			"resource":{"id":"g1","members":[{"value":"u1"}]},"scimEvent":"urn:ietf:params:scim:event:prov:create:full"}`, ErrInvalid},
		{"MemberWithoutType", "group.members_removed", `{"tenant":"acme","resourceType":"Group","id":"g1","version":3,
			"prevVersion":2,"membersRemoved":[{"value":"u1"}],"scimEvent":"urn:ietf:params:scim:event:prov:patch:full"}`, ErrInvalid},
		{"MembersAddedEmpty", "group.members_added", `{"tenant":"acme","resourceType":"Group","id":"g1","version":2,
			"prevVersion":1,"membersAdded":[],"scimEvent":"urn:ietf:params:scim:event:prov:patch:full"}`, ErrInvalid},
		{"Epoch", "user.created", strings.Replace(userCreated, `"version":1`, `"version":1,"epoch":3`, 1), nil},
		{"NegativeEpoch", "user.created", strings.Replace(userCreated, `"version":1`, `"version":1,"epoch":-1`, 1), ErrInvalid},
		{"EpochNotInteger", "user.created", strings.Replace(userCreated, `"version":1`, `"version":1,"epoch":"3"`, 1), ErrInvalid},
		{"Claim", "partition.claimed", `{"partition":3,"epoch":7,"owner":"http://10.0.0.5:8080"}`, nil},
		{"ClaimUnknownField", "partition.claimed", `{"partition":0,"epoch":1,"owner":"http://a:8080","claimedAt":"x"}`, nil},
		{"ClaimEpochZero", "partition.claimed", `{"partition":3,"epoch":0,"owner":"http://10.0.0.5:8080"}`, ErrInvalid},
		{"ClaimNoOwner", "partition.claimed", `{"partition":3,"epoch":7}`, ErrInvalid},
		{"ClaimEmptyOwner", "partition.claimed", `{"partition":3,"epoch":7,"owner":""}`, ErrInvalid},
		{"ClaimOwnerWithSpace", "partition.claimed", `{"partition":3,"epoch":7,"owner":"http://a b"}`, ErrInvalid},
		{"ClaimOwnerTooLong", "partition.claimed", `{"partition":3,"epoch":7,"owner":"` + strings.Repeat("a", 1025) + `"}`, ErrInvalid},
		{"ClaimNegativePartition", "partition.claimed", `{"partition":-1,"epoch":7,"owner":"http://x"}`, ErrInvalid},
		{"EventAsClaim", "partition.claimed", userCreated, ErrInvalid},
		{"NotJSON", "user.created", `{"tenant":`, ErrInvalid},
		{"UnknownType", "user.renamed", userCreated, ErrUnknownType},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := Validate(tc.typ, []byte(tc.value))
			if (tc.wantErr == nil) != (err == nil) || !errors.Is(err, tc.wantErr) {
				t.Errorf("Validate(%s) = %v, want %v", tc.typ, err, tc.wantErr)
			}
		})
	}
}

func TestValidateHeaders(t *testing.T) {
	good := func() map[string]string {
		return map[string]string{
			"ce_specversion": "1.0", "ce_id": "8a9f", "ce_source": "/scim-bridge/test",
			"ce_type": "user.created", "ce_subject": "User/u1", "ce_time": "2025-03-14T15:09:26.535897932Z",
			"content-type": "application/json", "ce_tenant": "acme", "traceparent": "00-ab-cd-01",
		}
	}
	tests := []struct {
		name    string
		typ     string
		edit    func(h map[string]string)
		wantErr error
	}{
		{"Valid", "user.created", func(map[string]string) {}, nil},
		{"TypeMismatch", "user.updated", func(map[string]string) {}, ErrInvalid},
		{"SubjectOfGroup", "user.created", func(h map[string]string) { h["ce_subject"] = "Group/u1" }, ErrInvalid},
		{"MissingID", "user.created", func(h map[string]string) { delete(h, "ce_id") }, ErrInvalid},
		{"SpecVersion", "user.created", func(h map[string]string) { h["ce_specversion"] = "0.3" }, ErrInvalid},
		{"BadTime", "user.created", func(h map[string]string) { h["ce_time"] = "yesterday" }, ErrInvalid},
		{"ContentType", "user.created", func(h map[string]string) { h["content-type"] = "text/plain" }, ErrInvalid},
		{"UnknownType", "user.renamed", func(map[string]string) {}, ErrUnknownType},
		{"Claim", "partition.claimed", claimHeaders, nil},
		{"ClaimWithTenant", "partition.claimed", func(h map[string]string) { claimHeaders(h); h["ce_tenant"] = "acme" }, nil},
		{"ClaimNoTime", "partition.claimed", func(h map[string]string) { claimHeaders(h); delete(h, "ce_time") }, ErrInvalid},
		{"ClaimOtherType", "partition.claimed", func(h map[string]string) { claimHeaders(h); h["ce_type"] = "user.created" }, ErrInvalid},
		{"EventWithClaimType", "user.created", func(h map[string]string) { h["ce_type"] = "partition.claimed" }, ErrInvalid},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := good()
			tc.edit(h)
			err := ValidateHeaders(tc.typ, h)
			if (tc.wantErr == nil) != (err == nil) || !errors.Is(err, tc.wantErr) {
				t.Errorf("ValidateHeaders(%s) = %v, want %v", tc.typ, err, tc.wantErr)
			}
		})
	}
}

// claimHeaders turns the headers of good() into those of a claim.
func claimHeaders(h map[string]string) {
	delete(h, "ce_subject")
	delete(h, "ce_tenant")
	h["ce_type"] = "partition.claimed"
}

func TestSchema(t *testing.T) {
	for _, typ := range Types() {
		t.Run(typ, func(t *testing.T) {
			b, err := Schema(typ)
			if err != nil {
				t.Fatalf("Schema(%s): %v", typ, err)
			}
			if want := `"$id": "` + BaseURI + typ + `.json"`; !strings.Contains(string(b), want) {
				t.Errorf("Schema(%s) lacks %s", typ, want)
			}
		})
	}
	if _, err := Schema("common"); !errors.Is(err, ErrUnknownType) {
		t.Errorf("Schema(common) = %v, want ErrUnknownType", err)
	}
}

// TestAsyncAPI checks that asyncapi.yaml has a message for every type and
// that every schema it references is in FS.
func TestAsyncAPI(t *testing.T) {
	b, err := FS.ReadFile("asyncapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	if !strings.Contains(doc, "\nasyncapi: 3.0.0\n") {
		t.Errorf("asyncapi.yaml does not declare asyncapi: 3.0.0")
	}
	for _, typ := range Types() {
		if !strings.Contains(doc, "\n      name: "+typ+"\n") {
			t.Errorf("asyncapi.yaml has no message named %s", typ)
		}
	}
	refs := regexp.MustCompile(`\$ref: '(json/[^'#]+)`).FindAllStringSubmatch(doc, -1)
	if got, want := len(refs), 2*len(Types()); got != want {
		t.Errorf("asyncapi.yaml references %d schema files, want %d (headers and payload per type)", got, want)
	}
	for _, m := range refs {
		if _, err := fs.Stat(FS, m[1]); err != nil {
			t.Errorf("asyncapi.yaml references %s: %v", m[1], err)
		}
	}
}
