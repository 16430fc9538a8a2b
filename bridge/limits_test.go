package bridge_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/scim-bridge/scim-bridge/schemas"
)

// A write whose event the log or the projection would not take is refused
// before anything is appended, so nothing accepted is ever skipped.
func TestBridge_RefusesWhatCannotBeStored(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	body := func(kv map[string]any) []byte {
		kv["schemas"] = []any{schemas.URNUser, schemas.URNEnterprise}
		b, err := json.Marshal(kv)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	chunk := func(c string) string { return strings.Repeat(c, schemas.MaxStringBytes) }
	ent := map[string]any{}
	for _, a := range []string{"employeeNumber", "costCenter", "organization", "division", "department"} {
		ent[a] = chunk("x")
	}
	big := map[string]any{"userName": "big", schemas.URNEnterprise: ent}
	for _, a := range []string{"nickName", "title", "displayName", "profileUrl", "locale", "timezone", "preferredLanguage", "userType", "password"} {
		big[a] = chunk("y")
	}
	big["name"] = map[string]any{"formatted": chunk("z"), "familyName": chunk("z"), "givenName": chunk("z"), "middleName": chunk("z")}
	// 17 strings of 64 KiB: each within its limit, together over an event.
	tests := []struct {
		name   string
		body   []byte
		detail string
	}{
		{"EventTooLarge", body(big), "its event would be"},
		// Five strings of 64 KiB of '<': a 330 KB event, but stored as
		// JSON that escapes '<' as \u003c, a 2 MB resource.
		{"StoredTooLarge", body(map[string]any{"userName": "lt", "nickName": chunk("<"), "title": chunk("<"),
			"displayName": chunk("<"), "profileUrl": chunk("<"), "locale": chunk("<")}), "too large to store"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := len(e.logEvents(t))
			_, err := e.b.Create(ctx, req, e.users, tt.body)
			if schemas.KindOf(err) != schemas.KindTooLarge || !strings.Contains(err.Error(), tt.detail) {
				t.Fatalf("Create() = %.300v, want KindTooLarge saying %q", err, tt.detail)
			}
			if got := len(e.logEvents(t)); got != before {
				t.Errorf("log has %d events after the refused write, want %d", got, before)
			}
		})
	}
	// A PATCH that grows a resource past the limit is refused too.
	if _, err := e.b.Create(ctx, req, e.users, userBody("grows")); err != nil {
		t.Fatalf("Create() = %v", err)
	}
	st, err := e.b.Create(ctx, req, e.users, body(map[string]any{"userName": "grows2", "nickName": chunk("<"), "title": chunk("<")}))
	if err != nil {
		t.Fatalf("Create() = %v", err)
	}
	id := st.Resource.ID()
	ops := `[{"op":"add","path":"displayName","value":"` + chunk("<") + `"},{"op":"add","path":"profileUrl","value":"` + chunk("<") + `"},` +
		`{"op":"add","path":"locale","value":"` + chunk("<") + `"}]`
	if _, err := e.b.Patch(ctx, req, e.users, id, patchBody(ops)); schemas.KindOf(err) != schemas.KindTooLarge {
		t.Errorf("Patch() growing the resource past the limit = %v, want KindTooLarge", err)
	}
}
