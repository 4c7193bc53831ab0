package authz_test

import (
	"github.com/portcullis/portcullis/internal/token"
)

// testSubjects is the subject secret of every test server: two servers sharing a store and
// this secret give a customer the same subjects, as two nodes of one deployment do.
var testSubjects = func() *token.Subjects {
	s, err := token.NewSubjects([]byte("test-subject-secret-of-32-bytes!"))
	if err != nil {
		panic(err)
	}
	return s
}()
