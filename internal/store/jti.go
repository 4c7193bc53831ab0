package store

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// useJTI records one jti; the batcher's single-row path and the retry of a failed batch.
const useJTI = `INSERT INTO used_jtis (issuer, jti, expires_at) VALUES ($1, $2, $3) ON CONFLICT (issuer, jti) DO NOTHING`

// maxJTIBatch is the most jtis one group commit of [Store.UseJTI] writes: 3 parameters each,
// well under both backends' limits. It also bounds the number of distinct batch statements
// (one per size) that the SQLite writer keeps prepared.
const maxJTIBatch = 128

// UseJTI records that the JWT with this jti from this issuer has been used: client assertions
// (RFC 7523 §3, FAPI1-AS-03), registration JWTs, DPoP proofs. It returns nil the first time and
// [ErrReplay] for every later use of the same (issuer, jti), on every node sharing the
// database: the insert on the (issuer, jti) key is atomic, so of concurrent callers exactly one
// gets nil. The record is kept at least until expiresAt (the JWT's exp; required) and purged by
// the sweeper after it; until then a reuse is a replay even if the JWT has expired. It returns
// [ErrInvalidInput] for an empty or oversize issuer or jti.
//
// Concurrent calls are group-committed: a per-Store goroutine takes every call queued while
// the previous write ran (at most 128) and records them in one statement, so they share one
// commit, and one fsync on PostgreSQL. A lone call is written at once; nothing waits for
// company. Durability is unchanged: UseJTI returns nil only once its row is committed. Of
// calls for the same (issuer, jti) in one group, the first is written and the others get
// [ErrReplay]. If the group's statement fails, each call is retried on its own, so each gets
// the result or error it would have got alone, and a database that is down answers every call
// with an error, never [ErrReplay]. When ctx ends first, UseJTI returns an error wrapping
// ctx.Err(); the jti may then have been recorded or not (a request still queued may be
// written), which fails closed: the assertion is spent. After [Store.Close] it returns an
// error.
func (s *Store) UseJTI(ctx context.Context, issuer, jti string, expiresAt time.Time) error {
	if err := checkKey("jti issuer", issuer); err != nil {
		return err
	}
	if err := checkKey("jti", jti); err != nil {
		return err
	}
	if err := checkTime("jti expires_at", expiresAt, true); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return s.dbErr("use jti", err) // as database/sql would, before queueing anything
	}
	return s.jtis.use(ctx, &jtiRequest{ctx: ctx, issuer: issuer, jti: jti, expiresAt: ms(expiresAt), reply: make(chan error, 1)})
}

// useJTIAlone records one jti in its own autocommit statement: nil if inserted, [ErrReplay]
// if the (issuer, jti) was there already.
func (s *Store) useJTIAlone(ctx context.Context, issuer, jti string, expiresAt int64) error {
	res, err := s.execW(ctx, useJTI, issuer, jti, expiresAt)
	if err != nil {
		return s.dbErr("use jti", err)
	}
	n, err := s.rowsAffected("use jti", res)
	if err != nil {
		return err
	}
	if n == 0 {
		return ErrReplay
	}
	return nil
}

// jtiRequest is one queued [Store.UseJTI] call. The batcher sends exactly one result on reply,
// which has room for it, so a caller that has gone never blocks the batcher.
type jtiRequest struct {
	ctx         context.Context // the caller's, for a retry on its own
	issuer, jti string
	expiresAt   int64 // milliseconds
	reply       chan error
}

// jtiKey identifies a used jti.
type jtiKey struct{ issuer, jti string }

// jtiBatcher group-commits [Store.UseJTI]: its goroutine (run) writes the queued requests in
// batches. Open starts it; Close stops it before closing the database.
type jtiBatcher struct {
	s     *Store
	queue chan *jtiRequest
	stop  chan struct{} // closed by Close: accept no more requests
	done  chan struct{} // closed when run has returned, every request it took answered
	// texts caches the batch INSERT by number of rows; only run reads and writes it.
	texts [maxJTIBatch + 1]string
}

// errStoreClosedJTI is what [Store.UseJTI] returns after [Store.Close].
var errStoreClosedJTI = fmt.Errorf("store: use jti: %w", errStoreClosed)

// start starts the batcher's goroutine.
func (b *jtiBatcher) start(s *Store) {
	b.s = s
	b.queue = make(chan *jtiRequest, maxJTIBatch)
	b.stop = make(chan struct{})
	b.done = make(chan struct{})
	go b.run()
}

// close stops accepting requests and waits until the batcher has finished the batch in
// flight and answered every queued request with an error. It must be called once, and only
// after start.
func (b *jtiBatcher) close() {
	close(b.stop)
	<-b.done
}

// use queues r and waits for its result, for ctx to end, or for the batcher to stop.
func (b *jtiBatcher) use(ctx context.Context, r *jtiRequest) error {
	select {
	case b.queue <- r:
	case <-b.stop:
		return errStoreClosedJTI
	case <-ctx.Done():
		return b.s.dbErr("use jti", ctx.Err())
	}
	select {
	case err := <-r.reply:
		return err
	case <-ctx.Done():
		return b.s.dbErr("use jti", ctx.Err())
	case <-b.done:
		// Queued after the batcher's last look at the queue, unless it answered just before.
		select {
		case err := <-r.reply:
			return err
		default:
			return errStoreClosedJTI
		}
	}
}

// run takes the first queued request, adds whatever else is queued already (without waiting
// for more), writes them as one batch, and repeats until stop is closed. Then it answers
// every request still queued with an error.
func (b *jtiBatcher) run() {
	defer close(b.done)
	batch := make([]*jtiRequest, 0, maxJTIBatch)
	for {
		select {
		case <-b.stop: // checked first: once stopping, take no new batch
			b.failQueued()
			return
		default:
		}
		select {
		case <-b.stop:
			b.failQueued()
			return
		case r := <-b.queue:
			batch = append(batch[:0], r)
		}
		if len(b.queue) == 0 {
			// Let the request goroutines that are runnable now reach UseJTI first: on a busy
			// server one commit then serves several requests instead of one each (a commit
			// costs far more than a hand-off); on an idle one Gosched returns at once.
			runtime.Gosched()
		}
	fill:
		for len(batch) < maxJTIBatch {
			select {
			case r := <-b.queue:
				batch = append(batch, r)
			default:
				break fill
			}
		}
		b.write(batch)
		clear(batch) // drop the callers' contexts
	}
}

// failQueued answers every request in the queue with an error.
func (b *jtiBatcher) failQueued() {
	for {
		select {
		case r := <-b.queue:
			r.reply <- errStoreClosedJTI
		default:
			return
		}
	}
}

// write records batch and answers each of its requests: nil for the first request of each
// (issuer, jti) whose row the batch inserted, [ErrReplay] for the others. If the batch's
// statement fails, each request is retried on its own and gets that attempt's result.
func (b *jtiBatcher) write(batch []*jtiRequest) {
	if len(batch) == 1 {
		r := batch[0]
		r.reply <- b.s.useJTIAlone(r.ctx, r.issuer, r.jti, r.expiresAt)
		return
	}
	// Later requests for an (issuer, jti) already in the batch are replays of the first; the
	// statement holds each key once, so no backend sees a key twice in one statement.
	uniq := make([]*jtiRequest, 0, len(batch))
	var dups []*jtiRequest
	seen := make(map[jtiKey]struct{}, len(batch))
	for _, r := range batch {
		k := jtiKey{r.issuer, r.jti}
		if _, ok := seen[k]; ok {
			dups = append(dups, r)
			continue
		}
		seen[k] = struct{}{}
		uniq = append(uniq, r)
	}

	// Keys in a fixed order: two nodes' batches sharing keys then wait for each other's rows
	// in the same order on PostgreSQL, instead of deadlocking.
	slices.SortFunc(uniq, func(x, y *jtiRequest) int {
		return cmp.Or(strings.Compare(x.issuer, y.issuer), strings.Compare(x.jti, y.jti))
	})

	ctx, release := batchContext(batch)
	inserted, err := b.insert(ctx, uniq)
	release()
	if err != nil {
		// The statement is atomic: it inserted nothing (unless only the acknowledgement of
		// its commit was lost, after which the retry answers ErrReplay: a refusal either way).
		b.retryAlone(batch)
		return
	}
	for _, r := range uniq {
		if _, ok := inserted[jtiKey{r.issuer, r.jti}]; ok {
			r.reply <- nil
		} else {
			r.reply <- ErrReplay
		}
	}
	for _, r := range dups {
		r.reply <- ErrReplay
	}
}

// insert writes the distinct requests uniq in one autocommit statement and returns the keys
// of the rows it inserted. On error nobody is answered yet: the caller retries each request.
func (b *jtiBatcher) insert(ctx context.Context, uniq []*jtiRequest) (map[jtiKey]struct{}, error) {
	if len(uniq) == 1 {
		r := uniq[0]
		switch err := b.s.useJTIAlone(ctx, r.issuer, r.jti, r.expiresAt); err {
		case nil:
			return map[jtiKey]struct{}{{r.issuer, r.jti}: {}}, nil
		case ErrReplay:
			return nil, nil
		default:
			return nil, err
		}
	}
	args := make([]any, 0, 3*len(uniq))
	for _, r := range uniq {
		args = append(args, r.issuer, r.jti, r.expiresAt)
	}
	rows, err := b.s.queryW(ctx, b.text(len(uniq)), args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	inserted := make(map[jtiKey]struct{}, len(uniq))
	for rows.Next() {
		var k jtiKey
		if err := rows.Scan(&k.issuer, &k.jti); err != nil {
			return nil, err
		}
		inserted[k] = struct{}{}
	}
	// Both drivers report a failed commit here: the statement is its own transaction.
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if err := rows.Close(); err != nil {
		return nil, err
	}
	found := 0
	for _, r := range uniq {
		if _, ok := inserted[jtiKey{r.issuer, r.jti}]; ok {
			found++
		}
	}
	if found != len(inserted) {
		return nil, errors.New("the batch INSERT returned a key it was not given")
	}
	return inserted, nil
}

// retryAlone records each request of a failed batch in its own statement, with its caller's
// context, concurrently (as the calls would have run without batching), and answers each with
// its own result. It returns when all are answered.
func (b *jtiBatcher) retryAlone(batch []*jtiRequest) {
	var wg sync.WaitGroup
	for _, r := range batch {
		wg.Go(func() {
			r.reply <- b.s.useJTIAlone(r.ctx, r.issuer, r.jti, r.expiresAt)
		})
	}
	wg.Wait()
}

// text returns the INSERT of n jtis, ON CONFLICT DO NOTHING, RETURNING the inserted keys.
// Its parameters are $1…$(3n) on PostgreSQL and anonymous "?" on SQLite, like the multi-row
// INSERT of [Store.AppendAuditBatch] (and for the same reason).
func (b *jtiBatcher) text(n int) string {
	if t := b.texts[n]; t != "" {
		return t
	}
	anonymous := b.s.dialect == DialectSQLite
	var sb strings.Builder
	sb.WriteString(`INSERT INTO used_jtis (issuer, jti, expires_at) VALUES `)
	for i := range n {
		if i > 0 {
			sb.WriteString(", ")
		}
		if anonymous {
			sb.WriteString("(?, ?, ?)")
			continue
		}
		for j := range 3 {
			if j == 0 {
				sb.WriteString("($")
			} else {
				sb.WriteString(", $")
			}
			sb.WriteString(strconv.Itoa(3*i + j + 1))
		}
		sb.WriteByte(')')
	}
	sb.WriteString(` ON CONFLICT (issuer, jti) DO NOTHING RETURNING issuer, jti`)
	b.texts[n] = sb.String()
	return b.texts[n]
}

// batchContext returns the context of a batch's statement: it ends when the context of every
// request in the batch has ended (nobody is left waiting for the statement), and not before,
// so no caller's deadline cuts short another's write. release frees it.
func batchContext(batch []*jtiRequest) (ctx context.Context, release func()) {
	ctx, cancel := context.WithCancel(context.Background())
	var waiting atomic.Int64
	waiting.Store(int64(len(batch)))
	stops := make([]func() bool, len(batch))
	for i, r := range batch {
		stops[i] = context.AfterFunc(r.ctx, func() {
			if waiting.Add(-1) == 0 {
				cancel()
			}
		})
	}
	return ctx, func() {
		for _, stop := range stops {
			stop()
		}
		cancel()
	}
}
