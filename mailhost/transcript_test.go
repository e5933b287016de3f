package mailhost

import (
	"io"
	"strings"
	"testing"
)

// rawSend writes s as it is (several pipelined lines, or part of one).
func (c *client) rawSend(s string) {
	c.t.Helper()
	if _, err := io.WriteString(c.conn, s); err != nil {
		c.t.Fatalf("write %q: %v", s, err)
	}
}

// credentialForms are alice's password and its encodings in every form a
// client line could carry them, plus the other tokens the cases send.
func credentialForms() []string {
	pw := testUsers["alice"]
	forms := []string{pw, b64(pw), b64("\x00alice\x00" + pw), b64("alice\x00" + pw), b64("\x00alice\x00nope-" + pw),
		"YWJj", b64("user=alice\x01auth=Bearer ya29.secret-token\x01\x01"), "ya29.secret-token"}
	for _, f := range forms[:len(forms):len(forms)] {
		forms = append(forms, strings.ToUpper(f))
	}
	return forms
}

// Item (issue 9 §1, credentials in output): the mail host's transcript
// logged credentials after a refused greeting, when a client pipelined its
// AUTH response past an injected fault, and for "PASS\t<pw>" or
// " PASS <pw>". Each case, and the others an attacker would try, runs a
// session and searches the whole transcript for the password and its
// encodings.
func TestTranscriptCredentials(t *testing.T) {
	pw := testUsers["alice"]
	plain := b64("\x00alice\x00" + pw)
	tests := []struct {
		name   string
		opts   Options
		pop3   bool
		script func(t *testing.T, th *testHost, c *client)
		want   []string // transcript lines that must be there
	}{
		{"smtp after a refused greeting", Options{Faults: []Fault{{Stage: SMTPGreeting, Kind: FaultReply, Code: 554}}}, false,
			func(t *testing.T, th *testHost, c *client) {
				c.expect("", 554)
				c.expect("EHLO board", 503)
				c.expect("AUTH PLAIN "+plain, 503)
				c.expect("AUTH LOGIN", 503)
				c.expect(b64("alice"), 503)
				c.expect(b64(pw), 503)
				c.expect("QUIT", 221)
			}, []string{"C: AUTH PLAIN <redacted>", "C: AUTH LOGIN", "C: <redacted>", "C: QUIT"}},
		{"smtp AUTH response pipelined past an injected fault", Options{Faults: []Fault{{Stage: SMTPAuth, Kind: FaultReply, Code: 454}}}, false,
			func(t *testing.T, th *testHost, c *client) {
				c.expect("", 220)
				c.expect("EHLO board", 250)
				c.rawSend("AUTH PLAIN\r\n" + plain + "\r\n")
				c.expect("", 454)
				c.expect("", 501)
				c.rawSend("AUTH LOGIN\r\nYWJj\r\n" + b64(pw) + "\r\n")
				c.expect("", 454)
				c.expect("", 500) // go-smtp echoes "YWJJ"
				c.expect("", 501)
				c.expect("QUIT", 221)
			}, []string{"C: AUTH PLAIN", "C: <redacted>", "S: 500 5.5.2 Syntax errors, <redacted> command unrecognized", "C: QUIT"}},
		{"smtp AUTH response pipelined past a refused mechanism", Options{}, false,
			func(t *testing.T, th *testHost, c *client) {
				c.expect("", 220)
				c.expect("EHLO board", 250)
				c.rawSend("AUTH NOPE\r\n" + plain + "\r\n")
				c.expect("", 504)
				c.expect("", 501)
				c.expect("NOOP", 250)
			}, []string{"C: AUTH NOPE", "C: <redacted>", "C: NOOP"}},
		{"smtp AUTH with a tab, a leading space, in lower case, split across reads", Options{}, false,
			func(t *testing.T, th *testHost, c *client) {
				c.expect("", 220)
				c.expect("EHLO board", 250)
				c.expect("AUTH\tPLAIN\t"+plain, 501)
				c.expect(" AUTH PLAIN "+plain, 501)
				c.rawSend("auth pl")
				c.rawSend("ain " + plain[:5])
				c.expect(plain[5:], 235)
				c.expect("AUTH XOAUTH2 "+b64("user=alice\x01auth=Bearer ya29.secret-token\x01\x01"), 503)
			}, []string{"C: AUTH\tPLAIN <redacted>", "C:  AUTH PLAIN <redacted>", "C: auth plain <redacted>", "C: AUTH XOAUTH2 <redacted>"}},
		{"smtp LOGIN continuation lines", Options{}, false,
			func(t *testing.T, th *testHost, c *client) {
				c.expect("", 220)
				c.expect("EHLO board", 250)
				c.expect("AUTH LOGIN", 334)
				c.expect(b64("alice"), 334)
				c.expect(b64(pw), 235)
				c.expect("MAIL FROM:<alice@mailhost.test>", 250)
			}, []string{"C: AUTH LOGIN", "C: <redacted>", "C: MAIL FROM:<alice@mailhost.test>"}},
		{"smtp AUTH pipelined behind STARTTLS", Options{}, false,
			func(t *testing.T, th *testHost, c *client) {
				c.expect("", 220)
				c.expect("EHLO board", 250)
				c.rawSend("STARTTLS\r\nAUTH PLAIN " + plain + "\r\n")
				c.expect("", 220)
				if err := c.upgrade(th.clientTLS()); err != nil {
					t.Fatalf("TLS handshake: %v", err)
				}
				c.expect("EHLO board", 250)
				c.expect("QUIT", 221)
			}, []string{"C: STARTTLS", "TLS established", "C: QUIT"}},
		{"pop3 AUTH pipelined behind STLS", Options{}, true,
			func(t *testing.T, th *testHost, c *client) {
				c.pop("", "+OK")
				c.rawSend("STLS\r\nAUTH PLAIN " + plain + "\r\n")
				c.pop("", "+OK")
				if err := c.upgrade(th.clientTLS()); err != nil {
					t.Fatalf("TLS handshake: %v", err)
				}
				c.pop("QUIT", "+OK")
			}, []string{"C: STLS", "TLS established", "C: QUIT"}},
		{"pop3 PASS with a tab, a leading space, in lower case", Options{}, true,
			func(t *testing.T, th *testHost, c *client) {
				c.pop("", "+OK")
				c.pop("USER alice", "+OK")
				c.pop("PASS\t"+pw, "-ERR")
				c.pop(" PASS "+pw, "-ERR")
				c.pop("pass "+pw, "+OK")
				c.pop("QUIT", "+OK")
			}, []string{"C: PASS <redacted>", "C:  PASS <redacted>", "C: pass <redacted>", "C: QUIT"}},
		{"pop3 AUTH response pipelined past an injected fault", Options{Faults: []Fault{{Stage: POP3Auth, Kind: FaultReply}}}, true,
			func(t *testing.T, th *testHost, c *client) {
				c.pop("", "+OK")
				c.rawSend("AUTH PLAIN\r\n" + plain + "\r\n")
				c.pop("", "-ERR")
				c.pop("", "-ERR")
				c.pop("QUIT", "+OK")
			}, []string{"C: AUTH PLAIN", "C: <redacted>", "C: QUIT"}},
		{"pop3 SASL response pipelined past a failed exchange", Options{}, true,
			func(t *testing.T, th *testHost, c *client) {
				c.pop("", "+OK")
				c.rawSend("AUTH PLAIN\r\n" + b64("\x00alice\x00nope-"+pw) + "\r\n" + plain + "\r\n")
				c.pop("", "+ ")
				c.pop("", "-ERR [AUTH]")
				c.pop("", "-ERR")
				c.pop("QUIT", "+OK")
			}, []string{"C: AUTH PLAIN", "C: <redacted>", "C: QUIT"}},
		{"pop3 APOP with tabs and AUTH initial response in lower case", Options{}, true,
			func(t *testing.T, th *testHost, c *client) {
				greet := c.pop("", "+OK")
				ts := timestampRE.FindStringSubmatch(greet)
				if ts == nil {
					t.Fatalf("greeting %q has no timestamp", greet)
				}
				d := apopDigest(ts[1], pw)
				c.pop("APOP\talice\t"+d, "-ERR")
				c.pop("auth plain "+plain, "+OK")
				c.pop("QUIT", "+OK")
				if tr := th.transcript.String(); strings.Contains(tr, d) {
					t.Errorf("transcript shows the APOP digest:\n%s", tr)
				}
			}, []string{"C: APOP\talice <redacted>", "C: auth plain <redacted>"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := tt.opts
			opts.AllowInsecureAuth = true
			th := startHost(t, opts)
			if tt.pop3 {
				if err := th.Store().Deliver("x@y", []string{"alice"}, []byte(msgPlain)); err != nil {
					t.Fatal(err)
				}
			}
			addr := th.smtp
			if tt.pop3 {
				addr = th.pop3
			}
			tt.script(t, th, dial(t, addr))
			tr := th.transcript.String()
			for _, f := range credentialForms() {
				if strings.Contains(tr, f) {
					t.Errorf("transcript contains %q:\n%s", f, tr)
				}
			}
			for _, w := range tt.want {
				if !strings.Contains(tr, w) {
					t.Errorf("transcript lacks %q:\n%s", w, tr)
				}
			}
		})
	}
}
