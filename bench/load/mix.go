package main

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
)

// op is one kind of request a simulated identity provider sends.
type op int

const (
	opGet    op = iota // GET /Users/{id}
	opFilter           // GET /Users?filter=userName eq "…"
	opList             // GET /Users?startIndex=…&count=100, or by cursor
	opPatch            // PATCH /Users/{id}, Entra-style replace of displayName
	opPost             // POST /Users, a new user
	opMember           // PATCH /Groups/{id}, add (or remove) one member of the big group
	numOps
)

var opNames = [numOps]string{"get", "filter", "list", "patch", "post", "member"}

func (o op) String() string { return opNames[o] }

// defaultMix is what an identity provider's steady state roughly looks like:
// mostly reads (Entra's filter before every create, Okta's GET before every
// update), some updates, few creates.
const defaultMix = "get=40,filter=30,list=10,patch=10,post=5,member=5"

// mix holds the weight of every op. The zero value has no ops.
type mix struct {
	weights [numOps]int
	total   int
}

// parseMix parses "get=40,filter=30,…": each op at most once, each weight a
// non-negative integer, and at least one weight above zero. Ops left out
// weigh zero.
func parseMix(s string) (mix, error) {
	var m mix
	var seen [numOps]bool
	for i, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			return mix{}, fmt.Errorf("mix entry %d: empty", i+1)
		}
		name, w, ok := strings.Cut(part, "=")
		if !ok {
			return mix{}, fmt.Errorf("mix entry %d %q: want op=weight", i+1, part)
		}
		name = strings.ToLower(strings.TrimSpace(name))
		o, ok := lookupOp(name)
		if !ok {
			return mix{}, fmt.Errorf("mix entry %d: unknown op %q (ops: %s)", i+1, name, strings.Join(opNames[:], ", "))
		}
		if seen[o] {
			return mix{}, fmt.Errorf("mix entry %d: op %q given twice", i+1, name)
		}
		seen[o] = true
		n, err := strconv.Atoi(strings.TrimSpace(w))
		if err != nil || n < 0 {
			return mix{}, fmt.Errorf("mix entry %d: weight %q of %q is not a non-negative integer", i+1, w, name)
		}
		if n > 1_000_000 {
			return mix{}, fmt.Errorf("mix entry %d: weight %d of %q is above 1000000", i+1, n, name)
		}
		m.weights[o] = n
		m.total += n
	}
	if m.total == 0 {
		return mix{}, fmt.Errorf("mix %q: every weight is zero", s)
	}
	return m, nil
}

func lookupOp(name string) (op, bool) {
	for i, n := range opNames {
		if n == name {
			return op(i), true
		}
	}
	return 0, false
}

// has reports whether o has a weight above zero.
func (m mix) has(o op) bool { return m.weights[o] > 0 }

// pick draws an op with probability weight/total.
func (m mix) pick(r *rand.Rand) op {
	n := r.IntN(m.total)
	for o, w := range m.weights {
		if n < w {
			return op(o)
		}
		n -= w
	}
	panic("unreachable: weights sum to total")
}

func (m mix) String() string {
	var parts []string
	for o, w := range m.weights {
		if w > 0 {
			parts = append(parts, opNames[o]+"="+strconv.Itoa(w))
		}
	}
	return strings.Join(parts, ",")
}
