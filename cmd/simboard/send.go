package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/simboard/simboard/apps/smtpc"
)

// sendCmd is `simboard send`.
type sendCmd struct {
	net netFlags
	msg sendFlags
}

func (c *sendCmd) groups() []flagGroup { return []flagGroup{&c.net, &c.msg} }

// sendFlags are send's own flags: the message and the SMTP session.
type sendFlags struct {
	from, to, cc, bcc string
	subject           string
	body              string
	user              string
	auth              string
	domain            string
	netx              bool
	priority          string
	bdat              bool
	compareNetX       bool // comparenetx.go

	// Parsed by check.
	authType smtpc.AuthType
	prio     smtpc.Priority
}

func (f *sendFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.from, "from", "board@"+demoDomain, "sender `ADDR`")
	fs.StringVar(&f.to, "to", "", "recipients `ADDR[,ADDR]`, comma separated (required)")
	fs.StringVar(&f.cc, "cc", "", "Cc recipients `ADDR[,ADDR]`, comma separated")
	fs.StringVar(&f.bcc, "bcc", "", "Bcc recipients `ADDR[,ADDR]`, comma separated (never in the header)")
	fs.StringVar(&f.subject, "subject", "simboard test mail", "`SUBJECT` of the mail")
	fs.StringVar(&f.body, "body", "", "body `FILE`, or - for stdin (default: a short test text)")
	fs.StringVar(&f.user, "user", "", "SMTP AUTH user `NAME` (empty = no AUTH)")
	fs.StringVar(&f.auth, "auth", "auto", "AUTH `MECH`: auto (the strongest the server offers), plain, login, cram-md5,\n"+
		"xoauth2 (the password is the token) or none; an explicit MECH the server does not offer is an error")
	fs.StringVar(&f.domain, "domain", "board."+demoDomain, "EHLO `DOMAIN`")
	fs.BoolVar(&f.netx, "netx", false, "NetX Duo compatibility profile: one recipient, PLAIN/LOGIN only, no TLS")
	fs.StringVar(&f.priority, "priority", "normal", "`PRIORITY`: low, normal or high")
	fs.BoolVar(&f.compareNetX, "compare-netx", false, "send the mail in the default profile and in the NetX Duo profile on the built-in Wire and\nprint where the MCU differs: corrupted body lines, statuses, wire bytes, pool peaks")
	fs.BoolVar(&f.bdat, "bdat", false, "send the message in BDAT chunks (RFC 3030) when the server offers CHUNKING")
}

func (f *sendFlags) check() error {
	if len(splitList(f.to)) == 0 {
		return usagef("--to is required")
	}
	var err error
	if f.authType, err = parseAuth(f.auth); err != nil {
		return err
	}
	if f.user == "" && f.auth != "auto" && f.authType != smtpc.AuthNone {
		return usagef("--auth %s needs --user", f.auth)
	}
	if f.user == "" {
		f.authType = smtpc.AuthNone
	}
	var ok bool
	if f.prio, ok = map[string]smtpc.Priority{"low": smtpc.PriorityLow, "normal": smtpc.PriorityNormal, "high": smtpc.PriorityHigh}[f.priority]; !ok {
		return usagef("bad --priority %q: use low, normal or high", f.priority)
	}
	if f.body != "" && f.body != "-" {
		if st, err := os.Stat(f.body); err != nil {
			return usagef("--body: %v", err)
		} else if st.IsDir() {
			return usagef("--body %s is a directory", f.body)
		}
	}
	return nil
}

// parseAuth maps --auth to smtpc's mechanism.
func parseAuth(s string) (smtpc.AuthType, error) {
	switch strings.ToLower(s) {
	case "auto":
		return smtpc.AuthAuto, nil // the strongest mechanism the server offers
	case "plain":
		return smtpc.AuthPlain, nil
	case "login":
		return smtpc.AuthLogin, nil
	case "cram-md5", "crammd5":
		return smtpc.AuthCRAMMD5, nil
	case "xoauth2":
		return smtpc.AuthXOAUTH2, nil
	case "none":
		return smtpc.AuthNone, nil
	}
	return 0, usagef("unknown --auth %q: use auto, plain, login, cram-md5, xoauth2 or none", s)
}

// realWhy names what makes a send real time without --clock: --tap, or
// --body - (stdin arrives in real time; with --clock virtual it is read to
// its end before the simulation starts).
func (c *sendCmd) realWhy() (tap, stdin string) {
	if c.msg.body == "-" && c.net.clock.value == "" {
		stdin = "--body -"
	}
	return c.net.realWhy(), stdin
}

func (c *sendCmd) run(e *cmdEnv) error {
	n, f := &c.net, &c.msg
	tap, stdin := c.realWhy()
	virtual, err := n.clock.virtual(tap)
	if err != nil {
		return err
	}
	if stdin != "" {
		virtual = false
	}
	if f.compareNetX {
		return runSendCompare(e, n, f, virtual)
	}
	if f.netx {
		if err := n.netxTLS(); err != nil {
			return err
		}
		if f.authType == smtpc.AuthCRAMMD5 || f.authType == smtpc.AuthXOAUTH2 {
			// Not silent: this is NetX's behaviour, and the board's.
			fmt.Fprintf(e.stderr, "note: --netx --auth %s: NetX Duo's SMTP client has no %s and logs in with AUTH PLAIN (or LOGIN) instead, in clear text\n",
				f.auth, strings.ToUpper(f.auth))
		}
	}
	log := n.logger(e.stderr)
	pw, err := n.password()
	if err != nil {
		return err
	}
	if f.authType != smtpc.AuthNone && pw == "" {
		return usagef("--user %s with --auth %s needs a password: %s", f.user, f.auth, n.passwordSource())
	}
	var body io.Reader = strings.NewReader("Hello from a simboard board.\r\n")
	var size int64 = -1
	switch {
	case f.body == "":
		size = 30
	case virtual:
		// Simulated time cannot wait on a file or stdin: read it first.
		b, err := readBody(e, f.body, n.timeout)
		if err != nil {
			return err
		}
		body, size = bytes.NewReader(b), int64(len(b))
	case f.body == "-":
		body = newCtxReader(e.ctx, e.stdin)
	default:
		fh, err := os.Open(f.body)
		if err != nil {
			return err
		}
		defer fh.Close()
		if st, err := fh.Stat(); err == nil {
			size = st.Size()
		}
		body = fh
	}
	users := map[string]string{}
	for _, a := range splitList(f.to + "," + f.cc + "," + f.bcc) {
		users[strings.SplitN(a, "@", 2)[0]] = "x"
	}
	if f.user != "" {
		users[f.user] = pw
	}
	n.rc = newRunClock(virtual, n.seed, n.timeout)
	var res smtpc.Result
	err = n.rc.run(e.ctx, func(ctx context.Context) error {
		if cr, ok := body.(*ctxReader); ok {
			cr.ctx = ctx // the body read gives up at --timeout
		}
		var err error
		res, err = c.send(ctx, e, log, pw, users, body, size)
		return err
	})
	times := n.rc.report(e.reproduce(flagArg{"clock", clockName(virtual)}, flagArg{"seed", fmt.Sprint(n.seed)}))
	if err != nil {
		printTimes(e.stderr, times)
		return err
	}
	if n.json {
		return json.NewEncoder(e.stdout).Encode(map[string]any{"accepted": res.Accepted, "reply": res.Reply, "recipients": res.Recipients,
			"octets": res.Octets, "tls": res.TLS, "auth": fmt.Sprint(res.Auth), "quit_error": errString(res.QuitErr), "server": res.Server.String(),
			"clock": times.Clock, "simulated_s": times.Simulated, "wall_s": times.Wall, "reproduce": times.Reproduce})
	}
	fmt.Fprintf(e.stdout, "sent: %d octets to %d recipient(s) via %v, TLS %v, AUTH %v: %s\n", res.Octets, res.Recipients, res.Server, res.TLS, res.Auth, strings.TrimSpace(res.Reply))
	if res.QuitErr != nil {
		fmt.Fprintf(e.stdout, "note: the mail was accepted but QUIT failed: %s\n", describe(res.QuitErr))
	}
	printTimes(e.stdout, times)
	return nil
}

// send boots the board (and, on the Wire, the built-in mail host) and sends
// the mail. It blocks until the mail is sent, fails or ctx is done, and
// closes everything it started before returning.
func (c *sendCmd) send(ctx context.Context, e *cmdEnv, log *slog.Logger, pw string, users map[string]string, body io.Reader, size int64) (smtpc.Result, error) {
	n, f := &c.net, &c.msg
	s, err := n.boot(e.stderr, log, users, nil)
	if err != nil {
		return smtpc.Result{}, err
	}
	defer s.Close()
	if err := s.netSetup(ctx, e.stderr); err != nil { // netopts.go: --ntp, --server NAME
		return smtpc.Result{}, err
	}
	port := uint16(n.port)
	if port == 0 {
		port = n.tls.smtpPort()
	}
	opts := smtpc.Options{IP: s.brd.ip, Pool: s.brd.pool, Username: f.user, Password: pw, From: f.from, ClientDomain: f.domain,
		Auth: f.authType, ServerAddr: s.server, Port: port, Logger: log, Chunking: f.bdat, Rand: s.rc.rand("smtpc")}
	opts.Now = s.wallClock() // netopts.go: --ntp
	if opts.TLSConfig, err = s.tlsConfig(); err != nil {
		return smtpc.Result{}, err
	}
	if f.netx {
		opts.Profile = smtpc.ProfileNetX
	}
	opts.TLS = n.tls.clientMode()
	opts.AllowPlaintextAuth = n.tls == tlsOff // --tls off is the user's consent to clear text
	if n.transcript {
		opts.Transcript = e.stderr
	}
	cl, err := smtpc.Create(opts)
	if err != nil {
		return smtpc.Result{}, err
	}
	res, err := cl.Send(ctx, &smtpc.Message{To: splitList(f.to), Cc: splitList(f.cc), Bcc: splitList(f.bcc), Subject: f.subject, Priority: f.prio, Body: body, Size: size})
	cl.Delete()
	if err != nil {
		return smtpc.Result{}, s.explain(err, port)
	}
	return res, nil
}

// readBody reads --body FILE or --body - (stdin, given up after timeout of
// real time or a signal) to its end, at most maxBodySize bytes.
func readBody(e *cmdEnv, name string, timeout time.Duration) ([]byte, error) {
	var r io.Reader
	if name == "-" {
		ctx, cancel := withTimeout(e.ctx, timeout)
		defer cancel()
		r = newCtxReader(ctx, e.stdin)
		b, err := io.ReadAll(io.LimitReader(r, maxBodySize+1))
		if err != nil {
			return nil, noteTimeout(ctx, fmt.Errorf("--body -: %w", err))
		}
		if len(b) > maxBodySize {
			return nil, fmt.Errorf("--body -: more than %d bytes", maxBodySize)
		}
		return b, nil
	}
	fh, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer fh.Close()
	b, err := io.ReadAll(io.LimitReader(fh, maxBodySize+1))
	if err != nil {
		return nil, fmt.Errorf("--body %s: %w", name, err)
	}
	if len(b) > maxBodySize {
		return nil, fmt.Errorf("--body %s: more than %d bytes: send it with --clock real (streamed from the file)", name, maxBodySize)
	}
	return b, nil
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
	return describe(err)
}
