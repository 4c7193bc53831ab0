package store

import (
	"context"
	"log/slog"
	"strconv"
	"time"
)

// sweepBatch is the most rows one DELETE removes. Small batches keep each write short, so on
// SQLite other writers wait at most one batch, and on PostgreSQL no statement holds many row
// locks; readers are never blocked on either (WAL, MVCC).
const sweepBatch = 500

// DefaultSweepInterval is the sweeper's period when RunSweeper is given none.
const DefaultSweepInterval = time.Minute

// sweepTables lists what expires: every row whose expires_at is not after now is dead (an item
// is usable only while now < ExpiresAt). Consents and audit events are never swept.
var sweepTables = []struct{ table, key string }{
	{"authorization_codes", "hash"},
	{"pushed_requests", "hash"},
	{"used_jtis", "(issuer, jti)"},
	{"refresh_tokens", "hash"},
	{"token_revocations", "jti"},
	{"family_revocations", "family_id"},
	{"login_failures", "key_hash"},
	{"idempotency_keys", "(client_id, idem_key)"},
	{"consent_usage", "(consent_id, period)"},
}

// sweepStatements holds one batched DELETE per table; the nested SELECT … LIMIT bounds the
// batch on both dialects (neither has a portable DELETE … LIMIT).
var sweepStatements = func() []string {
	out := make([]string, len(sweepTables))
	for i, t := range sweepTables {
		key := t.key
		cols := key
		if key[0] == '(' {
			cols = key[1 : len(key)-1]
		}
		out[i] = `DELETE FROM ` + t.table + ` WHERE ` + key + ` IN (SELECT ` + cols + ` FROM ` + t.table +
			` WHERE expires_at <= $1 LIMIT ` + strconv.Itoa(sweepBatch) + `)`
	}
	return out
}()

// Sweep deletes every expired authorization code, pushed request, used jti, refresh token,
// deny-list entry, failed-login counter and consent usage counter, in batches of at most 500 rows per statement, and
// returns how many rows it deleted. Expiry is judged against the store clock once, at the start. It stops early, with
// the count so far, when ctx is done or a statement fails.
func (s *Store) Sweep(ctx context.Context) (int64, error) {
	now := ms(s.now())
	var total int64
	for i, q := range sweepStatements {
		for {
			if err := ctx.Err(); err != nil {
				return total, err
			}
			res, err := s.w.ExecContext(ctx, q, now)
			if err != nil {
				return total, s.dbErr("sweep "+sweepTables[i].table, err)
			}
			n, err := s.rowsAffected("sweep "+sweepTables[i].table, res)
			if err != nil {
				return total, err
			}
			total += n
			if n < sweepBatch {
				break
			}
		}
	}
	return total, nil
}

// RunSweeper sweeps once at start and then every interval (zero or negative means
// [DefaultSweepInterval]) until ctx is done, logging how many rows each sweep removed and any
// error. A failed sweep is retried at the next tick. Run it in its own goroutine.
func (s *Store) RunSweeper(ctx context.Context, interval time.Duration) {
	if interval <= 0 {
		interval = DefaultSweepInterval
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		n, err := s.Sweep(ctx)
		switch {
		case err != nil && ctx.Err() != nil:
			return
		case err != nil:
			s.log.LogAttrs(ctx, slog.LevelError, "store: sweep failed",
				slog.String("dialect", s.dialect), slog.Int64("deleted", n), slog.String("error", err.Error()))
		case n > 0:
			s.log.LogAttrs(ctx, slog.LevelInfo, "store: swept expired rows",
				slog.String("dialect", s.dialect), slog.Int64("deleted", n))
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
