package app_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"

	"github.com/portcullis/portcullis/internal/app"
	"github.com/portcullis/portcullis/internal/config"
	"github.com/portcullis/portcullis/internal/keys"
	"github.com/portcullis/portcullis/internal/store/storetest"
)

func randomKEK(t *testing.T) config.Secret {
	t.Helper()
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return config.Secret(base64.StdEncoding.EncodeToString(b))
}

// TestKeysFromDatabaseAcrossNodes: two servers on one PostgreSQL database with keys.source
// database and one keys.kek sign with the same key and publish the same JWK Set; a rotation
// on one is published by the other on its next poll.
func TestKeysFromDatabaseAcrossNodes(t *testing.T) {
	pg := storetest.PostgresURL(t)
	kek := randomKEK(t)
	node := func(c *config.Config) {
		c.Database.URL = config.SecretURL(pg)
		c.Keys.Source = "database"
		c.Keys.KEK = kek
		c.Listen.Admin = "127.0.0.1:0"
	}
	a := startApp(t, node)
	b := startApp(t, node)
	if a.KeySet == nil || b.KeySet == nil {
		t.Fatal("keys.source database did not load a database key set")
	}
	if !bytes.Equal(a.Keys.JWKS(), b.Keys.JWKS()) {
		t.Fatalf("JWKS differ:\nA %s\nB %s", a.Keys.JWKS(), b.Keys.JWKS())
	}
	rot, err := a.KeySet.Rotate(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if err := b.KeySet.Poll(t.Context()); err != nil {
		t.Fatal(err)
	}
	if !b.Keys.HasKey(rot.Key.KeyID()) || !bytes.Equal(a.Keys.JWKS(), b.Keys.JWKS()) {
		t.Fatal("node B does not publish node A's new key after a poll")
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
	cfg.Listen.HTTPS, cfg.Listen.Ops, cfg.Listen.Admin = "127.0.0.1:0", "127.0.0.1:0", "127.0.0.1:0"
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
