package sandbox

import (
	"context"
	"time"
)

// DefaultWatchInterval is how often [CA.WatchRevocations] looks at the issuance database
// when given no interval.
const DefaultWatchInterval = time.Second

// WatchRevocations reports revocations made through this CA's directory by anyone — this
// CA value, another one in this process, or another process such as `portcullis pki
// revoke` — so that a running server can drop what it cached about the certificate at
// once. It takes note of the certificates already revoked (they are not reported), then
// starts a goroutine that every interval (zero or negative: [DefaultWatchInterval])
// checks whether the issuance database changed (one stat when it did not) and calls
// onRevoke, from that goroutine, for every certificate revoked since its previous look.
// The goroutine stops when ctx ends; the returned channel is closed then.
//
// The poll uses the real time (time.Ticker), not the CA's clock: it bounds how late a
// revocation reaches onRevoke (one interval plus the time to read the database), it
// decides nothing about validity. A database it cannot read is skipped and read again at
// the next tick; the OCSP responder and CRL answer from the file itself, so they never
// depend on the watcher.
func (ca *CA) WatchRevocations(ctx context.Context, interval time.Duration, onRevoke func(Record)) <-chan struct{} {
	if interval <= 0 {
		interval = DefaultWatchInterval
	}
	seen, db := ca.revokedSince(nil, nil, nil)
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				seen, db = ca.revokedSince(seen, db, onRevoke)
			}
		}
	}()
	return done
}

// revokedSince refreshes the database and, if it is not last (the database the previous
// call saw), calls onRevoke for every revoked record whose serial is not in seen. It returns
// the updated set and the database it looked at. onRevoke runs without ca.mu held.
func (ca *CA) revokedSince(seen map[string]bool, last *database, onRevoke func(Record)) (map[string]bool, *database) {
	var fresh []Record
	ca.mu.Lock()
	err := ca.refreshLocked()
	db := ca.db
	if err == nil && db != last {
		// Writers modify the database they reloaded under ca.mu, so it is read here, under
		// the lock, and only when it is another one than at the previous look.
		if seen == nil {
			seen = map[string]bool{}
		}
		for _, r := range db.Certificates {
			if r.Revoked() && !seen[r.Serial] {
				seen[r.Serial] = true
				fresh = append(fresh, r)
			}
		}
	}
	ca.mu.Unlock()
	if err != nil {
		return seen, last
	}
	if onRevoke != nil {
		for _, r := range fresh {
			onRevoke(r)
		}
	}
	return seen, db
}
