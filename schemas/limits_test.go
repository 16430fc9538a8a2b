package schemas

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
)

func limitsBody(kv map[string]any) []byte {
	if _, ok := kv["schemas"]; !ok {
		kv["schemas"] = []any{URNUser}
	}
	b, err := json.Marshal(kv)
	if err != nil {
		panic(err)
	}
	return b
}

func values(n int, mk func(i int) any) []any {
	out := make([]any, n)
	for i := range out {
		out[i] = mk(i)
	}
	return out
}

// Over every limit, Decode (POST, PUT) answers invalidValue naming the
// attribute and the limit; at the limit it accepts.
func TestResourceType_DecodeLimits(t *testing.T) {
	long := func(n int) string { return strings.Repeat("é", n/2) + strings.Repeat("a", n%2) } // n bytes
	email := func(i int) any { return map[string]any{"value": fmt.Sprintf("u%d@example.com", i)} }
	tests := []struct {
		name     string
		rt       string
		body     map[string]any
		attr     string // "" when accepted
		limitStr string
	}{
		{"UserNameAtLimit", "User", map[string]any{"userName": long(MaxIndexedBytes)}, "", ""},
		{"UserNameOverLimit", "User", map[string]any{"userName": long(MaxIndexedBytes + 1)}, "userName", "1024"},
		{"UserNameEmpty", "User", map[string]any{"userName": ""}, "userName", "blank"},
		{"UserNameBlank", "User", map[string]any{"userName": " \t\u00a0 "}, "userName", "blank"},
		{"UserExternalIDOverLimit", "User", map[string]any{"userName": "a", "externalId": long(MaxIndexedBytes + 1)}, "externalId", "1024"},
		{"EmailValueOverLimit", "User", map[string]any{"userName": "a", "emails": []any{email(0), map[string]any{"value": long(MaxIndexedBytes + 1)}}}, "emails[1].value", "1024"},
		{"EmailsAtLimit", "User", map[string]any{"userName": "a", "emails": values(MaxValues, email)}, "", ""},
		{"EmailsOverLimit", "User", map[string]any{"userName": "a", "emails": values(MaxValues+1, email)}, "emails", "256"},
		{"PhoneNumbersOverLimit", "User", map[string]any{"userName": "a", "phoneNumbers": values(MaxValues+1, func(i int) any { return map[string]any{"value": fmt.Sprint(i)} })}, "phoneNumbers", "256"},
		{"StringAtLimit", "User", map[string]any{"userName": "a", "nickName": long(MaxStringBytes)}, "", ""},
		{"StringOverLimit", "User", map[string]any{"userName": "a", "nickName": long(MaxStringBytes + 1)}, "nickName", "65536"},
		{"SubAttributeOverLimit", "User", map[string]any{"userName": "a", "name": map[string]any{"formatted": long(MaxStringBytes + 1)}}, "name.formatted", "65536"},
		{"ExtensionOverLimit", "User", map[string]any{"userName": "a", URNEnterprise: map[string]any{"employeeNumber": long(MaxStringBytes + 1)}}, URNEnterprise + ":employeeNumber", "65536"},
		{"GroupDisplayNameOverLimit", "Group", map[string]any{"schemas": []any{URNGroup}, "displayName": long(MaxIndexedBytes + 1)}, "displayName", "1024"},
		{"GroupDisplayNameBlank", "Group", map[string]any{"schemas": []any{URNGroup}, "displayName": "  "}, "displayName", "blank"},
		{"GroupExternalIDOverLimit", "Group", map[string]any{"schemas": []any{URNGroup}, "displayName": "g", "externalId": long(MaxIndexedBytes + 1)}, "externalId", "1024"},
		{"MemberValueOverLimit", "Group", map[string]any{"schemas": []any{URNGroup}, "displayName": "g", "members": []any{map[string]any{"value": long(MaxIndexedBytes + 1)}}}, "members[0].value", "1024"},
		{"MemberDisplayOverLimit", "Group", map[string]any{"schemas": []any{URNGroup}, "displayName": "g", "members": []any{map[string]any{"value": "u1", "display": long(MaxStringBytes + 1)}}}, "members[0].display", "65536"},
		{"ManyMembers", "Group", map[string]any{"schemas": []any{URNGroup}, "displayName": "g", "members": values(MaxValues+1, func(i int) any { return map[string]any{"value": fmt.Sprint(i)} })}, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rt := modelRT(t, tt.rt)
			_, err := rt.Decode(limitsBody(tt.body))
			checkLimitError(t, "Decode", err, tt.attr, tt.limitStr)
		})
	}
}

func checkLimitError(t *testing.T, call string, err error, attr, limit string) {
	t.Helper()
	if attr == "" {
		if err != nil {
			t.Errorf("%s() = %v, want it accepted", call, err)
		}
		return
	}
	var e *Error
	if !errors.As(err, &e) || e.Kind != KindInvalidValue {
		t.Fatalf("%s() = %v, want KindInvalidValue", call, err)
	}
	if !strings.Contains(e.Detail, fmt.Sprintf("%q", attr)) || !strings.Contains(e.Detail, limit) {
		t.Errorf("%s() detail = %q, want it to name %q and %q", call, e.Detail, attr, limit)
	}
	if len(e.Detail) > 300 {
		t.Errorf("%s() detail is %d bytes long, want no value in it", call, len(e.Detail))
	}
}

// The result of a PATCH is held to the same limits, and so are the
// members it adds.
func TestResourceType_ApplyPatchLimits(t *testing.T) {
	long := strings.Repeat("x", MaxIndexedBytes+1)
	tests := []struct {
		name, rt, ops, attr, limit string
	}{
		{"UserName", "User", `[{"op":"replace","path":"userName","value":"` + long + `"}]`, "userName", "1024"},
		{"UserNameBlank", "User", `[{"op":"replace","value":{"userName":"  "}}]`, "userName", "blank"},
		{"EmailAdded", "User", `[{"op":"add","path":"emails[type eq \"home\"].value","value":"` + long + `"}]`, "emails[1].value", "1024"},
		{"ExternalID", "User", `[{"op":"add","path":"externalId","value":"` + long + `"}]`, "externalId", "1024"},
		{"DisplayName", "Group", `[{"op":"replace","path":"displayName","value":"` + long + `"}]`, "displayName", "1024"},
		{"MemberDisplay", "Group", `[{"op":"add","path":"members","value":[{"value":"u9","display":"` + strings.Repeat("x", MaxStringBytes+1) + `"}]}]`, "members[0].display", "65536"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rt, start := ptType(t, "User"), ptUser
			if tt.rt == "Group" {
				rt, start = ptType(t, "Group"), ptGroup
			}
			p, err := ParsePatch([]byte(`{"Operations":`+tt.ops+`}`), 0)
			if err != nil {
				t.Fatalf("ParsePatch: %v", err)
			}
			_, _, err = rt.ApplyPatch(Resource(ptDecode(t, start).(map[string]any)), ptNewMembers(), p)
			checkLimitError(t, "ApplyPatch", err, tt.attr, tt.limit)
		})
	}
	// A PATCH adding more emails than MaxValues.
	var ops []string
	for i := range MaxValues + 1 {
		ops = append(ops, fmt.Sprintf(`{"op":"add","path":"emails","value":[{"value":"u%d@example.com"}]}`, i))
	}
	p, err := ParsePatch([]byte(`{"Operations":[`+strings.Join(ops, ",")+`]}`), 0)
	if err != nil {
		t.Fatalf("ParsePatch: %v", err)
	}
	_, _, err = ptType(t, "User").ApplyPatch(Resource(ptDecode(t, ptUser).(map[string]any)), nil, p)
	checkLimitError(t, "ApplyPatch(257 emails)", err, "emails", "256")
}

// CheckLimits answers from fitsLimits, which builds no paths, when that
// passes the resource: it must pass exactly what checkLimits passes (it may
// leave to checkLimits what is nested deeper than a sub-attribute).
func TestResourceType_FitsLimitsMatchesCheck(t *testing.T) {
	reg, err := NewRegistry()
	if err != nil {
		t.Fatal(err)
	}
	str := func(n int) string { return strings.Repeat("a", n) }
	email := func(i int) any { return map[string]any{"value": fmt.Sprintf("u%d@example.com", i)} }
	member := func(i int) any { return map[string]any{"value": fmt.Sprintf("u%d", i)} }
	cases := []struct {
		rt   string
		r    Resource
		deep bool // nested deeper than a sub-attribute: fitsLimits may defer
	}{
		{User, Resource{"userName": str(MaxIndexedBytes)}, false},
		{User, Resource{"userName": str(MaxIndexedBytes + 1)}, false},
		{User, Resource{"USERNAME": str(MaxIndexedBytes + 1)}, false},
		{User, Resource{"displayName": str(MaxIndexedBytes + 1)}, false},
		{User, Resource{"displayName": str(MaxStringBytes)}, false},
		{User, Resource{"displayName": str(MaxStringBytes + 1)}, false},
		{User, Resource{"nickName": json.Number(str(MaxStringBytes + 1))}, false},
		{User, Resource{"emails": []any{map[string]any{"value": str(MaxIndexedBytes)}}}, false},
		{User, Resource{"emails": []any{map[string]any{"value": str(MaxIndexedBytes + 1)}}}, false},
		{User, Resource{"emails": []any{map[string]any{"Value": str(MaxIndexedBytes + 1)}}}, false},
		{User, Resource{"emails": []any{map[string]any{"display": str(MaxIndexedBytes + 1)}}}, false},
		{User, Resource{"emails": values(MaxValues, email)}, false},
		{User, Resource{"emails": values(MaxValues+1, email)}, false},
		{User, Resource{"name": map[string]any{"givenName": str(MaxStringBytes + 1)}}, false},
		{User, Resource{"externalId": str(MaxIndexedBytes + 1)}, false},
		{User, Resource{URNEnterprise: map[string]any{"employeeNumber": str(MaxIndexedBytes + 1)}}, false},
		{User, Resource{URNEnterprise: map[string]any{"employeeNumber": str(MaxStringBytes + 1)}}, false},
		{User, Resource{URNEnterprise: map[string]any{"manager": map[string]any{"value": str(MaxStringBytes + 1)}}}, false},
		{User, Resource{URNEnterprise: map[string]any{"manager": map[string]any{"value": str(MaxIndexedBytes + 1)}}}, false},
		{User, Resource{"x": map[string]any{"y": map[string]any{"z": str(MaxIndexedBytes + 1)}}}, true},
		{User, Resource{"members": values(MaxValues+1, member)}, false},
		{Group, Resource{"members": values(MaxValues+1, member)}, false},
		{Group, Resource{"members": []any{map[string]any{"value": str(MaxIndexedBytes + 1)}}}, false},
		{Group, Resource{"displayName": str(MaxIndexedBytes + 1)}, false},
		{Group, Resource{"userName": str(MaxIndexedBytes + 1)}, false},
	}
	for i, c := range cases {
		rt, _ := reg.ResourceType(c.rt)
		fits, err := rt.fitsLimits(c.r), rt.checkLimits(c.r)
		if fits && err != nil || !fits && err == nil && !c.deep {
			t.Errorf("case %d (%s): fitsLimits = %v, checkLimits = %v", i, c.rt, fits, err)
		}
		if got := rt.CheckLimits(c.r); fmt.Sprint(got) != fmt.Sprint(err) {
			t.Errorf("case %d (%s): CheckLimits = %v, want %v", i, c.rt, got, err)
		}
	}
}
