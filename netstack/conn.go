package netstack

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"math"
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
// them once copied. One reader and one writer may run at once; Close may be
// called from any goroutine and is idempotent.
//
// Deadlines given to SetDeadline, SetReadDeadline and SetWriteDeadline are
// wall-clock values, as for any net.Conn (go-smtp and crypto/tls compute
// them as time.Now().Add(d)), but the wait runs on the IP's clock: when a
// deadline is set, the real time left until it (t minus time.Now()) is
// rounded up to a NetX tick (10 ms) and the deadline becomes that long after
// the IP clock's Now. On the system clock this is the same deadline within a
// tick; on a virtual clock (package sim) a 30 s read deadline expires after
// 30 s of simulated time, and the few microseconds of wall time between the
// caller's time.Now and SetReadDeadline do not change the simulated instant.
// A deadline already past makes the next Read or Write fail at once; the
// zero time means none. SetDeadlineAfter, SetReadDeadlineAfter and
// SetWriteDeadlineAfter take the duration on the IP's clock directly, for
// code that already works on that clock. A new deadline applies to the next
// Read or Write; a blocked one keeps the wait it started with (Close ends
// it).
type Conn struct {
	s      *TCPSocket
	ctx    context.Context
	cancel context.CancelFunc

	rmu  sync.Mutex // serialises readers; guards rest
	rest *packetpool.Packet
	roff int

	wmu sync.Mutex // serialises writers

	dmu           sync.Mutex
	readDeadline  time.Time // on the IP's clock; zero: none
	writeDeadline time.Time // on the IP's clock; zero: none

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

// waitFor turns a deadline on the IP's clock into the wait option of the
// next socket call; false when the deadline has passed.
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

// onClock maps the wall-clock deadline t onto the IP's clock: the real time
// left until t, rounded up to a tick, from the IP clock's Now. A t already
// past gives a deadline that has passed; the zero time stays zero.
func (c *Conn) onClock(t time.Time) time.Time { return DeadlineOnClock(c.s.ip.clock, t) }

// DeadlineOnClock maps a net.Conn deadline, a wall-clock time (what
// go-smtp, crypto/tls and every net.Conn user pass: time.Now().Add(d)),
// onto clk: the real time left until t, rounded up to a NetX tick so a few
// microseconds of wall time between the caller's time.Now and this call do
// not move the simulated instant, from clk's now. The zero time (no
// deadline) stays zero; a t already past gives an instant before clk's
// now. Conn and the DHCP/DNS/SNTP servers' PacketConn use it.
func DeadlineOnClock(clk nx.Clock, t time.Time) time.Time {
	if t.IsZero() {
		return t
	}
	return afterOn(clk, roundUpTick(time.Until(t)))
}

// after returns the deadline d from now on the IP's clock (afterOn).
func (c *Conn) after(d time.Duration) time.Time { return afterOn(c.s.ip.clock, d) }

// afterOn returns the instant d from clk's now. A d <= 0 gives an instant
// that has already passed (never the zero time, which means none).
func afterOn(clk nx.Clock, d time.Duration) time.Time {
	now := clk.Now()
	if d <= 0 {
		// Strictly before now, and not zero even for a clock at the
		// zero time.
		return now.Add(-time.Nanosecond)
	}
	return now.Add(d)
}

// roundUpTick rounds d up to a whole number of NetX ticks (d <= 0 stays).
func roundUpTick(d time.Duration) time.Duration {
	if d <= 0 {
		return d
	}
	if r := d % nx.TickDuration; r != 0 {
		if d > math.MaxInt64-nx.TickDuration {
			return d
		}
		d += nx.TickDuration - r
	}
	return d
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

// SetDeadline sets both deadlines. t is a wall-clock time (as for any
// net.Conn) and is mapped onto the IP's clock now, as the Conn documentation
// says; the zero time means none. It does not block and always returns nil.
func (c *Conn) SetDeadline(t time.Time) error {
	d := c.onClock(t)
	c.dmu.Lock()
	c.readDeadline, c.writeDeadline = d, d
	c.dmu.Unlock()
	return nil
}

// SetReadDeadline sets the read deadline (wall clock, mapped onto the IP's
// clock); it applies to the next Read. It does not block.
func (c *Conn) SetReadDeadline(t time.Time) error {
	d := c.onClock(t)
	c.dmu.Lock()
	c.readDeadline = d
	c.dmu.Unlock()
	return nil
}

// SetWriteDeadline sets the write deadline (wall clock, mapped onto the IP's
// clock); it applies to the next Write. It does not block.
func (c *Conn) SetWriteDeadline(t time.Time) error {
	d := c.onClock(t)
	c.dmu.Lock()
	c.writeDeadline = d
	c.dmu.Unlock()
	return nil
}

// SetDeadlineAfter sets both deadlines d from now on the IP's clock, with
// no wall-clock reading: the call for code that keeps its time on the
// board's clock (the mail clients, the mail host). A d <= 0 makes the next
// Read and Write fail at once; use SetDeadline(time.Time{}) for none. It
// does not block and always returns nil.
func (c *Conn) SetDeadlineAfter(d time.Duration) error {
	t := c.after(d)
	c.dmu.Lock()
	c.readDeadline, c.writeDeadline = t, t
	c.dmu.Unlock()
	return nil
}

// SetReadDeadlineAfter is SetDeadlineAfter for the read deadline only.
func (c *Conn) SetReadDeadlineAfter(d time.Duration) error {
	t := c.after(d)
	c.dmu.Lock()
	c.readDeadline = t
	c.dmu.Unlock()
	return nil
}

// SetWriteDeadlineAfter is SetDeadlineAfter for the write deadline only.
func (c *Conn) SetWriteDeadlineAfter(d time.Duration) error {
	t := c.after(d)
	c.dmu.Lock()
	c.writeDeadline = t
	c.dmu.Unlock()
	return nil
}

func (c *Conn) String() string {
	return fmt.Sprintf("netstack.Conn(%v->%v)", c.s.LocalAddr(), c.s.RemoteAddr())
}

// SetDeadlines bounds the next read, write or both on c by d from now: on
// the board's clock when c is a board's Conn, or a *tls.Conn over one
// (crypto/tls sets its deadlines on the connection under it), so under
// virtual time the wait ends at an exact simulated instant; on any other
// connection as a wall-clock deadline, as net.Conn wants. A d < 0 clears
// them. It does not block.
func SetDeadlines(c net.Conn, read, write bool, d time.Duration) {
	under := c
	if tc, ok := c.(*tls.Conn); ok {
		under = tc.NetConn()
	}
	if bc, ok := under.(*Conn); ok && d >= 0 {
		t := bc.after(d)
		bc.dmu.Lock()
		if read {
			bc.readDeadline = t
		}
		if write {
			bc.writeDeadline = t
		}
		bc.dmu.Unlock()
		return
	}
	var t time.Time
	if d >= 0 {
		t = time.Now().Add(d)
	}
	switch {
	case read && write:
		_ = c.SetDeadline(t)
	case read:
		_ = c.SetReadDeadline(t)
	case write:
		_ = c.SetWriteDeadline(t)
	}
}
