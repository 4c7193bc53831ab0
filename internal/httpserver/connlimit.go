package httpserver

import (
	"net"
	"net/netip"
	"sync"
)

// limitListener caps the connections open at once: in all, and per client address
// (the IP of the TCP peer; a load balancer in front is one address). A connection
// over either cap is closed as soon as it is accepted, before any byte (the TLS
// handshake included) is read from it, so a client that opens connections in a loop
// costs an accept and a close each, nothing more. Accept never returns such a
// connection; it waits for the next one.
type limitListener struct {
	net.Listener
	max, perAddr int
	onRefuse     func(addr netip.Addr, total bool) // called for each refused connection; may be nil
	// exempt are peers (load balancers, trusted proxies) the per-address cap does not
	// apply to: every client behind them shares their address. The total cap still does.
	exempt []netip.Prefix

	mu     sync.Mutex
	open   int
	byAddr map[netip.Addr]int
}

func newLimitListener(ln net.Listener, max, perAddr int, exempt []netip.Prefix, onRefuse func(netip.Addr, bool)) *limitListener {
	return &limitListener{Listener: ln, max: max, perAddr: perAddr, exempt: exempt, onRefuse: onRefuse, byAddr: make(map[netip.Addr]int)}
}

// exempted reports whether the per-address cap does not apply to addr.
func (l *limitListener) exempted(addr netip.Addr) bool {
	for _, p := range l.exempt {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}

// Accept returns the next connection within the caps.
func (l *limitListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		addr := peerAddr(c)
		l.mu.Lock()
		total := l.open >= l.max
		ok := !total && (l.byAddr[addr] < l.perAddr || l.exempted(addr))
		if ok {
			l.open++
			l.byAddr[addr]++
		}
		l.mu.Unlock()
		if !ok {
			_ = c.Close()
			if l.onRefuse != nil {
				l.onRefuse(addr, total)
			}
			continue
		}
		return &limitConn{Conn: c, l: l, addr: addr}, nil
	}
}

func (l *limitListener) release(addr netip.Addr) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.open--
	if n := l.byAddr[addr] - 1; n > 0 {
		l.byAddr[addr] = n
	} else {
		delete(l.byAddr, addr)
	}
}

// peerAddr is c's remote IP (IPv4-mapped IPv6 unmapped, so that one client is one
// key), or the zero Addr for a non-IP connection: those share one budget.
func peerAddr(c net.Conn) netip.Addr {
	if ta, ok := c.RemoteAddr().(*net.TCPAddr); ok {
		if a, ok := netip.AddrFromSlice(ta.IP); ok {
			return a.Unmap()
		}
	}
	return netip.Addr{}
}

// limitConn gives its slot back once, on the first Close.
type limitConn struct {
	net.Conn
	l    *limitListener
	addr netip.Addr
	once sync.Once
}

func (c *limitConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() { c.l.release(c.addr) })
	return err
}
