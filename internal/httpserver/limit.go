package httpserver

import "net/http"

// LimitBody is [LimitBodyFunc] with the plain-text refusal.
func LimitBody(max int64, next http.Handler) http.Handler {
	return LimitBodyFunc(max, nil, next)
}

// LimitBodyFunc bounds every request body to max bytes (max > 0). A request that
// declares a larger Content-Length is refused without reaching next: refuse writes
// the answer, which must have status 413 Request Entity Too Large (nil: a plain-text
// 413). Otherwise the body is wrapped in http.MaxBytesReader: a handler reading past
// max (a chunked or HTTP/2 body without a declared length) gets an error that matches
// *http.MaxBytesError with errors.As, and must answer 413 itself; the server then
// closes the connection.
func LimitBodyFunc(max int64, refuse func(w http.ResponseWriter, r *http.Request), next http.Handler) http.Handler {
	if refuse == nil {
		refuse = refuseText
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength > max {
			refuse(w, r)
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, max)
		next.ServeHTTP(w, r)
	})
}

func refuseText(w http.ResponseWriter, _ *http.Request) {
	http.Error(w, "request body too large", http.StatusRequestEntityTooLarge)
}
