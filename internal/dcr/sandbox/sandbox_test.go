package sandbox_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/clock"
	"github.com/portcullis/portcullis/internal/dcr"
	"github.com/portcullis/portcullis/internal/dcr/sandbox"
	"github.com/portcullis/portcullis/internal/jose"
)

func opts() sandbox.SSAOptions {
	return sandbox.SSAOptions{
		SoftwareID: "TppApp1", OrgID: "0015800001HQQrZAAX", OrgName: "Example TPP Ltd", RegistrationID: "PSDGB-FCA-123456",
		Roles: []string{"AISP", "PISP"}, RedirectURIs: []string{"https://tpp.example.com/cb"},
		JWKSURI: "https://tpp.example.com/jwks", RevokedJWKSURI: "https://tpp.example.com/revoked",
	}
}

// TestInitIssueTrust: a directory created by Init signs SSAs that the dcr.Directory from
// Trust verifies, with every claim registration needs; Init refuses to overwrite.
func TestInitIssueTrust(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "directory")
	clk := clock.NewFake(time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC))
	d, err := sandbox.Init(dir, clk)
	if err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(filepath.Join(dir, sandbox.FileKey)); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v %v", fi, err)
	}
	if _, err := sandbox.Init(dir, clk); !errors.Is(err, sandbox.ErrExists) {
		t.Fatalf("second Init: %v", err)
	}
	d2, err := sandbox.Open(dir, clk)
	if err != nil || d2.KeyID() != d.KeyID() {
		t.Fatalf("Open: %v", err)
	}
	trust, err := sandbox.Trust(dir)
	if err != nil || trust.Issuer != sandbox.Issuer {
		t.Fatalf("Trust: %+v %v", trust, err)
	}
	raw, err := d2.IssueSSA(opts())
	if err != nil {
		t.Fatal(err)
	}
	v, err := jose.VerifyJWT(context.Background(), raw, trust.Keys, jose.VerifyOptions{Types: []string{"JWT"}})
	if err != nil || v.Header.Alg != jose.PS256 || v.Header.KeyID != d.KeyID() {
		t.Fatalf("verify: %+v %v", v.Header, err)
	}
	ssa, err := dcr.ParseSSA(raw)
	if err != nil {
		t.Fatal(err)
	}
	if ssa.Issuer != sandbox.Issuer || ssa.SoftwareID != "TppApp1" || ssa.OrgStatus != "Active" || !ssa.IssuedAt.Equal(clk.Now()) ||
		!slices.Equal(ssa.SoftwareRoles, []string{"AISP", "PISP"}) || ssa.SoftwareJWKSEndpoint != "https://tpp.example.com/jwks" ||
		ssa.SoftwareJWKSRevokedEndpoint != "https://tpp.example.com/revoked" || len(ssa.CompetentAuthority) != 1 ||
		ssa.CompetentAuthority[0].RegistrationID != "PSDGB-FCA-123456" || !ssa.Expiry.IsZero() {
		t.Fatalf("ssa = %+v", ssa)
	}
}

func TestIssueSSARefuses(t *testing.T) {
	d, err := sandbox.Init(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	for name, edit := range map[string]func(*sandbox.SSAOptions){
		"software id not Base62": func(o *sandbox.SSAOptions) { o.SoftwareID = "tpp-app" },
		"software id too long":   func(o *sandbox.SSAOptions) { o.SoftwareID = "a1234567890123456789012" },
		"no org":                 func(o *sandbox.SSAOptions) { o.OrgID = "" },
		"unknown role":           func(o *sandbox.SSAOptions) { o.Roles = []string{"AISP", "BANK"} },
		"http redirect":          func(o *sandbox.SSAOptions) { o.RedirectURIs = []string{"http://tpp.example.com/cb"} },
		"no jwks uri":            func(o *sandbox.SSAOptions) { o.JWKSURI = "" },
	} {
		t.Run(name, func(t *testing.T) {
			o := opts()
			edit(&o)
			if _, err := d.IssueSSA(o); err == nil {
				t.Fatal("IssueSSA accepted invalid options")
			}
		})
	}
}
