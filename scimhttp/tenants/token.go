package tenants

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
)

// tokenBytes is the entropy of a token: 256 bits, which is what lets the
// file store a fast hash (see the package doc).
const tokenBytes = 32

// NewToken returns a new random bearer token (32 bytes from crypto/rand,
// base64url without padding: 43 characters safe in a header, a URL or a
// shell) and its hash as the tenants file lists it. Show the token once;
// store only the hash.
func NewToken() (token, hash string, err error) {
	var b [tokenBytes]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", "", fmt.Errorf("read random token: %w", err)
	}
	token = base64.RawURLEncoding.EncodeToString(b[:])
	return token, HashToken(token), nil
}

// HashToken returns "sha256:" and the hex SHA-256 of token, the form of a
// token in the tenants file.
func HashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hashPrefix + hex.EncodeToString(sum[:])
}
