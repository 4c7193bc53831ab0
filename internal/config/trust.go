package config

import (
	"fmt"

	"github.com/portcullis/portcullis/internal/pki"
)

// RevocationPolicy is what happens when a certificate's revocation status cannot be
// established (pki.md §2.4). A certificate known to be revoked is always rejected.
type RevocationPolicy string

// The revocation fail policies.
const (
	// HardFail rejects the certificate. The zero value means this.
	HardFail RevocationPolicy = "hard-fail"
	// SoftFail accepts it, logs a warning and counts it in a metric. For dev and
	// sandbox anchors only.
	SoftFail RevocationPolicy = "soft-fail"
)

// IsSoftFail reports whether p is exactly [SoftFail]; every other value, the zero value
// included, fails hard.
func (p RevocationPolicy) IsSoftFail() bool { return p == SoftFail }

// Trust lists the certificate authorities client certificates must chain to.
type Trust struct {
	// Anchors are the trust anchors, each with its profile and fail policy. Empty
	// means no client certificate validates (in dev mode main adds the sandbox CA).
	// Settable only in the config file.
	Anchors []Anchor `koanf:"anchors"`
	// IntermediatesFile is an optional PEM bundle of intermediate CAs used to complete
	// chains clients send incomplete. Intermediates are never trusted on their own.
	IntermediatesFile string `koanf:"intermediates_file"`
}

// Anchor is one trust anchor (pki.md §1.5, §1.6, §2.4).
type Anchor struct {
	// Name labels the anchor in identities, logs and metrics: 1 to 64 characters of
	// A-Z a-z 0-9 . _ -, unique. Required.
	Name string `koanf:"name"`
	// File is the PEM file of the root certificate(s). Required.
	File string `koanf:"file"`
	// Profile selects the validation rules: eidas, ob or plain. Required.
	Profile pki.Profile `koanf:"profile"`
	// Revocation is hard-fail (default, also when empty) or soft-fail.
	Revocation RevocationPolicy `koanf:"revocation"`
}

func (t Trust) validate() []error {
	var errs []error
	seen := make(map[string]bool)
	for i, a := range t.Anchors {
		f := func(key string) string { return fmt.Sprintf("trust.anchors[%d].%s", i, key) }
		switch {
		case a.Name == "":
			errs = append(errs, fieldErr(f("name"), "is required"))
		case !validAnchorName(a.Name):
			errs = append(errs, fieldErr(f("name"), "must be 1 to 64 characters of A-Z a-z 0-9 . _ -"))
		case seen[a.Name]:
			errs = append(errs, fieldErr(f("name"), "duplicate anchor name %q", a.Name))
		}
		seen[a.Name] = true
		if a.File == "" {
			errs = append(errs, fieldErr(f("file"), "is required"))
		}
		switch a.Profile {
		case pki.ProfileEIDAS, pki.ProfileOB, pki.ProfilePlain:
		case "":
			errs = append(errs, fieldErr(f("profile"), "is required (eidas, ob or plain)"))
		default:
			errs = append(errs, fieldErr(f("profile"), "must be eidas, ob or plain, not %q", a.Profile))
		}
		switch a.Revocation {
		case "", HardFail, SoftFail:
		default:
			errs = append(errs, fieldErr(f("revocation"), "must be hard-fail or soft-fail, not %q", a.Revocation))
		}
	}
	return errs
}

func validAnchorName(s string) bool {
	if len(s) == 0 || len(s) > 64 {
		return false
	}
	for _, c := range []byte(s) {
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '.', c == '_', c == '-':
		default:
			return false
		}
	}
	return true
}
