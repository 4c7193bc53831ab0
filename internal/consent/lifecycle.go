package consent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/portcullis/portcullis/internal/audit"
	"github.com/portcullis/portcullis/internal/store"
	"github.com/portcullis/portcullis/internal/token"
)

// The state machine (OBIE Read/Write API v3.1, dcr-consent.md §2):
//
//	AwaitingAuthorisation ──authorise──► Authorised ──payment──► Consumed   (single-use payments)
//	        │                               │
//	        ├──reject──► Rejected           └──revoke──► Revoked
//	        └──revoke──► Revoked
//
// and, by the clock, AwaitingAuthorisation or Authorised past ExpiresAt reads as
// Expired (never stored), which every check treats as revoked. Each arrow is one
// compare-and-set on the stored status (store.TransitionConsent): of concurrent
// transitions out of one status exactly one wins, on any number of nodes. The
// history entry and, for revocation, the refresh tokens' revocation are written in
// the same statement or transaction.

// maxTransitionAttempts bounds the read–compare-and-set retries of one transition.
const maxTransitionAttempts = 4

// change is one requested transition.
type change struct {
	from       []string // stored statuses it may leave
	to         string
	by         string
	customerID string   // set on the consent when not empty
	accounts   []string // set on the consent when not nil
	revoke     bool     // also revoke the consent's refresh tokens (store.Tx.RevokeConsent)
	allowLapse bool     // allowed on an expired consent (revocation)
	auditType  string
}

// Authorise records the customer's approval: the consent moves from
// AwaitingAuthorisation to Authorised with customerID as its customer and accounts
// as the account ids the customer chose (for a payment or VRP, the debtor account;
// may be empty for kinds that name no account). It is what the authorization journey
// calls when the customer approves; the journey offers only the customer's own
// accounts, and Authorise does not check ownership again (the gateway's upstream
// still answers only for the customer's accounts).
//
// Errors: ErrNotFound; ErrExpired when the consent has lapsed; a *StatusError
// (ErrStatus) when it is not awaiting authorisation (already authorised, rejected,
// revoked — including by a concurrent approval on another node: exactly one
// approval wins); ErrUnavailableStore. customerID must not be empty.
func (s *Service) Authorise(ctx context.Context, id, customerID string, accounts []string) (*Consent, error) {
	if customerID == "" {
		return nil, errors.New("consent: Authorise without a customer")
	}
	if accounts == nil {
		accounts = []string{}
	}
	return s.transition(ctx, id, change{from: []string{StatusAwaitingAuthorisation}, to: StatusAuthorised,
		by: "customer:" + customerID, customerID: customerID, accounts: slices.Clone(accounts), auditType: audit.TypeConsentAuthorised})
}

// Reject records the customer's refusal: AwaitingAuthorisation → Rejected.
// customerID may be empty when the customer is not known (e.g. the journey was
// abandoned before login). Errors as [Service.Authorise].
func (s *Service) Reject(ctx context.Context, id, customerID string) (*Consent, error) {
	by := "customer"
	if customerID != "" {
		by += ":" + customerID
	}
	return s.transition(ctx, id, change{from: []string{StatusAwaitingAuthorisation}, to: StatusRejected,
		by: by, customerID: customerID, auditType: audit.TypeConsentRejected})
}

// Revoke ends a consent that is awaiting authorisation or authorised (also when it
// has expired): it becomes Revoked and, in the same transaction, every refresh token
// issued under it is revoked (store.Tx.RevokeConsent), so no new access token can be
// obtained; access tokens already issued are refused by every gateway within the
// consent cache's bound (≤ 5 s, see [StateCache]), and — when the store is a
// [FamilyRevoker] — on every route through the deny-list, which gets the consent's
// grant families (same bound). by names the actor ("client:<id>",
// "customer:<id>", "admin"). It returns the revoked consent.
//
// Errors: ErrNotFound; a *StatusError for a consent already rejected, consumed or
// revoked; ErrUnavailableStore.
func (s *Service) Revoke(ctx context.Context, id, by string) (*Consent, error) {
	c, err := s.transition(ctx, id, change{from: []string{StatusAwaitingAuthorisation, StatusAuthorised}, to: StatusRevoked,
		by: by, revoke: true, allowLapse: true, auditType: audit.TypeConsentRevoked})
	if err == nil {
		s.denyFamilies(ctx, c)
	}
	return c, err
}

// FamilyRevoker is the optional capability of a [Store] (*store.Store has it) that
// lets a revocation reach access tokens on every route, not only those with a
// consent stage: the grant families issued under the consent go on the access-token
// deny-list (every node within its refresh bound, ≤ 5 s).
type FamilyRevoker interface {
	ConsentFamilies(ctx context.Context, consentID string) ([]string, error)
	RevokeFamily(ctx context.Context, r store.Revocation) (int64, error)
}

// denyFamilies puts the grant families of revoked consent c on the deny-list, until
// the last access token they can have lasts (token.MaxAccessTokenLifetime). It runs
// after the revocation committed (a grant lock taken after the consent's rows could
// deadlock with a concurrent refresh); failures are logged: the consent is revoked
// either way and every consent route refuses its tokens through the state cache.
func (s *Service) denyFamilies(ctx context.Context, c *Consent) {
	fr, ok := s.st.(FamilyRevoker)
	if !ok {
		return
	}
	fams, err := fr.ConsentFamilies(ctx, c.ID)
	if err != nil {
		s.log.Error("consent revoked, its grant families not listed", "consent_id", c.ID, "err", err)
		return
	}
	exp := s.clock.Now().Add(token.MaxAccessTokenLifetime)
	for _, f := range fams {
		if _, err := fr.RevokeFamily(ctx, store.Revocation{FamilyID: f, ClientID: c.ClientID, ExpiresAt: exp}); err != nil {
			s.log.Error("consent revoked, a grant family not denied", "consent_id", c.ID, "err", err)
		}
	}
}

// Consume uses up an authorised single-use payment consent: Authorised → Consumed.
// Of concurrent calls for one consent — on any number of nodes sharing the database
// — exactly one succeeds; the others get a *StatusError with status Consumed.
// Errors as [Service.Authorise].
func (s *Service) Consume(ctx context.Context, id string) (*Consent, error) {
	return s.transition(ctx, id, change{from: []string{StatusAuthorised}, to: StatusConsumed,
		by: "gateway", auditType: audit.TypeConsentConsumed})
}

// transition applies ch to consent id: read, check, compare-and-set on the status
// read, retried (bounded) when another writer changed the consent in between.
func (s *Service) transition(ctx context.Context, id string, ch change) (*Consent, error) {
	for range maxTransitionAttempts {
		cur, err := s.Get(ctx, id)
		if err != nil {
			return nil, err
		}
		now := s.clock.Now().UTC().Truncate(time.Millisecond)
		if cur.expired(now) && !ch.allowLapse {
			return nil, ErrExpired
		}
		if !slices.Contains(ch.from, cur.StoredStatus) {
			return nil, &StatusError{Status: cur.Status(now)}
		}
		next := cur.clone()
		next.StoredStatus, next.UpdatedAt = ch.to, now
		if ch.customerID != "" {
			next.CustomerID = ch.customerID
		}
		if ch.accounts != nil {
			next.Accounts = ch.accounts
		}
		tr := Transition{From: cur.StoredStatus, To: ch.to, At: now, By: ch.by}
		next.History = append(next.History, tr)
		data, err := json.Marshal(next.document())
		if err != nil {
			return nil, fmt.Errorf("consent: encode: %w", err)
		}
		from := []string{cur.StoredStatus}
		if ch.revoke {
			err = s.st.InTx(ctx, func(tx *store.Tx) error {
				if _, _, err := tx.RevokeConsent(ctx, id, from, ch.to); err != nil {
					return err
				}
				_, err := tx.TransitionConsent(ctx, id, []string{ch.to}, ch.to, "", data)
				return err
			})
		} else {
			_, err = s.st.TransitionConsent(ctx, id, from, ch.to, ch.customerID, data)
		}
		switch {
		case errors.Is(err, store.ErrConflict):
			continue // changed under us: read again
		case errors.Is(err, store.ErrNotFound):
			return nil, ErrNotFound
		case err != nil:
			s.log.Error("consent transition failed", "consent_id", id, "to", ch.to, "err", err)
			return nil, fmt.Errorf("%w: %w", ErrUnavailableStore, err)
		}
		s.record(ctx, ch.auditType, next, tr)
		s.changed(id)
		return next, nil
	}
	return nil, fmt.Errorf("%w: consent %s kept changing", ErrUnavailableStore, id)
}
