package identity_test

import (
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/identity"
)

// rfc6238Secret is the SHA-1 seed of RFC 6238 Appendix B.
var rfc6238Secret = []byte("12345678901234567890")

// TestTOTPRFC6238Vectors checks the SHA-1 test vectors of RFC 6238 Appendix B (8 digits), and
// that the 6-digit code the pages take is their last six digits (RFC 4226 §5.3: mod 10^6).
func TestTOTPRFC6238Vectors(t *testing.T) {
	vectors := []struct {
		unix int64
		code string
	}{
		{59, "94287082"},
		{1111111109, "07081804"},
		{1111111111, "14050471"},
		{1234567890, "89005924"},
		{2000000000, "69279037"},
		{20000000000, "65353130"},
	}
	for _, v := range vectors {
		at := time.Unix(v.unix, 0).UTC()
		got, err := identity.TOTPCodeDigits(rfc6238Secret, at, 8)
		if err != nil {
			t.Fatalf("T=%d: %v", v.unix, err)
		}
		if got != v.code {
			t.Errorf("T=%d: code = %s, want %s", v.unix, got, v.code)
		}
		got6, err := identity.TOTPCode(rfc6238Secret, at)
		if err != nil {
			t.Fatalf("T=%d: %v", v.unix, err)
		}
		if got6 != v.code[2:] {
			t.Errorf("T=%d: 6-digit code = %s, want %s", v.unix, got6, v.code[2:])
		}
	}
}

func TestParseTOTPSecret(t *testing.T) {
	tests := []struct {
		in      string
		wantLen int // 0: want an InvalidCustomerError on totp-secret
	}{
		{"GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ", 20},        // RFC 6238's seed in base32
		{"gezd gnbv gy3t qojq gezd gnbv gy3t qojq", 20}, // lower case with spaces, as apps show it
		{"GEZDGNBVGY3TQOJQGEZDGNBVGY======", 16},        // padded, 128 bits: the minimum
		{"GEZDGNBVGY3TQOJQGEZDGNBV", 0},                 // 120 bits: too short
		{"GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJ1", 0},         // '1' is not base32
		{"", 0},
	}
	for _, tt := range tests {
		got, err := identity.ParseTOTPSecret(tt.in)
		if tt.wantLen == 0 {
			if ie, ok := err.(*identity.InvalidCustomerError); !ok || ie.Field != "totp-secret" {
				t.Errorf("ParseTOTPSecret(%q) = %x, %v; want an invalid totp-secret error", tt.in, got, err)
			}
			continue
		}
		if err != nil || len(got) != tt.wantLen {
			t.Errorf("ParseTOTPSecret(%q) = %d bytes, %v; want %d bytes", tt.in, len(got), err, tt.wantLen)
		}
	}
}

func TestTOTPURI(t *testing.T) {
	uri, err := identity.TOTPURI("alice@example.com", rfc6238Secret)
	if err != nil {
		t.Fatal(err)
	}
	want := "otpauth://totp/Portcullis:alice@example.com?algorithm=SHA1&digits=6&issuer=Portcullis&period=30&secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"
	if uri != want {
		t.Fatalf("TOTPURI = %s\nwant    %s", uri, want)
	}
}
