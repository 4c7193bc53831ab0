package clientauth

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/client"
	"github.com/portcullis/portcullis/internal/nca"
	"github.com/portcullis/portcullis/internal/pki/eidas"
)

// fakeRegister answers from a map of ID keys to errors; it records what it was asked.
type fakeRegister struct {
	answers map[string]error
	asked   []nca.ID
	roles   [][]eidas.Role
}

func (f *fakeRegister) Check(_ context.Context, id nca.ID, roles []eidas.Role) error {
	f.asked = append(f.asked, id)
	f.roles = append(f.roles, roles)
	if err, ok := f.answers[id.Key()]; ok {
		return err
	}
	return &nca.RefusedError{Reason: nca.ErrNotListed, ID: id}
}

// TestAuthenticateNCARegister: a client whose certificate is valid is refused with 401
// invalid_client when its NCA register says the authorisation was withdrawn or a role was
// removed, and with 503 when the register cannot be consulted.
func TestAuthenticateNCARegister(t *testing.T) {
	f := newFixture(t)
	gb := nca.ID{Country: "GB", Authority: "FCA", Number: "123456"}
	reg := &fakeRegister{answers: map[string]error{}}
	var err error
	f.auth, err = New(Options{Clients: f.clients, JTIs: f.jtis, Clock: f.clk, Issuer: issuer, Register: reg})
	if err != nil {
		t.Fatal(err)
	}
	id := identityOf(t, f.tlsLeaf)
	id.Organization = eidas.OrganizationIdentifier{Raw: "PSDGB-FCA-123456", Scheme: "PSD", Country: "GB", NCA: "FCA", Reference: "123456"}
	id.Roles = []eidas.Role{eidas.RoleAISP, eidas.RolePISP}
	req := func() Request { return Request{Form: idForm("tls-client"), Identity: id, Endpoint: EndpointToken} }
	ctx := context.Background()

	reg.answers[gb.Key()] = nil
	res, err := f.auth.Authenticate(ctx, req())
	if err != nil || res.Client.ID != "tls-client" {
		t.Fatalf("authorised TPP: %v", err)
	}
	if got := reg.asked[len(reg.asked)-1]; got.Key() != gb.Key() {
		t.Errorf("register asked about %v, want %v", got, gb)
	}
	if got := reg.roles[len(reg.roles)-1]; len(got) != 2 {
		t.Errorf("register asked for roles %v, want the certificate's", got)
	}

	for _, reason := range []error{nca.ErrWithdrawn, nca.ErrRoleNotAuthorised, nca.ErrNotListed} {
		reg.answers[gb.Key()] = &nca.RefusedError{Reason: reason, ID: gb}
		res, err := f.auth.Authenticate(ctx, req())
		checkFailure(t, res, err, ErrNotAuthorised)
	}

	reg.answers[gb.Key()] = nca.ErrUnavailable
	res, err = f.auth.Authenticate(ctx, req())
	if res != nil || !errors.Is(err, ErrCertificateStatusUnavailable) || !errors.Is(err, nca.ErrUnavailable) {
		t.Fatalf("register unavailable: %v %v", res, err)
	}
	if status, code, _ := toWire(t, err); status != http.StatusServiceUnavailable || code != "temporarily_unavailable" {
		t.Errorf("register unavailable on the wire: %d %s, want 503 temporarily_unavailable", status, code)
	}

	// A client registered with software_roles is checked for those roles.
	f.clients.clients["tls-client"].SoftwareRoles = []string{"AISP"}
	reg.answers[gb.Key()] = nil
	if _, err := f.auth.Authenticate(ctx, req()); err != nil {
		t.Fatal(err)
	}
	if got := reg.roles[len(reg.roles)-1]; len(got) != 1 || got[0] != eidas.RoleAISP {
		t.Errorf("register asked for roles %v, want [PSP_AI]", got)
	}
}

// TestMaxAssertionLifetimeByProfile: an assertion valid for 30 minutes is accepted from
// a client of a profile configured for it and refused under the default of 5 minutes.
func TestMaxAssertionLifetimeByProfile(t *testing.T) {
	f := newFixture(t)
	var err error
	f.auth, err = New(Options{Clients: f.clients, JTIs: f.jtis, Clock: f.clk, Issuer: issuer,
		MaxAssertionLifetimeByProfile: map[string]time.Duration{client.ProfileFAPI1: 30 * time.Minute}})
	if err != nil {
		t.Fatal(err)
	}
	long := func(id string) map[string]any {
		return with(f.claims(id, issuer), "exp", f.clk.Now().Add(30*time.Minute).Unix())
	}
	ctx := context.Background()
	if _, err := f.auth.Authenticate(ctx, Request{Form: assertionForm(f.es256().sign(t, long("fapi1-client")), ""), IdentityErr: noCert, Endpoint: EndpointToken}); err != nil {
		t.Errorf("30-minute assertion under FAPI 1 (30 min): %v", err)
	}
	res, err := f.auth.Authenticate(ctx, Request{Form: assertionForm(f.fapi2().sign(t, long("fapi2-client")), ""), IdentityErr: noCert, Endpoint: EndpointToken})
	checkFailure(t, res, err, ErrAssertionInvalid)

	for _, bad := range []map[string]time.Duration{{"fapi3": time.Minute}, {client.ProfileFAPI2: 2 * time.Hour}} {
		if _, err := New(Options{Clients: f.clients, JTIs: f.jtis, Issuer: issuer, MaxAssertionLifetimeByProfile: bad}); err == nil {
			t.Errorf("New accepted MaxAssertionLifetimeByProfile %v", bad)
		}
	}
}
