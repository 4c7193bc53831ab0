package audit

// Consent event types beyond those above (part of the schema: never rename one). Data has
// consent_id, kind, from, to and by (the actor).
const (
	// TypeConsentCreated: a TPP created a consent (intent).
	TypeConsentCreated = "consent.created"
	// TypeConsentConsumed: a payment used up a single-use payment consent.
	TypeConsentConsumed = "consent.consumed"
)
