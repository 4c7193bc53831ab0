package main

import (
	"bytes"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/portcullis/portcullis/internal/jose"
)

// maxClaimsSize bounds the claims read by `directory sign-request`.
const maxClaimsSize = 64 << 10

// newDirectorySoftwareJWKSCmd is `portcullis directory software-jwks --key FILE`: the
// public JWK Set of a TPP's software key, to publish at the SSA's software_jwks_endpoint.
// A tool for the sandbox onboarding (README "Onboarding a TPP"): TPP tooling has its own.
func newDirectorySoftwareJWKSCmd() *cobra.Command {
	var keyFile string
	cmd := &cobra.Command{
		Use:   "software-jwks --key FILE",
		Short: "Print the public JWK Set of a TPP software key (PKCS#8 PEM: RSA-2048+ for PS256, EC P-256 for ES256); kid = RFC 7638 thumbprint",
		Args:  usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			ks, err := softwareKeyStore(keyFile)
			if err != nil {
				return err
			}
			_, err = cmd.OutOrStdout().Write(append(ks.JWKS(), '\n'))
			return err
		},
	}
	cmd.Flags().StringVar(&keyFile, "key", "", "the TPP's software signing key (PKCS#8 PEM, as `openssl genpkey` writes it)")
	return cmd
}

// newDirectorySignRequestCmd is `portcullis directory sign-request --key FILE`: signs the
// JSON claims on standard input (a registration request, a request object) with a TPP's
// software key — PS256 for an RSA key, ES256 for a P-256 key, kid the key's RFC 7638
// thumbprint, typ JWT — and prints the compact JWS. Signing a JWT in plain bash with
// openssl is possible for PS256 but fragile for ES256 (DER to r||s), hence this helper.
func newDirectorySignRequestCmd() *cobra.Command {
	var keyFile, typ string
	cmd := &cobra.Command{
		Use:   "sign-request --key FILE < claims.json",
		Short: "Sign JSON claims from standard input as a compact JWS with a TPP software key (PS256 for RSA, ES256 for P-256)",
		Args:  usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			ks, err := softwareKeyStore(keyFile)
			if err != nil {
				return err
			}
			claims, err := io.ReadAll(io.LimitReader(cmd.InOrStdin(), maxClaimsSize+1))
			if err != nil {
				return fmt.Errorf("sign-request: reading claims: %w", err)
			}
			if len(claims) > maxClaimsSize {
				return usagef("sign-request: the claims are over %d bytes", maxClaimsSize)
			}
			jws, err := ks.Sign(bytes.Trim(claims, " \t\r\n"), typ)
			if err != nil {
				return usagef("sign-request: %v", err)
			}
			fmt.Fprintln(cmd.OutOrStdout(), jws)
			return nil
		},
	}
	cmd.Flags().StringVar(&keyFile, "key", "", "the TPP's software signing key (PKCS#8 PEM)")
	cmd.Flags().StringVar(&typ, "typ", "JWT", "JOSE header typ")
	return cmd
}

func softwareKeyStore(keyFile string) (*jose.KeyStore, error) {
	if keyFile == "" {
		return nil, usagef("directory: --key is required")
	}
	pemBytes, err := os.ReadFile(keyFile)
	if err != nil {
		return nil, fmt.Errorf("directory: %w", err)
	}
	k, err := jose.ParseSigningKeyPEM(pemBytes)
	if err != nil {
		return nil, usagef("directory: %s: %v", keyFile, err)
	}
	ks, err := jose.NewKeyStore(jose.KeyStoreOptions{}, k)
	if err != nil {
		return nil, fmt.Errorf("directory: %w", err)
	}
	return ks, nil
}
