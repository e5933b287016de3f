package smtpc

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/simboard/simboard/internal/mailconn"
	"github.com/simboard/simboard/internal/seeded"
	"github.com/simboard/simboard/netstack"
	"github.com/simboard/simboard/nx"
	"github.com/simboard/simboard/packetpool"
)

// NetX limits kept by ProfileNetX (NX_SMTP_CLIENT_MAX_USERNAME/PASSWORD).
const (
	netxMaxUsername = 40
	netxMaxPassword = 20
)

// maxCommandLine is the longest command line, CRLF included (RFC 5321
// 4.5.3.1.4).
const maxCommandLine = 512 + 2

// lookaheadSize is the buffer a streamed body is read through.
const lookaheadSize = 32 << 10

// Client mirrors NX_SMTP_CLIENT. Create it once; every MailSend opens one TCP
// connection, runs one SMTP session and closes it, as NetX does, and the
// client is reusable after success or failure.
//
// A Client is safe for concurrent use: MailSend, MailSendReader, Send and
// Delete are serialised (one session at a time, like the single NetX
// instance). Lock order: Client.mu only.
type Client struct {
	mu      sync.Mutex
	cfg     config
	sock    *netstack.TCPSocket // nil after a TLS session consumed it; recreated on demand
	deleted bool
	look    []byte // lookahead for streamed bodies
	hdr     []byte // header scratch
}

// config is the validated, defaulted form of Options.
type config struct {
	Options
	netx   bool
	domain string
	to     Timeouts
	chain  int
	log    *slog.Logger
	tls    *tls.Config // nil with TLSOff
	idRand io.Reader   // the Message-ID's random part (Options.Rand's first stream)
	// netxSends, when set (tests), sees the bytes of every packet
	// ProfileNetX hands to the socket, one call per nx_tcp_socket_send.
	netxSends func(p []byte)
}

// Create mirrors nxd_smtp_client_create: it validates the options, creates
// the client's TCP socket ("SMTP Client socket", window Options.Window) and
// sends nothing. It does not block.
//
// Statuses: nx.ErrPtr (nil IP or Pool, empty From), nx.ErrIPAddress (neither
// ServerAddr nor ServerHost), nx.ErrSize (ProfileNetX string limits),
// ErrInvalidParam (CR/LF/NUL in a string, an address without '@', an
// unknown AuthType, TLS asked of ProfileNetX),
// or the socket's creation status.
func Create(opts Options) (*Client, error) {
	switch {
	case opts.IP == nil:
		return nil, fmt.Errorf("smtpc: create: nil IP: %w", nx.ErrPtr)
	case opts.Pool == nil:
		return nil, fmt.Errorf("smtpc: create: nil packet pool: %w", nx.ErrPtr)
	}
	cfg, err := newConfig(opts)
	if err != nil {
		return nil, err
	}
	c := &Client{cfg: cfg}
	if err := c.newSocket(); err != nil {
		return nil, err
	}
	return c, nil
}

func newConfig(opts Options) (config, error) {
	cfg := config{Options: opts, netx: opts.Profile == ProfileNetX}
	switch {
	case opts.From == "":
		return cfg, fmt.Errorf("smtpc: create: empty from address: %w", nx.ErrPtr)
	case opts.Profile != ProfileDefault && opts.Profile != ProfileNetX:
		return cfg, errorf(ErrInvalidParam, "smtpc: create: unknown profile %d", opts.Profile)
	}
	if err := checkAddress("from address", opts.From); err != nil {
		return cfg, err
	}
	for _, f := range []struct{ name, v string }{
		{"username", opts.Username}, {"password", opts.Password},
		{"client domain", opts.ClientDomain}, {"server host", opts.ServerHost},
	} {
		if strings.ContainsAny(f.v, "\r\n\x00") {
			return cfg, errorf(ErrInvalidParam, "smtpc: create: %s contains CR, LF or NUL", f.name)
		}
	}
	if strings.ContainsAny(opts.ClientDomain, " \t<>") {
		return cfg, errorf(ErrInvalidParam, "smtpc: create: client domain %q contains a space or angle bracket", opts.ClientDomain)
	}
	switch opts.Auth {
	case AuthAuto:
		switch {
		case cfg.netx:
			cfg.Auth = AuthPlain // ProfileNetX: type 0 is no NetX type, so PLAIN (nxd_smtp_client_create)
		case opts.Username == "":
			cfg.Auth = AuthNone
		}
	case AuthPlain, AuthLogin, AuthCRAMMD5, AuthXOAUTH2, AuthNone:
	default:
		if !cfg.netx {
			return cfg, errorf(ErrInvalidParam, "smtpc: create: unknown auth type %v", opts.Auth)
		}
	}
	if !cfg.netx && cfg.Auth != AuthNone {
		// Say it now, not after a connection and an AUTH the server
		// must refuse.
		switch {
		case opts.Username == "":
			return cfg, errorf(ErrInvalidParam, "smtpc: create: AUTH %v asked for but the username is empty", cfg.Auth)
		case opts.Password == "":
			return cfg, errorf(ErrInvalidParam, "smtpc: create: AUTH %v asked for but the password is empty (no password set)", cfg.Auth)
		}
	}
	if cfg.netx {
		// nxd_smtp_client_create silently replaces any type other than
		// PLAIN, LOGIN and NONE with PLAIN.
		if cfg.Auth != AuthPlain && cfg.Auth != AuthLogin && cfg.Auth != AuthNone {
			cfg.Auth = AuthPlain
		}
		if len(opts.Username) > netxMaxUsername || len(opts.Password) > netxMaxPassword || len(opts.ClientDomain) > netxMaxUsername {
			return cfg, fmt.Errorf("smtpc: create: username, password or domain longer than NetX allows (40/20/40): %w", nx.ErrSize)
		}
		switch opts.TLS {
		case TLSOpportunistic, TLSOff:
			cfg.TLS = TLSOff
		default:
			return cfg, errorf(ErrInvalidParam, "smtpc: create: ProfileNetX has no TLS")
		}
		cfg.AllowPlaintextAuth = true
	}
	if !opts.TLS.Valid() {
		return cfg, errorf(ErrInvalidParam, "smtpc: create: unknown TLS policy %d", opts.TLS)
	}
	if !opts.ServerAddr.IsValid() {
		if opts.ServerHost == "" {
			return cfg, fmt.Errorf("smtpc: create: no server address or host: %w", nx.ErrIPAddress)
		}
		if a, err := netip.ParseAddr(strings.Trim(opts.ServerHost, "[]")); err == nil {
			cfg.ServerAddr = a
		}
	}
	if cfg.Port == 0 {
		cfg.Port = 25
		if cfg.TLS == TLSImplicit {
			cfg.Port = 465
		}
	}
	cfg.domain = opts.ClientDomain
	if cfg.domain == "" && opts.IP != nil {
		cfg.domain = addressLiteral(opts.IP)
	}
	cfg.to = opts.Timeouts.withDefaults()
	if cfg.Window < 0 {
		cfg.Window = 0
	}
	if cfg.netx && cfg.Window == 0 {
		cfg.Window = netxWindow // NX_SMTP_CLIENT_TCP_WINDOW_SIZE
	}
	if !cfg.netx && opts.Pool != nil {
		// A pool that can never hold the longest command line fails now,
		// with the size it needs, not with NX_SMTP_PACKET_ALLOCATE_ERROR
		// after the packet wait at some later command.
		room := packetpool.IPv4TCPPacket
		if cfg.ServerAddr.Is6() && !cfg.ServerAddr.Is4In6() || !cfg.ServerAddr.IsValid() {
			room = packetpool.IPv6TCPPacket
		}
		if err := mailconn.CheckPool(opts.Pool, room, maxCommandLine, "a 512-octet command line and CRLF"); err != nil {
			return cfg, errorf(ErrPacketAllocate, "smtpc: create: %w", err)
		}
	}
	cfg.chain = opts.ChainSize
	if cfg.chain <= 0 {
		cfg.chain = 16 << 10
		if opts.Pool != nil {
			if q := opts.Pool.PayloadSize() * opts.Pool.Info().Total / 4; q < cfg.chain {
				cfg.chain = max(q, 1)
			}
		}
	}
	streams, err := seeded.Streams(opts.Rand, 2)
	if err != nil {
		return cfg, errorf(ErrInvalidParam, "smtpc: create: Options.Rand: %w", err)
	}
	cfg.idRand = streams[0]
	if cfg.TLS != TLSOff {
		cfg.tls = &tls.Config{}
		if opts.TLSConfig != nil {
			cfg.tls = opts.TLSConfig.Clone()
		}
		if cfg.tls.Rand == nil && opts.Rand != nil {
			cfg.tls.Rand = streams[1]
		}
		if cfg.tls.Time == nil && opts.IP != nil {
			// Certificates are checked against the board's time, as
			// firmware checks them against its RTC or SNTP time.
			now, clk := opts.Now, opts.IP.Clock()
			cfg.tls.Time = func() time.Time {
				if now != nil {
					return now()
				}
				return clk.Now()
			}
		}
		if cfg.tls.ServerName == "" {
			cfg.tls.ServerName = opts.ServerHost
			if cfg.tls.ServerName == "" {
				cfg.tls.ServerName = cfg.ServerAddr.String()
			}
		}
	}
	cfg.log = opts.Logger
	if cfg.log == nil {
		cfg.log = slog.New(slog.DiscardHandler)
	}
	return cfg, nil
}

// addressLiteral returns the board's address as an EHLO address literal.
func addressLiteral(ip *netstack.IP) string {
	if p := ip.Addr(); p.IsValid() {
		return "[" + p.Addr().String() + "]"
	}
	if p := ip.Addr6(); p.IsValid() {
		return "[IPv6:" + p.Addr().String() + "]"
	}
	return "localhost"
}

func (c *Client) newSocket() error {
	s, err := c.cfg.IP.TCPSocketCreate("SMTP Client socket", c.cfg.Window)
	if err != nil {
		return fmt.Errorf("smtpc: create socket: %w", err)
	}
	c.sock = s
	return nil
}

// Delete mirrors nx_smtp_client_delete: it deletes the client's socket. It
// blocks until a MailSend in progress on another goroutine has finished
// (cancel its context to hurry it). Afterwards MailSend returns
// ErrClientNotInitialized. Statuses: nx.ErrPtr for a nil or already deleted
// client, or the socket's delete status.
func (c *Client) Delete() error {
	if c == nil {
		return fmt.Errorf("smtpc: delete: nil client: %w", nx.ErrPtr)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.deleted {
		return fmt.Errorf("smtpc: delete: client already deleted: %w", nx.ErrPtr)
	}
	c.deleted = true
	if c.sock == nil {
		return nil
	}
	s := c.sock
	c.sock = nil
	if err := s.Delete(); err != nil {
		return fmt.Errorf("smtpc: delete: %w", err)
	}
	return nil
}

// Message is a mail for Send: several recipients and a streamed body.
type Message struct {
	To  []string // header To and envelope recipients
	Cc  []string // header Cc and envelope recipients
	Bcc []string // envelope recipients only: never written in the header
	// Subject is the Subject header; a non-ASCII subject is RFC 2047
	// encoded (except in ProfileNetX, which writes NetX's raw bytes).
	Subject  string
	Priority Priority
	// Body is read once, on Send's goroutine, through a fixed 32 KiB
	// lookahead: a body of any size streams into packet chains without
	// being held in memory. nil means an empty body.
	Body io.Reader
	// Size is the body's size in octets when known, for the SIZE
	// extension. 0 means unknown, unless Body has a Len() int method
	// (bytes.Reader, strings.Reader, bytes.Buffer), which is used.
	Size int64
	// ContentType replaces the Content-Type value. "" means NetX's
	// text/plain; charset="utf-8".
	ContentType string
	// Date is the Date header; zero means now (the IP's clock).
	Date time.Time
	// MessageID is the Message-ID without angle brackets; "" means
	// <24 hex digits from Options.Rand>.<the Date as yyyymmddhhmmss>@<the
	// From domain>.
	MessageID string
}

// Result reports what the server did with a mail.
type Result struct {
	// Accepted is true when the server answered 250 to the end of data:
	// the mail is queued for delivery and counts as sent, even if QUIT
	// failed afterwards.
	Accepted bool
	// Reply is the text of that 250 reply (often a queue id).
	Reply string
	// QuitErr is set (wrapping ErrQuit) when the mail was accepted but the
	// QUIT exchange failed; MailSend then still returns a nil error.
	QuitErr error
	// Auth is the mechanism used, AuthNone when the session did not
	// authenticate.
	Auth AuthType
	// TLS reports whether the session ran over TLS.
	TLS bool
	// Recipients is the number of recipients the server accepted.
	Recipients int
	// Octets is the size of the message as sent in DATA (header and
	// encoded body, without the final ".").
	Octets int64
	// Server is the address and port the session connected to.
	Server netip.AddrPort
}

// mail is one validated request.
type mail struct {
	to, cc, bcc []string
	subject     string
	priority    Priority
	body        []byte    // MailSend: the whole body
	reader      io.Reader // MailSendReader/Send: streamed
	size        int64     // body size, -1 unknown
	contentType string
	date        time.Time
	messageID   string
	header      []byte
	eightBit    bool // body known to hold 8-bit octets
	utf8Addr    bool // an address needs SMTPUTF8
}

func (m *mail) recipients() []string {
	r := make([]string, 0, len(m.to)+len(m.cc)+len(m.bcc))
	r = append(r, m.to...)
	r = append(r, m.cc...)
	return append(r, m.bcc...)
}

// MailSend mirrors nx_smtp_mail_send: it connects, runs one SMTP session that
// sends body to recipient, and disconnects. It blocks until the session ends
// (bounded by the Timeouts; cancelling ctx aborts with nx.ErrWaitAborted and
// resets the connection). priority is emitted as X-Priority/Importance.
//
// A nil error means the server accepted the mail (250 after the end of
// data); Result.QuitErr then tells whether the QUIT exchange also worked.
// Errors wrap the NetX status of the failure (see the package
// documentation's table) together with a *ReplyError for a server's
// rejection, a *ProtocolError for a malformed reply, or the nx.Status of a
// transport failure (nx.ErrNoPacket on a timeout, nx.ErrNotConnected on a
// reset or close). Addresses, subject and body lines are checked before any
// traffic; the body's 8-bit octets are checked against the server's
// 8BITMIME offer before MAIL FROM. Every packet the session allocated or
// received has been released when MailSend returns, whatever the outcome.
func (c *Client) MailSend(ctx context.Context, recipient string, priority Priority, subject string, body []byte) (Result, error) {
	if c == nil {
		return Result{}, fmt.Errorf("smtpc: mail send: nil client: %w", nx.ErrPtr)
	}
	if c.cfg.netx && len(body) == 0 {
		return Result{}, errorf(ErrInvalidParam, "smtpc: mail send: empty body")
	}
	m := &mail{to: []string{recipient}, subject: subject, priority: priority, body: body, size: int64(len(body))}
	if m.body == nil {
		m.body = []byte{}
	}
	return c.send(ctx, m)
}

// MailSendReader is MailSend with the body streamed from r (read once, on
// the caller's goroutine, through a fixed 32 KiB lookahead). A body line over
// 998 octets or an 8-bit octet the server cannot take is found before it is
// sent: the session is then reset without the final "." so the server
// discards the partial message.
func (c *Client) MailSendReader(ctx context.Context, recipient string, priority Priority, subject string, r io.Reader) (Result, error) {
	return c.Send(ctx, &Message{To: []string{recipient}, Priority: priority, Subject: subject, Body: r})
}

// Send sends msg to every To, Cc and Bcc recipient in one session. Every
// recipient must be accepted by RCPT TO, or the mail is not sent: the
// session ends with QUIT and the error (ErrRcptReply with a *ReplyError whose
// Stage names the refused address) says which. Otherwise as MailSend.
func (c *Client) Send(ctx context.Context, msg *Message) (Result, error) {
	if c == nil || msg == nil {
		return Result{}, fmt.Errorf("smtpc: send: nil client or message: %w", nx.ErrPtr)
	}
	m := &mail{
		to: msg.To, cc: msg.Cc, bcc: msg.Bcc, subject: msg.Subject, priority: msg.Priority,
		reader: msg.Body, size: -1, contentType: msg.ContentType, date: msg.Date, messageID: msg.MessageID,
	}
	switch {
	case msg.Size > 0:
		m.size = msg.Size
	case msg.Body == nil:
		m.size, m.body, m.reader = 0, []byte{}, nil
	default:
		if l, ok := msg.Body.(interface{ Len() int }); ok {
			m.size = int64(l.Len())
		}
	}
	if c.cfg.netx && m.size == 0 {
		return Result{}, errorf(ErrInvalidParam, "smtpc: send: empty body")
	}
	return c.send(ctx, m)
}

// checkAddress validates a bare addr-spec: no CR, LF or other control
// characters, no spaces or angle brackets, an '@' with text on both sides.
func checkAddress(what, a string) error {
	if a == "" {
		return errorf(ErrInvalidParam, "smtpc: %s is empty", what)
	}
	for i := 0; i < len(a); i++ {
		switch c := a[i]; {
		case c == '\r' || c == '\n':
			return errorf(ErrInvalidParam, "smtpc: %s contains CR or LF", what)
		case c < 0x20 || c == 0x7f || c == ' ' || c == '<' || c == '>':
			return errorf(ErrInvalidParam, "smtpc: %s %q contains a space, control character or angle bracket", what, a)
		}
	}
	at := strings.LastIndexByte(a, '@')
	if at <= 0 || at == len(a)-1 {
		return errorf(ErrInvalidParam, "smtpc: %s %q is not of the form local@domain", what, a)
	}
	return nil
}

// prepare checks a mail against the profile before any traffic and builds
// its header into hdr.
func (cfg *config) prepare(m *mail, now time.Time, hdr []byte) error {
	all := m.recipients()
	if len(all) == 0 {
		return errorf(ErrInvalidParam, "smtpc: no recipient")
	}
	if cfg.netx && len(all) != 1 {
		return errorf(ErrInvalidParam, "smtpc: ProfileNetX sends to exactly one recipient, got %d", len(all))
	}
	for _, r := range all {
		if err := checkAddress("recipient", r); err != nil {
			return err
		}
		if !isASCII(r) {
			m.utf8Addr = true
		}
	}
	if !isASCII(cfg.From) {
		m.utf8Addr = true
	}
	if strings.ContainsAny(m.subject, "\r\n") {
		return errorf(ErrInvalidParam, "smtpc: subject contains CR or LF")
	}
	if strings.ContainsAny(m.contentType, "\r\n") {
		return errorf(ErrInvalidParam, "smtpc: content type contains CR or LF")
	}
	if strings.ContainsAny(m.messageID, "\r\n<> ") {
		return errorf(ErrInvalidParam, "smtpc: message id contains CR, LF, space or angle bracket")
	}
	if m.reader == nil && !cfg.netx { // ProfileNetX sends the body verbatim, unchecked
		eight, err := scanBody(m.body)
		if err != nil {
			return err
		}
		m.eightBit = eight
	}
	if m.date.IsZero() {
		m.date = now
	}
	if m.messageID == "" {
		id, err := newMessageID(cfg.idRand, cfg.From, m.date)
		if err != nil {
			return err
		}
		m.messageID = id
	}
	hdr, err := buildHeader(hdr, headerSpec{
		from: cfg.From, to: m.to, cc: m.cc, subject: m.subject, date: m.date,
		messageID: m.messageID, priority: m.priority, contentType: m.contentType, netx: cfg.netx,
	})
	if err != nil {
		return err
	}
	m.header = hdr
	return nil
}

// send runs one complete mail: validation, connection, session, close.
func (c *Client) send(ctx context.Context, m *mail) (Result, error) {
	if ctx == nil {
		ctx = context.Background()
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.deleted {
		return Result{}, ErrClientNotInitialized
	}
	if err := c.cfg.prepare(m, c.cfg.now(), c.hdr[:0]); err != nil {
		return Result{}, err
	}
	c.hdr = m.header[:0]
	res, err := c.run(ctx, m)
	err = mailconn.WithCause(ctx, err) // errors.Is(err, context.DeadlineExceeded) next to NX_WAIT_ABORTED
	if err != nil {
		c.cfg.log.Warn("smtpc: mail not sent", "recipients", len(m.recipients()), "err", err)
	} else {
		c.cfg.log.Info("smtpc: mail sent", "recipients", res.Recipients, "octets", res.Octets, "tls", res.TLS, "quit_err", res.QuitErr)
	}
	return res, err
}

// run resolves the server, connects the socket and drives the session.
func (c *Client) run(ctx context.Context, m *mail) (Result, error) {
	var res Result
	addrs := []netip.Addr{c.cfg.ServerAddr}
	if !c.cfg.ServerAddr.IsValid() {
		network := "ip"
		if !c.cfg.IP.Addr6().IsValid() {
			network = "ip4"
		} else if !c.cfg.IP.Addr().IsValid() {
			network = "ip6"
		}
		r, err := c.cfg.resolver()
		if err != nil {
			return res, err
		}
		addrs, err = r.LookupNetIP(ctx, network, c.cfg.ServerHost)
		if err != nil || len(addrs) == 0 {
			if err == nil {
				err = errors.New("no addresses")
			}
			return res, fmt.Errorf("smtpc: resolve %q: %w: %w", c.cfg.ServerHost, nx.ErrIPAddress, err)
		}
	}
	if c.sock == nil {
		if err := c.newSocket(); err != nil {
			return res, err
		}
	}
	sock := c.sock
	var err error
	for _, a := range addrs {
		ap := netip.AddrPortFrom(a.Unmap(), c.cfg.Port)
		if err = sock.ClientBind(ctx, 0, c.cfg.to.Bind); err != nil {
			return res, fmt.Errorf("smtpc: bind: %w", err)
		}
		if err = sock.Connect(ctx, ap, c.cfg.to.Connection); err == nil {
			res.Server = ap
			break
		}
		err = fmt.Errorf("smtpc: connect %v: %w", ap, err)
		_ = sock.ClientUnbind()
		if errors.Is(err, nx.ErrWaitAborted) {
			break
		}
	}
	if err != nil {
		return res, err
	}
	conn := c.newConn(sock)
	s := newSession(&c.cfg, conn, c.cfg.IP.Clock(), c.cfg.tls)
	s.look = c.buf(&c.look, lookaheadSize)
	err = s.run(ctx, m)
	s.finish(ctx)
	if conn.Consumed() {
		// The TLS adapter (netstack.Conn) unbound and deleted the socket.
		c.sock = nil
	}
	res.Accepted, res.Reply, res.QuitErr = s.res.Accepted, s.res.Reply, s.res.QuitErr
	res.Auth, res.TLS, res.Recipients, res.Octets = s.res.Auth, s.res.TLS, s.res.Recipients, s.res.Octets
	if res.Auth == 0 {
		res.Auth = AuthNone // the session did not authenticate
	}
	return res, err
}

func (c *Client) buf(p *[]byte, n int) []byte {
	if len(*p) < n {
		*p = make([]byte, n)
	}
	return *p
}
