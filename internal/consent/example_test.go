package consent_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"

	"github.com/portcullis/portcullis/internal/consent"
)

// A Go validator: the bank's own rule, plugged into the gateway as a
// consent.Validator. Returning an error means "could not decide" (the gateway
// answers 503); returning Valid: false refuses with the given OBIE code.
func ExampleValidatorFunc() {
	authorised := map[string][]string{ // consent id → accounts the PSU selected
		"aac-1": {"22289"},
	}
	v := consent.ValidatorFunc(func(ctx context.Context, req consent.Request) (consent.Decision, error) {
		accounts, ok := authorised[req.ConsentID]
		if !ok {
			return consent.Decision{ErrorCode: "UK.OBIE.Resource.InvalidConsentStatus", ErrorMessage: "consent is not authorised"}, nil
		}
		if id, scoped := req.PathParams["AccountId"]; scoped && !slices.Contains(accounts, id) {
			return consent.Decision{ErrorCode: "UK.OBIE.Resource.ConsentMismatch", ErrorMessage: "account not in consent"}, nil
		}
		return consent.Decision{Valid: true}, nil
	})

	for _, req := range []consent.Request{
		{ConsentID: "aac-1", ResourceTemplate: "/open-banking/v3.1/aisp/accounts/{AccountId}", PathParams: map[string]string{"AccountId": "22289"}},
		{ConsentID: "aac-1", ResourceTemplate: "/open-banking/v3.1/aisp/accounts/{AccountId}", PathParams: map[string]string{"AccountId": "99999"}},
		{ConsentID: "aac-2", ResourceTemplate: "/open-banking/v3.1/aisp/accounts"},
	} {
		d, err := v.Validate(context.Background(), req)
		fmt.Println(d.Valid, d.ErrorCode, err)
	}
	// Output:
	// true  <nil>
	// false UK.OBIE.Resource.ConsentMismatch <nil>
	// false UK.OBIE.Resource.InvalidConsentStatus <nil>
}

// The webhook contract: Portcullis POSTs the request document and reads the
// decision. The handler below is a minimal consent service.
func ExampleWebhook() {
	service := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var in struct {
			ConsentID string         `json:"consentId"`
			ClientID  string         `json:"clientId"`
			UserID    string         `json:"userId"`
			Claims    map[string]any `json:"tokenClaims"`
			Request   struct {
				Method           string `json:"method"`
				ResourceTemplate string `json:"resourceTemplate"`
			} `json:"request"`
		}
		if r.Header.Get("X-Api-Key") != "example-secret" || json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&in) != nil {
			http.Error(w, "bad request", http.StatusBadRequest) // Portcullis turns this into 503
			return
		}
		fmt.Println("asked:", in.Request.Method, in.Request.ResourceTemplate, "for", in.ClientID, in.UserID, in.ConsentID)
		w.Header().Set("Content-Type", "application/json")
		if in.ConsentID != "aac-1" {
			fmt.Fprint(w, `{"valid":false,"errorCode":"UK.OBIE.Resource.InvalidConsentStatus","errorMessage":"consent revoked","httpStatus":403}`)
			return
		}
		fmt.Fprint(w, `{"valid":true}`)
	}))
	defer service.Close()

	wh, err := consent.NewWebhook(consent.WebhookOptions{
		URL:     service.URL + "/consents/validate",
		Headers: http.Header{"X-Api-Key": {"example-secret"}},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, id := range []string{"aac-1", "aac-2"} {
		d, err := wh.Validate(context.Background(), consent.Request{
			ConsentID: id, ClientID: "tpp-1", UserID: "psu-1",
			TokenClaims: map[string]any{"scope": "accounts"},
			Method:      http.MethodGet, Path: "/open-banking/v3.1/aisp/accounts",
			ResourceTemplate: "/open-banking/v3.1/aisp/accounts",
		})
		fmt.Println("decision:", d.Valid, d.ErrorCode, d.HTTPStatus, err)
	}
	// Output:
	// asked: GET /open-banking/v3.1/aisp/accounts for tpp-1 psu-1 aac-1
	// decision: true  0 <nil>
	// asked: GET /open-banking/v3.1/aisp/accounts for tpp-1 psu-1 aac-2
	// decision: false UK.OBIE.Resource.InvalidConsentStatus 403 <nil>
}
