package store_test

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/clock"
	"github.com/portcullis/portcullis/internal/store"
	"github.com/portcullis/portcullis/internal/store/storetest"
)

// TestSQLite runs the contract suite on SQLite, in a fresh file per test.
func TestSQLite(t *testing.T) {
	t.Parallel()
	storetest.Run(t, storetest.OpenSQLiteClock)
	storetest.RunPair(t, storetest.OpenSQLitePair)
}

// TestPostgres runs the contract suite on PostgreSQL, in a fresh schema per test. It fails if
// the server is unreachable, unless PORTCULLIS_TEST_POSTGRES=skip.
func TestPostgres(t *testing.T) {
	t.Parallel()
	storetest.PostgresURL(t) // fail (or skip) once, clearly, before the suite
	storetest.Run(t, storetest.OpenPostgresClock)
	storetest.RunPair(t, storetest.OpenPostgresPair)
}

func TestOpenURL(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name    string
		url     string
		opts    store.Options
		wantErr string // substring; "" means success
		dialect string
		file    string // the SQLite file that must exist afterwards
	}{
		{name: "sqlite URL", url: "sqlite:" + filepath.Join(dir, "a", "b", "x.db"), dialect: store.DialectSQLite, file: filepath.Join(dir, "a", "b", "x.db")},
		{name: "empty URL uses SQLitePath", url: "", opts: store.Options{SQLitePath: filepath.Join(dir, "y.db")}, dialect: store.DialectSQLite, file: filepath.Join(dir, "y.db")},
		{name: "path with URI characters", url: "sqlite:" + filepath.Join(dir, "we?ird #%20name.db"), dialect: store.DialectSQLite, file: filepath.Join(dir, "we?ird #%20name.db")},
		{name: "sqlite without path", url: "sqlite:", wantErr: "names no file"},
		{name: "sqlite memory", url: "sqlite::memory:", wantErr: "unsupported sqlite path"},
		{name: "sqlite file URI", url: "sqlite:file:x.db", wantErr: "unsupported sqlite path"},
		{name: "sqlite double slash", url: "sqlite://x.db", wantErr: "unsupported sqlite path"},
		{name: "unknown scheme", url: "mysql://u:secret@h/db", wantErr: `unsupported database URL scheme "mysql"`},
		{name: "no scheme", url: "just-a-path.db", wantErr: "unsupported database URL scheme"},
		{name: "bad postgres URL hides password", url: "postgres://u:hunter2@[::1/db", wantErr: "cannot parse the PostgreSQL URL"},
		{name: "negative MaxOpenConns", url: "sqlite:" + filepath.Join(dir, "z.db"), opts: store.Options{MaxOpenConns: -1}, wantErr: "MaxOpenConns"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := store.Open(t.Context(), tt.url, tt.opts)
			if tt.wantErr != "" {
				if err == nil {
					s.Close()
					t.Fatalf("Open(%q) succeeded, want error containing %q", tt.url, tt.wantErr)
				}
				if !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Open(%q) error = %q, want it to contain %q", tt.url, err, tt.wantErr)
				}
				if strings.Contains(err.Error(), "secret") || strings.Contains(err.Error(), "hunter2") {
					t.Fatalf("Open error leaks the password: %q", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Open(%q): %v", tt.url, err)
			}
			defer s.Close()
			if s.Dialect() != tt.dialect {
				t.Fatalf("Dialect() = %q, want %q", s.Dialect(), tt.dialect)
			}
			if err := s.Migrate(t.Context()); err != nil {
				t.Fatalf("Migrate: %v", err)
			}
			if _, err := os.Stat(tt.file); err != nil {
				t.Fatalf("database file: %v", err)
			}
		})
	}
}

// TestSQLiteFiles checks that a new SQLite database is private: directory 0700, files 0600,
// and that it runs in WAL mode.
func TestSQLiteFiles(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	path := filepath.Join(dir, "portcullis.db")
	s, err := store.Open(t.Context(), "", store.Options{SQLitePath: path})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := s.UseJTI(t.Context(), "iss", "jti", time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		path string
		mode os.FileMode
	}{{dir, 0o700}, {path, 0o600}, {path + "-wal", 0o600}, {path + "-shm", 0o600}} {
		fi, err := os.Stat(tt.path)
		if err != nil {
			t.Fatalf("stat %s: %v (is the database not in WAL mode?)", tt.path, err)
		}
		if got := fi.Mode().Perm(); got != tt.mode {
			t.Errorf("%s mode = %o, want %o", tt.path, got, tt.mode)
		}
	}
}

// TestMigrationsPaired checks that each dialect-specific migration has its twin, and that the
// twins differ only in lines that mention the dialect-specific id column or comments.
func TestMigrationsPaired(t *testing.T) {
	sqliteFiles, _ := filepath.Glob("migrations/*.sqlite.sql")
	pgFiles, _ := filepath.Glob("migrations/*.postgres.sql")
	if len(sqliteFiles) != len(pgFiles) {
		t.Fatalf("%d SQLite-only migrations but %d PostgreSQL-only ones", len(sqliteFiles), len(pgFiles))
	}
	for _, sf := range sqliteFiles {
		pf := strings.TrimSuffix(sf, ".sqlite.sql") + ".postgres.sql"
		a, err := os.ReadFile(sf)
		if err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(pf)
		if err != nil {
			t.Fatalf("%s has no PostgreSQL twin: %v", sf, err)
		}
		strip := func(s []byte) []string {
			var out []string
			for _, l := range strings.Split(string(s), "\n") {
				if strings.HasPrefix(l, "--") && !strings.HasPrefix(l, "-- +goose") {
					continue
				}
				if strings.HasPrefix(strings.TrimSpace(l), "id ") {
					continue
				}
				out = append(out, l)
			}
			return out
		}
		if x, y := strings.Join(strip(a), "\n"), strings.Join(strip(b), "\n"); x != y {
			t.Errorf("%s and %s differ beyond the id column:\n%s\n---\n%s", sf, pf, x, y)
		}
	}
}

// TestPlaceholdersReused checks the assumption behind the one body of SQL: modernc binds $N by
// position, also when a statement uses a placeholder twice (consumption uses $2 twice).
func TestPlaceholdersReused(t *testing.T) {
	clk := clock.NewFake(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	for _, open := range []storetest.Opener{storetest.OpenSQLiteClock, storetest.OpenPostgresClock} {
		s := open(t, clk)
		t.Run(s.Dialect(), func(t *testing.T) {
			code := store.AuthorizationCode{Hash: "h", ClientID: "c", FamilyID: "f", ExpiresAt: clk.Now().Add(time.Minute)}
			if err := s.PutAuthorizationCode(t.Context(), code); err != nil {
				t.Fatal(err)
			}
			clk.Advance(time.Second)
			got, err := s.ConsumeAuthorizationCode(t.Context(), "h")
			if err != nil {
				t.Fatal(err)
			}
			if !got.ConsumedAt.Equal(clk.Now()) {
				t.Fatalf("ConsumedAt = %v, want %v: $2 bound wrongly", got.ConsumedAt, clk.Now())
			}
		})
	}
}

// TestPingReconnects puts a TCP proxy between the store and PostgreSQL, cuts it, and checks
// that Ping fails promptly while the database is unreachable and succeeds again, on the same
// Store, once it is back.
func TestPingReconnects(t *testing.T) {
	s, p := openViaProxy(t, store.Options{})
	if err := s.Ping(t.Context()); err != nil {
		t.Fatalf("Ping while up: %v", err)
	}

	p.stop()
	for range 2 { // the first Ping meets the dead pooled connection, the second a refused dial
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		err := s.Ping(ctx)
		cancel()
		if err == nil {
			t.Fatal("Ping succeeded while the database was unreachable")
		}
		if errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Ping did not fail promptly: %v", err)
		}
	}
	if err := s.UseJTI(t.Context(), "iss", "down", time.Now().Add(time.Hour)); err == nil || errors.Is(err, store.ErrReplay) {
		t.Fatalf("UseJTI while down = %v, want a plain error (could not check)", err)
	}

	p.start(t)
	var pingErr error
	for range 100 { // bounded: the pool may hand out one more dead connection first
		if pingErr = s.Ping(t.Context()); pingErr == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if pingErr != nil {
		t.Fatalf("Ping after the database came back: %v", pingErr)
	}
	if err := s.UseJTI(t.Context(), "iss", "up", time.Now().Add(time.Hour)); err != nil {
		t.Fatalf("UseJTI after the database came back: %v", err)
	}
}

// TestJTIBatch writes groups of UseJTI calls as the group commit does, on both backends, and
// checks each call's answer: the first call for an unused (issuer, jti) wins, every other
// call for it in the group or later is a replay.
func TestJTIBatch(t *testing.T) {
	exp := time.Now().Add(time.Hour)
	full := make([][2]string, store.MaxJTIBatch)
	for i := range full {
		full[i] = [2]string{"iss", fmt.Sprint("full-", i)}
	}
	tests := []struct {
		name string
		used [][2]string // recorded before the batch
		keys [][2]string
		want []error
	}{
		{name: "distinct", keys: [][2]string{{"iss", "a"}, {"iss", "b"}, {"iss", "c"}}, want: []error{nil, nil, nil}},
		{name: "duplicates", keys: [][2]string{{"iss", "x"}, {"iss", "y"}, {"iss", "x"}, {"iss", "x"}, {"iss", "y"}},
			want: []error{nil, nil, store.ErrReplay, store.ErrReplay, store.ErrReplay}},
		{name: "one key twice", keys: [][2]string{{"iss", "z"}, {"iss", "z"}}, want: []error{nil, store.ErrReplay}},
		{name: "already used", used: [][2]string{{"iss", "u"}}, keys: [][2]string{{"iss", "u"}, {"iss", "v"}, {"iss", "u"}},
			want: []error{store.ErrReplay, nil, store.ErrReplay}},
		{name: "all used", used: [][2]string{{"iss", "p"}, {"iss", "q"}}, keys: [][2]string{{"iss", "q"}, {"iss", "p"}},
			want: []error{store.ErrReplay, store.ErrReplay}},
		{name: "same jti, other issuers", keys: [][2]string{{"iss-1", "j"}, {"iss-2", "j"}, {"iss-1", "j"}},
			want: []error{nil, nil, store.ErrReplay}},
		{name: "one call", keys: [][2]string{{"iss", "alone"}}, want: []error{nil}},
		{name: "full", keys: full, want: make([]error, len(full))},
	}
	for _, open := range []storetest.Opener{storetest.OpenSQLiteClock, storetest.OpenPostgresClock} {
		s := open(t, clock.Real{})
		t.Run(s.Dialect(), func(t *testing.T) {
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					for _, k := range tt.used {
						if err := s.UseJTI(t.Context(), k[0], k[1], exp); err != nil {
							t.Fatalf("UseJTI%v before the batch: %v", k, err)
						}
					}
					got := store.WriteJTIBatch(t.Context(), s, tt.keys, exp)
					for i, err := range got {
						if tt.want[i] == nil && err != nil || tt.want[i] != nil && !errors.Is(err, tt.want[i]) {
							t.Errorf("call %d %v: error = %v, want %v", i, tt.keys[i], err, tt.want[i])
						}
					}
					for i, k := range tt.keys { // whatever won is recorded
						if err := s.UseJTI(t.Context(), k[0], k[1], exp); !errors.Is(err, store.ErrReplay) {
							t.Fatalf("UseJTI%v after the batch (call %d) = %v, want ErrReplay", k, i, err)
						}
					}
				})
			}
		})
	}
}

// TestJTIBatcherStops checks that Close stops the group-commit goroutine before returning.
func TestJTIBatcherStops(t *testing.T) {
	for _, open := range []storetest.Opener{storetest.OpenSQLiteClock, storetest.OpenPostgresClock} {
		s := open(t, clock.Real{})
		t.Run(s.Dialect(), func(t *testing.T) {
			if err := s.UseJTI(t.Context(), "iss", "jti", time.Now().Add(time.Hour)); err != nil {
				t.Fatal(err)
			}
			if store.JTIBatcherStopped(s) {
				t.Fatal("the group-commit goroutine stopped before Close")
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			if !store.JTIBatcherStopped(s) {
				t.Fatal("the group-commit goroutine still runs after Close returned")
			}
		})
	}
}

// TestUseJTIWhileDown cuts the connection to PostgreSQL and checks that UseJTI, alone, in a
// group written at once, or from concurrent callers, answers every call with a plain error:
// could not check, never ErrReplay, never nil.
func TestUseJTIWhileDown(t *testing.T) {
	s, p := openViaProxy(t, store.Options{MaxOpenConns: 4})
	exp := time.Now().Add(time.Hour)
	if err := s.UseJTI(t.Context(), "iss", "used", exp); err != nil {
		t.Fatalf("UseJTI while up: %v", err)
	}
	p.stop()

	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	couldNotCheck := func(what string, err error) {
		t.Helper()
		if err == nil || errors.Is(err, store.ErrReplay) || errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("%s while down = %v, want a prompt plain error", what, err)
		}
	}
	couldNotCheck("UseJTI", s.UseJTI(ctx, "iss", "alone", exp))
	keys := [][2]string{{"iss", "a"}, {"iss", "used"}, {"iss", "a"}, {"iss", "b"}}
	for i, err := range store.WriteJTIBatch(ctx, s, keys, exp) {
		couldNotCheck(fmt.Sprintf("batch call %d %v", i, keys[i]), err)
	}
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Go(func() { couldNotCheck("concurrent UseJTI", s.UseJTI(ctx, "iss", fmt.Sprint("c-", i%10), exp)) })
	}
	wg.Wait()
}

// proxy forwards TCP connections from a loopback port to a target, and can be cut and
// restored on the same port.
type proxy struct {
	target, addr string
	mu           sync.Mutex
	ln           net.Listener
	conns        map[net.Conn]struct{}
	wg           sync.WaitGroup
}

// openViaProxy opens and migrates a Store on the test PostgreSQL through a fresh proxy, and
// closes it when the test ends.
func openViaProxy(t *testing.T, opts store.Options) (*store.Store, *proxy) {
	t.Helper()
	target, err := url.Parse(storetest.PostgresURL(t))
	if err != nil {
		t.Fatal(err)
	}
	p := startProxy(t, target.Host)
	viaProxy := *target
	viaProxy.Host = p.addr
	s, err := store.Open(t.Context(), viaProxy.String(), opts)
	if err != nil {
		t.Fatalf("Open via proxy: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	if err := s.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	return s, p
}

func startProxy(t *testing.T, target string) *proxy {
	p := &proxy{target: target, addr: "127.0.0.1:0", conns: map[net.Conn]struct{}{}}
	p.start(t)
	t.Cleanup(p.stop)
	return p
}

func (p *proxy) start(t *testing.T) {
	t.Helper()
	ln, err := net.Listen("tcp", p.addr)
	if err != nil {
		t.Fatalf("proxy listen: %v", err)
	}
	p.mu.Lock()
	p.ln, p.addr = ln, ln.Addr().String()
	p.mu.Unlock()
	p.wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			up, err := net.Dial("tcp", p.target)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			if p.ln != ln { // stopped meanwhile
				p.mu.Unlock()
				c.Close()
				up.Close()
				return
			}
			p.conns[c], p.conns[up] = struct{}{}, struct{}{}
			p.mu.Unlock()
			pipe := func(dst, src net.Conn) {
				io.Copy(dst, src)
				dst.Close()
				src.Close()
			}
			p.wg.Go(func() { pipe(up, c) })
			p.wg.Go(func() { pipe(c, up) })
		}
	})
}

// stop closes the listener and every proxied connection, and waits for the copiers.
func (p *proxy) stop() {
	p.mu.Lock()
	if p.ln != nil {
		p.ln.Close()
		p.ln = nil
	}
	for c := range p.conns {
		c.Close()
		delete(p.conns, c)
	}
	p.mu.Unlock()
	p.wg.Wait()
}

// benchParallelism is how many goroutines per CPU the benchmarks run, standing for concurrent
// token requests.
const benchParallelism = 8

// BenchmarkUseJTI measures the token endpoint's hottest statement: a fresh jti recorded per
// private_key_jwt client assertion, from parallel callers.
func BenchmarkUseJTI(b *testing.B) {
	benchEachBackend(b, func(b *testing.B, s *store.Store) {
		exp := time.Now().Add(time.Hour)
		var seq atomic.Int64
		b.SetParallelism(benchParallelism) // concurrent requests per CPU
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if err := s.UseJTI(context.Background(), "client-1", fmt.Sprint("jti-", seq.Add(1)), exp); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}

// BenchmarkUseJTIRandom is BenchmarkUseJTI with jtis as clients make them (random, so every
// insert lands on a different leaf of the key's B-tree) into a table that already holds 50,000
// of them, as at a few thousand assertions a second: the cost a client assertion's durable jti
// check adds to a token request. It reports the process's CPU time per jti beside ns/op.
func BenchmarkUseJTIRandom(b *testing.B) {
	benchEachBackend(b, func(b *testing.B, s *store.Store) {
		exp := time.Now().Add(time.Hour)
		const issuer = "client_assertion:0f8fad5b-d9cb-469f-a165-70867728950e"
		jti := func() string {
			p := make([]byte, 24)
			rand.Read(p)
			return base64.RawURLEncoding.EncodeToString(p)
		}
		keys := make([][2]string, store.MaxJTIBatch)
		for range 50_000 / store.MaxJTIBatch {
			for i := range keys {
				keys[i] = [2]string{issuer, jti()}
			}
			for _, err := range store.WriteJTIBatch(context.Background(), s, keys, exp) {
				if err != nil {
					b.Fatal(err)
				}
			}
		}
		b.SetParallelism(benchParallelism)
		cpu0 := processCPU(b)
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if err := s.UseJTI(context.Background(), issuer, jti(), exp); err != nil {
					b.Error(err)
					return
				}
			}
		})
		b.StopTimer()
		b.ReportMetric(float64((processCPU(b)-cpu0).Microseconds())/float64(b.N), "cpu-µs/op")
	})
}

// processCPU is the user and system CPU time this process has used so far.
func processCPU(tb testing.TB) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		tb.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkUseJTISerial measures UseJTI from one caller at a time: the latency of a lone token
// request, which group commit must not make worse.
func BenchmarkUseJTISerial(b *testing.B) {
	benchEachBackend(b, func(b *testing.B, s *store.Store) {
		exp := time.Now().Add(time.Hour)
		i := 0
		for b.Loop() {
			i++
			if err := s.UseJTI(context.Background(), "client-1", fmt.Sprint("jti-", i), exp); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkConsumeAuthorizationCode measures put + consume of a code, from parallel callers.
func BenchmarkConsumeAuthorizationCode(b *testing.B) {
	benchEachBackend(b, func(b *testing.B, s *store.Store) {
		exp := time.Now().Add(time.Hour)
		var seq atomic.Int64
		b.SetParallelism(benchParallelism) // concurrent requests per CPU
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				h := store.HashSecret(fmt.Sprint("code-", seq.Add(1)))
				err := s.PutAuthorizationCode(context.Background(), store.AuthorizationCode{Hash: h, ClientID: "c", FamilyID: "f", ExpiresAt: exp})
				if err == nil {
					_, err = s.ConsumeAuthorizationCode(context.Background(), h)
				}
				if err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}

// benchEachBackend runs fn as a sub-benchmark on a fresh SQLite and a PostgreSQL store.
func benchEachBackend(b *testing.B, fn func(b *testing.B, s *store.Store)) {
	for _, bk := range []struct {
		name string
		open func(testing.TB) *store.Store
	}{{"sqlite", storetest.OpenSQLite}, {"postgres", storetest.OpenPostgres}} {
		b.Run(bk.name, func(b *testing.B) { fn(b, bk.open(b)) })
	}
}
