// Command soakload is the load generator of scripts/bench/soak.sh: for a fixed duration, at a
// fixed concurrency, it sends a mix of client_credentials token requests, gateway calls and
// consent creations to one base URL (the load balancer) with one mTLS client (a
// tls_client_auth TPP), and reports errors by kind, latency percentiles per operation and the
// resident set size of the server processes it is given, sampled every few seconds.
//
// Each worker runs the operations in turn (token, gateway, consent, gateway, consent, ...; the
// -mix weights): a token request replaces the worker's access token, the gateway call reads a
// payment status (GET /open-banking/v3.1/pisp/domestic-payments/{random id}: every check of
// the gateway passes and the sandbox bank answers 404 with ErrorCode UK.OBIE.Resource.NotFound, the expected
// answer), the consent creation posts an account-access consent (201). Every request carries
// a fresh x-fapi-interaction-id and the response must echo it. Anything else is an error,
// counted by kind: "op:transport", "op:status=NNN", "op:body", "op:interaction-id".
//
// Standard library only; bounded by -d and -n. It starts no process and stops none.
package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/url"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

const (
	pathToken    = "/token"
	pathPayment  = "/open-banking/v3.1/pisp/domestic-payments/"
	pathConsents = "/open-banking/v3.1/aisp/account-access-consents"
	maxSamples   = 4_000_000 // latency samples kept per operation
)

type op int

const (
	opToken op = iota
	opGateway
	opConsent
	numOps
)

var opNames = [numOps]string{"token", "gateway", "consent"}

type stats struct {
	mu     sync.Mutex
	lat    [numOps][]time.Duration
	ok     [numOps]int64
	errors map[string]int64
	sample map[string]string // one example body per error kind
}

func (s *stats) record(o op, d time.Duration, errKind, detail string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if errKind == "" {
		s.ok[o]++
		if len(s.lat[o]) < maxSamples {
			s.lat[o] = append(s.lat[o], d)
		}
		return
	}
	k := opNames[o] + ":" + errKind
	s.errors[k]++
	if _, ok := s.sample[k]; !ok {
		if len(detail) > 300 {
			detail = detail[:300]
		}
		s.sample[k] = detail
	}
}

func main() {
	base := flag.String("url", "", "base URL of the load balancer (https://127.0.0.1:port)")
	certFile := flag.String("cert", "", "client certificate (PEM, leaf first)")
	keyFile := flag.String("key", "", "client private key (PEM)")
	caFile := flag.String("ca", "", "CA of the load balancer's server certificate (PEM)")
	clientID := flag.String("client-id", "", "tls_client_auth client id")
	conc := flag.Int("c", 64, "concurrency (workers)")
	dur := flag.Duration("d", 120*time.Second, "duration")
	maxReq := flag.Int64("n", 50_000_000, "maximum requests in all")
	mix := flag.String("mix", "1,2,2", "weights of token,gateway,consent in each worker's cycle")
	pids := flag.String("pids", "", "name=pid,... server processes whose RSS is sampled")
	every := flag.Duration("rss-every", 5*time.Second, "RSS sampling interval")
	metricURLs := flag.String("metrics", "", "name=url,... Prometheus endpoints of the servers: the live heap and goroutines are sampled with the RSS")
	flag.Parse()
	if *base == "" || *certFile == "" || *keyFile == "" || *caFile == "" || *clientID == "" {
		log.Fatal("soakload: -url, -cert, -key, -ca and -client-id are required")
	}
	cycle, err := parseMix(*mix)
	if err != nil {
		log.Fatal(err)
	}
	hc, err := newClient(*certFile, *keyFile, *caFile, *conc)
	if err != nil {
		log.Fatal(err)
	}
	procs, err := parsePIDs(*pids)
	if err != nil {
		log.Fatal(err)
	}
	endpoints, err := parseMetricURLs(*metricURLs)
	if err != nil {
		log.Fatal(err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), *dur)
	defer cancel()
	st := &stats{errors: map[string]int64{}, sample: map[string]string{}}
	var sent atomic.Int64
	start := time.Now()

	rssDone := make(chan struct{})
	go func() { defer close(rssDone); sampleRSS(ctx, procs, endpoints, *every, start) }()

	var wg sync.WaitGroup
	for w := range *conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			wk := worker{hc: hc, base: *base, clientID: *clientID, st: st}
			// A request is started only before the deadline and always completes (or times
			// out): the run's end never cancels one in flight, so the servers see no
			// client going away and every outcome is counted.
			for i := w; ctx.Err() == nil && sent.Add(1) <= *maxReq; i++ {
				o := cycle[i%len(cycle)]
				if wk.token == "" {
					o = opToken
				}
				wk.do(o)
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	cancel()
	<-rssDone
	report(st, elapsed, *conc)
}

func parseMix(s string) ([]op, error) {
	parts := strings.Split(s, ",")
	if len(parts) != int(numOps) {
		return nil, fmt.Errorf("soakload: -mix wants %d weights", numOps)
	}
	var cycle []op
	for i, p := range parts {
		n, err := strconv.Atoi(strings.TrimSpace(p))
		if err != nil || n < 0 || n > 100 {
			return nil, fmt.Errorf("soakload: bad -mix weight %q", p)
		}
		for range n {
			cycle = append(cycle, op(i))
		}
	}
	if len(cycle) == 0 {
		return nil, fmt.Errorf("soakload: -mix is all zero")
	}
	return cycle, nil
}

type proc struct {
	name string
	pid  int
}

func parsePIDs(s string) ([]proc, error) {
	var ps []proc
	if s == "" {
		return nil, nil
	}
	for _, f := range strings.Split(s, ",") {
		name, pid, ok := strings.Cut(f, "=")
		n, err := strconv.Atoi(pid)
		if !ok || err != nil {
			return nil, fmt.Errorf("soakload: bad -pids entry %q", f)
		}
		ps = append(ps, proc{name, n})
	}
	return ps, nil
}

func newClient(certFile, keyFile, caFile string, conc int) (*http.Client, error) {
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, err
	}
	caPEM, err := os.ReadFile(caFile)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		return nil, fmt.Errorf("soakload: no certificate in %s", caFile)
	}
	tr := &http.Transport{
		TLSClientConfig:     &tls.Config{Certificates: []tls.Certificate{cert}, RootCAs: pool, ServerName: "localhost", MinVersion: tls.VersionTLS12},
		MaxIdleConns:        conc * 2,
		MaxIdleConnsPerHost: conc * 2,
		IdleConnTimeout:     90 * time.Second,
		ForceAttemptHTTP2:   false,
	}
	return &http.Client{Transport: tr, Timeout: 30 * time.Second}, nil
}

type worker struct {
	hc       *http.Client
	base     string
	clientID string
	st       *stats
	token    string
}

func (wk *worker) do(o op) {
	ctx := context.Background() // bounded by the client's timeout
	var req *http.Request
	switch o {
	case opToken:
		form := url.Values{"grant_type": {"client_credentials"}, "client_id": {wk.clientID}, "scope": {"accounts payments"}}
		req, _ = http.NewRequestWithContext(ctx, http.MethodPost, wk.base+pathToken, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	case opGateway:
		req, _ = http.NewRequestWithContext(ctx, http.MethodGet, wk.base+pathPayment+"pay-"+randHex(8), nil)
		req.Header.Set("Authorization", "Bearer "+wk.token)
	case opConsent:
		body := `{"Data":{"Permissions":["ReadAccountsBasic","ReadBalances"]},"Risk":{}}`
		req, _ = http.NewRequestWithContext(ctx, http.MethodPost, wk.base+pathConsents, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+wk.token)
		req.Header.Set("Content-Type", "application/json")
	}
	iid := newUUID()
	req.Header.Set("X-Fapi-Interaction-Id", iid)
	start := time.Now()
	resp, err := wk.hc.Do(req)
	if err != nil {
		wk.st.record(o, 0, "transport", err.Error())
		return
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	d := time.Since(start)
	if err != nil {
		wk.st.record(o, d, "transport", err.Error())
		return
	}
	want := [numOps]int{opToken: 200, opGateway: 404, opConsent: 201}[o]
	if resp.StatusCode != want {
		wk.st.record(o, d, "status="+strconv.Itoa(resp.StatusCode), string(b))
		return
	}
	if resp.Header.Get("X-Fapi-Interaction-Id") != iid {
		wk.st.record(o, d, "interaction-id", resp.Header.Get("X-Fapi-Interaction-Id"))
		return
	}
	var m struct {
		AccessToken string `json:"access_token"`
		Errors      []struct{ ErrorCode string }
		Data        struct{ ConsentId string }
	}
	if json.Unmarshal(b, &m) != nil {
		wk.st.record(o, d, "body", string(b))
		return
	}
	switch {
	case o == opToken && m.AccessToken == "",
		o == opGateway && (len(m.Errors) != 1 || m.Errors[0].ErrorCode != "UK.OBIE.Resource.NotFound"),
		o == opConsent && m.Data.ConsentId == "":
		wk.st.record(o, d, "body", string(b))
		return
	}
	if o == opToken {
		wk.token = m.AccessToken
	}
	wk.st.record(o, d, "", "")
}

// sampleRSS prints each process's VmRSS every interval until ctx ends, and once more at the end;
// with endpoints, a second line with each server's live heap and goroutines from its metrics.
func sampleRSS(ctx context.Context, procs []proc, endpoints []endpoint, every time.Duration, start time.Time) {
	if len(procs) == 0 && len(endpoints) == 0 {
		return
	}
	t := time.NewTicker(every)
	defer t.Stop()
	mc := &http.Client{Timeout: 2 * time.Second}
	line := func() {
		var b bytes.Buffer
		fmt.Fprintf(&b, "rss t=%4.0fs", time.Since(start).Seconds())
		for _, p := range procs {
			fmt.Fprintf(&b, " %s_kb=%s", p.name, vmRSS(p.pid))
		}
		fmt.Println(b.String())
		if len(endpoints) == 0 {
			return
		}
		b.Reset()
		fmt.Fprintf(&b, "heap t=%4.0fs", time.Since(start).Seconds())
		for _, e := range endpoints {
			live, gr := heapFigures(mc, e.url)
			fmt.Fprintf(&b, " %s_live_mb=%s %s_goroutines=%s", e.name, live, e.name, gr)
		}
		fmt.Println(b.String())
	}
	line()
	for {
		select {
		case <-ctx.Done():
			line()
			return
		case <-t.C:
			line()
		}
	}
}

type endpoint struct{ name, url string }

func parseMetricURLs(s string) ([]endpoint, error) {
	var es []endpoint
	if s == "" {
		return nil, nil
	}
	for _, f := range strings.Split(s, ",") {
		name, u, ok := strings.Cut(f, "=")
		if !ok || !strings.HasPrefix(u, "http://") {
			return nil, fmt.Errorf("soakload: bad -metrics entry %q", f)
		}
		es = append(es, endpoint{name, u})
	}
	return es, nil
}

// heapFigures reads a Go server's Prometheus metrics and returns the live heap at its last GC
// in MB (the heap goal divided by 1 + GOGC/100) and its number of goroutines, "?" for what it
// could not read.
func heapFigures(c *http.Client, url string) (live, goroutines string) {
	live, goroutines = "?", "?"
	resp, err := c.Get(url)
	if err != nil {
		return
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil || resp.StatusCode != http.StatusOK {
		return
	}
	vals := map[string]float64{}
	for _, l := range strings.Split(string(body), "\n") {
		name, v, ok := strings.Cut(l, " ")
		switch name {
		case "go_memstats_next_gc_bytes", "go_gc_gogc_percent", "go_goroutines":
			if f, err := strconv.ParseFloat(strings.TrimSpace(v), 64); ok && err == nil {
				vals[name] = f
			}
		}
	}
	if g, ok := vals["go_goroutines"]; ok {
		goroutines = strconv.Itoa(int(g))
	}
	next, ok1 := vals["go_memstats_next_gc_bytes"]
	gogc, ok2 := vals["go_gc_gogc_percent"]
	if ok1 && ok2 && gogc > 0 {
		live = fmt.Sprintf("%.1f", next/(1+gogc/100)/1e6)
	}
	return
}

func vmRSS(pid int) string {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return "?"
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmRSS:"); ok {
			return strings.TrimSuffix(strings.TrimSpace(v), " kB")
		}
	}
	return "?"
}

func report(st *stats, elapsed time.Duration, conc int) {
	st.mu.Lock()
	defer st.mu.Unlock()
	var total, errs int64
	for _, n := range st.errors {
		errs += n
	}
	fmt.Printf("soak c=%d dur=%.1fs\n", conc, elapsed.Seconds())
	for o := range numOps {
		l := st.lat[o]
		sort.Slice(l, func(i, j int) bool { return l[i] < l[j] })
		total += st.ok[o]
		fmt.Printf("op=%-8s ok=%-8d rps=%8.1f p50=%s p90=%s p99=%s p999=%s max=%s\n", opNames[o], st.ok[o],
			float64(st.ok[o])/elapsed.Seconds(), pct(l, 0.50), pct(l, 0.90), pct(l, 0.99), pct(l, 0.999), pct(l, 1))
	}
	fmt.Printf("total ok=%d errors=%d rps=%.1f\n", total, errs, float64(total)/elapsed.Seconds())
	keys := make([]string, 0, len(st.errors))
	for k := range st.errors {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Printf("error kind=%s count=%d example=%q\n", k, st.errors[k], st.sample[k])
	}
}

func pct(sorted []time.Duration, p float64) string {
	if len(sorted) == 0 {
		return "-"
	}
	i := int(p*float64(len(sorted))) - 1
	i = max(0, min(i, len(sorted)-1))
	return fmt.Sprintf("%.2fms", float64(sorted[i].Microseconds())/1000)
}

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}
