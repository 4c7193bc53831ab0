package store

import (
	"context"
	"time"
)

// WriteJTIBatch writes one group of UseJTI calls for keys ({issuer, jti} pairs, duplicates
// allowed) exactly as the batcher would, and returns each call's result. It must not run
// while UseJTI calls are in flight on s.
func WriteJTIBatch(ctx context.Context, s *Store, keys [][2]string, expiresAt time.Time) []error {
	batch := make([]*jtiRequest, len(keys))
	for i, k := range keys {
		batch[i] = &jtiRequest{ctx: ctx, issuer: k[0], jti: k[1], expiresAt: ms(expiresAt), reply: make(chan error, 1)}
	}
	s.jtis.write(batch)
	errs := make([]error, len(batch))
	for i, r := range batch {
		select {
		case errs[i] = <-r.reply:
		default:
			panic("store: a request of the batch was not answered")
		}
	}
	return errs
}

// MaxJTIBatch is the most calls one group holds.
const MaxJTIBatch = maxJTIBatch

// JTIBatcherStopped reports whether the group-commit goroutine of s has returned.
func JTIBatcherStopped(s *Store) bool {
	select {
	case <-s.jtis.done:
		return true
	default:
		return false
	}
}

// DBErr is (*Store).dbErr, for the classification tests.
func DBErr(op string, err error) error { return (&Store{}).dbErr(op, err) }
