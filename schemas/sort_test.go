package schemas

import (
	"bytes"
	"encoding/json"
	"testing"
)

// TestResourceType_SortKey checks that keys order resources as RFC 7644
// §3.4.2.3 asks: each case lists resources in ascending order.
func TestResourceType_SortKey(t *testing.T) {
	user := modelRT(t, "User")
	u := func(kv ...any) Resource {
		r := Resource{}
		for i := 0; i < len(kv); i += 2 {
			r[kv[i].(string)] = kv[i+1]
		}
		return r
	}
	tests := []struct {
		name string
		path AttrPath
		asc  []Resource
	}{
		{"CaseInsensitiveString", AttrPath{Name: "userName"}, []Resource{u("userName", "alice"), u("userName", "Bob"), u("userName", "carol"), u()}},
		{"CaseExactString", AttrPath{Name: "externalId"}, []Resource{u("externalId", "B"), u("externalId", "a")}},
		{"Boolean", AttrPath{Name: "active"}, []Resource{u("active", false), u("active", true), u()}},
		{"DateTimeInstant", AttrPath{Name: "meta", Sub: "lastModified"}, []Resource{
			u("meta", map[string]any{"lastModified": "2020-01-01T10:00:00+05:00"}),
			u("meta", map[string]any{"lastModified": "2020-01-01T06:00:00Z"}),
			u("meta", map[string]any{"lastModified": "2020-01-01T06:00:00.5Z"}),
			u("meta", map[string]any{}),
		}},
		{"PrimaryThenFirst", AttrPath{Name: "emails", Sub: "value"}, []Resource{
			u("emails", []any{map[string]any{"value": "z"}, map[string]any{"value": "a", "primary": true}}),
			u("emails", []any{map[string]any{"value": "m"}, map[string]any{"value": "b"}}),
			u("emails", []any{}),
		}},
		{"MultiValuedWithoutSubUsesValue", AttrPath{Name: "emails"}, []Resource{
			u("emails", []any{map[string]any{"value": "a"}}),
			u("emails", []any{map[string]any{"value": "B"}}),
		}},
		{"Extension", AttrPath{Name: "employeeNumber"}, []Resource{
			u(URNEnterprise, map[string]any{"employeeNumber": "1"}),
			u(URNEnterprise, map[string]any{"employeeNumber": "2"}),
			u(),
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for i := 1; i < len(tt.asc); i++ {
				a, b := user.SortKey(tt.asc[i-1], tt.path), user.SortKey(tt.asc[i], tt.path)
				if bytes.Compare(a, b) >= 0 {
					t.Errorf("SortKey(%v) = %x, not less than SortKey(%v) = %x", tt.asc[i-1], a, tt.asc[i], b)
				}
			}
		})
	}
}

func TestOrderedFloat(t *testing.T) {
	nums := []string{"-1e10", "-2.5", "-1", "0", "0.5", "1", "3", "1e10"}
	integer := &Attribute{Name: "n", Type: TypeInteger}
	for i := 1; i < len(nums); i++ {
		a := appendSortValue(integer, json.Number(nums[i-1]))
		b := appendSortValue(integer, json.Number(nums[i]))
		if bytes.Compare(a, b) >= 0 {
			t.Errorf("sort key of %s = %x, not less than that of %s = %x", nums[i-1], a, nums[i], b)
		}
	}
}
