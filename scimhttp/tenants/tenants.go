// Package tenants owns the tenant table of scim-bridge: which bearer tokens
// belong to which tenant, and each tenant's rate limit and audit switch. It
// parses SCIM_TENANTS_FILE, authenticates tokens against it (a [Table] is a
// scimhttp.Authenticator), reloads the file while serving ([Watcher]) and
// makes new tokens ([NewToken]). It imports only the standard library and
// Prometheus; scimhttp and main import it.
//
// # The tenants file
//
// SCIM_TENANTS_FILE is JSON (YAML is not a dependency of ours):
//
//	{
//	  "tenants": [
//	    {
//	      "name": "acme",
//	      "tokens": ["sha256:<64 hex digits>", "sha256:<64 hex digits>"],
//	      "rateLimit": {"requestsPerSecond": 50, "burst": 100},
//	      "audit": true
//	    },
//	    {"name": "globex", "tokens": ["sha256:<64 hex digits>"]}
//	  ]
//	}
//
// The fields of a tenant:
//
//   - name: 1 to 63 characters of [a-z0-9-], not starting with "-". Names go
//     into Kafka record keys "<tenant>/<ResourceType>/<id>", so "/" is never
//     allowed.
//   - tokens: the SHA-256 of each accepted bearer token, as "sha256:" and 64
//     hex digits; tokens themselves are never stored. A tenant may list
//     several, so a token is rotated without downtime: add the new hash,
//     move the IdP to the new token, remove the old hash. A tenant needs at
//     least one: an empty list is more likely a mistake than a way to
//     disable a tenant, which is removing its entry (its data stays).
//   - rateLimit (optional): a token bucket refilled at requestsPerSecond
//     (> 0) holding at most burst requests (0: requestsPerSecond rounded
//     up). Absent: the server's default, unlimited unless main sets one.
//   - audit (optional): log every write of the tenant to the audit log.
//   - strict (optional): reject unknown input with 400 (unknown attributes
//     and schema URNs, member ids that name nothing) instead of ignoring
//     and reporting it.
//
// The whole file is rejected, naming the entry and the key, when it has no
// tenants, a key that is not one of the above spelt exactly, at any level,
// or a key given twice in one object (a misspelt "rate_limit" or
// "ratelimit" must not silently mean unlimited, nor the second of two
// "tokens" silently drop the first), a tenant without tokens, a bad or
// duplicate name, a malformed hash, a hash listed twice (under one tenant
// or two: a token must name exactly one tenant) or a bad rate limit.
//
// # Why SHA-256, and where comparisons are constant-time
//
// Tokens made by [NewToken] are 256 random bits, so nobody can guess one
// from its hash however fast the hash is: a slow password hash (bcrypt,
// argon2) defends low-entropy secrets and would only cost CPU on every
// request. The file, and memory, hold only hashes, so a leaked file or heap
// dump grants nothing.
//
// [Table.Authenticate] hashes the presented token and looks the digest up in
// a map. The lookup's timing depends only on the digest of the attacker's
// own guess, never on how much of a real token the guess shares: learning
// bits of a stored digest does not help, since turning them into a token
// means inverting SHA-256. That is the property a constant-time comparison
// of raw tokens buys, so no further constant-time comparison is needed.
package tenants

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strings"
)

// DefaultTenant is the tenant of the single-token mode (SCIM_TOKEN).
const DefaultTenant = "default"

// hashPrefix starts every token hash in the file.
const hashPrefix = "sha256:"

var nameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,62}$`)

// Errors of a tenants file or table, wrapped in an [*EntryError] when an
// entry is at fault. Test them with errors.Is.
var (
	ErrNoTenants      = errors.New("no tenants")
	ErrBadName        = errors.New("tenant name must be 1 to 63 characters of [a-z0-9-], not starting with '-'")
	ErrDuplicateName  = errors.New("tenant name listed twice")
	ErrBadToken       = errors.New(`token hash must be "sha256:" and 64 hex digits`)
	ErrDuplicateToken = errors.New("token hash listed twice")
	ErrBadRateLimit   = errors.New("rateLimit needs requestsPerSecond > 0 and burst >= 0")
	ErrNoTokens       = errors.New("no tokens: a tenant needs at least one token hash (to disable a tenant, remove its entry)")
	ErrUnknownKey     = errors.New("unknown key")
	ErrDuplicateKey   = errors.New("key given twice")
)

// EntryError is an error in one tenant entry of the file. Index counts
// from 0 in "tenants".
type EntryError struct {
	Index int
	Name  string
	Err   error
}

func (e *EntryError) Error() string {
	return fmt.Sprintf("tenants[%d] %q: %v", e.Index, e.Name, e.Err)
}

func (e *EntryError) Unwrap() error { return e.Err }

// File is the JSON document of the tenants file.
type File struct {
	Tenants []Tenant `json:"tenants"`
}

// Tenant is one entry of the tenants file. Marshalled, it is the line to add
// to the file ("rateLimit", "audit" and "strict" omitted when zero).
type Tenant struct {
	Name      string    `json:"name"`
	Tokens    []string  `json:"tokens"`             // "sha256:<hex>" each
	RateLimit RateLimit `json:"rateLimit,omitzero"` // zero: not set
	Audit     bool      `json:"audit,omitempty"`
	Strict    bool      `json:"strict,omitempty"`
}

// RateLimit is a token bucket: RequestsPerSecond refill it, Burst bound it.
// The zero value means no limit is set.
type RateLimit struct {
	RequestsPerSecond float64 `json:"requestsPerSecond"`
	Burst             int     `json:"burst,omitempty"`
}

// IsZero reports whether no limit is set.
func (l RateLimit) IsZero() bool { return l == RateLimit{} }

// Normalize checks l ([ErrBadRateLimit]) and returns it with a zero Burst
// filled in: RequestsPerSecond rounded up.
func (l RateLimit) Normalize() (RateLimit, error) {
	if l.IsZero() {
		return l, nil
	}
	if !(l.RequestsPerSecond > 0) || math.IsInf(l.RequestsPerSecond, 0) || l.Burst < 0 {
		return l, ErrBadRateLimit
	}
	if l.Burst == 0 {
		l.Burst = int(math.Ceil(min(l.RequestsPerSecond, math.MaxInt32)))
	}
	return l, nil
}

// Table is a validated, immutable tenant table. It is safe for concurrent
// use; a nil *Table has no tenants and authenticates nothing.
type Table struct {
	byHash  map[[sha256.Size]byte]string // token digest -> tenant name
	tenants map[string]Tenant
	names   []string // sorted
}

// Parse reads a tenants file (see the package doc) and validates it.
func Parse(data []byte) (*Table, error) {
	var ke *KeyError
	var ee *EntryError
	if err := checkKeys(data); errors.As(err, &ke) || errors.As(err, &ee) {
		return nil, err
	} else if err != nil {
		return nil, fmt.Errorf("decode tenants file: %w", err)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var f File
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("decode tenants file: %w", err)
	}
	if _, err := dec.Token(); err == nil {
		return nil, errors.New("decode tenants file: data after the JSON object")
	}
	return NewTable(f.Tenants)
}

// NewTable validates ts (see the package doc for the rules) and returns
// them as a table. Hashes may be given in either case of hex.
func NewTable(ts []Tenant) (*Table, error) {
	if len(ts) == 0 {
		return nil, ErrNoTenants
	}
	t := &Table{
		byHash:  map[[sha256.Size]byte]string{},
		tenants: make(map[string]Tenant, len(ts)),
	}
	for i, tn := range ts {
		fail := func(err error) error { return &EntryError{Index: i, Name: tn.Name, Err: err} }
		if err := CheckName(tn.Name); err != nil {
			return nil, fail(err)
		}
		if _, dup := t.tenants[tn.Name]; dup {
			return nil, fail(ErrDuplicateName)
		}
		rl, err := tn.RateLimit.Normalize()
		if err != nil {
			return nil, fail(err)
		}
		tn.RateLimit = rl
		if len(tn.Tokens) == 0 {
			return nil, fail(ErrNoTokens)
		}
		tokens := make([]string, 0, len(tn.Tokens))
		for j, h := range tn.Tokens {
			sum, err := parseHash(h)
			if err != nil {
				return nil, fail(fmt.Errorf("token %d: %w", j, err))
			}
			if other, dup := t.byHash[sum]; dup {
				return nil, fail(fmt.Errorf("token %d (also under %q): %w", j, other, ErrDuplicateToken))
			}
			t.byHash[sum] = tn.Name
			tokens = append(tokens, hashPrefix+hex.EncodeToString(sum[:]))
		}
		tn.Tokens = tokens
		t.tenants[tn.Name] = tn
		t.names = append(t.names, tn.Name)
	}
	slices.Sort(t.names)
	return t, nil
}

// NewStatic returns a table of one tenant accepting one token, for the
// single-token mode: t.Name "" is [DefaultTenant], and t.Tokens is replaced
// by the token's hash. An empty token is an error.
func NewStatic(token string, t Tenant) (*Table, error) {
	if token == "" {
		return nil, errors.New("empty token")
	}
	if t.Name == "" {
		t.Name = DefaultTenant
	}
	t.Tokens = []string{HashToken(token)}
	return NewTable([]Tenant{t})
}

// CheckName returns [ErrBadName] unless name is a valid tenant name.
func CheckName(name string) error {
	if !nameRE.MatchString(name) {
		return ErrBadName
	}
	return nil
}

func parseHash(h string) ([sha256.Size]byte, error) {
	var sum [sha256.Size]byte
	hx, ok := strings.CutPrefix(h, hashPrefix)
	if !ok || len(hx) != 2*sha256.Size {
		return sum, ErrBadToken
	}
	if _, err := hex.Decode(sum[:], []byte(hx)); err != nil {
		return sum, ErrBadToken
	}
	return sum, nil
}

// Authenticate returns the tenant whose tokens include token. See the
// package doc for why a map lookup of the digest is safe against timing.
func (t *Table) Authenticate(token string) (tenant string, ok bool) {
	if t == nil || token == "" {
		return "", false
	}
	name, ok := t.byHash[sha256.Sum256([]byte(token))]
	return name, ok
}

// Tenant returns the named tenant, with its rate limit's burst filled in.
func (t *Table) Tenant(name string) (Tenant, bool) {
	if t == nil {
		return Tenant{}, false
	}
	tn, ok := t.tenants[name]
	if ok {
		tn.Tokens = slices.Clone(tn.Tokens)
	}
	return tn, ok
}

// Policy is what a tenant's entry says about how it is served.
type Policy struct {
	RateLimit RateLimit // zero: none set
	Audit     bool
	Strict    bool // reject unknown input instead of ignoring it
}

// Policy returns the named tenant's policy, without copying its tokens: it
// is looked up on every request.
func (t *Table) Policy(name string) (Policy, bool) {
	if t == nil {
		return Policy{}, false
	}
	tn, ok := t.tenants[name]
	return Policy{RateLimit: tn.RateLimit, Audit: tn.Audit, Strict: tn.Strict}, ok
}

// Names returns the tenants' names, sorted.
func (t *Table) Names() []string {
	if t == nil {
		return nil
	}
	return slices.Clone(t.names)
}

// Table returns t itself, so a fixed table serves where a live one
// ([Watcher]) does.
func (t *Table) Table() *Table { return t }
