package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/simboard/simboard/apps/pop3c"
	"github.com/simboard/simboard/mailhost"
)

// fetchCmd is `simboard fetch`.
type fetchCmd struct {
	net netFlags
	box fetchFlags
}

func (c *fetchCmd) groups() []flagGroup { return []flagGroup{&c.net, &c.box} }

// fetchFlags are fetch's own flags: the mailbox and what to do with it.
type fetchFlags struct {
	user   string
	login  string
	outDir string
	del    bool
	netx   bool
}

// loginModes is the --login vocabulary.
const loginModes = "auto, apop, user or auth-plain"

func (f *fetchFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.user, "user", "", "POP3 user `NAME` (required)")
	fs.StringVar(&f.login, "login", "auto", "how to log in, `HOW`: auto (APOP when the greeting offers it, else AUTH PLAIN when\n"+
		"offered, else USER/PASS), apop, user (USER/PASS) or auth-plain (SASL PLAIN)")
	fs.StringVar(&f.outDir, "out", "", "write each message to `DIR`/<uidl>.eml (default: print sizes only)")
	fs.BoolVar(&f.del, "delete", false, "delete each message after fetching it")
	fs.BoolVar(&f.netx, "netx", false, "NetX Duo compatibility profile (no TLS, no AUTH, USER/PASS or APOP)")
}

func (f *fetchFlags) check() error {
	if f.user == "" {
		return usagef("--user is required")
	}
	switch f.login {
	case "auto", "apop", "user", "auth-plain":
	default:
		return usagef("bad --login %q: use %s", f.login, loginModes)
	}
	if f.netx && f.login == "auth-plain" {
		return usagef("--login auth-plain is not available with --netx (NetX Duo's client has no AUTH)")
	}
	if f.outDir != "" {
		if st, err := os.Stat(f.outDir); err != nil || !st.IsDir() {
			return usagef("--out %s is not a directory", f.outDir)
		}
	}
	return nil
}

// fetchItem is one message fetch got.
type fetchItem struct {
	N    int    `json:"n"`
	UID  string `json:"uidl,omitempty"`
	Size int64  `json:"size"`
	File string `json:"file,omitempty"`
}

// fetchResult is what fetch got from the mailbox.
type fetchResult struct {
	count int
	total int64
	login string
	items []fetchItem
}

func (c *fetchCmd) run(e *cmdEnv) error {
	n, f := &c.net, &c.box
	virtual, err := n.clock.virtual(n.realWhy())
	if err != nil {
		return err
	}
	if f.netx {
		if err := n.netxTLS(); err != nil {
			return err
		}
	}
	log := n.logger(e.stderr)
	pw, err := n.password()
	if err != nil {
		return err
	}
	if pw == "" {
		return usagef("--user %s needs a password: %s", f.user, n.passwordSource())
	}
	n.rc = newRunClock(virtual, n.seed, n.timeout)
	var res fetchResult
	err = n.rc.run(e.ctx, func(ctx context.Context) error {
		var err error
		res, err = c.fetch(ctx, e, log, pw)
		return err
	})
	times := n.rc.report(e.reproduce(flagArg{"clock", clockName(virtual)}, flagArg{"seed", fmt.Sprint(n.seed)}))
	if err != nil {
		printTimes(e.stderr, times)
		return err
	}
	if n.json {
		return json.NewEncoder(e.stdout).Encode(map[string]any{"count": res.count, "total": res.total, "login": res.login, "messages": res.items,
			"clock": times.Clock, "simulated_s": times.Simulated, "wall_s": times.Wall, "reproduce": times.Reproduce})
	}
	fmt.Fprintf(e.stdout, "fetched %d message(s), %d octets (login %s)\n", res.count, res.total, res.login)
	for _, it := range res.items {
		fmt.Fprintf(e.stdout, "  %d  %-24s %8d  %s\n", it.N, it.UID, it.Size, it.File)
	}
	printTimes(e.stdout, times)
	return nil
}

// fetch boots the board (and, on the Wire, the built-in mail host holding
// one message for --user) and fetches every message. It blocks until done,
// failed or ctx is done, and closes everything it started before returning.
func (c *fetchCmd) fetch(ctx context.Context, e *cmdEnv, log *slog.Logger, pw string) (res fetchResult, err error) {
	n, f := &c.net, &c.box
	s, err := n.boot(e.stderr, log, map[string]string{f.user: pw}, func(h *mailhost.Host) error {
		return h.Store().Deliver("demo@"+demoDomain, []string{f.user + "@" + demoDomain},
			[]byte("Subject: waiting on the Wire\r\n\r\nA message the built-in mail host held for you.\r\n.dot line\r\n"))
	})
	if err != nil {
		return res, err
	}
	defer s.Close()
	if err := s.netSetup(ctx, e.stderr); err != nil { // netopts.go: --ntp, --server NAME
		return res, err
	}
	port := uint16(n.port)
	if port == 0 {
		port = n.tls.pop3Port()
	}
	opts := pop3c.Options{IP: s.brd.ip, Pool: s.brd.pool, Server: s.server, Port: port, Name: f.user, Password: pw, Logger: log,
		Rand: s.rc.rand("pop3c")}
	switch f.login {
	case "apop":
		opts.Auth = pop3c.AuthAPOP
	case "auto":
		if f.netx {
			opts.Auth = pop3c.AuthAPOP // NetX's APOP flag: APOP, else USER/PASS (ProfileNetX's fallback)
		}
	case "user":
		opts.Auth = pop3c.AuthUserPass
	case "auth-plain":
		opts.Auth = pop3c.AuthPlain
	}
	if opts.TLSConfig, err = s.tlsConfig(); err != nil {
		return res, err
	}
	if f.netx {
		opts.Profile = pop3c.ProfileNetX
	}
	opts.TLS = n.tls.clientMode()
	opts.AllowPlaintextAuth = n.tls == tlsOff // --tls off is the user's consent to clear text
	if n.transcript {
		opts.Transcript = e.stderr
	}
	cl, err := pop3c.Create(ctx, opts)
	if err != nil {
		if cl != nil {
			cl.Delete(ctx) // --netx: a failed Create leaves the socket for Delete, as NetX does
		}
		return res, s.explain(err, port)
	}
	defer cl.Delete(ctx)
	if f.login == "apop" && cl.AuthMethod() != "APOP" {
		return res, fmt.Errorf("--login apop: the server logged us in with %s, not APOP", cl.AuthMethod())
	}
	count, total, err := cl.MailItemsGet(ctx)
	if err != nil {
		return res, fmt.Errorf("STAT: %w", err)
	}
	res.count, res.total = count, int64(total)
	for i := 1; i <= count; i++ {
		it := fetchItem{N: i}
		if uid, err := cl.UIDLItem(ctx, i); err == nil {
			it.UID = uid
		}
		var buf bytes.Buffer
		if it.Size, err = cl.RetrTo(ctx, i, &buf); err != nil {
			return res, fmt.Errorf("RETR %d: %w", i, err)
		}
		if f.outDir != "" {
			name := it.UID
			if name == "" || strings.ContainsAny(name, "/\\") || name == "." || name == ".." {
				name = fmt.Sprintf("msg-%d", i)
			}
			it.File = filepath.Join(f.outDir, name+".eml")
			if err := os.WriteFile(it.File, buf.Bytes(), 0o600); err != nil {
				return res, err
			}
		}
		if f.del {
			if err := cl.MailItemDelete(ctx, i); err != nil {
				return res, fmt.Errorf("DELE %d: %w", i, err)
			}
		}
		res.items = append(res.items, it)
	}
	if err := cl.Quit(ctx); err != nil {
		return res, fmt.Errorf("QUIT: %w", err)
	}
	res.login = cl.AuthMethod()
	return res, nil
}
