package schemas

import "testing"

func TestResourceType_Lookup(t *testing.T) {
	user := modelRT(t, "User")
	group := modelRT(t, "Group")
	tests := []struct {
		name string
		rt   *ResourceType
		in   AttrPath
		want AttrPath
		ok   bool
	}{
		{"RFC7643_2.1_CaseInsensitive", user, AttrPath{Name: "USERNAME"}, AttrPath{Name: "userName"}, true},
		{"RFC7644_3.10_SubAttribute", user, AttrPath{Name: "name", Sub: "FamilyName"}, AttrPath{Name: "name", Sub: "familyName"}, true},
		{"RFC7643_3.1_Common", user, AttrPath{Name: "Meta", Sub: "lastmodified"}, AttrPath{Name: "meta", Sub: "lastModified"}, true},
		{"RFC7644_3.10_CoreURN", user, AttrPath{URN: "urn:ietf:params:scim:schemas:core:2.0:user", Name: "userName"}, AttrPath{Name: "userName"}, true},
		{"RFC7644_3.10_ExtensionURN", user, AttrPath{URN: URNEnterprise, Name: "employeeNumber"}, AttrPath{URN: URNEnterprise, Name: "employeeNumber"}, true},
		{"ExtensionWithoutURN", user, AttrPath{Name: "manager", Sub: "value"}, AttrPath{URN: URNEnterprise, Name: "manager", Sub: "value"}, true},
		{"Q5_URNInName", user, AttrPath{Name: "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber"}, AttrPath{URN: URNEnterprise, Name: "employeeNumber"}, true},
		{"Q5_DottedName", user, AttrPath{Name: "name.givenName"}, AttrPath{Name: "name", Sub: "givenName"}, true},
		{"GroupMembers", group, AttrPath{Name: "members", Sub: "value"}, AttrPath{Name: "members", Sub: "value"}, true},
		{"Unknown", user, AttrPath{Name: "nope"}, AttrPath{}, false},
		{"UnknownSub", user, AttrPath{Name: "name", Sub: "nope"}, AttrPath{}, false},
		{"SubOfSimple", user, AttrPath{Name: "userName", Sub: "value"}, AttrPath{}, false},
		{"WrongResourceType", group, AttrPath{Name: "userName"}, AttrPath{}, false},
		{"CoreAttrUnderExtensionURN", user, AttrPath{URN: URNEnterprise, Name: "userName"}, AttrPath{}, false},
		{"UnknownURN", user, AttrPath{URN: "urn:x", Name: "userName"}, AttrPath{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, got, ok := tt.rt.Lookup(tt.in)
			if ok != tt.ok || got != tt.want {
				t.Fatalf("Lookup(%+v) = %+v, %v; want %+v, %v", tt.in, got, ok, tt.want, tt.ok)
			}
			if ok {
				name := got.Name
				if got.Sub != "" {
					name = got.Sub
				}
				if a.Name != name {
					t.Errorf("Lookup(%+v) attribute = %q, want %q", tt.in, a.Name, name)
				}
			}
		})
	}
}

func TestResourceType_Lookup_NoAlloc(t *testing.T) {
	user := modelRT(t, "User")
	p := AttrPath{URN: "urn:ietf:params:scim:schemas:extension:enterprise:2.0:USER", Name: "Manager", Sub: "Value"}
	if got := testing.AllocsPerRun(100, func() { user.Lookup(p) }); got != 0 {
		t.Errorf("Lookup(%+v) allocates %v times per call, want 0", p, got)
	}
}

func BenchmarkLookup(b *testing.B) {
	user := modelRT(b, "User")
	paths := []AttrPath{
		{Name: "userName"},
		{Name: "Emails", Sub: "Value"},
		{URN: URNEnterprise, Name: "manager", Sub: "value"},
		{Name: "meta", Sub: "lastModified"},
	}
	b.ReportAllocs()
	for b.Loop() {
		for _, p := range paths {
			if _, _, ok := user.Lookup(p); !ok {
				b.Fatal(p)
			}
		}
	}
}
