package tenants

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
)

// hashOf is HashToken, named for what the tests use it for.
func hashOf(token string) string { return HashToken(token) }

func TestParse_Good(t *testing.T) {
	// The second acme hash has upper-case hex, which is accepted.
	upper := "sha256:" + strings.ToUpper(strings.TrimPrefix(hashOf("acme-new"), "sha256:"))
	file := fmt.Sprintf(`{"tenants":[
		{"name":"acme","tokens":[%q,%q],"rateLimit":{"requestsPerSecond":50,"burst":100},"audit":true,"strict":true},
		{"name":"globex-2","tokens":[%q]},
		{"name":"idle","tokens":[%q]},
		{"name":"rounded","tokens":[%q],"rateLimit":{"requestsPerSecond":2.5}}
	]}`, hashOf("acme-old"), upper, hashOf("globex"), hashOf("idle"), hashOf("rounded"))

	tbl, err := Parse([]byte(file))
	if err != nil {
		t.Fatalf("Parse() = %v", err)
	}
	t.Run("Authenticate", func(t *testing.T) {
		tests := []struct {
			token, wantTenant string
			wantOK            bool
		}{
			{"acme-old", "acme", true},
			{"acme-new", "acme", true},
			{"globex", "globex-2", true},
			{"nope", "", false},
			{"", "", false},
			{hashOf("acme-old"), "", false}, // the hash is not a token
		}
		for _, tt := range tests {
			got, ok := tbl.Authenticate(tt.token)
			if got != tt.wantTenant || ok != tt.wantOK {
				t.Errorf("Authenticate(%q) = %q, %v, want %q, %v", tt.token, got, ok, tt.wantTenant, tt.wantOK)
			}
		}
	})
	t.Run("Tenant", func(t *testing.T) {
		got, ok := tbl.Tenant("acme")
		want := Tenant{Name: "acme", Tokens: []string{hashOf("acme-old"), hashOf("acme-new")},
			RateLimit: RateLimit{RequestsPerSecond: 50, Burst: 100}, Audit: true}
		if !ok || got.Name != want.Name || !slices.Equal(got.Tokens, want.Tokens) || got.RateLimit != want.RateLimit || got.Audit != want.Audit {
			t.Errorf("Tenant(acme) = %+v, %v, want %+v, true", got, ok, want)
		}
		if got, _ := tbl.Tenant("globex-2"); !got.RateLimit.IsZero() || got.Audit {
			t.Errorf("Tenant(globex-2) = %+v, want no rate limit and no audit", got)
		}
		if got, _ := tbl.Tenant("rounded"); got.RateLimit.Burst != 3 {
			t.Errorf("Tenant(rounded).RateLimit.Burst = %d, want 3 (2.5 rounded up)", got.RateLimit.Burst)
		}
		if _, ok := tbl.Tenant("nope"); ok {
			t.Errorf("Tenant(nope) ok = true, want false")
		}
	})
	t.Run("Policy", func(t *testing.T) {
		got, ok := tbl.Policy("acme")
		if want := (Policy{RateLimit: RateLimit{RequestsPerSecond: 50, Burst: 100}, Audit: true, Strict: true}); got != want || !ok {
			t.Errorf("Policy(acme) = %+v, %v, want %+v, true", got, ok, want)
		}
		if got, _ := tbl.Policy("globex-2"); got.Strict {
			t.Errorf("Policy(globex-2).Strict = true, want false (the default)")
		}
		if got, ok := tbl.Policy("nope"); got != (Policy{}) || ok {
			t.Errorf("Policy(nope) = %+v, %v, want zero, false", got, ok)
		}
	})
	t.Run("Names", func(t *testing.T) {
		if got, want := tbl.Names(), []string{"acme", "globex-2", "idle", "rounded"}; !slices.Equal(got, want) {
			t.Errorf("Names() = %v, want %v", got, want)
		}
	})
}

func TestParse_Errors(t *testing.T) {
	h1, h2 := hashOf("one"), hashOf("two")
	tests := []struct {
		name      string
		file      string
		want      error // nil: only checks that Parse fails
		wantIndex int   // -1: not an EntryError
	}{
		{"NotJSON", `tenants: []`, nil, -1},
		{"Empty", `{}`, ErrNoTenants, -1},
		{"EmptyList", `{"tenants":[]}`, ErrNoTenants, -1},
		{"UnknownField", `{"tenants":[{"name":"a","tokens":[],"rate_limit":{"requestsPerSecond":1}}]}`, ErrUnknownKey, 0},
		{"NoTokens", `{"tenants":[{"name":"a","tokens":[]}]}`, ErrNoTokens, 0},
		{"TrailingData", `{"tenants":[{"name":"a","tokens":[]}]} {}`, nil, -1},
		{"EmptyName", `{"tenants":[{"name":"","tokens":[]}]}`, ErrBadName, 0},
		{"UpperCaseName", `{"tenants":[{"name":"ok","tokens":[]},{"name":"Acme","tokens":[]}]}`, ErrBadName, 1},
		{"SlashInName", `{"tenants":[{"name":"a/b","tokens":[]}]}`, ErrBadName, 0},
		{"LeadingDash", `{"tenants":[{"name":"-a","tokens":[]}]}`, ErrBadName, 0},
		{"NameTooLong", `{"tenants":[{"name":"` + strings.Repeat("a", 64) + `","tokens":[]}]}`, ErrBadName, 0},
		{"DuplicateName", `{"tenants":[{"name":"a","tokens":[]},{"name":"b","tokens":[]},{"name":"a","tokens":[]}]}`, ErrDuplicateName, 2},
		{"PlainToken", `{"tenants":[{"name":"a","tokens":["secret"]}]}`, ErrBadToken, 0},
		{"NoPrefix", `{"tenants":[{"name":"a","tokens":["` + h1[len("sha256:"):] + `"]}]}`, ErrBadToken, 0},
		{"OtherAlgorithm", `{"tenants":[{"name":"a","tokens":["sha512:` + h1[len("sha256:"):] + `"]}]}`, ErrBadToken, 0},
		{"ShortHash", `{"tenants":[{"name":"a","tokens":["` + h1[:len(h1)-2] + `"]}]}`, ErrBadToken, 0},
		{"NotHex", `{"tenants":[{"name":"a","tokens":["` + h1[:len(h1)-1] + `g"]}]}`, ErrBadToken, 0},
		{"HashUnderTwoTenants", `{"tenants":[{"name":"a","tokens":["` + h1 + `"]},{"name":"b","tokens":["` + h2 + `","` + h1 + `"]}]}`, ErrDuplicateToken, 1},
		{"HashTwiceInOneTenant", `{"tenants":[{"name":"a","tokens":["` + h1 + `","` + h1 + `"]}]}`, ErrDuplicateToken, 0},
		{"HashTwiceDifferentCase", `{"tenants":[{"name":"a","tokens":["` + h1 + `"]},{"name":"b","tokens":["sha256:` + strings.ToUpper(h1[len("sha256:"):]) + `"]}]}`, ErrDuplicateToken, 1},
		{"ZeroRate", `{"tenants":[{"name":"a","tokens":[],"rateLimit":{"requestsPerSecond":0,"burst":5}}]}`, ErrBadRateLimit, 0},
		{"NegativeRate", `{"tenants":[{"name":"a","tokens":[],"rateLimit":{"requestsPerSecond":-1}}]}`, ErrBadRateLimit, 0},
		{"NegativeBurst", `{"tenants":[{"name":"a","tokens":[],"rateLimit":{"requestsPerSecond":1,"burst":-1}}]}`, ErrBadRateLimit, 0},
	}
	for _, tt := range tests {
		if tt.want != ErrNoTokens && tt.want != ErrUnknownKey {
			tt.file = withTokens(tt.file)
		}
		t.Run(tt.name, func(t *testing.T) {
			tbl, err := Parse([]byte(tt.file))
			if err == nil {
				t.Fatalf("Parse(%s) = %v, nil; want an error", tt.file, tbl.Names())
			}
			if tt.want != nil && !errors.Is(err, tt.want) {
				t.Errorf("Parse(%s) = %v, want an error wrapping %v", tt.file, err, tt.want)
			}
			var ee *EntryError
			gotIndex := -1
			if errors.As(err, &ee) {
				gotIndex = ee.Index
			}
			if gotIndex != tt.wantIndex {
				t.Errorf("Parse(%s) = %v: entry index %d, want %d", tt.file, err, gotIndex, tt.wantIndex)
			}
		})
	}
}

// withTokens gives each `"tokens":[]` of file a hash of its own, so that a
// case tests what it names, not the empty list.
func withTokens(file string) string {
	for i := 0; strings.Contains(file, `"tokens":[]`); i++ {
		file = strings.Replace(file, `"tokens":[]`, `"tokens":["`+hashOf(fmt.Sprint("t", i))+`"]`, 1)
	}
	return file
}

func TestNewStatic(t *testing.T) {
	tbl, err := NewStatic("s3cret", Tenant{RateLimit: RateLimit{RequestsPerSecond: 10}, Audit: true})
	if err != nil {
		t.Fatalf("NewStatic() = %v", err)
	}
	if got, ok := tbl.Authenticate("s3cret"); got != DefaultTenant || !ok {
		t.Errorf("Authenticate(s3cret) = %q, %v, want %q, true", got, ok, DefaultTenant)
	}
	if got, ok := tbl.Authenticate("s3cre"); got != "" || ok {
		t.Errorf("Authenticate(s3cre) = %q, %v, want \"\", false", got, ok)
	}
	got, ok := tbl.Tenant(DefaultTenant)
	if !ok || got.RateLimit != (RateLimit{RequestsPerSecond: 10, Burst: 10}) || !got.Audit {
		t.Errorf("Tenant(default) = %+v, %v, want rate 10/10 and audit", got, ok)
	}
	if tbl.Table() != tbl {
		t.Errorf("Table() is not the table itself")
	}
	if _, err := NewStatic("", Tenant{}); err == nil {
		t.Errorf("NewStatic(\"\") = nil error, want one")
	}
	if _, err := NewStatic("x", Tenant{Name: "Bad"}); !errors.Is(err, ErrBadName) {
		t.Errorf("NewStatic(name Bad) = %v, want %v", err, ErrBadName)
	}
}

func TestTable_Nil(t *testing.T) {
	var tbl *Table
	if got, ok := tbl.Authenticate("x"); got != "" || ok {
		t.Errorf("nil.Authenticate(x) = %q, %v, want \"\", false", got, ok)
	}
	if _, ok := tbl.Tenant("x"); ok {
		t.Errorf("nil.Tenant(x) ok = true, want false")
	}
}

func TestNewToken(t *testing.T) {
	tok1, hash1, err := NewToken()
	if err != nil {
		t.Fatalf("NewToken() = %v", err)
	}
	tok2, _, err := NewToken()
	if err != nil {
		t.Fatalf("NewToken() = %v", err)
	}
	if len(tok1) != 43 || strings.ContainsAny(tok1, "+/=") {
		t.Errorf("NewToken() token = %q, want 43 base64url characters", tok1)
	}
	if tok1 == tok2 {
		t.Errorf("NewToken() returned %q twice", tok1)
	}
	if hash1 != HashToken(tok1) {
		t.Errorf("NewToken() hash = %q, want HashToken(token) = %q", hash1, HashToken(tok1))
	}
	// The printed entry is a valid file entry that authenticates the token.
	line, err := json.Marshal(Tenant{Name: "acme", Tokens: []string{hash1}})
	if err != nil {
		t.Fatalf("Marshal() = %v", err)
	}
	if got, want := string(line), `{"name":"acme","tokens":["`+hash1+`"]}`; got != want {
		t.Errorf("Marshal(entry) = %s, want %s", got, want)
	}
	tbl, err := Parse([]byte(`{"tenants":[` + string(line) + `]}`))
	if err != nil {
		t.Fatalf("Parse(entry) = %v", err)
	}
	if got, ok := tbl.Authenticate(tok1); got != "acme" || !ok {
		t.Errorf("Authenticate(new token) = %q, %v, want acme, true", got, ok)
	}
}

func TestHashToken(t *testing.T) {
	// SHA-256("abc"), FIPS 180-2 appendix B.1.
	if got, want := HashToken("abc"), "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"; got != want {
		t.Errorf("HashToken(abc) = %s, want %s", got, want)
	}
}

// TestParse_StrictKeys: keys are matched exactly, at every level, and a
// tenant needs a token. A typo must not silently change what the file says
// ("ratelimit" is not "rateLimit"), and the error names the key and the
// tenant.
func TestParse_StrictKeys(t *testing.T) {
	h := hashOf("one")
	tests := []struct {
		name      string
		file      string
		want      error
		wantIndex int      // -1: not an EntryError
		wantMsg   []string // substrings of the error
	}{
		{"TopLevelCase", `{"Tenants":[{"name":"a","tokens":["` + h + `"]}]}`, ErrUnknownKey, -1, []string{`"Tenants"`, `"tenants"`}},
		{"TopLevelUnknown", `{"tenants":[{"name":"a","tokens":["` + h + `"]}],"defaults":{}}`, ErrUnknownKey, -1, []string{`"defaults"`}},
		{"TenantCase", `{"tenants":[{"name":"a","tokens":["` + h + `"],"ratelimit":{"requestsPerSecond":1}}]}`, ErrUnknownKey, 0, []string{`"ratelimit"`, `"rateLimit"`, `"a"`}},
		{"TenantCaseBeforeName", `{"tenants":[{"name":"b","tokens":["` + hashOf("two") + `"]},{"Audit":true,"name":"acme","tokens":["` + h + `"]}]}`, ErrUnknownKey, 1, []string{`"Audit"`, `"acme"`}},
		{"TenantUnknown", `{"tenants":[{"name":"a","tokens":["` + h + `"],"rate_limit":{"requestsPerSecond":1}}]}`, ErrUnknownKey, 0, []string{`"rate_limit"`, `"a"`}},
		{"RateLimitCase", `{"tenants":[{"name":"a","tokens":["` + h + `"],"rateLimit":{"requestspersecond":1}}]}`, ErrUnknownKey, 0, []string{`"requestspersecond"`, `"a"`}},
		{"RateLimitUnknown", `{"tenants":[{"name":"a","tokens":["` + h + `"],"rateLimit":{"requestsPerSecond":1,"rps":5}}]}`, ErrUnknownKey, 0, []string{`"rps"`, `"a"`}},
		{"KeyTwice", `{"tenants":[{"name":"a","tokens":["` + h + `"],"tokens":["` + hashOf("two") + `"]}]}`, ErrDuplicateKey, 0, []string{`"tokens"`, "twice", `"a"`}},
		{"TopLevelKeyTwice", `{"tenants":[{"name":"a","tokens":["` + h + `"]}],"tenants":[{"name":"b","tokens":["` + h + `"]}]}`, ErrDuplicateKey, -1, []string{`"tenants"`, "twice"}},
		{"NoTokens", `{"tenants":[{"name":"a","tokens":["` + h + `"]},{"name":"idle","tokens":[]}]}`, ErrNoTokens, 1, []string{`"idle"`, "token"}},
		{"TokensNull", `{"tenants":[{"name":"idle","tokens":null}]}`, ErrNoTokens, 0, []string{`"idle"`, "token"}},
		{"TokensMissing", `{"tenants":[{"name":"idle"}]}`, ErrNoTokens, 0, []string{`"idle"`, "token"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tbl, err := Parse([]byte(tt.file))
			if err == nil {
				t.Fatalf("Parse(%s) = %v, nil; want an error", tt.file, tbl.Names())
			}
			if !errors.Is(err, tt.want) {
				t.Errorf("Parse(%s) = %v, want an error wrapping %v", tt.file, err, tt.want)
			}
			for _, m := range tt.wantMsg {
				if !strings.Contains(err.Error(), m) {
					t.Errorf("Parse(%s) = %q, want it to name %s", tt.file, err, m)
				}
			}
			var ee *EntryError
			gotIndex := -1
			if errors.As(err, &ee) {
				gotIndex = ee.Index
			}
			if gotIndex != tt.wantIndex {
				t.Errorf("Parse(%s) = %v: entry index %d, want %d", tt.file, err, gotIndex, tt.wantIndex)
			}
		})
	}
}
