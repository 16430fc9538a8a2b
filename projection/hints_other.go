//go:build !unix

package projection

// mapWords allocates n zeroed words on the Go heap (pointer-free, so the
// collector does not scan them) where there is no anonymous mmap.
func mapWords(n uint64) (words []uint32, free func() error, err error) {
	return make([]uint32, n), func() error { return nil }, nil
}
