package sandbox

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/portcullis/portcullis/internal/pki"
	"github.com/portcullis/portcullis/internal/pki/dn"
	"github.com/portcullis/portcullis/internal/pki/eidas"
)

func TestIssueProfiles(t *testing.T) {
	ca, clk := newTestCA(t)
	roles := []eidas.Role{eidas.RoleAISP, eidas.RolePISP}
	tests := []struct {
		kind       Kind
		opts       IssueOptions
		ku         x509.KeyUsage
		eku        []x509.ExtKeyUsage
		policies   []string
		qc         *eidas.QCStatements // nil: no qcStatements extension
		orgID      string              // "" : no organizationIdentifier
		subject    string
		rsa        bool
		usage      x509.ExtKeyUsage // what x509.Verify must accept
		dnsNames   []string
		ipAddrs    []string
		days       int
		verifyWith []x509.ExtKeyUsage
	}{
		{
			kind: KindQWAC, opts: IssueOptions{OrgID: "PSDGB-FCA-123456", OrgName: "Example TPP Ltd", Roles: roles, DNSNames: []string{"tpp.example"}},
			ku: x509.KeyUsageDigitalSignature, eku: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
			policies: []string{"0.4.0.194112.1.5", "0.4.0.19495.3.1"},
			qc: &eidas.QCStatements{Compliance: true, Types: []eidas.QcType{eidas.QcTypeWeb},
				PSD2: &eidas.PSD2{Roles: roles, NCAName: "Financial Conduct Authority", NCAID: "GB-FCA"}},
			orgID: "PSDGB-FCA-123456", subject: "CN=PSDGB-FCA-123456,organizationIdentifier=PSDGB-FCA-123456,O=Example TPP Ltd,C=GB",
			dnsNames: []string{"tpp.example"}, days: DefaultDays, verifyWith: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
		},
		{
			kind: KindQSealC, opts: IssueOptions{OrgID: "PSDDE-BAFIN-4711", Roles: []eidas.Role{eidas.RoleASPSP}, NCAName: "Bundesanstalt fuer Finanzdienstleistungsaufsicht", CommonName: "Seal", Days: 30},
			ku:       x509.KeyUsageDigitalSignature | x509.KeyUsageContentCommitment,
			policies: []string{"0.4.0.194112.1.1"},
			qc: &eidas.QCStatements{Compliance: true, Types: []eidas.QcType{eidas.QcTypeESeal},
				PSD2: &eidas.PSD2{Roles: []eidas.Role{eidas.RoleASPSP}, NCAName: "Bundesanstalt fuer Finanzdienstleistungsaufsicht", NCAID: "DE-BAFIN"}},
			orgID: "PSDDE-BAFIN-4711", subject: "CN=Seal,organizationIdentifier=PSDDE-BAFIN-4711,O=Sandbox TPP,C=DE",
			days: 30, verifyWith: []x509.ExtKeyUsage{x509.ExtKeyUsageAny},
		},
		{
			kind: KindOBWAC, opts: IssueOptions{CommonName: "0015800001HQQrZAAX", OrgName: "Example TPP Ltd", Roles: []eidas.Role{eidas.RolePISP, eidas.RoleAISP, eidas.RoleCBPII}},
			ku: x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment, eku: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
			qc: &eidas.QCStatements{Types: []eidas.QcType{eidas.QcTypeWeb},
				PSD2: &eidas.PSD2{Roles: []eidas.Role{eidas.RolePISP, eidas.RoleAISP, eidas.RoleCBPII}, NCAName: "Open Banking", NCAID: "GB-OB"}},
			orgID: "PSDGB-OB-Unknown0015800001HQQrZAAX", subject: "CN=0015800001HQQrZAAX,organizationIdentifier=PSDGB-OB-Unknown0015800001HQQrZAAX,O=Example TPP Ltd,C=GB",
			rsa: true, days: DefaultDays, verifyWith: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
		},
		{
			kind: KindOBSeal, opts: IssueOptions{CommonName: "0015800001HQQrZAAX", Roles: []eidas.Role{eidas.RolePISP}},
			ku: x509.KeyUsageDigitalSignature | x509.KeyUsageContentCommitment,
			qc: &eidas.QCStatements{Types: []eidas.QcType{eidas.QcTypeESeal},
				PSD2: &eidas.PSD2{Roles: []eidas.Role{eidas.RolePISP}, NCAName: "Open Banking", NCAID: "GB-OB"}},
			orgID: "PSDGB-OB-Unknown0015800001HQQrZAAX", subject: "CN=0015800001HQQrZAAX,organizationIdentifier=PSDGB-OB-Unknown0015800001HQQrZAAX,O=Sandbox TPP,C=GB",
			rsa: true, days: DefaultDays, verifyWith: []x509.ExtKeyUsage{x509.ExtKeyUsageAny},
		},
		{
			kind: KindServer, opts: IssueOptions{DNSNames: []string{"localhost", "portcullis.test"}, IPAddresses: []net.IP{net.ParseIP("127.0.0.1"), net.ParseIP("::1")}},
			ku: x509.KeyUsageDigitalSignature, eku: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
			subject: "CN=localhost", dnsNames: []string{"localhost", "portcullis.test"}, ipAddrs: []string{"127.0.0.1", "::1"},
			days: DefaultDays, verifyWith: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		},
		{
			kind: KindServer, opts: IssueOptions{IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyType: KeyRSA2048},
			ku: x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment, eku: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
			subject: "CN=127.0.0.1", ipAddrs: []string{"127.0.0.1"}, rsa: true,
			days: DefaultDays, verifyWith: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		},
		{
			kind: KindClient, opts: IssueOptions{CommonName: "demo-client", OrgName: "Demo, Inc.", Country: "GB"},
			ku: x509.KeyUsageDigitalSignature, eku: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
			subject: `CN=demo-client,O=Demo\, Inc.,C=GB`,
			days:    DefaultDays, verifyWith: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
		},
	}
	for i, tt := range tests {
		t.Run(fmt.Sprintf("%d-%s", i, tt.kind), func(t *testing.T) {
			is := mustIssue(t, ca, tt.kind, tt.opts)
			c := is.Certificate

			if c.KeyUsage != tt.ku {
				t.Errorf("KeyUsage = %b, want %b", c.KeyUsage, tt.ku)
			}
			if diff := cmp.Diff(tt.eku, c.ExtKeyUsage); diff != "" {
				t.Errorf("ExtKeyUsage (-want +got):\n%s", diff)
			}
			var policies []string
			for _, p := range c.Policies {
				policies = append(policies, p.String())
			}
			if diff := cmp.Diff(tt.policies, policies); diff != "" {
				t.Errorf("policies (-want +got):\n%s", diff)
			}
			qc, err := eidas.FromCertificate(c)
			if err != nil {
				t.Fatalf("eidas.FromCertificate: %v", err)
			}
			if diff := cmp.Diff(tt.qc, qc); diff != "" {
				t.Errorf("qcStatements (-want +got):\n%s", diff)
			}
			for _, ext := range c.Extensions {
				if ext.Id.Equal(eidas.OIDQCStatements) && ext.Critical {
					t.Error("qcStatements is critical")
				}
			}
			oi, err := eidas.OrganizationIdentifierFromCertificate(c)
			switch {
			case tt.orgID == "" && !errors.Is(err, eidas.ErrNoOrganizationIdentifier):
				t.Errorf("organizationIdentifier: %v, %v; want none", oi, err)
			case tt.orgID != "" && (err != nil || oi.Raw != tt.orgID):
				t.Errorf("organizationIdentifier = %q, %v; want %q", oi.Raw, err, tt.orgID)
			}
			if qc != nil && qc.PSD2 != nil && qc.PSD2.NCAID != oi.NCAID() {
				t.Errorf("nCAId %s disagrees with organizationIdentifier %s", qc.PSD2.NCAID, oi.Raw)
			}
			if is.Record.Subject != tt.subject {
				t.Errorf("subject = %q, want %q", is.Record.Subject, tt.subject)
			}
			if diff := cmp.Diff(tt.dnsNames, c.DNSNames); diff != "" {
				t.Errorf("DNSNames (-want +got):\n%s", diff)
			}
			var ips []string
			for _, ip := range c.IPAddresses {
				ips = append(ips, ip.String())
			}
			if diff := cmp.Diff(tt.ipAddrs, ips); diff != "" {
				t.Errorf("IPAddresses (-want +got):\n%s", diff)
			}

			// Revocation pointers and key identifiers on every certificate.
			if diff := cmp.Diff([]string{testBase + "/ocsp"}, c.OCSPServer); diff != "" {
				t.Errorf("OCSPServer (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff([]string{testBase + "/issuing.crt"}, c.IssuingCertificateURL); diff != "" {
				t.Errorf("caIssuers (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff([]string{testBase + "/issuing.crl"}, c.CRLDistributionPoints); diff != "" {
				t.Errorf("CRLDP (-want +got):\n%s", diff)
			}
			if len(c.SubjectKeyId) != 20 || !bytes.Equal(c.AuthorityKeyId, ca.IssuingCertificate().SubjectKeyId) {
				t.Errorf("SKI %x / AKI %x", c.SubjectKeyId, c.AuthorityKeyId)
			}
			if c.SerialNumber.Sign() <= 0 || c.SerialNumber.BitLen() > 128 {
				t.Errorf("serial %x is not a positive 128-bit number", c.SerialNumber)
			}
			if c.IsCA || !c.BasicConstraintsValid {
				t.Error("leaf must carry basicConstraints CA:FALSE")
			}
			if want := utc(clk.Now().Add(time.Duration(tt.days) * 24 * time.Hour)); !c.NotAfter.Equal(want) {
				t.Errorf("NotAfter = %v, want %v", c.NotAfter, want)
			}
			if want := utc(clk.Now().Add(-backdate)); !c.NotBefore.Equal(want) {
				t.Errorf("NotBefore = %v, want %v", c.NotBefore, want)
			}
			if _, isRSA := c.PublicKey.(*rsa.PublicKey); isRSA != tt.rsa {
				t.Errorf("public key %T, want RSA: %v", c.PublicKey, tt.rsa)
			}
			if pub, ok := c.PublicKey.(*rsa.PublicKey); ok && pub.N.BitLen() != 2048 {
				t.Errorf("RSA key of %d bits", pub.N.BitLen())
			}
			if _, ok := c.PublicKey.(*ecdsa.PublicKey); ok == tt.rsa {
				t.Errorf("public key %T", c.PublicKey)
			}

			// The chain verifies with crypto/x509 for the kind's purpose.
			roots, inter := x509.NewCertPool(), x509.NewCertPool()
			roots.AddCert(ca.RootCertificate())
			inter.AddCert(ca.IssuingCertificate())
			if _, err := c.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, CurrentTime: clk.Now(), KeyUsages: tt.verifyWith}); err != nil {
				t.Errorf("Verify: %v", err)
			}

			// PEM outputs: leaf then issuing CA; the key belongs to the leaf.
			var certs []*x509.Certificate
			for rest := is.CertPEM; ; {
				var b *pem.Block
				b, rest = pem.Decode(rest)
				if b == nil {
					break
				}
				cert, err := x509.ParseCertificate(b.Bytes)
				if err != nil {
					t.Fatal(err)
				}
				certs = append(certs, cert)
			}
			if len(certs) != 2 || !certs[0].Equal(c) || !certs[1].Equal(ca.IssuingCertificate()) {
				t.Errorf("CertPEM holds %d certificates, want leaf then issuing CA", len(certs))
			}
			kb, _ := pem.Decode(is.KeyPEM)
			if kb == nil || kb.Type != "PRIVATE KEY" {
				t.Fatal("KeyPEM is not a PKCS#8 PEM block")
			}
			key, err := x509.ParsePKCS8PrivateKey(kb.Bytes)
			if err != nil {
				t.Fatal(err)
			}
			if !publicKeysEqual(c.PublicKey, key.(crypto.Signer).Public()) {
				t.Error("KeyPEM does not hold the certificate's key")
			}

			// Recorded in the issuance database.
			recs, err := ca.Records()
			if err != nil {
				t.Fatal(err)
			}
			rec := recs[len(recs)-1]
			want := Record{Serial: c.SerialNumber.Text(16), Kind: tt.kind, Subject: tt.subject,
				NotBefore: c.NotBefore, NotAfter: c.NotAfter, Thumbprint: pki.Thumbprint(c)}
			if diff := cmp.Diff(want, rec); diff != "" {
				t.Errorf("record (-want +got):\n%s", diff)
			}
		})
	}
}

// TestQCStatementsMatchOpenSSLEncoding: the qcStatements value equals the DER that
// `openssl asn1parse -genconf` produces for the same content (pki.md §1.8).
func TestQCStatementsMatchOpenSSLEncoding(t *testing.T) {
	ca, _ := newTestCA(t)
	is := mustIssue(t, ca, KindQWAC, IssueOptions{OrgID: "PSDGB-FCA-123456",
		Roles: []eidas.Role{eidas.RoleASPSP, eidas.RolePISP, eidas.RoleAISP, eidas.RoleCBPII}})
	const want = "30819e3008060604008e4601013013060604008e4601063009060704008e46010603307d06060400819827023073304c30110607040081982701010c065053505f415330110607040081982701020c065053505f504930110607040081982701030c065053505f414930110607040081982701040c065053505f49430c1b46696e616e6369616c20436f6e6475637420417574686f726974790c0647422d464341"
	for _, ext := range is.Certificate.Extensions {
		if ext.Id.Equal(eidas.OIDQCStatements) {
			if got := fmt.Sprintf("%x", ext.Value); got != want {
				t.Errorf("qcStatements =\n%s\nwant\n%s", got, want)
			}
			return
		}
	}
	t.Fatal("no qcStatements extension")
}

func TestIssueOptionErrors(t *testing.T) {
	ca, _ := newTestCA(t)
	withQWAC := func(f func(*IssueOptions)) IssueOptions {
		o := qwacOptions()
		f(&o)
		return o
	}
	tests := []struct {
		name   string
		kind   Kind
		opts   IssueOptions
		option string
	}{
		{"unknown kind", Kind("ocsp-responder"), IssueOptions{}, "Kind"},
		{"qwac without org id", KindQWAC, withQWAC(func(o *IssueOptions) { o.OrgID = "" }), "OrgID"},
		{"org id not PSD2 form", KindQWAC, withQWAC(func(o *IssueOptions) { o.OrgID = "VATGB-123456" }), "OrgID"},
		{"org id lower case NCA", KindQWAC, withQWAC(func(o *IssueOptions) { o.OrgID = "PSDGB-fca-123456" }), "OrgID"},
		{"org id without number", KindQWAC, withQWAC(func(o *IssueOptions) { o.OrgID = "PSDGB-FCA-" }), "OrgID"},
		{"NCA id disagrees", KindQWAC, withQWAC(func(o *IssueOptions) { o.NCAID = "DE-BAFIN" }), "NCAID"},
		{"no roles", KindQSealC, withQWAC(func(o *IssueOptions) { o.Roles = nil }), "Roles"},
		{"duplicate role", KindQWAC, withQWAC(func(o *IssueOptions) { o.Roles = []eidas.Role{eidas.RoleAISP, eidas.RoleAISP} }), "Roles"},
		{"unspecified with others", KindQWAC, withQWAC(func(o *IssueOptions) { o.Roles = []eidas.Role{eidas.RoleUnspecified, eidas.RoleAISP} }), "Roles"},
		{"unknown role", KindQWAC, withQWAC(func(o *IssueOptions) { o.Roles = []eidas.Role{"PSP_XX"} }), "Roles"},
		{"NCA name control char", KindQWAC, withQWAC(func(o *IssueOptions) { o.NCAName = "Financial\nConduct" }), "NCAName"},
		{"country lower case", KindQWAC, withQWAC(func(o *IssueOptions) { o.Country = "gb" }), "Country"},
		{"org name too long", KindQWAC, withQWAC(func(o *IssueOptions) { o.OrgName = string(bytes.Repeat([]byte("x"), 65)) }), "OrgName"},
		{"negative days", KindQWAC, withQWAC(func(o *IssueOptions) { o.Days = -1 }), "Days"},
		{"days over max", KindQWAC, withQWAC(func(o *IssueOptions) { o.Days = MaxDays + 1 }), "Days"},
		{"days beyond issuing CA", KindQWAC, withQWAC(func(o *IssueOptions) { o.Days = MaxDays }), "Days"},
		{"bad key type", KindQWAC, withQWAC(func(o *IssueOptions) { o.KeyType = "dsa" }), "KeyType"},
		{"bad DNS name", KindQWAC, withQWAC(func(o *IssueOptions) { o.DNSNames = []string{"bad_name.example"} }), "DNSNames"},
		{"wildcard DNS name", KindServer, IssueOptions{DNSNames: []string{"*.example"}}, "DNSNames"},
		{"qsealc with DNS", KindQSealC, withQWAC(func(o *IssueOptions) { o.DNSNames = []string{"a.example"} }), "DNSNames"},
		{"obwac without org_id", KindOBWAC, IssueOptions{Roles: []eidas.Role{eidas.RoleAISP}}, "CommonName"},
		{"obseal with FCA NCA id", KindOBSeal, IssueOptions{CommonName: "0015800001HQQrZAAX", Roles: []eidas.Role{eidas.RoleAISP}, NCAID: "GB-FCA"}, "NCAID"},
		{"server without names", KindServer, IssueOptions{}, "DNSNames"},
		{"server with roles", KindServer, IssueOptions{DNSNames: []string{"localhost"}, Roles: []eidas.Role{eidas.RoleAISP}}, "Roles"},
		{"server with org id", KindServer, IssueOptions{DNSNames: []string{"localhost"}, OrgID: "PSDGB-FCA-1"}, "OrgID"},
		{"client without CN", KindClient, IssueOptions{}, "CommonName"},
		{"client with IP", KindClient, IssueOptions{CommonName: "c", IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}}, "IPAddresses"},
		{"client with NCA name", KindClient, IssueOptions{CommonName: "c", NCAName: "x"}, "NCAName"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ca.Issue(tt.kind, tt.opts)
			var oe *InvalidOptionError
			if !errors.As(err, &oe) || oe.Option != tt.option {
				t.Fatalf("err = %v, want InvalidOptionError{Option: %s}", err, tt.option)
			}
		})
	}
	recs, err := ca.Records()
	if err != nil || len(recs) != 0 {
		t.Errorf("failed issuance left records: %v, %v", recs, err)
	}
}

func TestParseRoles(t *testing.T) {
	tests := []struct {
		in   string
		want []eidas.Role
		ok   bool
	}{
		{"AISP,PISP", []eidas.Role{eidas.RoleAISP, eidas.RolePISP}, true},
		{"aisp, pisp ,CBPII,ASPSP", []eidas.Role{eidas.RoleAISP, eidas.RolePISP, eidas.RoleCBPII, eidas.RoleASPSP}, true},
		{"PSP_AI,PSP_IC", []eidas.Role{eidas.RoleAISP, eidas.RoleCBPII}, true},
		{"Unspecified", []eidas.Role{eidas.RoleUnspecified}, true},
		{"", nil, false},
		{"AISP,", nil, false},
		{"TPP", nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseRoles(tt.in)
			if !tt.ok {
				var oe *InvalidOptionError
				if !errors.As(err, &oe) || oe.Option != "Roles" {
					t.Fatalf("err = %v, want InvalidOptionError{Roles}", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseKind(t *testing.T) {
	for _, k := range []Kind{KindQWAC, KindQSealC, KindOBWAC, KindOBSeal, KindServer, KindClient} {
		if got, err := ParseKind(string(k)); err != nil || got != k {
			t.Errorf("ParseKind(%q) = %q, %v", k, got, err)
		}
	}
	for _, s := range []string{"", "QWAC", "ocsp-responder", "web"} {
		var oe *InvalidOptionError
		if _, err := ParseKind(s); !errors.As(err, &oe) || oe.Option != "Kind" {
			t.Errorf("ParseKind(%q): err = %v, want InvalidOptionError{Kind}", s, err)
		}
	}
}

func TestWriteFiles(t *testing.T) {
	ca, _ := newTestCA(t)
	is := mustIssue(t, ca, KindQWAC, qwacOptions())
	prefix := filepath.Join(t.TempDir(), "tpp")
	if err := is.WriteFiles(prefix); err != nil {
		t.Fatalf("WriteFiles: %v", err)
	}
	crt, err := os.ReadFile(prefix + ".crt")
	if err != nil || !bytes.Equal(crt, is.CertPEM) {
		t.Errorf("PREFIX.crt differs from CertPEM (%v)", err)
	}
	fi, err := os.Stat(prefix + ".key")
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("key mode %v, want 0600", fi.Mode().Perm())
	}
	key, _ := os.ReadFile(prefix + ".key")
	if !bytes.Equal(key, is.KeyPEM) {
		t.Error("PREFIX.key differs from KeyPEM")
	}

	// Never overwrites, and leaves the existing files alone.
	other := mustIssue(t, ca, KindQWAC, qwacOptions())
	err = other.WriteFiles(prefix)
	if !errors.Is(err, ErrExists) || !errors.Is(err, fs.ErrExist) {
		t.Fatalf("second WriteFiles: err = %v, want ErrExists and fs.ErrExist", err)
	}
	if k, _ := os.ReadFile(prefix + ".key"); !bytes.Equal(k, is.KeyPEM) {
		t.Error("second WriteFiles replaced the key")
	}
	// A stray certificate alone also blocks, without creating the key.
	p2 := filepath.Join(t.TempDir(), "x")
	os.WriteFile(p2+".crt", []byte("x"), 0o644)
	if err := other.WriteFiles(p2); !errors.Is(err, ErrExists) {
		t.Fatalf("WriteFiles over stray .crt: %v", err)
	}
	if _, err := os.Stat(p2 + ".key"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("key written although the certificate could not be: %v", err)
	}
}

// TestConcurrentIssue: two CA values on one directory (as the CLI and a running server
// are) issue concurrently; the database keeps every record exactly once.
func TestConcurrentIssue(t *testing.T) {
	a, clk := newTestCA(t)
	b, err := Open(a.Dir(), clk)
	if err != nil {
		t.Fatal(err)
	}
	const perCA = 6
	var wg sync.WaitGroup
	serials := make(chan string, 2*perCA)
	errs := make(chan error, 2*perCA)
	for _, ca := range []*CA{a, b} {
		for range perCA {
			wg.Add(1)
			go func() {
				defer wg.Done()
				is, err := ca.Issue(KindClient, IssueOptions{CommonName: "c"})
				if err != nil {
					errs <- err
					return
				}
				serials <- is.Record.Serial
			}()
		}
	}
	wg.Wait()
	close(serials)
	close(errs)
	for err := range errs {
		t.Fatalf("Issue: %v", err)
	}
	want := map[string]bool{}
	for s := range serials {
		want[s] = true
	}
	fresh, err := Open(a.Dir(), clk)
	if err != nil {
		t.Fatal(err)
	}
	for _, ca := range []*CA{a, b, fresh} {
		recs, err := ca.Records()
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]bool{}
		for _, r := range recs {
			got[r.Serial] = true
		}
		if len(recs) != 2*perCA || !cmp.Equal(want, got) {
			t.Errorf("records %d, serials %v; want %v", len(recs), got, want)
		}
	}
}

// TestSubjectEncoding: the subject is C, O, organizationIdentifier, CN in that order,
// each its own RDN, as in the PSD2 examples (pki.md §1.8).
func TestSubjectEncoding(t *testing.T) {
	ca, _ := newTestCA(t)
	is := mustIssue(t, ca, KindQWAC, qwacOptions())
	var rdns pkix.RDNSequence
	if _, err := asn1.Unmarshal(is.Certificate.RawSubject, &rdns); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, rdn := range rdns {
		if len(rdn) != 1 {
			t.Fatalf("multi-valued RDN %v", rdn)
		}
		got = append(got, fmt.Sprintf("%s=%v", rdn[0].Type, rdn[0].Value))
	}
	want := []string{"2.5.4.6=GB", "2.5.4.10=Example TPP Ltd", "2.5.4.97=PSDGB-FCA-123456", "2.5.4.3=PSDGB-FCA-123456"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("subject (-want +got):\n%s", diff)
	}
}

// TestRecordSubject: the issuance database names a certificate's subject exactly as
// package dn renders the certificate's RawSubject (the rendering tls_client_auth_subject_dn
// is compared with), escaping included: RFC 4514 specials with a backslash, a leading '#'
// and every byte of a non-ASCII character as \XX, as OpenSSL's RFC2253 output does.
func TestRecordSubject(t *testing.T) {
	ca, _ := newTestCA(t)
	tests := []struct {
		name string
		opts IssueOptions
		want string
	}{
		{"specials", IssueOptions{CommonName: "#1 client", OrgName: `A+B; "C" <D>`, Country: "GB"},
			`CN=\#1 client,O=A\+B\; \"C\" \<D\>,C=GB`},
		{"non-ASCII", IssueOptions{CommonName: "client", OrgName: "Bäckerei Müller", Country: "DE"},
			`CN=client,O=B\C3\A4ckerei M\C3\BCller,C=DE`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			is := mustIssue(t, ca, KindClient, tt.opts)
			rendered, err := dn.Render(is.Certificate.RawSubject)
			if err != nil {
				t.Fatal(err)
			}
			if is.Record.Subject != tt.want || rendered != tt.want {
				t.Errorf("record subject %q, dn.Render %q; want %q", is.Record.Subject, rendered, tt.want)
			}
		})
	}
}
