package consent_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/portcullis/portcullis/internal/consent"
)

// TestConsentAPIRequests: one row per rule of the POST bodies and the HTTP surface,
// with the exact status and OBIE error code, over real TLS through the gateway.
func TestConsentAPIRequests(t *testing.T) {
	e := newEnv(t, envOpts{})
	ais := e.appToken(t, "AIS", "tpp-1", "accounts")
	pis := e.appToken(t, "PIS", "tpp-1", "payments")
	cof := e.appToken(t, "CBPII", "tpp-1", "fundsconfirmations")
	aisNoScope := e.appToken(t, "AIS", "tpp-1", "payments")
	aisOnPISCert := e.appToken(t, "PIS", "tpp-1", "accounts")
	userTok := e.userToken(t, "AIS", "tpp-1", "x", "accounts")

	perms := func(p string) string { return `{"Data":{"Permissions":[` + p + `]},"Risk":{}}` }
	post := func(path, tok, cert, body string) call {
		return call{cert: cert, method: http.MethodPost, path: path, token: tok, body: body}
	}
	aac := func(body string) call { return post(consent.PathAccountAccessConsents, ais, "AIS", body) }
	pdc := func(body string) call { return post(consent.PathDomesticPaymentConsents, pis, "PIS", body) }
	in := func(old, new string) string {
		return `{"Data":{"Initiation":` + strings.Replace(initiation, old, new, 1) + `},"Risk":{}}`
	}
	vrp := func(old, new string) string {
		return post(consent.PathDomesticVRPConsents, pis, "PIS", strings.Replace(vrpConsentBody, old, new, 1)).body
	}
	tests := []struct {
		name   string
		call   call
		status int
		code   string
	}{
		{"account access ok", aac(accountAccessBody), 201, ""},
		{"no permissions", aac(perms(``)), 400, "UK.OBIE.Field.Missing"},
		{"unknown permission", aac(perms(`"ReadAccountsBasic","ReadEverything"`)), 400, "UK.OBIE.Field.Invalid"},
		{"duplicate permission", aac(perms(`"ReadAccountsBasic","ReadAccountsBasic"`)), 400, "UK.OBIE.Field.Invalid"},
		{"no accounts permission", aac(perms(`"ReadBalances"`)), 400, "UK.OBIE.Field.Invalid"},
		{"credits without basic or detail", aac(perms(`"ReadAccountsBasic","ReadTransactionsCredits"`)), 400, "UK.OBIE.Field.Invalid"},
		{"basic without credits or debits", aac(perms(`"ReadAccountsBasic","ReadTransactionsBasic"`)), 400, "UK.OBIE.Field.Invalid"},
		{"transactions complete", aac(perms(`"ReadAccountsBasic","ReadTransactionsDetail","ReadTransactionsDebits"`)), 201, ""},
		{"expiry in the past", aac(`{"Data":{"Permissions":["ReadAccountsBasic"],"ExpirationDateTime":"2001-01-01T00:00:00Z"},"Risk":{}}`), 400, "UK.OBIE.Field.InvalidDate"},
		{"expiry without offset", aac(`{"Data":{"Permissions":["ReadAccountsBasic"],"ExpirationDateTime":"2099-01-01T00:00:00"},"Risk":{}}`), 400, "UK.OBIE.Field.InvalidDate"},
		{"window reversed", aac(`{"Data":{"Permissions":["ReadAccountsBasic"],"TransactionFromDateTime":"2026-02-01T00:00:00Z","TransactionToDateTime":"2026-01-01T00:00:00Z"},"Risk":{}}`), 400, "UK.OBIE.Field.InvalidDate"},
		{"no Risk", aac(`{"Data":{"Permissions":["ReadAccountsBasic"]}}`), 400, "UK.OBIE.Field.Missing"},
		{"no Data", aac(`{"Risk":{}}`), 400, "UK.OBIE.Field.Missing"},
		{"permissions wrong type", aac(`{"Data":{"Permissions":"ReadAccountsBasic"},"Risk":{}}`), 400, "UK.OBIE.Field.Invalid"},
		{"not JSON", aac(`Permissions=ReadAccountsBasic`), 400, "UK.OBIE.Resource.InvalidFormat"},
		{"two JSON values", aac(accountAccessBody + `{}`), 400, "UK.OBIE.Resource.InvalidFormat"},
		{"wrong content type", call{cert: "AIS", method: "POST", path: consent.PathAccountAccessConsents, token: ais, body: accountAccessBody, contentType: "text/plain"}, 415, "UK.OBIE.Header.Invalid"},
		{"not acceptable", call{cert: "AIS", method: "POST", path: consent.PathAccountAccessConsents, token: ais, body: accountAccessBody, header: http.Header{"Accept": {"text/html"}}}, 406, "UK.OBIE.Header.Invalid"},
		{"scope missing", post(consent.PathAccountAccessConsents, aisNoScope, "AIS", accountAccessBody), 403, ""},
		{"role missing", post(consent.PathAccountAccessConsents, aisOnPISCert, "PIS", accountAccessBody), 403, ""},
		{"customer token", post(consent.PathAccountAccessConsents, userTok, "AIS", accountAccessBody), 403, ""},
		{"no token", call{cert: "AIS", method: "POST", path: consent.PathAccountAccessConsents, body: accountAccessBody}, 401, ""},
		{"token of another certificate", post(consent.PathAccountAccessConsents, ais, "ALL", accountAccessBody), 401, ""},

		{"payment ok", pdc(paymentConsentBody), 201, ""},
		{"payment no initiation", pdc(`{"Data":{},"Risk":{}}`), 400, "UK.OBIE.Field.Missing"},
		{"payment bad amount", pdc(in(`"165.88"`, `"165,88"`)), 400, "UK.OBIE.Field.Invalid"},
		{"payment euro", pdc(in(`"GBP"`, `"EUR"`)), 400, "UK.OBIE.Unsupported.Currency"},
		{"payment unknown scheme", pdc(in(`UK.OBIE.SortCodeAccountNumber`, `UK.OBIE.BBAN`)), 400, "UK.OBIE.Unsupported.Scheme"},
		{"payment no creditor name", pdc(in(`,"Name":"ACME Inc"`, ``)), 400, "UK.OBIE.Field.Missing"},
		{"payment long reference", pdc(in(`FRESCO-101`, strings.Repeat("R", 36))), 400, "UK.OBIE.Field.Invalid"},
		{"payment no instruction id", pdc(in(`"InstructionIdentification":"ACME412",`, ``)), 400, "UK.OBIE.Field.Missing"},
		{"payment on AIS route role", post(consent.PathDomesticPaymentConsents, pis, "AIS", paymentConsentBody), 401, ""},

		{"funds consent ok", post(consent.PathFundsConfirmationConsents, cof, "CBPII", fundsConsentBody), 201, ""},
		{"funds consent no debtor", post(consent.PathFundsConfirmationConsents, cof, "CBPII", `{"Data":{}}`), 400, "UK.OBIE.Field.Missing"},
		{"funds consent by a PISP", post(consent.PathFundsConfirmationConsents, cof, "PIS", fundsConsentBody), 401, ""},

		{"vrp ok", post(consent.PathDomesticVRPConsents, pis, "PIS", vrpConsentBody), 201, ""},
		{"vrp no limits", post(consent.PathDomesticVRPConsents, pis, "PIS", vrp(`"PeriodicLimits":[{"PeriodType":"Day","PeriodAlignment":"Calendar","Amount":"100.00","Currency":"GBP"}]`, `"PeriodicLimits":[]`)), 400, "UK.OBIE.Field.Missing"},
		{"vrp bad period", post(consent.PathDomesticVRPConsents, pis, "PIS", vrp(`"PeriodType":"Day"`, `"PeriodType":"Hour"`)), 400, "UK.OBIE.Field.Invalid"},
		{"vrp mixed currency", post(consent.PathDomesticVRPConsents, pis, "PIS", vrp(`"100.00","Currency":"GBP"`, `"100.00","Currency":"EUR"`)), 400, "UK.OBIE.Field.Invalid"},
		{"vrp unknown type", post(consent.PathDomesticVRPConsents, pis, "PIS", vrp(`UK.OBIE.VRPType.Sweeping`, `Weekly`)), 400, "UK.OBIE.Field.Invalid"},
		{"vrp no max", post(consent.PathDomesticVRPConsents, pis, "PIS", vrp(`"MaximumIndividualAmount":{"Amount":"50.00","Currency":"GBP"},`, ``)), 400, "UK.OBIE.Field.Missing"},

		{"unknown consent", call{cert: "AIS", method: "GET", path: consent.PathAccountAccessConsents + "/aac-nope", token: ais}, 404, "UK.OBIE.Resource.NotFound"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := e.do(t, tc.call)
			if r.status != tc.status {
				t.Fatalf("status %d, want %d: %s", r.status, tc.status, r.body)
			}
			if got := r.errorCode(); tc.code != "" && got != tc.code {
				t.Fatalf("ErrorCode %q, want %q: %s", got, tc.code, r.body)
			}
			if r.header.Get("X-Fapi-Interaction-Id") == "" {
				t.Fatal("no x-fapi-interaction-id")
			}
			if tc.status == 201 {
				d := r.data()
				if d["Status"] != "AwaitingAuthorisation" || d["ConsentId"] == "" || d["CreationDateTime"] == "" {
					t.Fatalf("created resource: %s", r.body)
				}
				links, _ := r.json["Links"].(map[string]any)
				if self, _ := links["Self"].(string); !strings.HasSuffix(self, tc.call.path+"/"+d["ConsentId"].(string)) {
					t.Fatalf("Links.Self %q", self)
				}
				if _, ok := r.json["Meta"].(map[string]any); !ok {
					t.Fatal("no Meta")
				}
			}
		})
	}
}

// TestConsentAPIResource: GET shows the resource to its client only; DELETE revokes
// (204) and the GET then shows Revoked with the history; a second DELETE is refused.
func TestConsentAPIResource(t *testing.T) {
	e := newEnv(t, envOpts{})
	ais := e.appToken(t, "AIS", "tpp-1", "accounts")
	other := e.appToken(t, "AIS", "tpp-2", "accounts")
	r := e.do(t, call{cert: "AIS", method: "POST", path: consent.PathAccountAccessConsents, token: ais, body: accountAccessBody,
		header: http.Header{"X-Fapi-Interaction-Id": {"93bac548-d2de-4546-b106-880a5018460d"}}})
	if r.status != 201 || r.header.Get("X-Fapi-Interaction-Id") != "93bac548-d2de-4546-b106-880a5018460d" {
		t.Fatalf("create: %d %v", r.status, r.header)
	}
	id := r.data()["ConsentId"].(string)
	path := consent.PathAccountAccessConsents + "/" + id

	if g := e.do(t, call{cert: "AIS", method: "GET", path: path, token: ais}); g.status != 200 || g.data()["Status"] != "AwaitingAuthorisation" {
		t.Fatalf("get: %d %s", g.status, g.body)
	}
	if g := e.do(t, call{cert: "AIS", method: "GET", path: path, token: other}); g.status != 404 || g.errorCode() != "UK.OBIE.Resource.NotFound" {
		t.Fatalf("another client's get: %d %s", g.status, g.body)
	}
	if g := e.do(t, call{cert: "AIS", method: "DELETE", path: path, token: other}); g.status != 404 {
		t.Fatalf("another client's delete: %d %s", g.status, g.body)
	}
	cof := e.appToken(t, "CBPII", "tpp-1", "fundsconfirmations")
	if g := e.do(t, call{cert: "CBPII", method: "GET", path: consent.PathFundsConfirmationConsents + "/" + id, token: cof}); g.status != 404 {
		t.Fatalf("an account-access consent through the funds-confirmation API: %d %s", g.status, g.body)
	}
	if d := e.do(t, call{cert: "AIS", method: "DELETE", path: path, token: ais}); d.status != 204 || len(d.body) != 0 {
		t.Fatalf("delete: %d %s", d.status, d.body)
	}
	g := e.do(t, call{cert: "AIS", method: "GET", path: path, token: ais})
	if g.status != 200 || g.data()["Status"] != "Revoked" {
		t.Fatalf("after delete: %d %s", g.status, g.body)
	}
	hist, _ := g.data()["StatusHistory"].([]any)
	if len(hist) != 2 {
		t.Fatalf("history %v", hist)
	}
	last := hist[1].(map[string]any)
	if last["From"] != "AwaitingAuthorisation" || last["To"] != "Revoked" || last["By"] != "client:tpp-1" || last["At"] == "" {
		t.Fatalf("history entry %v", last)
	}
	if d := e.do(t, call{cert: "AIS", method: "DELETE", path: path, token: ais}); d.status != 400 || d.errorCode() != "UK.OBIE.Resource.InvalidConsentStatus" {
		t.Fatalf("second delete: %d %s", d.status, d.body)
	}
}
