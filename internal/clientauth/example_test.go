package clientauth_test

import (
	"log/slog"
	"net/http"

	"github.com/portcullis/portcullis/internal/clientauth"
	"github.com/portcullis/portcullis/internal/mtls"
	"github.com/portcullis/portcullis/internal/oauth"
)

// A token endpoint authenticates the client from the parsed form and the request's
// certificate, and renders a failure through oauth.FromError: 401 invalid_client for an
// *clientauth.Error, 500 server_error for anything else.
func ExampleAuthenticator_Authenticate() {
	var auth *clientauth.Authenticator // from clientauth.New
	var log *slog.Logger

	token := func(w http.ResponseWriter, r *http.Request) {
		form, err := oauth.ParseForm(r, 64<<10)
		if err != nil {
			oauth.WriteError(w, oauth.AsError(err))
			return
		}
		id, idErr := mtls.ClientIdentity(r)
		chain, _ := mtls.PresentedChain(r) // only self_signed_tls_client_auth reads it
		res, err := auth.Authenticate(r.Context(), clientauth.Request{
			Form:                form,
			AuthorizationHeader: r.Header.Get("Authorization") != "",
			Identity:            id,
			IdentityErr:         idErr,
			PresentedChain:      chain,
			Endpoint:            clientauth.EndpointToken,
		})
		if err != nil {
			log.Info("client authentication failed", "err", err) // the cause: logs only
			oauth.WriteError(w, oauth.FromError(err))
			return
		}
		// res.Client is the authenticated client; res.Certificate the leaf to bind tokens to.
		_ = res
	}
	_ = token
}
