package obs

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// testTimeout bounds every wait in these tests, so a bug fails them instead of
// hanging them.
const testTimeout = 10 * time.Second

// sink is the underlying writer of the LogWriter tests. It records each Write call
// as one batch, fails if called concurrently, and can be made to fail or to block.
type sink struct {
	t      *testing.T
	active atomic.Int32

	// gate, if not nil, makes each Write announce itself on entered (if not nil)
	// and then wait for a receive from gate... or for gate to be closed.
	gate    chan struct{}
	entered chan struct{}
	err     error         // returned by every Write, if set
	short   bool          // write one byte less than asked, without error
	got     chan struct{} // if not nil, receives after each Write (buffered by the test)

	mu      sync.Mutex
	batches []string
}

func (s *sink) Write(p []byte) (int, error) {
	if s.active.Add(1) != 1 {
		s.t.Error("underlying writer called concurrently")
	}
	defer s.active.Add(-1)
	if s.gate != nil {
		if s.entered != nil {
			s.entered <- struct{}{}
		}
		<-s.gate
	}
	s.mu.Lock()
	s.batches = append(s.batches, string(p))
	s.mu.Unlock()
	if s.got != nil {
		s.got <- struct{}{}
	}
	switch {
	case s.err != nil:
		return 0, s.err
	case s.short:
		return len(p) - 1, nil
	}
	return len(p), nil
}

// Batches returns the Write calls so far.
func (s *sink) Batches() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.batches...)
}

// String returns everything written so far.
func (s *sink) String() string { return strings.Join(s.Batches(), "") }

// recv fails the test if nothing arrives on c within testTimeout.
func recv[T any](t *testing.T, c <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-c:
		return v
	case <-time.After(testTimeout):
		t.Fatalf("timed out waiting for %s", what)
		panic("unreachable")
	}
}

func closeLogWriter(t *testing.T, l *LogWriter) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	if err := l.Close(ctx); err != nil {
		t.Fatalf("Close: %v", err)
	}
}

// mustWrite writes line to w, reporting a failure (it may run on any goroutine).
func mustWrite(t *testing.T, w io.Writer, line string) {
	t.Helper()
	if n, err := w.Write([]byte(line)); n != len(line) || err != nil {
		t.Errorf("Write(%q) = %d, %v", line, n, err)
	}
}

// TestLogWriterOrder has writers race through a small buffer and checks that every
// line reaches the underlying writer exactly once, whole, and after the lines its
// writer wrote before it.
func TestLogWriterOrder(t *testing.T) {
	const writers, lines = 8, 500
	s := &sink{t: t}
	l := NewLogWriter(s, LogWriterOptions{MaxBuffered: 512})
	var wg sync.WaitGroup
	for g := range writers {
		wg.Go(func() {
			for i := range lines {
				// Lines of varying length, some past a quarter of the bound.
				mustWrite(t, l, fmt.Sprintf("w%d %d %s\n", g, i, strings.Repeat("x", i%150)))
			}
		})
	}
	wg.Wait()
	closeLogWriter(t, l)

	next := make([]int, writers) // the line number expected next from each writer
	for _, b := range s.Batches() {
		if !strings.HasSuffix(b, "\n") {
			t.Fatalf("batch does not end with a whole line: %q", b)
		}
	}
	for line := range strings.Lines(s.String()) {
		f := strings.SplitN(strings.TrimSuffix(line, "\n"), " ", 3)
		if len(f) != 3 || !strings.HasPrefix(f[0], "w") {
			t.Fatalf("mangled line %q", line)
		}
		g, err1 := strconv.Atoi(f[0][1:])
		i, err2 := strconv.Atoi(f[1])
		if err1 != nil || err2 != nil || g < 0 || g >= writers {
			t.Fatalf("mangled line %q", line)
		}
		if i != next[g] || len(f[2]) != i%150 {
			t.Fatalf("line %q: want line %d of writer %d, whole", line, next[g], g)
		}
		next[g]++
	}
	for g, n := range next {
		if n != lines {
			t.Errorf("writer %d: %d lines arrived, want %d", g, n, lines)
		}
	}
	st := l.Stats()
	if st.Lines != writers*lines || st.Errors != 0 || st.Writes == 0 || st.Writes > st.Lines {
		t.Errorf("stats = %+v", st)
	}
	t.Logf("%d lines in %d writes, %d waits", st.Lines, st.Writes, st.Waits)
}

// TestLogWriterPrompt checks that a lone line reaches the underlying writer without
// Flush: nothing waits for more lines to batch.
func TestLogWriterPrompt(t *testing.T) {
	s := &sink{t: t, got: make(chan struct{}, 1)}
	l := NewLogWriter(s, LogWriterOptions{})
	defer closeLogWriter(t, l)
	want := ""
	for i := range 3 {
		line := fmt.Sprintf("line %d\n", i)
		mustWrite(t, l, line)
		recv(t, s.got, line)
		want += line
		if got := s.String(); got != want {
			t.Fatalf("written %q, want %q", got, want)
		}
	}
}

// TestLogWriterBackPressure blocks the underlying writer and checks that Write blocks
// once the buffer is full, unblocks when the writer moves, and loses nothing.
func TestLogWriterBackPressure(t *testing.T) {
	s := &sink{t: t, gate: make(chan struct{}), entered: make(chan struct{}, 10)}
	l := NewLogWriter(s, LogWriterOptions{MaxBuffered: 100})
	waiting := make(chan struct{}, 10)
	l.testHookWait = func() { waiting <- struct{}{} }

	line := func(i int) string { return fmt.Sprintf("%02d%s\n", i, strings.Repeat(".", 37)) } // 40 bytes
	mustWrite(t, l, line(0))
	recv(t, s.entered, "the flusher to take line 0") // and block in the underlying writer
	mustWrite(t, l, line(1))
	mustWrite(t, l, line(2)) // 80 bytes buffered: no room for a third line

	done := make(chan struct{})
	go func() {
		defer close(done)
		mustWrite(t, l, line(3))
	}()
	recv(t, waiting, "Write to wait for room")
	select {
	case <-done:
		t.Fatal("Write returned while the buffer was full and the writer blocked")
	default:
	}

	s.gate <- struct{}{}                                    // line 0 written
	recv(t, s.entered, "the flusher to take lines 1 and 2") // which makes room
	recv(t, done, "the blocked Write to return")
	close(s.gate) // let everything else through
	closeLogWriter(t, l)

	want := []string{line(0), line(1) + line(2), line(3)}
	if diff := cmp.Diff(want, s.Batches()); diff != "" {
		t.Errorf("batches (-want +got):\n%s", diff)
	}
	if st := l.Stats(); st.Waits != 1 || st.Lines != 4 || st.Writes != 3 {
		t.Errorf("stats = %+v, want 1 wait, 4 lines, 3 writes", st)
	}
}

// TestLogWriterOversizedLine checks that a line longer than the bound is written
// whole, alone, in order, and that its buffer is not kept.
func TestLogWriterOversizedLine(t *testing.T) {
	s := &sink{t: t, gate: make(chan struct{}), entered: make(chan struct{}, 10)}
	l := NewLogWriter(s, LogWriterOptions{MaxBuffered: 64})
	big := strings.Repeat("B", 1000) + "\n"
	mustWrite(t, l, "a\n")
	recv(t, s.entered, "the flusher to take the first line")
	done := make(chan struct{})
	go func() {
		defer close(done)
		mustWrite(t, l, "b\n")
		mustWrite(t, l, big) // waits for "b\n" to be taken
		mustWrite(t, l, "c\n")
	}()
	close(s.gate)
	recv(t, done, "the writes to return")
	closeLogWriter(t, l)

	batches := s.Batches()
	if got := strings.Join(batches, ""); got != "a\nb\n"+big+"c\n" {
		t.Fatalf("written %q", got)
	}
	if !cmp.Equal(batches[len(batches)-2:], []string{big, "c\n"}) {
		t.Errorf("the oversized line was not written alone: %q", batches)
	}
	if cap(l.spare) > 64 || cap(l.buf) > 64 {
		t.Errorf("kept a buffer of %d bytes (bound 64)", max(cap(l.spare), cap(l.buf)))
	}
}

func TestLogWriterFlush(t *testing.T) {
	s := &sink{t: t, gate: make(chan struct{}), entered: make(chan struct{}, 10)}
	l := NewLogWriter(s, LogWriterOptions{})
	defer closeLogWriter(t, l)

	if err := l.Flush(context.Background()); err != nil {
		t.Fatalf("Flush with nothing written: %v", err)
	}
	mustWrite(t, l, "one\n")
	recv(t, s.entered, "the flusher to take the line")
	mustWrite(t, l, "two\n")

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := l.Flush(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Flush while the writer is blocked = %v, want %v", err, context.Canceled)
	}

	flushed := make(chan error, 1)
	go func() { flushed <- l.Flush(context.Background()) }()
	s.gate <- struct{}{} // "one"
	recv(t, s.entered, "the flusher to take the second line")
	select {
	case err := <-flushed:
		t.Fatalf("Flush returned (%v) before the second line was written", err)
	default:
	}
	s.gate <- struct{}{} // "two"
	if err := recv(t, flushed, "Flush to return"); err != nil {
		t.Fatalf("Flush: %v", err)
	}
	if got := s.String(); got != "one\ntwo\n" {
		t.Errorf("after Flush, written %q", got)
	}
	close(s.gate)
}

func TestLogWriterCloseThenWrite(t *testing.T) {
	s := &sink{t: t}
	l := NewLogWriter(s, LogWriterOptions{})
	mustWrite(t, l, "before\n")
	closeLogWriter(t, l)
	mustWrite(t, l, "after\n") // synchronous: written when Write returns
	if got := s.String(); got != "before\nafter\n" {
		t.Errorf("written %q", got)
	}
	closeLogWriter(t, l) // again
	if err := l.Flush(context.Background()); err != nil {
		t.Errorf("Flush after Close: %v", err)
	}

	s.err = errors.New("stderr closed")
	if _, err := l.Write([]byte("lost\n")); !errors.Is(err, s.err) {
		t.Errorf("Write after Close to a failing writer = %v, want %v", err, s.err)
	}
	if st := l.Stats(); st.Lines != 3 || st.Writes != 3 || st.Errors != 1 {
		t.Errorf("stats = %+v", st)
	}
}

// TestLogWriterCloseTimeout closes while the underlying writer is blocked: Close gives
// up at its deadline, and a later Write still comes after the buffered lines.
func TestLogWriterCloseTimeout(t *testing.T) {
	s := &sink{t: t, gate: make(chan struct{}), entered: make(chan struct{}, 10)}
	l := NewLogWriter(s, LogWriterOptions{})
	waiting := make(chan struct{}, 10)
	l.testHookWait = func() { waiting <- struct{}{} }
	mustWrite(t, l, "1\n")
	recv(t, s.entered, "the flusher to take the line")
	mustWrite(t, l, "2\n")

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := l.Close(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Close while the writer is blocked = %v, want %v", err, context.Canceled)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		mustWrite(t, l, "3\n")
	}()
	recv(t, waiting, "Write after Close to wait for the flusher")
	select {
	case <-done:
		t.Fatal("Write after Close returned while the flusher still held lines")
	default:
	}
	close(s.gate)
	recv(t, done, "Write after Close")
	closeLogWriter(t, l)
	if diff := cmp.Diff([]string{"1\n", "2\n", "3\n"}, s.Batches()); diff != "" {
		t.Errorf("batches (-want +got):\n%s", diff)
	}
}

func TestLogWriterErrors(t *testing.T) {
	for _, tt := range []struct {
		name string
		s    *sink
		want error
	}{
		{"error", &sink{err: errors.New("EPIPE")}, nil},
		{"short write", &sink{short: true}, io.ErrShortWrite},
	} {
		t.Run(tt.name, func(t *testing.T) {
			want := tt.want
			if want == nil {
				want = tt.s.err
			}
			tt.s.t = t
			reported := make(chan error, 10)
			l := NewLogWriter(tt.s, LogWriterOptions{OnError: func(err error) { reported <- err }})
			for i := range 5 {
				mustWrite(t, l, strconv.Itoa(i)+"\n") // errors do not reach the caller
				if err := l.Flush(context.Background()); err != nil {
					t.Fatalf("Flush: %v", err)
				}
			}
			closeLogWriter(t, l)
			if err := recv(t, reported, "OnError"); !errors.Is(err, want) {
				t.Errorf("OnError(%v), want %v", err, want)
			}
			select {
			case err := <-reported:
				t.Errorf("OnError called again, with %v", err)
			default:
			}
			if err := l.Err(); !errors.Is(err, want) {
				t.Errorf("Err() = %v, want %v", err, want)
			}
			if st := l.Stats(); st.Lines != 5 || st.Writes != 5 || st.Errors != 5 {
				t.Errorf("stats = %+v, want 5 lines, writes and errors", st)
			}
		})
	}
}

// TestLogWriterLogger logs through NewLogger from several goroutines and checks that
// every record arrives as a JSON line.
func TestLogWriterLogger(t *testing.T) {
	s := &sink{t: t}
	l := NewLogWriter(s, LogWriterOptions{MaxBuffered: 4096})
	logger := NewLogger(l, "info")
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			ctx := NewContext(context.Background(), "", "")
			for i := range 200 {
				logger.InfoContext(ctx, "audit", "writer", g, "seq", i)
			}
		})
	}
	wg.Wait()
	closeLogWriter(t, l)
	var buf bytes.Buffer
	buf.WriteString(s.String())
	lines := logLines(t, &buf)
	if len(lines) != 800 {
		t.Fatalf("got %d lines, want 800", len(lines))
	}
	for _, line := range lines {
		if line["msg"] != "audit" || line[LogKeyRequestID] == nil {
			t.Fatalf("line %v", line)
		}
	}
}

// ExampleNewLogWriter shows the server's wiring: the logger writes through a
// LogWriter, closed last on shutdown so that the final lines are written.
func ExampleNewLogWriter() {
	out := NewLogWriter(os.Stderr, LogWriterOptions{
		OnError: func(err error) { /* count it: stderr is what failed */ },
	})
	logger := NewLogger(out, "info")

	logger.Info("serving")
	// ... serve, then shut the servers down ...

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = out.Close(ctx) // last: after the final log line
}

// BenchmarkLogWriter compares parallel writes of a 300-byte line through a LogWriter
// with a mutex around a direct write (what slog's handler does), to /dev/null and to
// a pipe that a goroutine drains (as stderr to a log collector).
func BenchmarkLogWriter(b *testing.B) {
	line := []byte(strings.Repeat("x", 299) + "\n")
	for _, dest := range []string{"devnull", "pipe"} {
		for _, mode := range []string{"mutex", "LogWriter"} {
			b.Run(dest+"/"+mode, func(b *testing.B) {
				var f *os.File
				switch dest {
				case "devnull":
					var err error
					if f, err = os.OpenFile(os.DevNull, os.O_WRONLY, 0); err != nil {
						b.Fatal(err)
					}
					defer f.Close()
				case "pipe":
					r, w, err := os.Pipe()
					if err != nil {
						b.Fatal(err)
					}
					drained := make(chan struct{})
					go func() {
						defer close(drained)
						_, _ = io.Copy(io.Discard, r)
					}()
					defer func() { w.Close(); <-drained; r.Close() }()
					f = w
				}
				b.ReportAllocs()
				b.SetBytes(int64(len(line)))
				switch mode {
				case "mutex":
					var mu sync.Mutex
					b.RunParallel(func(pb *testing.PB) {
						for pb.Next() {
							mu.Lock()
							_, _ = f.Write(line)
							mu.Unlock()
						}
					})
				case "LogWriter":
					l := NewLogWriter(f, LogWriterOptions{})
					b.RunParallel(func(pb *testing.PB) {
						for pb.Next() {
							_, _ = l.Write(line)
						}
					})
					if err := l.Close(context.Background()); err != nil {
						b.Fatal(err)
					}
					st := l.Stats()
					b.ReportMetric(float64(st.Lines)/float64(st.Writes), "lines/write")
				}
			})
		}
	}
}

// BenchmarkLoggerOutput logs a request-sized record from parallel goroutines through
// NewLogger to a drained pipe, directly and through a LogWriter.
func BenchmarkLoggerOutput(b *testing.B) {
	for _, mode := range []string{"direct", "LogWriter"} {
		b.Run(mode, func(b *testing.B) {
			r, w, err := os.Pipe()
			if err != nil {
				b.Fatal(err)
			}
			drained := make(chan struct{})
			go func() {
				defer close(drained)
				_, _ = io.Copy(io.Discard, r)
			}()
			defer func() { w.Close(); <-drained; r.Close() }()
			var out io.Writer = w
			var l *LogWriter
			if mode == "LogWriter" {
				l = NewLogWriter(w, LogWriterOptions{})
				out = l
			}
			logger := NewLogger(out, "info")
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				ctx := NewContext(context.Background(), "", "")
				for pb.Next() {
					logger.LogAttrs(ctx, slog.LevelInfo, "audit",
						slog.String("event", "token_issued"),
						slog.String("client_id", "tpp-1"),
						slog.String("grant_type", "client_credentials"),
						slog.String("scope", "accounts payments"),
					)
				}
			})
			if l != nil {
				if err := l.Close(context.Background()); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
