package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/portcullis/portcullis/internal/app"
	"github.com/portcullis/portcullis/internal/client"
)

// actorCLI is the actor recorded in audit events for changes made with `portcullis client`.
const actorCLI = "cli"

// newClientCmd returns `portcullis client add|list|get|remove` (INTERFACE.md). openRegistry
// opens the registry named by --config / --data-dir and returns a function that closes it.
//
// Errors: bad flags, a scope the server does not offer, a JWKS file that cannot be read and
// metadata the registry refuses (the message names the field) are usage errors (exit 2); an unknown or already registered
// client and store failures are runtime errors (exit 1).
func newClientCmd(openRegistry func(cmd *cobra.Command) (*client.Registry, func(), error)) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "client",
		Short: "Register, list, show and remove OAuth clients",
	}
	cmd.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	cmd.AddCommand(
		newClientAddCmd(openRegistry),
		newClientListCmd(openRegistry),
		newClientGetCmd(openRegistry),
		newClientRemoveCmd(openRegistry),
	)
	return cmd
}

// clientAddFlags are the flags of `client add`.
type clientAddFlags struct {
	id, name, auth, jwksFile, jwksURI, profile, signingAlg string
	subjectDN, sanDNS, sanURI, sanIP, sanEmail             string
	logoURI, subjectType, sectorURI                        string
	redirectURIs, scopes, grantTypes, responseTypes        []string
}

func newClientAddCmd(openRegistry func(*cobra.Command) (*client.Registry, func(), error)) *cobra.Command {
	var f clientAddFlags
	cmd := &cobra.Command{
		Use:   "add --id ID --auth METHOD [flags]",
		Short: "Register a client",
		Long: `Register a confidential client.

--auth is private_key_jwt, tls_client_auth or self_signed_tls_client_auth. private_key_jwt and
self_signed_tls_client_auth need --jwks FILE (a JWK Set of public keys) or --jwks-uri URL;
tls_client_auth needs --subject-dn (RFC 4514, e.g. "CN=0015800001HQQrZAAX,O=Example TPP Ltd,C=GB")
or one --san-* value. --grant-type defaults to authorization_code, which needs --redirect-uri
under fapi1 (the default profile).`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := f.client()
			if err != nil {
				return usageError{err}
			}
			reg, closeReg, err := openRegistry(cmd)
			if err != nil {
				return err
			}
			defer closeReg()
			out, err := reg.Add(client.WithActor(cmd.Context(), actorCLI), c)
			if err != nil {
				return clientCmdError(err)
			}
			return printClientJSON(cmd.OutOrStdout(), out)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.id, "id", "", "client_id (letters, digits and -._~; at most 128)")
	fl.StringVar(&f.name, "name", "", "client_name")
	fl.StringVar(&f.auth, "auth", "", "token_endpoint_auth_method: private_key_jwt, tls_client_auth or self_signed_tls_client_auth")
	fl.StringVar(&f.jwksFile, "jwks", "", "file holding the client's JWK Set (public keys)")
	fl.StringVar(&f.jwksURI, "jwks-uri", "", "https URL of the client's JWK Set")
	fl.StringVar(&f.subjectDN, "subject-dn", "", "tls_client_auth_subject_dn (RFC 4514)")
	fl.StringVar(&f.sanDNS, "san-dns", "", "tls_client_auth_san_dns")
	fl.StringVar(&f.sanURI, "san-uri", "", "tls_client_auth_san_uri")
	fl.StringVar(&f.sanIP, "san-ip", "", "tls_client_auth_san_ip")
	fl.StringVar(&f.sanEmail, "san-email", "", "tls_client_auth_san_email")
	fl.StringArrayVar(&f.redirectURIs, "redirect-uri", nil, "redirect URI (https; repeatable)")
	fl.StringArrayVar(&f.scopes, "scope", nil, "scope (repeatable, or space-separated)")
	fl.StringArrayVar(&f.grantTypes, "grant-type", nil, "authorization_code, client_credentials or refresh_token (repeatable)")
	fl.StringVar(&f.profile, "profile", client.DefaultProfile, "FAPI profile: fapi1 or fapi2")
	fl.StringVar(&f.logoURI, "logo-uri", "", "https URL of the client's logo, shown on the customer's approval page")
	fl.StringVar(&f.subjectType, "subject-type", "", "public (default) or pairwise (OIDC Core §8)")
	fl.StringVar(&f.sectorURI, "sector-identifier-uri", "", "https URL of the JSON array of the client's redirect URIs (pairwise clients with several hosts)")
	fl.StringArrayVar(&f.responseTypes, "response-type", nil, "code or \"code id_token\" (repeatable; default per profile)")
	fl.StringVar(&f.signingAlg, "token-endpoint-auth-signing-alg", "", "the one algorithm the client's assertions may use (PS256, ES256, EdDSA under fapi2)")
	return cmd
}

// client builds the client the flags describe. It checks only what flags can get wrong by
// themselves, and that every --scope is one the server offers (discovery's
// scopes_supported, app.ScopesSupported: a token request could never get another one);
// the registry validates the metadata.
func (f *clientAddFlags) client() (*client.Client, error) {
	if f.id == "" {
		return nil, errors.New("--id is required")
	}
	if f.auth == "" {
		return nil, errors.New("--auth is required")
	}
	if f.jwksFile != "" && f.jwksURI != "" {
		return nil, errors.New("--jwks and --jwks-uri are mutually exclusive")
	}
	c := &client.Client{
		ID:                          f.id,
		Name:                        f.name,
		TokenEndpointAuthMethod:     f.auth,
		TokenEndpointAuthSigningAlg: f.signingAlg,
		JWKSURI:                     f.jwksURI,
		TLSClientAuthSubjectDN:      f.subjectDN,
		TLSClientAuthSANDNS:         f.sanDNS,
		TLSClientAuthSANURI:         f.sanURI,
		TLSClientAuthSANIP:          f.sanIP,
		TLSClientAuthSANEmail:       f.sanEmail,
		RedirectURIs:                f.redirectURIs,
		GrantTypes:                  f.grantTypes,
		ResponseTypes:               f.responseTypes,
		Profile:                     f.profile,
		LogoURI:                     f.logoURI,
		SubjectType:                 f.subjectType,
		SectorIdentifierURI:         f.sectorURI,
	}
	offered := app.ScopesSupported()
	for _, s := range f.scopes {
		for _, sc := range strings.Fields(s) {
			if !slices.Contains(offered, sc) {
				return nil, fmt.Errorf("--scope %q: not offered by this server (scopes_supported: %s)", sc, strings.Join(offered, " "))
			}
			c.Scope = append(c.Scope, sc)
		}
	}
	if f.jwksFile != "" {
		raw, err := readJWKSFile(f.jwksFile)
		if err != nil {
			return nil, err
		}
		c.JWKS = raw
	}
	return c, nil
}

// readJWKSFile reads a JWK Set file of at most client.MaxJWKSSize bytes and returns it as
// compact JSON.
func readJWKSFile(path string) (json.RawMessage, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("--jwks: %w", err)
	}
	defer fh.Close()
	data, err := io.ReadAll(io.LimitReader(fh, client.MaxJWKSSize+1))
	if err != nil {
		return nil, fmt.Errorf("--jwks: %w", err)
	}
	if len(data) > client.MaxJWKSSize {
		return nil, fmt.Errorf("--jwks: %s is larger than %d bytes", path, client.MaxJWKSSize)
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, data); err != nil {
		return nil, fmt.Errorf("--jwks: %s is not JSON: %w", path, err)
	}
	return buf.Bytes(), nil
}

func newClientListCmd(openRegistry func(*cobra.Command) (*client.Registry, func(), error)) *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List registered clients",
		Args:  usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			reg, closeReg, err := openRegistry(cmd)
			if err != nil {
				return err
			}
			defer closeReg()
			all, err := reg.List(cmd.Context())
			if err != nil {
				return clientCmdError(err)
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "CLIENT_ID\tAUTH\tPROFILE\tCREATED")
			for _, c := range all {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", c.ID, c.TokenEndpointAuthMethod, c.EffectiveProfile(),
					c.CreatedAt.UTC().Format(time.RFC3339))
			}
			return tw.Flush()
		},
	}
}

func newClientGetCmd(openRegistry func(*cobra.Command) (*client.Registry, func(), error)) *cobra.Command {
	return &cobra.Command{
		Use:   "get ID",
		Short: "Show a registered client's metadata as JSON",
		Args:  usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			reg, closeReg, err := openRegistry(cmd)
			if err != nil {
				return err
			}
			defer closeReg()
			c, err := reg.Get(cmd.Context(), args[0])
			if err != nil {
				return clientCmdError(err)
			}
			return printClientWithProvenance(cmd.OutOrStdout(), c)
		},
	}
}

// provenance says how a client came to be registered: by the operator, or by dynamic
// client registration with a software statement of a trusted directory.
type provenance struct {
	Method     string `json:"method"` // "operator" or "dynamic_client_registration"
	SSAIssuer  string `json:"ssa_issuer,omitempty"`
	SoftwareID string `json:"software_id,omitempty"`
	OrgID      string `json:"org_id,omitempty"`
	OrgName    string `json:"org_name,omitempty"`
}

// printClientWithProvenance prints the client's metadata as JSON plus a "provenance"
// member; the registration access token's hash is left out (it is nobody's business).
func printClientWithProvenance(w io.Writer, c *client.Client) error {
	pub := c.Clone()
	p := provenance{Method: "operator"}
	if pub.Registration != nil {
		pub.Registration.AccessTokenHash = ""
		p = provenance{Method: "dynamic_client_registration", SSAIssuer: pub.Registration.SSAIssuer,
			SoftwareID: pub.SoftwareID, OrgID: pub.OrgID, OrgName: pub.Registration.OrgName}
	}
	doc, err := json.Marshal(pub)
	if err != nil {
		return err
	}
	var m map[string]any
	if err := json.Unmarshal(doc, &m); err != nil {
		return err
	}
	if r, ok := m["registration"].(map[string]any); ok {
		delete(r, "registration_access_token_hash")
	}
	m["provenance"] = p
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(m)
}

func newClientRemoveCmd(openRegistry func(*cobra.Command) (*client.Registry, func(), error)) *cobra.Command {
	return &cobra.Command{
		Use:   "remove ID",
		Short: "Remove a registered client",
		Args:  usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			reg, closeReg, err := openRegistry(cmd)
			if err != nil {
				return err
			}
			defer closeReg()
			if err := reg.Remove(client.WithActor(cmd.Context(), actorCLI), args[0]); err != nil {
				return clientCmdError(err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "removed client %s\n", args[0])
			return nil
		},
	}
}

// clientCmdError turns registry errors into command errors: refused metadata is a usage
// error naming the field; the rest are runtime errors with a plain message.
func clientCmdError(err error) error {
	var me *client.MetadataError
	switch {
	case errors.As(err, &me):
		return usageError{fmt.Errorf("invalid %s: %s", me.Field, me.Description)}
	case errors.Is(err, client.ErrNotFound):
		return errors.New("no such client")
	case errors.Is(err, client.ErrExists):
		return errors.New("a client with this id is already registered")
	}
	return err
}

func printClientJSON(w io.Writer, c *client.Client) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(c)
}
