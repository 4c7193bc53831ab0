package sandbox

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultWatchInterval is how often [RevocationFeed.Run] looks at the issuance database
// when given no interval.
const DefaultWatchInterval = time.Second

// RevocationFeed reports revocations made through a CA's directory by anyone — this CA
// value, another one in this process, or another process such as `portcullis pki revoke`
// — so that a running server can drop what it cached about the certificate at once.
// Create it with [CA.RevocationFeed]. It is safe for concurrent use.
type RevocationFeed struct {
	ca       *CA
	onRevoke func(Record)

	mu   sync.Mutex // serialises polls, so that each revocation is reported once
	seen map[string]bool
	last *database // the database the previous poll diffed

	// path is the issuance database's file; looked is the stamp of the file as the last
	// completed poll found it, so that a poll that finds it unchanged takes no lock.
	path   string
	looked atomic.Pointer[fileStamp]
}

// RevocationFeed returns a feed that calls onRevoke once for every certificate revoked
// after this call. The certificates already revoked now are not reported.
func (ca *CA) RevocationFeed(onRevoke func(Record)) *RevocationFeed {
	f := &RevocationFeed{ca: ca, onRevoke: onRevoke, seen: map[string]bool{}, path: filepath.Join(ca.dir, FileDatabase)}
	f.mu.Lock()
	f.diffLocked(false)
	f.mu.Unlock()
	return f
}

// Poll checks now whether the issuance database changed (one stat when it did not) and,
// before returning, calls onRevoke for every certificate revoked since the previous poll.
// A server that polls before each certificate validation therefore never validates
// against a cache that predates a revocation already written to the directory. A
// database it cannot read is skipped and read again at the next poll (the OCSP responder
// and CRL answer from the file itself and never depend on the feed).
//
// The common case — nothing changed — is one stat and no lock, so that polling on every
// validation adds no contention between concurrent requests.
func (f *RevocationFeed) Poll() {
	fi, err := os.Stat(f.path)
	if err == nil {
		if st := f.looked.Load(); st != nil && st.same(fi) {
			return
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.diffLocked(true) && err == nil {
		// fi was taken before the diff: a change written meanwhile has another stamp and
		// is diffed at the next poll.
		f.looked.Store(&fileStamp{info: fi})
	}
}

// Run polls every interval (zero or negative: [DefaultWatchInterval]) until ctx ends. The
// interval is real time (time.Ticker), not the CA's clock: it bounds how late a revocation
// reaches onRevoke when nothing else polls; it decides nothing about validity.
func (f *RevocationFeed) Run(ctx context.Context, interval time.Duration) {
	if interval <= 0 {
		interval = DefaultWatchInterval
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			f.Poll()
		}
	}
}

// diffLocked refreshes the CA's database and, if it is another one than at the previous
// look, records its revoked serials, reporting the new ones when report is true. The
// caller holds f.mu; onRevoke runs without ca.mu held. It reports whether the database
// could be read.
func (f *RevocationFeed) diffLocked(report bool) bool {
	ca := f.ca
	var fresh []Record
	ca.mu.Lock()
	err := ca.refreshLocked()
	db := ca.db
	if err == nil && db != f.last {
		// Writers modify the database they reloaded under ca.mu, so it is read here, under
		// the lock, and only when it is another one than at the previous look.
		for _, r := range db.Certificates {
			if r.Revoked() && !f.seen[r.Serial] {
				f.seen[r.Serial] = true
				fresh = append(fresh, r)
			}
		}
		f.last = db
	}
	ca.mu.Unlock()
	if report && f.onRevoke != nil {
		for _, r := range fresh {
			f.onRevoke(r)
		}
	}
	return err == nil
}
