package nca

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/clock"
	"github.com/portcullis/portcullis/internal/pki/eidas"
)

var (
	gbID = ID{Country: "GB", Authority: "FCA", Number: "123456"}
	fiID = ID{Country: "FI", Authority: "FINFSA", Number: "01110279"}
	t0   = time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
)

func TestParseEBA(t *testing.T) {
	data, err := os.ReadFile("testdata/register.json")
	if err != nil {
		t.Fatal(err)
	}
	got, err := ParseEBA(data)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 {
		t.Fatalf("%d entries, want 2 (the agent is not a TPP)", len(got))
	}
	gb := got[gbID.Key()]
	if gb == nil || !gb.Authorised || gb.Name != "Example Payments Ltd" || len(gb.Roles) != 2 {
		t.Errorf("GB entry = %+v", gb)
	}
	fi := got[fiID.Key()]
	if fi == nil || fi.Authorised || !fi.WithdrawnAt.Equal(time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC)) || fi.Name != "Name Ltd" {
		t.Errorf("FI entry = %+v", fi)
	}
	for _, bad := range []string{`{}`, `[[{"CA_OwnerID":"GB","EntityCode":"x","EntityType":"PSD_PI"}]]`,
		`[{"CA_OwnerID":"GB_FCA","EntityCode":"x","EntityType":"PSD_PI","Properties":[{"ENT_NAT_REF_COD":"1"},{"ENT_AUT":["yesterday"]}]}]`,
		`[{"CA_OwnerID":"GB_FCA","EntityCode":"x","EntityType":"PSD_PI","Properties":[{"ENT_NAT_REF_COD":7}]}]`} {
		if _, err := ParseEBA([]byte(bad)); !errors.Is(err, ErrMalformed) {
			t.Errorf("ParseEBA(%s) = %v, want ErrMalformed", bad, err)
		}
	}
}

func TestDecide(t *testing.T) {
	ais, pis := eidas.RoleAISP, eidas.RolePISP
	e := &Entry{ID: gbID, Authorised: true, Roles: []eidas.Role{ais}}
	withdrawn := &Entry{ID: gbID, WithdrawnAt: t0.Add(-time.Hour), Roles: []eidas.Role{ais}}
	announced := &Entry{ID: gbID, WithdrawnAt: t0.Add(time.Hour), Roles: []eidas.Role{ais}}
	for _, tc := range []struct {
		name  string
		e     *Entry
		roles []eidas.Role
		want  error
	}{
		{"authorised", e, []eidas.Role{ais}, nil},
		{"ASPSP role not in the register", e, []eidas.Role{ais, eidas.RoleASPSP}, nil},
		{"role removed", e, []eidas.Role{ais, pis}, ErrRoleNotAuthorised},
		{"not listed", nil, []eidas.Role{ais}, ErrNotListed},
		{"withdrawn", withdrawn, []eidas.Role{ais}, ErrWithdrawn},
		{"withdrawal announced for later", announced, []eidas.Role{ais}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := Decide(gbID, tc.e, tc.roles, t0)
			if (tc.want == nil) != (err == nil) || (tc.want != nil && !errors.Is(err, tc.want)) {
				t.Fatalf("Decide = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestIDs(t *testing.T) {
	o, err := eidas.ParseOrganizationIdentifier("PSDFI-FINFSA-0111027-9")
	if err != nil {
		t.Fatal(err)
	}
	id, ok := FromOrganizationIdentifier(o)
	if !ok || id.Key() != fiID.Key() {
		t.Errorf("FromOrganizationIdentifier = %v %v", id, ok)
	}
	if ob, err := eidas.ParseOrganizationIdentifier("PSDGB-OB-Unknown0015800001HQQrZAAX"); err != nil {
		t.Fatal(err)
	} else if id, ok := FromOrganizationIdentifier(ob); ok {
		t.Errorf("the OB pseudo-identifier names an authorisation: %v", id)
	}
	if id, ok := FromAuthorityClaim("GB-FCA", "123456"); !ok || id.Key() != gbID.Key() {
		t.Errorf("FromAuthorityClaim = %v %v", id, ok)
	}
	if id, ok := FromAuthorityClaim("", "PSDGB-FCA-123456"); !ok || id.Key() != gbID.Key() {
		t.Errorf("FromAuthorityClaim(PSD form) = %v %v", id, ok)
	}
	if id, ok := FromAuthorityClaim("FCAGBR", "123456"); !ok || id.Key() != gbID.Key() {
		t.Errorf("FromAuthorityClaim(OB form) = %v %v", id, ok)
	}
	if _, ok := FromAuthorityClaim("FCA", "123456"); ok {
		t.Error("an authority id without country accepted")
	}
}

// TestRegisterRefreshAndFreshness: a TPP withdrawn in the file is refused after the next
// refresh; a failed refresh keeps the old data until MaxAge, then fails closed (or keeps
// deciding under last_known).
func TestRegisterRefreshAndFreshness(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "register.json")
	write := func(aut string) {
		doc := `[{"CA_OwnerID":"GB_FCA","EntityCode":"PSD_PI!GB_FCA!123456","EntityType":"PSD_PI",
		  "Properties":[{"ENT_NAT_REF_COD":"123456"},{"ENT_AUT":` + aut + `}],"Services":[{"GB":["PS_070","PS_080"]}]}]`
		if err := os.WriteFile(path, []byte(doc), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	ctx := context.Background()
	for _, policy := range []Policy{PolicyFailClosed, PolicyLastKnown} {
		t.Run(string(policy), func(t *testing.T) {
			write(`["2019-01-01"]`)
			clk := clock.NewFake(t0)
			r, err := NewRegister(RegisterOptions{Load: func(context.Context) ([]byte, error) { return os.ReadFile(path) },
				Clock: clk, RefreshInterval: time.Minute, MaxAge: 10 * time.Minute, Policy: policy})
			if err != nil {
				t.Fatal(err)
			}
			roles := []eidas.Role{eidas.RolePISP}
			if err := r.Check(ctx, gbID, roles); !errors.Is(err, ErrUnavailable) {
				t.Fatalf("before the first load: %v, want ErrUnavailable", err)
			}
			if err := r.Refresh(ctx); err != nil {
				t.Fatal(err)
			}
			if err := r.Check(ctx, gbID, roles); err != nil {
				t.Fatalf("authorised: %v", err)
			}
			write(`["2019-01-01","2026-12-07"]`)
			if err := r.Check(ctx, gbID, roles); err != nil {
				t.Fatalf("before the refresh the old data decides: %v", err)
			}
			clk.Advance(time.Minute)
			if err := r.Refresh(ctx); err != nil {
				t.Fatal(err)
			}
			if err := r.Check(ctx, gbID, roles); !errors.Is(err, ErrWithdrawn) {
				t.Fatalf("withdrawn: %v, want ErrWithdrawn", err)
			}
			// The file becomes unreadable: the last data decides until MaxAge.
			write(`not json`)
			if err := r.Refresh(ctx); err == nil {
				t.Fatal("refresh of a malformed file succeeded")
			}
			if err := r.Check(ctx, gbID, roles); !errors.Is(err, ErrWithdrawn) {
				t.Fatalf("within MaxAge: %v, want ErrWithdrawn", err)
			}
			clk.Advance(11 * time.Minute)
			err = r.Check(ctx, gbID, roles)
			switch policy {
			case PolicyFailClosed:
				if !errors.Is(err, ErrUnavailable) {
					t.Fatalf("stale under fail_closed: %v, want ErrUnavailable", err)
				}
			case PolicyLastKnown:
				if !errors.Is(err, ErrWithdrawn) {
					t.Fatalf("stale under last_known: %v, want ErrWithdrawn", err)
				}
			}
		})
	}
}

func TestRegisterAllowUnlisted(t *testing.T) {
	data, _ := os.ReadFile("testdata/register.json")
	r, err := NewRegister(RegisterOptions{Load: func(context.Context) ([]byte, error) { return data, nil },
		Clock: clock.NewFake(t0), AllowUnlisted: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := r.Check(ctx, ID{Country: "DE", Authority: "BAFIN", Number: "1"}, []eidas.Role{eidas.RoleAISP}); err != nil {
		t.Errorf("unlisted under AllowUnlisted: %v", err)
	}
	if err := r.Check(ctx, ID{}, nil); err != nil {
		t.Errorf("no identifier under AllowUnlisted: %v", err)
	}
	if err := r.Check(ctx, fiID, []eidas.Role{eidas.RoleAISP}); !errors.Is(err, ErrWithdrawn) {
		t.Errorf("listed withdrawal under AllowUnlisted: %v, want ErrWithdrawn", err)
	}
	if err := r.Check(ctx, gbID, []eidas.Role{eidas.RoleCBPII}); !errors.Is(err, ErrRoleNotAuthorised) {
		t.Errorf("role the register lacks: %v, want ErrRoleNotAuthorised", err)
	}
}

func TestWebhook(t *testing.T) {
	var calls atomic.Int32
	var answer atomic.Value
	answer.Store(`{"authorised": true, "roles": ["PSP_AI"]}`)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		var req webhookRequest
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil || req.NCA != "GB-FCA" || req.AuthorisationNumber != "123456" {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		s := answer.Load().(string)
		if s == "down" {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte(s))
	}))
	defer srv.Close()
	ctx := context.Background()
	clk := clock.NewFake(t0)
	for _, policy := range []Policy{PolicyFailClosed, PolicyLastKnown} {
		answer.Store(`{"authorised": true, "roles": ["PSP_AI"]}`)
		w, err := NewWebhook(WebhookOptions{URL: srv.URL, Clock: clk, CacheTTL: time.Minute, MaxAge: time.Hour, Policy: policy})
		if err != nil {
			t.Fatal(err)
		}
		ais := []eidas.Role{eidas.RoleAISP}
		n := calls.Load()
		if err := w.Check(ctx, gbID, ais); err != nil {
			t.Fatalf("authorised: %v", err)
		}
		if err := w.Check(ctx, gbID, []eidas.Role{eidas.RolePISP}); !errors.Is(err, ErrRoleNotAuthorised) {
			t.Fatalf("PISP: %v, want ErrRoleNotAuthorised", err)
		}
		if calls.Load() != n+1 {
			t.Errorf("%d calls within the TTL, want 1", calls.Load()-n)
		}
		answer.Store(`{"authorised": false, "roles": ["PSP_AI"]}`)
		clk.Advance(time.Minute)
		if err := w.Check(ctx, gbID, ais); !errors.Is(err, ErrWithdrawn) {
			t.Fatalf("withdrawn after the TTL: %v, want ErrWithdrawn", err)
		}
		answer.Store("down")
		clk.Advance(time.Minute)
		err = w.Check(ctx, gbID, ais)
		if policy == PolicyFailClosed && !errors.Is(err, ErrUnavailable) || policy == PolicyLastKnown && !errors.Is(err, ErrWithdrawn) {
			t.Errorf("%s, webhook down: %v", policy, err)
		}
		answer.Store(`{"roles": []}`)
		clk.Advance(time.Minute)
		if err := w.Check(ctx, ID{Country: "GB", Authority: "FCA", Number: "123456"}, ais); policy == PolicyFailClosed && !errors.Is(err, ErrUnavailable) {
			t.Errorf("answer without authorised: %v, want ErrUnavailable", err)
		}
	}
	if _, err := NewWebhook(WebhookOptions{URL: "http://example.com/x"}); err == nil {
		t.Error("plain http to a remote host accepted")
	}
}

func FuzzParseEBA(f *testing.F) {
	if data, err := os.ReadFile("testdata/register.json"); err == nil {
		f.Add(data)
	}
	f.Add([]byte(`[{"CA_OwnerID":"GB_FCA","EntityCode":"x","EntityType":"PSD_AISP","Properties":[{"ENT_NAT_REF_COD":"1"}]}]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		entries, err := ParseEBA(data)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v does not match ErrMalformed", err)
			}
			return
		}
		for k, e := range entries {
			if k != e.ID.Key() || !e.ID.Valid() {
				t.Fatalf("entry %q has ID %v", k, e.ID)
			}
			_ = Decide(e.ID, e, e.Roles, t0)
		}
	})
}
