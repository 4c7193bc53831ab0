package store

import (
	"context"
	"database/sql"
	"errors"
	"time"
)

// ConsentUsage is one addition to a usage counter of a consent: Amount (an integer, in the
// unit the caller chose) counted in Period (a name the caller chose, e.g. "Month/2026-03"),
// allowed only while the period's total stays at or below Limit. ExpiresAt is when the
// counter may be forgotten (the end of the period, or later); the sweeper deletes it then.
type ConsentUsage struct {
	Period    string
	Amount    int64
	Limit     int64
	ExpiresAt time.Time
}

// AddConsentUsage adds every usage u to the counters of consent consentID, all or nothing, in
// one transaction: if any counter would exceed its Limit, nothing is added and it returns
// [ErrConflict]. It returns the totals after the addition, in the order of u.
//
// It is atomic across Store instances sharing a database: each counter is changed by one
// conditional upsert, so concurrent additions can never, together, exceed a limit (on
// PostgreSQL the second waits for the first and re-checks; on SQLite writes are serialised).
// It returns [ErrInvalidInput] for an empty or oversize consent id or period, a negative
// amount or limit, a missing ExpiresAt, or no usage at all.
func (s *Store) AddConsentUsage(ctx context.Context, consentID string, u ...ConsentUsage) ([]int64, error) {
	var totals []int64
	err := s.InTx(ctx, func(tx *Tx) error {
		var err error
		totals, err = tx.AddConsentUsage(ctx, consentID, u...)
		return err
	})
	return totals, err
}

// AddConsentUsage is [Store.AddConsentUsage] inside the transaction: on ErrConflict the
// caller's transaction must roll back (the counters before the one that failed were added).
func (tx *Tx) AddConsentUsage(ctx context.Context, consentID string, u ...ConsentUsage) ([]int64, error) {
	if err := checkKey("consent usage consent id", consentID); err != nil {
		return nil, err
	}
	if len(u) == 0 || len(u) > MaxTransitionFrom {
		return nil, invalid("consent usage", "needs 1 to %d counters", MaxTransitionFrom)
	}
	totals := make([]int64, len(u))
	for i, c := range u {
		if err := checkKey("consent usage period", c.Period); err != nil {
			return nil, err
		}
		if c.Amount < 0 || c.Limit < 0 {
			return nil, invalid("consent usage", "negative amount or limit")
		}
		if err := checkTime("consent usage expires_at", c.ExpiresAt, true); err != nil {
			return nil, err
		}
		if c.Amount > c.Limit {
			return nil, ErrConflict
		}
		var total int64
		err := tx.d.w.QueryRowContext(ctx,
			`INSERT INTO consent_usage (consent_id, period, total, payments, expires_at) VALUES ($1, $2, $3, 1, $5)
			 ON CONFLICT (consent_id, period) DO UPDATE SET total = consent_usage.total + $3,
			   payments = consent_usage.payments + 1
			 WHERE consent_usage.total + $3 <= $4
			 RETURNING total`,
			consentID, c.Period, c.Amount, c.Limit, ms(c.ExpiresAt)).Scan(&total)
		if errors.Is(err, sql.ErrNoRows) {
			return nil, ErrConflict
		}
		if err != nil {
			return nil, tx.d.s.dbErr("add consent usage", err)
		}
		totals[i] = total
	}
	return totals, nil
}

// ConsentUsageTotal returns the total counted for consent consentID in period (0 when
// nothing was counted).
func (s *Store) ConsentUsageTotal(ctx context.Context, consentID, period string) (int64, error) {
	if !validKey(consentID) || !validKey(period) {
		return 0, nil
	}
	var total int64
	err := s.queryRowR(ctx, `SELECT total FROM consent_usage WHERE consent_id = $1 AND period = $2`, consentID, period).Scan(&total)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, s.dbErr("consent usage total", err)
	}
	return total, nil
}
