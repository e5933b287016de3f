package smtpc

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

// transport is what the session needs from a connection: the plaintext
// packet path on a TCPSocket, or a net.Conn (TLS over netstack.Conn, or a
// pipe in unit tests). One state machine runs over both.
type transport interface {
	receiver
	// write queues p; it may send on its own when a chain fills.
	write(ctx context.Context, p []byte) error
	// flush sends everything queued.
	flush(ctx context.Context) error
	// startTLS runs a TLS client handshake over this connection and
	// returns the TLS transport, which the caller must close even when
	// the handshake failed (it is nil only when nothing was created).
	startTLS(ctx context.Context, cfg *tls.Config, wait nx.Wait) (transport, error)
	// close ends the connection, gracefully (FIN) or with a reset, and
	// releases everything the transport holds. Idempotent.
	close(ctx context.Context, graceful bool)
	secure() bool
}

// packetTransport is the plaintext path: commands and the message are
// written into packet chains from the client's pool and handed to
// TCPSocket.Send; replies are read from TCPSocket.Receive packets, copied
// out and released at once.
type packetTransport struct {
	sock     *netstack.TCPSocket
	pool     *packetpool.Pool
	to       Timeouts
	chain    int // flush a chain once it holds this many bytes
	pktType  int
	cur      *packetpool.Packet // chain being filled; owned until sent
	consumed bool               // the socket now belongs to a netstack.Conn
	closed   bool
}

func (t *packetTransport) secure() bool { return false }

func (t *packetTransport) recv(ctx context.Context, buf []byte, wait nx.Wait) ([]byte, error) {
	pkt, err := t.sock.Receive(ctx, wait)
	if err != nil {
		return buf, err
	}
	for b := range pkt.Buffers() {
		buf = append(buf, b...)
	}
	_ = pkt.Release()
	return buf, nil
}

func (t *packetTransport) write(ctx context.Context, p []byte) error {
	for len(p) > 0 {
		if t.cur == nil {
			pkt, err := t.pool.Allocate(ctx, t.pktType, t.to.Packet)
			if err != nil {
				return allocErr(err)
			}
			t.cur = pkt
		}
		n := min(len(p), t.chain-t.cur.Length())
		if n <= 0 {
			n = len(p)
		}
		if err := t.cur.Append(ctx, p[:n], t.pool, t.to.Packet); err != nil {
			return allocErr(err)
		}
		p = p[n:]
		if t.cur.Length() >= t.chain {
			if err := t.flush(ctx); err != nil {
				return err
			}
		}
	}
	return nil
}

// allocErr marks pool exhaustion with NX_SMTP_PACKET_ALLOCATE_ERROR (next to
// the pool's NX_NO_PACKET); other statuses (a cancelled wait) pass through.
func allocErr(err error) error {
	if errors.Is(err, nx.ErrNoPacket) {
		return withStatus(ErrPacketAllocate, fmt.Errorf("smtpc: packet pool exhausted: %w", err))
	}
	return err
}

func (t *packetTransport) flush(ctx context.Context) error {
	if t.cur == nil {
		return nil
	}
	pkt := t.cur
	t.cur = nil
	if err := t.sock.Send(ctx, pkt, t.to.Send); err != nil {
		_ = pkt.Release() // a failed send leaves the (trimmed) chain with us
		return err
	}
	return nil
}

func (t *packetTransport) discard() {
	if t.cur != nil {
		_ = t.cur.Release()
		t.cur = nil
	}
}

func (t *packetTransport) startTLS(ctx context.Context, cfg *tls.Config, wait nx.Wait) (transport, error) {
	t.discard()
	raw := netstack.NewConn(t.sock)
	t.consumed = true
	sock := t.sock
	ct := &connTransport{
		clock: sock.IP().Clock(),
		to:    t.to,
		raw:   raw,
		// A reset for the abort path; then raw.Close releases, unbinds
		// and deletes the socket.
		rst:       func() { _ = sock.Disconnect(context.Background(), nx.NoWait) },
		interrupt: func() { _ = raw.Close() },
	}
	return ct, ct.handshake(ctx, tls.Client(raw, cfg), wait)
}

func (t *packetTransport) close(ctx context.Context, graceful bool) {
	t.discard()
	if t.closed || t.consumed {
		return
	}
	t.closed = true
	if graceful && ctx.Err() == nil {
		_ = t.sock.Disconnect(ctx, t.to.Disconnect) // on failure it has reset the connection
	} else {
		_ = t.sock.Disconnect(ctx, nx.NoWait) // RST: NX_IN_PROGRESS
	}
	_ = t.sock.ClientUnbind()
}

// connTransport runs the session over a net.Conn: the TLS connection over a
// board socket, or any stream in unit tests. Writes are gathered in a buffer
// and written per flush (TLS records of up to 16 KiB).
type connTransport struct {
	conn      net.Conn // the TLS connection (or the plain conn in tests)
	raw       net.Conn // the connection under TLS (== conn when plain)
	clock     nx.Clock
	to        Timeouts
	wbuf      []byte
	rst       func() // reset the underlying socket before closing (board path)
	interrupt func() // unblocks a blocked Read/Write when ctx is done
	isTLS     bool
	closed    bool
}

// newConnTransport wraps a plain conn (unit tests, or any net.Conn).
func newConnTransport(c net.Conn, clock nx.Clock, to Timeouts) *connTransport {
	return &connTransport{conn: c, raw: c, clock: clock, to: to}
}

func (t *connTransport) secure() bool { return t.isTLS }

func (t *connTransport) deadline(w nx.Wait) time.Time {
	if w.Forever() {
		return time.Time{}
	}
	clk := t.clock
	if clk == nil {
		clk = nx.SystemClock
	}
	return clk.Now().Add(w.Duration())
}

// watch arranges for a blocked operation to return when ctx is done.
func (t *connTransport) watch(ctx context.Context) (stop func() bool) {
	f := t.interrupt
	if f == nil {
		f = func() { _ = t.raw.SetDeadline(time.Unix(1, 0)) }
	}
	return context.AfterFunc(ctx, f)
}

func (t *connTransport) recv(ctx context.Context, buf []byte, wait nx.Wait) ([]byte, error) {
	if cap(buf)-len(buf) < 4096 {
		nb := make([]byte, len(buf), len(buf)+8192)
		copy(nb, buf)
		buf = nb
	}
	_ = t.conn.SetReadDeadline(t.deadline(wait))
	stop := t.watch(ctx)
	n, err := t.conn.Read(buf[len(buf):cap(buf)])
	stop()
	buf = buf[:len(buf)+n]
	if n > 0 {
		return buf, nil
	}
	return buf, t.mapErr(ctx, "read", err)
}

func (t *connTransport) mapErr(ctx context.Context, op string, err error) error {
	switch {
	case err == nil:
		return nil
	case ctx.Err() != nil:
		return fmt.Errorf("smtpc: %s: %w", op, nx.ErrWaitAborted)
	case errors.Is(err, os.ErrDeadlineExceeded) && op == "read":
		return fmt.Errorf("smtpc: %s: %w", op, nx.ErrNoPacket)
	case errors.Is(err, os.ErrDeadlineExceeded):
		return fmt.Errorf("smtpc: %s: %w", op, nx.ErrWindowOverflow)
	case errors.Is(err, io.EOF), errors.Is(err, net.ErrClosed), errors.Is(err, io.ErrClosedPipe):
		return fmt.Errorf("smtpc: %s: %w", op, nx.ErrNotConnected)
	}
	return fmt.Errorf("smtpc: %s: %w: %w", op, nx.ErrNotConnected, err)
}

func (t *connTransport) write(ctx context.Context, p []byte) error {
	t.wbuf = append(t.wbuf, p...)
	if len(t.wbuf) >= 16<<10 {
		return t.flush(ctx)
	}
	return nil
}

func (t *connTransport) flush(ctx context.Context) error {
	if len(t.wbuf) == 0 {
		return nil
	}
	_ = t.conn.SetWriteDeadline(t.deadline(t.to.Send))
	stop := t.watch(ctx)
	_, err := t.conn.Write(t.wbuf)
	stop()
	t.wbuf = t.wbuf[:0]
	return t.mapErr(ctx, "write", err)
}

func (t *connTransport) handshake(ctx context.Context, tc *tls.Conn, wait nx.Wait) error {
	t.conn, t.isTLS = tc, true
	_ = t.raw.SetDeadline(t.deadline(wait))
	stop := t.watch(ctx)
	err := tc.HandshakeContext(ctx)
	stop()
	_ = t.raw.SetDeadline(time.Time{})
	if err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("smtpc: tls handshake: %w", nx.ErrWaitAborted)
		}
		return withStatus(ErrTransmit, fmt.Errorf("smtpc: tls handshake: %w", err))
	}
	return nil
}

func (t *connTransport) startTLS(ctx context.Context, cfg *tls.Config, wait nx.Wait) (transport, error) {
	ct := &connTransport{clock: t.clock, to: t.to, raw: t.raw, rst: t.rst, interrupt: t.interrupt}
	return ct, ct.handshake(ctx, tls.Client(t.raw, cfg), wait)
}

func (t *connTransport) close(ctx context.Context, graceful bool) {
	if t.closed {
		return
	}
	t.closed = true
	t.wbuf = t.wbuf[:0]
	if graceful && ctx.Err() == nil && t.conn != nil {
		_ = t.conn.SetDeadline(t.deadline(t.to.Disconnect))
		_ = t.conn.Close() // TLS: close_notify, then the socket's FIN
		return
	}
	if t.rst != nil {
		t.rst()
	}
	_ = t.raw.Close()
}
