package netstack

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"sync"
	"time"

	"github.com/simboard/simboard/nx"
	"github.com/simboard/simboard/packetpool"
)

// writeChunk is the most bytes one Conn.Write puts into a single packet chain
// before sending it: big enough to amortise the per-send cost, small enough
// that NX_TCP_MAXIMUM_TX_QUEUE chains stay within an MCU-sized pool.
const writeChunk = 16 << 10

// Conn is a net.Conn over a TCPSocket, for code that speaks Go's interfaces
// (crypto/tls, go-smtp, net/textproto). Write allocates packet chains from
// the IP's default pool and sends them; Read receives packets and releases
// them once copied. Deadlines are honoured. One reader and one writer may
// run at once; Close may be called from any goroutine and is idempotent.
type Conn struct {
	s      *TCPSocket
	ctx    context.Context
	cancel context.CancelFunc

	rmu  sync.Mutex // serialises readers; guards rest
	rest *packetpool.Packet
	roff int

	wmu sync.Mutex // serialises writers

	dmu           sync.Mutex
	readDeadline  time.Time
	writeDeadline time.Time

	closeOnce sync.Once
}

var _ net.Conn = (*Conn)(nil)

// NewConn wraps a connected socket. The Conn owns the socket from now on:
// Close disconnects, unbinds and deletes it.
func NewConn(s *TCPSocket) *Conn {
	ctx, cancel := context.WithCancel(context.Background())
	return &Conn{s: s, ctx: ctx, cancel: cancel}
}

// DialTCP creates a socket, binds it to any port and connects to addr,
// returning it as a Conn. It blocks until connected or ctx is done.
func (ip *IP) DialTCP(ctx context.Context, addr netip.AddrPort) (*Conn, error) {
	s, err := ip.TCPSocketCreate("dial", 0)
	if err != nil {
		return nil, err
	}
	if err := s.ClientBind(ctx, 0, nx.NoWait); err != nil {
		_ = s.Delete()
		return nil, err
	}
	if err := s.Connect(ctx, addr, nx.WaitForever); err != nil {
		_ = s.ClientUnbind()
		_ = s.Delete()
		return nil, err
	}
	return NewConn(s), nil
}

// Socket returns the underlying socket.
func (c *Conn) Socket() *TCPSocket { return c.s }

func (c *Conn) waitFor(d time.Time) (nx.Wait, bool) {
	if d.IsZero() {
		return nx.WaitForever, true
	}
	left := d.Sub(c.s.ip.clock.Now())
	if left <= 0 {
		return nx.NoWait, false
	}
	return nx.FromDuration(left), true
}

func (c *Conn) opErr(op string, err error) error {
	switch {
	case errors.Is(err, nx.ErrNotConnected) && op == "read":
		return io.EOF
	case errors.Is(err, nx.ErrWaitAborted):
		return &net.OpError{Op: op, Net: "tcp", Source: c.LocalAddr(), Addr: c.RemoteAddr(), Err: net.ErrClosed}
	case errors.Is(err, nx.ErrNoPacket) && op == "read",
		errors.Is(err, nx.ErrWindowOverflow), errors.Is(err, nx.ErrTXQueueDepth):
		return &net.OpError{Op: op, Net: "tcp", Source: c.LocalAddr(), Addr: c.RemoteAddr(), Err: os.ErrDeadlineExceeded}
	}
	return &net.OpError{Op: op, Net: "tcp", Source: c.LocalAddr(), Addr: c.RemoteAddr(), Err: err}
}

// Read copies received bytes into b. It returns io.EOF after the peer's FIN
// (or reset) once all data has been read.
func (c *Conn) Read(b []byte) (int, error) {
	if len(b) == 0 {
		return 0, nil
	}
	c.rmu.Lock()
	defer c.rmu.Unlock()
	if c.rest == nil {
		c.dmu.Lock()
		d := c.readDeadline
		c.dmu.Unlock()
		wait, ok := c.waitFor(d)
		if !ok {
			return 0, c.opErr("read", nx.ErrNoPacket)
		}
		pkt, err := c.s.Receive(c.ctx, wait)
		if err != nil {
			return 0, c.opErr("read", err)
		}
		c.rest, c.roff = pkt, 0
	}
	n := c.drain(b)
	// Fill the rest of b from packets already received, without waiting:
	// one Read then costs one call for many segments, as a kernel socket does.
	for n < len(b) {
		pkt, err := c.s.Receive(c.ctx, nx.NoWait)
		if err != nil {
			break
		}
		c.rest, c.roff = pkt, 0
		n += c.drain(b[n:])
	}
	return n, nil
}

// drain copies from the held packet into b and releases it once empty.
// Caller holds rmu and c.rest != nil.
func (c *Conn) drain(b []byte) int {
	n, _ := c.rest.ExtractOffset(c.roff, b)
	c.roff += n
	if c.roff >= c.rest.Length() {
		_ = c.rest.Release()
		c.rest = nil
	}
	return n
}

// Write sends b as one or more packet chains. It blocks while the pool is
// empty, the transmit queue is full or the window is shut, up to the write
// deadline.
func (c *Conn) Write(b []byte) (int, error) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	pool := c.s.ip.pool
	written := 0
	for written < len(b) {
		c.dmu.Lock()
		d := c.writeDeadline
		c.dmu.Unlock()
		wait, ok := c.waitFor(d)
		if !ok {
			return written, c.opErr("write", nx.ErrWindowOverflow)
		}
		chunk := b[written:min(len(b), written+writeChunk)]
		pkt, err := pool.Allocate(c.ctx, c.s.PacketType(), wait)
		if err != nil {
			if errors.Is(err, nx.ErrNoPacket) {
				err = nx.ErrWindowOverflow
			}
			return written, c.opErr("write", err)
		}
		if err := pkt.Append(c.ctx, chunk, pool, wait); err != nil {
			_ = pkt.Release()
			if errors.Is(err, nx.ErrNoPacket) {
				err = nx.ErrWindowOverflow
			}
			return written, c.opErr("write", err)
		}
		if err := c.s.Send(c.ctx, pkt, wait); err != nil {
			sent := len(chunk) - pkt.Length()
			_ = pkt.Release()
			return written + sent, c.opErr("write", err)
		}
		written += len(chunk)
	}
	return written, nil
}

// CloseWrite sends a FIN; reads continue until the peer closes.
func (c *Conn) CloseWrite() error {
	c.s.mu.Lock()
	ep := c.s.ep
	c.s.mu.Unlock()
	if ep == nil {
		return &net.OpError{Op: "close", Net: "tcp", Err: net.ErrClosed}
	}
	ep.Shutdown(shutdownWrite)
	return nil
}

// Close closes the connection without blocking: the stack finishes the
// orderly close (FIN, retransmissions) in the background, the socket's
// packets are released at once, and the socket is unbound and deleted.
// Blocked Read and Write calls return. Idempotent.
func (c *Conn) Close() error {
	c.closeOnce.Do(func() {
		c.cancel()
		c.s.closeGraceful()
		c.rmu.Lock()
		if c.rest != nil {
			_ = c.rest.Release()
			c.rest = nil
		}
		c.rmu.Unlock()
		if err := c.s.ClientUnbind(); err != nil {
			_ = c.s.ServerUnaccept()
		}
		_ = c.s.Delete()
	})
	return nil
}

// LocalAddr returns the board side of the connection.
func (c *Conn) LocalAddr() net.Addr { return net.TCPAddrFromAddrPort(c.s.LocalAddr()) }

// RemoteAddr returns the peer.
func (c *Conn) RemoteAddr() net.Addr { return net.TCPAddrFromAddrPort(c.s.RemoteAddr()) }

// SetDeadline sets both deadlines.
func (c *Conn) SetDeadline(t time.Time) error {
	c.dmu.Lock()
	c.readDeadline, c.writeDeadline = t, t
	c.dmu.Unlock()
	return nil
}

// SetReadDeadline sets the read deadline; it applies to the next Read.
func (c *Conn) SetReadDeadline(t time.Time) error {
	c.dmu.Lock()
	c.readDeadline = t
	c.dmu.Unlock()
	return nil
}

// SetWriteDeadline sets the write deadline; it applies to the next Write.
func (c *Conn) SetWriteDeadline(t time.Time) error {
	c.dmu.Lock()
	c.writeDeadline = t
	c.dmu.Unlock()
	return nil
}

func (c *Conn) String() string {
	return fmt.Sprintf("netstack.Conn(%v->%v)", c.s.LocalAddr(), c.s.RemoteAddr())
}
