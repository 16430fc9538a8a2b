package scimhttp

import (
	"crypto/sha256"
	"crypto/subtle"
)

// StaticToken returns an Authenticator accepting exactly one token, for one
// tenant, for tests (the service uses scimhttp/tenants). Both sides are hashed with SHA-256 before a constant-time
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
