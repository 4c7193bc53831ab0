package dcr_test

import (
	"context"
	"errors"
	"testing"

	"github.com/portcullis/portcullis/internal/dcr"
	"github.com/portcullis/portcullis/internal/nca"
	"github.com/portcullis/portcullis/internal/pki"
	"github.com/portcullis/portcullis/internal/pki/eidas"
)

// TestVerifyNCARegister: a registration whose certificate and SSA are valid is refused
// with unapproved_software_statement when the NCA register says the organisation's
// authorisation was withdrawn, a role was removed, or it is not listed; and is "could not
// check" when the register cannot be read.
func TestVerifyNCARegister(t *testing.T) {
	w := newWorld(t)
	doc := ""
	reg, err := nca.NewRegister(nca.RegisterOptions{Clock: w.clk,
		Load: func(context.Context) ([]byte, error) {
			if doc == "" {
				return nil, errors.New("register file missing")
			}
			return []byte(doc), nil
		}})
	if err != nil {
		t.Fatal(err)
	}
	v := w.verifier(t, func(o *dcr.Options) { o.Register = reg })
	entity := func(aut, services string) string {
		return `[{"CA_OwnerID":"GB_FCA","EntityCode":"PSD_PI!GB_FCA!123456","EntityType":"PSD_PI",
		 "Properties":[{"ENT_NAT_REF_COD":"123456"},{"ENT_AUT":` + aut + `}],"Services":[{"GB":` + services + `}]}]`
	}
	ctx := context.Background()

	// Never loaded: could not check.
	if _, err := v.Verify(ctx, w.request(t, nil, nil), w.id); !errors.Is(err, dcr.ErrUnavailable) {
		t.Fatalf("register never loaded: %v, want ErrUnavailable", err)
	}
	for _, tc := range []struct {
		name, doc, claim string
	}{
		{"withdrawn", entity(`["2019-01-01","2026-01-01"]`, `["PS_070","PS_080"]`), "organisation_competent_authority_claims"},
		{"PISP removed", entity(`["2019-01-01"]`, `["PS_080"]`), "software_roles"},
		{"not listed", `[]`, "organisation_competent_authority_claims"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			doc = tc.doc
			if err := reg.Refresh(ctx); err != nil {
				t.Fatal(err)
			}
			assertRefused(t, v, w.request(t, nil, nil), w.id, dcr.CodeUnapprovedSoftwareStatement, tc.claim)
		})
	}
	doc = entity(`["2019-01-01"]`, `["PS_070","PS_080"]`)
	if err := reg.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(ctx, w.request(t, nil, nil), w.id); err != nil {
		t.Fatalf("authorised TPP refused: %v", err)
	}
}

// TestVerifyNCARegisterOBCertificate: an OB certificate names no NCA authorisation, so the
// register is asked about the SSA's organisation_competent_authority_claims (the OB
// Directory's authority_id "FCAGBR" and registration_id).
func TestVerifyNCARegisterOBCertificate(t *testing.T) {
	w := newWorld(t)
	v, err := pki.NewValidator(pki.Options{Anchors: []pki.Anchor{{Name: "ob", Cert: w.ca.Root, Profile: pki.ProfileOB}}, Clock: w.clk, Revocation: w.checker})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	id, err := v.Validate(ctx, w.ca.OBWAC(t, eidas.RoleAISP, eidas.RolePISP).Chain, pki.PurposeTransport)
	if err != nil {
		t.Fatal(err)
	}
	aut := `["2019-01-01","2026-01-01"]`
	reg, err := nca.NewRegister(nca.RegisterOptions{Clock: w.clk, Load: func(context.Context) ([]byte, error) {
		return []byte(`[{"CA_OwnerID":"GB_FCA","EntityCode":"PSD_PI!GB_FCA!123456","EntityType":"PSD_PI",
		 "Properties":[{"ENT_NAT_REF_COD":"123456"},{"ENT_AUT":` + aut + `}],"Services":[{"GB":["PS_070","PS_080"]}]}]`), nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	verifier := w.verifier(t, func(o *dcr.Options) { o.Register = reg })
	body := func() []byte {
		return w.request(t, nil, func(m map[string]any) {
			m["token_endpoint_auth_method"] = "private_key_jwt"
			m["token_endpoint_auth_signing_alg"] = "ES256"
			delete(m, "tls_client_auth_subject_dn")
		})
	}
	if err := reg.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	assertRefused(t, verifier, body(), id, dcr.CodeUnapprovedSoftwareStatement, "organisation_competent_authority_claims")
	aut = `["2019-01-01"]`
	if err := reg.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := verifier.Verify(ctx, body(), id); err != nil {
		t.Fatalf("OBWAC of an authorised organisation refused: %v", err)
	}
}
