package app

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/portcullis/portcullis/internal/config"
	"github.com/portcullis/portcullis/internal/gateway"
	"github.com/portcullis/portcullis/internal/jose"
	"github.com/portcullis/portcullis/internal/sandbox/bank"
)

// TestPaymentRoutesWithoutSealKey: a server without a message-signing key (production
// without keys.seal_cert_file) answers the payment APIs 503 UK.OBIE.UnexpectedError —
// never unsigned, never running the route — and leaves other routes alone.
func TestPaymentRoutesWithoutSealKey(t *testing.T) {
	k, err := jose.GenerateSigningKey(jose.ES256)
	if err != nil {
		t.Fatal(err)
	}
	ks, err := jose.NewKeyStore(jose.KeyStoreOptions{}, k)
	if err != nil {
		t.Fatal(err)
	}
	a := &App{cfg: config.Default(false), logger: slog.New(slog.DiscardHandler), Keys: ks}
	routes := []gateway.Route{
		{Name: "pay", Method: http.MethodPost, Pattern: bank.PathDomesticPayments},
		{Name: "pay-get", Method: http.MethodGet, Pattern: bank.PathDomesticPayment},
		{Name: "accounts", Method: http.MethodGet, Pattern: bank.PathAccounts},
	}
	if err := a.mountMessageRules(routes, 0); err != nil {
		t.Fatal(err)
	}
	if routes[2].Around != nil {
		t.Error("the accounts route got a wrapper")
	}
	ran := false
	next := http.HandlerFunc(func(http.ResponseWriter, *http.Request) { ran = true })
	for _, r := range routes[:2] {
		if r.Around == nil {
			t.Fatalf("route %s unwrapped", r.Name)
		}
		rec := httptest.NewRecorder()
		r.Around(next).ServeHTTP(rec, httptest.NewRequest(r.Method, "/x", nil))
		var body struct{ Errors []struct{ ErrorCode string } }
		b, _ := io.ReadAll(rec.Body)
		_ = json.Unmarshal(b, &body)
		if rec.Code != http.StatusServiceUnavailable || len(body.Errors) != 1 || body.Errors[0].ErrorCode != "UK.OBIE.UnexpectedError" || ran {
			t.Errorf("route %s: %d %s (handler ran: %v)", r.Name, rec.Code, b, ran)
		}
	}
}
