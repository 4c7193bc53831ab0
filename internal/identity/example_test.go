package identity_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"time"

	"github.com/portcullis/portcullis/internal/identity"
	"github.com/portcullis/portcullis/internal/store"
)

// The two steps the customer pages drive, and what a completed login yields.
func Example() {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "identity-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	st, err := store.Open(ctx, "sqlite:"+filepath.Join(dir, "portcullis.db"), store.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer st.Close()
	if err := st.Migrate(ctx); err != nil {
		log.Fatal(err)
	}
	key, err := identity.LoadOrCreateSecretKey(filepath.Join(dir, identity.SecretKeyFile))
	if err != nil {
		log.Fatal(err)
	}
	enrolment, err := identity.NewCustomers(st, key).Add(ctx, identity.NewCustomer{ID: "alice", Password: "correct horse"})
	if err != nil {
		log.Fatal(err)
	}
	auth, err := identity.NewEmbedded(identity.EmbeddedOptions{Customers: st, Failures: st, SecretKey: key})
	if err != nil {
		log.Fatal(err)
	}

	// Login form: username and password.
	id, err := auth.CheckPassword(ctx, "alice", "correct horse", "192.0.2.1")
	fmt.Println(id, err)
	_, err = auth.CheckPassword(ctx, "alice", "wrong horse", "192.0.2.1")
	fmt.Println(err)

	// SCA form: the code the customer's authenticator app shows, accepted once.
	secret, _ := identity.ParseTOTPSecret(enrolment.TOTPSecret)
	code, _ := identity.TOTPCode(secret, time.Now())
	fmt.Println(auth.CheckOTP(ctx, id, code, "192.0.2.1"))
	fmt.Println(auth.CheckOTP(ctx, id, code, "192.0.2.1"))

	a := identity.NewAuthentication(id, time.Now(), identity.AMRPassword, identity.AMROTP)
	fmt.Println(a.ACR, a.AMR)
	// Output:
	// alice <nil>
	// identity: invalid username or password
	// <nil>
	// identity: one-time code already used
	// urn:openbanking:psd2:sca [pwd otp]
}
