// Package bank is the sandbox bank: a small upstream API in UK OBIE v3.1 shapes
// (Account and Transaction API: accounts, balances, transactions; Payment
// Initiation API: domestic payments) over in-memory demo data. In dev mode
// Portcullis runs it behind the gateway with the default route table
// ([Routes]), so that a newcomer can make a first protected
// call.
//
// It trusts the gateway completely and nothing else: it reads who is calling only
// from the X-Portcullis-* identity headers (upstream.IdentityHeaders mode) that the
// gateway sets after every check has passed, and answers 403 when they are
// missing. It must therefore be reachable only through Portcullis (serve it on a
// loopback listener, as dev mode must); it does not verify the identity JWT mode, tokens,
// certificates or consents — those are the gateway's and the consent service's.
//
// Demo data: the PSU "demo" holds a current and two savings accounts, "demo2" one
// current account; every other PSU has none. A PSU sees only its own accounts (the
// consent's account selection is not modelled here). Payments are kept in memory
// (the newest 10 000), visible only to the client that made them, and settle
// immediately (status AcceptedSettlementInProcess).
//
// It is sample code for development and tests, not a reference implementation of
// the OBIE specification: only the fields and rules below are implemented.
package bank

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/portcullis/portcullis/internal/clock"
	"github.com/portcullis/portcullis/internal/obie"
	"github.com/portcullis/portcullis/internal/upstream"
)

// BasePath is the common prefix of the OBIE v3.1 APIs served.
const BasePath = "/open-banking/v3.1"

// Paths of the sandbox bank's API (Go 1.22 ServeMux patterns).
const (
	PathAccounts            = BasePath + "/aisp/accounts"
	PathAccount             = BasePath + "/aisp/accounts/{AccountId}"
	PathAccountBalances     = BasePath + "/aisp/accounts/{AccountId}/balances"
	PathAccountTransactions = BasePath + "/aisp/accounts/{AccountId}/transactions"
	PathBalances            = BasePath + "/aisp/balances"
	PathTransactions        = BasePath + "/aisp/transactions"
	PathDomesticPayments    = BasePath + "/pisp/domestic-payments"
	PathDomesticPayment     = BasePath + "/pisp/domestic-payments/{DomesticPaymentId}"
)

// Limits.
const (
	maxPayments       = 10000
	maxBodyBytes      = 64 << 10
	maxIdempotencyKey = 40
)

type bank struct {
	clock    clock.Clock
	accounts map[string][]*account // PSU id → accounts
	byID     map[string]*account

	mu       sync.Mutex
	payments map[string]*payment // DomesticPaymentId → payment
	order    []string            // payment ids, oldest first
	idem     map[string]string   // client id + "\x00" + x-idempotency-key → payment id
}

// New returns the sandbox bank's HTTP handler. clk stamps payments.
func New(clk clock.Clock) http.Handler {
	if clk == nil {
		clk = clock.Real{}
	}
	b := &bank{clock: clk, payments: make(map[string]*payment), idem: make(map[string]string)}
	b.accounts, b.byID = demoAccounts()
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+PathAccounts, b.psu(b.listAccounts))
	mux.HandleFunc("GET "+PathAccount, b.psu(b.getAccount))
	mux.HandleFunc("GET "+PathAccountBalances, b.psu(b.accountBalances))
	mux.HandleFunc("GET "+PathAccountTransactions, b.psu(b.accountTransactions))
	mux.HandleFunc("GET "+PathBalances, b.psu(b.allBalances))
	mux.HandleFunc("GET "+PathTransactions, b.psu(b.allTransactions))
	mux.HandleFunc("POST "+PathDomesticPayments, b.psu(b.createPayment))
	mux.HandleFunc("GET "+PathDomesticPayment, b.client(b.getPayment))
	mux.HandleFunc("POST "+PathDomesticVRPs, b.psu(b.createVRP))
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, r, http.StatusNotFound, obie.CodeResourceNotFound, "No such resource", "")
	})
	return mux
}

// caller is the identity the gateway vouched for.
type caller struct {
	clientID, consentID, psuID string
}

func identity(r *http.Request) caller {
	return caller{
		clientID:  r.Header.Get(upstream.HeaderClientID),
		consentID: r.Header.Get(upstream.HeaderConsentID),
		psuID:     r.Header.Get(upstream.HeaderPSUID),
	}
}

// psu wraps handlers that act for a customer under a consent: all three identity
// values are required.
func (b *bank) psu(h func(http.ResponseWriter, *http.Request, caller)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		c := identity(r)
		if c.clientID == "" || c.consentID == "" || c.psuID == "" {
			writeError(w, r, http.StatusForbidden, obie.CodeResourceConsentMismatch, "No customer consent for this request", "")
			return
		}
		h(w, r, c)
	}
}

// client wraps handlers that need only the calling client.
func (b *bank) client(h func(http.ResponseWriter, *http.Request, caller)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		c := identity(r)
		if c.clientID == "" {
			writeError(w, r, http.StatusForbidden, obie.CodeResourceConsentMismatch, "No client identity for this request", "")
			return
		}
		h(w, r, c)
	}
}

// obTime renders a time as OBIE ISODateTime with an explicit offset.
func obTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05-07:00") }

// links is the OBIE Links object. Self is absolute when the gateway said how it
// was reached (X-Forwarded-Proto/-Host), a path otherwise.
type links struct {
	Self string `json:"Self"`
}

type meta struct {
	TotalPages int `json:"TotalPages,omitempty"`
}

func selfLink(r *http.Request) links {
	p := r.URL.EscapedPath()
	if r.URL.RawQuery != "" {
		p += "?" + r.URL.RawQuery
	}
	return linkTo(r, p)
}

// linkTo returns a link to path (escaped) on the host the request reached.
func linkTo(r *http.Request, path string) links {
	proto, host := r.Header.Get("X-Forwarded-Proto"), r.Header.Get("X-Forwarded-Host")
	if (proto == "https" || proto == "http") && host != "" && len(host) <= 255 && !strings.ContainsAny(host, "/\\@ \t\"") {
		return links{Self: proto + "://" + host + path}
	}
	return links{Self: path}
}

func writeJSON(w http.ResponseWriter, r *http.Request, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		writeError(w, r, http.StatusInternalServerError, obie.CodeUnexpectedError, "Internal error", "")
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// interactionID returns the request's x-fapi-interaction-id (obie.Write echoes it
// only if it is safe to).
func interactionID(r *http.Request) string { return r.Header.Get(upstream.HeaderFAPIInteractionID) }

func writeError(w http.ResponseWriter, r *http.Request, status int, code, msg, path string) {
	topCode := fmt.Sprintf("%d %s", status, strings.ReplaceAll(http.StatusText(status), " ", ""))
	obie.Write(w, status, obie.NewError(topCode, interactionID(r), code, msg, path))
}
