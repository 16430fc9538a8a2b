package schemas

import (
	"encoding/json"
	"reflect"
	"testing"
)

func TestCoerceValue(t *testing.T) {
	user := modelRT(t, "User")
	attr := func(name, sub string) *Attribute {
		a, _, ok := user.Lookup(AttrPath{Name: name, Sub: sub})
		if !ok {
			t.Fatalf("Lookup(%s.%s) not found", name, sub)
		}
		return a
	}
	decimal := &Attribute{Name: "d", Type: TypeDecimal}
	integer := &Attribute{Name: "i", Type: TypeInteger}
	dt := &Attribute{Name: "t", Type: TypeDateTime}
	tests := []struct {
		name   string // RFC 7643 section
		a      *Attribute
		in     any
		single bool
		want   any
		kind   Kind // KindOther means no error
	}{
		{"2.5_Null", attr("userName", ""), nil, false, nil, KindOther},
		{"2.3.1_String", attr("userName", ""), "a", false, "a", KindOther},
		{"2.3.1_NotString", attr("userName", ""), json.Number("1"), false, nil, KindInvalidValue},
		{"2.3.2_Bool", attr("active", ""), true, false, true, KindOther},
		{"2.3.2_BoolString", attr("active", ""), "False", false, false, KindOther},
		{"2.3.2_BoolBad", attr("active", ""), "no", false, nil, KindInvalidValue},
		{"2.3.3_Decimal", decimal, json.Number("1.5e3"), false, json.Number("1.5e3"), KindOther},
		{"2.3.3_DecimalString", decimal, "1.5", false, nil, KindInvalidValue},
		{"2.3.4_Integer", integer, json.Number("-42"), false, json.Number("-42"), KindOther},
		{"2.3.4_IntegerFraction", integer, json.Number("4.2"), false, nil, KindInvalidValue},
		{"2.3.5_DateTimeUTC", dt, "2019-09-18T20:15:26.5+02:00", false, "2019-09-18T18:15:26.5Z", KindOther},
		{"2.3.5_DateTimeNoOffset", dt, "2019-09-18T18:15:26", false, "2019-09-18T18:15:26Z", KindOther},
		{"2.3.5_DateTimeBad", dt, "yesterday", false, nil, KindInvalidValue},
		{"2.3.6_Binary", attr("x509Certificates", "value"), "TUlJ", false, "TUlJ", KindOther},
		{"2.3.6_BinaryBad", attr("x509Certificates", "value"), "TUl", false, nil, KindInvalidValue},
		{"2.3.8_ComplexCanonicalNames", attr("name", ""), map[string]any{"GIVENNAME": "a", "x": "dropped"}, false, map[string]any{"givenName": "a"}, KindOther},
		{"2.3.8_ComplexAllNull", attr("name", ""), map[string]any{"givenName": nil}, false, nil, KindOther},
		{"2.4_SingleBecomesArray", attr("emails", ""), map[string]any{"value": "a"}, false, []any{map[string]any{"value": "a"}}, KindOther},
		{"2.4_SingleKeepsElement", attr("emails", ""), map[string]any{"value": "a"}, true, map[string]any{"value": "a"}, KindOther},
		{"2.4_EmptyArray", attr("emails", ""), []any{}, false, nil, KindOther},
		{"2.4_OnePrimary", attr("emails", ""), []any{map[string]any{"value": "a", "primary": true}, map[string]any{"value": "b", "primary": "true"}}, false,
			[]any{map[string]any{"value": "a", "primary": true}, map[string]any{"value": "b", "primary": false}}, KindOther},
		{"4.3_ManagerString", attr("manager", ""), "271", false, map[string]any{"value": "271"}, KindOther},
		{"4.3_ManagerArray", attr("manager", ""), []any{map[string]any{"value": "271", "$ref": "x"}}, false, map[string]any{"value": "271"}, KindOther},
		{"4.3_ManagerArrayOfTwo", attr("manager", ""), []any{"1", "2"}, false, nil, KindInvalidValue},
		{"2.3.8_ComplexNumber", attr("name", ""), json.Number("1"), false, nil, KindInvalidValue},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := coerceValue(tt.a, tt.in, tt.a.Name, tt.single, nil)
			if tt.kind != KindOther {
				if KindOf(err) != tt.kind {
					t.Fatalf("coerceValue(%s, %v) = %v, %v; want kind %v", tt.a.Name, tt.in, got, err, tt.kind)
				}
				return
			}
			if err != nil {
				t.Fatalf("coerceValue(%s, %v) error: %v", tt.a.Name, tt.in, err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("coerceValue(%s, %v) = %#v, want %#v", tt.a.Name, tt.in, got, tt.want)
			}
		})
	}
}
