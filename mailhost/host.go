package mailhost

import (
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emersion/go-smtp"
	"github.com/simboard/simboard/internal/seeded"
	"github.com/simboard/simboard/netstack"
	"github.com/simboard/simboard/nx"
)

// ErrClosed is returned by the Serve methods once Host.Close has been called.
var ErrClosed = errors.New("mailhost: host closed")

// APOPMode selects how the POP3 server treats APOP (RFC 1939 §7).
type APOPMode int

const (
	// APOPOn (the zero value) puts a <pid.clock@domain> timestamp in the
	// greeting and checks APOP digests.
	APOPOn APOPMode = iota
	// APOPOff greets without a timestamp and answers APOP with -ERR.
	APOPOff
	// APOPRefuse greets with a timestamp but answers every APOP with -ERR,
	// so a client's fallback to USER/PASS can be tested.
	APOPRefuse
)

// Defaults applied by New for zero Options fields.
const (
	DefaultDomain          = "mailhost.test"
	DefaultMaxMessageBytes = 10 << 20
	DefaultIdleTimeout     = 10 * time.Minute
	// POP3MaxLineLength is the longest POP3 command line accepted,
	// terminating CRLF included (RFC 2449 §4). SASL continuation lines may
	// be up to pop3MaxSASLLine.
	POP3MaxLineLength = 255
	// SMTPMaxLineLength is the longest SMTP command line accepted, CRLF
	// included (go-smtp's default, twice RFC 5321's 1000).
	SMTPMaxLineLength = 2000
	pop3MaxSASLLine   = 16 << 10
)

// Options configures a Host. The zero value is a usable host for domain
// "mailhost.test" with no users, no TLS and no faults.
type Options struct {
	// Domain is the host's name in greetings, the APOP timestamp and the
	// CRAM-MD5 challenge. "" means DefaultDomain.
	Domain string
	// Users maps user names to plaintext passwords (CRAM-MD5 and APOP need
	// them in the clear). Each user has a mailbox. Names are matched
	// without regard to case. nil means no users: every AUTH fails.
	Users map[string]string
	// Tokens maps user names to the bearer tokens XOAUTH2 and OAUTHBEARER
	// accept. nil means each user's password is also its token.
	Tokens map[string]string
	// CatchAll is the mailbox that receives mail for unknown recipients.
	// "" means such a RCPT is refused with 550 5.1.1. A CatchAll that is not
	// in Users gets a mailbox that only Store.Messages can read.
	CatchAll string
	// AuthMechanisms lists the SASL mechanisms offered (MechPlain,
	// MechLogin, MechCRAMMD5, MechXOAUTH2, MechOAUTHBEARER), in the order
	// EHLO and CAPA list them. nil means all of them; an empty non-nil
	// slice offers no AUTH at all.
	AuthMechanisms []string
	// RequireAuth makes SMTP refuse MAIL with 530 5.7.0 until AUTH
	// succeeded. false accepts unauthenticated mail.
	RequireAuth bool
	// AllowInsecureAuth allows AUTH (SMTP) and USER/PASS and plaintext SASL
	// (POP3) without TLS. false (the default) offers them only after
	// STARTTLS/STLS or on an implicit-TLS listener; APOP and CRAM-MD5 are
	// not plaintext and stay available in POP3.
	AllowInsecureAuth bool
	// TLS is the server TLS configuration (a certificate from SelfSigned
	// fits). nil means no STARTTLS/STLS and ServeSMTPS/ServePOP3S fail. The
	// host does not modify it.
	TLS *tls.Config
	// MaxMessageBytes is the SMTP message size limit, advertised as SIZE.
	// 0 means DefaultMaxMessageBytes; a negative value means no limit.
	MaxMessageBytes int64
	// MaxRecipients limits RCPTs per message (452 beyond). 0 means no limit.
	MaxRecipients int
	// IdleTimeout closes a session whose client sends nothing for this
	// long (SMTP 421, POP3 -ERR autologout without UPDATE). It also bounds
	// TLS handshakes and each write to a client that does not read. It
	// uses the connection's deadlines: on a board's connection
	// (netstack.Conn) they run on that board's IP clock, set as a duration
	// with no wall-clock reading (give the peer board the host's Clock, as
	// boardtest and the CLI do); on a kernel socket they are wall time.
	// 0 means DefaultIdleTimeout; negative means none.
	IdleTimeout time.Duration
	// APOP selects the POP3 APOP behaviour; the zero value is APOPOn.
	APOP APOPMode
	// Faults are injected failures, see Fault. nil means none. SetFaults
	// replaces them at run time.
	Faults []Fault
	// Logger receives lifecycle and injected-fault events (Info),
	// per-session events (Debug) and failed handshakes, over-long lines and
	// go-smtp's internal errors (Warn). nil discards.
	Logger *slog.Logger
	// Transcript, when set, receives every command and reply line of every
	// session, one Write per line, prefixed "smtp#N C: " or "pop3#N S: ".
	// Message bodies appear as one line giving their size. Credentials are
	// redacted (AUTH payloads and SASL responses, PASS, the APOP digest),
	// found as an attacker would write them (after spaces or tabs, in any
	// case, in lines the protocol refuses: after a refused greeting, past
	// an injected fault); after an AUTH command a one-word line that is no
	// command is hidden, and a credential once seen is kept out of later
	// reply lines (an echo of what a server took for a command).
	Transcript io.Writer
	// Clock is the time source for timestamps (Store's delivery times),
	// the APOP greeting and CRAM-MD5 challenges, FaultDelay and the inner
	// TLS certificate's validity. nil means nx.SystemClock.
	Clock nx.Clock
	// Rand is the source of every random choice the host makes: the
	// process id in the APOP timestamp, the CRAM-MD5 challenges, the UID
	// prefix of the maildrop, crypto/tls's randomness (tls.Config.Rand on a
	// clone of TLS, unless TLS sets its own Rand) and the key of the
	// internal certificate between the interceptor and go-smtp. nil means
	// crypto/rand (and the real process id). New reads 32 bytes per use
	// from it and keys one stream for each, so a seeded source
	// (sim.Rand("mailhost")) with Clock a sim.Clock gives the same banners
	// and challenges in every run. TLS cannot be fully seeded in Go 1.26:
	// the bytes inside TLS records still differ from run to run.
	Rand io.Reader
}

// Host is the built-in mail host: an SMTP server (emersion/go-smtp behind a
// line-level interceptor that injects faults) and a POP3 server over one
// in-memory Store. It serves any net.Listener: kernel sockets or a
// userspace stack's listener.
//
// All methods are safe for concurrent use. Every goroutine the host starts
// (one per connection, the go-smtp server's own) is owned by the host and
// joined by Close. Lock order: Host.mu, then Store.mu; faultSet.mu and
// transcript.mu are leaves.
type Host struct {
	opts   Options
	domain string
	mechs  []string
	idle   time.Duration
	maxMsg int64
	log    *slog.Logger
	clock  nx.Clock
	creds  *credentials
	store  *Store
	faults faultSet
	tr     *transcript

	srvTLS      *tls.Config // Options.TLS, with Rand from Options.Rand; nil without TLS
	innerSrvTLS *tls.Config // go-smtp's side of the interceptor pipe
	innerCliTLS *tls.Config
	apopPID     int       // the pid in APOP timestamps
	cramRand    io.Reader // CRAM-MD5 challenges

	smtpOnce sync.Once
	smtpSrv  *smtp.Server
	handoff  *handoffListener

	nextID atomic.Uint64
	done   chan struct{}

	mu        sync.Mutex
	closed    bool
	listeners map[net.Listener]struct{}
	closers   map[io.Closer]struct{}
	wg        sync.WaitGroup
	closeErr  error
	closeOnce sync.Once
}

// New validates opts and returns a host that serves nothing until a Serve
// method is called. It does not block and starts no goroutine.
func New(opts Options) (*Host, error) {
	h := &Host{
		opts:      opts,
		domain:    opts.Domain,
		idle:      opts.IdleTimeout,
		maxMsg:    opts.MaxMessageBytes,
		log:       opts.Logger,
		clock:     opts.Clock,
		done:      make(chan struct{}),
		listeners: make(map[net.Listener]struct{}),
		closers:   make(map[io.Closer]struct{}),
	}
	if h.domain == "" {
		h.domain = DefaultDomain
	}
	if strings.ContainsAny(h.domain, " \r\n<>@") {
		return nil, fmt.Errorf("mailhost: invalid domain %q", h.domain)
	}
	if h.idle == 0 {
		h.idle = DefaultIdleTimeout
	}
	if h.maxMsg == 0 {
		h.maxMsg = DefaultMaxMessageBytes
	} else if h.maxMsg < 0 {
		h.maxMsg = 0 // go-smtp: no limit
	}
	if opts.MaxRecipients < 0 {
		return nil, errors.New("mailhost: negative MaxRecipients")
	}
	if opts.APOP < APOPOn || opts.APOP > APOPRefuse {
		return nil, fmt.Errorf("mailhost: invalid APOP mode %d", opts.APOP)
	}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	if h.clock == nil {
		h.clock = nx.SystemClock
	}
	for u, p := range opts.Users {
		if u == "" || strings.ContainsAny(u, " \r\n\x00") || strings.ContainsAny(p, "\r\n\x00") {
			return nil, fmt.Errorf("mailhost: invalid user %q or its password", u)
		}
	}
	if opts.AuthMechanisms == nil {
		h.mechs = allMechanisms
	} else {
		seen := map[string]bool{}
		for _, m := range opts.AuthMechanisms {
			m = strings.ToUpper(m)
			found := false
			for _, k := range allMechanisms {
				found = found || k == m
			}
			if !found {
				return nil, fmt.Errorf("mailhost: unknown SASL mechanism %q", m)
			}
			if !seen[m] {
				seen[m] = true
				h.mechs = append(h.mechs, m)
			}
		}
		if h.mechs == nil {
			h.mechs = []string{}
		}
	}
	for _, f := range opts.Faults {
		if err := f.validate(); err != nil {
			return nil, err
		}
	}
	h.faults.set(opts.Faults)
	// One stream per use: APOP pid, CRAM-MD5, maildrop UIDs, TLS, the
	// inner certificate, the inner TLS.
	rs, err := seeded.Streams(opts.Rand, 6)
	if err != nil {
		return nil, fmt.Errorf("mailhost: Options.Rand: %w", err)
	}
	h.apopPID = os.Getpid()
	if opts.Rand != nil {
		var b [2]byte
		_, _ = io.ReadFull(rs[0], b[:]) // a seeded stream never fails
		h.apopPID = 1000 + int(binary.BigEndian.Uint16(b[:]))%30000
	}
	h.cramRand = rs[1]
	h.creds = newCredentials(opts.Users, opts.Tokens)
	h.store = newStore(opts.Users, opts.CatchAll, h.clock, rs[2])
	h.tr = &transcript{w: opts.Transcript}
	if opts.TLS != nil {
		if len(opts.TLS.Certificates) == 0 && opts.TLS.GetCertificate == nil && opts.TLS.GetConfigForClient == nil {
			return nil, errors.New("mailhost: TLS config has no certificate")
		}
		h.srvTLS = opts.TLS
		if opts.Rand != nil && opts.TLS.Rand == nil {
			h.srvTLS = opts.TLS.Clone()
			h.srvTLS.Rand = rs[3]
		}
		// Valid around the host's clock and verified at it (innerCliTLS),
		// so a host on a simulated clock far from the wall clock works.
		co := CertOptions{Hosts: []string{"mailhost.internal"}, Now: h.clock.Now()}
		if opts.Rand != nil {
			co.Rand = rs[4]
		}
		cert, pool, err := SelfSignedWith(co)
		if err != nil {
			return nil, err
		}
		var innerRand io.Reader
		if opts.Rand != nil {
			innerRand = rs[5]
		}
		h.innerSrvTLS = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS13, SessionTicketsDisabled: true, Rand: innerRand}
		h.innerCliTLS = &tls.Config{RootCAs: pool, ServerName: "mailhost.internal", MinVersion: tls.VersionTLS13, Rand: innerRand, Time: h.clock.Now}
	}
	return h, nil
}

// Store returns the host's maildrop. It is valid after Close.
func (h *Host) Store() *Store { return h.store }

// Domain returns the host's domain (Options.Domain or DefaultDomain).
func (h *Host) Domain() string { return h.domain }

// SetFaults replaces the injected faults and restarts their occurrence
// counts. Sessions in progress see the new set at their next stage. It
// returns an error, and changes nothing, when a fault is invalid.
func (h *Host) SetFaults(faults []Fault) error {
	for _, f := range faults {
		if err := f.validate(); err != nil {
			return err
		}
	}
	h.faults.set(faults)
	return nil
}

// ServeSMTP accepts SMTP connections on l (STARTTLS offered when
// Options.TLS is set) until l is closed or Close is called, serving each
// on its own goroutine. It blocks; it returns nil when l was closed (by
// the caller or by Close), ErrClosed when the host was already closed,
// else the Accept error. The host owns l from the call on: l is closed
// when ServeSMTP returns for any reason. Sessions in progress go on
// until Close.
func (h *Host) ServeSMTP(l net.Listener) error {
	return h.serve(l, "smtp", func(c net.Conn) { h.serveSMTPConn(c, false) })
}

// ServeSMTPS is ServeSMTP with implicit TLS (port 465 style): the TLS
// handshake comes before the greeting. It fails at once when Options.TLS
// is nil.
func (h *Host) ServeSMTPS(l net.Listener) error {
	if h.opts.TLS == nil {
		return errors.New("mailhost: smtps: no TLS config")
	}
	return h.serve(l, "smtps", func(c net.Conn) { h.serveSMTPConn(c, true) })
}

// ServePOP3 accepts POP3 connections on l (STLS offered when Options.TLS
// is set); it blocks and returns like ServeSMTP.
func (h *Host) ServePOP3(l net.Listener) error {
	return h.serve(l, "pop3", func(c net.Conn) { h.servePOP3Conn(c, false) })
}

// ServePOP3S is ServePOP3 with implicit TLS (port 995 style). It fails at
// once when Options.TLS is nil.
func (h *Host) ServePOP3S(l net.Listener) error {
	if h.opts.TLS == nil {
		return errors.New("mailhost: pop3s: no TLS config")
	}
	return h.serve(l, "pop3s", func(c net.Conn) { h.servePOP3Conn(c, true) })
}

func (h *Host) serve(l net.Listener, name string, handle func(net.Conn)) error {
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		l.Close()
		return ErrClosed
	}
	h.listeners[l] = struct{}{}
	h.wg.Add(1)
	h.mu.Unlock()
	defer func() {
		h.mu.Lock()
		delete(h.listeners, l)
		h.mu.Unlock()
		h.wg.Done()
	}()
	h.log.Info("mailhost: serving", "proto", name, "addr", l.Addr().String())
	for {
		c, err := l.Accept()
		if err != nil {
			if h.isClosed() || errors.Is(err, net.ErrClosed) {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			l.Close()
			return fmt.Errorf("mailhost: %s: accept: %w", name, err)
		}
		if !h.track(c) {
			c.Close()
			l.Close()
			return nil
		}
		go func() {
			defer h.wg.Done()
			defer h.untrack(c)
			defer c.Close()
			handle(c)
		}()
	}
}

func (h *Host) isClosed() bool {
	select {
	case <-h.done:
		return true
	default:
		return false
	}
}

// track registers c to be closed by Close and adds one to the wait group
// for the goroutine that will call untrack. It returns false after Close.
func (h *Host) track(c io.Closer) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return false
	}
	h.closers[c] = struct{}{}
	h.wg.Add(1)
	return true
}

func (h *Host) untrack(c io.Closer) {
	h.mu.Lock()
	delete(h.closers, c)
	h.mu.Unlock()
}

// addCloser registers c to be closed by Close without a goroutine.
func (h *Host) addCloser(c io.Closer) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return false
	}
	h.closers[c] = struct{}{}
	return true
}

// Close stops every server: it closes the listeners given to the Serve
// methods, closes every session without committing POP3 deletions, and
// waits for every goroutine the host started. It is idempotent; later
// calls return the first call's result. The Store stays readable.
func (h *Host) Close() error {
	h.closeOnce.Do(func() {
		h.mu.Lock()
		h.closed = true
		close(h.done)
		var errs []error
		for l := range h.listeners {
			if err := l.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
				errs = append(errs, err)
			}
		}
		for c := range h.closers {
			c.Close()
		}
		h.mu.Unlock()
		if h.smtpSrv != nil {
			h.handoff.Close()
			// Shutdown closes the handoff listener and waits for go-smtp's
			// connection goroutines; their pipes are closed above.
			if err := h.smtpSrv.Shutdown(context.Background()); err != nil && !errors.Is(err, smtp.ErrServerClosed) {
				errs = append(errs, err)
			}
		}
		h.wg.Wait()
		h.closeErr = errors.Join(errs...)
		h.log.Info("mailhost: closed")
	})
	return h.closeErr
}

// sleep waits d on the host's clock; false when the host closed first.
func (h *Host) sleep(d time.Duration) bool {
	if d <= 0 {
		return !h.isClosed()
	}
	t := h.clock.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C():
		return true
	case <-h.done:
		return false
	}
}

// Which deadlines idleDeadline sets.
const (
	readDeadline = iota
	writeDeadline
	bothDeadlines
)

// idleDeadline bounds the next read, write or both on c by the idle
// timeout (netstack.SetDeadlines: on the board's clock for a board's
// connection). A negative IdleTimeout clears it.
func (h *Host) idleDeadline(c net.Conn, which int) {
	netstack.SetDeadlines(c, which != writeDeadline, which != readDeadline, h.idle)
}

// plainAllowed reports whether plaintext credentials may be used.
func (h *Host) plainAllowed(tlsActive bool) bool { return tlsActive || h.opts.AllowInsecureAuth }

// tlsServer runs the server handshake on c, bounded by the idle timeout.
func (h *Host) tlsServer(c net.Conn, cfg *tls.Config) (*tls.Conn, error) {
	tc := tls.Server(c, cfg)
	h.idleDeadline(c, bothDeadlines)
	err := tc.Handshake()
	_ = c.SetDeadline(time.Time{})
	if err != nil {
		return nil, err
	}
	return tc, nil
}

// transcript serialises transcript lines from all sessions.
type transcript struct {
	mu sync.Mutex
	w  io.Writer
}

func (t *transcript) line(proto string, id uint64, dir, s string) {
	if t.w == nil {
		return
	}
	b := fmt.Appendf(nil, "%s#%d %s: %s\n", proto, id, dir, s)
	t.mu.Lock()
	defer t.mu.Unlock()
	_, _ = t.w.Write(b)
}

// slogLogger adapts go-smtp's ErrorLog to slog at Warn.
type slogLogger struct{ l *slog.Logger }

func (s slogLogger) Printf(format string, v ...any) {
	s.l.Warn("mailhost: smtp: " + fmt.Sprintf(format, v...))
}
func (s slogLogger) Println(v ...any) { s.l.Warn("mailhost: smtp: " + fmt.Sprint(v...)) }

// handoffListener feeds go-smtp the server ends of the interceptor pipes.
type handoffListener struct {
	ch   chan net.Conn
	done chan struct{}
	once sync.Once
}

func newHandoff() *handoffListener {
	return &handoffListener{ch: make(chan net.Conn), done: make(chan struct{})}
}

func (l *handoffListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.ch:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *handoffListener) Close() error {
	l.once.Do(func() { close(l.done) })
	return nil
}

func (l *handoffListener) Addr() net.Addr { return pipeAddr("mailhost-smtp") }

// give hands c to go-smtp; false when the listener or host is closed.
func (l *handoffListener) give(c net.Conn, hostDone <-chan struct{}) bool {
	select {
	case l.ch <- c:
		return true
	case <-l.done:
		return false
	case <-hostDone:
		return false
	}
}
