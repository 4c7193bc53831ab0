package bank

import (
	"net/http"
	"time"

	"github.com/portcullis/portcullis/internal/obie"
)

// account is one demo account with its balance and booked transactions.
type account struct {
	ID             string
	Nickname       string
	SubType        string // CurrentAccount, Savings
	Opened         time.Time
	Identification string // sort code + account number
	Name           string
	Balance        amount
	BalanceCredit  bool
	BalanceAt      time.Time
	Transactions   []transaction
}

type transaction struct {
	ID          string
	Reference   string
	Amount      amount
	Credit      bool
	BookedAt    time.Time
	Information string
}

// amount is the OBIE ActiveOrHistoricCurrencyAndAmount.
type amount struct {
	Amount   string `json:"Amount"`
	Currency string `json:"Currency"`
}

func gbp(s string) amount { return amount{Amount: s, Currency: "GBP"} }

func day(y int, m time.Month, d, h int) time.Time { return time.Date(y, m, d, h, 0, 0, 0, time.UTC) }

// demoAccounts returns the demo customers' accounts, by PSU and by id.
func demoAccounts() (map[string][]*account, map[string]*account) {
	byPSU := map[string][]*account{
		"demo": {
			{
				ID: "22289", Nickname: "Bills", SubType: "CurrentAccount", Opened: day(2019, 1, 10, 9),
				Identification: "80200110203345", Name: "Mr Demo Customer",
				Balance: gbp("1230.00"), BalanceCredit: true, BalanceAt: day(2026, 1, 31, 18),
				Transactions: []transaction{
					{ID: "tx-22289-1", Reference: "SALARY JAN", Amount: gbp("2500.00"), Credit: true, BookedAt: day(2026, 1, 28, 8), Information: "Employer Ltd salary"},
					{ID: "tx-22289-2", Reference: "RENT", Amount: gbp("1150.00"), Credit: false, BookedAt: day(2026, 1, 29, 9), Information: "Standing order to Landlord"},
					{ID: "tx-22289-3", Reference: "GROCERIES", Amount: gbp("120.00"), Credit: false, BookedAt: day(2026, 1, 30, 17), Information: "Card payment Corner Shop"},
				},
			},
			{
				ID: "31820", Nickname: "Rainy day", SubType: "Savings", Opened: day(2020, 6, 1, 9),
				Identification: "80200110203348", Name: "Mr Demo Customer",
				Balance: gbp("5000.00"), BalanceCredit: true, BalanceAt: day(2026, 1, 31, 18),
				Transactions: []transaction{
					{ID: "tx-31820-1", Reference: "INTEREST", Amount: gbp("12.34"), Credit: true, BookedAt: day(2026, 1, 31, 0), Information: "Interest paid"},
				},
			},
			{
				ID: "57013", Nickname: "Holidays", SubType: "Savings", Opened: day(2022, 9, 5, 9),
				Identification: "80200110203351", Name: "Mr Demo Customer",
				Balance: gbp("800.00"), BalanceCredit: true, BalanceAt: day(2026, 1, 31, 18),
				Transactions: []transaction{
					{ID: "tx-57013-1", Reference: "SAVINGS", Amount: gbp("100.00"), Credit: true, BookedAt: day(2026, 1, 15, 9), Information: "Transfer from Bills"},
				},
			},
		},
		"demo2": {
			{
				ID: "40507", Nickname: "Main", SubType: "CurrentAccount", Opened: day(2021, 3, 15, 9),
				Identification: "40400544332211", Name: "Ms Second Demo",
				Balance: gbp("75.50"), BalanceCredit: false, BalanceAt: day(2026, 1, 31, 18),
				Transactions: []transaction{
					{ID: "tx-40507-1", Reference: "COFFEE", Amount: gbp("3.20"), Credit: false, BookedAt: day(2026, 1, 30, 7), Information: "Card payment Cafe"},
				},
			},
		},
	}
	byID := make(map[string]*account)
	for _, accs := range byPSU {
		for _, a := range accs {
			byID[a.ID] = a
		}
	}
	return byPSU, byID
}

// OBIE v3.1 account-information response shapes (the subset the sandbox fills).

type obAccount struct {
	AccountID            string            `json:"AccountId"`
	Status               string            `json:"Status"`
	StatusUpdateDateTime string            `json:"StatusUpdateDateTime"`
	Currency             string            `json:"Currency"`
	AccountType          string            `json:"AccountType"`
	AccountSubType       string            `json:"AccountSubType"`
	Nickname             string            `json:"Nickname,omitempty"`
	OpeningDate          string            `json:"OpeningDate"`
	Account              []obAccountDetail `json:"Account"`
}

type obAccountDetail struct {
	SchemeName     string `json:"SchemeName"`
	Identification string `json:"Identification"`
	Name           string `json:"Name"`
}

type obBalance struct {
	AccountID            string `json:"AccountId"`
	Amount               amount `json:"Amount"`
	CreditDebitIndicator string `json:"CreditDebitIndicator"`
	Type                 string `json:"Type"`
	DateTime             string `json:"DateTime"`
}

type obTransaction struct {
	AccountID              string `json:"AccountId"`
	TransactionID          string `json:"TransactionId"`
	TransactionReference   string `json:"TransactionReference"`
	Amount                 amount `json:"Amount"`
	CreditDebitIndicator   string `json:"CreditDebitIndicator"`
	Status                 string `json:"Status"`
	BookingDateTime        string `json:"BookingDateTime"`
	ValueDateTime          string `json:"ValueDateTime"`
	TransactionInformation string `json:"TransactionInformation"`
}

type accountsResponse struct {
	Data  struct{ Account []obAccount } `json:"Data"`
	Links links                         `json:"Links"`
	Meta  meta                          `json:"Meta"`
}

type balancesResponse struct {
	Data  struct{ Balance []obBalance } `json:"Data"`
	Links links                         `json:"Links"`
	Meta  meta                          `json:"Meta"`
}

type transactionsResponse struct {
	Data  struct{ Transaction []obTransaction } `json:"Data"`
	Links links                                 `json:"Links"`
	Meta  meta                                  `json:"Meta"`
}

func indicator(credit bool) string {
	if credit {
		return "Credit"
	}
	return "Debit"
}

func (a *account) ob() obAccount {
	return obAccount{
		AccountID: a.ID, Status: "Enabled", StatusUpdateDateTime: obTime(a.Opened), Currency: "GBP",
		AccountType: "Personal", AccountSubType: a.SubType, Nickname: a.Nickname, OpeningDate: a.Opened.Format("2006-01-02"),
		Account: []obAccountDetail{{SchemeName: "UK.OBIE.SortCodeAccountNumber", Identification: a.Identification, Name: a.Name}},
	}
}

func (a *account) obBalance() obBalance {
	return obBalance{AccountID: a.ID, Amount: a.Balance, CreditDebitIndicator: indicator(a.BalanceCredit),
		Type: "InterimAvailable", DateTime: obTime(a.BalanceAt)}
}

// obTransactions returns a's transactions booked within [from, to] (zero bounds are
// open).
func (a *account) obTransactions(from, to time.Time) []obTransaction {
	out := []obTransaction{}
	for _, t := range a.Transactions {
		if !from.IsZero() && t.BookedAt.Before(from) || !to.IsZero() && t.BookedAt.After(to) {
			continue
		}
		out = append(out, obTransaction{
			AccountID: a.ID, TransactionID: t.ID, TransactionReference: t.Reference, Amount: t.Amount,
			CreditDebitIndicator: indicator(t.Credit), Status: "Booked", BookingDateTime: obTime(t.BookedAt),
			ValueDateTime: obTime(t.BookedAt), TransactionInformation: t.Information,
		})
	}
	return out
}

// ownAccount returns the PSU's account named by the path, or writes 404 (the same
// answer for an unknown account and another customer's, so ids cannot be probed).
func (b *bank) ownAccount(w http.ResponseWriter, r *http.Request, c caller) (*account, bool) {
	a, ok := b.byID[r.PathValue("AccountId")]
	if !ok || !b.owns(c.psuID, a) {
		writeError(w, r, http.StatusNotFound, obie.CodeResourceNotFound, "No such account", "")
		return nil, false
	}
	return a, true
}

func (b *bank) owns(psu string, a *account) bool {
	for _, x := range b.accounts[psu] {
		if x == a {
			return true
		}
	}
	return false
}

func (b *bank) listAccounts(w http.ResponseWriter, r *http.Request, c caller) {
	var resp accountsResponse
	resp.Data.Account = []obAccount{}
	for _, a := range b.accounts[c.psuID] {
		resp.Data.Account = append(resp.Data.Account, a.ob())
	}
	resp.Links, resp.Meta = selfLink(r), meta{TotalPages: 1}
	writeJSON(w, r, http.StatusOK, resp)
}

func (b *bank) getAccount(w http.ResponseWriter, r *http.Request, c caller) {
	a, ok := b.ownAccount(w, r, c)
	if !ok {
		return
	}
	var resp accountsResponse
	resp.Data.Account = []obAccount{a.ob()}
	resp.Links, resp.Meta = selfLink(r), meta{TotalPages: 1}
	writeJSON(w, r, http.StatusOK, resp)
}

func (b *bank) accountBalances(w http.ResponseWriter, r *http.Request, c caller) {
	a, ok := b.ownAccount(w, r, c)
	if !ok {
		return
	}
	var resp balancesResponse
	resp.Data.Balance = []obBalance{a.obBalance()}
	resp.Links, resp.Meta = selfLink(r), meta{TotalPages: 1}
	writeJSON(w, r, http.StatusOK, resp)
}

func (b *bank) allBalances(w http.ResponseWriter, r *http.Request, c caller) {
	var resp balancesResponse
	resp.Data.Balance = []obBalance{}
	for _, a := range b.accounts[c.psuID] {
		resp.Data.Balance = append(resp.Data.Balance, a.obBalance())
	}
	resp.Links, resp.Meta = selfLink(r), meta{TotalPages: 1}
	writeJSON(w, r, http.StatusOK, resp)
}

func (b *bank) accountTransactions(w http.ResponseWriter, r *http.Request, c caller) {
	a, ok := b.ownAccount(w, r, c)
	if !ok {
		return
	}
	from, to, ok := bookingWindow(w, r)
	if !ok {
		return
	}
	var resp transactionsResponse
	resp.Data.Transaction = a.obTransactions(from, to)
	resp.Links, resp.Meta = selfLink(r), meta{TotalPages: 1}
	writeJSON(w, r, http.StatusOK, resp)
}

func (b *bank) allTransactions(w http.ResponseWriter, r *http.Request, c caller) {
	from, to, ok := bookingWindow(w, r)
	if !ok {
		return
	}
	var resp transactionsResponse
	resp.Data.Transaction = []obTransaction{}
	for _, a := range b.accounts[c.psuID] {
		resp.Data.Transaction = append(resp.Data.Transaction, a.obTransactions(from, to)...)
	}
	resp.Links, resp.Meta = selfLink(r), meta{TotalPages: 1}
	writeJSON(w, r, http.StatusOK, resp)
}

// bookingWindow reads the optional fromBookingDateTime / toBookingDateTime query
// parameters (OBIE: ISODateTime; a value without offset is taken as UTC).
func bookingWindow(w http.ResponseWriter, r *http.Request) (from, to time.Time, ok bool) {
	q := r.URL.Query()
	for _, p := range []struct {
		name string
		dst  *time.Time
	}{{"fromBookingDateTime", &from}, {"toBookingDateTime", &to}} {
		v := q.Get(p.name)
		if v == "" {
			continue
		}
		t, err := time.Parse(time.RFC3339, v)
		if err != nil {
			t, err = time.Parse("2006-01-02T15:04:05", v)
		}
		if err != nil {
			writeError(w, r, http.StatusBadRequest, obie.CodeFieldInvalidDate, "Invalid "+p.name, p.name)
			return time.Time{}, time.Time{}, false
		}
		*p.dst = t
	}
	return from, to, true
}
