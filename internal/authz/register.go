package authz

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"strings"

	"github.com/portcullis/portcullis/internal/audit"
	"github.com/portcullis/portcullis/internal/client"
	"github.com/portcullis/portcullis/internal/dcr"
	"github.com/portcullis/portcullis/internal/mtls"
	"github.com/portcullis/portcullis/internal/oauth"
	"github.com/portcullis/portcullis/internal/obs"
	"github.com/portcullis/portcullis/internal/pki"
	"github.com/portcullis/portcullis/internal/store"
	"github.com/portcullis/portcullis/internal/token"
)

// PathRegister is the dynamic client registration endpoint (RFC 7591 §3, OB-DCR-01); a
// registered client's configuration endpoint is PathRegister + "/" + client_id (RFC 7592).
const PathRegister = "/register"

// registrationTokenEntropy is the number of random bytes of a registration_access_token.
const registrationTokenEntropy = 32

// RegistrationVerifier checks a registration request presented over mTLS by the holder of
// the validated certificate; *dcr.Verifier implements it. It returns the client to
// register (no client_id), a *dcr.Error for a refused request, or an error matching
// dcr.ErrUnavailable when it could not check.
type RegistrationVerifier interface {
	Verify(ctx context.Context, body []byte, id *pki.Identity) (*client.Client, error)
}

// RegisteredClients is the client registry; *client.Registry implements it with its
// contract (client.ErrNotFound, *client.MetadataError, client.ErrExists).
type RegisteredClients interface {
	Add(ctx context.Context, c *client.Client) (*client.Client, error)
	Get(ctx context.Context, id string) (*client.Client, error)
	Update(ctx context.Context, c *client.Client) (*client.Client, error)
	Remove(ctx context.Context, id string) error
}

// ClientRefreshTokens revokes a client's refresh tokens; *store.Store implements it.
type ClientRefreshTokens interface {
	RevokeRefreshTokensByClient(ctx context.Context, clientID string) (int64, error)
}

// RegistrationOptions enable dynamic client registration ([Options].Registration). Every
// field is required.
type RegistrationOptions struct {
	Verifier      RegistrationVerifier
	Clients       RegisteredClients
	RefreshTokens ClientRefreshTokens
}

func (o *RegistrationOptions) check() error {
	switch {
	case o.Verifier == nil:
		return errors.New("authz: Options.Registration.Verifier is required")
	case o.Clients == nil:
		return errors.New("authz: Options.Registration.Clients is required")
	case o.RefreshTokens == nil:
		return errors.New("authz: Options.Registration.RefreshTokens is required")
	}
	return nil
}

// registerRoutes mounts POST /register and GET/PUT/DELETE /register/{client_id}.
func (s *Server) registerRoutes(mux *http.ServeMux) {
	b := s.basePath
	s.route(mux, http.MethodPost, b+PathRegister, s.handleRegister)
	conf := b + PathRegister + "/{client_id}"
	mux.Handle("GET "+conf, s.serve(s.handleRegistrationRead))
	mux.Handle("PUT "+conf, s.serve(s.handleRegistrationUpdate))
	mux.Handle("DELETE "+conf, s.serve(s.handleRegistrationDelete))
	mux.Handle(conf, s.serve(func(w http.ResponseWriter, r *http.Request) error {
		w.Header().Set("Allow", "GET, HEAD, PUT, DELETE")
		return oauth.MethodNotAllowed()
	}))
}

// handleRegister is dynamic client registration (RFC 7591 §3, OB-DCR-01…10). The caller must
// present a certificate that package pki validated (401 invalid_client otherwise); the body
// is the signed registration JWT as application/jwt or application/jose (400
// invalid_request otherwise, or when larger than dcr.MaxRequestSize). Package dcr verifies
// it (400 with the RFC 7591 code of dcr-consent.md §1.6; 503 when a key set or the replay
// store cannot be read). The client gets a random UUID client_id and a
// registration_access_token of 256 bits, of which only the SHA-256 is stored; the answer is
// 201 with the registered metadata, registration_access_token and registration_client_uri
// (RFC 7592 §3). Every outcome is audited; a refused request registers nothing.
func (s *Server) handleRegister(w http.ResponseWriter, r *http.Request) (err error) {
	ctx := r.Context()
	var id *pki.Identity
	defer func() { s.auditRefusal(ctx, "register", id, err) }()
	if id, err = mtls.ClientIdentity(r); err != nil {
		return err
	}
	body, err := readRegistrationBody(r)
	if err != nil {
		return err
	}
	c, err := s.reg.Verifier.Verify(ctx, body, id)
	if err != nil {
		return err
	}
	if c.ID, err = newClientID(); err != nil {
		return err
	}
	rat, err := token.NewSecret(registrationTokenEntropy)
	if err != nil {
		return fmt.Errorf("authz: registration access token: %w", err)
	}
	if c.Registration == nil {
		return errors.New("authz: the registration verifier returned a client without its registration record")
	}
	c.Registration.AccessTokenHash = store.HashSecret(rat)
	out, err := s.reg.Clients.Add(client.WithActor(ctx, "dcr"), c)
	if err != nil {
		return err
	}
	s.auditRegistration(ctx, "register", out, id, "")
	obs.Annotate(ctx, slog.String("client_id", out.ID))
	return s.writeRegistration(w, http.StatusCreated, out, rat)
}

// handleRegistrationRead is RFC 7592 §2.1 / OB-DCR-11 read: 200 with the metadata.
func (s *Server) handleRegistrationRead(w http.ResponseWriter, r *http.Request) (err error) {
	defer func() { s.auditRefusal(r.Context(), "read", nil, err) }()
	c, _, err := s.authenticateManagement(r)
	if err != nil {
		return err
	}
	return s.writeRegistration(w, http.StatusOK, c, "")
}

// handleRegistrationUpdate is RFC 7592 §2.2 / OB-DCR-11 update: the body is a complete
// registration JWT, verified exactly as at registration (with the caller's certificate),
// for the same software_id and org_id as the registered client (400
// invalid_client_metadata otherwise). The metadata is replaced; the client_id, the
// registration access token and every issued token stay valid.
func (s *Server) handleRegistrationUpdate(w http.ResponseWriter, r *http.Request) (err error) {
	ctx := r.Context()
	var id *pki.Identity
	defer func() { s.auditRefusal(ctx, "update", id, err) }()
	old, how, err := s.authenticateManagement(r)
	if err != nil {
		return err
	}
	if id, err = mtls.ClientIdentity(r); err != nil {
		return err
	}
	body, err := readRegistrationBody(r)
	if err != nil {
		return err
	}
	c, err := s.reg.Verifier.Verify(ctx, body, id)
	if err != nil {
		return err
	}
	if c.SoftwareID != old.SoftwareID || c.OrgID != old.OrgID || c.Registration == nil || old.Registration == nil {
		return &dcr.Error{Code: dcr.CodeInvalidClientMetadata, Claim: "software_id",
			Description: "the software statement is for another software_id or organisation than the registered client"}
	}
	c.ID = old.ID
	c.Registration.AccessTokenHash = old.Registration.AccessTokenHash
	out, err := s.reg.Clients.Update(client.WithActor(ctx, "dcr"), c)
	if err != nil {
		return err
	}
	s.auditRegistration(ctx, "update", out, id, how)
	return s.writeRegistration(w, http.StatusOK, out, "")
}

// handleRegistrationDelete is RFC 7592 §2.3 / OB-DCR-11 delete: the client is removed and
// its refresh tokens revoked; 204. A later call for it is 401.
func (s *Server) handleRegistrationDelete(w http.ResponseWriter, r *http.Request) (err error) {
	ctx := r.Context()
	defer func() { s.auditRefusal(ctx, "delete", nil, err) }()
	c, how, err := s.authenticateManagement(r)
	if err != nil {
		return err
	}
	if err := s.reg.Clients.Remove(client.WithActor(ctx, "dcr"), c.ID); err != nil {
		if errors.Is(err, client.ErrNotFound) {
			return oauth.InvalidToken("the client is not registered")
		}
		return err
	}
	n, err := s.reg.RefreshTokens.RevokeRefreshTokensByClient(ctx, c.ID)
	if err != nil {
		// The client is gone, so its refresh tokens no longer work (the token endpoint
		// needs the client); the revocation is bookkeeping and is retried by a repeat.
		return oauth.TemporarilyUnavailable(err)
	}
	id, _ := mtls.ClientIdentity(r)
	s.auditRegistration(ctx, "delete", c, id, how, slog.Int64("refresh_tokens_revoked", n))
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// authenticateManagement authenticates a call to /register/{client_id} (RFC 7592 §2,
// OB-DCR-11) by its bearer token, which is either
//
//   - the client's registration_access_token, compared by SHA-256 in constant time with
//     the stored hash; or
//   - an access token of the client_credentials grant (aut APPLICATION) issued to that
//     client, verified like any access token and bound to the certificate of this
//     connection (RFC 8705 §3). An access token of another client — or of a client that
//     no longer exists — is revoked at once (deny-list and store) and refused. A client
//     the operator added (no registration record) cannot be managed here.
//
// Every failure is 401 invalid_token with WWW-Authenticate: Bearer error="invalid_token"
// (503 when the deny-list is too old to rule a revocation out). It returns the client and
// how it was authenticated.
func (s *Server) authenticateManagement(r *http.Request) (*client.Client, string, error) {
	ctx := r.Context()
	pathID := r.PathValue("client_id")
	scheme, raw, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || raw == "" || len(raw) > 8<<10 {
		return nil, "", oauth.InvalidToken("a bearer token is required")
	}
	if strings.Count(raw, ".") == 2 {
		return s.manageByAccessToken(r, pathID, raw)
	}
	c, err := s.reg.Clients.Get(ctx, pathID)
	switch {
	case errors.Is(err, client.ErrNotFound):
		return nil, "", oauth.InvalidToken("the token is not valid for this client")
	case err != nil:
		return nil, "", err
	}
	want := ""
	if c.Registration != nil {
		want = c.Registration.AccessTokenHash
	}
	got := store.HashSecret(raw)
	if want == "" || subtle.ConstantTimeCompare([]byte(got), []byte(want)) != 1 {
		return nil, "", oauth.InvalidToken("the token is not valid for this client")
	}
	return c, "registration_access_token", nil
}

func (s *Server) manageByAccessToken(r *http.Request, pathID, raw string) (*client.Client, string, error) {
	ctx := r.Context()
	at, err := s.verifier.Verify(ctx, raw)
	switch {
	case errors.Is(err, token.ErrRevocationStateUnavailable):
		return nil, "", err
	case err != nil:
		return nil, "", oauth.InvalidToken("the access token is invalid").WithCause(err)
	case at.Use != token.UseApplication:
		return nil, "", oauth.InvalidToken("a client_credentials access token is required")
	}
	id, err := mtls.ClientIdentity(r)
	if err != nil {
		return nil, "", oauth.InvalidToken("the access token must be used over mTLS with its certificate").WithCause(err)
	}
	if err := token.CheckBinding(at, id.Thumbprint); err != nil {
		return nil, "", oauth.InvalidToken("the access token is not bound to this certificate").WithCause(err)
	}
	c, err := s.reg.Clients.Get(ctx, pathID)
	if err != nil && !errors.Is(err, client.ErrNotFound) {
		return nil, "", err
	}
	if err != nil || at.ClientID != pathID {
		// OB-DCR-11: a token used for another (or an unknown) client id is revoked.
		s.deny.Add(at.JTI, at.ExpiresAt)
		if rerr := s.revs.RevokeToken(ctx, store.Revocation{JTI: at.JTI, ClientID: at.ClientID, ExpiresAt: at.ExpiresAt}); rerr != nil {
			return nil, "", oauth.TemporarilyUnavailable(rerr)
		}
		ev := tokenEvent(audit.TypeTokenRevoked, at, "")
		ev.Data["reason"] = "used at the registration endpoint of another or an unknown client"
		s.audit.Record(ctx, ev)
		return nil, "", oauth.InvalidToken("the token is not valid for this client")
	}
	if c.Registration == nil {
		// A client the operator added is managed by the operator, not through RFC 7592.
		return nil, "", oauth.InvalidToken("the client was not registered dynamically")
	}
	return c, "access_token", nil
}

// readRegistrationBody checks the media type (application/jwt or application/jose) and
// reads at most dcr.MaxRequestSize bytes.
func readRegistrationBody(r *http.Request) ([]byte, error) {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || (mt != "application/jwt" && mt != "application/jose") {
		return nil, oauth.InvalidRequest("the registration request must be sent as application/jwt")
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, dcr.MaxRequestSize+1))
	if err != nil {
		return nil, oauth.InvalidRequest("the request body could not be read").WithCause(err)
	}
	if len(body) > dcr.MaxRequestSize {
		return nil, oauth.InvalidRequest("the registration request is too large")
	}
	return []byte(strings.TrimSpace(string(body))), nil
}

// writeRegistration writes the client information response (RFC 7591 §3.2.1, RFC 7592
// §3): the registered metadata, without the stored token hash, plus
// registration_client_uri and, right after registration, registration_access_token.
func (s *Server) writeRegistration(w http.ResponseWriter, status int, c *client.Client, rat string) error {
	pub := c.Clone()
	if pub.Registration != nil {
		pub.Registration.AccessTokenHash = ""
	}
	doc, err := json.Marshal(pub)
	if err != nil {
		return fmt.Errorf("authz: encoding client: %w", err)
	}
	var m map[string]any
	if err := json.Unmarshal(doc, &m); err != nil {
		return fmt.Errorf("authz: encoding client: %w", err)
	}
	m["registration_client_uri"] = s.mtlsBase + PathRegister + "/" + c.ID
	if !c.CreatedAt.IsZero() {
		m["client_id_issued_at"] = c.CreatedAt.Unix()
	}
	if rat != "" {
		m["registration_access_token"] = rat
	}
	body, err := json.Marshal(m)
	if err != nil {
		return fmt.Errorf("authz: encoding client: %w", err)
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
	w.WriteHeader(status)
	_, _ = w.Write(append(body, '\n'))
	return nil
}

func (s *Server) auditRegistration(ctx context.Context, op string, c *client.Client, id *pki.Identity, how string, extra ...slog.Attr) {
	data := map[string]any{"operation": op, "software_id": c.SoftwareID, "org_id": c.OrgID}
	if c.Registration != nil {
		data["ssa_issuer"] = c.Registration.SSAIssuer
	}
	if id != nil {
		data["x5t#S256"] = id.Thumbprint
	}
	if how != "" {
		data["auth"] = how
	}
	for _, a := range extra {
		data[a.Key] = a.Value.Any()
	}
	s.audit.Record(ctx, audit.Event{Type: audit.TypeClientDynamicRegistration, ClientID: c.ID, Data: data})
}

// auditRefusal records a refused registration call with the wire code and the reason.
func (s *Server) auditRefusal(ctx context.Context, op string, id *pki.Identity, err error) {
	if err == nil {
		return
	}
	e := oauth.FromError(err)
	data := map[string]any{"operation": op, "error": e.Code, "reason": e.Description}
	var de *dcr.Error
	if errors.As(err, &de) {
		data["claim"] = de.Claim
	}
	if id != nil {
		data["x5t#S256"] = id.Thumbprint
	}
	s.audit.Record(ctx, audit.Event{Type: audit.TypeClientRegistrationRefused, Data: data})
}

// newClientID returns a random UUIDv4 (at most 36 characters, dcr-consent.md §1.3).
func newClientID() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("authz: client id: %w", err)
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:], nil
}
