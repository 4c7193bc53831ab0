package bank

import "context"

// AccountSummary is what a customer's approval page shows about one of their accounts.
type AccountSummary struct {
	ID             string
	Name           string // the customer's nickname for it
	Identification string // masked: the last four digits
}

// Accounts is the sandbox bank's account lookup for the customer journey: the demo
// accounts of a PSU. It is what the approval page offers in dev mode.
type Accounts struct{}

// CustomerAccounts returns the accounts of customerID (none for an unknown customer).
func (Accounts) CustomerAccounts(_ context.Context, customerID string) ([]AccountSummary, error) {
	byPSU, _ := demoAccounts()
	var out []AccountSummary
	for _, a := range byPSU[customerID] {
		id := a.Identification
		if len(id) > 4 {
			id = "•••• " + id[len(id)-4:]
		}
		out = append(out, AccountSummary{ID: a.ID, Name: a.Nickname, Identification: id})
	}
	return out, nil
}
