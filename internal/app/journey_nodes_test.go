package app_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/config"
	"github.com/portcullis/portcullis/internal/identity"
	"github.com/portcullis/portcullis/internal/pki"
	"github.com/portcullis/portcullis/internal/store/storetest"
)

// replayAttempts is how many concurrent attempts each replay row makes, split between the
// two nodes.
const replayAttempts = 10

// TestJourneyReplaysAcrossNodes runs two dev servers (two app.New) on one PostgreSQL
// database, sharing the data directory (signing keys and subject secret, the sandbox CA,
// the customers' secret key, the web session key) as the nodes of one deployment do, and
// uses a code, a request_uri and a refresh token on both at once: exactly one attempt wins.
func TestJourneyReplaysAcrossNodes(t *testing.T) {
	dbURL := storetest.PostgresURL(t)
	dirA, dirB := t.TempDir(), t.TempDir()
	a := startApp(t, func(cfg *config.Config) {
		cfg.DataDir = dirA
		cfg.Database.URL = config.SecretURL(dbURL)
		cfg.HTTP.MaxConnectionsPerAddress = 1024
	})
	// Node B shares node A's signing keys and subject secret (keys.dir), web session key,
	// customers' secret key, TLS server certificate, and trusts node A's sandbox CA (the
	// clients' QWACs); it keeps its own sandbox (dev mode needs one).
	key, err := os.ReadFile(filepath.Join(dirA, identity.SecretKeyFile))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dirB, identity.SecretKeyFile), key, 0o600); err != nil {
		t.Fatal(err)
	}
	b := startApp(t, func(cfg *config.Config) {
		cfg.DataDir = dirB
		cfg.Database.URL = config.SecretURL(dbURL)
		cfg.HTTP.MaxConnectionsPerAddress = 1024
		cfg.Keys.Dir = filepath.Join(dirA, "keys")
		cfg.Web.SessionKeyFile = filepath.Join(dirA, "web-session.key")
		cfg.TLS.CertFile, cfg.TLS.KeyFile = filepath.Join(dirA, "pki", "server.crt"), filepath.Join(dirA, "pki", "server.key")
		cfg.Trust.Anchors = []config.Anchor{{Name: "node-a", File: filepath.Join(dirA, "pki", "ca.crt"), Profile: pki.ProfileEIDAS}}
		cfg.Trust.IntermediatesFile = filepath.Join(dirA, "pki", "issuing.crt")
	})
	ea := newJourneyEnv(t, a)
	eb := *ea // node B: the same clients, customers and keys, B's listeners
	eb.a = b
	eb.mtlsBase, eb.publicBase = "https://"+b.HTTPSAddr().String(), "https://"+b.PublicAddr().String()
	nodes := []*journeyEnv{ea, &eb}

	// race runs replayAttempts attempts at once, alternating between the nodes, and
	// returns their results.
	race := func(attempt func(i int, e *journeyEnv) (int, string)) ([]int, []string) {
		var wg sync.WaitGroup
		start := make(chan struct{})
		statuses, details := make([]int, replayAttempts), make([]string, replayAttempts)
		for i := range replayAttempts {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				statuses[i], details[i] = attempt(i, nodes[i%2])
			}()
		}
		close(start)
		wg.Wait()
		return statuses, details
	}

	// post is a concurrent-safe POST of form to an mTLS endpoint of node e as client id.
	post := func(e *journeyEnv, id, path string, form url.Values) (int, string) {
		resp, err := e.tpp[id].PostForm(e.mtlsBase+path, form)
		if err != nil {
			return 0, err.Error()
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}

	t.Run("code", func(t *testing.T) {
		ea.t, eb.t = t, t
		code := ea.codeOf(fapi2PAR())
		statuses, bodies := race(func(_ int, e *journeyEnv) (int, string) {
			return post(e, negFAPI2, "/token", url.Values{"grant_type": {"authorization_code"}, "client_id": {negFAPI2},
				"code": {code}, "redirect_uri": {journeyRedirect}, "code_verifier": {negVerifier}})
		})
		winner := exactlyOne(t, statuses, bodies, http.StatusOK, http.StatusBadRequest, `"invalid_grant"`)
		// The replays revoked the winner's tokens on both nodes: the deny-list of the node
		// that did not see a replay learns it from the store within its refresh interval.
		at := jsonField(t, bodies[winner], "access_token")
		for _, e := range nodes {
			e.t = t
			deadline := time.Now().Add(15 * time.Second)
			for e.introspect(negFAPI2, at) {
				if time.Now().After(deadline) {
					t.Fatalf("node %s: the replayed code's access token is still active", e.mtlsBase)
				}
				time.Sleep(100 * time.Millisecond)
			}
		}
	})

	t.Run("request_uri", func(t *testing.T) {
		ea.t, eb.t = t, t
		uri := ea.push(negFAPI2, fapi2PAR())
		q := url.Values{"client_id": {negFAPI2}, "request_uri": {uri}}
		// Two customers, one on each node, open the same request_uri (a page load does not
		// consume it) and reach the approval page; then every approval is posted at once,
		// each browser's to both nodes (the session cookie is valid on both).
		type approval struct {
			b          *http.Client
			page, csrf string
		}
		var approvals []approval
		for _, e := range nodes {
			br := browser(t, e.root)
			status, loc, body := e.authorize(br, http.MethodGet, q)
			if status != http.StatusSeeOther {
				t.Fatalf("/authorize on %s: %d %s", e.publicBase, status, body)
			}
			c, otp := ea.customer()
			login := e.publicBase + loc
			next := submit(t, br, login, url.Values{"csrf": {page(t, br, login)}, "username": {c.id}, "password": {c.password}})
			next = submit(t, br, e.publicBase+next, url.Values{"csrf": {page(t, br, e.publicBase+next)}, "otp": {otp}})
			approvals = append(approvals, approval{b: br, page: next, csrf: page(t, br, e.publicBase+next)})
		}
		statuses, locations := race(func(i int, e *journeyEnv) (int, string) {
			ap := approvals[(i/2)%2] // each browser posts to both nodes
			resp, err := ap.b.PostForm(e.publicBase+ap.page, url.Values{"csrf": {ap.csrf}, "action": {"approve"}})
			if err != nil {
				return 0, err.Error()
			}
			resp.Body.Close()
			loc := resp.Header.Get("Location")
			if resp.StatusCode == http.StatusSeeOther && !strings.HasPrefix(loc, journeyRedirect) {
				return -resp.StatusCode, loc // a redirect elsewhere than the client: not a win, not a refusal
			}
			return resp.StatusCode, loc
		})
		winner := exactlyOne(t, statuses, locations, http.StatusSeeOther, http.StatusBadRequest, "")
		if q := response(t, locations[winner]); q.Get("code") == "" || q.Get("state") != "st-2" || q.Get("iss") != ea.issuer {
			t.Errorf("winning response %v", q)
		}
	})

	t.Run("refresh token", func(t *testing.T) {
		ea.t, eb.t = t, t
		// FAPI 1.0 client: refresh tokens rotate, so each is single use. (FAPI 2.0 refresh
		// tokens do not rotate, FAPI2 §5.3.2.1: they are not single use by design.)
		uri := ea.push(negHybrid, ea.signedForm(ea.hybridRO()))
		back := response(t, ea.journey(url.Values{"client_id": {negHybrid}, "request_uri": {uri}}, "approve"))
		status, tok := eb.exchange(negHybrid, back.Get("code"), nil)
		if status != http.StatusOK {
			t.Fatalf("exchange on node B: %d %v", status, tok)
		}
		rt := tok["refresh_token"].(string)
		statuses, bodies := race(func(_ int, e *journeyEnv) (int, string) {
			return post(e, negHybrid, "/token", url.Values{"grant_type": {"refresh_token"}, "client_id": {negHybrid}, "refresh_token": {rt}})
		})
		exactlyOne(t, statuses, bodies, http.StatusOK, http.StatusBadRequest, `"invalid_grant"`)
	})
}

// exactlyOne checks that exactly one of the attempts got win and every other lose (with
// loseBody in its body when set), and returns the winner's index.
func exactlyOne(t *testing.T, statuses []int, bodies []string, win, lose int, loseBody string) int {
	t.Helper()
	winner := -1
	for i, s := range statuses {
		switch {
		case s == win && winner < 0:
			winner = i
		case s == win:
			t.Errorf("attempt %d won too (attempt %d had won): %s", i, winner, bodies[i])
		case s != lose || !strings.Contains(bodies[i], loseBody):
			t.Errorf("attempt %d: %d %s, want %d %s", i, s, bodies[i], lose, loseBody)
		}
	}
	if winner < 0 {
		t.Fatalf("no attempt won: %v", statuses)
	}
	return winner
}

func jsonField(t *testing.T, body, name string) string {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(body), &m); err != nil {
		t.Fatalf("%v: %s", err, body)
	}
	v, _ := m[name].(string)
	if v == "" {
		t.Fatalf("no %s in %s", name, body)
	}
	return v
}
