package gateway

import (
	"bufio"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/consent"
	"github.com/portcullis/portcullis/internal/pki/eidas"
	"github.com/portcullis/portcullis/internal/sandbox/bank"
	"github.com/portcullis/portcullis/internal/upstream"
)

// startWSGI runs testdata/wsgi_echo.py (Python's wsgiref, stdlib only) on a
// loopback port and returns its URL. It is stopped by its PID at cleanup.
func startWSGI(t *testing.T) *url.URL {
	t.Helper()
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 is not installed: the WSGI upstream test needs it (Debian package python3)")
	}
	cmd := exec.Command(py, "testdata/wsgi_echo.py")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	port := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(io.LimitReader(out, 64)).ReadString('\n')
		port <- strings.TrimSpace(line)
	}()
	select {
	case p := <-port:
		if p == "" {
			t.Fatal("the WSGI upstream printed no port")
		}
		return &url.URL{Scheme: "http", Host: "127.0.0.1:" + p}
	case <-time.After(30 * time.Second):
		t.Fatal("the WSGI upstream did not start within 30 s")
	}
	return nil
}

// spoofedHeaders are identity, certificate, forwarding and method-override
// headers a TPP sends in the spellings that CGI/WSGI servers fold into the
// reserved names.
var spoofedHeaders = map[string]string{
	"X_Portcullis_Psu_Id":        "victim",
	"X-Portcullis_Org_Id":        "PSDGB-FCA-999999",
	"x_portcullis_consent_id":    "aac-victim",
	"X_PORTCULLIS_CLIENT_ID":     "tpp-victim",
	"X-Portcullis-Roles":         "PSP_AS",
	"X_Portcullis_Identity":      "forged.jwt.value",
	"X_Client_Cert":              "forged",
	"X_Forwarded_Client_Cert":    "Hash=forged",
	"X_Ssl_Client_S_Dn":          "CN=victim",
	"X_Remote_User":              "victim",
	"X_Forwarded_Host":           "evil.example",
	"X_Forwarded_Proto":          "http",
	"X_Forwarded_For":            "10.6.6.6",
	"X_Fapi_Interaction_Id":      "forged-interaction",
	"X-HTTP-Method-Override":     "DELETE",
	"X_HTTP_Method_Override":     "DELETE",
	"X-Method-Override":          "DELETE",
	"X-HTTP-Method":              "DELETE",
	"X-Customer-Note_Harmless-1": "kept",
}

// TestReservedHeadersReachNoWSGIUpstream is issue 9 point 1, black-box over real
// TLS: a TPP's underscore spellings of the identity headers do not reach a real
// WSGI upstream (Python's wsgiref), which sees only the gateway's values; the
// method overrides are gone and the forwarded host is the configured one.
func TestReservedHeadersReachNoWSGIUpstream(t *testing.T) {
	wsgi := startWSGI(t)
	f := newFixture(t, fixtureOpts{routes: func(*url.URL) []Route {
		return []Route{{
			Name: "wsgi-accounts", Method: http.MethodGet, Pattern: bank.PathAccounts, Scopes: []string{"accounts"},
			Roles: []eidas.Role{eidas.RoleAISP}, Consent: ConsentCheck{Kind: consent.KindAccountAccess}, Upstream: wsgi,
		}}
	}})
	got := f.do(t, modeDirect, call{cert: "A", method: "GET", path: accountsPath,
		auth: "Bearer " + f.userToken(t, "A", "aac-ok", "accounts"), headers: spoofedHeaders})
	if got.status != http.StatusOK {
		t.Fatalf("status %d: %s", got.status, got.body)
	}
	var environ map[string]string
	if err := json.Unmarshal(got.body, &environ); err != nil {
		t.Fatalf("WSGI answer %q: %v", got.body, err)
	}
	host := strings.TrimPrefix(testPublicURL, "https://")
	want := map[string]string{
		"HTTP_X_PORTCULLIS_PSU_ID":            "demo",
		"HTTP_X_PORTCULLIS_ORG_ID":            "PSDGB-FCA-123456",
		"HTTP_X_PORTCULLIS_CONSENT_ID":        "aac-ok",
		"HTTP_X_PORTCULLIS_CLIENT_ID":         "tpp-1",
		"HTTP_X_PORTCULLIS_ROLES":             "PSP_AI,PSP_PI",
		"HTTP_X_PORTCULLIS_SCOPE":             "accounts",
		"HTTP_X_PORTCULLIS_TOKEN_USE":         "APPLICATION_USER",
		"HTTP_X_PORTCULLIS_ROUTE":             "wsgi-accounts",
		"HTTP_X_PORTCULLIS_CERT_THUMBPRINT":   thumbprint(f.certs["A"]),
		"HTTP_X_PORTCULLIS_INTERACTION_ID":    testInteractionID,
		"HTTP_X_FAPI_INTERACTION_ID":          testInteractionID,
		"HTTP_X_FORWARDED_HOST":               host,
		"HTTP_X_FORWARDED_PROTO":              "https",
		"HTTP_X_FORWARDED_FOR":                "127.0.0.1",
		"HTTP_X_CUSTOMER_NOTE_HARMLESS_1":     "kept",
		"HTTP_X_PORTCULLIS_IDENTITY":          "", // headers mode: none
		"HTTP_X_CLIENT_CERT":                  "",
		"HTTP_X_FORWARDED_CLIENT_CERT":        "",
		"HTTP_X_SSL_CLIENT_S_DN":              "",
		"HTTP_X_REMOTE_USER":                  "",
		"HTTP_X_HTTP_METHOD_OVERRIDE":         "",
		"HTTP_X_METHOD_OVERRIDE":              "",
		"HTTP_X_HTTP_METHOD":                  "",
		"HTTP_AUTHORIZATION":                  "",
		"HTTP_X_PORTCULLIS_NOT_SET_BY_ANYONE": "",
	}
	for k, v := range want {
		if environ[k] != v {
			t.Errorf("WSGI %s = %q, want %q", k, environ[k], v)
		}
	}
}

// TestReservedHeadersReachNoGoBank is the same against the Go sandbox bank: the
// request it receives carries no header whose folded name is reserved but the
// gateway's own, and it answers for the PSU of the token.
func TestReservedHeadersReachNoGoBank(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	got := f.do(t, modeDirect, call{cert: "A", method: "GET", path: accountsPath,
		auth: "Bearer " + f.userToken(t, "A", "aac-ok", "accounts"), headers: spoofedHeaders})
	if got.status != http.StatusOK {
		t.Fatalf("status %d: %s", got.status, got.body)
	}
	up, _ := f.bank.lastRequest()
	ours := map[string]bool{"X-Forwarded-For": true, "X-Forwarded-Host": true, "X-Forwarded-Proto": true, upstream.HeaderFAPIInteractionID: true}
	for k, v := range up.Header {
		switch {
		case strings.Contains(k, "_") && k != "X-Customer-Note_harmless-1":
			t.Errorf("the bank received %s: %q", k, v)
		case upstream.ReservedHeader(k) && !ours[k] && !strings.HasPrefix(k, "X-Portcullis-"):
			t.Errorf("the bank received %s: %q", k, v)
		}
		if len(v) != 1 {
			t.Errorf("the bank received %d values of %s: %q", len(v), k, v)
		}
	}
	if psu, roles := up.Header.Get(upstream.HeaderPSUID), up.Header.Get(upstream.HeaderRoles); psu != "demo" || roles != "PSP_AI,PSP_PI" {
		t.Errorf("bank PSU = %q, roles %q", psu, roles)
	}
	if !strings.Contains(string(got.body), `"AccountId"`) || strings.Contains(string(got.body), "evil.example") {
		t.Errorf("bank answer %s", got.body)
	}
}

// TestForwardedHostFromConfiguration is issue 9 point 4: neither the Host header
// nor an absolute-form request-target becomes the upstream's X-Forwarded-Host; the
// sandbox bank's Links.Self uses the configured public URL.
func TestForwardedHostFromConfiguration(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	tok := f.userToken(t, "A", "aac-ok", "accounts")
	wantSelf := testPublicURL + accountsPath

	// Host: evil.example, through the ordinary client.
	req, err := http.NewRequest(http.MethodGet, f.proxySrv.URL+accountsPath, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Host = "evil.example"
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("X-Forwarded-Host", "evil.example")
	resp, err := f.clients["A"].Do(req)
	got := readResponse(t, resp, err)
	checkForwardedHost(t, f, "Host header", got, wantSelf)

	// An absolute-form request-target naming another host, on a raw TLS connection.
	conn, err := tls.Dial("tcp", strings.TrimPrefix(f.proxySrv.URL, "https://"), &tls.Config{
		RootCAs: f.ca.Pool(), Certificates: []tls.Certificate{f.certs["A"].TLS}, ServerName: "localhost", MinVersion: tls.VersionTLS12,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(30 * time.Second))
	fmt.Fprintf(conn, "GET https://evil.example%s HTTP/1.1\r\nHost: evil.example\r\nAuthorization: Bearer %s\r\nConnection: close\r\n\r\n", accountsPath, tok)
	resp, err = http.ReadResponse(bufio.NewReader(conn), nil)
	got = readResponse(t, resp, err)
	checkForwardedHost(t, f, "absolute-form target", got, wantSelf)

	// HTTP/2 with :authority evil.example.
	f2 := newFixture(t, fixtureOpts{http2: true})
	h2 := &http.Client{Transport: &http.Transport{ForceAttemptHTTP2: true, TLSClientConfig: &tls.Config{
		RootCAs: f2.ca.Pool(), Certificates: []tls.Certificate{f2.certs["A"].TLS}, MinVersion: tls.VersionTLS12}}}
	req, err = http.NewRequest(http.MethodGet, f2.proxySrv.URL+accountsPath, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Host = "evil.example"
	req.Header.Set("Authorization", "Bearer "+f2.userToken(t, "A", "aac-ok", "accounts"))
	resp, err = h2.Do(req)
	if err == nil && resp.ProtoMajor != 2 {
		t.Fatalf("the client spoke %s, want HTTP/2", resp.Proto)
	}
	got = readResponse(t, resp, err)
	checkForwardedHost(t, f2, "HTTP/2 :authority", got, wantSelf)
}

func checkForwardedHost(t *testing.T, f *fixture, name string, got response, wantSelf string) {
	t.Helper()
	if got.status != http.StatusOK {
		t.Fatalf("%s: status %d: %s", name, got.status, got.body)
	}
	up, _ := f.bank.lastRequest()
	if h, p := up.Header.Values("X-Forwarded-Host"), up.Header.Values("X-Forwarded-Proto"); len(h) != 1 || h[0] != "gw.portcullis.test:8443" || len(p) != 1 || p[0] != "https" {
		t.Errorf("%s: upstream X-Forwarded-Host %q, -Proto %q, want the configured gw.portcullis.test:8443, https", name, h, p)
	}
	var body struct{ Links struct{ Self string } }
	if err := json.Unmarshal(got.body, &body); err != nil || body.Links.Self != wantSelf {
		t.Errorf("%s: Links.Self = %q (%v), want %q", name, body.Links.Self, err, wantSelf)
	}
}

// TestExtAuthzRefusesCallerOnlyHeaders: in ext-authz mode the proxy passes the
// original headers on and Portcullis cannot drop them, so an original request
// carrying an underscore spelling of a reserved name, an X-Portcullis-* header or a
// method override is refused (400 reserved_header), in every dialect; the proxy's
// own forwarding headers are not.
func TestExtAuthzRefusesCallerOnlyHeaders(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	tok := f.userToken(t, "A", "aac-ok", "accounts")
	for _, h := range []string{"X_Portcullis_Psu_Id", "X-Portcullis_Org_Id", "X-Portcullis-Consent-Id", "X_Client_Cert",
		"X_Forwarded_Host", "X-HTTP-Method-Override", "X-Method-Override", "X-HTTP-Method", "X_Fapi_Interaction_Id"} {
		for _, m := range []mode{modeEnvoy, modeNginx, modeTraefik} {
			t.Run(h+"/"+string(m), func(t *testing.T) {
				got := f.do(t, m, call{cert: "A", method: "GET", path: accountsPath, auth: "Bearer " + tok, headers: map[string]string{h: "x"}})
				if got.status != http.StatusBadRequest || got.ob.Code != CodeReservedHeader || len(got.ob.Errors) != 1 ||
					got.ob.Errors[0].ErrorCode != "UK.OBIE.Header.Invalid" || got.header.Get("X-Fapi-Interaction-Id") != testInteractionID {
					t.Errorf("%d %s, want 400 %s UK.OBIE.Header.Invalid with the interaction id", got.status, got.body, CodeReservedHeader)
				}
			})
		}
	}
	// The forwarding headers a proxy sets itself pass.
	for _, m := range []mode{modeEnvoy, modeNginx, modeTraefik} {
		got := f.do(t, m, call{cert: "A", method: "GET", path: accountsPath, auth: "Bearer " + tok,
			headers: map[string]string{"X-Forwarded-Host": "api.bank.example", "X-Forwarded-Proto": "https", "X-Forwarded-For": "192.0.2.1"}})
		if got.status != http.StatusOK {
			t.Errorf("%s with proxy forwarding headers: %d %s", m, got.status, got.body)
		}
	}
}
