package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/simboard/simboard/apps/pop3c"
	"github.com/simboard/simboard/apps/smtpc"
	"github.com/simboard/simboard/driver"
	"github.com/simboard/simboard/internal/mailhost"
)

// netFlags choose where the board lives: on a TAP, or on a Wire next to the
// built-in mail host.
type netFlags struct {
	commonFlags
	tap          string
	ip           string
	gw           string
	ip6          string
	server       string
	port         uint
	passwordFile string
	passwordEnv  string
	caFile       string
	insecure     bool
	tlsMode      string
	pcap         string
	payload      int
	packets      int
	timeout      time.Duration
	transcript   bool
}

func (n *netFlags) register(fs *flag.FlagSet) {
	n.commonFlags.register(fs)
	fs.StringVar(&n.tap, "tap", "", "attach the board to this TAP (see 'simboard tap'); empty = a Wire with the built-in mail host")
	fs.StringVar(&n.ip, "ip", "198.51.100.2/24", "board IPv4 address/prefix")
	fs.StringVar(&n.gw, "gw", "", "board IPv4 default gateway")
	fs.StringVar(&n.ip6, "ip6", "", "board IPv6 address/prefix, e.g. 2001:db8::2/64")
	fs.StringVar(&n.server, "server", "198.51.100.1", "server address (IPv4 or IPv6)")
	fs.UintVar(&n.port, "port", 0, "server port (0 = the standard port for --tls)")
	fs.StringVar(&n.passwordFile, "password-file", "", "read the password from this file (first line)")
	fs.StringVar(&n.passwordEnv, "password-env", "SIMBOARD_PASSWORD", "read the password from this environment variable")
	fs.StringVar(&n.caFile, "ca", "", "PEM file of CA certificates to trust for TLS (default: system roots)")
	fs.BoolVar(&n.insecure, "insecure-skip-verify", false, "do not verify the server certificate (testing only)")
	fs.StringVar(&n.pcap, "pcap", "", "write the board's frames to this pcap file")
	fs.IntVar(&n.payload, "payload", 1536, "payload bytes per packet in the board's pools")
	fs.IntVar(&n.packets, "pool-packets", 128, "packets in the board's default and receive pools")
	fs.DurationVar(&n.timeout, "timeout", 2*time.Minute, "give up after this long")
	fs.BoolVar(&n.transcript, "transcript", false, "print the protocol dialogue to stderr (credentials redacted)")
}

func (n *netFlags) password() (string, error) {
	if n.passwordFile != "" {
		b, err := os.ReadFile(n.passwordFile)
		if err != nil {
			return "", err
		}
		return strings.TrimRight(strings.SplitN(string(b), "\n", 2)[0], "\r"), nil
	}
	if n.passwordEnv != "" {
		return os.Getenv(n.passwordEnv), nil
	}
	return "", nil
}

func (n *netFlags) tlsConfig(serverName string) (*tls.Config, error) {
	cfg := &tls.Config{ServerName: serverName, InsecureSkipVerify: n.insecure}
	if n.caFile != "" {
		pem, err := os.ReadFile(n.caFile)
		if err != nil {
			return nil, err
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("%s: no PEM certificates", n.caFile)
		}
		cfg.RootCAs = pool
	}
	return cfg, nil
}

// session is a booted board plus, on the Wire, the built-in mail host.
type session struct {
	brd    *board
	server netip.Addr
	roots  *x509.CertPool
	peer   *mailPeer
	wire   *driver.Wire
}

func (n *netFlags) boot(log *slog.Logger, users map[string]string, seed func(*mailhost.Host) error) (*session, error) {
	addr, err := netip.ParsePrefix(n.ip)
	if err != nil {
		return nil, usagef("bad --ip %q: %v", n.ip, err)
	}
	cfg := boardConfig{name: "board", addr: addr, payload: n.payload, packets: n.packets, rxPayload: n.payload, rxPackets: n.packets, pcapPath: n.pcap, logger: log}
	if n.gw != "" {
		if cfg.gw, err = netip.ParseAddr(n.gw); err != nil {
			return nil, usagef("bad --gw %q: %v", n.gw, err)
		}
	}
	if n.ip6 != "" {
		if cfg.addr6, err = netip.ParsePrefix(n.ip6); err != nil {
			return nil, usagef("bad --ip6 %q: %v", n.ip6, err)
		}
	}
	s := &session{}
	if s.server, err = netip.ParseAddr(n.server); err != nil {
		return nil, usagef("bad --server %q: %v", n.server, err)
	}
	if n.tap != "" {
		tap, err := driver.OpenTAP(driver.TAPOptions{Name: n.tap, Logger: log})
		if err != nil {
			return nil, err
		}
		cfg.link = tap
		if s.brd, err = bootBoard(cfg); err != nil {
			tap.Close()
			return nil, err
		}
		return s, nil
	}
	// On the Wire: a peer board at --server runs the built-in mail host.
	if s.wire, err = driver.NewWire(driver.WireOptions{Seed: 1, Logger: log}); err != nil {
		return nil, err
	}
	bp, _ := s.wire.Attach(driver.PortOptions{Name: "board"})
	hp, _ := s.wire.Attach(driver.PortOptions{Name: "mailhost"})
	cfg.link = bp
	hcfg := boardConfig{name: "mailhost", link: hp, payload: 1536, packets: 1024, rxPayload: 1536, rxPackets: 1024, logger: log}
	if s.server.Is4() {
		hcfg.addr = netip.PrefixFrom(s.server, addr.Bits())
	} else {
		hcfg.addr6 = netip.PrefixFrom(s.server, 64)
	}
	if s.brd, err = bootBoard(cfg); err != nil {
		s.wire.Close()
		return nil, err
	}
	cert, roots, err := mailhost.SelfSigned(demoMailHost, s.server.String())
	if err != nil {
		s.Close()
		return nil, err
	}
	s.roots = roots
	host, err := mailhost.New(mailhost.Options{Domain: demoDomain, Users: users, TLS: &tls.Config{Certificates: []tls.Certificate{cert}}, AllowInsecureAuth: true, MaxMessageBytes: 1 << 30, Logger: log})
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
	return s, nil
}

func (s *session) Close() error {
	err := s.brd.Close()
	if s.peer != nil {
		s.peer.Close()
	}
	if s.wire != nil {
		s.wire.Close()
	}
	return err
}

func runSend(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("send", "--from ADDR --to ADDR[,ADDR] [--subject S] [--body FILE|-] [flags]", stderr)
	var n netFlags
	n.register(fs)
	var (
		from     = fs.String("from", "board@"+demoDomain, "sender address")
		to       = fs.String("to", "", "recipients, comma separated (required)")
		cc       = fs.String("cc", "", "Cc recipients, comma separated")
		bcc      = fs.String("bcc", "", "Bcc recipients, comma separated (never in the header)")
		subject  = fs.String("subject", "simboard test mail", "subject")
		bodyPath = fs.String("body", "", "body file, or - for stdin (default: a short test text)")
		user     = fs.String("user", "", "SMTP AUTH user name (empty = no AUTH)")
		authName = fs.String("auth", "plain", "AUTH mechanism: plain, login, cram-md5, xoauth2 or none")
		domain   = fs.String("domain", "board."+demoDomain, "EHLO domain")
		netx     = fs.Bool("netx", false, "NetX Duo compatibility profile: one recipient, PLAIN/LOGIN only, no TLS")
		prio     = fs.String("priority", "normal", "priority: low, normal or high")
		bdat     = fs.Bool("bdat", false, "send the message in BDAT chunks (RFC 3030) when the server offers CHUNKING")
	)
	fs.StringVar(&n.tlsMode, "tls", "opportunistic", "TLS: off, opportunistic, required (STARTTLS) or implicit (port 465)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *to == "" {
		return usagef("--to is required")
	}
	log, err := n.logger(stderr)
	if err != nil {
		return err
	}
	auth, err := parseAuth(*authName)
	if err != nil {
		return err
	}
	if *user == "" {
		auth = smtpc.AuthNone
	}
	pw, err := n.password()
	if err != nil {
		return err
	}
	var body io.Reader = strings.NewReader("Hello from a simboard board.\r\n")
	var size int64 = -1
	switch *bodyPath {
	case "":
		size = 30
	case "-":
		body = os.Stdin
	default:
		f, err := os.Open(*bodyPath)
		if err != nil {
			return err
		}
		defer f.Close()
		if st, err := f.Stat(); err == nil {
			size = st.Size()
		}
		body = f
	}
	priority := map[string]smtpc.Priority{"low": smtpc.PriorityLow, "normal": smtpc.PriorityNormal, "high": smtpc.PriorityHigh}[*prio]
	if priority == 0 {
		return usagef("bad --priority %q", *prio)
	}
	users := map[string]string{}
	for _, a := range splitList(*to + "," + *cc + "," + *bcc) {
		users[strings.SplitN(a, "@", 2)[0]] = "x"
	}
	if *user != "" {
		users[*user] = pw
	}
	s, err := n.boot(log, users, nil)
	if err != nil {
		return err
	}
	defer s.Close()
	opts := smtpc.Options{IP: s.brd.ip, Pool: s.brd.pool, Username: *user, Password: pw, From: *from, ClientDomain: *domain,
		Auth: auth, ServerAddr: s.server, Port: uint16(n.port), Logger: log, Chunking: *bdat}
	if opts.TLSConfig, err = n.tlsConfig(demoMailHost); err != nil {
		return err
	}
	if s.roots != nil {
		opts.TLSConfig.RootCAs = s.roots
	}
	if *netx {
		opts.Profile = smtpc.ProfileNetX
	}
	switch n.tlsMode {
	case "off":
		opts.TLS, opts.AllowPlaintextAuth = smtpc.TLSOff, true
	case "opportunistic":
		opts.TLS = smtpc.TLSOpportunistic
	case "required":
		opts.TLS = smtpc.TLSRequired
	case "implicit":
		opts.TLS = smtpc.TLSImplicit
	default:
		return usagef("bad --tls %q", n.tlsMode)
	}
	if n.transcript {
		opts.Transcript = stderr
	}
	ctx, cancel := context.WithTimeout(context.Background(), n.timeout)
	defer cancel()
	c, err := smtpc.Create(opts)
	if err != nil {
		return err
	}
	res, err := c.Send(ctx, &smtpc.Message{To: splitList(*to), Cc: splitList(*cc), Bcc: splitList(*bcc), Subject: *subject, Priority: priority, Body: body, Size: size})
	c.Delete()
	if err != nil {
		return fmt.Errorf("status 0x%02X: %w", smtpc.NetXStatus(err), err)
	}
	if n.json {
		return json.NewEncoder(stdout).Encode(map[string]any{"accepted": res.Accepted, "reply": res.Reply, "recipients": res.Recipients,
			"octets": res.Octets, "tls": res.TLS, "auth": fmt.Sprint(res.Auth), "quit_error": errString(res.QuitErr), "server": res.Server.String()})
	}
	fmt.Fprintf(stdout, "sent: %d octets to %d recipient(s) via %v, TLS %v, AUTH %v: %s\n", res.Octets, res.Recipients, res.Server, res.TLS, res.Auth, strings.TrimSpace(res.Reply))
	if res.QuitErr != nil {
		fmt.Fprintf(stdout, "note: the mail was accepted but QUIT failed: %v\n", res.QuitErr)
	}
	return nil
}

func runFetch(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("fetch", "--user NAME [--out DIR] [--delete] [flags]", stderr)
	var n netFlags
	n.register(fs)
	var (
		user   = fs.String("user", "", "POP3 user name (required)")
		apop   = fs.Bool("apop", true, "log in with APOP when the greeting offers a timestamp")
		outDir = fs.String("out", "", "write each message to DIR/<uidl>.eml (default: print sizes only)")
		del    = fs.Bool("delete", false, "delete each message after fetching it")
		netx   = fs.Bool("netx", false, "NetX Duo compatibility profile")
	)
	fs.StringVar(&n.tlsMode, "tls", "opportunistic", "TLS: off, opportunistic, required (STLS) or implicit (port 995)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *user == "" {
		return usagef("--user is required")
	}
	log, err := n.logger(stderr)
	if err != nil {
		return err
	}
	pw, err := n.password()
	if err != nil {
		return err
	}
	s, err := n.boot(log, map[string]string{*user: pw}, func(h *mailhost.Host) error {
		return h.Store().Deliver("demo@"+demoDomain, []string{*user + "@" + demoDomain},
			[]byte("Subject: waiting on the Wire\r\n\r\nA message the built-in mail host held for you.\r\n.dot line\r\n"))
	})
	if err != nil {
		return err
	}
	defer s.Close()
	opts := pop3c.Options{APOP: *apop, IP: s.brd.ip, Pool: s.brd.pool, Server: s.server, Port: uint16(n.port), Name: *user, Password: pw, Logger: log}
	if opts.TLSConfig, err = n.tlsConfig(demoMailHost); err != nil {
		return err
	}
	if s.roots != nil {
		opts.TLSConfig.RootCAs = s.roots
	}
	if *netx {
		opts.Profile = pop3c.ProfileNetX
	}
	switch n.tlsMode {
	case "off":
		opts.TLS = pop3c.TLSOff
	case "opportunistic":
		opts.TLS = pop3c.TLSOpportunistic
	case "required":
		opts.TLS = pop3c.TLSRequired
	case "implicit":
		opts.TLS = pop3c.TLSImplicit
	default:
		return usagef("bad --tls %q", n.tlsMode)
	}
	if n.transcript {
		opts.Transcript = stderr
	}
	ctx, cancel := context.WithTimeout(context.Background(), n.timeout)
	defer cancel()
	c, err := pop3c.Create(ctx, opts)
	if err != nil {
		return fmt.Errorf("status 0x%02X: %w", uint32(pop3cStatus(err)), err)
	}
	defer c.Delete(ctx)
	count, total, err := c.MailItemsGet(ctx)
	if err != nil {
		return err
	}
	type item struct {
		N    int    `json:"n"`
		UID  string `json:"uidl,omitempty"`
		Size int64  `json:"size"`
		File string `json:"file,omitempty"`
	}
	var items []item
	for i := 1; i <= count; i++ {
		it := item{N: i}
		if uid, err := c.UIDLItem(ctx, i); err == nil {
			it.UID = uid
		}
		var buf bytes.Buffer
		if it.Size, err = c.RetrTo(ctx, i, &buf); err != nil {
			return fmt.Errorf("RETR %d: %w", i, err)
		}
		if *outDir != "" {
			name := it.UID
			if name == "" || strings.ContainsAny(name, "/\\") {
				name = fmt.Sprintf("msg-%d", i)
			}
			it.File = filepath.Join(*outDir, name+".eml")
			if err := os.WriteFile(it.File, buf.Bytes(), 0o600); err != nil {
				return err
			}
		}
		if *del {
			if err := c.MailItemDelete(ctx, i); err != nil {
				return fmt.Errorf("DELE %d: %w", i, err)
			}
		}
		items = append(items, it)
	}
	if err := c.Quit(ctx); err != nil {
		return fmt.Errorf("QUIT: %w", err)
	}
	if n.json {
		return json.NewEncoder(stdout).Encode(map[string]any{"count": count, "total": total, "login": c.AuthMethod(), "messages": items})
	}
	fmt.Fprintf(stdout, "fetched %d message(s), %d octets (login %s)\n", count, total, c.AuthMethod())
	for _, it := range items {
		fmt.Fprintf(stdout, "  %d  %-24s %8d  %s\n", it.N, it.UID, it.Size, it.File)
	}
	return nil
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func pop3cStatus(err error) pop3c.Status {
	var st pop3c.Status
	if errors.As(err, &st) {
		return st
	}
	return 0
}
