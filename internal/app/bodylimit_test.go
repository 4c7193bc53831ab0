package app_test

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/portcullis/portcullis/internal/config"
)

// TestBodyOverLimit: a request that declares a body over http.max_body_bytes is refused
// 413 before routing, in the protocol of its path: the RFC 6749 JSON error on the
// authorization server's endpoints, the OBIE error body on Open Banking APIs.
func TestBodyOverLimit(t *testing.T) {
	const max = 64
	a := startApp(t, func(c *config.Config) { c.HTTP.MaxBodyBytes = max })
	hc := mtlsClient(t, a.Sandbox.RootCertificate(), nil)
	base := "https://" + a.HTTPSAddr().String()
	over := strings.Repeat("a", max+1)

	post := func(path, contentType string) (*http.Response, map[string]any) {
		t.Helper()
		resp, err := hc.Post(base+path, contentType, strings.NewReader(over))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		var body map[string]any
		if err := json.Unmarshal(b, &body); err != nil {
			t.Fatalf("POST %s: %d %q is not JSON: %v", path, resp.StatusCode, b, err)
		}
		if resp.StatusCode != http.StatusRequestEntityTooLarge {
			t.Errorf("POST %s: status %d, want 413", path, resp.StatusCode)
		}
		if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
			t.Errorf("POST %s: Content-Type %q", path, ct)
		}
		return resp, body
	}

	for _, path := range []string{"/token", "/par", "/revoke"} {
		_, body := post(path, "application/x-www-form-urlencoded")
		want := map[string]any{"error": "invalid_request", "error_description": "request body too large"}
		if diff := cmp.Diff(want, body); diff != "" {
			t.Errorf("POST %s body (-want +got):\n%s", path, diff)
		}
	}

	resp, body := post("/open-banking/v3.1/pisp/domestic-payment-consents", "application/json")
	iid := resp.Header.Get("X-Fapi-Interaction-Id")
	if iid == "" {
		t.Error("413 without x-fapi-interaction-id")
	}
	want := map[string]any{
		"Code": "request_body_too_large", "Id": iid, "Message": "Request body too large",
		"Errors": []any{map[string]any{"ErrorCode": "UK.OBIE.Resource.InvalidFormat", "Message": "Request body too large"}},
	}
	if diff := cmp.Diff(want, body); diff != "" {
		t.Errorf("OBIE body (-want +got):\n%s", diff)
	}
}
