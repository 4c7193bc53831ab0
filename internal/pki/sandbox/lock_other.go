//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package sandbox

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// Bounded wait for the directory lock: lockAttempts polls lockPoll apart (10 s in all).
// Variables so tests can shorten the wait.
var (
	lockAttempts = 1000
	lockPoll     = 10 * time.Millisecond
)

// lockDir takes the directory lock by creating dir/.lock exclusively, polling for at most
// lockAttempts×lockPoll, and returns the function that releases it (removes the file).
// A lock file left by a crashed process must be removed by hand; ErrLocked names it.
func lockDir(dir string) (unlock func(), err error) {
	path := filepath.Join(dir, fileLock+".excl") // not .lock: a flock platform leaves that file behind
	for i := 0; ; i++ {
		f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
		if err == nil {
			f.Close()
			return func() { os.Remove(path) }, nil
		}
		if !errors.Is(err, os.ErrExist) {
			return nil, fmt.Errorf("sandbox: lock %s: %w", dir, err)
		}
		if i >= lockAttempts {
			return nil, fmt.Errorf("%w: %s (remove it if no portcullis process is running)", ErrLocked, path)
		}
		time.Sleep(lockPoll)
	}
}
