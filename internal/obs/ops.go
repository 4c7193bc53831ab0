package obs

import (
	"context"
	"encoding/json"
	"net/http"
	"time"
)

// ReadinessTimeout bounds each readiness check.
const ReadinessTimeout = 2 * time.Second

// maxCheckError bounds the error text /readyz reports per check.
const maxCheckError = 200

// Check is one named readiness check, such as the store's Ping. Fn must honour ctx; its
// error text is shown on the ops listener, so it must not contain secrets.
type Check struct {
	Name string
	Fn   func(ctx context.Context) error
}

// OpsHandler serves the ops listener:
//
//   - GET /healthz: 200 "ok" while the process serves requests (liveness);
//   - GET /readyz: runs every check concurrently, each bounded by [ReadinessTimeout];
//     200 {"status":"ready"} when all pass, 503 {"status":"unavailable","failed":
//     [{"check":NAME,"error":TEXT}]} naming each failing check otherwise. Checks run
//     on every call, so readiness recovers by itself when the dependency does;
//   - GET /metrics: m's registry in the Prometheus format.
//
// m must not be nil.
func OpsHandler(m *Metrics, readiness ...Check) http.Handler {
	return opsHandler(m, ReadinessTimeout, readiness)
}

func opsHandler(m *Metrics, timeout time.Duration, checks []Check) http.Handler {
	checks = append([]Check(nil), checks...)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		failed := runChecks(r.Context(), timeout, checks)
		body := readiness{Status: "ready"}
		status := http.StatusOK
		if len(failed) > 0 {
			body = readiness{Status: "unavailable", Failed: failed}
			status = http.StatusServiceUnavailable
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(body)
	})
	mux.Handle("GET /metrics", m.Handler())
	return mux
}

type readiness struct {
	Status string        `json:"status"`
	Failed []checkResult `json:"failed,omitempty"`
}

type checkResult struct {
	Check string `json:"check"`
	Error string `json:"error"`
}

// runChecks runs checks concurrently and returns the failures in the order given. A
// check that ignores its context is abandoned at the timeout and reported as timed out.
func runChecks(ctx context.Context, timeout time.Duration, checks []Check) []checkResult {
	results := make([]error, len(checks))
	done := make(chan struct{}, len(checks))
	for i, c := range checks {
		go func() {
			results[i] = runCheck(ctx, timeout, c)
			done <- struct{}{}
		}()
	}
	for range checks {
		<-done
	}
	var failed []checkResult
	for i, err := range results {
		if err != nil {
			msg := err.Error()
			if len(msg) > maxCheckError {
				msg = msg[:maxCheckError] + "…"
			}
			failed = append(failed, checkResult{Check: checks[i].Name, Error: msg})
		}
	}
	return failed
}

func runCheck(ctx context.Context, timeout time.Duration, c Check) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	errc := make(chan error, 1)
	go func() { errc <- c.Fn(ctx) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}
