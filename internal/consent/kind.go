package consent

// Consent kinds: the kind of consent (intent) a gateway route requires, passed to
// the [Validator] as [Request].Kind and named in route configuration
// ("consent: account-access"). The OBIE consent resources of each kind are owned
// by this package.
const (
	// KindAccountAccess is the OBIE account-access consent (AISP,
	// /aisp/account-access-consents).
	KindAccountAccess = "account-access"
	// KindDomesticPayment is the OBIE domestic-payment consent (PISP,
	// /pisp/domestic-payment-consents).
	KindDomesticPayment = "domestic-payment"
)
