package client

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"math/big"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/store"
)

var b64 = base64.RawURLEncoding

// ecJWK renders the public JWK of an EC P-256 key; extra members are merged in.
func ecJWK(t testing.TB, pub *ecdsa.PublicKey, kid string, extra map[string]any) map[string]any {
	t.Helper()
	pt, err := pub.Bytes() // 0x04 || X || Y
	if err != nil {
		t.Fatal(err)
	}
	size := (len(pt) - 1) / 2
	m := map[string]any{
		"kty": "EC", "crv": pub.Curve.Params().Name, "kid": kid,
		"x": b64.EncodeToString(pt[1 : 1+size]),
		"y": b64.EncodeToString(pt[1+size:]),
	}
	for k, v := range extra {
		m[k] = v
	}
	return m
}

// rsaJWK renders the public JWK of an RSA key.
func rsaJWK(pub *rsa.PublicKey, kid string) map[string]any {
	return map[string]any{
		"kty": "RSA", "kid": kid,
		"n": b64.EncodeToString(pub.N.Bytes()),
		"e": b64.EncodeToString(big.NewInt(int64(pub.E)).Bytes()),
	}
}

func jwks(t testing.TB, keys ...map[string]any) json.RawMessage {
	t.Helper()
	b, err := json.Marshal(map[string]any{"keys": keys})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func newECKey(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// testJWKS is a valid client key set (one P-256 key).
func testJWKS(t testing.TB) json.RawMessage {
	t.Helper()
	return jwks(t, ecJWK(t, &newECKey(t).PublicKey, "k1", nil))
}

// fakeStore is an in-memory [Store] with the store package's error contract. Set fail to
// make every call fail as an unreachable database would.
type fakeStore struct {
	mu      sync.Mutex
	clients map[string]store.Client
	now     time.Time
	fail    error
	gets    int // GetClient calls
	// afterGet, when set, runs after GetClient has read its answer and before it returns it.
	afterGet func()
}

// getCount returns the number of GetClient calls so far.
func (f *fakeStore) getCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.gets
}

func newFakeStore() *fakeStore {
	return &fakeStore{clients: map[string]store.Client{}, now: time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)}
}

func (f *fakeStore) CreateClient(_ context.Context, c store.Client) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail != nil {
		return f.fail
	}
	if _, ok := f.clients[c.ID]; ok {
		return store.ErrDuplicate
	}
	c.CreatedAt, c.UpdatedAt = f.now, f.now
	f.clients[c.ID] = c
	return nil
}

func (f *fakeStore) GetClient(_ context.Context, id string) (store.Client, error) {
	c, err := f.getClient(id)
	if f.afterGet != nil {
		f.afterGet()
	}
	return c, err
}

func (f *fakeStore) getClient(id string) (store.Client, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.gets++
	if f.fail != nil {
		return store.Client{}, f.fail
	}
	c, ok := f.clients[id]
	if !ok {
		return store.Client{}, store.ErrNotFound
	}
	return c, nil
}

func (f *fakeStore) UpdateClient(_ context.Context, c store.Client) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail != nil {
		return f.fail
	}
	old, ok := f.clients[c.ID]
	if !ok {
		return store.ErrNotFound
	}
	c.CreatedAt, c.UpdatedAt = old.CreatedAt, f.now
	f.clients[c.ID] = c
	return nil
}

func (f *fakeStore) DeleteClient(_ context.Context, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail != nil {
		return f.fail
	}
	if _, ok := f.clients[id]; !ok {
		return store.ErrNotFound
	}
	delete(f.clients, id)
	return nil
}

func (f *fakeStore) ListClients(_ context.Context) ([]store.Client, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail != nil {
		return nil, f.fail
	}
	var out []store.Client
	for _, c := range f.clients {
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

var errDatabaseDown = errors.New("database unreachable")

// auditLog collects audit events.
type auditLog struct {
	mu     sync.Mutex
	events []Event
}

func (a *auditLog) record(_ context.Context, e Event) {
	a.mu.Lock()
	a.events = append(a.events, e)
	a.mu.Unlock()
}

func (a *auditLog) all() []Event {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]Event(nil), a.events...)
}

var fixedTime = time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC)
