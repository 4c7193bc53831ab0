package keys

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/portcullis/portcullis/internal/clock"
	"github.com/portcullis/portcullis/internal/jose"
	"github.com/portcullis/portcullis/internal/store"
)

// Defaults of [Options].
const (
	// DefaultPollInterval is how often a node reloads the key set from the database.
	DefaultPollInterval = 5 * time.Second
	// DefaultPublishDelay is how long a new key is published as next before it signs.
	DefaultPublishDelay = 30 * time.Second
)

// persistTimeout bounds one write of a key change through the KeyStore (whose mutating methods
// take no context).
const persistTimeout = 15 * time.Second

// Store is the persistent copy of the key set: package store's signing_keys table.
type Store interface {
	// ListSigningKeys returns every stored key.
	ListSigningKeys(ctx context.Context) ([]store.SigningKey, error)
	// ChangeSigningKeys applies compare-and-set state changes and inserts, all or nothing;
	// store.ErrConflict when a key is not in the expected state.
	ChangeSigningKeys(ctx context.Context, changes []store.SigningKeyChange, create []store.SigningKey) error
}

// Options configures [Load]. Store and Vault are required.
type Options struct {
	Store Store
	Vault Vault
	// Alg is the algorithm of the key generated when the database holds none, and of the
	// keys [Set.Rotate] creates. Zero means ES256.
	Alg jose.Alg
	// KeyStore configures the jose.KeyStore: clock (also the clock of activation times),
	// RetireAfter, SigningAlg, Logger.
	KeyStore jose.KeyStoreOptions
	// PollInterval is how often [Set.Run] polls. Zero means DefaultPollInterval.
	PollInterval time.Duration
	// PublishDelay is how long a key from [Set.Rotate] stays next before a node promotes it.
	// It must be at least 2 × PollInterval. Zero means DefaultPublishDelay.
	PublishDelay time.Duration
	// Import, when not nil, is called if the database holds no key: the keys it returns are
	// stored with their states (sealed by the vault) instead of a generated one, so a
	// deployment moving from a key directory keeps its keys. It returns nil, nil when there
	// is nothing to import.
	Import func() ([]jose.KeyRecord, error)
}

// Set is the database-backed key set of one node. Its KeyStore is what the node signs and
// verifies with; Poll (or Run) keeps it in step with the database. Safe for concurrent use.
type Set struct {
	st           Store
	vault        Vault
	importKeys   func() ([]jose.KeyRecord, error)
	alg          jose.Alg
	clock        clock.Clock
	log          *slog.Logger
	poll         time.Duration
	publishDelay time.Duration

	ks       *jose.KeyStore
	replacer *jose.KeyReplacer

	mu sync.Mutex // serialises Poll and Rotate

	omu    sync.Mutex                  // guards opened and seen (persist runs under the KeyStore's lock)
	opened map[string]*jose.SigningKey // kid → key opened from (or sealed into) the database
	seen   string                      // fingerprint of the key set last installed or written
}

// Load reads the key set from the database and returns the node's [Set]. When the database
// holds no key, it stores the keys of Options.Import, or else generates one for Alg and stores
// it as active (if another node does the same at once, one set wins and both use it). A stored key that the vault cannot open is an
// error wrapping [ErrKEK] (or [ErrPKCS11]) naming the key: the node must not start without
// the keys its peers sign with. Due promotions and prunes are applied as by [Set.Poll].
func Load(ctx context.Context, opts Options) (*Set, error) {
	if opts.Store == nil || opts.Vault == nil {
		return nil, errors.New("keys: Load needs a Store and a Vault")
	}
	s := &Set{
		st: opts.Store, vault: opts.Vault, alg: opts.Alg, clock: opts.KeyStore.Clock, log: opts.KeyStore.Logger,
		poll: opts.PollInterval, publishDelay: opts.PublishDelay, opened: map[string]*jose.SigningKey{},
		importKeys: opts.Import,
	}
	if s.alg == "" {
		s.alg = jose.ES256
	}
	if s.clock == nil {
		s.clock = clock.Real{}
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.poll <= 0 {
		s.poll = DefaultPollInterval
	}
	if s.publishDelay <= 0 {
		s.publishDelay = DefaultPublishDelay
	}
	if s.publishDelay < 2*s.poll {
		return nil, fmt.Errorf("keys: publish delay %s is under twice the poll interval %s: a node could sign with a key another has not published", s.publishDelay, s.poll)
	}
	rows, err := s.st.ListSigningKeys(ctx)
	if err != nil {
		return nil, fmt.Errorf("keys: %w", err)
	}
	if len(rows) == 0 {
		if rows, err = s.bootstrap(ctx); err != nil {
			return nil, err
		}
	}
	recs, err := s.records(rows)
	if err != nil {
		return nil, err
	}
	s.ks, s.replacer, err = jose.NewSyncedKeyStore(opts.KeyStore, s.persist, recs...)
	if err != nil {
		return nil, fmt.Errorf("keys: database key set: %w", err)
	}
	s.setSeen(rowsFingerprint(rows))
	if err := s.Poll(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

// bootstrap stores the imported keys, or a first active key, and returns the rows then in
// the database.
func (s *Set) bootstrap(ctx context.Context) ([]store.SigningKey, error) {
	var recs []jose.KeyRecord
	if s.importKeys != nil {
		var err error
		if recs, err = s.importKeys(); err != nil {
			return nil, fmt.Errorf("keys: importing: %w", err)
		}
	}
	imported := len(recs) > 0
	if !imported {
		k, err := s.vault.Generate(s.alg)
		if err != nil {
			return nil, fmt.Errorf("keys: generating the first signing key: %w", err)
		}
		recs = []jose.KeyRecord{{Key: k, State: jose.StateActive}}
	}
	now := s.clock.Now()
	var rows []store.SigningKey
	for _, r := range recs {
		row, err := s.sealRow(r, now)
		if err != nil {
			return nil, err
		}
		rows = append(rows, row)
	}
	err := s.st.ChangeSigningKeys(ctx, nil, rows)
	switch {
	case err == nil:
		for _, r := range recs {
			s.remember(r.Key)
		}
		if imported {
			s.log.Info("keys: imported the key directory's signing keys into the database", "keys", len(recs))
		} else {
			s.log.Info("keys: generated the first signing key", "key", recs[0].Key)
		}
	case errors.Is(err, store.ErrDuplicate): // another node stored one first
	default:
		return nil, fmt.Errorf("keys: storing the first signing key: %w", err)
	}
	rows, err = s.st.ListSigningKeys(ctx)
	if err != nil {
		return nil, fmt.Errorf("keys: %w", err)
	}
	return rows, nil
}

// KeyStore returns the node's key store: sign, verify, JWKS. Its Publish, Rotate, Remove and
// Prune write through to the database.
func (s *Set) KeyStore() *jose.KeyStore { return s.ks }

// PollInterval returns the interval [Set.Run] polls at.
func (s *Set) PollInterval() time.Duration { return s.poll }

// Poll brings the node's key set in step with the database: it installs the stored keys
// (opening new ones through the vault), promotes a next key whose activation time has come
// (retiring the active key of its algorithm), and drops retired keys past their retirement
// time, in the database and here. A change another node made first is not an error: the
// database's version is installed. On any other error the node keeps its previous key set
// and the error is returned.
func (s *Set) Poll(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	rows, err := s.syncLocked(ctx)
	if err != nil {
		return err
	}
	now := s.clock.Now()
	for _, r := range rows {
		if r.State != store.SigningKeyNext || r.ActivateAt.IsZero() || now.Before(r.ActivateAt) {
			continue
		}
		k, ok := s.lookup(r.KeyID)
		if !ok {
			continue
		}
		err := s.ks.Rotate(k)
		if errors.Is(err, store.ErrConflict) {
			s.log.Info("keys: another node promoted first", "kid", r.KeyID)
			_, err := s.syncLocked(ctx)
			return err
		}
		if err != nil {
			return fmt.Errorf("keys: promoting %s: %w", r.KeyID, err)
		}
		s.log.Info("keys: promoted the next signing key to active", "key", k)
	}
	if _, err := s.ks.Prune(); errors.Is(err, store.ErrConflict) {
		_, err := s.syncLocked(ctx)
		return err
	} else if err != nil {
		return fmt.Errorf("keys: pruning: %w", err)
	}
	return nil
}

// syncLocked installs the database's key set if it changed since the last install, and
// returns the rows it read.
func (s *Set) syncLocked(ctx context.Context) ([]store.SigningKey, error) {
	rows, err := s.st.ListSigningKeys(ctx)
	if err != nil {
		return nil, fmt.Errorf("keys: %w", err)
	}
	fp := rowsFingerprint(rows)
	if fp == s.getSeen() {
		return rows, nil
	}
	recs, err := s.records(rows)
	if err != nil {
		return nil, err
	}
	if err := s.replacer.Replace(recs); err != nil {
		return nil, fmt.Errorf("keys: database key set: %w", err)
	}
	s.omu.Lock()
	s.seen = fp
	for kid := range s.opened {
		if !slices.ContainsFunc(rows, func(r store.SigningKey) bool { return r.KeyID == kid }) {
			delete(s.opened, kid)
		}
	}
	s.omu.Unlock()
	s.log.Info("keys: key set reloaded from the database", "keys", len(rows))
	return rows, nil
}

// Run polls every PollInterval until ctx is done, logging failures (the node keeps its last
// key set meanwhile). It returns ctx's error.
func (s *Set) Run(ctx context.Context) error {
	t := time.NewTicker(s.poll)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
			pctx, cancel := context.WithTimeout(ctx, s.poll)
			if err := s.Poll(pctx); err != nil && ctx.Err() == nil {
				s.log.Error("keys: polling the database key set failed; keeping the last one", "err", err)
			}
			cancel()
		}
	}
}

// Rotation is the outcome of [Set.Rotate].
type Rotation struct {
	Key        *jose.SigningKey
	ActivateAt time.Time
}

// Rotate creates a new key for the set's algorithm and stores it as next, published at once
// (by this node now, by every other within PollInterval); the first node to poll after
// ActivateAt = now + PublishDelay makes it active. It returns [ErrRotationPending] if a next
// key of the algorithm is already waiting.
func (s *Set) Rotate(ctx context.Context) (Rotation, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rows, err := s.syncLocked(ctx)
	if err != nil {
		return Rotation{}, err
	}
	for _, r := range rows {
		if r.State == store.SigningKeyNext && r.Alg == string(s.alg) {
			return Rotation{}, fmt.Errorf("%w: key %s becomes active at %s", ErrRotationPending, r.KeyID, r.ActivateAt.UTC().Format(time.RFC3339))
		}
	}
	k, err := s.vault.Generate(s.alg)
	if err != nil {
		return Rotation{}, fmt.Errorf("keys: generating a signing key: %w", err)
	}
	if err := s.ks.Publish(k); err != nil {
		return Rotation{}, fmt.Errorf("keys: publishing %s: %w", k.KeyID(), err)
	}
	rows, err = s.st.ListSigningKeys(ctx)
	if err != nil {
		return Rotation{}, fmt.Errorf("keys: %w", err)
	}
	var at time.Time
	for _, r := range rows {
		if r.KeyID == k.KeyID() {
			at = r.ActivateAt
		}
	}
	return Rotation{Key: k, ActivateAt: at}, nil
}

// persist is the KeyStore's KeyPersister: it writes the difference between prev and next to
// the database as one compare-and-set transaction. New keys are sealed by the vault; a key
// published as next gets activate_at = now + PublishDelay.
func (s *Set) persist(prev, next []jose.KeyRecord) error {
	before := make(map[string]jose.KeyRecord, len(prev))
	for _, r := range prev {
		before[r.Key.KeyID()] = r
	}
	after := make(map[string]bool, len(next))
	now := s.clock.Now()
	var changes []store.SigningKeyChange
	var create []store.SigningKey
	for _, r := range next {
		kid := r.Key.KeyID()
		after[kid] = true
		old, ok := before[kid]
		switch {
		case !ok:
			row, err := s.sealRow(r, now)
			if err != nil {
				return err
			}
			create = append(create, row)
		case old.State != r.State:
			changes = append(changes, store.SigningKeyChange{KeyID: kid, From: string(old.State), To: string(r.State), RetireAt: r.RetireAt})
		}
	}
	for _, r := range prev {
		if !after[r.Key.KeyID()] {
			changes = append(changes, store.SigningKeyChange{KeyID: r.Key.KeyID(), From: string(r.State)})
		}
	}
	if len(changes) == 0 && len(create) == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), persistTimeout)
	defer cancel()
	if err := s.st.ChangeSigningKeys(ctx, changes, create); err != nil {
		return err
	}
	for _, r := range next {
		s.remember(r.Key)
	}
	s.setSeen(recordsFingerprint(next))
	return nil
}

// sealRow is the database row of a new key r, sealed by the vault; a next key gets
// activate_at = now + PublishDelay.
func (s *Set) sealRow(r jose.KeyRecord, now time.Time) (store.SigningKey, error) {
	sealed, err := s.vault.Seal(r.Key)
	if err != nil {
		return store.SigningKey{}, err
	}
	row := store.SigningKey{KeyID: r.Key.KeyID(), Alg: string(r.Key.Alg()), State: string(r.State),
		KEKID: sealed.KEKID, PrivateKey: sealed.PrivateKey, CreatedAt: orNow(r.Created, now), RetireAt: r.RetireAt}
	if r.State == jose.StateNext {
		row.ActivateAt = now.Add(s.publishDelay)
	}
	return row, nil
}

// records opens the rows into KeyStore records, reusing keys already opened.
func (s *Set) records(rows []store.SigningKey) ([]jose.KeyRecord, error) {
	recs := make([]jose.KeyRecord, 0, len(rows))
	for _, r := range rows {
		k, ok := s.lookup(r.KeyID)
		if !ok {
			var err error
			k, err = s.vault.Open(r.KeyID, jose.Alg(r.Alg), Sealed{KEKID: r.KEKID, PrivateKey: r.PrivateKey})
			if err != nil {
				return nil, err
			}
			if k.KeyID() != r.KeyID || string(k.Alg()) != r.Alg {
				return nil, fmt.Errorf("keys: stored key %s (%s) opens as %s", r.KeyID, r.Alg, k)
			}
			s.remember(k)
		}
		recs = append(recs, jose.KeyRecord{Key: k, State: jose.KeyState(r.State), Created: r.CreatedAt, RetireAt: r.RetireAt})
	}
	return recs, nil
}

// A fingerprint summarises what of the key set the KeyStore holds (kid, state, retirement
// time), independent of order, to skip installing an unchanged set.
type fpEntry struct {
	kid, state string
	retireAt   int64
}

func fingerprint(es []fpEntry) string {
	slices.SortFunc(es, func(a, b fpEntry) int { return strings.Compare(a.kid, b.kid) })
	var b strings.Builder
	for _, e := range es {
		fmt.Fprintf(&b, "%s|%s|%d;", e.kid, e.state, e.retireAt)
	}
	return b.String()
}

func rowsFingerprint(rows []store.SigningKey) string {
	es := make([]fpEntry, 0, len(rows))
	for _, r := range rows {
		es = append(es, fpEntry{r.KeyID, r.State, msOrZero(r.RetireAt)})
	}
	return fingerprint(es)
}

func recordsFingerprint(recs []jose.KeyRecord) string {
	es := make([]fpEntry, 0, len(recs))
	for _, r := range recs {
		es = append(es, fpEntry{r.Key.KeyID(), string(r.State), msOrZero(r.RetireAt)})
	}
	return fingerprint(es)
}

func msOrZero(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

func (s *Set) lookup(kid string) (*jose.SigningKey, bool) {
	s.omu.Lock()
	defer s.omu.Unlock()
	k, ok := s.opened[kid]
	return k, ok
}

func (s *Set) remember(k *jose.SigningKey) {
	s.omu.Lock()
	defer s.omu.Unlock()
	s.opened[k.KeyID()] = k
}

func (s *Set) getSeen() string {
	s.omu.Lock()
	defer s.omu.Unlock()
	return s.seen
}

func (s *Set) setSeen(fp string) {
	s.omu.Lock()
	defer s.omu.Unlock()
	s.seen = fp
}

func orNow(t, now time.Time) time.Time {
	if t.IsZero() {
		return now
	}
	return t
}
