package app_test

import (
	"context"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"math/big"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/app"
	"github.com/portcullis/portcullis/internal/client"
	"github.com/portcullis/portcullis/internal/config"
	"github.com/portcullis/portcullis/internal/consent"
	"github.com/portcullis/portcullis/internal/idempotency"
	"github.com/portcullis/portcullis/internal/jose"
	"github.com/portcullis/portcullis/internal/pki"
	"github.com/portcullis/portcullis/internal/pki/dn"
	"github.com/portcullis/portcullis/internal/pki/sandbox"
	"github.com/portcullis/portcullis/internal/sandbox/bank"
	"github.com/portcullis/portcullis/internal/store"
	"github.com/portcullis/portcullis/internal/store/storetest"
	"github.com/portcullis/portcullis/internal/token"
)

// A payment initiation and its consent and submission bodies (the sandbox bank's demo
// customer pays ACME from account 22289).
const (
	payInitiation = `{"InstructionIdentification":"ACME412","EndToEndIdentification":"FRESCO.21302.GFX.20",
		"InstructedAmount":{"Amount":"165.88","Currency":"GBP"},
		"CreditorAccount":{"SchemeName":"UK.OBIE.SortCodeAccountNumber","Identification":"08080021325698","Name":"ACME Inc"},
		"RemittanceInformation":{"Reference":"FRESCO-101","Unstructured":"Internal ops code 5120101"}}`
	payConsentBody = `{"Data":{"Initiation":` + payInitiation + `},"Risk":{"PaymentContextCode":"EcommerceGoods"}}`
)

func paySubmissionBody(consentID string) string {
	return `{"Data":{"ConsentId":"` + consentID + `","Initiation":` + payInitiation + `},"Risk":{"PaymentContextCode":"EcommerceGoods"}}`
}

// payTPP is a PISP over the sandbox PKI: its QWAC, its registered message-signing key
// (PS256, by value in its JWKS) and a client_credentials token.
type payTPP struct {
	t        *testing.T
	id       string
	qwac     *sandbox.Issued
	key      *jose.SigningKey
	appToken string
}

// newPayTPP registers a PISP client at a and gets its client_credentials token.
func newPayTPP(t *testing.T, a *app.App, id string) *payTPP {
	t.Helper()
	qwac, err := a.Sandbox.Issue(sandbox.KindQWAC, sandbox.IssueOptions{OrgID: "PSDGB-FCA-765432", CommonName: id, Roles: mustRoles(t, "PISP")})
	if err != nil {
		t.Fatal(err)
	}
	subject, err := dn.Render(qwac.Certificate.RawSubject)
	if err != nil {
		t.Fatal(err)
	}
	key, err := jose.GenerateSigningKey(jose.PS256)
	if err != nil {
		t.Fatal(err)
	}
	pub := key.Public().Public().(*rsa.PublicKey)
	jwks, _ := json.Marshal(map[string]any{"keys": []any{map[string]any{
		"kty": "RSA", "kid": key.KeyID(), "use": "sig", "alg": "PS256",
		"n": b64u(pub.N.Bytes()), "e": b64u(big.NewInt(int64(pub.E)).Bytes()),
	}}})
	if _, err := a.Clients.Add(context.Background(), &client.Client{
		ID: id, TokenEndpointAuthMethod: "tls_client_auth", TLSClientAuthSubjectDN: subject,
		GrantTypes: []string{"client_credentials"}, Scope: client.ScopeList{"payments"}, JWKS: jwks,
	}); err != nil {
		t.Fatal(err)
	}
	p := &payTPP{t: t, id: id, qwac: qwac, key: key}
	hc := p.client(a)
	resp, err := hc.PostForm("https://"+a.HTTPSAddr().String()+"/token", url.Values{"grant_type": {"client_credentials"}, "client_id": {id}, "scope": {"payments"}})
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&tok)
	if tok.AccessToken == "" {
		t.Fatalf("no client_credentials token: %d", resp.StatusCode)
	}
	p.appToken = tok.AccessToken
	return p
}

func (p *payTPP) client(a *app.App) *http.Client {
	return mtlsClient(p.t, a.Sandbox.RootCertificate(), p.qwac)
}

// sign is the TPP's x-jws-signature over body (v3.1.4+ form, iss = its client_id since it
// registered without org_id/software_id, tan = the sandbox's).
func (p *payTPP) sign(body string) string {
	p.t.Helper()
	sig, err := p.key.SignDetached([]byte(body), jose.DetachedEncoded, jose.DetachedClaims{
		Issuer: p.id, TrustAnchor: config.SandboxTrustAnchor, IssuedAt: time.Now(), ContentType: "application/json",
	})
	if err != nil {
		p.t.Fatal(err)
	}
	return sig
}

// userToken is an access token for the demo customer bound to consentID and to the TPP's
// certificate, minted by a's token issuer as the code grant would mint it.
func (p *payTPP) userToken(a *app.App, consentID string) string {
	p.t.Helper()
	tp := sha256.Sum256(p.qwac.Certificate.Raw)
	raw, _, err := a.Tokens.Issue(context.Background(), token.Claims{
		ClientID: p.id, Use: token.UseUser, UserID: "demo", Scopes: []string{"payments"},
		ConsentID: consentID, CertThumbprint: b64u(tp[:]),
	})
	if err != nil {
		p.t.Fatal(err)
	}
	return raw
}

type payAnswer struct {
	status int
	header http.Header
	body   []byte
	json   map[string]any
}

func (r payAnswer) errorCode() string {
	errs, _ := r.json["Errors"].([]any)
	if len(errs) == 0 {
		return ""
	}
	c, _ := errs[0].(map[string]any)["ErrorCode"].(string)
	return c
}

// post sends a JSON POST to base+path with tok, the idempotency key (when not empty) and
// the signature sig (when not empty). It may run in a goroutine; a transport error is
// reported and answered as status 0.
func (p *payTPP) post(hc *http.Client, base, path, tok, key, sig, body string) payAnswer {
	p.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, base+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Content-Type", "application/json")
	if key != "" {
		req.Header.Set("X-Idempotency-Key", key)
	}
	if sig != "" {
		req.Header.Set("X-Jws-Signature", sig)
	}
	resp, err := hc.Do(req)
	if err != nil {
		p.t.Error(err) // not Fatal: post runs in goroutines
		return payAnswer{}
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	ans := payAnswer{status: resp.StatusCode, header: resp.Header, body: b}
	_ = json.Unmarshal(b, &ans.json)
	return ans
}

// bankKeys is the bank's published /jwks (its seal key with x5c among them).
func bankKeys(t *testing.T, hc *http.Client, base string) *jose.JWKSet {
	t.Helper()
	resp, err := hc.Get(base + "/jwks")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	set, err := jose.ParseJWKS(b)
	if err != nil {
		t.Fatalf("/jwks: %v", err)
	}
	return set
}

// checkBankSignature verifies the answer's x-jws-signature with the bank's published keys.
func checkBankSignature(t *testing.T, keys *jose.JWKSet, ans payAnswer) {
	t.Helper()
	sig := ans.header.Get("X-Jws-Signature")
	if sig == "" {
		t.Fatalf("answer %d without x-jws-signature: %s", ans.status, ans.body)
	}
	ds, err := jose.VerifyDetached(context.Background(), sig, ans.body, keys, jose.DetachedOptions{TrustAnchors: []string{config.SandboxTrustAnchor}})
	if err != nil {
		t.Fatalf("bank signature of the %d answer: %v", ans.status, err)
	}
	if ds.Issuer != config.SandboxBankOrgID {
		t.Errorf("bank signature iss %q, want %q", ds.Issuer, config.SandboxBankOrgID)
	}
}

// TestDevPaymentSignaturesAndIdempotency drives the payment APIs of the dev server as a
// PISP: the consent POST and the payment submission need the TPP's x-jws-signature
// (missing → 400 Signature.Missing, not over this body → 400 Signature.Invalid, signed by
// another client's key id → 400 Signature.InvalidClaim) and an x-idempotency-key (missing →
// 400 Header.Missing); every answer, refusals included, carries the bank's signature,
// verifiable with its /jwks; a repeated submission is answered with the first answer —
// before the consent check, which would refuse it now the consent is Consumed — and the
// same key with another body is refused (400 Header.Invalid) and audited.
func TestDevPaymentSignaturesAndIdempotency(t *testing.T) {
	a := startApp(t, nil)
	base := "https://" + a.HTTPSAddr().String()
	tpp := newPayTPP(t, a, "pisp-1")
	hc := tpp.client(a)
	keys := bankKeys(t, hc, base)

	// The consent POST.
	ans := tpp.post(hc, base, consent.PathDomesticPaymentConsents, tpp.appToken, "c-key-1", "", payConsentBody)
	if ans.status != http.StatusBadRequest || ans.errorCode() != "UK.OBIE.Signature.Missing" {
		t.Fatalf("consent without signature: %d %s", ans.status, ans.body)
	}
	checkBankSignature(t, keys, ans)
	ans = tpp.post(hc, base, consent.PathDomesticPaymentConsents, tpp.appToken, "c-key-1", tpp.sign(payConsentBody+" "), payConsentBody)
	if ans.status != http.StatusBadRequest || ans.errorCode() != "UK.OBIE.Signature.Invalid" {
		t.Fatalf("consent with a signature over another body: %d %s", ans.status, ans.body)
	}
	ans = tpp.post(hc, base, consent.PathDomesticPaymentConsents, tpp.appToken, "", tpp.sign(payConsentBody), payConsentBody)
	if ans.status != http.StatusBadRequest || ans.errorCode() != "UK.OBIE.Header.Missing" {
		t.Fatalf("consent without idempotency key: %d %s", ans.status, ans.body)
	}
	created := tpp.post(hc, base, consent.PathDomesticPaymentConsents, tpp.appToken, "c-key-1", tpp.sign(payConsentBody), payConsentBody)
	if created.status != http.StatusCreated {
		t.Fatalf("consent: %d %s", created.status, created.body)
	}
	checkBankSignature(t, keys, created)
	consentID := created.json["Data"].(map[string]any)["ConsentId"].(string)
	again := tpp.post(hc, base, consent.PathDomesticPaymentConsents, tpp.appToken, "c-key-1", tpp.sign(payConsentBody), payConsentBody)
	if again.status != http.StatusCreated || string(again.body) != string(created.body) {
		t.Fatalf("repeated consent POST: %d %s, want the first answer", again.status, again.body)
	}
	checkBankSignature(t, keys, again)

	// The VRP consent POST: the same rules.
	const vrpConsent = `{"Data":{"ControlParameters":{"PSUAuthenticationMethods":["UK.OBIE.SCANotRequired"],"VRPType":["UK.OBIE.VRPType.Sweeping"],
		"MaximumIndividualAmount":{"Amount":"50.00","Currency":"GBP"},
		"PeriodicLimits":[{"PeriodType":"Day","PeriodAlignment":"Calendar","Amount":"100.00","Currency":"GBP"}]},
		"Initiation":{"CreditorAccount":{"SchemeName":"UK.OBIE.SortCodeAccountNumber","Identification":"30949330000010","Name":"Marcus Sweepimus"}}},"Risk":{}}`
	ans = tpp.post(hc, base, consent.PathDomesticVRPConsents, tpp.appToken, "v-key-1", "", vrpConsent)
	if ans.status != http.StatusBadRequest || ans.errorCode() != "UK.OBIE.Signature.Missing" {
		t.Fatalf("VRP consent without signature: %d %s", ans.status, ans.body)
	}
	vrp := tpp.post(hc, base, consent.PathDomesticVRPConsents, tpp.appToken, "v-key-1", tpp.sign(vrpConsent), vrpConsent)
	if vrp.status != http.StatusCreated {
		t.Fatalf("VRP consent: %d %s", vrp.status, vrp.body)
	}
	checkBankSignature(t, keys, vrp)
	if again := tpp.post(hc, base, consent.PathDomesticVRPConsents, tpp.appToken, "v-key-1", tpp.sign(vrpConsent), vrpConsent); string(again.body) != string(vrp.body) {
		t.Fatalf("repeated VRP consent POST: %d %s, want the first answer", again.status, again.body)
	}

	// Another client's key id: the signature does not name a key of this client.
	other := newPayTPP(t, a, "pisp-2")
	otherSig := other.sign(payConsentBody)
	ans = tpp.post(hc, base, consent.PathDomesticPaymentConsents, tpp.appToken, "c-key-2", otherSig, payConsentBody)
	if ans.status != http.StatusBadRequest || ans.errorCode() != "UK.OBIE.Signature.InvalidClaim" {
		t.Fatalf("consent signed with another client's key: %d %s", ans.status, ans.body)
	}

	// The customer authorises; the submission.
	if _, err := a.Consents.Authorise(context.Background(), consentID, "demo", []string{"22289"}); err != nil {
		t.Fatal(err)
	}
	userTok := tpp.userToken(a, consentID)
	pay := paySubmissionBody(consentID)
	ans = tpp.post(hc, base, bank.PathDomesticPayments, userTok, "p-key-1", "", pay)
	if ans.status != http.StatusBadRequest || ans.errorCode() != "UK.OBIE.Signature.Missing" {
		t.Fatalf("payment without signature: %d %s", ans.status, ans.body)
	}
	paid := tpp.post(hc, base, bank.PathDomesticPayments, userTok, "p-key-1", tpp.sign(pay), pay)
	if paid.status != http.StatusCreated {
		t.Fatalf("payment: %d %s", paid.status, paid.body)
	}
	checkBankSignature(t, keys, paid)
	c, err := a.Consents.Get(context.Background(), consentID)
	if err != nil || c.StoredStatus != consent.StatusConsumed {
		t.Fatalf("consent after the payment: %v %v", c, err)
	}
	replayed := tpp.post(hc, base, bank.PathDomesticPayments, userTok, "p-key-1", tpp.sign(pay), pay)
	if replayed.status != http.StatusCreated || string(replayed.body) != string(paid.body) {
		t.Fatalf("repeated payment: %d %s, want the first answer replayed", replayed.status, replayed.body)
	}
	checkBankSignature(t, keys, replayed)
	// Without the key it would have met the consumed consent.
	if ans := tpp.post(hc, base, bank.PathDomesticPayments, userTok, "p-key-2", tpp.sign(pay), pay); ans.status != http.StatusBadRequest ||
		ans.errorCode() != "UK.OBIE.Resource.InvalidConsentStatus" {
		t.Fatalf("second payment under a new key: %d %s, want 400 InvalidConsentStatus (consent consumed)", ans.status, ans.body)
	}
	changed := strings.Replace(pay, "165.88", "165.89", 1)
	ans = tpp.post(hc, base, bank.PathDomesticPayments, userTok, "p-key-1", tpp.sign(changed), changed)
	if ans.status != http.StatusBadRequest || ans.errorCode() != "UK.OBIE.Header.Invalid" {
		t.Fatalf("same key, other body: %d %s", ans.status, ans.body)
	}
	if !eventually(10*time.Second, func() bool {
		evs, err := a.Store.ListAudit(context.Background(), store.AuditFilter{Type: idempotency.TypeKeyReused, ClientID: tpp.id})
		return err == nil && len(evs) > 0
	}) {
		t.Error("the reused idempotency key was not audited")
	}
}

// TestPaymentIdempotencyRaceAcrossNodes: 20 identical payment submissions at once, spread
// over two nodes sharing PostgreSQL, are one payment: 20 × 201 with the same body (one
// payment id), and the consent consumed once. Without the shared claim, every submission
// but one would meet the consumed consent (400 UK.OBIE.Resource.InvalidConsentStatus).
func TestPaymentIdempotencyRaceAcrossNodes(t *testing.T) {
	a, b := startTwoNodes(t)
	tpp := newPayTPP(t, a, "pisp-race")
	hcA := tpp.client(a)
	hcB := mtlsClient(t, a.Sandbox.RootCertificate(), tpp.qwac) // B serves A's server certificate
	baseA, baseB := "https://"+a.HTTPSAddr().String(), "https://"+b.HTTPSAddr().String()

	created := tpp.post(hcA, baseA, consent.PathDomesticPaymentConsents, tpp.appToken, "race-consent", tpp.sign(payConsentBody), payConsentBody)
	if created.status != http.StatusCreated {
		t.Fatalf("consent: %d %s", created.status, created.body)
	}
	consentID := created.json["Data"].(map[string]any)["ConsentId"].(string)
	if _, err := a.Consents.Authorise(context.Background(), consentID, "demo", []string{"22289"}); err != nil {
		t.Fatal(err)
	}
	userTok := tpp.userToken(a, consentID)
	pay := paySubmissionBody(consentID)
	sig := tpp.sign(pay)

	const n = 20
	answers := make([]payAnswer, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			hc, base := hcA, baseA
			if i%2 == 1 {
				hc, base = hcB, baseB
			}
			answers[i] = tpp.post(hc, base, bank.PathDomesticPayments, userTok, "race-pay", sig, pay)
		}()
	}
	close(start)
	wg.Wait()
	ids := map[string]int{}
	for i, ans := range answers {
		if ans.status != http.StatusCreated {
			t.Errorf("submission %d: %d %s", i, ans.status, ans.body)
			continue
		}
		id, _ := ans.json["Data"].(map[string]any)["DomesticPaymentId"].(string)
		ids[id]++
		if string(ans.body) != string(answers[0].body) {
			t.Errorf("submission %d: another answer than submission 0:\n%s\n%s", i, ans.body, answers[0].body)
		}
	}
	if len(ids) != 1 {
		t.Errorf("payment ids %v, want exactly one payment", ids)
	}
	c, err := a.Consents.Get(context.Background(), consentID)
	if err != nil || c.StoredStatus != consent.StatusConsumed {
		t.Fatalf("consent after the race: %v %v", c, err)
	}
	consumed := 0
	for _, tr := range c.History {
		if tr.To == consent.StatusConsumed {
			consumed++
		}
	}
	if consumed != 1 {
		t.Errorf("consent consumed %d times, want 1: %+v", consumed, c.History)
	}
}

// startTwoNodes starts two dev nodes sharing a PostgreSQL database, signing keys, TLS
// certificate and trust (node B trusts node A's sandbox CA, which issues the clients'
// certificates), as TestJourneyReplaysAcrossNodes does.
func startTwoNodes(t *testing.T) (*app.App, *app.App) {
	t.Helper()
	dbURL := storetest.PostgresURL(t)
	dirA, dirB := t.TempDir(), t.TempDir()
	a := startApp(t, func(cfg *config.Config) {
		cfg.DataDir = dirA
		cfg.Database.URL = config.SecretURL(dbURL)
		cfg.HTTP.MaxConnectionsPerAddress = 1024
	})
	b := startApp(t, func(cfg *config.Config) {
		cfg.DataDir = dirB
		cfg.Database.URL = config.SecretURL(dbURL)
		cfg.HTTP.MaxConnectionsPerAddress = 1024
		cfg.Keys.Dir = filepath.Join(dirA, "keys")
		cfg.TLS.CertFile, cfg.TLS.KeyFile = filepath.Join(dirA, "pki", "server.crt"), filepath.Join(dirA, "pki", "server.key")
		cfg.Trust.Anchors = []config.Anchor{{Name: "node-a", File: filepath.Join(dirA, "pki", "ca.crt"), Profile: pki.ProfileEIDAS}}
		cfg.Trust.IntermediatesFile = filepath.Join(dirA, "pki", "issuing.crt")
	})
	return a, b
}

// TestDevPaymentSignatureQSealC: a TPP whose registered signing key carries its sandbox
// QSealC (x5c) signs the consent POST; the QSealC is validated like a QWAC. Accepted while
// valid and of the client's organisation; a QSealC of another organisation, and the
// TPP's own once revoked at the sandbox CA, refuse the signature (400
// UK.OBIE.Signature.InvalidClaim).
func TestDevPaymentSignatureQSealC(t *testing.T) {
	a := startApp(t, nil)
	base := "https://" + a.HTTPSAddr().String()
	const org = "PSDGB-FCA-135791"
	qwac, err := a.Sandbox.Issue(sandbox.KindQWAC, sandbox.IssueOptions{OrgID: org, CommonName: "qseal-tpp", Roles: mustRoles(t, "PISP")})
	if err != nil {
		t.Fatal(err)
	}
	subject, err := dn.Render(qwac.Certificate.RawSubject)
	if err != nil {
		t.Fatal(err)
	}
	seal := func(orgID string) (*sandbox.Issued, *jose.SigningKey, map[string]any) {
		t.Helper()
		is, err := a.Sandbox.Issue(sandbox.KindQSealC, sandbox.IssueOptions{OrgID: orgID, Roles: mustRoles(t, "PISP"), KeyType: sandbox.KeyRSA2048})
		if err != nil {
			t.Fatal(err)
		}
		k, err := jose.NewSigningKey(is.Key)
		if err != nil {
			t.Fatal(err)
		}
		pub := is.Key.Public().(*rsa.PublicKey)
		var x5c []string
		for _, c := range is.Chain {
			x5c = append(x5c, base64.StdEncoding.EncodeToString(c.Raw))
		}
		return is, k, map[string]any{"kty": "RSA", "kid": k.KeyID(), "use": "sig", "alg": "PS256",
			"n": b64u(pub.N.Bytes()), "e": b64u(big.NewInt(int64(pub.E)).Bytes()), "x5c": x5c}
	}
	own, ownKey, ownJWK := seal(org)
	_, foreignKey, foreignJWK := seal("PSDGB-FCA-999999")
	jwks, _ := json.Marshal(map[string]any{"keys": []any{ownJWK, foreignJWK}})
	if _, err := a.Clients.Add(context.Background(), &client.Client{
		ID: "qseal-tpp", TokenEndpointAuthMethod: "tls_client_auth", TLSClientAuthSubjectDN: subject, OrgID: org, SoftwareID: "sw-1",
		GrantTypes: []string{"client_credentials"}, Scope: client.ScopeList{"payments"}, JWKS: jwks,
	}); err != nil {
		t.Fatal(err)
	}
	tpp := &payTPP{t: t, id: "qseal-tpp", qwac: qwac}
	hc := tpp.client(a)
	resp, err := hc.PostForm(base+"/token", url.Values{"grant_type": {"client_credentials"}, "client_id": {tpp.id}, "scope": {"payments"}})
	if err != nil {
		t.Fatal(err)
	}
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&tok)
	resp.Body.Close()
	signWith := func(k *jose.SigningKey, body string) string {
		sig, err := k.SignDetached([]byte(body), jose.DetachedEncoded, jose.DetachedClaims{
			Issuer: org + "/sw-1", TrustAnchor: config.SandboxTrustAnchor, IssuedAt: time.Now(), ContentType: "application/json",
		})
		if err != nil {
			t.Fatal(err)
		}
		return sig
	}
	if ans := tpp.post(hc, base, consent.PathDomesticPaymentConsents, tok.AccessToken, "q-1", signWith(ownKey, payConsentBody), payConsentBody); ans.status != http.StatusCreated {
		t.Fatalf("signed with the client's QSealC: %d %s", ans.status, ans.body)
	}
	if ans := tpp.post(hc, base, consent.PathDomesticPaymentConsents, tok.AccessToken, "q-2", signWith(foreignKey, payConsentBody), payConsentBody); ans.status != http.StatusBadRequest ||
		ans.errorCode() != "UK.OBIE.Signature.InvalidClaim" {
		t.Fatalf("signed with another organisation's QSealC: %d %s", ans.status, ans.body)
	}
	if err := a.Sandbox.Revoke(own.Certificate.SerialNumber, 1); err != nil {
		t.Fatal(err)
	}
	var last payAnswer
	if !eventually(10*time.Second, func() bool {
		last = tpp.post(hc, base, consent.PathDomesticPaymentConsents, tok.AccessToken, "q-3-"+randomString(t)[:8], signWith(ownKey, payConsentBody), payConsentBody)
		return last.status == http.StatusBadRequest && last.errorCode() == "UK.OBIE.Signature.InvalidClaim"
	}) {
		t.Fatalf("signed with the revoked QSealC: %d %s", last.status, last.body)
	}
}

// TestDevVRPReplayDoesNotCount: a repeated VRP submission (same x-idempotency-key, same
// body) is answered with the first answer and is not counted against the consent's
// periodic limit (100.00 GBP a day): 45 + two replays + 45 under a new key pass, the next
// 45 fails the control parameters.
func TestDevVRPReplayDoesNotCount(t *testing.T) {
	a := startApp(t, nil)
	base := "https://" + a.HTTPSAddr().String()
	tpp := newPayTPP(t, a, "vrp-tpp")
	hc := tpp.client(a)
	const vrpIn = `{"CreditorAccount":{"SchemeName":"UK.OBIE.SortCodeAccountNumber","Identification":"30949330000010","Name":"Marcus Sweepimus"}}`
	vrpConsent := `{"Data":{"ControlParameters":{"PSUAuthenticationMethods":["UK.OBIE.SCANotRequired"],"VRPType":["UK.OBIE.VRPType.Sweeping"],
		"MaximumIndividualAmount":{"Amount":"50.00","Currency":"GBP"},
		"PeriodicLimits":[{"PeriodType":"Day","PeriodAlignment":"Calendar","Amount":"100.00","Currency":"GBP"}]},
		"Initiation":` + vrpIn + `},"Risk":{}}`
	created := tpp.post(hc, base, consent.PathDomesticVRPConsents, tpp.appToken, "vc-1", tpp.sign(vrpConsent), vrpConsent)
	if created.status != http.StatusCreated {
		t.Fatalf("VRP consent: %d %s", created.status, created.body)
	}
	id := created.json["Data"].(map[string]any)["ConsentId"].(string)
	if _, err := a.Consents.Authorise(context.Background(), id, "demo", []string{"22289"}); err != nil {
		t.Fatal(err)
	}
	userTok := tpp.userToken(a, id)
	vrp := func(key, amount string) payAnswer {
		body := `{"Data":{"ConsentId":"` + id + `","PSUAuthenticationMethod":"UK.OBIE.SCANotRequired","Initiation":` + vrpIn +
			`,"Instruction":{"InstructionIdentification":"i-` + key + `","EndToEndIdentification":"e","InstructedAmount":{"Amount":"` + amount + `","Currency":"GBP"}}},"Risk":{}}`
		return tpp.post(hc, base, bank.PathDomesticVRPs, userTok, key, tpp.sign(body), body)
	}
	first := vrp("v-1", "45.00")
	if first.status != http.StatusCreated {
		t.Fatalf("VRP 45.00: %d %s", first.status, first.body)
	}
	for i := range 2 {
		if r := vrp("v-1", "45.00"); r.status != http.StatusCreated || string(r.body) != string(first.body) {
			t.Fatalf("replay %d: %d %s, want the first answer", i, r.status, r.body)
		}
	}
	if r := vrp("v-2", "45.00"); r.status != http.StatusCreated {
		t.Fatalf("second VRP 45.00 (90.00 of 100.00 used): %d %s", r.status, r.body)
	}
	if r := vrp("v-3", "45.00"); r.status != http.StatusBadRequest || r.errorCode() != "UK.OBIE.Rules.FailsControlParameters" {
		t.Fatalf("third VRP 45.00 (over 100.00): %d %s", r.status, r.body)
	}
}
