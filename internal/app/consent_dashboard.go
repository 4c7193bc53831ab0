package app

import (
	"context"
	"errors"
	"fmt"

	"github.com/portcullis/portcullis/internal/client"
	"github.com/portcullis/portcullis/internal/clock"
	"github.com/portcullis/portcullis/internal/consent"
	"github.com/portcullis/portcullis/internal/web"
)

// consentDashboard is the customer's consent dashboard (web.Dashboard) over the consent
// service, the client registry (the TPPs' names) and the customer's accounts (their
// names and masked identifications).
type consentDashboard struct {
	consents *consent.Service
	clients  *client.Registry
	accounts AccountsLookup // nil: accounts are shown by id
	clock    clock.Clock
}

// List returns the consents customerID authorised or refused, newest first, each with
// its TPP's registered name (a removed client shows by id).
func (d consentDashboard) List(ctx context.Context, customerID string) ([]web.ConsentEntry, error) {
	if customerID == "" {
		return nil, nil
	}
	list, err := d.consents.List(ctx, consent.Filter{CustomerID: customerID, Limit: consent.MaxListLimit})
	if err != nil {
		return nil, err
	}
	names := map[string]web.Account{}
	if d.accounts != nil {
		accts, err := d.accounts.CustomerAccounts(ctx, customerID)
		if err != nil {
			return nil, err
		}
		for _, a := range accts {
			names[a.ID] = web.Account{ID: a.ID, Name: a.Name, Identification: a.Identification}
		}
	}
	clientNames := map[string]string{}
	now := d.clock.Now()
	out := make([]web.ConsentEntry, 0, len(list))
	for _, c := range list {
		name, ok := clientNames[c.ClientID]
		if !ok {
			cl, err := d.clients.Get(ctx, c.ClientID)
			switch {
			case errors.Is(err, client.ErrNotFound):
				name = c.ClientID
			case err != nil:
				return nil, err
			case cl.Name != "":
				name = cl.Name
			default:
				name = cl.ID
			}
			clientNames[c.ClientID] = name
		}
		desc := consent.Describe(c)
		e := web.ConsentEntry{
			ID: c.ID, ClientID: c.ClientID, ClientName: name,
			Title: desc.Title, Permissions: desc.Permissions,
			Created: c.CreatedAt, Expires: c.ExpiresAt,
			Status: c.Status(now),
		}
		e.Active = e.Status == consent.StatusAuthorised
		for _, id := range c.Accounts {
			a, ok := names[id]
			if !ok {
				a = web.Account{ID: id, Name: id}
			}
			e.Accounts = append(e.Accounts, a)
		}
		out = append(out, e)
	}
	return out, nil
}

// Revoke is the customer's revocation: consent.Service.RevokeForCustomer, which kills
// the consent's refresh tokens at once and deny-lists its access tokens.
func (d consentDashboard) Revoke(ctx context.Context, customerID, id string) error {
	_, err := d.consents.RevokeForCustomer(ctx, customerID, id)
	switch {
	case errors.Is(err, consent.ErrNotFound):
		return fmt.Errorf("%w: %w", web.ErrConsentNotFound, err)
	case errors.Is(err, consent.ErrStatus), errors.Is(err, consent.ErrExpired):
		return fmt.Errorf("%w: %w", web.ErrConsentInactive, err)
	}
	return err
}

var _ web.Dashboard = consentDashboard{}
