package obs

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

const validID = "6f1c2a9e-8b1d-4c3e-9f00-1234567890ab"

// logLines decodes the JSON lines written to buf.
func logLines(t *testing.T, buf *bytes.Buffer) []map[string]any {
	t.Helper()
	var out []map[string]any
	dec := json.NewDecoder(buf)
	for {
		var m map[string]any
		if err := dec.Decode(&m); err == io.EOF {
			return out
		} else if err != nil {
			t.Fatalf("log line is not JSON: %v", err)
		}
		out = append(out, m)
	}
}

func isV4(s string) bool {
	return isUUID(s) && s[14] == '4' && strings.ContainsRune("89ab", rune(s[19]))
}

func TestInteractionID(t *testing.T) {
	tests := []struct {
		name   string
		sent   []string // x-fapi-interaction-id values the caller sends
		echoed bool     // whether the response must carry sent[0]
	}{
		{name: "absent"},
		{name: "valid lower case", sent: []string{validID}, echoed: true},
		{name: "valid upper case", sent: []string{strings.ToUpper(validID)}, echoed: true},
		{name: "nil UUID is a UUID", sent: []string{"00000000-0000-0000-0000-000000000000"}, echoed: true},
		{name: "not a UUID", sent: []string{"abc"}},
		{name: "empty", sent: []string{""}},
		{name: "markup", sent: []string{"<script>alert(1)</script>-aaaa-bbbb-cccc"}},
		{name: "braces", sent: []string{"{" + validID + "}"}},
		{name: "hyphen misplaced", sent: []string{"6f1c2a9e8-b1d-4c3e-9f00-1234567890ab"}},
		{name: "non-hex", sent: []string{"6f1c2a9e-8b1d-4c3e-9f00-1234567890ag"}},
		{name: "two values", sent: []string{validID, "0b3d7b6e-6c5a-4b8e-8e51-6a4bb0b1f3c2"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var inCtx, inReq string
			h := Middleware(slog.New(slog.DiscardHandler), nil)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				inCtx = InteractionID(r.Context())
				inReq = r.Header.Get(HeaderInteractionID)
			}))
			req := httptest.NewRequest("GET", "/", nil)
			for _, v := range tt.sent {
				req.Header.Add(HeaderInteractionID, v)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)

			got := rec.Result().Header.Values(HeaderInteractionID)
			if len(got) != 1 {
				t.Fatalf("response carries %d interaction ids: %q", len(got), got)
			}
			if tt.echoed {
				if got[0] != tt.sent[0] {
					t.Errorf("response id = %q, want the caller's %q", got[0], tt.sent[0])
				}
			} else {
				if !isV4(got[0]) {
					t.Errorf("response id = %q, want a fresh UUIDv4", got[0])
				}
				for _, s := range tt.sent {
					if got[0] == s {
						t.Errorf("invalid id %q was echoed", s)
					}
				}
			}
			if inCtx != got[0] || inReq != got[0] {
				t.Errorf("handler saw ctx %q, header %q; response %q", inCtx, inReq, got[0])
			}
		})
	}
}

func TestFreshIDsDiffer(t *testing.T) {
	seen := make(map[string]bool)
	for range 100 {
		id := newUUID()
		if !isV4(id) || seen[id] {
			t.Fatalf("newUUID() = %q (v4: %v, repeated: %v)", id, isV4(id), seen[id])
		}
		seen[id] = true
	}
}

func TestInteractionIDOnErrorResponses(t *testing.T) {
	tests := []struct {
		name    string
		handler http.HandlerFunc
		status  int
	}{
		{"http.Error", func(w http.ResponseWriter, r *http.Request) { http.Error(w, "boom", http.StatusInternalServerError) }, 500},
		{"bare 401", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusUnauthorized) }, 401},
		{"JSON 403", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusForbidden)
		}, 403},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mux := http.NewServeMux()
			mux.Handle("/x", tt.handler)
			srv := httptest.NewServer(Middleware(slog.New(slog.DiscardHandler), nil)(mux))
			defer srv.Close()
			for _, path := range []string{"/x", "/not-found"} {
				req, _ := http.NewRequest("GET", srv.URL+path, nil)
				req.Header.Set(HeaderInteractionID, validID)
				resp, err := srv.Client().Do(req)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				if got := resp.Header.Get(HeaderInteractionID); got != validID {
					t.Errorf("%s: status %d, interaction id %q, want %q", path, resp.StatusCode, got, validID)
				}
				if path == "/x" && resp.StatusCode != tt.status {
					t.Errorf("status = %d, want %d", resp.StatusCode, tt.status)
				}
			}
		})
	}
}

func TestRequestLogEvent(t *testing.T) {
	const (
		bearer = "eyJhbGciOiJQUzI1NiJ9.secret-access-token"
		code   = "authz-code-secret"
		body   = "client_assertion=assertion-secret"
	)
	var buf bytes.Buffer
	logger := NewLogger(&buf, "info")
	mux := http.NewServeMux()
	var reqID string
	mux.HandleFunc("POST /token", func(w http.ResponseWriter, r *http.Request) {
		reqID = RequestID(r.Context())
		_, _ = io.ReadAll(r.Body)
		Annotate(r.Context(), slog.String("client_id", "tpp-1"))
		logger.InfoContext(r.Context(), "inside handler")
		w.WriteHeader(http.StatusBadRequest)
		_, _ = w.Write([]byte(`{"error":"invalid_grant"}`))
	})
	req := httptest.NewRequest("POST", "/token?code="+code, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+bearer)
	req.Header.Set(HeaderInteractionID, validID)
	Middleware(logger, nil)(mux).ServeHTTP(httptest.NewRecorder(), req)

	out := buf.String()
	for _, secret := range []string{bearer, code, "assertion-secret"} {
		if strings.Contains(out, secret) {
			t.Errorf("log contains %q:\n%s", secret, out)
		}
	}
	lines := logLines(t, &buf)
	if len(lines) != 2 {
		t.Fatalf("got %d log lines, want 2:\n%s", len(lines), out)
	}
	// The handler's own line carries the ids through the context.
	if lines[0][LogKeyInteractionID] != validID || lines[0][LogKeyRequestID] != reqID {
		t.Errorf("handler log line lacks the ids: %v", lines[0])
	}
	ev := lines[1]
	delete(ev, "time")
	delete(ev, "duration_ms")
	want := map[string]any{
		"level":             "INFO",
		"msg":               "request",
		"method":            "POST",
		"route":             "POST /token",
		"path":              "/token",
		"status":            float64(400),
		"bytes":             float64(len(`{"error":"invalid_grant"}`)),
		"remote_addr":       "192.0.2.1:1234",
		LogKeyRequestID:     reqID,
		LogKeyInteractionID: validID,
		"client_id":         "tpp-1",
	}
	if diff := cmp.Diff(want, ev); diff != "" {
		t.Errorf("request event mismatch (-want +got):\n%s", diff)
	}
	if !isV4(reqID) {
		t.Errorf("request id %q is not a UUIDv4", reqID)
	}
}

func TestRequestLogLevels(t *testing.T) {
	tests := []struct {
		name    string
		handler http.HandlerFunc
		level   string
		status  float64
		panics  bool
	}{
		{"implicit 200", func(w http.ResponseWriter, r *http.Request) {}, "INFO", 200, false},
		{"informational then 200", func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusEarlyHints)
			w.WriteHeader(http.StatusOK)
		}, "INFO", 200, false},
		{"503", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusServiceUnavailable) }, "ERROR", 503, false},
		{"panic", func(w http.ResponseWriter, r *http.Request) { panic(http.ErrAbortHandler) }, "ERROR", 500, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			h := Middleware(NewLogger(&buf, "debug"), NewMetrics())(tt.handler)
			func() {
				defer func() {
					if p := recover(); (p != nil) != tt.panics {
						t.Errorf("recovered %v, want panic: %v", p, tt.panics)
					}
				}()
				h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil))
			}()
			lines := logLines(t, &buf)
			if len(lines) != 1 {
				t.Fatalf("got %d log lines, want 1", len(lines))
			}
			if lines[0]["level"] != tt.level || lines[0]["status"] != tt.status || (lines[0]["panic"] == true) != tt.panics {
				t.Errorf("event = %v; want level %s status %v panic %v", lines[0], tt.level, tt.status, tt.panics)
			}
		})
	}
}

func TestAnnotateBounded(t *testing.T) {
	ctx := NewContext(context.Background(), "", "")
	for i := range 100 {
		Annotate(ctx, slog.Int(fmt.Sprint("k", i), i))
	}
	if got := len(stateFrom(ctx).appendAnnotations(nil)); got != maxAnnotations {
		t.Errorf("kept %d annotations, want %d", got, maxAnnotations)
	}
	Annotate(context.Background(), slog.Int("x", 1)) // outside a request: no-op, no panic
	if InteractionID(context.Background()) != "" || RequestID(context.Background()) != "" {
		t.Error("ids outside a request must be empty")
	}
	ctx = NewContext(context.Background(), "req-1", validID)
	if RequestID(ctx) != "req-1" || InteractionID(ctx) != validID {
		t.Errorf("NewContext ids = %q, %q", RequestID(ctx), InteractionID(ctx))
	}
}

func TestNewLogger(t *testing.T) {
	for _, tt := range []struct {
		level string
		want  []string // messages written of debug, info, warn, error
	}{
		{"debug", []string{"d", "i", "w", "e"}},
		{"info", []string{"i", "w", "e"}},
		{"warn", []string{"w", "e"}},
		{"error", []string{"e"}},
		{"bogus", []string{"i", "w", "e"}},
	} {
		var buf bytes.Buffer
		l := NewLogger(&buf, tt.level).With("component", "test").WithGroup("g")
		l.Debug("d")
		l.Info("i")
		l.Warn("w")
		l.Error("e")
		var got []string
		for _, line := range logLines(t, &buf) {
			got = append(got, line["msg"].(string))
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("level %s (-want +got):\n%s", tt.level, diff)
		}
	}
	for _, s := range []string{"debug", "info", "warn", "error"} {
		if _, err := ParseLevel(s); err != nil {
			t.Errorf("ParseLevel(%q) = %v", s, err)
		}
	}
	if _, err := ParseLevel("INFO"); err == nil {
		t.Error(`ParseLevel("INFO") succeeded`)
	}
}

func TestResponseWriterCapabilities(t *testing.T) {
	h := Middleware(slog.New(slog.DiscardHandler), nil)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := http.NewResponseController(w).Flush(); err != nil {
			t.Errorf("ResponseController.Flush: %v", err)
		}
		w.(http.Flusher).Flush()
	}))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	if !rec.Flushed {
		t.Error("flush did not reach the underlying writer")
	}
}

// series scrapes m's /metrics output and returns the samples of metric name as
// "labels" -> value, labels being the label values in exposition order (sorted by
// label name), joined with "|".
func series(t *testing.T, m *Metrics, name string) map[string]string {
	t.Helper()
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	out := make(map[string]string)
	for line := range strings.Lines(rec.Body.String()) {
		rest, ok := strings.CutPrefix(strings.TrimSpace(line), name+"{")
		if !ok {
			continue
		}
		lbls, value, ok := strings.Cut(rest, "} ")
		if !ok {
			t.Fatalf("unexpected sample line %q", line)
		}
		var vals []string
		for kv := range strings.SplitSeq(lbls, ",") {
			_, v, _ := strings.Cut(kv, "=")
			vals = append(vals, strings.Trim(v, `"`))
		}
		out[strings.Join(vals, "|")] = value
	}
	return out
}

func TestMetricsLabelsByPattern(t *testing.T) {
	m := NewMetrics()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /accounts/{id}", func(w http.ResponseWriter, r *http.Request) {})
	mux.HandleFunc("POST /token", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusBadRequest) })
	h := Middleware(slog.New(slog.DiscardHandler), m)(mux)
	for _, req := range []struct{ method, path string }{
		{"GET", "/accounts/1"},
		{"GET", "/accounts/2"},
		{"GET", "/accounts/3?x=1"},
		{"POST", "/token"},
		{"GET", "/random/path/1"},
		{"GET", "/random/path/2"},
		{"DELETE", "/token"},
		{"BREW", "/accounts/1"},
	} {
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(req.method, req.path, nil))
	}
	// Labels in name order: code, method, route.
	want := map[string]string{
		"200|GET|GET /accounts/{id}": "3",
		"400|POST|POST /token":       "1",
		"404|GET|unmatched":          "2",
		"405|DELETE|unmatched":       "1",
		"405|OTHER|unmatched":        "1",
	}
	if diff := cmp.Diff(want, series(t, m, "portcullis_http_requests_total")); diff != "" {
		t.Errorf("portcullis_http_requests_total (-want +got):\n%s", diff)
	}
	// Labels: outcome, route.
	wantCount := map[string]string{"2xx|GET /accounts/{id}": "3", "4xx|POST /token": "1", "4xx|unmatched": "4"}
	if diff := cmp.Diff(wantCount, series(t, m, "portcullis_http_request_duration_seconds_count")); diff != "" {
		t.Errorf("portcullis_http_request_duration_seconds_count (-want +got):\n%s", diff)
	}
}

func TestRouteLabelBounded(t *testing.T) {
	m := NewMetrics()
	for i := range maxRoutes {
		if got, want := m.routeLabel(fmt.Sprint("GET /r", i)), fmt.Sprint("GET /r", i); got != want {
			t.Fatalf("routeLabel = %q, want %q", got, want)
		}
	}
	if got := m.routeLabel("GET /one-too-many"); got != RouteOther {
		t.Errorf("route beyond the bound = %q, want %q", got, RouteOther)
	}
	if got := m.routeLabel("GET /r0"); got != "GET /r0" {
		t.Errorf("known route = %q", got)
	}
	if got := m.routeLabel(""); got != RouteUnmatched {
		t.Errorf("empty pattern = %q", got)
	}
	for code, want := range map[int]string{101: "1xx", 200: "2xx", 302: "3xx", 404: "4xx", 503: "5xx", 599: "5xx", 0: "other", 99: "other", 600: "other", 999: "other"} {
		if got := outcome(code); got != want {
			t.Errorf("outcome(%d) = %q, want %q", code, got, want)
		}
	}
	for code, want := range map[int]string{100: "100", 200: "200", 404: "404", 599: "599", 0: "0", 99: "99", 600: "600", 999: "999", -1: "-1"} {
		if got := codeLabel(code); got != want {
			t.Errorf("codeLabel(%d) = %q, want %q", code, got, want)
		}
	}
}

func get(t *testing.T, h http.Handler, path string) (int, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
	return rec.Code, rec.Body.String()
}

func TestOpsHandler(t *testing.T) {
	var dbErr atomic.Pointer[error]
	setDB := func(err error) { dbErr.Store(&err) }
	setDB(errors.New("dial tcp 127.0.0.1:5432: connection refused"))
	checks := []Check{
		{Name: "database", Fn: func(ctx context.Context) error { return *dbErr.Load() }},
		{Name: "keys", Fn: func(ctx context.Context) error { return nil }},
	}
	m := NewMetrics()
	h := OpsHandler(m, checks...)

	if code, body := get(t, h, "/healthz"); code != 200 || body != "ok\n" {
		t.Errorf("/healthz = %d %q", code, body)
	}

	code, body := get(t, h, "/readyz")
	if code != http.StatusServiceUnavailable {
		t.Errorf("/readyz with the database down = %d, want 503", code)
	}
	var got readiness
	if err := json.Unmarshal([]byte(body), &got); err != nil {
		t.Fatal(err)
	}
	want := readiness{Status: "unavailable", Failed: []checkResult{{Check: "database", Error: "dial tcp 127.0.0.1:5432: connection refused"}}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("/readyz body (-want +got):\n%s", diff)
	}

	setDB(nil) // the database comes back
	if code, body := get(t, h, "/readyz"); code != 200 || body != `{"status":"ready"}`+"\n" {
		t.Errorf("/readyz after recovery = %d %q", code, body)
	}

	setDB(errors.New("down again"))
	if code, _ := get(t, h, "/readyz"); code != http.StatusServiceUnavailable {
		t.Errorf("/readyz after a second failure = %d, want 503", code)
	}

	Middleware(slog.New(slog.DiscardHandler), m)(http.NotFoundHandler()).ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil))
	code, body = get(t, h, "/metrics")
	for _, name := range []string{"portcullis_http_requests_total", "portcullis_http_request_duration_seconds", "go_goroutines", "process_"} {
		if !strings.Contains(body, name) {
			t.Errorf("/metrics (%d) lacks %s", code, name)
		}
	}
	if code, _ := get(t, h, "/other"); code != http.StatusNotFound {
		t.Errorf("/other = %d, want 404", code)
	}
}

func TestReadyzTimeout(t *testing.T) {
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	h := opsHandler(NewMetrics(), time.Millisecond, []Check{
		{Name: "honours-context", Fn: func(ctx context.Context) error { <-ctx.Done(); return ctx.Err() }},
		{Name: "ignores-context", Fn: func(ctx context.Context) error { <-release; return nil }},
	})
	code, body := get(t, h, "/readyz")
	var got readiness
	if err := json.Unmarshal([]byte(body), &got); err != nil {
		t.Fatal(err)
	}
	want := readiness{Status: "unavailable", Failed: []checkResult{
		{Check: "honours-context", Error: context.DeadlineExceeded.Error()},
		{Check: "ignores-context", Error: context.DeadlineExceeded.Error()},
	}}
	if code != http.StatusServiceUnavailable {
		t.Errorf("code = %d, want 503", code)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("body (-want +got):\n%s", diff)
	}
}

func FuzzInteractionID(f *testing.F) {
	for _, seed := range []string{validID, strings.ToUpper(validID), "", "abc", "{" + validID + "}", validID + "\x00", strings.Repeat("-", 36)} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, sent string) {
		h := http.Header{}
		h.Set(HeaderInteractionID, sent)
		got := interactionID(h)
		if !isUUID(got) {
			t.Fatalf("interactionID(%q) = %q, not a UUID", sent, got)
		}
		if got != sent && !isV4(got) {
			t.Fatalf("replacement %q for %q is not a UUIDv4", got, sent)
		}
		if got == sent && !isUUID(sent) {
			t.Fatalf("echoed invalid id %q", sent)
		}
	})
}
