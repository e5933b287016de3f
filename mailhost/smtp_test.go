package mailhost

import (
	"bytes"
	"crypto/hmac"
	"crypto/md5"
	"crypto/tls"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net/smtp"
	"slices"
	"strings"
	"testing"
)

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

func unb64(t testing.TB, s string) string {
	t.Helper()
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		t.Fatalf("base64 %q: %v", s, err)
	}
	return string(b)
}

// ehlo greets and returns the EHLO keywords.
func (c *client) ehlo() []string {
	c.t.Helper()
	return c.expect("EHLO board.test", 250)[1:]
}

func hasCap(caps []string, want string) bool {
	return slices.ContainsFunc(caps, func(c string) bool { return c == want || strings.HasPrefix(c, want+" ") })
}

func TestSMTPNetSMTPPlainOverSTARTTLS(t *testing.T) {
	th := startHost(t, Options{})
	c, err := smtp.Dial(th.smtp)
	if err != nil {
		t.Fatalf("smtp.Dial() = %v", err)
	}
	defer c.Close()
	if err := c.Hello("board.test"); err != nil {
		t.Fatalf("Hello() = %v", err)
	}
	if ok, _ := c.Extension("AUTH"); ok {
		t.Errorf("Extension(AUTH) before STARTTLS = true, want false (AllowInsecureAuth off)")
	}
	if err := c.StartTLS(th.clientTLS()); err != nil {
		t.Fatalf("StartTLS() = %v", err)
	}
	ok, mechs := c.Extension("AUTH")
	if !ok || mechs != "PLAIN LOGIN CRAM-MD5 XOAUTH2 OAUTHBEARER" {
		t.Errorf("Extension(AUTH) = %v %q, want all mechanisms", ok, mechs)
	}
	if ok, size := c.Extension("SIZE"); !ok || size != fmt.Sprint(DefaultMaxMessageBytes) {
		t.Errorf("Extension(SIZE) = %v %q, want %d", ok, size, DefaultMaxMessageBytes)
	}
	if err := c.Auth(smtp.PlainAuth("", "alice", "alice-secret", "127.0.0.1")); err != nil {
		t.Fatalf("Auth(PLAIN) = %v", err)
	}
	msg := "From: alice@mailhost.test\r\nTo: bob@mailhost.test\r\nSubject: hi\r\n\r\nHello Bob.\r\n"
	if err := c.Mail("alice@mailhost.test"); err != nil {
		t.Fatalf("Mail() = %v", err)
	}
	if err := c.Rcpt("bob@mailhost.test"); err != nil {
		t.Fatalf("Rcpt() = %v", err)
	}
	w, err := c.Data()
	if err != nil {
		t.Fatalf("Data() = %v", err)
	}
	if _, err := w.Write([]byte(msg)); err != nil {
		t.Fatalf("Write() = %v", err)
	}
	if err := w.Close(); err != nil {
		t.Fatalf("Data Close() = %v", err)
	}
	if err := c.Quit(); err != nil {
		t.Fatalf("Quit() = %v", err)
	}
	got := th.Store().Messages("bob")
	if len(got) != 1 || string(got[0].Data) != msg {
		t.Fatalf("Messages(bob) = %q, want one message %q", got, msg)
	}
	env := th.Store().Received()
	if len(env) != 1 {
		t.Fatalf("Received() has %d envelopes, want 1", len(env))
	}
	e := env[0]
	if e.From != "alice@mailhost.test" || !slices.Equal(e.Rcpts, []string{"bob@mailhost.test"}) ||
		!slices.Equal(e.Mailboxes, []string{"bob"}) || e.AuthUser != "alice" || e.AuthMech != MechPlain ||
		!e.TLS || e.Helo != "board.test" || e.Proto != "smtp" || string(e.Data) != msg {
		t.Errorf("Received()[0] = %+v", e)
	}
	tr := th.transcript.String()
	if strings.Contains(tr, b64("\x00alice\x00alice-secret")) || strings.Contains(tr, "alice-secret") {
		t.Errorf("transcript leaks the PLAIN credentials:\n%s", tr)
	}
	if !strings.Contains(tr, "C: AUTH PLAIN <redacted>") {
		t.Errorf("transcript lacks the redacted AUTH line:\n%s", tr)
	}
}

// authSession opens a session ready for AUTH: plain text with
// AllowInsecureAuth hosts, else after STARTTLS.
func authSession(t *testing.T, th *testHost) *client {
	t.Helper()
	c := dial(t, th.smtp)
	c.expect("", 220)
	caps := c.ehlo()
	if !hasCap(caps, "AUTH") {
		c.expect("STARTTLS", 220)
		if err := c.upgrade(th.clientTLS()); err != nil {
			t.Fatalf("STARTTLS handshake: %v", err)
		}
		caps = c.ehlo()
	}
	if !hasCap(caps, "AUTH") {
		t.Fatalf("EHLO %q offers no AUTH", caps)
	}
	return c
}

func TestSMTPAuthMechanisms(t *testing.T) {
	th := startHost(t, Options{AllowInsecureAuth: true, Tokens: map[string]string{"carol": "ya29.token"}})
	cram := func(user, pass string) func(*client) (int, []string) {
		return func(c *client) (int, []string) {
			ch := unb64(t, c.expect("AUTH CRAM-MD5", 334)[0])
			if !strings.HasPrefix(ch, "<") || !strings.HasSuffix(ch, "@mailhost.test>") {
				t.Errorf("CRAM-MD5 challenge %q, want <...@mailhost.test>", ch)
			}
			m := hmac.New(md5.New, []byte(pass))
			m.Write([]byte(ch))
			c.send(b64(user + " " + hex.EncodeToString(m.Sum(nil))))
			return c.reply()
		}
	}
	login := func(user, pass string) func(*client) (int, []string) {
		return func(c *client) (int, []string) {
			if p := unb64(t, c.expect("AUTH LOGIN", 334)[0]); p != "Username:" {
				t.Errorf("LOGIN prompt %q, want Username:", p)
			}
			c.send(b64(user))
			if p := unb64(t, c.expect("", 334)[0]); p != "Password:" {
				t.Errorf("LOGIN prompt %q, want Password:", p)
			}
			c.send(b64(pass))
			return c.reply()
		}
	}
	tests := []struct {
		name     string
		run      func(*client) (int, []string)
		wantCode int
		wantUser string
	}{
		{"LOGIN", login("alice", "alice-secret"), 235, "alice"},
		{"LOGIN wrong password", login("alice", "nope"), 535, ""},
		{"LOGIN initial response", func(c *client) (int, []string) {
			c.expect("AUTH LOGIN "+b64("bob"), 334)
			c.send(b64("bob pass with spaces"))
			return c.reply()
		}, 235, "bob"},
		{"CRAM-MD5", cram("carol", "carol-pw"), 235, "carol"},
		{"CRAM-MD5 wrong password", cram("carol", "carol-PW"), 535, ""},
		{"CRAM-MD5 unknown user", cram("mallory", "carol-pw"), 535, ""},
		{"PLAIN initial response", func(c *client) (int, []string) {
			c.send("AUTH PLAIN " + b64("\x00alice\x00alice-secret"))
			return c.reply()
		}, 235, "alice"},
		{"PLAIN wrong password", func(c *client) (int, []string) {
			c.send("AUTH PLAIN " + b64("\x00alice\x00alice"))
			return c.reply()
		}, 535, ""},
		{"XOAUTH2", func(c *client) (int, []string) {
			c.send("AUTH XOAUTH2 " + b64("user=carol\x01auth=Bearer ya29.token\x01\x01"))
			return c.reply()
		}, 235, "carol"},
		{"XOAUTH2 bad token", func(c *client) (int, []string) {
			errJSON := unb64(t, c.expect("AUTH XOAUTH2 "+b64("user=carol\x01auth=Bearer stolen\x01\x01"), 334)[0])
			if !strings.Contains(errJSON, `"status":"401"`) {
				t.Errorf("XOAUTH2 error challenge %q, want status 401", errJSON)
			}
			c.send("")
			return c.reply()
		}, 535, ""},
		{"XOAUTH2 password is not the token when Tokens set", func(c *client) (int, []string) {
			c.expect("AUTH XOAUTH2 "+b64("user=carol\x01auth=Bearer carol-pw\x01\x01"), 334)
			c.send("")
			return c.reply()
		}, 535, ""},
		{"OAUTHBEARER", func(c *client) (int, []string) {
			c.send("AUTH OAUTHBEARER " + b64("n,a=carol,\x01host=mailhost.test\x01port=25\x01auth=Bearer ya29.token\x01\x01"))
			return c.reply()
		}, 235, "carol"},
		{"cancel", func(c *client) (int, []string) {
			c.expect("AUTH LOGIN", 334)
			c.send("*")
			return c.reply()
		}, 501, ""},
		{"unknown mechanism", func(c *client) (int, []string) {
			c.send("AUTH GSSAPI")
			return c.reply()
		}, 504, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := authSession(t, th)
			code, text := tt.run(c)
			if code != tt.wantCode {
				t.Fatalf("AUTH: reply %d %q, want %d", code, text, tt.wantCode)
			}
			// Prove who we are by sending a mail and reading its envelope.
			c.expect("MAIL FROM:<probe@board.test>", 250)
			c.expect("RCPT TO:<alice@mailhost.test>", 250)
			c.expect("DATA", 354)
			c.send("Subject: " + tt.name + "\r\n\r\nx\r\n.")
			c.expect("", 250)
			c.expect("QUIT", 221)
			env := th.Store().Received()
			if got := env[len(env)-1]; got.AuthUser != tt.wantUser {
				t.Errorf("envelope AuthUser = %q, want %q", got.AuthUser, tt.wantUser)
			}
		})
	}
	if tr := th.transcript.String(); strings.Contains(tr, b64("alice-secret")) || strings.Contains(tr, "ya29.token") ||
		strings.Contains(tr, b64("user=carol\x01auth=Bearer ya29.token\x01\x01")) {
		t.Errorf("transcript leaks credentials:\n%s", tr)
	}
}

func TestSMTPRequireAuthAndInsecure(t *testing.T) {
	th := startHost(t, Options{RequireAuth: true})
	c := dial(t, th.smtp)
	c.expect("", 220)
	caps := c.ehlo()
	if hasCap(caps, "AUTH") || !hasCap(caps, "STARTTLS") {
		t.Errorf("plain EHLO caps %q: want STARTTLS and no AUTH", caps)
	}
	c.expect("AUTH PLAIN "+b64("\x00alice\x00alice-secret"), 523)
	c.expect("MAIL FROM:<a@b>", 530)
	c.expect("QUIT", 221)
}

func TestSMTPSTARTTLS(t *testing.T) {
	th := startHost(t, Options{})
	t.Run("trusted", func(t *testing.T) {
		c := dial(t, th.smtp)
		c.expect("", 220)
		c.ehlo()
		c.expect("STARTTLS", 220)
		if err := c.upgrade(th.clientTLS()); err != nil {
			t.Fatalf("handshake with the host's pool = %v, want nil", err)
		}
		caps := c.ehlo()
		if hasCap(caps, "STARTTLS") || !hasCap(caps, "AUTH") {
			t.Errorf("EHLO after STARTTLS = %q, want AUTH and no STARTTLS", caps)
		}
		c.expect("STARTTLS", 502)
		c.expect("QUIT", 221)
	})
	t.Run("refused", func(t *testing.T) {
		c := dial(t, th.smtp)
		c.expect("", 220)
		c.ehlo()
		c.expect("STARTTLS", 220)
		err := c.upgrade(&tls.Config{ServerName: "127.0.0.1"}) // system roots only
		if err == nil {
			t.Fatalf("handshake without the host's pool = nil, want unknown authority")
		}
		if !strings.Contains(err.Error(), "unknown authority") {
			t.Errorf("handshake error = %v, want unknown authority", err)
		}
	})
	t.Run("no TLS config", func(t *testing.T) {
		base := th.transcript.String()
		_ = base
		h2, err := New(Options{})
		if err != nil {
			t.Fatalf("New() = %v", err)
		}
		defer h2.Close()
		if err := h2.ServeSMTPS(nil); err == nil {
			t.Errorf("ServeSMTPS without TLS = nil, want error")
		}
	})
}

func TestSMTPImplicitTLS(t *testing.T) {
	th := startHost(t, Options{})
	c := dialTLS(t, th.smtps, th.clientTLS())
	c.expect("", 220)
	caps := c.ehlo()
	if hasCap(caps, "STARTTLS") || !hasCap(caps, "AUTH") {
		t.Errorf("EHLO on SMTPS = %q, want AUTH and no STARTTLS", caps)
	}
	c.expect("AUTH PLAIN "+b64("\x00bob\x00bob pass with spaces"), 235)
	c.expect("MAIL FROM:<bob@mailhost.test>", 250)
	c.expect("RCPT TO:<alice@mailhost.test>", 250)
	c.expect("DATA", 354)
	c.send("Subject: tls\r\n\r\nover 465\r\n.")
	c.expect("", 250)
	c.expect("QUIT", 221)
	env := th.Store().Received()
	if len(env) != 1 || !env[0].TLS || env[0].AuthUser != "bob" {
		t.Errorf("Received() = %+v, want one TLS envelope from bob", env)
	}
	t.Run("untrusted", func(t *testing.T) {
		_, err := tls.Dial("tcp", th.smtps, &tls.Config{ServerName: "127.0.0.1"})
		if err == nil || !strings.Contains(err.Error(), "unknown authority") {
			t.Errorf("tls.Dial without the pool = %v, want unknown authority", err)
		}
	})
}

func TestSMTPRecipientsAndBody(t *testing.T) {
	th := startHost(t, Options{AllowInsecureAuth: true})
	// Body lines as the client puts them on the wire (dot-stuffed) and as
	// they must be stored.
	wire := "Subject: dots\r\n\r\n..leading dot\r\n...two dots\r\n..\r\nbare\nLF kept\r\nend\r\n"
	want := "Subject: dots\r\n\r\n.leading dot\r\n..two dots\r\n.\r\nbare\nLF kept\r\nend\r\n"
	c := dial(t, th.smtp)
	c.expect("", 220)
	c.ehlo()
	c.expect("MAIL FROM:<sender@board.test>", 250)
	for _, r := range []string{"alice@mailhost.test", "Bob@elsewhere.test", "carol@other.test"} {
		c.expect("RCPT TO:<"+r+">", 250)
	}
	c.expect("RCPT TO:<nobody@mailhost.test>", 550)
	c.expect("DATA", 354)
	if _, err := c.conn.Write([]byte(wire + ".\r\n")); err != nil {
		t.Fatal(err)
	}
	c.expect("", 250)
	for _, u := range []string{"alice", "bob", "carol"} {
		got := th.Store().Messages(u)
		if len(got) != 1 || string(got[0].Data) != want {
			t.Errorf("Messages(%s) = %q, want one %q", u, got, want)
		}
	}
	uids := map[string]bool{}
	for _, u := range []string{"alice", "bob", "carol"} {
		uids[th.Store().Messages(u)[0].UID] = true
	}
	if len(uids) != 3 {
		t.Errorf("UIDs %v, want 3 distinct", uids)
	}
	// Pipelined second transaction: replies come back in order.
	if _, err := c.conn.Write([]byte("RSET\r\nMAIL FROM:<>\r\nRCPT TO:<alice@x>\r\nRCPT TO:<ghost@x>\r\nDATA\r\n")); err != nil {
		t.Fatal(err)
	}
	for _, want := range []int{250, 250, 250, 550, 354} {
		c.expect("", want)
	}
	c.send("\r\n.")
	c.expect("", 250)
	c.expect("QUIT", 221)
	if got := th.Store().Messages("alice"); len(got) != 2 || string(got[1].Data) != "\r\n" {
		t.Errorf("Messages(alice) = %q, want a second message %q", got, "\r\n")
	}
	if env := th.Store().Received(); len(env) != 2 || env[1].From != "" {
		t.Errorf("Received() = %+v, want 2 envelopes, the second with the null sender", env)
	}
}

func TestSMTPCatchAllAndLimits(t *testing.T) {
	th := startHost(t, Options{AllowInsecureAuth: true, CatchAll: "postmaster", MaxMessageBytes: 64, MaxRecipients: 2})
	c := dial(t, th.smtp)
	c.expect("", 220)
	if caps := c.ehlo(); !hasCap(caps, "SIZE 64") || !hasCap(caps, "8BITMIME") || !hasCap(caps, "SMTPUTF8") ||
		!hasCap(caps, "PIPELINING") {
		t.Errorf("EHLO = %q, want SIZE 64, 8BITMIME, SMTPUTF8, PIPELINING", caps)
	}
	c.expect("MAIL FROM:<a@b> SIZE=65", 552)
	c.expect("MAIL FROM:<a@b> SMTPUTF8", 250)
	c.expect("RCPT TO:<stranger@nowhere.test>", 250)
	c.expect("RCPT TO:<alice@x>", 250)
	c.expect("RCPT TO:<bob@x>", 452)
	c.expect("DATA", 354)
	c.send(strings.Repeat("x", 100) + "\r\n.")
	c.expect("", 552)
	c.expect("MAIL FROM:<a@b>", 250)
	c.expect("RCPT TO:<stranger@nowhere.test>", 250)
	c.expect("DATA", 354)
	c.send("short\r\n.")
	c.expect("", 250)
	c.expect("QUIT", 221)
	if got := th.Store().Messages("postmaster"); len(got) != 1 || string(got[0].Data) != "short\r\n" {
		t.Errorf("Messages(postmaster) = %q, want the short message", got)
	}
	if got := th.Store().Messages("alice"); len(got) != 0 {
		t.Errorf("Messages(alice) = %q, want none (the too large message)", got)
	}
}

func TestSMTPBDAT(t *testing.T) {
	th := startHost(t, Options{AllowInsecureAuth: true})
	c := dial(t, th.smtp)
	c.expect("", 220)
	if !hasCap(c.ehlo(), "CHUNKING") {
		t.Fatalf("EHLO lacks CHUNKING")
	}
	c.expect("MAIL FROM:<a@b>", 250)
	c.expect("RCPT TO:<alice@x>", 250)
	part1, part2 := "Subject: chunks\r\n\r\n.no stuffing in BDAT\r\n", "QUIT\r\nlooks like a command\r\n"
	if _, err := fmt.Fprintf(c.conn, "BDAT %d\r\n%s", len(part1), part1); err != nil {
		t.Fatal(err)
	}
	c.expect("", 250)
	if _, err := fmt.Fprintf(c.conn, "BDAT %d LAST\r\n%s", len(part2), part2); err != nil {
		t.Fatal(err)
	}
	c.expect("", 250)
	c.expect("NOOP", 250)
	c.expect("QUIT", 221)
	if got := th.Store().Messages("alice"); len(got) != 1 || string(got[0].Data) != part1+part2 {
		t.Errorf("Messages(alice) = %q, want %q", got, part1+part2)
	}
}

func TestSMTPBodyEdgeCases(t *testing.T) {
	// Bodies whose end the interceptor and go-smtp must agree on; after each
	// the session must still answer NOOP.
	th := startHost(t, Options{AllowInsecureAuth: true})
	tests := []struct{ name, wire, want string }{
		{"empty", ".\r\n", ""},
		{"dot CR without LF", "a\r\n.\rb\r\n.\r\n", "a\r\nb\r\n"},
		{"bare LF dot LF is not the end", "a\n.\nb\r\n.\r\n", "a\n.\nb\r\n"},
		{"CR CR LF dot is not a line start", "a\r\r\n.\r\nb\r\n.\r\n", "a\r\r\n.\r\nb\r\n"},
		{"dot dot CR LF", "..\r\n.\r\n", ".\r\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := dial(t, th.smtp)
			c.expect("", 220)
			c.ehlo()
			c.expect("MAIL FROM:<a@b>", 250)
			c.expect("RCPT TO:<carol@x>", 250)
			c.expect("DATA", 354)
			if _, err := c.conn.Write([]byte(tt.wire)); err != nil {
				t.Fatal(err)
			}
			c.expect("", 250)
			c.expect("NOOP", 250)
			c.expect("QUIT", 221)
			msgs := th.Store().Messages("carol")
			if got := string(msgs[len(msgs)-1].Data); got != tt.want {
				t.Errorf("stored %q, want %q", got, tt.want)
			}
		})
	}
}

func TestSMTPLongLine(t *testing.T) {
	th := startHost(t, Options{AllowInsecureAuth: true})
	c := dial(t, th.smtp)
	c.expect("", 220)
	c.send("EHLO " + strings.Repeat("a", SMTPMaxLineLength))
	c.expect("", 500)
	if err := c.closed(); err != nil {
		t.Errorf("after an over-long line: %v", err)
	}
}

func TestStoreDeliver(t *testing.T) {
	h, err := New(Options{Users: map[string]string{"Alice": "pw"}})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	body := []byte("x\r\n")
	if err := h.Store().Deliver("", []string{"ALICE@anywhere"}, body); err != nil {
		t.Fatalf("Deliver() = %v", err)
	}
	body[0] = 'y'
	if got := h.Store().Messages("alice"); len(got) != 1 || !bytes.Equal(got[0].Data, []byte("x\r\n")) || got[0].Size() != 3 {
		t.Errorf("Messages(alice) = %q, want the original bytes", got)
	}
	if err := h.Store().Deliver("", []string{"alice", "nobody"}, body); err == nil {
		t.Errorf("Deliver(unknown) = nil, want ErrUnknownMailbox")
	}
	if got := len(h.Store().Messages("alice")); got != 1 {
		t.Errorf("after a failed Deliver alice has %d messages, want 1", got)
	}
}

func TestSMTPBDATDataEndFault(t *testing.T) {
	th := startHost(t, Options{AllowInsecureAuth: true, Faults: []Fault{{Stage: SMTPDataEnd, Kind: FaultReply, Code: 554, Text: "5.6.0 Rejected", Times: 1}}})
	c := dial(t, th.smtp)
	c.expect("", 220)
	c.ehlo()
	for _, want := range []int{554, 250} {
		c.expect("MAIL FROM:<a@b>", 250)
		c.expect("RCPT TO:<alice@x>", 250)
		if _, err := fmt.Fprintf(c.conn, "BDAT 5 LAST\r\nhello"); err != nil {
			t.Fatal(err)
		}
		c.expect("", want)
	}
	c.expect("QUIT", 221)
	if got := th.Store().Messages("alice"); len(got) != 1 || string(got[0].Data) != "hello" {
		t.Errorf("Messages(alice) = %q, want only the second message", got)
	}
}

func TestSMTPVerbMirrorsGoSMTP(t *testing.T) {
	// Lines whose command go-smtp reads differently from a naive split; the
	// session must stay in step (the next NOOP gets its own 250).
	th := startHost(t, Options{AllowInsecureAuth: true})
	c := dial(t, th.smtp)
	c.expect("", 220)
	c.ehlo()
	c.expect("MAIL FROM:<a@b>", 250)
	c.expect("RCPT TO:<alice@x>", 250)
	c.expect("data   ", 354) // go-smtp: DATA with blank arguments
	c.send("x\r\n.")
	c.expect("", 250)
	c.expect("DATA\t", 501)
	c.expect("NOOP", 250)
	for _, tt := range []struct{ line, verb, arg string }{
		{"STARTTLSX", "STARTTLS", ""},
		{"starttls now", "STARTTLS", ""},
		{"DATA\r", "DATA", ""},
		{"BDAT  12 LAST ", "BDAT", "12 LAST"},
		{"QUI", "", ""},
		{"QUITX", "", ""},
		{"AUTHPLAIN", "", ""},
	} {
		if v, a := smtpVerb(tt.line); v != tt.verb || a != tt.arg {
			t.Errorf("smtpVerb(%q) = %q, %q; want %q, %q", tt.line, v, a, tt.verb, tt.arg)
		}
	}
}
