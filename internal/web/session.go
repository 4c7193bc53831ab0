package web

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/portcullis/portcullis/internal/secretfile"
)

// SessionCookie is the name of the session cookie. The __Host- prefix makes the browser
// refuse it unless it is Secure, has Path=/ and no Domain, so no sibling host can plant
// or overwrite it.
const SessionCookie = "__Host-portcullis-session"

// DefaultSessionLifetime bounds a session from the moment its journey started; the
// journey's own expiry ends it earlier.
const DefaultSessionLifetime = 15 * time.Minute

// KeySize is the size in bytes of a session sealing key (AES-256).
const KeySize = 32

// maxCookieBytes bounds the sealed cookie value read from a request.
const maxCookieBytes = 3072

// step is where in the journey a session is; each form is accepted only in its step.
type step string

const (
	stepLogin   step = "login"
	stepOTP     step = "otp"
	stepApprove step = "approve"
	// stepDashboard is a dashboard session after login: the consent dashboard.
	stepDashboard step = "consents"
)

// session is the sealed state of one browser in one journey.
type session struct {
	// ID identifies the session; replaced at every authentication step.
	ID string `json:"id"`
	// CSRF is the token every form of this session carries; replaced with ID.
	CSRF string `json:"csrf"`
	// Journey is the id given to [Pages.Start].
	Journey  string   `json:"j"`
	Step     step     `json:"s"`
	Customer string   `json:"c,omitempty"`
	AMR      []string `json:"amr,omitempty"`
	AuthTime int64    `json:"at,omitempty"`
	// ACR is set by a federated login (see [FederatedLogin.ACR]).
	ACR string `json:"acr,omitempty"`
	// Fed is the pending federated login ([Federation.Begin]) at the login step.
	Fed string `json:"f,omitempty"`
	// Dash marks a session of the consent dashboard ([ConsentsPath]) rather than of a
	// journey: it has no Journey, and its login ends at the dashboard.
	Dash bool `json:"d,omitempty"`
	// Exp is the Unix time after which the session is refused.
	Exp int64 `json:"exp"`
}

// renew gives s a fresh id and CSRF token (after every authentication step).
func (s *session) renew() { s.ID, s.CSRF = randomToken(), randomToken() }

func randomToken() string {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		panic("web: crypto/rand failed: " + err.Error()) // never returns an error on Linux
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// errNoSession: no session cookie, or one that does not open (wrong key, tampered,
// truncated) or has expired. The browser sees the "session expired" error page.
var errNoSession = errors.New("web: no valid session")

// sealer seals sessions with the first key and opens them with any key, so that a new
// key can be rolled out before the old one is withdrawn.
type sealer struct{ aeads []cipher.AEAD }

func newSealer(keys [][]byte) (*sealer, error) {
	if len(keys) == 0 {
		return nil, errors.New("web: no session key")
	}
	s := &sealer{}
	for i, k := range keys {
		if len(k) != KeySize {
			return nil, fmt.Errorf("web: session key %d is %d bytes, want %d", i, len(k), KeySize)
		}
		b, err := aes.NewCipher(k)
		if err != nil {
			return nil, err
		}
		a, err := cipher.NewGCM(b)
		if err != nil {
			return nil, err
		}
		s.aeads = append(s.aeads, a)
	}
	return s, nil
}

// seal encrypts s; the cookie name is the associated data.
func (sl *sealer) seal(s *session) string {
	plain, err := json.Marshal(s)
	if err != nil {
		panic("web: session does not marshal: " + err.Error())
	}
	a := sl.aeads[0]
	nonce := make([]byte, a.NonceSize(), a.NonceSize()+len(plain)+a.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		panic("web: crypto/rand failed: " + err.Error())
	}
	return base64.RawURLEncoding.EncodeToString(a.Seal(nonce, nonce, plain, []byte(SessionCookie)))
}

// open decrypts a cookie value and checks its expiry against now. Every failure is
// errNoSession.
func (sl *sealer) open(value string, now time.Time) (*session, error) {
	if value == "" || len(value) > maxCookieBytes {
		return nil, errNoSession
	}
	raw, err := base64.RawURLEncoding.Strict().DecodeString(value)
	if err != nil {
		return nil, errNoSession
	}
	for _, a := range sl.aeads {
		if len(raw) < a.NonceSize()+a.Overhead() {
			return nil, errNoSession
		}
		plain, err := a.Open(nil, raw[:a.NonceSize()], raw[a.NonceSize():], []byte(SessionCookie))
		if err != nil {
			continue
		}
		var s session
		if json.Unmarshal(plain, &s) != nil || s.ID == "" || s.CSRF == "" || (s.Journey == "") != s.Dash {
			return nil, errNoSession
		}
		if !now.Before(time.Unix(s.Exp, 0)) {
			return nil, errNoSession
		}
		return &s, nil
	}
	return nil, errNoSession
}

// sessionCookie returns the cookie carrying value, expiring at exp (a zero exp deletes it).
func sessionCookie(value string, exp time.Time) *http.Cookie {
	c := &http.Cookie{
		Name: SessionCookie, Value: value, Path: "/",
		Secure: true, HttpOnly: true, SameSite: http.SameSiteLaxMode,
	}
	if exp.IsZero() {
		c.MaxAge = -1
	} else {
		c.Expires = exp.UTC()
	}
	return c
}

// LoadOrCreateKey returns the session sealing key stored at path (base64, one line),
// creating it with KeySize random bytes and mode 0600 when the file does not exist.
// Every node serving the pages of one deployment must hold the same key (copy the file,
// or mount one secret), so that a journey begun on one node continues on another.
func LoadOrCreateKey(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		key := make([]byte, KeySize)
		if _, err := rand.Read(key); err != nil {
			return nil, err
		}
		// The first writer's complete file wins: another process creating it at once
		// reads the same key.
		b, err = secretfile.CreateOnce(path, []byte(base64.StdEncoding.EncodeToString(key)+"\n"))
	}
	return decodeKey(path, b, err)
}

func decodeKey(path string, b []byte, err error) ([]byte, error) {
	if err != nil {
		return nil, err
	}
	key, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(b)))
	if err != nil || len(key) != KeySize {
		return nil, fmt.Errorf("web: session key file %s: want %d base64-encoded bytes", path, KeySize)
	}
	return key, nil
}
