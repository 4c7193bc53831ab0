package authz

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/portcullis/portcullis/internal/client"
	"github.com/portcullis/portcullis/internal/jose"
	"github.com/portcullis/portcullis/internal/oauth"
	"github.com/portcullis/portcullis/internal/store"
	"github.com/portcullis/portcullis/internal/token"
)

// PathAuthorize is the authorization endpoint (RFC 6749 §3.1), served on the browser-facing
// listener.
const PathAuthorize = "/authorize"

// maxAuthorizeParams bounds the parameters of an authorization request URL or form.
const maxAuthorizeParams = 64

// AuthorizeError is a refused authorization request. When Redirect is set the client and
// its redirect_uri are trusted and the browser is sent there with the error (303);
// otherwise the customer sees an error page (400) and the client learns nothing
// (FAPI1-AS-18). Err is the protocol error (an *oauth.Error with the fapi.md §1 code).
type AuthorizeError struct {
	Err      error
	Redirect string
}

func (e *AuthorizeError) Error() string {
	return "authz: authorization request refused: " + e.Err.Error()
}
func (e *AuthorizeError) Unwrap() error { return e.Err }

// pageError is a refusal shown on an error page.
func pageError(err error) *AuthorizeError { return &AuthorizeError{Err: err} }

// Begin reads an authorization request (the query of a GET or the form of a POST, RFC 6749
// §3.1) and returns it validated, ready for the customer journey. In order:
//
//  1. no parameter repeated, at most 64 (invalid_request, error page);
//  2. client_id names a registered client with the authorization_code grant (error page);
//  3. request_uri (PAR): issued by this server to this client, not expired, not used
//     (invalid_request_uri, error page; FAPI1-AS-32). It is only read here: it is consumed
//     when the journey completes, so a browser prefetch does not burn it;
//  4. otherwise request (by value): only for FAPI 1.0 clients (FAPI 2.0 requires PAR,
//     FAPI2-AS-21); a request object that does not verify is an error page, one that
//     verifies but breaks a rule is redirected with the error when its redirect_uri is
//     registered (fapi.md §1);
//  5. otherwise plain parameters: refused (FAPI 1.0 needs a request object, FAPI 2.0 PAR).
//
// Parameters outside the request object or the pushed request are ignored, never merged
// (FAPI1-AS-11, FAPI1-AS-34).
func (s *Server) Begin(ctx context.Context, params url.Values) (*Pending, error) {
	if len(params) > maxAuthorizeParams {
		return nil, pageError(oauth.InvalidRequest("too many parameters"))
	}
	for k, v := range params {
		if len(v) > 1 {
			return nil, pageError(oauth.InvalidRequest("parameter " + k + " sent more than once"))
		}
	}
	id := params.Get("client_id")
	if id == "" {
		return nil, pageError(oauth.InvalidRequest("client_id is missing"))
	}
	c, err := s.clients.Get(ctx, id)
	if err != nil {
		if errors.Is(err, client.ErrNotFound) {
			return nil, pageError(oauth.InvalidRequest("unknown client"))
		}
		return nil, err
	}
	if !c.HasGrantType(client.GrantAuthorizationCode) {
		return nil, pageError(oauth.UnauthorizedClient("the client is not registered for the authorization_code grant"))
	}
	switch {
	case params.Has("request_uri"):
		return s.beginPushed(ctx, c, params.Get("request_uri"))
	case params.Has("request"):
		if c.EffectiveProfile() == client.ProfileFAPI2 {
			return nil, pageError(oauth.InvalidRequest("FAPI 2.0 clients must push their requests (PAR)"))
		}
		return s.beginByValue(ctx, c, params.Get("request"))
	case c.EffectiveProfile() == client.ProfileFAPI2:
		return nil, pageError(oauth.InvalidRequest("FAPI 2.0 clients must push their requests (PAR)"))
	default:
		return nil, pageError(oauth.InvalidRequest("a signed request object is required"))
	}
}

// beginPushed loads a pushed request (RFC 9126 §4).
func (s *Server) beginPushed(ctx context.Context, c *client.Client, uri string) (*Pending, error) {
	if !strings.HasPrefix(uri, RequestURIPrefix) || len(uri) > 256 {
		return nil, pageError(oauth.InvalidRequestURI("the request_uri was not issued by this server"))
	}
	hash := store.HashSecret(uri)
	pr, err := s.pushed.GetPushedRequest(ctx, hash)
	switch {
	case journeyRecordGone(err):
		return nil, pageError(oauth.InvalidRequestURI("the request_uri is unknown, expired or already used").WithCause(err))
	case err != nil:
		return nil, err
	case pr.ClientID != c.ID:
		return nil, pageError(oauth.InvalidRequestURI("the request_uri was issued to another client"))
	}
	var ar AuthorizationRequest
	if err := json.Unmarshal(pr.Data, &ar); err != nil {
		return nil, fmt.Errorf("authz: stored pushed request: %w", err)
	}
	if ar.ClientID != c.ID || ar.Profile != c.EffectiveProfile() {
		return nil, pageError(oauth.InvalidRequestURI("the client's registration changed since the request was pushed"))
	}
	return &Pending{Request: &ar, RequestURIHash: hash, ExpiresAt: pr.ExpiresAt}, nil
}

// beginByValue verifies a request object sent to the authorization endpoint (FAPI 1.0).
func (s *Server) beginByValue(ctx context.Context, c *client.Client, raw string) (*Pending, error) {
	p, err := s.verifyRequestObject(ctx, c, raw)
	if err != nil {
		return nil, pageError(err)
	}
	ar, err := validateAuthorizationRequest(c, p, false, true)
	if err != nil {
		if errors.Is(err, errUntrustedRedirect) || p.RedirectURI == "" {
			return nil, pageError(err)
		}
		// The request object verified and names a registered redirect_uri: the client
		// learns why (fapi.md §1), in the mode it asked for when that mode is usable.
		partial := &AuthorizationRequest{ClientID: c.ID, RedirectURI: p.RedirectURI, State: p.State,
			ResponseMode: fallbackMode(p.ResponseType, p.ResponseMode)}
		to, rerr := s.redirectURL(partial, errorParams(err), jose.Alg(c.AuthorizationSignedResponseAlg))
		if rerr != nil {
			return nil, pageError(err)
		}
		return nil, &AuthorizeError{Err: err, Redirect: to}
	}
	if err := s.checkSigningAlgs(c, ar); err != nil {
		return nil, pageError(err)
	}
	if err := s.checkIntent(ctx, c, ar); err != nil {
		var oe *oauth.Error
		if !errors.As(err, &oe) {
			return nil, err
		}
		return nil, pageError(err)
	}
	return s.pend(ctx, ar)
}

// pend stores a request received by value as a pending journey, so that any node can
// continue it and its completion is single use like a pushed request's. The record's key
// is the hash of a fresh secret that nobody is ever given.
func (s *Server) pend(ctx context.Context, ar *AuthorizationRequest) (*Pending, error) {
	data, err := json.Marshal(ar)
	if err != nil {
		return nil, fmt.Errorf("authz: encoding pending request: %w", err)
	}
	secret, err := token.NewSecret(requestURIEntropy)
	if err != nil {
		return nil, err
	}
	hash := store.HashSecret("urn:portcullis:journey:" + secret)
	now := s.now()
	if err := s.pushed.PutPushedRequest(ctx, store.PushedRequest{
		Hash: hash, ClientID: ar.ClientID, Data: data, CreatedAt: now, ExpiresAt: now.Add(s.parLifetime),
	}); err != nil {
		return nil, fmt.Errorf("authz: storing pending request: %w", err)
	}
	return &Pending{Request: ar, RequestURIHash: hash}, nil
}

// ErrJourneyGone: the pending authorization request is unknown, expired, or already
// completed (approved or denied once).
var ErrJourneyGone = errors.New("authz: authorization request unknown, expired or completed")

// journeyRecordGone reports whether the store refused a pushed or pending request record as
// unknown, expired or already consumed.
func journeyRecordGone(err error) bool {
	return errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrExpired) || errors.Is(err, store.ErrConsumed)
}

// Journey returns the pending authorization request named by id (Pending.RequestURIHash),
// for the customer's pages on any node. It returns an error wrapping ErrJourneyGone when the
// request may no longer be used.
func (s *Server) Journey(ctx context.Context, id string) (*Pending, error) {
	pr, err := s.pushed.GetPushedRequest(ctx, id)
	switch {
	case journeyRecordGone(err):
		return nil, fmt.Errorf("%w: %w", ErrJourneyGone, err)
	case err != nil:
		return nil, err
	}
	var ar AuthorizationRequest
	if err := json.Unmarshal(pr.Data, &ar); err != nil {
		return nil, fmt.Errorf("authz: stored pending request: %w", err)
	}
	return &Pending{Request: &ar, RequestURIHash: id, ExpiresAt: pr.ExpiresAt}, nil
}

// fallbackMode is the response mode for an error about a request whose own mode may be the
// problem: JARM when asked for, the fragment for any response type that returns a token
// from the authorization endpoint (hybrid, and implicit: RFC 6749 §4.2.2.1; OAuth 2.0
// Multiple Response Types §5), else the query.
func fallbackMode(rt, mode string) string {
	hybrid := strings.Contains(rt, "token") // id_token, token
	switch {
	case strings.HasSuffix(mode, "jwt") && hybrid:
		return ResponseModeFragmentJWT
	case strings.HasSuffix(mode, "jwt"):
		return ResponseModeQueryJWT
	case hybrid || mode == ResponseModeFragment:
		return ResponseModeFragment
	}
	return ResponseModeQuery
}

// maxAuthorizeForm bounds a POSTed authorization request (a request object by value fits).
const maxAuthorizeForm = 64 << 10

// AuthorizeHandler is the authorization endpoint (RFC 6749 §3.1: GET and POST /authorize)
// for the browser-facing listener, which asks for no client certificate. A request Begin
// accepts is handed to the customer's pages with start(w, r, journeyID) (web.Pages.Start);
// one Begin refuses is answered with a 303 to the client (the refusal's Redirect) or with
// refuse(w, r, status, detail) — the error page, never a redirect (web.Pages.Refuse). detail
// is the OAuth error code and description, safe to show to the app's developer.
//
// User-agent redirects are 303 (FAPI2-AS-27); no CORS header is ever set (FAPI2-AS-31).
func (s *Server) AuthorizeHandler(
	start func(w http.ResponseWriter, r *http.Request, journeyID string),
	refuse func(w http.ResponseWriter, r *http.Request, status int, detail string),
) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var params url.Values
		switch r.Method {
		case http.MethodGet, http.MethodHead:
			params = r.URL.Query()
		case http.MethodPost:
			form, err := oauth.ParseForm(r, maxAuthorizeForm)
			if err != nil {
				e := oauth.AsError(err)
				refuse(w, r, e.Status, e.Code+": "+e.Description)
				return
			}
			params = form
		default:
			w.Header().Set("Allow", "GET, HEAD, POST")
			refuse(w, r, http.StatusMethodNotAllowed, "the authorization endpoint answers GET and POST")
			return
		}
		p, err := s.Begin(r.Context(), params)
		var ae *AuthorizeError
		switch {
		case err == nil:
			start(w, r, p.RequestURIHash)
		case errors.As(err, &ae) && ae.Redirect != "":
			s.log.InfoContext(r.Context(), "authorization request refused", "error", ae.Err.Error(), "redirect", trimForLog(ae.Redirect))
			w.Header().Set("Cache-Control", "no-store")
			w.Header().Set("Referrer-Policy", "no-referrer")
			http.Redirect(w, r, ae.Redirect, http.StatusSeeOther)
		case errors.As(err, &ae):
			e := oauth.AsError(ae.Err)
			s.log.InfoContext(r.Context(), "authorization request refused", "error", ae.Err.Error())
			refuse(w, r, http.StatusBadRequest, e.Code+": "+oauth.SanitizeDescription(e.Description))
		default:
			s.log.ErrorContext(r.Context(), "authorization request failed", "error", err.Error())
			refuse(w, r, http.StatusServiceUnavailable, "temporarily_unavailable: the request could not be processed, try again")
		}
	})
}

// RegisterBrowser mounts on mux (the browser-facing listener's) what a customer's browser
// and a TPP without its certificate reach: the authorization endpoint through h (from
// [Server.AuthorizeHandler]), the discovery documents and /jwks.
func (s *Server) RegisterBrowser(mux *http.ServeMux, h http.Handler) {
	b := s.basePath
	s.route(mux, http.MethodGet, b+PathOpenIDConfiguration, s.handleDiscovery)
	s.route(mux, http.MethodGet, PathOAuthMetadata+b, s.handleDiscovery)
	s.route(mux, http.MethodGet, b+PathJWKS, s.handleJWKS)
	mux.Handle(b+PathAuthorize, h)
}
