package main

import (
	"math/rand/v2"
	"strings"
	"testing"
)

func TestParseMix(t *testing.T) {
	for _, tc := range []struct {
		in    string
		want  [numOps]int
		total int
	}{
		{"get=1", [numOps]int{opGet: 1}, 1},
		{defaultMix, [numOps]int{40, 30, 10, 10, 5, 5}, 100},
		{" Member = 3 , get=0,post=2", [numOps]int{opMember: 3, opPost: 2}, 5},
	} {
		t.Run(tc.in, func(t *testing.T) {
			m, err := parseMix(tc.in)
			if err != nil {
				t.Fatalf("parseMix(%q): %v", tc.in, err)
			}
			if m.weights != tc.want || m.total != tc.total {
				t.Errorf("parseMix(%q) = %v (total %d), want %v (total %d)", tc.in, m.weights, m.total, tc.want, tc.total)
			}
		})
	}
}

func TestParseMix_Errors(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"", "empty"},
		{"get=1,", "empty"},
		{"get", "want op=weight"},
		{"delete=1", "unknown op"},
		{"get=1,get=2", "given twice"},
		{"get=-1", "non-negative"},
		{"get=x", "non-negative"},
		{"get=1.5", "non-negative"},
		{"get=0,post=0", "every weight is zero"},
		{"get=2000000", "above"},
	} {
		t.Run(tc.in, func(t *testing.T) {
			_, err := parseMix(tc.in)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("parseMix(%q) error = %v, want one mentioning %q", tc.in, err, tc.want)
			}
		})
	}
}

func TestMix_Pick(t *testing.T) {
	m, err := parseMix("get=3,post=1,list=0")
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(1, 2))
	var got [numOps]int
	const n = 40000
	for range n {
		got[m.pick(r)]++
	}
	if got[opList] != 0 || got[opFilter] != 0 {
		t.Errorf("pick chose ops of weight 0: %v", got)
	}
	// 3:1 within a generous band (the PRNG is seeded, so this is fixed).
	if ratio := float64(got[opGet]) / float64(got[opPost]); ratio < 2.7 || ratio > 3.3 {
		t.Errorf("get/post = %d/%d = %.2f, want about 3", got[opGet], got[opPost], ratio)
	}
	if s := m.String(); s != "get=3,post=1" {
		t.Errorf("String() = %q, want %q", s, "get=3,post=1")
	}
}
