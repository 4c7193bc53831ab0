package nca

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/portcullis/portcullis/internal/pki/eidas"
)

// ID names an authorisation: the NCA (country and authority code, as in a PSD2
// organizationIdentifier "PSDGB-FCA-123456" or an SSA's authority_id "GB-FCA"/"FCA") and
// the authorisation number the NCA gave. Compare with [ID.Key], which ignores case and
// separators ("FIN-FSA" = "FINFSA", "0111027-9" = "01110279"), as registers and
// certificates write them differently.
type ID struct {
	Country   string // ISO 3166 alpha-2, e.g. "GB"
	Authority string // e.g. "FCA"
	Number    string // the authorisation (national reference) number
}

// String renders the ID in the PSD2 organizationIdentifier form.
func (id ID) String() string { return "PSD" + id.Country + "-" + id.Authority + "-" + id.Number }

// Key is the normalised form two IDs are compared by: upper case, letters and digits only.
func (id ID) Key() string {
	return normalise(id.Country) + "|" + normalise(id.Authority) + "|" + normalise(id.Number)
}

// Valid reports whether every part is present once normalised.
func (id ID) Valid() bool {
	return normalise(id.Country) != "" && normalise(id.Authority) != "" && normalise(id.Number) != ""
}

func normalise(s string) string {
	var b strings.Builder
	for _, r := range strings.ToUpper(s) {
		if (r >= 'A' && r <= 'Z') || (r >= '0' && r <= '9') {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// FromOrganizationIdentifier returns the authorisation a PSD2 organizationIdentifier names
// (scheme PSD, EN 319 412-1 §5.1.4; TS 119 495 §5.2.1), or false for any other scheme and
// for the Open Banking directory's pseudo-identifier "PSDGB-OB-Unknown…" of OB
// certificates, which names no NCA authorisation.
func FromOrganizationIdentifier(o eidas.OrganizationIdentifier) (ID, bool) {
	if o.Scheme != "PSD" || strings.EqualFold(o.NCA, "OB") {
		return ID{}, false
	}
	id := ID{Country: o.Country, Authority: o.NCA, Number: o.Reference}
	return id, id.Valid()
}

// FromAuthorityClaim returns the authorisation an SSA's organisation_competent_authority_claims
// entry names: authority_id "GB-FCA" (TS 119 495 form) or "FCAGBR" (the OB Directory's: NCA
// code and alpha-3 country), and registration_id, the authorisation number (or the whole
// "PSDGB-FCA-123456" form, which alone suffices).
func FromAuthorityClaim(authorityID, registrationID string) (ID, bool) {
	if o, err := eidas.ParseOrganizationIdentifier(registrationID); err == nil && o.Scheme == "PSD" {
		return FromOrganizationIdentifier(o)
	}
	country, authority, ok := strings.Cut(authorityID, "-")
	if !ok && len(authorityID) > 3 {
		// The OB Directory's form: the NCA code then the ISO 3166 alpha-3 country
		// ("FCAGBR", "CBIIRL").
		if cc, known := alpha3[strings.ToUpper(authorityID[len(authorityID)-3:])]; known {
			country, authority, ok = cc, authorityID[:len(authorityID)-3], true
		}
	}
	if !ok || len(country) != 2 {
		return ID{}, false
	}
	id := ID{Country: country, Authority: authority, Number: registrationID}
	return id, id.Valid()
}

// alpha3 maps the ISO 3166 alpha-3 codes of the EEA and the UK to alpha-2.
var alpha3 = map[string]string{
	"AUT": "AT", "BEL": "BE", "BGR": "BG", "HRV": "HR", "CYP": "CY", "CZE": "CZ", "DNK": "DK", "EST": "EE",
	"FIN": "FI", "FRA": "FR", "DEU": "DE", "GRC": "GR", "HUN": "HU", "ISL": "IS", "IRL": "IE", "ITA": "IT",
	"LVA": "LV", "LIE": "LI", "LTU": "LT", "LUX": "LU", "MLT": "MT", "NLD": "NL", "NOR": "NO", "POL": "PL",
	"PRT": "PT", "ROU": "RO", "SVK": "SK", "SVN": "SI", "ESP": "ES", "SWE": "SE", "GBR": "GB",
}

// Entry is what a register says about one authorisation.
type Entry struct {
	ID   ID
	Name string
	// EntityType is the register's kind of institution (EBA: PSD_PI, PSD_EMI, PSD_AISP …).
	EntityType string
	// Roles are the PSD2 roles the authorisation covers (eidas.RoleAISP, RolePISP,
	// RoleCBPII).
	Roles []eidas.Role
	// Authorised is false once the authorisation was withdrawn (WithdrawnAt, when known).
	Authorised  bool
	WithdrawnAt time.Time
}

// Reasons a register refuses a TPP; a [*RefusedError] matches exactly one (errors.Is).
var (
	// ErrNotListed: the register has no authorisation under this ID (or the caller has no
	// ID the register could be asked about).
	ErrNotListed = errors.New("nca: the TPP is not listed in the register")
	// ErrWithdrawn: the authorisation was withdrawn.
	ErrWithdrawn = errors.New("nca: the TPP's authorisation was withdrawn")
	// ErrRoleNotAuthorised: the authorisation does not (or no longer) cover a role the TPP
	// uses.
	ErrRoleNotAuthorised = errors.New("nca: the TPP is not authorised for this PSD2 role")
)

// ErrUnavailable means the register could not be read, or its data is older than the
// freshness bound and the policy is to fail closed: "could not check", never "checked and
// refused". Consumers answer 503 (or 401/403 where their protocol has no 503).
var ErrUnavailable = errors.New("nca: the register is unavailable")

// RefusedError is a checked-and-refused TPP.
type RefusedError struct {
	Reason error // ErrNotListed, ErrWithdrawn or ErrRoleNotAuthorised
	ID     ID
	Role   eidas.Role // for ErrRoleNotAuthorised
	// WithdrawnAt is when the authorisation was withdrawn (ErrWithdrawn), when known.
	WithdrawnAt time.Time
}

func (e *RefusedError) Error() string {
	s := e.Reason.Error() + ": " + e.ID.String()
	if e.Role != "" {
		s += " role " + string(e.Role)
	}
	if !e.WithdrawnAt.IsZero() {
		s += " withdrawn " + e.WithdrawnAt.Format(time.DateOnly)
	}
	return s
}

// Is makes errors.Is(err, e.Reason) true.
func (e *RefusedError) Is(target error) bool { return target == e.Reason }

// Decide applies an entry to the roles a TPP uses at time now: nil when every role is
// covered and the authorisation stands; a [*RefusedError] otherwise. A nil entry is
// ErrNotListed. A withdrawal dated in the future (announced) takes effect at that date.
func Decide(id ID, e *Entry, roles []eidas.Role, now time.Time) error {
	switch {
	case e == nil:
		return &RefusedError{Reason: ErrNotListed, ID: id}
	case !e.Authorised && (e.WithdrawnAt.IsZero() || !now.Before(e.WithdrawnAt)):
		return &RefusedError{Reason: ErrWithdrawn, ID: id, WithdrawnAt: e.WithdrawnAt}
	}
	for _, r := range roles {
		if r == eidas.RoleASPSP || r == eidas.RoleUnspecified {
			continue // not a TPP service: the PSD2 register does not list it
		}
		if !slices.Contains(e.Roles, r) {
			return &RefusedError{Reason: ErrRoleNotAuthorised, ID: id, Role: r}
		}
	}
	return nil
}

// Policy is what a register does when its data is older than the freshness bound (it
// could not be refreshed).
type Policy string

const (
	// PolicyFailClosed (the default, also for the empty string): every check is
	// [ErrUnavailable] until a refresh succeeds.
	PolicyFailClosed Policy = "fail_closed"
	// PolicyLastKnown: the last data read keeps deciding — a withdrawal already seen
	// still refuses, but one published since is not seen. For deployments that prefer
	// availability and accept that risk.
	PolicyLastKnown Policy = "last_known"
)

func (p Policy) check() error {
	switch p {
	case "", PolicyFailClosed, PolicyLastKnown:
		return nil
	}
	return fmt.Errorf("nca: unknown policy %q (want %s or %s)", p, PolicyFailClosed, PolicyLastKnown)
}
