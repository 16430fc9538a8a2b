package scimhttp

import (
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
	"strings"
)

// Authenticator maps a bearer token to the tenant it belongs to.
// Implementations compare tokens in constant time and are safe for
// concurrent use.
type Authenticator interface {
	Authenticate(token string) (tenant string, ok bool)
}

// StaticToken returns an Authenticator accepting exactly one token, for one
// tenant. Both sides are hashed with SHA-256 before a constant-time
// comparison, so neither the token's content nor its length leaks through
// timing. An empty token accepts nothing.
func StaticToken(token, tenant string) Authenticator {
	return staticToken{sum: sha256.Sum256([]byte(token)), empty: token == "", tenant: tenant}
}

type staticToken struct {
	sum    [sha256.Size]byte
	empty  bool
	tenant string
}

func (a staticToken) Authenticate(token string) (string, bool) {
	got := sha256.Sum256([]byte(token))
	if subtle.ConstantTimeCompare(got[:], a.sum[:]) != 1 || a.empty {
		return "", false
	}
	return a.tenant, true
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
