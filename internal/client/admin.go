package client

import (
	"bytes"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"reflect"
	"strings"
)

// MinAdminTokenLen is the shortest admin token [AdminHandler] accepts. A shorter configured
// token disables the API, as an empty one does.
const MinAdminTokenLen = 32

// ActorAdminAPI is the actor recorded in audit events for changes made through
// [AdminHandler].
const ActorAdminAPI = "admin-api"

// AdminHandler returns the operator's HTTP API over reg:
//
//	POST   /admin/clients        register a client (body: client metadata JSON) → 201 + client
//	GET    /admin/clients        list clients → 200 {"clients": [...]}
//	GET    /admin/clients/{id}   one client → 200 + client
//	PUT    /admin/clients/{id}   replace a client's metadata → 200 + client
//	DELETE /admin/clients/{id}   remove a client → 204
//
// Every request must carry "Authorization: Bearer <token>"; the token is compared in
// constant time (of SHA-256 digests, so its length does not leak either). A missing or wrong
// token gets 401 with WWW-Authenticate (RFC 6750 §3). When token is empty or shorter than
// [MinAdminTokenLen] the API is disabled: every request gets 404, as if it did not exist.
//
// Request bodies are JSON (Content-Type application/json) of at most [MaxMetadataSize]
// bytes; unknown members are refused so that a misspelt field is not silently dropped.
// Errors are RFC 6749-style JSON bodies {error, error_description}: 400
// invalid_client_metadata / invalid_redirect_uri (RFC 7591 §3.2.2) for bad metadata, 404
// invalid_request for an unknown client, 409 invalid_request for an identifier already
// taken, 413 for an oversize body, 415 for another content type, 500 server_error (cause
// logged to logger, never sent) when the store fails. Every response has Cache-Control:
// no-store. Changes are audited with actor [ActorAdminAPI].
func AdminHandler(reg *Registry, token string, logger *slog.Logger) http.Handler {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if len(token) < MinAdminTokenLen {
		if token != "" {
			logger.Error("admin API disabled: admin token shorter than the minimum", "min_length", MinAdminTokenLen)
		}
		return http.NotFoundHandler()
	}
	a := &admin{reg: reg, log: logger, digest: sha256.Sum256([]byte(token))}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /admin/clients", a.create)
	mux.HandleFunc("GET /admin/clients", a.list)
	mux.HandleFunc("GET /admin/clients/{id}", a.get)
	mux.HandleFunc("PUT /admin/clients/{id}", a.update)
	mux.HandleFunc("DELETE /admin/clients/{id}", a.remove)
	return a.authenticate(mux)
}

type admin struct {
	reg    *Registry
	log    *slog.Logger
	digest [sha256.Size]byte
}

func (a *admin) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		auth := r.Header.Get("Authorization")
		scheme, tok, ok := strings.Cut(auth, " ")
		if auth == "" || !ok || !strings.EqualFold(scheme, "Bearer") {
			w.Header().Set("WWW-Authenticate", `Bearer realm="portcullis-admin"`)
			writeAdminError(w, http.StatusUnauthorized, "invalid_token", "admin token required")
			return
		}
		d := sha256.Sum256([]byte(strings.TrimSpace(tok)))
		if subtle.ConstantTimeCompare(d[:], a.digest[:]) != 1 {
			a.log.Warn("admin API: wrong admin token", "remote_addr", r.RemoteAddr, "method", r.Method, "path", r.URL.Path)
			w.Header().Set("WWW-Authenticate", `Bearer realm="portcullis-admin", error="invalid_token"`)
			writeAdminError(w, http.StatusUnauthorized, "invalid_token", "invalid admin token")
			return
		}
		next.ServeHTTP(w, r.WithContext(WithActor(r.Context(), ActorAdminAPI)))
	})
}

func (a *admin) create(w http.ResponseWriter, r *http.Request) {
	c, ok := a.readClient(w, r)
	if !ok {
		return
	}
	out, err := a.reg.Add(r.Context(), c)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	a.log.Info("admin API: client registered", "client", out)
	w.Header().Set("Location", "/admin/clients/"+out.ID)
	writeAdminJSON(w, http.StatusCreated, out)
}

func (a *admin) update(w http.ResponseWriter, r *http.Request) {
	c, ok := a.readClient(w, r)
	if !ok {
		return
	}
	id := r.PathValue("id")
	if c.ID == "" {
		c.ID = id
	}
	if c.ID != id {
		writeAdminError(w, http.StatusBadRequest, CodeInvalidClientMetadata, "client_id does not match the URL")
		return
	}
	out, err := a.reg.Update(r.Context(), c)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	a.log.Info("admin API: client updated", "client", out)
	writeAdminJSON(w, http.StatusOK, out)
}

func (a *admin) list(w http.ResponseWriter, r *http.Request) {
	all, err := a.reg.List(r.Context())
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeAdminJSON(w, http.StatusOK, struct {
		Clients []*Client `json:"clients"`
	}{all})
}

func (a *admin) get(w http.ResponseWriter, r *http.Request) {
	c, err := a.reg.Get(r.Context(), r.PathValue("id"))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeAdminJSON(w, http.StatusOK, c)
}

func (a *admin) remove(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if err := a.reg.Remove(r.Context(), id); err != nil {
		a.fail(w, r, err)
		return
	}
	a.log.Info("admin API: client removed", "client_id", id)
	w.WriteHeader(http.StatusNoContent)
}

// readClient decodes a size-limited JSON client document, writing the error response itself
// when it cannot.
func (a *admin) readClient(w http.ResponseWriter, r *http.Request) (*Client, bool) {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/json" {
		writeAdminError(w, http.StatusUnsupportedMediaType, "invalid_request", "content type must be application/json")
		return nil, false
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxMetadataSize))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			writeAdminError(w, http.StatusRequestEntityTooLarge, "invalid_request", "request body too large")
			return nil, false
		}
		writeAdminError(w, http.StatusBadRequest, "invalid_request", "could not read the request body")
		return nil, false
	}
	c, err := DecodeMetadata(body)
	if err != nil {
		writeAdminError(w, http.StatusBadRequest, CodeInvalidClientMetadata, "request body is not a client metadata document")
		return nil, false
	}
	return c, true
}

// DecodeMetadata decodes one JSON client metadata document strictly: a document over
// [MaxMetadataSize], trailing data, duplicate members and members that are not exactly (in
// case too) one of the [Client] JSON names are refused, so that neither a misspelt field nor
// encoding/json's case-insensitive matching ("tls_client_auth_subject_DN") can silently
// change what is registered. The result is not validated.
func DecodeMetadata(data []byte) (*Client, error) {
	if len(data) > MaxMetadataSize {
		return nil, errors.New("client: metadata document too large")
	}
	if err := checkMembers(data); err != nil {
		return nil, err
	}
	var c Client
	if err := json.Unmarshal(data, &c); err != nil {
		return nil, err
	}
	return &c, nil
}

// metadataMembers are the JSON member names of [Client].
var metadataMembers = func() map[string]bool {
	m := map[string]bool{}
	t := reflect.TypeOf(Client{})
	for i := 0; i < t.NumField(); i++ {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		if name != "" && name != "-" {
			m[name] = true
		}
	}
	return m
}()

// checkMembers checks that data is exactly one JSON object whose member names are known and
// unique.
func checkMembers(data []byte) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return errors.New("client: metadata is not a JSON object")
	}
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return errors.New("client: malformed metadata document")
		}
		name, _ := tok.(string)
		if !metadataMembers[name] {
			return fmt.Errorf("client: unknown metadata member %.40q", name)
		}
		if seen[name] {
			return fmt.Errorf("client: duplicate metadata member %q", name)
		}
		seen[name] = true
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return errors.New("client: malformed metadata document")
		}
	}
	if tok, err := dec.Token(); err != nil || tok != json.Delim('}') {
		return errors.New("client: malformed metadata document")
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("client: data after the metadata document")
	}
	return nil
}

// fail maps a registry error to its response.
func (a *admin) fail(w http.ResponseWriter, r *http.Request, err error) {
	var me *MetadataError
	switch {
	case errors.As(err, &me):
		writeAdminError(w, http.StatusBadRequest, me.Code, me.Description)
	case errors.Is(err, ErrNotFound):
		writeAdminError(w, http.StatusNotFound, "invalid_request", "unknown client")
	case errors.Is(err, ErrExists):
		writeAdminError(w, http.StatusConflict, "invalid_request", "client_id is already registered")
	default:
		a.log.Error("admin API: request failed", "method", r.Method, "path", r.URL.Path, "err", err)
		writeAdminError(w, http.StatusInternalServerError, "server_error", "internal error")
	}
}

func writeAdminJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeAdminError(w http.ResponseWriter, status int, code, desc string) {
	writeAdminJSON(w, status, struct {
		Error       string `json:"error"`
		Description string `json:"error_description,omitempty"`
	}{code, sanitizeDescription(desc)})
}

// sanitizeDescription restricts s to the RFC 6749 error_description character set
// (%x20-21 / %x23-5B / %x5D-7E).
func sanitizeDescription(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c < 0x20 || c > 0x7e || c == '"' || c == '\\' {
			b[i] = ' '
		}
	}
	return string(b)
}
