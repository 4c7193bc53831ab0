package gateway

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/portcullis/portcullis/internal/nca"
	"github.com/portcullis/portcullis/internal/pki/eidas"
)

// TPPRegister says whether a TPP is authorised by its NCA for PSD2 roles now;
// *nca.Register and *nca.Webhook implement it (cached: lookups do not reach the
// network on every request). Check returns nil, an error matching nca.ErrNotListed,
// nca.ErrWithdrawn or nca.ErrRoleNotAuthorised (refused), or one matching
// nca.ErrUnavailable (could not check).
type TPPRegister interface {
	Check(ctx context.Context, id nca.ID, roles []eidas.Role) error
}

// authorisationStage: the certificate's organisation (its PSD2 organizationIdentifier:
// NCA and authorisation number) is still authorised by its NCA for the roles the
// request uses — the route's roles the certificate carries, or all the certificate's
// roles on a route open to any role. A certificate without a PSD identifier asks the
// register with a zero ID (refused as not listed unless the register allows unlisted
// TPPs, as the dev sandbox does). Without a register the stage passes.
type authorisationStage struct{ register TPPRegister }

func (s authorisationStage) Check(ctx context.Context, x *exchange) error {
	if s.register == nil {
		return nil
	}
	id, _ := nca.FromOrganizationIdentifier(x.id.Organization)
	roles := x.id.Roles
	if !x.route.AnyRole {
		roles = slices.DeleteFunc(slices.Clone(x.id.Roles), func(r eidas.Role) bool { return !slices.Contains(x.route.Roles, r) })
	}
	err := s.register.Check(ctx, id, roles)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, nca.ErrUnavailable):
		return fmt.Errorf("%w: %w", ErrRegisterUnavailable, err)
	case errors.Is(err, nca.ErrNotListed), errors.Is(err, nca.ErrWithdrawn), errors.Is(err, nca.ErrRoleNotAuthorised):
		return fmt.Errorf("%w: %w", ErrTPPNotAuthorised, err)
	}
	return fmt.Errorf("%w: NCA register: %w", ErrInternal, err)
}
