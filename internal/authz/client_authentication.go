package authz

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"

	"github.com/portcullis/portcullis/internal/audit"

	"github.com/portcullis/portcullis/internal/clientauth"
	"github.com/portcullis/portcullis/internal/mtls"
	"github.com/portcullis/portcullis/internal/obs"
)

// authenticate authenticates the client of r at endpoint ep (RFC 6749 §2.3, RFC 8705 §2,
// OIDC Core §9) with the form parameters and the certificate the caller presented, the same
// way at every endpoint. The decision is clientauth's; its *clientauth.Error becomes 401
// invalid_client through oauth.FromError, anything else 500. A request that did not pass
// through the mtls Extractor is a wiring error (500), never an anonymous client.
//
// Every authentication failure answers the same 401 invalid_client "client authentication
// failed" (clientauth.FailureDescription), so that no caller learns whether a client id
// exists or how it authenticates; what failed is recorded as an
// audit.TypeClientAuthenticationFailed event (and in the request's log line).
func (s *Server) authenticate(r *http.Request, form url.Values, ep clientauth.Endpoint) (*clientauth.Result, error) {
	chain, chainErr := mtls.PresentedChain(r)
	if errors.Is(chainErr, mtls.ErrNoExtractor) {
		return nil, fmt.Errorf("authz: %w", chainErr)
	}
	id, idErr := mtls.ClientIdentity(r)
	_, authzHeader := r.Header["Authorization"]
	res, err := s.auth.Authenticate(r.Context(), clientauth.Request{
		Form:                form,
		AuthorizationHeader: authzHeader,
		Identity:            id,
		IdentityErr:         idErr,
		PresentedChain:      chain,
		Endpoint:            ep,
	})
	s.countClientAuth(ep, form, authzHeader, res, err)
	var ce *clientauth.Error
	if errors.As(err, &ce) {
		s.audit.Record(r.Context(), audit.Event{
			Type:     audit.TypeClientAuthenticationFailed,
			ClientID: ce.ClientID,
			Data: map[string]any{
				"endpoint":    string(ep),
				"reason":      strings.TrimPrefix(ce.Reason.Error(), "clientauth: "),
				"detail":      ce.Detail,
				"remote_addr": r.RemoteAddr,
			},
		})
	}
	if err != nil {
		return nil, err
	}
	if res == nil || res.Client == nil {
		return nil, errors.New("authz: client authentication returned no client")
	}
	obs.Annotate(r.Context(), slog.String("client_id", res.Client.ID), slog.String("client_auth_method", res.Method))
	return res, nil
}

// countClientAuth records one client authentication: the method that authenticated the
// client, or for a failure the one the request shows (client_assertion, the Authorization
// header) or "unknown"; the outcome "ok" or the RFC 6749 error code of the failure.
func (s *Server) countClientAuth(ep clientauth.Endpoint, form url.Values, authzHeader bool, res *clientauth.Result, err error) {
	method, outcome := methodUnknown, outcomeOK
	switch {
	case err == nil && res != nil && res.Client != nil:
		method = res.Method
	case err == nil:
		outcome = "server_error"
	default:
		outcome = errorOutcome(err)
		if form.Has("client_assertion") {
			method = "private_key_jwt"
		} else if authzHeader {
			method = "client_secret_basic"
		}
	}
	if !knownMethod(method) {
		method = methodUnknown
	}
	s.metrics.clientAuth.WithLabelValues(string(ep), method, outcome).Inc()
}

// knownMethod bounds the method label to the token_endpoint_auth_methods Portcullis knows.
func knownMethod(m string) bool {
	switch m {
	case "tls_client_auth", "self_signed_tls_client_auth", "private_key_jwt", "client_secret_basic", "none", methodUnknown:
		return true
	}
	return false
}
