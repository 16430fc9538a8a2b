package schemas

import (
	"encoding/json"
	"maps"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
)

func TestResourceType_ParseSelection(t *testing.T) {
	user := modelRT(t, "User")
	tests := []struct {
		name      string
		attrs, ex string
		want      []AttrPath // Attributes then Excluded
		kind      Kind
	}{
		{"RFC7644_3.4.2.5_Names", "userName, Emails.VALUE", "", []AttrPath{{Name: "userName"}, {Name: "emails", Sub: "value"}}, KindOther},
		{"RFC7644_3.4.2.5_URN", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value", "", []AttrPath{{URN: URNEnterprise, Name: "manager", Sub: "value"}}, KindOther},
		{"RFC7644_3.4.2.5_WholeExtension", "", URNEnterprise, []AttrPath{{URN: URNEnterprise}}, KindOther},
		{"UnknownIgnored", "userName,favouriteColour,urn:example:x:y", "", []AttrPath{{Name: "userName"}}, KindOther},
		{"ReferenceValueFilter", `emails[type eq "work"]`, "", []AttrPath{{Name: "emails"}}, KindOther},
		{"MalformedEmptyItem", "userName,,emails", "", nil, KindInvalidValue},
		{"MalformedName", "user name", "", nil, KindInvalidValue},
		{"MalformedBracket", `emails[type eq "work"`, "", nil, KindInvalidValue},
		{"MalformedTrailingDot", "", "name.", nil, KindInvalidValue},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := user.ParseSelection(tt.attrs, tt.ex)
			if tt.kind != KindOther {
				if KindOf(err) != tt.kind {
					t.Fatalf("ParseSelection(%q, %q) = %v, %v; want kind %v", tt.attrs, tt.ex, s, err, tt.kind)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseSelection(%q, %q) error: %v", tt.attrs, tt.ex, err)
			}
			got := append(append([]AttrPath{}, s.Attributes...), s.Excluded...)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("ParseSelection(%q, %q) = %+v, want %+v", tt.attrs, tt.ex, got, tt.want)
			}
		})
	}
}

func TestResourceType_Project(t *testing.T) {
	user := modelRT(t, "User")
	r := Resource{
		"schemas": []any{URNUser, URNEnterprise}, "id": "1", "userName": "a", "password": "never",
		"name":        map[string]any{"givenName": "A", "familyName": "B"},
		"emails":      []any{map[string]any{"value": "a@x", "type": "work"}, map[string]any{"value": "b@x"}},
		"meta":        map[string]any{"resourceType": "User"},
		URNEnterprise: map[string]any{"employeeNumber": "7", "manager": map[string]any{"value": "9"}},
	}
	tests := []struct {
		name      string
		attrs, ex string
		want      Resource
	}{
		{"RFC7643_7_Default_PasswordNever", "", "", Resource{
			"schemas": r["schemas"], "id": "1", "userName": "a", "name": r["name"], "emails": r["emails"], "meta": r["meta"], URNEnterprise: r[URNEnterprise]}},
		{"RFC7644_3.4.2.5_AttributesKeepAlways", "userName", "", Resource{"schemas": r["schemas"], "id": "1", "userName": "a"}},
		{"RFC7644_3.4.2.5_UnknownOnly", "nope", "", Resource{"schemas": r["schemas"], "id": "1"}},
		{"RFC7644_3.4.2.5_SubAttribute", "name.givenName,emails.value", "", Resource{"schemas": r["schemas"], "id": "1",
			"name": map[string]any{"givenName": "A"}, "emails": []any{map[string]any{"value": "a@x"}, map[string]any{"value": "b@x"}}}},
		{"RFC7644_3.4.2.5_Extension", "manager", "", Resource{"schemas": r["schemas"], "id": "1", URNEnterprise: map[string]any{"manager": map[string]any{"value": "9"}}}},
		{"RFC7644_3.4.2.5_ExcludedNeverAlways", "", "id,schemas,emails,meta,name.familyName," + URNEnterprise, Resource{
			"schemas": r["schemas"], "id": "1", "userName": "a", "name": map[string]any{"givenName": "A"}}},
		{"RFC7644_3.4.2.5_ExcludedSubOfMulti", "", "emails.type", Resource{
			"schemas": r["schemas"], "id": "1", "userName": "a", "name": r["name"], "meta": r["meta"], URNEnterprise: r[URNEnterprise],
			"emails": []any{map[string]any{"value": "a@x"}, map[string]any{"value": "b@x"}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := user.ParseSelection(tt.attrs, tt.ex)
			if err != nil {
				t.Fatalf("ParseSelection(%q, %q) error: %v", tt.attrs, tt.ex, err)
			}
			if got := user.Project(r, s); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Project(attributes=%q, excludedAttributes=%q) = %v, want %v", tt.attrs, tt.ex, got, tt.want)
			}
		})
	}
}

func TestSelection_Wants(t *testing.T) {
	group := modelRT(t, "Group")
	user := modelRT(t, "User")
	tests := []struct {
		name      string
		rt        *ResourceType
		attrs, ex string
		attr      string
		want      bool
	}{
		{"RFC7644_3.4.2.5_DefaultMembers", group, "", "", "members", true},
		{"Q14_ExcludedMembers", group, "", "members", "members", false},
		{"RFC7644_3.4.2.5_AttributesWithoutMembers", group, "displayName", "", "members", false},
		{"RFC7644_3.4.2.5_AttributesMemberSub", group, "members.value", "", "members", true},
		{"RFC7644_3.4.2.5_ExcludedSubKeepsTop", group, "", "members.display", "members", true},
		{"RFC7643_7_GroupsDefault", user, "", "", "groups", true},
		{"RFC7643_7_PasswordNever", user, "password", "", "password", false},
		{"RFC7643_7_IDAlways", user, "userName", "id", "id", true},
		{"RFC7643_3.1_MetaExcluded", user, "", "meta", "meta", false},
		{"Unknown", user, "", "", "nope", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := tt.rt.ParseSelection(tt.attrs, tt.ex)
			if err != nil {
				t.Fatalf("ParseSelection error: %v", err)
			}
			if got := s.Wants(tt.rt, tt.attr); got != tt.want {
				t.Errorf("Wants(%q) with attributes=%q excludedAttributes=%q = %v, want %v", tt.attr, tt.attrs, tt.ex, got, tt.want)
			}
		})
	}
}

// projectExtUser is an extension with attributes of every returned
// characteristic (RFC 7643 §7), at the top level and as sub-attributes:
// the core definitions have only password (never) and id (always).
const projectExtUser = `{"id":"urn:example:params:scim:schemas:extension:test:2.0:User","name":"TestUser","resourceType":"User","attributes":[
 {"name":"secret","type":"string","returned":"never"},
 {"name":"badge","type":"string","returned":"request"},
 {"name":"tenantKey","type":"string","returned":"always"},
 {"name":"nickname","type":"string"},
 {"name":"device","type":"complex","multiValued":true,"subAttributes":[
  {"name":"serial","type":"string","returned":"request"},
  {"name":"pin","type":"string","returned":"never"},
  {"name":"kind","type":"string","returned":"always"},
  {"name":"label","type":"string"}]},
 {"name":"office","type":"complex","subAttributes":[
  {"name":"room","type":"string"},
  {"name":"code","type":"string","returned":"request"}]}]}`

const projectExtGroup = `{"id":"urn:example:params:scim:schemas:extension:test:2.0:Group","name":"TestGroup","resourceType":"Group","attributes":[
 {"name":"owner","type":"complex","subAttributes":[{"name":"value","type":"string"},{"name":"token","type":"string","returned":"never"}]},
 {"name":"costCenter","type":"string","returned":"request"}]}`

const (
	urnTestUser  = "urn:example:params:scim:schemas:extension:test:2.0:User"
	urnTestGroup = "urn:example:params:scim:schemas:extension:test:2.0:Group"
)

// projectCorpus returns resources of rt for the Project differential test:
// the decoded request bodies of testdata/decode as the projection stores
// them (with an id, and with members or groups as it attaches them), the
// same bodies undecoded (keys in any case, unknown attributes, password,
// null and empty values), hand-made edge cases and generated resources.
func projectCorpus(t *testing.T, rt *ResourceType) []Resource {
	t.Helper()
	prefix := strings.ToLower(rt.Name) + "-"
	files, err := filepath.Glob(filepath.Join("testdata", "decode", prefix+"*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("Glob(%s*.json) = %v, %v", prefix, files, err)
	}
	var out []Resource
	for _, f := range files {
		body, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var raw map[string]any
		if json.Unmarshal(body, &raw) == nil && !foldDuplicates(raw) {
			out = append(out, Resource(raw))
		}
		r, err := rt.Decode(body)
		if err != nil {
			continue
		}
		r["id"] = "2819c223-7f76-453a-919d-413861904646"
		out = append(out, r)
		withLists := shallowCopyMap(r)
		switch rt.Name {
		case "User":
			withLists["groups"] = []any{
				map[string]any{"value": "g1", "type": "direct", "display": "Sales"},
				map[string]any{"value": "g2", "type": "direct"},
			}
		case "Group":
			withLists["members"] = []any{
				map[string]any{"value": "u1", "type": "User", "display": "Alice"},
				map[string]any{"value": "u2", "type": "User"},
				map[string]any{"value": "g9", "type": "Group"},
			}
		}
		out = append(out, withLists)
	}
	base := Resource{"schemas": []any{rt.Schema.ID}, "id": "1", "externalId": "x"}
	edge := []Resource{
		nil,
		{},
		{"schemas": nil, "id": "1"},
		{"id": nil, "externalId": "x"},
		{"ID": "1", "schemas": []any{rt.Schema.ID}},
		{"id": "1", "favouriteColour": "blue"},
		{"id": "1", rt.Schema.ID: map[string]any{"id": "1"}},
		{"id": "1", "meta": map[string]any{"resourceType": rt.Name, "bogus": "x"}},
		{"id": "1", "meta": map[string]any{}},
		{"id": "1", "meta": "not an object"},
		{"id": "1", "meta": []any{}},
		{"id": "1", "meta": []any{nil, map[string]any{"version": "W/\"1\""}, "s", map[string]any{}}},
	}
	out = append(out, edge...)
	rng := rand.New(rand.NewPCG(6, uint64(len(rt.Name))))
	for range 300 {
		out = append(out, randomResource(rng, rt, base))
	}
	return out
}

// foldDuplicates reports whether m or an object in it has two keys that
// differ only in case: Project keeps one of them, which one depending on map
// order, so two calls need not agree.
func foldDuplicates(v any) bool {
	switch v := v.(type) {
	case map[string]any:
		seen := map[string]bool{}
		for k, x := range v {
			if seen[strings.ToLower(k)] || foldDuplicates(x) {
				return true
			}
			seen[strings.ToLower(k)] = true
		}
	case []any:
		for _, x := range v {
			if foldDuplicates(x) {
				return true
			}
		}
	}
	return false
}

// randomResource fills base's copy with random values for rt's attributes,
// mostly well-formed, sometimes null, empty, oddly cased or unknown. It
// never gives one name two spellings, for which Project's result depends on
// map order.
func randomResource(rng *rand.Rand, rt *ResourceType, base Resource) Resource {
	r := shallowCopyMap(base)
	spell := func(name string) string {
		if rng.IntN(20) == 0 {
			return strings.ToUpper(name)
		}
		return name
	}
	scalar := func() any {
		switch rng.IntN(12) {
		case 0:
			return nil
		case 1:
			return []any{}
		case 2:
			return map[string]any{}
		default:
			return "v" + strconv.Itoa(rng.IntN(100))
		}
	}
	complexValue := func(a *Attribute) any {
		m := map[string]any{}
		for _, sub := range a.SubAttributes {
			if rng.IntN(2) == 0 {
				m[spell(sub.Name)] = scalar()
			}
		}
		if rng.IntN(15) == 0 {
			m["unknownSub"] = "x"
		}
		return m
	}
	fill := func(dst map[string]any, attrs []*Attribute) {
		for _, a := range attrs {
			if a.Name == "meta" || a.Name == "schemas" || rng.IntN(3) == 0 {
				continue
			}
			var v any
			switch {
			case a.Type != TypeComplex:
				v = scalar()
			case a.MultiValued || rng.IntN(10) == 0:
				n := rng.IntN(4)
				vals := make([]any, 0, n)
				for range n {
					switch rng.IntN(15) {
					case 0:
						vals = append(vals, nil)
					case 1:
						vals = append(vals, "not an object")
					default:
						vals = append(vals, complexValue(a))
					}
				}
				v = vals
			default:
				v = complexValue(a)
				if rng.IntN(15) == 0 {
					v = "not an object"
				}
			}
			dst[spell(a.Name)] = v
		}
		if rng.IntN(15) == 0 {
			dst["unknownAttr"] = "x"
		}
	}
	fill(r, rt.Schema.Attributes)
	for _, ext := range rt.Extensions {
		if rng.IntN(3) == 0 {
			continue
		}
		em := map[string]any{}
		fill(em, ext.Schema.Attributes)
		if rng.IntN(15) == 0 {
			r[ext.Schema.ID] = "not an object"
			continue
		}
		r[spell(ext.Schema.ID)] = em
	}
	return r
}

// TestResourceType_Project_Differential checks Project, which returns r or
// a shallow copy when it can, against projectGeneral, which builds every
// result from nothing, on many resources and selections.
func TestResourceType_Project_Differential(t *testing.T) {
	reg, err := NewRegistry([]byte(projectExtUser), []byte(projectExtGroup))
	if err != nil {
		t.Fatalf("NewRegistry() error: %v", err)
	}
	selections := map[string][][2]string{
		"User": {
			{"", ""}, {"", "groups"}, {"", "emails"}, {"", "groups,emails,phoneNumbers"}, {"", "meta"},
			{"", "id,schemas"}, {"", "password"}, {"", "name.familyName"}, {"", "emails.type"},
			{"", "groups.display"}, {"", URNEnterprise}, {"", URNEnterprise + ":manager"},
			{"", "manager.displayName"}, {"", urnTestUser}, {"", "nickname"}, {"", "secret,badge,tenantKey"},
			{"", "device.label"}, {"", "device.kind,office.room"}, {"", "x509Certificates,addresses.type"},
			{"userName", ""}, {"nope", ""}, {"emails", "emails.value"}, {"name.givenName,emails.value", ""},
			{"badge", ""}, {"device", ""}, {"device.serial", ""}, {"office.code", "office.room"},
			{urnTestUser, ""}, {URNEnterprise, "department"}, {"groups", "groups"},
		},
		"Group": {
			{"", ""}, {"", "members"}, {"", "members.display"}, {"", "displayName,members"}, {"", "meta"},
			{"", urnTestGroup}, {"", "owner"}, {"", "owner.value"}, {"", "costCenter"},
			{"displayName", ""}, {"members.value", ""}, {"costCenter", ""}, {"owner.token", ""}, {urnTestGroup, "owner"},
		},
	}
	for _, rt := range reg.ResourceTypes() {
		corpus := projectCorpus(t, rt)
		for _, q := range selections[rt.Name] {
			s, err := rt.ParseSelection(q[0], q[1])
			if err != nil {
				t.Fatalf("%s: ParseSelection(%q, %q) error: %v", rt.Name, q[0], q[1], err)
			}
			for i, r := range corpus {
				before := deepCopyValue(map[string]any(r))
				got := rt.Project(r, s)
				want := rt.projectGeneral(r, s)
				if !reflect.DeepEqual(got, want) {
					t.Errorf("%s: Project(corpus[%d], attributes=%q, excludedAttributes=%q) differs from projectGeneral\nresource: %v\ngot:  %v\nwant: %v",
						rt.Name, i, q[0], q[1], r, got, want)
				}
				if r != nil && !reflect.DeepEqual(map[string]any(r), before) {
					t.Errorf("%s: Project(corpus[%d], attributes=%q, excludedAttributes=%q) modified its input", rt.Name, i, q[0], q[1])
				}
			}
		}
	}
}

// deepCopyValue copies maps and slices, so that a change to the original is
// visible against the copy.
func deepCopyValue(v any) any {
	switch v := v.(type) {
	case map[string]any:
		if v == nil {
			return v
		}
		c := make(map[string]any, len(v))
		for k, x := range v {
			c[k] = deepCopyValue(x)
		}
		return c
	case []any:
		if v == nil {
			return v
		}
		c := make([]any, len(v))
		for i, x := range v {
			c[i] = deepCopyValue(x)
		}
		return c
	}
	return v
}

// TestResourceType_Project_NoCopy pins the common case: a stored user read
// with no attributes parameter comes back as is, without allocating, and a
// top-level excludedAttributes costs one shallow copy that shares the
// nested values.
func TestResourceType_Project_NoCopy(t *testing.T) {
	user := modelRT(t, "User")
	r := projectBenchUser(t)
	none, err := user.ParseSelection("", "")
	if err != nil {
		t.Fatal(err)
	}
	if got := user.Project(r, none); reflect.ValueOf(got).UnsafePointer() != reflect.ValueOf(r).UnsafePointer() {
		t.Errorf("Project(user, no selection) is a copy, want the resource itself")
	}
	if n := testing.AllocsPerRun(100, func() { user.Project(r, none) }); n != 0 {
		t.Errorf("Project(user, no selection) allocates %v times, want 0", n)
	}

	exGroups, err := user.ParseSelection("", "groups")
	if err != nil {
		t.Fatal(err)
	}
	got := user.Project(r, exGroups)
	if _, ok := got["groups"]; ok || len(got) != len(r)-1 {
		t.Errorf("Project(user, excludedAttributes=groups) has keys %v, want those of the user but groups", slices.Sorted(maps.Keys(got)))
	}
	if reflect.ValueOf(got["emails"]).UnsafePointer() != reflect.ValueOf(r["emails"]).UnsafePointer() {
		t.Errorf("Project(user, excludedAttributes=groups) copied emails, want them shared")
	}
}
