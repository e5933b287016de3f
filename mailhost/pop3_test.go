package mailhost

import (
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
)

var (
	msgPlain = "From: a@b\r\nSubject: one\r\n\r\nline 1\r\nline 2\r\nline 3\r\n"
	// msgDots has lines that must be dot-stuffed and one without a final CRLF.
	msgDots = "Subject: dots\r\n\r\n.leading\r\n..double\r\n.\r\nlast line without CRLF"
	// The same on the wire: stuffed, CRLF added, terminator.
	msgDotsWire = "Subject: dots\r\n\r\n..leading\r\n...double\r\n..\r\nlast line without CRLF\r\n.\r\n"
	msgThree    = "Subject: three\r\n\r\n3\r\n"
)

var timestampRE = regexp.MustCompile(`^\+OK .* (<[0-9]+\.[0-9]+@mailhost\.test>)$`)

// popHost starts a host whose alice has msgPlain, msgDots and a third message.
func popHost(t *testing.T, opts Options) *testHost {
	t.Helper()
	th := startHost(t, opts)
	for _, m := range []string{msgPlain, msgDots, msgThree} {
		if err := th.Store().Deliver("x@y", []string{"alice"}, []byte(m)); err != nil {
			t.Fatalf("Deliver() = %v", err)
		}
	}
	return th
}

func apopDigest(timestamp, password string) string {
	sum := md5.Sum([]byte(timestamp + password))
	return hex.EncodeToString(sum[:])
}

func popLogin(t *testing.T, c *client) {
	t.Helper()
	c.pop("USER alice", "+OK")
	c.pop("PASS alice-secret", "+OK alice's maildrop has 3 messages")
}

func TestPOP3Session(t *testing.T) {
	th := popHost(t, Options{AllowInsecureAuth: true})
	c := dial(t, th.pop3)
	greet := c.line()
	if !timestampRE.MatchString(greet) {
		t.Fatalf("greeting %q, want +OK ... <pid.clock@mailhost.test>", greet)
	}
	// Wrong state before login, bad USER/PASS order.
	c.pop("STAT", "-ERR")
	c.pop("NOOP", "-ERR")
	c.pop("PASS alice-secret", "-ERR")
	c.pop("USER alice", "+OK")
	c.pop("PASS wrong", "-ERR [AUTH]")
	c.pop("PASS alice-secret", "-ERR") // USER must be repeated
	popLogin(t, c)
	c.pop("USER alice", "-ERR")
	c.pop("STLS", "-ERR")

	if got := c.pop("STAT", "+OK"); got != fmt.Sprintf("+OK 3 %d", len(msgPlain)+len(msgDots)+len(msgThree)) {
		t.Errorf("STAT = %q", got)
	}
	c.pop("LIST", "+OK 3 messages")
	if got, want := string(c.multi()), fmt.Sprintf("1 %d\r\n2 %d\r\n3 %d\r\n.\r\n", len(msgPlain), len(msgDots), len(msgThree)); got != want {
		t.Errorf("LIST body = %q, want %q", got, want)
	}
	if got := c.pop("LIST 2", "+OK"); got != fmt.Sprintf("+OK 2 %d", len(msgDots)) {
		t.Errorf("LIST 2 = %q", got)
	}
	msgs := th.Store().Messages("alice")
	c.pop("UIDL", "+OK")
	if got, want := string(c.multi()), fmt.Sprintf("1 %s\r\n2 %s\r\n3 %s\r\n.\r\n", msgs[0].UID, msgs[1].UID, msgs[2].UID); got != want {
		t.Errorf("UIDL body = %q, want %q", got, want)
	}
	if got := c.pop("UIDL 3", "+OK"); got != "+OK 3 "+msgs[2].UID {
		t.Errorf("UIDL 3 = %q", got)
	}
	c.pop("RETR 2", fmt.Sprintf("+OK %d octets", len(msgDots)))
	if got := string(c.multi()); got != msgDotsWire {
		t.Errorf("RETR 2 on the wire = %q, want %q", got, msgDotsWire)
	}
	c.pop("RETR 1", "+OK")
	if got := string(c.multi()); got != msgPlain+".\r\n" {
		t.Errorf("RETR 1 on the wire = %q", got)
	}
	c.pop("TOP 1 2", "+OK")
	if got, want := string(c.multi()), "From: a@b\r\nSubject: one\r\n\r\nline 1\r\nline 2\r\n.\r\n"; got != want {
		t.Errorf("TOP 1 2 = %q, want %q", got, want)
	}
	c.pop("TOP 1 0", "+OK")
	if got, want := string(c.multi()), "From: a@b\r\nSubject: one\r\n\r\n.\r\n"; got != want {
		t.Errorf("TOP 1 0 = %q, want %q", got, want)
	}
	c.pop("TOP 2 99", "+OK")
	if got := string(c.multi()); got != msgDotsWire {
		t.Errorf("TOP 2 99 = %q, want the whole message", got)
	}
	c.pop("NOOP", "+OK")

	for _, tt := range []struct{ cmd, want string }{
		{"RETR 0", "-ERR no such message"},
		{"RETR 4", "-ERR no such message"},
		{"RETR -1", "-ERR invalid message number"},
		{"RETR x", "-ERR invalid message number"},
		{"RETR", "-ERR wrong number of arguments"},
		{"RETR 1 2", "-ERR wrong number of arguments"},
		{"TOP 1", "-ERR TOP takes"},
		{"TOP 1 -2", "-ERR invalid line count"},
		{"LIST 9", "-ERR no such message"},
		{"STAT 1", "-ERR"},
		{"XYZZY", "-ERR unknown command"},
	} {
		c.pop(tt.cmd, tt.want)
	}
	c.send("")
	c.pop("", "-ERR unknown command")

	c.pop("DELE 1", "+OK message 1 deleted")
	c.pop("DELE 1", "-ERR message 1 already deleted")
	for _, cmd := range []string{"RETR 1", "TOP 1 1", "LIST 1", "UIDL 1"} {
		c.pop(cmd, "-ERR message 1 already deleted")
	}
	c.pop("LIST", "+OK 2 messages")
	if got := string(c.multi()); strings.HasPrefix(got, "1 ") {
		t.Errorf("LIST after DELE 1 = %q, want message 1 left out", got)
	}
	c.pop("RSET", "+OK maildrop has 3 messages")
	c.pop("RETR 1", "+OK")
	c.multi()
	c.pop("DELE 1", "+OK")
	c.pop("DELE 3", "+OK")
	c.pop("QUIT", "+OK mailhost.test POP3 server signing off (1 messages left)")
	if err := c.closed(); err != nil {
		t.Errorf("after QUIT: %v", err)
	}
	left := th.Store().Messages("alice")
	if len(left) != 1 || string(left[0].Data) != msgDots || left[0].UID != msgs[1].UID {
		t.Errorf("after QUIT alice has %q, want only message 2 with its UID", left)
	}
	if tr := th.transcript.String(); strings.Contains(tr, "alice-secret") || !strings.Contains(tr, "C: PASS <redacted>") {
		t.Errorf("transcript does not redact PASS:\n%s", tr)
	}
}

func TestPOP3NoCommitWithoutQuit(t *testing.T) {
	th := popHost(t, Options{AllowInsecureAuth: true})
	c := dial(t, th.pop3)
	c.line()
	popLogin(t, c)
	c.pop("DELE 1", "+OK")
	// A second session cannot open the locked maildrop.
	c2 := dial(t, th.pop3)
	c2.line()
	c2.pop("USER alice", "+OK")
	c2.pop("PASS alice-secret", "-ERR [IN-USE]")
	c.conn.Close()
	// Once the first session is gone (the lock released), the message is still there.
	for i := 0; ; i++ {
		c2.send("USER alice")
		c2.line()
		c2.send("PASS alice-secret")
		if l := c2.line(); strings.HasPrefix(l, "+OK alice's maildrop has 3 messages") {
			break
		} else if !strings.HasPrefix(l, "-ERR [IN-USE]") || i > 1000 {
			t.Fatalf("PASS after the first session dropped = %q", l)
		}
	}
	c2.pop("QUIT", "+OK")
}

func TestPOP3APOP(t *testing.T) {
	tests := []struct {
		name   string
		mode   APOPMode
		digest func(ts string) string
		want   string
	}{
		{"correct", APOPOn, func(ts string) string { return apopDigest(ts, "alice-secret") }, "+OK alice's maildrop"},
		{"wrong password", APOPOn, func(ts string) string { return apopDigest(ts, "alice-secreT") }, "-ERR [AUTH]"},
		{"wrong timestamp", APOPOn, func(ts string) string { return apopDigest("<1.2@x>", "alice-secret") }, "-ERR [AUTH]"},
		{"upper-case hex", APOPOn, func(ts string) string { return strings.ToUpper(apopDigest(ts, "alice-secret")) }, "-ERR [AUTH]"},
		{"refused", APOPRefuse, func(ts string) string { return apopDigest(ts, "alice-secret") }, "-ERR"},
		{"off", APOPOff, func(ts string) string { return apopDigest("", "alice-secret") }, "-ERR"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// APOP works without TLS and without AllowInsecureAuth.
			th := popHost(t, Options{APOP: tt.mode})
			c := dial(t, th.pop3)
			greet := c.line()
			m := timestampRE.FindStringSubmatch(greet)
			if (m != nil) != (tt.mode != APOPOff) {
				t.Fatalf("greeting %q: timestamp present = %v, want %v", greet, m != nil, tt.mode != APOPOff)
			}
			ts := ""
			if m != nil {
				ts = m[1]
			}
			c.pop("APOP alice "+tt.digest(ts), tt.want)
			c.pop("QUIT", "+OK")
			if tr := th.transcript.String(); strings.Contains(tr, tt.digest(ts)) {
				t.Errorf("transcript shows the APOP digest:\n%s", tr)
			}
		})
	}
}

func readCapa(t *testing.T, c *client) []string {
	t.Helper()
	c.pop("CAPA", "+OK")
	lines := strings.Split(strings.TrimSuffix(string(c.multi()), ".\r\n"), "\r\n")
	return lines[:len(lines)-1]
}

func TestPOP3CAPAAndSTLS(t *testing.T) {
	th := popHost(t, Options{})
	c := dial(t, th.pop3)
	c.line()
	caps := readCapa(t, c)
	for _, want := range []string{"TOP", "UIDL", "RESP-CODES", "STLS", "SASL CRAM-MD5"} {
		if !slices.Contains(caps, want) {
			t.Errorf("CAPA before STLS = %q, want %q", caps, want)
		}
	}
	if slices.Contains(caps, "USER") || slices.Contains(caps, "PIPELINING") {
		t.Errorf("CAPA before STLS = %q, want no USER (insecure) and no PIPELINING", caps)
	}
	c.pop("USER alice", "-ERR [AUTH] Plaintext")
	c.pop("AUTH PLAIN "+b64("\x00alice\x00alice-secret"), "-ERR [AUTH] Plaintext")
	c.pop("STLS", "+OK")
	if err := c.upgrade(th.clientTLS()); err != nil {
		t.Fatalf("STLS handshake = %v", err)
	}
	caps = readCapa(t, c)
	if !slices.Contains(caps, "USER") || slices.Contains(caps, "STLS") ||
		!slices.Contains(caps, "SASL PLAIN LOGIN CRAM-MD5 XOAUTH2 OAUTHBEARER") {
		t.Errorf("CAPA after STLS = %q, want USER, all SASL, no STLS", caps)
	}
	c.pop("STLS", "-ERR")
	popLogin(t, c)
	caps = readCapa(t, c)
	if slices.Contains(caps, "USER") || slices.Contains(caps, "STLS") {
		t.Errorf("CAPA in TRANSACTION = %q, want no USER/STLS", caps)
	}
	c.pop("QUIT", "+OK")

	t.Run("refused certificate", func(t *testing.T) {
		c := dial(t, th.pop3)
		c.line()
		c.pop("STLS", "+OK")
		if err := c.upgrade(nil); err == nil {
			t.Errorf("STLS handshake without the pool = nil, want error")
		}
	})
	t.Run("implicit TLS", func(t *testing.T) {
		c := dialTLS(t, th.pop3s, th.clientTLS())
		if !timestampRE.MatchString(c.line()) {
			t.Errorf("POP3S greeting lacks the timestamp")
		}
		if caps := readCapa(t, c); slices.Contains(caps, "STLS") || !slices.Contains(caps, "USER") {
			t.Errorf("CAPA on POP3S = %q", caps)
		}
		popLogin(t, c)
		c.pop("RETR 2", "+OK")
		if got := string(c.multi()); got != msgDotsWire {
			t.Errorf("RETR 2 over TLS = %q", got)
		}
		c.pop("QUIT", "+OK")
	})
}

func TestPOP3AUTH(t *testing.T) {
	th := popHost(t, Options{AllowInsecureAuth: true})
	tests := []struct {
		name   string
		script func(c *client) string
		want   string
	}{
		{"PLAIN initial response", func(c *client) string {
			return c.pop("AUTH PLAIN "+b64("\x00alice\x00alice-secret"), "")
		}, "+OK alice's maildrop"},
		{"PLAIN continuation", func(c *client) string {
			c.pop("AUTH PLAIN", "+ ")
			return c.pop(b64("\x00alice\x00alice-secret"), "")
		}, "+OK alice's maildrop"},
		{"PLAIN wrong password", func(c *client) string {
			return c.pop("AUTH PLAIN "+b64("alice\x00alice\x00nope"), "")
		}, "-ERR [AUTH]"},
		{"PLAIN other authzid", func(c *client) string {
			return c.pop("AUTH PLAIN "+b64("bob\x00alice\x00alice-secret"), "")
		}, "-ERR [AUTH]"},
		{"cancel", func(c *client) string {
			c.pop("AUTH PLAIN", "+ ")
			return c.pop("*", "")
		}, "-ERR [AUTH] authentication cancelled"},
		{"bad base64", func(c *client) string {
			return c.pop("AUTH PLAIN !!!", "")
		}, "-ERR [AUTH] invalid base64"},
		{"unknown mechanism", func(c *client) string {
			return c.pop("AUTH KERBEROS_V4", "")
		}, "-ERR [AUTH] unsupported"},
		{"LOGIN", func(c *client) string {
			if p := c.pop("AUTH LOGIN", "+ "); unb64(t, p[2:]) != "Username:" {
				t.Errorf("LOGIN prompt %q", p)
			}
			c.pop(b64("alice"), "+ ")
			return c.pop(b64("alice-secret"), "")
		}, "+OK alice's maildrop"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := dial(t, th.pop3)
			c.line()
			if got := tt.script(c); !strings.HasPrefix(got, tt.want) {
				t.Errorf("AUTH result %q, want prefix %q", got, tt.want)
			}
			c.pop("QUIT", "+OK")
		})
	}
	c := dial(t, th.pop3)
	c.line()
	c.pop("AUTH", "+OK")
	if got := string(c.multi()); got != "PLAIN\r\nLOGIN\r\nCRAM-MD5\r\nXOAUTH2\r\nOAUTHBEARER\r\n.\r\n" {
		t.Errorf("AUTH list = %q", got)
	}
	c.pop("QUIT", "+OK")
	if tr := th.transcript.String(); strings.Contains(tr, b64("\x00alice\x00alice-secret")) || strings.Contains(tr, b64("alice-secret")) {
		t.Errorf("transcript leaks SASL payloads:\n%s", tr)
	}
}

func TestPOP3LongLine(t *testing.T) {
	th := popHost(t, Options{AllowInsecureAuth: true})
	c := dial(t, th.pop3)
	c.line()
	c.pop("USER "+strings.Repeat("a", POP3MaxLineLength), "-ERR line too long")
	// The exact limit (255 octets with CRLF) is still accepted.
	c.pop("NOOP"+strings.Repeat(" ", POP3MaxLineLength-6), "-ERR")
	c.pop("USER "+strings.Repeat("b", 1<<20), "-ERR line too long")
	popLogin(t, c) // the session goes on
	c.pop("QUIT", "+OK")
}
