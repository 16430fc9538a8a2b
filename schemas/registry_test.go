package schemas

import (
	"encoding/json"
	"io/fs"
	"strings"
	"testing"
)

func TestNewRegistry(t *testing.T) {
	reg := modelRegistry(t)
	var names []string
	for _, rt := range reg.ResourceTypes() {
		names = append(names, rt.Name+" "+rt.Endpoint)
	}
	if got, want := strings.Join(names, ","), "User /Users,Group /Groups"; got != want {
		t.Errorf("ResourceTypes() = %s, want %s", got, want)
	}
	var ids []string
	for _, s := range reg.Schemas() {
		ids = append(ids, s.ID)
	}
	if got, want := strings.Join(ids, ","), URNUser+","+URNEnterprise+","+URNGroup; got != want {
		t.Errorf("Schemas() = %s, want %s", got, want)
	}
	if _, ok := reg.ResourceType("gRoUp"); !ok {
		t.Errorf("ResourceType(%q) not found", "gRoUp")
	}
	if _, ok := reg.ResourceType("Device"); ok {
		t.Errorf("ResourceType(%q) found", "Device")
	}
}

// TestDefs_Characteristics checks that the published definitions carry
// every characteristic (RFC 7643 §7) and the ones the service relies on.
func TestDefs_Characteristics(t *testing.T) {
	files, err := fs.Glob(defs, "defs/*.json")
	if err != nil || len(files) != 4 {
		t.Fatalf("defs = %v, %v; want 4 files", files, err)
	}
	keys := []string{"name", "type", "multiValued", "description", "required", "caseExact", "mutability", "returned", "uniqueness"}
	var check func(file, path string, attrs []any)
	check = func(file, path string, attrs []any) {
		for _, x := range attrs {
			a := x.(map[string]any)
			p := path + a["name"].(string)
			for _, k := range keys {
				if _, ok := a[k]; !ok {
					t.Errorf("%s: attribute %s lacks %q", file, p, k)
				}
			}
			if subs, ok := a["subAttributes"].([]any); ok {
				check(file, p+".", subs)
			}
		}
	}
	for _, f := range files {
		b, _ := defs.ReadFile(f)
		var s map[string]any
		if err := json.Unmarshal(b, &s); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		check(f, "", s["attributes"].([]any))
	}

	user := modelRT(t, "User")
	group := modelRT(t, "Group")
	tests := []struct {
		name string // RFC section
		rt   *ResourceType
		path AttrPath
		want Attribute // only the characteristics compared below
	}{
		{"RFC7643_4.1.1_userName", user, AttrPath{Name: "userName"}, Attribute{Type: TypeString, Required: true, Mutability: ReadWrite, Returned: ReturnedDefault, Uniqueness: UniqueServer}},
		{"RFC7643_4.1.1_password", user, AttrPath{Name: "password"}, Attribute{Type: TypeString, Mutability: WriteOnly, Returned: ReturnedNever, Uniqueness: UniqueNone}},
		{"RFC7643_4.1.2_groups", user, AttrPath{Name: "groups"}, Attribute{Type: TypeComplex, MultiValued: true, Mutability: ReadOnly, Returned: ReturnedDefault, Uniqueness: UniqueNone}},
		{"RFC7643_4.1.2_x509", user, AttrPath{Name: "x509Certificates", Sub: "value"}, Attribute{Type: TypeBinary, CaseExact: true, Mutability: ReadWrite, Returned: ReturnedDefault, Uniqueness: UniqueNone}},
		{"RFC7643_3.1_id", user, AttrPath{Name: "id"}, Attribute{Type: TypeString, CaseExact: true, Mutability: ReadOnly, Returned: ReturnedAlways, Uniqueness: UniqueServer}},
		{"RFC7643_4.2_membersValue", group, AttrPath{Name: "members", Sub: "value"}, Attribute{Type: TypeString, Required: true, CaseExact: true, Mutability: Immutable, Returned: ReturnedDefault, Uniqueness: UniqueNone}},
		// RFC 7643 §8.7.1: every sub-attribute of members is immutable,
		// "$ref" too; a client that reads readOnly there sends no real
		// member references.
		{"RFC7643_8.7.1_membersRef", group, AttrPath{Name: "members", Sub: "$ref"}, Attribute{Type: TypeReference, CaseExact: true, Mutability: Immutable, Returned: ReturnedDefault, Uniqueness: UniqueNone}},
		{"RFC7643_4.2_membersType", group, AttrPath{Name: "members", Sub: "type"}, Attribute{Type: TypeString, Mutability: Immutable, Returned: ReturnedDefault, Uniqueness: UniqueNone}},
		{"RFC7643_4.3_manager", user, AttrPath{Name: "manager"}, Attribute{Type: TypeComplex, Mutability: ReadWrite, Returned: ReturnedDefault, Uniqueness: UniqueNone}},
		{"RFC7643_4.3_managerDisplayName", user, AttrPath{Name: "manager", Sub: "displayName"}, Attribute{Type: TypeString, Mutability: ReadOnly, Returned: ReturnedDefault, Uniqueness: UniqueNone}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, _, ok := tt.rt.Lookup(tt.path)
			if !ok {
				t.Fatalf("Lookup(%v) not found", tt.path)
			}
			got := Attribute{Type: a.Type, MultiValued: a.MultiValued, Required: a.Required, CaseExact: a.CaseExact, Mutability: a.Mutability, Returned: a.Returned, Uniqueness: a.Uniqueness}
			if got.Type != tt.want.Type || got.MultiValued != tt.want.MultiValued || got.Required != tt.want.Required ||
				got.CaseExact != tt.want.CaseExact || got.Mutability != tt.want.Mutability || got.Returned != tt.want.Returned || got.Uniqueness != tt.want.Uniqueness {
				t.Errorf("Lookup(%v) = %+v, want %+v", tt.path, got, tt.want)
			}
		})
	}
}

const badgeExt = `{"id":"urn:example:params:scim:schemas:extension:acme:2.0:User","name":"AcmeUser","resourceType":"User",
 "attributes":[{"name":"badge","type":"integer"},{"name":"department","type":"string"},
  {"name":"site","type":"complex","subAttributes":[{"name":"value","type":"string"},{"name":"floor","type":"integer"}]}]}`

func TestNewRegistry_Extension(t *testing.T) {
	reg, err := NewRegistry([]byte(badgeExt))
	if err != nil {
		t.Fatalf("NewRegistry(ext) error: %v", err)
	}
	user, _ := reg.ResourceType("User")
	const urn = "urn:example:params:scim:schemas:extension:acme:2.0:User"
	if got, want := len(user.Extensions), 2; got != want {
		t.Fatalf("len(User.Extensions) = %d, want %d", got, want)
	}
	a, canon, ok := user.Lookup(AttrPath{Name: "BADGE"})
	if !ok || a.Mutability != ReadWrite || a.Returned != ReturnedDefault || canon != (AttrPath{URN: urn, Name: "badge"}) {
		t.Errorf("Lookup(BADGE) = %+v, %v, %v; want the extension attribute with RFC 7643 §2.2 defaults", a, canon, ok)
	}
	// "department" is in two extensions: ambiguous without a URN.
	if _, _, ok := user.Lookup(AttrPath{Name: "department"}); ok {
		t.Errorf("Lookup(department) resolved an ambiguous name")
	}
	r, err := user.Decode([]byte(`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"a","` + urn + `":{"badge":7,"site":{"value":"HQ","floor":3}}}`))
	if err != nil {
		t.Fatalf("Decode with extension: %v", err)
	}
	if got := r["schemas"].([]any); len(got) != 2 || got[1] != urn {
		t.Errorf("Decode schemas = %v, want core and %s", got, urn)
	}
}

func TestNewRegistry_Errors(t *testing.T) {
	tests := []struct {
		name string
		def  string
		want string
	}{
		{"NotJSON", `{`, "extension schema 1"},
		{"UnknownField", `{"id":"urn:x","name":"X","resourceType":"User","attributes":[{"name":"a","type":"string","colour":"red"}]}`, "colour"},
		{"NotURN", `{"id":"x","name":"X","resourceType":"User","attributes":[{"name":"a","type":"string"}]}`, "not a URN"},
		{"NoAttributes", `{"id":"urn:x","name":"X","resourceType":"User","attributes":[]}`, "no attributes"},
		{"RFC7643_2.1_BadName", `{"id":"urn:x","name":"X","resourceType":"User","attributes":[{"name":"1a","type":"string"}]}`, "invalid name"},
		{"RFC7643_2.3_BadType", `{"id":"urn:x","name":"X","resourceType":"User","attributes":[{"name":"a","type":"text"}]}`, "unknown type"},
		{"RFC7643_2.3.8_SubOnString", `{"id":"urn:x","name":"X","resourceType":"User","attributes":[{"name":"a","type":"string","subAttributes":[{"name":"b","type":"string"}]}]}`, "sub-attributes on a string"},
		{"RFC7643_2.3.8_NestedComplex", `{"id":"urn:x","name":"X","resourceType":"User","attributes":[{"name":"a","type":"complex","subAttributes":[{"name":"b","type":"complex","subAttributes":[{"name":"c","type":"string"}]}]}]}`, "cannot be complex"},
		{"RFC7643_2.3.8_ComplexWithoutSubs", `{"id":"urn:x","name":"X","resourceType":"User","attributes":[{"name":"a","type":"complex"}]}`, "without sub-attributes"},
		{"RFC7643_2.1_DuplicateName", `{"id":"urn:x","name":"X","resourceType":"User","attributes":[{"name":"a","type":"string"},{"name":"A","type":"string"}]}`, "defined twice"},
		{"RFC7643_7_BadMutability", `{"id":"urn:x","name":"X","resourceType":"User","attributes":[{"name":"a","type":"string","mutability":"sometimes"}]}`, "mutability"},
		{"RFC7643_7_ReferenceWithoutTypes", `{"id":"urn:x","name":"X","resourceType":"User","attributes":[{"name":"a","type":"reference"}]}`, "referenceTypes"},
		{"UnknownResourceType", `{"id":"urn:x","name":"X","resourceType":"Device","attributes":[{"name":"a","type":"string"}]}`, "not User or Group"},
		{"DuplicateSchema", `{"id":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User","name":"X","resourceType":"User","attributes":[{"name":"a","type":"string"}]}`, "defined twice"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewRegistry([]byte(tt.def))
			if err == nil {
				t.Fatalf("NewRegistry(%s) = nil error, want one containing %q", tt.def, tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("NewRegistry(%s) error = %q, want it to contain %q", tt.def, err, tt.want)
			}
		})
	}
}
