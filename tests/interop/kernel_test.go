package interop

// Kernel-side clients, run inside the namespace: they validate the environment (what
// the board tests rely on) and are the baseline the board's clients are compared with.

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"net/textproto"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// dialTimeout bounds one kernel connection attempt inside the namespace.
const dialTimeout = 10 * time.Second

// sessionTimeout bounds a whole kernel-side session, so a hung server fails the test
// with a message instead of running into go test's -timeout.
const sessionTimeout = 60 * time.Second

// classicLogin is AUTH LOGIN as NetX Duo's SMTP client does it: no initial response,
// then answer the server's "Username:" and "Password:" challenges in turn.
type classicLogin struct {
	user, pass string
}

func (l *classicLogin) Start() (string, []byte, error) { return "LOGIN", nil, nil }

func (l *classicLogin) Next(challenge []byte) ([]byte, error) {
	switch string(challenge) {
	case "Username:":
		return []byte(l.user), nil
	case "Password:":
		return []byte(l.pass), nil
	}
	return nil, fmt.Errorf("unexpected LOGIN challenge %q", challenge)
}

// kernelSMTP dials addr from inside the namespace and returns a go-smtp client that
// has sent EHLO.
func kernelSMTP(t testing.TB, env *Env, addr netip.AddrPort) *smtp.Client {
	t.Helper()
	c, err := kernelSMTPConn(t, env, addr, nil)
	if err != nil {
		t.Fatalf("SMTP session to %s: %v", addr, err)
	}
	return c
}

// kernelSMTPConn is kernelSMTP with an optional STARTTLS (tlsConfig != nil) whose
// error is returned rather than fatal.
func kernelSMTPConn(t testing.TB, env *Env, addr netip.AddrPort, tlsConfig *tls.Config) (*smtp.Client, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), dialTimeout)
	defer cancel()
	conn, err := env.DialKernel(ctx, addr)
	if err != nil {
		t.Fatalf("DialKernel(%s) = %v", addr, err)
	}
	t.Cleanup(func() { conn.Close() })
	if err := conn.SetDeadline(time.Now().Add(sessionTimeout)); err != nil {
		t.Fatal(err)
	}
	if tlsConfig != nil {
		// EHLO, STARTTLS; the handshake happens on the first write, so EHLO again now.
		c, err := smtp.NewClientStartTLS(conn, tlsConfig)
		if err != nil {
			return nil, err
		}
		return c, c.Hello("kernel.example.test")
	}
	c := smtp.NewClient(conn)
	return c, c.Hello("kernel.example.test")
}

// testMessage builds an RFC 5322 message with CRLF line endings.
func testMessage(from, to, subject string, body []byte) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "From: <%s>\r\nTo: <%s>\r\nSubject: %s\r\nMessage-ID: <%d.%s>\r\n\r\n",
		from, to, subject, time.Now().UnixNano(), from)
	b.Write(body)
	return b.Bytes()
}

// bigBody is n bytes of 76-character lines (CRLF), some starting with a dot.
func bigBody(n int) []byte {
	var b bytes.Buffer
	for i := 0; b.Len() < n; i++ {
		line := fmt.Sprintf("%06d the quick brown fox jumps over the lazy dog 0123456789 abcdefghijklmno", i)
		if i%100 == 0 {
			line = "." + line[1:]
		}
		b.WriteString(line[:74])
		b.WriteString("\r\n")
	}
	return b.Bytes()[:n-n%76]
}

func crlfToLF(b []byte) []byte { return bytes.ReplaceAll(b, []byte("\r\n"), []byte("\n")) }

func TestKernelSMTPDelivers(t *testing.T) {
	env := startEnv(t)
	tests := []struct {
		name     string
		addr     netip.AddrPort
		startTLS bool
		auth     func(u User) sasl.Client // nil: no AUTH (port 25, local recipient)
		bodySize int
	}{
		{name: "submission/PLAIN", addr: env.Submission, auth: func(u User) sasl.Client { return sasl.NewPlainClient("", u.Name, u.Password) }},
		{name: "submission/LOGIN", addr: env.Submission, auth: func(u User) sasl.Client { return &classicLogin{u.Name, u.Password} }},
		{name: "submission/LOGIN-initial-response", addr: env.Submission, auth: func(u User) sasl.Client { return sasl.NewLoginClient(u.Name, u.Password) }},
		{name: "submission/STARTTLS+PLAIN", addr: env.Submission, startTLS: true, auth: func(u User) sasl.Client { return sasl.NewPlainClient("", u.Name, u.Password) }},
		{name: "submission6/PLAIN", addr: env.Submission6, auth: func(u User) sasl.Client { return sasl.NewPlainClient("", u.Name, u.Password) }},
		{name: "smtp/no-auth-local", addr: env.SMTP},
		{name: "submission/PLAIN/5MiB", addr: env.Submission, bodySize: 5 << 20, auth: func(u User) sasl.Client { return sasl.NewPlainClient("", u.Name, u.Password) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u := env.NewUser(t)
			var c *smtp.Client
			if tt.startTLS {
				var err error
				if c, err = kernelSMTPConn(t, env, tt.addr, env.TLSConfig()); err != nil {
					t.Fatalf("STARTTLS session = %v", err)
				}
				if st, ok := c.TLSConnectionState(); !ok || !st.HandshakeComplete {
					t.Fatalf("TLSConnectionState() = %v, %v; want a complete handshake", st.HandshakeComplete, ok)
				}
			} else {
				c = kernelSMTP(t, env, tt.addr)
				if ok, _ := c.Extension("STARTTLS"); !ok {
					t.Errorf("EHLO: no STARTTLS advertised")
				}
			}
			if size, ok := c.MaxMessageSize(); !ok || size < 5<<20+(5<<20)/3 {
				t.Errorf("MaxMessageSize() = %d, %v; want room for 5 MiB", size, ok)
			}
			if tt.auth != nil {
				for _, mech := range []string{"PLAIN", "LOGIN"} {
					if !c.SupportsAuth(mech) {
						t.Errorf("SupportsAuth(%s) = false", mech)
					}
				}
				if err := c.Auth(tt.auth(u)); err != nil {
					t.Fatalf("Auth() = %v", err)
				}
			}
			body := []byte("hello from the kernel side\r\n.leading dot line\r\nbye\r\n")
			if tt.bodySize > 0 {
				body = bigBody(tt.bodySize)
			}
			subject := "kernel " + tt.name
			msg := testMessage(env.Alice.Addr, u.Addr, subject, body)
			if err := c.SendMail(env.Alice.Addr, []string{u.Addr}, bytes.NewReader(msg)); err != nil {
				t.Fatalf("SendMail() = %v", err)
			}
			if err := c.Quit(); err != nil {
				t.Errorf("Quit() = %v", err)
			}
			got := env.WaitMail(t, u, subject)
			if want := crlfToLF(body); !bytes.Equal(got.Body(), want) {
				t.Errorf("delivered body: %d bytes, want %d bytes (first difference at %d)",
					len(got.Body()), len(want), firstDiff(got.Body(), want))
			}
			h, err := got.Header()
			if err != nil {
				t.Fatalf("delivered message header: %v", err)
			}
			if dt := h.Get("Delivered-To"); dt != u.Addr {
				t.Errorf("Delivered-To = %q, want %q", dt, u.Addr)
			}
		})
	}
}

func firstDiff(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

func TestKernelSMTPRefuses(t *testing.T) {
	env := startEnv(t)
	plain := func(u User, pw string) sasl.Client { return sasl.NewPlainClient("", u.Name, pw) }
	tests := []struct {
		name     string
		addr     netip.AddrPort
		auth     func(u User) sasl.Client
		to       func(u User) string
		wantAuth int // SMTP code expected from AUTH; 0 = AUTH succeeds or is not sent
		wantRcpt int // SMTP code expected from RCPT
	}{
		{name: "submission/no-auth", addr: env.Submission, to: func(u User) string { return u.Addr }, wantRcpt: 554},
		{name: "submission/wrong-password", addr: env.Submission, auth: func(u User) sasl.Client { return plain(u, "wrong") }, wantAuth: 535},
		{name: "submission/foreign-recipient", addr: env.Submission, auth: func(u User) sasl.Client { return plain(u, u.Password) },
			to: func(User) string { return "someone@elsewhere.test" }, wantRcpt: 550},
		{name: "smtp/foreign-recipient", addr: env.SMTP, to: func(User) string { return "someone@elsewhere.test" }, wantRcpt: 554},
		{name: "smtp/unknown-user", addr: env.SMTP, to: func(User) string { return "nobody@" + mailDomain }, wantRcpt: 550},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u := env.NewUser(t)
			c := kernelSMTP(t, env, tt.addr)
			if tt.auth != nil {
				err := c.Auth(tt.auth(u))
				if code := smtpCode(err); code != tt.wantAuth {
					t.Fatalf("Auth() = %v, want code %d", err, tt.wantAuth)
				}
				if tt.wantAuth != 0 {
					return
				}
			}
			if err := c.Mail(u.Addr, nil); err != nil {
				t.Fatalf("Mail(%s) = %v", u.Addr, err)
			}
			to := tt.to(u)
			if err := c.Rcpt(to, nil); smtpCode(err) != tt.wantRcpt {
				t.Fatalf("Rcpt(%s) = %v, want code %d", to, err, tt.wantRcpt)
			}
			if err := c.Quit(); err != nil {
				t.Errorf("Quit() = %v", err)
			}
		})
	}
}

func smtpCode(err error) int {
	if err == nil {
		return 0
	}
	var se *smtp.SMTPError
	if errors.As(err, &se) {
		return se.Code
	}
	return -1
}

func TestKernelSMTPUntrustedCertificate(t *testing.T) {
	env := startEnv(t)
	cfg := env.TLSConfig()
	cfg.RootCAs = nil // system roots: must not trust the test CA
	_, err := kernelSMTPConn(t, env, env.Submission, cfg)
	var uerr x509.UnknownAuthorityError
	if !errors.As(err, &uerr) {
		t.Fatalf("StartTLS(system roots) = %v, want an unknown-authority error", err)
	}
}

// pop3Client is a minimal POP3 client over textproto for the baseline sessions.
type pop3Client struct {
	t        *testing.T
	conn     net.Conn
	tp       *textproto.Conn
	greeting string
}

func kernelPOP3(t *testing.T, env *Env, addr netip.AddrPort) *pop3Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), dialTimeout)
	defer cancel()
	conn, err := env.DialKernel(ctx, addr)
	if err != nil {
		t.Fatalf("DialKernel(%s) = %v", addr, err)
	}
	if err := conn.SetDeadline(time.Now().Add(sessionTimeout)); err != nil {
		t.Fatal(err)
	}
	p := &pop3Client{t: t, conn: conn, tp: textproto.NewConn(conn)}
	t.Cleanup(func() { p.tp.Close() })
	line, err := p.tp.ReadLine()
	if err != nil || !strings.HasPrefix(line, "+OK") {
		t.Fatalf("POP3 greeting = %q, %v; want +OK", line, err)
	}
	p.greeting = line
	return p
}

// cmd sends one command and returns the text after "+OK", or an error holding the
// "-ERR" line.
func (p *pop3Client) cmd(format string, args ...any) (string, error) {
	if err := p.tp.PrintfLine(format, args...); err != nil {
		return "", err
	}
	line, err := p.tp.ReadLine()
	if err != nil {
		return "", err
	}
	if rest, ok := strings.CutPrefix(line, "+OK"); ok {
		return strings.TrimSpace(rest), nil
	}
	return "", fmt.Errorf("pop3: %s", line)
}

// ok is cmd that fails the test on -ERR.
func (p *pop3Client) ok(format string, args ...any) string {
	p.t.Helper()
	rest, err := p.cmd(format, args...)
	if err != nil {
		p.t.Fatalf("%s = %v, want +OK", fmt.Sprintf(format, args...), err)
	}
	return rest
}

// multi sends a command with a multi-line answer and returns the dot-unstuffed data
// with CRLF line endings.
func (p *pop3Client) multi(format string, args ...any) []byte {
	p.t.Helper()
	p.ok(format, args...)
	b, err := io.ReadAll(p.tp.DotReader())
	if err != nil {
		p.t.Fatalf("%s: reading data: %v", fmt.Sprintf(format, args...), err)
	}
	return bytes.ReplaceAll(b, []byte("\n"), []byte("\r\n")) // DotReader turns CRLF into LF
}

func (p *pop3Client) lines(format string, args ...any) []string {
	p.t.Helper()
	s := strings.TrimSuffix(string(p.multi(format, args...)), "\r\n")
	if s == "" {
		return nil
	}
	return strings.Split(s, "\r\n")
}

// startTLS runs STLS and switches the connection to TLS.
func (p *pop3Client) startTLS(cfg *tls.Config) {
	p.t.Helper()
	p.ok("STLS")
	tc := tls.Client(p.conn, cfg)
	if err := tc.Handshake(); err != nil {
		p.t.Fatalf("STLS handshake = %v", err)
	}
	p.conn = tc
	p.tp = textproto.NewConn(tc)
}

var apopTimestamp = regexp.MustCompile(`<[^>]*>`)

func apopDigest(greeting, password string) string {
	sum := md5.Sum([]byte(apopTimestamp.FindString(greeting) + password))
	return hex.EncodeToString(sum[:])
}

// seedMessages are what the POP3 tests read back: CRLF, one dot-leading line, one
// line that is a lone dot, a multi-line body for TOP.
var seedMessages = [][]byte{
	[]byte("From: <a@example.test>\r\nTo: <b@example.test>\r\nSubject: one\r\n\r\nfirst body line\r\nsecond body line\r\n"),
	[]byte("From: <a@example.test>\r\nTo: <b@example.test>\r\nSubject: two\r\n\r\n.dot at the start\r\n.\r\n..two dots\r\nlast\r\n"),
	[]byte("From: <a@example.test>\r\nTo: <b@example.test>\r\nSubject: three\r\n\r\n" + strings.Repeat("line of the third message\r\n", 400)),
}

func TestKernelPOP3(t *testing.T) {
	env := startEnv(t)
	type login func(p *pop3Client, u User)
	userPass := func(p *pop3Client, u User) { p.ok("USER %s", u.Name); p.ok("PASS %s", u.Password) }
	apop := func(p *pop3Client, u User) {
		if !apopTimestamp.MatchString(p.greeting) {
			p.t.Fatalf("greeting %q has no APOP timestamp", p.greeting)
		}
		p.ok("APOP %s %s", u.Name, apopDigest(p.greeting, u.Password))
	}
	tests := []struct {
		name  string
		addr  netip.AddrPort
		stls  bool
		login login
	}{
		{"USER-PASS", env.POP3, false, userPass},
		{"APOP", env.POP3, false, apop},
		{"STLS+USER-PASS", env.POP3, true, userPass},
		{"IPv6/USER-PASS", env.POP36, false, userPass},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u := env.NewUser(t)
			env.Seed(t, u, seedMessages...)
			p := kernelPOP3(t, env, tt.addr)
			capa := p.lines("CAPA")
			for _, want := range []string{"TOP", "UIDL", "USER", "STLS"} {
				if !containsWord(capa, want) {
					t.Errorf("CAPA = %q, want %s", capa, want)
				}
			}
			if tt.stls {
				p.startTLS(env.TLSConfig())
			}
			tt.login(p, u)

			var wantTotal int
			for _, m := range seedMessages {
				wantTotal += len(m)
			}
			if got, want := p.ok("STAT"), fmt.Sprintf("%d %d", len(seedMessages), wantTotal); got != want {
				t.Errorf("STAT = %q, want %q", got, want)
			}
			list := p.lines("LIST")
			if len(list) != len(seedMessages) {
				t.Fatalf("LIST = %q, want %d entries", list, len(seedMessages))
			}
			for i, m := range seedMessages {
				if want := fmt.Sprintf("%d %d", i+1, len(m)); list[i] != want {
					t.Errorf("LIST line %d = %q, want %q", i+1, list[i], want)
				}
			}
			uidl := p.lines("UIDL")
			seen := map[string]bool{}
			for i, l := range uidl {
				n, id, _ := strings.Cut(l, " ")
				if n != strconv.Itoa(i+1) || id == "" || seen[id] {
					t.Errorf("UIDL line %d = %q, want a unique id for message %d", i+1, l, i+1)
				}
				seen[id] = true
			}
			if len(uidl) == len(seedMessages) {
				if got := p.ok("UIDL 2"); got != uidl[1] {
					t.Errorf("UIDL 2 = %q, want %q", got, uidl[1])
				}
			}
			for i, m := range seedMessages {
				if got := p.multi("RETR %d", i+1); !bytes.Equal(got, m) {
					t.Errorf("RETR %d = %q, want %q", i+1, got, m)
				}
			}
			head, body, _ := bytes.Cut(seedMessages[2], []byte("\r\n\r\n"))
			if got, want := p.multi("TOP 3 0"), append(append([]byte{}, head...), "\r\n\r\n"...); !bytes.Equal(got, want) {
				t.Errorf("TOP 3 0 = %q, want %q", got, want)
			}
			firstTwo := bytes.Join(bytes.SplitAfterN(body, []byte("\r\n"), 3)[:2], nil)
			if got, want := p.multi("TOP 3 2"), append(append(append([]byte{}, head...), "\r\n\r\n"...), firstTwo...); !bytes.Equal(got, want) {
				t.Errorf("TOP 3 2 = %q, want %q", got, want)
			}
			if _, err := p.cmd("RETR 9"); err == nil {
				t.Errorf("RETR 9 = +OK, want -ERR")
			}
			p.ok("DELE 1")
			if got, want := p.ok("STAT"), fmt.Sprintf("%d %d", len(seedMessages)-1, wantTotal-len(seedMessages[0])); got != want {
				t.Errorf("STAT after DELE 1 = %q, want %q", got, want)
			}
			p.ok("RSET")
			p.ok("QUIT")
			if got := len(env.Maildir(t, u)); got != len(seedMessages) {
				t.Errorf("Maildir after RSET+QUIT has %d messages, want %d", got, len(seedMessages))
			}
		})
	}
}

func containsWord(lines []string, word string) bool {
	for _, l := range lines {
		if f := strings.Fields(l); len(f) > 0 && f[0] == word {
			return true
		}
	}
	return false
}

func TestKernelPOP3Refuses(t *testing.T) {
	env := startEnv(t)
	tests := []struct {
		name string
		run  func(p *pop3Client, u User) (string, error)
	}{
		{"wrong-PASS", func(p *pop3Client, u User) (string, error) {
			p.ok("USER %s", u.Name)
			return p.cmd("PASS %s", "wrong")
		}},
		{"wrong-APOP", func(p *pop3Client, u User) (string, error) {
			return p.cmd("APOP %s %s", u.Name, apopDigest(p.greeting, "wrong"))
		}},
		{"PASS-without-USER", func(p *pop3Client, u User) (string, error) {
			return p.cmd("PASS %s", u.Password)
		}},
		{"STAT-before-login", func(p *pop3Client, u User) (string, error) {
			return p.cmd("STAT")
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u := env.NewUser(t)
			p := kernelPOP3(t, env, env.POP3)
			if got, err := tt.run(p, u); err == nil {
				t.Fatalf("got +OK %q, want -ERR", got)
			}
			p.ok("QUIT")
		})
	}
}

// TestKernelLoop is the whole path: submit over SMTP, Postfix delivers into the Maildir,
// Dovecot serves it over POP3, byte for byte.
func TestKernelLoop(t *testing.T) {
	env := startEnv(t)
	u := env.NewUser(t)
	c := kernelSMTP(t, env, env.Submission)
	if err := c.Auth(sasl.NewPlainClient("", u.Name, u.Password)); err != nil {
		t.Fatalf("Auth() = %v", err)
	}
	body := []byte("round trip\r\n.dot line\r\n")
	msg := testMessage(u.Addr, u.Addr, "loop", body)
	if err := c.SendMail(u.Addr, []string{u.Addr}, bytes.NewReader(msg)); err != nil {
		t.Fatalf("SendMail() = %v", err)
	}
	c.Quit()
	env.WaitMail(t, u, "loop")

	p := kernelPOP3(t, env, env.POP3)
	p.ok("USER %s", u.Name)
	p.ok("PASS %s", u.Password)
	got := p.multi("RETR 1")
	if !bytes.HasSuffix(got, append([]byte("\r\n\r\n"), body...)) || !bytes.Contains(got, []byte("Subject: loop\r\n")) {
		t.Errorf("RETR 1 = %q, want the submitted message (plus Postfix's trace headers)", got)
	}
	p.ok("QUIT")
}
