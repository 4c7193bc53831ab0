package storetest

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/store"
)

// testInputBounds checks that every write refuses oversize, empty-but-required and malformed
// fields with ErrInvalidInput and writes nothing, that lookups of impossible keys answer
// ErrNotFound, and that values at the limits are accepted and returned intact.
func testInputBounds(t *testing.T, open Opener) {
	s, _ := fresh(t, open)
	long := strings.Repeat("k", store.MaxKeyLen+1)
	max := strings.Repeat("k", store.MaxKeyLen)
	bigData := json.RawMessage(`"` + strings.Repeat("x", store.MaxDataSize) + `"`)
	exp := epoch.Add(time.Hour)
	okData := json.RawMessage(`{}`)

	writes := []struct {
		name string
		call func() error
	}{
		{"client empty id", func() error { return s.CreateClient(ctx(t), store.Client{Metadata: okData}) }},
		{"client long id", func() error { return s.CreateClient(ctx(t), store.Client{ID: long, Metadata: okData}) }},
		{"client NUL in id", func() error { return s.CreateClient(ctx(t), store.Client{ID: "a\x00b", Metadata: okData}) }},
		{"client invalid UTF-8 id", func() error { return s.CreateClient(ctx(t), store.Client{ID: "a\xffb", Metadata: okData}) }},
		{"client no metadata", func() error { return s.CreateClient(ctx(t), store.Client{ID: "c"}) }},
		{"client metadata not JSON", func() error {
			return s.CreateClient(ctx(t), store.Client{ID: "c", Metadata: json.RawMessage(`{"a":`)})
		}},
		{"client metadata too large", func() error { return s.CreateClient(ctx(t), store.Client{ID: "c", Metadata: bigData}) }},
		{"client created before 1970", func() error {
			return s.CreateClient(ctx(t), store.Client{ID: "c", Metadata: okData, CreatedAt: time.Date(1969, 1, 1, 0, 0, 0, 0, time.UTC)})
		}},
		{"update client bad metadata", func() error {
			return s.UpdateClient(ctx(t), store.Client{ID: "exists", Metadata: json.RawMessage(`nope`)})
		}},
		{"consent no status", func() error {
			return s.CreateConsent(ctx(t), store.Consent{ID: "c", Kind: "k", ClientID: "cl"})
		}},
		{"consent long user", func() error {
			return s.CreateConsent(ctx(t), store.Consent{ID: "c", Kind: "k", ClientID: "cl", Status: "s", UserID: long})
		}},
		{"consent data too large", func() error {
			return s.CreateConsent(ctx(t), store.Consent{ID: "c", Kind: "k", ClientID: "cl", Status: "s", Data: bigData})
		}},
		{"transition no from", func() error {
			_, err := s.TransitionConsent(ctx(t), "exists", nil, "s2", "", nil)
			return err
		}},
		{"transition too many from", func() error {
			_, err := s.TransitionConsent(ctx(t), "exists", make([]string, store.MaxTransitionFrom+1), "s2", "", nil)
			return err
		}},
		{"transition empty to", func() error {
			_, err := s.TransitionConsent(ctx(t), "exists", []string{"s"}, "", "", nil)
			return err
		}},
		{"transition bad data", func() error {
			_, err := s.TransitionConsent(ctx(t), "exists", []string{"s"}, "s2", "", json.RawMessage(`{`))
			return err
		}},
		{"code no expiry", func() error {
			return s.PutAuthorizationCode(ctx(t), store.AuthorizationCode{Hash: "h", ClientID: "c", FamilyID: "f"})
		}},
		{"code no family", func() error {
			return s.PutAuthorizationCode(ctx(t), store.AuthorizationCode{Hash: "h", ClientID: "c", ExpiresAt: exp})
		}},
		{"code long hash", func() error {
			return s.PutAuthorizationCode(ctx(t), store.AuthorizationCode{Hash: long, ClientID: "c", FamilyID: "f", ExpiresAt: exp})
		}},
		{"code data too large", func() error {
			return s.PutAuthorizationCode(ctx(t), store.AuthorizationCode{Hash: "h", ClientID: "c", FamilyID: "f", ExpiresAt: exp, Data: bigData})
		}},
		{"request no client", func() error {
			return s.PutPushedRequest(ctx(t), store.PushedRequest{Hash: "h", ExpiresAt: exp})
		}},
		{"request expiry after 9999", func() error {
			return s.PutPushedRequest(ctx(t), store.PushedRequest{Hash: "h", ClientID: "c", ExpiresAt: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)})
		}},
		{"refresh no expiry", func() error {
			return s.PutRefreshToken(ctx(t), store.RefreshToken{Hash: "h", ClientID: "c", FamilyID: "f"})
		}},
		{"refresh scope too long", func() error {
			return s.PutRefreshToken(ctx(t), store.RefreshToken{Hash: "h", ClientID: "c", FamilyID: "f", ExpiresAt: exp,
				Scope: strings.Repeat("s", store.MaxScopeLen+1)})
		}},
		{"revoke family empty", func() error { _, err := s.RevokeRefreshFamily(ctx(t), ""); return err }},
		{"revoke consent long", func() error { _, err := s.RevokeRefreshTokensByConsent(ctx(t), long); return err }},
		{"jti empty issuer", func() error { return s.UseJTI(ctx(t), "", "j", exp) }},
		{"jti long", func() error { return s.UseJTI(ctx(t), "iss", long, exp) }},
		{"jti no expiry", func() error { return s.UseJTI(ctx(t), "iss", "j", time.Time{}) }},
		{"revocation empty jti", func() error { return s.RevokeToken(ctx(t), store.Revocation{ExpiresAt: exp}) }},
		{"revocation no expiry", func() error { return s.RevokeToken(ctx(t), store.Revocation{JTI: "j"}) }},
		{"is revoked long jti", func() error { _, err := s.IsTokenRevoked(ctx(t), long); return err }},
		{"is revoked empty jti", func() error { _, err := s.IsTokenRevoked(ctx(t), ""); return err }},
		{"audit no type", func() error { return s.AppendAudit(ctx(t), store.AuditEvent{ClientID: "c"}) }},
		{"audit data not UTF-8", func() error {
			return s.AppendAudit(ctx(t), store.AuditEvent{Type: "t", Data: json.RawMessage("{\"a\":\"\xff\"}")})
		}},
		{"audit data not JSON", func() error {
			return s.AppendAudit(ctx(t), store.AuditEvent{Type: "t", Data: json.RawMessage(`{"a"}`)})
		}},
		{"audit batch with one invalid event", func() error {
			return s.AppendAuditBatch(ctx(t), []store.AuditEvent{{Type: "ok"}, {Type: "ok", ClientID: long}, {Type: "ok"}})
		}},
		{"audit batch too large", func() error {
			return s.AppendAuditBatch(ctx(t), make([]store.AuditEvent, store.MaxAuditBatch+1))
		}},
		{"audit filter long client", func() error {
			_, err := s.ListAudit(ctx(t), store.AuditFilter{ClientID: long})
			return err
		}},
		{"consent filter long user", func() error {
			_, err := s.ListConsents(ctx(t), store.ConsentFilter{UserID: long})
			return err
		}},
	}
	must(t, "CreateClient", s.CreateClient(ctx(t), store.Client{ID: "exists", Metadata: okData}))
	must(t, "CreateConsent", s.CreateConsent(ctx(t), store.Consent{ID: "exists", Kind: "k", ClientID: "cl", Status: "s"}))
	for _, w := range writes {
		t.Run(w.name, func(t *testing.T) {
			wantErr(t, w.name, w.call(), store.ErrInvalidInput)
		})
	}
	t.Run("NothingWritten", func(t *testing.T) {
		clients, err := s.ListClients(ctx(t))
		must(t, "ListClients", err)
		if len(clients) != 1 || string(clients[0].Metadata) != `{}` {
			t.Fatalf("clients after refused writes = %+v", clients)
		}
		c, err := s.GetConsent(ctx(t), "exists")
		must(t, "GetConsent", err)
		if c.Status != "s" || c.Data != nil {
			t.Fatalf("consent after refused transitions = %+v", c)
		}
		events, err := s.ListAudit(ctx(t), store.AuditFilter{})
		must(t, "ListAudit", err)
		if len(events) != 0 {
			t.Fatalf("audit after refused appends = %+v", events)
		}
		must(t, "UseJTI j", s.UseJTI(ctx(t), "iss", "j", exp))
	})

	lookups := []struct {
		name string
		call func(key string) error
	}{
		{"GetClient", func(k string) error { _, err := s.GetClient(ctx(t), k); return err }},
		{"UpdateClient", func(k string) error { return s.UpdateClient(ctx(t), store.Client{ID: k, Metadata: okData}) }},
		{"DeleteClient", func(k string) error { return s.DeleteClient(ctx(t), k) }},
		{"GetConsent", func(k string) error { _, err := s.GetConsent(ctx(t), k); return err }},
		{"TransitionConsent", func(k string) error {
			_, err := s.TransitionConsent(ctx(t), k, []string{"s"}, "s2", "", nil)
			return err
		}},
		{"ConsumeAuthorizationCode", func(k string) error { _, err := s.ConsumeAuthorizationCode(ctx(t), k); return err }},
		{"GetPushedRequest", func(k string) error { _, err := s.GetPushedRequest(ctx(t), k); return err }},
		{"ConsumePushedRequest", func(k string) error { _, err := s.ConsumePushedRequest(ctx(t), k); return err }},
		{"GetRefreshToken", func(k string) error { _, err := s.GetRefreshToken(ctx(t), k); return err }},
		{"ConsumeRefreshToken", func(k string) error { _, err := s.ConsumeRefreshToken(ctx(t), k); return err }},
	}
	for _, l := range lookups {
		for _, key := range []struct{ name, v string }{{"empty", ""}, {"long", long}, {"NUL", "a\x00"}, {"not UTF-8", "\xff"}} {
			t.Run(l.name+" "+key.name+" key", func(t *testing.T) {
				wantErr(t, l.name, l.call(key.v), store.ErrNotFound)
			})
		}
	}

	t.Run("AtTheLimits", func(t *testing.T) {
		s, _ := fresh(t, open)
		maxData := json.RawMessage(`"` + strings.Repeat("x", store.MaxDataSize-2) + `"`)
		must(t, "CreateClient at limits", s.CreateClient(ctx(t), store.Client{ID: max, Metadata: maxData}))
		got, err := s.GetClient(ctx(t), max)
		must(t, "GetClient at limits", err)
		if string(got.Metadata) != string(maxData) {
			t.Fatalf("metadata of %d bytes came back as %d bytes", len(maxData), len(got.Metadata))
		}
		// Non-ASCII keys and data round-trip unchanged.
		id := "clïent-✓-" + strings.Repeat("é", 10)
		data := json.RawMessage(`{"name":"Bänk ✓","x":"\u0000"}`)
		must(t, "CreateClient UTF-8", s.CreateClient(ctx(t), store.Client{ID: id, Metadata: data}))
		got, err = s.GetClient(ctx(t), id)
		must(t, "GetClient UTF-8", err)
		if string(got.Metadata) != string(data) {
			t.Fatalf("metadata = %s, want %s", got.Metadata, data)
		}
		must(t, "UseJTI at limits", s.UseJTI(ctx(t), max, max, epoch.Add(time.Hour)))
		wantErr(t, "UseJTI at limits again", s.UseJTI(ctx(t), max, max, epoch.Add(time.Hour)), store.ErrReplay)
		must(t, "PutRefreshToken at limits", s.PutRefreshToken(ctx(t), store.RefreshToken{
			Hash: max, ClientID: max, FamilyID: max, ConsentID: max, UserID: max,
			Scope: strings.Repeat("s", store.MaxScopeLen), Data: maxData, ExpiresAt: epoch.Add(time.Hour),
		}))
	})
}
