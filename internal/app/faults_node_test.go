package app_test

import (
	"crypto/tls"
	"crypto/x509"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/app"
	"github.com/portcullis/portcullis/internal/config"
	"github.com/portcullis/portcullis/internal/identity"
	"github.com/portcullis/portcullis/internal/pki"
	"github.com/portcullis/portcullis/internal/pki/dn"
	"github.com/portcullis/portcullis/internal/pki/pkitest"
	"github.com/portcullis/portcullis/internal/store"
	"github.com/portcullis/portcullis/internal/store/storetest"
)

// startNode is startApp for a node the test stops itself: stop cancels Run, waits for it to
// return and closes the node (idempotent; it also runs when the test ends). Its admin
// listener, too, is on a port the kernel chooses; FAULTS_DEBUG=1 shows its log.
func startNode(t *testing.T, edit func(*config.Config)) (a *app.App, stop func()) {
	t.Helper()
	cfg := testConfig(t, func(cfg *config.Config) {
		cfg.Listen.Admin = "127.0.0.1:0"
		edit(cfg)
	})
	var opts app.Options
	if os.Getenv("FAULTS_DEBUG") != "" {
		opts.Logger = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	return runApp(t, cfg, opts)
}

// TestFaultNodeKilledMidJourney: two nodes on one PostgreSQL database, with the signing keys
// shared through it (keys.source database, one keys.kek), one keys.dir (the customers'
// subject secret), one web.session_key_file and the same DATA_DIR/customer-secrets.key (the
// key sealing customers' TOTP keys). The TPP pushes its request, and the customer
// opens it and logs in, on node A; node A is then stopped; the customer continues — the same
// browser, the same cookies — on node B, passes SCA and approves, and the TPP redeems the code
// on node B: the journey completes, the tokens verify on B, and the code is redeemed once.
func TestFaultNodeKilledMidJourney(t *testing.T) {
	pg := storetest.PostgresURL(t)
	kek := randomKEK(t)
	shared := t.TempDir()
	qtsp := pkitest.NewCA(t, pkitest.CAOptions{OCSP: true, CRL: true})
	anchorFile := filepath.Join(shared, "qtsp.pem")
	if err := os.WriteFile(anchorFile, qtsp.RootPEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	var serverCert, serverKey string // node A's, served by both
	node := func(c *config.Config) {
		c.Database.URL = config.SecretURL(pg)
		c.Keys.Source = "database"
		c.Keys.KEK = kek
		c.Keys.Dir = filepath.Join(shared, "keys")
		c.Web.SessionKeyFile = filepath.Join(shared, "web-session.key")
		c.Trust.Anchors = append(c.Trust.Anchors, config.Anchor{Name: "qtsp", File: anchorFile, Profile: pki.ProfileEIDAS})
		c.TLS.CertFile, c.TLS.KeyFile = serverCert, serverKey
	}
	var aDataDir string
	a, stopA := startNode(t, func(c *config.Config) { node(c); aDataDir = c.DataDir })
	serverCert, serverKey = filepath.Join(a.Sandbox.Dir(), "server.crt"), filepath.Join(a.Sandbox.Dir(), "server.key")
	b, _ := startNode(t, func(c *config.Config) {
		node(c)
		// The key sealing customers' TOTP keys is a file of the data directory, which
		// every node on one database must hold (identity.SecretKeyFile): copied, as an
		// operator would.
		key, err := os.ReadFile(filepath.Join(aDataDir, identity.SecretKeyFile))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(c.DataDir, identity.SecretKeyFile), key, 0o600); err != nil {
			t.Fatal(err)
		}
	})

	// The TPP's QWAC is from the QTSP both nodes trust; the clients trust node A's sandbox
	// root, which issued the server certificate both nodes present.
	leaf := qtsp.Issue(t, pkitest.QWACOptions())
	subject, err := dn.Render(leaf.Cert.RawSubject)
	if err != nil {
		t.Fatal(err)
	}
	registerJourneyClient(t, a, "tpp-faults-node", subject)
	password, codes := newCustomer(t, a, "faults-node-cust")
	pool := x509.NewCertPool()
	pool.AddCert(a.Sandbox.RootCertificate())
	tlsCfg := func(certs ...tls.Certificate) *tls.Config {
		return &tls.Config{RootCAs: pool, ServerName: "localhost", MinVersion: tls.VersionTLS12, Certificates: certs}
	}
	tpp := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: tlsCfg(leaf.TLS)}}
	jar, _ := cookiejar.New(nil)
	customer := &http.Client{
		Timeout: 10 * time.Second, Jar: jar, Transport: &http.Transport{TLSClientConfig: tlsCfg()},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	mtlsA, publicA := "https://"+a.HTTPSAddr().String(), "https://"+a.PublicAddr().String()
	mtlsB, publicB := "https://"+b.HTTPSAddr().String(), "https://"+b.PublicAddr().String()

	// On node A: PAR, /authorize, login.
	j := beginJourney(t, tpp, customer, mtlsA, publicA, "tpp-faults-node")
	j.login("faults-node-cust", password)

	// Node A goes away.
	stopA()
	if _, err := tpp.Get(mtlsA + "/.well-known/openid-configuration"); err == nil {
		t.Fatal("node A still answers after it was stopped")
	}

	// On node B: SCA, approval, the code redeemed.
	j.moveTo(publicB)
	j.otp(codes.next(t))
	code := j.approve()
	r := exchangeCode(t, tpp, mtlsB, "tpp-faults-node", code, j.verifier)
	if r.status != http.StatusOK {
		t.Fatalf("code at node B: %d %v", r.status, r.body)
	}
	at := r.body["access_token"].(string)
	claims, err := b.Verifier.Verify(t.Context(), at)
	if err != nil {
		t.Fatalf("node B does not verify its own access token: %v", err)
	}
	if claims.CertThumbprint != pki.Thumbprint(leaf.Cert) || claims.ConsentID == "" || claims.ACR != "urn:openbanking:psd2:sca" {
		t.Errorf("access token claims %+v", claims)
	}
	if r := exchangeCode(t, tpp, mtlsB, "tpp-faults-node", code, j.verifier); r.status != http.StatusBadRequest || r.body["error"] != "invalid_grant" {
		t.Errorf("the code again at node B: %d %v, want 400 invalid_grant", r.status, r.body)
	}
	grants, err := b.Store.ListConsents(t.Context(), store.ConsentFilter{ClientID: "tpp-faults-node", UserID: "faults-node-cust"})
	if err != nil || len(grants) != 1 || grants[0].Status != "Authorised" || grants[0].ID != claims.ConsentID {
		t.Errorf("grants %+v (%v), want the one the token names, Authorised", grants, err)
	}
}
