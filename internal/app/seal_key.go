package app

import (
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/portcullis/portcullis/internal/jose"
	"github.com/portcullis/portcullis/internal/pki"
	"github.com/portcullis/portcullis/internal/pki/eidas"
	"github.com/portcullis/portcullis/internal/pki/sandbox"
)

// maxSealFile bounds the message-signing key and certificate files.
const maxSealFile = 1 << 20

// loadSealKey sets the bank's message-signing key (x-jws-signature of responses, package
// obsig) on a.Keys, so that it is published in /jwks with its x5c chain: the PKCS#8 key in
// keys.seal_key_file with the certificate chain (leaf first) in keys.seal_cert_file; in dev
// mode without them, a sandbox QSealC (RSA, PS256) in DATA_DIR/pki/bank-seal.{crt,key},
// issued on first start. Without either, no message-signing key is set.
func (a *App) loadSealKey() error {
	certFile, keyFile := a.cfg.Keys.SealCertFile, a.cfg.Keys.SealKeyFile
	if certFile == "" && a.Sandbox != nil {
		var err error
		if certFile, keyFile, err = devSealCertificate(a.Sandbox); err != nil {
			return err
		}
	}
	if certFile == "" {
		return nil
	}
	certPEM, err := readSmall(certFile)
	if err != nil {
		return fmt.Errorf("keys.seal_cert_file: %w", err)
	}
	chain, err := pki.ParseCertificatesPEM(certPEM)
	if err != nil {
		return fmt.Errorf("keys.seal_cert_file: %w", err)
	}
	keyPEM, err := readSmall(keyFile)
	if err != nil {
		return fmt.Errorf("keys.seal_key_file: %w", err)
	}
	key, err := jose.ParseSigningKeyPEM(keyPEM)
	if err != nil {
		return fmt.Errorf("keys.seal_key_file: %w", err)
	}
	if key, err = key.WithCertificates(chain); err != nil {
		return fmt.Errorf("keys.seal_cert_file: %w", err)
	}
	if err := a.Keys.SetSealKey(key); err != nil {
		return fmt.Errorf("keys.seal_key_file: %w", err)
	}
	return nil
}

// devSealCertificate returns DATA_DIR/pki/bank-seal.{crt,key}, issuing a QSealC for the
// sandbox bank (ASPSP role) when they do not exist yet.
func devSealCertificate(ca *sandbox.CA) (certFile, keyFile string, err error) {
	prefix := filepath.Join(ca.Dir(), "bank-seal")
	certFile, keyFile = prefix+".crt", prefix+".key"
	if _, err := os.Stat(certFile); err == nil {
		return certFile, keyFile, nil
	}
	issued, err := ca.Issue(sandbox.KindQSealC, sandbox.IssueOptions{
		OrgID: "PSDGB-FCA-000001", OrgName: "Portcullis Sandbox Bank",
		Roles: []eidas.Role{eidas.RoleASPSP}, KeyType: sandbox.KeyRSA2048,
	})
	if err != nil {
		return "", "", fmt.Errorf("sandbox QSealC: %w", err)
	}
	if err := issued.WriteFiles(prefix); err != nil {
		return "", "", fmt.Errorf("sandbox QSealC: %w", err)
	}
	return certFile, keyFile, nil
}

func readSmall(name string) ([]byte, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxSealFile+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxSealFile {
		return nil, fmt.Errorf("%s: larger than %d bytes", name, maxSealFile)
	}
	return b, nil
}
