package secretfile

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
)

// TestCreateOnceConcurrent: 16 concurrent first writers agree on one complete content, and
// no temporary file is left behind.
func TestCreateOnceConcurrent(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "sub", "key")
	got := make([][]byte, 16)
	var wg sync.WaitGroup
	for i := range got {
		wg.Go(func() {
			b, err := CreateOnce(path, bytes.Repeat([]byte{byte('a' + i)}, 4096))
			if err != nil {
				t.Error(err)
			}
			got[i] = b
		})
	}
	wg.Wait()
	for i, b := range got {
		if len(b) != 4096 || !bytes.Equal(b, got[0]) {
			t.Fatalf("writer %d read %d bytes %q…, writer 0 %q…", i, len(b), b[:min(len(b), 4)], got[0][:4])
		}
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("file: %v, %v", fi, err)
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Errorf("left in the directory: %v", fmt.Sprint(entries))
	}
	// An existing file is kept.
	if b, err := CreateOnce(path, []byte("other")); err != nil || !bytes.Equal(b, got[0]) {
		t.Errorf("second CreateOnce: %q, %v", b, err)
	}
}
