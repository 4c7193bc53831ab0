package token

import (
	"sync"
	"time"
)

// cacheShards spreads the verified-token cache over independent locks so that
// concurrent requests rarely wait for each other.
const cacheShards = 16

// verifiedCache maps SHA-256(token) to the token's verified content until the
// token's exp. It is bounded: each shard holds at most perShard entries and, when
// full, evicts its oldest insertion (FIFO ring). Keys are hashes, so the cache
// holds no bearer credential.
type verifiedCache struct {
	shards [cacheShards]cacheShard
}

type cacheEntry struct {
	at  *AccessToken // shared, never modified; Verify hands out clones
	kid string
	exp time.Time
}

type cacheShard struct {
	mu   sync.Mutex
	m    map[[32]byte]*cacheEntry
	ring [][32]byte // insertion order; ring[next] is the oldest once full
	used int
	next int
}

func newVerifiedCache(size int) *verifiedCache {
	per := (size + cacheShards - 1) / cacheShards
	c := &verifiedCache{}
	for i := range c.shards {
		c.shards[i].m = make(map[[32]byte]*cacheEntry)
		c.shards[i].ring = make([][32]byte, per)
	}
	return c
}

func (c *verifiedCache) shard(k [32]byte) *cacheShard { return &c.shards[k[0]%cacheShards] }

// get returns the entry for k if it has not expired at now.
func (c *verifiedCache) get(k [32]byte, now time.Time) (*cacheEntry, bool) {
	s := c.shard(k)
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.m[k]
	if !ok {
		return nil, false
	}
	if !now.Before(e.exp) {
		delete(s.m, k)
		return nil, false
	}
	return e, true
}

// put stores e under k, evicting the shard's oldest entry when it is full.
func (c *verifiedCache) put(k [32]byte, e *cacheEntry) {
	s := c.shard(k)
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.m[k]; ok {
		s.m[k] = e
		return
	}
	if s.used == len(s.ring) {
		delete(s.m, s.ring[s.next]) // may already be gone (expired): harmless
	} else {
		s.used++
	}
	s.ring[s.next] = k
	s.next = (s.next + 1) % len(s.ring)
	s.m[k] = e
}

// len returns the number of entries (tests).
func (c *verifiedCache) len() int {
	n := 0
	for i := range c.shards {
		c.shards[i].mu.Lock()
		n += len(c.shards[i].m)
		c.shards[i].mu.Unlock()
	}
	return n
}
