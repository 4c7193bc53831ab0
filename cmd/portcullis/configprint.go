package main

import (
	"bytes"
	"path/filepath"
	"strings"

	"github.com/knadh/koanf/parsers/yaml"

	"github.com/portcullis/portcullis/internal/config"
	"github.com/portcullis/portcullis/internal/pki/sandbox"
	"github.com/portcullis/portcullis/internal/sandbox/bank"
)

// devBankUpstream stands for the sandbox bank's address in the printed dev routes: serve
// binds the bank on a loopback port of its own, chosen at start.
const devBankUpstream = "http://127.0.0.1:<port chosen at start> (the sandbox bank)"

// printConfig renders cfg for `portcullis config print`: the effective configuration with
// secrets redacted. In dev mode the paths derived from the data directory are resolved
// (data_dir absolute, database.url, keys.dir), and what serve provisions at start on top
// of the configuration — the sandbox CA as trust anchor, the server certificate it
// issues, the sandbox bank's routes — follows as a commented YAML block, so the output
// still loads as the same configuration.
func printConfig(cfg *config.Config) ([]byte, error) {
	if !cfg.Dev {
		return cfg.Redacted()
	}
	eff := *cfg
	if abs, err := filepath.Abs(eff.DataDir); err == nil {
		eff.DataDir = abs
	}
	if eff.Database.URL == "" {
		eff.Database.URL = eff.DatabaseURL()
	}
	eff.Keys.Dir = eff.KeysDir()
	main, err := eff.Redacted()
	if err != nil {
		return nil, err
	}
	prov, err := yaml.Parser().Marshal(devProvisions(&eff))
	if err != nil {
		return nil, err
	}
	var out bytes.Buffer
	out.WriteString("# Effective configuration (dev mode). Paths under data_dir are resolved; the empty\n" +
		"# trust.anchors, tls.cert_file and gateway.routes below are filled in at start as listed at the end.\n")
	out.Write(main)
	out.WriteString("\n# Dev mode also provisions at start (serve), on top of the keys above:\n")
	for _, line := range strings.SplitAfter(strings.TrimRight(string(prov), "\n"), "\n") {
		out.WriteString("#   " + line)
	}
	out.WriteString("\n")
	return out.Bytes(), nil
}

// devProvisions is what app.New adds in dev mode (internal/app: loadTrust,
// devServerCertificate, buildGateway), in the configuration file's shape.
func devProvisions(cfg *config.Config) map[string]any {
	pkiDir := filepath.Join(cfg.DataDir, "pki")
	prov := map[string]any{
		"sandbox_ca": map[string]any{
			"dir":               pkiDir,
			"ocsp_and_crl_base": "http://" + cfg.Listen.Ops + "/pki",
		},
		"trust": map[string]any{
			"anchors": []any{map[string]any{
				"name": "sandbox", "file": filepath.Join(pkiDir, sandbox.FileRootCert), "profile": "eidas",
			}},
			"intermediates": []any{filepath.Join(pkiDir, sandbox.FileIssuingCert)},
		},
	}
	if cfg.TLS.CertFile == "" {
		prov["tls"] = map[string]any{
			"cert_file": filepath.Join(pkiDir, "server.crt"),
			"key_file":  filepath.Join(pkiDir, "server.key"),
		}
	}
	if len(cfg.Gateway.Routes) == 0 {
		var routes []any
		for _, r := range bank.Routes(devBankUpstream) {
			m := map[string]any{
				"name": r.Name, "method": r.Method, "path": r.Path, "scopes": r.Scopes,
				"token_use": r.TokenUse, "upstream": r.Upstream, "roles": r.Roles,
			}
			if r.Consent != "" {
				m["consent"] = r.Consent
				if r.ConsentOptional {
					m["consent_optional"] = true
				}
			}
			routes = append(routes, m)
		}
		prov["gateway"] = map[string]any{"routes": routes}
	}
	return prov
}
