package app_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/admin"
	"github.com/portcullis/portcullis/internal/app"
	"github.com/portcullis/portcullis/internal/audit"
	"github.com/portcullis/portcullis/internal/config"
	"github.com/portcullis/portcullis/internal/store"
)

const testAdminToken = "0123456789abcdef0123456789abcdef-app-admin"

// adminClient is an HTTPS client that trusts the sandbox CA and presents no certificate.
func adminClient(t *testing.T, a *app.App) *http.Client {
	t.Helper()
	pool := x509.NewCertPool()
	pool.AddCert(a.Sandbox.RootCertificate())
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: pool, ServerName: "localhost"},
	}}
}

func adminGet(t *testing.T, hc *http.Client, url, token string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// TestAdminListener is issue 9 point 7, black-box over real TLS: the admin API is on its own
// listener (server certificate, no client certificate), not on the mTLS listener; a wrong
// token is 401 and, after the failure limit, even the right token is 429 from that address;
// every call leaves an audit event in the database.
func TestAdminListener(t *testing.T) {
	a := startApp(t, func(c *config.Config) {
		c.Admin.Token = config.Secret(testAdminToken)
		c.Listen.Admin = "127.0.0.1:0"
	})
	hc := adminClient(t, a)
	adminURL := "https://" + a.AdminAddr().String() + "/admin/clients"
	var banner strings.Builder
	a.Banner(&banner)
	if want := "  admin             " + adminURL + " "; !strings.Contains(banner.String(), want) {
		t.Errorf("banner has no line starting %q:\n%s", want, banner.String())
	}

	// The TPP-facing listener does not serve the admin API, whatever the token.
	if resp, body := adminGet(t, hc, "https://"+a.HTTPSAddr().String()+"/admin/clients", testAdminToken); resp.StatusCode != http.StatusNotFound {
		t.Errorf("/admin/clients on the mTLS listener: %d %s, want 404", resp.StatusCode, body)
	}

	resp, body := adminGet(t, hc, adminURL, testAdminToken)
	if resp.StatusCode != http.StatusOK || resp.TLS == nil || len(resp.TLS.PeerCertificates) == 0 {
		t.Fatalf("admin listener, right token: %d %s, want 200 over TLS", resp.StatusCode, body)
	}
	var list struct {
		Clients []json.RawMessage `json:"clients"`
	}
	if err := json.Unmarshal([]byte(body), &list); err != nil || list.Clients == nil {
		t.Errorf("body %s: want {\"clients\": [...]} (%v)", body, err)
	}

	for i := range admin.DefaultPerAddress {
		resp, body := adminGet(t, hc, adminURL, "wrong-"+testAdminToken)
		if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(body, `"invalid_token"`) {
			t.Fatalf("wrong token, attempt %d: %d %s, want 401 invalid_token", i+1, resp.StatusCode, body)
		}
	}
	resp, body = adminGet(t, hc, adminURL, testAdminToken)
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("right token after %d failures: %d %s (Retry-After %q), want 429 with Retry-After",
			admin.DefaultPerAddress, resp.StatusCode, body, resp.Header.Get("Retry-After"))
	}

	// 1 allowed + the failures + 1 limited, on the admin listener; none for the mTLS one.
	ctx := context.Background()
	if err := a.AuditStore.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	events, err := a.Store.ListAudit(ctx, store.AuditFilter{Type: audit.TypeAdminRequest})
	if err != nil {
		t.Fatal(err)
	}
	var outcomes []string
	for _, e := range events {
		if strings.Contains(string(e.Data), testAdminToken[:16]) {
			t.Errorf("audit event carries the admin token: %s", e.Data)
		}
		var d struct{ Method, Path, Remote_addr, Outcome string }
		if err := json.Unmarshal(e.Data, &d); err != nil {
			t.Fatal(err)
		}
		if d.Method != "GET" || d.Path != "/admin/clients" || !strings.HasPrefix(d.Remote_addr, "127.0.0.1:") || e.InteractionID == "" {
			t.Errorf("audit event %+v (interaction %q): want GET /admin/clients from 127.0.0.1 with an interaction id", d, e.InteractionID)
		}
		outcomes = append(outcomes, d.Outcome)
	}
	want := []string{admin.OutcomeAllowed}
	for range admin.DefaultPerAddress {
		want = append(want, admin.OutcomeUnauthorized)
	}
	want = append(want, admin.OutcomeRateLimited)
	if strings.Join(outcomes, ",") != strings.Join(want, ",") {
		t.Errorf("audited outcomes %v, want %v", outcomes, want)
	}
}

// TestAdminDisabledWithoutToken: with admin.token empty the admin listener is not started
// (its address is not bound), and the mTLS listener does not serve /admin/ either.
func TestAdminDisabledWithoutToken(t *testing.T) {
	a := startApp(t, func(c *config.Config) { c.Listen.Admin = "127.0.0.1:0" })
	if addr := a.AdminAddr(); addr != nil {
		t.Fatalf("admin listener bound at %s without a token", addr)
	}
	var banner strings.Builder
	a.Banner(&banner)
	if want := "  admin             disabled: admin.token is empty"; !strings.Contains(banner.String(), want) {
		t.Errorf("banner has no line starting %q:\n%s", want, banner.String())
	}
	if resp, body := adminGet(t, adminClient(t, a), "https://"+a.HTTPSAddr().String()+"/admin/clients", ""); resp.StatusCode != http.StatusNotFound {
		t.Errorf("/admin/clients on the mTLS listener: %d %s, want 404", resp.StatusCode, body)
	}
}
