package authz

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/portcullis/portcullis/internal/jose"
	"github.com/portcullis/portcullis/internal/oauth"
)

// jarmLifetime is exp − iat of a JARM response (JARM §4.1 recommends at most 10 minutes).
const jarmLifetime = 5 * time.Minute

// JWTSigner signs the JWTs the authorization endpoint returns (ID tokens, JARM responses);
// *token.Issuer implements it. alg empty means the server's default algorithm.
type JWTSigner interface {
	SignJWT(claims any, alg jose.Alg, typ string) (string, error)
}

// jarmClaims is a JARM response (JARM §2.1): iss, aud (the client), exp, and the
// authorization response parameters.
type jarmClaims struct {
	Iss              string `json:"iss"`
	Aud              string `json:"aud"`
	Exp              int64  `json:"exp"`
	Iat              int64  `json:"iat"`
	Code             string `json:"code,omitempty"`
	State            string `json:"state,omitempty"`
	IDToken          string `json:"id_token,omitempty"`
	Error            string `json:"error,omitempty"`
	ErrorDescription string `json:"error_description,omitempty"`
}

// redirectURL returns where the customer's browser is sent (303) with the authorization
// response params (code, id_token, or error and error_description) for request ar:
//
//   - state when the request had one, and never otherwise (FAPI1-AS-19);
//   - iss, the issuer identifier, in every response (RFC 9207, FAPI2-AS-24) — in a JARM
//     response only inside the JWT (FAPI2-MS-02);
//   - in the query or the fragment per the response mode; hybrid responses never in the
//     query (FAPI1-AS-17, FAPI1-AS-42);
//   - JARM (query.jwt, fragment.jwt): one parameter "response", a JWT signed with the
//     client's authorization_signed_response_alg or the server default, aud = client_id,
//     exp ≤ 10 minutes (FAPI1-AS-41).
func (s *Server) redirectURL(ar *AuthorizationRequest, params url.Values, jarmAlg jose.Alg) (string, error) {
	u, err := url.Parse(ar.RedirectURI)
	if err != nil || u.Fragment != "" {
		return "", fmt.Errorf("authz: registered redirect_uri %q is not usable", ar.RedirectURI)
	}
	out := url.Values{}
	if ar.JARM() {
		if s.signer == nil {
			return "", errors.New("authz: JARM requested but no JWT signer is configured")
		}
		now := s.now()
		jc := jarmClaims{
			Iss: s.issuer, Aud: ar.ClientID, Iat: now.Unix(), Exp: now.Add(jarmLifetime).Unix(),
			Code: params.Get("code"), State: ar.State, IDToken: params.Get("id_token"),
			Error: params.Get("error"), ErrorDescription: params.Get("error_description"),
		}
		jwt, err := s.signer.SignJWT(jc, jarmAlg, "JWT")
		if err != nil {
			return "", fmt.Errorf("authz: signing the JARM response: %w", err)
		}
		out.Set("response", jwt)
	} else {
		for k, v := range params {
			out[k] = v
		}
		if ar.State != "" {
			out.Set("state", ar.State)
		}
		out.Set("iss", s.issuer)
	}
	switch ar.ResponseMode {
	case ResponseModeFragment, ResponseModeFragmentJWT:
		u.Fragment = ""
		return u.String() + "#" + out.Encode(), nil
	default:
		q := u.Query()
		for k, v := range out {
			q[k] = v
		}
		u.RawQuery = q.Encode()
		return u.String(), nil
	}
}

// errorParams are the parameters of an error response (RFC 6749 §4.1.2.1) for err: its
// code and its RFC 6749-charset description. Errors that are not protocol errors become
// server_error without detail.
func errorParams(err error) url.Values {
	e := oauth.FromError(err)
	p := url.Values{"error": {e.Code}}
	if d := oauth.SanitizeDescription(e.Description); d != "" {
		p.Set("error_description", d)
	}
	return p
}

// trimForLog shortens a URL for a log line: scheme, host and path, without the response.
func trimForLog(redirect string) string {
	if i := strings.IndexAny(redirect, "?#"); i >= 0 {
		return redirect[:i]
	}
	return redirect
}
