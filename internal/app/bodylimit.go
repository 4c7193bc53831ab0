package app

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"

	"github.com/portcullis/portcullis/internal/gateway"
	"github.com/portcullis/portcullis/internal/oauth"
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

// writeOBIEBodyTooLarge writes the gateway's 413 OBIE error body (OBErrorResponse1,
// the same Code, ErrorCode and Message as the gateway's own body-too-large refusal).
//
// TODO(lead): render it with internal/obie (the OBIE error body's one home, branch gw)
// once merged, and delete this copy.
func writeOBIEBodyTooLarge(w http.ResponseWriter, r *http.Request) {
	type item struct {
		ErrorCode string `json:"ErrorCode"`
		Message   string `json:"Message"`
	}
	const message = "Request body too large"
	iid := obs.InteractionID(r.Context())
	body, _ := json.Marshal(struct { // strings only: cannot fail
		Code    string `json:"Code"`
		ID      string `json:"Id"`
		Message string `json:"Message"`
		Errors  []item `json:"Errors"`
	}{gateway.CodeBodyTooLarge, iid, message, []item{{"UK.OBIE.Resource.InvalidFormat", message}}})
	h := w.Header()
	if iid != "" {
		h.Set(obs.HeaderInteractionID, iid)
	}
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusRequestEntityTooLarge)
	_, _ = w.Write(body)
}
