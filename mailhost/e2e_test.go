package mailhost

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"net/smtp"
	"runtime"
	"strings"
	"testing"
	"testing/synctest"
	"time"
)

// TestSMTPToPOP3 sends mail through SMTP and fetches it through POP3: the
// bytes must come back exactly.
func TestSMTPToPOP3(t *testing.T) {
	th := startHost(t, Options{AllowInsecureAuth: true})
	random := make([]byte, 48<<10)
	_, _ = rand.Read(random)
	bodies := []string{
		// Built with CRLF lines so net/smtp's LF->CRLF conversion keeps it.
		"Subject: one\r\n\r\n.starts with a dot\r\n..two\r\n.\r\n \r\nend\r\n",
		"Subject: big\r\nContent-Transfer-Encoding: base64\r\n\r\n" + wrap(base64.StdEncoding.EncodeToString(random), 76),
		"Subject: 8bit\r\n\r\nGrüße aus dem Simulator\r\n",
	}
	for _, body := range bodies {
		sendMail(t, th, "board@board.test", []string{"carol@mailhost.test", "alice@mailhost.test"}, body)
	}
	// A raw session keeps bare LFs, which net/smtp would convert.
	raw := dial(t, th.smtp)
	raw.expect("", 220)
	raw.ehlo()
	raw.expect("MAIL FROM:<x@y> BODY=8BITMIME", 250)
	raw.expect("RCPT TO:<carol@x>", 250)
	raw.expect("DATA", 354)
	// Only CRLF starts a line for SMTP: the dots after a bare LF stay.
	io.WriteString(raw.conn, "bare\nLF\n..dots after a bare LF stay\r\n.\r\n")
	raw.expect("", 250)
	raw.expect("QUIT", 221)
	bodies = append(bodies, "bare\nLF\n..dots after a bare LF stay\r\n")

	c := dial(t, th.pop3)
	c.line()
	c.pop("USER carol", "+OK")
	c.pop("PASS carol-pw", fmt.Sprintf("+OK carol's maildrop has %d messages", len(bodies)))
	for i, want := range bodies {
		status := c.pop(fmt.Sprintf("RETR %d", i+1), "+OK")
		if status != fmt.Sprintf("+OK %d octets", len(want)) {
			t.Errorf("RETR %d status %q, want %d octets", i+1, status, len(want))
		}
		wire := c.multi()
		got, rest, err := dotUnstuff(wire)
		if err != nil || len(rest) != 0 {
			t.Fatalf("RETR %d: unstuff = %v, %d bytes left", i+1, err, len(rest))
		}
		if string(got) != want {
			t.Errorf("RETR %d = %q, want %q", i+1, got, want)
		}
	}
	c.pop("QUIT", "+OK")
	if got := th.Store().Messages("alice"); len(got) != 3 || string(got[1].Data) != bodies[1] {
		t.Errorf("alice has %d messages, want the 3 sent to her byte for byte", len(got))
	}
}

// sendMail sends one message with net/smtp over STARTTLS.
func sendMail(t testing.TB, th *testHost, from string, to []string, body string) {
	t.Helper()
	c, err := smtp.Dial(th.smtp)
	if err != nil {
		t.Fatalf("smtp.Dial() = %v", err)
	}
	defer c.Close()
	steps := []func() error{
		func() error { return c.Hello("board.test") },
		func() error { return c.StartTLS(th.clientTLS()) },
		func() error { return c.Mail(from) },
	}
	for _, r := range to {
		steps = append(steps, func() error { return c.Rcpt(r) })
	}
	steps = append(steps, func() error {
		w, err := c.Data()
		if err != nil {
			return err
		}
		if _, err := io.WriteString(w, body); err != nil {
			return err
		}
		return w.Close()
	}, c.Quit)
	for i, s := range steps {
		if err := s(); err != nil {
			t.Fatalf("net/smtp step %d: %v", i, err)
		}
	}
}

func wrap(s string, n int) string {
	var b strings.Builder
	for len(s) > n {
		b.WriteString(s[:n] + "\r\n")
		s = s[n:]
	}
	b.WriteString(s + "\r\n")
	return b.String()
}

// pipeListener is a net.Listener over in-memory pipes whose connections
// have no SetLinger: the shape of a userspace stack's listener.
type pipeListener struct {
	conns chan net.Conn
	done  chan struct{}
}

func newPipeListener() *pipeListener {
	return &pipeListener{conns: make(chan net.Conn), done: make(chan struct{})}
}

func (l *pipeListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *pipeListener) Close() error {
	select {
	case <-l.done:
	default:
		close(l.done)
	}
	return nil
}

func (l *pipeListener) Addr() net.Addr { return pipeAddr("test") }

func (l *pipeListener) dial(t *testing.T) *client {
	s, c := net.Pipe()
	select {
	case l.conns <- s:
	case <-l.done:
		t.Fatalf("dial on a closed listener")
	}
	t.Cleanup(func() { c.Close() })
	return &client{t: t, conn: c, r: bufio.NewReader(c)}
}

// TestInMemoryListenerTimeouts runs the host on a listener that is not a
// kernel socket, under synctest so that idle timeouts and delays run on
// fake time. A reset on a connection without SetLinger closes it.
func TestInMemoryListenerTimeouts(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h, err := New(Options{
			Users: testUsers, AllowInsecureAuth: true, IdleTimeout: 90 * time.Second,
			Faults: []Fault{
				{Stage: SMTPMail, Kind: FaultDelay, Delay: 7 * time.Second},
				{Stage: POP3Stat, Kind: FaultReset},
			},
		})
		if err != nil {
			t.Fatal(err)
		}
		ls, lp := newPipeListener(), newPipeListener()
		done := make(chan error, 2)
		go func() { done <- h.ServeSMTP(ls) }()
		go func() { done <- h.ServePOP3(lp) }()

		c := ls.dial(t)
		c.expect("", 220)
		c.ehlo()
		start := time.Now()
		c.expect("MAIL FROM:<a@b>", 250)
		if d := time.Since(start); d != 7*time.Second {
			t.Errorf("MAIL with a 7s delay fault answered after %v", d)
		}
		start = time.Now()
		code, _, err := c.readReply()
		if code != 421 || err != nil {
			t.Errorf("idle SMTP session: reply %d, %v; want 421", code, err)
		}
		if d := time.Since(start); d != 90*time.Second {
			t.Errorf("SMTP idle timeout after %v, want 90s", d)
		}
		if err := c.closed(); err != nil {
			t.Errorf("after 421: %v", err)
		}

		p := lp.dial(t)
		p.line()
		start = time.Now()
		if l, err := p.readLine(); err != nil || !strings.HasPrefix(l, "-ERR [SYS/TEMP] autologout") {
			t.Errorf("idle POP3 session: %q, %v; want -ERR autologout", l, err)
		}
		if d := time.Since(start); d != 90*time.Second {
			t.Errorf("POP3 idle timeout after %v, want 90s", d)
		}

		p = lp.dial(t)
		p.line()
		p.pop("USER alice", "+OK")
		p.pop("PASS alice-secret", "+OK")
		p.send("STAT")
		if _, err := p.r.ReadByte(); err != io.EOF {
			t.Errorf("read after a reset fault on a pipe = %v, want EOF (fallback to Close)", err)
		}

		// Close with a session in progress.
		q := lp.dial(t)
		q.line()
		if err := h.Close(); err != nil {
			t.Errorf("Close() = %v", err)
		}
		for range 2 {
			if err := <-done; err != nil {
				t.Errorf("Serve() = %v, want nil", err)
			}
		}
		if _, err := q.r.ReadByte(); err != io.EOF {
			t.Errorf("session read after Close = %v, want EOF", err)
		}
	})
}

// TestCloseJoinsSessions closes the host while sessions sit in every kind
// of wait and checks that every goroutine is gone afterwards.
func TestCloseJoinsSessions(t *testing.T) {
	base := runtime.NumGoroutine()
	cert, pool, err := SelfSigned()
	if err != nil {
		t.Fatal(err)
	}
	_ = pool
	h, err := New(Options{
		Users: testUsers, AllowInsecureAuth: true,
		TLS:    tlsConfig(cert),
		Faults: []Fault{{Stage: SMTPRcpt, Kind: FaultSilent, Skip: 1, Times: 1}, {Stage: POP3Noop, Kind: FaultDelay, Delay: time.Hour}},
	})
	if err != nil {
		t.Fatal(err)
	}
	var ls []net.Listener
	serve := []func(net.Listener) error{h.ServeSMTP, h.ServeSMTPS, h.ServePOP3, h.ServePOP3S}
	done := make(chan error, len(serve))
	for _, s := range serve {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ls = append(ls, l)
		go func() { done <- s(l) }()
	}
	var conns []net.Conn
	open := func(i int) *client {
		c, err := net.Dial("tcp", ls[i].Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
		_ = c.SetDeadline(time.Now().Add(30 * time.Second))
		return &client{t: t, conn: c, r: bufio.NewReader(c)}
	}
	// SMTP in the middle of DATA.
	c := open(0)
	c.expect("", 220)
	c.ehlo()
	c.expect("MAIL FROM:<a@b>", 250)
	c.expect("RCPT TO:<bob@x>", 250)
	c.expect("DATA", 354)
	io.WriteString(c.conn, "Subject: half a message\r\n")
	c2 := open(0) // SMTP silenced at the second RCPT
	c2.expect("", 220)
	c2.ehlo()
	c2.expect("MAIL FROM:<a@b>", 250)
	c2.send("RCPT TO:<alice@x>")
	// SMTPS and POP3S connections that never finish the TLS handshake.
	open(1)
	open(3)
	// POP3 logged in, then delayed for an hour at NOOP.
	p := open(2)
	p.line()
	p.pop("USER alice", "+OK")
	p.pop("PASS alice-secret", "+OK")
	p.send("NOOP")
	// Idle POP3 in AUTHORIZATION.
	open(2).line()

	if err := h.Close(); err != nil {
		t.Errorf("Close() = %v", err)
	}
	for range serve {
		if err := <-done; err != nil {
			t.Errorf("Serve() = %v, want nil", err)
		}
	}
	for _, c := range conns {
		c.Close()
	}
	if len(h.Store().Messages("bob")) != 0 {
		t.Errorf("the half message was delivered")
	}
	checkGoroutines(t, base)
}

func TestNewValidates(t *testing.T) {
	cert, _, err := SelfSigned("x.test")
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name string
		opts Options
	}{
		{"bad domain", Options{Domain: "a b"}},
		{"bad user", Options{Users: map[string]string{"a b": "x"}}},
		{"bad password", Options{Users: map[string]string{"a": "x\r\ny"}}},
		{"unknown mechanism", Options{AuthMechanisms: []string{"NTLM"}}},
		{"negative recipients", Options{MaxRecipients: -1}},
		{"bad APOP mode", Options{APOP: 7}},
		{"TLS without certificate", Options{TLS: tlsConfig()}},
		{"bad fault", Options{Faults: []Fault{{Stage: SMTPRcpt, Kind: FaultReply, Code: 99}}}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if h, err := New(tt.opts); err == nil {
				h.Close()
				t.Errorf("New(%+v) = nil error, want one", tt.opts)
			}
		})
	}
	h, err := New(Options{TLS: tlsConfig(cert), AuthMechanisms: []string{"cram-md5", "LOGIN", "LOGIN"}})
	if err != nil {
		t.Fatalf("New(valid) = %v", err)
	}
	if h.Domain() != DefaultDomain || !bytes.Equal([]byte(strings.Join(h.mechs, " ")), []byte("CRAM-MD5 LOGIN")) {
		t.Errorf("Domain() = %q, mechs %q", h.Domain(), h.mechs)
	}
	h.Close()
	if err := h.ServeSMTP(newPipeListener()); err != ErrClosed {
		t.Errorf("ServeSMTP after Close = %v, want ErrClosed", err)
	}
}
