// Command journeyload drives the customer-journey endpoints of an authorization server —
// Portcullis or the peer (oidc-provider, /work/shared/peers) — for BENCHMARKS.md. It is a copy
// of the peer's loadgen (same output conventions: requests/s, latency percentiles, server CPU
// from /proc/PID/stat) extended with three modes, all with tls_client_auth over mTLS and
// keep-alive connections:
//
//	-mode par      pushed authorization requests (RFC 9126) in a timed window.
//	-mode code     authorization_code exchanges: -n codes are made first, untimed, by running
//	               n journeys through the server's pages over HTTP (PAR, /authorize, login,
//	               for Portcullis TOTP, approval), then the codes are exchanged in the timed
//	               window (bounded by -d and by the n codes).
//	-mode journey  whole journeys per second: PAR, /authorize, the pages, the code exchange.
//
// Pages: -server portcullis drives /customer/login, /customer/otp and /customer/approve
// (CSRF token from each form; customers and their TOTP secrets from -users, each one-time
// code used once per customer, as the server demands); -server peer drives oidc-provider's
// devInteractions (any login, then consent).
//
// -pprof-url (journey mode): a Go pprof CPU profile endpoint of the server fetched for the
// timed window into -pprof-out. Every run is bounded in time and count. Standard library only.
package main

import (
	"bufio"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/base32"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"regexp"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

type config struct {
	mode, server                   string
	parURL, tokenURL, authorizeURL string
	clientID, redirect, scope      string
	cert, key, ca, serverName      string
	users, usersState              string
	conc                           int
	dur, warmup, timeout           time.Duration
	max                            int64
	rounds                         int
	serverPID                      int
	label                          string
	pprofURL, pprofOut             string
	verbose                        bool
}

func main() {
	var c config
	flag.StringVar(&c.mode, "mode", "par", "par | code | journey")
	flag.StringVar(&c.server, "server", "portcullis", "portcullis | peer (which pages to drive)")
	flag.StringVar(&c.parURL, "par-url", "", "pushed authorization request endpoint (mTLS)")
	flag.StringVar(&c.tokenURL, "token-url", "", "token endpoint (mTLS)")
	flag.StringVar(&c.authorizeURL, "authorize-url", "", "authorization endpoint (browser-facing)")
	flag.StringVar(&c.clientID, "client-id", "tls-client", "client_id (tls_client_auth)")
	flag.StringVar(&c.redirect, "redirect-uri", "https://client2.example.com/cb", "registered redirect_uri")
	flag.StringVar(&c.scope, "scope", "openid", "scope of the authorization requests")
	flag.StringVar(&c.cert, "cert", "", "client certificate PEM")
	flag.StringVar(&c.key, "key", "", "client certificate key PEM")
	flag.StringVar(&c.ca, "ca", "", "CA bundle to verify the server")
	flag.StringVar(&c.serverName, "server-name", "", "TLS server name (default: the URL's host)")
	flag.StringVar(&c.users, "users", "", "portcullis: file of customers, one per line: ID PASSWORD TOTP-BASE32")
	flag.StringVar(&c.usersState, "users-state", "", "portcullis: file keeping each customer's last TOTP step between runs (read and rewritten)")
	flag.IntVar(&c.conc, "c", 8, "concurrency")
	flag.DurationVar(&c.dur, "d", 10*time.Second, "measured duration (hard bound)")
	flag.DurationVar(&c.warmup, "warmup", time.Second, "warm-up before measuring (par, journey)")
	flag.Int64Var(&c.max, "n", 1_000_000, "max measured requests; in code mode the number of codes made first")
	flag.IntVar(&c.rounds, "rounds", 1, "code mode: make-then-exchange rounds of -n codes each (the peer's in-memory store keeps ~1000 objects: a few per journey)")
	flag.DurationVar(&c.timeout, "timeout", 10*time.Second, "per-request timeout")
	flag.IntVar(&c.serverPID, "server-pid", 0, "report the CPU this local process used in the measured window")
	flag.StringVar(&c.label, "label", "", "free-form label echoed in the output")
	flag.StringVar(&c.pprofURL, "pprof-url", "", "journey mode: http://HOST:PORT/debug/pprof/profile of the server")
	flag.StringVar(&c.pprofOut, "pprof-out", "cpu.pprof", "where the CPU profile is written")
	flag.BoolVar(&c.verbose, "v", false, "print the first errors in full")
	flag.Parse()
	if err := run(c); err != nil {
		fmt.Fprintln(os.Stderr, "journeyload:", err)
		os.Exit(1)
	}
}

// ---- the clients ---------------------------------------------------------------------------

type bench struct {
	c     config
	tpp   *http.Client // mTLS, keep-alive
	tr    *http.Transport
	users *userPool
}

func newBench(c config) (*bench, error) {
	pair, err := tls.LoadX509KeyPair(c.cert, c.key)
	if err != nil {
		return nil, fmt.Errorf("client cert: %w", err)
	}
	caPEM, err := os.ReadFile(c.ca)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		return nil, errors.New("no CA certificate in " + c.ca)
	}
	tc := &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{pair}, MinVersion: tls.VersionTLS12, ServerName: c.serverName}
	tr := &http.Transport{
		TLSClientConfig: tc, MaxIdleConns: 4 * c.conc, MaxIdleConnsPerHost: 4 * c.conc, IdleConnTimeout: 60 * time.Second,
		DialContext: (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
	}
	b := &bench{c: c, tr: tr, tpp: &http.Client{Transport: tr, Timeout: c.timeout}}
	if c.server == "portcullis" && c.mode != "par" {
		if b.users, err = loadUsers(c.users, c.usersState); err != nil {
			return nil, err
		}
	}
	return b, nil
}

// browser is a customer's browser: its own cookie jar, redirects not followed (each is
// checked), the shared transport (the TLS client certificate is only sent where asked for).
func (b *bench) browser() *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Transport: b.tr, Jar: jar, Timeout: b.c.timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

func postForm(c *http.Client, u string, form url.Values) (int, []byte, http.Header, error) {
	req, err := http.NewRequest(http.MethodPost, u, strings.NewReader(form.Encode()))
	if err != nil {
		return 0, nil, nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := c.Do(req)
	if err != nil {
		return 0, nil, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, body, resp.Header, err
}

func get(c *http.Client, u string) (int, []byte, http.Header, error) {
	resp, err := c.Get(u)
	if err != nil {
		return 0, nil, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, body, resp.Header, err
}

func randomString(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// par pushes one authorization request and returns its request_uri and PKCE verifier.
func (b *bench) par() (string, string, error) {
	verifier := randomString(32)
	sum := sha256.Sum256([]byte(verifier))
	form := url.Values{
		"client_id": {b.c.clientID}, "response_type": {"code"}, "redirect_uri": {b.c.redirect},
		"scope": {b.c.scope}, "state": {randomString(12)}, "nonce": {randomString(12)},
		"code_challenge": {base64.RawURLEncoding.EncodeToString(sum[:])}, "code_challenge_method": {"S256"},
	}
	status, body, _, err := postForm(b.tpp, b.c.parURL, form)
	if err != nil {
		return "", "", err
	}
	var r struct {
		RequestURI string `json:"request_uri"`
	}
	if status != http.StatusCreated || json.Unmarshal(body, &r) != nil || r.RequestURI == "" {
		return "", "", fmt.Errorf("PAR: http %d: %s", status, trunc(string(body), 160))
	}
	return r.RequestURI, verifier, nil
}

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// authorize runs the browser part of a journey for requestURI and returns the code.
func (b *bench) authorize(requestURI string) (string, error) {
	br := b.browser()
	next := b.c.authorizeURL + "?" + url.Values{"client_id": {b.c.clientID}, "request_uri": {requestURI}}.Encode()
	var posted int
	var user *customer
	defer func() {
		if user != nil {
			b.users.put(user)
		}
	}()
	for hop := 0; hop < 16; hop++ {
		status, body, hdr, err := get(br, next)
		if err != nil {
			return "", err
		}
		if status == http.StatusSeeOther || status == http.StatusFound {
			loc, err := url.Parse(next)
			if err != nil {
				return "", err
			}
			to, err := loc.Parse(hdr.Get("Location"))
			if err != nil {
				return "", err
			}
			next = to.String()
			if strings.HasPrefix(next, b.c.redirect) {
				return codeFrom(to)
			}
			continue
		}
		if status != http.StatusOK {
			return "", fmt.Errorf("GET %s: http %d: %s", trimURL(next), status, trunc(string(body), 160))
		}
		var form url.Values
		switch b.c.server {
		case "peer": // devInteractions: any login, then consent, POSTed to the page's URL
			if posted == 0 && strings.Contains(string(body), `name="login"`) {
				form = url.Values{"prompt": {"login"}, "login": {"alice"}, "password": {"x"}}
			} else {
				form = url.Values{"prompt": {"consent"}}
			}
		default:
			m := csrfField.FindSubmatch(body)
			if m == nil {
				return "", fmt.Errorf("no CSRF token on %s", trimURL(next))
			}
			u, _ := url.Parse(next)
			switch u.Path {
			case "/customer/login":
				if user == nil {
					if user, err = b.users.get(); err != nil {
						return "", err
					}
				}
				form = url.Values{"username": {user.id}, "password": {user.password}}
			case "/customer/otp":
				if user == nil {
					return "", errors.New("OTP page before login")
				}
				code, err := user.nextCode(time.Now())
				if err != nil {
					return "", err
				}
				form = url.Values{"otp": {code}}
			case "/customer/approve":
				form = url.Values{"action": {"approve"}}
			default:
				return "", fmt.Errorf("unexpected page %s", u.Path)
			}
			form.Set("csrf", string(m[1]))
		}
		posted++
		status, body, hdr, err = postForm(br, next, form)
		if err != nil {
			return "", err
		}
		if status != http.StatusSeeOther && status != http.StatusFound {
			return "", fmt.Errorf("POST %s: http %d: %s", trimURL(next), status, trunc(string(body), 160))
		}
		loc, _ := url.Parse(next)
		to, err := loc.Parse(hdr.Get("Location"))
		if err != nil {
			return "", err
		}
		next = to.String()
		if strings.HasPrefix(next, b.c.redirect) {
			return codeFrom(to)
		}
	}
	return "", errors.New("the journey did not reach the redirect_uri in 16 steps")
}

func codeFrom(u *url.URL) (string, error) {
	q := u.Query()
	if e := q.Get("error"); e != "" {
		return "", fmt.Errorf("authorization error %s: %s", e, q.Get("error_description"))
	}
	if q.Get("code") == "" {
		return "", fmt.Errorf("no code in %s", trimURL(u.String()))
	}
	return q.Get("code"), nil
}

// exchange redeems a code at the token endpoint.
func (b *bench) exchange(code, verifier string) error {
	status, body, _, err := postForm(b.tpp, b.c.tokenURL, url.Values{
		"grant_type": {"authorization_code"}, "client_id": {b.c.clientID}, "code": {code},
		"redirect_uri": {b.c.redirect}, "code_verifier": {verifier},
	})
	if err != nil {
		return err
	}
	if status != http.StatusOK || !strings.Contains(string(body), `"access_token"`) {
		return fmt.Errorf("token: http %d: %s", status, trunc(string(body), 160))
	}
	return nil
}

func (b *bench) journey() error {
	uri, verifier, err := b.par()
	if err != nil {
		return err
	}
	code, err := b.authorize(uri)
	if err != nil {
		return err
	}
	return b.exchange(code, verifier)
}

// ---- customers (Portcullis) --------------------------------------------------------------

type customer struct {
	id, password string
	secret       []byte
	lastStep     int64
}

// nextCode returns a one-time code of a step after the last one used (RFC 6238, SHA-1, 6
// digits, 30 s; the server accepts one step either side), or an error when this customer
// has used every acceptable step.
func (c *customer) nextCode(now time.Time) (string, error) {
	cur := now.Unix() / 30
	s := max(c.lastStep+1, cur-1)
	if s > cur+1 {
		return "", errors.New("customer has no unused one-time code left")
	}
	c.lastStep = s
	var msg [8]byte
	binary.BigEndian.PutUint64(msg[:], uint64(s))
	m := hmac.New(sha1.New, c.secret)
	m.Write(msg[:])
	h := m.Sum(nil)
	o := h[len(h)-1] & 0x0f
	v := binary.BigEndian.Uint32(h[o:o+4]) & 0x7fffffff
	return fmt.Sprintf("%06d", v%1_000_000), nil
}

// usable reports whether c has a step left at now.
func (c *customer) usable(now time.Time) bool {
	return max(c.lastStep+1, now.Unix()/30-1) <= now.Unix()/30+1
}

type userPool struct {
	mu        sync.Mutex
	idle      []*customer
	statePath string
}

func loadUsers(path, statePath string) (*userPool, error) {
	if path == "" {
		return nil, errors.New("-users is required to log in to portcullis")
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	p := &userPool{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fs := strings.Fields(sc.Text())
		if len(fs) != 3 {
			continue
		}
		secret, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(strings.ToUpper(strings.TrimRight(fs[2], "=")))
		if err != nil {
			return nil, fmt.Errorf("%s: TOTP secret of %s: %w", path, fs[0], err)
		}
		p.idle = append(p.idle, &customer{id: fs[0], password: fs[1], secret: secret})
	}
	if len(p.idle) == 0 {
		return nil, errors.New("no customers in " + path)
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if statePath != "" {
		p.statePath = statePath
		last := map[string]int64{}
		if data, err := os.ReadFile(statePath); err == nil {
			for _, line := range strings.Split(string(data), "\n") {
				var id string
				var step int64
				if n, _ := fmt.Sscan(line, &id, &step); n == 2 {
					last[id] = step
				}
			}
		}
		for _, c := range p.idle {
			c.lastStep = last[c.id]
		}
	}
	return p, nil
}

// save writes every customer's last TOTP step to the state file, for the next run.
func (p *userPool) save() error {
	if p == nil || p.statePath == "" {
		return nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	var sb strings.Builder
	for _, c := range p.idle {
		fmt.Fprintf(&sb, "%s %d\n", c.id, c.lastStep)
	}
	return os.WriteFile(p.statePath, []byte(sb.String()), 0o600)
}

// get takes a customer with a one-time code left, waiting (bounded) for the next TOTP step
// when every customer has used theirs.
func (p *userPool) get() (*customer, error) {
	deadline := time.Now().Add(40 * time.Second)
	for time.Now().Before(deadline) {
		p.mu.Lock()
		now := time.Now()
		for i, c := range p.idle {
			if c.usable(now) {
				p.idle = append(p.idle[:i], p.idle[i+1:]...)
				p.mu.Unlock()
				return c, nil
			}
		}
		p.mu.Unlock()
		time.Sleep(50 * time.Millisecond)
	}
	return nil, errors.New("no customer with an unused one-time code (add customers)")
}

func (p *userPool) put(c *customer) {
	p.mu.Lock()
	p.idle = append(p.idle, c)
	p.mu.Unlock()
}

// ---- the runs ------------------------------------------------------------------------------

type tally struct {
	mu   sync.Mutex
	lat  []time.Duration
	errs map[string]int64
}

func (t *tally) add(d time.Duration, err error, verbose bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if err != nil {
		k := shortErr(err)
		if verbose && t.errs[k] == 0 {
			fmt.Fprintln(os.Stderr, "error:", err)
		}
		t.errs[k]++
		return
	}
	t.lat = append(t.lat, d)
}

type window struct {
	start, end     time.Time
	elapsed        time.Duration // the measured time (summed over rounds)
	srvCPU, lgCPU  time.Duration
	srv0, lg0      time.Duration
	pprofDone      chan error
	pprofRequested bool
}

func (b *bench) open(w *window) {
	w.srv0, w.lg0 = procCPU(b.c.serverPID), selfCPU()
	w.start = time.Now()
}

func (b *bench) close(w *window) {
	w.end = time.Now()
	w.elapsed += w.end.Sub(w.start)
	w.srvCPU += procCPU(b.c.serverPID) - w.srv0
	w.lgCPU += selfCPU() - w.lg0
}

// timed runs op on c workers: warm-up, then the measured window bounded by -d and -n.
func (b *bench) timed(op func() error, w *window) *tally {
	t := &tally{errs: map[string]int64{}}
	var measuring, stop atomic.Bool
	var issued atomic.Int64
	var wg sync.WaitGroup
	for i := 0; i < b.c.conc; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !stop.Load() {
				m := measuring.Load()
				if m && issued.Add(1) > b.c.max {
					return
				}
				t0 := time.Now()
				err := op()
				if m {
					t.add(time.Since(t0), err, b.c.verbose)
				}
			}
		}()
	}
	time.Sleep(b.c.warmup)
	if b.c.pprofURL != "" {
		w.pprofDone = make(chan error, 1)
		w.pprofRequested = true
		go func() { w.pprofDone <- fetchProfile(b.c.pprofURL, b.c.dur, b.c.pprofOut) }()
	}
	b.open(w)
	measuring.Store(true)
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-time.After(b.c.dur):
	case <-done:
	}
	stop.Store(true)
	b.close(w)
	select {
	case <-done:
	case <-time.After(b.c.timeout + 5*time.Second):
		fmt.Fprintln(os.Stderr, "warning: workers did not finish in time")
	}
	return t
}

type pending struct{ code, verifier string }

func run(c config) error {
	if c.conc < 1 {
		c.conc = 1
	}
	b, err := newBench(c)
	if err != nil {
		return err
	}
	var w window
	var t *tally
	extra := ""
	switch c.mode {
	case "par":
		t = b.timed(func() error { _, _, err := b.par(); return err }, &w)
	case "journey":
		t = b.timed(b.journey, &w)
	case "code":
		t = &tally{errs: map[string]int64{}}
		var made int
		var gen time.Duration
		for range max(c.rounds, 1) {
			codes, d := b.makeCodes(int(c.max))
			made += len(codes)
			gen += d
			b.exchangeAll(codes, t, &w)
		}
		extra = fmt.Sprintf("rounds=%d codes=%d made_in=%.1fs (%.1f journeys/s untimed)", max(c.rounds, 1), made, gen.Seconds(), float64(made)/gen.Seconds())
	default:
		return fmt.Errorf("unknown -mode %q", c.mode)
	}
	report(c, t, &w, extra)
	if err := b.users.save(); err != nil {
		fmt.Fprintln(os.Stderr, "users state:", err)
	}
	if w.pprofRequested {
		if err := <-w.pprofDone; err != nil {
			fmt.Fprintln(os.Stderr, "pprof:", err)
		}
	}
	return nil
}

// makeCodes makes up to n codes (untimed) by running journeys on c workers, within 55 s:
// codes live 60 s on both servers.
func (b *bench) makeCodes(n int) ([]pending, time.Duration) {
	codes := make(chan pending, n)
	var made, failed atomic.Int64
	var firstErr atomic.Value
	g0 := time.Now()
	deadline := g0.Add(55 * time.Second)
	var wg sync.WaitGroup
	for i := 0; i < b.c.conc; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(deadline) && made.Load()+failed.Load() < int64(n) && failed.Load() < 50 {
				uri, v, err := b.par()
				if err == nil {
					var code string
					if code, err = b.authorize(uri); err == nil {
						if made.Add(1) > int64(n) {
							return
						}
						codes <- pending{code, v}
						continue
					}
				}
				failed.Add(1)
				firstErr.CompareAndSwap(nil, err.Error())
			}
		}()
	}
	wg.Wait()
	close(codes)
	gen := time.Since(g0)
	if f := failed.Load(); f > 0 {
		fmt.Fprintf(os.Stderr, "warning: %d journeys failed while making codes; first: %v\n", f, firstErr.Load())
	}
	out := make([]pending, 0, len(codes))
	for p := range codes {
		out = append(out, p)
	}
	return out, gen
}

// exchangeAll redeems codes on c workers in one measured window (bounded by -d).
func (b *bench) exchangeAll(codes []pending, t *tally, w *window) {
	ch := make(chan pending, len(codes))
	for _, p := range codes {
		ch <- p
	}
	close(ch)
	b.open(w)
	stopAt := time.Now().Add(b.c.dur)
	var wg sync.WaitGroup
	for i := 0; i < b.c.conc; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for p := range ch {
				if time.Now().After(stopAt) {
					return
				}
				t0 := time.Now()
				err := b.exchange(p.code, p.verifier)
				t.add(time.Since(t0), err, b.c.verbose)
			}
		}()
	}
	wg.Wait()
	b.close(w)
}

func fetchProfile(u string, d time.Duration, out string) error {
	secs := int(d.Seconds())
	if secs < 1 {
		secs = 1
	}
	ctx, cancel := context.WithTimeout(context.Background(), d+30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, fmt.Sprintf("%s?seconds=%d", u, secs), nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("http %d", resp.StatusCode)
	}
	f, err := os.Create(out)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, io.LimitReader(resp.Body, 64<<20)); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func report(c config, t *tally, w *window, extra string) {
	sort.Slice(t.lat, func(i, j int) bool { return t.lat[i] < t.lat[j] })
	ok := len(t.lat)
	var nerr int64
	for _, v := range t.errs {
		nerr += v
	}
	el := w.elapsed
	rps := float64(ok) / el.Seconds()
	p := func(q float64) float64 {
		if ok == 0 {
			return 0
		}
		i := min(max(int(q*float64(ok)+0.5)-1, 0), ok-1)
		return float64(t.lat[i].Microseconds()) / 1000
	}
	cpu := fmt.Sprintf("loadgen_cpu=%.0f%%", 100*w.lgCPU.Seconds()/el.Seconds())
	if c.serverPID != 0 {
		us := 0.0
		if ok > 0 {
			us = float64(w.srvCPU.Microseconds()) / float64(ok)
		}
		cpu += fmt.Sprintf(" server_cpu=%.0f%% server_cpu_us_per_req=%.0f", 100*w.srvCPU.Seconds()/el.Seconds(), us)
	}
	fmt.Printf("mode=%s server=%s c=%d ok=%d err=%d dur=%.2fs rps=%.1f p50=%.2fms p90=%.2fms p99=%.2fms %s %s %s\n",
		c.mode, c.server, c.conc, ok, nerr, el.Seconds(), rps, p(0.5), p(0.9), p(0.99), cpu, extra, c.label)
	keys := make([]string, 0, len(t.errs))
	for k := range t.errs {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return t.errs[keys[i]] > t.errs[keys[j]] })
	for i, k := range keys {
		if i == 5 {
			break
		}
		fmt.Printf("    %6d x %s\n", t.errs[k], k)
	}
}

func trunc(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

func trimURL(s string) string {
	if i := strings.IndexAny(s, "?#"); i >= 0 {
		return s[:i]
	}
	return s
}

func shortErr(err error) string { return trunc(err.Error(), 160) }

// procCPU returns utime+stime of a process from /proc/<pid>/stat (0 if unavailable).
func procCPU(pid int) time.Duration {
	if pid == 0 {
		return 0
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 13 {
		return 0
	}
	var ut, st int64
	fmt.Sscan(f[11], &ut)
	fmt.Sscan(f[12], &st)
	const hz = 100 // USER_HZ
	return time.Duration(ut+st) * time.Second / hz
}

func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
