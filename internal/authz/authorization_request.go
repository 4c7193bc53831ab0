package authz

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/portcullis/portcullis/internal/client"
	"github.com/portcullis/portcullis/internal/oauth"
)

// Response modes (OAuth 2.0 Multiple Response Types §2.1, JARM §2.3).
const (
	ResponseModeQuery       = "query"
	ResponseModeFragment    = "fragment"
	ResponseModeJWT         = "jwt"
	ResponseModeQueryJWT    = "query.jwt"
	ResponseModeFragmentJWT = "fragment.jwt"
)

// ACR values (OB-07): SCA performed, or not.
const (
	ACRSCA = "urn:openbanking:psd2:sca"
	ACRCA  = "urn:openbanking:psd2:ca"
)

// Bounds on authorization request parameters. A nonce of 64 characters must work
// (FAPI1-AS-19, FAPI2-AS-30) and a state of over 1000 (FAPI2-AS-30 Note 4); longer values
// are refused, never truncated.
const (
	maxStateLen    = 2048
	maxNonceLen    = 512
	maxParamLen    = 2048 // redirect_uri, scope, acr_values, prompt, client_id, …
	maxClaimsBytes = 8 << 10
	maxIntentIDLen = 128 // OBIE ConsentId
)

// AuthorizationRequest is a validated authorization request (RFC 6749 §4.1.1, OIDC Core
// §3.1.2.1 and §3.3.2.1, RFC 7636, RFC 9101, RFC 9126): what the customer journey shows and
// what the code it ends with is bound to. Every field comes either from a verified request
// object or from the pushed (client-authenticated) form, never from both (FAPI1-AS-11).
type AuthorizationRequest struct {
	ClientID     string   `json:"client_id"`
	ResponseType string   `json:"response_type"` // "code" or "code id_token"
	ResponseMode string   `json:"response_mode"` // effective mode: query, fragment, query.jwt or fragment.jwt
	RedirectURI  string   `json:"redirect_uri"`
	Scope        []string `json:"scope,omitempty"`
	State        string   `json:"state,omitempty"`
	Nonce        string   `json:"nonce,omitempty"`

	CodeChallenge       string `json:"code_challenge,omitempty"`
	CodeChallengeMethod string `json:"code_challenge_method,omitempty"`

	// ACRValues are the acr values requested, most preferred first (acr_values or the
	// claims parameter's id_token.acr). EssentialACR reports that the claims parameter
	// marked acr essential: an acr outside ACRValues then fails the request (FAPI1-AS-22).
	ACRValues    []string `json:"acr_values,omitempty"`
	EssentialACR bool     `json:"essential_acr,omitempty"`
	// IntentID is the openbanking_intent_id claim requested in the claims parameter
	// (OB-02): the consent this authorization is for. Read only from a signed request
	// object.
	IntentID string `json:"openbanking_intent_id,omitempty"`
	// Claims is the claims parameter as sent (OIDC Core §5.5), for the ID token.
	Claims json.RawMessage `json:"claims,omitempty"`
	// MaxAge is max_age in seconds; nil when absent.
	MaxAge *int64   `json:"max_age,omitempty"`
	Prompt []string `json:"prompt,omitempty"`

	// Profile is the client's FAPI profile when the request was accepted.
	Profile string `json:"profile"`
	// Signed reports that the parameters came from a verified request object.
	Signed bool `json:"signed,omitempty"`
}

// OpenID reports whether the request asked for an ID token (scope openid).
func (a *AuthorizationRequest) OpenID() bool { return slices.Contains(a.Scope, "openid") }

// JARM reports whether the response is a JWT (JARM).
func (a *AuthorizationRequest) JARM() bool {
	return a.ResponseMode == ResponseModeQueryJWT || a.ResponseMode == ResponseModeFragmentJWT
}

// requestParams are the authorization request parameters as received, before validation:
// from a request object's claims or from a form.
type requestParams struct {
	ResponseType        string          `json:"response_type"`
	ClientID            string          `json:"client_id"`
	RedirectURI         string          `json:"redirect_uri"`
	Scope               string          `json:"scope"`
	State               string          `json:"state"`
	Nonce               string          `json:"nonce"`
	ResponseMode        string          `json:"response_mode"`
	CodeChallenge       string          `json:"code_challenge"`
	CodeChallengeMethod string          `json:"code_challenge_method"`
	ACRValues           string          `json:"acr_values"`
	Claims              json.RawMessage `json:"claims"`
	MaxAge              *int64          `json:"max_age"`
	Prompt              string          `json:"prompt"`
	// Request and RequestURI must not appear inside a request object or at PAR
	// (RFC 9101 §4, RFC 9126 §2.1); they are kept to refuse them.
	Request    *string `json:"request"`
	RequestURI *string `json:"request_uri"`
}

// paramsFromForm reads the parameters of a plain (unsigned) request. A parameter given
// as a JSON value in a request object is a string in a form; claims is JSON text.
func paramsFromForm(form url.Values) (requestParams, error) {
	p := requestParams{
		ResponseType: form.Get("response_type"), ClientID: form.Get("client_id"),
		RedirectURI: form.Get("redirect_uri"), Scope: form.Get("scope"), State: form.Get("state"),
		Nonce: form.Get("nonce"), ResponseMode: form.Get("response_mode"),
		CodeChallenge: form.Get("code_challenge"), CodeChallengeMethod: form.Get("code_challenge_method"),
		ACRValues: form.Get("acr_values"), Prompt: form.Get("prompt"),
	}
	if form.Has("request") {
		v := form.Get("request")
		p.Request = &v
	}
	if form.Has("request_uri") {
		v := form.Get("request_uri")
		p.RequestURI = &v
	}
	if c := form.Get("claims"); c != "" {
		if len(c) > maxClaimsBytes || !json.Valid([]byte(c)) {
			return p, oauth.InvalidRequest("claims is not a JSON object")
		}
		p.Claims = json.RawMessage(c)
	}
	if v := form.Get("max_age"); v != "" {
		var n int64
		if _, err := fmt.Sscan(v, &n); err != nil || fmt.Sprint(n) != v {
			return p, oauth.InvalidRequest("max_age is not a number")
		}
		p.MaxAge = &n
	}
	return p, nil
}

// requestClaims is the part of the claims parameter (OIDC Core §5.5) that changes what the
// server does: the acr and openbanking_intent_id requests, in id_token or userinfo.
type requestClaims struct {
	IDToken  map[string]*claimRequest `json:"id_token"`
	UserInfo map[string]*claimRequest `json:"userinfo"`
}

type claimRequest struct {
	Essential bool            `json:"essential"`
	Value     json.RawMessage `json:"value"`
	Values    json.RawMessage `json:"values"`
}

// validate checks p against c's registration and profile and returns the request.
// viaPAR reports that the parameters were pushed (RFC 9126); signed that they came from a
// verified request object. Errors are *oauth.Error values with the fapi.md §1 codes.
func validateAuthorizationRequest(c *client.Client, p requestParams, viaPAR, signed bool) (*AuthorizationRequest, error) {
	profile := c.EffectiveProfile()
	a := &AuthorizationRequest{ClientID: c.ID, Profile: profile, Signed: signed}

	if p.RequestURI != nil {
		return nil, oauth.InvalidRequest("request_uri is not allowed here")
	}
	if p.Request != nil {
		return nil, oauth.InvalidRequest("request is not allowed inside a request object")
	}
	for name, v := range map[string]string{
		"client_id": p.ClientID, "redirect_uri": p.RedirectURI, "scope": p.Scope,
		"response_type": p.ResponseType, "response_mode": p.ResponseMode, "acr_values": p.ACRValues,
		"prompt": p.Prompt, "code_challenge": p.CodeChallenge, "code_challenge_method": p.CodeChallengeMethod,
	} {
		if len(v) > maxParamLen || !utf8.ValidString(v) {
			return nil, oauth.InvalidRequest(name + " is too long or not UTF-8")
		}
	}
	if p.ClientID != "" && p.ClientID != c.ID {
		return nil, oauth.InvalidRequest("client_id does not match the authenticated client")
	}

	// redirect_uri: required, registered, exact match (FAPI1-AS-18, FAPI2-AS-23).
	if p.RedirectURI == "" {
		return nil, oauth.InvalidRequest("redirect_uri is missing")
	}
	if !slices.Contains(c.RedirectURIs, p.RedirectURI) {
		return nil, untrustedRedirect()
	}
	a.RedirectURI = p.RedirectURI

	// state and nonce are returned intact or refused, never truncated (FAPI1-AS-19).
	if len(p.State) > maxStateLen || !utf8.ValidString(p.State) {
		return nil, oauth.InvalidRequest("state is too long")
	}
	if len(p.Nonce) > maxNonceLen || !utf8.ValidString(p.Nonce) {
		return nil, oauth.InvalidRequest("nonce is too long")
	}
	a.State, a.Nonce = p.State, p.Nonce

	// response_type and response_mode per profile (FAPI1-AS-16/17, FAPI2-AS: code only).
	rt := normaliseResponseType(p.ResponseType)
	switch {
	case rt == "":
		return nil, oauth.InvalidRequest("response_type is missing")
	case rt != client.ResponseTypeCode && rt != client.ResponseTypeCodeIDToken:
		return nil, oauth.UnsupportedResponseType("the response type is not supported")
	case !slices.Contains(c.ResponseTypes, rt):
		return nil, oauth.UnsupportedResponseType("the client is not registered for this response type")
	case profile == client.ProfileFAPI2 && rt != client.ResponseTypeCode:
		return nil, oauth.UnsupportedResponseType("FAPI 2.0 clients use response_type code")
	}
	a.ResponseType = rt
	mode, err := responseMode(rt, p.ResponseMode, profile)
	if err != nil {
		return nil, err
	}
	a.ResponseMode = mode

	// scope: RFC 6749 §3.3 syntax; within the client's registration (invalid_scope).
	scope, err := oauth.ParseScope(p.Scope)
	if err != nil {
		return nil, oauth.InvalidScope("scope is malformed")
	}
	for _, s := range scope {
		if s != "openid" && !slices.Contains(c.Scope, s) {
			return nil, oauth.InvalidScope("the client is not registered for scope " + s)
		}
	}
	a.Scope = scope
	if rt == client.ResponseTypeCodeIDToken {
		if !a.OpenID() {
			return nil, oauth.InvalidRequest("response_type code id_token requires scope openid")
		}
		if a.Nonce == "" {
			return nil, oauth.InvalidRequest("nonce is required with response_type code id_token")
		}
	}

	// PKCE: S256 only; required with PAR (FAPI1-AS-31) and always under FAPI 2
	// (FAPI2-AS-22). Outside PAR under FAPI 1 it is used when sent.
	switch {
	case p.CodeChallenge == "" && p.CodeChallengeMethod != "":
		return nil, oauth.InvalidRequest("code_challenge_method without code_challenge")
	case p.CodeChallenge == "" && (viaPAR || profile == client.ProfileFAPI2):
		return nil, oauth.InvalidRequest("PKCE code_challenge with method S256 is required")
	case p.CodeChallenge != "" && p.CodeChallengeMethod != "S256":
		return nil, oauth.InvalidRequest("code_challenge_method must be S256")
	case p.CodeChallenge != "" && !validCodeChallenge(p.CodeChallenge):
		return nil, oauth.InvalidRequest("code_challenge is malformed")
	}
	a.CodeChallenge, a.CodeChallengeMethod = p.CodeChallenge, p.CodeChallengeMethod

	if p.MaxAge != nil && *p.MaxAge < 0 {
		return nil, oauth.InvalidRequest("max_age is negative")
	}
	a.MaxAge = p.MaxAge
	if p.Prompt != "" {
		a.Prompt = strings.Fields(p.Prompt)
		if slices.Contains(a.Prompt, "none") {
			// A FAPI journey always needs the customer's approval (FAPI1-AS-21).
			return nil, oauth.ConsentRequired("prompt=none cannot be satisfied: the customer must approve")
		}
	}
	if p.ACRValues != "" {
		a.ACRValues = strings.Fields(p.ACRValues)
	}
	if err := applyClaims(a, p.Claims, signed); err != nil {
		return nil, err
	}
	return a, nil
}

// errUntrustedRedirect marks a redirect_uri that is not registered for the client: the
// authorization endpoint shows an error page and never redirects to it (FAPI1-AS-18); PAR
// answers 400 invalid_request.
var errUntrustedRedirect = errors.New("authz: redirect_uri is not registered for the client")

func untrustedRedirect() *oauth.Error {
	return oauth.InvalidRequest("redirect_uri is not registered for the client").WithCause(errUntrustedRedirect)
}

// normaliseResponseType returns the response type with its space-separated values in the
// canonical order ("id_token code" is "code id_token"), or the input when it is not one of
// the two known sets.
func normaliseResponseType(rt string) string {
	f := strings.Fields(rt)
	slices.Sort(f)
	switch strings.Join(f, " ") {
	case "code":
		return client.ResponseTypeCode
	case "code id_token":
		return client.ResponseTypeCodeIDToken
	}
	return rt
}

// responseMode returns the effective response mode. Hybrid responses never use the query
// (FAPI1-AS-17): they default to fragment, and "jwt" means fragment.jwt. Under FAPI 1 a
// plain code response must be JARM (FAPI1-AS-16).
func responseMode(rt, mode, profile string) (string, error) {
	hybrid := rt == client.ResponseTypeCodeIDToken
	switch mode {
	case "":
		if hybrid {
			return ResponseModeFragment, nil
		}
		if profile == client.ProfileFAPI1 {
			return "", oauth.UnsupportedResponseType("FAPI 1.0 Advanced requires response_mode=jwt with response_type code")
		}
		return ResponseModeQuery, nil
	case ResponseModeQuery:
		if hybrid {
			return "", oauth.InvalidRequest("response_mode query is not allowed with response_type code id_token")
		}
		if profile == client.ProfileFAPI1 {
			return "", oauth.UnsupportedResponseType("FAPI 1.0 Advanced requires response_mode=jwt with response_type code")
		}
		return ResponseModeQuery, nil
	case ResponseModeFragment:
		if !hybrid && profile == client.ProfileFAPI1 {
			return "", oauth.UnsupportedResponseType("FAPI 1.0 Advanced requires response_mode=jwt with response_type code")
		}
		return ResponseModeFragment, nil
	case ResponseModeJWT:
		if hybrid {
			return ResponseModeFragmentJWT, nil
		}
		return ResponseModeQueryJWT, nil
	case ResponseModeQueryJWT:
		if hybrid {
			return "", oauth.InvalidRequest("response_mode query.jwt is not allowed with response_type code id_token")
		}
		return ResponseModeQueryJWT, nil
	case ResponseModeFragmentJWT:
		return ResponseModeFragmentJWT, nil
	}
	return "", oauth.InvalidRequest("response_mode is not supported")
}

// validCodeChallenge checks RFC 7636 §4.2 for S256: 43 characters of base64url.
func validCodeChallenge(s string) bool {
	if len(s) != 43 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// applyClaims reads the claims parameter: acr (essential or voluntary, value or values)
// and openbanking_intent_id, which is honoured only from a signed request object (OB-02).
func applyClaims(a *AuthorizationRequest, raw json.RawMessage, signed bool) error {
	if len(raw) == 0 || string(raw) == "null" {
		return nil
	}
	if len(raw) > maxClaimsBytes {
		return oauth.InvalidRequest("claims is too large")
	}
	var rc requestClaims
	if err := json.Unmarshal(raw, &rc); err != nil {
		return oauth.InvalidRequest("claims is not a valid claims request")
	}
	a.Claims = raw
	for _, m := range []map[string]*claimRequest{rc.IDToken, rc.UserInfo} {
		if cr := m["acr"]; cr != nil {
			values, err := claimValues(cr)
			if err != nil {
				return oauth.InvalidRequest("claims: acr: " + err.Error())
			}
			for _, v := range values {
				if !slices.Contains(a.ACRValues, v) {
					a.ACRValues = append(a.ACRValues, v)
				}
			}
			a.EssentialACR = a.EssentialACR || cr.Essential
		}
		if cr := m["openbanking_intent_id"]; cr != nil {
			values, err := claimValues(cr)
			if err != nil || len(values) != 1 {
				return oauth.InvalidRequest("claims: openbanking_intent_id must have one value")
			}
			v := values[0]
			if v == "" || len(v) > maxIntentIDLen {
				return oauth.InvalidRequest("claims: openbanking_intent_id is malformed")
			}
			if a.IntentID != "" && a.IntentID != v {
				return oauth.InvalidRequest("claims: openbanking_intent_id differs between id_token and userinfo")
			}
			a.IntentID = v
		}
	}
	if a.IntentID != "" && !signed {
		return oauth.InvalidRequest("openbanking_intent_id is accepted only in a signed request object")
	}
	if a.EssentialACR && len(a.ACRValues) == 0 {
		return oauth.InvalidRequest("claims: essential acr without a value")
	}
	return nil
}

// claimValues returns the requested values of an individual claim request: value (one
// string) or values (an array of strings); neither gives nil.
func claimValues(cr *claimRequest) ([]string, error) {
	switch {
	case len(cr.Value) > 0 && string(cr.Value) != "null":
		var v string
		if err := json.Unmarshal(cr.Value, &v); err != nil {
			return nil, errors.New("value must be a string")
		}
		return []string{v}, nil
	case len(cr.Values) > 0 && string(cr.Values) != "null":
		var vs []string
		if err := json.Unmarshal(cr.Values, &vs); err != nil {
			return nil, errors.New("values must be an array of strings")
		}
		return vs, nil
	}
	return nil, nil
}
