//go:build unix

package projection

import (
	"sync/atomic"
	"syscall"
	"unsafe"
)

// mapWords maps n zeroed words outside the Go heap, backed by memory only
// as they are written; free unmaps them.
func mapWords(n uint64) (words []uint32, free func() error, err error) {
	b, err := syscall.Mmap(-1, 0, int(n*4), syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
	if err != nil {
		return nil, nil, err
	}
	return unsafe.Slice((*uint32)(unsafe.Pointer(&b[0])), n), func() error { return syscall.Munmap(b) }, nil
}

// mapAtomicWords maps n zeroed 64-bit words outside the Go heap, like
// mapWords, on huge pages where the kernel gives them (the key filter's:
// every lookup reads a word at random).
func mapAtomicWords(n uint64) (words []atomic.Uint64, free func() error, err error) {
	b, err := syscall.Mmap(-1, 0, int(n*8), syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
	if err != nil {
		return nil, nil, err
	}
	adviseHugePages(b)
	return unsafe.Slice((*atomic.Uint64)(unsafe.Pointer(&b[0])), n), func() error { return syscall.Munmap(b) }, nil
}
