//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package sandbox

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

// Bounded wait for the directory lock: lockAttempts polls lockPoll apart (10 s in all).
// Variables so tests can shorten the wait.
var (
	lockAttempts = 1000
	lockPoll     = 10 * time.Millisecond
)

// lockDir takes the exclusive advisory lock (flock) on dir/.lock, polling for at most
// lockAttempts×lockPoll, and returns the function that releases it. flock locks belong to
// the open file, so two CA values in one process exclude each other as two processes do,
// and a crashed holder's lock is released by the kernel.
func lockDir(dir string) (unlock func(), err error) {
	f, err := os.OpenFile(filepath.Join(dir, fileLock), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("sandbox: open lock file: %w", err)
	}
	for i := 0; ; i++ {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			break
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) && !errors.Is(err, syscall.EINTR) {
			f.Close()
			return nil, fmt.Errorf("sandbox: lock %s: %w", dir, err)
		}
		if i >= lockAttempts {
			f.Close()
			return nil, fmt.Errorf("%w: %s", ErrLocked, filepath.Join(dir, fileLock))
		}
		time.Sleep(lockPoll)
	}
	return func() {
		_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}, nil
}
