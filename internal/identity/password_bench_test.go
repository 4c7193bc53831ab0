//go:build unix

package identity_test

import (
	"crypto/rand"
	"syscall"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/identity"
)

// BenchmarkVerifyPassword is one argon2id verification with DefaultArgon2id: the cost of one
// login's first factor (BENCHMARKS.md). Besides wall time it reports the process CPU time per
// verification (cpu-µs/op), which other load on the machine disturbs much less.
func BenchmarkVerifyPassword(b *testing.B) {
	phc, err := identity.HashPassword("correct horse battery staple", identity.DefaultArgon2id, rand.Reader)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	start := cpuTime(b)
	for b.Loop() {
		if ok, err := identity.VerifyPassword(phc, "correct horse battery staple"); !ok || err != nil {
			b.Fatal(ok, err)
		}
	}
	b.ReportMetric(float64((cpuTime(b)-start).Microseconds())/float64(b.N), "cpu-µs/op")
}

// cpuTime is the user and system CPU time the process has used.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
