package identity_test

import (
	"bytes"
	"crypto/rand"
	"strings"
	"testing"

	"github.com/portcullis/portcullis/internal/identity"
)

func TestHashPasswordRoundTrip(t *testing.T) {
	phc, err := identity.HashPassword("correct horse battery staple", identity.DefaultArgon2id, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(phc, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Fatalf("PHC string %q does not carry the default parameters", phc)
	}
	for _, tt := range []struct {
		password string
		want     bool
	}{
		{"correct horse battery staple", true},
		{"correct horse battery stapler", false},
		{"Correct horse battery staple", false},
		{"", false},
	} {
		got, err := identity.VerifyPassword(phc, tt.password)
		if err != nil || got != tt.want {
			t.Errorf("VerifyPassword(%q) = %v, %v; want %v", tt.password, got, err, tt.want)
		}
	}
	// A fresh salt every time: the same password never hashes to the same string.
	again, err := identity.HashPassword("correct horse battery staple", identity.DefaultArgon2id, rand.Reader)
	if err != nil || again == phc {
		t.Fatalf("second hash = %q, %v; want a different salt", again, err)
	}
}

// TestHashPasswordKnownAnswer pins the PHC encoding and the argon2id computation against the
// reference implementation: the wanted strings are the output of the argon2 command of the
// reference C implementation (Debian package argon2), e.g.
//
//	echo -n password | argon2 0123456789abcdef -id -t 1 -k 64 -p 1 -l 16 -e
func TestHashPasswordKnownAnswer(t *testing.T) {
	tests := []struct {
		password, salt string
		params         identity.Argon2idParams
		want           string
	}{
		{"password", "0123456789abcdef", identity.Argon2idParams{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 16},
			"$argon2id$v=19$m=64,t=1,p=1$MDEyMzQ1Njc4OWFiY2RlZg$J/v5MmIb6KQXDBCdN9L8LQ"},
		{"correct horse battery staple", "saltsaltsaltsalt", identity.DefaultArgon2id,
			"$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$QKHrg5tayLGcN+Y0HVPNaBqykOVLUxlMkZycXE1uWRM"},
	}
	for _, tt := range tests {
		phc, err := identity.HashPassword(tt.password, tt.params, strings.NewReader(tt.salt))
		if err != nil {
			t.Fatal(err)
		}
		if phc != tt.want {
			t.Errorf("HashPassword(%q) = %s\nwant %s", tt.password, phc, tt.want)
		}
		if ok, err := identity.VerifyPassword(tt.want, tt.password); err != nil || !ok {
			t.Errorf("VerifyPassword(reference hash, %q) = %v, %v", tt.password, ok, err)
		}
	}
}

func TestParsePHCRejects(t *testing.T) {
	good := "$argon2id$v=19$m=64,t=1,p=1$MDEyMzQ1Njc4OWFiY2RlZg$MDEyMzQ1Njc4OWFiY2RlZg"
	if err := identity.ParsePHC(good); err != nil {
		t.Fatalf("ParsePHC(good) = %v", err)
	}
	bad := map[string]string{
		"argon2i":          strings.Replace(good, "argon2id", "argon2i", 1),
		"version 16":       strings.Replace(good, "v=19", "v=16", 1),
		"params reordered": strings.Replace(good, "m=64,t=1,p=1", "t=1,m=64,p=1", 1),
		"leading zero":     strings.Replace(good, "m=64", "m=064", 1),
		"signed":           strings.Replace(good, "t=1", "t=+1", 1),
		"memory too small": strings.Replace(good, "m=64", "m=4", 1),
		"memory too big":   strings.Replace(good, "m=64", "m=4194304", 1),
		"time zero":        strings.Replace(good, "t=1", "t=0", 1),
		"time too big":     strings.Replace(good, "t=1", "t=100", 1),
		"no lanes":         strings.Replace(good, "p=1", "p=0", 1),
		"too many lanes":   strings.Replace(good, "p=1", "p=300", 1),
		"short salt":       strings.Replace(good, "$MDEyMzQ1Njc4OWFiY2RlZg$", "$MDEy$", 1),
		"padded salt":      strings.Replace(good, "Zg$", "Zg==$", 1),
		"short tag":        good[:len(good)-10],
		"extra field":      good + "$x",
		"empty":            "",
		"long":             good + strings.Repeat("A", 300),
	}
	for name, s := range bad {
		if err := identity.ParsePHC(s); err == nil {
			t.Errorf("%s: ParsePHC(%q) accepted", name, s)
		}
		if _, err := identity.VerifyPassword(s, "password"); err == nil {
			t.Errorf("%s: VerifyPassword accepted the hash", name)
		}
	}
}

func TestHashPasswordBadParamsOrRandom(t *testing.T) {
	if _, err := identity.HashPassword("pw", identity.Argon2idParams{Memory: 64, Time: 0, Threads: 1, SaltLen: 16, KeyLen: 32}, rand.Reader); err == nil {
		t.Error("HashPassword accepted t=0")
	}
	if _, err := identity.HashPassword("pw", identity.DefaultArgon2id, bytes.NewReader(nil)); err == nil {
		t.Error("HashPassword succeeded without randomness")
	}
}

// FuzzParsePHC: the PHC parser never panics, and whatever it accepts it would also have
// written (parameters within bounds, canonical encoding).
func FuzzParsePHC(f *testing.F) {
	f.Add("$argon2id$v=19$m=64,t=1,p=1$MDEyMzQ1Njc4OWFiY2RlZg$MDEyMzQ1Njc4OWFiY2RlZg")
	f.Add("$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g")
	f.Add("$argon2id$v=19$m=,t=,p=$$")
	f.Fuzz(func(t *testing.T, s string) {
		if identity.ParsePHC(s) != nil {
			return
		}
		if !strings.HasPrefix(s, "$argon2id$v=19$m=") || len(s) > 256 {
			t.Fatalf("accepted %q", s)
		}
	})
}
