package gateway

import (
	"encoding/json"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/portcullis/portcullis/internal/consent"
)

// TestConsentWebhook is acceptance criterion 2: the gateway calls the webhook
// validator with the documented payload; a valid:false answer becomes a 403 with
// its error code; a timeout or a failure is a 503, never an allow — in proxy and
// ext-authz mode alike.
func TestConsentWebhook(t *testing.T) {
	type answer struct {
		status int
		body   string
		block  bool
	}
	var (
		mu       sync.Mutex
		current  answer
		payloads [][]byte
	)
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		payloads = append(payloads, b)
		a := current
		mu.Unlock()
		if a.block {
			select {
			case <-release:
			case <-r.Context().Done():
			}
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(a.status)
		_, _ = io.WriteString(w, a.body)
	}))
	t.Cleanup(hook.Close)
	wh, err := consent.NewWebhook(consent.WebhookOptions{URL: hook.URL + "/validate", Timeout: 150 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	f := newFixture(t, fixtureOpts{validator: wh})

	tests := []struct {
		name   string
		answer answer
		status int
		code   string
		obCode string
	}{
		{name: "valid", answer: answer{status: 200, body: `{"valid":true}`}, status: 200},
		{name: "valid false", answer: answer{status: 200, body: `{"valid":false,"errorCode":"UK.OBIE.Resource.InvalidConsentStatus","errorMessage":"Consent is Revoked"}`},
			status: 403, code: CodeConsentInvalid, obCode: "UK.OBIE.Resource.InvalidConsentStatus"},
		{name: "valid false with status", answer: answer{status: 200, body: `{"valid":false,"errorCode":"UK.OBIE.Resource.ConsentMismatch","httpStatus":400}`},
			status: 400, code: CodeConsentInvalid, obCode: "UK.OBIE.Resource.ConsentMismatch"},
		{name: "webhook error", answer: answer{status: 500, body: `{"valid":true}`}, status: 503, code: CodeConsentUnavailable, obCode: "UK.OBIE.UnexpectedError"},
		{name: "webhook malformed", answer: answer{status: 200, body: `{"valid":"yes"}`}, status: 503, code: CodeConsentUnavailable, obCode: "UK.OBIE.UnexpectedError"},
		{name: "webhook timeout", answer: answer{block: true}, status: 503, code: CodeConsentUnavailable, obCode: "UK.OBIE.UnexpectedError"},
	}
	for _, tt := range tests {
		for _, m := range []mode{modeDirect, modeEnvoy} {
			t.Run(tt.name+"/"+string(m), func(t *testing.T) {
				mu.Lock()
				current, payloads = tt.answer, nil
				mu.Unlock()
				tok := f.userToken(t, "A", "aac-77", "accounts")
				before := f.bank.n.Load()
				got := f.do(t, m, call{cert: "A", method: "GET", path: accountsPath + "/22289", auth: "Bearer " + tok})
				forwarded := f.bank.n.Load() - before
				if got.status != tt.status {
					t.Fatalf("status = %d, want %d: %s", got.status, tt.status, got.body)
				}
				wantForwarded := int64(0)
				if tt.status == 200 && m == modeDirect {
					wantForwarded = 1
				}
				if forwarded != wantForwarded {
					t.Errorf("forwarded %d times, want %d", forwarded, wantForwarded)
				}
				if tt.status != 200 {
					if got.ob.Code != tt.code || got.ob.Errors[0].ErrorCode != tt.obCode {
						t.Errorf("body = %+v", got.ob)
					}
				}

				mu.Lock()
				defer mu.Unlock()
				if len(payloads) != 1 {
					t.Fatalf("webhook called %d times", len(payloads))
				}
				var p map[string]any
				if err := json.Unmarshal(payloads[0], &p); err != nil {
					t.Fatal(err)
				}
				claims, _ := p["tokenClaims"].(map[string]any)
				req, _ := p["request"].(map[string]any)
				headers, _ := req["headers"].(map[string]any)
				got2 := map[string]any{
					"keys":             sortedKeys(p),
					"consentId":        p["consentId"],
					"clientId":         p["clientId"],
					"userId":           p["userId"],
					"consent":          p["consent"],
					"claims.client_id": claims["client_id"],
					"claims.scope":     claims["scope"],
					"claims.aut":       claims["aut"],
					"claims.x5t":       claims["cnf"].(map[string]any)["x5t#S256"],
					"request.keys":     sortedKeys(req),
					"method":           req["method"],
					"path":             req["path"],
					"resourceTemplate": req["resourceTemplate"],
					"body":             req["body"],
					"authorization":    headers["authorization"],
					"interaction":      headers["x-fapi-interaction-id"],
				}
				want := map[string]any{
					"keys":             []string{"clientId", "consent", "consentId", "request", "tokenClaims", "userId"},
					"consentId":        "aac-77",
					"clientId":         "tpp-1",
					"userId":           claims["sub"], // the token's opaque subject, never the customer id
					"consent":          nil,
					"claims.client_id": "tpp-1",
					"claims.scope":     "accounts",
					"claims.aut":       "APPLICATION_USER",
					"claims.x5t":       thumbprint(f.certs["A"]),
					"request.keys":     []string{"body", "headers", "method", "path", "resourceTemplate"},
					"method":           "GET",
					"path":             accountsPath + "/22289",
					"resourceTemplate": accountsPath + "/{AccountId}",
					"body":             nil,
					"authorization":    nil,
					"interaction":      []any{testInteractionID},
				}
				if diff := cmp.Diff(want, got2); diff != "" {
					t.Errorf("webhook payload (-want +got):\n%s", diff)
				}
			})
		}
	}
}

func sortedKeys(m map[string]any) []string { return slices.Sorted(maps.Keys(m)) }
