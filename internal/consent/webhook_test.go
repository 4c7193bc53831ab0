package consent

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// webhookServer is an httptest validator that records what it receives and answers
// with a fixed status and body.
type webhookServer struct {
	*httptest.Server
	mu      sync.Mutex
	bodies  [][]byte
	headers []http.Header
	status  int
	answer  string
	block   chan struct{} // when set, the handler waits for it (or the request's end)
}

func newWebhookServer(t *testing.T, status int, answer string) *webhookServer {
	t.Helper()
	ws := &webhookServer{status: status, answer: answer}
	ws.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		ws.mu.Lock()
		ws.bodies = append(ws.bodies, b)
		ws.headers = append(ws.headers, r.Header.Clone())
		block := ws.block
		ws.mu.Unlock()
		if block != nil {
			select {
			case <-block:
			case <-r.Context().Done():
				return
			}
		}
		if ws.status == http.StatusFound {
			w.Header().Set("Location", "/elsewhere")
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(ws.status)
		_, _ = io.WriteString(w, ws.answer)
	}))
	t.Cleanup(ws.Close)
	return ws
}

func (ws *webhookServer) lastBody(t *testing.T) []byte {
	t.Helper()
	ws.mu.Lock()
	defer ws.mu.Unlock()
	if len(ws.bodies) == 0 {
		t.Fatal("webhook was not called")
	}
	return ws.bodies[len(ws.bodies)-1]
}

func sampleRequest() Request {
	h := http.Header{}
	h.Set("X-Fapi-Interaction-Id", "93bac548-d2de-4546-b106-880a5018460d")
	h.Set("Content-Type", "application/json")
	h.Set("Authorization", "Bearer secret-token")
	h.Set("Cookie", "session=secret")
	h.Set("X-Portcullis-Client-Id", "forged")
	h.Set("X-Idempotency-Key", "key-1")
	return Request{
		Kind:      "domestic-payment",
		ConsentID: "pdc-123",
		ClientID:  "tpp-1",
		UserID:    "psu-7f3a",
		TokenClaims: map[string]any{
			"client_id": "tpp-1", "scope": "payments", "exp": float64(1767225600), "aut": "APPLICATION_USER",
		},
		Method:           http.MethodPost,
		Path:             "/open-banking/v3.1/pisp/domestic-payments",
		ResourceTemplate: "/open-banking/v3.1/pisp/domestic-payments",
		PathParams:       map[string]string{},
		Headers:          h,
		Body:             []byte(`{"Data":{"ConsentId":"pdc-123"},"Risk":{}}`),
	}
}

// TestWebhookPayload checks the exact document INTERFACE.md promises, including the
// headers that must never reach a validator and the three encodings of the body.
func TestWebhookPayload(t *testing.T) {
	tests := []struct {
		name     string
		mutate   func(*Request)
		wantBody any
		consent  any
	}{
		{name: "JSON body", mutate: func(*Request) {}, wantBody: map[string]any{"Data": map[string]any{"ConsentId": "pdc-123"}, "Risk": map[string]any{}}},
		{name: "no body", mutate: func(r *Request) { r.Body = nil }, wantBody: nil},
		{name: "non-JSON body", mutate: func(r *Request) { r.Body = []byte("a=b&c=d") }, wantBody: "a=b&c=d"},
		{name: "with stored consent", mutate: func(r *Request) { r.Consent = json.RawMessage(`{"Status":"Authorised"}`) },
			wantBody: map[string]any{"Data": map[string]any{"ConsentId": "pdc-123"}, "Risk": map[string]any{}},
			consent:  map[string]any{"Status": "Authorised"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ws := newWebhookServer(t, http.StatusOK, `{"valid":true}`)
			wh, err := NewWebhook(WebhookOptions{URL: ws.URL + "/validate", Headers: http.Header{"X-Shared-Secret": {"s3cr3t"}}})
			if err != nil {
				t.Fatal(err)
			}
			req := sampleRequest()
			tt.mutate(&req)
			d, err := wh.Validate(context.Background(), req)
			if err != nil {
				t.Fatalf("Validate: %v", err)
			}
			if !d.Valid {
				t.Fatalf("Valid = false, want true")
			}
			var got map[string]any
			if err := json.Unmarshal(ws.lastBody(t), &got); err != nil {
				t.Fatal(err)
			}
			want := map[string]any{
				"consentId": "pdc-123",
				"clientId":  "tpp-1",
				"userId":    "psu-7f3a",
				"consent":   tt.consent,
				"tokenClaims": map[string]any{
					"client_id": "tpp-1", "scope": "payments", "exp": float64(1767225600), "aut": "APPLICATION_USER",
				},
				"request": map[string]any{
					"method":           "POST",
					"path":             "/open-banking/v3.1/pisp/domestic-payments",
					"resourceTemplate": "/open-banking/v3.1/pisp/domestic-payments",
					"headers": map[string]any{
						"x-fapi-interaction-id": []any{"93bac548-d2de-4546-b106-880a5018460d"},
						"content-type":          []any{"application/json"},
						"x-idempotency-key":     []any{"key-1"},
					},
					"body": tt.wantBody,
				},
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("payload (-want +got):\n%s", diff)
			}
			ws.mu.Lock()
			h := ws.headers[len(ws.headers)-1]
			ws.mu.Unlock()
			if got := h.Get("X-Shared-Secret"); got != "s3cr3t" {
				t.Errorf("X-Shared-Secret = %q", got)
			}
			if got := h.Get("Content-Type"); got != "application/json" {
				t.Errorf("Content-Type = %q", got)
			}
		})
	}
}

// TestWebhookAnswers maps every kind of answer to a decision or to the exact error.
func TestWebhookAnswers(t *testing.T) {
	tests := []struct {
		name    string
		status  int
		answer  string
		want    Decision
		wantErr error
	}{
		{name: "allow", status: 200, answer: `{"valid":true}`, want: Decision{Valid: true}},
		{name: "allow ignores refusal fields", status: 200, answer: `{"valid":true,"errorCode":"X","httpStatus":400}`, want: Decision{Valid: true}},
		{name: "allow with modified payload", status: 200, answer: `{"valid":true,"modifiedPayload":{"Data":{"x":1}}}`,
			want: Decision{Valid: true, ModifiedPayload: json.RawMessage(`{"Data":{"x":1}}`)}},
		{name: "allow with null modified payload", status: 200, answer: `{"valid":true,"modifiedPayload":null}`, want: Decision{Valid: true}},
		{name: "refuse", status: 200, answer: `{"valid":false,"errorCode":"UK.OBIE.Resource.InvalidConsentStatus","errorMessage":"consent revoked","httpStatus":403}`,
			want: Decision{ErrorCode: "UK.OBIE.Resource.InvalidConsentStatus", ErrorMessage: "consent revoked", HTTPStatus: 403}},
		{name: "refuse with 400", status: 200, answer: `{"valid":false,"errorCode":"UK.OBIE.Field.Invalid","httpStatus":400}`,
			want: Decision{ErrorCode: "UK.OBIE.Field.Invalid", HTTPStatus: 400}},
		{name: "refuse bare", status: 200, answer: `{"valid":false}`, want: Decision{}},
		{name: "unknown members ignored", status: 200, answer: `{"valid":false,"extra":[1,2]}`, want: Decision{}},
		{name: "201 is 2xx", status: 201, answer: `{"valid":true}`, want: Decision{Valid: true}},

		{name: "500", status: 500, answer: `{"valid":true}`, wantErr: ErrUnavailable},
		{name: "404", status: 404, answer: ``, wantErr: ErrUnavailable},
		{name: "redirect not followed", status: 302, answer: ``, wantErr: ErrUnavailable},
		{name: "not JSON", status: 200, answer: `valid`, wantErr: ErrBadResponse},
		{name: "array", status: 200, answer: `[{"valid":true}]`, wantErr: ErrBadResponse},
		{name: "empty", status: 200, answer: ``, wantErr: ErrBadResponse},
		{name: "valid missing", status: 200, answer: `{"errorCode":"x"}`, wantErr: ErrBadResponse},
		{name: "valid not bool", status: 200, answer: `{"valid":"true"}`, wantErr: ErrBadResponse},
		{name: "valid null", status: 200, answer: `{"valid":null}`, wantErr: ErrBadResponse},
		{name: "trailing data", status: 200, answer: `{"valid":true}{"valid":false}`, wantErr: ErrBadResponse},
		{name: "status 500 in answer", status: 200, answer: `{"valid":false,"httpStatus":500}`, wantErr: ErrBadResponse},
		{name: "status 401 in answer", status: 200, answer: `{"valid":false,"httpStatus":401}`, wantErr: ErrBadResponse},
		{name: "status 200 in refusal", status: 200, answer: `{"valid":false,"httpStatus":200}`, wantErr: ErrBadResponse},
		{name: "error code with spaces", status: 200, answer: `{"valid":false,"errorCode":"UK OBIE"}`, wantErr: ErrBadResponse},
		{name: "error code too long", status: 200, answer: `{"valid":false,"errorCode":"` + strings.Repeat("a", MaxErrorCodeLen+1) + `"}`, wantErr: ErrBadResponse},
		{name: "message with newline", status: 200, answer: `{"valid":false,"errorMessage":"a\nb"}`, wantErr: ErrBadResponse},
		{name: "message too long", status: 200, answer: `{"valid":false,"errorMessage":"` + strings.Repeat("m", MaxErrorMessageLen+1) + `"}`, wantErr: ErrBadResponse},
		{name: "too large", status: 200, answer: `{"valid":true,"pad":"` + strings.Repeat("x", 2000) + `"}`, wantErr: ErrBadResponse},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ws := newWebhookServer(t, tt.status, tt.answer)
			wh, err := NewWebhook(WebhookOptions{URL: ws.URL, MaxResponseBytes: 1024})
			if err != nil {
				t.Fatal(err)
			}
			d, err := wh.Validate(context.Background(), sampleRequest())
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("error = %v, want %v", err, tt.wantErr)
				}
				if d.Valid {
					t.Fatal("an error came with Valid = true")
				}
				return
			}
			if err != nil {
				t.Fatalf("Validate: %v", err)
			}
			if diff := cmp.Diff(tt.want, d); diff != "" {
				t.Errorf("decision (-want +got):\n%s", diff)
			}
		})
	}
}

// TestWebhookTimeout: a validator that does not answer in time is unavailable, and
// the call returns within a bounded time.
func TestWebhookTimeout(t *testing.T) {
	ws := newWebhookServer(t, http.StatusOK, `{"valid":true}`)
	release := make(chan struct{})
	ws.block = release
	t.Cleanup(func() { close(release) })
	wh, err := NewWebhook(WebhookOptions{URL: ws.URL, Timeout: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	d, err := wh.Validate(context.Background(), sampleRequest())
	if !errors.Is(err, ErrUnavailable) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("error = %v, want ErrUnavailable (deadline exceeded)", err)
	}
	if d.Valid {
		t.Fatal("timeout came with Valid = true")
	}
}

func TestWebhookUnreachable(t *testing.T) {
	ws := newWebhookServer(t, http.StatusOK, `{"valid":true}`)
	url := ws.URL
	ws.Close()
	wh, err := NewWebhook(WebhookOptions{URL: url})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := wh.Validate(context.Background(), sampleRequest()); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("error = %v, want ErrUnavailable", err)
	}
}

func TestWebhookBadConsentJSON(t *testing.T) {
	ws := newWebhookServer(t, http.StatusOK, `{"valid":true}`)
	wh, err := NewWebhook(WebhookOptions{URL: ws.URL})
	if err != nil {
		t.Fatal(err)
	}
	req := sampleRequest()
	req.Consent = json.RawMessage(`{not json`)
	if _, err := wh.Validate(context.Background(), req); err == nil {
		t.Fatal("Validate accepted a Consent that is not JSON")
	}
	ws.mu.Lock()
	defer ws.mu.Unlock()
	if len(ws.bodies) != 0 {
		t.Fatal("webhook called with an unencodable payload")
	}
}

func TestNewWebhookOptions(t *testing.T) {
	tests := []struct {
		name string
		opts WebhookOptions
		ok   bool
	}{
		{name: "https", opts: WebhookOptions{URL: "https://consent.bank.example/validate"}, ok: true},
		{name: "http loopback v4", opts: WebhookOptions{URL: "http://127.0.0.1:8080/v"}, ok: true},
		{name: "http loopback v6", opts: WebhookOptions{URL: "http://[::1]:8080/v"}, ok: true},
		{name: "http localhost", opts: WebhookOptions{URL: "http://localhost/v"}, ok: true},
		{name: "secret header", opts: WebhookOptions{URL: "https://c.example/", Headers: http.Header{"X-Api-Key": {"k"}}}, ok: true},
		{name: "empty", opts: WebhookOptions{}},
		{name: "http remote", opts: WebhookOptions{URL: "http://consent.bank.example/validate"}},
		{name: "ftp", opts: WebhookOptions{URL: "ftp://consent.bank.example/"}},
		{name: "relative", opts: WebhookOptions{URL: "/validate"}},
		{name: "userinfo", opts: WebhookOptions{URL: "https://user:pass@c.example/"}},
		{name: "fragment", opts: WebhookOptions{URL: "https://c.example/#x"}},
		{name: "negative timeout", opts: WebhookOptions{URL: "https://c.example/", Timeout: -1}},
		{name: "huge timeout", opts: WebhookOptions{URL: "https://c.example/", Timeout: time.Hour}},
		{name: "negative max", opts: WebhookOptions{URL: "https://c.example/", MaxResponseBytes: -1}},
		{name: "reserved header", opts: WebhookOptions{URL: "https://c.example/", Headers: http.Header{"Content-Type": {"text/plain"}}}},
		{name: "bad header name", opts: WebhookOptions{URL: "https://c.example/", Headers: http.Header{"X Key": {"v"}}}},
		{name: "header injection", opts: WebhookOptions{URL: "https://c.example/", Headers: http.Header{"X-Key": {"v\r\nX-Evil: 1"}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewWebhook(tt.opts)
			if (err == nil) != tt.ok {
				t.Fatalf("NewWebhook error = %v, want ok = %v", err, tt.ok)
			}
			if err != nil && strings.Contains(err.Error(), "\r\n") {
				t.Errorf("error echoes a header value: %q", err)
			}
		})
	}
}

func TestRequestHeaders(t *testing.T) {
	in := http.Header{
		"Authorization":          {"Bearer x"},
		"Proxy-Authorization":    {"Basic y"},
		"Cookie":                 {"a=b"},
		"Connection":             {"close"},
		"Transfer-Encoding":      {"chunked"},
		"X-Portcullis-Client-Id": {"forged"},
		"X-Portcullis-Identity":  {"forged"},
		"X-Fapi-Interaction-Id":  {"id"},
		"Accept":                 {"application/json", "text/plain"},
		"x-lower":                {"non-canonical key"},
	}
	got := RequestHeaders(in)
	want := http.Header{"X-Fapi-Interaction-Id": {"id"}, "Accept": {"application/json", "text/plain"}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("RequestHeaders (-want +got):\n%s", diff)
	}
	got["Accept"][0] = "changed"
	if in["Accept"][0] != "application/json" {
		t.Error("RequestHeaders shares value slices with its input")
	}
	// The copies share one backing array: appending to one must not overwrite
	// another's values.
	got = RequestHeaders(in)
	for k := range got {
		got[k] = append(got[k], "appended")
		want[k] = append(want[k], "appended")
		if diff := cmp.Diff(want, got); diff != "" {
			t.Fatalf("appending to %s changed other headers (-want +got):\n%s", k, diff)
		}
	}
	if got := RequestHeaders(http.Header{"Accept": nil}); got["Accept"] != nil || len(got) != 1 {
		t.Errorf("RequestHeaders of a header without values = %#v", got)
	}
}

func TestDecisionCheck(t *testing.T) {
	tests := []struct {
		name string
		d    Decision
		ok   bool
	}{
		{name: "allow", d: Decision{Valid: true}, ok: true},
		{name: "allow with JSON payload", d: Decision{Valid: true, ModifiedPayload: json.RawMessage(`{"a":1}`)}, ok: true},
		{name: "allow with broken payload", d: Decision{Valid: true, ModifiedPayload: json.RawMessage(`{"a":`)}},
		{name: "refuse default", d: Decision{}, ok: true},
		{name: "refuse 404", d: Decision{HTTPStatus: 404, ErrorCode: "UK.OBIE.Resource.NotFound"}, ok: true},
		{name: "refuse 401", d: Decision{HTTPStatus: 401}},
		{name: "refuse 503", d: Decision{HTTPStatus: 503}},
		{name: "refuse quote in code", d: Decision{ErrorCode: `a"b`}},
		{name: "refuse control in message", d: Decision{ErrorMessage: "a\x00b"}},
		{name: "refuse unicode message", d: Decision{ErrorMessage: "Zustimmung widerrufen – bitte erneut"}, ok: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.d.Check()
			if tt.ok && err != nil {
				t.Fatalf("Check = %v, want nil", err)
			}
			if !tt.ok && !errors.Is(err, ErrBadResponse) {
				t.Fatalf("Check = %v, want ErrBadResponse", err)
			}
		})
	}
}

func FuzzDecodeAnswer(f *testing.F) {
	for _, s := range []string{
		`{"valid":true}`, `{"valid":false,"errorCode":"UK.OBIE.Field.Invalid","httpStatus":400}`,
		`{"valid":true,"modifiedPayload":{"a":[1,2,3]}}`, `[]`, `{"valid":null}`, `{"valid":false,"errorMessage":"\u0000"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		d, err := decodeAnswer(data)
		if err != nil {
			if !errors.Is(err, ErrBadResponse) {
				t.Fatalf("error %v does not match ErrBadResponse", err)
			}
			if d.Valid {
				t.Fatal("error with Valid = true")
			}
			return
		}
		if cerr := d.Check(); cerr != nil {
			t.Fatalf("accepted decision fails Check: %v", cerr)
		}
	})
}
