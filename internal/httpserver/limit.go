package httpserver

import "net/http"

// LimitBody bounds every request body to max bytes (max > 0). A request that declares a
// larger Content-Length is answered 413 Request Entity Too Large without reaching next.
// Otherwise the body is wrapped in http.MaxBytesReader: a handler reading past max
// (a chunked or HTTP/2 body without a declared length) gets an error that matches
// *http.MaxBytesError with errors.As, and must answer 413 itself; the server then
// closes the connection.
func LimitBody(max int64, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength > max {
			http.Error(w, "request body too large", http.StatusRequestEntityTooLarge)
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, max)
		next.ServeHTTP(w, r)
	})
}
