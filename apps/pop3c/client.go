package pop3c

import (
	"context"
	"crypto/tls"
	"log/slog"
	"net/netip"
	"sync"

	"github.com/simboard/simboard/internal/mailconn"
	"github.com/simboard/simboard/nx"
)

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
	// conn is the connection layer (packet path, TLS, deadlines); nil once
	// closed. lr reads lines from it and holds received bytes not yet
	// consumed (message data is taken from lr's buffer too).
	conn      *mailconn.Conn
	lr        mailconn.LineReader
	wantReply bool // the line being read is a status line (NetX refuses chained ones)

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
// and logs in, as NetX does inside create. Options.Auth picks the login
// (AuthAuto: APOP with a valid greeting timestamp, else AUTH PLAIN when CAPA
// offers it, else USER/PASS; one attempt, no fallback unless
// Options.APOPFallback, which ProfileNetX sets as NetX falls back). STLS or
// implicit TLS (Options.TLS) happen before any credential is sent, and the
// password goes in clear only with Options.AllowPlaintextAuth.
//
// Create blocks for up to the bind, connect, reply and TLS waits. On success
// the caller owns the Client and must call Delete. On failure in the default
// profile everything is released (socket unbound and deleted, no packet
// held) and a nil Client is returned with the error. In ProfileNetX a failure
// after the socket was created leaves what nxd_pop3_client_create leaves:
// the socket created, bound or connected, returned in a non-nil Client
// together with the error, and the caller's Delete is needed to release it.
// Errors: ErrParam or nx.ErrPtr for bad options (before any traffic); TCP
// statuses such as nx.ErrNotConnected, nx.ErrNoPacket (timeout) or
// nx.ErrWaitAborted (ctx); ErrServerErrorStatus with a *ReplyError for a
// -ERR greeting or refused login, or a *ProtocolError for a malformed reply;
// nx.ErrNotSupported for TLSRequired without STLS, and with ErrPlaintextAuth,
// ErrAPOPUnavailable or ErrAuthNotOffered when no allowed login is left
// (nothing secret was sent); ErrInsufficientPacketPayload for a pool that
// can never hold a command (before any traffic); the crypto/tls error (for
// instance *tls.CertificateVerificationError) for a failed handshake.
func Create(ctx context.Context, opts Options) (*Client, error) {
	if opts.IP == nil {
		return nil, errf("create: no IP instance: %w", nx.ErrPtr)
	}
	o, err := opts.normalize()
	if err != nil {
		return nil, err
	}
	if !o.Server.IsValid() {
		if o.Server, err = o.resolve(ctx); err != nil { // byname.go
			return nil, mailconn.WithCause(ctx, err)
		}
	}
	c := newClient(o)
	sock, err := o.IP.TCPSocketCreate("POP3 Client socket", o.Window)
	if err != nil {
		c.stop()
		return nil, errf("create: socket: %w", err)
	}
	if err := sock.ClientBind(ctx, 0, o.Timeouts.Packet); err != nil {
		if c.netx {
			return c.netxCreateFailed(sock, mailconn.WithCause(ctx, errf("create: bind: %w", err)))
		}
		_ = sock.Delete()
		c.stop()
		return nil, mailconn.WithCause(ctx, errf("create: bind: %w", err))
	}
	server := netip.AddrPortFrom(o.Server, o.Port)
	if err := sock.Connect(ctx, server, o.Timeouts.Connect); err != nil {
		if c.netx {
			return c.netxCreateFailed(sock, mailconn.WithCause(ctx, errf("create: connect %v: %w", server, err)))
		}
		_ = sock.ClientUnbind()
		_ = sock.Delete()
		c.stop()
		return nil, mailconn.WithCause(ctx, errf("create: connect %v: %w", server, err))
	}
	c.log.Info("pop3c: connected", "server", server, "profile", o.Profile, "tls", o.TLS)
	if err := c.open(ctx, sock, o.IP.Clock()); err != nil {
		if c.netx {
			return c, mailconn.WithCause(ctx, err) // the caller's Delete releases it, as in NetX
		}
		return nil, mailconn.WithCause(ctx, err)
	}
	return c, nil
}

// netxCreateFailed is ProfileNetX's failed Create before the session: NetX's
// nxd_pop3_client_create returns the bind or connect status with the socket
// still created (and bound), so the caller must call nx_pop3_client_delete.
// The client returned holds the socket; Delete unbinds and deletes it.
func (c *Client) netxCreateFailed(sock mailconn.Socket, err error) (*Client, error) {
	c.conn = mailconn.New(sock, c.opts.connConfig(c.opts.IP.Clock()))
	c.lr = mailconn.LineReader{Src: c.conn, Clock: c.opts.IP.Clock(), OnFill: c.onFill}
	c.state, c.brokenErr = stateBroken, err
	return c, err
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
func (c *Client) open(ctx context.Context, sock mailconn.Socket, clock nx.Clock) error {
	c.conn = mailconn.New(sock, c.opts.connConfig(clock))
	c.lr = mailconn.LineReader{Src: c.conn, Clock: clock, OnFill: c.onFill}
	if err := c.session(ctx); err != nil {
		if c.netx {
			// NetX leaves the socket connected (or as the failure left
			// it) for the caller's nx_pop3_client_delete.
			return err
		}
		c.closeTransport(context.Background(), c.state != stateBroken)
		c.stop()
		c.state = stateDeleted
		return err
	}
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
		if c.netx {
			// NetX has no such state: a command sent while message
			// data is unread (a missed split terminator) goes out, and
			// its reply is read from whatever arrives next.
			c.state = stateTransaction
			return nil
		}
		return errf("%s: %s data still being read: %w", verb, c.msgCmd, ErrClientInvalidState)
	case stateQuit:
		return errf("%s: session quit: %w", verb, ErrClientInvalidState)
	case stateBroken:
		return errf("%s: connection was reset: %w", verb, nx.ErrNotConnected)
	}
	return errf("%s: client deleted: %w", verb, nx.ErrPtr)
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
