package smtpc

import (
	"context"
	"crypto/tls"
	"io"
	"log/slog"
	"net/netip"
	"time"

	"github.com/simboard/simboard/internal/mailconn"
	"github.com/simboard/simboard/netstack"
	"github.com/simboard/simboard/nx"
	"github.com/simboard/simboard/packetpool"
)

// Profile selects how closely the client follows NetX Duo.
type Profile int

const (
	// ProfileDefault (the zero value) is the full client: several
	// recipients, PLAIN/LOGIN/CRAM-MD5/XOAUTH2, STARTTLS and implicit TLS,
	// SIZE/8BITMIME/SMTPUTF8, HELO fallback, Date/Message-ID/priority
	// headers.
	ProfileDefault Profile = iota
	// ProfileNetX keeps NetX Duo's limits so a firmware engineer sees the
	// failures the MCU will see: one recipient per mail (more give
	// ErrInvalidParam), PLAIN or LOGIN only (any other AuthType becomes
	// PLAIN at Create, as nxd_smtp_client_create does), no TLS (TLSOff is
	// forced; TLSRequired or TLSImplicit make Create fail), no HELO
	// fallback, only 250 accepted for RCPT, username ≤ 40, password ≤ 20
	// and domain ≤ 40 octets (NX_SIZE_ERROR), an empty body refused
	// (NX_SMTP_INVALID_PARAM), NetX's exact header bytes (reference §4.8),
	// "MAIL FROM:<a> " / "RCPT TO:<b> " with NetX's trailing space, and no
	// ESMTP parameters. Plaintext AUTH is allowed, as on the MCU. It runs a
	// port of NetX's state machine and reproduces its defects: the body is
	// sent verbatim (no dot-stuffing, no CRLF repair, no 998-octet check) in
	// NetX's packets, one packet is one reply, and the statuses are NetX's
	// (see the package documentation's table). No packet leaks either way.
	ProfileNetX
)

// TLSMode selects transport security. It is the one TLS enum of both mail
// clients (pop3c.TLSMode is the same type), with the same zero value and
// the same rule for clear-text credentials; see mailconn.TLSMode.
//
//   - TLSOpportunistic (the zero value): STARTTLS when the server offers
//     it, plain text otherwise. In plain text, PLAIN, LOGIN and XOAUTH2 are
//     refused (ErrPlaintextAuth) unless AllowPlaintextAuth: only CRAM-MD5
//     may authenticate. A failed handshake or certificate check fails the
//     mail (falling back to plain text would hide an attack).
//   - TLSOff never uses TLS (NetX Duo's behaviour).
//   - TLSRequired: STARTTLS must be offered and succeed, else the mail
//     fails with ErrTLSUnavailable (status ErrHelloReply) before AUTH or
//     MAIL.
//   - TLSImplicit: TLS from the first byte (SMTPS, port 465 by default).
type TLSMode = mailconn.TLSMode

// The TLS modes (see TLSMode).
const (
	TLSOpportunistic = mailconn.TLSOpportunistic
	TLSOff           = mailconn.TLSOff
	TLSRequired      = mailconn.TLSRequired
	TLSImplicit      = mailconn.TLSImplicit
)

// Resolver resolves a server host name. The board's DNS client
// (*dnsc.Client) satisfies it, and is used when Options.Resolver is nil;
// *net.Resolver does too, for a board that should use the host's DNS.
type Resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// Timeouts mirror the NetX configuration macros (reference §4.2). A zero
// field means the NetX default; there is no way to ask for NX_NO_WAIT here,
// which NetX does not use for these either.
type Timeouts struct {
	Packet     nx.Wait // NX_SMTP_CLIENT_PACKET_TIMEOUT, 2 s: packet allocate and data append
	Connection nx.Wait // NX_SMTP_CLIENT_CONNECTION_TIMEOUT, 10 s: TCP connect
	Disconnect nx.Wait // NX_SMTP_CLIENT_DISCONNECT_TIMEOUT, 5 s: graceful disconnect
	Greeting   nx.Wait // NX_SMTP_GREETING_TIMEOUT, 10 s: the 220 greeting
	Envelope   nx.Wait // NX_SMTP_ENVELOPE_TIMEOUT, 10 s: EHLO/STARTTLS/AUTH/MAIL/RCPT/DATA/QUIT replies and the TLS handshake
	Message    nx.Wait // NX_SMTP_MESSAGE_TIMEOUT, 30 s: the reply after the end of data
	Send       nx.Wait // NX_SMTP_CLIENT_SEND_TIMEOUT, 5 s: each nx_tcp_socket_send
	Bind       nx.Wait // the fixed 100-tick wait of nx_tcp_client_socket_bind
}

// DefaultTimeouts returns NetX Duo's defaults.
func DefaultTimeouts() Timeouts {
	return Timeouts{
		Packet:     nx.Seconds(2),
		Connection: nx.Seconds(10),
		Disconnect: nx.Seconds(5),
		Greeting:   nx.Seconds(10),
		Envelope:   nx.Seconds(10),
		Message:    nx.Seconds(30),
		Send:       nx.Seconds(5),
		Bind:       nx.Ticks(100),
	}
}

func (t Timeouts) withDefaults() Timeouts {
	d := DefaultTimeouts()
	for _, p := range []struct{ v, def *nx.Wait }{
		{&t.Packet, &d.Packet}, {&t.Connection, &d.Connection}, {&t.Disconnect, &d.Disconnect},
		{&t.Greeting, &d.Greeting}, {&t.Envelope, &d.Envelope}, {&t.Message, &d.Message},
		{&t.Send, &d.Send}, {&t.Bind, &d.Bind},
	} {
		if *p.v == nx.NoWait {
			*p.v = *p.def
		}
	}
	return t
}

// Options are the arguments of nxd_smtp_client_create plus this client's
// extensions. Zero values are documented per field.
type Options struct {
	// IP is the board's IP instance (ip_ptr). Required (nx.ErrPtr).
	IP *netstack.IP
	// Pool is client_packet_pool_ptr: commands and the message are built
	// in its packets, chained as the message grows. Required (nx.ErrPtr).
	// Replies arrive in packets of the IP's default pool.
	Pool *packetpool.Pool

	// Username and Password are the AUTH credentials (for XOAUTH2,
	// Password is the access token). They never reach the logger or the
	// transcript. CR, LF and NUL are refused.
	Username, Password string
	// From is from_address, a bare addr-spec ("board@example.com").
	// Required.
	From string
	// ClientDomain is the EHLO argument (client_domain). "" means the
	// board's address as an address literal, e.g. "[198.51.100.2]".
	ClientDomain string
	// Auth is authentication_type. The zero value, AuthAuto, picks the
	// strongest mechanism the server offers when Username is set and means
	// AuthNone otherwise. An explicit mechanism the server does not offer
	// is ErrAuthNotOffered (never another mechanism in its place). Any
	// AUTH with an empty Username or Password is ErrInvalidParam at Create.
	// ProfileNetX: zero means PLAIN and NetX's substitutions apply.
	Auth AuthType

	// ServerAddr is server_address (IPv4 or IPv6).
	ServerAddr netip.Addr
	// ServerHost is the server's host name. When ServerAddr is not valid it
	// is resolved through Resolver for every mail. It is also the TLS
	// server name (else ServerAddr's text is).
	ServerHost string
	// Port is the server port. 0 means 25, or 465 with TLSImplicit.
	Port uint16
	// Resolver resolves ServerHost when ServerAddr is not set. nil means
	// the board's own DNS client (apps/dnsc: dnsc.For(IP), as µC/SMTPc
	// resolves through µC/DNSc); the host's DNS is never used implicitly.
	Resolver Resolver
	// Now gives the time of the Date header: the board's wall time, such as
	// an SNTP client's Now (apps/sntpc). nil means the IP's clock.
	Now func() time.Time

	// Rand is the source of the client's random choices: the random part
	// of a generated Message-ID and crypto/tls's randomness (tls.Config.Rand
	// of the client's clone of TLSConfig, unless TLSConfig sets its own
	// Rand). nil means crypto/rand. Create reads 64 bytes from it and keys
	// one stream per use, so a seeded source (sim.Rand("smtpc")) with the
	// IP's clock on a sim.Sim gives the same Message-ID and Date in every
	// run. TLS cannot be fully seeded in Go 1.26 (key generation and key
	// shares use the system's randomness), so the bytes inside TLS records
	// still differ from run to run; their sizes and timing do not.
	Rand io.Reader

	// Profile selects ProfileDefault (zero) or ProfileNetX.
	Profile Profile
	// TLS is the transport security policy; the zero value is
	// TLSOpportunistic.
	TLS TLSMode
	// TLSConfig configures crypto/tls. nil means a default config that
	// verifies the server certificate against the system roots. A config
	// without ServerName gets ServerHost (or ServerAddr's text); one
	// without Time checks certificates against the board's time (Now, else
	// the IP's clock, so a simulated run checks them at simulated time).
	// The client clones it and never modifies the caller's.
	TLSConfig *tls.Config
	// AllowPlaintextAuth permits PLAIN, LOGIN and XOAUTH2 on a connection
	// without TLS. false (the default) refuses them with ErrPlaintextAuth
	// before any credential is sent; CRAM-MD5 is always allowed.
	AllowPlaintextAuth bool

	// Chunking sends the message with BDAT (RFC 3030) instead of DATA when
	// the server advertises CHUNKING: the message goes in chunks announced
	// with their exact octet count, without dot-stuffing and without the
	// final ".", so neither side scans it byte by byte for the end of data.
	// Line ends are still normalised to CRLF and lines limited to 998
	// octets. A body given as a slice goes in chunks of up to 1 MiB, a body
	// from a reader in chunks of the client's 32 KiB lookahead; each chunk
	// waits for its 250 (Timeouts.Message). Off by default, as NetX Duo and
	// most embedded clients only send DATA; ignored with ProfileNetX.
	Chunking bool

	// Timeouts are NetX's configuration macros; zero fields take NetX's
	// defaults (DefaultTimeouts).
	Timeouts Timeouts
	// Window is the socket's receive window (NX_SMTP_CLIENT_TCP_WINDOW_SIZE,
	// 1460 in NetX). 0 means 1460 in ProfileNetX and the IP's default window
	// (netstack.TCPOptions.DefaultWindow) otherwise. NetX's 1460 is not the
	// default profile's: gVisor accounts received segments with their buffer overhead,
	// so a window that small closes after three small segments and a
	// multi-line EHLO reply then waits for the 200 ms persist timer. Set
	// 1460 to see that on purpose.
	Window int
	// ChainSize is the most message bytes put in one packet chain before it
	// is handed to the socket. 0 means 16 KiB, capped at a quarter of the
	// pool so the transmit queue cannot starve it.
	ChainSize int

	// Transcript, when set, receives the dialogue one line at a time
	// ("C: EHLO board", "S: 250-SIZE"), with credentials redacted and the
	// message content summarised. Written from MailSend's goroutine.
	Transcript io.Writer
	// Logger receives lifecycle events (Info) and failures (Warn). nil
	// discards. Credentials are never logged.
	Logger *slog.Logger
}
