package pop3c

import (
	"crypto/tls"
	"io"
	"log/slog"
	"net/netip"
	"strings"

	"github.com/simboard/simboard/netstack"
	"github.com/simboard/simboard/nx"
	"github.com/simboard/simboard/packetpool"
)

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
	// NetX's defects are not reproduced in either profile: the terminator is
	// found across packets, the data is unstuffed and excludes the terminator,
	// -ERR to PASS is an error, and nothing leaks.
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

// TLSMode selects transport security.
type TLSMode uint8

const (
	// TLSOff is plain POP3, as NetX Duo (the zero value).
	TLSOff TLSMode = iota
	// TLSOpportunistic upgrades with STLS (RFC 2595) when CAPA lists it and
	// continues in plain text when it does not. A failed handshake is an
	// error, never a silent downgrade.
	TLSOpportunistic
	// TLSRequired upgrades with STLS and fails with nx.ErrNotSupported when
	// the server does not offer it, before sending any credentials.
	TLSRequired
	// TLSImplicit starts TLS right after the TCP connect (POP3S, port 995,
	// RFC 8314).
	TLSImplicit
)

func (m TLSMode) String() string {
	switch m {
	case TLSOff:
		return "off"
	case TLSOpportunistic:
		return "opportunistic"
	case TLSRequired:
		return "required"
	case TLSImplicit:
		return "implicit"
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
	// APOP is nxd_pop3_client_create's APOP_authentication flag, with
	// NetX's logic: log in with APOP when the greeting carries a
	// <timestamp>, fall back to USER/PASS on a -ERR to APOP, and go straight
	// to USER/PASS when the greeting has no timestamp. false logs in with
	// AUTH PLAIN when CAPA offers it (see DisableSASL), else USER/PASS.
	APOP bool
	// IP is the board's IP instance. Required (nil is nx.ErrPtr).
	IP *netstack.IP
	// Pool is the client's packet pool: command packets and the message data
	// packets MailItemMessageGet returns come from it. nil means IP.Pool().
	Pool *packetpool.Pool
	// Server is the POP3 server, IPv4 or IPv6. Required (invalid is ErrParam).
	Server netip.Addr
	// Port is the server port. 0 means 110, or 995 with TLSImplicit; in
	// ProfileNetX 0 is ErrParam, as in NetX.
	Port uint16
	// Name and Password are the mailbox credentials (client_name,
	// client_password). Name must not be empty; neither may hold CR, LF or
	// NUL (ErrParam before any traffic).
	Name     string
	Password string

	// Profile selects NetX-compatible limits. Zero is ProfileDefault.
	Profile Profile
	// TLS selects STLS or implicit TLS. Zero is TLSOff.
	TLS TLSMode
	// TLSConfig configures the TLS client. nil verifies the server's
	// certificate against the system roots for the name Server.String().
	// A config without ServerName gets that name too (on a clone).
	// Certificates are verified unless the config says InsecureSkipVerify.
	TLSConfig *tls.Config
	// DisableSASL stops the client from using AUTH PLAIN (RFC 5034) when CAPA
	// offers it; it then logs in with USER/PASS. false uses AUTH PLAIN when
	// the server lists SASL PLAIN and APOP is not used.
	DisableSASL bool

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
	if o.TLS > TLSImplicit {
		return o, errf("create: unknown TLS mode %d: %w", o.TLS, ErrParam)
	}
	if !o.Server.IsValid() || o.Server.IsUnspecified() {
		return o, errf("create: no server address: %w", ErrParam)
	}
	o.Server = o.Server.Unmap()
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
	o.Timeouts = o.Timeouts.withDefaults()
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o, nil
}

func (o *Options) tlsConfig() *tls.Config {
	name := o.Server.String()
	if o.TLSConfig == nil {
		return &tls.Config{ServerName: name, MinVersion: tls.VersionTLS12}
	}
	if o.TLSConfig.ServerName == "" {
		c := o.TLSConfig.Clone()
		c.ServerName = name
		return c
	}
	return o.TLSConfig
}
