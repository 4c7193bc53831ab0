package consent_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/portcullis/portcullis/internal/consent"
	"github.com/portcullis/portcullis/internal/store"
)

// The authorization journey's use of the consent service: check the request object's
// openbanking_intent_id (OB-03), show the consent, record the customer's choice.
func ExampleService_ForAuthorization() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "consent-example")
	defer os.RemoveAll(dir)
	st, err := store.Open(ctx, "", store.Options{SQLitePath: filepath.Join(dir, "p.db")})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer st.Close()
	_ = st.Migrate(ctx)
	svc, _ := consent.NewService(consent.Options{Store: st})

	// The TPP created the intent with its client_credentials token.
	intent, _, _ := svc.CreateAccountAccess(ctx, "tpp-1", []byte(`{"Data":{"Permissions":["ReadAccountsBasic","ReadBalances"]},"Risk":{}}`))

	// Another client naming this intent is refused (OB-03).
	if _, err := svc.ForAuthorization(ctx, "tpp-2", intent.ID); errors.Is(err, consent.ErrWrongClient) {
		fmt.Println("tpp-2: refused, another client's intent")
	}
	// The right client: the approval page shows the consent in plain words.
	c, err := svc.ForAuthorization(ctx, "tpp-1", intent.ID)
	if err != nil {
		fmt.Println(err)
		return
	}
	d := consent.Describe(c)
	fmt.Println(d.Title, "| choose:", d.ChooseAccounts)
	for _, p := range d.Permissions {
		fmt.Println(" -", p)
	}
	// The customer approves two accounts; a second approval (another tab) is refused.
	a, _ := svc.Authorise(ctx, intent.ID, "demo", []string{"22289", "31820"})
	fmt.Println(a.StoredStatus, a.CustomerID, a.Accounts)
	if _, err := svc.Authorise(ctx, intent.ID, "demo", nil); errors.Is(err, consent.ErrStatus) {
		fmt.Println("second approval:", err)
	}
	// Output:
	// tpp-2: refused, another client's intent
	// Access to your account information | choose: many
	//  - Your account names and types
	//  - Your account balances
	// Authorised demo [22289 31820]
	// second approval: consent: consent status does not allow this: status is Authorised
}
