package bank

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/portcullis/portcullis/internal/clock"
	"github.com/portcullis/portcullis/internal/obie"
	"github.com/portcullis/portcullis/internal/upstream"
)

var testNow = time.Date(2026, 2, 3, 10, 0, 0, 0, time.UTC)

type call struct {
	method, path, body   string
	client, consent, psu string
	headers              map[string]string
}

func do(t *testing.T, h http.Handler, c call) *httptest.ResponseRecorder {
	t.Helper()
	var req *http.Request
	if c.body != "" {
		req = httptest.NewRequest(c.method, c.path, strings.NewReader(c.body))
		req.Header.Set("Content-Type", "application/json")
	} else {
		req = httptest.NewRequest(c.method, c.path, nil)
	}
	for k, v := range map[string]string{upstream.HeaderClientID: c.client, upstream.HeaderConsentID: c.consent, upstream.HeaderPSUID: c.psu} {
		if v != "" {
			req.Header.Set(k, v)
		}
	}
	for k, v := range c.headers {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// obErrorCode returns Errors[0].ErrorCode of an OBIE error body.
func obErrorCode(t *testing.T, rec *httptest.ResponseRecorder) string {
	t.Helper()
	var e obie.ErrorBody
	if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil || len(e.Errors) != 1 {
		t.Fatalf("not an OBIE error body: %q (%v)", rec.Body.String(), err)
	}
	return e.Errors[0].ErrorCode
}

func TestAccountInformation(t *testing.T) {
	h := New(clock.NewFake(testNow))
	demo := call{method: http.MethodGet, client: "tpp-1", consent: "aac-1", psu: "demo"}
	with := func(c call, path string) call { c.path = path; return c }
	tests := []struct {
		name     string
		call     call
		status   int
		code     string   // OBIE error code for failures
		ids      []string // AccountIds (or TransactionIds) in the answer
		dataKind string   // Account, Balance or Transaction
	}{
		{name: "accounts of demo", call: with(demo, PathAccounts), status: 200, dataKind: "Account", ids: []string{"22289", "31820", "57013"}},
		{name: "accounts of demo2", call: call{method: "GET", path: PathAccounts, client: "tpp-1", consent: "c", psu: "demo2"}, status: 200, dataKind: "Account", ids: []string{"40507"}},
		{name: "accounts of unknown PSU", call: call{method: "GET", path: PathAccounts, client: "tpp-1", consent: "c", psu: "nobody"}, status: 200, dataKind: "Account", ids: []string{}},
		{name: "one account", call: with(demo, BasePath+"/aisp/accounts/31820"), status: 200, dataKind: "Account", ids: []string{"31820"}},
		{name: "another customer's account", call: with(demo, BasePath+"/aisp/accounts/40507"), status: 404, code: "UK.OBIE.Resource.NotFound"},
		{name: "unknown account", call: with(demo, BasePath+"/aisp/accounts/00000"), status: 404, code: "UK.OBIE.Resource.NotFound"},
		{name: "account balances", call: with(demo, BasePath+"/aisp/accounts/22289/balances"), status: 200, dataKind: "Balance", ids: []string{"22289"}},
		{name: "all balances", call: with(demo, PathBalances), status: 200, dataKind: "Balance", ids: []string{"22289", "31820", "57013"}},
		{name: "account transactions", call: with(demo, BasePath+"/aisp/accounts/22289/transactions"), status: 200, dataKind: "Transaction", ids: []string{"tx-22289-1", "tx-22289-2", "tx-22289-3"}},
		{name: "transactions in window", call: with(demo, BasePath+"/aisp/accounts/22289/transactions?fromBookingDateTime=2026-01-29T00:00:00&toBookingDateTime=2026-01-29T23:59:59Z"), status: 200, dataKind: "Transaction", ids: []string{"tx-22289-2"}},
		{name: "bad booking date", call: with(demo, PathTransactions+"?fromBookingDateTime=yesterday"), status: 400, code: "UK.OBIE.Field.InvalidDate"},
		{name: "all transactions", call: with(demo, PathTransactions), status: 200, dataKind: "Transaction", ids: []string{"tx-22289-1", "tx-22289-2", "tx-22289-3", "tx-31820-1", "tx-57013-1"}},
		{name: "no PSU identity", call: call{method: "GET", path: PathAccounts, client: "tpp-1", consent: "aac-1"}, status: 403, code: "UK.OBIE.Resource.ConsentMismatch"},
		{name: "no consent identity", call: call{method: "GET", path: PathAccounts, client: "tpp-1", psu: "demo"}, status: 403, code: "UK.OBIE.Resource.ConsentMismatch"},
		{name: "unknown path", call: with(demo, BasePath+"/aisp/beneficiaries"), status: 404, code: "UK.OBIE.Resource.NotFound"},
		{name: "wrong method", call: call{method: "DELETE", path: PathAccounts, client: "tpp-1", consent: "c", psu: "demo"}, status: 404, code: "UK.OBIE.Resource.NotFound"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := do(t, h, tt.call)
			if rec.Code != tt.status {
				t.Fatalf("status = %d, want %d; body %s", rec.Code, tt.status, rec.Body)
			}
			if tt.code != "" {
				if got := obErrorCode(t, rec); got != tt.code {
					t.Errorf("ErrorCode = %q, want %q", got, tt.code)
				}
				return
			}
			if tt.dataKind == "" {
				return
			}
			var body struct {
				Data  map[string][]map[string]any
				Links struct{ Self string }
			}
			if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
				t.Fatal(err)
			}
			idKey := "AccountId"
			if tt.dataKind == "Transaction" {
				idKey = "TransactionId"
			}
			got := []string{}
			for _, item := range body.Data[tt.dataKind] {
				got = append(got, item[idKey].(string))
			}
			if diff := cmp.Diff(tt.ids, got); diff != "" {
				t.Errorf("%s ids (-want +got):\n%s", tt.dataKind, diff)
			}
			if !strings.HasPrefix(body.Links.Self, BasePath) {
				t.Errorf("Links.Self = %q", body.Links.Self)
			}
		})
	}
}

const validPayment = `{"Data":{"ConsentId":"pdc-1","Initiation":{"InstructionIdentification":"ACME412","EndToEndIdentification":"FRESCO.21302.GFX.20",
"InstructedAmount":{"Amount":"165.88","Currency":"GBP"},
"CreditorAccount":{"SchemeName":"UK.OBIE.SortCodeAccountNumber","Identification":"08080021325698","Name":"ACME Inc"}}},"Risk":{}}`

func TestDomesticPayments(t *testing.T) {
	pay := func(body string, mods ...func(*call)) call {
		c := call{method: http.MethodPost, path: PathDomesticPayments, body: body, client: "tpp-1", consent: "pdc-1", psu: "demo",
			headers: map[string]string{"X-Idempotency-Key": "key-1"}}
		for _, m := range mods {
			m(&c)
		}
		return c
	}
	replace := func(old, new string) string { return strings.Replace(validPayment, old, new, 1) }
	tests := []struct {
		name   string
		call   call
		status int
		code   string
		path   string
	}{
		{name: "valid", call: pay(validPayment), status: 201},
		{name: "no idempotency key", call: pay(validPayment, func(c *call) { delete(c.headers, "X-Idempotency-Key") }), status: 400, code: "UK.OBIE.Header.Missing", path: "x-idempotency-key"},
		{name: "idempotency key too long", call: pay(validPayment, func(c *call) { c.headers["X-Idempotency-Key"] = strings.Repeat("k", 41) }), status: 400, code: "UK.OBIE.Header.Invalid", path: "x-idempotency-key"},
		{name: "not JSON content type", call: pay(validPayment, func(c *call) { c.headers["Content-Type"] = "text/plain" }), status: 415, code: "UK.OBIE.Header.Invalid", path: "Content-Type"},
		{name: "not JSON", call: pay(`{"Data":`), status: 400, code: "UK.OBIE.Resource.InvalidFormat"},
		{name: "no Risk", call: pay(replace(`,"Risk":{}`, ``)), status: 400, code: "UK.OBIE.Field.Missing", path: "Risk"},
		{name: "consent mismatch", call: pay(validPayment, func(c *call) { c.consent = "pdc-2" }), status: 400, code: "UK.OBIE.Resource.ConsentMismatch", path: "Data.ConsentId"},
		{name: "no instruction id", call: pay(replace(`"ACME412"`, `""`)), status: 400, code: "UK.OBIE.Field.Missing", path: "Data.Initiation.InstructionIdentification"},
		{name: "bad amount", call: pay(replace(`"165.88"`, `"-1"`)), status: 400, code: "UK.OBIE.Field.Invalid", path: "Data.Initiation.InstructedAmount.Amount"},
		{name: "zero amount", call: pay(replace(`"165.88"`, `"0.00"`)), status: 400, code: "UK.OBIE.Field.Invalid", path: "Data.Initiation.InstructedAmount.Amount"},
		{name: "unsupported currency", call: pay(replace(`"GBP"`, `"EUR"`)), status: 400, code: "UK.OBIE.Unsupported.Currency", path: "Data.Initiation.InstructedAmount.Currency"},
		{name: "unsupported scheme", call: pay(replace(`UK.OBIE.SortCodeAccountNumber`, `UK.OBIE.PAN`)), status: 400, code: "UK.OBIE.Unsupported.Scheme", path: "Data.Initiation.CreditorAccount.SchemeName"},
		{name: "no creditor name", call: pay(replace(`,"Name":"ACME Inc"`, ``)), status: 400, code: "UK.OBIE.Field.Missing", path: "Data.Initiation.CreditorAccount.Name"},
		{name: "no PSU", call: pay(validPayment, func(c *call) { c.psu = "" }), status: 403, code: "UK.OBIE.Resource.ConsentMismatch"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := New(clock.NewFake(testNow))
			rec := do(t, h, tt.call)
			if rec.Code != tt.status {
				t.Fatalf("status = %d, want %d; body %s", rec.Code, tt.status, rec.Body)
			}
			if tt.code != "" {
				var e obie.ErrorBody
				if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil {
					t.Fatal(err)
				}
				if e.Errors[0].ErrorCode != tt.code || e.Errors[0].Path != tt.path {
					t.Errorf("error = %s at %q, want %s at %q", e.Errors[0].ErrorCode, e.Errors[0].Path, tt.code, tt.path)
				}
				return
			}
			var resp paymentResponse
			if err := json.Unmarshal(rec.Body.Bytes(), &resp); err != nil {
				t.Fatal(err)
			}
			if resp.Data.Status != StatusAcceptedSettlementInProcess || resp.Data.ConsentID != "pdc-1" ||
				!strings.HasPrefix(resp.Data.DomesticPaymentID, "dp-") || resp.Data.CreationDateTime != "2026-02-03T10:00:00+00:00" ||
				resp.Data.Initiation.InstructedAmount.Amount != "165.88" {
				t.Errorf("payment response = %+v", resp.Data)
			}
		})
	}
}

// TestPaymentLifecycle: idempotent replay, retrieval by the same client only.
func TestPaymentLifecycle(t *testing.T) {
	h := New(clock.NewFake(testNow))
	create := call{method: http.MethodPost, path: PathDomesticPayments, body: validPayment, client: "tpp-1", consent: "pdc-1", psu: "demo",
		headers: map[string]string{"X-Idempotency-Key": "key-1"}}
	first := do(t, h, create)
	if first.Code != 201 {
		t.Fatalf("create: %d %s", first.Code, first.Body)
	}
	var p paymentResponse
	if err := json.Unmarshal(first.Body.Bytes(), &p); err != nil {
		t.Fatal(err)
	}
	id := p.Data.DomesticPaymentID

	replay := do(t, h, create)
	if replay.Code != 201 || replay.Body.String() != first.Body.String() {
		t.Errorf("replay with the same key and body: %d %s, want the first answer", replay.Code, replay.Body)
	}
	changed := create
	changed.body = strings.Replace(validPayment, "165.88", "1.00", 1)
	if rec := do(t, h, changed); rec.Code != 400 || obErrorCode(t, rec) != "UK.OBIE.Header.Invalid" {
		t.Errorf("replay with another body: %d %s", rec.Code, rec.Body)
	}
	otherClient := create
	otherClient.client = "tpp-2"
	if rec := do(t, h, otherClient); rec.Code != 201 || strings.Contains(rec.Body.String(), id) {
		t.Errorf("same key from another client: %d %s, want a new payment", rec.Code, rec.Body)
	}

	get := call{method: http.MethodGet, path: PathDomesticPayments + "/" + id, client: "tpp-1"}
	if rec := do(t, h, get); rec.Code != 200 || !strings.Contains(rec.Body.String(), id) {
		t.Errorf("get own payment: %d %s", rec.Code, rec.Body)
	}
	get.client = "tpp-2"
	if rec := do(t, h, get); rec.Code != 404 || obErrorCode(t, rec) != "UK.OBIE.Resource.NotFound" {
		t.Errorf("get another client's payment: %d %s", rec.Code, rec.Body)
	}
	get.client = ""
	if rec := do(t, h, get); rec.Code != 403 {
		t.Errorf("get without client identity: %d", rec.Code)
	}
}

func TestLinksUseForwardedHost(t *testing.T) {
	h := New(clock.NewFake(testNow))
	rec := do(t, h, call{method: "GET", path: PathAccounts, client: "tpp-1", consent: "c", psu: "demo",
		headers: map[string]string{"X-Forwarded-Proto": "https", "X-Forwarded-Host": "localhost:8443"}})
	var body struct{ Links struct{ Self string } }
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
		t.Fatal(err)
	}
	if body.Links.Self != "https://localhost:8443"+PathAccounts {
		t.Errorf("Links.Self = %q", body.Links.Self)
	}
}
