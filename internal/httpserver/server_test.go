package httpserver

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/portcullis/portcullis/internal/obs"
)

// start serves s until the test ends. It returns the base URL, the function that
// stops serving, and one that waits for Serve's result.
func start(t *testing.T, s *Server) (base string, stop context.CancelFunc, wait func() error) {
	t.Helper()
	addr, err := s.Listen()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx) }()
	wait = sync.OnceValue(func() error { return <-done })
	t.Cleanup(func() {
		cancel()
		_ = wait()
	})
	return "http://" + addr.String(), cancel, wait
}

// waitRefused polls until a TCP connection to addr is refused, bounded in time and
// attempts.
func waitRefused(t *testing.T, addr string) {
	t.Helper()
	for range 400 {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			return
		}
		c.Close()
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("%s still accepts connections", addr)
}

// settings are the http.Server fields New derives from Options.
type settings struct {
	ReadHeaderTimeout, ReadTimeout, WriteTimeout, IdleTimeout time.Duration
	MaxHeaderBytes                                            int
}

func TestNewAppliesOptions(t *testing.T) {
	tests := []struct {
		name string
		opts Options
		want settings
	}{
		{
			name: "explicit",
			opts: Options{ReadHeaderTimeout: 1 * time.Second, ReadTimeout: 2 * time.Second, WriteTimeout: 3 * time.Second,
				IdleTimeout: 4 * time.Second, MaxHeaderBytes: 4096},
			want: settings{ReadHeaderTimeout: 1 * time.Second, ReadTimeout: 2 * time.Second, WriteTimeout: 3 * time.Second,
				IdleTimeout: 4 * time.Second, MaxHeaderBytes: 4096},
		},
		{
			name: "zero means default, never unlimited",
			opts: Options{ReadTimeout: -1},
			want: settings{ReadHeaderTimeout: DefaultReadHeaderTimeout, ReadTimeout: DefaultReadTimeout,
				WriteTimeout: DefaultWriteTimeout, IdleTimeout: DefaultIdleTimeout, MaxHeaderBytes: DefaultMaxHeaderBytes},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := New(tt.opts)
			got := settings{ReadHeaderTimeout: s.srv.ReadHeaderTimeout, ReadTimeout: s.srv.ReadTimeout,
				WriteTimeout: s.srv.WriteTimeout, IdleTimeout: s.srv.IdleTimeout, MaxHeaderBytes: s.srv.MaxHeaderBytes}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("server settings (-want +got):\n%s", diff)
			}
			if s.srv.ErrorLog == nil || s.srv.Handler == nil {
				t.Error("ErrorLog and Handler must be set")
			}
		})
	}
	if got := New(Options{}).shutdownTimeout; got != DefaultShutdownTimeout {
		t.Errorf("shutdown timeout = %v", got)
	}
}

func TestPortZero(t *testing.T) {
	s := New(Options{Addr: "127.0.0.1:0", Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "hello")
	})})
	addr, err := s.Listen()
	if err != nil {
		t.Fatal(err)
	}
	if port := addr.(*net.TCPAddr).Port; port == 0 {
		t.Fatal("Listen returned port 0")
	}
	again, err := s.Listen()
	if err != nil || again.String() != addr.String() {
		t.Errorf("second Listen = %v, %v; want %v", again, err, addr)
	}
	base, _, _ := start(t, s)
	resp, err := http.Get(base + "/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "hello" {
		t.Errorf("body = %q", body)
	}
}

func TestBodyLimit(t *testing.T) {
	const max = 16
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(r.Body)
		if mbe := (*http.MaxBytesError)(nil); errors.As(err, &mbe) {
			w.Header().Set("X-Limit", mbe.Error())
			w.WriteHeader(http.StatusRequestEntityTooLarge)
			return
		}
		_, _ = w.Write(b)
	})
	// The middleware marks every response it sees, the limit's own 413 included.
	mark := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("X-Seen", "yes")
			next.ServeHTTP(w, r)
		})
	}
	s := New(Options{Addr: "127.0.0.1:0", Handler: handler, Middleware: mark, MaxBodyBytes: max})
	base, _, _ := start(t, s)

	tests := []struct {
		name    string
		body    string
		chunked bool
		status  int
		handled bool // the handler, not the limit, answered
	}{
		{"at the limit", strings.Repeat("a", max), false, 200, true},
		{"declared over the limit", strings.Repeat("a", max+1), false, 413, false},
		{"chunked at the limit", strings.Repeat("a", max), true, 200, true},
		{"chunked over the limit", strings.Repeat("a", 10*max), true, 413, true},
		{"empty", "", false, 200, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var body io.Reader = strings.NewReader(tt.body)
			if tt.chunked {
				body = io.MultiReader(body) // hides the length: sent chunked
			}
			req, err := http.NewRequest("POST", base+"/", body)
			if err != nil {
				t.Fatal(err)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			got, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tt.status {
				t.Fatalf("status = %d, want %d", resp.StatusCode, tt.status)
			}
			if resp.Header.Get("X-Seen") != "yes" {
				t.Error("response bypassed the middleware")
			}
			if handled := resp.StatusCode == 200 || resp.Header.Get("X-Limit") != ""; handled != tt.handled {
				t.Errorf("answered by handler = %v, want %v", handled, tt.handled)
			}
			if tt.status == 200 && string(got) != tt.body {
				t.Errorf("echoed %q, want %q", got, tt.body)
			}
		})
	}
}

func TestGracefulShutdown(t *testing.T) {
	started := make(chan struct{})
	release := make(chan struct{})
	s := New(Options{Addr: "127.0.0.1:0", ShutdownTimeout: time.Minute,
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			close(started)
			<-release
			_, _ = io.WriteString(w, "finished")
		})})
	base, cancel, wait := start(t, s)
	stopped := make(chan error, 1)
	go func() { stopped <- wait() }()

	type result struct {
		body string
		err  error
	}
	inflight := make(chan result, 1)
	go func() {
		resp, err := http.Get(base + "/slow")
		if err != nil {
			inflight <- result{err: err}
			return
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		inflight <- result{string(b), err}
	}()
	<-started
	cancel()

	// New connections are refused while the slow request is still running.
	waitRefused(t, strings.TrimPrefix(base, "http://"))
	select {
	case err := <-stopped:
		t.Fatalf("Serve returned %v before the in-flight request finished", err)
	default:
	}

	close(release)
	if r := <-inflight; r.err != nil || r.body != "finished" {
		t.Errorf("in-flight request: body %q, err %v; want it to complete", r.body, r.err)
	}
	if err := wait(); err != nil {
		t.Errorf("Serve after a clean drain = %v, want nil", err)
	}
}

func TestShutdownTimeoutCutsOff(t *testing.T) {
	started := make(chan struct{})
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	s := New(Options{Addr: "127.0.0.1:0", ShutdownTimeout: 10 * time.Millisecond,
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			close(started)
			<-release
		})})
	base, cancel, wait := start(t, s)
	clientErr := make(chan error, 1)
	go func() {
		resp, err := http.Get(base + "/stuck")
		if err == nil {
			resp.Body.Close()
		}
		clientErr <- err
	}()
	<-started
	cancel()
	if err := wait(); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Serve = %v, want an error wrapping context.DeadlineExceeded", err)
	}
	if err := <-clientErr; err == nil {
		t.Error("the cut-off request completed")
	}
}

func TestServeOnce(t *testing.T) {
	s := New(Options{Addr: "127.0.0.1:0"})
	_, cancel, wait := start(t, s)
	cancel()
	if err := wait(); err != nil {
		t.Fatalf("Serve = %v", err)
	}
	if err := s.Serve(context.Background()); err == nil {
		t.Error("second Serve succeeded")
	}
}

func TestRun(t *testing.T) {
	t.Run("cancel stops all", func(t *testing.T) {
		a, b := New(Options{Addr: "127.0.0.1:0"}), New(Options{Addr: "127.0.0.1:0"})
		addrA, _ := a.Listen()
		addrB, _ := b.Listen()
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- Run(ctx, time.Second, a, b) }()
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run = %v, want nil", err)
		}
		waitRefused(t, addrA.String())
		waitRefused(t, addrB.String())
	})
	t.Run("one failure stops the others", func(t *testing.T) {
		a, b := New(Options{Addr: "127.0.0.1:0"}), New(Options{Addr: "127.0.0.1:0"})
		if _, err := a.Listen(); err != nil {
			t.Fatal(err)
		}
		addrB, err := b.Listen()
		if err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- Run(context.Background(), time.Second, a, b) }()
		a.ln.Close() // serving a fails: accept on a closed listener
		if err := <-done; err == nil || !strings.Contains(err.Error(), "httpserver http") {
			t.Errorf("Run = %v, want a's serve error", err)
		}
		waitRefused(t, addrB.String())
	})
	t.Run("bind failure closes the bound", func(t *testing.T) {
		a := New(Options{Addr: "127.0.0.1:0"})
		addrA, err := a.Listen()
		if err != nil {
			t.Fatal(err)
		}
		b := New(Options{Name: "taken", Addr: addrA.String()})
		err = Run(context.Background(), time.Second, a, b)
		if err == nil || !strings.Contains(err.Error(), "httpserver taken") {
			t.Errorf("Run = %v, want the bind error of b", err)
		}
		waitRefused(t, addrA.String())
	})
}

// selfSigned returns a TLS certificate for 127.0.0.1.
func selfSigned(t *testing.T) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// syncBuffer is a bytes.Buffer safe for the server's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

func TestTLSAndErrorLog(t *testing.T) {
	var logs syncBuffer
	logger := slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	cert := selfSigned(t)
	s := New(Options{Name: "https", Addr: "127.0.0.1:0", Logger: logger,
		TLSConfig: &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12},
		Handler:   http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "tls ok") })})
	base, _, _ := start(t, s)
	addr := strings.TrimPrefix(base, "http://")

	pool := x509.NewCertPool()
	leaf, _ := x509.ParseCertificate(cert.Certificate[0])
	pool.AddCert(leaf)
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	resp, err := client.Get("https://" + addr + "/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "tls ok" {
		t.Errorf("body = %q", body)
	}

	// A client that speaks plain HTTP to the TLS port causes a handshake error.
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.WriteString(c, "GET / HTTP/1.0\r\n\r\n")
	_, _ = io.ReadAll(c) // the server answers and closes
	c.Close()

	// The error log line is written asynchronously to the connection's end: poll.
	var line map[string]any
	for range 400 {
		for l := range strings.Lines(logs.String()) {
			var m map[string]any
			if json.Unmarshal([]byte(l), &m) != nil {
				t.Fatalf("log line is not JSON: %q", l)
			}
			if msg, _ := m["error"].(string); strings.HasPrefix(msg, "http: TLS handshake error") {
				line = m
			}
		}
		if line != nil {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	if line == nil {
		t.Fatalf("no handshake error logged:\n%s", logs.String())
	}
	if line["level"] != "DEBUG" || line["server"] != "https" {
		t.Errorf("handshake error logged as %v", line)
	}
}

func TestErrorLogLevels(t *testing.T) {
	for msg, want := range map[string]string{
		"http: TLS handshake error from 192.0.2.1:1234: EOF\n":        "DEBUG",
		"http: panic serving 192.0.2.1:1234: boom\ngoroutine 1 ...\n": "ERROR",
		"http: superfluous response.WriteHeader call\n":               "WARN",
	} {
		var buf bytes.Buffer
		newErrorLog(slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})), "ops").Print(msg)
		var m map[string]any
		if err := json.Unmarshal(buf.Bytes(), &m); err != nil {
			t.Fatalf("%q: %v", msg, err)
		}
		if m["level"] != want || m["error"] != strings.TrimSpace(msg) {
			t.Errorf("%q logged as %v, want level %s", msg, m, want)
		}
	}
}

func TestTLSWithoutCertificate(t *testing.T) {
	s := New(Options{Name: "https", Addr: "127.0.0.1:0", TLSConfig: &tls.Config{}})
	if _, err := s.Listen(); err == nil || !strings.Contains(err.Error(), "no certificate") {
		t.Errorf("Listen = %v, want a no-certificate error", err)
	}
}

// TestWithObsMiddleware composes the server as main does: obs outermost, so the body
// limit's 413 carries x-fapi-interaction-id and is logged (as "unmatched": it is
// refused before routing), and routed requests keep their pattern through the limit.
func TestWithObsMiddleware(t *testing.T) {
	var logs syncBuffer
	mux := http.NewServeMux()
	mux.HandleFunc("POST /token", func(w http.ResponseWriter, r *http.Request) {})
	s := New(Options{Addr: "127.0.0.1:0", Handler: mux, MaxBodyBytes: 8,
		Middleware: obs.Middleware(obs.NewLogger(&logs, "info"), obs.NewMetrics())})
	base, stop, wait := start(t, s)

	var ids []string
	for _, tc := range []struct {
		body   string
		status int
	}{{"grant_type=client_credentials", 413}, {"a=b", 200}} {
		resp, err := http.Post(base+"/token", "application/x-www-form-urlencoded", strings.NewReader(tc.body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.status {
			t.Errorf("status = %d, want %d", resp.StatusCode, tc.status)
		}
		iid := resp.Header.Get(obs.HeaderInteractionID)
		if iid == "" {
			t.Errorf("%d response lacks x-fapi-interaction-id", resp.StatusCode)
		}
		ids = append(ids, iid)
	}
	stop()
	if err := wait(); err != nil {
		t.Fatal(err)
	}
	type event struct {
		Route  string  `json:"route"`
		Status float64 `json:"status"`
		IID    string  `json:"x-fapi-interaction-id"`
	}
	var got []event
	for l := range strings.Lines(logs.String()) {
		var e event
		if err := json.Unmarshal([]byte(l), &e); err != nil {
			t.Fatal(err)
		}
		got = append(got, e)
	}
	want := []event{{"unmatched", 413, ids[0]}, {"POST /token", 200, ids[1]}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("request events (-want +got):\n%s", diff)
	}
}
