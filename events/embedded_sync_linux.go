package events

import (
	"os"
	"syscall"
)

// syncData makes the bytes written to f durable without its metadata
// other than what reading them needs (fdatasync). Over blocks the file
// already holds (the segment's zeros ahead) that is no journal commit.
func syncData(f *os.File) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	if err := rc.Control(func(fd uintptr) {
		for {
			serr = syscall.Fdatasync(int(fd))
			if serr != syscall.EINTR {
				return
			}
		}
	}); err != nil {
		return err
	}
	if serr != nil {
		return &os.PathError{Op: "fdatasync", Path: f.Name(), Err: serr}
	}
	return nil
}
