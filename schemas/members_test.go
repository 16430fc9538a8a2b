package schemas

import (
	"reflect"
	"testing"
)

// TestResourceType_SplitMembers: a POSTed group's members come out of the
// decoded body as PUT reads them, sorted by value without duplicates, and
// leave the resource.
func TestResourceType_SplitMembers(t *testing.T) {
	reg, err := NewRegistry()
	if err != nil {
		t.Fatal(err)
	}
	groups, _ := reg.ResourceType("Group")
	users, _ := reg.ResourceType("User")
	body := `{"schemas":["` + URNGroup + `"],"displayName":"Sales","members":[
		{"value":"c","type":"user","display":"Cy"},{"value":"a","type":"Group"},{"value":"b"},{"value":"a"}]}`
	r, err := groups.Decode([]byte(body))
	if err != nil {
		t.Fatalf("Decode: %v", err)
	}
	got, err := groups.SplitMembers(r)
	if err != nil {
		t.Fatalf("SplitMembers: %v", err)
	}
	want := []Member{{Value: "a", Type: "Group"}, {Value: "b", Type: "User"}, {Value: "c", Type: "User", Display: "Cy"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("SplitMembers = %+v, want %+v", got, want)
	}
	if _, ok := r["members"]; ok {
		t.Errorf("members left in the resource: %v", r["members"])
	}

	for _, tt := range []struct{ name, members, detail string }{
		{"UnknownType", `[{"value":"a","type":"Printer"}]`, `members[0]: member type "Printer" is not User or Group`},
		{"EmptyValue", `[{"value":"b"},{"value":""}]`, `members[1]: member has no value`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r, err := groups.Decode([]byte(`{"schemas":["` + URNGroup + `"],"displayName":"x","members":` + tt.members + `}`))
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			_, err = groups.SplitMembers(r)
			if e, ok := err.(*Error); !ok || e.Kind != KindInvalidValue || e.Detail != tt.detail {
				t.Errorf("SplitMembers = %v, want KindInvalidValue %q", err, tt.detail)
			}
		})
	}

	u := Resource{"userName": "a", "members": []any{"x"}}
	if ms, err := users.SplitMembers(u); ms != nil || err != nil || u["members"] == nil {
		t.Errorf("SplitMembers of a user = %v, %v and removed members; want nothing", ms, err)
	}
}
