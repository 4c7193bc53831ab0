// Package nca answers whether a third-party provider (TPP) is authorised by its National
// Competent Authority, and for which PSD2 roles, "beyond the certificate" (issue 12 §5, the
// seed's "Validate external API consumers"). A QWAC says who the TPP was when the
// certificate was issued; the NCA's register says whether that authorisation still stands.
// A withdrawn authorisation, or a role the NCA removed, is refused even while the
// certificate is valid.
//
// Two registers implement the one question ([Register.Check], [Webhook.Check]):
//
//   - [Register]: a snapshot of the EBA PSD2 register in its published JSON shape
//     ([ParseEBA]; the sandbox register file uses the same shape), read from a file or an
//     https URL and refreshed on a schedule or on demand;
//   - [Webhook]: a service of the bank's own that answers per TPP, cached per TPP.
//
// Both keep "could not check" ([ErrUnavailable]) apart from "checked and refused"
// ([*RefusedError] with reason [ErrNotListed], [ErrWithdrawn] or [ErrRoleNotAuthorised]).
// When the register cannot be read the policy is the deployment's ([Policy]): fail closed
// by default once the data is older than the freshness bound. Consumers (package dcr at
// registration, package clientauth at the token endpoint, package gateway on every
// resource request) declare the one-method interface they need and map the verdict to
// their own wire errors; this package does not log and does not render errors.
package nca
