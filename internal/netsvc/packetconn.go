package netsvc

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"sync"
	"time"

	"github.com/simboard/simboard/netstack"
	"github.com/simboard/simboard/nx"
	"github.com/simboard/simboard/packetpool"
)

// PacketConn is a net.PacketConn over a board UDP socket (NX_UDP_SOCKET), for
// servers written against Go's interfaces (miekg/dns, insomniacslk server4).
// ReadFrom receives a packet from the IP's default pool, copies it out and
// releases it; WriteTo allocates a packet from the IP's default pool, appends
// the datagram and sends it (the socket releases it). Safe for concurrent
// use; Close is idempotent and unblocks readers with net.ErrClosed.
//
// Deadlines are wall-clock values, as for any net.Conn (miekg/dns computes
// them as time.Now().Add(d)), but the wait runs on the IP's clock: when a
// deadline is set, the real time left until it is rounded up to a NetX tick
// (10 ms) and the deadline becomes that long after the IP clock's Now. On
// the system clock this is the same deadline within a tick; on a virtual
// clock (package sim) a 2 s read deadline expires after 2 s of simulated
// time. A deadline already past fails the next read at once; a new deadline
// wakes a blocked reader, as net.UDPConn does.
type PacketConn struct {
	ip   *netstack.IP
	sock *netstack.UDPSocket

	ctx    context.Context
	cancel context.CancelFunc

	mu      sync.Mutex
	rdl     time.Time // on the IP's clock; zero: none
	wdl     time.Time // on the IP's clock; zero: none
	rcancel context.CancelFunc
	closed  bool
}

var _ net.PacketConn = (*PacketConn)(nil)

// ListenPacket creates a UDP socket on ip, binds it to port (0 = any port)
// and returns it as a PacketConn. It does not block. Errors wrap the
// socket's status (nx.ErrPortUnavailable, nx.ErrNotEnabled).
func ListenPacket(ip *netstack.IP, name string, port uint16) (*PacketConn, error) {
	s, err := ip.UDPSocketCreate(name)
	if err != nil {
		return nil, err
	}
	if err := s.Bind(context.Background(), port, nx.NoWait); err != nil {
		_ = s.Delete()
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &PacketConn{ip: ip, sock: s, ctx: ctx, cancel: cancel}, nil
}

// Socket returns the underlying board socket.
func (p *PacketConn) Socket() *netstack.UDPSocket { return p.sock }

// ReadFrom blocks until a datagram arrives, the read deadline passes
// (os.ErrDeadlineExceeded) or the conn is closed (net.ErrClosed). A datagram
// longer than b is truncated, as on a kernel socket.
func (p *PacketConn) ReadFrom(b []byte) (int, net.Addr, error) {
	for {
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			return 0, nil, p.opErr("read", net.ErrClosed)
		}
		dl := p.rdl
		rctx, rc := context.WithCancel(p.ctx)
		p.rcancel = rc
		p.mu.Unlock()

		wait := nx.WaitForever
		if !dl.IsZero() {
			left := dl.Sub(p.ip.Clock().Now())
			if left <= 0 {
				rc()
				return 0, nil, p.opErr("read", os.ErrDeadlineExceeded)
			}
			wait = nx.FromDuration(left)
		}
		pkt, from, err := p.sock.Receive(rctx, wait)
		rc()
		if err == nil {
			n, _ := pkt.ExtractOffset(0, b)
			_ = pkt.Release()
			return n, net.UDPAddrFromAddrPort(unmap(from)), nil
		}
		switch {
		case p.ctx.Err() != nil:
			return 0, nil, p.opErr("read", net.ErrClosed)
		case errors.Is(err, nx.ErrNoPacket):
			// Deadline reached (or moved): check again at the top.
			p.mu.Lock()
			same := p.rdl.Equal(dl)
			p.mu.Unlock()
			if same {
				return 0, nil, p.opErr("read", os.ErrDeadlineExceeded)
			}
		case errors.Is(err, nx.ErrWaitAborted):
			// SetReadDeadline woke us: wait again under the new deadline.
		default:
			return 0, nil, p.opErr("read", err)
		}
	}
}

// WriteTo sends b as one datagram to addr (a *net.UDPAddr). It blocks at
// most until the write deadline while the pool is empty. Errors: the
// allocation or send status (nx.ErrNoPacket, nx.ErrSize, nx.ErrIPAddress).
func (p *PacketConn) WriteTo(b []byte, addr net.Addr) (int, error) {
	ua, ok := addr.(*net.UDPAddr)
	if !ok {
		return 0, p.opErr("write", fmt.Errorf("netsvc: address %v is not UDP: %w", addr, nx.ErrIPAddress))
	}
	dst := unmap(ua.AddrPort())
	p.mu.Lock()
	closed, dl := p.closed, p.wdl
	p.mu.Unlock()
	if closed {
		return 0, p.opErr("write", net.ErrClosed)
	}
	wait := nx.Seconds(1)
	if !dl.IsZero() {
		wait = nx.FromDuration(dl.Sub(p.ip.Clock().Now()))
	}
	pkt, err := p.ip.Pool().Allocate(p.ctx, packetpool.UDPPacket, wait)
	if err != nil {
		return 0, p.opErr("write", err)
	}
	if err := pkt.Append(p.ctx, b, p.ip.Pool(), wait); err != nil {
		_ = pkt.Release()
		return 0, p.opErr("write", err)
	}
	if err := p.sock.Send(p.ctx, pkt, dst); err != nil {
		_ = pkt.Release()
		return 0, p.opErr("write", err)
	}
	return len(b), nil
}

// Close unbinds and deletes the socket; blocked readers return net.ErrClosed.
func (p *PacketConn) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	p.mu.Unlock()
	p.cancel()
	_ = p.sock.Unbind()
	return p.sock.Delete()
}

// LocalAddr returns the board's IPv4 address (or IPv6 when it has none) and
// the bound port.
func (p *PacketConn) LocalAddr() net.Addr {
	a := p.ip.Addr().Addr()
	if !a.IsValid() {
		a = p.ip.Addr6().Addr()
	}
	return net.UDPAddrFromAddrPort(netip.AddrPortFrom(a, p.sock.Port()))
}

// onClock maps the wall-clock deadline t onto the IP's clock (see
// PacketConn); the zero time stays zero, a past t gives a past deadline.
func (p *PacketConn) onClock(t time.Time) time.Time {
	return netstack.DeadlineOnClock(p.ip.Clock(), t)
}

// SetDeadline sets both deadlines (wall-clock values, see PacketConn).
func (p *PacketConn) SetDeadline(t time.Time) error {
	_ = p.SetWriteDeadline(t)
	return p.SetReadDeadline(t)
}

// SetReadDeadline sets the read deadline and wakes a blocked ReadFrom so it
// waits under the new one.
func (p *PacketConn) SetReadDeadline(t time.Time) error {
	d := p.onClock(t)
	p.mu.Lock()
	p.rdl = d
	if p.rcancel != nil {
		p.rcancel()
	}
	p.mu.Unlock()
	return nil
}

// SetWriteDeadline bounds how long WriteTo waits for a packet.
func (p *PacketConn) SetWriteDeadline(t time.Time) error {
	d := p.onClock(t)
	p.mu.Lock()
	p.wdl = d
	p.mu.Unlock()
	return nil
}

func (p *PacketConn) opErr(op string, err error) error {
	return &net.OpError{Op: op, Net: "udp", Source: p.LocalAddr(), Err: err}
}

func unmap(a netip.AddrPort) netip.AddrPort {
	return netip.AddrPortFrom(a.Addr().Unmap(), a.Port())
}
