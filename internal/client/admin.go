package client

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"reflect"
	"strings"

	"github.com/portcullis/portcullis/internal/admin"
)

// ActorAdminAPI is the actor recorded in audit events for changes made through the admin
// API ([RegisterAdmin]).
const ActorAdminAPI = "admin-api"

// RegisterAdmin mounts the operator's client operations over reg on mux, the admin API's
// (package admin guards it: its own listener, the admin token, failure limits, an audit
// event per call; nothing here checks a credential, so mount it nowhere else):
//
//	POST   /admin/clients        register a client (body: client metadata JSON) → 201 + client
//	GET    /admin/clients        list clients → 200 {"clients": [...]}
//	GET    /admin/clients/{id}   one client → 200 + client
//	PUT    /admin/clients/{id}   replace a client's metadata → 200 + client
//	DELETE /admin/clients/{id}   remove a client → 204
//
// Request bodies are JSON (Content-Type application/json) of at most [MaxMetadataSize]
// bytes; unknown members are refused so that a misspelt field is not silently dropped.
// Errors are admin.WriteError bodies {error, error_description}: 400
// invalid_client_metadata / invalid_redirect_uri (RFC 7591 §3.2.2) for bad metadata, 404
// invalid_request for an unknown client, 409 invalid_request for an identifier already
// taken, 413 for an oversize body, 415 for another content type, 500 server_error (cause
// logged to logger, never sent) when the store fails. Changes are audited with actor
// [ActorAdminAPI].
func RegisterAdmin(mux *http.ServeMux, reg *Registry, logger *slog.Logger) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	a := &adminOps{reg: reg, log: logger}
	for pattern, h := range map[string]http.HandlerFunc{
		"POST /admin/clients":        a.create,
		"GET /admin/clients":         a.list,
		"GET /admin/clients/{id}":    a.get,
		"PUT /admin/clients/{id}":    a.update,
		"DELETE /admin/clients/{id}": a.remove,
	} {
		mux.Handle(pattern, asAdmin(h))
	}
}

// asAdmin marks the request's changes as the admin API's in the audit trail.
func asAdmin(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.ServeHTTP(w, r.WithContext(WithActor(r.Context(), ActorAdminAPI)))
	})
}

type adminOps struct {
	reg *Registry
	log *slog.Logger
}

func (a *adminOps) create(w http.ResponseWriter, r *http.Request) {
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
	admin.WriteJSON(w, http.StatusCreated, out)
}

func (a *adminOps) update(w http.ResponseWriter, r *http.Request) {
	c, ok := a.readClient(w, r)
	if !ok {
		return
	}
	id := r.PathValue("id")
	if c.ID == "" {
		c.ID = id
	}
	if c.ID != id {
		admin.WriteError(w, http.StatusBadRequest, CodeInvalidClientMetadata, "client_id does not match the URL")
		return
	}
	out, err := a.reg.Update(r.Context(), c)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	a.log.Info("admin API: client updated", "client", out)
	admin.WriteJSON(w, http.StatusOK, out)
}

func (a *adminOps) list(w http.ResponseWriter, r *http.Request) {
	all, err := a.reg.List(r.Context())
	if err != nil {
		a.fail(w, r, err)
		return
	}
	admin.WriteJSON(w, http.StatusOK, struct {
		Clients []*Client `json:"clients"`
	}{all})
}

func (a *adminOps) get(w http.ResponseWriter, r *http.Request) {
	c, err := a.reg.Get(r.Context(), r.PathValue("id"))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	admin.WriteJSON(w, http.StatusOK, c)
}

func (a *adminOps) remove(w http.ResponseWriter, r *http.Request) {
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
func (a *adminOps) readClient(w http.ResponseWriter, r *http.Request) (*Client, bool) {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/json" {
		admin.WriteError(w, http.StatusUnsupportedMediaType, "invalid_request", "content type must be application/json")
		return nil, false
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxMetadataSize))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			admin.WriteError(w, http.StatusRequestEntityTooLarge, "invalid_request", "request body too large")
			return nil, false
		}
		admin.WriteError(w, http.StatusBadRequest, "invalid_request", "could not read the request body")
		return nil, false
	}
	c, err := DecodeMetadata(body)
	if err != nil {
		admin.WriteError(w, http.StatusBadRequest, CodeInvalidClientMetadata, "request body is not a client metadata document")
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
func (a *adminOps) fail(w http.ResponseWriter, r *http.Request, err error) {
	var me *MetadataError
	switch {
	case errors.As(err, &me):
		admin.WriteError(w, http.StatusBadRequest, me.Code, me.Description)
	case errors.Is(err, ErrNotFound):
		admin.WriteError(w, http.StatusNotFound, "invalid_request", "unknown client")
	case errors.Is(err, ErrExists):
		admin.WriteError(w, http.StatusConflict, "invalid_request", "client_id is already registered")
	default:
		a.log.Error("admin API: request failed", "method", r.Method, "path", r.URL.Path, "err", err)
		admin.WriteError(w, http.StatusInternalServerError, "server_error", "internal error")
	}
}
