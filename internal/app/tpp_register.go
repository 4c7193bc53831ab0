package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"

	"github.com/portcullis/portcullis/internal/jose"
	"github.com/portcullis/portcullis/internal/nca"
	"github.com/portcullis/portcullis/internal/pki/eidas"
)

// SandboxRegisterFile is the dev sandbox NCA register under the data directory: the EBA
// PSD2 register JSON shape, created empty on first start. In dev mode a TPP it does not
// list is authorised; list one with an even number of ENT_AUT dates (withdrawn), or
// without a service, to see it refused. It is reread every tpp_register.refresh_interval
// and by [App.NCARegister].Refresh.
const SandboxRegisterFile = "register.json"

// sandboxRegister is what a new sandbox register file holds.
const sandboxRegister = `[
  [{"disclaimer": "Portcullis sandbox NCA register (EBA PSD2 register JSON shape). Entities go in the second array; TPPs not listed are authorised in dev mode only."}],
  []
]
`

// tppRegister is what the three consumers ask (dcr.TPPRegister, clientauth.TPPRegister,
// gateway.TPPRegister have this one method).
type tppRegister interface {
	Check(ctx context.Context, id nca.ID, roles []eidas.Role) error
}

// buildTPPRegister builds the NCA register check from tpp_register: a file or https URL
// in the EBA JSON shape (loaded now, then refreshed by a runner), or a webhook; in dev
// mode without any, the sandbox register file. It returns nil when no register is
// consulted (production without tpp_register). A first load that fails is logged, not
// fatal: until a load succeeds every TPP is refused with 503 (fail closed).
func (a *App) buildTPPRegister(remote *jose.RemoteJWKS) (tppRegister, error) {
	rc := a.cfg.TPPRegister
	policy := nca.Policy(rc.OnStale)
	if rc.WebhookURL != "" {
		h := http.Header{}
		if s := rc.WebhookSecret.Reveal(); s != "" {
			h.Set("Authorization", "Bearer "+s)
		}
		w, err := nca.NewWebhook(nca.WebhookOptions{URL: rc.WebhookURL, CacheTTL: rc.RefreshInterval, MaxAge: rc.MaxAge,
			Policy: policy, Headers: h, Clock: a.clock})
		if err != nil {
			return nil, fmt.Errorf("tpp_register: %w", err)
		}
		return w, nil
	}
	opts := nca.RegisterOptions{Clock: a.clock, RefreshInterval: rc.RefreshInterval, MaxAge: rc.MaxAge, Policy: policy}
	switch {
	case rc.URL != "":
		uri := rc.URL
		opts.Load = func(ctx context.Context) ([]byte, error) { return remote.FetchJSON(ctx, uri, nca.MaxRegisterSize) }
	case rc.File != "":
		opts.Load = readRegisterFile(rc.File)
	case a.cfg.Dev:
		path := filepath.Join(a.cfg.DataDir, SandboxRegisterFile)
		if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
			if err := os.WriteFile(path, []byte(sandboxRegister), 0o644); err != nil {
				return nil, fmt.Errorf("sandbox register: %w", err)
			}
		}
		opts.Load = readRegisterFile(path)
		opts.AllowUnlisted = true
	default:
		return nil, nil
	}
	r, err := nca.NewRegister(opts)
	if err != nil {
		return nil, fmt.Errorf("tpp_register: %w", err)
	}
	if err := r.Refresh(context.Background()); err != nil {
		a.logger.Error("tpp_register: first load failed; TPPs are refused until a refresh succeeds", slog.String("error", err.Error()))
	}
	a.NCARegister = r
	a.runners = append(a.runners, func(ctx context.Context) {
		r.Run(ctx, func(err error) { a.logger.Error("tpp_register: refresh failed", slog.String("error", err.Error())) })
	})
	return r, nil
}

func readRegisterFile(path string) func(context.Context) ([]byte, error) {
	return func(context.Context) ([]byte, error) {
		f, err := os.Open(path)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		data, err := io.ReadAll(io.LimitReader(f, nca.MaxRegisterSize+1))
		if err != nil {
			return nil, err
		}
		if len(data) > nca.MaxRegisterSize {
			return nil, fmt.Errorf("%s is over %d bytes", path, nca.MaxRegisterSize)
		}
		return data, nil
	}
}
