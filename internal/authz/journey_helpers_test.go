package authz_test

import (
	"context"

	"github.com/portcullis/portcullis/internal/oauth"
	"github.com/portcullis/portcullis/internal/token"
)

// testIntents is the consents awaiting authorisation, by id, with the client each belongs
// to (OB-03); the real checker is the consent service's.
type testIntents map[string]string

func (ti testIntents) CheckIntent(_ context.Context, clientID, intentID string) error {
	owner, ok := ti[intentID]
	if !ok || owner != clientID {
		return oauth.InvalidRequest("openbanking_intent_id names no consent of this client awaiting authorisation")
	}
	return nil
}

// testSubjects is the subject secret of every test server: two servers sharing a store and
// this secret give a customer the same subjects, as two nodes of one deployment do.
var testSubjects = func() *token.Subjects {
	s, err := token.NewSubjects([]byte("test-subject-secret-of-32-bytes!"))
	if err != nil {
		panic(err)
	}
	return s
}()
