package schemas

import "testing"

func TestResourceType_Validate(t *testing.T) {
	user := modelRT(t, "User")
	ok := func() Resource {
		return Resource{"schemas": []any{URNUser}, "id": "1", "userName": "a",
			"emails": []any{map[string]any{"value": "a", "primary": true}}}
	}
	with := func(k string, v any) Resource { r := ok(); r[k] = v; return r }
	without := func(k string) Resource { r := ok(); delete(r, k); return r }
	tests := []struct {
		name string
		r    Resource
		kind Kind // KindOther means valid
	}{
		{"Valid", ok(), KindOther},
		{"RFC7643_4.1.1_RequiredUserName", without("userName"), KindInvalidValue},
		{"RFC7643_3_Schemas", without("schemas"), KindInvalidValue},
		{"RFC7643_2.3.2_Type", with("active", "maybe"), KindInvalidValue},
		{"RFC7643_2.4_TwoPrimaries", with("emails", []any{map[string]any{"value": "a", "primary": true}, map[string]any{"value": "b", "primary": true}}), KindInvalidValue},
		{"RFC7643_3.1_MetaNotStored", with("meta", map[string]any{"version": "W/\"1\""}), KindMutability},
		{"RFC7643_4.1.1_PasswordNotStored", with("password", "x"), KindInvalidValue},
		{"UnknownAttribute", with("nope", "x"), KindInvalidValue},
		{"Extension", with(URNEnterprise, map[string]any{"manager": map[string]any{"value": "7"}}), KindOther},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := user.Validate(tt.r)
			if got := KindOf(err); tt.kind == KindOther && err != nil || tt.kind != KindOther && got != tt.kind {
				t.Errorf("Validate(%v) = %v (kind %v), want kind %v", tt.r, err, got, tt.kind)
			}
		})
	}
}
