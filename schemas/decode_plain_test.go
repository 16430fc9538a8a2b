package schemas

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/scim-bridge/scim-bridge/schemas/scimjson"
)

// urnAcme is an extension of the differential tests' second registry:
// required, with a required attribute and one named as an enterprise
// attribute ("department", so that it resolves only with its URN).
const urnAcme = "urn:example:scim:schemas:extension:acme:2.0:User"

const acmeExt = `{"id":"` + urnAcme + `","name":"Acme","resourceType":"User","required":true,
 "attributes":[{"name":"badge","type":"string","required":true},{"name":"department","type":"string"},
  {"name":"level","type":"integer"},{"name":"hired","type":"dateTime"},{"name":"tags","type":"string","multiValued":true},
  {"name":"site","type":"complex","subAttributes":[{"name":"code","type":"string","required":true},{"name":"main","type":"boolean"}]}]}`

// plainBodies are bodies for the differential tests: what IdPs send, and
// every odd shape decodeMap handles (the plain decoders must give up on
// it, or get it right).
var plainBodies = []string{
	oktaUser,
	`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],"externalId":"alice","userName":"alice@contoso.com","active":true,"emails":[{"primary":true,"type":"work","value":"alice@contoso.com"}],"meta":{"resourceType":"User"},"name":{"formatted":"Alice Ng","familyName":"Ng","givenName":"Alice"},"roles":[]}`,
	`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"bench-1","name":{"givenName":"B","familyName":"One"},"emails":[{"value":"b1@example.com","type":"work","primary":true}],"active":true}`,
	// case-folded names, at the top, in complex values and in extensions
	`{"SCHEMAS":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"a"}`,
	`{"schemas":["URN:IETF:params:scim:schemas:core:2.0:user"],"USERNAME":"a","Name":{"GivenName":"A"},"Emails":[{"VALUE":"a@x","Primary":"True"}]}`,
	`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"a","URN:ietf:params:scim:schemas:extension:enterprise:2.0:USER":{"EmployeeNumber":"7","manager":{"Value":"m"}}}`,
	// duplicates after folding, and in two spellings
	`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"a","UserName":"b"}`,
	`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"a","name":{"givenName":"A","GivenName":"B"}}`,
	`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"a","name":{"givenName":"A"},"name.familyName":"B"}`,
	`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"a","name":{"givenName":"A"},"name.givenName":"B"}`,
	`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"a","emails":[{"value":"x"}],"emails.value":"y"}`,
	`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"a","employeeNumber":"1","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"employeeNumber":"2"}}`,
	`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"a","manager":{"value":"1"},"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"manager":{"displayName":"x"}}}`,
	`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"a","manager":{"value":"1"},"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"manager":{"value":"2"}}}`,
	`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"a","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber":"1","employeeNumber":"2"}`,
	// extension URNs as keys and as prefixes
	`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],"userName":"a","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber":"701","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value":"9"}`,
	`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"urn:ietf:params:scim:schemas:core:2.0:User:userName":"a","urn:ietf:params:scim:schemas:core:2.0:User:name.givenName":"A"}`,
	`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"a","urn:ietf:params:scim:schemas:core:2.0:User":{"displayName":"x"}}`,
	`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"a","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"schemas":["x"],"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:division":"d","costCenter.x":"1"}}`,
	`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"a","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":"x"}`,
	`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"a","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":null}`,
	`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"a","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{}}`,
	`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"a","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"manager":"123456","employeeNumber":null}}`,
	`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"a","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"manager":[{"value":"1"}]}}`,
	// unknown schemas and attributes
	`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User","urn:example:other"],"userName":"a"}`,
	`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User","urn:example:other"],"userName":"a","urn:example:other":{}}`,
	`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User","urn:example:other"],"userName":"a","urn:example:other":{"x":1}}`,
	`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"a","urn:example:other:x":1}`,
	`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"a","adreses":[{"x":1}],"name":{"givenName":"A","middle":"m"},"emails":[{"value":"a","foo":1},{"value":"b","bar":2}]}`,
	`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"a","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"unknownAttr":"x"}}`,
	`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"a","$ref":"x"}`,
	`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"a","na.me":"x"}`,
	// readOnly, writeOnly and $ref
	`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"a","id":"x","meta":{"created":"bad"},"groups":[{"value":"g"}],"password":"p"}`,
	`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"a","id":5,"password":5}`,
	`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"a","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"manager":{"value":"1","displayName":"ro","$ref":"../Users/1"}}}`,
	`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"a","meta.created":"x","name.$ref":"y"}`,
	// wrong types
	`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":5}`,
	`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"a","active":"yes","displayName":7}`,
	`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"a","emails":[{"value":"a","primary":"nope"}],"name":[{"givenName":"A"}]}`,
	`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"a","emails":[[{"value":"a"}]]}`,
	`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"a","emails":{"value":"a"},"phoneNumbers":"555"}`,
	`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"a","name":[{"givenName":"A"},{"givenName":"B"}]}`,
	`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"a","x509Certificates":[{"value":"!!"}],"photos":[{"value":5}]}`,
	`{"schemas":"urn:ietf:params:scim:schemas:core:2.0:User","userName":"a"}`,
	`{"schemas":[5],"userName":"a"}`,
	`{"schemas":[],"userName":"a"}`,
	`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"userName":"a","displayName":"g"}`,
	`{"userName":"a"}`,
	`[]`, `"x"`, `{`, `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"a"} x`,
	`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"a","name":{"givenName":"A"},"x":[1,}`,
	// nulls, empty values, blank required values
	`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"a","name":null,"emails":[],"addresses":[{}],"displayName":null,"name.givenName":null}`,
	`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"a","name":{"givenName":null},"emails":[null,{"value":"x"}]}`,
	`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"  "}`,
	`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":null}`,
	`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"displayName":"x"}`,
	`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"a","emails":[{"type":"work"}]}`,
	// booleans as strings, numbers, dates
	`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"a","active":"False","emails":[{"value":"a","primary":"TRUE"}]}`,
	`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"a","urn:example:scim:schemas:extension:acme:2.0:User":{"badge":"b","level":3,"hired":"2024-01-02T03:04:05+02:00","tags":["x","y"]}}`,
	`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"a","urn:example:scim:schemas:extension:acme:2.0:User":{"badge":"b","level":3.5}}`,
	`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"a","urn:example:scim:schemas:extension:acme:2.0:User":{"badge":"b","hired":"yesterday","tags":"x"}}`,
	`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"a","urn:example:scim:schemas:extension:acme:2.0:User":{"badge":"b","site":{"main":true}}}`,
	`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"a","urn:example:scim:schemas:extension:acme:2.0:User":{"badge":"b","site":{"code":"c","main":"true"},"department":"d"},"department":"e"}`,
	`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"a","urn:example:scim:schemas:extension:acme:2.0:User":{"site":{"code":"c"}}}`,
	`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"a","badge":"b","urn:example:scim:schemas:extension:acme:2.0:User":{"badge":"c"}}`,
	`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"a","badge":"b"}`,
	// multiple primaries
	`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"a","emails":[{"value":"a","primary":true},{"value":"b","primary":true}]}`,
	`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"a","emails":[{"value":"a","primary":true},{"value":"b","primary":"true"}],"phoneNumbers":[{"value":"1","primary":true},{"value":"2","primary":true}]}`,
	// over the limits
	`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"` + longString(MaxIndexedBytes+1) + `"}`,
	`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"a","emails":[{"value":"` + longString(MaxIndexedBytes+1) + `"}],"displayName":"` + longString(MaxStringBytes+1) + `"}`,
	`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"a","nickName":"` + longString(MaxIndexedBytes+1) + `","name":{"givenName":"` + longString(MaxIndexedBytes+1) + `"}}`,
	`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"a","emails":[` + repeatJSON(`{"value":"x"}`, MaxValues+1) + `]}`,
	`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"a","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"employeeNumber":"` + longString(MaxStringBytes+1) + `"}}`,
	// groups
	`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"g","members":[{"value":"u1","display":"U"},{"value":"u2","type":"Group"},"u3"]}`,
	`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"g","members":[{"display":"U"}]}`,
	`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group","http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"],"displayName":"g","externalId":"e","members":[]}`,
	`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"g","members":[{"value":"u1","$ref":"https://x/Users/u1"}]}`,
	`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"g","members":[` + repeatJSON(`{"value":"u"}`, MaxValues+1) + `]}`,
}

func longString(n int) string { return string(make([]byte, n)) }

func repeatJSON(el string, n int) string {
	b := []byte(el)
	for i := 1; i < n; i++ {
		b = append(b, ',')
		b = append(b, el...)
	}
	return string(b)
}

// diffTypes are the resource types the differential tests decode with:
// the model's User and Group, and a User with the acme extension.
func diffTypes(t testing.TB) []*ResourceType {
	reg := modelRegistry(t)
	acme, err := NewRegistry([]byte(acmeExt))
	if err != nil {
		t.Fatal(err)
	}
	user, _ := reg.ResourceType(User)
	group, _ := reg.ResourceType(Group)
	acmeUser, _ := acme.ResourceType(User)
	return []*ResourceType{user, group, acmeUser}
}

// checkPlainMatches checks that DecodeWith (the plain decoder, falling
// back to decodeMap) and decodeBody (decodeMap alone) make the same of
// body: resource, ignored names, error; with every kind of Unknowns. Of
// the resource and of the body's object it checks the same for Validate
// and decodeMap(…, true, nil).
func checkPlainMatches(t *testing.T, rt *ResourceType, body []byte) {
	t.Helper()
	for _, mode := range []string{"nil", "report", "strict"} {
		var gotU, wantU *Unknowns
		if mode != "nil" {
			gotU, wantU = &Unknowns{Strict: mode == "strict"}, &Unknowns{Strict: mode == "strict"}
		}
		got, gotErr := rt.DecodeWith(body, gotU)
		want, wantErr := rt.decodeBody(body, wantU)
		if !sameError(gotErr, wantErr) {
			t.Fatalf("%s.DecodeWith(%.200q, %s) error = %v, decodeMap's = %v", rt.Name, body, mode, gotErr, wantErr)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("%s.DecodeWith(%.200q, %s) =\n%#v\ndecodeMap's\n%#v", rt.Name, body, mode, got, want)
		}
		if gotU != nil && !reflect.DeepEqual(gotU.Ignored, wantU.Ignored) {
			t.Fatalf("%s.DecodeWith(%.200q, %s) ignored %v, decodeMap's %v", rt.Name, body, mode, gotU.Ignored, wantU.Ignored)
		}
		if got != nil {
			checkValidateMatches(t, rt, got)
		}
	}
	if m, err := scimjson.ParseObject(body); err == nil {
		checkValidateMatches(t, rt, m)
	}
}

func checkValidateMatches(t *testing.T, rt *ResourceType, r map[string]any) {
	t.Helper()
	before := fmt.Sprintf("%#v", r)
	gotErr := rt.Validate(r)
	if after := fmt.Sprintf("%#v", r); after != before {
		t.Fatalf("%s.Validate changed its input:\n%s\nto\n%s", rt.Name, before, after)
	}
	_, wantErr := rt.decodeMap(r, true, nil)
	if !sameError(gotErr, wantErr) {
		t.Fatalf("%s.Validate(%.300v) = %v, decodeMap's = %v", rt.Name, r, gotErr, wantErr)
	}
}

// sameError reports whether a and b are both nil or both *Error of one
// kind (so one scimType) and detail.
func sameError(a, b error) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	var ea, eb *Error
	if !errors.As(a, &ea) || !errors.As(b, &eb) {
		return false
	}
	return ea.Kind == eb.Kind && ea.ScimType() == eb.ScimType() && ea.Detail == eb.Detail && a.Error() == b.Error()
}

// TestDecodePlainMatchesDecodeMap checks the plain decoders against
// decodeMap over plainBodies and the decode goldens' bodies.
func TestDecodePlainMatchesDecodeMap(t *testing.T) {
	bodies := append([]string(nil), plainBodies...)
	files, _ := filepath.Glob("testdata/decode/*.json")
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		bodies = append(bodies, string(b))
	}
	for _, rt := range diffTypes(t) {
		for _, body := range bodies {
			checkPlainMatches(t, rt, []byte(body))
		}
	}
}

// TestDecodeStreamingTakesIdPBodies checks that the bodies identity
// providers send most, a user's POST from Okta and from Entra and the load
// generator's, take the plain path (a change that made them fall back
// would pass every other test and cost every POST twice the work).
func TestDecodeStreamingTakesIdPBodies(t *testing.T) {
	user := modelRT(t, User)
	for _, body := range plainBodies[:3] {
		if _, ok := user.decodeStreaming([]byte(body)); !ok {
			t.Errorf("decodeStreaming(%s) gave up", body)
		}
		r, err := user.Decode([]byte(body))
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := user.decodePlain(r, true); !ok {
			t.Errorf("decodePlain(Decode(%s), strict) gave up", body)
		}
	}
}

// FuzzDecodePlain checks the plain decoders against decodeMap on any
// body.
func FuzzDecodePlain(f *testing.F) {
	for _, b := range plainBodies {
		if len(b) < 4096 {
			f.Add([]byte(b))
		}
	}
	rts := diffTypes(f)
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, rt := range rts {
			checkPlainMatches(t, rt, body)
		}
	})
}
