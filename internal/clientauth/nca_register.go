package clientauth

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/portcullis/portcullis/internal/client"
	"github.com/portcullis/portcullis/internal/nca"
	"github.com/portcullis/portcullis/internal/pki/eidas"
)

// TPPRegister says whether a TPP is authorised by its NCA for PSD2 roles now;
// *nca.Register and *nca.Webhook implement it (cached). Check returns nil, an error
// matching nca.ErrNotListed, nca.ErrWithdrawn or nca.ErrRoleNotAuthorised (refused), or
// one matching nca.ErrUnavailable (could not check).
type TPPRegister interface {
	Check(ctx context.Context, id nca.ID, roles []eidas.Role) error
}

// softwareRole maps a client's software_roles (OB) to PSD2 roles.
var softwareRole = map[string]eidas.Role{"AISP": eidas.RoleAISP, "PISP": eidas.RolePISP, "CBPII": eidas.RoleCBPII}

// checkRegister asks the register about an authenticated client: the TPP is the
// organisation of the validated certificate the request presented (its PSD2
// organizationIdentifier, NCA and authorisation number; a certificate without one, or
// none, is asked about with a zero ID, which a production register refuses as not
// listed), and the roles are the client's registered software_roles, or the
// certificate's PSD2 roles for a client registered without them. A refusal is
// [ErrNotAuthorised] (401 invalid_client); a register that could not answer is
// [ErrCertificateStatusUnavailable] (503), never a pass.
func (a *Authenticator) checkRegister(ctx context.Context, res *Result) error {
	if a.register == nil {
		return nil
	}
	var id nca.ID
	var roles []eidas.Role
	if res.Identity != nil {
		id, _ = nca.FromOrganizationIdentifier(res.Identity.Organization)
		roles = res.Identity.Roles
	}
	if len(res.Client.SoftwareRoles) > 0 {
		roles = nil
		for _, r := range res.Client.SoftwareRoles {
			if pr, ok := softwareRole[r]; ok {
				roles = append(roles, pr)
			}
		}
	}
	err := a.register.Check(ctx, id, roles)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, nca.ErrUnavailable):
		return certificateStatusUnavailable(err)
	case errors.Is(err, nca.ErrNotListed), errors.Is(err, nca.ErrWithdrawn), errors.Is(err, nca.ErrRoleNotAuthorised):
		e := failWith(ErrNotAuthorised, "the TPP is not authorised by its NCA: "+err.Error(), err)
		e.ClientID = res.Client.ID
		return e
	}
	return fmt.Errorf("clientauth: NCA register: %w", err)
}

// lifetimeFor returns the maximum client assertion lifetime for c's profile.
func (a *Authenticator) lifetimeFor(c *client.Client) time.Duration {
	if d, ok := a.byProfile[c.EffectiveProfile()]; ok {
		return d
	}
	return a.lifetime
}
