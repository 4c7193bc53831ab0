package jose

import (
	"crypto/sha256"
	"crypto/sha512"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestAllowed(t *testing.T) {
	tests := []struct {
		alg     string
		profile Profile
		ok      bool
	}{
		{"PS256", FAPI1, true},
		{"ES256", FAPI1, true},
		{"EdDSA", FAPI1, false},
		{"PS256", FAPI2, true},
		{"ES256", FAPI2, true},
		{"EdDSA", FAPI2, true},
		{"EdDSA", "", false},
		{"EdDSA", "fapi3", false},
		{"ES256", "", true},
		{"none", FAPI2, false},
		{"None", FAPI2, false},
		{"", FAPI2, false},
		{"HS256", FAPI2, false},
		{"HS512", FAPI2, false},
		{"RS256", FAPI2, false},
		{"RS512", FAPI2, false},
		{"PS384", FAPI2, false},
		{"ES384", FAPI2, false},
		{"ES256K", FAPI2, false},
		{"Ed25519", FAPI2, false},
		{"es256", FAPI2, false},
		{"ES256 ", FAPI2, false},
	}
	for _, tc := range tests {
		err := Allowed(tc.alg, tc.profile)
		if tc.ok != (err == nil) {
			t.Errorf("Allowed(%q, %q) = %v", tc.alg, tc.profile, err)
		}
		if err != nil {
			var ae *AlgError
			if !errors.Is(err, ErrAlgNotAllowed) || !errors.As(err, &ae) || ae.Alg != tc.alg {
				t.Errorf("Allowed(%q) error %v does not match ErrAlgNotAllowed / *AlgError", tc.alg, err)
			}
		}
	}
	if diff := cmp.Diff([]Alg{PS256, ES256}, AlgorithmsFor(FAPI1)); diff != "" {
		t.Errorf("FAPI1 algs (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]Alg{PS256, ES256, EdDSA}, AlgorithmsFor(FAPI2)); diff != "" {
		t.Errorf("FAPI2 algs (-want +got):\n%s", diff)
	}
}

func TestHalfHash(t *testing.T) {
	const state = "12345678901234567890"
	s256 := sha256.Sum256([]byte(state))
	s512 := sha512.Sum512([]byte(state))
	for _, tc := range []struct {
		alg  Alg
		want string
	}{
		{ES256, b64(s256[:16])},
		{PS256, b64(s256[:16])},
		{EdDSA, b64(s512[:32])},
	} {
		got, err := HalfHash(tc.alg, state)
		if err != nil || got != tc.want {
			t.Errorf("HalfHash(%s) = %q, %v; want %q", tc.alg, got, err, tc.want)
		}
	}
	if _, err := HalfHash("RS256", state); !errors.Is(err, ErrAlgNotAllowed) {
		t.Errorf("HalfHash(RS256): %v", err)
	}
}
