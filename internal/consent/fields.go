package consent

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/portcullis/portcullis/internal/obie"
)

// FieldError is a request the consent APIs refuse with 400: an OBIE error code
// (UK.OBIE.Field.*, UK.OBIE.Unsupported.*, UK.OBIE.Resource.InvalidFormat), the
// path of the offending field (e.g. "Data.Permissions") and a client-facing message.
type FieldError struct {
	Code, Path, Message string
}

func (e *FieldError) Error() string {
	return fmt.Sprintf("consent: %s: %s (%s)", e.Path, e.Message, e.Code)
}

func fieldErr(code, path, format string, a ...any) *FieldError {
	return &FieldError{Code: code, Path: path, Message: fmt.Sprintf(format, a...)}
}

func missing(path string) *FieldError {
	return fieldErr(obie.CodeFieldMissing, path, "%s is required", path)
}

// MaxRequestBytes bounds a consent request body.
const MaxRequestBytes = 64 << 10

// decodeRequest decodes an OBIE request body into v: one JSON object, at most
// MaxRequestBytes. Unknown members are ignored (OBIE lets an ASPSP ignore fields it
// does not support); a member of the wrong type is UK.OBIE.Field.Invalid with its
// path; anything but a JSON object is UK.OBIE.Resource.InvalidFormat.
func decodeRequest(body []byte, v any) error {
	if len(body) > MaxRequestBytes {
		return fieldErr(obie.CodeResourceInvalidFormat, "", "request body over %d bytes", MaxRequestBytes)
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(v); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return fieldErr(obie.CodeFieldInvalid, te.Field, "%s has the wrong type", te.Field)
		}
		var fe *FieldError
		if errors.As(err, &fe) {
			return fe
		}
		return fieldErr(obie.CodeResourceInvalidFormat, "", "request body is not a JSON object")
	}
	if dec.More() || bytes.TrimSpace(body)[0] != '{' {
		return fieldErr(obie.CodeResourceInvalidFormat, "", "request body is not one JSON object")
	}
	return nil
}

// parseDateTime parses an OBIE ISODateTime: RFC 3339 with a time-zone offset.
func parseDateTime(path, v string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		return time.Time{}, fieldErr(obie.CodeFieldInvalidDate, path, "%s is not an ISO 8601 date-time with offset", path)
	}
	return t, nil
}

// optDateTime parses an optional date-time (empty: zero).
func optDateTime(path, v string) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	return parseDateTime(path, v)
}

// formatDateTime renders t as an OBIE ISODateTime (UTC, with offset); "" for zero.
func formatDateTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

// Amount is OBIE ActiveOrHistoricCurrencyAndAmount.
type Amount struct {
	Amount   string `json:"Amount"`
	Currency string `json:"Currency"`
}

var (
	amountPattern   = regexp.MustCompile(`^\d{1,13}(\.\d{1,5})?$`)
	currencyPattern = regexp.MustCompile(`^[A-Z]{3}$`)
)

// amountScale is the unit of [Amount.Minor]: 1/100000 of the currency unit.
const amountScale = 100000

// check validates a at path.
func (a *Amount) check(path string) error {
	if a == nil {
		return missing(path)
	}
	if !amountPattern.MatchString(a.Amount) {
		return fieldErr(obie.CodeFieldInvalid, path+".Amount", "%s.Amount must match ^\\d{1,13}(\\.\\d{1,5})?$", path)
	}
	if !currencyPattern.MatchString(a.Currency) {
		return fieldErr(obie.CodeFieldInvalid, path+".Currency", "%s.Currency must be an ISO 4217 code", path)
	}
	return nil
}

// Minor returns the amount in 1/100000 of the currency unit (checked amounts fit:
// 13 + 5 digits < 2^63).
func (a Amount) Minor() (int64, error) {
	if !amountPattern.MatchString(a.Amount) {
		return 0, fmt.Errorf("consent: bad amount %q", a.Amount)
	}
	whole, frac, _ := strings.Cut(a.Amount, ".")
	frac += strings.Repeat("0", 5-len(frac))
	w, err := strconv.ParseInt(whole, 10, 64)
	if err != nil {
		return 0, err
	}
	f, err := strconv.ParseInt(frac, 10, 64)
	if err != nil {
		return 0, err
	}
	return w*amountScale + f, nil
}

// AccountRef is OBIE OBCashAccount (debtor / creditor account).
type AccountRef struct {
	SchemeName              string `json:"SchemeName"`
	Identification          string `json:"Identification"`
	Name                    string `json:"Name,omitempty"`
	SecondaryIdentification string `json:"SecondaryIdentification,omitempty"`
}

// supportedSchemes are the account identification schemes accepted.
var supportedSchemes = map[string]bool{
	"UK.OBIE.SortCodeAccountNumber": true, "UK.OBIE.IBAN": true, "UK.OBIE.PAN": true, "UK.OBIE.Paym": true,
	"SortCodeAccountNumber": true, "IBAN": true, "PAN": true, "Paym": true,
}

func (a *AccountRef) check(path string, nameRequired bool) error {
	if a == nil {
		return missing(path)
	}
	switch {
	case a.SchemeName == "":
		return missing(path + ".SchemeName")
	case !supportedSchemes[a.SchemeName]:
		return fieldErr(obie.CodeUnsupportedScheme, path+".SchemeName", "scheme %q is not supported", a.SchemeName)
	case a.Identification == "":
		return missing(path + ".Identification")
	case len(a.Identification) > 256:
		return fieldErr(obie.CodeFieldInvalid, path+".Identification", "at most 256 characters")
	case nameRequired && a.Name == "":
		return missing(path + ".Name")
	case len(a.Name) > 350:
		return fieldErr(obie.CodeFieldInvalid, path+".Name", "at most 350 characters")
	case len(a.SecondaryIdentification) > 34:
		return fieldErr(obie.CodeFieldInvalid, path+".SecondaryIdentification", "at most 34 characters")
	}
	return nil
}

// checkText checks an optional text field's length (in characters).
func checkText(path, v string, max int, required bool) error {
	if v == "" && required {
		return missing(path)
	}
	if len([]rune(v)) > max {
		return fieldErr(obie.CodeFieldInvalid, path, "%s is longer than %d characters", path, max)
	}
	return nil
}

// checkRisk requires the OBIE Risk object (it may be empty).
func checkRisk(risk json.RawMessage) error {
	if len(risk) == 0 || bytes.Equal(risk, []byte("null")) {
		return missing("Risk")
	}
	if bytes.TrimSpace(risk)[0] != '{' {
		return fieldErr(obie.CodeFieldInvalid, "Risk", "Risk must be an object")
	}
	return nil
}

// CanonicalHash returns the SHA-256 of the canonical form of the JSON value raw:
// objects with their members sorted by name, no insignificant white space, numbers
// and strings as written. Two Initiation objects are the same payment exactly when
// their hashes are equal (dcr-consent.md §2.2: "compare a hash").
func CanonicalHash(raw json.RawMessage) ([32]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return [32]byte{}, err
	}
	if dec.More() {
		return [32]byte{}, errors.New("consent: trailing data after JSON value")
	}
	canon, err := json.Marshal(v) // maps are marshalled with sorted keys
	if err != nil {
		return [32]byte{}, err
	}
	return sha256.Sum256(canon), nil
}

// StatusFields are the members every consent resource's Data starts with, plus
// StatusHistory: the consent's transitions (who, when, from → to), oldest first — a
// Portcullis extension that OBIE clients may ignore.
type StatusFields struct {
	ConsentID            string       `json:"ConsentId"`
	CreationDateTime     string       `json:"CreationDateTime"`
	Status               string       `json:"Status"`
	StatusUpdateDateTime string       `json:"StatusUpdateDateTime"`
	StatusHistory        []Transition `json:"StatusHistory,omitempty"`
}

// statusFields renders c's status for the TPP. The history names the customer only
// as "customer": the bank's customer id never reaches a TPP (tokens carry opaque
// subjects for the same reason).
func statusFields(c *Consent, now time.Time) StatusFields {
	h := history(c, now)
	for i := range h {
		if strings.HasPrefix(h[i].By, "customer:") {
			h[i].By = "customer"
		}
	}
	return StatusFields{ConsentID: c.ID, CreationDateTime: formatDateTime(c.CreatedAt), Status: c.Status(now),
		StatusUpdateDateTime: formatDateTime(c.StatusUpdatedAt(now)), StatusHistory: h}
}

// history is a copy of c's transitions, with the expiry (read from the clock) as a
// last entry by "clock" when c has expired.
func history(c *Consent, now time.Time) []Transition {
	h := slices.Clone(c.History)
	if c.expired(now) {
		h = append(h, Transition{From: c.StoredStatus, To: StatusExpired, At: c.ExpiresAt, By: "clock"})
	}
	return h
}

// Links is the OBIE Links object.
type Links struct {
	Self string `json:"Self"`
}

// Meta is the OBIE Meta object.
type Meta struct {
	TotalPages int `json:"TotalPages"`
}
