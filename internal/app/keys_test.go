package app_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/app"
	"github.com/portcullis/portcullis/internal/clock"
	"github.com/portcullis/portcullis/internal/config"
	"github.com/portcullis/portcullis/internal/keys"
	"github.com/portcullis/portcullis/internal/store/storetest"
	"github.com/portcullis/portcullis/internal/token"
)

func randomKEK(t *testing.T) config.Secret {
	t.Helper()
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return config.Secret(base64.StdEncoding.EncodeToString(b))
}

// startAppClock is startApp on the given clock.
func startAppClock(t *testing.T, clk clock.Clock, edit func(*config.Config)) *app.App {
	t.Helper()
	a, _ := runApp(t, testConfig(t, edit), app.Options{Clock: clk})
	return a
}

// TestKeysFromDatabaseAcrossNodes: two servers on one PostgreSQL database with keys.source
// database and one keys.kek sign with the same key and publish the same JWK Set. A rotation
// on node A is published by node B on its next poll; after the publish delay node A signs
// with the new key, and node B's access-token verifier accepts node A's tokens signed with the
// old key and with the new one, before and after its own next poll.
func TestKeysFromDatabaseAcrossNodes(t *testing.T) {
	pg := storetest.PostgresURL(t)
	kek := randomKEK(t)
	clk := clock.NewFake(time.Now())
	node := func(c *config.Config) {
		c.Database.URL = config.SecretURL(pg)
		c.Keys.Source = "database"
		c.Keys.KEK = kek
		c.Keys.PublishDelay = 10 * time.Second
		c.Listen.Admin = "127.0.0.1:0"
	}
	a := startAppClock(t, clk, node)
	// Every node of a deployment publishes the same message-signing (seal) key too: B
	// is configured with the QSealC dev mode minted for A.
	b := startAppClock(t, clk, func(c *config.Config) {
		node(c)
		c.Keys.SealCertFile = filepath.Join(a.Sandbox.Dir(), "bank-seal.crt")
		c.Keys.SealKeyFile = filepath.Join(a.Sandbox.Dir(), "bank-seal.key")
	})
	if a.KeySet == nil || b.KeySet == nil {
		t.Fatal("keys.source database did not load a database key set")
	}
	if !bytes.Equal(a.Keys.JWKS(), b.Keys.JWKS()) {
		t.Fatalf("JWKS differ:\nA %s\nB %s", a.Keys.JWKS(), b.Keys.JWKS())
	}
	issue := func() (string, string) {
		t.Helper()
		raw, at, err := a.Tokens.Issue(t.Context(), token.Claims{
			ClientID: "tpp", Use: token.UseApplication, Scopes: []string{"accounts"},
			CertThumbprint: "cXkPiOL9rxIl45AkN98lFabB0nrQqAUSFYeur84ba3s",
		})
		if err != nil {
			t.Fatalf("Issue: %v", err)
		}
		hdr, _, _ := strings.Cut(raw, ".")
		js, _ := base64.RawURLEncoding.DecodeString(hdr)
		if at == nil {
			t.Fatal("Issue returned no token")
		}
		return raw, string(js)
	}
	verifyAtB := func(what, raw string) {
		t.Helper()
		// The deny-list refreshes on its own ticker; refresh it at this fake-clock time.
		if err := b.DenyList.Refresh(t.Context()); err != nil {
			t.Fatal(err)
		}
		if _, err := b.Verifier.Verify(t.Context(), raw); err != nil {
			t.Fatalf("node B refuses node A's %s: %v", what, err)
		}
	}
	tokOld, _ := issue()
	verifyAtB("token", tokOld)

	rot, err := a.KeySet.Rotate(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	clk.Advance(b.KeySet.PollInterval())
	if err := b.KeySet.Poll(t.Context()); err != nil {
		t.Fatal(err)
	}
	if !b.Keys.HasKey(rot.Key.KeyID()) || !bytes.Equal(a.Keys.JWKS(), b.Keys.JWKS()) {
		t.Fatal("node B does not publish node A's new key after a poll")
	}
	clk.Set(rot.ActivateAt)
	if err := a.KeySet.Poll(t.Context()); err != nil {
		t.Fatal(err)
	}
	tokNew, hdr := issue()
	if !strings.Contains(hdr, rot.Key.KeyID()) {
		t.Fatalf("node A signs with %s after the publish delay, want %s", hdr, rot.Key.KeyID())
	}
	verifyAtB("token signed with the new key", tokNew)
	verifyAtB("token signed with the old key", tokOld)
	if err := b.KeySet.Poll(t.Context()); err != nil {
		t.Fatal(err)
	}
	verifyAtB("token signed with the new key (after B's poll)", tokNew)
	verifyAtB("token signed with the old key (after B's poll)", tokOld)
	if !bytes.Equal(a.Keys.JWKS(), b.Keys.JWKS()) {
		t.Fatal("JWKS differ after the promotion")
	}
}

// TestKeysWrongKEK: a node whose keys.kek is not the one the stored keys were sealed with
// refuses to start, naming the setting.
func TestKeysWrongKEK(t *testing.T) {
	pg := storetest.PostgresURL(t)
	startApp(t, func(c *config.Config) {
		c.Database.URL = config.SecretURL(pg)
		c.Keys.Source = "database"
		c.Keys.KEK = randomKEK(t)
		c.Listen.Admin = "127.0.0.1:0"
	})
	cfg := config.Default(true)
	cfg.DataDir = t.TempDir()
	cfg.Listen.HTTPS, cfg.Listen.Ops, cfg.Listen.Admin, cfg.Listen.Public = "127.0.0.1:0", "127.0.0.1:0", "127.0.0.1:0", "127.0.0.1:0"
	cfg.Database.URL = config.SecretURL(pg)
	cfg.Keys.Source = "database"
	cfg.Keys.KEK = randomKEK(t)
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	a, err := app.New(context.Background(), cfg, app.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err == nil {
		a.Close()
		t.Fatal("app.New with the wrong keys.kek succeeded")
	}
	if !errors.Is(err, keys.ErrKEK) || !strings.Contains(err.Error(), "keys.kek") {
		t.Fatalf("app.New = %v, want ErrKEK naming keys.kek", err)
	}
}

// TestKeysImportedFromKeyDir: a server whose keys.dir a previous server (keys.source dir)
// signed from, started with keys.source database on an empty database, keeps signing with the
// same key.
func TestKeysImportedFromKeyDir(t *testing.T) {
	keyDir := filepath.Join(t.TempDir(), "keys")
	a := startApp(t, func(c *config.Config) { c.Keys.Dir = keyDir })
	before := a.Keys.Keys()
	b := startApp(t, func(c *config.Config) {
		c.Keys.Dir = keyDir
		c.Keys.Source = "database"
		c.Listen.Admin = "127.0.0.1:0"
	})
	if b.KeySet == nil {
		t.Fatal("no database key set")
	}
	after := b.Keys.Keys()
	if len(before) != 1 || len(after) != 1 || after[0].KeyID != before[0].KeyID || after[0].State != before[0].State {
		t.Fatalf("key directory %+v, database %+v: want the same key", before, after)
	}
}
