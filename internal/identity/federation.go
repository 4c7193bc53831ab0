package identity

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/portcullis/portcullis/internal/clock"
	"github.com/portcullis/portcullis/internal/jose"
)

// Bounds on what a federated login reads from the provider and the callback.
const (
	// MaxFederationDocument bounds the discovery document and the token response, in bytes.
	MaxFederationDocument = 64 << 10
	// MaxPendingLogin bounds the pending value [Federated.Begin] returns, in bytes.
	MaxPendingLogin = 512
	maxCodeLen      = 2048
	maxAMRValues    = 16
	// federationSkew is the clock skew allowed on exp, iat and auth_time.
	federationSkew = time.Minute
	// discoveryTTL is how long a fetched discovery document is used.
	discoveryTTL = time.Hour
	// pendingLifetime bounds the time between Begin and Finish.
	pendingLifetime = 15 * time.Minute
)

// The kinds of [*FederationError], tested with errors.Is.
var (
	// ErrFederationRejected: the provider's answer was checked and refused (state, issuer,
	// code, ID token signature or claims, customer claim). The login must start again.
	ErrFederationRejected = errors.New("identity: federated login refused")
	// ErrFederationDenied: the provider ended the login with access_denied (the customer
	// cancelled or was refused there).
	ErrFederationDenied = errors.New("identity: federated login denied at the identity provider")
	// ErrFederationUnavailable: the provider could not be asked (discovery, JWKS or token
	// endpoint unreachable, a 5xx, a malformed document): "could not check".
	ErrFederationUnavailable = errors.New("identity: identity provider unavailable")
)

// FederationError is a failed federated login: Kind is one of ErrFederationRejected,
// ErrFederationDenied or ErrFederationUnavailable, Reason says which check failed (it never
// holds a code, token or secret).
type FederationError struct {
	Kind   error
	Reason string
}

func (e *FederationError) Error() string { return e.Kind.Error() + ": " + e.Reason }

// Unwrap returns Kind.
func (e *FederationError) Unwrap() error { return e.Kind }

func rejected(format string, args ...any) error {
	return &FederationError{Kind: ErrFederationRejected, Reason: fmt.Sprintf(format, args...)}
}

func unavailable(format string, args ...any) error {
	return &FederationError{Kind: ErrFederationUnavailable, Reason: fmt.Sprintf(format, args...)}
}

// FederationOptions configure [NewFederated].
type FederationOptions struct {
	// Issuer is the provider's issuer identifier (an https URL); discovery is read from
	// Issuer + "/.well-known/openid-configuration" and the ID token's iss must equal it.
	Issuer string
	// ClientID is Portcullis's client_id at the provider; the ID token's aud must hold it.
	ClientID string
	// ClientSecret authenticates at the token endpoint with client_secret_basic. Exactly
	// one of ClientSecret and ClientKey is set.
	ClientSecret string
	// ClientKey authenticates with private_key_jwt (RFC 7523; an assertion of 60 s with a
	// fresh jti, aud the issuer).
	ClientKey *jose.SigningKey
	// RedirectURI is the absolute callback URL registered at the provider.
	RedirectURI string
	// CustomerClaim names the ID token claim (a string) whose value is the customer id.
	// Empty means "sub".
	CustomerClaim string
	// ACRMap maps the provider's acr values to [ACRSCA] or [ACRCA]. An acr not in the map
	// counts as [ACRCA] unless amr shows SCA (see [SCAFromAMR]).
	ACRMap map[string]string
	// Scopes are requested besides "openid" (always requested).
	Scopes []string
	// Remote fetches the discovery document and the provider's JWK Set under the jwks_uri
	// rules (https, no private address unless its options allow it, size and time bounds);
	// its [jose.RemoteJWKS.Client] calls the token endpoint. Required.
	Remote *jose.RemoteJWKS
	// Clock reads exp, iat and auth_time. Nil means clock.Real.
	Clock clock.Clock
}

// Federated authenticates customers at the bank's own OpenID Connect provider as a relying
// party: authorization code flow with PKCE (S256), state and nonce, the ID token verified
// (signature with the provider's JWK Set; iss, aud, azp, exp, iat, nonce). It keeps no state
// between [Federated.Begin] and [Federated.Finish]: what Finish needs travels in the pending
// value the pages seal into their session, so the callback can land on any node. Safe for
// concurrent use.
type Federated struct {
	o     FederationOptions
	clk   clock.Clock
	claim string
	http  *http.Client
	// signer signs the private_key_jwt assertions with ClientKey; nil with ClientSecret.
	signer *jose.KeyStore

	mu      sync.Mutex
	disc    *discovery
	discExp time.Time
}

// discovery is what Federated reads of the provider's metadata.
type discovery struct {
	Issuer                string   `json:"issuer"`
	AuthorizationEndpoint string   `json:"authorization_endpoint"`
	TokenEndpoint         string   `json:"token_endpoint"`
	JWKSURI               string   `json:"jwks_uri"`
	CodeChallengeMethods  []string `json:"code_challenge_methods_supported"`
	// ISSParameter: the provider sends iss with every authorization response (RFC 9207).
	ISSParameter bool `json:"authorization_response_iss_parameter_supported"`
}

// NewFederated checks the options and returns the authenticator. It fetches nothing: the
// provider's discovery document is read at the first login (and again after an hour).
func NewFederated(o FederationOptions) (*Federated, error) {
	switch {
	case o.Remote == nil:
		return nil, errors.New("identity: NewFederated needs Remote")
	case o.ClientID == "":
		return nil, errors.New("identity: federation client_id is required")
	case (o.ClientSecret == "") == (o.ClientKey == nil):
		return nil, errors.New("identity: federation needs exactly one of client_secret and a private_key_jwt key")
	}
	if err := checkHTTPS(o.Issuer); err != nil {
		return nil, fmt.Errorf("identity: federation issuer: %w", err)
	}
	if err := checkHTTPS(o.RedirectURI); err != nil {
		return nil, fmt.Errorf("identity: federation redirect_uri: %w", err)
	}
	for k, v := range o.ACRMap {
		if v != ACRSCA && v != ACRCA {
			return nil, fmt.Errorf("identity: federation acr_map %q: want %s or %s", k, ACRSCA, ACRCA)
		}
	}
	clk := o.Clock
	if clk == nil {
		clk = clock.Real{}
	}
	claim := o.CustomerClaim
	if claim == "" {
		claim = "sub"
	}
	f := &Federated{o: o, clk: clk, claim: claim, http: o.Remote.Client()}
	if o.ClientKey != nil {
		ks, err := jose.NewKeyStore(jose.KeyStoreOptions{Clock: clk}, o.ClientKey)
		if err != nil {
			return nil, fmt.Errorf("identity: federation client key: %w", err)
		}
		f.signer = ks
	}
	return f, nil
}

func checkHTTPS(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "https" || u.Host == "" || u.User != nil || u.Fragment != "" {
		return errors.New("must be an absolute https URL")
	}
	return nil
}

// discover returns the provider's metadata, fetched at most once per discoveryTTL.
func (f *Federated) discover(ctx context.Context) (*discovery, error) {
	now := f.clk.Now()
	f.mu.Lock()
	if f.disc != nil && now.Before(f.discExp) {
		d := f.disc
		f.mu.Unlock()
		return d, nil
	}
	f.mu.Unlock()
	body, err := f.o.Remote.FetchJSON(ctx, strings.TrimSuffix(f.o.Issuer, "/")+"/.well-known/openid-configuration", MaxFederationDocument)
	if err != nil {
		return nil, unavailable("discovery: %v", err)
	}
	var d discovery
	if err := json.Unmarshal(body, &d); err != nil {
		return nil, unavailable("discovery: not a JSON metadata document")
	}
	if d.Issuer != f.o.Issuer {
		return nil, unavailable("discovery: issuer %q is not the configured issuer", d.Issuer)
	}
	for name, v := range map[string]string{"authorization_endpoint": d.AuthorizationEndpoint, "token_endpoint": d.TokenEndpoint, "jwks_uri": d.JWKSURI} {
		if checkHTTPS(v) != nil {
			return nil, unavailable("discovery: %s must be an https URL", name)
		}
	}
	if d.CodeChallengeMethods != nil && !slices.Contains(d.CodeChallengeMethods, "S256") {
		return nil, unavailable("discovery: the provider does not support PKCE S256")
	}
	f.mu.Lock()
	f.disc, f.discExp = &d, now.Add(discoveryTTL)
	f.mu.Unlock()
	return &d, nil
}

// pending is what Begin hands the pages to keep until Finish: state, nonce, the PKCE
// verifier and when the login began.
type pending struct {
	State    string `json:"s"`
	Nonce    string `json:"n"`
	Verifier string `json:"v"`
	Begun    int64  `json:"t"`
}

func random256() string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic("identity: crypto/rand failed: " + err.Error())
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// Begin starts a federated login. It returns the provider's authorization URL to send the
// browser to (response_type code, client_id, redirect_uri, scope, state, nonce,
// code_challenge with S256), and pending: a secret value of at most [MaxPendingLogin] bytes
// that the caller keeps confidential and unmodifiable (the pages seal it into their
// session) and passes to [Federated.Finish]. Errors wrap ErrFederationUnavailable when the
// provider's metadata cannot be read.
func (f *Federated) Begin(ctx context.Context) (authURL, pendingLogin string, err error) {
	d, err := f.discover(ctx)
	if err != nil {
		return "", "", err
	}
	p := pending{State: random256(), Nonce: random256(), Verifier: random256(), Begun: f.clk.Now().Unix()}
	challenge := sha256.Sum256([]byte(p.Verifier))
	u, err := url.Parse(d.AuthorizationEndpoint)
	if err != nil {
		return "", "", unavailable("discovery: authorization_endpoint: %v", err)
	}
	q := u.Query()
	q.Set("response_type", "code")
	q.Set("client_id", f.o.ClientID)
	q.Set("redirect_uri", f.o.RedirectURI)
	q.Set("scope", strings.Join(append([]string{"openid"}, slices.DeleteFunc(slices.Clone(f.o.Scopes), func(s string) bool { return s == "openid" })...), " "))
	q.Set("state", p.State)
	q.Set("nonce", p.Nonce)
	q.Set("code_challenge", base64.RawURLEncoding.EncodeToString(challenge[:]))
	q.Set("code_challenge_method", "S256")
	u.RawQuery = q.Encode()
	b, _ := json.Marshal(p)
	return u.String(), string(b), nil
}

// Finish completes a federated login with the query of the provider's redirect to
// RedirectURI and the pending value of its Begin. In order: the state must match (a
// [*FederationError] wrapping ErrFederationRejected otherwise, before anything else is
// read); an iss parameter (RFC 9207) must be the issuer, and is required when the
// provider's metadata says it sends one; an error response is ErrFederationDenied for
// access_denied, ErrFederationRejected otherwise; the code is exchanged at the
// token endpoint with the PKCE verifier and the client's authentication; the ID token is
// verified — signature (PS256, ES256 or EdDSA) with a key of the provider's jwks_uri, iss,
// aud holding ClientID (and azp equal to it when aud has several values), exp and iat with
// one minute of skew, nonce — and the customer claim must be a non-empty string of at most
// [MaxUsernameLen] bytes. Failures to reach the provider or fetch its keys wrap
// ErrFederationUnavailable.
//
// The Authentication's ACR is [ACRSCA] when ACRMap maps the token's acr to it or its amr
// shows SCA ([SCAFromAMR]), [ACRCA] otherwise; AMR is the token's amr; AuthTime is its
// auth_time, or now without one.
func (f *Federated) Finish(ctx context.Context, pendingLogin string, callback url.Values) (Authentication, error) {
	var p pending
	if len(pendingLogin) > MaxPendingLogin || json.Unmarshal([]byte(pendingLogin), &p) != nil || p.State == "" || p.Nonce == "" || p.Verifier == "" {
		return Authentication{}, rejected("no pending login")
	}
	now := f.clk.Now()
	if now.After(time.Unix(p.Begun, 0).Add(pendingLifetime)) {
		return Authentication{}, rejected("the pending login expired")
	}
	state := callback["state"]
	if len(state) != 1 || subtle.ConstantTimeCompare([]byte(state[0]), []byte(p.State)) != 1 {
		return Authentication{}, rejected("state does not match")
	}
	d, err := f.discover(ctx)
	if err != nil {
		return Authentication{}, err
	}
	if iss := callback["iss"]; len(iss) > 1 || (len(iss) == 1 && iss[0] != f.o.Issuer) || (len(iss) == 0 && d.ISSParameter) {
		return Authentication{}, rejected("iss of the response is missing or not the issuer")
	}
	if e := callback["error"]; len(e) > 0 {
		if len(e) == 1 && e[0] == "access_denied" {
			return Authentication{}, &FederationError{Kind: ErrFederationDenied, Reason: "access_denied"}
		}
		return Authentication{}, rejected("the provider answered with an error")
	}
	code := callback["code"]
	if len(code) != 1 || code[0] == "" || len(code[0]) > maxCodeLen {
		return Authentication{}, rejected("no single code in the response")
	}
	idToken, err := f.exchange(ctx, d, code[0], p.Verifier)
	if err != nil {
		return Authentication{}, err
	}
	return f.verifyIDToken(ctx, d, idToken, p.Nonce)
}

// exchange redeems code at the token endpoint and returns the ID token.
func (f *Federated) exchange(ctx context.Context, d *discovery, code, verifier string) (string, error) {
	form := url.Values{
		"grant_type": {"authorization_code"}, "code": {code},
		"redirect_uri": {f.o.RedirectURI}, "code_verifier": {verifier},
	}
	if f.signer != nil {
		assertion, err := f.clientAssertion(d)
		if err != nil {
			return "", err
		}
		form.Set("client_id", f.o.ClientID)
		form.Set("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
		form.Set("client_assertion", assertion)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, d.TokenEndpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return "", unavailable("token request: %v", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	if f.o.ClientSecret != "" {
		req.SetBasicAuth(url.QueryEscape(f.o.ClientID), url.QueryEscape(f.o.ClientSecret))
	}
	resp, err := f.http.Do(req)
	if err != nil {
		return "", unavailable("token endpoint: %v", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, MaxFederationDocument+1))
	if err != nil {
		return "", unavailable("token endpoint: reading the response: %v", err)
	}
	if len(body) > MaxFederationDocument {
		return "", unavailable("token endpoint: response over %d bytes", MaxFederationDocument)
	}
	var tr struct {
		IDToken string `json:"id_token"`
		Error   string `json:"error"`
	}
	_ = json.Unmarshal(body, &tr)
	switch {
	case resp.StatusCode == http.StatusOK && tr.IDToken != "":
		return tr.IDToken, nil
	case resp.StatusCode == http.StatusOK:
		return "", rejected("token response without id_token")
	case resp.StatusCode >= 400 && resp.StatusCode < 500 && tr.Error != "":
		return "", rejected("token endpoint refused the code: %.64s", tr.Error)
	}
	return "", unavailable("token endpoint: HTTP status %d", resp.StatusCode)
}

// clientAssertion signs a private_key_jwt assertion (RFC 7523 §3) for the token endpoint.
func (f *Federated) clientAssertion(d *discovery) (string, error) {
	now := f.clk.Now().Unix()
	claims, _ := json.Marshal(map[string]any{
		"iss": f.o.ClientID, "sub": f.o.ClientID, "aud": d.Issuer,
		"jti": random256(), "iat": now, "exp": now + 60,
	})
	return f.signer.Sign(claims, "")
}

// idClaims are the ID token claims Finish reads; the customer claim is read separately.
type idClaims struct {
	Iss      string          `json:"iss"`
	Aud      json.RawMessage `json:"aud"`
	Azp      *string         `json:"azp"`
	Exp      *float64        `json:"exp"`
	Iat      *float64        `json:"iat"`
	Nonce    *string         `json:"nonce"`
	AuthTime *float64        `json:"auth_time"`
	ACR      string          `json:"acr"`
	AMR      []string        `json:"amr"`
}

func (f *Federated) verifyIDToken(ctx context.Context, d *discovery, token, nonce string) (Authentication, error) {
	v, err := jose.VerifyJWT(ctx, token, f.o.Remote.Resolver(d.JWKSURI), jose.VerifyOptions{Profile: jose.FAPI2})
	if errors.Is(err, jose.ErrJWKSFetch) {
		return Authentication{}, unavailable("the provider's keys: %v", err)
	}
	if err != nil {
		return Authentication{}, rejected("ID token: %v", err)
	}
	var c idClaims
	if err := json.Unmarshal(v.Payload, &c); err != nil {
		return Authentication{}, rejected("ID token: claims of the wrong type")
	}
	now := f.clk.Now()
	var aud []string
	if json.Unmarshal(c.Aud, &aud) != nil {
		var one string
		if json.Unmarshal(c.Aud, &one) != nil {
			return Authentication{}, rejected("ID token: no aud")
		}
		aud = []string{one}
	}
	switch {
	case c.Iss != f.o.Issuer:
		return Authentication{}, rejected("ID token: iss is not the issuer")
	case !slices.Contains(aud, f.o.ClientID):
		return Authentication{}, rejected("ID token: issued to another audience")
	case len(aud) > 1 && (c.Azp == nil || *c.Azp != f.o.ClientID):
		return Authentication{}, rejected("ID token: several audiences and azp is not this client")
	case c.Azp != nil && *c.Azp != f.o.ClientID:
		return Authentication{}, rejected("ID token: azp is another client")
	case c.Exp == nil || !now.Before(unixTime(*c.Exp).Add(federationSkew)):
		return Authentication{}, rejected("ID token: expired or without exp")
	case c.Iat == nil || unixTime(*c.Iat).After(now.Add(federationSkew)):
		return Authentication{}, rejected("ID token: iat missing or in the future")
	case c.Nonce == nil || subtle.ConstantTimeCompare([]byte(*c.Nonce), []byte(nonce)) != 1:
		return Authentication{}, rejected("ID token: nonce does not match")
	case len(c.AMR) > maxAMRValues || slices.ContainsFunc(c.AMR, badClaimValue) || badClaimValue(c.ACR) && c.ACR != "":
		return Authentication{}, rejected("ID token: amr or acr values too many, too long or not printable")
	}
	var all map[string]json.RawMessage
	if err := json.Unmarshal(v.Payload, &all); err != nil {
		return Authentication{}, rejected("ID token: claims")
	}
	var customer string
	if raw, ok := all[f.claim]; !ok || json.Unmarshal(raw, &customer) != nil || customer == "" || len(customer) > MaxUsernameLen {
		return Authentication{}, rejected("ID token: claim %q is not a customer id", f.claim)
	}
	authTime := now
	if c.AuthTime != nil {
		if at := unixTime(*c.AuthTime); !at.After(now.Add(federationSkew)) {
			authTime = at
		} else {
			return Authentication{}, rejected("ID token: auth_time in the future")
		}
	}
	acr := ACRCA
	if f.o.ACRMap[c.ACR] == ACRSCA || SCAFromAMR(c.AMR) {
		acr = ACRSCA
	}
	return Authentication{CustomerID: customer, AuthTime: authTime, AMR: slices.Clone(c.AMR), ACR: acr}, nil
}

// maxClaimValue bounds one amr value and the acr, in bytes.
const maxClaimValue = 256

// badClaimValue reports whether v is empty, longer than maxClaimValue or not printable ASCII.
func badClaimValue(v string) bool {
	if v == "" || len(v) > maxClaimValue {
		return true
	}
	for i := 0; i < len(v); i++ {
		if v[i] < 0x21 || v[i] > 0x7e {
			return true
		}
	}
	return false
}

func unixTime(f float64) time.Time { return time.Unix(int64(f), 0) }

// The RFC 8176 amr values by PSD2 factor category (RTS Art. 6–8).
var (
	amrKnowledge  = []string{"pwd", "pin", "kba"}
	amrPossession = []string{"otp", "hwk", "swk", "sms", "tel", "sc", "pop"}
	amrInherence  = []string{"fpt", "face", "iris", "retina", "vbm", "bio"}
)

// SCAFromAMR reports whether amr (RFC 8176 values) shows a strong customer authentication:
// methods of at least two of the three PSD2 categories — knowledge (pwd, pin, kba),
// possession (otp, hwk, swk, sms, tel, sc, pop), inherence (fpt, face, iris, retina, vbm,
// bio). "mfa" alone does not count: it does not say which factors were used.
func SCAFromAMR(amr []string) bool {
	n := 0
	for _, cat := range [][]string{amrKnowledge, amrPossession, amrInherence} {
		if slices.ContainsFunc(amr, func(m string) bool { return slices.Contains(cat, m) }) {
			n++
		}
	}
	return n >= 2
}
