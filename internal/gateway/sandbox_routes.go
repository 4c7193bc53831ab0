package gateway

import (
	"net/http"
	"net/url"

	"github.com/portcullis/portcullis/internal/pki/eidas"
	"github.com/portcullis/portcullis/internal/sandbox/bank"
)

// Consent kinds of the OBIE consents.
const (
	ConsentAccountAccess   = "account-access"
	ConsentDomesticPayment = "domestic-payment"
)

// DefaultSandboxRoutes returns the route table for the sandbox bank at upstream,
// following the OBIE rules (OB-RW v3.1; pki.md §1.5):
//
//   - account, balance and transaction reads (GET /aisp/accounts[/{AccountId}[/balances|/transactions]],
//     /aisp/balances, /aisp/transactions): a customer token with scope "accounts",
//     an account-access consent (required, validated), a certificate with PSP_AI;
//   - payment submission (POST /pisp/domestic-payments): a customer token with
//     scope "payments" (never a client-credentials one: FAPI1-RS-06), a
//     domestic-payment consent (required, validated), PSP_PI;
//   - payment status (GET /pisp/domestic-payments/{DomesticPaymentId}): a
//     client-credentials (application) token with scope "payments", PSP_PI, no
//     consent (OBIE reads payment resources with the client's own token).
//
// Consent routes use the gateway's default validator (Options.ConsentValidator).
func DefaultSandboxRoutes(upstream *url.URL) []Route {
	ais := func(name, path string) Route {
		return Route{
			Name: name, Method: http.MethodGet, Pattern: path, Scopes: []string{"accounts"},
			TokenUse: TokenUseUser, Roles: []eidas.Role{eidas.RoleAISP},
			Consent:  ConsentCheck{Kind: ConsentAccountAccess, Required: true},
			Upstream: upstream,
		}
	}
	return []Route{
		ais("aisp-accounts", bank.PathAccounts),
		ais("aisp-account", bank.PathAccount),
		ais("aisp-account-balances", bank.PathAccountBalances),
		ais("aisp-account-transactions", bank.PathAccountTransactions),
		ais("aisp-balances", bank.PathBalances),
		ais("aisp-transactions", bank.PathTransactions),
		{
			Name: "pisp-domestic-payment-create", Method: http.MethodPost, Pattern: bank.PathDomesticPayments,
			Scopes: []string{"payments"}, TokenUse: TokenUseUser, Roles: []eidas.Role{eidas.RolePISP},
			Consent:  ConsentCheck{Kind: ConsentDomesticPayment, Required: true},
			Upstream: upstream,
		},
		{
			Name: "pisp-domestic-payment-get", Method: http.MethodGet, Pattern: bank.PathDomesticPayment,
			Scopes: []string{"payments"}, TokenUse: TokenUseApplication, Roles: []eidas.Role{eidas.RolePISP},
			Upstream: upstream,
		},
	}
}
