package scimhttp

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestStaticToken_Authenticate(t *testing.T) {
	tests := []struct {
		name       string
		configured string
		token      string
		wantTenant string
		wantOK     bool
	}{
		{"Match", "abc", "abc", "t1", true},
		{"Mismatch", "abc", "abd", "", false},
		{"Prefix", "abc", "ab", "", false},
		{"Longer", "abc", "abcd", "", false},
		{"Empty", "abc", "", "", false},
		{"EmptyConfiguredAcceptsNothing", "", "", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tenant, ok := StaticToken(tt.configured, "t1").Authenticate(tt.token)
			if tenant != tt.wantTenant || ok != tt.wantOK {
				t.Errorf("Authenticate(%q) = %q, %v, want %q, %v", tt.token, tenant, ok, tt.wantTenant, tt.wantOK)
			}
		})
	}
}

func TestServer_Auth(t *testing.T) {
	tests := []struct {
		name   string
		target string
		auth   string // "" sends no Authorization header
		status int
	}{
		{"NoHeader", "/scim/v2/Users", "", http.StatusUnauthorized},
		{"WrongToken", "/scim/v2/Users", "Bearer nope", http.StatusUnauthorized},
		{"BasicScheme", "/scim/v2/Users", "Basic " + testToken, http.StatusUnauthorized},
		{"BearerWithoutToken", "/scim/v2/Users", "Bearer ", http.StatusUnauthorized},
		{"UnknownRouteStillNeedsAuth", "/scim/v2/Nope", "", http.StatusUnauthorized},
		{"DiscoveryNeedsAuth", "/scim/v2/ServiceProviderConfig", "", http.StatusUnauthorized},
		{"LowerCaseScheme", "/scim/v2/Users", "bearer " + testToken, http.StatusOK},
		{"UpperCaseScheme", "/scim/v2/Users", "BEARER " + testToken, http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts := newTestServer(t, Options{})
			req := httptest.NewRequest(http.MethodGet, tt.target, nil)
			if tt.auth != "" {
				req.Header.Set("Authorization", tt.auth)
			}
			rec := httptest.NewRecorder()
			ts.srv.Handler().ServeHTTP(rec, req)
			if rec.Code != tt.status {
				t.Fatalf("GET %s with %q: status = %d, want %d; body %s", tt.target, tt.auth, rec.Code, tt.status, rec.Body)
			}
			if tt.status != http.StatusUnauthorized {
				return
			}
			checkError(t, rec, http.StatusUnauthorized, "")
			if got, want := rec.Header().Get("WWW-Authenticate"), `Bearer realm="scim"`; got != want {
				t.Errorf("WWW-Authenticate = %q, want %q", got, want)
			}
		})
	}
}

func TestServer_TenantReachesBridge(t *testing.T) {
	ts := newTestServer(t, Options{})
	rec := ts.do(http.MethodPost, "/scim/v2/Users", userJSON("a"), "X-Request-Id", "req-42")
	if rec.Code != http.StatusCreated {
		t.Fatalf("POST status = %d, want 201; body %s", rec.Code, rec.Body)
	}
	evs := ts.stack.events()
	if len(evs) != 1 || evs[0].Tenant != "default" || evs[0].RequestID != "req-42" {
		t.Errorf("events = %+v, want one of tenant default and request req-42", evs)
	}
}
