package jose

import (
	"fmt"
	"time"
)

// KeyRecord is one key of a [KeyStore] with its rotation state, in the form an owner of the
// key set outside this package (package keys, over the database) holds and persists it.
type KeyRecord struct {
	Key      *SigningKey
	State    KeyState
	Created  time.Time
	RetireAt time.Time // when a retired key stops verifying; zero otherwise
}

// KeyPersister writes a change of a synced key set to its persistent copy: prev is the key
// set before the change, next after it. The change takes effect in the [KeyStore] only if it
// returns nil; an error (e.g. another node changed the same key first) leaves the store as it
// was and is returned by the mutating method.
type KeyPersister func(prev, next []KeyRecord) error

// KeyReplacer installs a key set read back from the persistent copy into the [KeyStore] it
// was returned with. Only the owner of the persistent copy holds one.
type KeyReplacer struct{ s *KeyStore }

// NewSyncedKeyStore returns a store whose key set is persisted by someone else: it starts with
// recs, validated as a key directory's are (one active key per algorithm, an active key of
// the signing algorithm, retired keys with a retirement time); Publish, Rotate, Remove and
// Prune keep their contract and write through persist before taking effect; and the returned
// [KeyReplacer] installs what other writers (other nodes) persisted. persist must not be nil.
func NewSyncedKeyStore(opts KeyStoreOptions, persist KeyPersister, recs ...KeyRecord) (*KeyStore, *KeyReplacer, error) {
	if persist == nil {
		return nil, nil, fmt.Errorf("%w: nil key persister", ErrKeyConfig)
	}
	s := newKeyStore(opts)
	entries, err := recordEntries(recs)
	if err != nil {
		return nil, nil, err
	}
	if err := s.installEntries(entries, false); err != nil {
		return nil, nil, err
	}
	s.persist = func(prev, next []*keyEntry) error { return persist(entryRecords(prev), entryRecords(next)) }
	return s, &KeyReplacer{s: s}, nil
}

// Replace makes recs the whole key set, validated as by [NewSyncedKeyStore], without calling
// the persister (recs come from the persistent copy). Keys already present keep their
// rendered JWK. On error the store is unchanged. Safe to call concurrently with every other
// method; it is serialised with Publish, Rotate, Remove and Prune.
func (r *KeyReplacer) Replace(recs []KeyRecord) error {
	entries, err := recordEntries(recs)
	if err != nil {
		return err
	}
	r.s.mu.Lock()
	defer r.s.mu.Unlock()
	if cur := r.s.snap.Load(); cur != nil {
		for _, e := range entries {
			if old, ok := cur.byKID[e.key.KeyID()]; ok {
				e.jwk = old.jwk
			}
		}
	}
	return r.s.installEntries(entries, false)
}

func recordEntries(recs []KeyRecord) ([]*keyEntry, error) {
	entries := make([]*keyEntry, 0, len(recs))
	for _, r := range recs {
		if r.Key == nil {
			return nil, fmt.Errorf("%w: nil signing key", ErrKeyConfig)
		}
		entries = append(entries, &keyEntry{key: r.Key, state: r.State, created: r.Created, retireAt: r.RetireAt})
	}
	return entries, nil
}

func entryRecords(entries []*keyEntry) []KeyRecord {
	out := make([]KeyRecord, 0, len(entries))
	for _, e := range entries {
		out = append(out, KeyRecord{Key: e.key, State: e.state, Created: e.created, RetireAt: e.retireAt})
	}
	return out
}

// KeyDirRecords reads the key directory dir as [LoadKeyDir] does and returns its keys with
// their states, private halves included, for moving them into another store (package keys
// imports them into the database). It writes nothing to dir.
func KeyDirRecords(dir string, opts KeyStoreOptions) ([]KeyRecord, error) {
	s, err := LoadKeyDir(dir, opts)
	if err != nil {
		return nil, err
	}
	return entryRecords(s.snap.Load().entries), nil
}
