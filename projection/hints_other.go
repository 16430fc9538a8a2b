//go:build !unix

package projection

import "sync/atomic"

// mapWords allocates n zeroed words on the Go heap (pointer-free, so the
// collector does not scan them) where there is no anonymous mmap.
func mapWords(n uint64) (words []uint32, free func() error, err error) {
	return make([]uint32, n), func() error { return nil }, nil
}

// mapAtomicWords allocates n zeroed 64-bit words on the Go heap where
// there is no anonymous mmap.
func mapAtomicWords(n uint64) (words []atomic.Uint64, free func() error, err error) {
	return make([]atomic.Uint64, n), func() error { return nil }, nil
}
