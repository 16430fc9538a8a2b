package schemas

import (
	"encoding/json"
	"errors"
	"io/fs"
	"slices"
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
		{"UnknownField", `{"id":"urn:acme:x","name":"X","resourceType":"User","attributes":[{"name":"a","type":"string","colour":"red"}]}`, "colour"},
		{"NotURN", `{"id":"x","name":"X","resourceType":"User","attributes":[{"name":"a","type":"string"}]}`, "not a URN"},
		{"NoAttributes", `{"id":"urn:acme:x","name":"X","resourceType":"User","attributes":[]}`, "no attributes"},
		{"RFC7643_2.1_BadName", `{"id":"urn:acme:x","name":"X","resourceType":"User","attributes":[{"name":"1a","type":"string"}]}`, "invalid name"},
		{"RFC7643_2.3_BadType", `{"id":"urn:acme:x","name":"X","resourceType":"User","attributes":[{"name":"a","type":"text"}]}`, "unknown type"},
		{"RFC7643_2.3.8_SubOnString", `{"id":"urn:acme:x","name":"X","resourceType":"User","attributes":[{"name":"a","type":"string","subAttributes":[{"name":"b","type":"string"}]}]}`, "sub-attributes on a string"},
		{"RFC7643_2.3.8_NestedComplex", `{"id":"urn:acme:x","name":"X","resourceType":"User","attributes":[{"name":"a","type":"complex","subAttributes":[{"name":"b","type":"complex","subAttributes":[{"name":"c","type":"string"}]}]}]}`, "cannot be complex"},
		{"RFC7643_2.3.8_ComplexWithoutSubs", `{"id":"urn:acme:x","name":"X","resourceType":"User","attributes":[{"name":"a","type":"complex"}]}`, "without sub-attributes"},
		{"RFC7643_2.1_DuplicateName", `{"id":"urn:acme:x","name":"X","resourceType":"User","attributes":[{"name":"a","type":"string"},{"name":"A","type":"string"}]}`, "defined twice"},
		{"RFC7643_7_BadMutability", `{"id":"urn:acme:x","name":"X","resourceType":"User","attributes":[{"name":"a","type":"string","mutability":"sometimes"}]}`, "mutability"},
		{"RFC7643_7_ReferenceWithoutTypes", `{"id":"urn:acme:x","name":"X","resourceType":"User","attributes":[{"name":"a","type":"reference"}]}`, "referenceTypes"},
		{"UnknownResourceType", `{"id":"urn:acme:x","name":"X","resourceType":"Device","attributes":[{"name":"a","type":"string"}]}`, "not User or Group"},
		{"DuplicateSchema", `{"id":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User","name":"X","resourceType":"User","attributes":[{"name":"a","type":"string"}]}`, "already defined"},
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

// TestNewRegistryWith_Errors checks that every rejected definition names
// its source and says what is wrong with it, as SCIM_SCHEMAS_DIR reports
// them at start.
func TestNewRegistryWith_Errors(t *testing.T) {
	const ok = `{"id":"urn:example:scim:schemas:extension:acme:2.0:User","name":"Acme","resourceType":"User","attributes":[{"name":"badge","type":"string"}]}`
	tests := []struct {
		name string
		def  string
		want []string // all in the error
	}{
		{"NotJSON", `{"id":`, []string{"bad.json", "not valid JSON"}},
		{"NotObject", `[1]`, []string{"bad.json", "expected a JSON object"}},
		{"TrailingData", ok + ` {}`, []string{"bad.json", "trailing data"}},
		{"MissingID", `{"name":"X","resourceType":"User","attributes":[{"name":"a","type":"string"}]}`, []string{"bad.json", `no "id"`}},
		{"IDNotURN", `{"id":"acme:User","name":"X","resourceType":"User","attributes":[{"name":"a","type":"string"}]}`, []string{"bad.json", `"acme:User"`, "not a URN"}},
		{"IDNoNSS", `{"id":"urn:acme","name":"X","resourceType":"User","attributes":[{"name":"a","type":"string"}]}`, []string{"bad.json", "not a URN"}},
		{"IDWithSpace", `{"id":"urn:acme:my ext","name":"X","resourceType":"User","attributes":[{"name":"a","type":"string"}]}`, []string{"bad.json", "not a URN"}},
		{"IDIsEnterprise", `{"id":"URN:ietf:params:scim:schemas:extension:enterprise:2.0:User","name":"X","resourceType":"User","attributes":[{"name":"a","type":"string"}]}`, []string{"bad.json", "already defined by the built-in schemas"}},
		{"IDIsCoreUser", `{"id":"urn:ietf:params:scim:schemas:core:2.0:User","name":"X","resourceType":"User","attributes":[{"name":"a","type":"string"}]}`, []string{"bad.json", "already defined by the built-in schemas"}},
		{"MissingResourceType", `{"id":"urn:acme:x","name":"X","attributes":[{"name":"a","type":"string"}]}`, []string{"bad.json", `no "resourceType"`}},
		{"UnknownResourceType", `{"id":"urn:acme:x","name":"X","resourceType":"Device","attributes":[{"name":"a","type":"string"}]}`, []string{"bad.json", `"Device"`, "User or Group"}},
		{"BadType", `{"id":"urn:acme:x","name":"X","resourceType":"User","attributes":[{"name":"a","type":"text"}]}`, []string{"bad.json", `attribute "a"`, "unknown type"}},
		{"BadMutability", `{"id":"urn:acme:x","name":"X","resourceType":"User","attributes":[{"name":"a","type":"string","mutability":"sometimes"}]}`, []string{"bad.json", `attribute "a"`, "mutability"}},
		{"BadReturned", `{"id":"urn:acme:x","name":"X","resourceType":"User","attributes":[{"name":"a","type":"string","returned":"maybe"}]}`, []string{"bad.json", `attribute "a"`, "returned"}},
		{"BadCharacteristicType", `{"id":"urn:acme:x","name":"X","resourceType":"User","attributes":[{"name":"a","type":"string","multiValued":"yes"}]}`, []string{"bad.json", "multiValued"}},
		{"UnknownKey", `{"id":"urn:acme:x","name":"X","resourceType":"User","attributes":[{"name":"a","type":"string","maxLen":3}]}`, []string{"bad.json", "maxLen"}},
		{"SubOnString", `{"id":"urn:acme:x","name":"X","resourceType":"User","attributes":[{"name":"a","type":"string","subAttributes":[{"name":"b","type":"string"}]}]}`, []string{"bad.json", `attribute "a"`, "sub-attributes on a string"}},
		{"WriteOnly", `{"id":"urn:acme:x","name":"X","resourceType":"User","attributes":[{"name":"pin","type":"string","mutability":"writeOnly"}]}`, []string{"bad.json", `attribute "pin"`, "writeOnly"}},
		{"ReturnedNever", `{"id":"urn:acme:x","name":"X","resourceType":"User","attributes":[{"name":"c","type":"complex","subAttributes":[{"name":"s","type":"string","returned":"never"}]}]}`, []string{"bad.json", `attribute "c.s"`, "never"}},
		{"ReadOnly", `{"id":"urn:acme:x","name":"X","resourceType":"User","attributes":[{"name":"a","type":"string","mutability":"readOnly"}]}`, []string{"bad.json", `attribute "a"`, "readOnly"}},
		{"UniqueServer", `{"id":"urn:acme:x","name":"X","resourceType":"User","attributes":[{"name":"a","type":"string","uniqueness":"server"}]}`, []string{"bad.json", `attribute "a"`, "uniqueness"}},
		{"SchemasNotSchema", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"id":"urn:acme:x","name":"X","resourceType":"User","attributes":[{"name":"a","type":"string"}]}`, []string{"bad.json", `"schemas"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewRegistryWith(ExtensionDef{Name: "good.json", JSON: []byte(ok)}, ExtensionDef{Name: "bad.json", JSON: []byte(tt.def)})
			if err == nil {
				t.Fatalf("NewRegistryWith(%s) = nil error, want one containing %q", tt.def, tt.want)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("NewRegistryWith(%s) error = %q, want it to contain %q", tt.def, err, w)
				}
			}
		})
	}

	t.Run("DuplicateAcrossFiles", func(t *testing.T) {
		dup := strings.Replace(ok, "Acme", "Other", 1)
		dup = strings.Replace(dup, "acme:2.0", "ACME:2.0", 1) // ids compare case-insensitively
		_, err := NewRegistryWith(ExtensionDef{Name: "a.json", JSON: []byte(ok)}, ExtensionDef{Name: "b.json", JSON: []byte(dup)})
		if err == nil || !strings.Contains(err.Error(), "b.json") || !strings.Contains(err.Error(), "already defined by a.json") {
			t.Errorf("NewRegistryWith(a, b with a's id) = %v, want an error naming b.json and a.json", err)
		}
	})
}

// TestNewRegistryWith_Published checks that a schema file as another
// server's /Schemas serves it (with "schemas" and "meta") loads, and
// that the extension appears where /Schemas and /ResourceTypes read it.
func TestNewRegistryWith_Published(t *testing.T) {
	const def = `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Schema"],
	 "id":"urn:ietf:params:scim:schemas:extension:Contoso:2.0:User","name":"ContosoUser","description":"Contoso",
	 "resourceType":"User","required":true,
	 "attributes":[{"name":"costCenterCode","type":"string"}],
	 "meta":{"resourceType":"Schema","location":"https://elsewhere/Schemas/x"}}`
	reg, err := NewRegistryWith(ExtensionDef{Name: "contoso.json", JSON: []byte(def)})
	if err != nil {
		t.Fatalf("NewRegistryWith(contoso.json) = %v", err)
	}
	ss := reg.Schemas()
	if got := ss[len(ss)-1].ID; got != "urn:ietf:params:scim:schemas:extension:Contoso:2.0:User" {
		t.Errorf("last of Schemas() = %s, want the Contoso extension", got)
	}
	user, _ := reg.ResourceType("User")
	last := user.Extensions[len(user.Extensions)-1]
	if last.Schema.ID != ss[len(ss)-1].ID || !last.Required {
		t.Errorf("User extensions end with %s required=%v, want the Contoso extension, required", last.Schema.ID, last.Required)
	}
}

// TestDecode_RequiredExtension checks RFC 7643 §6: a resource of a type
// whose extension is required "MUST include this schema extension".
func TestDecode_RequiredExtension(t *testing.T) {
	const urn = "urn:example:scim:schemas:extension:acme:2.0:User"
	reg, err := NewRegistry([]byte(`{"id":"` + urn + `","name":"Acme","resourceType":"User","required":true,
	 "attributes":[{"name":"badge","type":"string"},{"name":"site","type":"string"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	user, _ := reg.ResourceType("User")
	_, err = user.Decode([]byte(`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"a"}`))
	var se *Error
	if !errors.As(err, &se) || se.Kind != KindInvalidValue || !strings.Contains(se.Detail, urn) || !strings.Contains(se.Detail, "required") {
		t.Errorf("Decode without the required extension = %v, want KindInvalidValue naming %s as required", err, urn)
	}
	r, err := user.Decode([]byte(`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"a","` + urn + `":{"site":"HQ"}}`))
	if err != nil {
		t.Fatalf("Decode with the required extension = %v", err)
	}
	// A PATCH that removes the whole extension leaves a resource without it.
	p, err := ParsePatch([]byte(`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"remove","path":"`+urn+`:site"}]}`), 10)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := user.ApplyPatch(r, nil, p); KindOf(err) != KindInvalidValue || !strings.Contains(err.Error(), urn) {
		t.Errorf("ApplyPatch removing the required extension's last attribute = %v, want KindInvalidValue naming %s", err, urn)
	}
}

// TestResourceType_RemovedExtension: a resource stored while an extension
// schema was declared keeps its data under the URN after the schema is
// taken away (a file removed from SCIM_SCHEMAS_DIR). Its next PATCH or PUT
// must succeed and drop that data, not fail as an unknown attribute.
func TestResourceType_RemovedExtension(t *testing.T) {
	const urn = "urn:example:scim:schemas:extension:acme:2.0:User"
	with, err := NewRegistry([]byte(`{"id":"` + urn + `","name":"Acme","resourceType":"User","attributes":[{"name":"badge","type":"string"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	userWith, _ := with.ResourceType("User")
	stored, err := userWith.Decode([]byte(`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"id":"u1","userName":"a","` + urn + `":{"badge":"B1"}}`))
	if err != nil {
		t.Fatal(err)
	}
	user := modelRT(t, "User") // without the extension
	p, err := ParsePatch([]byte(`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","path":"displayName","value":"A"}]}`), 10)
	if err != nil {
		t.Fatal(err)
	}
	got, c, err := user.ApplyPatch(stored, nil, p)
	if err != nil {
		t.Fatalf("ApplyPatch(displayName) on a resource with data of a removed extension = %v, want success", err)
	}
	if _, ok := got[urn]; ok || slices.Contains(got["schemas"].([]any), any(urn)) {
		t.Errorf("ApplyPatch kept the removed extension: %v", got)
	}
	if !slices.Contains(c.Attributes, urn) {
		t.Errorf("ApplyPatch changed %v, want the removed extension %s among them", c.Attributes, urn)
	}
	next, err := user.Decode([]byte(`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"a"}`))
	if err != nil {
		t.Fatal(err)
	}
	if got, _, err := user.Replace(stored, nil, next); err != nil || got[urn] != nil {
		t.Errorf("Replace on a resource with data of a removed extension = %v, %v; want success without it", got, err)
	}
}
