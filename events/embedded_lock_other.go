//go:build !unix

package events

import (
	"fmt"
	"os"
)

// lockDir creates dir/LOCK exclusively; a crash leaves it behind and an
// operator must remove it. Only unix systems get a real lock.
func lockDir(dir string) (*os.File, error) {
	f, err := os.OpenFile(dir+"/LOCK", os.O_RDWR|os.O_CREATE|os.O_EXCL, fileMode)
	if err != nil {
		if os.IsExist(err) {
			return nil, fmt.Errorf("%w: %s/LOCK exists", ErrLocked, dir)
		}
		return nil, fmt.Errorf("lock %s: %w", dir, err)
	}
	return f, nil
}

// unlockDir releases the lock taken by lockDir.
func unlockDir(f *os.File) error {
	err := f.Close()
	if rerr := os.Remove(f.Name()); err == nil {
		err = rerr
	}
	return err
}
