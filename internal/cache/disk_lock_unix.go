//go:build unix

package cache

import (
	"os"
	"syscall"
)

// lockFile takes an exclusive, non-blocking flock on f. Locks belong to the
// open file, so a second Disk in the same process is refused too.
func lockFile(f *os.File) error {
	return syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
}
