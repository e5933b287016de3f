package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"strings"
	"time"

	"github.com/simboard/simboard/driver"
	"github.com/simboard/simboard/mailhost"
	"github.com/simboard/simboard/nx"
)

// netFlags choose where the board of send and fetch lives (on a TAP, or on
// a Wire next to the built-in mail host), its pools, the server and TLS.
type netFlags struct {
	commonFlags
	tap           string
	ip            string
	gw            string
	ip6           string
	server        string
	port          int
	passwordFile  string
	passwordEnv   string
	caFile        string
	tlsServerName string
	insecure      bool
	tls           tlsMode
	tlsSet        bool // --tls was given
	pcap          string
	payload       int
	packets       int
	timeout       time.Duration
	transcript    bool
	seed          int64
	clock         clockFlags // clock.go: --clock

	// rc is the run's clock, set by the command before boot: a sim.Sim in
	// virtual time (the Wire only).
	rc *runClock

	// Parsed by check.
	addr, addr6 netip.Prefix
	gwAddr      netip.Addr
	serverAddr  netip.Addr

	names   nameFlags    // netopts.go: --dns, --ntp, --server NAME
	netboot netbootFlags // netboot.go: --dhcp
}

func (n *netFlags) register(fs *flag.FlagSet) {
	n.commonFlags.register(fs)
	fs.StringVar(&n.tap, "tap", "", "attach the board to this TAP `DEVICE` (see 'simboard tap'); without it the peer is\nthe built-in mail host on an in-memory Wire")
	fs.StringVar(&n.ip, "ip", "198.51.100.2/24", "board IPv4 `ADDR/PREFIX`")
	fs.StringVar(&n.gw, "gw", "", "board IPv4 default gateway `ADDR`")
	fs.StringVar(&n.ip6, "ip6", "", "board IPv6 `ADDR/PREFIX`, e.g. 2001:db8::2/64")
	fs.StringVar(&n.server, "server", "198.51.100.1", "server `ADDR` (IPv4 or IPv6) or host NAME (resolved by the board's DNS client, see --dns);\nthe TLS certificate is verified against it")
	n.names.register(fs)
	n.netboot.register(fs)
	fs.IntVar(&n.port, "port", 0, "server `PORT`, 1..65535 (0 = the standard port for --tls)")
	fs.StringVar(&n.passwordFile, "password-file", "", "read the password from the first line of `FILE`")
	fs.StringVar(&n.passwordEnv, "password-env", "SIMBOARD_PASSWORD", "read the password from the environment variable `NAME`")
	registerTLS(fs, &n.tls, &n.tlsSet, tlsOpportunistic)
	fs.StringVar(&n.caFile, "ca", "", "trust the CA certificates in this PEM `FILE` for TLS (default: the system roots)")
	fs.StringVar(&n.tlsServerName, "tls-server-name", "", "verify the server certificate against `NAME` and send it as SNI\n(default: the --server value; on the Wire, the built-in host's mail.simboard.test)")
	fs.BoolVar(&n.insecure, "insecure-skip-verify", false, "do not verify the server certificate (testing only)")
	fs.StringVar(&n.pcap, "pcap", "", "write the board's frames to this pcap `FILE`")
	fs.IntVar(&n.payload, "payload", 1536, "payload `BYTES` per packet in the board's pools, 256..65536")
	fs.IntVar(&n.packets, "pool-packets", 128, "`N` packets in the board's default and receive pools")
	fs.DurationVar(&n.timeout, "timeout", 2*time.Minute, "give up after this `DURATION` (of simulated time in virtual time)")
	fs.Int64Var(&n.seed, "seed", 1, "`SEED` of everything random on the Wire in virtual time: TCP sequence numbers, ports,\nthe mail host's and clients' choices (same seed, same run; a TAP run is not seeded)")
	n.clock.register(fs)
	fs.BoolVar(&n.transcript, "transcript", false, "print the protocol dialogue to stderr (credentials redacted)")
}

func (n *netFlags) check() error {
	if err := n.commonFlags.check(); err != nil {
		return err
	}
	if err := n.clock.check(); err != nil {
		return err
	}
	if _, err := n.clock.virtual(n.realWhy()); err != nil {
		return err
	}
	if err := checkPort(n.port); err != nil {
		return err
	}
	if err := checkPool(n.payload, n.packets); err != nil {
		return err
	}
	if err := checkTimeout(n.timeout); err != nil {
		return err
	}
	var err error
	if n.addr, err = netip.ParsePrefix(n.ip); err != nil || !n.addr.Addr().Is4() {
		return usagef("bad --ip %q: want an IPv4 address/prefix such as 198.51.100.2/24", n.ip)
	}
	if n.gw != "" {
		if n.gwAddr, err = netip.ParseAddr(n.gw); err != nil || !n.gwAddr.Is4() {
			return usagef("bad --gw %q: want an IPv4 address", n.gw)
		}
	}
	if n.ip6 != "" {
		if n.addr6, err = netip.ParsePrefix(n.ip6); err != nil || !n.addr6.Addr().Is6() {
			return usagef("bad --ip6 %q: want an IPv6 address/prefix such as 2001:db8::2/64", n.ip6)
		}
	}
	if err := n.names.checkServer(n); err != nil {
		return err
	}
	if n.serverAddr.Is6() && n.ip6 == "" && n.tap != "" {
		return usagef("--server %v is IPv6: give the board an IPv6 address with --ip6", n.serverAddr)
	}
	if n.caFile != "" {
		if _, err := os.Stat(n.caFile); err != nil {
			return usagef("--ca: %v", err)
		}
	}
	return nil
}

// realWhy names the flag that makes the run real time (--tap), or "".
func (n *netFlags) realWhy() string {
	if n.tap != "" {
		return "--tap " + n.tap
	}
	return ""
}

// netxTLS applies the NetX profile's lack of TLS: without an explicit
// --tls the mode is off; an explicit mode other than off is a usage error.
func (n *netFlags) netxTLS() error {
	if n.tls == tlsOff {
		return nil
	}
	if n.tlsSet {
		return usagef("--netx has no TLS (NetX Duo's clients have none): use --tls off, or drop --netx")
	}
	n.tls = tlsOff
	return nil
}

// password returns the password from --password-file or --password-env.
func (n *netFlags) password() (string, error) {
	if n.passwordFile != "" {
		b, err := os.ReadFile(n.passwordFile)
		if err != nil {
			return "", usagef("--password-file: %v", err)
		}
		return strings.TrimRight(strings.SplitN(string(b), "\n", 2)[0], "\r"), nil
	}
	if n.passwordEnv != "" {
		return os.Getenv(n.passwordEnv), nil
	}
	return "", nil
}

// passwordSource names where the password was looked for, for messages.
func (n *netFlags) passwordSource() string {
	if n.passwordFile != "" {
		return "--password-file " + n.passwordFile + " is empty"
	}
	if n.passwordEnv == "" {
		return "no --password-file or --password-env given"
	}
	return "set $" + n.passwordEnv + " (--password-env) or use --password-file"
}

// session is a booted board plus, on the Wire, the built-in mail host.
type session struct {
	n      *netFlags
	log    *slog.Logger
	brd    *board
	server netip.Addr
	roots  *x509.CertPool // the built-in host's CA (Wire only)
	peer   *mailPeer
	wire   *driver.Wire
	// builtin: the peer is the built-in mail host (no --tap).
	builtin    bool
	pnet       *peerNet        // netopts.go: the built-in host's DNS and NTP
	timeOffset time.Duration   // netopts.go: --ntp's offset from the board clock
	nboot      *sessionNetboot // netboot.go: --dhcp
	rc         *runClock       // the run's clock (clock.go)
}

// onWire reports whether the peer is the built-in mail host.
func (s *session) onWire() bool { return s.builtin }

// boot brings the board up on the TAP or, without --tap, on a Wire whose
// other end is a peer board at --server running the built-in mail host
// (users and seed configure it). On the Wire it says so on stderr.
func (n *netFlags) boot(stderr io.Writer, log *slog.Logger, users map[string]string, seed func(*mailhost.Host) error) (*session, error) {
	cfg := boardConfig{name: "board", addr: n.addr, gw: n.gwAddr, addr6: n.addr6, payload: n.payload, packets: n.packets,
		rxPayload: n.payload, rxPackets: n.packets, pcapPath: n.pcap, logger: log}
	s := &session{n: n, log: log, server: n.serverAddr, rc: n.rc}
	if s.rc == nil {
		s.rc = &runClock{} // real time
	}
	if n.netboot.dhcp {
		cfg.addr, cfg.gw = netip.Prefix{}, netip.Addr{} // from the lease (netboot.go)
	}
	if n.tap != "" {
		tap, err := driver.OpenTAP(driver.TAPOptions{Name: n.tap, Logger: log})
		if err != nil {
			return nil, fmt.Errorf("open TAP %q: %w (create it with 'simboard tap')", n.tap, err)
		}
		cfg.link = tap
		if s.brd, err = bootBoard(cfg); err != nil {
			tap.Close()
			return nil, err
		}
		return s, nil
	}
	// On the Wire: a peer board at --server runs the built-in mail host.
	fmt.Fprintf(stderr, "note: no --tap: the peer at %v is simboard's built-in mail host on an in-memory Wire, not a real server\n", s.server)
	s.builtin = true
	var err error
	clk := s.rc.clock()
	cfg.clock, cfg.rand = clk, s.rc.rand("board")
	if s.wire, err = driver.NewWire(driver.WireOptions{Seed: n.seed, Logger: log, Clock: clk}); err != nil {
		return nil, err
	}
	bp, _ := s.wire.Attach(driver.PortOptions{Name: "board"})
	hp, _ := s.wire.Attach(driver.PortOptions{Name: "mailhost"})
	cfg.link = bp
	hcfg := boardConfig{name: "mailhost", link: hp, payload: 1536, packets: 1024, rxPayload: 1536, rxPackets: 1024, logger: log,
		clock: clk, rand: s.rc.rand("mailhost")}
	if s.server.Is4() {
		hcfg.addr = netip.PrefixFrom(s.server, n.addr.Bits())
	} else {
		hcfg.addr6 = netip.PrefixFrom(s.server, 64)
		if !cfg.addr6.IsValid() {
			cfg.addr6 = boardAddr6
		}
	}
	if s.brd, err = bootBoard(cfg); err != nil {
		s.wire.Close()
		return nil, err
	}
	cert, roots, err := selfSigned(s.rc, demoMailHost, s.server.String())
	if err != nil {
		s.Close()
		return nil, err
	}
	s.roots = roots
	host, err := mailhost.New(mailhost.Options{Domain: demoDomain, Users: users, Tokens: users, TLS: &tls.Config{Certificates: []tls.Certificate{cert}}, AllowInsecureAuth: true, MaxMessageBytes: 1 << 30, Logger: log, Clock: clk, Rand: s.rc.rand("mailhost-app")})
	if err != nil {
		s.Close()
		return nil, err
	}
	if seed != nil {
		if err := seed(host); err != nil {
			host.Close()
			s.Close()
			return nil, err
		}
	}
	if s.peer, err = startMailPeer(hcfg, host); err != nil {
		s.Close()
		return nil, err
	}
	if err := s.startPeerNet(); err != nil { // netopts.go
		s.Close()
		return nil, err
	}
	if err := s.startNetbootPeer(); err != nil { // netboot.go
		s.Close()
		return nil, err
	}
	return s, nil
}

// selfSigned makes the built-in host's certificate: in virtual time from the
// run's seed and clock (the same certificate, so the same handshake sizes,
// in every run; the clients check it at simulated time), else a fresh one.
func selfSigned(rc *runClock, hosts ...string) (tls.Certificate, *x509.CertPool, error) {
	opts := mailhost.CertOptions{Hosts: hosts, Rand: rc.rand("cert")}
	if clk := rc.clock(); clk != nil {
		opts.Now = clk.Now()
	}
	return mailhost.SelfSignedWith(opts)
}

// tlsConfig verifies the server's certificate against --tls-server-name
// (sent as SNI) or else the --server value, as an IP SAN or a DNS name; on
// the Wire the peer is the built-in host, whose certificate names
// mail.simboard.test and its address, signed by a CA made at boot.
func (s *session) tlsConfig() (*tls.Config, error) {
	n := s.n
	cfg := &tls.Config{ServerName: n.tlsServerName, InsecureSkipVerify: n.insecure, MinVersion: tls.VersionTLS12}
	if cfg.ServerName == "" {
		cfg.ServerName = n.server
		if s.onWire() {
			cfg.ServerName = demoMailHost
		}
	}
	if s.onWire() {
		cfg.RootCAs = s.roots
	}
	if n.caFile != "" {
		pem, err := os.ReadFile(n.caFile)
		if err != nil {
			return nil, fmt.Errorf("--ca: %w", err)
		}
		if cfg.RootCAs == nil {
			cfg.RootCAs = x509.NewCertPool()
		}
		if !cfg.RootCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("--ca %s: no PEM certificates in it", n.caFile)
		}
	}
	return cfg, nil
}

// Close shuts the board, the mail host and the Wire down; the pcap is
// flushed and closed. It returns the board's error (an unbalanced pool).
func (s *session) Close() error {
	s.closeNetboot()
	err := s.brd.Close()
	s.closePeerNet()
	if s.peer != nil {
		s.peer.Close()
	}
	if s.wire != nil {
		s.wire.Close()
	}
	return err
}

// explain turns a failed connection into what happened on the wire: no ARP
// (or neighbor) reply from the next hop, a refused connection (RST to the
// SYN), or silence; err is kept for its status.
func (s *session) explain(err error, port uint16) error {
	if err == nil || !errors.Is(err, nx.ErrNotConnected) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	in := s.brd.ip.Info()
	dst := netip.AddrPortFrom(s.server, port)
	hop := s.server
	if s.server.Is4() && !s.brd.ip.Addr().Contains(s.server) && s.n.gwAddr.IsValid() {
		hop = s.n.gwAddr
	}
	switch {
	case in.TCPResetsReceived > 0 && in.TCPSegmentsReceived <= in.TCPResetsReceived:
		return &connError{fmt.Sprintf("connection refused: %v answered the SYN with RST (nothing listening on port %d?)", dst, port), err}
	case in.TCPSegmentsReceived > 0:
		return err
	case hop.Is4() && in.ARPRequestsSent > 0 && in.ARPResponsesReceived == 0:
		return &connError{fmt.Sprintf("host unreachable: no ARP reply from %v (is the host up on the link?)", hop), err}
	case hop.Is6() && in.NeighborSolicitsSent > 0 && in.NeighborAdvertsReceived == 0:
		return &connError{fmt.Sprintf("host unreachable: no neighbor advertisement from %v (is the host up on the link?)", hop), err}
	default:
		return &connError{fmt.Sprintf("no answer from %v to the SYN (filtered, or the host is down)", dst), err}
	}
}

// connError is a connection failure described for the user; Unwrap keeps
// the NetX status.
type connError struct {
	msg string
	err error
}

func (e *connError) Error() string { return e.msg }
func (e *connError) Unwrap() error { return e.err }

// ctxReader makes a blocking reader (stdin) give up when ctx is done: the
// body reader of a send then fails at the deadline instead of holding the
// mail open. The goroutine blocked in Read ends with the process.
type ctxReader struct {
	ctx  context.Context
	r    io.Reader
	reqs chan []byte
	res  chan readResult
	buf  []byte // handed to the reading goroutine; never reused after an abandoned read
}

type readResult struct {
	n   int
	err error
}

func newCtxReader(ctx context.Context, r io.Reader) *ctxReader {
	c := &ctxReader{ctx: ctx, r: r, reqs: make(chan []byte), res: make(chan readResult, 1)}
	go func() {
		for b := range c.reqs {
			n, err := c.r.Read(b)
			c.res <- readResult{n, err}
		}
	}()
	return c
}

func (c *ctxReader) Read(b []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	if cap(c.buf) < len(b) {
		c.buf = make([]byte, len(b))
	}
	buf := c.buf[:len(b)]
	select {
	case c.reqs <- buf:
	case <-c.ctx.Done():
		return 0, c.ctx.Err()
	}
	select {
	case r := <-c.res:
		copy(b, buf[:r.n])
		return r.n, r.err
	case <-c.ctx.Done():
		return 0, c.ctx.Err()
	}
}
