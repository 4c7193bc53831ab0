package web

import (
	"crypto/rand"
	"testing"
)

// testKey is a fresh session sealing key.
func testKey(t testing.TB) []byte {
	t.Helper()
	k := make([]byte, KeySize)
	if _, err := rand.Read(k); err != nil {
		t.Fatal(err)
	}
	return k
}
