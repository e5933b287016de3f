package pop3c

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

// transport is what the protocol core needs from a connection. One
// implementation sends and receives NetX-style packets on a TCP socket (plain
// POP3), one reads and writes a net.Conn (TLS over netstack.Conn), and the
// unit tests use a scripted fake. A transport is used by one goroutine at a
// time (the client's lock holder).
type transport interface {
	// send transmits one command line (CRLF included). It blocks for packet
	// allocation and the TCP send; nothing stays owned afterwards.
	send(ctx context.Context, line []byte) error
	// recv returns the next received bytes, never empty on success. They stay
	// valid until the next recv, take or close. Timeout: nx.ErrNoPacket;
	// connection closed or reset: nx.ErrNotConnected; ctx: nx.ErrWaitAborted.
	recv(ctx context.Context) ([]byte, error)
	// take hands the caller the packet behind the bytes the last recv
	// returned, when they are one whole unchained packet, and nil otherwise.
	// After a successful take those bytes are no longer valid.
	take() *packetpool.Packet
	// chained reports whether the bytes of the last recv came from a
	// chained packet.
	chained() bool
	// buffered reports whether received bytes are held that recv has not
	// returned yet (the rest of a chain).
	buffered() bool
	// close ends the connection and frees everything the transport holds:
	// graceful sends FIN and waits up to the disconnect timeout, otherwise
	// the connection is reset. Idempotent.
	close(ctx context.Context, graceful bool) error
}

// tcpSocket is the part of *netstack.TCPSocket the plain transport uses
// (an interface so the unit tests can script a socket).
type tcpSocket interface {
	PacketType() int
	Send(ctx context.Context, pkt *packetpool.Packet, wait nx.Wait) error
	Receive(ctx context.Context, wait nx.Wait) (*packetpool.Packet, error)
	Disconnect(ctx context.Context, wait nx.Wait) error
	ClientUnbind() error
	Delete() error
}

var _ tcpSocket = (*netstack.TCPSocket)(nil)

// sockTransport is the plain POP3 transport: commands go out as packets of
// the client's pool (type sock.PacketType(), so TCP/IP headers fit in front),
// replies come in as the socket's receive packets (from the IP's default
// pool), chains accepted.
type sockTransport struct {
	sock tcpSocket
	pool *packetpool.Pool
	to   *Timeouts
	netx bool // a command must fit in one packet (ProfileNetX)

	cur     *packetpool.Packet // received chain being read (owned)
	nextBuf *packetpool.Packet // next buffer of cur to return
	whole   bool               // the last recv returned all of cur, unchained
	isChain bool               // cur is a chain
	closed  bool
}

func (t *sockTransport) send(ctx context.Context, line []byte) error {
	if t.closed {
		return nx.ErrNotConnected
	}
	ptype := t.sock.PacketType()
	if t.netx && len(line) > t.pool.PayloadSize()-ptype {
		return fmt.Errorf("command of %d bytes does not fit one %d-byte packet: %w",
			len(line), t.pool.PayloadSize()-ptype, ErrInsufficientPacketPayload)
	}
	pk, err := t.pool.Allocate(ctx, ptype, t.to.Packet)
	if err != nil {
		return fmt.Errorf("allocate: %w", err)
	}
	if err := pk.Append(ctx, line, t.pool, t.to.Packet); err != nil {
		_ = pk.Release()
		return fmt.Errorf("append: %w", err)
	}
	if err := t.sock.Send(ctx, pk, t.to.Send); err != nil {
		_ = pk.Release() // a failed send leaves the packet with us (NetX rule)
		return fmt.Errorf("send: %w", err)
	}
	return nil
}

func (t *sockTransport) releaseCur() {
	if t.cur != nil {
		_ = t.cur.Release()
	}
	t.cur, t.nextBuf, t.whole, t.isChain = nil, nil, false, false
}

func (t *sockTransport) recv(ctx context.Context) ([]byte, error) {
	for {
		if t.nextBuf != nil {
			b := t.nextBuf.Bytes()
			t.nextBuf = t.nextBuf.Next()
			if len(b) > 0 {
				return b, nil
			}
			continue
		}
		t.releaseCur()
		if t.closed {
			return nil, nx.ErrNotConnected
		}
		pk, err := t.sock.Receive(ctx, t.to.Reply)
		if err != nil {
			return nil, fmt.Errorf("receive: %w", err)
		}
		t.cur = pk
		if pk.Next() == nil {
			b := pk.Bytes()
			if len(b) == 0 {
				continue
			}
			t.whole = true
			return b, nil
		}
		t.isChain = true
		t.nextBuf = pk
	}
}

func (t *sockTransport) take() *packetpool.Packet {
	if !t.whole {
		return nil
	}
	pk := t.cur
	t.cur, t.whole = nil, false
	return pk
}

func (t *sockTransport) chained() bool  { return t.isChain }
func (t *sockTransport) buffered() bool { return t.nextBuf != nil }

func (t *sockTransport) close(ctx context.Context, graceful bool) error {
	if t.closed {
		return nil
	}
	t.closed = true
	t.releaseCur()
	var err error
	if graceful {
		err = t.sock.Disconnect(ctx, t.to.Disconnect)
	} else {
		_ = t.sock.Disconnect(ctx, nx.NoWait) // RST; NX_IN_PROGRESS by design
	}
	if uerr := t.sock.ClientUnbind(); err == nil && uerr != nil && !errors.Is(uerr, nx.ErrNotBound) {
		err = uerr
	}
	if derr := t.sock.Delete(); err == nil && derr != nil {
		err = derr
	}
	return err
}

// connTransport runs the protocol over a net.Conn: TLS over a
// netstack.Conn on the client's socket. Waits become deadlines on the
// system clock.
type connTransport struct {
	conn   net.Conn // the *tls.Conn
	raw    net.Conn // the netstack.Conn under it
	to     *Timeouts
	buf    []byte
	closed bool
}

const connReadSize = 16 << 10 // one TLS record of plaintext

// deadline converts a wait option to a deadline (zero for WaitForever).
func deadline(w nx.Wait) time.Time {
	if w == nx.WaitForever {
		return time.Time{}
	}
	return time.Now().Add(w.Duration())
}

var longAgo = time.Unix(1, 0)

func (t *connTransport) send(ctx context.Context, line []byte) error {
	if t.closed {
		return nx.ErrNotConnected
	}
	_ = t.conn.SetWriteDeadline(deadline(t.to.Send))
	if ctx.Done() != nil {
		stop := context.AfterFunc(ctx, func() { _ = t.conn.SetWriteDeadline(longAgo) })
		defer stop()
	}
	_, err := t.conn.Write(line)
	if err != nil {
		return connErr(ctx, "send", err, nx.ErrWindowOverflow)
	}
	return nil
}

func (t *connTransport) recv(ctx context.Context) ([]byte, error) {
	if t.closed {
		return nil, nx.ErrNotConnected
	}
	if t.buf == nil {
		t.buf = make([]byte, connReadSize)
	}
	_ = t.conn.SetReadDeadline(deadline(t.to.Reply))
	if ctx.Done() != nil {
		stop := context.AfterFunc(ctx, func() { _ = t.conn.SetReadDeadline(longAgo) })
		defer stop()
	}
	for {
		n, err := t.conn.Read(t.buf)
		if n > 0 {
			return t.buf[:n], nil
		}
		if err != nil {
			return nil, connErr(ctx, "receive", err, nx.ErrNoPacket)
		}
	}
}

// connErr maps a net.Conn error to the NetX status a socket call would give:
// ctx cancelled => NX_WAIT_ABORTED, deadline => timeout, EOF or any other
// failure => NX_NOT_CONNECTED (keeping the original error in the chain).
func connErr(ctx context.Context, op string, err error, timeout nx.Status) error {
	if ctx.Err() != nil {
		return fmt.Errorf("%s: %w", op, nx.ErrWaitAborted)
	}
	var st nx.Status
	if errors.As(err, &st) {
		return fmt.Errorf("%s: %w", op, err)
	}
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return fmt.Errorf("%s: %w", op, timeout)
	}
	if errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) {
		return fmt.Errorf("%s: %w", op, nx.ErrNotConnected)
	}
	return fmt.Errorf("%s: %w (%w)", op, nx.ErrNotConnected, err)
}

func (t *connTransport) take() *packetpool.Packet { return nil }
func (t *connTransport) chained() bool            { return false }
func (t *connTransport) buffered() bool           { return false }

func (t *connTransport) close(ctx context.Context, graceful bool) error {
	if t.closed {
		return nil
	}
	t.closed = true
	if graceful {
		// close_notify, bounded by the disconnect wait, then the socket.
		_ = t.conn.SetDeadline(deadline(t.to.Disconnect))
		return t.conn.Close()
	}
	if nc, ok := t.raw.(*netstack.Conn); ok {
		_ = nc.Socket().Disconnect(ctx, nx.NoWait) // RST, as the plain transport does
	}
	return t.raw.Close()
}

var _ transport = (*sockTransport)(nil)
var _ transport = (*connTransport)(nil)

// handshake runs the TLS client handshake over raw, bounded by wait and ctx.
func handshake(ctx context.Context, raw net.Conn, cfg *tls.Config, wait nx.Wait) (*tls.Conn, error) {
	tc := tls.Client(raw, cfg)
	hctx := ctx
	if wait != nx.WaitForever {
		var cancel context.CancelFunc
		hctx, cancel = context.WithTimeout(ctx, wait.Duration())
		defer cancel()
	}
	if err := tc.HandshakeContext(hctx); err != nil {
		switch {
		case ctx.Err() != nil:
			return nil, fmt.Errorf("tls handshake: %w", nx.ErrWaitAborted)
		case hctx.Err() != nil:
			return nil, fmt.Errorf("tls handshake: %w", nx.ErrNoPacket)
		}
		return nil, fmt.Errorf("tls handshake: %w", err)
	}
	return tc, nil
}
