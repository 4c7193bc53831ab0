package clientauth

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/big"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/client"
	"github.com/portcullis/portcullis/internal/pki"
	"github.com/portcullis/portcullis/internal/pki/dn"
	"github.com/portcullis/portcullis/internal/store"
)

var b64 = base64.RawURLEncoding

// testSigner signs compact JWS by hand (no JOSE library), so tests can also forge the
// tokens Portcullis must refuse: RS256, HS256 keyed with a public key, alg none.
type testSigner struct {
	alg string
	kid string
	key any // *ecdsa.PrivateKey, *rsa.PrivateKey, ed25519.PrivateKey, []byte (HS256), nil (none)
	// header members added to / overriding alg and kid
	extraHeader map[string]any
}

// sign returns header.payload.signature for the claims (a map, or raw JSON bytes).
func (s testSigner) sign(t testing.TB, claims any) string {
	t.Helper()
	hdr := map[string]any{"alg": s.alg}
	if s.kid != "" {
		hdr["kid"] = s.kid
	}
	for k, v := range s.extraHeader {
		hdr[k] = v
	}
	hb, err := json.Marshal(hdr)
	if err != nil {
		t.Fatal(err)
	}
	pb, ok := claims.([]byte)
	if !ok {
		if pb, err = json.Marshal(claims); err != nil {
			t.Fatal(err)
		}
	}
	input := b64.EncodeToString(hb) + "." + b64.EncodeToString(pb)
	digest := sha256.Sum256([]byte(input))
	var sig []byte
	switch s.alg {
	case "ES256":
		k := s.key.(*ecdsa.PrivateKey)
		r, ss, err := ecdsa.Sign(rand.Reader, k, digest[:])
		if err != nil {
			t.Fatal(err)
		}
		sig = append(r.FillBytes(make([]byte, 32)), ss.FillBytes(make([]byte, 32))...)
	case "PS256":
		sig, err = rsa.SignPSS(rand.Reader, s.key.(*rsa.PrivateKey), crypto.SHA256, digest[:],
			&rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash})
	case "RS256":
		sig, err = rsa.SignPKCS1v15(rand.Reader, s.key.(*rsa.PrivateKey), crypto.SHA256, digest[:])
	case "EdDSA":
		sig = ed25519.Sign(s.key.(ed25519.PrivateKey), []byte(input))
	case "HS256":
		m := hmac.New(sha256.New, s.key.([]byte))
		m.Write([]byte(input))
		sig = m.Sum(nil)
	case "none":
	default:
		t.Fatalf("testSigner: alg %s", s.alg)
	}
	if err != nil {
		t.Fatal(err)
	}
	return input + "." + b64.EncodeToString(sig)
}

func newEC(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

var (
	rsaOnce sync.Once
	rsaKey  *rsa.PrivateKey
)

// testRSA returns one 2048-bit RSA key shared by the tests (generation is slow).
func testRSA(t testing.TB) *rsa.PrivateKey {
	t.Helper()
	rsaOnce.Do(func() {
		var err error
		if rsaKey, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
			panic(err)
		}
	})
	return rsaKey
}

func ecJWK(pub *ecdsa.PublicKey, kid string) map[string]any {
	pt, err := pub.Bytes() // 0x04 || X || Y
	if err != nil {
		panic(err)
	}
	return map[string]any{
		"kty": "EC", "crv": "P-256", "kid": kid,
		"x": b64.EncodeToString(pt[1:33]),
		"y": b64.EncodeToString(pt[33:65]),
	}
}

func rsaJWK(pub *rsa.PublicKey, kid string) map[string]any {
	return map[string]any{
		"kty": "RSA", "kid": kid,
		"n": b64.EncodeToString(pub.N.Bytes()),
		"e": b64.EncodeToString(big.NewInt(int64(pub.E)).Bytes()),
	}
}

func edJWK(pub ed25519.PublicKey, kid string) map[string]any {
	return map[string]any{"kty": "OKP", "crv": "Ed25519", "kid": kid, "x": b64.EncodeToString(pub)}
}

func jwksJSON(t testing.TB, keys ...map[string]any) json.RawMessage {
	t.Helper()
	b, err := json.Marshal(map[string]any{"keys": keys})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// fakeClients is a ClientGetter over a map, with the registry's error contract.
type fakeClients struct {
	clients map[string]*client.Client
	fail    error
}

func (f *fakeClients) Get(_ context.Context, id string) (*client.Client, error) {
	if f.fail != nil {
		return nil, f.fail
	}
	c, ok := f.clients[id]
	if !ok {
		return nil, fmt.Errorf("%w: %s", client.ErrNotFound, id)
	}
	return c, nil
}

// fakeJTIs is a JTIStore over a map, with the store's error contract.
type fakeJTIs struct {
	mu   sync.Mutex
	used map[string]time.Time
	fail error
}

func (f *fakeJTIs) UseJTI(_ context.Context, issuer, jti string, expiresAt time.Time) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail != nil {
		return f.fail
	}
	if f.used == nil {
		f.used = map[string]time.Time{}
	}
	k := issuer + "\x00" + jti
	if _, ok := f.used[k]; ok {
		return store.ErrReplay
	}
	f.used[k] = expiresAt
	return nil
}

var jtiCounter atomic.Int64

func newJTI() string { return fmt.Sprintf("jti-%d-%d", time.Now().UnixNano(), jtiCounter.Add(1)) }

// selfSignedCert makes a self-signed client certificate for key, valid in [notBefore,
// notAfter].
func selfSignedCert(t testing.TB, key crypto.Signer, notBefore, notAfter time.Time) *x509.Certificate {
	t.Helper()
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: "self-signed tpp"},
		NotBefore:    notBefore,
		NotAfter:     notAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// identityOf builds the pki.Identity a successful validation of cert yields (as far as
// client authentication reads it).
func identityOf(t testing.TB, cert *x509.Certificate) *pki.Identity {
	t.Helper()
	subject, err := dn.Render(cert.RawSubject)
	if err != nil {
		t.Fatal(err)
	}
	id := &pki.Identity{
		Leaf: cert, Chain: []*x509.Certificate{cert}, Subject: subject,
		DNSNames: cert.DNSNames, EmailAddresses: cert.EmailAddresses, IPAddresses: cert.IPAddresses,
		Thumbprint: pki.Thumbprint(cert), Kind: pki.KindPlain, Profile: pki.ProfilePlain,
	}
	for _, u := range cert.URIs {
		id.URIs = append(id.URIs, u.String())
	}
	return id
}
