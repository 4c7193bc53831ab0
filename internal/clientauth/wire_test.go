package clientauth_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"

	"github.com/portcullis/portcullis/internal/clientauth"
	"github.com/portcullis/portcullis/internal/oauth"
)

// TestMain gives the in-package tests the authorization server's mapping of Authenticate's
// errors to the wire (clientauth.ToWire, declared in clientauth_test.go): oauth.FromError,
// which they cannot import themselves because package oauth imports clientauth.
func TestMain(m *testing.M) {
	clientauth.ToWire = func(err error) (int, string, string) {
		e := oauth.FromError(err)
		return e.Status, e.Code, oauth.SanitizeDescription(e.Description)
	}
	os.Exit(m.Run())
}

// TestWireErrorSanitises: a failure whose description leaves the RFC 6749 charset still goes
// on the wire as 401 invalid_client, with every byte outside the charset replaced.
func TestWireErrorSanitises(t *testing.T) {
	err := &clientauth.Error{Reason: clientauth.ErrAssertionInvalid, Description: "bad \"quote\" \\ and ünïcode\n"}
	rec := httptest.NewRecorder()
	oauth.WriteError(rec, oauth.FromError(fmt.Errorf("wrapped: %w", err)))
	var body struct {
		Error       string `json:"error"`
		Description string `json:"error_description"`
	}
	if jerr := json.Unmarshal(rec.Body.Bytes(), &body); jerr != nil {
		t.Fatalf("body %q: %v", rec.Body, jerr)
	}
	// The renderer also trims the spaces the replacement leaves at the end.
	if rec.Code != http.StatusUnauthorized || body.Error != "invalid_client" || body.Description != "bad  quote    and   n  code" {
		t.Errorf("wire error = %d %s %q", rec.Code, body.Error, body.Description)
	}
}
