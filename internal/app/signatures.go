package app

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/portcullis/portcullis/internal/client"
	"github.com/portcullis/portcullis/internal/config"
	"github.com/portcullis/portcullis/internal/consent"
	"github.com/portcullis/portcullis/internal/gateway"
	"github.com/portcullis/portcullis/internal/idempotency"
	"github.com/portcullis/portcullis/internal/jose"
	"github.com/portcullis/portcullis/internal/obie"
	"github.com/portcullis/portcullis/internal/obs"
	"github.com/portcullis/portcullis/internal/obsig"
	"github.com/portcullis/portcullis/internal/sandbox/bank"
)

// The payment APIs whose requests are signed and idempotent (OBIE v3.1: the payment
// consent and payment order POSTs, domestic VRP consents and VRPs; dcr-consent.md
// §2.2, §2.4, §2.5), as "METHOD pattern" of the gateway's routes.
var signedPOSTs = obsig.PaymentRoutes

// signedAPIs are the path prefixes of the APIs whose every response is signed: the
// resources the signed POSTs create (their GETs, funds confirmations, DELETE).
var signedAPIs = []string{
	consent.PathDomesticPaymentConsents, consent.PathDomesticVRPConsents,
	bank.PathDomesticPayments, bank.PathDomesticVRPs, "/open-banking/v3.1/vrp/",
}

// mountMessageRules puts message signing and idempotency around the gateway's payment
// routes (gateway.Route.Around: after client authentication, around the consent check and
// the handler or upstream):
//
//   - the signed POSTs: the TPP's x-jws-signature required and verified (obsig, the key from
//     the client's registered JWKS via the shared clientauth.KeyResolver, a QSealC in it
//     validated by the transport validator), then x-idempotency-key (package idempotency,
//     keys per client in the store, so a repeat is answered before the consent check
//     consumes anything — also across nodes); every answer signed with the bank's seal key;
//   - the other routes of those APIs: answers signed.
//
// Without a message-signing key (keys.seal_cert_file; the sandbox QSealC in dev mode) those
// routes answer 503: payment answers must be signed, and are never sent unsigned. maxBody
// is the gateway's body limit (zero: its default).
func (a *App) mountMessageRules(routes []gateway.Route, maxBody int64) error {
	var signed bool
	for i := range routes {
		if isSignedPOST(&routes[i]) || isSignedAPI(&routes[i]) {
			signed = true
		}
	}
	if !signed {
		return nil
	}
	sc := a.cfg.Signatures
	if a.Keys.SealKey() == nil {
		// No message-signing key (production without keys.seal_cert_file): the payment
		// APIs cannot answer as OBIE requires, so they refuse (503) rather than answer
		// unsigned; the rest of the server works.
		a.logger.Warn("keys.seal_cert_file is not set: the payment APIs answer 503 (their answers must be signed, x-jws-signature)")
		for i := range routes {
			if isSignedPOST(&routes[i]) || isSignedAPI(&routes[i]) {
				routes[i].Around = refuseUnsigned
			}
		}
		return nil
	}
	if sc.Issuer == "" {
		return &config.FieldError{Field: "signatures.issuer", Reason: "required: the iss of the bank's response signatures"}
	}
	if a.clientKeys == nil {
		return errors.New("x-jws-signature: no client key resolver")
	}
	if maxBody <= 0 {
		maxBody = gateway.DefaultMaxBodyBytes
	}
	algs := []jose.Alg{jose.PS256}
	if sc.AllowES256 {
		algs = append(algs, jose.ES256)
	}
	v, err := obsig.NewVerifier(obsig.VerifierOptions{
		Keys: a.clientKeys, Certificates: a.Validator, TrustAnchors: sc.TrustAnchors, Algorithms: algs, Clock: a.clock,
	})
	if err != nil {
		return fmt.Errorf("signatures: %w", err)
	}
	form := jose.DetachedEncoded
	if sc.ResponseForm == config.SignatureFormV313 {
		form = jose.DetachedUnencoded
	}
	tan := sc.ResponseTrustAnchor
	if tan == "" {
		tan = sc.TrustAnchors[0]
	}
	sig, err := obsig.New(obsig.Options{
		Verifier: v, Client: a.callerClient, Signer: a.Keys, Issuer: sc.Issuer, TrustAnchor: tan,
		ResponseForm: form, MaxBodyBytes: maxBody, Clock: a.clock, Logger: a.logger,
	})
	if err != nil {
		return fmt.Errorf("signatures: %w", err)
	}
	idem, err := idempotency.New(idempotency.Options{
		Store: a.Store, ClientID: callerClientID, Audit: a.Audit, Clock: a.clock, MaxBodyBytes: maxBody, Logger: a.logger,
	})
	if err != nil {
		return fmt.Errorf("idempotency: %w", err)
	}
	for i := range routes {
		r := &routes[i]
		switch {
		case isSignedPOST(r):
			r.Around = func(next http.Handler) http.Handler { return sig.Require(idem.Wrap(next)) }
		case isSignedAPI(r):
			// ext-authz mode still checks these (an external proxy forwards, unsigned).
			r.Around, r.AroundAnswerOnly = sig.Sign, true
		}
	}
	return nil
}

func isSignedPOST(r *gateway.Route) bool {
	return r.Method == http.MethodPost && slices.Contains(signedPOSTs, r.Method+" "+r.Pattern)
}

func isSignedAPI(r *gateway.Route) bool {
	for _, p := range signedAPIs {
		if r.Pattern == p || strings.HasPrefix(r.Pattern, strings.TrimSuffix(p, "/")+"/") {
			return true
		}
	}
	return false
}

// errNoCaller: a wrapped route ran without the gateway's authenticated caller (a wiring
// error; answered 401 by the middlewares, never a pass).
var errNoCaller = errors.New("no authenticated client in the request")

// callerClient is obsig's Client hook: the client the gateway authenticated.
func (a *App) callerClient(r *http.Request) (*client.Client, error) {
	id, err := callerClientID(r)
	if err != nil {
		return nil, err
	}
	return a.Clients.Get(r.Context(), id)
}

// callerClientID is idempotency's ClientID hook: keys are scoped per authenticated client.
func callerClientID(r *http.Request) (string, error) {
	c, ok := consent.CallerFrom(r.Context())
	if !ok {
		return "", errNoCaller
	}
	return c.ClientID, nil
}

// refuseUnsigned answers every request of a payment API while no message-signing key is
// configured: 503 UK.OBIE.UnexpectedError, nothing run.
func refuseUnsigned(http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		obie.Write(w, http.StatusServiceUnavailable, obie.NewError("503 ServiceUnavailable", obs.InteractionID(r.Context()),
			obie.CodeUnexpectedError, "message signing is not configured on this server", ""))
	})
}
