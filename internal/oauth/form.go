package oauth

import (
	"errors"
	"mime"
	"net/http"
	"net/url"
)

// ParseForm reads an application/x-www-form-urlencoded POST body of at most maxBytes and
// returns its parameters. Per RFC 6749 §3.2 and §3.1 it refuses other methods and content
// types, parameters in the query string, and any parameter sent more than once.
func ParseForm(r *http.Request, maxBytes int64) (url.Values, error) {
	if r.Method != http.MethodPost {
		return nil, MethodNotAllowed()
	}
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/x-www-form-urlencoded" {
		return nil, InvalidRequest("content type must be application/x-www-form-urlencoded")
	}
	if r.URL.RawQuery != "" {
		return nil, InvalidRequest("parameters must be sent in the request body")
	}
	r.Body = http.MaxBytesReader(nil, r.Body, maxBytes)
	if err := r.ParseForm(); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, newError(http.StatusRequestEntityTooLarge, CodeInvalidRequest, "request body too large")
		}
		return nil, InvalidRequest("malformed form body")
	}
	for k, v := range r.PostForm {
		if len(v) > 1 {
			return nil, InvalidRequest("parameter " + k + " sent more than once")
		}
	}
	return r.PostForm, nil
}
