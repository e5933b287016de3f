package pop3c

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"

	"github.com/simboard/simboard/internal/mailconn"
	"github.com/simboard/simboard/nx"
)

// session runs everything after the TCP connect: TLS, greeting, CAPA, STLS,
// login.
func (c *Client) session(ctx context.Context) error {
	if c.opts.TLS == TLSImplicit {
		if err := c.startTLS(ctx); err != nil {
			return err
		}
	}
	text, err := c.readReply(ctx, "")
	if err != nil {
		return err
	}
	c.greeting = string(text)
	ts := timestamp([]byte(c.greeting)) // text dies with the next read
	if !c.netx {
		c.caps, _ = c.capa(ctx) // -ERR: no capabilities; transport errors surface below
		if c.state == stateBroken {
			return c.brokenErr
		}
		if err := c.maybeSTLS(ctx); err != nil {
			return err
		}
	}
	return c.login(ctx, ts)
}

func (c *Client) maybeSTLS(ctx context.Context) error {
	mode := c.opts.TLS
	if mode != TLSOpportunistic && mode != TLSRequired {
		return nil
	}
	offered := c.caps.Has("STLS")
	if !offered && (mode == TLSOpportunistic || c.caps != nil) {
		if mode == TLSRequired {
			return errf("create: server does not offer STLS: %w", nx.ErrNotSupported)
		}
		c.log.Warn("pop3c: server does not offer STLS; continuing without TLS")
		return nil
	}
	if _, err := c.command(ctx, "STLS", nil); err != nil {
		var re *ReplyError
		if errors.As(err, &re) && mode == TLSOpportunistic {
			c.log.Warn("pop3c: STLS refused; continuing without TLS", "reply", re.Msg)
			return nil
		}
		return err
	}
	if err := c.startTLS(ctx); err != nil {
		return err
	}
	// RFC 2595 §4: discard what was learnt before TLS and ask again.
	c.caps, _ = c.capa(ctx)
	if c.state == stateBroken {
		return c.brokenErr
	}
	return nil
}

// startTLS hands the socket to the connection layer's TLS upgrade (a
// netstack.Conn on the same socket) and runs the handshake, bounded by the
// connect wait on the board's clock. Nothing may be left unread from the
// plain-text phase (RFC 2595 §4: bytes sent after the STLS reply would be an
// injection). A failed handshake resets the connection: there is no fall
// back to plain text.
func (c *Client) startTLS(ctx context.Context) error {
	if c.conn == nil || c.conn.Secure() {
		return errf("starttls: %w", ErrClientInvalidState)
	}
	if c.lr.Pending() > 0 || c.conn.Buffered() {
		return c.broken(protoErr("STLS", c.lr.In(), ErrServerErrorStatus, "data after the STLS reply"))
	}
	c.lr.Reset()
	if err := c.conn.StartTLS(ctx, c.opts.tlsConfig(), c.opts.Timeouts.Connect); err != nil {
		return c.broken(errf("%w", err))
	}
	cs := c.conn.TLSState()
	c.tls = cs
	c.log.Info("pop3c: TLS established", "version", tls.VersionName(cs.Version), "cipher", tls.CipherSuiteName(cs.CipherSuite))
	return nil
}

// broken resets the connection after an error that leaves the reply stream
// unusable and returns err.
func (c *Client) broken(err error) error {
	if c.state != stateBroken {
		c.log.Warn("pop3c: resetting connection", "err", err)
		c.closeTransport(context.Background(), false)
		c.state = stateBroken
		c.brokenErr = err
	}
	return err
}

func (c *Client) closeTransport(ctx context.Context, graceful bool) {
	c.lr.Reset()
	if c.conn != nil {
		if err := c.conn.Close(ctx, graceful); err != nil {
			c.log.Debug("pop3c: close", "err", err)
		}
		c.conn = nil
	}
}

func (c *Client) transcript(prefix string, line []byte, redactFrom int) {
	w := c.opts.Transcript
	if w == nil {
		return
	}
	line = bytes.TrimRight(line, "\r\n")
	var b []byte
	b = append(b, prefix...)
	if redactFrom >= 0 && redactFrom <= len(line) {
		b = append(b, line[:redactFrom]...)
		b = append(b, "********"...)
	} else {
		b = append(b, line...)
	}
	b = append(b, '\n')
	_, _ = w.Write(b)
}

// send transmits one command line: into packets of the client's pool on the
// plain path (in ProfileNetX the line must fit one packet, as NetX builds
// each command in one), through TLS otherwise. Nothing is sent once ctx is
// done. redactFrom >= 0 hides the line from that byte on in the transcript.
func (c *Client) send(ctx context.Context, verb string, line []byte, redactFrom int) error {
	if c.conn == nil {
		return c.broken(errf("%s: %w", verb, nx.ErrNotConnected))
	}
	if pt := c.conn.PacketType(); c.netx && pt > 0 && len(line) > c.opts.Pool.PayloadSize()-pt {
		return errf("%s: command of %d bytes does not fit one %d-byte packet: %w",
			verb, len(line), c.opts.Pool.PayloadSize()-pt, ErrInsufficientPacketPayload) // nothing was sent
	}
	c.transcript("C: ", line, redactFrom)
	err := c.conn.Write(ctx, line)
	if err == nil {
		err = c.conn.Flush(ctx)
	}
	if err != nil {
		return c.broken(errf("%s: %w", verb, err))
	}
	return nil
}

// fill receives the next bytes into the line reader's buffer.
func (c *Client) fill(ctx context.Context) error {
	if c.conn == nil {
		return nx.ErrNotConnected
	}
	return c.lr.Fill(ctx, c.opts.Timeouts.Reply)
}

// readLine returns the next line without its line ending (CRLF, or a bare LF
// from a lenient server). The slice is valid until the next read. A line over
// the limit, or a transport error, resets the connection.
func (c *Client) readLine(ctx context.Context, verb string, reply bool) ([]byte, error) {
	if c.conn == nil {
		return nil, c.broken(errf("%s: %w", verbName(verb), nx.ErrNotConnected))
	}
	max := c.opts.MaxLineLength
	c.wantReply = reply
	line, err := c.lr.ReadLine(ctx, c.opts.Timeouts.Reply, max)
	c.wantReply = false
	if err != nil {
		var tl *mailconn.TooLongError
		if errors.As(err, &tl) {
			return nil, c.broken(protoErr(verb, tl.Line, ErrMailBufferOverflow, fmt.Sprintf("reply line longer than %d bytes", max)))
		}
		return nil, c.broken(errf("%s: %w", verbName(verb), err))
	}
	return line, nil
}

func verbName(v string) string {
	if v == "" {
		return "greeting"
	}
	return v
}

// readReply reads a status line. +OK returns its text; -ERR a *ReplyError
// (session intact); anything else a *ProtocolError (connection reset).
func (c *Client) readReply(ctx context.Context, verb string) ([]byte, error) {
	kind, text, err := c.readReplyKind(ctx, verb)
	if err != nil {
		return nil, err
	}
	if kind == replyCont {
		return nil, c.broken(protoErr(verb, nil, ErrServerErrorStatus, "unexpected continuation"))
	}
	return text, nil
}

func (c *Client) readReplyKind(ctx context.Context, verb string) (replyKind, []byte, error) {
	line, err := c.readLine(ctx, verb, true)
	if err != nil {
		return replyBad, nil, err
	}
	c.transcript("S: ", line, -1)
	kind, text := parseStatus(line)
	switch kind {
	case replyOK, replyCont:
		return kind, text, nil
	case replyErr:
		return kind, nil, replyError(verb, text)
	}
	return kind, nil, c.broken(protoErr(verb, line, ErrServerErrorStatus, "reply is neither +OK nor -ERR"))
}

// roundTrip sends line and reads its status reply.
func (c *Client) roundTrip(ctx context.Context, verb string, line []byte, redactFrom int) ([]byte, error) {
	if err := c.send(ctx, verb, line, redactFrom); err != nil {
		return nil, err
	}
	return c.readReply(ctx, verb)
}

func (c *Client) roundTripKind(ctx context.Context, verb string, line []byte, redactFrom int) (replyKind, []byte, error) {
	if err := c.send(ctx, verb, line, redactFrom); err != nil {
		return replyBad, nil, err
	}
	return c.readReplyKind(ctx, verb)
}

// command builds "VERB[ arg...]\r\n" and runs it.
func (c *Client) command(ctx context.Context, verb string, args []int) ([]byte, error) {
	c.cmd = append(c.cmd[:0], verb...)
	for _, a := range args {
		c.cmd = append(c.cmd, ' ')
		c.cmd = appendInt(c.cmd, a)
	}
	c.cmd = append(c.cmd, "\r\n"...)
	return c.roundTrip(ctx, verb, c.cmd, -1)
}

// readListing reads the lines of a multi-line response up to the "." line,
// dot-unstuffed, and passes each to fn. A line fn rejects is remembered and
// reported after the listing has been read to its end, so the session stays
// in step.
func (c *Client) readListing(ctx context.Context, verb string, fn func(line []byte) error) error {
	var first error
	var total int64
	for {
		line, err := c.readLine(ctx, verb, false)
		if err != nil {
			return err
		}
		if len(line) > 0 && line[0] == '.' {
			if len(line) == 1 {
				return first
			}
			line = line[1:]
		}
		total += int64(len(line)) + 2
		if c.opts.MaxMessageSize > 0 && total > c.opts.MaxMessageSize {
			return c.broken(protoErr(verb, nil, ErrMailBufferOverflow, fmt.Sprintf("listing longer than %d bytes", c.opts.MaxMessageSize)))
		}
		if err := fn(line); err != nil && first == nil {
			first = err
		}
	}
}

// capa sends CAPA and parses the listing. -ERR gives a nil map and the
// *ReplyError.
func (c *Client) capa(ctx context.Context) (Capabilities, error) {
	if _, err := c.command(ctx, "CAPA", nil); err != nil {
		return nil, err
	}
	caps := Capabilities{}
	err := c.readListing(ctx, "CAPA", func(line []byte) error {
		caps.addLine(line)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return caps, nil
}
