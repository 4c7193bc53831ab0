package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/store"
)

// crowd is how many goroutines call UseJTI at once in the group-commit tests: more than the
// store writes in one group, so that calls queue behind a write and are written together.
const crowd = 200

// together runs call(i) in n goroutines released at once and returns their errors.
func together(n int, call func(i int) error) []error {
	errs := make([]error, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			errs[i] = call(i)
		})
	}
	close(start)
	wg.Wait()
	return errs
}

// within fails the test if f has not returned after d: a hang is a failure, not a stuck run.
func within(t *testing.T, d time.Duration, what string, f func()) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		f()
	}()
	select {
	case <-done:
	case <-time.After(d):
		t.Fatalf("%s did not return within %v", what, d)
	}
}

// testJTIGroupCommit covers UseJTI under load, where the store writes concurrent calls
// together in one statement and commit: each call must still get exactly its own answer.
func testJTIGroupCommit(t *testing.T, open Opener) {
	exp := epoch.Add(time.Hour)

	t.Run("DistinctThenReplayed", func(t *testing.T) {
		t.Parallel()
		s, _ := fresh(t, open)
		use := func(i int) error { return s.UseJTI(ctx(t), "client-1", fmt.Sprint("distinct-", i), exp) }
		for i, err := range together(crowd, use) {
			must(t, fmt.Sprint("UseJTI distinct-", i), err)
		}
		for i, err := range together(crowd, use) {
			wantErr(t, fmt.Sprint("UseJTI distinct-", i, " again"), err, store.ErrReplay)
		}
	})

	t.Run("DuplicatesTogether", func(t *testing.T) {
		t.Parallel()
		s, _ := fresh(t, open)
		// 20 fresh jtis and 5 used ones, each sent by 8 goroutines at once, interleaved so
		// that duplicates share groups; one issuer's jti is another issuer's too.
		const unused, used, copies = 20, 5, 8
		key := func(k int) (issuer, jti string) {
			return fmt.Sprint("client-", k%2), fmt.Sprint("dup-", k/2)
		}
		for k := unused; k < unused+used; k++ {
			iss, jti := key(k)
			must(t, "UseJTI before the race", s.UseJTI(ctx(t), iss, jti, exp))
		}
		errs := together((unused+used)*copies, func(i int) error {
			iss, jti := key(i % (unused + used))
			return s.UseJTI(ctx(t), iss, jti, exp)
		})
		for k := range unused + used {
			var mine []error
			for i := k; i < len(errs); i += unused + used {
				mine = append(mine, errs[i])
			}
			iss, jti := key(k)
			what := fmt.Sprintf("UseJTI(%s, %s)", iss, jti)
			if k < unused {
				oneWinner(t, what, mine, store.ErrReplay)
				continue
			}
			for _, err := range mine {
				wantErr(t, what+" of a used jti", err, store.ErrReplay)
			}
		}
	})

	t.Run("Cancelled", func(t *testing.T) {
		t.Parallel()
		s, _ := fresh(t, open)
		done, cancel := context.WithCancel(ctx(t))
		cancel()
		err := s.UseJTI(done, "client-1", "cancelled", exp)
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("UseJTI with a cancelled context = %v, want context.Canceled", err)
		}

		// Cancel while calls are queued and being written: each gets nil, only if its jti
		// was recorded, or a context error; the store keeps working.
		parent, cancel := context.WithCancel(ctx(t))
		start := make(chan struct{})
		errs := make([]error, crowd)
		var wg sync.WaitGroup
		for i := range crowd {
			wg.Go(func() {
				<-start
				errs[i] = s.UseJTI(parent, "client-1", fmt.Sprint("cancel-", i), exp)
			})
		}
		close(start)
		cancel()
		within(t, 30*time.Second, "UseJTI racing a cancellation", wg.Wait)
		for i, err := range errs {
			again := s.UseJTI(ctx(t), "client-1", fmt.Sprint("cancel-", i), exp)
			switch {
			case err == nil:
				wantErr(t, fmt.Sprint("UseJTI cancel-", i, " after it succeeded"), again, store.ErrReplay)
			case errors.Is(err, context.Canceled):
				if again != nil && !errors.Is(again, store.ErrReplay) {
					t.Fatalf("UseJTI cancel-%d after a cancelled call: %v", i, again)
				}
			default:
				t.Fatalf("UseJTI cancel-%d = %v, want nil or context.Canceled", i, err)
			}
		}
	})

	t.Run("Close", func(t *testing.T) {
		t.Parallel()
		s, _ := fresh(t, open)
		// Callers keep calling through Close: every call returns, and once the store is
		// closed each fails with a store error.
		const callers = 16
		last := make([]error, callers)
		first := make(chan struct{}, callers)
		var wg sync.WaitGroup
		for c := range callers {
			wg.Go(func() {
				for i := 0; ; i++ {
					err := s.UseJTI(ctx(t), "client-1", fmt.Sprint("close-", c, "-", i), exp)
					if i == 0 {
						first <- struct{}{}
					}
					if err != nil {
						last[c] = err
						return
					}
				}
			})
		}
		for range callers {
			<-first
		}
		var closeErr error
		within(t, 30*time.Second, "Close with calls in flight", func() { closeErr = s.Close() })
		must(t, "Close", closeErr)
		within(t, 30*time.Second, "UseJTI calls in flight at Close", wg.Wait)
		for c, err := range last {
			if errors.Is(err, store.ErrReplay) {
				t.Fatalf("caller %d: UseJTI at Close = %v, want a store failure", c, err)
			}
		}
		var err error
		within(t, 10*time.Second, "UseJTI after Close", func() { err = s.UseJTI(ctx(t), "client-1", "after-close", exp) })
		if err == nil || errors.Is(err, store.ErrReplay) {
			t.Fatalf("UseJTI after Close = %v, want a store failure", err)
		}
	})
}
