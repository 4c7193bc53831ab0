package app_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/portcullis/portcullis/internal/app"
	"github.com/portcullis/portcullis/internal/audit"
	"github.com/portcullis/portcullis/internal/client"
	"github.com/portcullis/portcullis/internal/config"
	"github.com/portcullis/portcullis/internal/obs"
	"github.com/portcullis/portcullis/internal/pki/dn"
	"github.com/portcullis/portcullis/internal/pki/sandbox"
	"github.com/portcullis/portcullis/internal/store"
)

// lockedBuffer is a log destination the test reads while the server writes.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// lines returns the JSON log records whose msg is msg.
func (b *lockedBuffer) lines(t *testing.T, msg string) []map[string]any {
	t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []map[string]any
	for _, l := range strings.Split(b.buf.String(), "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(l), &m) == nil && m["msg"] == msg {
			out = append(out, m)
		}
	}
	return out
}

// TestObservabilityThroughGateway: one client-credentials token and one gateway call,
// each with its own x-fapi-interaction-id, on a dev server whose logs the test reads.
//   - The token's interaction id is on the token.issued audit event in the database and
//     in the audit log line, and on the request log line.
//   - The gateway call's interaction id reaches the upstream (x-fapi-interaction-id and
//     the identity header), is echoed to the caller and is on the request log line.
//   - /metrics then exposes the per-endpoint request counter (route patterns, no ids),
//     every stage of the validation chain with outcome pass, a refused request's stage
//     with its error code, client authentication by method and the grant outcome.
func TestObservabilityThroughGateway(t *testing.T) {
	var upMu sync.Mutex
	var upSeen []http.Header
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		upMu.Lock()
		upSeen = append(upSeen, r.Header.Clone())
		upMu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"Data":{}}`)
	}))
	t.Cleanup(up.Close)

	cfg := testConfig(t, func(cfg *config.Config) {
		cfg.Gateway.Routes = []config.GatewayRoute{{
			Name: "obs-echo", Method: http.MethodGet, Path: "/obs/echo/{EchoId}", Scopes: []string{"payments"},
			TokenUse: "application", Roles: []string{"PSP_PI"}, Upstream: up.URL,
		}}
	})
	logs := &lockedBuffer{}
	a, _ := runApp(t, cfg, app.Options{Logger: obs.NewLogger(logs, "info")})
	ctx := t.Context()

	cert, err := a.Sandbox.Issue(sandbox.KindQWAC, sandbox.IssueOptions{OrgID: "PSDGB-FCA-700001", Roles: mustRoles(t, "PISP")})
	if err != nil {
		t.Fatal(err)
	}
	subject, _ := dn.Render(cert.Certificate.RawSubject)
	if _, err := a.Clients.Add(ctx, &client.Client{
		ID: "tpp-obs", TokenEndpointAuthMethod: "tls_client_auth", TLSClientAuthSubjectDN: subject,
		GrantTypes: []string{"client_credentials"}, Scope: client.ScopeList{"payments"},
	}); err != nil {
		t.Fatal(err)
	}
	hc := mtlsClient(t, a.Sandbox.RootCertificate(), cert)
	base := "https://" + a.HTTPSAddr().String()

	const tokenIID = "0b7c3e52-5a4f-4d8e-9c61-2f1e6a3b7d01"
	const callIID = "6d2f9a10-3c8b-4e27-a5d4-8b0e1f7c2a93"
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {"tpp-obs"}, "scope": {"payments"}}
	req, _ := http.NewRequest(http.MethodPost, base+"/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Fapi-Interaction-Id", tokenIID)
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&tok)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || tok.AccessToken == "" {
		t.Fatalf("token: %d", resp.StatusCode)
	}

	call := func(iid, bearer string) *http.Response {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, base+"/obs/echo/e-1", nil)
		if bearer != "" {
			req.Header.Set("Authorization", "Bearer "+bearer)
		}
		req.Header.Set("X-Fapi-Interaction-Id", iid)
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp
	}
	resp = call(callIID, tok.AccessToken)
	if resp.StatusCode != http.StatusOK || resp.Header.Get("X-Fapi-Interaction-Id") != callIID {
		t.Fatalf("gateway call: %d, interaction id %q, want 200 and %s", resp.StatusCode, resp.Header.Get("X-Fapi-Interaction-Id"), callIID)
	}
	// A refusal at the token stage: no access token.
	if resp := call("1f0e2d3c-4b5a-4697-8877-665544332211", ""); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("gateway call without a token: %d, want 401", resp.StatusCode)
	}

	// The upstream saw the call's interaction id, in the FAPI header and the identity header.
	upMu.Lock()
	if len(upSeen) != 1 {
		t.Fatalf("upstream saw %d requests, want 1", len(upSeen))
	}
	h := upSeen[0]
	upMu.Unlock()
	if got := h.Get("X-Fapi-Interaction-Id"); got != callIID {
		t.Errorf("upstream x-fapi-interaction-id %q, want %s", got, callIID)
	}
	if got := h.Get("X-Portcullis-Interaction-Id"); got != callIID {
		t.Errorf("upstream X-Portcullis-Interaction-Id %q, want %s", got, callIID)
	}

	// The token.issued audit event carries the token request's interaction id, in the
	// database and in the audit log line.
	if err := a.AuditStore.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	events, err := a.Store.ListAudit(ctx, store.AuditFilter{Type: audit.TypeTokenIssued, ClientID: "tpp-obs"})
	if err != nil {
		t.Fatal(err)
	}
	if len(events) != 1 || events[0].InteractionID != tokenIID {
		t.Fatalf("token.issued events %+v, want one with interaction id %s", events, tokenIID)
	}
	auditLogged := false
	for _, l := range logs.lines(t, "audit") {
		if l["type"] == audit.TypeTokenIssued && l["interaction_id"] == tokenIID {
			auditLogged = true
		}
	}
	if !auditLogged {
		t.Errorf("no audit log line %s with interaction_id %s", audit.TypeTokenIssued, tokenIID)
	}
	// The request log lines carry each request's interaction id.
	seen := map[string]string{}
	for _, l := range logs.lines(t, "request") {
		if iid, _ := l[obs.LogKeyInteractionID].(string); iid != "" {
			seen[iid], _ = l["route"].(string)
		}
	}
	if seen[tokenIID] != "POST /token" {
		t.Errorf("request log line of the token request: route %q, want POST /token", seen[tokenIID])
	}
	if _, ok := seen[callIID]; !ok {
		t.Errorf("no request log line with the gateway call's interaction id")
	}

	// /metrics on the ops listener.
	mresp, err := http.Get("http://" + a.OpsAddr().String() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	mb, _ := io.ReadAll(mresp.Body)
	mresp.Body.Close()
	metrics := string(mb)
	want := []string{
		`portcullis_http_requests_total{code="200",method="POST",route="POST /token"} 1`,
		`portcullis_token_requests_total{grant_type="client_credentials",outcome="issued"} 1`,
		`portcullis_client_authentications_total{endpoint="token",method="tls_client_auth",outcome="ok"} 1`,
		`portcullis_gateway_checks_total{mode="proxy",outcome="pass",stage="certificate"} 2`,
		`portcullis_gateway_checks_total{mode="proxy",outcome="missing_token",stage="token"} 1`,
	}
	for _, s := range []string{"token", "token_use", "scope", "binding", "role", "authorisation", "consent", "customer"} {
		want = append(want, `portcullis_gateway_checks_total{mode="proxy",outcome="pass",stage="`+s+`"} 1`)
	}
	want = append(want, `portcullis_gateway_check_duration_seconds_count{stage="binding"} 1`)
	for _, w := range want {
		if !strings.Contains(metrics, w+"\n") {
			t.Errorf("/metrics lacks %s", w)
		}
	}
	if strings.Contains(metrics, "tpp-obs") || strings.Contains(metrics, "e-1") {
		t.Errorf("/metrics carries a client id or a path parameter")
	}
	if t.Failed() {
		for _, l := range strings.Split(metrics, "\n") {
			if strings.HasPrefix(l, "portcullis_gateway_checks") || strings.HasPrefix(l, "portcullis_http_requests") {
				t.Log(l)
			}
		}
	}
}
