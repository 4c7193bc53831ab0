// Package secretfile creates the small secret files a node generates on first start (key
// files, the subject secret) so that concurrent first starts — two processes, or two
// goroutines — agree on one content and nobody ever reads a partly written file: the
// content is written and synced to a temporary file in the same directory, then linked to
// its name, which fails when another writer got there first.
package secretfile

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// CreateOnce makes path hold content (mode 0600; the directory is created with 0700 when
// missing) unless the file already exists, and returns what the file holds afterwards:
// content when this call created it, the existing content otherwise. It never leaves a
// partial file under path.
func CreateOnce(path string, content []byte) ([]byte, error) {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("secretfile: %w", err)
	}
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+"-*.tmp")
	if err != nil {
		return nil, fmt.Errorf("secretfile: %w", err)
	}
	defer os.Remove(tmp.Name())
	_, werr := tmp.Write(content)
	if err := errors.Join(werr, tmp.Chmod(0o600), tmp.Sync(), tmp.Close()); err != nil {
		return nil, fmt.Errorf("secretfile: %w", err)
	}
	if err := os.Link(tmp.Name(), path); err != nil && !errors.Is(err, fs.ErrExist) {
		return nil, fmt.Errorf("secretfile: %w", err)
	}
	return os.ReadFile(path)
}
