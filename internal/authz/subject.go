package authz

import (
	"context"
	"net/url"

	"github.com/portcullis/portcullis/internal/client"
	"github.com/portcullis/portcullis/internal/token"
)

// ClientSubjects is the Subjects of the token package applied to a client's registration:
// pairwise subjects for clients registered with subject_type pairwise, public ones otherwise
// (OIDC Core §8). Both are opaque: neither is the bank's customer id.
type ClientSubjects struct{ S *token.Subjects }

// Subject returns the subject client c sees for customerID.
func (cs ClientSubjects) Subject(_ context.Context, c *client.Client, customerID string) (string, error) {
	if sector := Sector(c); sector != "" {
		return cs.S.Pairwise(sector, customerID), nil
	}
	return cs.S.Public(customerID), nil
}

// Sector returns the sector identifier of a client registered with subject_type pairwise
// (OIDC Core §8.1): the host of its sector_identifier_uri, else the host of its redirect
// URIs (registration makes sure they share one host when there is no
// sector_identifier_uri). It returns "" for a public client.
func Sector(c *client.Client) string {
	if c.SubjectType != "pairwise" {
		return ""
	}
	raw := c.SectorIdentifierURI
	if raw == "" && len(c.RedirectURIs) > 0 {
		raw = c.RedirectURIs[0]
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return c.ID // no usable host: one sector per client, still pairwise
	}
	return u.Hostname()
}
