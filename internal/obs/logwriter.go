package obs

import (
	"context"
	"io"
	"sync"
)

// DefaultMaxBuffered is the default bound on the bytes a [LogWriter] holds for its
// flusher.
const DefaultMaxBuffered = 1 << 20

// minLogBuffer is the first capacity of a LogWriter buffer; it doubles up to the
// bound as needed.
const minLogBuffer = 4 << 10

// LogWriterOptions configures a [LogWriter]. The zero value is ready to use.
type LogWriterOptions struct {
	// MaxBuffered bounds the bytes waiting for the flusher: a Write that would take
	// the buffer past it blocks until the flusher has taken the buffer. Zero (or less)
	// means DefaultMaxBuffered. A single line longer than MaxBuffered is still written
	// whole, alone in its batch. The memory held is up to twice MaxBuffered: the
	// buffer being filled and the one being written.
	MaxBuffered int

	// OnError, if set, is called once, with the first error the underlying writer
	// returns (io.ErrShortWrite for a short write without one). It runs on the
	// flusher goroutine, or on the goroutine of a Write after Close, so it must not
	// call the LogWriter's methods nor log through a logger writing to it: it could
	// wait for itself. Later errors are only counted ([LogWriterStats.Errors]).
	OnError func(error)
}

// LogWriterStats are a [LogWriter]'s counters since it was made.
type LogWriterStats struct {
	Lines  uint64 // Write calls with a non-empty line
	Bytes  uint64 // bytes of those lines
	Writes uint64 // calls to the underlying writer
	Errors uint64 // calls to the underlying writer that failed
	Waits  uint64 // Write calls that waited for the flusher (back-pressure)
}

// LogWriter is an [io.Writer] for log lines that moves the write to the underlying
// writer off the logging goroutine. Write copies the line into a memory buffer and
// wakes one flusher goroutine, which swaps the buffer for a second one and passes
// the whole batch to the underlying writer in one Write. The flusher writes as soon
// as it is woken, without timers: under low load every line reaches the underlying
// writer after one goroutine hand-off, under high load many lines share one write(2).
//
// It is made for a slog handler (one Write per record, each a complete line), but
// any writer whose Write calls are whole units works. The guarantees:
//
//   - lines are never dropped: when the buffer holds [LogWriterOptions.MaxBuffered]
//     bytes, Write blocks until the flusher takes it (back-pressure). A stuck
//     underlying writer therefore eventually blocks logging, as a synchronous one
//     would at once;
//   - lines reach the underlying writer in the order of their Write calls, each
//     whole and once;
//   - the underlying writer is never called concurrently;
//   - its errors do not reach the logging goroutine (Write returns len(p), nil): they
//     are counted in [LogWriter.Stats], the first is kept ([LogWriter.Err]) and
//     passed to [LogWriterOptions.OnError]. A failed batch is not retried.
//
// After [LogWriter.Close], Write is synchronous: it waits for the flusher to have
// written everything before and exited, then calls the underlying writer itself and
// returns its result, so lines logged late in shutdown are not lost.
//
// In steady state Write allocates nothing: the two buffers are reused. A LogWriter
// is safe for concurrent use.
type LogWriter struct {
	w       io.Writer
	max     int
	onError func(error)

	wake chan struct{} // buffered (1): the buffer became non-empty, or Close
	done chan struct{} // closed when the flusher has exited

	mu      sync.Mutex
	buf     []byte        // lines not yet taken by the flusher
	spare   []byte        // the other buffer, when the flusher is not writing it
	queued  uint64        // lines ever put in buf
	written uint64        // of those, lines the flusher has passed to w
	changed chan struct{} // made by a waiter, closed when the flusher takes buf or has written it
	closed  bool
	err     error
	stats   LogWriterStats

	testHookWait func() // if set, called by a Write about to wait for the flusher
}

// NewLogWriter returns a LogWriter writing to w and starts its flusher. Call
// [LogWriter.Close] to flush and stop it.
func NewLogWriter(w io.Writer, opts LogWriterOptions) *LogWriter {
	l := &LogWriter{
		w:       w,
		max:     opts.MaxBuffered,
		onError: opts.OnError,
		wake:    make(chan struct{}, 1),
		done:    make(chan struct{}),
	}
	if l.max <= 0 {
		l.max = DefaultMaxBuffered
	}
	go l.run()
	return l
}

// Write queues a copy of p for the underlying writer and returns len(p), nil,
// blocking first while the buffer has no room for p (see [LogWriter]). After Close it
// writes p to the underlying writer and returns its result.
func (l *LogWriter) Write(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	l.mu.Lock()
	waited := false
	// Wait for room. An empty buffer takes any line, even one over the bound.
	for !l.closed && len(l.buf) > 0 && len(l.buf)+len(p) > l.max {
		if !waited {
			waited = true
			l.stats.Waits++
		}
		c := l.changedLocked()
		l.mu.Unlock()
		if l.testHookWait != nil {
			l.testHookWait()
		}
		<-c
		l.mu.Lock()
	}
	if l.closed {
		l.mu.Unlock()
		return l.writeAfterClose(p)
	}
	if len(l.buf) == 0 {
		select {
		case l.wake <- struct{}{}:
		default: // a wake-up is pending already
		}
	}
	l.buf = l.grow(l.buf, len(p))
	l.buf = append(l.buf, p...)
	l.queued++
	l.stats.Lines++
	l.stats.Bytes += uint64(len(p))
	l.mu.Unlock()
	return len(p), nil
}

// writeAfterClose writes p synchronously, once the flusher has written everything
// queued and exited.
func (l *LogWriter) writeAfterClose(p []byte) (int, error) {
	select {
	case <-l.done:
	default:
		if l.testHookWait != nil {
			l.testHookWait()
		}
		<-l.done
	}
	// l.mu serialises the calls to w, keeping them in order.
	l.mu.Lock()
	l.stats.Lines++
	l.stats.Bytes += uint64(len(p))
	n, err := write(l.w, p)
	first := l.countLocked(err)
	l.mu.Unlock()
	if first {
		l.onError(err)
	}
	return n, err
}

// grow returns buf with room for n more bytes. Its capacity doubles, bounded by the
// limit unless a line longer than the limit needs more.
func (l *LogWriter) grow(buf []byte, n int) []byte {
	need := len(buf) + n
	if need <= cap(buf) {
		return buf
	}
	c := min(max(2*cap(buf), minLogBuffer, need), max(l.max, need))
	nb := make([]byte, len(buf), c)
	copy(nb, buf)
	return nb
}

// changedLocked returns a channel the flusher closes the next time it takes the
// buffer or finishes writing it. l.mu must be held.
func (l *LogWriter) changedLocked() <-chan struct{} {
	if l.changed == nil {
		l.changed = make(chan struct{})
	}
	return l.changed
}

// notifyLocked wakes the goroutines waiting in Write, Flush or Close. l.mu must be
// held.
func (l *LogWriter) notifyLocked() {
	if l.changed != nil {
		close(l.changed)
		l.changed = nil
	}
}

// run is the flusher goroutine: it writes the buffer out whenever it is not empty,
// and exits once it is empty after Close.
func (l *LogWriter) run() {
	defer close(l.done)
	l.mu.Lock()
	for {
		for len(l.buf) == 0 {
			if l.closed {
				l.notifyLocked()
				l.mu.Unlock()
				return
			}
			l.mu.Unlock()
			<-l.wake
			l.mu.Lock()
		}
		batch := l.buf
		l.buf, l.spare = l.spare[:0], nil
		upTo := l.queued
		l.notifyLocked() // writers waiting for room
		l.mu.Unlock()

		_, err := write(l.w, batch)

		l.mu.Lock()
		first := l.countLocked(err)
		if cap(batch) <= l.max { // not grown for an oversized line: keep it
			l.spare = batch[:0]
		}
		l.written = upTo
		l.notifyLocked() // Flush and Close
		if first {
			l.mu.Unlock()
			l.onError(err)
			l.mu.Lock()
		}
	}
}

// write writes p to w, making a short write an error.
func write(w io.Writer, p []byte) (int, error) {
	n, err := w.Write(p)
	if err == nil && n < len(p) {
		err = io.ErrShortWrite
	}
	return n, err
}

// countLocked counts a write to the underlying writer that returned err, and reports
// whether err is the first error, to be passed to OnError. l.mu must be held.
func (l *LogWriter) countLocked(err error) (first bool) {
	l.stats.Writes++
	if err == nil {
		return false
	}
	l.stats.Errors++
	if l.err != nil {
		return false
	}
	l.err = err
	return l.onError != nil
}

// Flush returns nil once every line whose Write returned before the call has been
// passed to the underlying writer (whether or not that succeeded), or ctx's error if
// ctx ends first.
func (l *LogWriter) Flush(ctx context.Context) error {
	l.mu.Lock()
	upTo := l.queued
	for l.written < upTo {
		c := l.changedLocked()
		l.mu.Unlock()
		select {
		case <-c:
		case <-ctx.Done():
			return ctx.Err()
		}
		l.mu.Lock()
	}
	l.mu.Unlock()
	return nil
}

// Close flushes like [LogWriter.Flush] and stops the flusher. It returns nil once the
// flusher has exited, or ctx's error if ctx ends first (the flusher then still
// finishes, and Writes meanwhile wait for it). Write after Close is synchronous (see
// [LogWriter]). Close may be called more than once.
func (l *LogWriter) Close(ctx context.Context) error {
	l.mu.Lock()
	l.closed = true
	l.notifyLocked() // writers waiting for room write synchronously now
	l.mu.Unlock()
	select {
	case l.wake <- struct{}{}:
	default:
	}
	select {
	case <-l.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Err returns the first error the underlying writer returned, or nil.
func (l *LogWriter) Err() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.err
}

// Stats returns the counters.
func (l *LogWriter) Stats() LogWriterStats {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.stats
}
