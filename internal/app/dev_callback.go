package app

import (
	"html/template"
	"net/http"
	"sort"

	"github.com/portcullis/portcullis/internal/web"
)

// PathDevCallback is, in dev mode only, a stand-in for a TPP's redirect_uri on the public
// listener: it shows the authorization response it receives (code, state, iss, or error),
// so that the README tour can be followed in a browser without a TPP application.
const PathDevCallback = "/dev/callback"

var devCallbackPage = template.Must(template.New("cb").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Sandbox TPP callback</title></head>
<body><h1>Sandbox TPP callback (dev mode)</h1>
<p>This page stands in for the TPP's redirect_uri. It received:</p>
<dl>{{range .}}<dt>{{.K}}</dt><dd><code>{{.V}}</code></dd>{{else}}<dt>nothing</dt><dd>A hybrid or fragment response stays in the address bar: the browser does not send it.</dd>{{end}}</dl>
<p>Exchange the code at the token endpoint with the client's certificate (see the README tour).</p>
</body></html>`))

// devCallback serves PathDevCallback.
func devCallback(w http.ResponseWriter, r *http.Request) {
	web.SecurityHeaders(w.Header(), "", "")
	type kv struct{ K, V string }
	var rows []kv
	for k, vs := range r.URL.Query() {
		for _, v := range vs {
			rows = append(rows, kv{k, v})
		}
	}
	sort.Slice(rows, func(i, j int) bool { return rows[i].K < rows[j].K })
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_ = devCallbackPage.Execute(w, rows)
}
