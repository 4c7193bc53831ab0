package dcr_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"sync"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/clock"
	"github.com/portcullis/portcullis/internal/dcr"
	"github.com/portcullis/portcullis/internal/jose"
	"github.com/portcullis/portcullis/internal/pki"
	"github.com/portcullis/portcullis/internal/pki/dn"
	"github.com/portcullis/portcullis/internal/pki/eidas"
	"github.com/portcullis/portcullis/internal/pki/pkitest"
	"github.com/portcullis/portcullis/internal/pki/revocation"
	"github.com/portcullis/portcullis/internal/store"
)

var testNow = time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)

const (
	dirIssuer   = "Test Directory"
	softwareID  = "Sw0ftwar3Id42"
	orgID       = pkitest.DefaultOBOrgID
	jwksURL     = "https://tpp.example.com/software.jwks"
	revokedURL  = "https://tpp.example.com/revoked.jwks"
	redirectOne = "https://tpp.example.com/cb"
	redirectTwo = "https://tpp.example.com/cb2"
	audience    = "https://as.example.com"
)

// fakeRemote is a hand-written RemoteKeySets: JWK Sets by URL; a URL not in the map fails
// as a fetch error would.
type fakeRemote struct {
	mu   sync.Mutex
	sets map[string][]byte
}

func (f *fakeRemote) put(uri string, raw []byte) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.sets[uri] = raw
}

func (f *fakeRemote) Get(_ context.Context, uri string) (*jose.JWKSet, error) {
	f.mu.Lock()
	raw, ok := f.sets[uri]
	f.mu.Unlock()
	if !ok {
		return nil, fmt.Errorf("%w: %s unreachable", jose.ErrJWKSFetch, uri)
	}
	set, err := jose.ParseJWKS(raw)
	if err != nil {
		return nil, errors.Join(jose.ErrJWKSFetch, err)
	}
	return set, nil
}

func (f *fakeRemote) Resolver(uri string) jose.KeyResolver { return remoteResolver{f, uri} }

type remoteResolver struct {
	f   *fakeRemote
	uri string
}

func (r remoteResolver) ResolveKey(ctx context.Context, hdr jose.Header) (*jose.PublicKey, error) {
	set, err := r.f.Get(ctx, r.uri)
	if err != nil {
		return nil, err
	}
	return set.ResolveKey(ctx, hdr)
}

// fakeJTIs is a hand-written JTIStore with the store's replay contract.
type fakeJTIs struct {
	mu   sync.Mutex
	seen map[string]bool
	err  error
}

func (f *fakeJTIs) UseJTI(_ context.Context, issuer, jti string, _ time.Time) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return f.err
	}
	k := issuer + "\x00" + jti
	if f.seen[k] {
		return store.ErrReplay
	}
	f.seen[k] = true
	return nil
}

// world is a CA with a TPP's QWAC, a trusted directory key, the TPP's software keys and the
// verifier's fakes.
type world struct {
	clk      *clock.Fake
	ca       *pkitest.CA
	qwac     *pkitest.Leaf
	id       *pki.Identity
	dirKey   *rsa.PrivateKey
	otherKey *rsa.PrivateKey // a key no directory trusts
	ecKey    *ecdsa.PrivateKey
	rsaKey   *rsa.PrivateKey
	remote   *fakeRemote
	jtis     *fakeJTIs
	checker  *revocation.Checker
}

var rsaKeys struct {
	sync.Once
	keys [3]*rsa.PrivateKey
}

func testRSA(t testing.TB, i int) *rsa.PrivateKey {
	rsaKeys.Do(func() {
		for j := range rsaKeys.keys {
			k, err := rsa.GenerateKey(rand.Reader, 2048)
			if err != nil {
				panic(err)
			}
			rsaKeys.keys[j] = k
		}
	})
	return rsaKeys.keys[i]
}

func newWorld(t testing.TB) *world {
	t.Helper()
	w := &world{clk: clock.NewFake(testNow), dirKey: testRSA(t, 0), otherKey: testRSA(t, 1), rsaKey: testRSA(t, 2),
		remote: &fakeRemote{sets: map[string][]byte{}}, jtis: &fakeJTIs{seen: map[string]bool{}}}
	w.ca = pkitest.NewCA(t, pkitest.CAOptions{Clock: w.clk, OCSP: true})
	w.checker = revocation.New(revocation.Options{Clock: w.clk})
	t.Cleanup(w.checker.Close)
	w.qwac = w.ca.QWAC(t, eidas.RoleAISP, eidas.RolePISP)
	w.id = w.identity(t, w.qwac)
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	w.ecKey = k
	w.remote.put(jwksURL, jwks(t, jwk(t, &w.ecKey.PublicKey, "ec-1"), jwk(t, &w.rsaKey.PublicKey, "rsa-1")))
	w.remote.put(revokedURL, []byte(`{"keys":[]}`))
	return w
}

// identity validates leaf as package mtls would.
func (w *world) identity(t testing.TB, leaf *pkitest.Leaf) *pki.Identity {
	t.Helper()
	v, err := pki.NewValidator(pki.Options{Anchors: []pki.Anchor{{Name: "qtsp", Cert: w.ca.Root, Profile: pki.ProfileEIDAS}}, Clock: w.clk, Revocation: w.checker})
	if err != nil {
		t.Fatal(err)
	}
	id, err := v.Validate(context.Background(), leaf.Chain, pki.PurposeTransport)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func (w *world) verifier(t testing.TB, edit func(*dcr.Options)) *dcr.Verifier {
	t.Helper()
	set, err := jose.ParseJWKS(jwks(t, jwk(t, &w.dirKey.PublicKey, "dir-1")))
	if err != nil {
		t.Fatal(err)
	}
	o := dcr.Options{
		Directories:  []dcr.Directory{{Issuer: dirIssuer, Keys: set}},
		SoftwareKeys: w.remote,
		JTIs:         w.jtis,
		Audiences:    []string{audience},
		Clock:        w.clk,
	}
	if edit != nil {
		edit(&o)
	}
	v, err := dcr.New(o)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// ssaClaims are the claims of a valid software statement for the world's TPP.
func (w *world) ssaClaims() map[string]any {
	return map[string]any{
		"iss": dirIssuer, "iat": w.clk.Now().Add(-time.Hour).Unix(), "jti": "ssa-1",
		"software_environment": "sandbox", "software_mode": "Test",
		"software_id": softwareID, "software_client_id": softwareID, "software_client_name": "Example TPP app",
		"software_version": 1.1, "software_client_uri": "https://tpp.example.com",
		"software_logo_uri":      "https://tpp.example.com/logo.png",
		"software_redirect_uris": []string{redirectOne, redirectTwo},
		"software_roles":         []string{"AISP", "PISP"},
		"software_jwks_endpoint": jwksURL, "software_jwks_revoked_endpoint": revokedURL,
		"org_id": orgID, "org_name": pkitest.DefaultOrgName, "org_status": "Active",
		"organisation_competent_authority_claims": map[string]any{
			"authority_id": "FCAGBR", "registration_id": "123456", "status": "Active",
		},
	}
}

// requestClaims are the claims of a valid tls_client_auth registration request carrying ssa.
func (w *world) requestClaims(t testing.TB, ssa string) map[string]any {
	now := w.clk.Now()
	subject, err := dn.Render(w.qwac.Cert.RawSubject)
	if err != nil {
		t.Fatal(err)
	}
	return map[string]any{
		"iss": softwareID, "aud": audience, "iat": now.Unix(), "exp": now.Add(time.Minute).Unix(),
		"jti": randomID(), "software_statement": ssa, "software_id": softwareID,
		"redirect_uris":              []string{redirectOne},
		"token_endpoint_auth_method": "tls_client_auth", "tls_client_auth_subject_dn": subject,
		"grant_types":    []string{"authorization_code", "client_credentials", "refresh_token"},
		"response_types": []string{"code id_token"}, "scope": "openid accounts payments",
		"application_type": "web", "id_token_signed_response_alg": "PS256", "request_object_signing_alg": "PS256",
	}
}

func (w *world) ssa(t testing.TB, edit func(map[string]any)) string {
	t.Helper()
	c := w.ssaClaims()
	if edit != nil {
		edit(c)
	}
	return signJWT(t, "PS256", w.dirKey, "dir-1", c, nil)
}

// request is a registration request signed ES256 with the software key ec-1.
func (w *world) request(t testing.TB, editSSA, edit func(map[string]any)) []byte {
	t.Helper()
	c := w.requestClaims(t, w.ssa(t, editSSA))
	if edit != nil {
		edit(c)
	}
	return []byte(signJWT(t, "ES256", w.ecKey, "ec-1", c, nil))
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func randomID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return b64(b[:])
}

func jwk(t testing.TB, pub crypto.PublicKey, kid string) map[string]any {
	t.Helper()
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		raw, err := k.Bytes()
		if err != nil {
			t.Fatal(err)
		}
		return map[string]any{"kty": "EC", "crv": "P-256", "x": b64(raw[1:33]), "y": b64(raw[33:]), "kid": kid, "use": "sig"}
	case *rsa.PublicKey:
		return map[string]any{"kty": "RSA", "n": b64(k.N.Bytes()), "e": b64(big.NewInt(int64(k.E)).Bytes()), "kid": kid, "use": "sig"}
	}
	t.Fatalf("jwk: %T", pub)
	return nil
}

func jwks(t testing.TB, keys ...map[string]any) []byte {
	t.Helper()
	b, err := json.Marshal(map[string]any{"keys": keys})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// signJWT signs claims with the standard library (the tests do not share the JOSE code
// under test). key is *ecdsa.PrivateKey (ES256), *rsa.PrivateKey (PS256, RS256) or nil
// ("none"); hdr adds header members.
func signJWT(t testing.TB, alg string, key any, kid string, claims map[string]any, hdr map[string]any) string {
	t.Helper()
	h := map[string]any{"alg": alg, "typ": "JWT"}
	if kid != "" {
		h["kid"] = kid
	}
	for k, v := range hdr {
		h[k] = v
	}
	hb, err := json.Marshal(h)
	if err != nil {
		t.Fatal(err)
	}
	cb, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	input := b64(hb) + "." + b64(cb)
	digest := sha256.Sum256([]byte(input))
	var sig []byte
	switch alg {
	case "ES256":
		r, s, err := ecdsa.Sign(rand.Reader, key.(*ecdsa.PrivateKey), digest[:])
		if err != nil {
			t.Fatal(err)
		}
		sig = make([]byte, 64)
		r.FillBytes(sig[:32])
		s.FillBytes(sig[32:])
	case "PS256":
		sig, err = rsa.SignPSS(rand.Reader, key.(*rsa.PrivateKey), crypto.SHA256, digest[:], &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash})
	case "RS256":
		sig, err = rsa.SignPKCS1v15(rand.Reader, key.(*rsa.PrivateKey), crypto.SHA256, digest[:])
	case "none":
		return input + ".AAAA" // a signature segment, so that only the alg is wrong
	default:
		t.Fatalf("signJWT: alg %s", alg)
	}
	if err != nil {
		t.Fatal(err)
	}
	return input + "." + b64(sig)
}

func mustEC(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}
