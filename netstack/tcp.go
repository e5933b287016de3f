package netstack

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"sync"
	"sync/atomic"

	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv4"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv6"
	"gvisor.dev/gvisor/pkg/tcpip/transport/tcp"
	"gvisor.dev/gvisor/pkg/waiter"

	"github.com/simboard/simboard/nx"
	"github.com/simboard/simboard/packetpool"
)

// NetX TCP socket states (nx_tcp_socket_info_get's socket_state).
const (
	StateClosed      = 1  // NX_TCP_CLOSED
	StateListen      = 2  // NX_TCP_LISTEN_STATE
	StateSynSent     = 3  // NX_TCP_SYN_SENT
	StateSynReceived = 4  // NX_TCP_SYN_RECEIVED
	StateEstablished = 5  // NX_TCP_ESTABLISHED
	StateCloseWait   = 6  // NX_TCP_CLOSE_WAIT
	StateFinWait1    = 7  // NX_TCP_FIN_WAIT_1
	StateFinWait2    = 8  // NX_TCP_FIN_WAIT_2
	StateClosing     = 9  // NX_TCP_CLOSING
	StateTimedWait   = 10 // NX_TCP_TIMED_WAIT
	StateLastAck     = 11 // NX_TCP_LAST_ACK
)

// searchPortStart is NX_SEARCH_PORT_START: NX_ANY_PORT binds search from a
// random port in [0xC000, 0xFFFF].
const searchPortStart = 0xC000

type txEntry struct {
	pkt *packetpool.Packet
	end uint64 // stream offset one past the packet's last byte
}

// TCPSocket mirrors NX_TCP_SOCKET. It is created by IP.TCPSocketCreate, bound
// and connected as a client (ClientBind, Connect) or attached to a listener as
// a server (IP.ServerListen, ServerAccept). Data moves as packets: Send takes a
// packet chain, Receive returns one.
//
// A socket is safe for concurrent use; as in NetX, one sender and one
// receiver at a time is the expected pattern. Lock order: IP.mu before
// TCPSocket.mu.
type TCPSocket struct {
	ip     *IP
	name   string
	window int

	mu        sync.Mutex
	deleted   bool
	port      uint16 // bound (client) or listening (server) port; 0 = unbound
	server    *listener
	ep        tcpip.Endpoint
	wq        *waiter.Queue
	rxEntry   waiter.Entry
	txEntry   waiter.Entry
	hupEntry  waiter.Entry // posts the socket to the IP's reaper when the connection dies
	key       flowKey
	tracked   bool
	v6        bool
	connected bool          // handshake completed
	closed    chan struct{} // closed when the connection is torn down; wakes waiters
	abortErr  error

	rxWake chan struct{}
	txWake chan struct{}
	// sendTurn holds one token: a Send takes it for its whole call, so the
	// parts of a packet written around window waits are never interleaved
	// with another goroutine's bytes (NetX serialises sends on a socket).
	sendTurn chan struct{}
	// rxSuspended counts Receive calls waiting for data
	// (nx_tcp_socket_receive_suspended_count).
	rxSuspended atomic.Int32
	// bindCancel is non-nil while a ClientBind waits for its port
	// (nx_tcp_socket_bind_in_progress); ClientUnbind closes it.
	bindCancel chan struct{}

	txq     []txEntry
	written uint64
	acked   uint64
	isnSet  bool
	ackBase uint32

	packetsSent, bytesSent         uint64
	packetsReceived, bytesReceived uint64
}

// TCPSocketCreate mirrors nx_tcp_socket_create. window is the receive window
// in bytes (0 = the IP's TCPOptions.DefaultWindow; gVisor enforces at least
// 4096). The socket starts closed and unbound. It does not block.
// Errors: nx.ErrOption for a window above 4 MiB, nx.ErrNotEnabled after Close.
func (ip *IP) TCPSocketCreate(name string, window int) (*TCPSocket, error) {
	if window < 0 || window > 4<<20 {
		return nil, fmt.Errorf("netstack: tcp socket %q: window %d: %w", name, window, nx.ErrOption)
	}
	ip.mu.Lock()
	closed := ip.closed
	ip.mu.Unlock()
	if closed {
		return nil, fmt.Errorf("netstack: tcp socket %q: ip %q deleted: %w", name, ip.name, nx.ErrNotEnabled)
	}
	if window == 0 {
		window = ip.tcpOpt.DefaultWindow
	}
	s := &TCPSocket{ip: ip, name: name, window: window, sendTurn: make(chan struct{}, 1)}
	s.sendTurn <- struct{}{}
	s.resetConn()
	return s, nil
}

// resetConn prepares the per-connection state. Caller holds s.mu or owns s.
func (s *TCPSocket) resetConn() {
	s.closed = make(chan struct{})
	s.rxWake = make(chan struct{}, 1)
	s.txWake = make(chan struct{}, 1)
	s.abortErr = nil
	s.connected = false
	s.written, s.acked, s.isnSet = 0, 0, false
}

func signal(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

// wake signals c, through the IP's clock when it is sequencing a
// simulation (nx.Post): an application goroutine is never woken in the
// middle of the event that made its socket ready (gVisor's TCP processor
// may still be working on it), so a simulated run repeats exactly. On any
// other clock it signals at once. It never blocks; callable with any lock
// held (gVisor calls waiter callbacks with its endpoint lock held).
func (ip *IP) wake(c chan struct{}) {
	if ip.seq {
		ip.clock.(nx.Sequencer).Post(func() { signal(c) })
		return
	}
	signal(c)
}

// post runs f as an event of its own on a sequencing clock, at once
// otherwise (nx.Post).
func (ip *IP) post(f func()) {
	if ip.seq {
		ip.clock.(nx.Sequencer).Post(f)
		return
	}
	f()
}

// Name returns the socket's name.
func (s *TCPSocket) Name() string { return s.name }

// IP returns the IP instance the socket belongs to.
func (s *TCPSocket) IP() *IP { return s.ip }

// attach installs a gVisor endpoint as this socket's connection.
// Caller holds s.mu.
func (s *TCPSocket) attach(ep tcpip.Endpoint, wq *waiter.Queue) {
	s.ep, s.wq = ep, wq
	rx, tx, ip := s.rxWake, s.txWake, s.ip
	s.rxEntry = waiter.NewFunctionEntry(waiter.ReadableEvents|waiter.EventHUp|waiter.EventErr, func(waiter.EventMask) { ip.wake(rx) })
	s.txEntry = waiter.NewFunctionEntry(waiter.WritableEvents|waiter.EventHUp|waiter.EventErr, func(waiter.EventMask) { ip.wake(tx) })
	reap := s.ip.reap
	s.hupEntry = waiter.NewFunctionEntry(waiter.EventHUp|waiter.EventErr, func(waiter.EventMask) { ip.post(func() { reap.post(s) }) })
	wq.EventRegister(&s.rxEntry)
	wq.EventRegister(&s.txEntry)
	wq.EventRegister(&s.hupEntry)
	ep.SocketOptions().SetReuseAddress(true)
	ep.SocketOptions().SetDelayOption(false)
}

// ClientBind mirrors nx_tcp_client_socket_bind. Port 0 is NX_ANY_PORT: a free
// port is searched from a random start in [0xC000, 0xFFFF]. When the port is
// taken, the call waits up to wait for it to be released; a ClientUnbind of
// this socket meanwhile ends the wait with nx.ErrPortUnavailable.
// Errors: nx.ErrAlreadyBound, nx.ErrPortUnavailable (taken, after the wait),
// nx.ErrNoFreePorts, nx.ErrNotCreated (deleted), nx.ErrWaitAborted.
func (s *TCPSocket) ClientBind(ctx context.Context, port uint16, wait nx.Wait) error {
	ip := s.ip
	dl := deadlineOf(ip.clock, wait)
	for {
		ip.mu.Lock()
		s.mu.Lock()
		switch {
		case s.deleted:
			s.endBindWaitLocked()
			s.mu.Unlock()
			ip.mu.Unlock()
			return fmt.Errorf("netstack: tcp socket %q: bind: %w", s.name, nx.ErrNotCreated)
		case s.port != 0:
			s.mu.Unlock()
			ip.mu.Unlock()
			return fmt.Errorf("netstack: tcp socket %q: bind: %w", s.name, nx.ErrAlreadyBound)
		case ip.closed:
			s.endBindWaitLocked()
			s.mu.Unlock()
			ip.mu.Unlock()
			return fmt.Errorf("netstack: tcp socket %q: bind: %w", s.name, nx.ErrNotEnabled)
		}
		if port == 0 {
			start := searchPortStart + ip.portN(0x10000-searchPortStart)
			for i := 0; i < 0x10000-searchPortStart; i++ {
				p := uint16(searchPortStart + (start-searchPortStart+i)%(0x10000-searchPortStart))
				if _, used := ip.ports[p]; !used && !ip.linger.busy(p) {
					if _, l := ip.listeners[p]; !l {
						port = p
						break
					}
				}
			}
			if port == 0 {
				s.endBindWaitLocked()
				s.mu.Unlock()
				ip.mu.Unlock()
				return fmt.Errorf("netstack: tcp socket %q: bind: %w", s.name, nx.ErrNoFreePorts)
			}
		}
		if _, used := ip.ports[port]; !used {
			ip.ports[port] = s
			s.port = port
			s.endBindWaitLocked()
			s.mu.Unlock()
			ip.mu.Unlock()
			return nil
		}
		rem := dl.remaining(ip.clock)
		if rem == nx.NoWait {
			s.endBindWaitLocked()
			s.mu.Unlock()
			ip.mu.Unlock()
			return fmt.Errorf("netstack: tcp socket %q: bind port %d: %w", s.name, port, nx.ErrPortUnavailable)
		}
		if s.bindCancel == nil {
			s.bindCancel = make(chan struct{})
			ip.bindWaiters[s] = port
		}
		cancel := s.bindCancel
		s.mu.Unlock()
		ip.mu.Unlock()
		err := nx.Await(ctx, ip.clock, min(rem, nx.Ticks(1)), cancel, nx.ErrPortUnavailable)
		if err == nil {
			// ClientUnbind while the bind waited: _nx_tcp_client_bind_cleanup
			// resumes the thread with NX_PORT_UNAVAILABLE.
			return fmt.Errorf("netstack: tcp socket %q: bind port %d: unbound while waiting: %w", s.name, port, nx.ErrPortUnavailable)
		}
		if errors.Is(err, nx.ErrWaitAborted) {
			ip.mu.Lock()
			s.mu.Lock()
			if s.bindCancel == cancel {
				s.endBindWaitLocked()
			}
			s.mu.Unlock()
			ip.mu.Unlock()
			return err
		}
	}
}

// endBindWaitLocked ends a ClientBind wait's bookkeeping. Caller holds
// s.ip.mu and s.mu.
func (s *TCPSocket) endBindWaitLocked() {
	s.bindCancel = nil
	delete(s.ip.bindWaiters, s)
}

// BindSuspendedCount mirrors the NX_TCP_SOCKET field
// nx_tcp_socket_bind_suspended_count: how many ClientBind calls of other
// sockets are waiting for the port s holds (0 when s is not bound). It does
// not block.
func (s *TCPSocket) BindSuspendedCount() int {
	s.ip.mu.Lock()
	defer s.ip.mu.Unlock()
	s.mu.Lock()
	port, listening := s.port, s.server != nil
	s.mu.Unlock()
	if port == 0 || listening {
		return 0
	}
	n := 0
	for w, p := range s.ip.bindWaiters {
		if p == port && w != s {
			n++
		}
	}
	return n
}

// Port returns the bound or listening port, 0 when unbound.
func (s *TCPSocket) Port() uint16 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.port
}

// Connect mirrors nxd_tcp_client_socket_connect: it sends a SYN to server and,
// unless wait is NoWait, blocks until the connection is established or the
// wait runs out. With NoWait it returns nx.ErrInProgress and the handshake
// completes in the background (Send and Receive then wait for it). A ctx
// that is already done sends no SYN and returns an error wrapping
// nx.ErrWaitAborted and ctx.Err().
// Errors: nx.ErrNotBound, nx.ErrNotClosed (already connected),
// nx.ErrIPAddress (bad or unroutable address), nx.ErrInvalidPort (port 0),
// nx.ErrNotConnected (refused, reset or timed out), nx.ErrWaitAborted.
func (s *TCPSocket) Connect(ctx context.Context, server netip.AddrPort, wait nx.Wait) error {
	addr := server.Addr().Unmap()
	if !addr.IsValid() || addr.IsUnspecified() || addr.IsMulticast() {
		return fmt.Errorf("netstack: tcp socket %q: connect %v: %w", s.name, server, nx.ErrIPAddress)
	}
	if server.Port() == 0 {
		return fmt.Errorf("netstack: tcp socket %q: connect %v: %w", s.name, server, nx.ErrInvalidPort)
	}
	if err := aborted(ctx); err != nil {
		return fmt.Errorf("netstack: tcp socket %q: connect %v: %w", s.name, server, err) // no SYN
	}
	s.mu.Lock()
	if s.port == 0 || s.server != nil {
		s.mu.Unlock()
		return fmt.Errorf("netstack: tcp socket %q: connect: %w", s.name, nx.ErrNotBound)
	}
	if s.ep != nil {
		s.mu.Unlock()
		return fmt.Errorf("netstack: tcp socket %q: connect: %w", s.name, nx.ErrNotClosed)
	}
	s.resetConn()
	proto, full := ipv4.ProtocolNumber, tcpip.FullAddress{NIC: nicID, Port: server.Port()}
	if addr.Is4() {
		full.Addr = tcpip.AddrFrom4(addr.As4())
	} else {
		proto = ipv6.ProtocolNumber
		full.Addr = tcpip.AddrFrom16(addr.As16())
	}
	var wq waiter.Queue
	ep, terr := s.ip.stack.NewEndpoint(tcp.ProtocolNumber, proto, &wq)
	if terr != nil {
		s.mu.Unlock()
		return fmt.Errorf("netstack: tcp socket %q: connect: %w", s.name, translate(terr))
	}
	s.v6 = proto == ipv6.ProtocolNumber
	s.attach(ep, &wq)
	ep.SocketOptions().SetReceiveBufferSize(int64(s.window), true)
	if terr := ep.Bind(tcpip.FullAddress{Port: s.port}); terr != nil {
		s.detachLocked()
		s.mu.Unlock()
		return fmt.Errorf("netstack: tcp socket %q: bind port %d: %w", s.name, s.port, translate(terr))
	}
	s.key = flowKey{remote: full.Addr, lport: s.port, rport: server.Port()}
	s.tracked = true
	if isn, seen := s.ip.acks.register(s.key, s); seen {
		s.setISNLocked(isn)
	}
	terr = ep.Connect(full)
	if _, ok := terr.(*tcpip.ErrBadLocalAddress); ok && s.ip.linger.endTimeWait(s.ip.link, s.key) {
		// NetX's unbind forces TIMED_WAIT closed, so ported code binds a
		// fixed port again at once; end gVisor's TIME_WAIT endpoint on
		// the same four-tuple and connect again.
		terr = ep.Connect(full)
	}
	s.mu.Unlock()
	if terr != nil {
		if _, started := terr.(*tcpip.ErrConnectStarted); !started {
			s.mu.Lock()
			s.detachLocked()
			s.mu.Unlock()
			return fmt.Errorf("netstack: tcp socket %q: connect %v: %w", s.name, server, translate(terr))
		}
	}
	if wait == nx.NoWait {
		return fmt.Errorf("netstack: tcp socket %q: connect %v: %w", s.name, server, nx.ErrInProgress)
	}
	if err := s.awaitEstablished(ctx, deadlineOf(s.ip.clock, wait)); err != nil {
		s.mu.Lock()
		s.abortLocked(nx.ErrNotConnected)
		s.detachLocked()
		s.mu.Unlock()
		return fmt.Errorf("netstack: tcp socket %q: connect %v: %w", s.name, server, err)
	}
	return nil
}

// awaitEstablished waits for the handshake. It returns nil, ErrNotConnected
// (refused, reset, timeout) or ErrWaitAborted.
func (s *TCPSocket) awaitEstablished(ctx context.Context, dl deadline) error {
	for {
		s.mu.Lock()
		ep, closed, wake := s.ep, s.closed, s.txWake
		if ep == nil {
			s.mu.Unlock()
			return nx.ErrNotConnected
		}
		st := tcp.EndpointState(ep.State())
		switch {
		case st == tcp.StateEstablished || st == tcp.StateCloseWait:
			s.connected = true
			s.mu.Unlock()
			return nil
		case st == tcp.StateError || st == tcp.StateClose:
			s.mu.Unlock()
			return nx.ErrNotConnected
		}
		s.mu.Unlock()
		select {
		case <-closed:
			return nx.ErrNotConnected
		default:
		}
		rem := dl.remaining(s.ip.clock)
		if rem == nx.NoWait {
			return nx.ErrNotConnected
		}
		if err := nx.Await(ctx, s.ip.clock, rem, merge(wake, closed), nx.ErrNotConnected); err != nil {
			if errors.Is(err, nx.ErrWaitAborted) {
				return err
			}
		}
	}
}

// merge returns wake unless closed is already closed, in which case it returns
// closed, so a single Await covers both.
func merge(wake chan struct{}, closed chan struct{}) <-chan struct{} {
	select {
	case <-closed:
		return closed
	default:
		return wake
	}
}

// PacketType returns the packet type (header room) to allocate packets for
// this socket with: packetpool.IPv6TCPPacket on an IPv6 connection,
// packetpool.IPv4TCPPacket otherwise.
func (s *TCPSocket) PacketType() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.v6 {
		return packetpool.IPv6TCPPacket
	}
	return packetpool.IPv4TCPPacket
}

// RemoteAddr returns the peer's address and port (zero when not connected).
func (s *TCPSocket) RemoteAddr() netip.AddrPort {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ep == nil {
		return netip.AddrPort{}
	}
	a, err := s.ep.GetRemoteAddress()
	if err != nil {
		return netip.AddrPort{}
	}
	return addrPortOf(a)
}

// LocalAddr returns the board's address and port of the connection.
func (s *TCPSocket) LocalAddr() netip.AddrPort {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ep == nil {
		return netip.AddrPort{}
	}
	a, err := s.ep.GetLocalAddress()
	if err != nil {
		return netip.AddrPort{}
	}
	return addrPortOf(a)
}

func addrPortOf(a tcpip.FullAddress) netip.AddrPort {
	var ip netip.Addr
	switch a.Addr.Len() {
	case 4:
		ip = netip.AddrFrom4(a.Addr.As4())
	case 16:
		ip = netip.AddrFrom16(a.Addr.As16()).Unmap()
	}
	return netip.AddrPortFrom(ip, a.Port)
}

// chainReader feeds a packet chain to gVisor's Write without copying it first.
type chainReader struct {
	pkt  *packetpool.Packet
	skip int // bytes of the chain already written
	left int
}

func (r *chainReader) Len() int { return r.left }

func (r *chainReader) Read(p []byte) (int, error) {
	if r.left == 0 {
		return 0, io.EOF
	}
	n := 0
	off := 0
	for b := range r.pkt.Buffers() {
		if off+len(b) <= r.skip {
			off += len(b)
			continue
		}
		start := max(r.skip-off, 0)
		c := copy(p[n:], b[start:])
		n += c
		r.skip += c
		off += len(b)
		if n == len(p) {
			break
		}
	}
	r.left -= n
	return n, nil
}

// Send mirrors nx_tcp_socket_send. It queues the packet chain's bytes on the
// connection and blocks (up to wait) while the transmit queue is full or the
// send window is shut.
//
// ctx is checked before any byte is handed to the stack, even when the
// window is open: once ctx is done nothing more of pkt goes on the wire and
// Send returns an error wrapping both nx.ErrWaitAborted and ctx.Err()
// (context.Canceled or context.DeadlineExceeded).
//
// When the connection dies (peer RST, retransmission timeout) the transmit
// queue is released to the pool at once, blocked senders wake, and every
// later Send returns nx.ErrNotConnected without waiting, as after NetX's
// _nx_tcp_socket_connection_reset.
//
// Sends on one socket are serialised: a Send from another goroutine waits
// (within its own wait and ctx; nx.ErrWindowOverflow when the wait runs out)
// until the current one has queued its whole packet or failed, so the bytes
// of two packets never interleave on the stream.
//
// Ownership: on success the socket owns pkt; it keeps it on its transmit
// queue until the peer has acknowledged every byte, then releases it. On any
// error the caller still owns pkt and must release it; after a partial send it
// holds only the unsent remainder (trimmed from the front), as in NetX.
//
// Errors: nx.ErrInvalidPacket (nil or empty packet), nx.ErrNotBound,
// nx.ErrNotConnected, nx.ErrTXQueueDepth (NX_TCP_MAXIMUM_TX_QUEUE packets
// unacknowledged after the wait), nx.ErrWindowOverflow (window still shut
// after the wait), nx.ErrWaitAborted.
func (s *TCPSocket) Send(ctx context.Context, pkt *packetpool.Packet, wait nx.Wait) error {
	if pkt == nil || pkt.Length() == 0 {
		return fmt.Errorf("netstack: tcp socket %q: send: %w", s.name, nx.ErrInvalidPacket)
	}
	dl := deadlineOf(s.ip.clock, wait)
	total := pkt.Length()
	r := chainReader{pkt: pkt, left: total}
	if err := nx.Await(ctx, s.ip.clock, wait, s.sendTurn, nx.ErrWindowOverflow); err != nil {
		return s.sendFail(pkt, &r, err)
	}
	defer func() { s.sendTurn <- struct{}{} }()
	for {
		s.mu.Lock()
		if s.port == 0 && s.server == nil {
			s.mu.Unlock()
			return fmt.Errorf("netstack: tcp socket %q: send: %w", s.name, nx.ErrNotBound)
		}
		ep, closed, wake := s.ep, s.closed, s.txWake
		if ep != nil && s.abortErr == nil && connectionDead(ep) {
			// Reset or timed out before the reaper ran: release the
			// queue now, as _nx_tcp_socket_connection_reset does.
			s.abortLocked(nx.ErrNotConnected)
		}
		if ep == nil || s.abortErr != nil {
			s.mu.Unlock()
			return s.sendFail(pkt, &r, nx.ErrNotConnected)
		}
		if err := aborted(ctx); err != nil {
			s.mu.Unlock()
			return s.sendFail(pkt, &r, err) // nothing more goes on the wire
		}
		if !s.connected {
			s.mu.Unlock()
			if err := s.awaitEstablished(ctx, dl); err != nil {
				return s.sendFail(pkt, &r, err)
			}
			continue
		}
		var timeout nx.Status
		if len(s.txq) >= s.ip.tcpOpt.MaxTxQueue {
			timeout = nx.ErrTXQueueDepth
		} else {
			n, terr := ep.Write(&r, tcpip.WriteOptions{})
			s.bytesSent += uint64(n)
			s.written += uint64(n)
			if r.left == 0 {
				_ = pkt.MarkQueued() // a user Release of a queued packet is now NX_PTR_ERROR
				s.txq = append(s.txq, txEntry{pkt: pkt, end: s.written})
				s.packetsSent++
				s.mu.Unlock()
				return nil
			}
			if terr != nil {
				if _, wb := terr.(*tcpip.ErrWouldBlock); !wb {
					s.mu.Unlock()
					return s.sendFail(pkt, &r, translate(terr))
				}
			}
			if n > 0 {
				s.mu.Unlock()
				continue
			}
			timeout = nx.ErrWindowOverflow
		}
		s.mu.Unlock()
		rem := dl.remaining(s.ip.clock)
		if rem == nx.NoWait {
			return s.sendFail(pkt, &r, timeout)
		}
		if err := nx.Await(ctx, s.ip.clock, rem, merge(wake, closed), timeout); err != nil {
			return s.sendFail(pkt, &r, err)
		}
		select {
		case <-closed:
			return s.sendFail(pkt, &r, nx.ErrNotConnected)
		default:
		}
	}
}

// sendFail trims what was already handed to the stack from the caller's
// packet and returns err wrapped.
func (s *TCPSocket) sendFail(pkt *packetpool.Packet, r *chainReader, err error) error {
	if r.skip > 0 {
		_ = pkt.TrimFront(r.skip)
	}
	return fmt.Errorf("netstack: tcp socket %q: send: %w", s.name, err)
}

// releaseSent frees a packet the transmit queue owned.
func releaseSent(pkt *packetpool.Packet) {
	_ = pkt.UnmarkQueued()
	_ = pkt.Release()
}

// setISN records the initial send sequence number of the connection.
func (s *TCPSocket) setISN(isn uint32) {
	s.mu.Lock()
	s.setISNLocked(isn)
	s.mu.Unlock()
}

func (s *TCPSocket) setISNLocked(isn uint32) {
	if !s.isnSet {
		s.isnSet = true
		s.ackBase = isn + 1
	}
}

// peerAcked applies a cumulative ACK from the peer: packets whose last byte
// is acknowledged leave the transmit queue and are released.
func (s *TCPSocket) peerAcked(ack uint32) {
	s.mu.Lock()
	if !s.isnSet || len(s.txq) == 0 {
		s.mu.Unlock()
		return
	}
	off := uint64(ack - s.ackBase)
	cand := (s.acked &^ 0xFFFFFFFF) | off
	if cand+(1<<31) < s.acked {
		cand += 1 << 32
	}
	if cand > s.written {
		cand = s.written // the FIN takes a sequence number too
	}
	if cand <= s.acked {
		s.mu.Unlock()
		return
	}
	s.acked = cand
	n := 0
	for n < len(s.txq) && s.txq[n].end <= cand {
		n++
	}
	var done []txEntry
	if n > 0 {
		done = make([]txEntry, n)
		copy(done, s.txq[:n])
		rest := copy(s.txq, s.txq[n:])
		clear(s.txq[rest:])
		s.txq = s.txq[:rest]
	}
	wake := s.txWake
	s.mu.Unlock()
	for _, e := range done {
		releaseSent(e.pkt)
	}
	if n > 0 {
		s.ip.wake(wake)
	}
}

// Receive mirrors nx_tcp_socket_receive: it returns the next received data
// in a packet (a chain when the default pool's packets are small) allocated
// from the IP's default pool, holding at most one MSS. Data queued before the
// peer's FIN or RST is still delivered; after that Receive returns
// nx.ErrNotConnected.
//
// Ownership: the caller owns the returned packet and must release it.
// Blocks up to wait. Errors: nx.ErrNotBound, nx.ErrNoPacket (no data within
// the wait, or the default pool stayed empty), nx.ErrNotConnected,
// nx.ErrWaitAborted.
func (s *TCPSocket) Receive(ctx context.Context, wait nx.Wait) (*packetpool.Packet, error) {
	dl := deadlineOf(s.ip.clock, wait)
	for {
		s.mu.Lock()
		if s.port == 0 && s.server == nil {
			s.mu.Unlock()
			return nil, fmt.Errorf("netstack: tcp socket %q: receive: %w", s.name, nx.ErrNotBound)
		}
		ep, wake, closed := s.ep, s.rxWake, s.closed
		v6 := s.v6
		s.mu.Unlock()
		if ep == nil {
			return nil, fmt.Errorf("netstack: tcp socket %q: receive: %w", s.name, nx.ErrNotConnected)
		}
		if ep.Readiness(waiter.ReadableEvents)&waiter.ReadableEvents != 0 {
			pkt, err := s.readOne(ctx, ep, v6, dl)
			if pkt != nil || err != nil {
				return pkt, err
			}
		} else if connectionDead(ep) {
			return nil, fmt.Errorf("netstack: tcp socket %q: receive: %w", s.name, nx.ErrNotConnected)
		}
		rem := dl.remaining(s.ip.clock)
		if rem == nx.NoWait {
			return nil, fmt.Errorf("netstack: tcp socket %q: receive: %w", s.name, nx.ErrNoPacket)
		}
		s.rxSuspended.Add(1)
		err := nx.Await(ctx, s.ip.clock, rem, merge(wake, closed), nx.ErrNoPacket)
		s.rxSuspended.Add(-1)
		if err != nil {
			return nil, fmt.Errorf("netstack: tcp socket %q: receive: %w", s.name, err)
		}
	}
}

// ReceiveSuspendedCount mirrors the NX_TCP_SOCKET field
// nx_tcp_socket_receive_suspended_count: how many Receive calls on s are
// waiting for data right now. It does not block.
func (s *TCPSocket) ReceiveSuspendedCount() int { return int(s.rxSuspended.Load()) }

// packetWriter appends what gVisor reads into a packet chain, up to limit.
// It fills the chain's free tail first and then adds one pool packet at a
// time (with NX_NO_WAIT), so when the pool runs short mid-segment it keeps
// every byte that fit and reports only those as written: gVisor keeps the
// rest queued, in order, for the next Receive.
type packetWriter struct {
	ctx   context.Context
	pkt   *packetpool.Packet
	pool  *packetpool.Pool
	limit int
	n     int
	room  int // free bytes at the end of the chain
}

func (w *packetWriter) Write(p []byte) (int, error) {
	room := w.limit - w.n
	if room <= 0 {
		return 0, io.ErrShortWrite
	}
	short := len(p) > room
	if short {
		p = p[:room]
	}
	done := 0
	for done < len(p) {
		c := len(p) - done
		if w.room > 0 {
			c = min(c, w.room)
		} else {
			c = min(c, w.pool.PayloadSize()) // one extra packet (type 0: whole buffer)
		}
		if err := w.pkt.Append(w.ctx, p[done:done+c], w.pool, nx.NoWait); err != nil {
			return done, err // Append is all or nothing: done bytes are in the chain
		}
		if w.room > 0 {
			w.room -= c
		} else {
			w.room = w.pool.PayloadSize() - c
		}
		done += c
		w.n += c
	}
	if short {
		return done, io.ErrShortWrite
	}
	return done, nil
}

// readOne reads up to one MSS into a new packet. It returns (nil, nil) when
// nothing was readable after all.
func (s *TCPSocket) readOne(ctx context.Context, ep tcpip.Endpoint, v6 bool, dl deadline) (*packetpool.Packet, error) {
	ptype, mss := packetpool.IPv4TCPPacket, s.ip.drv.MTU()-40
	if v6 {
		ptype, mss = packetpool.IPv6TCPPacket, s.ip.drv.MTU()-60
	}
	pkt, err := s.ip.pool.Allocate(ctx, ptype, dl.remaining(s.ip.clock))
	if err != nil {
		return nil, fmt.Errorf("netstack: tcp socket %q: receive: %w", s.name, err)
	}
	w := packetWriter{ctx: ctx, pkt: pkt, pool: s.ip.pool, limit: mss, room: s.ip.pool.PayloadSize() - pkt.HeaderRoom()}
	_, terr := ep.Read(&w, tcpip.ReadOptions{})
	if w.n > 0 {
		s.mu.Lock()
		s.packetsReceived++
		s.bytesReceived += uint64(w.n)
		s.mu.Unlock()
		return pkt, nil
	}
	_ = pkt.Release()
	switch terr.(type) {
	case nil, *tcpip.ErrWouldBlock:
		return nil, nil
	case *tcpip.ErrBadBuffer:
		return nil, fmt.Errorf("netstack: tcp socket %q: receive: %w", s.name, nx.ErrNoPacket)
	}
	return nil, fmt.Errorf("netstack: tcp socket %q: receive: %w", s.name, translate(terr))
}

// Disconnect mirrors nx_tcp_socket_disconnect. With NoWait it resets the
// connection (RST) and returns nx.ErrInProgress, as NetX does. Otherwise it
// sends a FIN and blocks until the peer has closed its side too, or the wait
// runs out (the socket is then reset and nx.ErrDisconnectFailed returned).
// When the board closed first, the socket then stays in TIME_WAIT
// (Info().State == StateTimedWait) for TCPOptions.TimeWait, as a NetX socket
// stays NX_TCP_TIMED_WAIT for 2MSL. ClientUnbind and ServerUnaccept let go
// of it at once, as NetX's unbind does; the stack keeps the four-tuple until
// 2MSL, and a new connect on it ends it without a RST.
// Either way every packet still on the transmit queue is released and
// blocked senders and receivers wake with nx.ErrNotConnected.
//
// A ctx that is already done sends no FIN: the connection is reset as with
// NoWait (the peer must not take a half-finished exchange for a clean end)
// and the error wraps nx.ErrWaitAborted and ctx.Err().
// Errors: nx.ErrNotConnected (no connection, or one the peer reset or that
// timed out: nothing is sent, the socket is closed), nx.ErrInProgress,
// nx.ErrDisconnectFailed, nx.ErrWaitAborted.
func (s *TCPSocket) Disconnect(ctx context.Context, wait nx.Wait) error {
	s.mu.Lock()
	ep := s.ep
	if ep == nil {
		s.mu.Unlock()
		return fmt.Errorf("netstack: tcp socket %q: disconnect: %w", s.name, nx.ErrNotConnected)
	}
	if st := tcp.EndpointState(ep.State()); st == tcp.StateError || st == tcp.StateClose {
		// Reset, timed out, or closed and out of TIME_WAIT already: the
		// NetX socket is NX_TCP_CLOSED and nx_tcp_socket_disconnect
		// returns NX_NOT_CONNECTED, sending nothing.
		s.abortLocked(nx.ErrNotConnected)
		s.detachLocked()
		s.mu.Unlock()
		return fmt.Errorf("netstack: tcp socket %q: disconnect: %w", s.name, nx.ErrNotConnected)
	}
	if wait == nx.NoWait {
		s.resetLocked()
		s.mu.Unlock()
		return fmt.Errorf("netstack: tcp socket %q: disconnect: %w", s.name, nx.ErrInProgress)
	}
	if err := aborted(ctx); err != nil {
		s.resetLocked()
		s.mu.Unlock()
		return fmt.Errorf("netstack: tcp socket %q: disconnect: %w", s.name, err)
	}
	closed, wake := s.closed, s.rxWake
	s.mu.Unlock()
	ep.Shutdown(tcpip.ShutdownWrite)
	dl := deadlineOf(s.ip.clock, wait)
	for {
		st := tcp.EndpointState(ep.State())
		if st == tcp.StateTimeWait || st == tcp.StateClose || st == tcp.StateError {
			break
		}
		// Drain and discard late data so the peer's FIN can be processed.
		if ep.Readiness(waiter.ReadableEvents)&waiter.ReadableEvents != 0 {
			ep.Read(io.Discard, tcpip.ReadOptions{})
		}
		rem := dl.remaining(s.ip.clock)
		var err error
		if rem == nx.NoWait {
			err = nx.ErrDisconnectFailed
		} else {
			err = nx.Await(ctx, s.ip.clock, min(rem, nx.Ticks(10)), merge(wake, closed), nx.ErrDisconnectFailed)
			if errors.Is(err, nx.ErrDisconnectFailed) && rem > nx.Ticks(10) {
				continue // periodic re-check of the state
			}
		}
		if err != nil {
			s.mu.Lock()
			if s.ep == ep {
				s.resetLocked()
			}
			s.mu.Unlock()
			return fmt.Errorf("netstack: tcp socket %q: disconnect: %w", s.name, err)
		}
	}
	s.mu.Lock()
	if s.ep == ep {
		s.abortLocked(nx.ErrNotConnected)
		// Closed first: the socket stays NX_TCP_TIMED_WAIT, as in NetX,
		// until 2MSL (TCPOptions.TimeWait) ends it or the socket is
		// unbound or unaccepted.
		if tcp.EndpointState(ep.State()) != tcp.StateTimeWait {
			s.detachLocked()
		}
	}
	s.mu.Unlock()
	return nil
}

// resetLocked sends a RST (linger 0 close) and tears the connection down.
func (s *TCPSocket) resetLocked() {
	if s.ep != nil {
		s.ep.SocketOptions().SetLinger(tcpip.LingerOption{Enabled: true, Timeout: 0})
	}
	s.abortLocked(nx.ErrNotConnected)
	s.detachLocked()
}

// abortLocked releases the transmit queue and wakes every waiter.
func (s *TCPSocket) abortLocked(err error) {
	if s.abortErr == nil {
		s.abortErr = err
		closed, rx, tx := s.closed, s.rxWake, s.txWake
		s.ip.post(func() {
			close(closed)
			signal(rx)
			signal(tx)
		})
	}
	for _, e := range s.txq {
		releaseSent(e.pkt)
	}
	clear(s.txq)
	s.txq = s.txq[:0]
}

// detachLocked closes the gVisor endpoint (gracefully unless linger 0 was
// set) and forgets the flow.
func (s *TCPSocket) detachLocked() {
	if s.ep != nil {
		s.wq.EventUnregister(&s.rxEntry)
		s.wq.EventUnregister(&s.txEntry)
		s.wq.EventUnregister(&s.hupEntry)
		s.ep.Close()
		if s.tracked {
			s.ip.linger.add(s.key, s.ep)
		}
		s.ep, s.wq = nil, nil
	}
	if s.tracked {
		s.ip.acks.unregister(s.key)
		s.tracked = false
	}
	s.connected = false
}

// abort is used by IP.Close: reset the connection and release everything.
func (s *TCPSocket) abort(err error) {
	s.mu.Lock()
	if s.ep != nil {
		s.resetLocked()
	} else {
		s.abortLocked(err)
	}
	s.mu.Unlock()
}

// closeGraceful hands the connection to gVisor for an orderly close in the
// background (FIN, retransmissions, TIME-WAIT) and releases the socket's
// packets at once. Used by Conn.Close, which must not block.
func (s *TCPSocket) closeGraceful() {
	s.mu.Lock()
	s.abortLocked(nx.ErrNotConnected)
	s.detachLocked()
	s.mu.Unlock()
}

// ClientUnbind mirrors nx_tcp_client_socket_unbind: it frees the port. The
// connection must be closed (Disconnect first). On a socket whose ClientBind
// is waiting for a taken port it ends that wait instead (the bind returns
// nx.ErrPortUnavailable at once) and returns nil, as NetX does for a bind in
// progress. It does not block.
// Errors: nx.ErrNotBound, nx.ErrNotClosed.
func (s *TCPSocket) ClientUnbind() error {
	s.ip.mu.Lock()
	defer s.ip.mu.Unlock()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.port == 0 && s.bindCancel != nil {
		close(s.bindCancel)
		s.endBindWaitLocked()
		return nil
	}
	if s.port == 0 || s.server != nil {
		return fmt.Errorf("netstack: tcp socket %q: unbind: %w", s.name, nx.ErrNotBound)
	}
	if s.ep != nil {
		st := tcp.EndpointState(s.ep.State())
		if st != tcp.StateClose && st != tcp.StateError && st != tcp.StateTimeWait {
			return fmt.Errorf("netstack: tcp socket %q: unbind: %w", s.name, nx.ErrNotClosed)
		}
		s.abortLocked(nx.ErrNotConnected)
		s.detachLocked()
	}
	if s.ip.ports[s.port] == s {
		delete(s.ip.ports, s.port)
	}
	s.port = 0
	return nil
}

// Delete mirrors nx_tcp_socket_delete. The socket must be unbound.
// Errors: nx.ErrNotCreated (already deleted), nx.ErrStillBound.
func (s *TCPSocket) Delete() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.deleted {
		return fmt.Errorf("netstack: tcp socket %q: delete: %w", s.name, nx.ErrNotCreated)
	}
	if s.port != 0 || s.server != nil {
		return fmt.Errorf("netstack: tcp socket %q: delete: %w", s.name, nx.ErrStillBound)
	}
	s.deleted = true
	return nil
}

// TCPInfo mirrors nx_tcp_socket_info_get.
type TCPInfo struct {
	PacketsSent, BytesSent         uint64
	PacketsReceived, BytesReceived uint64
	RetransmitPackets              uint64
	PacketsQueued                  int // bytes waiting in the receive queue, as whole packets are not kept
	ChecksumErrors                 uint64
	State                          int // StateClosed ... StateLastAck
	TransmitQueueDepth             int // packets held until acknowledged
	TransmitWindow                 int // bytes the stack can still accept
	ReceiveWindow                  int
}

// Info returns the socket counters (nx_tcp_socket_info_get). It does not block.
func (s *TCPSocket) Info() TCPInfo {
	s.mu.Lock()
	defer s.mu.Unlock()
	in := TCPInfo{
		PacketsSent: s.packetsSent, BytesSent: s.bytesSent,
		PacketsReceived: s.packetsReceived, BytesReceived: s.bytesReceived,
		TransmitQueueDepth: len(s.txq), State: StateClosed, ReceiveWindow: s.window,
	}
	if s.server != nil && s.ep == nil {
		in.State = StateListen
	}
	if s.ep == nil {
		return in
	}
	in.State = netxState(tcp.EndpointState(s.ep.State()))
	if st, ok := s.ep.Stats().(*tcp.Stats); ok {
		in.RetransmitPackets = st.SendErrors.Retransmits.Value()
		in.ChecksumErrors = st.ReceiveErrors.ChecksumErrors.Value()
	}
	if q, err := s.ep.GetSockOptInt(tcpip.ReceiveQueueSizeOption); err == nil {
		in.PacketsQueued = q
	}
	in.TransmitWindow = max(int(s.ep.SocketOptions().GetSendBufferSize())-int(s.written-s.acked), 0)
	return in
}

func netxState(st tcp.EndpointState) int {
	switch st {
	case tcp.StateEstablished:
		return StateEstablished
	case tcp.StateSynSent:
		return StateSynSent
	case tcp.StateSynRecv:
		return StateSynReceived
	case tcp.StateFinWait1:
		return StateFinWait1
	case tcp.StateFinWait2:
		return StateFinWait2
	case tcp.StateTimeWait:
		return StateTimedWait
	case tcp.StateCloseWait:
		return StateCloseWait
	case tcp.StateLastAck:
		return StateLastAck
	case tcp.StateClosing:
		return StateClosing
	case tcp.StateListen:
		return StateListen
	}
	return StateClosed
}
