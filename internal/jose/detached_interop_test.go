package jose

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// nodeJob and nodeResult are the protocol of test/interop/detached_jws.mjs.
type nodeJob struct {
	Op        string          `json:"op"`
	PKCS8     string          `json:"pkcs8,omitempty"`
	JWK       json.RawMessage `json:"jwk,omitempty"`
	Alg       Alg             `json:"alg"`
	Header    map[string]any  `json:"header,omitempty"`
	Sig       string          `json:"sig,omitempty"`
	Body      string          `json:"body"`
	Unencoded bool            `json:"unencoded"`
}

type nodeResult struct {
	Sig    string         `json:"sig"`
	OK     bool           `json:"ok"`
	Error  string         `json:"error"`
	Header map[string]any `json:"header"`
}

// runNodeJose runs the jobs through npm jose. It skips only when node is missing and CI is
// unset; a missing jose package is a failure (scripts/deps.sh installs it).
func runNodeJose(t *testing.T, jobs []nodeJob) []nodeResult {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		if os.Getenv("CI") == "" {
			t.Skipf("node not found (%v); CI unset", err)
		}
		t.Fatalf("node not found (%v): run scripts/deps.sh", err)
	}
	dir := interopDir(t)
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "jose")); err != nil {
		t.Fatalf("npm jose is not installed in %s (%v): run scripts/deps.sh", dir, err)
	}
	in, err := json.Marshal(map[string]any{"jobs": jobs})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, filepath.Join(dir, "detached_jws.mjs"))
	cmd.Dir = dir
	cmd.WaitDelay = 5 * time.Second
	cmd.Stdin = bytes.NewReader(in)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("node detached_jws.mjs: %v\n%s", err, stderr.String())
	}
	var res struct {
		Results []nodeResult `json:"results"`
	}
	if err := json.Unmarshal(out, &res); err != nil || len(res.Results) != len(jobs) {
		t.Fatalf("node output %s: %v", out, err)
	}
	return res.Results
}

func interopDir(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for range 10 {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return filepath.Join(dir, "test", "interop")
		}
		dir = filepath.Dir(dir)
	}
	t.Fatal("go.mod not found above the working directory")
	return ""
}

// TestDetachedInteropNodeJose cross-checks x-jws-signature both ways against npm jose, for
// both forms and both algorithms: signatures jose makes verify here (and not over another
// body), signatures made here verify in jose (and not over another body).
func TestDetachedInteropNodeJose(t *testing.T) {
	body := []byte(`{"Data":{"ConsentId":"pdc-1","Initiation":{"EndToEndIdentification":"E2E.1","InstructedAmount":{"Amount":"10.00","Currency":"GBP"}}},"Risk":{"x":"ünï.cödé"}}`)
	other := []byte(`{"Data":{"ConsentId":"pdc-1","Initiation":{"InstructedAmount":{"Amount":"99.00","Currency":"GBP"}}},"Risk":{}}`)
	b := base64.StdEncoding.EncodeToString
	opts := DetachedOptions{Algorithms: []Alg{PS256, ES256}, TrustAnchors: []string{obTAN}, Clock: fakeClock()}

	type tc struct {
		name      string
		key       *SigningKey
		unencoded bool
	}
	var cases []tc
	for _, name := range []string{"ps256.pem", "es256.pem"} {
		for _, unencoded := range []bool{false, true} {
			n := name + "/encoded"
			if unencoded {
				n = name + "/b64=false"
			}
			cases = append(cases, tc{n, testKey(t, name), unencoded})
		}
	}

	var jobs []nodeJob
	for _, c := range cases {
		pem, err := c.key.MarshalPKCS8PEM()
		if err != nil {
			t.Fatal(err)
		}
		hdr := obHeader(string(c.key.Alg()), c.key.KeyID(), c.unencoded)
		hdr["typ"] = "JOSE"
		jobs = append(jobs, nodeJob{Op: "sign", PKCS8: string(pem), Alg: c.key.Alg(), Header: hdr, Body: b(body), Unencoded: c.unencoded})

		form := DetachedEncoded
		if c.unencoded {
			form = DetachedUnencoded
		}
		ours, err := c.key.SignDetached(body, form, DetachedClaims{Issuer: obISS, TrustAnchor: obTAN, IssuedAt: t0, ContentType: "application/json"})
		if err != nil {
			t.Fatal(err)
		}
		jwk, err := publicJWK(c.key.Public())
		if err != nil {
			t.Fatal(err)
		}
		jobs = append(jobs,
			nodeJob{Op: "verify", JWK: jwk, Alg: c.key.Alg(), Sig: ours, Body: b(body), Unencoded: c.unencoded},
			nodeJob{Op: "verify", JWK: jwk, Alg: c.key.Alg(), Sig: ours, Body: b(other), Unencoded: c.unencoded},
			// The other form's reading of our signature must fail in jose too.
			nodeJob{Op: "verify", JWK: jwk, Alg: c.key.Alg(), Sig: ours, Body: b(body), Unencoded: !c.unencoded},
		)
	}
	res := runNodeJose(t, jobs)

	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			set, err := ParseJWKS(clientSet(t, c.key.KeyID(), c.key.Public().Public()))
			if err != nil {
				t.Fatal(err)
			}
			signed, ok, wrongBody, wrongForm := res[4*i], res[4*i+1], res[4*i+2], res[4*i+3]

			// jose → ours.
			if signed.Sig == "" {
				t.Fatal("jose produced no signature")
			}
			got, err := VerifyDetached(context.Background(), signed.Sig, body, set, opts)
			if err != nil {
				t.Fatalf("jose's signature refused: %v", err)
			}
			wantForm := DetachedEncoded
			if c.unencoded {
				wantForm = DetachedUnencoded
			}
			if got.Form != wantForm || got.Issuer != obISS || got.TrustAnchor != obTAN {
				t.Fatalf("jose's signature read as %+v", got)
			}
			if _, err := VerifyDetached(context.Background(), signed.Sig, other, set, opts); !errors.Is(err, ErrBadSignature) {
				t.Fatalf("jose's signature over another body: %v, want ErrBadSignature", err)
			}

			// ours → jose.
			if !ok.OK {
				t.Fatalf("jose refused our signature: %s", ok.Error)
			}
			if ok.Header[OBHeaderISS] != obISS || (ok.Header["b64"] == false) != c.unencoded {
				t.Fatalf("jose read our header as %v", ok.Header)
			}
			if wrongBody.OK {
				t.Fatal("jose accepted our signature over another body")
			}
			if wrongForm.OK {
				t.Fatal("jose accepted our signature read in the other form")
			}
		})
	}
}
