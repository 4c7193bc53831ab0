package obie

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestWrite(t *testing.T) {
	tests := []struct {
		name       string
		preset     string // x-fapi-interaction-id already on the response
		body       *ErrorBody
		wantJSON   string
		wantHeader string
	}{
		{
			name:       "one item",
			body:       NewError("invalid_path", "93bac548-d2de-4546-b106-880a5018460d", CodeFieldInvalid, "Invalid request path", "path"),
			wantJSON:   `{"Code":"invalid_path","Id":"93bac548-d2de-4546-b106-880a5018460d","Message":"Invalid request path","Errors":[{"ErrorCode":"UK.OBIE.Field.Invalid","Message":"Invalid request path","Path":"path"}]}`,
			wantHeader: "93bac548-d2de-4546-b106-880a5018460d",
		},
		{
			name:     "unsafe id is left out",
			body:     NewError("x", "a\r\nSet-Cookie: s=1", CodeHeaderInvalid, "m", ""),
			wantJSON: `{"Code":"x","Message":"m","Errors":[{"ErrorCode":"UK.OBIE.Header.Invalid","Message":"m"}]}`,
		},
		{
			name:       "the response's id wins over the header",
			preset:     "set-by-middleware",
			body:       NewError("x", "other", CodeUnexpectedError, "m", ""),
			wantJSON:   `{"Code":"x","Id":"other","Message":"m","Errors":[{"ErrorCode":"UK.OBIE.UnexpectedError","Message":"m"}]}`,
			wantHeader: "set-by-middleware",
		},
		{
			name:     "no items gets one",
			body:     &ErrorBody{Code: "x", Message: "m"},
			wantJSON: `{"Code":"x","Message":"m","Errors":[{"ErrorCode":"UK.OBIE.UnexpectedError","Message":"m"}]}`,
		},
		{
			name:     "url",
			body:     &ErrorBody{Code: "x", Message: "m", Errors: []ErrorItem{{ErrorCode: CodeFieldMissing, Message: "m", URL: "https://docs.example/x"}}},
			wantJSON: `{"Code":"x","Message":"m","Errors":[{"ErrorCode":"UK.OBIE.Field.Missing","Message":"m","Url":"https://docs.example/x"}]}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			if tt.preset != "" {
				rec.Header().Set(HeaderInteractionID, tt.preset)
			}
			Write(rec, http.StatusBadRequest, tt.body)
			if rec.Code != http.StatusBadRequest {
				t.Errorf("status %d", rec.Code)
			}
			if diff := cmp.Diff(tt.wantJSON, rec.Body.String()); diff != "" {
				t.Errorf("body (-want +got):\n%s", diff)
			}
			h := rec.Header()
			if h.Get("Content-Type") != "application/json; charset=utf-8" || h.Get("Content-Length") != strconv.Itoa(rec.Body.Len()) ||
				h.Get("Cache-Control") != "no-store" {
				t.Errorf("headers %v", h)
			}
			if v := h.Values(HeaderInteractionID); tt.wantHeader == "" && len(v) != 0 || tt.wantHeader != "" && (len(v) != 1 || v[0] != tt.wantHeader) {
				t.Errorf("x-fapi-interaction-id %q, want %q", v, tt.wantHeader)
			}
			var back ErrorBody
			if err := json.Unmarshal(rec.Body.Bytes(), &back); err != nil || len(back.Errors) != 1 {
				t.Errorf("does not round-trip: %v", err)
			}
		})
	}
}
