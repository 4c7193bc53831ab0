package web

import (
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestThemeOverride: a template, the stylesheet and the logo from the theme directory
// replace the embedded ones; what the directory lacks stays embedded.
func TestThemeOverride(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "templates", "login.html"),
		`{{template "layout" .}}{{define "content"}}<h1 id="acme">Acme Bank sign-in for {{.ClientName}}</h1>`+
			`<form method="post" action="/customer/login"><input type="hidden" name="csrf" value="{{.CSRF}}"></form>{{end}}`)
	writeFile(t, filepath.Join(dir, "static", "portcullis.css"), "body { background: #ff00ff; } /* acme */")
	writeFile(t, filepath.Join(dir, "static", "logo.svg"), `<svg xmlns="http://www.w3.org/2000/svg"><title>acme</title></svg>`)
	writeFile(t, filepath.Join(dir, "static", "acme-font.woff2"), "font bytes")

	r := newRig(t, func(o *Options) {
		o.ThemeDir = dir
		o.Messages = Catalog{"bank.name": "Acme Bank"}
	})
	r.start("j1")
	login := r.get(LoginPath)
	wantStatus(t, login, http.StatusOK)
	if !strings.Contains(login.Body.String(), `<h1 id="acme">Acme Bank sign-in for Moneywise Budgeting Ltd</h1>`) {
		t.Errorf("override template not used:\n%s", login.Body.String())
	}
	if !strings.Contains(login.Body.String(), "<title>Secure sign-in · Acme Bank</title>") {
		t.Error("catalog override not used by the embedded layout")
	}
	for path, want := range map[string]string{
		"portcullis.css":   "/* acme */",
		"logo.svg":         "<title>acme</title>",
		"acme-font.woff2":  "font bytes",
		"lock.svg":         "<svg", // not overridden: embedded
		"../templates/x":   "",
		".hidden":          "",
		"templates":        "",
		"login.html":       "",
		"portcullis.css/x": "",
	} {
		w := r.get(StaticPath + path)
		if want == "" {
			if w.Code != http.StatusNotFound {
				t.Errorf("%s: status %d, want 404", path, w.Code)
			}
			continue
		}
		wantStatus(t, w, http.StatusOK)
		if !strings.Contains(w.Body.String(), want) {
			t.Errorf("%s: served %q", path, w.Body.String())
		}
	}
	if ct := r.get(StaticPath + "portcullis.css").Header().Get("Content-Type"); !strings.HasPrefix(ct, "text/css") {
		t.Errorf("stylesheet Content-Type %q", ct)
	}
	// Not overridden: the OTP page is the embedded one.
	w := r.post(LoginPath, formOf("csrf", r.csrf(login), "username", "alice", "password", "correct horse battery staple"))
	wantRedirect(t, w, OTPPath)
	otp := r.get(OTPPath)
	if !strings.Contains(otp.Body.String(), `autocomplete="one-time-code"`) {
		t.Error("embedded OTP page not served beside the override")
	}
}

func TestThemeBrokenTemplateFailsAtStart(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "templates", "approve.html"), `{{template "layout" .}}{{define "content"}}{{.Nope`)
	_, err := New(Options{Authenticator: newFakeAuth(), Journeys: &fakeJourneys{}, SessionKeys: [][]byte{testKey(t)}, ThemeDir: dir})
	if err == nil || !strings.Contains(err.Error(), "approve") {
		t.Fatalf("New with a broken template: %v", err)
	}
	_, err = New(Options{Authenticator: newFakeAuth(), Journeys: &fakeJourneys{}, SessionKeys: [][]byte{testKey(t)}, ThemeDir: filepath.Join(dir, "missing")})
	if err == nil {
		t.Fatal("New with a missing theme directory succeeded")
	}
}

// TestThemeDirectoryConfined: a symlink in the theme directory cannot reach outside it.
func TestThemeDirectoryConfined(t *testing.T) {
	outside := t.TempDir()
	writeFile(t, filepath.Join(outside, "secret.txt"), "top secret")
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "static"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(outside, "secret.txt"), filepath.Join(dir, "static", "secret.txt")); err != nil {
		t.Fatal(err)
	}
	r := newRig(t, func(o *Options) { o.ThemeDir = dir })
	if w := r.get(StaticPath + "secret.txt"); strings.Contains(w.Body.String(), "top secret") {
		t.Error("a symlink out of the theme directory was followed")
	}
}

// TestCatalogCoversTemplates: every message id the embedded templates use has English text.
func TestCatalogCoversTemplates(t *testing.T) {
	ids := regexp.MustCompile(`\{\{t "([^"]+)"`)
	n := 0
	err := fs.WalkDir(embedded, "theme/templates", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(embedded, path)
		if err != nil {
			return err
		}
		for _, m := range ids.FindAllStringSubmatch(string(b), -1) {
			n++
			if _, ok := English[m[1]]; !ok {
				t.Errorf("%s uses message %q, not in the catalog", path, m[1])
			}
		}
		return nil
	})
	if err != nil || n == 0 {
		t.Fatalf("walked templates: %d ids, %v", n, err)
	}
}

// TestPagesAccessible checks what a screen reader and a password manager rely on:
// lang, a label for every input, autocomplete values, one POST form with the CSRF
// field, and no inline script or style.
func TestPagesAccessible(t *testing.T) {
	r := newRig(t)
	r.start("j1")
	login := r.get(LoginPath)
	otpPage := func() string {
		w := r.post(LoginPath, formOf("csrf", r.csrf(login), "username", "alice", "password", "correct horse battery staple"))
		wantRedirect(t, w, OTPPath)
		return r.get(OTPPath).Body.String()
	}()
	pages := map[string]string{"login": login.Body.String(), "otp": otpPage}
	pages["approve"] = func() string {
		m := csrfField.FindStringSubmatch(otpPage)
		r.post(OTPPath, formOf("csrf", m[1], "otp", "123456"))
		return r.get(ApprovePath).Body.String()
	}()
	r.cookie = ""
	pages["error"] = r.get(LoginPath).Body.String()

	inputID := regexp.MustCompile(`<input id="([^"]+)"`)
	for name, body := range pages {
		if !strings.Contains(body, `<html lang="en">`) {
			t.Errorf("%s: no lang", name)
		}
		for _, bad := range []string{"<script", " style=", "<style", "onclick", "javascript:"} {
			if strings.Contains(body, bad) {
				t.Errorf("%s: contains %q", name, bad)
			}
		}
		for _, m := range inputID.FindAllStringSubmatch(body, -1) {
			if !strings.Contains(body, `<label for="`+m[1]+`">`) {
				t.Errorf("%s: input %s has no label", name, m[1])
			}
		}
		if name != "error" {
			if strings.Count(body, "<form ") != 1 || !strings.Contains(body, `<form method="post"`) || !csrfField.MatchString(body) {
				t.Errorf("%s: not one POST form with a CSRF field", name)
			}
		}
	}
	for name, want := range map[string][]string{
		"login":   {`name="username" type="text" autocomplete="username"`, `name="password" type="password" autocomplete="current-password"`},
		"otp":     {`name="otp"`, `autocomplete="one-time-code"`, `inputmode="numeric"`},
		"approve": {`name="account" value="acc-current-1"`, `name="account" value="acc-savings-2"`, `name="action" value="approve"`, `name="action" value="deny"`},
	} {
		for _, w := range want {
			if !strings.Contains(pages[name], w) {
				t.Errorf("%s lacks %s", name, w)
			}
		}
	}
}
