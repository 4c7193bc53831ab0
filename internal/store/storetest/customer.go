package storetest

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/portcullis/portcullis/internal/store"
)

// newCustomer returns a customer with every field set.
func newCustomer(id string) store.Customer {
	return store.Customer{
		ID:           id,
		DisplayName:  "Customer " + id,
		PasswordHash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g",
		TOTPSecret:   "sealed-" + id,
	}
}

func testCustomer(t *testing.T, open Opener) {
	t.Run("CreateGet", func(t *testing.T) {
		s, _ := fresh(t, open)
		c := newCustomer("alice")
		c.TOTPLastStep = 99 // ignored: a new customer starts at 0
		must(t, "CreateCustomer", s.CreateCustomer(ctx(t), c))
		got, err := s.GetCustomer(ctx(t), "alice")
		must(t, "GetCustomer", err)
		want := newCustomer("alice")
		want.CreatedAt, want.UpdatedAt = epoch, epoch
		if d := cmp.Diff(want, got); d != "" {
			t.Fatalf("GetCustomer (-want +got):\n%s", d)
		}
	})
	t.Run("Duplicate", func(t *testing.T) {
		s, _ := fresh(t, open)
		must(t, "CreateCustomer", s.CreateCustomer(ctx(t), newCustomer("alice")))
		other := newCustomer("alice")
		other.PasswordHash = "other"
		wantErr(t, "CreateCustomer again", s.CreateCustomer(ctx(t), other), store.ErrDuplicate)
		got, err := s.GetCustomer(ctx(t), "alice")
		must(t, "GetCustomer", err)
		if got.PasswordHash != newCustomer("alice").PasswordHash {
			t.Fatal("the duplicate overwrote the password hash")
		}
	})
	t.Run("NotFound", func(t *testing.T) {
		s, _ := fresh(t, open)
		_, err := s.GetCustomer(ctx(t), "nobody")
		wantErr(t, "GetCustomer", err, store.ErrNotFound)
		_, err = s.GetCustomer(ctx(t), strings.Repeat("k", store.MaxKeyLen+1))
		wantErr(t, "GetCustomer long id", err, store.ErrNotFound)
		wantErr(t, "DeleteCustomer", s.DeleteCustomer(ctx(t), "nobody"), store.ErrNotFound)
		wantErr(t, "UseTOTPStep", s.UseTOTPStep(ctx(t), "nobody", 1), store.ErrNotFound)
	})
	t.Run("InvalidInput", func(t *testing.T) {
		s, _ := fresh(t, open)
		long := strings.Repeat("k", store.MaxKeyLen+1)
		rows := []struct {
			name string
			mut  func(*store.Customer)
		}{
			{"empty id", func(c *store.Customer) { c.ID = "" }},
			{"long id", func(c *store.Customer) { c.ID = long }},
			{"NUL in id", func(c *store.Customer) { c.ID = "a\x00b" }},
			{"no password hash", func(c *store.Customer) { c.PasswordHash = "" }},
			{"long password hash", func(c *store.Customer) { c.PasswordHash = long }},
			{"long display name", func(c *store.Customer) { c.DisplayName = long }},
			{"invalid UTF-8 display name", func(c *store.Customer) { c.DisplayName = "a\xff" }},
			{"long totp secret", func(c *store.Customer) { c.TOTPSecret = long }},
			{"created before 1970", func(c *store.Customer) { c.CreatedAt = time.Date(1969, 1, 1, 0, 0, 0, 0, time.UTC) }},
		}
		for _, r := range rows {
			c := newCustomer("c")
			r.mut(&c)
			wantErr(t, r.name, s.CreateCustomer(ctx(t), c), store.ErrInvalidInput)
		}
		all, err := s.ListCustomers(ctx(t))
		must(t, "ListCustomers", err)
		if len(all) != 0 {
			t.Fatalf("refused writes stored %d customers", len(all))
		}
		must(t, "CreateCustomer", s.CreateCustomer(ctx(t), newCustomer("c")))
		wantErr(t, "UseTOTPStep 0", s.UseTOTPStep(ctx(t), "c", 0), store.ErrInvalidInput)
		wantErr(t, "UseTOTPStep negative", s.UseTOTPStep(ctx(t), "c", -5), store.ErrInvalidInput)
	})
	t.Run("DeleteAndList", func(t *testing.T) {
		s, _ := fresh(t, open)
		got, err := s.ListCustomers(ctx(t))
		must(t, "ListCustomers empty", err)
		if len(got) != 0 {
			t.Fatalf("ListCustomers on an empty store = %v", got)
		}
		for _, id := range []string{"b", "c", "a"} {
			must(t, "CreateCustomer", s.CreateCustomer(ctx(t), newCustomer(id)))
		}
		must(t, "DeleteCustomer", s.DeleteCustomer(ctx(t), "b"))
		wantErr(t, "DeleteCustomer again", s.DeleteCustomer(ctx(t), "b"), store.ErrNotFound)
		got, err = s.ListCustomers(ctx(t))
		must(t, "ListCustomers", err)
		var ids []string
		for _, c := range got {
			ids = append(ids, c.ID)
			if c.TOTPSecret != "sealed-"+c.ID {
				t.Errorf("customer %s totp secret = %q", c.ID, c.TOTPSecret)
			}
		}
		if d := cmp.Diff([]string{"a", "c"}, ids); d != "" {
			t.Fatalf("ListCustomers (-want +got):\n%s", d)
		}
	})
	t.Run("TOTPStepOnlyForward", func(t *testing.T) {
		s, _ := fresh(t, open)
		must(t, "CreateCustomer", s.CreateCustomer(ctx(t), newCustomer("alice")))
		must(t, "UseTOTPStep 100", s.UseTOTPStep(ctx(t), "alice", 100))
		wantErr(t, "UseTOTPStep 100 again", s.UseTOTPStep(ctx(t), "alice", 100), store.ErrReplay)
		wantErr(t, "UseTOTPStep 99 after 100", s.UseTOTPStep(ctx(t), "alice", 99), store.ErrReplay)
		must(t, "UseTOTPStep 101", s.UseTOTPStep(ctx(t), "alice", 101))
		got, err := s.GetCustomer(ctx(t), "alice")
		must(t, "GetCustomer", err)
		if got.TOTPLastStep != 101 {
			t.Fatalf("TOTPLastStep = %d, want 101", got.TOTPLastStep)
		}
	})
	t.Run("TOTPStepConcurrentOneWinner", func(t *testing.T) {
		s, _ := fresh(t, open)
		must(t, "CreateCustomer", s.CreateCustomer(ctx(t), newCustomer("alice")))
		const n = 50
		errs := make(chan error, n)
		var wg sync.WaitGroup
		for range n {
			wg.Go(func() { errs <- s.UseTOTPStep(ctx(t), "alice", 7) })
		}
		wg.Wait()
		close(errs)
		wins := 0
		for err := range errs {
			switch {
			case err == nil:
				wins++
			case errors.Is(err, store.ErrReplay):
			default:
				t.Errorf("UseTOTPStep: %v", err)
			}
		}
		if wins != 1 {
			t.Fatalf("%d of %d concurrent UseTOTPStep calls won, want exactly 1", wins, n)
		}
	})
}

func testLoginFailures(t *testing.T, open Opener) {
	const window = 15 * time.Minute
	t.Run("CountWindowRestart", func(t *testing.T) {
		s, clk := fresh(t, open)
		for i := int64(1); i <= 3; i++ {
			lf, err := s.CountLoginFailure(ctx(t), "k", window)
			must(t, "CountLoginFailure", err)
			want := store.LoginFailures{Count: i, WindowStart: epoch, ExpiresAt: epoch.Add(window)}
			if d := cmp.Diff(want, lf); d != "" {
				t.Fatalf("failure %d (-want +got):\n%s", i, d)
			}
			clk.Advance(time.Minute)
		}
		// Other keys are independent.
		lf, err := s.CountLoginFailure(ctx(t), "other", window)
		must(t, "CountLoginFailure other", err)
		if lf.Count != 1 {
			t.Fatalf("other key count = %d, want 1", lf.Count)
		}
		// At ExpiresAt the window is over: the counter restarts with a new window.
		clk.Set(epoch.Add(window))
		lf, err = s.CountLoginFailure(ctx(t), "k", window)
		must(t, "CountLoginFailure after window", err)
		want := store.LoginFailures{Count: 1, WindowStart: epoch.Add(window), ExpiresAt: epoch.Add(2 * window)}
		if d := cmp.Diff(want, lf); d != "" {
			t.Fatalf("after the window (-want +got):\n%s", d)
		}
	})
	t.Run("ForgiveAndClear", func(t *testing.T) {
		s, clk := fresh(t, open)
		must(t, "ForgiveLoginFailure absent", s.ForgiveLoginFailure(ctx(t), "k"))
		must(t, "ClearLoginFailures absent", s.ClearLoginFailures(ctx(t), "k"))
		for range 2 {
			_, err := s.CountLoginFailure(ctx(t), "k", window)
			must(t, "CountLoginFailure", err)
		}
		must(t, "ForgiveLoginFailure", s.ForgiveLoginFailure(ctx(t), "k"))
		lf, err := s.CountLoginFailure(ctx(t), "k", window)
		must(t, "CountLoginFailure", err)
		if lf.Count != 2 {
			t.Fatalf("count after 2 failures, 1 forgiven, 1 more = %d, want 2", lf.Count)
		}
		for range 3 {
			must(t, "ForgiveLoginFailure", s.ForgiveLoginFailure(ctx(t), "k"))
		}
		lf, err = s.CountLoginFailure(ctx(t), "k", window)
		must(t, "CountLoginFailure", err)
		if lf.Count != 1 {
			t.Fatalf("count after forgiving below zero = %d, want 1 (floor 0, then one more)", lf.Count)
		}
		must(t, "ClearLoginFailures", s.ClearLoginFailures(ctx(t), "k"))
		clk.Advance(time.Minute)
		lf, err = s.CountLoginFailure(ctx(t), "k", window)
		must(t, "CountLoginFailure after clear", err)
		if want := (store.LoginFailures{Count: 1, WindowStart: epoch.Add(time.Minute), ExpiresAt: epoch.Add(time.Minute + window)}); lf != want {
			t.Fatalf("after clear = %+v, want %+v", lf, want)
		}
	})
	t.Run("InvalidInput", func(t *testing.T) {
		s, _ := fresh(t, open)
		_, err := s.CountLoginFailure(ctx(t), "", window)
		wantErr(t, "empty key", err, store.ErrInvalidInput)
		_, err = s.CountLoginFailure(ctx(t), strings.Repeat("k", store.MaxKeyLen+1), window)
		wantErr(t, "long key", err, store.ErrInvalidInput)
		_, err = s.CountLoginFailure(ctx(t), "k", 0)
		wantErr(t, "zero window", err, store.ErrInvalidInput)
	})
	t.Run("ConcurrentAllCounted", func(t *testing.T) {
		s, _ := fresh(t, open)
		const n = 40
		counts := make(chan int64, n)
		var wg sync.WaitGroup
		for range n {
			wg.Go(func() {
				lf, err := s.CountLoginFailure(ctx(t), "k", window)
				if err != nil {
					t.Errorf("CountLoginFailure: %v", err)
				}
				counts <- lf.Count
			})
		}
		wg.Wait()
		close(counts)
		seen := map[int64]bool{}
		for c := range counts {
			seen[c] = true
		}
		for i := int64(1); i <= n; i++ {
			if !seen[i] {
				t.Fatalf("no caller saw count %d: concurrent failures were lost (%v)", i, seen)
			}
		}
	})
	t.Run("Swept", func(t *testing.T) {
		s, clk := fresh(t, open)
		for i := range 3 {
			_, err := s.CountLoginFailure(ctx(t), fmt.Sprint("dead-", i), time.Minute)
			must(t, "CountLoginFailure", err)
		}
		_, err := s.CountLoginFailure(ctx(t), "live", window)
		must(t, "CountLoginFailure", err)
		clk.Advance(time.Minute)
		n, err := s.Sweep(ctx(t))
		must(t, "Sweep", err)
		if n != 3 {
			t.Fatalf("Sweep deleted %d rows, want the 3 expired counters", n)
		}
		lf, err := s.CountLoginFailure(ctx(t), "live", window)
		must(t, "CountLoginFailure live", err)
		if lf.Count != 2 {
			t.Fatalf("live counter after sweep = %d, want 2", lf.Count)
		}
	})
}
