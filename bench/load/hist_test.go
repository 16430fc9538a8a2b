package main

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

func TestBucketOf(t *testing.T) {
	// Every bucket's range maps back to it, and buckets tile the values.
	next := uint64(0)
	for i := range numBuckets - 1 {
		low, width := bucketRange(i)
		if low != next {
			t.Fatalf("bucket %d starts at %d, want %d", i, low, next)
		}
		if got := bucketOf(low); got != i {
			t.Fatalf("bucketOf(%d) = %d, want %d", low, got, i)
		}
		if got := bucketOf(low + width - 1); got != i {
			t.Fatalf("bucketOf(%d) = %d, want %d", low+width-1, got, i)
		}
		next = low + width
	}
	if got := bucketOf(math.MaxUint64); got != numBuckets-1 {
		t.Errorf("bucketOf(MaxUint64) = %d, want %d", got, numBuckets-1)
	}
}

func TestHistogram_QuantileAgainstExact(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 7))
	for _, tc := range []struct {
		name string
		gen  func() time.Duration
	}{
		{"uniform 0-10ms", func() time.Duration { return time.Duration(r.Int64N(int64(10 * time.Millisecond))) }},
		{"lognormal", func() time.Duration { return time.Duration(math.Exp(r.NormFloat64()*1.5 + 13)) }},
		{"small values", func() time.Duration { return time.Duration(r.IntN(300)) }},
		{"bimodal", func() time.Duration {
			if r.IntN(10) == 0 {
				return time.Duration(50e6 + r.Int64N(50e6))
			}
			return time.Duration(200e3 + r.Int64N(100e3))
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var h histogram
			exact := make([]time.Duration, 20000)
			for i := range exact {
				exact[i] = tc.gen()
				h.Record(exact[i])
			}
			slices.Sort(exact)
			if got := h.Count(); got != uint64(len(exact)) {
				t.Errorf("Count() = %d, want %d", got, len(exact))
			}
			if got, want := h.Max(), exact[len(exact)-1]; got != want {
				t.Errorf("Max() = %v, want %v", got, want)
			}
			for _, q := range []float64{0.001, 0.5, 0.9, 0.99, 0.999, 1} {
				want := exact[int(math.Ceil(q*float64(len(exact))))-1]
				got := h.Quantile(q)
				// Half a bucket: 1/(2*subCount) of the value, or 1ns below 256ns.
				tol := math.Max(float64(want)/(2*subCount), 1)
				if math.Abs(float64(got-want)) > tol {
					t.Errorf("Quantile(%v) = %v, want %v within %.0fns", q, got, want, tol)
				}
			}
		})
	}
}

func TestHistogram_EmptyAndMerge(t *testing.T) {
	var a, b histogram
	if got := a.Quantile(0.5); got != 0 {
		t.Errorf("empty Quantile(0.5) = %v, want 0", got)
	}
	a.Record(-time.Second) // counts as zero
	b.Record(time.Millisecond)
	b.Record(time.Second)
	a.merge(&b)
	if a.Count() != 3 || a.Max() != time.Second || a.Quantile(0.1) != 0 {
		t.Errorf("merged: count %d, max %v, p10 %v; want 3, 1s, 0", a.Count(), a.Max(), a.Quantile(0.1))
	}
}
