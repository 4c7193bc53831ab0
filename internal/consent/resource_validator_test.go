package consent_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/consent"
	"github.com/portcullis/portcullis/internal/pki"
	"github.com/portcullis/portcullis/internal/sandbox/bank"
	"github.com/portcullis/portcullis/internal/store"
	"github.com/portcullis/portcullis/internal/token"
)

// createConsent creates a consent through the API and returns its id.
func (e *env) createConsent(t testing.TB, cert, tok, path, body string) string {
	t.Helper()
	r := e.do(t, call{cert: cert, method: http.MethodPost, path: path, token: tok, body: body})
	if r.status != 201 {
		t.Fatalf("create %s: %d %s", path, r.status, r.body)
	}
	return r.data()["ConsentId"].(string)
}

// TestAccountsThroughGateway: an account-access consent authorised for two of the
// customer's three accounts lets its token read those two, not the third, and only
// what its permissions name; revoked by the TPP, the token is refused at once on the
// node that revoked it and within the cache bound on another node.
func TestAccountsThroughGateway(t *testing.T) {
	e := newEnv(t, envOpts{nodes: 2})
	ctx := context.Background()
	ais := e.appToken(t, "AIS", "tpp-1", "accounts")
	body := `{"Data":{"Permissions":["ReadAccountsDetail","ReadTransactionsBasic","ReadTransactionsCredits"],
		"TransactionFromDateTime":"2026-01-01T00:00:00Z","TransactionToDateTime":"2026-06-30T00:00:00Z"},"Risk":{}}`
	id := e.createConsent(t, "AIS", ais, consent.PathAccountAccessConsents, body)
	user := e.userToken(t, "AIS", "tpp-1", id, "accounts")
	get := func(node int, path string) reply {
		return e.do(t, call{node: node, cert: "AIS", method: "GET", path: bank.BasePath + path, token: user})
	}
	if r := get(0, "/aisp/accounts/22289"); r.status != 403 || r.errorCode() != "UK.OBIE.Resource.InvalidConsentStatus" {
		t.Fatalf("before authorisation: %d %s", r.status, r.body)
	}
	if _, err := e.nodes[0].svc.Authorise(ctx, id, "demo", []string{"22289", "31820"}); err != nil {
		t.Fatal(err)
	}
	e.advance(t, consent.DefaultCacheTTL) // node 1 cached the unauthorised state

	tests := []struct {
		path   string
		status int
		code   string
	}{
		{"/aisp/accounts/22289", 200, ""},
		{"/aisp/accounts/31820", 200, ""},
		{"/aisp/accounts/57013", 403, "UK.OBIE.Resource.ConsentMismatch"}, // the third account
		{"/aisp/accounts/22289/transactions", 200, ""},
		{"/aisp/accounts/22289/transactions?fromBookingDateTime=2026-01-29T00:00:00Z", 200, ""},
		{"/aisp/accounts/22289/transactions?fromBookingDateTime=2025-12-01T00:00:00Z", 400, "UK.OBIE.Field.InvalidDate"},
		{"/aisp/accounts/22289/transactions?toBookingDateTime=2026-07-01T00:00:00Z", 400, "UK.OBIE.Field.InvalidDate"},
		{"/aisp/accounts/57013/transactions", 403, "UK.OBIE.Resource.ConsentMismatch"},
		{"/aisp/accounts/22289/balances", 403, "UK.OBIE.Resource.ConsentMismatch"}, // ReadBalances not granted
		{"/aisp/balances", 403, "UK.OBIE.Resource.ConsentMismatch"},
		{"/aisp/accounts", 200, ""},
	}
	for _, tc := range tests {
		for node := range 2 {
			r := get(node, tc.path)
			if r.status != tc.status || tc.code != "" && r.errorCode() != tc.code {
				t.Errorf("node %d %s: %d %s, want %d %s", node, tc.path, r.status, r.errorCode(), tc.status, tc.code)
			}
		}
	}
	// A token of another client bound to this consent, and a payment-consent route: refused.
	stolen := e.userToken(t, "AIS", "tpp-2", id, "accounts")
	if r := e.do(t, call{cert: "AIS", method: "GET", path: bank.BasePath + "/aisp/accounts/22289", token: stolen}); r.status != 403 {
		t.Fatalf("another client's token: %d %s", r.status, r.body)
	}

	// A refresh token of the grant, to see that revocation kills it at once.
	rt := store.RefreshToken{Hash: store.HashSecret("rt-1"), ClientID: "tpp-1", FamilyID: "fam-1", ConsentID: id, UserID: "demo",
		ExpiresAt: e.clk.Now().Add(time.Hour)}
	if err := e.nodes[0].store.PutRefreshToken(ctx, rt); err != nil {
		t.Fatal(err)
	}
	if r := e.do(t, call{cert: "AIS", method: "DELETE", path: consent.PathAccountAccessConsents + "/" + id, token: ais}); r.status != 204 {
		t.Fatalf("delete: %d %s", r.status, r.body)
	}
	if got, err := e.nodes[1].store.GetRefreshToken(ctx, rt.Hash); !errors.Is(err, store.ErrRevoked) || got.RevokedAt.IsZero() {
		t.Fatalf("refresh token after revocation: %+v %v", got, err)
	}
	// The grant's access tokens are on every node's deny-list after its next refresh,
	// whatever route they are presented on.
	grantTok, _, err := e.issuer.Issue(ctx, token.Claims{ClientID: "tpp-1", Use: token.UseUser, UserID: "demo", FamilyID: "fam-1",
		Scopes: []string{"accounts"}, ConsentID: id, CertThumbprint: pki.Thumbprint(e.certs["AIS"].Cert)})
	if err != nil {
		t.Fatal(err)
	}
	e.advance(t, 0)
	if _, err := e.nodes[1].verifier.Verify(ctx, grantTok); !errors.Is(err, token.ErrRevoked) {
		t.Fatalf("access token of the revoked consent's grant on node 1: %v", err)
	}
	if r := get(0, "/aisp/accounts/22289"); r.status != 403 || r.errorCode() != "UK.OBIE.Resource.InvalidConsentStatus" {
		t.Fatalf("revoking node: %d %s", r.status, r.body)
	}
	// Node 1 may serve its cached state for less than the TTL, never beyond it.
	e.advance(t, consent.DefaultCacheTTL)
	if r := get(1, "/aisp/accounts/22289"); r.status != 403 || r.errorCode() != "UK.OBIE.Resource.InvalidConsentStatus" {
		t.Fatalf("other node after the bound: %d %s", r.status, r.body)
	}
}

// TestExpiredConsentRefused: past its ExpirationDateTime a consent reads Expired in
// the GET and its token is refused, like a revoked one.
func TestExpiredConsentRefused(t *testing.T) {
	e := newEnv(t, envOpts{})
	ais := e.appToken(t, "AIS", "tpp-1", "accounts")
	exp := e.clk.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	id := e.createConsent(t, "AIS", ais, consent.PathAccountAccessConsents, `{"Data":{"Permissions":["ReadAccountsBasic"],"ExpirationDateTime":"`+exp+`"},"Risk":{}}`)
	if _, err := e.nodes[0].svc.Authorise(context.Background(), id, "demo", []string{"22289"}); err != nil {
		t.Fatal(err)
	}
	e.advance(t, time.Hour)
	ais = e.appToken(t, "AIS", "tpp-1", "accounts")
	user := e.userToken(t, "AIS", "tpp-1", id, "accounts")
	if r := e.do(t, call{cert: "AIS", method: "GET", path: bank.BasePath + "/aisp/accounts/22289", token: user}); r.status != 403 || r.errorCode() != "UK.OBIE.Resource.InvalidConsentStatus" {
		t.Fatalf("expired consent: %d %s", r.status, r.body)
	}
	g := e.do(t, call{cert: "AIS", method: "GET", path: consent.PathAccountAccessConsents + "/" + id, token: ais})
	if g.data()["Status"] != "Expired" {
		t.Fatalf("GET of an expired consent: %s", g.body)
	}
}

// TestDomesticPaymentThroughGateway: the submission must carry the consent's
// Initiation; the first matching submission consumes the consent, the second is
// refused; the funds confirmation answers for the chosen account.
func TestDomesticPaymentThroughGateway(t *testing.T) {
	e := newEnv(t, envOpts{})
	pis := e.appToken(t, "PIS", "tpp-1", "payments")
	id := e.createConsent(t, "PIS", pis, consent.PathDomesticPaymentConsents, paymentConsentBody)
	if _, err := e.nodes[0].svc.Authorise(context.Background(), id, "demo", []string{"22289"}); err != nil {
		t.Fatal(err)
	}
	user := e.userToken(t, "PIS", "tpp-1", id, "payments")
	submit := func(body string) reply {
		return e.do(t, call{cert: "PIS", method: "POST", path: bank.PathDomesticPayments, token: user, body: body,
			header: http.Header{"X-Idempotency-Key": {"k-" + body[len(body)-20:]}}})
	}
	funds := e.do(t, call{cert: "PIS", method: "GET", path: consent.PathDomesticPaymentConsents + "/" + id + "/funds-confirmation", token: user})
	if funds.status != 200 || funds.data()["FundsAvailableResult"].(map[string]any)["FundsAvailable"] != true {
		t.Fatalf("funds confirmation: %d %s", funds.status, funds.body)
	}
	if r := e.do(t, call{cert: "PIS", method: "GET", path: consent.PathDomesticPaymentConsents + "/" + id + "/funds-confirmation", token: pis}); r.status != 403 {
		t.Fatalf("funds confirmation with a client token: %d %s", r.status, r.body)
	}
	other := strings.Replace(initiation, "165.88", "999.00", 1)
	if r := submit(paymentBody(id, other)); r.status != 400 || r.errorCode() != "UK.OBIE.Resource.ConsentMismatch" {
		t.Fatalf("different amount: %d %s", r.status, r.body)
	}
	if r := submit(paymentBody("pdc-other", initiation)); r.status != 400 || r.errorCode() != "UK.OBIE.Resource.ConsentMismatch" {
		t.Fatalf("other ConsentId: %d %s", r.status, r.body)
	}
	// The same Initiation with other white space and member order is the same payment.
	reordered := `{"CreditorAccount":{"Name":"ACME Inc","SchemeName":"UK.OBIE.SortCodeAccountNumber","Identification":"08080021325698"},
		"InstructedAmount":{"Currency":"GBP","Amount":"165.88"},"EndToEndIdentification":"FRESCO.21302.GFX.20","InstructionIdentification":"ACME412",
		"RemittanceInformation":{"Unstructured":"Internal ops code 5120101","Reference":"FRESCO-101"}}`
	if r := submit(paymentBody(id, reordered)); r.status != 201 {
		t.Fatalf("matching submission: %d %s", r.status, r.body)
	}
	if r := submit(paymentBody(id, initiation)); r.status != 400 || r.errorCode() != "UK.OBIE.Resource.InvalidConsentStatus" {
		t.Fatalf("second submission: %d %s", r.status, r.body)
	}
	g := e.do(t, call{cert: "PIS", method: "GET", path: consent.PathDomesticPaymentConsents + "/" + id, token: pis})
	if g.data()["Status"] != "Consumed" {
		t.Fatalf("after payment: %s", g.body)
	}
	// The history tells the TPP who acted, never the bank's customer id.
	if b := string(g.body); strings.Contains(b, "demo") || !strings.Contains(b, `"By":"customer"`) || !strings.Contains(b, `"By":"gateway"`) {
		t.Fatalf("history shown to the TPP: %s", b)
	}
}

// TestDoubleSubmissionAcrossNodes: 20 concurrent submissions of one authorised
// payment consent, half on each of two nodes sharing PostgreSQL: exactly one passes.
func TestDoubleSubmissionAcrossNodes(t *testing.T) {
	e := newEnv(t, envOpts{postgres: true, nodes: 2})
	pis := e.appToken(t, "PIS", "tpp-1", "payments")
	id := e.createConsent(t, "PIS", pis, consent.PathDomesticPaymentConsents, paymentConsentBody)
	if _, err := e.nodes[1].svc.Authorise(context.Background(), id, "demo", []string{"22289"}); err != nil {
		t.Fatal(err)
	}
	user := e.userToken(t, "PIS", "tpp-1", id, "payments")
	var created, refused atomic.Int64
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := e.do(t, call{node: i % 2, cert: "PIS", method: "POST", path: bank.PathDomesticPayments, token: user,
				body: paymentBody(id, initiation), header: http.Header{"X-Idempotency-Key": {fmt.Sprintf("key-%d", i)}}})
			switch {
			case r.status == 201:
				created.Add(1)
			case r.status == 400 && r.errorCode() == "UK.OBIE.Resource.InvalidConsentStatus":
				refused.Add(1)
			default:
				t.Errorf("submission: %d %s", r.status, r.body)
			}
		}()
	}
	wg.Wait()
	if created.Load() != 1 || refused.Load() != 19 {
		t.Fatalf("created %d, refused %d; want 1 and 19", created.Load(), refused.Load())
	}
}

// vrpRequest is a resource request of a VRP payment for the validator.
func vrpRequest(consentID, clientID, amount, in string) consent.Request {
	return consent.Request{Kind: consent.KindDomesticVRP, ConsentID: consentID, ClientID: clientID, Method: "POST",
		ResourceTemplate: "/open-banking/v3.1/pisp/domestic-vrps",
		Body: []byte(`{"Data":{"ConsentId":"` + consentID + `","PSUAuthenticationMethod":"UK.OBIE.SCANotRequired","Initiation":` + in +
			`,"Instruction":{"InstructionIdentification":"i","EndToEndIdentification":"e","InstructedAmount":{"Amount":"` + amount + `","Currency":"GBP"}}},"Risk":{}}`)}
}

// TestVRPControlParameters: each VRP payment must stay within MaximumIndividualAmount
// and, counted atomically, within every periodic limit; a new period starts afresh.
func TestVRPControlParameters(t *testing.T) {
	e := newEnv(t, envOpts{nodes: 2})
	ctx := context.Background()
	pis := e.appToken(t, "PIS", "tpp-1", "payments")
	id := e.createConsent(t, "PIS", pis, consent.PathDomesticVRPConsents, vrpConsentBody)
	if _, err := e.nodes[0].svc.Authorise(ctx, id, "demo", []string{"22289"}); err != nil {
		t.Fatal(err)
	}
	// Midday, so that the calendar day does not end during the test.
	now := e.clk.Now()
	e.advance(t, time.Date(now.Year(), now.Month(), now.Day(), 12, 0, 0, 0, time.UTC).Add(24*time.Hour).Sub(now))
	steps := []struct {
		node       int
		amount, in string
		valid      bool
		code       string
	}{
		{0, "60.00", vrpInitiation, false, "UK.OBIE.Rules.FailsControlParameters"}, // over the individual maximum
		{0, "40.00", strings.Replace(vrpInitiation, "Marcus", "Mallory", 1), false, "UK.OBIE.Resource.ConsentMismatch"},
		{0, "40.00", vrpInitiation, true, ""},
		{1, "40.00", vrpInitiation, true, ""},
		{0, "20.01", vrpInitiation, false, "UK.OBIE.Rules.FailsControlParameters"}, // 100.01 in the day
		{1, "20.00", vrpInitiation, true, ""},                                      // exactly 100.00
	}
	other := vrpRequest(id, "tpp-1", "1.00", vrpInitiation)
	other.Body = []byte(strings.Replace(string(other.Body), `"InstructedAmount"`,
		`"CreditorAccount":{"SchemeName":"UK.OBIE.SortCodeAccountNumber","Identification":"99999999999999","Name":"Eve"},"InstructedAmount"`, 1))
	if d, err := e.nodes[0].val.Validate(ctx, other); err != nil || d.Valid || d.ErrorCode != "UK.OBIE.Rules.FailsControlParameters" {
		t.Fatalf("another creditor: %+v %v", d, err)
	}
	for i, s := range steps {
		d, err := e.nodes[s.node].val.Validate(ctx, vrpRequest(id, "tpp-1", s.amount, s.in))
		if err != nil || d.Valid != s.valid || d.ErrorCode != s.code {
			t.Fatalf("step %d (%s): %+v %v", i, s.amount, d, err)
		}
	}
	e.advance(t, 24*time.Hour)
	if d, err := e.nodes[1].val.Validate(ctx, vrpRequest(id, "tpp-1", "50.00", vrpInitiation)); err != nil || !d.Valid {
		t.Fatalf("next day: %+v %v", d, err)
	}
	// Through the gateway to the sandbox bank: within the day's limit, then over it.
	user := e.userToken(t, "PIS", "tpp-1", id, "payments")
	for i, s := range []struct {
		amount string
		status int
		code   string
	}{{"45.00", 201, ""}, {"10.00", 400, "UK.OBIE.Rules.FailsControlParameters"}, {"5.00", 201, ""}} {
		r := e.do(t, call{node: i % 2, cert: "PIS", method: "POST", path: bank.PathDomesticVRPs, token: user,
			body: string(vrpRequest(id, "tpp-1", s.amount, vrpInitiation).Body)})
		if r.status != s.status || r.errorCode() != s.code {
			t.Fatalf("VRP payment %s through the gateway: %d %s", s.amount, r.status, r.body)
		}
	}
	// Funds confirmation of the VRP consent (customer token bound to it).
	r := e.do(t, call{cert: "PIS", method: "POST", path: consent.PathDomesticVRPConsents + "/" + id + "/funds-confirmation", token: user,
		body: `{"Data":{"ConsentId":"` + id + `","Reference":"Sweep","InstructedAmount":{"Amount":"5000.00","Currency":"GBP"}}}`})
	if r.status != 200 || r.data()["FundsAvailableResult"].(map[string]any)["FundsAvailable"] != "NotAvailable" {
		t.Fatalf("vrp funds confirmation: %d %s", r.status, r.body)
	}
}

// TestChainCommitsLast: a refusal by a validator chained after the built-in one does
// not consume the payment consent; an error is never an allow.
func TestChainCommitsLast(t *testing.T) {
	e := newEnv(t, envOpts{})
	ctx := context.Background()
	pis := e.appToken(t, "PIS", "tpp-1", "payments")
	id := e.createConsent(t, "PIS", pis, consent.PathDomesticPaymentConsents, paymentConsentBody)
	if _, err := e.nodes[0].svc.Authorise(ctx, id, "demo", nil); err != nil {
		t.Fatal(err)
	}
	req := consent.Request{Kind: consent.KindDomesticPayment, ConsentID: id, ClientID: "tpp-1", Method: "POST", Body: []byte(paymentBody(id, initiation))}
	bankSays := consent.Decision{ErrorCode: "UK.OBIE.Rules.DuplicateReference", ErrorMessage: "bank rule"}
	refuser := consent.ValidatorFunc(func(context.Context, consent.Request) (consent.Decision, error) { return bankSays, nil })
	if d, err := consent.Chain(e.nodes[0].val, refuser).Validate(ctx, req); err != nil || d.Valid || d.ErrorCode != bankSays.ErrorCode {
		t.Fatalf("chain with a refusing webhook: %+v %v", d, err)
	}
	failing := consent.ValidatorFunc(func(context.Context, consent.Request) (consent.Decision, error) {
		return consent.Decision{}, consent.ErrUnavailable
	})
	if _, err := consent.Chain(e.nodes[0].val, failing).Validate(ctx, req); !errors.Is(err, consent.ErrUnavailable) {
		t.Fatalf("chain with a failing webhook: %v", err)
	}
	c, _ := e.nodes[0].svc.Get(ctx, id)
	if c.StoredStatus != consent.StatusAuthorised {
		t.Fatalf("consent %s after refusals, want Authorised", c.StoredStatus)
	}
	allowing := consent.ValidatorFunc(func(context.Context, consent.Request) (consent.Decision, error) {
		return consent.Decision{Valid: true}, nil
	})
	if d, err := consent.Chain(e.nodes[0].val, allowing).Validate(ctx, req); err != nil || !d.Valid {
		t.Fatalf("chain allowing: %+v %v", d, err)
	}
	if c, _ := e.nodes[0].svc.Get(ctx, id); c.StoredStatus != consent.StatusConsumed {
		t.Fatalf("consent %s after an allowed payment, want Consumed", c.StoredStatus)
	}
}

// TestStoreUnavailableFailsClosed: once the cache entry is older than its TTL and the
// store cannot be read, the validator answers an error (503), never a decision.
func TestStoreUnavailableFailsClosed(t *testing.T) {
	e := newEnv(t, envOpts{})
	ctx := context.Background()
	ais := e.appToken(t, "AIS", "tpp-1", "accounts")
	id := e.createConsent(t, "AIS", ais, consent.PathAccountAccessConsents, accountAccessBody)
	if _, err := e.nodes[0].svc.Authorise(ctx, id, "demo", []string{"22289"}); err != nil {
		t.Fatal(err)
	}
	user := e.userToken(t, "AIS", "tpp-1", id, "accounts")
	if r := e.do(t, call{cert: "AIS", method: "GET", path: bank.BasePath + "/aisp/accounts/22289", token: user}); r.status != 200 {
		t.Fatalf("before: %d %s", r.status, r.body)
	}
	// Within the TTL the cached state answers even without the store; past it, a read
	// that fails (here: the request's context is gone) is an error.
	req := consent.Request{Kind: consent.KindAccountAccess, ConsentID: id, ClientID: "tpp-1", Method: "GET",
		ResourceTemplate: bank.PathAccount, PathParams: map[string]string{"AccountId": "22289"}}
	dead, cancel := context.WithCancel(ctx)
	cancel()
	if d, err := e.nodes[0].val.Validate(dead, req); err != nil || !d.Valid {
		t.Fatalf("cached: %+v %v", d, err)
	}
	e.advance(t, consent.DefaultCacheTTL)
	ctx = dead
	if d, err := e.nodes[0].val.Validate(ctx, req); !errors.Is(err, consent.ErrUnavailable) || d.Valid {
		t.Fatalf("store closed: %+v %v", d, err)
	}
}

// TestGenericConsentOnAccountRoutes: a generic client's consent (no intent) reads the
// accounts the customer chose through account-access routes, never another account,
// never a payment.
func TestGenericConsentOnAccountRoutes(t *testing.T) {
	e := newEnv(t, envOpts{})
	g, err := e.nodes[0].svc.CreateGeneric(context.Background(), "fapi-1", "demo", []string{"openid", "accounts", "payments"}, []string{"31820"})
	if err != nil {
		t.Fatal(err)
	}
	user := e.userToken(t, "ALL", "fapi-1", g.ID, "accounts", "payments")
	for path, want := range map[string]int{"/aisp/accounts/31820": 200, "/aisp/accounts/22289": 403, "/aisp/accounts/31820/balances": 200, "/aisp/accounts": 200} {
		if r := e.do(t, call{cert: "ALL", method: "GET", path: bank.BasePath + path, token: user}); r.status != want {
			t.Errorf("%s: %d %s, want %d", path, r.status, r.body, want)
		}
	}
	r := e.do(t, call{cert: "ALL", method: "POST", path: bank.PathDomesticPayments, token: user, body: paymentBody(g.ID, initiation),
		header: http.Header{"X-Idempotency-Key": {"g-1"}}})
	if r.status != 403 || r.errorCode() != "UK.OBIE.Resource.ConsentMismatch" {
		t.Fatalf("payment with a generic consent: %d %s", r.status, r.body)
	}
}

// TestLiveOnly: the revocation check for routes whose rules are a webhook's.
func TestLiveOnly(t *testing.T) {
	e := newEnv(t, envOpts{})
	ctx := context.Background()
	svc := e.nodes[0].svc
	c, _, err := svc.CreateAccountAccess(ctx, "tpp-1", []byte(accountAccessBody))
	if err != nil {
		t.Fatal(err)
	}
	live := e.nodes[0].val.LiveOnly()
	req := consent.Request{Kind: "bank-custom", ConsentID: c.ID, ClientID: "tpp-1"}
	check := func(valid bool, code string) {
		t.Helper()
		d, err := live.Validate(ctx, req)
		if err != nil || d.Valid != valid || d.ErrorCode != code {
			t.Fatalf("%+v %v, want valid=%v %s", d, err, valid, code)
		}
	}
	check(false, "UK.OBIE.Resource.InvalidConsentStatus") // awaiting authorisation
	if _, err := svc.Authorise(ctx, c.ID, "demo", nil); err != nil {
		t.Fatal(err)
	}
	check(true, "")
	req.ClientID = "tpp-2"
	check(false, "UK.OBIE.Resource.ConsentMismatch")
	req.ClientID = "tpp-1"
	if _, err := svc.Revoke(ctx, c.ID, "admin"); err != nil {
		t.Fatal(err)
	}
	check(false, "UK.OBIE.Resource.InvalidConsentStatus")
	req.ConsentID = "aac-none"
	check(false, "UK.OBIE.Resource.ConsentMismatch")
}

// TestChainShowsConsent: a validator chained after the built-in one (a webhook) is shown
// the stored consent.
func TestChainShowsConsent(t *testing.T) {
	e := newEnv(t, envOpts{})
	ctx := context.Background()
	c, _, err := e.nodes[0].svc.CreateAccountAccess(ctx, "tpp-1", []byte(accountAccessBody))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.nodes[0].svc.Authorise(ctx, c.ID, "demo", []string{"22289"}); err != nil {
		t.Fatal(err)
	}
	var shown consent.AdminView
	peek := consent.ValidatorFunc(func(_ context.Context, req consent.Request) (consent.Decision, error) {
		if err := json.Unmarshal(req.Consent, &shown); err != nil {
			return consent.Decision{}, err
		}
		return consent.Decision{Valid: true}, nil
	})
	req := consent.Request{Kind: consent.KindAccountAccess, ConsentID: c.ID, ClientID: "tpp-1", Method: "GET", ResourceTemplate: bank.PathAccounts}
	for _, first := range []consent.Validator{e.nodes[0].val, e.nodes[0].val.LiveOnly()} {
		shown = consent.AdminView{}
		if d, err := consent.Chain(first, peek).Validate(ctx, req); err != nil || !d.Valid {
			t.Fatalf("%+v %v", d, err)
		}
		if shown.ID != c.ID || shown.Status != "Authorised" || shown.CustomerID != "demo" || len(shown.Accounts) != 1 {
			t.Fatalf("webhook saw %+v", shown)
		}
	}
}
