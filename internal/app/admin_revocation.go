package app

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"math/big"
	"net/http"
	"strings"

	"github.com/portcullis/portcullis/internal/oauth"
)

// PathAdminRevocationForget is the admin API operation that drops one certificate's
// cached revocation status.
const PathAdminRevocationForget = "/admin/revocation/forget"

// maxForgetBody bounds the JSON body of POST /admin/revocation/forget.
const maxForgetBody = 1 << 10

// maxSerialHexDigits is the longest serial accepted: RFC 5280 §4.1.2.2 allows 20 octets.
const maxSerialHexDigits = 40

// RevocationForgetter drops what is cached about one certificate's revocation status, so
// that its next validation asks the OCSP responder or the CRL again (package revocation's
// Checker.Forget; the app's forgetter also drops the validated-chain cache). issuerSHA256
// empty means "any issuer". It returns the number of cached answers dropped.
type RevocationForgetter interface {
	Forget(serial *big.Int, issuerSHA256 []byte) int
}

// forgetRequest is the body of POST /admin/revocation/forget.
type forgetRequest struct {
	// Serial is the certificate's serial number in hex (openssl x509 -serial), optionally
	// with a 0x prefix or colons between octets.
	Serial string `json:"serial"`
	// Issuer, optional, is the SHA-256 fingerprint of the issuer certificate's DER in hex
	// (openssl x509 -noout -fingerprint -sha256), colons allowed.
	Issuer string `json:"issuer,omitempty"`
}

// NewRevocationForgetHandler returns the handler of POST /admin/revocation/forget:
// a JSON body {"serial": HEX, "issuer": SHA256-HEX (optional)} of at most 1 KiB makes f
// forget that certificate's cached revocation status on this node, and the answer is 204
// whether or not anything was cached (nothing to forget is not an error). A malformed body
// or serial is 400 invalid_request (RFC 6749 error body); another content type 415; another
// method 405.
//
// It checks no credential: it is mounted on App.AdminMux, behind package admin's guard
// (admin token, failure limits, audit), on the admin listener only. It acts on this node
// only; in a cluster, call it on every node (each node caches on its
// own; the cached status expires everywhere after revocation.max_good_age anyway).
func NewRevocationForgetHandler(f RevocationForgetter, logger *slog.Logger) http.Handler {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", http.MethodPost)
			oauth.WriteError(w, oauth.MethodNotAllowed())
			return
		}
		if ct, _, _ := strings.Cut(r.Header.Get("Content-Type"), ";"); !strings.EqualFold(strings.TrimSpace(ct), "application/json") {
			w.Header().Set("Cache-Control", "no-store")
			http.Error(w, "Content-Type must be application/json", http.StatusUnsupportedMediaType)
			return
		}
		body, err := io.ReadAll(io.LimitReader(r.Body, maxForgetBody+1))
		if err != nil || len(body) > maxForgetBody {
			oauth.WriteError(w, oauth.InvalidRequest("body unreadable or larger than 1 KiB"))
			return
		}
		var req forgetRequest
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&req); err != nil || dec.More() {
			oauth.WriteError(w, oauth.InvalidRequest("body must be a JSON object with serial and optional issuer"))
			return
		}
		serial, issuer, err := req.parse()
		if err != nil {
			oauth.WriteError(w, oauth.InvalidRequest(err.Error()))
			return
		}
		n := f.Forget(serial, issuer)
		logger.InfoContext(r.Context(), "admin API: cached revocation status forgotten",
			slog.String("serial", serial.Text(16)), slog.String("issuer_sha256", hex.EncodeToString(issuer)),
			slog.Int("answers_dropped", n))
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(http.StatusNoContent)
	})
}

// parse checks and decodes the request's serial and issuer fingerprint.
func (req forgetRequest) parse() (*big.Int, []byte, error) {
	s := strings.ReplaceAll(req.Serial, ":", "")
	s = strings.TrimPrefix(strings.TrimPrefix(s, "0x"), "0X")
	if s == "" || len(s) > maxSerialHexDigits {
		return nil, nil, errors.New("serial must be 1 to 40 hex digits")
	}
	serial, ok := new(big.Int).SetString(s, 16)
	if !ok || serial.Sign() < 0 {
		return nil, nil, errors.New("serial must be hex digits")
	}
	if req.Issuer == "" {
		return serial, nil, nil
	}
	issuer, err := hex.DecodeString(strings.ReplaceAll(req.Issuer, ":", ""))
	if err != nil || len(issuer) != sha256.Size {
		return nil, nil, errors.New("issuer must be a SHA-256 fingerprint in hex")
	}
	return serial, issuer, nil
}

// chainForgetter is the app's [RevocationForgetter]: the revocation checker forgets the
// certificate's answers, and the validator drops its validated-chain cache (which may
// hold a validation resting on the forgotten answer).
type chainForgetter struct {
	checker   RevocationForgetter
	validator interface{ Invalidate() }
}

func (f chainForgetter) Forget(serial *big.Int, issuerSHA256 []byte) int {
	n := f.checker.Forget(serial, issuerSHA256)
	f.validator.Invalidate()
	return n
}
