//go:build !linux

package events

import "os"

// syncData makes the bytes written to f durable: a full fsync where
// fdatasync is not at hand.
func syncData(f *os.File) error { return f.Sync() }
