package app_test

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"testing"

	"github.com/portcullis/portcullis/internal/app"
	"github.com/portcullis/portcullis/internal/audit"
	"github.com/portcullis/portcullis/internal/config"
	"github.com/portcullis/portcullis/internal/store"
)

// TestAuditWrittenAtClose: audit events still queued when the process shuts down are in
// the database once Close returns (the batch store sink is closed before the store).
func TestAuditWrittenAtClose(t *testing.T) {
	cfg := config.Default(true)
	cfg.DataDir = t.TempDir()
	cfg.Listen.HTTPS = "127.0.0.1:0"
	cfg.Listen.Public = "127.0.0.1:0"
	cfg.Listen.Ops = "127.0.0.1:0"
	if err := cfg.Validate(); err != nil {
		t.Fatalf("config: %v", err)
	}
	ctx := context.Background()
	a, err := app.New(ctx, cfg, app.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatalf("app.New: %v", err)
	}
	const n = 10
	for range n {
		a.Audit.Record(ctx, audit.Event{Type: audit.TypeTokenIssued, ClientID: "tpp"})
	}
	if err := a.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}

	st, err := store.Open(ctx, "sqlite:"+filepath.Join(cfg.DataDir, "portcullis.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	events, err := st.ListAudit(ctx, store.AuditFilter{Type: audit.TypeTokenIssued, ClientID: "tpp"})
	if err != nil {
		t.Fatal(err)
	}
	if len(events) != n {
		t.Errorf("%d token.issued events in the database after Close, want %d", len(events), n)
	}
}
