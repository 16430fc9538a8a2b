package schemas

import (
	"reflect"
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
