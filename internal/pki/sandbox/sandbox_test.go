package sandbox

import (
	"bytes"
	"crypto/x509"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/portcullis/portcullis/internal/clock"
)

func TestInitCreatesCA(t *testing.T) {
	ca, clk := newTestCA(t)
	dir := ca.Dir()

	wantPerm := map[string]fs.FileMode{
		FileRootKey: 0o600, FileIssuingKey: 0o600, FileDatabase: 0o600,
		FileRootCert: 0o644, FileIssuingCert: 0o644, FileRootCRL: 0o644, FileIssuingCRL: 0o644,
	}
	for name, perm := range wantPerm {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if got := fi.Mode().Perm(); got != perm {
			t.Errorf("%s mode = %v, want %v", name, got, perm)
		}
	}

	root, issuing := ca.RootCertificate(), ca.IssuingCertificate()
	if err := root.CheckSignatureFrom(root); err != nil {
		t.Errorf("root not self-signed: %v", err)
	}
	if err := issuing.CheckSignatureFrom(root); err != nil {
		t.Errorf("issuing CA not signed by root: %v", err)
	}
	for _, c := range []struct {
		name     string
		cert     *x509.Certificate
		years    int
		ku       x509.KeyUsage
		pathZero bool
	}{
		{"root", root, 10, x509.KeyUsageCertSign | x509.KeyUsageCRLSign, false},
		{"issuing", issuing, 5, x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			if !c.cert.IsCA || !c.cert.BasicConstraintsValid {
				t.Error("not a CA certificate")
			}
			if c.cert.KeyUsage != c.ku {
				t.Errorf("KeyUsage = %b, want %b", c.cert.KeyUsage, c.ku)
			}
			if c.cert.MaxPathLenZero != c.pathZero {
				t.Errorf("MaxPathLenZero = %v", c.cert.MaxPathLenZero)
			}
			if want := utc(clk.Now().AddDate(c.years, 0, 0)); !c.cert.NotAfter.Equal(want) {
				t.Errorf("NotAfter = %v, want %v", c.cert.NotAfter, want)
			}
			if len(c.cert.SubjectKeyId) != 20 {
				t.Errorf("SubjectKeyId = %x", c.cert.SubjectKeyId)
			}
		})
	}
	if !bytes.Equal(issuing.AuthorityKeyId, root.SubjectKeyId) {
		t.Errorf("issuing AKI %x != root SKI %x", issuing.AuthorityKeyId, root.SubjectKeyId)
	}
	if diff := cmp.Diff([]string{testBase + "/ca.crt"}, issuing.IssuingCertificateURL); diff != "" {
		t.Errorf("issuing caIssuers (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{testBase + "/root.crl"}, issuing.CRLDistributionPoints); diff != "" {
		t.Errorf("issuing CRLDP (-want +got):\n%s", diff)
	}

	// ca.crt is the trust anchor on disk.
	onDisk, err := loadCert(filepath.Join(dir, FileRootCert))
	if err != nil {
		t.Fatal(err)
	}
	if !onDisk.Equal(root) {
		t.Error("ca.crt is not the root certificate")
	}
	recs, err := ca.Records()
	if err != nil || len(recs) != 0 {
		t.Errorf("Records() = %v, %v; want empty", recs, err)
	}
	for _, s := range []crlScope{scopeIssuing, scopeRoot} {
		c, err := ca.readCRL(s)
		if err != nil {
			t.Fatalf("%s: %v", s.file(), err)
		}
		if c.number != 1 {
			t.Errorf("%s number = %d, want 1", s.file(), c.number)
		}
	}
}

func TestInitRefusesExistingCA(t *testing.T) {
	ca, clk := newTestCA(t)
	before, err := os.ReadFile(filepath.Join(ca.Dir(), FileRootCert))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Init(ca.Dir(), testBase, clk); !errors.Is(err, ErrExists) {
		t.Fatalf("second Init: err = %v, want ErrExists", err)
	}
	after, _ := os.ReadFile(filepath.Join(ca.Dir(), FileRootCert))
	if !bytes.Equal(before, after) {
		t.Error("second Init changed ca.crt")
	}

	// A single leftover file is enough to refuse.
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, FileIssuingKey), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Init(dir, testBase, clk); !errors.Is(err, ErrExists) {
		t.Fatalf("Init over a stray issuing.key: err = %v, want ErrExists", err)
	}
}

func TestInitBaseURL(t *testing.T) {
	tests := []struct {
		in, want string // want "" means InvalidOptionError
	}{
		{"", DefaultBaseURL},
		{"http://127.0.0.1:9090/pki/", "http://127.0.0.1:9090/pki"},
		{"https://pki.example/sandbox", "https://pki.example/sandbox"},
		{"http://localhost:8080", "http://localhost:8080"},
		{"ftp://127.0.0.1/pki", ""},
		{"http:///pki", ""},
		{"/pki", ""},
		{"http://127.0.0.1/pki?x=1", ""},
		{"http://127.0.0.1/pki#frag", ""},
		{"http://user:pw@127.0.0.1/pki", ""},
		{"http://127.0.0.1/%zz", ""},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			ca, err := Init(t.TempDir(), tt.in, clock.NewFake(testTime))
			if tt.want == "" {
				var oe *InvalidOptionError
				if !errors.As(err, &oe) || oe.Option != "BaseURL" {
					t.Fatalf("err = %v, want InvalidOptionError{BaseURL}", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if ca.BaseURL() != tt.want {
				t.Errorf("BaseURL() = %q, want %q", ca.BaseURL(), tt.want)
			}
		})
	}
}

func TestOpen(t *testing.T) {
	ca, clk := newTestCA(t)
	got, err := Open(ca.Dir(), clk)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	if !got.RootCertificate().Equal(ca.RootCertificate()) || !got.IssuingCertificate().Equal(ca.IssuingCertificate()) {
		t.Error("Open returned other certificates")
	}
	if got.BaseURL() != testBase {
		t.Errorf("BaseURL = %q", got.BaseURL())
	}

	copyCA := func(t *testing.T) string {
		dir := t.TempDir()
		for _, n := range []string{FileRootCert, FileRootKey, FileIssuingCert, FileIssuingKey, FileDatabase, FileIssuingCRL, FileRootCRL} {
			b, err := os.ReadFile(filepath.Join(ca.Dir(), n))
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, n), b, 0o600); err != nil {
				t.Fatal(err)
			}
		}
		return dir
	}
	tests := []struct {
		name    string
		corrupt func(t *testing.T, dir string)
		want    error
	}{
		{"empty dir", func(t *testing.T, dir string) { os.Remove(filepath.Join(dir, FileDatabase)) }, ErrNotInitialized},
		{"database not JSON", func(t *testing.T, dir string) {
			os.WriteFile(filepath.Join(dir, FileDatabase), []byte("{"), 0o600)
		}, ErrCorrupt},
		{"database unknown field", func(t *testing.T, dir string) {
			os.WriteFile(filepath.Join(dir, FileDatabase), []byte(`{"version":1,"baseURL":"http://127.0.0.1:9/pki","crlNumbers":{"issuing":1,"root":1},"certificates":[],"extra":1}`), 0o600)
		}, ErrCorrupt},
		{"database duplicate serial", func(t *testing.T, dir string) {
			os.WriteFile(filepath.Join(dir, FileDatabase), []byte(`{"version":1,"baseURL":"http://127.0.0.1:9/pki","crlNumbers":{"issuing":1,"root":1},"certificates":[{"serial":"a","kind":"qwac"},{"serial":"a","kind":"qwac"}]}`), 0o600)
		}, ErrCorrupt},
		{"database revoked without reason", func(t *testing.T, dir string) {
			os.WriteFile(filepath.Join(dir, FileDatabase), []byte(`{"version":1,"baseURL":"http://127.0.0.1:9/pki","crlNumbers":{"issuing":1,"root":1},"certificates":[{"serial":"a","kind":"qwac","revokedAt":"2026-01-01T00:00:00Z"}]}`), 0o600)
		}, ErrCorrupt},
		{"issuing key swapped", func(t *testing.T, dir string) {
			b, _ := os.ReadFile(filepath.Join(dir, FileRootKey))
			os.WriteFile(filepath.Join(dir, FileIssuingKey), b, 0o600)
		}, ErrCorrupt},
		{"root from another CA", func(t *testing.T, dir string) {
			other, err := Init(t.TempDir(), testBase, clk)
			if err != nil {
				t.Fatal(err)
			}
			for _, n := range []string{FileRootCert, FileRootKey} {
				b, _ := os.ReadFile(filepath.Join(other.Dir(), n))
				os.WriteFile(filepath.Join(dir, n), b, 0o600)
			}
		}, ErrCorrupt},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := copyCA(t)
			tt.corrupt(t, dir)
			_, err := Open(dir, clk)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Open: err = %v, want %v", err, tt.want)
			}
		})
	}
	if _, err := Open(t.TempDir(), clk); !errors.Is(err, ErrNotInitialized) || !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Open(empty dir): err = %v, want ErrNotInitialized and fs.ErrNotExist", err)
	}
}

func TestOpenOrInit(t *testing.T) {
	clk := clock.NewFake(testTime)
	dir := filepath.Join(t.TempDir(), "pki") // created on demand
	first, err := OpenOrInit(dir, "http://127.0.0.1:9090/pki", clk)
	if err != nil {
		t.Fatalf("first OpenOrInit: %v", err)
	}
	tests := []struct {
		name    string
		baseURL string
		want    error
	}{
		{"same base URL", "http://127.0.0.1:9090/pki", nil},
		{"same after normalisation", "http://127.0.0.1:9090/pki/", nil},
		{"empty keeps the existing", "", nil},
		{"other port", "http://127.0.0.1:9091/pki", ErrBaseURLMismatch},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ca, err := OpenOrInit(dir, tt.baseURL, clk)
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			if err == nil && !ca.RootCertificate().Equal(first.RootCertificate()) {
				t.Error("OpenOrInit created a new CA over the existing one")
			}
		})
	}
}

// TestDirectoryLock: a writer waits for the directory lock held by another (process or
// CA value), proceeds once it is released, and gives up with ErrLocked after the bounded
// wait.
func TestDirectoryLock(t *testing.T) {
	ca, _ := newTestCA(t)
	is := mustIssue(t, ca, KindClient, IssueOptions{CommonName: "c"})

	unlock, err := lockDir(ca.Dir())
	if err != nil {
		t.Fatal(err)
	}
	saved := lockAttempts
	lockAttempts = 2
	t.Cleanup(func() { lockAttempts = saved })
	if _, err := ca.Issue(KindClient, IssueOptions{CommonName: "d"}); !errors.Is(err, ErrLocked) {
		t.Fatalf("Issue under a held lock: err = %v, want ErrLocked", err)
	}
	if err := ca.Revoke(is.Certificate.SerialNumber, ReasonSuperseded); !errors.Is(err, ErrLocked) {
		t.Fatalf("Revoke under a held lock: err = %v, want ErrLocked", err)
	}
	lockAttempts = saved

	done := make(chan error, 1)
	go func() { done <- ca.Revoke(is.Certificate.SerialNumber, ReasonSuperseded) }()
	unlock()
	if err := <-done; err != nil {
		t.Fatalf("Revoke after the lock was released: %v", err)
	}
	recs, err := ca.Records()
	if err != nil || len(recs) != 1 || !recs[0].Revoked() {
		t.Errorf("records = %+v, %v", recs, err)
	}
}
