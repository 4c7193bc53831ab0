// Package obie owns the UK Open Banking (OBIE) error response: the body every
// Open Banking resource and consent API of Portcullis answers a refusal with
// (OBErrorResponse1: {Code, Id, Message, Errors:[{ErrorCode, Message, Path,
// Url}]}), the standard UK.OBIE.* error codes, and the one function that writes
// it. The gateway, the sandbox bank and the consent APIs use it; it imports
// nothing of Portcullis.
//
// It refuses to echo an interaction id that is not a short printable token
// (header injection, log forging): such an Id is left out of the body and the
// header.
//
// Spec: OBIE Read/Write API v3.1 "Error Response Structure"; INTERFACE.md
// ("Every error body"); fapi.md FAPI1-RS-04 (x-fapi-interaction-id).
package obie

import (
	"encoding/json"
	"net/http"
	"strconv"
)

// The standard OBIE error codes (ErrorCode of an [ErrorItem]), OB-RW v3.1
// "Error Response Structure" / OBErrorResponse1.
const (
	CodeFieldExpected                 = "UK.OBIE.Field.Expected"
	CodeFieldInvalid                  = "UK.OBIE.Field.Invalid"
	CodeFieldInvalidDate              = "UK.OBIE.Field.InvalidDate"
	CodeFieldMissing                  = "UK.OBIE.Field.Missing"
	CodeFieldUnexpected               = "UK.OBIE.Field.Unexpected"
	CodeHeaderInvalid                 = "UK.OBIE.Header.Invalid"
	CodeHeaderMissing                 = "UK.OBIE.Header.Missing"
	CodeResourceConsentMismatch       = "UK.OBIE.Resource.ConsentMismatch"
	CodeResourceInvalidConsentStatus  = "UK.OBIE.Resource.InvalidConsentStatus"
	CodeResourceInvalidFormat         = "UK.OBIE.Resource.InvalidFormat"
	CodeResourceNotFound              = "UK.OBIE.Resource.NotFound"
	CodeRulesAfterCutOffDateTime      = "UK.OBIE.Rules.AfterCutOffDateTime"
	CodeRulesDuplicateReference       = "UK.OBIE.Rules.DuplicateReference"
	CodeRulesFailsControlParameters   = "UK.OBIE.Rules.FailsControlParameters"
	CodeSignatureInvalid              = "UK.OBIE.Signature.Invalid"
	CodeSignatureInvalidClaim         = "UK.OBIE.Signature.InvalidClaim"
	CodeSignatureMalformed            = "UK.OBIE.Signature.Malformed"
	CodeSignatureMissing              = "UK.OBIE.Signature.Missing"
	CodeSignatureMissingClaim         = "UK.OBIE.Signature.MissingClaim"
	CodeSignatureUnexpected           = "UK.OBIE.Signature.Unexpected"
	CodeUnexpectedError               = "UK.OBIE.UnexpectedError"
	CodeUnsupportedAccountIdentifier  = "UK.OBIE.Unsupported.AccountIdentifier"
	CodeUnsupportedAccountSecondaryID = "UK.OBIE.Unsupported.AccountSecondaryIdentifier"
	CodeUnsupportedCurrency           = "UK.OBIE.Unsupported.Currency"
	CodeUnsupportedFrequency          = "UK.OBIE.Unsupported.Frequency"
	CodeUnsupportedLocalInstrument    = "UK.OBIE.Unsupported.LocalInstrument"
	CodeUnsupportedScheme             = "UK.OBIE.Unsupported.Scheme"
)

// HeaderInteractionID is the FAPI interaction id header (canonical form).
const HeaderInteractionID = "X-Fapi-Interaction-Id"

// maxInteractionID bounds an echoed interaction id (a UUID is 36 characters).
const maxInteractionID = 128

// ErrorBody is the OBIE error response (OBErrorResponse1). Code is a high-level
// textual code chosen by the API (free text in OBIE); Id is the request's
// x-fapi-interaction-id; Errors holds at least one item.
type ErrorBody struct {
	Code    string      `json:"Code"`
	ID      string      `json:"Id,omitempty"`
	Message string      `json:"Message"`
	Errors  []ErrorItem `json:"Errors"`
}

// ErrorItem is one entry of [ErrorBody].Errors (OBError1). ErrorCode is one of the
// Code* constants (or a validator's UK.OBIE.* code); Path names the offending
// field or header; URL points to documentation, when there is any.
type ErrorItem struct {
	ErrorCode string `json:"ErrorCode"`
	Message   string `json:"Message"`
	Path      string `json:"Path,omitempty"`
	URL       string `json:"Url,omitempty"`
}

// NewError returns a body with one item whose Message is the body's Message.
func NewError(code, interactionID, errorCode, message, path string) *ErrorBody {
	return &ErrorBody{Code: code, ID: interactionID, Message: message,
		Errors: []ErrorItem{{ErrorCode: errorCode, Message: message, Path: path}}}
}

// SafeInteractionID reports whether id may be echoed in a body and a header: 1 to
// 128 printable ASCII characters without quotes, backslashes or spaces.
func SafeInteractionID(id string) bool {
	if id == "" || len(id) > maxInteractionID {
		return false
	}
	for i := 0; i < len(id); i++ {
		if c := id[i]; c <= 0x20 || c >= 0x7f || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}

// Write answers with status and b as JSON: Content-Type application/json
// (charset utf-8), Content-Length, Cache-Control no-store. b.ID is kept only if
// [SafeInteractionID] accepts it; then x-fapi-interaction-id is set to it unless
// the response already carries one (the value set by the caller's middleware
// wins). An empty Errors gets one item from Code and Message, so the body always
// has the shape OBIE requires.
func Write(w http.ResponseWriter, status int, b *ErrorBody) {
	body := *b
	if !SafeInteractionID(body.ID) {
		body.ID = ""
	}
	if len(body.Errors) == 0 {
		body.Errors = []ErrorItem{{ErrorCode: CodeUnexpectedError, Message: body.Message}}
	}
	raw, err := json.Marshal(body)
	if err != nil { // strings only: cannot happen
		raw = []byte(`{"Code":"server_error","Message":"Internal error","Errors":[{"ErrorCode":"UK.OBIE.UnexpectedError","Message":"Internal error"}]}`)
	}
	h := w.Header()
	if body.ID != "" && len(h.Values(HeaderInteractionID)) == 0 {
		h.Set(HeaderInteractionID, body.ID)
	}
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Content-Length", strconv.Itoa(len(raw)))
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(raw)
}
