package storetest

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/portcullis/portcullis/internal/store"
)

// codeTTL is the lifetime of the suite's codes and requests.
const codeTTL = time.Minute

func newCode(secret string) store.AuthorizationCode {
	return store.AuthorizationCode{
		Hash: store.HashSecret(secret), ClientID: "client-1", FamilyID: "family-" + secret,
		Data:      json.RawMessage(`{"redirect_uri":"https://tpp.example/cb","code_challenge":"abc"}`),
		ExpiresAt: epoch.Add(codeTTL),
	}
}

func newRequest(secret string) store.PushedRequest {
	return store.PushedRequest{
		Hash: store.HashSecret(secret), ClientID: "client-1",
		Data:      json.RawMessage(`{"scope":"openid accounts","state":"xyz"}`),
		ExpiresAt: epoch.Add(codeTTL),
	}
}

func testAuthorizationCode(t *testing.T, open Opener) {
	t.Run("ConsumeOnce", func(t *testing.T) {
		s, clk := fresh(t, open)
		c := newCode("code-1")
		must(t, "PutAuthorizationCode", s.PutAuthorizationCode(ctx(t), c))
		clk.Advance(10 * time.Second)
		got, err := s.ConsumeAuthorizationCode(ctx(t), c.Hash)
		must(t, "ConsumeAuthorizationCode", err)
		want := c
		want.CreatedAt, want.ConsumedAt = epoch, epoch.Add(10*time.Second)
		if d := cmp.Diff(want, got); d != "" {
			t.Fatalf("ConsumeAuthorizationCode (-want +got):\n%s", d)
		}
		// A replay gets ErrConsumed together with the record, so the family can be revoked.
		clk.Advance(time.Second)
		again, err := s.ConsumeAuthorizationCode(ctx(t), c.Hash)
		wantErr(t, "ConsumeAuthorizationCode again", err, store.ErrConsumed)
		if d := cmp.Diff(want, again); d != "" {
			t.Fatalf("record returned with ErrConsumed (-want +got):\n%s", d)
		}
		// Still ErrConsumed (not ErrExpired) once it has also expired.
		clk.Advance(codeTTL)
		_, err = s.ConsumeAuthorizationCode(ctx(t), c.Hash)
		wantErr(t, "ConsumeAuthorizationCode consumed and expired", err, store.ErrConsumed)
	})
	t.Run("Expiry", func(t *testing.T) {
		s, clk := fresh(t, open)
		early, late := newCode("early"), newCode("late")
		must(t, "Put", s.PutAuthorizationCode(ctx(t), early))
		must(t, "Put", s.PutAuthorizationCode(ctx(t), late))
		clk.Advance(codeTTL - time.Millisecond)
		_, err := s.ConsumeAuthorizationCode(ctx(t), early.Hash)
		must(t, "ConsumeAuthorizationCode 1 ms before expiry", err)
		clk.Advance(time.Millisecond)
		got, err := s.ConsumeAuthorizationCode(ctx(t), late.Hash)
		wantErr(t, "ConsumeAuthorizationCode at ExpiresAt", err, store.ErrExpired)
		if got.Hash != late.Hash || got.FamilyID != late.FamilyID || !got.ConsumedAt.IsZero() {
			t.Fatalf("record returned with ErrExpired = %+v", got)
		}
	})
	t.Run("NotFound", func(t *testing.T) {
		s, _ := fresh(t, open)
		got, err := s.ConsumeAuthorizationCode(ctx(t), store.HashSecret("never issued"))
		wantErr(t, "ConsumeAuthorizationCode", err, store.ErrNotFound)
		if d := cmp.Diff(store.AuthorizationCode{}, got); d != "" {
			t.Fatalf("record returned with ErrNotFound (-want +got):\n%s", d)
		}
	})
	t.Run("Duplicate", func(t *testing.T) {
		s, _ := fresh(t, open)
		must(t, "Put", s.PutAuthorizationCode(ctx(t), newCode("c")))
		wantErr(t, "Put again", s.PutAuthorizationCode(ctx(t), newCode("c")), store.ErrDuplicate)
	})
}

func testPushedRequest(t *testing.T, open Opener) {
	t.Run("GetThenConsume", func(t *testing.T) {
		s, clk := fresh(t, open)
		p := newRequest("urn:ietf:params:oauth:request_uri:abc")
		must(t, "PutPushedRequest", s.PutPushedRequest(ctx(t), p))
		want := p
		want.CreatedAt = epoch
		for range 2 { // Get does not consume
			got, err := s.GetPushedRequest(ctx(t), p.Hash)
			must(t, "GetPushedRequest", err)
			if d := cmp.Diff(want, got); d != "" {
				t.Fatalf("GetPushedRequest (-want +got):\n%s", d)
			}
		}
		clk.Advance(5 * time.Second)
		got, err := s.ConsumePushedRequest(ctx(t), p.Hash)
		must(t, "ConsumePushedRequest", err)
		want.ConsumedAt = epoch.Add(5 * time.Second)
		if d := cmp.Diff(want, got); d != "" {
			t.Fatalf("ConsumePushedRequest (-want +got):\n%s", d)
		}
		got, err = s.GetPushedRequest(ctx(t), p.Hash)
		wantErr(t, "GetPushedRequest after consumption", err, store.ErrConsumed)
		if d := cmp.Diff(want, got); d != "" {
			t.Fatalf("record returned by Get with ErrConsumed (-want +got):\n%s", d)
		}
		got, err = s.ConsumePushedRequest(ctx(t), p.Hash)
		wantErr(t, "ConsumePushedRequest again", err, store.ErrConsumed)
		if d := cmp.Diff(want, got); d != "" {
			t.Fatalf("record returned by Consume with ErrConsumed (-want +got):\n%s", d)
		}
	})
	t.Run("Expiry", func(t *testing.T) {
		s, clk := fresh(t, open)
		p := newRequest("r")
		must(t, "PutPushedRequest", s.PutPushedRequest(ctx(t), p))
		clk.Advance(codeTTL)
		got, err := s.GetPushedRequest(ctx(t), p.Hash)
		wantErr(t, "GetPushedRequest at ExpiresAt", err, store.ErrExpired)
		if got.Hash != p.Hash {
			t.Fatalf("record returned with ErrExpired = %+v", got)
		}
		_, err = s.ConsumePushedRequest(ctx(t), p.Hash)
		wantErr(t, "ConsumePushedRequest at ExpiresAt", err, store.ErrExpired)
	})
	t.Run("NotFound", func(t *testing.T) {
		s, _ := fresh(t, open)
		_, err := s.GetPushedRequest(ctx(t), store.HashSecret("x"))
		wantErr(t, "GetPushedRequest", err, store.ErrNotFound)
		_, err = s.ConsumePushedRequest(ctx(t), store.HashSecret("x"))
		wantErr(t, "ConsumePushedRequest", err, store.ErrNotFound)
	})
	t.Run("Duplicate", func(t *testing.T) {
		s, _ := fresh(t, open)
		must(t, "Put", s.PutPushedRequest(ctx(t), newRequest("r")))
		wantErr(t, "Put again", s.PutPushedRequest(ctx(t), newRequest("r")), store.ErrDuplicate)
	})
}

func testJTI(t *testing.T, open Opener) {
	s, clk := fresh(t, open)
	exp := epoch.Add(5 * time.Minute)
	must(t, "UseJTI first", s.UseJTI(ctx(t), "client-1", "jti-1", exp))
	wantErr(t, "UseJTI replay", s.UseJTI(ctx(t), "client-1", "jti-1", exp), store.ErrReplay)
	wantErr(t, "UseJTI replay with another exp", s.UseJTI(ctx(t), "client-1", "jti-1", exp.Add(time.Hour)), store.ErrReplay)
	must(t, "UseJTI same jti, other issuer", s.UseJTI(ctx(t), "client-2", "jti-1", exp))
	must(t, "UseJTI other jti", s.UseJTI(ctx(t), "client-1", "jti-2", exp))

	// Past its expiry the record is still a replay until the sweeper purges it.
	clk.Advance(5 * time.Minute)
	wantErr(t, "UseJTI replay after exp, before sweep", s.UseJTI(ctx(t), "client-1", "jti-1", exp), store.ErrReplay)
	n, err := s.Sweep(ctx(t))
	must(t, "Sweep", err)
	if n != 3 {
		t.Fatalf("Sweep deleted %d rows, want 3", n)
	}
	must(t, "UseJTI after purge", s.UseJTI(ctx(t), "client-1", "jti-1", clk.Now().Add(time.Minute)))
}
