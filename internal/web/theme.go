package web

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"os"
	"regexp"
	"time"
)

// The default theme. A theme directory ([Options.ThemeDir]) has the same layout:
//
//	templates/layout.html   the page frame: defines "layout", "alert", "client"
//	templates/login.html    login (fields username, password)
//	templates/otp.html      second factor (field otp)
//	templates/approve.html  approval (fields account, action); block "consent_details"
//	templates/error.html    the error page
//	templates/consents.html the consent dashboard (fields consent, action)
//	templates/revoke.html   the confirmation of a revocation (fields consent, action)
//	static/portcullis.css   the stylesheet
//	static/logo.svg         the bank's logo (any other file under static/ is served too)
//
// A file present in the theme directory replaces the embedded one of the same name;
// the rest stay embedded. Templates are parsed when [New] runs, so a broken override
// stops the server at start-up rather than on a customer's request.
//
//go:embed theme
var embedded embed.FS

// pages are the templates rendered by name; each is parsed together with layout.html.
var pageNames = []string{"login", "otp", "approve", "error", "consents", "revoke"}

// theme is a loaded theme: the parsed pages and the files under static/.
type theme struct {
	pages  map[string]*template.Template
	static fs.FS
}

// overlay reads a file from over when it exists there, else from base.
type overlay struct{ over, base fs.FS }

func (o overlay) Open(name string) (fs.File, error) {
	if o.over != nil {
		f, err := o.over.Open(name)
		if err == nil {
			return f, nil
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
	}
	return o.base.Open(name)
}

// loadTheme parses the templates of the embedded theme overlaid with dir (none when
// dir is empty). funcs are the template functions (the catalog's "t").
func loadTheme(dir string, funcs template.FuncMap) (*theme, error) {
	base, err := fs.Sub(embedded, "theme")
	if err != nil {
		return nil, err
	}
	var fsys fs.FS = overlay{base: base}
	if dir != "" {
		// os.Root keeps symlinks and ".." inside the theme directory.
		root, err := os.OpenRoot(dir)
		if err != nil {
			return nil, fmt.Errorf("web: theme directory: %w", err)
		}
		fsys = overlay{over: root.FS(), base: base}
	}
	layout, err := fs.ReadFile(fsys, "templates/layout.html")
	if err != nil {
		return nil, fmt.Errorf("web: theme: %w", err)
	}
	th := &theme{pages: map[string]*template.Template{}}
	for _, name := range pageNames {
		page, err := fs.ReadFile(fsys, "templates/"+name+".html")
		if err != nil {
			return nil, fmt.Errorf("web: theme: %w", err)
		}
		t, err := template.New(name).Funcs(funcs).Parse(string(layout))
		if err == nil {
			_, err = t.Parse(string(page))
		}
		if err != nil {
			return nil, fmt.Errorf("web: theme template %s: %w", name, err)
		}
		if t.Lookup("layout") == nil {
			return nil, fmt.Errorf("web: theme template layout.html does not define \"layout\"")
		}
		th.pages[name] = t
	}
	static, err := fs.Sub(fsys, "static")
	if err != nil {
		return nil, err
	}
	th.static = static
	return th, nil
}

// staticName is what a static file name may look like: one path element, no dot first.
var staticName = regexp.MustCompile(`^[A-Za-z0-9_-][A-Za-z0-9_.-]{0,99}$`)

// serveStatic serves one file of the theme's static/ directory (no listings, no
// subdirectories). Static files may be cached briefly, unlike pages.
func (th *theme) serveStatic(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("file")
	if !staticName.MatchString(name) {
		http.NotFound(w, r)
		return
	}
	b, err := fs.ReadFile(th.static, name)
	if err != nil {
		http.NotFound(w, r)
		return
	}
	// A static file opened directly (an SVG is a document) may load nothing at all.
	w.Header().Set("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'; base-uri 'none'")
	w.Header().Set("Cache-Control", "public, max-age=300")
	http.ServeContent(w, r, name, time.Time{}, bytes.NewReader(b))
}
