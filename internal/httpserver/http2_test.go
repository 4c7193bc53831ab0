package httpserver

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"encoding/binary"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// h2conn is a raw HTTP/2 client connection (RFC 9113 frames written by hand), for
// sending what net/http's client never sends: a stream reset right after it is opened.
type h2conn struct {
	c       *tls.Conn
	w       *bufio.Writer
	mu      sync.Mutex
	pingAck chan struct{} // closed at the first PING ACK
	goaway  atomic.Bool   // a GOAWAY was received
	done    chan struct{} // closed when the reader stops (the server closed the connection)
}

func dialH2(t *testing.T, addr string) *h2conn {
	t.Helper()
	c, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true, NextProtos: []string{"h2"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if p := c.ConnectionState().NegotiatedProtocol; p != "h2" {
		t.Fatalf("negotiated %q, want h2", p)
	}
	_ = c.SetDeadline(time.Now().Add(time.Minute)) // bounds a broken test only
	h := &h2conn{c: c, w: bufio.NewWriter(c), pingAck: make(chan struct{}), done: make(chan struct{})}
	_, _ = h.w.WriteString("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
	h.frame(0x4, 0, 0, nil) // SETTINGS
	go h.read()
	return h
}

// frame writes and flushes one frame; errors surface as a closed connection.
func (h *h2conn) frame(typ, flags byte, stream uint32, payload []byte) {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := len(payload)
	_, _ = h.w.Write([]byte{byte(n >> 16), byte(n >> 8), byte(n), typ, flags,
		byte(stream >> 24), byte(stream >> 16), byte(stream >> 8), byte(stream)})
	_, _ = h.w.Write(payload)
	_ = h.w.Flush()
}

func (h *h2conn) read() {
	defer close(h.done)
	r := bufio.NewReader(h.c)
	hdr := make([]byte, 9)
	acked := false
	for {
		if _, err := io.ReadFull(r, hdr); err != nil {
			return
		}
		n := int(hdr[0])<<16 | int(hdr[1])<<8 | int(hdr[2])
		if _, err := io.CopyN(io.Discard, r, int64(n)); err != nil {
			return
		}
		switch typ, flags := hdr[3], hdr[4]; {
		case typ == 0x4 && flags&1 == 0:
			h.frame(0x4, 1, 0, nil) // SETTINGS ACK
		case typ == 0x6 && flags&1 == 1 && !acked:
			acked = true
			close(h.pingAck)
		case typ == 0x7:
			h.goaway.Store(true)
		}
	}
}

// resetLoop opens n streams with GET path (HPACK: :method GET, :scheme https, literal
// :authority and :path) and resets each (RST_STREAM CANCEL) at once. It then sends a
// PING and waits for its ACK (every frame before it has been processed) or for the
// server to close the connection.
func (h *h2conn) resetLoop(n int, path string) {
	for i := range n {
		id := uint32(2*i + 1)
		block := []byte{0x82, 0x87, 0x01, 9}
		block = append(block, "localhost"...)
		block = append(append(block, 0x04, byte(len(path))), path...)
		h.frame(0x1, 0x1|0x4, id, block)                             // HEADERS, END_STREAM|END_HEADERS
		h.frame(0x3, 0, id, binary.BigEndian.AppendUint32(nil, 0x8)) // RST_STREAM CANCEL
	}
	h.frame(0x6, 0, 0, make([]byte, 8))
	select {
	case <-h.pingAck:
	case <-h.done:
	}
}

// TestHTTP2RapidReset: a client that opens and resets streams in a loop never has more
// handlers running than the stream limit, however many streams it resets, and a stream
// reset before its handler started is never served. The handlers here wait, as an
// upstream call would, so that none finishes during the loop.
func TestHTTP2RapidReset(t *testing.T) {
	var invoked, inFlight, maxInFlight atomic.Int64
	release := make(chan struct{})
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasPrefix(r.URL.Path, "/reset/") {
			return // the other client's request
		}
		invoked.Add(1)
		n := inFlight.Add(1)
		for m := maxInFlight.Load(); n > m && !maxInFlight.CompareAndSwap(m, n); m = maxInFlight.Load() {
		}
		<-release
		inFlight.Add(-1)
	})
	cert := selfSigned(t)
	s := New(Options{Addr: "127.0.0.1:0", Handler: h,
		TLSConfig: &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}})
	base, _, _ := start(t, s)
	t.Cleanup(func() { close(release) }) // runs before the server's shutdown
	addr := strings.TrimPrefix(base, "http://")

	const streams = 1000
	c := dialH2(t, addr)
	c.resetLoop(streams, "/reset/"+strconv.Itoa(streams))
	t.Logf("server sent GOAWAY: %v", c.goaway.Load())

	// Another client is still served (over HTTP/2 as well).
	pool := x509.NewCertPool()
	leaf, _ := x509.ParseCertificate(cert.Certificate[0])
	pool.AddCert(leaf)
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, ForceAttemptHTTP2: true}}
	resp, err := client.Get("https://" + addr + "/other")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.ProtoMajor != 2 {
		t.Errorf("other client: %s %d, want HTTP/2 200", resp.Proto, resp.StatusCode)
	}
	if got := maxInFlight.Load(); got > DefaultMaxConcurrentStreams {
		t.Errorf("%d handlers ran at once for one connection, want at most %d", got, DefaultMaxConcurrentStreams)
	}
	if got := invoked.Load(); got > DefaultMaxConcurrentStreams {
		t.Errorf("%d of %d reset streams were served, want at most the %d started before their reset was read",
			got, streams, DefaultMaxConcurrentStreams)
	}
}
