package app_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/app"
	"github.com/portcullis/portcullis/internal/audit"
	"github.com/portcullis/portcullis/internal/client"
	"github.com/portcullis/portcullis/internal/config"
	"github.com/portcullis/portcullis/internal/store"
	"github.com/portcullis/portcullis/internal/store/storetest"
)

// statusTally counts answers by status under load, and keeps the first body of each
// status that is not expected.
type statusTally struct {
	mu     sync.Mutex
	counts map[string]int
	odd    []string
}

func (s *statusTally) add(what string, status int, body string, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.counts == nil {
		s.counts = map[string]int{}
	}
	key := fmt.Sprintf("%s %d", what, status)
	if err != nil {
		key = what + " transport error"
	}
	s.counts[key]++
	ok := status == http.StatusOK || status == http.StatusCreated || status == http.StatusServiceUnavailable
	if !ok || err != nil || strings.Contains(body, "goroutine ") {
		if len(s.odd) < 10 {
			s.odd = append(s.odd, fmt.Sprintf("%s: %d %v %.300s", what, status, err, body))
		}
	}
}

// TestFaultDatabaseOutageUnderLoad: PostgreSQL goes away under load — a loopback TCP proxy in
// front of the shared server is cut: open connections die, new ones are refused — and comes
// back; see databaseOutage for what is asserted.
func TestFaultDatabaseOutageUnderLoad(t *testing.T) {
	u, err := url.Parse(storetest.PostgresURL(t))
	if err != nil {
		t.Fatal(err)
	}
	proxy := newTCPProxy(t, u.Host)
	u.Host = proxy.addr
	databaseOutage(t, u.String(), proxy.cut, proxy.restore)
}

// TestFaultDatabaseRestartUnderLoad: a PostgreSQL server of the test's own (a private
// cluster in a temporary directory) is stopped (pg_ctl stop -m fast: sessions terminated
// with 57P01 admin_shutdown, then connections refused) and started again under load; see
// databaseOutage. Skipped where no PostgreSQL server binaries are installed.
func TestFaultDatabaseRestartUnderLoad(t *testing.T) {
	pg := newPrivatePostgres(t)
	databaseOutage(t, pg.url(), pg.stop, pg.start)
}

// databaseOutage runs a server on the database at dbURL, puts it under load, calls down,
// checks the server during the outage, calls up, and checks it after:
//
//   - while it is down /readyz answers 503; requests that need the database answer 503
//     (temporarily_unavailable on OAuth endpoints), never a 500 and never a stack; the load
//     (client_credentials tokens, PAR, gateway calls) sees only 200/201 and 503;
//   - once it is back, requests succeed again without a restart;
//   - nothing is accepted twice across the outage: an authorization code redeemed before
//     it is refused after it; a code tried during it is redeemed after it, once; a client
//     assertion's jti likewise; an approval submitted during the outage and again after it
//     records one grant and yields one code;
//   - every token issued, during the outage too, has its audit event in the database.
func databaseOutage(t *testing.T, dbURL string, down, up func()) {
	bank := newUpstream(t)
	a := startApp(t, func(c *config.Config) {
		c.Database.URL = config.SecretURL(dbURL)
		c.Gateway.Routes = bank.routes()
	})
	ctx := context.Background()
	mtlsBase, publicBase := "https://"+a.HTTPSAddr().String(), "https://"+a.PublicAddr().String()
	readyz := "http://" + a.OpsAddr().String() + "/readyz"
	root := a.Sandbox.RootCertificate()

	qwac, subject := tppCert(t, a, "PSDGB-FCA-700003")
	registerJourneyClient(t, a, "tpp-faults-db", subject)
	tpp := mtlsClient(t, root, qwac)
	key := newSigningKey(t, "faults-db-1")
	register(t, a, &client.Client{
		ID: "tpp-faults-db-jwt", TokenEndpointAuthMethod: "private_key_jwt", TokenEndpointAuthSigningAlg: "ES256",
		JWKS: key.jwks(t), GrantTypes: []string{"client_credentials"}, Scope: client.ScopeList{"accounts"},
		Profile: client.ProfileFAPI2,
	})
	issuer := config.Default(true).Issuer
	assertion := func() string {
		now := time.Now()
		return key.sign(t, "", map[string]any{
			"iss": "tpp-faults-db-jwt", "sub": "tpp-faults-db-jwt", "aud": issuer,
			"jti": randomString(t), "iat": now.Unix(), "exp": now.Add(2 * time.Minute).Unix(),
		})
	}
	postAssertion := func(jwt string) (int, map[string]any) {
		t.Helper()
		var body map[string]any
		code := postJSON(t, tpp, mtlsBase+"/token", url.Values{
			"grant_type": {"client_credentials"}, "scope": {"accounts"}, "client_id": {"tpp-faults-db-jwt"},
			"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"}, "client_assertion": {jwt},
		}, &body)
		return code, body
	}

	// Three journeys of three customers (each passes SCA once), all while the database is up.
	journey := func(n int) (*faultJourney, string) {
		pw, codes := newCustomer(t, a, fmt.Sprintf("faults-db-cust-%d", n))
		j := beginJourney(t, tpp, browser(t, root), mtlsBase, publicBase, "tpp-faults-db")
		j.login(fmt.Sprintf("faults-db-cust-%d", n), pw)
		j.otp(codes.next(t))
		return j, fmt.Sprintf("faults-db-cust-%d", n)
	}
	j1, _ := journey(1)
	code1 := j1.approve()
	if r := exchangeCode(t, tpp, mtlsBase, "tpp-faults-db", code1, j1.verifier); r.status != http.StatusOK {
		t.Fatalf("code 1 before the outage: %d %v", r.status, r.body)
	}
	j2, _ := journey(2)
	code2 := j2.approve() // redeemed only during and after the outage
	j3, cust3 := journey(3)
	approval3 := j3.approvalForm() // submitted during and after the outage
	usedJWT, heldJWT := assertion(), assertion()
	if code, body := postAssertion(usedJWT); code != http.StatusOK {
		t.Fatalf("assertion before the outage: %d %v", code, body)
	}

	// The load: client_credentials tokens and gateway calls, until stop.
	var tally statusTally
	stop := make(chan struct{})
	var wg sync.WaitGroup
	appTok := postToken(t, a, tpp, "tpp-faults-db")
	if appTok.status != http.StatusOK {
		t.Fatalf("token for the load: %d %v", appTok.status, appTok.body)
	}
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := mtlsClient(t, root, qwac)
			for i := 0; i < 10000; i++ {
				select {
				case <-stop:
					return
				default:
				}
				var req *http.Request
				what := "token"
				switch (w + i) % 3 {
				case 0:
					form := url.Values{"grant_type": {"client_credentials"}, "client_id": {"tpp-faults-db"}, "scope": {"accounts"}}
					req, _ = http.NewRequest(http.MethodPost, mtlsBase+"/token", strings.NewReader(form.Encode()))
					req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				case 1:
					// PAR writes to the database on every request.
					what = "par"
					_, challenge := pkcePair(t)
					form := url.Values{
						"client_id": {"tpp-faults-db"}, "response_type": {"code"}, "redirect_uri": {journeyRedirect},
						"scope": {"openid"}, "state": {"s"}, "nonce": {"n"},
						"code_challenge": {challenge}, "code_challenge_method": {"S256"},
					}
					req, _ = http.NewRequest(http.MethodPost, mtlsBase+"/par", strings.NewReader(form.Encode()))
					req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				default:
					what = "gateway"
					req, _ = http.NewRequest(http.MethodGet, mtlsBase+pathAppResource, nil)
					req.Header.Set("Authorization", "Bearer "+appTok.body["access_token"].(string))
				}
				resp, err := c.Do(req)
				if err != nil {
					tally.add(what, 0, "", err)
					continue
				}
				b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
				resp.Body.Close()
				tally.add(what, resp.StatusCode, string(b), nil)
			}
		}()
	}
	stopLoad := func() {
		select {
		case <-stop:
		default:
			close(stop)
		}
		wg.Wait()
	}
	t.Cleanup(stopLoad)

	waitReady := func(want int, within time.Duration) {
		t.Helper()
		start := time.Now()
		if !eventually(within, func() bool { code, _ := get(t, readyz); return code == want }) {
			t.Fatalf("/readyz not %d within %v", want, within)
		}
		t.Logf("/readyz %d after %v", want, time.Since(start))
	}

	// Outage, under load: it lasts until the load has made 50 more requests.
	down()
	waitReady(http.StatusServiceUnavailable, 10*time.Second)
	total := func() int {
		n := 0
		for _, v := range tally.snapshot() {
			n += v
		}
		return n
	}
	mark := total()
	if !eventually(20*time.Second, func() bool { return total() >= mark+50 }) {
		t.Fatalf("the load made %d requests in 20 s of outage", total()-mark)
	}
	t.Logf("during the outage: load %v", tally.snapshot())

	expect503 := func(what string, status int, body map[string]any) {
		t.Helper()
		t.Logf("during the outage: %s → %d %v", what, status, body)
		if status != http.StatusServiceUnavailable || body["error"] != "temporarily_unavailable" {
			t.Errorf("during the outage: %s %d %v, want 503 temporarily_unavailable", what, status, body)
		}
	}
	r := exchangeCode(t, tpp, mtlsBase, "tpp-faults-db", code2, j2.verifier)
	expect503("unredeemed code 2", r.status, r.body)
	if r.retryAfter == "" {
		t.Error("during the outage: 503 at /token without Retry-After")
	}
	r = exchangeCode(t, tpp, mtlsBase, "tpp-faults-db", code1, j1.verifier)
	expect503("code 1, redeemed before", r.status, r.body)
	code, body := postAssertion(usedJWT)
	expect503("client assertion used before", code, body)
	code, body = postAssertion(heldJWT)
	expect503("fresh client assertion", code, body)
	status, loc, page := j3.postApproval(approval3)
	t.Logf("during the outage: approval → %d %q", status, loc)
	if status != http.StatusServiceUnavailable || strings.Contains(page, "goroutine ") {
		t.Errorf("during the outage: approval %d %q %.300s, want 503", status, loc, page)
	}

	// Back.
	up()
	waitReady(http.StatusOK, 20*time.Second)

	if r := exchangeCode(t, tpp, mtlsBase, "tpp-faults-db", code1, j1.verifier); r.status != http.StatusBadRequest || r.body["error"] != "invalid_grant" {
		t.Errorf("after the outage: code 1 (redeemed before it) %d %v, want 400 invalid_grant", r.status, r.body)
	}
	if r := exchangeCode(t, tpp, mtlsBase, "tpp-faults-db", code2, j2.verifier); r.status != http.StatusOK {
		t.Errorf("after the outage: code 2 (tried during it) %d %v, want 200", r.status, r.body)
	}
	if r := exchangeCode(t, tpp, mtlsBase, "tpp-faults-db", code2, j2.verifier); r.status != http.StatusBadRequest || r.body["error"] != "invalid_grant" {
		t.Errorf("after the outage: code 2 again %d %v, want 400 invalid_grant", r.status, r.body)
	}
	if code, body := postAssertion(usedJWT); code != http.StatusUnauthorized || body["error"] != "invalid_client" {
		t.Errorf("after the outage: the assertion used before it %d %v, want 401 invalid_client", code, body)
	}
	if code, body := postAssertion(heldJWT); code != http.StatusOK {
		t.Errorf("after the outage: the assertion tried during it %d %v, want 200 (its jti not burnt)", code, body)
	}
	if code, body := postAssertion(heldJWT); code != http.StatusUnauthorized || body["error"] != "invalid_client" {
		t.Errorf("after the outage: the same assertion again %d %v, want 401 invalid_client", code, body)
	}
	status, loc, page = j3.postApproval(approval3)
	if status != http.StatusSeeOther {
		t.Fatalf("after the outage: approval %d %.300s, want 303", status, page)
	}
	code3 := codeFrom(t, loc)
	if r := exchangeCode(t, tpp, mtlsBase, "tpp-faults-db", code3, j3.verifier); r.status != http.StatusOK {
		t.Errorf("after the outage: code 3 %d %v", r.status, r.body)
	}
	if status, loc, _ := j3.postApproval(approval3); status == http.StatusSeeOther && strings.Contains(loc, "code=") {
		t.Errorf("the approval submitted a third time yields another code: %q", loc)
	}
	grants, err := a.Store.ListConsents(ctx, store.ConsentFilter{ClientID: "tpp-faults-db", UserID: cust3})
	if err != nil {
		t.Fatal(err)
	}
	if len(grants) != 1 {
		t.Errorf("customer 3 has %d grants recorded, want 1: %+v", len(grants), grants)
	}

	// The load recovers, then stops.
	before := tally.snapshot()
	if !eventually(20*time.Second, func() bool {
		now := tally.snapshot()
		return now["token 200"] > before["token 200"] && now["par 201"] > before["par 201"]
	}) {
		t.Error("the load's requests do not succeed again after the outage")
	}
	stopLoad()
	t.Logf("load: %v", tally.snapshot())
	for _, o := range tally.odd {
		t.Errorf("under load: unexpected answer %s", o)
	}
	// Every token issued has its audit event in the database, those issued during the
	// outage included.
	tokens := tally.snapshot()["token 200"] + 5 // the load's, and the five above (codes 1, 2, 3; two assertions)
	tokens++                                    // the load's own token
	var events int
	eventually(20*time.Second, func() bool {
		events = countAuditFor(t, a, audit.TypeTokenIssued, "tpp-faults-db") + countAuditFor(t, a, audit.TypeTokenIssued, "tpp-faults-db-jwt")
		return events >= tokens
	})
	t.Logf("audit: %d token.issued events for %d tokens issued; batch sink %+v", events, tokens, a.AuditStore.Stats())
	if events != tokens {
		t.Errorf("%d token.issued audit events in the database for %d tokens issued", events, tokens)
	}
}

// countAuditFor is the number of audit events of type typ for clientID in the database,
// after the batch writer has flushed.
func countAuditFor(t *testing.T, a *app.App, typ, clientID string) int {
	t.Helper()
	ctx := context.Background()
	_ = a.AuditStore.Flush(ctx)
	seen := map[int64]bool{}
	since := time.Time{}
	for range 1000 {
		events, err := a.Store.ListAudit(ctx, store.AuditFilter{Type: typ, ClientID: clientID, Since: since, Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		added := 0
		for _, e := range events {
			if !seen[e.ID] {
				seen[e.ID] = true
				added++
			}
		}
		if len(events) < 1000 || added == 0 {
			return len(seen)
		}
		since = events[len(events)-1].Time // pages overlap by the last millisecond; IDs dedupe
	}
	t.Fatal("too many audit events")
	return 0
}

func (s *statusTally) snapshot() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]int, len(s.counts))
	for k, v := range s.counts {
		out[k] = v
	}
	return out
}
