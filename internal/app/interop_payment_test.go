package app_test

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/app"
	"github.com/portcullis/portcullis/internal/client"
	"github.com/portcullis/portcullis/internal/pki"
)

// Acceptance "openid-client drives the TPP side of the payment journey" (issue 11):
// test/interop/payment.mjs creates the domestic-payment consent with a client_credentials
// token, pushes a signed request object naming it (openbanking_intent_id, acr essential),
// exchanges the code, checks the ID token names the consent and submits the payment; this
// test plays the customer through the bank's pages. With PORTCULLIS_TEST_PAYMENT_JWS=sign
// the script also signs its POSTs (x-jws-signature, detached JWS made with npm "jose"), and
// this test verifies each signature it sent with the standard library.

// interopPayment is what payment.mjs reports.
type interopPayment struct {
	ConsentID      string         `json:"consent_id"`
	AccessToken    string         `json:"access_token"`
	IDTokenClaims  map[string]any `json:"id_token_claims"`
	ConsentCreated scriptCall     `json:"consent_created"`
	Payment        scriptCall     `json:"payment"`
	ConsentAfter   scriptCall     `json:"consent_after"`
}

type scriptCall struct {
	Status       int    `json:"status"`
	Body         string `json:"body"`
	RequestBody  string `json:"request_body"`
	JWSSignature string `json:"jws_signature"`
}

// TestInteropPaymentOpenIDClient: openid-client 6.9.0 as the PISP, the demo customer
// approving with the debtor account 22289. The payment is answered 201 for the consent,
// which then reads Consumed; the tokens are the customer's, bound to the TPP's certificate
// and to that consent.
func TestInteropPaymentOpenIDClient(t *testing.T) {
	node, dir := interopNode(t)
	sign := paymentSigning()

	a := startApp(t, nil)
	codes := demoTOTP(t, a)
	const redirect = "https://tpp.example.com/cb"
	tpp := newInteropTPP(t, a, "oidc-pisp", "PSDGB-FCA-777777", &client.Client{
		Name: "Corner Bakery Checkout", GrantTypes: []string{"authorization_code", "refresh_token", "client_credentials"},
		RequestObjectSigningAlg: "ES256", Scope: client.ScopeList{"openid", "payments"}, RedirectURIs: []string{redirect},
		Profile: client.ProfileFAPI2,
	})

	// The message-signing key: PS256 (the OBIE v3.1 algorithm), added to the client's
	// JWKS next to its ES256 request-object key, and given to the script as a private JWK.
	sealKey := addRSASigningKey(t, a, tpp)

	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, filepath.Join(dir, "payment.mjs"),
		"https://localhost:8443", "https://"+a.HTTPSAddr().String(), tpp.id,
		filepath.Join(tpp.dir, "client.crt"), filepath.Join(tpp.dir, "client.key"), filepath.Join(tpp.dir, "ca.crt"),
		filepath.Join(tpp.dir, "client.jwk"), redirect)
	cmd.Dir = dir
	cmd.Env = os.Environ()
	if sign {
		// iss: the client_id (the client registered no organisation/software id); tan:
		// the dev server's sandbox trust anchor.
		cmd.Env = append(cmd.Env, "PAYMENT_JWS=sign", "PAYMENT_JWS_JWK="+filepath.Join(tpp.dir, "seal.jwk"),
			"PAYMENT_JWS_ISS="+tpp.id, "PAYMENT_JWS_TAN="+sandboxTrustAnchor)
	}
	stdin, lines, stderr := startInteropScript(t, cmd)
	defer func() { cancel(); _ = cmd.Wait() }() // after a t.Fatal below the process is ended
	failed := func(what string) {
		t.Helper()
		_ = cmd.Wait()
		t.Fatalf("payment.mjs ended before printing the %s: %v\nstderr:\n%s", what, lines.Err(), stderr.String())
	}
	if !lines.Scan() {
		failed("authorization URL")
	}
	var first struct {
		ConsentID        string `json:"consent_id"`
		AuthorizationURL string `json:"authorization_url"`
	}
	if err := json.Unmarshal(lines.Bytes(), &first); err != nil || first.ConsentID == "" {
		t.Fatalf("payment.mjs first line %q: %v", lines.Bytes(), err)
	}
	// The consent awaits the customer, who approves it with the debtor account.
	if c, err := a.Consents.Get(context.Background(), first.ConsentID); err != nil || c.Status(time.Now()) != "AwaitingAuthorisation" || c.ClientID != tpp.id {
		t.Fatalf("the consent before the journey: %+v, %v", c, err)
	}
	callback := customerApproves(t, a, first.AuthorizationURL, a.DemoCustomer.ID, a.DemoCustomer.Password, codes.next(t), "22289")
	if _, err := io.WriteString(stdin, callback+"\n"); err != nil {
		t.Fatal(err)
	}
	stdin.Close()
	if !lines.Scan() {
		failed("result")
	}
	var res interopPayment
	if err := json.Unmarshal(lines.Bytes(), &res); err != nil {
		t.Fatalf("payment.mjs result: %v", err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("payment.mjs: %v\nstderr:\n%s", err, stderr.String())
	}

	// openid-client checked the ID token (signature, nonce, openbanking_intent_id, acr).
	if res.ConsentID != first.ConsentID || res.IDTokenClaims["openbanking_intent_id"] != first.ConsentID || res.IDTokenClaims["aud"] != tpp.id {
		t.Errorf("ID token claims %v for consent %s", res.IDTokenClaims, first.ConsentID)
	}
	at := jwtClaims(t, res.AccessToken)
	if cnf, _ := at["cnf"].(map[string]any); cnf["x5t#S256"] != pki.Thumbprint(tpp.qwac.Certificate) {
		t.Errorf("access token cnf %v, want the TPP certificate's thumbprint", at["cnf"])
	}
	if at["consent_id"] != first.ConsentID || at["client_id"] != tpp.id || at["aut"] != "APPLICATION_USER" {
		t.Errorf("access token claims %v", at)
	}
	if res.Payment.Status != http.StatusCreated {
		t.Fatalf("payment: %d %s", res.Payment.Status, res.Payment.Body)
	}
	var pay struct {
		Data struct {
			ConsentID         string `json:"ConsentId"`
			DomesticPaymentID string `json:"DomesticPaymentId"`
		} `json:"Data"`
	}
	if err := json.Unmarshal([]byte(res.Payment.Body), &pay); err != nil || pay.Data.ConsentID != first.ConsentID || pay.Data.DomesticPaymentID == "" {
		t.Errorf("payment answer %s (%v)", res.Payment.Body, err)
	}
	if !strings.Contains(res.ConsentAfter.Body, `"Status":"Consumed"`) {
		t.Errorf("the consent after the payment: %d %s", res.ConsentAfter.Status, res.ConsentAfter.Body)
	}
	c, err := a.Consents.Get(context.Background(), first.ConsentID)
	if err != nil || c.Status(time.Now()) != "Consumed" || c.CustomerID != a.DemoCustomer.ID || !slices.Equal(c.Accounts, []string{"22289"}) {
		t.Errorf("the stored consent: %+v, %v", c, err)
	}

	if sign {
		for name, call := range map[string]scriptCall{"consent": res.ConsentCreated, "payment": res.Payment} {
			if err := verifyDetachedPS256(call.JWSSignature, []byte(call.RequestBody), &sealKey.PublicKey, tpp.id); err != nil {
				t.Errorf("%s x-jws-signature: %v", name, err)
			}
		}
	}
}

// paymentSigning reports whether the payment journey tests sign their consent and
// payment POSTs (x-jws-signature): always, since the payment routes require it.
func paymentSigning() bool { return true }

// sandboxTrustAnchor is the dev server's trust anchor name for sandbox QSealCs (the tan
// its x-jws-signature verifier accepts in dev mode).
const sandboxTrustAnchor = "portcullis-sandbox"

// newRSASealKey is a TPP's PS256 message-signing key and its public JWK.
func newRSASealKey(t *testing.T, kid string) (*rsa.PrivateKey, map[string]any) {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return key, map[string]any{"kty": "RSA", "kid": kid, "use": "sig", "alg": "PS256",
		"n": b64u(key.N.Bytes()), "e": b64u(big.NewInt(int64(key.E)).Bytes())}
}

// addRSASigningKey adds a PS256 key (kid "<id>-seal") to tpp's registered JWKS and writes
// its private JWK to seal.jwk in tpp's directory.
func addRSASigningKey(t *testing.T, a *app.App, tpp *interopTPP) *rsa.PrivateKey {
	t.Helper()
	key, pub := newRSASealKey(t, tpp.id+"-seal")
	ctx := context.Background()
	c, err := a.Clients.Get(ctx, tpp.id)
	if err != nil {
		t.Fatal(err)
	}
	var set struct {
		Keys []any `json:"keys"`
	}
	if err := json.Unmarshal(c.JWKS, &set); err != nil {
		t.Fatal(err)
	}
	set.Keys = append(set.Keys, pub)
	if c.JWKS, err = json.Marshal(set); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Clients.Update(ctx, c); err != nil {
		t.Fatalf("adding the signing key: %v", err)
	}
	priv := map[string]any{"d": b64u(key.D.Bytes()), "p": b64u(key.Primes[0].Bytes()), "q": b64u(key.Primes[1].Bytes()),
		"dp": b64u(key.Precomputed.Dp.Bytes()), "dq": b64u(key.Precomputed.Dq.Bytes()), "qi": b64u(key.Precomputed.Qinv.Bytes())}
	for k, v := range pub {
		priv[k] = v
	}
	raw, err := json.Marshal(priv)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(tpp.dir, "seal.jwk"), raw, 0o600); err != nil {
		t.Fatal(err)
	}
	return key
}

// verifyDetachedPS256 checks an OBIE v3.1.4+ x-jws-signature (header..signature, payload
// base64url-encoded) over body, independently of the code under test: PS256, the three
// Open Banking claims critical, iss the client.
func verifyDetachedPS256(sig string, body []byte, key *rsa.PublicKey, iss string) error {
	parts := strings.Split(sig, ".")
	if len(parts) != 3 || parts[1] != "" {
		return fmt.Errorf("not a detached JWS: %q", sig)
	}
	hb, err := base64.RawURLEncoding.DecodeString(parts[0])
	if err != nil {
		return err
	}
	var h struct {
		Alg  string   `json:"alg"`
		B64  *bool    `json:"b64"`
		Crit []string `json:"crit"`
		Iss  string   `json:"http://openbanking.org.uk/iss"`
		Iat  int64    `json:"http://openbanking.org.uk/iat"`
		Tan  string   `json:"http://openbanking.org.uk/tan"`
	}
	if err := json.Unmarshal(hb, &h); err != nil {
		return err
	}
	wantCrit := []string{"http://openbanking.org.uk/iat", "http://openbanking.org.uk/iss", "http://openbanking.org.uk/tan"}
	if h.Alg != "PS256" || h.B64 != nil || !slices.Equal(h.Crit, wantCrit) || h.Iss != iss || h.Iat == 0 || h.Tan != sandboxTrustAnchor {
		return fmt.Errorf("header %s", hb)
	}
	s, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		return fmt.Errorf("signature encoding: %v", err)
	}
	digest := sha256.Sum256([]byte(parts[0] + "." + base64.RawURLEncoding.EncodeToString(body)))
	if err := rsa.VerifyPSS(key, crypto.SHA256, digest[:], s, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash}); err != nil {
		return fmt.Errorf("signature does not verify over the body sent: %v", err)
	}
	return nil
}
