package identity

import (
	"slices"
	"time"
)

// Authentication method references (RFC 8176 §2) an [Authentication] may list.
const (
	// AMRPassword: a password (knowledge factor) was checked.
	AMRPassword = "pwd"
	// AMROTP: a one-time code (possession factor; here TOTP, RFC 6238) was checked.
	AMROTP = "otp"
)

// Open Banking authentication context class references (the acr claim of an ID token).
const (
	// ACRSCA: strong customer authentication (PSD2 RTS Art. 4): two independent factors.
	ACRSCA = "urn:openbanking:psd2:sca"
	// ACRCA: customer authentication with fewer than two factors.
	ACRCA = "urn:openbanking:psd2:ca"
)

// Authentication is what a completed customer login yields, whatever the authenticator: the
// pages put it into the session after login, and ID tokens (sub from CustomerID, auth_time,
// amr, acr) and consent records are built from it. CustomerID is the bank's internal id and
// must never be sent to a client as it is (subjects are pairwise or otherwise opaque).
type Authentication struct {
	CustomerID string
	// AuthTime is when the last factor of this login was checked (OIDC auth_time).
	AuthTime time.Time
	// AMR lists the methods checked, in the order they were checked (RFC 8176 values).
	AMR []string
	// ACR is [ACRSCA] or [ACRCA].
	ACR string
}

// NewAuthentication returns the Authentication of a login of customerID completed at
// authTime with the methods amr. Its ACR is [ACRSCA] exactly when amr contains both
// [AMRPassword] and [AMROTP], [ACRCA] otherwise. amr is copied.
func NewAuthentication(customerID string, authTime time.Time, amr ...string) Authentication {
	acr := ACRCA
	if slices.Contains(amr, AMRPassword) && slices.Contains(amr, AMROTP) {
		acr = ACRSCA
	}
	return Authentication{CustomerID: customerID, AuthTime: authTime, AMR: slices.Clone(amr), ACR: acr}
}

// SCA reports whether the login was a strong customer authentication ([ACRSCA]).
func (a Authentication) SCA() bool { return a.ACR == ACRSCA }
