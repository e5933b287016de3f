package pop3c

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/simboard/simboard/internal/mailconn"
	"github.com/simboard/simboard/nx"
	"github.com/simboard/simboard/packetpool"
)

// MailItemGet mirrors nx_pop3_client_mail_item_get: it sends RETR item and,
// on +OK, returns the size the server announces ("+OK 120 octets"; 0 when the
// reply has no number) and prepares MailItemMessageGet to deliver the
// message. Item 0 is ErrClientInvalidIndex and an item beyond the last STAT
// count ErrInvalidMailItem (in ProfileNetX also when no STAT was sent), both
// before any traffic. -ERR is a *ReplyError (ErrServerErrorStatus) and
// leaves the session ready for another command. Blocks for the send and reply
// waits.
func (c *Client) MailItemGet(ctx context.Context, item int) (size int64, err error) {
	if c == nil {
		return 0, nx.ErrPtr
	}
	ctx, stop := c.enter(ctx)
	defer c.leave(stop)
	return c.retr(ctx, item)
}

func (c *Client) retr(ctx context.Context, item int) (size int64, err error) {
	if err := c.ready("RETR"); err != nil {
		return 0, err
	}
	if err := c.checkIndex("RETR", item, true); err != nil {
		return 0, err
	}
	text, err := c.command(ctx, "RETR", []int{item})
	if err != nil {
		return 0, err
	}
	var buf [2][]byte
	if f := fields(buf[:0:2], text); len(f) > 0 {
		size, _ = parseNumber(f[0])
	}
	c.startMessage("RETR")
	return size, nil
}

// Top sends TOP item lines (RFC 1939 §7): the message's headers, the blank
// line and the first lines lines of its body, read with MailItemMessageGet
// exactly like RETR data. Index checks as MailItemGet; lines must be >= 0
// (ErrParam). Not in NetX (nx.ErrNotSupported in ProfileNetX). -ERR is a
// *ReplyError. Blocks for the send and reply waits.
func (c *Client) Top(ctx context.Context, item, lines int) error {
	if c == nil {
		return nx.ErrPtr
	}
	ctx, stop := c.enter(ctx)
	defer c.leave(stop)
	return c.top(ctx, item, lines)
}

func (c *Client) top(ctx context.Context, item, lines int) error {
	if err := c.ready("TOP"); err != nil {
		return err
	}
	if c.netx {
		return errf("TOP: not in NetX: %w", nx.ErrNotSupported)
	}
	if err := c.checkIndex("TOP", item, true); err != nil {
		return err
	}
	if lines < 0 {
		return errf("TOP %d %d: negative line count: %w", item, lines, ErrParam)
	}
	if _, err := c.command(ctx, "TOP", []int{item, lines}); err != nil {
		return err
	}
	c.startMessage("TOP")
	return nil
}

func (c *Client) startMessage(verb string) {
	c.state = stateMessage
	c.msgCmd = verb
	c.msgLen = 0
	c.dec.reset()
	c.out, c.outDone = c.out[:0], false
}

// MailItemMessageGet mirrors nx_pop3_client_mail_item_message_get
// (nxd_pop3_client.c 1526-1600) and returns what NetX returns, in both
// profiles: the next received packet of the message that MailItemGet (or Top)
// started, as the server sent it — lines still dot-stuffed, the terminator
// "\r\n.\r\n" included in the last packet — with n (bytes_retrieved) equal
// to the packet's length. The first packet holds what followed the +OK line
// in the RETR reply's packet, as NetX's does.
//
// final is NetX's end test in ProfileNetX: the packet's last five bytes are
// "\r\n.\r\n", or a packet of five bytes or fewer starts with "\r\n.\r\n"
// or ".\r\n" (then n is 0: NetX does not count it as message data). A
// terminator split across packets is therefore missed, exactly as on the MCU:
// the next call waits for the reply wait and fails with nx.ErrNoPacket, and
// the session stays connected. The default profile fixes that defect: final
// is set on the packet that completes the terminator wherever packets split
// it (and bytes after the terminator stay unread).
//
// Use RetrTo (or TopTo) for the clean message: dot-unstuffed, without the
// terminator.
//
// Ownership: the caller owns the returned packet, also the final one, and
// must Release it. When a whole received packet is returned it is the
// socket's receive packet itself (from the IP's default pool), handed over
// without a copy as NetX hands over its receive packets; otherwise (the rest
// of the RETR reply's packet, one buffer of a received chain) the bytes are
// copied into a packet allocated from Options.Pool.
//
// It blocks for the reply wait while no data is buffered, and for the packet
// wait to allocate. Statuses: ErrClientInvalidState when no message is in
// progress; nx.ErrNoPacket (timeout) or nx.ErrNotConnected when the data
// stops (the default profile then resets the connection; ProfileNetX, as
// NetX, leaves it); ErrMailBufferOverflow when the message passes
// Options.MaxMessageSize (connection reset); allocation statuses
// (nx.ErrNoPacket, ...) when the pool is empty, in which case no data is lost
// and the call may be repeated.
func (c *Client) MailItemMessageGet(ctx context.Context) (pkt *packetpool.Packet, n int, final bool, err error) {
	if c == nil {
		return nil, 0, false, nx.ErrPtr
	}
	ctx, stop := c.enter(ctx)
	defer c.leave(stop)
	return c.messageGet(ctx)
}

// netxEOM and netxEOMTag are NX_POP3_END_OF_MESSAGE and
// NX_POP3_END_OF_MESSAGE_TAG.
var (
	netxEOM    = []byte("\r\n.\r\n")
	netxEOMTag = []byte(".\r\n")
)

// messageGet is MailItemMessageGet: NetX's packets, raw.
func (c *Client) messageGet(ctx context.Context) (*packetpool.Packet, int, bool, error) {
	if c.state != stateMessage {
		if err := c.ready("message"); err != nil {
			return nil, 0, false, err
		}
		return nil, 0, false, errf("message get: no RETR or TOP in progress: %w", ErrClientInvalidState)
	}
	if len(c.lr.In()) == 0 {
		if err := c.fill(ctx); err != nil {
			err = errf("%s data: %w", c.msgCmd, err)
			if c.netx && errors.Is(err, nx.ErrNoPacket) {
				// nx_tcp_socket_receive timed out: NetX returns the
				// status and leaves the socket as it is.
				return nil, 0, false, err
			}
			return nil, 0, false, c.broken(err)
		}
	}
	in := c.lr.In()
	raw, n, final := in, len(in), false
	if c.netx {
		switch {
		case len(raw) > len(netxEOM):
			final = bytes.HasSuffix(raw, netxEOM)
		case bytes.HasPrefix(raw, netxEOM), bytes.HasPrefix(raw, netxEOMTag):
			final, n = true, 0
		}
	} else {
		// The fix: the decoder follows the terminator across packets.
		out, used, done := c.dec.decode(c.out[:0], raw)
		c.out = out[:0]
		if done {
			final, raw, n = true, raw[:used], used
		}
	}
	var pk *packetpool.Packet
	if c.lr.Fresh() && len(raw) == len(in) {
		pk = c.conn.Take()
	}
	if pk == nil {
		var err error
		if pk, err = c.opts.Pool.Allocate(ctx, packetpool.ReceivePacket, c.opts.Timeouts.Packet); err != nil {
			return nil, 0, false, mailconn.WithCause(ctx, errf("%s data: allocate: %w", c.msgCmd, err))
		}
		if err := pk.Append(ctx, raw, c.opts.Pool, c.opts.Timeouts.Packet); err != nil {
			_ = pk.Release()
			return nil, 0, false, mailconn.WithCause(ctx, errf("%s data: append: %w", c.msgCmd, err))
		}
	}
	c.lr.Consume(len(raw))
	if err := c.account(len(raw)); err != nil {
		_ = pk.Release()
		return nil, 0, false, err
	}
	if final {
		c.state = stateTransaction
	}
	return pk, n, final, nil
}

// messageGetClean is the Go-named helpers' reader (RetrTo, TopTo): the
// message dot-unstuffed and without the terminator, found wherever segments
// split it, in both profiles.
func (c *Client) messageGetClean(ctx context.Context) (*packetpool.Packet, int, bool, error) {
	if c.state != stateMessage {
		if err := c.ready("message"); err != nil {
			return nil, 0, false, err
		}
		return nil, 0, false, errf("message get: no RETR or TOP in progress: %w", ErrClientInvalidState)
	}
	for len(c.out) == 0 && !c.outDone {
		if len(c.lr.In()) == 0 {
			if err := c.fill(ctx); err != nil {
				return nil, 0, false, c.broken(errf("%s data: %w", c.msgCmd, err))
			}
		}
		in := c.lr.In()
		if c.lr.Fresh() && c.dec.passThrough(in) {
			if pk := c.conn.Take(); pk != nil {
				n := len(in)
				c.lr.Consume(n)
				if err := c.account(n); err != nil {
					_ = pk.Release()
					return nil, 0, false, err
				}
				return pk, n, false, nil
			}
		}
		out, used, done := c.dec.decode(c.out[:0], in)
		c.out, c.outDone = out, done
		c.lr.Consume(used)
		if err := c.account(len(out)); err != nil {
			return nil, 0, false, err
		}
	}
	pk, err := c.opts.Pool.Allocate(ctx, packetpool.ReceivePacket, c.opts.Timeouts.Packet)
	if err != nil {
		return nil, 0, false, mailconn.WithCause(ctx, errf("%s data: allocate: %w", c.msgCmd, err))
	}
	if len(c.out) > 0 {
		if err := pk.Append(ctx, c.out, c.opts.Pool, c.opts.Timeouts.Packet); err != nil {
			_ = pk.Release()
			return nil, 0, false, mailconn.WithCause(ctx, errf("%s data: append: %w", c.msgCmd, err))
		}
	}
	n, final := len(c.out), c.outDone
	c.out, c.outDone = c.out[:0], false
	if final {
		c.state = stateTransaction
	}
	return pk, n, final, nil
}

// account adds n decoded bytes to the message and enforces the size limit.
func (c *Client) account(n int) error {
	c.msgLen += int64(n)
	if max := c.opts.MaxMessageSize; max > 0 && c.msgLen > max {
		return c.broken(errf("%s data: message longer than %d bytes: %w", c.msgCmd, max, ErrMailBufferOverflow))
	}
	return nil
}

// RetrTo sends RETR item and copies the message to w (a streaming
// convenience over MailItemGet and MailItemMessageGet; not in NetX). It
// writes the message as the server holds it: dot-unstuffed, without the
// terminator, with the line ending (CRLF) of its last line, in both
// profiles (MailItemMessageGet returns NetX's raw packets instead). Every
// packet is released. It
// returns the bytes written. When w fails, the rest of the message is read
// and dropped so the session stays usable, and w's error is returned.
// Statuses and blocking as MailItemGet and MailItemMessageGet.
func (c *Client) RetrTo(ctx context.Context, item int, w io.Writer) (int64, error) {
	if c == nil {
		return 0, nx.ErrPtr
	}
	ctx, stop := c.enter(ctx)
	defer c.leave(stop)
	if _, err := c.retr(ctx, item); err != nil {
		return 0, err
	}
	return c.copyMessage(ctx, w)
}

// TopTo sends TOP item lines and copies the result to w, as RetrTo does for
// RETR. Not in NetX (nx.ErrNotSupported in ProfileNetX).
func (c *Client) TopTo(ctx context.Context, item, lines int, w io.Writer) (int64, error) {
	if c == nil {
		return 0, nx.ErrPtr
	}
	ctx, stop := c.enter(ctx)
	defer c.leave(stop)
	if err := c.top(ctx, item, lines); err != nil {
		return 0, err
	}
	return c.copyMessage(ctx, w)
}

func (c *Client) copyMessage(ctx context.Context, w io.Writer) (int64, error) {
	var written int64
	var werr error
	for {
		pk, _, final, err := c.messageGetClean(ctx)
		if err != nil {
			return written, err
		}
		if werr == nil {
			for b := range pk.Buffers() {
				var m int
				m, werr = w.Write(b)
				written += int64(m)
				if werr != nil {
					break
				}
			}
		}
		_ = pk.Release()
		if final {
			break
		}
	}
	if werr == nil && c.dec.lastEOL > 0 {
		var m int
		m, werr = w.Write(crlf[2-c.dec.lastEOL:])
		written += int64(m)
	}
	if werr != nil {
		return written, fmt.Errorf("pop3c: %s: write: %w", c.msgCmd, werr)
	}
	return written, nil
}
