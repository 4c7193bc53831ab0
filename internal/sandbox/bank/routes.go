package bank

import (
	"net/http"

	"github.com/portcullis/portcullis/internal/config"
	"github.com/portcullis/portcullis/internal/consent"
)

// Routes returns the gateway route table for the sandbox bank at upstream (an
// absolute http(s) URL), as configuration values (the gateway converts them like
// any configured route), following the OBIE rules (OB-RW v3.1; pki.md §1.5):
//
//   - account, balance and transaction reads (GET /aisp/accounts[/{AccountId}[/balances|/transactions]],
//     /aisp/balances, /aisp/transactions): a customer token with scope "accounts",
//     an account-access consent (validated), a certificate with PSP_AI;
//   - payment submission (POST /pisp/domestic-payments): a customer token with
//     scope "payments" (never a client-credentials one: FAPI1-RS-06), a
//     domestic-payment consent (validated), PSP_PI;
//   - VRP payment (POST /pisp/domestic-vrps): as payment submission, with a
//     domestic-vrp consent (control parameters checked and counted);
//   - payment status (GET /pisp/domestic-payments/{DomesticPaymentId}): a
//     client-credentials (application) token with scope "payments", PSP_PI, no
//     consent (OBIE reads payment resources with the client's own token).
//
// Consent routes use the gateway's default validator.
func Routes(upstream string) []config.GatewayRoute {
	ais := func(name, path string) config.GatewayRoute {
		return config.GatewayRoute{
			Name: name, Method: http.MethodGet, Path: path, Scopes: []string{"accounts"},
			TokenUse: "user", Roles: []string{"PSP_AI"}, Consent: consent.KindAccountAccess, Upstream: upstream,
		}
	}
	return []config.GatewayRoute{
		ais("aisp-accounts", PathAccounts),
		ais("aisp-account", PathAccount),
		ais("aisp-account-balances", PathAccountBalances),
		ais("aisp-account-transactions", PathAccountTransactions),
		ais("aisp-balances", PathBalances),
		ais("aisp-transactions", PathTransactions),
		{
			Name: "pisp-domestic-payment-create", Method: http.MethodPost, Path: PathDomesticPayments,
			Scopes: []string{"payments"}, TokenUse: "user", Roles: []string{"PSP_PI"},
			Consent: consent.KindDomesticPayment, Upstream: upstream,
		},
		{
			Name: "pisp-domestic-vrp-create", Method: http.MethodPost, Path: PathDomesticVRPs,
			Scopes: []string{"payments"}, TokenUse: "user", Roles: []string{"PSP_PI"},
			Consent: consent.KindDomesticVRP, Upstream: upstream,
		},
		{
			Name: "pisp-domestic-payment-get", Method: http.MethodGet, Path: PathDomesticPayment,
			Scopes: []string{"payments"}, TokenUse: "application", Roles: []string{"PSP_PI"}, Upstream: upstream,
		},
	}
}
