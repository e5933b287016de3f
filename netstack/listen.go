package netstack

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"

	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv4"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv6"
	"gvisor.dev/gvisor/pkg/tcpip/transport/tcp"
	"gvisor.dev/gvisor/pkg/waiter"

	"github.com/simboard/simboard/nx"
)

// listener is one listening port: a dual-stack gVisor endpoint plus the NetX
// socket currently waiting in ServerAccept (if any).
type listener struct {
	ip   *IP
	port uint16
	ep   tcpip.Endpoint
	wq   waiter.Queue
	ent  waiter.Entry
	wake chan struct{}

	mu     sync.Mutex
	sock   *TCPSocket
	closed bool
	done   chan struct{}
}

func (ip *IP) newListener(port uint16, backlog int) (*listener, error) {
	l := &listener{ip: ip, port: port, wake: make(chan struct{}, 1), done: make(chan struct{})}
	ep, terr := ip.stack.NewEndpoint(tcp.ProtocolNumber, ipv6.ProtocolNumber, &l.wq)
	if terr == nil {
		ep.SocketOptions().SetV6Only(false)
	} else {
		ep, terr = ip.stack.NewEndpoint(tcp.ProtocolNumber, ipv4.ProtocolNumber, &l.wq)
	}
	if terr != nil {
		return nil, translate(terr)
	}
	ep.SocketOptions().SetReuseAddress(true)
	if terr := ep.Bind(tcpip.FullAddress{Port: port}); terr != nil {
		ep.Close()
		return nil, translate(terr)
	}
	if backlog <= 0 {
		backlog = 5
	}
	if terr := ep.Listen(backlog); terr != nil {
		ep.Close()
		return nil, translate(terr)
	}
	wake := l.wake
	l.ent = waiter.NewFunctionEntry(waiter.ReadableEvents|waiter.EventHUp|waiter.EventErr, func(waiter.EventMask) { ip.wake(wake) })
	l.wq.EventRegister(&l.ent)
	l.ep = ep
	return l, nil
}

func (l *listener) close() {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return
	}
	l.closed = true
	close(l.done)
	l.ip.wake(l.wake) // a waiting accept re-checks done
	l.mu.Unlock()
	l.wq.EventUnregister(&l.ent)
	l.ep.Close()
}

// accept waits for the next connection and returns its endpoint.
func (l *listener) accept(ctx context.Context, dl deadline) (tcpip.Endpoint, *waiter.Queue, tcpip.FullAddress, error) {
	for {
		var peer tcpip.FullAddress
		nep, nwq, terr := l.ep.Accept(&peer)
		if terr == nil {
			return nep, nwq, peer, nil
		}
		if _, wb := terr.(*tcpip.ErrWouldBlock); !wb {
			return nil, nil, peer, translate(terr)
		}
		select {
		case <-l.done:
			return nil, nil, peer, nx.ErrNotConnected
		default:
		}
		rem := dl.remaining(l.ip.clock)
		if rem == nx.NoWait {
			return nil, nil, peer, nx.ErrNotConnected
		}
		if err := nx.Await(ctx, l.ip.clock, rem, merge(l.wake, l.done), nx.ErrNotConnected); err != nil {
			return nil, nil, peer, err
		}
	}
}

// adopt makes an accepted endpoint the connection of s.
func (l *listener) adopt(s *TCPSocket, nep tcpip.Endpoint, nwq *waiter.Queue, peer tcpip.FullAddress) {
	s.mu.Lock()
	s.resetConn()
	s.attach(nep, nwq)
	nep.SocketOptions().SetReceiveBufferSize(int64(s.window), true)
	s.v6 = peer.Addr.Len() == 16 && !isV4Mapped(peer.Addr)
	remote := peer.Addr
	if isV4Mapped(remote) {
		a := remote.As16()
		remote = tcpip.AddrFrom4([4]byte(a[12:16]))
	}
	s.key = flowKey{remote: remote, lport: l.port, rport: peer.Port}
	s.tracked = true
	s.connected = true
	if isn, seen := l.ip.acks.register(s.key, s); seen {
		s.setISNLocked(isn)
	}
	s.mu.Unlock()
}

func isV4Mapped(a tcpip.Address) bool {
	if a.Len() != 16 {
		return false
	}
	b := a.As16()
	for i := 0; i < 10; i++ {
		if b[i] != 0 {
			return false
		}
	}
	return b[10] == 0xff && b[11] == 0xff
}

// ServerListen mirrors nx_tcp_server_socket_listen: it starts listening on
// port (IPv4 and IPv6) with room for backlog pending connections, and
// attaches s as the socket the next ServerAccept fills. It does not block.
// Errors: nx.ErrDuplicateListen, nx.ErrInvalidPort (0), nx.ErrAlreadyBound
// (s is bound or listening), nx.ErrPortUnavailable.
func (ip *IP) ServerListen(port uint16, s *TCPSocket, backlog int) error {
	if port == 0 {
		return fmt.Errorf("netstack: listen: %w", nx.ErrInvalidPort)
	}
	ip.mu.Lock()
	defer ip.mu.Unlock()
	if ip.closed {
		return fmt.Errorf("netstack: listen %d: %w", port, nx.ErrNotEnabled)
	}
	if _, dup := ip.listeners[port]; dup {
		return fmt.Errorf("netstack: listen %d: %w", port, nx.ErrDuplicateListen)
	}
	if s != nil {
		s.mu.Lock()
		busy := s.port != 0 || s.server != nil || s.deleted
		s.mu.Unlock()
		if busy {
			return fmt.Errorf("netstack: listen %d: socket %q: %w", port, s.name, nx.ErrAlreadyBound)
		}
	}
	l, err := ip.newListener(port, backlog)
	if err != nil {
		return fmt.Errorf("netstack: listen %d: %w", port, err)
	}
	ip.listeners[port] = l
	if s != nil {
		l.sock = s
		s.mu.Lock()
		s.server = l
		s.port = port
		s.mu.Unlock()
	}
	return nil
}

// ServerAccept mirrors nx_tcp_server_socket_accept: it blocks up to wait for
// a connection on the socket's listening port and makes it this socket's
// connection. Errors: nx.ErrNotListenState (no listen on s),
// nx.ErrNotConnected (no connection within the wait, or the listener
// closed), nx.ErrWaitAborted.
func (s *TCPSocket) ServerAccept(ctx context.Context, wait nx.Wait) error {
	s.mu.Lock()
	l := s.server
	busy := s.ep != nil
	s.mu.Unlock()
	if l == nil {
		return fmt.Errorf("netstack: tcp socket %q: accept: %w", s.name, nx.ErrNotListenState)
	}
	if busy {
		return fmt.Errorf("netstack: tcp socket %q: accept: %w", s.name, nx.ErrAlreadyBound)
	}
	if wait == nx.NoWait {
		// NetX returns NX_IN_PROGRESS when no SYN has arrived yet.
		nep, nwq, peer, err := l.accept(ctx, deadlineOf(s.ip.clock, nx.NoWait))
		if err != nil {
			return fmt.Errorf("netstack: tcp socket %q: accept: %w", s.name, nx.ErrInProgress)
		}
		l.adopt(s, nep, nwq, peer)
		return nil
	}
	nep, nwq, peer, err := l.accept(ctx, deadlineOf(s.ip.clock, wait))
	if err != nil {
		return fmt.Errorf("netstack: tcp socket %q: accept: %w", s.name, err)
	}
	l.adopt(s, nep, nwq, peer)
	return nil
}

// ServerRelisten mirrors nx_tcp_server_socket_relisten: it attaches s to an
// existing listen on port for the next ServerAccept. Errors:
// nx.ErrNotFound (no listen on port), nx.ErrAlreadyBound (s busy),
// nx.ErrInvalidRelisten (another socket is attached).
func (ip *IP) ServerRelisten(port uint16, s *TCPSocket) error {
	ip.mu.Lock()
	defer ip.mu.Unlock()
	l := ip.listeners[port]
	if l == nil {
		return fmt.Errorf("netstack: relisten %d: %w", port, nx.ErrNotFound)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.server == l {
		return nil
	}
	if s.port != 0 || s.server != nil {
		return fmt.Errorf("netstack: relisten %d: socket %q: %w", port, s.name, nx.ErrAlreadyBound)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.sock != nil && l.sock != s {
		return fmt.Errorf("netstack: relisten %d: %w", port, nx.ErrInvalidRelisten)
	}
	l.sock = s
	s.server = l
	s.port = port
	return nil
}

// ServerUnaccept mirrors nx_tcp_server_socket_unaccept: it detaches s from
// its listening port after the connection has been disconnected.
// Errors: nx.ErrNotListenState, nx.ErrNotClosed (still connected).
func (s *TCPSocket) ServerUnaccept() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	l := s.server
	if l == nil {
		return fmt.Errorf("netstack: tcp socket %q: unaccept: %w", s.name, nx.ErrNotListenState)
	}
	if s.ep != nil {
		st := tcp.EndpointState(s.ep.State())
		if st != tcp.StateClose && st != tcp.StateError && st != tcp.StateTimeWait {
			return fmt.Errorf("netstack: tcp socket %q: unaccept: %w", s.name, nx.ErrNotClosed)
		}
		s.abortLocked(nx.ErrNotConnected)
		s.detachLocked()
	}
	l.mu.Lock()
	if l.sock == s {
		l.sock = nil
	}
	l.mu.Unlock()
	s.server = nil
	s.port = 0
	return nil
}

// ServerUnlisten mirrors nx_tcp_server_socket_unlisten: it stops listening
// on port. Pending connections not yet accepted are reset. A socket still
// attached is detached. Errors: nx.ErrEntryNotFound.
func (ip *IP) ServerUnlisten(port uint16) error {
	ip.mu.Lock()
	l := ip.listeners[port]
	delete(ip.listeners, port)
	ip.mu.Unlock()
	if l == nil {
		return fmt.Errorf("netstack: unlisten %d: %w", port, nx.ErrEntryNotFound)
	}
	l.mu.Lock()
	s := l.sock
	l.sock = nil
	l.mu.Unlock()
	if s != nil {
		s.mu.Lock()
		if s.server == l && s.ep == nil {
			s.server = nil
			s.port = 0
		}
		s.mu.Unlock()
	}
	l.close()
	return nil
}

// Listener is a net.Listener over a board listening port. Each Accept
// returns a *Conn over a fresh TCPSocket. Safe for concurrent use.
type Listener struct {
	ip     *IP
	l      *listener
	ctx    context.Context
	cancel context.CancelFunc
	once   sync.Once
}

var _ net.Listener = (*Listener)(nil)

// ListenTCP listens on port (IPv4 and IPv6) for the Go adapters: go-smtp,
// crypto/tls and net/textproto servers can serve on a board. It does not block.
// Errors wrap nx.ErrDuplicateListen, nx.ErrInvalidPort or nx.ErrPortUnavailable.
// It is ListenTCPBacklog with a backlog of 16.
func (ip *IP) ListenTCP(port uint16) (*Listener, error) {
	return ip.ListenTCPBacklog(port, 16)
}

// ListenTCPBacklog is ListenTCP with room for backlog connections that have
// completed the handshake but are not accepted yet (backlog <= 0 means 5, as
// ServerListen). A server that many clients reach at once (a fleet's mail
// host) needs a backlog of about the number of clients: beyond backlog-1
// handshakes in progress gVisor answers with SYN cookies, and the final ACK
// of a cookie handshake that finds the accept queue full is dropped without
// state. For a protocol where the server speaks first (SMTP, POP3) the
// client then waits for a greeting that never comes (NX_NO_PACKET at the
// greeting timeout): nothing is left to retransmit.
func (ip *IP) ListenTCPBacklog(port uint16, backlog int) (*Listener, error) {
	if port == 0 {
		return nil, fmt.Errorf("netstack: listen: %w", nx.ErrInvalidPort)
	}
	ip.mu.Lock()
	defer ip.mu.Unlock()
	if ip.closed {
		return nil, fmt.Errorf("netstack: listen %d: %w", port, nx.ErrNotEnabled)
	}
	if _, dup := ip.listeners[port]; dup {
		return nil, fmt.Errorf("netstack: listen %d: %w", port, nx.ErrDuplicateListen)
	}
	l, err := ip.newListener(port, backlog)
	if err != nil {
		return nil, fmt.Errorf("netstack: listen %d: %w", port, err)
	}
	ip.listeners[port] = l
	ctx, cancel := context.WithCancel(context.Background())
	return &Listener{ip: ip, l: l, ctx: ctx, cancel: cancel}, nil
}

// Accept blocks until a connection arrives or the listener is closed
// (net.ErrClosed).
func (ln *Listener) Accept() (net.Conn, error) {
	nep, nwq, peer, err := ln.l.accept(ln.ctx, deadline{forever: true})
	if err != nil {
		if errors.Is(err, nx.ErrNotConnected) || errors.Is(err, nx.ErrWaitAborted) {
			return nil, &net.OpError{Op: "accept", Net: "tcp", Addr: ln.Addr(), Err: net.ErrClosed}
		}
		return nil, &net.OpError{Op: "accept", Net: "tcp", Addr: ln.Addr(), Err: err}
	}
	s, err := ln.ip.TCPSocketCreate(fmt.Sprintf("accept-%d", ln.l.port), 0)
	if err != nil {
		nep.Close()
		return nil, err
	}
	s.mu.Lock()
	s.server = ln.l
	s.port = ln.l.port
	s.mu.Unlock()
	ln.l.adopt(s, nep, nwq, peer)
	return NewConn(s), nil
}

// Close stops listening; a blocked Accept returns net.ErrClosed. Idempotent.
func (ln *Listener) Close() error {
	ln.once.Do(func() {
		ln.cancel()
		ln.ip.mu.Lock()
		if ln.ip.listeners[ln.l.port] == ln.l {
			delete(ln.ip.listeners, ln.l.port)
		}
		ln.ip.mu.Unlock()
		ln.l.close()
	})
	return nil
}

// Addr returns the listening address (the board's IPv4 address when set).
func (ln *Listener) Addr() net.Addr {
	a := ln.ip.addrGet().Addr()
	if !a.IsValid() {
		a = ln.ip.addr6.Addr()
	}
	return net.TCPAddrFromAddrPort(netip.AddrPortFrom(a, ln.l.port))
}
