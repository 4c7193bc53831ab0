package authz_test

import (
	"context"
	"testing"

	"github.com/portcullis/portcullis/internal/authz"
	"github.com/portcullis/portcullis/internal/client"
)

// TestClientSubjects: pairwise subjects are stable per sector and differ across sectors;
// public subjects are the same for every public client; none is the customer id.
func TestClientSubjects(t *testing.T) {
	cs := authz.ClientSubjects{S: testSubjects}
	ctx := context.Background()
	sub := func(c *client.Client, customer string) string {
		t.Helper()
		s, err := cs.Subject(ctx, c, customer)
		if err != nil {
			t.Fatal(err)
		}
		if s == "" || s == customer {
			t.Fatalf("subject %q for customer %q", s, customer)
		}
		return s
	}
	pw := func(id string, redirects []string, sector string) *client.Client {
		return &client.Client{ID: id, SubjectType: "pairwise", RedirectURIs: redirects, SectorIdentifierURI: sector}
	}
	a := pw("a", []string{"https://one.example/cb"}, "")
	a2 := pw("a2", []string{"https://one.example/other"}, "")
	b := pw("b", []string{"https://two.example/cb"}, "")
	bySector := pw("c", []string{"https://three.example/cb"}, "https://one.example/sector.json")
	pub1, pub2 := &client.Client{ID: "p1"}, &client.Client{ID: "p2"}

	first, again := sub(a, "cust"), sub(a, "cust")
	if first != again {
		t.Error("pairwise subject not stable")
	}
	if sub(a, "cust") != sub(a2, "cust") || sub(a, "cust") != sub(bySector, "cust") {
		t.Error("clients of one sector see different subjects")
	}
	if sub(a, "cust") == sub(b, "cust") {
		t.Error("two sectors see the same subject")
	}
	if sub(a, "cust") == sub(a, "other") {
		t.Error("two customers share a subject")
	}
	if sub(pub1, "cust") != sub(pub2, "cust") || sub(pub1, "cust") == sub(a, "cust") {
		t.Error("public subjects: same for every public client, different from pairwise")
	}
}
