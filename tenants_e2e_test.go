package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/scim-bridge/scim-bridge/scimhttp/tenants"
)

func writeTenants(t *testing.T, path string, ts ...tenants.Tenant) {
	t.Helper()
	raw, err := json.Marshal(map[string]any{"tenants": ts})
	if err != nil {
		t.Fatal(err)
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil { // atomic, like a Secret update
		t.Fatal(err)
	}
}

func newToken(t *testing.T) (token, hash string) {
	t.Helper()
	token, hash, err := tenants.NewToken()
	if err != nil {
		t.Fatal(err)
	}
	return token, hash
}

// TestRun_Tenants proves over HTTP that tenants are isolated — ids, lists,
// filters, totals, uniqueness and memberships are per tenant — and that
// rate limits and token rotation by reloading the tenants file work.
func TestRun_Tenants(t *testing.T) {
	acme, acmeHash := newToken(t)
	globex, globexHash := newToken(t)
	slow, slowHash := newToken(t)
	file := filepath.Join(t.TempDir(), "tenants.json")
	writeTenants(t, file,
		tenants.Tenant{Name: "acme", Tokens: []string{acmeHash}},
		tenants.Tenant{Name: "globex", Tokens: []string{globexHash}, Strict: true},
		tenants.Tenant{Name: "slow", Tokens: []string{slowHash}, RateLimit: tenants.RateLimit{RequestsPerSecond: 0.001, Burst: 1}},
	)
	s := startService(t, map[string]string{"SCIM_TOKEN": "", "SCIM_TENANTS_FILE": file})
	as := func(token string) []string { return []string{"Authorization", "Bearer " + token} }
	user := `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"alice@example.com","externalId":"x1"}`

	a := s.must(201, s.do("POST", "/Users", user, as(acme)...))
	g := s.must(201, s.do("POST", "/Users", user, as(globex)...)) // same userName, other tenant: fine
	aID, gID := str(a.Body["id"]), str(g.Body["id"])
	s.must(409, s.do("POST", "/Users", user, as(acme)...))

	for _, c := range []struct{ token, own, other string }{{acme, aID, gID}, {globex, gID, aID}} {
		s.must(200, s.do("GET", "/Users/"+c.own, nil, as(c.token)...))
		s.must(404, s.do("GET", "/Users/"+c.other, nil, as(c.token)...))
		s.must(404, s.do("PATCH", "/Users/"+c.other, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","path":"active","value":false}]}`, as(c.token)...))
		s.must(404, s.do("DELETE", "/Users/"+c.other, nil, as(c.token)...))
		for _, path := range []string{"/Users", "/Users?filter=" + q(`externalId eq "x1"`), "/Users?filter=" + q(`userName eq "alice@example.com"`)} {
			r := s.must(200, s.do("GET", path, nil, as(c.token)...))
			res, _ := r.Body["Resources"].([]any)
			if r.Body["totalResults"] != float64(1) || len(res) != 1 || res[0].(map[string]any)["id"] != c.own {
				t.Errorf("GET %s as one tenant = %s, want only its own user %s", path, r.Raw, c.own)
			}
		}
	}
	// A group cannot take another tenant's user as a member: acme skips
	// the id as one it does not know; globex, strict, refuses the PATCH.
	addMember := func(id string) string {
		return `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"add","path":"members","value":[{"value":"` + id + `"}]}]}`
	}
	grp := s.must(201, s.do("POST", "/Groups", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"G"}`, as(acme)...))
	s.must(204, s.do("PATCH", "/Groups/"+str(grp.Body["id"]), addMember(gID), as(acme)...))
	if r := s.must(200, s.do("GET", "/Groups/"+str(grp.Body["id"]), nil, as(acme)...)); r.Body["members"] != nil {
		t.Errorf("acme's group after adding globex's user = %s, want no members", r.Raw)
	}
	ggrp := s.must(201, s.do("POST", "/Groups", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"G"}`, as(globex)...))
	r := s.do("PATCH", "/Groups/"+str(ggrp.Body["id"]), addMember(aID), as(globex)...)
	if r.Status != 400 || r.Body["scimType"] != "invalidValue" {
		t.Errorf("adding another tenant's user, strict = %d %s, want 400 invalidValue", r.Status, r.Raw)
	}
	// An attribute the schema does not define: ignored for acme, 400 for
	// strict globex (in a path-less PATCH as in a POST).
	custom := `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","value":{"nickName":"Al","urn:ietf:params:scim:schemas:extension:CustomExt:2.0:User:costCode":"C"}}]}`
	if r := s.must(200, s.do("PATCH", "/Users/"+aID, custom, as(acme)...)); r.Body["nickName"] != "Al" {
		t.Errorf("PATCH with an unknown attribute as acme = %s, want nickName set", r.Raw)
	}
	if r := s.do("PATCH", "/Users/"+gID, custom, as(globex)...); r.Status != 400 || r.Body["scimType"] != "invalidValue" {
		t.Errorf("PATCH with an unknown attribute, strict = %d %s, want 400 invalidValue", r.Status, r.Raw)
	}
	if r := s.do("POST", "/Users", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"x@example.com","nickname2":"x"}`, as(globex)...); r.Status != 400 || r.Body["scimType"] != "invalidValue" {
		t.Errorf("POST with an unknown attribute, strict = %d %s, want 400 invalidValue", r.Status, r.Raw)
	}
	s.must(401, s.do("GET", "/Users", nil))

	// Rate limit: the first request passes, the next is 429 with Retry-After.
	s.must(200, s.do("GET", "/Users", nil, as(slow)...))
	r = s.do("GET", "/Users", nil, as(slow)...)
	if r.Status != 429 || r.Header.Get("Retry-After") == "" || r.Body["status"] != "429" {
		t.Errorf("over the rate limit = %d (Retry-After %q) %s, want 429 with Retry-After", r.Status, r.Header.Get("Retry-After"), r.Raw)
	}
	s.must(200, s.do("GET", "/Users", nil, as(acme)...)) // other tenants are not limited

	// Rotation: add a second token for acme, then drop the first.
	acme2, acme2Hash := newToken(t)
	writeTenants(t, file, tenants.Tenant{Name: "acme", Tokens: []string{acmeHash, acme2Hash}}, tenants.Tenant{Name: "globex", Tokens: []string{globexHash}})
	waitStatus(t, s, acme2, 200)
	s.must(200, s.do("GET", "/Users/"+aID, nil, as(acme2)...))
	s.must(200, s.do("GET", "/Users/"+aID, nil, as(acme)...))
	// A broken file is refused and the previous table kept.
	if err := os.WriteFile(file, []byte(`{"tenants":[{"name":"Bad/Name"}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	writeTenants(t, file, tenants.Tenant{Name: "acme", Tokens: []string{acme2Hash}}, tenants.Tenant{Name: "globex", Tokens: []string{globexHash}})
	waitStatus(t, s, acme, 401)
	s.must(200, s.do("GET", "/Users/"+aID, nil, as(acme2)...))
}

// waitStatus polls until a GET /Users with token answers want (the tenants
// file is reloaded every few seconds).
func waitStatus(t *testing.T, s *service, token string, want int) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		if r := s.do("GET", "/Users?count=0", nil, "Authorization", "Bearer "+token); r.Status == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET with the token did not answer %d within 30s of the tenants file changing", want)
		}
		time.Sleep(100 * time.Millisecond) // polling a condition
	}
}

// TestRun_TenantsFileRefused: serve does not start on a tenants file with a
// misspelt key or a tenant without tokens, and says which.
func TestRun_TenantsFileRefused(t *testing.T) {
	_, hash := newToken(t)
	for name, tc := range map[string]struct{ file, want string }{
		"Typo":     {`{"tenants":[{"name":"acme","tokens":["` + hash + `"],"ratelimit":{"requestsPerSecond":1}}]}`, `"ratelimit"`},
		"NoTokens": {`{"tenants":[{"name":"acme","tokens":[]}]}`, "no tokens"},
	} {
		t.Run(name, func(t *testing.T) {
			file := filepath.Join(t.TempDir(), "tenants.json")
			if err := os.WriteFile(file, []byte(tc.file), 0o600); err != nil {
				t.Fatal(err)
			}
			env := map[string]string{"SCIM_LISTEN": "127.0.0.1:0", "SCIM_DATA_DIR": t.TempDir(), "SCIM_TENANTS_FILE": file}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			started, done := make(chan string, 1), make(chan error, 1)
			go func() {
				done <- run(ctx, []string{"serve"}, func(k string) string { return env[k] }, io.Discard, io.Discard, started)
			}()
			var err error
			select {
			case err = <-done:
			case <-started:
				cancel()
				<-done
				t.Fatal("run(serve) started with the file")
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), `"acme"`) {
				t.Fatalf("run(serve) = %v, want an error naming %s and the tenant", err, tc.want)
			}
		})
	}
}

func TestRun_TokenNew(t *testing.T) {
	var out bytes.Buffer
	if err := run(context.Background(), []string{"token", "new", "--tenant", "acme"}, func(string) string { return "" }, &out, io.Discard, nil); err != nil {
		t.Fatalf("token new: %v", err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 4 {
		t.Fatalf("token new printed %q, want 4 lines", out.String())
	}
	token := strings.TrimSpace(lines[1])
	var entry tenants.Tenant
	if err := json.Unmarshal([]byte(strings.TrimSpace(lines[3])), &entry); err != nil {
		t.Fatalf("entry line %q: %v", lines[3], err)
	}
	if entry.Name != "acme" || len(entry.Tokens) != 1 || entry.Tokens[0] != tenants.HashToken(token) {
		t.Errorf("entry %+v does not hold the hash of token %q", entry, token)
	}
	if err := run(context.Background(), []string{"token", "new", "--tenant", "Not/OK"}, func(string) string { return "" }, io.Discard, io.Discard, nil); err == nil {
		t.Error("token new with a bad tenant name succeeded")
	}
}
