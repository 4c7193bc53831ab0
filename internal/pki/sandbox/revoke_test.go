package sandbox

import (
	"crypto/x509"
	"errors"
	"math/big"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/crypto/ocsp"
)

func TestParseReason(t *testing.T) {
	tests := []struct {
		in   string
		want int
		err  error
	}{
		{"unspecified", ReasonUnspecified, nil},
		{"keyCompromise", ReasonKeyCompromise, nil},
		{"KEYCOMPROMISE", ReasonKeyCompromise, nil},
		{"cACompromise", ReasonCACompromise, nil},
		{"affiliationChanged", ReasonAffiliationChanged, nil},
		{"superseded", ReasonSuperseded, nil},
		{"cessationOfOperation", ReasonCessationOfOperation, nil},
		{"privilegeWithdrawn", ReasonPrivilegeWithdrawn, nil},
		{"aACompromise", ReasonAACompromise, nil},
		{"certificateHold", 0, ErrInvalidReason},
		{"removeFromCRL", 0, ErrInvalidReason},
		{"1", 0, ErrInvalidReason},
		{"", 0, ErrInvalidReason},
		{"key compromise", 0, ErrInvalidReason},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseReason(tt.in)
			if !errors.Is(err, tt.err) || (tt.err == nil && got != tt.want) {
				t.Fatalf("ParseReason(%q) = %d, %v; want %d, %v", tt.in, got, err, tt.want, tt.err)
			}
			if tt.err == nil && ReasonName(got) == "" {
				t.Errorf("ReasonName(%d) is empty", got)
			}
		})
	}
}

func TestRevokeErrors(t *testing.T) {
	ca, _ := newTestCA(t)
	is := mustIssue(t, ca, KindQWAC, qwacOptions())
	serial := is.Certificate.SerialNumber
	if err := ca.Revoke(serial, ReasonSuperseded); err != nil {
		t.Fatalf("Revoke: %v", err)
	}
	tests := []struct {
		name   string
		serial *big.Int
		reason int
		want   error
	}{
		{"already revoked", serial, ReasonKeyCompromise, ErrAlreadyRevoked},
		{"unknown serial", new(big.Int).Add(serial, big.NewInt(1)), ReasonKeyCompromise, ErrUnknownSerial},
		{"nil serial", nil, ReasonKeyCompromise, ErrUnknownSerial},
		{"negative serial", big.NewInt(-5), ReasonKeyCompromise, ErrUnknownSerial},
		{"the issuing CA's serial", ca.IssuingCertificate().SerialNumber, ReasonKeyCompromise, ErrUnknownSerial},
		{"certificateHold", serial, ReasonCertificateHold, ErrInvalidReason},
		{"removeFromCRL", serial, ReasonRemoveFromCRL, ErrInvalidReason},
		{"unused code 7", serial, 7, ErrInvalidReason},
		{"negative code", serial, -1, ErrInvalidReason},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := ca.Revoke(tt.serial, tt.reason); !errors.Is(err, tt.want) {
				t.Fatalf("Revoke: err = %v, want %v", err, tt.want)
			}
		})
	}
	// The first revocation stands.
	recs, _ := ca.Records()
	if len(recs) != 1 || recs[0].Reason != "superseded" {
		t.Errorf("records = %+v", recs)
	}
}

// TestRevokeReissuesCRL: a revocation re-issues the issuing CA's CRL at once, with the
// next CRL number, the serial, revocation time and reason; numbers persist across Open.
func TestRevokeReissuesCRL(t *testing.T) {
	ca, clk := newTestCA(t)
	srv := serve(t, ca)
	keep := mustIssue(t, ca, KindQWAC, qwacOptions())
	gone := mustIssue(t, ca, KindQSealC, qwacOptions())
	unspec := mustIssue(t, ca, KindClient, IssueOptions{CommonName: "c"})

	before := fetchCRL(t, srv, "issuing.crl", ca.IssuingCertificate())
	if len(before.RevokedCertificateEntries) != 0 {
		t.Fatalf("fresh CRL lists %d entries", len(before.RevokedCertificateEntries))
	}
	clk.Advance(time.Minute)
	revokedAt := utc(clk.Now())
	if err := ca.Revoke(gone.Certificate.SerialNumber, ReasonKeyCompromise); err != nil {
		t.Fatal(err)
	}
	if err := ca.Revoke(unspec.Certificate.SerialNumber, ReasonUnspecified); err != nil {
		t.Fatal(err)
	}
	after := fetchCRL(t, srv, "issuing.crl", ca.IssuingCertificate())
	if after.Number.Cmp(new(big.Int).Add(before.Number, big.NewInt(2))) != 0 {
		t.Errorf("CRL number %v after two revocations, was %v", after.Number, before.Number)
	}
	if !after.ThisUpdate.Equal(revokedAt) || !after.NextUpdate.Equal(revokedAt.Add(crlValidity)) {
		t.Errorf("thisUpdate %v nextUpdate %v, want %v + 24h", after.ThisUpdate, after.NextUpdate, revokedAt)
	}
	type entry struct {
		Serial string
		At     time.Time
		Reason int
	}
	var got []entry
	for _, e := range after.RevokedCertificateEntries {
		got = append(got, entry{e.SerialNumber.Text(16), e.RevocationTime, e.ReasonCode})
	}
	want := []entry{
		{gone.Record.Serial, revokedAt, ReasonKeyCompromise},
		{unspec.Record.Serial, revokedAt, ReasonUnspecified},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("CRL entries (-want +got):\n%s", diff)
	}
	for _, e := range after.RevokedCertificateEntries {
		if e.SerialNumber.Cmp(keep.Certificate.SerialNumber) == 0 {
			t.Error("CRL lists a certificate that was not revoked")
		}
	}
	// The file on disk is the same CRL, and a reopened CA continues the numbering.
	disk, err := ca.readCRL(scopeIssuing)
	if err != nil || disk.number != after.Number.Int64() {
		t.Fatalf("issuing.crl on disk: %+v, %v", disk, err)
	}
	reopened, err := Open(ca.Dir(), clk)
	if err != nil {
		t.Fatal(err)
	}
	third := mustIssue(t, reopened, KindClient, IssueOptions{CommonName: "d"})
	if err := reopened.Revoke(third.Certificate.SerialNumber, ReasonSuperseded); err != nil {
		t.Fatal(err)
	}
	latest := fetchCRL(t, srv, "issuing.crl", ca.IssuingCertificate())
	if latest.Number.Cmp(new(big.Int).Add(after.Number, big.NewInt(1))) != 0 {
		t.Errorf("CRL number %v after a revocation by a reopened CA, want %v+1", latest.Number, after.Number)
	}
}

// TestCRLReissuedAtHalfLife: a CRL is served unchanged until half its validity passed,
// then re-issued with a higher number; the root's CRL likewise.
func TestCRLReissuedAtHalfLife(t *testing.T) {
	ca, clk := newTestCA(t)
	srv := serve(t, ca)
	tests := []struct {
		name   string
		issuer *x509.Certificate
	}{
		{"issuing.crl", ca.IssuingCertificate()},
		{"root.crl", ca.RootCertificate()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			issuer := tt.issuer
			first := fetchCRL(t, srv, tt.name, issuer)
			clk.Advance(crlValidity/2 - time.Minute)
			same := fetchCRL(t, srv, tt.name, issuer)
			if same.Number.Cmp(first.Number) != 0 || !same.ThisUpdate.Equal(first.ThisUpdate) {
				t.Errorf("CRL re-issued before half-life: number %v -> %v", first.Number, same.Number)
			}
			clk.Advance(2 * time.Minute)
			next := fetchCRL(t, srv, tt.name, issuer)
			if next.Number.Cmp(first.Number) <= 0 {
				t.Errorf("CRL number %v not above %v after half-life", next.Number, first.Number)
			}
			if !next.ThisUpdate.Equal(utc(clk.Now())) {
				t.Errorf("thisUpdate %v, want %v", next.ThisUpdate, utc(clk.Now()))
			}
		})
	}
}

// TestHandlerSeesChangesFromAnotherProcess: a second CA value on the same directory
// (the CLI) issues and revokes; the serving CA's OCSP answers and CRL follow at once.
func TestHandlerSeesChangesFromAnotherProcess(t *testing.T) {
	server, clk := newTestCA(t)
	srv := serve(t, server)
	cli, err := Open(server.Dir(), clk)
	if err != nil {
		t.Fatal(err)
	}

	is := mustIssue(t, cli, KindQWAC, qwacOptions())
	resp, err := queryOCSP(t, srv, is.Certificate, server.IssuingCertificate())
	if err != nil || resp.Status != ocsp.Good {
		t.Fatalf("after issuance elsewhere: status %v, err %v; want good", resp, err)
	}
	if err := cli.Revoke(is.Certificate.SerialNumber, ReasonCessationOfOperation); err != nil {
		t.Fatal(err)
	}
	resp, err = queryOCSP(t, srv, is.Certificate, server.IssuingCertificate())
	if err != nil {
		t.Fatal(err)
	}
	if resp.Status != ocsp.Revoked || resp.RevocationReason != ocsp.CessationOfOperation {
		t.Errorf("after revocation elsewhere: status %d reason %d; want revoked, cessationOfOperation", resp.Status, resp.RevocationReason)
	}
	rl := fetchCRL(t, srv, "issuing.crl", server.IssuingCertificate())
	if len(rl.RevokedCertificateEntries) != 1 || rl.RevokedCertificateEntries[0].SerialNumber.Cmp(is.Certificate.SerialNumber) != 0 {
		t.Errorf("CRL entries %+v, want the revoked serial", rl.RevokedCertificateEntries)
	}
}

// TestCRLRepairedAfterCrash: a CRL file left behind the database's CRL number (a crash
// between the two writes) is re-issued, with a number above both.
func TestCRLRepairedAfterCrash(t *testing.T) {
	ca, clk := newTestCA(t)
	is := mustIssue(t, ca, KindClient, IssueOptions{CommonName: "c"})
	stale, err := os.ReadFile(filepath.Join(ca.Dir(), FileIssuingCRL))
	if err != nil {
		t.Fatal(err)
	}
	if err := ca.Revoke(is.Certificate.SerialNumber, ReasonKeyCompromise); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(ca.Dir(), FileIssuingCRL), stale, 0o644); err != nil {
		t.Fatal(err)
	}
	fresh, err := Open(ca.Dir(), clk) // a restarted server: nothing cached
	if err != nil {
		t.Fatal(err)
	}
	srv := serve(t, fresh)
	rl := fetchCRL(t, srv, "issuing.crl", ca.IssuingCertificate())
	if rl.Number.Int64() != 3 {
		t.Errorf("CRL number %v, want 3 (initial 1, revocation 2, repair 3)", rl.Number)
	}
	if len(rl.RevokedCertificateEntries) != 1 {
		t.Errorf("repaired CRL lists %d entries, want 1", len(rl.RevokedCertificateEntries))
	}
}
