package pop3c

import (
	"crypto/tls"
	"io"
	"log/slog"
	"net/netip"
	"strings"
	"time"

	"github.com/simboard/simboard/internal/mailconn"
	"github.com/simboard/simboard/internal/seeded"
	"github.com/simboard/simboard/netstack"
	"github.com/simboard/simboard/nx"
	"github.com/simboard/simboard/packetpool"
)

// maxCommandLine is the longest command line, CRLF included (RFC 2449 §4).
const maxCommandLine = 255

// Configuration defaults, named after the NetX Duo macros they mirror
// (nxd_pop3_client.h).
const (
	DefaultPort         = 110 // POP3 (RFC 1939)
	DefaultImplicitPort = 995 // POP3S (RFC 8314)

	NetXMaxUsername       = 40   // NX_POP3_MAX_USERNAME
	NetXMaxPassword       = 20   // NX_POP3_MAX_PASSWORD
	NetXTCPWindowSize     = 1460 // NX_POP3_CLIENT_TCP_WINDOW_SIZE
	NetXMaxServerReply    = 512  // NX_POP3_MAX_SERVER_REPLY
	DefaultMaxLineLength  = 8192
	DefaultWindow         = 64 << 10
	DefaultMaxMessageSize = 64 << 20
	DefaultMaxListEntries = 100000
)

// Profile selects how closely the client follows NetX Duo's POP3 client.
type Profile uint8

const (
	// ProfileDefault is the fixed, extended client: NetX's API and statuses,
	// with its defects fixed and CAPA, STLS, implicit TLS, AUTH PLAIN, UIDL
	// and TOP available.
	ProfileDefault Profile = iota
	// ProfileNetX keeps the limits of NetX Duo's client that an MCU port will
	// hit, so they show up here first:
	//   - name > 40 or password > 20 bytes, port 0 or no server address:
	//     ErrParam (NX_POP3_MAX_USERNAME/PASSWORD);
	//   - no CAPA, no STLS or implicit TLS (a TLS mode is ErrParam), no AUTH;
	//     UIDL, TOP and Capa return nx.ErrNotSupported;
	//   - LIST and RETR check the index against the last STAT: without a STAT
	//     every index is ErrInvalidMailItem, as in NetX; DELE checks only 0;
	//   - a command must fit in one packet of the pool, else
	//     ErrInsufficientPacketPayload;
	//   - a reply (status line) that arrives as a chained packet is released
	//     and reported as nx.ErrInvalidPacket, as every NetX reply path does;
	//   - reply lines are limited to 512 bytes (NX_POP3_MAX_SERVER_REPLY);
	//   - TCP receive window 1460 (NX_POP3_CLIENT_TCP_WINDOW_SIZE).
	// It also reproduces NetX's defects (see the package documentation's
	// table): MailItemMessageGet's final flag misses a terminator split
	// across packets, -ERR to PASS is success, a failed Create returns the
	// Client with the error for the caller's Delete, and a receive timeout
	// in MailItemMessageGet leaves the connection up. It does not reproduce
	// NetX's packet leak.
	ProfileNetX
)

func (p Profile) String() string {
	switch p {
	case ProfileDefault:
		return "default"
	case ProfileNetX:
		return "netx"
	}
	return "invalid"
}

// TLSMode selects transport security. It is the one TLS enum of both mail
// clients (smtpc.TLSMode is the same type), with the same zero value and the
// same rule for clear-text credentials (see mailconn.TLSMode):
//
//   - TLSOpportunistic (the zero value): STLS (RFC 2595) when CAPA lists
//     it, plain text when it does not or the server refuses STLS (logged at
//     Warn). In plain text only APOP may log in unless AllowPlaintextAuth:
//     USER/PASS and AUTH PLAIN fail with ErrPlaintextAuth before the
//     password is sent. A failed handshake is an error, never a downgrade.
//   - TLSOff: plain POP3, as NetX Duo.
//   - TLSRequired: STLS must be offered and succeed, else nx.ErrNotSupported
//     before any credential is sent.
//   - TLSImplicit: TLS right after the TCP connect (POP3S, port 995,
//     RFC 8314).
type TLSMode = mailconn.TLSMode

// The TLS modes (see TLSMode).
const (
	TLSOpportunistic = mailconn.TLSOpportunistic
	TLSOff           = mailconn.TLSOff
	TLSRequired      = mailconn.TLSRequired
	TLSImplicit      = mailconn.TLSImplicit
)

// AuthMethod selects how Create logs in. Whatever the method, a refused
// login is final unless Options.APOPFallback allows NetX's fallback, and the
// password travels in clear (USER/PASS, AUTH PLAIN without TLS) only with
// Options.AllowPlaintextAuth.
type AuthMethod uint8

const (
	// AuthAuto (the zero value) picks the strongest login on offer and
	// tries only that one: APOP when the greeting carries a valid
	// <timestamp>, else AUTH PLAIN (RFC 5034) when CAPA lists SASL PLAIN,
	// else USER/PASS.
	AuthAuto AuthMethod = iota
	// AuthAPOP logs in with APOP (RFC 1939 §7; nxd_pop3_client_create with
	// APOP_authentication = NX_TRUE). A greeting without a valid timestamp
	// is ErrAPOPUnavailable and a -ERR to APOP a *ReplyError, both before
	// the password is sent, unless APOPFallback.
	AuthAPOP
	// AuthUserPass logs in with USER and PASS (RFC 1939;
	// APOP_authentication = NX_FALSE).
	AuthUserPass
	// AuthPlain logs in with AUTH PLAIN (RFC 5034); a server whose CAPA does
	// not list SASL PLAIN is ErrAuthNotOffered, naming what it offers. Not
	// in ProfileNetX.
	AuthPlain
)

// String returns "auto", "apop", "user" or "plain" (the CLI's vocabulary).
func (a AuthMethod) String() string {
	switch a {
	case AuthAuto:
		return "auto"
	case AuthAPOP:
		return "apop"
	case AuthUserPass:
		return "user"
	case AuthPlain:
		return "plain"
	}
	return "invalid"
}

// Timeouts are the client's wait options, in NetX ticks. A zero field takes
// the NetX default given with it (so nx.NoWait cannot be chosen; use
// nx.Ticks(1) for the shortest wait).
type Timeouts struct {
	// Packet bounds packet allocation for commands and message data, and the
	// TCP bind (NX_POP3_CLIENT_PACKET_TIMEOUT, 1 s).
	Packet nx.Wait
	// Send bounds a command's TCP send (NX_POP3_TCP_SOCKET_SEND_WAIT, 10 s).
	Send nx.Wait
	// Connect bounds the TCP connect (NX_POP3_CLIENT_CONNECTION_TIMEOUT, 30 s).
	// It also bounds the TLS handshake.
	Connect nx.Wait
	// Disconnect bounds the graceful disconnect in Delete
	// (NX_POP3_CLIENT_DISCONNECT_TIMEOUT, 10 s).
	Disconnect nx.Wait
	// Reply bounds each receive while waiting for a reply or message data
	// (NX_POP3_SERVER_REPLY_TIMEOUT, 10 s).
	Reply nx.Wait
}

func (t Timeouts) withDefaults() Timeouts {
	def := func(w *nx.Wait, v nx.Wait) {
		if *w == 0 {
			*w = v
		}
	}
	def(&t.Packet, nx.Seconds(1))
	def(&t.Send, nx.Seconds(10))
	def(&t.Connect, nx.Seconds(30))
	def(&t.Disconnect, nx.Seconds(10))
	def(&t.Reply, nx.Seconds(10))
	return t
}

// Options are the arguments of nxd_pop3_client_create plus the extensions.
// Zero values are documented per field.
type Options struct {
	// Auth selects the login (AuthAuto, the zero value: the strongest on
	// offer). nxd_pop3_client_create's APOP_authentication flag is AuthAPOP
	// (NX_TRUE) or AuthUserPass (NX_FALSE); in ProfileNetX the zero value is
	// AuthUserPass, as NetX's zero flag, and AuthPlain is ErrParam.
	Auth AuthMethod
	// APOPFallback keeps NetX's fallback with AuthAPOP: a greeting without a
	// valid timestamp, or a -ERR to APOP, is followed by USER/PASS (as
	// nxd_pop3_client.c does). Off by default: a refused APOP is final.
	// ProfileNetX turns it on. USER/PASS still obeys AllowPlaintextAuth.
	APOPFallback bool
	// AllowPlaintextAuth permits USER/PASS and AUTH PLAIN on a connection
	// without TLS, where they send the password in clear. false (the
	// default) refuses them with ErrPlaintextAuth before the password is
	// sent; APOP is always allowed. ProfileNetX turns it on (the MCU sends
	// the password in clear).
	AllowPlaintextAuth bool
	// IP is the board's IP instance. Required (nil is nx.ErrPtr).
	IP *netstack.IP
	// Pool is the client's packet pool: command packets and the message data
	// packets MailItemMessageGet returns come from it. nil means IP.Pool().
	Pool *packetpool.Pool
	// Server is the POP3 server, IPv4 or IPv6. Required unless ServerHost
	// is given (neither is ErrParam).
	Server netip.Addr
	// ServerHost is the server's host name (or address literal), used when
	// Server is not set: Create resolves it through Resolver, or else the
	// board's own DNS client (apps/dnsc: dnsc.For(IP)). It is also the name
	// the TLS certificate is verified against.
	ServerHost string
	// Resolver resolves ServerHost. nil means the board's DNS client; the
	// host's DNS is never used implicitly.
	Resolver Resolver
	// Port is the server port. 0 means 110, or 995 with TLSImplicit; in
	// ProfileNetX 0 is ErrParam, as in NetX.
	Port uint16
	// Name and Password are the mailbox credentials (client_name,
	// client_password). Neither may be empty nor hold CR, LF or NUL
	// (ErrParam before any traffic).
	Name     string
	Password string

	// Profile selects NetX-compatible limits. Zero is ProfileDefault.
	Profile Profile
	// TLS selects STLS or implicit TLS. Zero is TLSOpportunistic (TLSOff
	// in ProfileNetX, which has no TLS).
	TLS TLSMode
	// TLSConfig configures the TLS client. nil verifies the server's
	// certificate against the system roots for ServerHost, else the name
	// Server.String().
	// A config without ServerName gets that name too, and one without Time
	// checks certificates against the IP's clock (on a clone).
	// Certificates are verified unless the config says InsecureSkipVerify.
	TLSConfig *tls.Config
	// Rand is crypto/tls's source of randomness (tls.Config.Rand on a clone
	// of TLSConfig, unless TLSConfig sets its own Rand); POP3 itself draws
	// nothing random. nil means crypto/rand. Create reads 32 bytes from it.
	// TLS cannot be fully seeded in Go 1.26 (key generation and key shares
	// use the system's randomness), so with a seeded source (sim.Rand) the
	// bytes inside TLS records still differ from run to run; their sizes
	// and timing do not.
	Rand io.Reader

	// Timeouts are the wait options; zero fields take the NetX defaults.
	Timeouts Timeouts
	// Window is the TCP receive window of the client socket. 0 means 64 KiB
	// (1460 in ProfileNetX, NX_POP3_CLIENT_TCP_WINDOW_SIZE).
	Window int
	// MaxMessageSize bounds one message (RETR or TOP data after unstuffing):
	// beyond it the connection is reset and ErrMailBufferOverflow returned.
	// 0 means 64 MiB; negative means no limit.
	MaxMessageSize int64
	// MaxLineLength bounds a reply line (status line or a line of a CAPA,
	// LIST or UIDL listing), CRLF excluded: a longer line resets the
	// connection with ErrMailBufferOverflow. 0 means 8192 (512 in
	// ProfileNetX, NX_POP3_MAX_SERVER_REPLY).
	MaxLineLength int
	// MaxListEntries bounds the entries List and UIDL keep from one
	// listing: past it the rest of the listing is read and dropped (the
	// session stays in step) and ErrMailBufferOverflow is returned with the
	// entries kept. Memory stays within a few times the listing's size
	// whatever its length. 0 means 100000; negative means no limit (the
	// listing is still bounded by MaxMessageSize bytes).
	MaxListEntries int

	// Logger receives lifecycle events at Info and protocol faults at Warn.
	// nil discards.
	Logger *slog.Logger
	// Transcript, when set, receives the session's command and status lines
	// ("C: STAT", "S: +OK 2 320"), with the password, APOP digest and AUTH
	// response redacted. Message data is not written. nil writes nothing.
	Transcript io.Writer
}

// normalize validates o and fills the defaults. It performs no traffic.
func (o Options) normalize() (Options, error) {
	if o.Pool == nil && o.IP != nil {
		o.Pool = o.IP.Pool()
	}
	if o.Pool == nil {
		return o, errf("create: no packet pool: %w", nx.ErrPtr)
	}
	netx := o.Profile == ProfileNetX
	if o.Profile > ProfileNetX {
		return o, errf("create: unknown profile %d: %w", o.Profile, ErrParam)
	}
	if !o.TLS.Valid() {
		return o, errf("create: unknown TLS mode %d: %w", o.TLS, ErrParam)
	}
	if o.Auth > AuthPlain {
		return o, errf("create: unknown auth method %d: %w", o.Auth, ErrParam)
	}
	if netx {
		// NetX has no TLS and sends the password in clear; its APOP
		// falls back to USER/PASS (nxd_pop3_client.c).
		if o.TLS == TLSOpportunistic {
			o.TLS = TLSOff
		}
		switch o.Auth {
		case AuthAuto:
			// The zero APOP_authentication flag: USER/PASS.
			o.Auth = AuthUserPass
		case AuthPlain:
			return o, errf("create: AUTH PLAIN in the NetX profile (NetX has no AUTH): %w", ErrParam)
		}
		o.APOPFallback, o.AllowPlaintextAuth = true, true
	}
	if err := o.checkServer(); err != nil { // byname.go
		return o, err
	}
	if o.Port == 0 {
		if netx {
			return o, errf("create: port 0: %w", ErrParam)
		}
		o.Port = DefaultPort
		if o.TLS == TLSImplicit {
			o.Port = DefaultImplicitPort
		}
	}
	if o.Name == "" {
		return o, errf("create: empty name: %w", ErrParam)
	}
	if strings.ContainsAny(o.Name, "\r\n\x00") {
		return o, errf("create: name contains CR, LF or NUL: %w", ErrParam)
	}
	if o.Password == "" {
		return o, errf("create: empty password (the login needs one): %w", ErrParam)
	}
	if strings.ContainsAny(o.Password, "\r\n\x00") {
		return o, errf("create: password contains CR, LF or NUL: %w", ErrParam)
	}
	if netx {
		if len(o.Name) > NetXMaxUsername {
			return o, errf("create: name longer than %d bytes (NX_POP3_MAX_USERNAME): %w", NetXMaxUsername, ErrParam)
		}
		if len(o.Password) > NetXMaxPassword {
			return o, errf("create: password longer than %d bytes (NX_POP3_MAX_PASSWORD): %w", NetXMaxPassword, ErrParam)
		}
		if o.TLS != TLSOff {
			return o, errf("create: TLS mode %v in the NetX profile: %w", o.TLS, ErrParam)
		}
	}
	if o.Window < 0 {
		return o, errf("create: negative window: %w", ErrParam)
	}
	if o.Window == 0 {
		o.Window = DefaultWindow
		if netx {
			o.Window = NetXTCPWindowSize
		}
	}
	if o.MaxLineLength < 0 {
		return o, errf("create: negative line limit: %w", ErrParam)
	}
	if o.MaxLineLength == 0 {
		o.MaxLineLength = DefaultMaxLineLength
		if netx {
			o.MaxLineLength = NetXMaxServerReply
		}
	}
	if o.MaxMessageSize == 0 {
		o.MaxMessageSize = DefaultMaxMessageSize
	}
	if o.MaxListEntries == 0 {
		o.MaxListEntries = DefaultMaxListEntries
	}
	if !netx {
		// A pool that can never hold the longest command line fails now,
		// with the size it needs, not after a packet wait.
		room := packetpool.IPv4TCPPacket
		if o.Server.Is6() {
			room = packetpool.IPv6TCPPacket
		}
		if err := mailconn.CheckPool(o.Pool, room, maxCommandLine, "a 255-octet command line"); err != nil {
			return o, errf("create: %w: %w", err, ErrInsufficientPacketPayload)
		}
	}
	if o.Rand != nil {
		streams, err := seeded.Streams(o.Rand, 1)
		if err != nil {
			return o, errf("create: Options.Rand: %w: %w", err, ErrParam)
		}
		o.Rand = streams[0] // the client's own stream; the caller's Options are a copy
	}
	o.Timeouts = o.Timeouts.withDefaults()
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o, nil
}

func (o *Options) tlsConfig() *tls.Config {
	name := o.Server.String()
	if o.ServerHost != "" {
		name = o.ServerHost
	}
	var boardTime func() time.Time
	if o.IP != nil {
		// Certificates are checked against the board's clock, as firmware
		// checks them against its own time.
		boardTime = o.IP.Clock().Now
	}
	if o.TLSConfig == nil {
		return &tls.Config{ServerName: name, MinVersion: tls.VersionTLS12, Rand: o.Rand, Time: boardTime}
	}
	if o.TLSConfig.ServerName == "" || o.TLSConfig.Rand == nil && o.Rand != nil || o.TLSConfig.Time == nil && boardTime != nil {
		c := o.TLSConfig.Clone()
		if c.ServerName == "" {
			c.ServerName = name
		}
		if c.Rand == nil {
			c.Rand = o.Rand
		}
		if c.Time == nil {
			c.Time = boardTime
		}
		return c
	}
	return o.TLSConfig
}
