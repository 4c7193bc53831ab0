package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/portcullis/portcullis/internal/clock"
	"github.com/portcullis/portcullis/internal/pki/dn"
	"github.com/portcullis/portcullis/internal/store"
)

// Errors of the [Registry]. Any other error means the store could not answer; callers fail
// closed (server_error), never treating it as "no such client".
var (
	// ErrNotFound: no client is registered under that identifier.
	ErrNotFound = errors.New("client: not found")
	// ErrExists: a client is already registered under that identifier.
	ErrExists = errors.New("client: already registered")
	// ErrCorrupt: the stored record of a client no longer passes [Client.Validate] (or is not
	// JSON). The client cannot be used until an operator fixes or removes it.
	ErrCorrupt = errors.New("client: stored metadata is invalid")
)

// Store is what the [Registry] needs from storage; *store.Store implements it. Contract: the
// methods return store.ErrNotFound and store.ErrDuplicate for those cases, anything else means
// the store could not answer.
type Store interface {
	CreateClient(ctx context.Context, c store.Client) error
	GetClient(ctx context.Context, id string) (store.Client, error)
	UpdateClient(ctx context.Context, c store.Client) error
	DeleteClient(ctx context.Context, id string) error
	ListClients(ctx context.Context) ([]store.Client, error)
}

// The audit event types the [Registry] records.
const (
	EventClientRegistered = "client.registered"
	EventClientUpdated    = "client.updated"
	EventClientRemoved    = "client.removed"
)

// Event is the audit record of one registry change: its type, the client and who asked
// (the actor is the caller's label: "admin-api", "cli", "dcr"). It carries no metadata.
type Event struct {
	Type     string
	ClientID string
	Actor    string
}

// RegistryOptions configure [NewRegistry]. The zero value is valid.
type RegistryOptions struct {
	// Validate is passed to [Client.ValidateWith] on every write and read.
	Validate ValidateOptions
	// Audit, when set, is called after every successful change; it owns the durability of
	// the record (and logs its own failures). Nil records nothing.
	Audit func(ctx context.Context, e Event)
	// CacheTTL, when positive, lets [Registry.Get] answer from a read cache for up to this
	// long after it read the client from the store (at most [MaxCacheTTL]; longer is
	// clamped). Zero or negative means no cache: every Get reads the store. The server uses
	// [DefaultCacheTTL].
	//
	// The trade-off: a change made through this Registry (Add, Update, Remove) takes effect
	// here at once, but a change made elsewhere — another node sharing the database, or the
	// `portcullis client` command run against it — is seen only once the cached entry
	// expires. A client removed or re-keyed on another node may still authenticate here
	// for up to CacheTTL. Lookups that fail (unknown client, corrupt record, store error)
	// are never cached, so a newly registered client works at once everywhere.
	CacheTTL time.Duration
	// Clock is the cache's source of now. Nil means clock.Real.
	Clock clock.Clock
	// Sectors fetches a client's sector_identifier_uri (*jose.RemoteJWKS does, under the
	// jwks_uri rules) so that Add and Update can check it lists every redirect_uri (OIDC
	// Registration §5). Nil refuses clients that register one: it could not be checked.
	Sectors SectorFetcher
}

// SectorFetcher downloads a sector_identifier_uri document of at most max bytes.
type SectorFetcher interface {
	FetchJSON(ctx context.Context, uri string, max int) ([]byte, error)
}

// maxSectorDocument bounds a sector_identifier_uri document.
const maxSectorDocument = 64 << 10

// Bounds of the read cache (see [RegistryOptions.CacheTTL]).
const (
	// DefaultCacheTTL is the cache lifetime the server runs with: the longest a change made
	// on another node goes unseen.
	DefaultCacheTTL = 5 * time.Second
	// MaxCacheTTL is the longest CacheTTL a Registry uses.
	MaxCacheTTL = time.Minute
)

// maxCached bounds the read cache; when full it is emptied.
const maxCached = 4096

// Registry is the set of registered clients, kept in a [Store]. It is safe for concurrent use
// as far as the store is. Every client it returns has passed [Client.ValidateWith], and is the
// caller's own copy. With [RegistryOptions.CacheTTL] set, [Registry.Get] — the token
// endpoint's lookup — answers from a short-lived read cache; see CacheTTL for what that means
// across nodes.
type Registry struct {
	store Store
	opts  RegistryOptions

	// validated remembers the stored documents that passed validation, so that the hot path
	// (a client authenticating) does not parse its key set twice per request. An entry is
	// used only while the stored document is byte-for-byte the same.
	mu        sync.Mutex
	validated map[string]validatedEntry

	// cache is the read cache of Get (nil when RegistryOptions.CacheTTL is not positive).
	// gen counts local changes: a store read that began before a change is not cached, so a
	// concurrent Get cannot put back what Update or Remove just invalidated.
	cacheMu sync.RWMutex
	cache   map[string]cachedClient
	gen     uint64
	ttl     time.Duration
	clk     clock.Clock
}

type cachedClient struct {
	client  *Client // never handed out: Get returns clones
	expires time.Time
}

type validatedEntry struct {
	raw       string
	createdAt time.Time
	client    *Client
}

// maxValidated bounds the validation cache; when full it is emptied.
const maxValidated = 4096

// NewRegistry returns a registry over s.
func NewRegistry(s Store, opts RegistryOptions) *Registry {
	r := &Registry{store: s, opts: opts, validated: map[string]validatedEntry{}, clk: opts.Clock}
	if opts.CacheTTL > 0 {
		r.ttl = min(opts.CacheTTL, MaxCacheTTL)
		r.cache = map[string]cachedClient{}
	}
	if r.clk == nil {
		r.clk = clock.Real{}
	}
	return r
}

type actorKey struct{}

// WithActor returns a context whose registry changes are audited as done by actor.
func WithActor(ctx context.Context, actor string) context.Context {
	return context.WithValue(ctx, actorKey{}, actor)
}

func actorOf(ctx context.Context) string {
	if a, ok := ctx.Value(actorKey{}).(string); ok {
		return a
	}
	return ""
}

// Add registers c. It applies [Client.ApplyDefaults] to a copy, validates it, checks that no
// other tls_client_auth client has the same certificate matching rule (FAPI1-AS-05), stores
// it and returns the registered client. Errors: a [*MetadataError]; [ErrExists] when the
// identifier is taken; otherwise a store failure.
//
// The uniqueness check reads the registered clients before writing, so two concurrent Adds
// with the same DN may both pass it; registration is an operator action, not a hot path.
func (r *Registry) Add(ctx context.Context, c *Client) (*Client, error) {
	nc, raw, err := r.prepare(ctx, c)
	if err != nil {
		return nil, err
	}
	err = r.store.CreateClient(ctx, store.Client{ID: nc.ID, Metadata: raw})
	r.invalidate(nc.ID)
	if err != nil {
		if errors.Is(err, store.ErrDuplicate) {
			return nil, fmt.Errorf("%w: %s", ErrExists, nc.ID)
		}
		return nil, fmt.Errorf("client: register %s: %w", nc.ID, err)
	}
	out, err := r.Get(ctx, nc.ID)
	if err != nil {
		return nil, err
	}
	r.audit(ctx, EventClientRegistered, nc.ID)
	return out, nil
}

// Update replaces the metadata of the registered client c.ID with c, under the same rules as
// [Registry.Add]. Errors: a [*MetadataError]; [ErrNotFound]; otherwise a store failure.
func (r *Registry) Update(ctx context.Context, c *Client) (*Client, error) {
	nc, raw, err := r.prepare(ctx, c)
	if err != nil {
		return nil, err
	}
	err = r.store.UpdateClient(ctx, store.Client{ID: nc.ID, Metadata: raw})
	r.invalidate(nc.ID) // whatever the outcome: a failed call may still have committed
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return nil, fmt.Errorf("%w: %s", ErrNotFound, nc.ID)
		}
		return nil, fmt.Errorf("client: update %s: %w", nc.ID, err)
	}
	out, err := r.Get(ctx, nc.ID)
	if err != nil {
		return nil, err
	}
	r.audit(ctx, EventClientUpdated, nc.ID)
	return out, nil
}

// prepare copies c, applies defaults, validates and checks the certificate rule's uniqueness,
// and returns the copy with its stored form.
func (r *Registry) prepare(ctx context.Context, c *Client) (*Client, json.RawMessage, error) {
	nc := c.Clone()
	nc.ApplyDefaults()
	nc.CreatedAt = time.Time{} // the store's column is authoritative
	if err := nc.ValidateWith(r.opts.Validate); err != nil {
		return nil, nil, err
	}
	if nc.TokenEndpointAuthMethod == AuthTLSClientAuth {
		if err := r.checkDistinct(ctx, nc); err != nil {
			return nil, nil, err
		}
	}
	if nc.SectorIdentifierURI != "" {
		if err := r.checkSector(ctx, nc); err != nil {
			return nil, nil, err
		}
	}
	raw, err := json.Marshal(nc)
	if err != nil {
		return nil, nil, fmt.Errorf("client: encode %s: %w", nc.ID, err)
	}
	return nc, raw, nil
}

// checkDistinct refuses a tls_client_auth client whose certificate matching rule equals that
// of another registered tls_client_auth client (FAPI1-AS-05: every client distinguishable).
func (r *Registry) checkDistinct(ctx context.Context, c *Client) error {
	all, err := r.store.ListClients(ctx)
	if err != nil {
		return fmt.Errorf("client: list clients: %w", err)
	}
	field, _ := c.certificateRule()
	for _, sc := range all {
		if sc.ID == c.ID {
			continue
		}
		var other Client
		if json.Unmarshal(sc.Metadata, &other) != nil || other.TokenEndpointAuthMethod != AuthTLSClientAuth {
			continue
		}
		if sameCertificateRule(c, &other) {
			return metaErr(field, "another client is registered with the same certificate matching rule")
		}
	}
	return nil
}

// certificateRule returns the field name and value of c's tls_client_auth matching rule.
func (c *Client) certificateRule() (field, value string) {
	switch {
	case c.TLSClientAuthSubjectDN != "":
		return "tls_client_auth_subject_dn", c.TLSClientAuthSubjectDN
	case c.TLSClientAuthSANDNS != "":
		return "tls_client_auth_san_dns", c.TLSClientAuthSANDNS
	case c.TLSClientAuthSANURI != "":
		return "tls_client_auth_san_uri", c.TLSClientAuthSANURI
	case c.TLSClientAuthSANIP != "":
		return "tls_client_auth_san_ip", c.TLSClientAuthSANIP
	case c.TLSClientAuthSANEmail != "":
		return "tls_client_auth_san_email", c.TLSClientAuthSANEmail
	}
	return "", ""
}

func sameCertificateRule(a, b *Client) bool {
	fa, va := a.certificateRule()
	fb, vb := b.certificateRule()
	if fa != fb || fa == "" {
		return false
	}
	switch fa {
	case "tls_client_auth_subject_dn":
		na, errA := dn.Parse(va)
		nb, errB := dn.Parse(vb)
		return errA == nil && errB == nil && dn.Equal(na, nb)
	case "tls_client_auth_san_dns":
		return strings.EqualFold(va, vb)
	case "tls_client_auth_san_ip":
		return sameIP(va, vb)
	}
	return va == vb
}

// Get returns the client registered under id. Errors: [ErrNotFound]; [ErrCorrupt] when the
// stored record does not validate; otherwise a store failure. With a read cache
// ([RegistryOptions.CacheTTL]) it answers from the cache while the entry is fresh, without
// reading the store; the client returned is the caller's own copy either way.
func (r *Registry) Get(ctx context.Context, id string) (*Client, error) {
	if !ValidID(id) {
		return nil, ErrNotFound
	}
	var now time.Time
	var gen uint64
	if r.cache != nil {
		now = r.clk.Now()
		r.cacheMu.RLock()
		e, ok := r.cache[id]
		gen = r.gen
		r.cacheMu.RUnlock()
		if ok && now.Before(e.expires) {
			return e.client.Clone(), nil
		}
	}
	sc, err := r.store.GetClient(ctx, id)
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return nil, fmt.Errorf("%w: %s", ErrNotFound, id)
		}
		return nil, fmt.Errorf("client: get %s: %w", id, err)
	}
	c, err := r.decode(sc)
	if err != nil {
		return nil, err
	}
	if r.cache != nil {
		r.remember(c, gen, now)
	}
	return c, nil
}

// remember caches a copy of c, read from the store after time now, unless a local change
// happened since the read began (gen).
func (r *Registry) remember(c *Client, gen uint64, now time.Time) {
	r.cacheMu.Lock()
	defer r.cacheMu.Unlock()
	if r.gen != gen {
		return
	}
	if len(r.cache) >= maxCached {
		clear(r.cache)
	}
	// The entry's life counts from before the store read, so it never outlives the TTL.
	r.cache[c.ID] = cachedClient{client: c.Clone(), expires: now.Add(r.ttl)}
}

// invalidate drops id from the read cache and makes reads in flight uncacheable.
func (r *Registry) invalidate(id string) {
	if r.cache == nil {
		return
	}
	r.cacheMu.Lock()
	r.gen++
	delete(r.cache, id)
	r.cacheMu.Unlock()
}

// List returns every registered client, ordered by identifier. A stored record that does not
// validate fails the whole list with [ErrCorrupt], naming the client.
func (r *Registry) List(ctx context.Context) ([]*Client, error) {
	all, err := r.store.ListClients(ctx)
	if err != nil {
		return nil, fmt.Errorf("client: list clients: %w", err)
	}
	out := make([]*Client, 0, len(all))
	for _, sc := range all {
		c, err := r.decode(sc)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, nil
}

// Remove deletes the client registered under id. Errors: [ErrNotFound]; otherwise a store
// failure.
func (r *Registry) Remove(ctx context.Context, id string) error {
	if !ValidID(id) {
		return ErrNotFound
	}
	err := r.store.DeleteClient(ctx, id)
	r.invalidate(id) // whatever the outcome: a failed call may still have committed
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("%w: %s", ErrNotFound, id)
		}
		return fmt.Errorf("client: remove %s: %w", id, err)
	}
	r.audit(ctx, EventClientRemoved, id)
	return nil
}

// decode turns a stored record into a validated Client. The row's identifier and creation
// time are authoritative over anything in the document.
func (r *Registry) decode(sc store.Client) (*Client, error) {
	r.mu.Lock()
	e, ok := r.validated[sc.ID]
	r.mu.Unlock()
	if ok && e.raw == string(sc.Metadata) && e.createdAt.Equal(sc.CreatedAt) {
		return e.client.Clone(), nil
	}
	c, err := r.validate(sc)
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	if len(r.validated) >= maxValidated {
		clear(r.validated)
	}
	r.validated[sc.ID] = validatedEntry{raw: string(sc.Metadata), createdAt: sc.CreatedAt, client: c.Clone()}
	r.mu.Unlock()
	return c, nil
}

func (r *Registry) validate(sc store.Client) (*Client, error) {
	var c Client
	if err := json.Unmarshal(sc.Metadata, &c); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrCorrupt, sc.ID, err)
	}
	c.ID = sc.ID
	c.CreatedAt = sc.CreatedAt.UTC()
	if err := c.ValidateWith(r.opts.Validate); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrCorrupt, sc.ID, err)
	}
	return &c, nil
}

func (r *Registry) audit(ctx context.Context, typ, id string) {
	if r.opts.Audit != nil {
		r.opts.Audit(ctx, Event{Type: typ, ClientID: id, Actor: actorOf(ctx)})
	}
}

// sameIP reports whether two textual IP addresses denote the same address.
func sameIP(a, b string) bool {
	ia, ib := net.ParseIP(a), net.ParseIP(b)
	return ia != nil && ib != nil && ia.Equal(ib)
}

// checkSector fetches c's sector_identifier_uri, a JSON array of URIs, and refuses the
// client unless it lists every one of c's redirect_uris (OIDC Registration §5).
func (r *Registry) checkSector(ctx context.Context, c *Client) error {
	if r.opts.Sectors == nil {
		return metaErr("sector_identifier_uri", "sector_identifier_uri cannot be checked here")
	}
	doc, err := r.opts.Sectors.FetchJSON(ctx, c.SectorIdentifierURI, maxSectorDocument)
	if err != nil {
		return metaErr("sector_identifier_uri", "sector_identifier_uri could not be fetched")
	}
	var listed []string
	if err := json.Unmarshal(doc, &listed); err != nil {
		return metaErr("sector_identifier_uri", "sector_identifier_uri is not a JSON array of URIs")
	}
	for _, u := range c.RedirectURIs {
		if !slices.Contains(listed, u) {
			return metaErr("sector_identifier_uri", "sector_identifier_uri does not list redirect_uri "+u)
		}
	}
	return nil
}
