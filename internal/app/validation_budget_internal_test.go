package app

import (
	"testing"
	"time"
)

// TestCertificateValidationBudget: a request's certificate validation ends 5 s before the
// write timeout, or at half of it when that is under 10 s; always before the write timeout.
func TestCertificateValidationBudget(t *testing.T) {
	for _, tc := range []struct{ write, want time.Duration }{
		{30 * time.Second, 25 * time.Second}, // the default http.write_timeout
		{10 * time.Second, 5 * time.Second},
		{9 * time.Second, 4500 * time.Millisecond},
		{2 * time.Second, time.Second},
		{time.Minute, 55 * time.Second},
	} {
		if got := certificateValidationBudget(tc.write); got != tc.want || got <= 0 || got >= tc.write {
			t.Errorf("certificateValidationBudget(%v) = %v, want %v (positive, under the write timeout)", tc.write, got, tc.want)
		}
	}
}
