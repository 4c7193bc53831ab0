package consent

import (
	"context"
	"errors"
	"fmt"

	"github.com/portcullis/portcullis/internal/store"
)

// Filter selects consents for [Service.List]. Empty fields do not filter.
type Filter struct {
	ClientID   string
	CustomerID string
	// Status is an effective status (StatusExpired included): a consent past its
	// expiry lists as Expired, not as Authorised.
	Status string
	// Limit bounds the result: zero means 100, at most 1000.
	Limit int
}

// MaxListLimit bounds [Filter].Limit.
const MaxListLimit = 1000

// List returns the consents matching f, newest first. It is what the bank's admin
// API and the customer's dashboard (CustomerID set) read. Errors: ErrUnavailableStore,
// or an error for a limit outside [0, 1000].
func (s *Service) List(ctx context.Context, f Filter) ([]*Consent, error) {
	if f.Limit < 0 || f.Limit > MaxListLimit {
		return nil, fmt.Errorf("consent: list limit %d outside [0, %d]", f.Limit, MaxListLimit)
	}
	limit := f.Limit
	if limit == 0 {
		limit = 100
	}
	stored := []string{f.Status}
	switch f.Status {
	case StatusExpired:
		stored = []string{StatusAuthorised, StatusAwaitingAuthorisation}
	case "":
		stored = []string{""}
	}
	now := s.clock.Now()
	var out []*Consent
	for _, st := range stored {
		rows, err := s.st.ListConsents(ctx, store.ConsentFilter{ClientID: f.ClientID, UserID: f.CustomerID, Status: st, Limit: MaxListLimit})
		if err != nil {
			if errors.Is(err, store.ErrInvalidInput) {
				return nil, fmt.Errorf("consent: list: %w", err)
			}
			return nil, fmt.Errorf("%w: %w", ErrUnavailableStore, err)
		}
		for _, r := range rows {
			c, err := fromStore(r)
			if err != nil {
				return nil, err
			}
			if f.Status != "" && c.Status(now) != f.Status {
				continue
			}
			out = append(out, c)
		}
	}
	if len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

// RevokeForCustomer is the customer's revocation (the dashboard's revoke button):
// [Service.Revoke] of consent id by customerID, provided the consent is that
// customer's — another customer's consent is ErrNotFound.
func (s *Service) RevokeForCustomer(ctx context.Context, customerID, id string) (*Consent, error) {
	c, err := s.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	if customerID == "" || c.CustomerID != customerID {
		return nil, ErrNotFound
	}
	return s.Revoke(ctx, id, "customer:"+customerID)
}
