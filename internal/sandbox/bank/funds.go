package bank

import (
	"context"

	"github.com/portcullis/portcullis/internal/consent"
)

// Funds answers the consent APIs' funds confirmations (consent.FundsChecker) from the
// demo data: available when the customer's own account is in credit by at least the
// amount, in its currency. An account that is not the customer's is "not available"
// (never an error, so ids cannot be probed).
type Funds struct{}

// FundsAvailable implements consent.FundsChecker.
func (Funds) FundsAvailable(_ context.Context, customerID, accountID string, amt consent.Amount) (bool, error) {
	byPSU, _ := demoAccounts()
	want, err := amt.Minor()
	if err != nil {
		return false, err
	}
	for _, a := range byPSU[customerID] {
		if a.ID != accountID {
			continue
		}
		have, err := consent.Amount{Amount: a.Balance.Amount, Currency: a.Balance.Currency}.Minor()
		if err != nil {
			return false, err
		}
		return a.BalanceCredit && a.Balance.Currency == amt.Currency && have >= want, nil
	}
	return false, nil
}
