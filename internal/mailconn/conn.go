// Package mailconn is the one connection layer under the board's mail
// clients (apps/smtpc and apps/pop3c). It owns the plumbing both need and
// nothing protocol-specific:
//
//   - the packet path: commands and message data are written into packet
//     chains of the client's pool and handed to TCPSocket.Send (a failed send
//     is released here, as NetX leaves it with the caller); received packets
//     are read in place and released, or handed to the caller whole (Take);
//   - the TLS upgrade (STARTTLS, STLS, implicit TLS) over a netstack.Conn on
//     the same socket;
//   - every wait as a deadline on the board's clock (the IP's nx.Clock), never
//     time.Now;
//   - one error mapping: a timeout is nx.ErrNoPacket (receive) or
//     nx.ErrWindowOverflow (send), a closed or reset connection
//     nx.ErrNotConnected, and a done context nx.ErrWaitAborted wrapped
//     together with ctx.Err(), so errors.Is(err, context.DeadlineExceeded)
//     holds;
//   - bounded line reading (LineReader).
//
// Nothing leaves the board once a context is done: every Write, Flush and
// StartTLS checks the context before it allocates or sends, whatever the pool
// and the window would allow, and Close with a done context resets the
// connection instead of closing it gracefully.
package mailconn

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"time"

	"github.com/simboard/simboard/netstack"
	"github.com/simboard/simboard/nx"
	"github.com/simboard/simboard/packetpool"
)

// Socket is the part of *netstack.TCPSocket the packet path uses (an
// interface so unit tests can script a socket). A socket that should carry
// TLS is either a *netstack.TCPSocket or has a NetConn() net.Conn method.
type Socket interface {
	PacketType() int
	Send(ctx context.Context, pkt *packetpool.Packet, wait nx.Wait) error
	Receive(ctx context.Context, wait nx.Wait) (*packetpool.Packet, error)
	Disconnect(ctx context.Context, wait nx.Wait) error
	ClientUnbind() error
	Delete() error
}

var _ Socket = (*netstack.TCPSocket)(nil)

// ErrPoolExhausted marks a failure to allocate a packet for a command or
// message data (next to the pool's nx.ErrNoPacket): the client's pool is too
// small or its packets are held elsewhere.
var ErrPoolExhausted = errors.New("packet pool exhausted")

// Config configures a Conn. Zero values are documented per field.
type Config struct {
	// Prefix starts every error message ("smtpc"); "" for none, when the
	// client adds its own context.
	Prefix string
	// Pool supplies the packets commands and message data are written
	// into. Required for the packet path.
	Pool *packetpool.Pool
	// Clock is the board's clock: every wait becomes a deadline on it.
	// nil means nx.SystemClock.
	Clock nx.Clock
	// Packet bounds each packet allocation and append.
	Packet nx.Wait
	// Send bounds each TCP send (packet path) or Write (TLS).
	Send nx.Wait
	// Disconnect bounds a graceful close.
	Disconnect nx.Wait
	// ChainSize: Write hands a chain to the socket once it holds this
	// many bytes. 0 means only Flush sends.
	ChainSize int
	// DeleteOnClose makes Close also delete the socket (pop3c's socket
	// lives as long as the session); otherwise the socket is left unbound
	// for the next connection (smtpc reuses it). A socket handed to TLS is
	// always deleted by the TLS connection's close.
	DeleteOnClose bool
}

// Conn is one client connection: the plaintext packet path on a Socket, or
// a net.Conn (TLS over netstack.Conn after StartTLS, or any stream given to
// NewNetConn). It is used by one goroutine at a time (the client's lock
// holder); only the context watch runs elsewhere.
type Conn struct {
	cfg Config

	// Packet path.
	sock    Socket
	cur     *packetpool.Packet // transmit chain being filled; owned until sent
	rx      *packetpool.Packet // received chain being read (owned)
	rxNext  *packetpool.Packet // next buffer of rx to return
	whole   bool               // the last Recv returned all of rx, unchained
	isChain bool               // rx is a chain

	// Stream path.
	nc        net.Conn // the TLS connection (or the plain stream)
	raw       net.Conn // the connection under TLS (== nc when plain)
	rst       func()   // resets the socket under raw before it is closed
	interrupt func()   // unblocks a blocked Read/Write when ctx is done
	wbuf      []byte
	rbuf      []byte
	tlsState  *tls.ConnectionState

	consumed bool // the socket now belongs to raw
	closed   bool
}

// New returns a Conn on a connected socket. The Conn owns the socket's
// connection from now on (Close disconnects it). It does not block.
func New(sock Socket, cfg Config) *Conn {
	return &Conn{cfg: cfg, sock: sock}
}

// NewNetConn returns a Conn over any stream (a net.Pipe in unit tests). A
// done context interrupts a blocked Read or Write through a past deadline.
func NewNetConn(c net.Conn, cfg Config) *Conn {
	return &Conn{cfg: cfg, nc: c, raw: c}
}

func (c *Conn) clock() nx.Clock {
	if c.cfg.Clock == nil {
		return nx.SystemClock
	}
	return c.cfg.Clock
}

// Deadline converts a wait option to a deadline on the board's clock (the
// zero time for nx.WaitForever).
func (c *Conn) Deadline(w nx.Wait) time.Time {
	if w.Forever() {
		return time.Time{}
	}
	return c.clock().Now().Add(w.Duration())
}

const (
	readDeadline = iota
	writeDeadline
	bothDeadlines
)

// setDeadline bounds the next stream read, write or both by w
// (netstack.SetDeadlines: on the board's clock for a netstack.Conn, under
// TLS too). nx.WaitForever clears it.
func (c *Conn) setDeadline(which int, w nx.Wait) {
	d := time.Duration(-1)
	if !w.Forever() {
		d = w.Duration()
	}
	netstack.SetDeadlines(c.raw, which != writeDeadline, which != readDeadline, d)
}

// Secure reports whether the connection runs over TLS.
func (c *Conn) Secure() bool { return c.tlsState != nil }

// TLSState returns the TLS connection state, or nil before TLS.
func (c *Conn) TLSState() *tls.ConnectionState { return c.tlsState }

// Consumed reports whether the socket was handed to a TLS connection, which
// unbinds and deletes it when it closes: the client must not reuse it.
func (c *Conn) Consumed() bool { return c.consumed }

// Socket returns the socket of the plaintext packet path, for a caller that
// must drive it send by send (smtpc's ProfileNetX state machine); nil on the
// stream path or once TLS owns the socket.
func (c *Conn) Socket() Socket {
	if c.nc != nil || c.sock == nil {
		return nil
	}
	return c.sock
}

// PacketType returns the packet type commands are allocated with (TCP/IP
// header room), 0 on the stream path.
func (c *Conn) PacketType() int {
	if c.sock != nil && c.nc == nil {
		return c.sock.PacketType()
	}
	return 0
}

func (c *Conn) errf(format string, a ...any) error {
	return fmt.Errorf(c.op(format), a...)
}

// op prefixes s with Config.Prefix, when there is one.
func (c *Conn) op(s string) string {
	if c.cfg.Prefix == "" {
		return s
	}
	return c.cfg.Prefix + ": " + s
}

// Write queues p. On the packet path it fills packet chains from the pool
// (chained as they grow) and sends a chain once it holds ChainSize bytes;
// on the stream path it buffers and writes per 16 KiB. It blocks for packet
// allocation and sends. Nothing is allocated or sent when ctx is done
// (nx.ErrWaitAborted with ctx.Err()). Pool exhaustion wraps
// ErrPoolExhausted and nx.ErrNoPacket; a queued chain stays owned by the
// Conn until sent or closed.
func (c *Conn) Write(ctx context.Context, p []byte) error {
	if c.closed {
		return c.errf("write: %w", nx.ErrNotConnected)
	}
	if ctx.Err() != nil {
		return Aborted(ctx, c.op("write"))
	}
	if c.nc != nil {
		c.wbuf = append(c.wbuf, p...)
		if len(c.wbuf) >= 16<<10 {
			return c.Flush(ctx)
		}
		return nil
	}
	for len(p) > 0 {
		if ctx.Err() != nil {
			return Aborted(ctx, c.op("write"))
		}
		if c.cur == nil {
			pkt, err := c.cfg.Pool.Allocate(ctx, c.sock.PacketType(), c.cfg.Packet)
			if err != nil {
				return c.allocErr(ctx, err)
			}
			c.cur = pkt
		}
		n := len(p)
		if c.cfg.ChainSize > 0 {
			n = min(n, c.cfg.ChainSize-c.cur.Length())
			if n <= 0 {
				n = len(p)
			}
		}
		if err := c.cur.Append(ctx, p[:n], c.cfg.Pool, c.cfg.Packet); err != nil {
			return c.allocErr(ctx, err)
		}
		p = p[n:]
		if c.cfg.ChainSize > 0 && c.cur.Length() >= c.cfg.ChainSize {
			if err := c.Flush(ctx); err != nil {
				return err
			}
		}
	}
	return nil
}

func (c *Conn) allocErr(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return Aborted(ctx, c.op("allocate"))
	}
	if errors.Is(err, nx.ErrNoPacket) {
		return c.errf("allocate: %w: %w", ErrPoolExhausted, err)
	}
	return c.errf("allocate: %w", err)
}

// Flush sends everything queued. It blocks for the send (Config.Send).
// Nothing is sent when ctx is done. On the packet path a successful send
// hands the chain to the socket; a failed one is released here.
func (c *Conn) Flush(ctx context.Context) error {
	if c.closed {
		return c.errf("send: %w", nx.ErrNotConnected)
	}
	if ctx.Err() != nil {
		c.discard()
		return Aborted(ctx, c.op("send"))
	}
	if c.nc != nil {
		if len(c.wbuf) == 0 {
			return nil
		}
		c.setDeadline(writeDeadline, c.cfg.Send)
		stop := c.watch(ctx)
		_, err := c.nc.Write(c.wbuf)
		stop()
		c.wbuf = c.wbuf[:0]
		return c.mapErr(ctx, "send", err, nx.ErrWindowOverflow)
	}
	if c.cur == nil {
		return nil
	}
	pkt := c.cur
	c.cur = nil
	if err := c.sock.Send(ctx, pkt, c.cfg.Send); err != nil {
		_ = pkt.Release() // a failed send leaves the (trimmed) chain with us
		return c.mapErr(ctx, "send", err, nx.ErrWindowOverflow)
	}
	return nil
}

// discard releases a chain that was queued but not sent.
func (c *Conn) discard() {
	if c.cur != nil {
		_ = c.cur.Release()
		c.cur = nil
	}
	c.wbuf = c.wbuf[:0]
}

// Recv returns the next received bytes, never empty on success, waiting up
// to wait. They stay valid until the next Recv, Take, StartTLS or Close.
// Received packets are released by the Conn (unless taken). Errors: a
// timeout is nx.ErrNoPacket, a closed or reset connection
// nx.ErrNotConnected, a done ctx nx.ErrWaitAborted with ctx.Err().
func (c *Conn) Recv(ctx context.Context, wait nx.Wait) ([]byte, error) {
	if c.closed {
		return nil, c.errf("receive: %w", nx.ErrNotConnected)
	}
	if c.nc != nil {
		if c.rbuf == nil {
			c.rbuf = make([]byte, 16<<10) // one TLS record of plaintext
		}
		c.setDeadline(readDeadline, wait)
		stop := c.watch(ctx)
		defer stop()
		for {
			n, err := c.nc.Read(c.rbuf)
			if n > 0 {
				return c.rbuf[:n], nil
			}
			if err != nil {
				return nil, c.mapErr(ctx, "receive", err, nx.ErrNoPacket)
			}
		}
	}
	for {
		if c.rxNext != nil {
			b := c.rxNext.Bytes()
			c.rxNext = c.rxNext.Next()
			if len(b) > 0 {
				return b, nil
			}
			continue
		}
		c.releaseRx()
		pk, err := c.sock.Receive(ctx, wait)
		if err != nil {
			return nil, c.mapErr(ctx, "receive", err, nx.ErrNoPacket)
		}
		c.rx = pk
		if pk.Next() == nil {
			b := pk.Bytes()
			if len(b) == 0 {
				continue
			}
			c.whole = true
			return b, nil
		}
		c.isChain = true
		c.rxNext = pk
	}
}

func (c *Conn) releaseRx() {
	if c.rx != nil {
		_ = c.rx.Release()
	}
	c.rx, c.rxNext, c.whole, c.isChain = nil, nil, false, false
}

// Take hands the caller the packet behind the bytes the last Recv returned
// when they are one whole unchained receive packet, and nil otherwise. The
// caller then owns it and must release it; those bytes are no longer the
// Conn's.
func (c *Conn) Take() *packetpool.Packet {
	if !c.whole {
		return nil
	}
	pk := c.rx
	c.rx, c.whole = nil, false
	return pk
}

// Chained reports whether the bytes of the last Recv came from a chained
// packet.
func (c *Conn) Chained() bool { return c.isChain }

// Buffered reports whether received bytes are held that Recv has not
// returned yet (the rest of a chain).
func (c *Conn) Buffered() bool { return c.rxNext != nil }

// watch arranges for a blocked stream operation to return when ctx is done.
func (c *Conn) watch(ctx context.Context) (stop func() bool) {
	if ctx.Done() == nil {
		return func() bool { return true }
	}
	f := c.interrupt
	if f == nil {
		raw := c.raw
		f = func() { _ = raw.SetDeadline(time.Unix(1, 0)) }
	}
	return context.AfterFunc(ctx, f)
}

// mapErr maps a socket or net.Conn error to the NetX status a socket call
// would give, keeping the original error in the chain.
func (c *Conn) mapErr(ctx context.Context, op string, err error, timeout nx.Status) error {
	var st nx.Status
	switch {
	case err == nil:
		return nil
	case ctx.Err() != nil:
		return Aborted(ctx, c.op(op))
	case errors.As(err, &st):
		return c.errf("%s: %w", op, err)
	case errors.Is(err, os.ErrDeadlineExceeded):
		return c.errf("%s: %w", op, timeout)
	case errors.Is(err, io.EOF), errors.Is(err, net.ErrClosed), errors.Is(err, io.ErrClosedPipe):
		return c.errf("%s: %w", op, nx.ErrNotConnected)
	}
	return c.errf("%s: %w: %w", op, nx.ErrNotConnected, err)
}

// StartTLS runs a TLS client handshake over this connection, bounded by
// wait (a deadline on the board's clock) and ctx; on the packet path the
// socket is handed to a netstack.Conn, which owns it from then on. Whatever
// had been received and not returned is dropped: the caller must have
// checked that nothing is pending (bytes after a STARTTLS/STLS reply are an
// injection). Nothing is sent when ctx is done. Errors: nx.ErrWaitAborted
// (ctx), nx.ErrNoPacket (timeout), or the crypto/tls error wrapped in a
// *HandshakeError. After a failure the caller must Close the Conn, which
// resets the connection.
func (c *Conn) StartTLS(ctx context.Context, cfg *tls.Config, wait nx.Wait) error {
	if c.closed {
		return c.errf("tls handshake: %w", nx.ErrNotConnected)
	}
	if ctx.Err() != nil {
		return Aborted(ctx, c.op("tls handshake"))
	}
	c.discard()
	c.releaseRx()
	if c.nc == nil {
		var raw net.Conn
		switch s := c.sock.(type) {
		case *netstack.TCPSocket:
			nc := netstack.NewConn(s)
			raw = nc
			// A reset for the abort path; then raw.Close releases,
			// unbinds and deletes the socket.
			c.rst = func() { _ = s.Disconnect(context.Background(), nx.NoWait) }
			c.interrupt = func() { _ = nc.Close() }
		case interface{ NetConn() net.Conn }: // scripted sockets in tests
			raw = s.NetConn()
		default:
			return c.errf("tls handshake: socket cannot carry TLS: %w", nx.ErrNotSupported)
		}
		c.raw, c.consumed = raw, true
	}
	tc := tls.Client(c.raw, cfg)
	c.nc = tc
	c.setDeadline(bothDeadlines, wait)
	stop := c.watch(ctx)
	err := tc.HandshakeContext(ctx)
	stop()
	_ = c.raw.SetDeadline(time.Time{})
	if err != nil {
		switch {
		case ctx.Err() != nil:
			return Aborted(ctx, c.op("tls handshake"))
		case errors.Is(err, os.ErrDeadlineExceeded):
			return c.errf("tls handshake: %w", nx.ErrNoPacket)
		}
		return &HandshakeError{Prefix: c.cfg.Prefix, Err: err}
	}
	st := tc.ConnectionState()
	c.tlsState = &st
	return nil
}

// HandshakeError is a failed TLS handshake (certificate not verified, no
// common version or cipher, the peer aborted). Err is the crypto/tls error
// (for instance *tls.CertificateVerificationError). The client never falls
// back to plain text after one.
type HandshakeError struct {
	Prefix string
	Err    error
}

func (e *HandshakeError) Error() string {
	if e.Prefix == "" {
		return "tls handshake: " + e.Err.Error()
	}
	return e.Prefix + ": tls handshake: " + e.Err.Error()
}
func (e *HandshakeError) Unwrap() error { return e.Err }

// Close ends the connection and frees everything the Conn holds (queued and
// received packets). graceful with a live ctx sends FIN (TLS: close_notify
// first), waiting up to Config.Disconnect; otherwise, or when ctx is done,
// the connection is reset (RST). The socket is then unbound (and deleted
// with DeleteOnClose, or when TLS owns it). Idempotent; the error is the
// graceful disconnect's, for information.
func (c *Conn) Close(ctx context.Context, graceful bool) error {
	if c.closed {
		return nil
	}
	c.closed = true
	c.discard()
	c.releaseRx()
	live := graceful && ctx.Err() == nil
	if c.nc != nil {
		if live {
			c.setDeadline(bothDeadlines, c.cfg.Disconnect)
			return c.nc.Close() // TLS: close_notify, then the socket's FIN
		}
		if c.rst != nil {
			c.rst()
		}
		return c.raw.Close()
	}
	var err error
	if live {
		err = c.sock.Disconnect(ctx, c.cfg.Disconnect) // on failure it has reset the connection
	} else {
		_ = c.sock.Disconnect(context.Background(), nx.NoWait) // RST: NX_IN_PROGRESS by design
	}
	if uerr := c.sock.ClientUnbind(); err == nil && uerr != nil && !errors.Is(uerr, nx.ErrNotBound) {
		err = uerr
	}
	if c.cfg.DeleteOnClose {
		if derr := c.sock.Delete(); err == nil && derr != nil {
			err = derr
		}
	}
	return err
}

// CheckPool reports whether pool can ever hold a chain of n bytes behind room
// bytes of TCP/IP header room (the first packet keeps the room, the packets
// chained to it carry payload only). When it cannot, the error says how many
// packets of the pool's size it would take, so a client fails at once instead
// of after a packet wait that can never succeed. what names the chain ("a
// 512-octet command line").
func CheckPool(pool *packetpool.Pool, room, n int, what string) error {
	payload, total := pool.PayloadSize(), pool.Info().Total
	if payload <= room {
		return fmt.Errorf("pool %q: packets of %d bytes leave no room after %d bytes of TCP/IP header: %s needs packets larger than %d bytes",
			pool.Name(), payload, room, what, room)
	}
	need := 1
	if rest := n - (payload - room); rest > 0 {
		need += (rest + payload - 1) / payload
	}
	if total < need {
		return fmt.Errorf("pool %q has %d packets of %d bytes: %s (%d bytes after %d bytes of header room) needs at least %d packets of that size",
			pool.Name(), total, payload, what, n, room, need)
	}
	return nil
}
