package main

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// tenant is one simulated identity provider's view of the service: its
// bearer token and the users and big group it seeded. Seeding fills users and
// groupID; afterwards a tenant is read-only and shared by its workers.
type tenant struct {
	name string
	auth string // "Bearer <token>", built once

	// users[j] is the id of the user named userName(j).
	users []string
	// groups is how many groups this tenant seeds; the first is the big one.
	groups int
	// groupID is the big group's id ("" when the tenant has no group), and
	// groupSize how many of users[0:groupSize] were added to it.
	groupID   string
	groupSize int
}

func newTenant(name, token string) *tenant {
	return &tenant{name: name, auth: "Bearer " + token}
}

// userName is the deterministic userName of the tenant's j-th seeded user,
// so a later run (--skip-seed) can find it again and a filter can name it
// without storing it.
func (t *tenant) userName(j int) string {
	return "load-" + t.name + "-" + strconv.Itoa(j) + "@example.com"
}

// userIndex is userName's inverse; ok is false for every other userName.
func (t *tenant) userIndex(userName string) (j int, ok bool) {
	s, ok := strings.CutPrefix(userName, "load-"+t.name+"-")
	if !ok {
		return 0, false
	}
	if s, ok = strings.CutSuffix(s, "@example.com"); !ok {
		return 0, false
	}
	j, err := strconv.Atoi(s)
	if err != nil || j < 0 || strconv.Itoa(j) != s {
		return 0, false
	}
	return j, true
}

func (t *tenant) groupName(k int) string {
	return "load-" + t.name + "-group-" + strconv.Itoa(k)
}

// readTokens reads "tenant token" pairs, one a line; blank lines and lines
// starting with # are skipped. Tenant names must be unique.
func readTokens(r io.Reader) ([]*tenant, error) {
	var ts []*tenant
	seen := map[string]bool{}
	sc := bufio.NewScanner(r)
	for line := 1; sc.Scan(); line++ {
		s := strings.TrimSpace(sc.Text())
		if s == "" || strings.HasPrefix(s, "#") {
			continue
		}
		f := strings.Fields(s)
		if len(f) != 2 {
			return nil, fmt.Errorf("line %d: want \"tenant token\", got %d fields", line, len(f))
		}
		if seen[f[0]] {
			return nil, fmt.Errorf("line %d: tenant %q given twice", line, f[0])
		}
		seen[f[0]] = true
		ts = append(ts, newTenant(f[0], f[1]))
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(ts) == 0 {
		return nil, fmt.Errorf("no \"tenant token\" lines")
	}
	return ts, nil
}

// spread splits n things over k parts as evenly as possible, the first
// n%k parts getting one more: global item i goes to part i%k as its
// (i/k)-th item.
func spread(n, k, part int) int {
	c := n / k
	if part < n%k {
		c++
	}
	return c
}
