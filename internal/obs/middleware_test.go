package obs

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// discardResponse is a ResponseWriter that keeps nothing, so that the benchmark
// measures the middleware and not a recorder.
type discardResponse struct{ h http.Header }

func (w *discardResponse) Header() http.Header         { return w.h }
func (w *discardResponse) Write(b []byte) (int, error) { return len(b), nil }
func (w *discardResponse) WriteHeader(int)             {}

// BenchmarkMiddleware measures the per-request cost of Middleware with the JSON
// logger of NewLogger writing to io.Discard, for a request that a handler annotates
// (as the token endpoint does) and one it does not.
func BenchmarkMiddleware(b *testing.B) {
	for _, bm := range []struct {
		name     string
		annotate bool
	}{{"plain", false}, {"annotated", true}} {
		b.Run(bm.name, func(b *testing.B) {
			mux := http.NewServeMux()
			mux.HandleFunc("POST /token", func(w http.ResponseWriter, r *http.Request) {
				if bm.annotate {
					Annotate(r.Context(), slog.String("client_id", "tpp-1"), slog.String("grant_type", "client_credentials"))
				}
				w.WriteHeader(http.StatusOK)
				_, _ = w.Write([]byte(`{"access_token":"x"}`))
			})
			h := Middleware(NewLogger(io.Discard, "info"), NewMetrics())(mux)
			req := httptest.NewRequest("POST", "/token", nil)
			req.Header.Set(HeaderInteractionID, validID)
			w := &discardResponse{h: make(http.Header)}
			b.ReportAllocs()
			for b.Loop() {
				clear(w.h)
				h.ServeHTTP(w, req)
			}
		})
	}
}

// TestRequestLogKeys pins the keys of the request event in order, each once: the
// ids are not added a second time by NewLogger's handler.
func TestRequestLogKeys(t *testing.T) {
	var buf bytes.Buffer
	mux := http.NewServeMux()
	mux.HandleFunc("GET /x", func(w http.ResponseWriter, r *http.Request) {
		Annotate(r.Context(), slog.String("client_id", "tpp-1"))
	})
	Middleware(NewLogger(&buf, "info").With("component", "http"), nil)(mux).ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/x", nil))

	var keys []string
	dec := json.NewDecoder(&buf)
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		t.Fatalf("not a JSON object: %v %v", tok, err)
	}
	for dec.More() {
		key, err := dec.Token()
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, key.(string))
		var v any
		if err := dec.Decode(&v); err != nil {
			t.Fatal(err)
		}
	}
	want := []string{"time", "level", "msg", "component", "method", "route", "path", "status", "bytes", "duration_ms",
		"remote_addr", LogKeyRequestID, LogKeyInteractionID, "client_id"}
	if diff := cmp.Diff(want, keys); diff != "" {
		t.Errorf("request event keys (-want +got):\n%s", diff)
	}
}
