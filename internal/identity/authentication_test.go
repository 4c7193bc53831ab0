package identity_test

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/portcullis/portcullis/internal/identity"
)

func TestNewAuthenticationACR(t *testing.T) {
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name string
		amr  []string
		acr  string
	}{
		{"password and TOTP", []string{"pwd", "otp"}, identity.ACRSCA},
		{"TOTP then password", []string{"otp", "pwd"}, identity.ACRSCA},
		{"password only", []string{"pwd"}, identity.ACRCA},
		{"TOTP only", []string{"otp"}, identity.ACRCA},
		{"nothing", nil, identity.ACRCA},
		{"password twice", []string{"pwd", "pwd"}, identity.ACRCA},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := identity.NewAuthentication("cust-1", at, tt.amr...)
			want := identity.Authentication{CustomerID: "cust-1", AuthTime: at, AMR: tt.amr, ACR: tt.acr}
			if d := cmp.Diff(want, got); d != "" {
				t.Fatalf("(-want +got):\n%s", d)
			}
			if got.SCA() != (tt.acr == identity.ACRSCA) {
				t.Fatalf("SCA() = %v", got.SCA())
			}
		})
	}
	if identity.ACRSCA != "urn:openbanking:psd2:sca" || identity.ACRCA != "urn:openbanking:psd2:ca" {
		t.Fatal("ACR values differ from the Open Banking URNs")
	}
}
