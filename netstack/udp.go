package netstack

import (
	"context"
	"fmt"
	"net/netip"
	"sync"

	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv6"
	"gvisor.dev/gvisor/pkg/tcpip/transport/udp"
	"gvisor.dev/gvisor/pkg/waiter"

	"github.com/simboard/simboard/nx"
	"github.com/simboard/simboard/packetpool"
)

// UDPSocket mirrors NX_UDP_SOCKET: bind to a port, send and receive
// datagrams as packets. Add-ons such as DNS, SNTP and DHCP clients build on
// it. Safe for concurrent use.
type UDPSocket struct {
	ip   *IP
	name string

	mu      sync.Mutex
	port    uint16
	ep      tcpip.Endpoint
	wq      waiter.Queue
	ent     waiter.Entry
	wake    chan struct{}
	closed  chan struct{}
	deleted bool
}

// UDPSocketCreate mirrors nx_udp_socket_create. It does not block.
func (ip *IP) UDPSocketCreate(name string) (*UDPSocket, error) {
	ip.mu.Lock()
	defer ip.mu.Unlock()
	if ip.closed {
		return nil, fmt.Errorf("netstack: udp socket %q: %w", name, nx.ErrNotEnabled)
	}
	return &UDPSocket{ip: ip, name: name, wake: make(chan struct{}, 1), closed: make(chan struct{})}, nil
}

// Bind mirrors nx_udp_socket_bind (port 0 = NX_ANY_PORT). IPv4 and IPv6
// datagrams are both received. Errors: nx.ErrAlreadyBound,
// nx.ErrPortUnavailable, nx.ErrNotCreated.
func (u *UDPSocket) Bind(ctx context.Context, port uint16, wait nx.Wait) error {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.deleted {
		return fmt.Errorf("netstack: udp socket %q: bind: %w", u.name, nx.ErrNotCreated)
	}
	if u.ep != nil {
		return fmt.Errorf("netstack: udp socket %q: bind: %w", u.name, nx.ErrAlreadyBound)
	}
	ep, terr := u.ip.stack.NewEndpoint(udp.ProtocolNumber, ipv6.ProtocolNumber, &u.wq)
	if terr != nil {
		return fmt.Errorf("netstack: udp socket %q: bind: %w", u.name, translate(terr))
	}
	ep.SocketOptions().SetV6Only(false)
	if terr := ep.Bind(tcpip.FullAddress{Port: port}); terr != nil {
		ep.Close()
		return fmt.Errorf("netstack: udp socket %q: bind %d: %w", u.name, port, nx.ErrPortUnavailable)
	}
	la, _ := ep.GetLocalAddress()
	u.port = la.Port
	wake := u.wake
	ip := u.ip
	u.ent = waiter.NewFunctionEntry(waiter.ReadableEvents, func(waiter.EventMask) { ip.wake(wake) })
	u.wq.EventRegister(&u.ent)
	u.ep = ep
	u.ip.mu.Lock()
	u.ip.udpPorts[u.port] = u
	u.ip.mu.Unlock()
	return nil
}

// Port returns the bound port (0 when unbound).
func (u *UDPSocket) Port() uint16 {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.port
}

// Send mirrors nxd_udp_socket_send: it sends pkt's bytes as one datagram to
// dst. It does not block. On success the packet is released (UDP keeps
// nothing to retransmit); on error the caller keeps it. A ctx that is
// already done sends nothing and returns an error wrapping both
// nx.ErrWaitAborted and ctx.Err(). Errors: nx.ErrNotBound,
// nx.ErrInvalidPacket, nx.ErrIPAddress, nx.ErrSize (larger than the MTU
// allows), nx.ErrWaitAborted.
func (u *UDPSocket) Send(ctx context.Context, pkt *packetpool.Packet, dst netip.AddrPort) error {
	if pkt == nil || pkt.Length() == 0 {
		return fmt.Errorf("netstack: udp socket %q: send: %w", u.name, nx.ErrInvalidPacket)
	}
	if err := aborted(ctx); err != nil {
		return fmt.Errorf("netstack: udp socket %q: send to %v: %w", u.name, dst, err)
	}
	u.mu.Lock()
	ep := u.ep
	u.mu.Unlock()
	if ep == nil {
		return fmt.Errorf("netstack: udp socket %q: send: %w", u.name, nx.ErrNotBound)
	}
	a := dst.Addr()
	if !a.IsValid() || dst.Port() == 0 {
		return fmt.Errorf("netstack: udp socket %q: send to %v: %w", u.name, dst, nx.ErrIPAddress)
	}
	// The endpoint is dual-stack: IPv4 peers are addressed v4-mapped.
	full := tcpip.FullAddress{Addr: tcpip.AddrFrom16(a.As16()), Port: dst.Port()}
	r := chainReader{pkt: pkt, left: pkt.Length()}
	if _, terr := ep.Write(&r, tcpip.WriteOptions{To: &full}); terr != nil {
		return fmt.Errorf("netstack: udp socket %q: send to %v: %w", u.name, dst, translate(terr))
	}
	return pkt.Release()
}

// Receive mirrors nx_udp_socket_receive: it returns the next datagram in a
// packet from the IP's default pool, and its source. The caller releases the
// packet. Errors: nx.ErrNotBound, nx.ErrNoPacket (nothing within the wait),
// nx.ErrWaitAborted.
func (u *UDPSocket) Receive(ctx context.Context, wait nx.Wait) (*packetpool.Packet, netip.AddrPort, error) {
	dl := deadlineOf(u.ip.clock, wait)
	for {
		u.mu.Lock()
		ep, wake, closed := u.ep, u.wake, u.closed
		u.mu.Unlock()
		if ep == nil {
			return nil, netip.AddrPort{}, fmt.Errorf("netstack: udp socket %q: receive: %w", u.name, nx.ErrNotBound)
		}
		if ep.Readiness(waiter.ReadableEvents)&waiter.ReadableEvents != 0 {
			pkt, err := u.ip.pool.Allocate(ctx, packetpool.UDPPacket, dl.remaining(u.ip.clock))
			if err != nil {
				return nil, netip.AddrPort{}, fmt.Errorf("netstack: udp socket %q: receive: %w", u.name, err)
			}
			w := packetWriter{ctx: ctx, pkt: pkt, pool: u.ip.pool, limit: 65535}
			res, terr := ep.Read(&w, tcpip.ReadOptions{NeedRemoteAddr: true})
			if terr == nil && w.n > 0 {
				return pkt, addrPortOf(res.RemoteAddr), nil
			}
			_ = pkt.Release()
			if terr != nil {
				if _, wb := terr.(*tcpip.ErrWouldBlock); !wb {
					return nil, netip.AddrPort{}, fmt.Errorf("netstack: udp socket %q: receive: %w", u.name, translate(terr))
				}
			}
		}
		rem := dl.remaining(u.ip.clock)
		if rem == nx.NoWait {
			return nil, netip.AddrPort{}, fmt.Errorf("netstack: udp socket %q: receive: %w", u.name, nx.ErrNoPacket)
		}
		if err := nx.Await(ctx, u.ip.clock, rem, merge(wake, closed), nx.ErrNoPacket); err != nil {
			return nil, netip.AddrPort{}, fmt.Errorf("netstack: udp socket %q: receive: %w", u.name, err)
		}
	}
}

// Unbind mirrors nx_udp_socket_unbind. Errors: nx.ErrNotBound.
func (u *UDPSocket) Unbind() error {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.ep == nil {
		return fmt.Errorf("netstack: udp socket %q: unbind: %w", u.name, nx.ErrNotBound)
	}
	u.unbindLocked()
	return nil
}

func (u *UDPSocket) unbindLocked() {
	u.wq.EventUnregister(&u.ent)
	u.ep.Close()
	u.ep = nil
	u.ip.mu.Lock()
	if u.ip.udpPorts[u.port] == u {
		delete(u.ip.udpPorts, u.port)
	}
	u.ip.mu.Unlock()
	u.port = 0
}

func (u *UDPSocket) close() {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.ep != nil {
		u.wq.EventUnregister(&u.ent)
		u.ep.Close()
		u.ep = nil
	}
	select {
	case <-u.closed:
	default:
		close(u.closed)
	}
}

// Delete mirrors nx_udp_socket_delete. Errors: nx.ErrStillBound, nx.ErrNotCreated.
func (u *UDPSocket) Delete() error {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.deleted {
		return fmt.Errorf("netstack: udp socket %q: delete: %w", u.name, nx.ErrNotCreated)
	}
	if u.ep != nil {
		return fmt.Errorf("netstack: udp socket %q: delete: %w", u.name, nx.ErrStillBound)
	}
	u.deleted = true
	return nil
}
