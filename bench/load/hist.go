package main

import (
	"math/bits"
	"sync/atomic"
	"time"
)

// The histogram is log-linear, in the manner of HdrHistogram: values below
// 2*subCount nanoseconds each have a bucket of their own, and every further
// power of two is cut into subCount equal buckets. A bucket is therefore at
// most 1/subCount of its lower bound wide, and a percentile read from it is
// within half that (0.4% with subCount 128) of the exact sample.
const (
	subBits  = 7
	subCount = 1 << subBits
	// numBuckets covers every uint64: bits.Len64 is at most 64, so the
	// exponent is at most 64-subBits-1 and the offset below 2*subCount.
	numBuckets = (64-subBits-1)*subCount + 2*subCount
)

// histogram records durations in nanoseconds. Its memory is fixed (about
// 60 KB) however long the run. The zero value is empty and ready to use; it
// is safe for concurrent use, so every worker records into one histogram per
// operation and nothing needs merging.
type histogram struct {
	counts [numBuckets]atomic.Uint64
	total  atomic.Uint64
	max    atomic.Uint64
}

// bucketOf returns the bucket index of v.
func bucketOf(v uint64) int {
	exp := bits.Len64(v) - subBits - 1
	if exp < 0 {
		exp = 0
	}
	return exp*subCount + int(v>>uint(exp))
}

// bucketRange returns the smallest value of bucket i and its width.
func bucketRange(i int) (low, width uint64) {
	if i < 2*subCount {
		return uint64(i), 1
	}
	exp := uint(i/subCount - 1)
	off := uint64(i%subCount + subCount)
	return off << exp, 1 << exp
}

// Record adds one duration; a negative one counts as zero.
func (h *histogram) Record(d time.Duration) {
	v := uint64(0)
	if d > 0 {
		v = uint64(d)
	}
	h.counts[bucketOf(v)].Add(1)
	h.total.Add(1)
	for {
		m := h.max.Load()
		if v <= m || h.max.CompareAndSwap(m, v) {
			return
		}
	}
}

// Count returns how many durations were recorded.
func (h *histogram) Count() uint64 { return h.total.Load() }

// Max returns the largest duration recorded, exactly.
func (h *histogram) Max() time.Duration { return time.Duration(h.max.Load()) }

// Quantile returns the q-quantile (0 < q <= 1): the middle of the bucket
// holding the sample of rank ceil(q*n), capped at the exact maximum. An empty
// histogram returns 0. Call it once recording has stopped.
func (h *histogram) Quantile(q float64) time.Duration {
	n := h.total.Load()
	if n == 0 {
		return 0
	}
	rank := uint64(q * float64(n))
	if float64(rank) < q*float64(n) {
		rank++
	}
	rank = max(rank, 1)
	var seen uint64
	for i := range h.counts {
		seen += h.counts[i].Load()
		if seen >= rank {
			low, width := bucketRange(i)
			return time.Duration(min(low+(width-1)/2, h.max.Load()))
		}
	}
	return h.Max()
}

// merge adds o's samples to h. Neither may be recording meanwhile.
func (h *histogram) merge(o *histogram) {
	for i := range o.counts {
		if c := o.counts[i].Load(); c > 0 {
			h.counts[i].Add(c)
		}
	}
	h.total.Add(o.total.Load())
	h.max.Store(max(h.max.Load(), o.max.Load()))
}
