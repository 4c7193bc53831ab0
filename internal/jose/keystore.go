package jose

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/portcullis/portcullis/internal/clock"
)

// KeyState is where a server signing key is in its rotation life cycle.
type KeyState string

// The key states. Keys move next → active → retired → (dropped).
const (
	// StateNext: published in the JWK Set so relying parties cache it, not yet
	// signing.
	StateNext KeyState = "next"
	// StateActive: signing. Exactly one key per algorithm is active.
	StateActive KeyState = "active"
	// StateRetired: no longer signing, still published and verifying until its
	// retirement time, after which it is treated as gone everywhere.
	StateRetired KeyState = "retired"
)

// DefaultRetireAfter is KeyStoreOptions.RetireAfter when zero: the longest access
// token lifetime Portcullis allows (1 h) plus five minutes of clock skew.
const DefaultRetireAfter = 65 * time.Minute

// KeyStoreOptions configures a [KeyStore]. The zero value is usable.
type KeyStoreOptions struct {
	// Clock is read for retirement times. Nil means clock.Real.
	Clock clock.Clock
	// RetireAfter is how long a key keeps verifying (and stays in the JWK Set)
	// after it stops signing. It must cover the longest lifetime of anything the
	// key signed plus clock skew. Zero means DefaultRetireAfter.
	RetireAfter time.Duration
	// SigningAlg is the algorithm [KeyStore.Sign] uses. Zero means ES256 if an
	// ES256 key is active, else the algorithm of the first active key.
	SigningAlg Alg
	// Logger receives key life-cycle events (kid and alg only). Nil discards.
	Logger *slog.Logger
}

// KeyInfo describes one key of a [KeyStore] for listings.
type KeyInfo struct {
	KeyID    string
	Alg      Alg
	State    KeyState
	Created  time.Time
	RetireAt time.Time // zero unless retired
}

type keyEntry struct {
	key      *SigningKey
	state    KeyState
	created  time.Time
	retireAt time.Time
	jwk      json.RawMessage // public JWK, rendered once
	file     string          // key file name in the key directory ("" for memory-only stores)
}

// keySnapshot is an immutable view of the store; readers load it atomically.
type keySnapshot struct {
	entries []*keyEntry // active, then next, then retired; by kid within a state
	byKID   map[string]*keyEntry
	active  map[Alg]*keyEntry
	signAlg Alg
}

// KeyStore holds the authorization server's signing keys and their rotation
// states. Reads (Sign, Verify, ResolveKey, JWKS) load an immutable snapshot
// without locking; mutations (Publish, Rotate, Remove, Prune) are serialised and,
// for a store loaded from a directory or built by [NewSyncedKeyStore] (the database,
// package keys), persisted before they take effect. Safe for concurrent use.
//
// Rotation (issue: publish new, sign with new, retire old after the longest token
// lifetime): Publish(k) → wait until relying parties refreshed their JWK Set →
// Rotate(k) → the previous key verifies for RetireAfter more → Prune.
type KeyStore struct {
	clock       clock.Clock
	retireAfter time.Duration
	wantAlg     Alg
	log         *slog.Logger
	persist     func(prev, next []*keyEntry) error // nil for memory-only stores

	mu   sync.Mutex // serialises mutations
	snap atomic.Pointer[keySnapshot]
	seal atomic.Pointer[keyEntry] // message-signing key (detached.go); nil if none
}

// NewKeyStore returns a memory-only store whose given keys are all active. At
// least one key is needed, and at most one per algorithm.
func NewKeyStore(opts KeyStoreOptions, active ...*SigningKey) (*KeyStore, error) {
	s := newKeyStore(opts)
	now := s.clock.Now()
	var entries []*keyEntry
	for _, k := range active {
		if k == nil {
			return nil, fmt.Errorf("%w: nil signing key", ErrKeyConfig)
		}
		entries = append(entries, &keyEntry{key: k, state: StateActive, created: now})
	}
	if err := s.install(entries); err != nil {
		return nil, err
	}
	return s, nil
}

func newKeyStore(opts KeyStoreOptions) *KeyStore {
	s := &KeyStore{clock: opts.Clock, retireAfter: opts.RetireAfter, wantAlg: opts.SigningAlg, log: opts.Logger}
	if s.clock == nil {
		s.clock = clock.Real{}
	}
	if s.retireAfter <= 0 {
		s.retireAfter = DefaultRetireAfter
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	return s
}

// install validates entries, persists them if the store is backed by files and
// publishes a new snapshot. Callers hold s.mu (or own s exclusively).
func (s *KeyStore) install(entries []*keyEntry) error { return s.installEntries(entries, true) }

// installEntries is install, calling s.persist only if persist is true.
func (s *KeyStore) installEntries(entries []*keyEntry, persist bool) error {
	snap := &keySnapshot{byKID: make(map[string]*keyEntry, len(entries)), active: make(map[Alg]*keyEntry)}
	for _, e := range entries {
		kid := e.key.KeyID()
		if _, dup := snap.byKID[kid]; dup {
			return fmt.Errorf("%w: key %s listed twice", ErrKeyConfig, kid)
		}
		snap.byKID[kid] = e
		switch e.state {
		case StateActive:
			if _, dup := snap.active[e.key.Alg()]; dup {
				return fmt.Errorf("%w: more than one active %s key", ErrKeyConfig, e.key.Alg())
			}
			snap.active[e.key.Alg()] = e
		case StateNext:
		case StateRetired:
			if e.retireAt.IsZero() {
				return fmt.Errorf("%w: retired key %s without retirement time", ErrKeyConfig, kid)
			}
		default:
			return fmt.Errorf("%w: key %s has unknown state %q", ErrKeyConfig, kid, e.state)
		}
		if e.jwk == nil {
			j, err := publicJWK(e.key.pub)
			if err != nil {
				return fmt.Errorf("%w: rendering JWK of %s: %v", ErrMalformed, kid, err)
			}
			e.jwk = j
		}
	}
	if len(snap.active) == 0 {
		return fmt.Errorf("%w: no active signing key", ErrKeyConfig)
	}
	snap.signAlg = s.wantAlg
	if snap.signAlg == "" {
		if _, ok := snap.active[ES256]; ok {
			snap.signAlg = ES256
		}
	}
	if snap.signAlg == "" {
		for _, e := range entries {
			if e.state == StateActive {
				snap.signAlg = e.key.Alg()
				break
			}
		}
	}
	if _, ok := snap.active[snap.signAlg]; !ok {
		return fmt.Errorf("%w: no active %s key", ErrKeyConfig, snap.signAlg)
	}
	rank := map[KeyState]int{StateActive: 0, StateNext: 1, StateRetired: 2}
	snap.entries = slices.Clone(entries)
	slices.SortFunc(snap.entries, func(a, b *keyEntry) int {
		if r := rank[a.state] - rank[b.state]; r != 0 {
			return r
		}
		return strings.Compare(a.key.KeyID(), b.key.KeyID())
	})
	if persist && s.persist != nil {
		var prev []*keyEntry
		if cur := s.snap.Load(); cur != nil {
			prev = cur.entries
		}
		if err := s.persist(prev, snap.entries); err != nil {
			return err
		}
	}
	s.snap.Store(snap)
	return nil
}

// mutate applies f to a copy of the current entries and installs the result.
func (s *KeyStore) mutate(f func(entries []*keyEntry, now time.Time) ([]*keyEntry, error)) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	cur := s.snap.Load()
	entries := make([]*keyEntry, len(cur.entries))
	for i, e := range cur.entries {
		c := *e
		entries[i] = &c
	}
	next, err := f(entries, s.clock.Now())
	if err != nil {
		return err
	}
	return s.install(next)
}

// Publish adds k in state next: it appears in JWKS() and verifies, but does not
// sign until [KeyStore.Rotate]. Publishing a kid already present is an error.
func (s *KeyStore) Publish(k *SigningKey) error {
	if k == nil {
		return fmt.Errorf("%w: nil signing key", ErrKeyConfig)
	}
	err := s.mutate(func(entries []*keyEntry, now time.Time) ([]*keyEntry, error) {
		for _, e := range entries {
			if e.key.KeyID() == k.KeyID() {
				return nil, fmt.Errorf("%w: key %s already present (%s)", ErrKeyConfig, k.KeyID(), e.state)
			}
		}
		return append(entries, &keyEntry{key: k, state: StateNext, created: now}), nil
	})
	if err == nil {
		s.log.Info("signing key published", "key", k)
	}
	return err
}

// Rotate makes k the active key for its algorithm — promoting it if it was
// published as next, adding it otherwise — and retires the previously active key
// of that algorithm with a retirement time of now + RetireAfter, so tokens it
// signed keep verifying until they expire (acceptance 3). A retired key cannot be
// made active again; rotating to the active key is a no-op.
func (s *KeyStore) Rotate(k *SigningKey) error {
	if k == nil {
		return fmt.Errorf("%w: nil signing key", ErrKeyConfig)
	}
	var old *SigningKey
	err := s.mutate(func(entries []*keyEntry, now time.Time) ([]*keyEntry, error) {
		var target *keyEntry
		for _, e := range entries {
			if e.key.KeyID() == k.KeyID() {
				target = e
			}
		}
		switch {
		case target == nil:
			target = &keyEntry{key: k, created: now}
			entries = append(entries, target)
		case target.state == StateActive:
			return entries, nil
		case target.state == StateRetired:
			return nil, fmt.Errorf("%w: key %s is retired", ErrKeyConfig, k.KeyID())
		}
		for _, e := range entries {
			if e.state == StateActive && e.key.Alg() == k.Alg() {
				e.state, e.retireAt = StateRetired, now.Add(s.retireAfter)
				old = e.key
			}
		}
		target.state = StateActive
		return entries, nil
	})
	if err == nil {
		s.log.Info("signing key rotated", "key", k, "retired", old)
	}
	return err
}

// Remove drops the key with kid at once — from signing, the JWK Set and
// verification — e.g. after a compromise. The active key of an algorithm cannot be
// removed (Rotate away from it first). Unknown kids return ErrUnknownKey.
func (s *KeyStore) Remove(kid string) error {
	err := s.mutate(func(entries []*keyEntry, _ time.Time) ([]*keyEntry, error) {
		for i, e := range entries {
			if e.key.KeyID() != kid {
				continue
			}
			if e.state == StateActive {
				return nil, fmt.Errorf("%w: key %s is active; rotate first", ErrKeyConfig, kid)
			}
			return slices.Delete(entries, i, i+1), nil
		}
		return nil, fmt.Errorf("%w: %q", ErrUnknownKey, truncate(kid))
	})
	if err == nil {
		s.log.Warn("signing key removed", "kid", kid)
	}
	return err
}

// Prune drops retired keys whose retirement time has passed and returns their
// kids. Such keys already no longer verify or appear in JWKS(); Prune frees them
// (and deletes them from the key directory's manifest).
func (s *KeyStore) Prune() ([]string, error) {
	var dropped []string
	err := s.mutate(func(entries []*keyEntry, now time.Time) ([]*keyEntry, error) {
		dropped = dropped[:0]
		return slices.DeleteFunc(entries, func(e *keyEntry) bool {
			if e.state == StateRetired && !now.Before(e.retireAt) {
				dropped = append(dropped, e.key.KeyID())
				return true
			}
			return false
		}), nil
	})
	if err != nil {
		return nil, err
	}
	if len(dropped) > 0 {
		s.log.Info("retired signing keys pruned", "kids", dropped)
	}
	return dropped, nil
}

// live reports whether e may verify at now.
func live(e *keyEntry, now time.Time) bool {
	return e.state != StateRetired || now.Before(e.retireAt)
}

// Keys lists every key with its state.
func (s *KeyStore) Keys() []KeyInfo {
	snap := s.snap.Load()
	out := make([]KeyInfo, 0, len(snap.entries))
	for _, e := range snap.entries {
		out = append(out, KeyInfo{KeyID: e.key.KeyID(), Alg: e.key.Alg(), State: e.state, Created: e.created, RetireAt: e.retireAt})
	}
	return out
}

// Algorithms returns the algorithms with an active key, the signing default
// first (for *_signing_alg_values_supported in discovery).
func (s *KeyStore) Algorithms() []Alg {
	snap := s.snap.Load()
	out := []Alg{snap.signAlg}
	for _, a := range []Alg{PS256, ES256, EdDSA} {
		if _, ok := snap.active[a]; ok && a != snap.signAlg {
			out = append(out, a)
		}
	}
	return out
}

// JWKS returns the public JWK Set served at /jwks: every next, active and
// not-yet-expired retired key, and the message-signing key if one is set
// ([KeyStore.SetSealKey]), each with "kty", "kid", "use":"sig", "alg", the public
// parameters only and, for a key with certificates, "x5c" (RFC 7517 §5; fapi.md
// FAPI1-AS-08).
func (s *KeyStore) JWKS() []byte {
	snap := s.snap.Load()
	now := s.clock.Now()
	var b bytes.Buffer
	b.WriteString(`{"keys":[`)
	n := 0
	for _, e := range snap.entries {
		if !live(e, now) {
			continue
		}
		if n > 0 {
			b.WriteByte(',')
		}
		b.Write(e.jwk)
		n++
	}
	if e := s.seal.Load(); e != nil {
		if n > 0 {
			b.WriteByte(',')
		}
		b.Write(e.jwk)
	}
	b.WriteString("]}")
	return b.Bytes()
}

// Sign signs payload, which must be a JSON object (a JWT claims set), with the
// active key of the store's signing algorithm. The protected header holds "alg",
// "kid" and, unless typ is empty, "typ" (e.g. "at+jwt", RFC 9068 §2.1).
func (s *KeyStore) Sign(payload []byte, typ string) (string, error) {
	return s.SignWith(s.snap.Load().signAlg, payload, typ)
}

// SignWith is Sign with the active key for alg (e.g. a client's registered
// id_token_signed_response_alg). It returns ErrUnknownKey if no key of alg is
// active and ErrAlgNotAllowed for algorithms Portcullis never signs with.
func (s *KeyStore) SignWith(alg Alg, payload []byte, typ string) (string, error) {
	if err := Allowed(string(alg), FAPI2); err != nil {
		return "", err
	}
	if !validType(typ) {
		return "", fmt.Errorf("%w: bad typ %q", ErrMalformed, truncate(typ))
	}
	if len(payload) == 0 || payload[0] != '{' || !json.Valid(payload) {
		return "", fmt.Errorf("%w: payload is not a JSON object", ErrMalformed)
	}
	e, ok := s.snap.Load().active[alg]
	if !ok {
		return "", fmt.Errorf("%w: no active %s key", ErrUnknownKey, alg)
	}
	return signCompact(e.key.signer, alg, e.key.KeyID(), typ, payload)
}

// validType accepts media-type-like typ values: 1–64 of [A-Za-z0-9+.-/], or "".
func validType(t string) bool {
	if len(t) > 64 {
		return false
	}
	for i := 0; i < len(t); i++ {
		c := t[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '+' || c == '.' || c == '-' || c == '/') {
			return false
		}
	}
	return true
}

// ResolveKey implements [KeyResolver] over the store's own keys: the header must
// name a kid of a next, active or unexpired retired key whose algorithm is the
// header's; anything else is ErrUnknownKey.
func (s *KeyStore) ResolveKey(_ context.Context, hdr Header) (*PublicKey, error) {
	e, ok := s.snap.Load().byKID[hdr.KeyID]
	if !ok || !live(e, s.clock.Now()) {
		return nil, fmt.Errorf("%w: kid %q", ErrUnknownKey, truncate(hdr.KeyID))
	}
	if !e.key.pub.Supports(hdr.Alg) {
		return nil, fmt.Errorf("%w: kid %q is not a %s key", ErrUnknownKey, truncate(hdr.KeyID), hdr.Alg)
	}
	return e.key.pub, nil
}

// HasKey reports whether kid currently verifies (next, active, or retired and
// before its retirement time). Verified-token caches use it so that a removed key
// stops its cached tokens too.
func (s *KeyStore) HasKey(kid string) bool {
	e, ok := s.snap.Load().byKID[kid]
	return ok && live(e, s.clock.Now())
}

// Verify verifies a compact JWT signed by one of the store's keys (the
// authorization server's own tokens). It is [VerifyJWT] with the store as the
// resolver; opts.Profile zero means FAPI1, so pass FAPI2 if EdDSA keys are in use.
func (s *KeyStore) Verify(token string, opts VerifyOptions) (Verified, error) {
	c, err := parseCompact(token, &opts)
	if err != nil {
		return Verified{}, err
	}
	key, err := s.ResolveKey(context.Background(), c.header)
	if err != nil {
		return Verified{}, err
	}
	return finish(c, key)
}
