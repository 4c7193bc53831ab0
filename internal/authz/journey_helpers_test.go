package authz_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"

	"github.com/portcullis/portcullis/internal/client"
	"github.com/portcullis/portcullis/internal/store"
)

// testSubjects derives an opaque subject per client from the customer id.
type testSubjects struct{}

func (testSubjects) Subject(_ context.Context, c *client.Client, customerID string) (string, error) {
	m := hmac.New(sha256.New, []byte("test-subject-secret"))
	m.Write([]byte(c.ID + "\x00" + customerID))
	return b64(m.Sum(nil)), nil
}

// familyRevoker revokes a family's refresh tokens in the store.
type familyRevoker struct{ st *store.Store }

func (f familyRevoker) RevokeFamily(ctx context.Context, family string) error {
	_, err := f.st.RevokeRefreshFamily(ctx, family)
	return err
}
