package scimhttp

import (
	"net/http"
	"strings"
)

// Authenticator maps a bearer token to the tenant it belongs to.
// Implementations compare tokens in constant time and are safe for
// concurrent use.
type Authenticator interface {
	Authenticate(token string) (tenant string, ok bool)
}

// bearerToken returns the token of an "Authorization: Bearer <token>"
// header; the scheme matches case-insensitively (RFC 9110 §11.1).
func bearerToken(r *http.Request) (string, bool) {
	h := r.Header.Get("Authorization")
	scheme, token, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	token = strings.TrimSpace(token)
	return token, token != ""
}
