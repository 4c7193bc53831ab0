package pki_test

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/portcullis/portcullis/internal/clock"
	"github.com/portcullis/portcullis/internal/pki"
	"github.com/portcullis/portcullis/internal/pki/eidas"
	"github.com/portcullis/portcullis/internal/pki/pkitest"
	"github.com/portcullis/portcullis/internal/pki/revocation"
)

var testNow = time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)

// revokedError is the fake checker's typed error, to show errors.As reaches it.
type revokedError struct{ serial string }

func (e *revokedError) Error() string { return "revoked: " + e.serial }

type checkCall struct {
	cert, issuer *x509.Certificate
	softFail     bool
}

// fakeRevocation answers from a table of revoked serials and records its calls.
type fakeRevocation struct {
	mu      sync.Mutex
	revoked map[string]bool
	calls   []checkCall
}

func (f *fakeRevocation) Check(_ context.Context, cert, issuer *x509.Certificate, softFail bool) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, checkCall{cert, issuer, softFail})
	if f.revoked[cert.SerialNumber.String()] {
		return &revokedError{serial: cert.SerialNumber.String()}
	}
	return nil
}

func (f *fakeRevocation) revoke(c *x509.Certificate) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.revoked == nil {
		f.revoked = map[string]bool{}
	}
	f.revoked[c.SerialNumber.String()] = true
}

// env is the test PKI: three configured anchors (one per profile) and one stranger.
type env struct {
	clk                      *clock.Fake
	eidasCA, obCA, plainCA   *pkitest.CA
	strangerCA               *pkitest.CA
	shortCA                  *pkitest.CA // root and intermediate expire an hour after testNow
	shortRootCA              *pkitest.CA // root only, expires an hour after testNow
	anchors                  []pki.Anchor
	eidasAnchor, obAnchor    pki.Anchor
	plainAnchor, shortAnchor pki.Anchor
}

func newEnv(t *testing.T) *env {
	t.Helper()
	e := &env{clk: clock.NewFake(testNow)}
	e.eidasCA = pkitest.NewCA(t, pkitest.CAOptions{Clock: e.clk, Name: "Test QTSP Root", Intermediate: true})
	e.obCA = pkitest.NewCA(t, pkitest.CAOptions{Clock: e.clk, Name: "Test OB Root", Intermediate: true})
	e.plainCA = pkitest.NewCA(t, pkitest.CAOptions{Clock: e.clk, Name: "Test Plain Root"})
	e.strangerCA = pkitest.NewCA(t, pkitest.CAOptions{Clock: e.clk, Name: "Stranger Root", Intermediate: true})
	e.shortCA = pkitest.NewCA(t, pkitest.CAOptions{Clock: e.clk, Name: "Short Root", Intermediate: true,
		NotBefore: testNow.Add(-time.Hour), NotAfter: testNow.Add(time.Hour)})
	e.shortRootCA = pkitest.NewCA(t, pkitest.CAOptions{Clock: e.clk, Name: "Short Single Root",
		NotBefore: testNow.Add(-time.Hour), NotAfter: testNow.Add(time.Hour)})
	e.eidasAnchor = pki.Anchor{Name: "eu-qtsp", Cert: e.eidasCA.Root, Profile: pki.ProfileEIDAS}
	e.obAnchor = pki.Anchor{Name: "ob-directory", Cert: e.obCA.Root, Profile: pki.ProfileOB, SoftFail: true}
	e.plainAnchor = pki.Anchor{Name: "partners", Cert: e.plainCA.Root, Profile: pki.ProfilePlain}
	e.shortAnchor = pki.Anchor{Name: "short", Cert: e.shortCA.Root, Profile: pki.ProfilePlain}
	e.anchors = []pki.Anchor{e.eidasAnchor, e.obAnchor, e.plainAnchor, e.shortAnchor,
		{Name: "short-single", Cert: e.shortRootCA.Root, Profile: pki.ProfilePlain}}
	return e
}

func (e *env) validator(t *testing.T, rev pki.RevocationChecker, clk clock.Clock) *pki.Validator {
	t.Helper()
	v, err := pki.NewValidator(pki.Options{Anchors: e.anchors, Revocation: rev, Clock: clk})
	if err != nil {
		t.Fatalf("NewValidator: %v", err)
	}
	return v
}

func thumbprint(c *x509.Certificate) string {
	sum := sha256.Sum256(c.Raw)
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

var certComparer = cmp.Comparer(func(a, b *x509.Certificate) bool { return a.Equal(b) })

func chainOf(leaf *pkitest.Leaf, root *x509.Certificate) []*x509.Certificate {
	return append(append([]*x509.Certificate(nil), leaf.Chain...), root)
}

// TestValidateIdentity checks every field of the Identity for each kind of
// certificate.
func TestValidateIdentity(t *testing.T) {
	e := newEnv(t)
	const obSubject = "CN=0015800001HQQrZAAX,organizationIdentifier=PSDGB-OB-Unknown0015800001HQQrZAAX,O=Example TPP Ltd,C=GB"
	const eidasSubject = "CN=0015800001HQQrZAAX,organizationIdentifier=PSDGB-FCA-123456,O=Example TPP Ltd,C=GB"
	fcaOrg := eidas.OrganizationIdentifier{Raw: "PSDGB-FCA-123456", Scheme: "PSD", Country: "GB", NCA: "FCA", Reference: "123456"}
	obOrg := eidas.OrganizationIdentifier{Raw: "PSDGB-OB-Unknown0015800001HQQrZAAX", Scheme: "PSD", Country: "GB", NCA: "OB", Reference: "Unknown0015800001HQQrZAAX"}

	obNoOrgID := pkitest.OBWACOptions(eidas.RoleAISP)
	obNoOrgID.OrganizationIdentifier = ""
	obNoOrgID.Subject.CommonName = "0015800001ZZZzZZZZ"

	plainAll := pkitest.PlainOptions()
	plainAll.EmailAddresses = []string{"ops@client.example"}
	plainAll.IPAddresses = []net.IP{net.ParseIP("192.0.2.10").To4()}
	plainAll.URIs = []*url.URL{{Scheme: "spiffe", Host: "client.example", Path: "/gateway"}}
	plainAll.Subject.ExtraNames = []pkix.AttributeTypeAndValue{{Type: asn1.ObjectIdentifier{2, 5, 4, 97}, Value: "PSDGB-FCA-999"}}

	tests := []struct {
		name    string
		ca      *pkitest.CA
		anchor  pki.Anchor
		opts    pkitest.LeafOptions
		purpose pki.Purpose
		want    pki.Identity // Leaf, Chain and Thumbprint are filled in from the issued leaf
	}{
		{
			name: "QWAC for transport", ca: e.eidasCA, anchor: e.eidasAnchor,
			opts: pkitest.QWACOptions(), purpose: pki.PurposeTransport,
			want: pki.Identity{
				Subject: eidasSubject, DNSNames: []string{"tpp.example.com"},
				Kind: pki.KindQWAC, Profile: pki.ProfileEIDAS, Anchor: "eu-qtsp",
				Roles:   []eidas.Role{eidas.RoleASPSP, eidas.RolePISP, eidas.RoleAISP, eidas.RoleCBPII},
				NCAName: "Financial Conduct Authority", NCAID: "GB-FCA", Organization: fcaOrg, OrgID: "PSDGB-FCA-123456",
			},
		},
		{
			name: "QWAC with the Unspecified role", ca: e.eidasCA, anchor: e.eidasAnchor,
			opts: pkitest.QWACOptions(eidas.RoleUnspecified), purpose: pki.PurposeTransport,
			want: pki.Identity{
				Subject: eidasSubject, DNSNames: []string{"tpp.example.com"},
				Kind: pki.KindQWAC, Profile: pki.ProfileEIDAS, Anchor: "eu-qtsp",
				Roles:   []eidas.Role{eidas.RoleUnspecified},
				NCAName: "Financial Conduct Authority", NCAID: "GB-FCA", Organization: fcaOrg, OrgID: "PSDGB-FCA-123456",
			},
		},
		{
			name: "QSealC for signing", ca: e.eidasCA, anchor: e.eidasAnchor,
			opts: pkitest.QSealCOptions(eidas.RolePISP, eidas.RoleAISP), purpose: pki.PurposeSigning,
			want: pki.Identity{
				Subject: eidasSubject,
				Kind:    pki.KindQSealC, Profile: pki.ProfileEIDAS, Anchor: "eu-qtsp",
				Roles:   []eidas.Role{eidas.RolePISP, eidas.RoleAISP},
				NCAName: "Financial Conduct Authority", NCAID: "GB-FCA", Organization: fcaOrg, OrgID: "PSDGB-FCA-123456",
			},
		},
		{
			name: "OBWAC for transport", ca: e.obCA, anchor: e.obAnchor,
			opts: pkitest.OBWACOptions(eidas.RoleAISP, eidas.RolePISP), purpose: pki.PurposeTransport,
			want: pki.Identity{
				Subject: obSubject, DNSNames: []string{"tpp.example.com"},
				Kind: pki.KindOBWAC, Profile: pki.ProfileOB, Anchor: "ob-directory",
				Roles:   []eidas.Role{eidas.RoleAISP, eidas.RolePISP},
				NCAName: "Open Banking", NCAID: "GB-OB", Organization: obOrg, OrgID: "0015800001HQQrZAAX",
			},
		},
		{
			name: "OBSeal for signing", ca: e.obCA, anchor: e.obAnchor,
			opts: pkitest.OBSealOptions(eidas.RolePISP, eidas.RoleAISP, eidas.RoleCBPII), purpose: pki.PurposeSigning,
			want: pki.Identity{
				Subject: obSubject,
				Kind:    pki.KindOBSeal, Profile: pki.ProfileOB, Anchor: "ob-directory",
				Roles:   []eidas.Role{eidas.RolePISP, eidas.RoleAISP, eidas.RoleCBPII},
				NCAName: "Open Banking", NCAID: "GB-OB", Organization: obOrg, OrgID: "0015800001HQQrZAAX",
			},
		},
		{
			name: "OBWAC without organizationIdentifier", ca: e.obCA, anchor: e.obAnchor,
			opts: obNoOrgID, purpose: pki.PurposeTransport,
			want: pki.Identity{
				Subject: "CN=0015800001ZZZzZZZZ,O=Example TPP Ltd,C=GB", DNSNames: []string{"tpp.example.com"},
				Kind: pki.KindOBWAC, Profile: pki.ProfileOB, Anchor: "ob-directory",
				Roles:   []eidas.Role{eidas.RoleAISP},
				NCAName: "Open Banking", NCAID: "GB-OB", OrgID: "0015800001ZZZzZZZZ",
			},
		},
		{
			name: "plain certificate with every SAN type", ca: e.plainCA, anchor: e.plainAnchor,
			opts: plainAll, purpose: pki.PurposeTransport,
			want: pki.Identity{
				Subject:  "organizationIdentifier=PSDGB-FCA-999,CN=client.example.com,O=Example Client Ltd",
				DNSNames: []string{"client.example.com"}, EmailAddresses: []string{"ops@client.example"},
				IPAddresses: []net.IP{net.ParseIP("192.0.2.10").To4()}, URIs: []string{"spiffe://client.example/gateway"},
				Kind: pki.KindPlain, Profile: pki.ProfilePlain, Anchor: "partners",
			},
		},
		{
			name: "plain certificate for signing", ca: e.plainCA, anchor: e.plainAnchor,
			opts: pkitest.PlainOptions(), purpose: pki.PurposeSigning,
			want: pki.Identity{
				Subject: "CN=client.example.com,O=Example Client Ltd", DNSNames: []string{"client.example.com"},
				Kind: pki.KindPlain, Profile: pki.ProfilePlain, Anchor: "partners",
			},
		},
		{
			name: "QWAC under a plain anchor carries no PSD2 data", ca: e.plainCA, anchor: e.plainAnchor,
			opts: pkitest.QWACOptions(), purpose: pki.PurposeTransport,
			want: pki.Identity{
				Subject: eidasSubject, DNSNames: []string{"tpp.example.com"},
				Kind: pki.KindPlain, Profile: pki.ProfilePlain, Anchor: "partners",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rev := &fakeRevocation{}
			v := e.validator(t, rev, e.clk)
			leaf := tt.ca.Issue(t, tt.opts)
			got, err := v.Validate(context.Background(), leaf.Chain, tt.purpose)
			if err != nil {
				t.Fatalf("Validate: %v", err)
			}
			want := tt.want
			want.Leaf = leaf.Cert
			want.Chain = chainOf(leaf, tt.ca.Root)
			want.Thumbprint = thumbprint(leaf.Cert)
			if diff := cmp.Diff(&want, got, certComparer); diff != "" {
				t.Errorf("Identity (-want +got):\n%s", diff)
			}
			if len(got.Thumbprint) != 43 || strings.ContainsAny(got.Thumbprint, "=+/") {
				t.Errorf("Thumbprint %q is not unpadded base64url of 32 bytes", got.Thumbprint)
			}
			if pki.Thumbprint(leaf.Cert) != got.Thumbprint {
				t.Errorf("pki.Thumbprint = %q, Identity.Thumbprint = %q", pki.Thumbprint(leaf.Cert), got.Thumbprint)
			}
			// Every certificate below the anchor was checked for revocation, leaf
			// first, with its issuer and the anchor's policy.
			var wantCalls []checkCall
			for i := 0; i < len(want.Chain)-1; i++ {
				wantCalls = append(wantCalls, checkCall{want.Chain[i], want.Chain[i+1], tt.anchor.SoftFail})
			}
			if diff := cmp.Diff(wantCalls, rev.calls, certComparer, cmp.AllowUnexported(checkCall{})); diff != "" {
				t.Errorf("revocation calls (-want +got):\n%s", diff)
			}
		})
	}
}

// TestValidateConfiguredIntermediate: a client that sends only its leaf is validated
// through an intermediate from Options.Intermediates.
func TestValidateConfiguredIntermediate(t *testing.T) {
	e := newEnv(t)
	leaf := e.eidasCA.QWAC(t)
	v, err := pki.NewValidator(pki.Options{Anchors: e.anchors, Intermediates: e.eidasCA.Intermediates(), Revocation: &fakeRevocation{}, Clock: e.clk})
	if err != nil {
		t.Fatal(err)
	}
	got, err := v.Validate(context.Background(), []*x509.Certificate{leaf.Cert}, pki.PurposeTransport)
	if err != nil {
		t.Fatalf("Validate: %v", err)
	}
	if diff := cmp.Diff(chainOf(leaf, e.eidasCA.Root), got.Chain, certComparer); diff != "" {
		t.Errorf("Chain (-want +got):\n%s", diff)
	}
	// Without the configured intermediate the same leaf has no path.
	_, err = e.validator(t, &fakeRevocation{}, e.clk).Validate(context.Background(), []*x509.Certificate{leaf.Cert}, pki.PurposeTransport)
	if !errors.Is(err, pki.ErrUnknownAuthority) {
		t.Errorf("leaf alone without configured intermediate: %v, want ErrUnknownAuthority", err)
	}
}

func TestValidateRejects(t *testing.T) {
	e := newEnv(t)
	raw := func(statements ...[]byte) []byte { return seq(statements...) }
	with := func(o pkitest.LeafOptions, f func(*pkitest.LeafOptions)) pkitest.LeafOptions { f(&o); return o }

	// A sub-CA whose EKU allows only serverAuth.
	serverOnlyCA := e.eidasCA.Subordinate(t, pkitest.LeafOptions{
		Subject: pkix.Name{CommonName: "Server-only Issuing CA"},
		EKU:     []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	})

	type row struct {
		name     string
		chain    func(t *testing.T) []*x509.Certificate
		purpose  pki.Purpose
		at       time.Time // zero: testNow
		rev      func(f *fakeRevocation, chain []*x509.Certificate)
		nilCheck bool
		want     error
		alsoIs   error             // a second error the result must wrap (eidas sentinel)
		certIdx  int               // index into the chain of ValidationError.Cert; -1: nil
		cert     *x509.Certificate // ValidationError.Cert when it is not in the chain
		// intermediates configured in the validator
		intermediates []*x509.Certificate
	}
	rawName := func(t *testing.T, n pkix.RDNSequence) []byte {
		b, err := asn1.Marshal(n)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	issue := func(ca *pkitest.CA, o pkitest.LeafOptions) func(t *testing.T) []*x509.Certificate {
		return func(t *testing.T) []*x509.Certificate { return ca.Issue(t, o).Chain }
	}
	tests := []row{
		{name: "empty chain", chain: func(*testing.T) []*x509.Certificate { return nil }, want: pki.ErrNoCertificate, certIdx: -1},
		{name: "nil certificate", chain: func(t *testing.T) []*x509.Certificate { return append(e.eidasCA.QWAC(t).Chain, nil) }, want: pki.ErrNoCertificate, certIdx: -1},
		{name: "certificate without DER", chain: func(t *testing.T) []*x509.Certificate {
			c := *e.eidasCA.QWAC(t).Cert
			c.Raw = nil
			return []*x509.Certificate{&c}
		}, want: pki.ErrNoCertificate},
		{name: "chain too long", chain: func(t *testing.T) []*x509.Certificate {
			c := e.eidasCA.QWAC(t).Chain
			return append(c, c[1], c[1], c[1], c[1], c[1])
		}, want: pki.ErrChainTooLong, certIdx: -1},
		{name: "expired leaf", chain: issue(e.eidasCA, with(pkitest.QWACOptions(), func(o *pkitest.LeafOptions) {
			o.NotBefore, o.NotAfter = testNow.Add(-48*time.Hour), testNow.Add(-time.Second)
		})), want: pki.ErrExpired},
		{name: "leaf not yet valid", chain: issue(e.eidasCA, with(pkitest.QWACOptions(), func(o *pkitest.LeafOptions) {
			o.NotBefore, o.NotAfter = testNow.Add(time.Second), testNow.Add(48*time.Hour)
		})), want: pki.ErrNotYetValid},
		{name: "presented intermediate expired", chain: issue(e.shortCA, pkitest.PlainOptions()), at: testNow.Add(2 * time.Hour), want: pki.ErrExpired, certIdx: 1},
		{name: "anchor expired", chain: issue(e.shortRootCA, pkitest.PlainOptions()), at: testNow.Add(2 * time.Hour), want: pki.ErrExpired, cert: e.shortRootCA.Root},
		{name: "configured intermediate expired", chain: func(t *testing.T) []*x509.Certificate { return e.shortCA.Plain(t).Chain[:1] },
			intermediates: e.shortCA.Intermediates(), at: testNow.Add(2 * time.Hour), want: pki.ErrExpired, cert: e.shortCA.Intermediate},
		{name: "unknown anchor", chain: func(t *testing.T) []*x509.Certificate { return e.strangerCA.QWAC(t).Chain }, want: pki.ErrUnknownAuthority},
		{name: "anchor of another validator presented as chain", chain: func(t *testing.T) []*x509.Certificate {
			return append(e.strangerCA.QWAC(t).Chain, e.strangerCA.Root)
		}, want: pki.ErrUnknownAuthority},
		{name: "unhandled critical extension", chain: issue(e.eidasCA, with(pkitest.QWACOptions(), func(o *pkitest.LeafOptions) {
			o.ExtraExtensions = []pkix.Extension{{Id: asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 99999, 1}, Critical: true, Value: []byte{5, 0}}}
		})), want: pki.ErrInvalidChain},
		{name: "transport: serverAuth only", chain: issue(e.eidasCA, with(pkitest.QWACOptions(), func(o *pkitest.LeafOptions) {
			o.EKU = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
		})), want: pki.ErrKeyUsage},
		{name: "transport: no EKU", chain: issue(e.eidasCA, with(pkitest.QWACOptions(), func(o *pkitest.LeafOptions) { o.EKU = nil })), want: pki.ErrKeyUsage},
		{name: "transport: anyExtendedKeyUsage is not clientAuth", chain: issue(e.eidasCA, with(pkitest.QWACOptions(), func(o *pkitest.LeafOptions) {
			o.EKU = []x509.ExtKeyUsage{x509.ExtKeyUsageAny}
		})), want: pki.ErrKeyUsage},
		{name: "transport: keyUsage without digitalSignature", chain: issue(e.eidasCA, with(pkitest.QWACOptions(), func(o *pkitest.LeafOptions) {
			o.KeyUsage = x509.KeyUsageKeyAgreement
		})), want: pki.ErrKeyUsage},
		{name: "transport: intermediate allows serverAuth only", chain: issue(serverOnlyCA, pkitest.QWACOptions()), want: pki.ErrKeyUsage, certIdx: 1},
		{name: "leaf is a CA", chain: issue(e.eidasCA, with(pkitest.QWACOptions(), func(o *pkitest.LeafOptions) { o.IsCA = true })), want: pki.ErrKeyUsage},
		{name: "signing: keyEncipherment only", chain: issue(e.eidasCA, with(pkitest.QSealCOptions(), func(o *pkitest.LeafOptions) {
			o.KeyUsage = x509.KeyUsageKeyEncipherment
		})), purpose: pki.PurposeSigning, want: pki.ErrKeyUsage},
		{name: "signing: no keyUsage", chain: issue(e.eidasCA, with(pkitest.QSealCOptions(), func(o *pkitest.LeafOptions) { o.KeyUsage = 0 })), purpose: pki.PurposeSigning, want: pki.ErrKeyUsage},
		{name: "QSealC presented for transport", chain: issue(e.eidasCA, pkitest.QSealCOptions()), want: pki.ErrKeyUsage},
		{name: "QSealC with clientAuth presented for transport", chain: issue(e.eidasCA, with(pkitest.QSealCOptions(), func(o *pkitest.LeafOptions) {
			o.EKU = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
		})), want: pki.ErrQcTypeMismatch},
		{name: "QWAC presented for signing", chain: issue(e.eidasCA, pkitest.QWACOptions()), purpose: pki.PurposeSigning, want: pki.ErrQcTypeMismatch},
		{name: "QcType web and eseal", chain: issue(e.eidasCA, with(pkitest.QWACOptions(), func(o *pkitest.LeafOptions) {
			o.QC.Types = []eidas.QcType{eidas.QcTypeWeb, eidas.QcTypeESeal}
		})), want: pki.ErrQcTypeMismatch},
		{name: "eidas: no QcType", chain: issue(e.eidasCA, with(pkitest.QWACOptions(), func(o *pkitest.LeafOptions) { o.QC.Types = nil })), want: pki.ErrQcTypeMismatch},
		{name: "OBWAC presented for signing", chain: issue(e.obCA, pkitest.OBWACOptions()), purpose: pki.PurposeSigning, want: pki.ErrQcTypeMismatch},
		{name: "NCA mismatch", chain: issue(e.eidasCA, with(pkitest.QWACOptions(), func(o *pkitest.LeafOptions) { o.QC.PSD2.NCAID = "GB-PRA" })), want: pki.ErrNCAMismatch},
		{name: "NCA country mismatch", chain: issue(e.eidasCA, with(pkitest.QWACOptions(), func(o *pkitest.LeafOptions) {
			o.OrganizationIdentifier = "PSDDE-FCA-123456"
		})), want: pki.ErrNCAMismatch},
		{name: "OB: PSD organizationIdentifier of another NCA", chain: issue(e.obCA, with(pkitest.OBWACOptions(), func(o *pkitest.LeafOptions) {
			o.OrganizationIdentifier = "PSDGB-FCA-123456"
		})), want: pki.ErrNCAMismatch},
		{name: "role name does not match its OID", chain: issue(e.eidasCA, with(pkitest.QWACOptions(), func(o *pkitest.LeafOptions) {
			o.QCStatementsDER = raw(stmt(eidas.OIDQcCompliance), qcTypeStmt(eidas.OIDQcTypeWeb),
				psd2Stmt([][]byte{role(eidas.OIDRoleAISP, "PSP_PI")}, "Financial Conduct Authority", "GB-FCA"))
		})), want: pki.ErrQCStatements, alsoIs: eidas.ErrRoleNameMismatch},
		{name: "bad nCAId", chain: issue(e.eidasCA, with(pkitest.QWACOptions(), func(o *pkitest.LeafOptions) {
			o.QCStatementsDER = raw(stmt(eidas.OIDQcCompliance), qcTypeStmt(eidas.OIDQcTypeWeb),
				psd2Stmt([][]byte{role(eidas.OIDRoleAISP, "PSP_AI")}, "Financial Conduct Authority", "GB-FCA-1"))
		})), want: pki.ErrQCStatements, alsoIs: eidas.ErrBadNCAID},
		{name: "malformed qcStatements under eidas", chain: issue(e.eidasCA, with(pkitest.QWACOptions(), func(o *pkitest.LeafOptions) {
			o.QCStatementsDER = []byte{0x30, 0x05, 0x30, 0x03, 0x06, 0x01}
		})), want: pki.ErrQCStatements, alsoIs: eidas.ErrMalformed},
		{name: "malformed qcStatements under ob", chain: issue(e.obCA, with(pkitest.OBWACOptions(), func(o *pkitest.LeafOptions) {
			o.QCStatementsDER = []byte("not DER at all")
		})), want: pki.ErrQCStatements, alsoIs: eidas.ErrMalformed},
		{name: "missing QcCompliance under eidas (OBWAC)", chain: issue(e.eidasCA, pkitest.OBWACOptions()), want: pki.ErrNotQualified},
		{name: "plain certificate under eidas anchor", chain: issue(e.eidasCA, pkitest.PlainOptions()), want: pki.ErrNotQualified},
		{name: "plain certificate under ob anchor", chain: issue(e.obCA, pkitest.PlainOptions()), want: pki.ErrQcTypeMismatch},
		{name: "eidas: no PSD2 statement", chain: issue(e.eidasCA, with(pkitest.QWACOptions(), func(o *pkitest.LeafOptions) { o.QC.PSD2 = nil })), want: pki.ErrNoPSD2Statement},
		{name: "ob: no PSD2 statement", chain: issue(e.obCA, with(pkitest.OBWACOptions(), func(o *pkitest.LeafOptions) { o.QC.PSD2 = nil })), want: pki.ErrNoPSD2Statement},
		{name: "eidas: no organizationIdentifier", chain: issue(e.eidasCA, with(pkitest.QWACOptions(), func(o *pkitest.LeafOptions) { o.OrganizationIdentifier = "" })),
			want: pki.ErrOrganizationIdentifier, alsoIs: eidas.ErrNoOrganizationIdentifier},
		{name: "eidas: VAT organizationIdentifier", chain: issue(e.eidasCA, with(pkitest.QWACOptions(), func(o *pkitest.LeafOptions) { o.OrganizationIdentifier = "VATGB-123456789" })),
			want: pki.ErrOrganizationIdentifier},
		{name: "eidas: malformed organizationIdentifier", chain: issue(e.eidasCA, with(pkitest.QWACOptions(), func(o *pkitest.LeafOptions) { o.OrganizationIdentifier = "GB-FCA-123456" })),
			want: pki.ErrOrganizationIdentifier, alsoIs: eidas.ErrBadOrganizationIdentifier},
		{name: "ob: no CN", chain: issue(e.obCA, with(pkitest.OBWACOptions(), func(o *pkitest.LeafOptions) { o.Subject.CommonName = "" })), want: pki.ErrOrganizationIdentifier},
		{name: "ob: two CNs", chain: issue(e.obCA, with(pkitest.OBWACOptions(), func(o *pkitest.LeafOptions) {
			o.RawSubject = rawName(t, pkix.RDNSequence{
				{{Type: asn1.ObjectIdentifier{2, 5, 4, 6}, Value: "GB"}},
				{{Type: asn1.ObjectIdentifier{2, 5, 4, 3}, Value: "0015800001HQQrZAAX"}},
				{{Type: asn1.ObjectIdentifier{2, 5, 4, 3}, Value: "0015800001OTHERAAA"}},
			})
		})), want: pki.ErrOrganizationIdentifier},
		{name: "subject too large to render", chain: issue(e.plainCA, with(pkitest.PlainOptions(), func(o *pkitest.LeafOptions) {
			o.Subject.CommonName = strings.Repeat("x", 5000)
		})), want: pki.ErrSubject},
		{name: "revoked leaf", chain: issue(e.eidasCA, pkitest.QWACOptions()), rev: func(f *fakeRevocation, c []*x509.Certificate) { f.revoke(c[0]) }, want: pki.ErrRevoked},
		{name: "revoked intermediate", chain: issue(e.eidasCA, pkitest.QWACOptions()), rev: func(f *fakeRevocation, c []*x509.Certificate) { f.revoke(c[1]) }, want: pki.ErrRevoked, certIdx: 1},
		{name: "no revocation checker", chain: issue(e.eidasCA, pkitest.QWACOptions()), nilCheck: true, want: pki.ErrNoRevocationChecker},
		{name: "no revocation checker, plain profile", chain: issue(e.plainCA, pkitest.PlainOptions()), nilCheck: true, want: pki.ErrNoRevocationChecker},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			at := tt.at
			if at.IsZero() {
				at = testNow
			}
			chain := tt.chain(t)
			rev := &fakeRevocation{}
			if tt.rev != nil {
				tt.rev(rev, chain)
			}
			var checker pki.RevocationChecker = rev
			if tt.nilCheck {
				checker = nil
			}
			purpose := tt.purpose
			if purpose == 0 {
				purpose = pki.PurposeTransport
			}
			v, err := pki.NewValidator(pki.Options{Anchors: e.anchors, Intermediates: tt.intermediates, Revocation: checker, Clock: clock.NewFake(at)})
			if err != nil {
				t.Fatal(err)
			}
			id, err := v.Validate(context.Background(), chain, purpose)
			if id != nil {
				t.Errorf("Validate returned an Identity with error %v", err)
			}
			if !errors.Is(err, tt.want) {
				t.Fatalf("Validate error = %v, want %v", err, tt.want)
			}
			if tt.alsoIs != nil && !errors.Is(err, tt.alsoIs) {
				t.Errorf("Validate error = %v, does not wrap %v", err, tt.alsoIs)
			}
			var ve *pki.ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("error %T is not a *ValidationError", err)
			}
			if ve.Reason != tt.want {
				t.Errorf("Reason = %v, want %v", ve.Reason, tt.want)
			}
			wantCert := tt.cert
			if wantCert == nil && tt.certIdx >= 0 {
				wantCert = chain[tt.certIdx]
			}
			if !ve.Cert.Equal(wantCert) && (ve.Cert != nil || wantCert != nil) {
				t.Errorf("ValidationError.Cert = %v, want %v", subjectOf(ve.Cert), subjectOf(wantCert))
			}
			if tt.want == pki.ErrRevoked {
				var re *revokedError
				if !errors.As(err, &re) || re.serial != chain[tt.certIdx].SerialNumber.String() {
					t.Errorf("errors.As does not reach the checker's error for the certificate: %v", err)
				}
			}
			// Only a chain that passed everything else reaches the revocation checker.
			if tt.want != pki.ErrRevoked && tt.want != pki.ErrNoRevocationChecker && len(rev.calls) != 0 {
				t.Errorf("revocation checked %d times for a chain rejected earlier", len(rev.calls))
			}
		})
	}
}

// unavailableError is a checker's "could not check" error (pki.RevocationUnavailable).
type unavailableError struct{ unavailable bool }

func (e unavailableError) Error() string               { return "status unavailable" }
func (e unavailableError) RevocationUnavailable() bool { return e.unavailable }

// errChecker returns err for every certificate.
type errChecker struct{ err error }

func (c errChecker) Check(context.Context, *x509.Certificate, *x509.Certificate, bool) error {
	return c.err
}

// TestRevocationVerdict: pki alone says "revoked" (checked and bad) or "could not
// check" from the checker's error, both under the parent ErrRevocation.
func TestRevocationVerdict(t *testing.T) {
	e := newEnv(t)
	chain := e.eidasCA.QWAC(t).Chain
	for _, tt := range []struct {
		name string
		err  error
		want error
	}{
		{"typed checker error", &revokedError{serial: "1"}, pki.ErrRevoked},
		{"plain error", errors.New("status unknown"), pki.ErrRevoked},
		{"marked could-not-check", unavailableError{unavailable: true}, pki.ErrRevocationUnavailable},
		{"wrapped could-not-check", fmt.Errorf("OCSP: %w", unavailableError{unavailable: true}), pki.ErrRevocationUnavailable},
		{"marker reporting false", unavailableError{unavailable: false}, pki.ErrRevoked},
		{"deadline exceeded", fmt.Errorf("fetch: %w", context.DeadlineExceeded), pki.ErrRevocationUnavailable},
		{"canceled", context.Canceled, pki.ErrRevocationUnavailable},
		// A certificate that names no OCSP responder nor CRL can never be checked: refused
		// like a bad one (401), not "try again later" (503).
		{"no revocation information", revocation.ErrNoRevocationInfo, pki.ErrRevoked},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := e.validator(t, errChecker{tt.err}, e.clk).Validate(context.Background(), chain, pki.PurposeTransport)
			var ve *pki.ValidationError
			if !errors.As(err, &ve) || ve.Reason != tt.want {
				t.Fatalf("Validate = %v, want Reason %v", err, tt.want)
			}
			if !errors.Is(err, pki.ErrRevocation) || !errors.Is(err, tt.err) {
				t.Errorf("Validate = %v: does not match ErrRevocation and the checker's error", err)
			}
			other := pki.ErrRevoked
			if tt.want == pki.ErrRevoked {
				other = pki.ErrRevocationUnavailable
			}
			if errors.Is(err, other) || errors.Is(err, pki.ErrNoRevocationChecker) {
				t.Errorf("Validate = %v also matches %v", err, other)
			}
		})
	}
	t.Run("ErrRevocation is not matched by other reasons", func(t *testing.T) {
		for _, r := range []error{pki.ErrExpired, pki.ErrNoRevocationChecker, pki.ErrUnknownAuthority} {
			if errors.Is(&pki.ValidationError{Reason: r}, pki.ErrRevocation) {
				t.Errorf("%v matches ErrRevocation", r)
			}
		}
	})
}

// stallingChecker answers only when its context ends, like a revocation lookup whose
// responders never answer; it reports the deadline it saw.
type stallingChecker struct{ deadline chan time.Time }

func (c stallingChecker) Check(ctx context.Context, _, _ *x509.Certificate, _ bool) error {
	d, _ := ctx.Deadline()
	c.deadline <- d
	<-ctx.Done()
	return fmt.Errorf("OCSP: %w", ctx.Err())
}

// TestValidateTimeout: Options.Timeout puts a deadline on a validation that does the work,
// which then fails as could-not-check (ErrRevocationUnavailable, wrapping the deadline)
// instead of waiting for the caller's context.
func TestValidateTimeout(t *testing.T) {
	e := newEnv(t)
	chain := e.eidasCA.QWAC(t).Chain
	const timeout = 200 * time.Millisecond
	rev := stallingChecker{deadline: make(chan time.Time, 4)}
	v, err := pki.NewValidator(pki.Options{Anchors: e.anchors, Revocation: rev, Clock: e.clk, Timeout: timeout})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	_, err = v.Validate(ctx, chain, pki.PurposeTransport)
	var ve *pki.ValidationError
	if !errors.As(err, &ve) || ve.Reason != pki.ErrRevocationUnavailable || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Validate = %v, want ErrRevocationUnavailable wrapping context.DeadlineExceeded", err)
	}
	if left := time.Until(<-rev.deadline); left > timeout {
		t.Errorf("the checker's deadline was %v away, want at most %v", left, timeout)
	}
}

func subjectOf(c *x509.Certificate) string {
	if c == nil {
		return "<nil>"
	}
	return c.Subject.String()
}

func TestValidateInvalidPurpose(t *testing.T) {
	e := newEnv(t)
	leaf := e.eidasCA.QWAC(t)
	for _, p := range []pki.Purpose{0, 3, -1} {
		_, err := e.validator(t, &fakeRevocation{}, e.clk).Validate(context.Background(), leaf.Chain, p)
		if !errors.Is(err, pki.ErrInvalidPurpose) {
			t.Errorf("Validate(purpose %d) error = %v, want ErrInvalidPurpose", p, err)
		}
	}
}

// TestValidateSoftFailPolicy: the anchor's SoftFail reaches the checker, per anchor.
func TestValidateSoftFailPolicy(t *testing.T) {
	e := newEnv(t)
	for _, soft := range []bool{false, true} {
		t.Run(fmt.Sprint("softFail=", soft), func(t *testing.T) {
			rev := &fakeRevocation{}
			v, err := pki.NewValidator(pki.Options{
				Anchors:    []pki.Anchor{{Name: "a", Cert: e.eidasCA.Root, Profile: pki.ProfileEIDAS, SoftFail: soft}},
				Revocation: rev, Clock: e.clk,
			})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := v.Validate(context.Background(), e.eidasCA.QWAC(t).Chain, pki.PurposeTransport); err != nil {
				t.Fatal(err)
			}
			if len(rev.calls) != 2 {
				t.Fatalf("%d revocation calls, want 2", len(rev.calls))
			}
			for _, c := range rev.calls {
				if c.softFail != soft {
					t.Errorf("checker got softFail=%v, want %v", c.softFail, soft)
				}
			}
		})
	}
}

// TestValidateFirstAnchorWins: when the same chain verifies to two anchors (a
// cross-signed root), the anchor listed first decides the profile.
func TestValidateFirstAnchorWins(t *testing.T) {
	e := newEnv(t)
	// The plain root cross-signs the eIDAS root's key: the QWAC chain now also
	// reaches the plain anchor via the cross certificate.
	cross := crossSign(t, e.eidasCA, e.plainCA)
	leaf := e.eidasCA.QWAC(t)
	chain := append(append([]*x509.Certificate(nil), leaf.Chain...), cross)
	for _, tt := range []struct {
		anchors []pki.Anchor
		want    pki.Profile
	}{
		{[]pki.Anchor{e.eidasAnchor, e.plainAnchor}, pki.ProfileEIDAS},
		{[]pki.Anchor{e.plainAnchor, e.eidasAnchor}, pki.ProfilePlain},
	} {
		v, err := pki.NewValidator(pki.Options{Anchors: tt.anchors, Revocation: &fakeRevocation{}, Clock: e.clk})
		if err != nil {
			t.Fatal(err)
		}
		id, err := v.Validate(context.Background(), chain, pki.PurposeTransport)
		if err != nil {
			t.Fatalf("Validate: %v", err)
		}
		if id.Profile != tt.want {
			t.Errorf("anchors %s, %s: profile %s, want %s", tt.anchors[0].Name, tt.anchors[1].Name, id.Profile, tt.want)
		}
	}
}

func TestNewValidatorErrors(t *testing.T) {
	e := newEnv(t)
	leaf := e.plainCA.Plain(t)
	tests := []struct {
		name string
		opts pki.Options
	}{
		{"no anchors", pki.Options{}},
		{"anchor without name", pki.Options{Anchors: []pki.Anchor{{Cert: e.eidasCA.Root, Profile: pki.ProfileEIDAS}}}},
		{"anchor without certificate", pki.Options{Anchors: []pki.Anchor{{Name: "a", Profile: pki.ProfileEIDAS}}}},
		{"unknown profile", pki.Options{Anchors: []pki.Anchor{{Name: "a", Cert: e.eidasCA.Root, Profile: "ob-legacy"}}}},
		{"anchor not a CA", pki.Options{Anchors: []pki.Anchor{{Name: "a", Cert: leaf.Cert, Profile: pki.ProfilePlain}}}},
		{"duplicate anchor", pki.Options{Anchors: []pki.Anchor{e.eidasAnchor, {Name: "b", Cert: e.eidasCA.Root, Profile: pki.ProfilePlain}}}},
		{"nil intermediate", pki.Options{Anchors: []pki.Anchor{e.eidasAnchor}, Intermediates: []*x509.Certificate{nil}}},
		{"intermediate not a CA", pki.Options{Anchors: []pki.Anchor{e.eidasAnchor}, Intermediates: []*x509.Certificate{leaf.Cert}}},
		{"negative MaxChainLen", pki.Options{Anchors: []pki.Anchor{e.eidasAnchor}, MaxChainLen: -1}},
		{"negative Timeout", pki.Options{Anchors: []pki.Anchor{e.eidasAnchor}, Timeout: -time.Second}},
		{"CacheTTL above MaxCacheTTL", pki.Options{Anchors: []pki.Anchor{e.eidasAnchor}, CacheTTL: pki.MaxCacheTTL + time.Nanosecond}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := pki.NewValidator(tt.opts)
			if err == nil || v != nil {
				t.Fatalf("NewValidator = %v, %v; want an error", v, err)
			}
		})
	}
}

func TestValidationErrorMessage(t *testing.T) {
	err := &pki.ValidationError{Reason: pki.ErrRevoked, Err: &revokedError{serial: "42"}}
	if got, want := err.Error(), "pki: certificate revoked: revoked: 42"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	if got, want := (&pki.ValidationError{Reason: pki.ErrExpired}).Error(), pki.ErrExpired.Error(); got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	if errors.Is(err, pki.ErrExpired) {
		t.Error("errors.Is matches a reason it does not have")
	}
}
