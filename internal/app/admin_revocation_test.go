package app_test

import (
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/portcullis/portcullis/internal/app"
	"github.com/portcullis/portcullis/internal/config"
	"github.com/portcullis/portcullis/internal/pki"
	"github.com/portcullis/portcullis/internal/pki/pkitest"
)

// TestAdminRevocationForget: a QTSP revokes a certificate the server has just accepted
// (its "good" answer cached for revocation.max_good_age); the certificate keeps getting
// tokens until the operator calls POST /admin/revocation/forget for its serial, after
// which the next /token asks the responder again and is refused. Over real TLS, the
// operation on the admin listener.
func TestAdminRevocationForget(t *testing.T) {
	qtsp := pkitest.NewCA(t, pkitest.CAOptions{Intermediate: true, OCSP: true, CRL: true})
	anchorFile := filepath.Join(t.TempDir(), "qtsp.pem")
	if err := os.WriteFile(anchorFile, qtsp.RootPEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	a := startApp(t, func(cfg *config.Config) {
		cfg.Trust.Anchors = append(cfg.Trust.Anchors, config.Anchor{Name: "qtsp", File: anchorFile, Profile: pki.ProfileEIDAS})
		cfg.Admin.Token = config.Secret(testAdminToken)
		cfg.Listen.Admin = "127.0.0.1:0"
	})
	leaf := qtsp.QWAC(t)
	registerTLSClient(t, a, "tpp-forget", leaf.Cert)
	c := mtlsClient(t, a.Sandbox.RootCertificate(), nil)
	c.Transport.(*http.Transport).TLSClientConfig.Certificates = []tls.Certificate{leaf.TLS}

	if r := postToken(t, a, c, "tpp-forget"); r.status != http.StatusOK {
		t.Fatalf("token: %d %v", r.status, r.body)
	}
	qtsp.Revoke(t, leaf.Cert.SerialNumber, 1)
	if r := postToken(t, a, c, "tpp-forget"); r.status != http.StatusOK {
		t.Fatalf("token from the cached status: %d %v", r.status, r.body)
	}

	forget := func(token, body string) int {
		t.Helper()
		req, err := http.NewRequest(http.MethodPost, "https://"+a.AdminAddr().String()+app.PathAdminRevocationForget, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := adminClient(t, a).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		_, _ = io.Copy(io.Discard, resp.Body)
		return resp.StatusCode
	}
	serial := `{"serial":"` + leaf.Cert.SerialNumber.Text(16) + `"}`
	if got := forget("", serial); got != http.StatusUnauthorized {
		t.Errorf("forget without the admin token: %d, want 401", got)
	}
	if got := forget("wrong-token-wrong-token-wrong-token", serial); got != http.StatusUnauthorized {
		t.Errorf("forget with a wrong admin token: %d, want 401", got)
	}
	if r := postToken(t, a, c, "tpp-forget"); r.status != http.StatusOK {
		t.Fatalf("a refused forget changed nothing: %d %v", r.status, r.body)
	}
	if got := forget(testAdminToken, serial); got != http.StatusNoContent {
		t.Fatalf("forget: %d, want 204", got)
	}
	if r := postToken(t, a, c, "tpp-forget"); r.status != http.StatusUnauthorized || r.body["error"] != "invalid_client" {
		t.Errorf("after forget: %d %v, want 401 invalid_client", r.status, r.body)
	}
}

// fakeForgetter records what it was asked to forget.
type fakeForgetter struct {
	serial *big.Int
	issuer []byte
	calls  int
}

func (f *fakeForgetter) Forget(serial *big.Int, issuer []byte) int {
	f.serial, f.issuer = serial, issuer
	f.calls++
	return 0
}

// TestRevocationForgetHandler: the request rules of POST /admin/revocation/forget.
func TestRevocationForgetHandler(t *testing.T) {
	fp := sha256.Sum256([]byte("issuer"))
	colons := strings.ToUpper(hex.EncodeToString(fp[:1]))
	for _, b := range fp[1:] {
		colons += ":" + strings.ToUpper(hex.EncodeToString([]byte{b}))
	}
	for _, tt := range []struct {
		name, method, ctype, body string
		status                    int
		serial                    string // hex, when status is 204
		issuer                    []byte
	}{
		{"serial", "POST", "application/json", `{"serial":"1a2B"}`, 204, "1a2b", nil},
		{"nothing cached is still 204", "POST", "application/json", `{"serial":"ff"}`, 204, "ff", nil},
		{"openssl spelling with issuer", "POST", "application/json; charset=utf-8",
			`{"serial":"0x01:AB","issuer":"` + colons + `"}`, 204, "1ab", fp[:]},
		{"no serial", "POST", "application/json", `{}`, 400, "", nil},
		{"serial not hex", "POST", "application/json", `{"serial":"12g"}`, 400, "", nil},
		{"serial too long", "POST", "application/json", `{"serial":"` + strings.Repeat("f", 41) + `"}`, 400, "", nil},
		{"negative serial", "POST", "application/json", `{"serial":"-1"}`, 400, "", nil},
		{"issuer not a SHA-256", "POST", "application/json", `{"serial":"1","issuer":"abcd"}`, 400, "", nil},
		{"unknown member", "POST", "application/json", `{"serial":"1","thumbprint":"x"}`, 400, "", nil},
		{"trailing data", "POST", "application/json", `{"serial":"1"}{}`, 400, "", nil},
		{"too large", "POST", "application/json", `{"serial":"1","issuer":"` + strings.Repeat(" ", 2048) + `"}`, 400, "", nil},
		{"not JSON", "POST", "application/x-www-form-urlencoded", `serial=1`, 415, "", nil},
		{"GET", "GET", "", ``, 405, "", nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakeForgetter{}
			req := httptest.NewRequest(tt.method, app.PathAdminRevocationForget, strings.NewReader(tt.body))
			if tt.ctype != "" {
				req.Header.Set("Content-Type", tt.ctype)
			}
			rec := httptest.NewRecorder()
			app.NewRevocationForgetHandler(f, nil).ServeHTTP(rec, req)
			if rec.Code != tt.status {
				t.Fatalf("status %d %q, want %d", rec.Code, rec.Body, tt.status)
			}
			if tt.status == 400 {
				var body map[string]string
				if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || body["error"] != "invalid_request" {
					t.Errorf("body %q, want an invalid_request error", rec.Body)
				}
			}
			if tt.status != 204 {
				if f.calls != 0 {
					t.Errorf("Forget called on a refused request")
				}
				return
			}
			if f.calls != 1 || f.serial.Text(16) != tt.serial || string(f.issuer) != string(tt.issuer) {
				t.Errorf("Forget(%v, %x) ×%d, want (%s, %x) once", f.serial, f.issuer, f.calls, tt.serial, tt.issuer)
			}
		})
	}
}

// FuzzRevocationForgetHandler: whatever the body, the handler answers 204 or 400, never
// more, and calls Forget only for a 204.
func FuzzRevocationForgetHandler(f *testing.F) {
	for _, s := range []string{`{"serial":"1a2b"}`, `{"serial":"0x01:AB","issuer":"` + strings.Repeat("ab", 32) + `"}`,
		`{"serial":""}`, `{"serial":"-1"}`, `[]`, `{"serial":"1"}{}`, "\xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		ff := &fakeForgetter{}
		req := httptest.NewRequest(http.MethodPost, app.PathAdminRevocationForget, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		app.NewRevocationForgetHandler(ff, nil).ServeHTTP(rec, req)
		switch {
		case rec.Code == http.StatusNoContent && ff.calls == 1 && ff.serial.Sign() >= 0 && ff.serial.BitLen() <= 160:
		case rec.Code == http.StatusBadRequest && ff.calls == 0:
		default:
			t.Fatalf("body %q: status %d, %d Forget calls", body, rec.Code, ff.calls)
		}
	})
}
