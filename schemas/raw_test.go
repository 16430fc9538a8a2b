package schemas

import (
	"reflect"
	"testing"

	"github.com/scim-bridge/scim-bridge/schemas/scimjson"
)

// TestRawMembers checks RawMembers against Project: where it reports true,
// Project of the decoded JSON is the decoded resource and the members are
// the JSON's own, in order; JSON that scimjson.Append would not write (keys
// out of order or repeated) or that the projection changes gets false.
func TestRawMembers(t *testing.T) {
	rt := testUserType(t)
	tests := []struct {
		name, raw string
		want      bool
	}{
		{"empty", `{}`, true},
		{"core", `{"active":true,"emails":[{"type":"work","value":"a@b"}],"id":"1","name":{"givenName":"A"},"schemas":["x"],"userName":"a"}`, true},
		{"extension", `{"id":"1","` + urnTest + `":{"age":3,"tags":["a"]}}`, true},
		{"escaped key", `{"id":"1","user\u004eame":"a"}`, true},
		{"not an object", `["id"]`, false},
		{"null", `null`, false},
		{"trailing", `{"id":"1"} {}`, false},
		{"out of order", `{"userName":"a","id":"1"}`, false},
		{"repeated", `{"id":"1","id":"2"}`, false},
		{"password", `{"id":"1","password":"p"}`, false},
		{"unknown", `{"id":"1","shoeSize":9}`, false},
		{"spelling", `{"ID":"1"}`, false},
		{"extension spelling", `{"id":"1","` + urnTest + `":{"Age":3}}`, false},
		{"extension empty", `{"` + urnTest + `":{}}`, false},
		{"null value", `{"id":null}`, false},
		{"empty multi", `{"emails":[]}`, false},
		{"empty object value", `{"emails":[{}]}`, false},
		{"null element", `{"emails":[null]}`, false},
		{"unknown sub", `{"name":{"middle":"x"}}`, false},
		{"scalar complex", `{"name":"x"}`, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			members, ok := rt.RawMembers(nil, tt.raw, Selection{})
			if ok != tt.want {
				t.Fatalf("RawMembers(%s) ok = %v, want %v", tt.raw, ok, tt.want)
			}
			if !ok {
				return
			}
			m, err := scimjson.ParseObject([]byte(tt.raw))
			if err != nil {
				t.Fatalf("ParseObject() = %v", err)
			}
			if p := rt.Project(m, Selection{}); !reflect.DeepEqual(map[string]any(p), m) {
				t.Errorf("Project() = %v, want the resource as it is %v", p, m)
			}
			if len(members) != len(m) {
				t.Fatalf("members = %v, want the %d of %s", members, len(m), tt.raw)
			}
			for _, mb := range members {
				v, err := scimjson.ParseValue([]byte(mb.Value))
				if err != nil || !reflect.DeepEqual(v, m[mb.Key]) {
					t.Errorf("member %q = %s (%v), want %v", mb.Key, mb.Value, err, m[mb.Key])
				}
			}
		})
	}
	sel, err := rt.ParseSelection("userName", "")
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := rt.RawMembers(nil, `{"userName":"a"}`, sel); ok {
		t.Errorf("RawMembers() with an attributes list = true, want false (Project rebuilds)")
	}
	if sel, _ = rt.ParseSelection("", "userName"); !func() bool { _, ok := rt.RawMembers(nil, `{"id":"1"}`, sel); return ok }() {
		t.Errorf("RawMembers() excluding an absent attribute = false, want true")
	}
	if _, ok := rt.RawMembers(nil, `{"id":"1","userName":"a"}`, sel); ok {
		t.Errorf("RawMembers() excluding a present attribute = true, want false")
	}
}
