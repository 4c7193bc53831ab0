package admin

import (
	"encoding/json"
	"net/http"
)

// WriteJSON writes v as the JSON body of a response with status.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// WriteError writes the admin API's one error body shape, RFC 6749-style
// {"error": code, "error_description": desc}, with desc restricted to the RFC 6749
// error_description character set (%x20-21 / %x23-5B / %x5D-7E; other bytes become spaces).
// Operations mounted on [Handler.Mux] answer their errors with it too.
func WriteError(w http.ResponseWriter, status int, code, desc string) {
	WriteJSON(w, status, struct {
		Error       string `json:"error"`
		Description string `json:"error_description,omitempty"`
	}{code, sanitizeDescription(desc)})
}

// sanitizeDescription restricts s to the RFC 6749 error_description character set.
func sanitizeDescription(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c < 0x20 || c > 0x7e || c == '"' || c == '\\' {
			b[i] = ' '
		}
	}
	return string(b)
}
