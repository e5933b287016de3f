package pop3c

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"

	"github.com/simboard/simboard/netstack"
	"github.com/simboard/simboard/nx"
)

func errf(format string, a ...any) error {
	return fmt.Errorf("pop3c: "+format, a...)
}

type sessionState uint8

const (
	stateTransaction sessionState = iota // logged in, ready for a command
	stateMessage                         // RETR/TOP data is being read (NetX ready_to_download)
	stateQuit                            // QUIT sent; only Delete remains
	stateBroken                          // the connection was reset after an error
	stateDeleted                         // Delete ran
)

// Client mirrors NX_POP3_CLIENT: one POP3 session on one TCP socket of a
// board. Create connects and logs in; the mail item calls then run one
// command each, synchronously; Delete disconnects and frees the socket.
//
// A Client is safe for concurrent use: calls are serialised by one mutex and
// each runs its command to completion (a message being read with
// MailItemMessageGet blocks other commands with ErrClientInvalidState until
// its final packet). Delete may be called from any goroutine at any time; it
// aborts a call blocked in a wait with nx.ErrWaitAborted.
//
// After a transport failure (timeout, connection closed or reset) or a reply
// that breaks the protocol, the client resets the connection at once (the
// reply stream can no longer be trusted) and later calls return
// nx.ErrNotConnected; call Delete. A -ERR reply leaves the session usable.
type Client struct {
	opts Options
	log  *slog.Logger
	netx bool

	life context.Context // cancelled by Delete to abort a blocked call
	stop context.CancelFunc

	mu sync.Mutex // held for a whole call; the fields below belong to the holder
	t  transport
	// in holds received bytes not yet consumed (aliasing transport memory);
	// fresh says it is the whole of the last recv.
	in    []byte
	fresh bool

	line    []byte  // reply line being assembled
	cmd     []byte  // command line being built
	out     []byte  // decoded message bytes not yet delivered
	outDone bool    // out ends the message
	dec     decoder // message decoder
	msgLen  int64   // decoded bytes of the current message
	msgCmd  string  // "RETR" or "TOP"

	state     sessionState
	brokenErr error // why the connection was reset

	statKnown bool
	statCount int
	statSize  int64

	caps     Capabilities
	greeting string
	authUsed string
	tls      *tls.ConnectionState
}

// Create mirrors nxd_pop3_client_create (and nx_pop3_client_create for an
// IPv4 server): it validates opts, creates the TCP socket "POP3 Client
// socket", binds it to any port, connects to the server, reads the greeting
// and logs in, as NetX does inside create. With Options.APOP it follows
// NetX: APOP when the greeting carries a <timestamp>, USER/PASS after a -ERR
// to APOP or when there is no timestamp. Without it, AUTH PLAIN when CAPA
// offers it (default profile, unless DisableSASL), else USER/PASS. STLS or
// implicit TLS (Options.TLS) happen before any credential is sent.
//
// Create blocks for up to the bind, connect, reply and TLS waits. On success
// the caller owns the Client and must call Delete. On failure everything is
// released (socket unbound and deleted, no packet held) and the error is
// returned: ErrParam or nx.ErrPtr for bad options (before any traffic); TCP
// statuses such as nx.ErrNotConnected, nx.ErrNoPacket (timeout) or
// nx.ErrWaitAborted (ctx); ErrServerErrorStatus with a *ServerError for a
// -ERR greeting or refused login, or a *ProtocolError for a malformed reply;
// nx.ErrNotSupported for TLSRequired without STLS; the crypto/tls error (for
// instance *tls.CertificateVerificationError) for a failed handshake.
func Create(ctx context.Context, opts Options) (*Client, error) {
	if opts.IP == nil {
		return nil, errf("create: no IP instance: %w", nx.ErrPtr)
	}
	o, err := opts.normalize()
	if err != nil {
		return nil, err
	}
	c := newClient(o)
	sock, err := o.IP.TCPSocketCreate("POP3 Client socket", o.Window)
	if err != nil {
		c.stop()
		return nil, errf("create: socket: %w", err)
	}
	if err := sock.ClientBind(ctx, 0, o.Timeouts.Packet); err != nil {
		_ = sock.Delete()
		c.stop()
		return nil, errf("create: bind: %w", err)
	}
	server := netip.AddrPortFrom(o.Server, o.Port)
	if err := sock.Connect(ctx, server, o.Timeouts.Connect); err != nil {
		_ = sock.ClientUnbind()
		_ = sock.Delete()
		c.stop()
		return nil, errf("create: connect %v: %w", server, err)
	}
	c.log.Info("pop3c: connected", "server", server, "profile", o.Profile, "tls", o.TLS)
	if err := c.open(ctx, sock); err != nil {
		return nil, err
	}
	return c, nil
}

func newClient(o Options) *Client {
	c := &Client{opts: o, log: o.Logger, netx: o.Profile == ProfileNetX}
	c.life, c.stop = context.WithCancel(context.Background())
	return c
}

// open runs the session on a connected socket. On failure it closes the
// socket (gracefully while the session is in step, for instance after a
// -ERR; with a reset after a transport or protocol failure) and releases
// everything.
func (c *Client) open(ctx context.Context, sock tcpSocket) error {
	c.t = &sockTransport{sock: sock, pool: c.opts.Pool, to: &c.opts.Timeouts, netx: c.netx}
	if err := c.session(ctx); err != nil {
		c.closeTransport(context.Background(), c.state != stateBroken)
		c.stop()
		c.state = stateDeleted
		return err
	}
	return nil
}

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
		var se *ServerError
		if errors.As(err, &se) && mode == TLSOpportunistic {
			c.log.Warn("pop3c: STLS refused; continuing without TLS", "reply", se.Text)
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

// startTLS hands the socket to a netstack.Conn and runs the TLS handshake on
// it. Nothing may be left unread from the plain-text phase (RFC 2595 §4:
// bytes sent after the STLS reply would be an injection).
func (c *Client) startTLS(ctx context.Context) error {
	st, ok := c.t.(*sockTransport)
	if !ok {
		return errf("starttls: %w", ErrClientInvalidState)
	}
	if len(c.in) > 0 || st.buffered() {
		return c.broken(protoErr("STLS", c.in, ErrServerErrorStatus, "data after the STLS reply"))
	}
	st.releaseCur()
	c.in, c.fresh = nil, false
	var raw net.Conn
	switch s := st.sock.(type) {
	case *netstack.TCPSocket:
		raw = netstack.NewConn(s)
	case interface{ NetConn() net.Conn }: // scripted sockets in tests
		raw = s.NetConn()
	default:
		return errf("starttls: socket cannot carry TLS: %w", nx.ErrNotSupported)
	}
	st.closed = true // the socket belongs to raw now
	tc, err := handshake(ctx, raw, c.opts.tlsConfig(), c.opts.Timeouts.Connect)
	if err != nil {
		_ = raw.Close()
		c.t = nil
		c.state = stateBroken
		c.brokenErr = errf("%w", err)
		return c.brokenErr
	}
	cs := tc.ConnectionState()
	c.tls = &cs
	c.t = &connTransport{conn: tc, raw: raw, to: &c.opts.Timeouts}
	c.log.Info("pop3c: TLS established", "version", tls.VersionName(cs.Version), "cipher", tls.CipherSuiteName(cs.CipherSuite))
	return nil
}

func (c *Client) login(ctx context.Context, ts []byte) error {
	if c.opts.APOP {
		if ts == nil {
			// NetX clears its APOP flag and goes straight to USER/PASS.
			return c.userPass(ctx)
		}
		digest := apopDigest(ts, c.opts.Password)
		c.cmd = append(append(append(append(c.cmd[:0], "APOP "...), c.opts.Name...), ' '), digest...)
		c.cmd = append(c.cmd, "\r\n"...)
		_, err := c.roundTrip(ctx, "APOP", c.cmd, len("APOP ")+len(c.opts.Name)+1)
		if err == nil {
			c.authUsed = "APOP"
			return nil
		}
		var se *ServerError
		if !errors.As(err, &se) {
			return err
		}
		c.log.Info("pop3c: APOP refused; falling back to USER/PASS", "reply", se.Text)
		return c.userPass(ctx)
	}
	if !c.netx && !c.opts.DisableSASL && c.caps.HasSASL("PLAIN") {
		return c.authPlain(ctx)
	}
	return c.userPass(ctx)
}

func (c *Client) userPass(ctx context.Context) error {
	c.cmd = append(append(append(c.cmd[:0], "USER "...), c.opts.Name...), "\r\n"...)
	if _, err := c.roundTrip(ctx, "USER", c.cmd, -1); err != nil {
		return err
	}
	c.cmd = append(append(append(c.cmd[:0], "PASS "...), c.opts.Password...), "\r\n"...)
	if _, err := c.roundTrip(ctx, "PASS", c.cmd, len("PASS ")); err != nil {
		return err // NetX reports -ERR to PASS as success; here it is an error
	}
	c.authUsed = "USER"
	return nil
}

func (c *Client) authPlain(ctx context.Context) error {
	ir := plainResponse(c.opts.Name, c.opts.Password)
	c.cmd = append(append(append(c.cmd[:0], "AUTH PLAIN "...), ir...), "\r\n"...)
	kind, _, err := c.roundTripKind(ctx, "AUTH", c.cmd, len("AUTH PLAIN "))
	if err == nil && kind == replyCont {
		// A server that ignores the initial response asks for it.
		c.cmd = append(append(c.cmd[:0], ir...), "\r\n"...)
		kind, _, err = c.roundTripKind(ctx, "AUTH", c.cmd, 0)
	}
	if err == nil && kind != replyOK {
		err = c.broken(protoErr("AUTH", nil, ErrServerErrorStatus, "unexpected continuation"))
	}
	if err != nil {
		return err
	}
	c.authUsed = "AUTH PLAIN"
	return nil
}

// enter locks the client for one call and returns the context the call
// waits on: ctx, also cancelled by Delete, and what leave must undo. A
// context that cannot be cancelled costs nothing (the client's own lifetime
// context is used), so the data path does not allocate.
func (c *Client) enter(ctx context.Context) (context.Context, context.CancelFunc) {
	c.mu.Lock()
	if ctx == nil || ctx.Done() == nil {
		return c.life, nil
	}
	cctx, cancel := context.WithCancel(ctx)
	stop := context.AfterFunc(c.life, cancel)
	return cctx, func() {
		stop()
		cancel()
	}
}

// leave ends a call started by enter.
func (c *Client) leave(stop context.CancelFunc) {
	if stop != nil {
		stop()
	}
	c.mu.Unlock()
}

// ready checks that a command may be sent now.
func (c *Client) ready(verb string) error {
	switch c.state {
	case stateTransaction:
		return nil
	case stateMessage:
		return errf("%s: %s data still being read: %w", verb, c.msgCmd, ErrClientInvalidState)
	case stateQuit:
		return errf("%s: session quit: %w", verb, ErrClientInvalidState)
	case stateBroken:
		return errf("%s: connection was reset: %w", verb, nx.ErrNotConnected)
	}
	return errf("%s: client deleted: %w", verb, nx.ErrPtr)
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
	c.in, c.fresh = nil, false
	if c.t != nil {
		if err := c.t.close(ctx, graceful); err != nil {
			c.log.Debug("pop3c: close", "err", err)
		}
		c.t = nil
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

// send transmits one command line. redactFrom >= 0 hides the line from that
// byte on in the transcript.
func (c *Client) send(ctx context.Context, verb string, line []byte, redactFrom int) error {
	if c.t == nil {
		return c.broken(errf("%s: %w", verb, nx.ErrNotConnected))
	}
	c.transcript("C: ", line, redactFrom)
	if err := c.t.send(ctx, line); err != nil {
		if errors.Is(err, ErrInsufficientPacketPayload) {
			return errf("%s: %w", verb, err) // nothing was sent
		}
		return c.broken(errf("%s: %w", verb, err))
	}
	return nil
}

// fill receives the next bytes into c.in.
func (c *Client) fill(ctx context.Context) error {
	if c.t == nil {
		return nx.ErrNotConnected
	}
	b, err := c.t.recv(ctx)
	if err != nil {
		return err
	}
	c.in, c.fresh = b, true
	return nil
}

// readLine returns the next line without its line ending (CRLF, or a bare LF
// from a lenient server). The slice is valid until the next read. A line over
// the limit, or a transport error, resets the connection.
func (c *Client) readLine(ctx context.Context, verb string, reply bool) ([]byte, error) {
	c.line = c.line[:0]
	max := c.opts.MaxLineLength
	for {
		if len(c.in) == 0 {
			if err := c.fill(ctx); err != nil {
				return nil, c.broken(errf("%s: %w", verbName(verb), err))
			}
			if reply && c.netx && c.t.chained() {
				return nil, c.broken(errf("%s: chained reply packet (NetX rejects them): %w", verbName(verb), nx.ErrInvalidPacket))
			}
		}
		j := bytes.IndexByte(c.in, '\n')
		if j < 0 {
			c.line = append(c.line, c.in...)
			c.in, c.fresh = nil, false
			if len(c.line) > max+1 {
				return nil, c.broken(protoErr(verb, c.line, ErrMailBufferOverflow, fmt.Sprintf("reply line longer than %d bytes", max)))
			}
			continue
		}
		c.line = append(c.line, c.in[:j]...)
		c.in, c.fresh = c.in[j+1:], false
		line := c.line
		if n := len(line); n > 0 && line[n-1] == '\r' {
			line = line[:n-1]
		}
		if len(line) > max {
			return nil, c.broken(protoErr(verb, line, ErrMailBufferOverflow, fmt.Sprintf("reply line longer than %d bytes", max)))
		}
		return line, nil
	}
}

func verbName(v string) string {
	if v == "" {
		return "greeting"
	}
	return v
}

// readReply reads a status line. +OK returns its text; -ERR a *ServerError
// (session intact); anything else a *ProtocolError (connection reset).
func (c *Client) readReply(ctx context.Context, verb string) ([]byte, error) {
	kind, text, err := c.readReplyKind(ctx, verb)
	if err != nil {
		return nil, err
	}
	if kind == replyCont {
		return nil, c.broken(protoErr(verb, c.line, ErrServerErrorStatus, "unexpected continuation"))
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
		return kind, nil, &ServerError{Cmd: verb, Text: string(text)}
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
// *ServerError.
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

// checkIndex applies NetX's index checks. upper asks for the check against
// the last STAT.
func (c *Client) checkIndex(verb string, item int, upper bool) error {
	if item <= 0 {
		return errf("%s %d: mail items are numbered from 1: %w", verb, item, ErrClientInvalidIndex)
	}
	if !upper {
		return nil
	}
	if c.netx && item > c.statCount {
		return errf("%s %d: beyond the %d items of the last STAT: %w", verb, item, c.statCount, ErrInvalidMailItem)
	}
	if !c.netx && c.statKnown && item > c.statCount {
		return errf("%s %d: beyond the %d items of the last STAT: %w", verb, item, c.statCount, ErrInvalidMailItem)
	}
	return nil
}

// MailItemsGet mirrors nx_pop3_client_mail_items_get: it sends STAT and
// returns the number of messages and their total size in octets. The counts
// are cached for the index checks of LIST and RETR. It blocks for the send
// and reply waits. Statuses: ErrServerErrorStatus (*ServerError for -ERR,
// *ProtocolError for a reply without two numbers), transport statuses
// (nx.ErrNoPacket on timeout, nx.ErrNotConnected), ErrClientInvalidState while
// a message is being read.
func (c *Client) MailItemsGet(ctx context.Context) (count int, totalSize int64, err error) {
	if c == nil {
		return 0, 0, nx.ErrPtr
	}
	ctx, stop := c.enter(ctx)
	defer c.leave(stop)
	if err := c.ready("STAT"); err != nil {
		return 0, 0, err
	}
	c.statKnown, c.statCount, c.statSize = false, 0, 0
	text, err := c.command(ctx, "STAT", nil)
	if err != nil {
		return 0, 0, err
	}
	n, size, ok := parseStat(text)
	if !ok {
		return 0, 0, protoErr("STAT", text, ErrServerErrorStatus, "malformed drop listing")
	}
	c.statKnown, c.statCount, c.statSize = true, n, size
	return n, size, nil
}

// MailItemSizeGet mirrors nx_pop3_client_mail_item_size_get: it sends
// LIST item and returns the message size in octets. Item 0 is
// ErrClientInvalidIndex and an item beyond the last STAT count
// ErrInvalidMailItem (in ProfileNetX also when no STAT was sent), both before
// any traffic. A reply whose number differs from item, or is malformed, is a
// *ProtocolError (ErrServerErrorStatus). Blocks for the send and reply waits.
func (c *Client) MailItemSizeGet(ctx context.Context, item int) (int64, error) {
	if c == nil {
		return 0, nx.ErrPtr
	}
	ctx, stop := c.enter(ctx)
	defer c.leave(stop)
	if err := c.ready("LIST"); err != nil {
		return 0, err
	}
	if err := c.checkIndex("LIST", item, true); err != nil {
		return 0, err
	}
	text, err := c.command(ctx, "LIST", []int{item})
	if err != nil {
		return 0, err
	}
	n, size, ok := parseScanListing(text)
	if !ok {
		return 0, protoErr("LIST", text, ErrServerErrorStatus, "malformed scan listing")
	}
	if n != item {
		return 0, protoErr("LIST", text, ErrServerErrorStatus, fmt.Sprintf("listing is for item %d, not %d", n, item))
	}
	return size, nil
}

// MailItem is one line of a LIST listing.
type MailItem struct {
	Index int
	Size  int64
}

// List sends LIST without an argument and returns the scan listing of every
// message (not in NetX, which only lists one item). Malformed lines give a
// *ProtocolError (ErrServerErrorStatus) after the listing has been read; the
// session stays usable. Blocks for the send and reply waits. Not available
// in ProfileNetX (nx.ErrNotSupported).
func (c *Client) List(ctx context.Context) ([]MailItem, error) {
	if c == nil {
		return nil, nx.ErrPtr
	}
	ctx, stop := c.enter(ctx)
	defer c.leave(stop)
	if err := c.ready("LIST"); err != nil {
		return nil, err
	}
	if c.netx {
		return nil, errf("LIST: listing every item is not in NetX: %w", nx.ErrNotSupported)
	}
	if _, err := c.command(ctx, "LIST", nil); err != nil {
		return nil, err
	}
	var items []MailItem
	err := c.readListing(ctx, "LIST", func(line []byte) error {
		n, size, ok := parseScanListing(line)
		if !ok || n == 0 {
			return protoErr("LIST", line, ErrServerErrorStatus, "malformed scan listing")
		}
		items = append(items, MailItem{Index: n, Size: size})
		return nil
	})
	return items, err
}

// UniqueID is one line of a UIDL listing (RFC 1939 §7).
type UniqueID struct {
	Index int
	UID   string
}

// UIDL sends UIDL and returns the unique-id listing of every message. Not in
// NetX (nx.ErrNotSupported in ProfileNetX). Malformed lines give a
// *ProtocolError (ErrServerErrorStatus) once the listing is read; -ERR a
// *ServerError. Blocks for the send and reply waits.
func (c *Client) UIDL(ctx context.Context) ([]UniqueID, error) {
	if c == nil {
		return nil, nx.ErrPtr
	}
	ctx, stop := c.enter(ctx)
	defer c.leave(stop)
	if err := c.ready("UIDL"); err != nil {
		return nil, err
	}
	if c.netx {
		return nil, errf("UIDL: not in NetX: %w", nx.ErrNotSupported)
	}
	if _, err := c.command(ctx, "UIDL", nil); err != nil {
		return nil, err
	}
	var ids []UniqueID
	err := c.readListing(ctx, "UIDL", func(line []byte) error {
		n, uid, ok := parseUIDListing(line)
		if !ok {
			return protoErr("UIDL", line, ErrServerErrorStatus, "malformed unique-id listing")
		}
		ids = append(ids, UniqueID{Index: n, UID: uid})
		return nil
	})
	return ids, err
}

// UIDLItem sends UIDL item and returns that message's unique id. Index checks
// as MailItemSizeGet. Not in NetX (nx.ErrNotSupported in ProfileNetX).
func (c *Client) UIDLItem(ctx context.Context, item int) (string, error) {
	if c == nil {
		return "", nx.ErrPtr
	}
	ctx, stop := c.enter(ctx)
	defer c.leave(stop)
	if err := c.ready("UIDL"); err != nil {
		return "", err
	}
	if c.netx {
		return "", errf("UIDL: not in NetX: %w", nx.ErrNotSupported)
	}
	if err := c.checkIndex("UIDL", item, true); err != nil {
		return "", err
	}
	text, err := c.command(ctx, "UIDL", []int{item})
	if err != nil {
		return "", err
	}
	n, uid, ok := parseUIDListing(text)
	if !ok {
		return "", protoErr("UIDL", text, ErrServerErrorStatus, "malformed unique-id listing")
	}
	if n != item {
		return "", protoErr("UIDL", text, ErrServerErrorStatus, fmt.Sprintf("listing is for item %d, not %d", n, item))
	}
	return uid, nil
}

// Capa sends CAPA (RFC 2449) and returns the server's capabilities, also
// cached for Capabilities. -ERR is a *ServerError. Not in NetX
// (nx.ErrNotSupported in ProfileNetX). Blocks for the send and reply waits.
func (c *Client) Capa(ctx context.Context) (Capabilities, error) {
	if c == nil {
		return nil, nx.ErrPtr
	}
	ctx, stop := c.enter(ctx)
	defer c.leave(stop)
	if err := c.ready("CAPA"); err != nil {
		return nil, err
	}
	if c.netx {
		return nil, errf("CAPA: not in NetX: %w", nx.ErrNotSupported)
	}
	caps, err := c.capa(ctx)
	if err != nil {
		return nil, err
	}
	c.caps = caps
	return caps, nil
}

// Capabilities returns the capabilities learnt at login (after STLS, the
// ones listed over TLS); nil when CAPA was not sent or refused. Does not
// block; the map must not be modified.
func (c *Client) Capabilities() Capabilities {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.caps
}

// Greeting returns the text of the server's +OK greeting.
func (c *Client) Greeting() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.greeting
}

// AuthMethod returns how Create logged in: "APOP", "USER" (USER/PASS) or
// "AUTH PLAIN".
func (c *Client) AuthMethod() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.authUsed
}

// TLSConnectionState returns the TLS state and true when the session runs
// over TLS (STLS or implicit).
func (c *Client) TLSConnectionState() (tls.ConnectionState, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.tls == nil {
		return tls.ConnectionState{}, false
	}
	return *c.tls, true
}

// MailItemDelete mirrors nx_pop3_client_mail_item_delete: it sends DELE
// item. Item 0 is ErrClientInvalidIndex; as in NetX there is no upper bound
// check in ProfileNetX, while the default profile checks against a known
// STAT count (ErrInvalidMailItem). -ERR is a *ServerError
// (ErrServerErrorStatus). Blocks for the send and reply waits.
func (c *Client) MailItemDelete(ctx context.Context, item int) error {
	if c == nil {
		return nx.ErrPtr
	}
	ctx, stop := c.enter(ctx)
	defer c.leave(stop)
	if err := c.ready("DELE"); err != nil {
		return err
	}
	if err := c.checkIndex("DELE", item, !c.netx); err != nil {
		return err
	}
	_, err := c.command(ctx, "DELE", []int{item})
	return err
}

// Noop sends NOOP (NX_POP3_COMMAND_NOOP, defined but never sent by NetX).
// -ERR is a *ServerError. Blocks for the send and reply waits.
func (c *Client) Noop(ctx context.Context) error {
	return c.simple(ctx, "NOOP")
}

// Rset sends RSET (NX_POP3_COMMAND_RSET, defined but never sent by NetX):
// the server unmarks every message marked deleted. -ERR is a *ServerError.
// Blocks for the send and reply waits.
func (c *Client) Rset(ctx context.Context) error {
	return c.simple(ctx, "RSET")
}

func (c *Client) simple(ctx context.Context, verb string) error {
	if c == nil {
		return nx.ErrPtr
	}
	ctx, stop := c.enter(ctx)
	defer c.leave(stop)
	if err := c.ready(verb); err != nil {
		return err
	}
	_, err := c.command(ctx, verb, nil)
	return err
}

// Quit mirrors nx_pop3_client_quit: it sends QUIT and checks the +OK (the
// server then removes the messages marked deleted). As in NetX the socket
// stays open until Delete; every other call after Quit is
// ErrClientInvalidState. -ERR is a *ServerError. Blocks for the send and
// reply waits.
func (c *Client) Quit(ctx context.Context) error {
	if c == nil {
		return nx.ErrPtr
	}
	ctx, stop := c.enter(ctx)
	defer c.leave(stop)
	if err := c.ready("QUIT"); err != nil {
		return err
	}
	_, err := c.command(ctx, "QUIT", nil)
	if c.state == stateTransaction {
		c.state = stateQuit
	}
	return err
}

// Delete mirrors nx_pop3_client_delete: it disconnects (gracefully, up to
// the disconnect wait, or with a reset when the session is mid-message or
// broken), unbinds and deletes the socket and releases every packet the
// client still holds. It is idempotent, may be called from any goroutine
// (a call blocked in a wait returns nx.ErrWaitAborted), and returns nil as
// NetX does; only a nil Client gives nx.ErrPtr. Packets already returned by
// MailItemMessageGet stay with the caller.
func (c *Client) Delete(ctx context.Context) error {
	if c == nil {
		return nx.ErrPtr
	}
	if !c.mu.TryLock() {
		c.stop() // abort the call in progress
		c.mu.Lock()
	}
	defer c.mu.Unlock()
	if c.state == stateDeleted {
		return nil
	}
	if ctx == nil {
		ctx = context.Background()
	}
	graceful := c.state == stateTransaction || c.state == stateQuit
	c.closeTransport(ctx, graceful)
	c.out, c.outDone = nil, false
	c.state = stateDeleted
	c.stop()
	c.log.Info("pop3c: deleted")
	return nil
}
