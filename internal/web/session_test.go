package web

import (
	"bytes"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestSessionCookieAttributes: every session cookie the pages set is __Host- prefixed,
// Secure, HttpOnly, SameSite=Lax, Path=/, without Domain, and expires no later than
// the journey (or the session lifetime).
func TestSessionCookieAttributes(t *testing.T) {
	r := newRig(t)
	var setCookies []string
	record := func(w *httptest.ResponseRecorder) {
		setCookies = append(setCookies, w.Result().Header.Values("Set-Cookie")...)
	}
	record(r.start("j1"))
	login := r.get(LoginPath)
	w := r.post(LoginPath, url.Values{"csrf": {r.csrf(login)}, "username": {"alice"}, "password": {"correct horse battery staple"}})
	record(w)
	otp := r.get(OTPPath)
	w = r.post(OTPPath, url.Values{"csrf": {r.csrf(otp)}, "otp": {"123456"}})
	record(w)
	page := r.get(ApprovePath)
	w = r.post(ApprovePath, url.Values{"csrf": {r.csrf(page)}, "action": {"approve"}, "account": {"acc-current-1"}})
	record(w)
	if len(setCookies) != 4 {
		t.Fatalf("Set-Cookie headers: %q", setCookies)
	}
	for i, raw := range setCookies {
		c, err := http.ParseSetCookie(raw)
		if err != nil {
			t.Fatalf("%q: %v", raw, err)
		}
		if c.Name != "__Host-portcullis-session" || !c.Secure || !c.HttpOnly || c.SameSite != http.SameSiteLaxMode ||
			c.Path != "/" || c.Domain != "" {
			t.Errorf("cookie %d: %q", i, raw)
		}
		for _, attr := range []string{"; Secure", "; HttpOnly", "; SameSite=Lax", "; Path=/"} {
			if !strings.Contains(raw, attr) {
				t.Errorf("cookie %d lacks %s: %q", i, attr, raw)
			}
		}
		if i < 3 && (c.Expires.IsZero() || c.Expires.After(t0.Add(10*time.Minute))) {
			t.Errorf("cookie %d expires %v, after the journey", i, c.Expires)
		}
		if i == 3 && c.MaxAge >= 0 {
			t.Errorf("the journey's end does not delete the cookie: %q", raw)
		}
	}
}

func TestSessionLifetimeBound(t *testing.T) {
	r := newRig(t, func(o *Options) { o.SessionLifetime = time.Minute })
	r.start("j1")
	if got := time.Unix(r.session().Exp, 0); !got.Equal(t0.Add(time.Minute)) {
		t.Errorf("session expiry %v, want start + lifetime", got)
	}
	r.clock.Advance(time.Minute - time.Second)
	wantStatus(t, r.get(LoginPath), http.StatusOK)
	r.clock.Advance(time.Second)
	wantStatus(t, r.get(LoginPath), http.StatusBadRequest)
}

// TestFreshSessionAfterLogin: the session id and CSRF token change at login and again
// after the second factor, and the cookie from before login stays a login-step session
// (an attacker who planted it gains nothing from the customer's login).
func TestFreshSessionAfterLogin(t *testing.T) {
	r := newRig(t)
	r.start("j1")
	before := r.session()
	preLoginCookie := r.cookie
	login := r.get(LoginPath)
	r.post(LoginPath, url.Values{"csrf": {r.csrf(login)}, "username": {"alice"}, "password": {"correct horse battery staple"}})
	afterPwd := r.session()
	otp := r.get(OTPPath)
	r.post(OTPPath, url.Values{"csrf": {r.csrf(otp)}, "otp": {"123456"}})
	afterOTP := r.session()

	ids := map[string]bool{before.ID: true, afterPwd.ID: true, afterOTP.ID: true}
	tokens := map[string]bool{before.CSRF: true, afterPwd.CSRF: true, afterOTP.CSRF: true}
	if len(ids) != 3 || len(tokens) != 3 {
		t.Errorf("session ids %q, %q, %q; CSRF tokens %q, %q, %q: want all different",
			before.ID, afterPwd.ID, afterOTP.ID, before.CSRF, afterPwd.CSRF, afterOTP.CSRF)
	}
	if afterOTP.Customer != "cust-0001" || afterOTP.Step != stepApprove || afterOTP.Exp != before.Exp {
		t.Errorf("session after OTP: %+v", afterOTP)
	}

	r.cookie = preLoginCookie
	wantRedirect(t, r.get(ApprovePath), LoginPath)
	if s := r.session(); s.Step != stepLogin || s.Customer != "" {
		t.Errorf("the pre-login cookie became %+v", s)
	}
}

// TestStartReplacesSession: a session the browser brings to Start is not continued.
func TestStartReplacesSession(t *testing.T) {
	r := newRig(t)
	r.toApprove()
	old := r.session()
	r.journeys.add("j2", testJourney(testRedirect, t0.Add(5*time.Minute)))
	req := httptest.NewRequest("GET", "/authorize", nil)
	req.AddCookie(&http.Cookie{Name: SessionCookie, Value: r.cookie})
	w := httptest.NewRecorder()
	r.pages.Start(w, req, "j2")
	r.keep(w.Result())
	s := r.session()
	if s.ID == old.ID || s.Customer != "" || s.Step != stepLogin || s.Journey != "j2" {
		t.Errorf("Start continued the old session: %+v", s)
	}
}

func TestSessionKeyRotation(t *testing.T) {
	oldKey, newKey := testKey(t), testKey(t)
	oldSealer, _ := newSealer([][]byte{oldKey})
	both, _ := newSealer([][]byte{newKey, oldKey})
	onlyNew, _ := newSealer([][]byte{newKey})
	s := &session{ID: "i", CSRF: "c", Journey: "j", Step: stepLogin, Exp: t0.Add(time.Hour).Unix()}
	sealedOld := oldSealer.seal(s)
	if _, err := both.open(sealedOld, t0); err != nil {
		t.Errorf("a cookie of the previous key does not open during rotation: %v", err)
	}
	if _, err := onlyNew.open(sealedOld, t0); err != errNoSession {
		t.Errorf("a withdrawn key's cookie opens: %v", err)
	}
	if _, err := oldSealer.open(both.seal(s), t0); err != errNoSession {
		t.Error("rotation seals with the old key")
	}
	for _, keys := range [][][]byte{nil, {make([]byte, 16)}, {newKey, make([]byte, 31)}} {
		if _, err := newSealer(keys); err == nil {
			t.Errorf("keys of sizes %d accepted", len(keys))
		}
	}
}

func TestLoadOrCreateKey(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "web", "session.key")
	k1, err := LoadOrCreateKey(path)
	if err != nil || len(k1) != KeySize {
		t.Fatalf("create: %d bytes, %v", len(k1), err)
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode %v, %v", fi.Mode(), err)
	}
	k2, err := LoadOrCreateKey(path)
	if err != nil || !bytes.Equal(k1, k2) {
		t.Fatalf("reload gave another key (%v)", err)
	}
	bad := filepath.Join(dir, "bad.key")
	if err := os.WriteFile(bad, []byte("c2hvcnQ=\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadOrCreateKey(bad); err == nil {
		t.Error("a short key was accepted")
	}
}

// FuzzSessionOpen: the session cookie is attacker bytes; open never panics and never
// accepts what was not sealed with the key.
func FuzzSessionOpen(f *testing.F) {
	sl, _ := newSealer([][]byte{bytes.Repeat([]byte{7}, KeySize)})
	// The one valid value, sealed with a fixed nonce so that every fuzz worker agrees.
	a := sl.aeads[0]
	nonce := make([]byte, a.NonceSize())
	plain := []byte(`{"id":"i","csrf":"c","j":"j","s":"login","exp":` + strconv.FormatInt(t0.Add(time.Hour).Unix(), 10) + `}`)
	good := base64.RawURLEncoding.EncodeToString(a.Seal(nonce, nonce, plain, []byte(SessionCookie)))
	if _, err := sl.open(good, t0); err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add("")
	f.Add(strings.Repeat("A", 40))
	f.Add(good[:len(good)-2])
	f.Fuzz(func(t *testing.T, v string) {
		s, err := sl.open(v, t0)
		if err == nil && v != good {
			t.Fatalf("opened a value that was not sealed: %q → %+v", v, s)
		}
	})
}
