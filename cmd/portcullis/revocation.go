package main

import (
	"bytes"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/portcullis/portcullis/internal/app"
	"github.com/portcullis/portcullis/internal/config"
	"github.com/portcullis/portcullis/internal/pki/sandbox"
)

// newRevocationCmd is `portcullis revocation forget`: operator actions on a running
// server's certificate revocation cache, through its admin API.
func newRevocationCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "revocation",
		Short: "Act on a running server's certificate revocation cache",
	}
	cmd.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	cmd.AddCommand(newRevocationForgetCmd())
	return withStateFlags(cmd)
}

func newRevocationForgetCmd() *cobra.Command {
	var serial, issuer, server, cacert string
	cmd := &cobra.Command{
		Use:   "forget --serial HEX [--issuer SHA256] [--server URL] [--cacert FILE]",
		Short: "Make a running server drop one certificate's cached revocation status",
		Long: `Make a running server drop what it cached about one certificate's revocation status
(POST /admin/revocation/forget), so that its next validation asks the OCSP responder or the
CRL again — for instance when a revocation is announced before an earlier "good" OCSP answer
expires (revocation.max_good_age). It never makes a certificate acceptable.

--serial is the certificate's serial number in hex (as pki issue or openssl x509 -serial print
it). --issuer, optional, restricts it to the issuer certificate with that SHA-256 fingerprint
(openssl x509 -noout -fingerprint -sha256 -in issuer.pem). The admin token is admin.token of the
configuration (or PORTCULLIS_ADMIN_TOKEN). --server defaults to the admin listener
(listen.admin); --cacert to the sandbox CA in dev mode, else the system roots.

The cache is per node: in a cluster, run it against every node.`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			n, err := parseSerial(serial)
			if serial == "" || err != nil {
				return usagef("revocation forget: --serial: a serial number in hex is required")
			}
			body := map[string]string{"serial": n.Text(16)}
			if issuer != "" {
				fp, err := hex.DecodeString(strings.ReplaceAll(strings.TrimSpace(issuer), ":", ""))
				if err != nil || len(fp) != sha256.Size {
					return usagef("revocation forget: --issuer: not a SHA-256 fingerprint in hex")
				}
				body["issuer"] = hex.EncodeToString(fp)
			}
			cfg, err := stateFlagsOf(cmd).load()
			if err != nil {
				return err
			}
			token := cfg.Admin.Token.Reveal()
			if token == "" {
				return usagef("revocation forget: no admin token configured (admin.token or PORTCULLIS_ADMIN_TOKEN)")
			}
			if server == "" {
				server = defaultAdminURL(cfg)
			}
			c, err := adminHTTPClient(cfg, cacert)
			if err != nil {
				return err
			}
			if err := postForget(c, strings.TrimRight(server, "/")+app.PathAdminRevocationForget, token, body); err != nil {
				return fmt.Errorf("revocation forget: %w", err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "forgot the cached revocation status of %s at %s\n", n.Text(16), server)
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&serial, "serial", "", "serial number in hex (colons and 0x allowed)")
	fl.StringVar(&issuer, "issuer", "", "SHA-256 fingerprint of the issuer certificate in hex (default: any issuer)")
	fl.StringVar(&server, "server", "", "base URL of the server's admin API (default https://<listen.admin>)")
	fl.StringVar(&cacert, "cacert", "", "PEM file of the CA that issued the server's certificate")
	return cmd
}

// defaultAdminURL is the configured admin listener (listen.admin), on localhost when it
// listens on every address.
func defaultAdminURL(cfg *config.Config) string {
	host, port, err := net.SplitHostPort(cfg.Listen.Admin)
	if err != nil {
		return "https://localhost:9443"
	}
	if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
		host = "localhost"
	}
	return "https://" + net.JoinHostPort(host, port)
}

// adminHTTPClient trusts cacert, or in dev mode the sandbox CA, or else the system roots.
func adminHTTPClient(cfg *config.Config, cacert string) (*http.Client, error) {
	if cacert == "" && cfg.Dev {
		if p := filepath.Join(cfg.DataDir, "pki", sandbox.FileRootCert); fileExists(p) {
			cacert = p
		}
	}
	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	if cacert != "" {
		pem, err := os.ReadFile(cacert)
		if err != nil {
			return nil, usagef("revocation forget: --cacert: %v", err)
		}
		tc.RootCAs = x509.NewCertPool()
		if !tc.RootCAs.AppendCertsFromPEM(pem) {
			return nil, usagef("revocation forget: --cacert: no PEM certificate in %s", cacert)
		}
	}
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: tc, Proxy: nil}}, nil
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// postForget sends the forget request and turns anything but 204 into an error naming the
// server's RFC 6749 error, if it sent one.
func postForget(c *http.Client, url, token string, body map[string]string) error {
	b, err := json.Marshal(body)
	if err != nil {
		return err
	}
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(b))
	if err != nil {
		return usageError{err}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusNoContent {
		return nil
	}
	var e struct {
		Error       string `json:"error"`
		Description string `json:"error_description"`
	}
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if json.Unmarshal(raw, &e) == nil && e.Error != "" {
		return fmt.Errorf("server answered %d %s: %s", resp.StatusCode, e.Error, e.Description)
	}
	if resp.StatusCode == http.StatusNotFound {
		return errors.New("server answered 404: is admin.token set on the server?")
	}
	return fmt.Errorf("server answered %d", resp.StatusCode)
}
