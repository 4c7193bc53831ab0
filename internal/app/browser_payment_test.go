package app_test

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/portcullis/portcullis/internal/client"
	"github.com/portcullis/portcullis/internal/consent"
	"github.com/portcullis/portcullis/internal/obie"
	"github.com/portcullis/portcullis/internal/sandbox/bank"
	"github.com/portcullis/portcullis/internal/web"
)

// Acceptance "the same for a domestic payment and a VRP consent" of issue 11: a TPP creates
// the consent with a client_credentials token over mTLS, pushes a signed request object
// naming it (openbanking_intent_id), chromium logs in as the demo customer, passes SCA,
// sees the payment or the VRP limits on the approval page, picks the debtor account and
// approves; the TPP redeems the code and submits payments through the gateway, where the
// in-process validator lets through exactly what the consent allows. Screenshots:
// test-output/screenshots/journey-payment-approve.png and journey-vrp-approve.png.

const (
	journeyPayInitiation = `{"InstructionIdentification":"ACME412","EndToEndIdentification":"FRESCO.21302.GFX.20",
		"InstructedAmount":{"Amount":"165.88","Currency":"GBP"},
		"CreditorAccount":{"SchemeName":"UK.OBIE.SortCodeAccountNumber","Identification":"08080021325698","Name":"ACME Inc"},
		"RemittanceInformation":{"Reference":"FRESCO-101","Unstructured":"Internal ops code 5120101"}}`
	vrpInitiationJSON = `{"CreditorAccount":{"SchemeName":"UK.OBIE.SortCodeAccountNumber","Identification":"30949330000010","Name":"Marcus Sweepimus"},
		"RemittanceInformation":{"Reference":"Sweep to savings"}}`
	vrpControl = `{"PSUAuthenticationMethods":["UK.OBIE.SCANotRequired"],"VRPType":["UK.OBIE.VRPType.Sweeping"],
		"MaximumIndividualAmount":{"Amount":"50.00","Currency":"GBP"},
		"PeriodicLimits":[{"PeriodType":"Day","PeriodAlignment":"Calendar","Amount":"100.00","Currency":"GBP"}]}`
)

// obAnswer is an Open Banking API answer.
type obAnswer struct {
	status int
	body   map[string]any
	raw    string
	header http.Header
}

// obCode is the first ErrorCode of an OBIE error body.
func (a obAnswer) obCode() string {
	errs, _ := a.body["Errors"].([]any)
	if len(errs) == 0 {
		return ""
	}
	e, _ := errs[0].(map[string]any)
	code, _ := e["ErrorCode"].(string)
	return code
}

// obTPP is a TPP calling the Open Banking APIs over its mTLS client; with seal set its
// POSTs carry an x-jws-signature (PORTCULLIS_TEST_PAYMENT_JWS=sign).
type obTPP struct {
	hc   *http.Client
	seal *rsa.PrivateKey
	kid  string // the seal key's kid in the client's JWKS
	iss  string // http://openbanking.org.uk/iss: the client_id
}

// obCall sends an Open Banking API request with token, a fresh x-fapi-interaction-id
// and, for a POST, a fresh x-idempotency-key (every submission is a new one: an
// idempotent replay would be another test) and, when the TPP signs, its x-jws-signature.
func (tpp obTPP) obCall(t *testing.T, method, u, token, body string) obAnswer {
	t.Helper()
	hc := tpp.hc
	req, err := http.NewRequest(method, u, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Accept", "application/json")
	req.Header.Set("x-fapi-interaction-id", "93bac548-d2de-4546-b106-880a5018460d")
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("x-idempotency-key", "idem-"+randomString(t)[:20])
		if tpp.seal != nil {
			req.Header.Set("x-jws-signature", signDetachedPS256(t, tpp.seal, tpp.kid, tpp.iss, []byte(body)))
		}
	}
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	a := obAnswer{status: resp.StatusCode, raw: string(b), header: resp.Header}
	_ = json.Unmarshal(b, &a.body)
	return a
}

// clientCredentials is a client_credentials token of scope for a tls_client_auth client.
func clientCredentials(t *testing.T, hc *http.Client, mtlsBase, clientID, scope string) string {
	t.Helper()
	var tok map[string]any
	if status := postJSON(t, hc, mtlsBase+"/token", url.Values{"grant_type": {"client_credentials"}, "client_id": {clientID}, "scope": {scope}}, &tok); status != http.StatusOK {
		t.Fatalf("client_credentials: %d %v", status, tok)
	}
	return tok["access_token"].(string)
}

// payJourney is one intent-bound authorization of the payment TPP.
type payJourney struct {
	consentID string
	authURL   string
	verifier  string
	state     string
	nonce     string
}

// pushIntent pushes a signed request object for consentID (openbanking_intent_id and acr
// essential, PKCE) and returns the authorization URL on the public listener.
func (rig *browserRig) pushIntent(t *testing.T, tpp tppSide, clientID string, key signingKey, consentID string) payJourney {
	t.Helper()
	verifier, challenge := pkcePair(t)
	pj := payJourney{consentID: consentID, verifier: verifier, state: randomString(t), nonce: randomString(t)}
	now := time.Now()
	ro := key.sign(t, "oauth-authz-req+jwt", map[string]any{
		"iss": clientID, "aud": "https://localhost:8443", "client_id": clientID,
		"nbf": now.Unix(), "exp": now.Add(10 * time.Minute).Unix(), "jti": randomString(t),
		"response_type": "code", "redirect_uri": rig.cb.url(), "scope": "openid payments",
		"state": pj.state, "nonce": pj.nonce, "code_challenge": challenge, "code_challenge_method": "S256",
		"claims": map[string]any{"id_token": map[string]any{
			"openbanking_intent_id": map[string]any{"essential": true, "value": consentID},
			"acr":                   map[string]any{"essential": true, "values": []string{"urn:openbanking:psd2:sca"}},
		}},
	})
	var par map[string]any
	if status := postJSON(t, tpp.http, rig.mtlsBase+"/par", url.Values{"client_id": {clientID}, "request": {ro}}, &par); status != http.StatusCreated {
		t.Fatalf("PAR: %d %v", status, par)
	}
	pj.authURL = rig.publicBase + "/authorize?" + url.Values{"client_id": {clientID}, "request_uri": {par["request_uri"].(string)}}.Encode()
	return pj
}

// approveIn walks chromium through login and SCA to the approval page, runs check on it,
// saves a screenshot, picks account and approves; it returns the code at the callback.
func (rig *browserRig) approveIn(t *testing.T, pj payJourney, shot, account string, check func(t *testing.T)) string {
	t.Helper()
	demo := rig.a.DemoCustomer
	rig.b.Run(t, "open the authorization URL", chromedp.Navigate(pj.authURL), chromedp.WaitVisible(chromedp.CSS("#username")))
	rig.b.login(t, demo.ID, demo.Password)
	rig.b.otp(t, rig.codes.next(t))
	rig.b.Run(t, "approval page", chromedp.WaitVisible(chromedp.CSS("#approve")))
	check(t)
	// The payment is made from one account: the customer picks it with radio buttons.
	kind, err := chromedp.Run(rig.b.Ctx, chromedp.AttributeValue(chromedp.CSS(`input[name="account"][value="`+account+`"]`), "type"))
	if err != nil {
		t.Fatal(err)
	}
	if kind.Value != "radio" {
		t.Errorf("the debtor account is offered as %q, want radio", kind.Value)
	}
	rig.wantText(t, "fieldset.accounts legend", web.English["approve.debtor"])
	rig.b.shot(t, shot)
	rig.b.Run(t, "choose the debtor account and approve",
		chromedp.Click(chromedp.CSS(`input[name="account"][value="`+account+`"]`)),
		chromedp.Click(chromedp.CSS("#approve")),
		chromedp.WaitVisible(chromedp.CSS("#tpp-done")))
	rig.b.wantSeeOthers(t)
	loc, err := url.Parse(rig.b.Location(t))
	if err != nil {
		t.Fatal(err)
	}
	q := loc.Query()
	if !strings.HasPrefix(loc.String(), rig.cb.url()+"?") || q.Get("state") != pj.state || q.Get("iss") != "https://localhost:8443" || q.Get("code") == "" {
		t.Fatalf("back at the TPP with %s", loc.Redacted())
	}
	rig.b.WantNoProblems(t)
	return q.Get("code")
}

// wantText asserts the element css on the page contains every one of want.
func (rig *browserRig) wantText(t *testing.T, css string, want ...string) {
	t.Helper()
	got := strings.Join(strings.Fields(rig.b.Text(t, css)), " ")
	for _, w := range want {
		if !strings.Contains(got, w) {
			t.Errorf("%s shows %q, want %q in it", css, got, w)
		}
	}
}

// TestBrowserPaymentJourney: a domestic payment and a VRP, each from consent creation over
// the real browser's approval to submissions through the gateway.
//
//   - domestic payment: the approval page shows amount, creditor and reference; after the
//     code exchange (ID token openbanking_intent_id = the consent, the access token bound to
//     it) a submission with another amount is refused (400 UK.OBIE.Resource.ConsentMismatch)
//     and does not use the consent up, the consent's own Initiation gets 201, and a second
//     identical submission (a new idempotency key) is refused (400
//     UK.OBIE.Resource.InvalidConsentStatus): one 201 in all, and the consent reads Consumed;
//   - VRP (at most 50.00 GBP a payment, 100.00 GBP a calendar day): the approval page shows
//     the limits and the creditor; 30.00 → 201; 60.00 → 400
//     UK.OBIE.Rules.FailsControlParameters (over the individual maximum); 40.00 → 201;
//     another 40.00 → 400 UK.OBIE.Rules.FailsControlParameters (the day's 100.00 would be
//     exceeded); the consent stays Authorised.
func TestBrowserPaymentJourney(t *testing.T) {
	rig := newBrowserJourneyRig(t)
	key := newSigningKey(t, "pay-ro-1")
	const clientID = "tpp-pay"
	// The client's JWKS: its ES256 request-object key and a PS256 message-signing key.
	seal, sealJWK := newRSASealKey(t, clientID+"-seal")
	var jwks struct {
		Keys []any `json:"keys"`
	}
	if err := json.Unmarshal(key.jwks(t), &jwks); err != nil {
		t.Fatal(err)
	}
	jwks.Keys = append(jwks.Keys, sealJWK)
	jwksRaw, err := json.Marshal(jwks)
	if err != nil {
		t.Fatal(err)
	}
	register(t, rig.a, &client.Client{
		ID: clientID, Name: "Swiftpay Checkout", TokenEndpointAuthMethod: "tls_client_auth", TLSClientAuthSubjectDN: rig.tpp2.subject,
		GrantTypes: []string{"authorization_code", "refresh_token", "client_credentials"}, Scope: client.ScopeList{"openid", "payments"},
		RequestObjectSigningAlg: "ES256", JWKS: jwksRaw, RedirectURIs: []string{rig.cb.url()}, Profile: client.ProfileFAPI2,
	})
	hc := rig.tpp2.http
	api := obTPP{hc: hc}
	if paymentSigning() {
		api.seal, api.kid, api.iss = seal, clientID+"-seal", clientID
	}
	cc := clientCredentials(t, hc, rig.mtlsBase, clientID, "payments")

	// authorise creates nothing: it runs the journey for consentID and returns the
	// customer's access token after checking the ID token names the consent.
	authorise := func(t *testing.T, consentID, shot, account string, check func(t *testing.T)) string {
		t.Helper()
		pj := rig.pushIntent(t, rig.tpp2, clientID, key, consentID)
		code := rig.approveIn(t, pj, shot, account, check)
		tok := rig.exchange(t, rig.tpp2, clientID, code, pj.verifier, pj.nonce)
		if idt := jwtClaims(t, tok["id_token"].(string)); idt["openbanking_intent_id"] != consentID {
			t.Errorf("ID token openbanking_intent_id %v, want %s", idt["openbanking_intent_id"], consentID)
		}
		if at := jwtClaims(t, tok["access_token"].(string)); at["consent_id"] != consentID {
			t.Errorf("access token consent_id %v, want %s", at["consent_id"], consentID)
		}
		return tok["access_token"].(string)
	}

	t.Run("domestic payment", func(t *testing.T) {
		created := api.obCall(t, http.MethodPost, rig.mtlsBase+consent.PathDomesticPaymentConsents, cc,
			`{"Data":{"Initiation":`+journeyPayInitiation+`},"Risk":{"PaymentContextCode":"EcommerceGoods"}}`)
		if created.status != http.StatusCreated {
			t.Fatalf("create the payment consent: %d %s", created.status, created.raw)
		}
		consentID := created.body["Data"].(map[string]any)["ConsentId"].(string)
		at := authorise(t, consentID, "payment-approve", "22289", func(t *testing.T) {
			rig.wantText(t, "#client-name", "Swiftpay Checkout")
			rig.wantText(t, ".consent", "A single payment", web.English["consent.single_use"])
			rig.wantText(t, ".payment", "165.88 GBP", "ACME Inc (08080021325698)", "FRESCO-101")
		})
		got := api.obCall(t, http.MethodGet, rig.mtlsBase+consent.PathDomesticPaymentConsents+"/"+consentID, cc, "")
		if data, _ := got.body["Data"].(map[string]any); got.status != http.StatusOK || data["Status"] != "Authorised" {
			t.Fatalf("the consent after approval: %d %s", got.status, got.raw)
		}

		submit := func(initiation string) obAnswer {
			return api.obCall(t, http.MethodPost, rig.mtlsBase+bank.PathDomesticPayments, at,
				`{"Data":{"ConsentId":"`+consentID+`","Initiation":`+initiation+`},"Risk":{"PaymentContextCode":"EcommerceGoods"}}`)
		}
		created201 := 0
		other := submit(strings.Replace(journeyPayInitiation, `"165.88"`, `"1165.88"`, 1))
		if other.status != http.StatusBadRequest || other.obCode() != obie.CodeResourceConsentMismatch {
			t.Errorf("a submission with another amount: %d %s, want 400 %s", other.status, other.raw, obie.CodeResourceConsentMismatch)
		}
		if other.status == http.StatusCreated {
			created201++
		}
		first := submit(journeyPayInitiation)
		if first.status != http.StatusCreated {
			t.Fatalf("the consent's payment: %d %s, want 201", first.status, first.raw)
		}
		created201++
		if data, _ := first.body["Data"].(map[string]any); data["ConsentId"] != consentID || data["DomesticPaymentId"] == "" {
			t.Errorf("payment answer %s", first.raw)
		}
		again := submit(journeyPayInitiation)
		if again.status != http.StatusBadRequest || again.obCode() != obie.CodeResourceInvalidConsentStatus {
			t.Errorf("a second identical submission: %d %s, want 400 %s", again.status, again.raw, obie.CodeResourceInvalidConsentStatus)
		}
		if again.status == http.StatusCreated {
			created201++
		}
		if created201 != 1 {
			t.Errorf("%d submissions answered 201, want exactly one", created201)
		}
		got = api.obCall(t, http.MethodGet, rig.mtlsBase+consent.PathDomesticPaymentConsents+"/"+consentID, cc, "")
		if data, _ := got.body["Data"].(map[string]any); got.status != http.StatusOK || data["Status"] != "Consumed" {
			t.Errorf("the consent after the payment: %d %s, want Consumed", got.status, got.raw)
		}
	})

	t.Run("VRP", func(t *testing.T) {
		created := api.obCall(t, http.MethodPost, rig.mtlsBase+consent.PathDomesticVRPConsents, cc,
			`{"Data":{"ControlParameters":`+vrpControl+`,"Initiation":`+vrpInitiationJSON+`},"Risk":{}}`)
		if created.status != http.StatusCreated {
			t.Fatalf("create the VRP consent: %d %s", created.status, created.raw)
		}
		consentID := created.body["Data"].(map[string]any)["ConsentId"].(string)
		at := authorise(t, consentID, "vrp-approve", "22289", func(t *testing.T) {
			rig.wantText(t, ".consent", "Variable recurring payments", "At most 50.00 GBP per payment", "At most 100.00 GBP per day")
			rig.wantText(t, ".payment", "Marcus Sweepimus (30949330000010)")
			if got := rig.b.Text(t, ".payment"); strings.Contains(got, web.English["consent.amount"]) {
				t.Errorf("the VRP shows an amount row with no amount: %q", got)
			}
		})
		pay := func(amount string) obAnswer {
			return api.obCall(t, http.MethodPost, rig.mtlsBase+bank.PathDomesticVRPs, at, fmt.Sprintf(
				`{"Data":{"ConsentId":%q,"PSUAuthenticationMethod":"UK.OBIE.SCANotRequired","Initiation":%s,
				"Instruction":{"InstructionIdentification":%q,"EndToEndIdentification":"E2E-1",
				"InstructedAmount":{"Amount":%q,"Currency":"GBP"},
				"CreditorAccount":{"SchemeName":"UK.OBIE.SortCodeAccountNumber","Identification":"30949330000010","Name":"Marcus Sweepimus"}}},"Risk":{}}`,
				consentID, vrpInitiationJSON, "instr-"+randomString(t)[:10], amount))
		}
		for i, step := range []struct {
			amount string
			status int
			code   string
		}{
			{"30.00", http.StatusCreated, ""},
			{"60.00", http.StatusBadRequest, obie.CodeRulesFailsControlParameters}, // over the individual maximum
			{"40.00", http.StatusCreated, ""},
			{"40.00", http.StatusBadRequest, obie.CodeRulesFailsControlParameters}, // 110.00 in the day
		} {
			got := pay(step.amount)
			if got.status != step.status || got.obCode() != step.code {
				t.Errorf("VRP payment %d of %s GBP: %d %s, want %d %s", i+1, step.amount, got.status, got.raw, step.status, step.code)
			}
		}
		got := api.obCall(t, http.MethodGet, rig.mtlsBase+consent.PathDomesticVRPConsents+"/"+consentID, cc, "")
		if data, _ := got.body["Data"].(map[string]any); got.status != http.StatusOK || data["Status"] != "Authorised" {
			t.Errorf("the VRP consent after its payments: %d %s, want Authorised", got.status, got.raw)
		}
	})
}

// signDetachedPS256 is an OBIE v3.1.4+ x-jws-signature over body made with the standard
// library (not the code under test): PS256, typ JOSE, cty application/json, the three Open
// Banking claims critical (iat now, iss, tan the dev sandbox's anchor).
func signDetachedPS256(t *testing.T, key *rsa.PrivateKey, kid, iss string, body []byte) string {
	t.Helper()
	h, err := json.Marshal(map[string]any{
		"alg": "PS256", "kid": kid, "typ": "JOSE", "cty": "application/json",
		"http://openbanking.org.uk/iat": time.Now().Unix(), "http://openbanking.org.uk/iss": iss,
		"http://openbanking.org.uk/tan": sandboxTrustAnchor,
		"crit":                          []string{"http://openbanking.org.uk/iat", "http://openbanking.org.uk/iss", "http://openbanking.org.uk/tan"},
	})
	if err != nil {
		t.Fatal(err)
	}
	input := b64u(h) + "." + b64u(body)
	digest := sha256.Sum256([]byte(input))
	sig, err := rsa.SignPSS(rand.Reader, key, crypto.SHA256, digest[:], &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash})
	if err != nil {
		t.Fatal(err)
	}
	return b64u(h) + ".." + b64u(sig)
}
