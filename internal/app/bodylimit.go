package app

import (
	"net/http"
	"strings"

	"github.com/portcullis/portcullis/internal/gateway"
	"github.com/portcullis/portcullis/internal/oauth"
	"github.com/portcullis/portcullis/internal/obie"
	"github.com/portcullis/portcullis/internal/obs"
)

// openBankingPrefix starts every Open Banking API path; a refusal there is an OBIE
// error body, anywhere else on the https listener an RFC 6749 one.
const openBankingPrefix = "/open-banking/"

// refuseBody answers a request whose declared body exceeds http.max_body_bytes (the
// httpserver body limit's RefuseBody hook): 413 with the OBIE error body on Open
// Banking paths, with {"error":"invalid_request","error_description":"request body too
// large"} (RFC 6749 §5.2) everywhere else.
func refuseBody(w http.ResponseWriter, r *http.Request) {
	if strings.HasPrefix(r.URL.Path, openBankingPrefix) {
		writeOBIEBodyTooLarge(w, r)
		return
	}
	e := oauth.InvalidRequest("request body too large")
	e.Status = http.StatusRequestEntityTooLarge
	oauth.WriteError(w, e)
}

// writeOBIEBodyTooLarge writes the gateway's 413 OBIE error body (the same Code, ErrorCode
// and Message as the gateway's own body-too-large refusal).
func writeOBIEBodyTooLarge(w http.ResponseWriter, r *http.Request) {
	obie.Write(w, http.StatusRequestEntityTooLarge, obie.NewError(gateway.CodeBodyTooLarge,
		obs.InteractionID(r.Context()), obie.CodeResourceInvalidFormat, "Request body too large", ""))
}
