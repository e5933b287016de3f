package smtpc

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"errors"
	"math/big"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/simboard/simboard/internal/mailconn"
	"github.com/simboard/simboard/nx"
)

var testDate = time.Date(2025, 3, 14, 15, 9, 26, 0, time.FixedZone("", 3600))

// selfSigned returns a server certificate for host and a pool trusting it.
func selfSigned(t testing.TB, host string) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: host}, DNSNames: []string{host},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true,
		KeyUsage:    x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: cert}, pool
}

// pipeOpts are the options every pipe test starts from.
func pipeOpts() Options {
	return Options{
		From: "board@example.com", ClientDomain: "board.example.com",
		ServerAddr: netip.MustParseAddr("198.51.100.1"), Username: "alice", Password: "s3cret!",
		TLS: TLSOff, AllowPlaintextAuth: true,
		Timeouts: Timeouts{Greeting: nx.Ticks(200), Envelope: nx.Ticks(200), Message: nx.Ticks(200)},
	}
}

type pipeOutcome struct {
	err        error
	res        Result
	srv        scriptResult
	transcript string
	header     string
}

// loopbackPair returns the two ends of a kernel TCP connection on
// 127.0.0.1 (net.Pipe is unbuffered, which deadlocks TLS alerts).
func loopbackPair(t *testing.T) (net.Conn, net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("net.Listen: %v", err)
	}
	defer ln.Close()
	type acc struct {
		c   net.Conn
		err error
	}
	ch := make(chan acc, 1)
	go func() { c, err := ln.Accept(); ch <- acc{c, err} }()
	cli, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatalf("net.Dial: %v", err)
	}
	a := <-ch
	if a.err != nil {
		t.Fatalf("Accept: %v", a.err)
	}
	return cli, a.c
}

// runPipe runs one session of the state machine over a kernel loopback
// connection against a scripted server: no boards, just the protocol.
func runPipe(t *testing.T, opts Options, m *mail, script []scriptStep) pipeOutcome {
	t.Helper()
	return runPipeCtx(t, context.Background(), opts, m, script)
}

// runPipeCtx is runPipe with the session's context.
func runPipeCtx(t *testing.T, ctx context.Context, opts Options, m *mail, script []scriptStep) pipeOutcome {
	t.Helper()
	var tr bytes.Buffer
	opts.Transcript = &tr
	cfg, err := newConfig(opts)
	if err != nil {
		t.Fatalf("newConfig() = %v", err)
	}
	if m.body == nil && m.reader == nil {
		m.body = []byte{}
	}
	if m.size == 0 && m.reader == nil {
		m.size = int64(len(m.body))
	}
	if err := cfg.prepare(m, testDate, nil); err != nil {
		return pipeOutcome{err: err}
	}
	cli, srv := loopbackPair(t)
	done := make(chan scriptResult, 1)
	go func() { done <- runScript(srv, script, nil) }()
	s := newSession(&cfg, mailconn.NewNetConn(cli, cfg.connConfig(nx.SystemClock)), nx.SystemClock, cfg.tls)
	s.look = make([]byte, lookaheadSize)
	err = s.run(ctx, m)
	s.finish(ctx)
	out := pipeOutcome{err: err, res: s.res, transcript: tr.String(), header: string(m.header)}
	select {
	case out.srv = <-done:
	case <-testClock().NewTimer(20 * time.Second).C():
		t.Fatal("scripted server did not finish")
	}
	return out
}

var (
	greet   = scriptStep{send: []string{"220 mail.example.test ESMTP\r\n"}}
	ehloAll = scriptStep{want: "EHLO board.example.com", send: []string{"250-mail.example.test\r\n250-PIPELINING\r\n250-8BITMIME\r\n250-SIZE 1000000\r\n250 AUTH PLAIN LOGIN\r\n"}}
	ehloMin = scriptStep{want: "EHLO board.example.com", send: []string{"250 mail.example.test\r\n"}}
	quitOK  = scriptStep{want: "QUIT", send: []string{"221 bye\r\n"}, act: actClose}
)

func okEnvelope(rcpts ...string) []scriptStep {
	st := []scriptStep{{want: "MAIL FROM:<board@example.com>", send: []string{"250 2.1.0 ok\r\n"}}}
	for _, r := range rcpts {
		st = append(st, scriptStep{want: "RCPT TO:<" + r + ">", send: []string{"250 2.1.5 ok\r\n"}})
	}
	return append(st, scriptStep{want: "DATA", send: []string{"354 go ahead\r\n"}},
		scriptStep{data: true, send: []string{"250 2.0.0 Ok: queued as 4F2A\r\n"}}, quitOK)
}

func noAuth(o Options) Options { o.Auth = AuthNone; return o }

func TestSessionRecipients(t *testing.T) {
	m := &mail{to: []string{"a@example.com"}, cc: []string{"b@example.com"}, bcc: []string{"c@example.com"},
		subject: "hi", body: []byte("hello\n"), messageID: "id@example.com"}
	out := runPipe(t, noAuth(pipeOpts()), m, steps([]scriptStep{greet, ehloMin}, okEnvelope("a@example.com", "b@example.com", "c@example.com")))
	if out.err != nil || out.srv.err != nil {
		t.Fatalf("session = %v (server %v)", out.err, out.srv.err)
	}
	if !out.res.Accepted || out.res.Recipients != 3 || out.res.Reply != "2.0.0 Ok: queued as 4F2A" {
		t.Errorf("result = %+v, want accepted, 3 recipients, reply %q", out.res, "2.0.0 Ok: queued as 4F2A")
	}
	data := string(out.srv.data)
	if !strings.Contains(data, "To: a@example.com\r\nCc: b@example.com\r\n") || strings.Contains(data, "c@example.com") {
		t.Errorf("message header = %q, want To and Cc and no Bcc address", out.header)
	}
	if !strings.HasSuffix(data, "\r\n\r\nhello\r\n") {
		t.Errorf("message = %q, want the body after the header", data)
	}
}

func TestSessionHELOFallback(t *testing.T) {
	m := &mail{to: []string{"a@example.com"}, body: []byte("x")}
	t.Run("default", func(t *testing.T) {
		out := runPipe(t, noAuth(pipeOpts()), m, steps([]scriptStep{greet,
			{want: "EHLO", send: []string{"502 5.5.1 command not implemented\r\n"}},
			{want: "HELO board.example.com", send: []string{"250 hello\r\n"}}}, okEnvelope("a@example.com")))
		if out.err != nil || out.srv.err != nil {
			t.Fatalf("session = %v (server %v)", out.err, out.srv.err)
		}
	})
	t.Run("netx", func(t *testing.T) {
		o := noAuth(pipeOpts())
		o.Profile = ProfileNetX
		out := runPipe(t, o, &mail{to: []string{"a@example.com"}, body: []byte("x")}, []scriptStep{greet,
			{want: "EHLO", send: []string{"500 what?\r\n"}}, quitOK})
		var re *ReplyError
		if !errors.Is(out.err, ErrHelloReply) || !errors.As(out.err, &re) || re.Code != 500 {
			t.Fatalf("session = %v, want NX_SMTP_HELLO_REPLY_ERROR with a 500 ReplyError", out.err)
		}
		if out.srv.err != nil {
			t.Errorf("server: %v", out.srv.err)
		}
	})
}

func TestSessionRejections(t *testing.T) {
	tests := []struct {
		name      string
		script    []scriptStep
		status    Status
		code      int
		stage     string
		temporary bool
		quit      bool // the client must have sent QUIT
	}{
		{"greeting 554", []scriptStep{{send: []string{"554 5.3.2 no service\r\n"}}, quitOK}, ErrGreetReply, 554, "greeting", false, true},
		{"MAIL 451", []scriptStep{greet, ehloMin, {want: "MAIL", send: []string{"451 4.3.0 try later\r\n"}}, quitOK}, ErrMailReply, 451, "MAIL FROM:<board@example.com>", true, true},
		{"RCPT second refused", []scriptStep{greet, ehloMin, {want: "MAIL", send: []string{"250 ok\r\n"}},
			{want: "RCPT TO:<a@example.com>", send: []string{"250 ok\r\n"}},
			{want: "RCPT TO:<bob@example.com>", send: []string{"550-5.1.1 no such\r\n550 5.1.1 user here\r\n"}}, quitOK},
			ErrRcptReply, 550, "RCPT TO:<bob@example.com>", false, true},
		{"DATA 554", []scriptStep{greet, ehloMin, {want: "MAIL", send: []string{"250 ok\r\n"}}, {want: "RCPT", send: []string{"250 ok\r\n"}},
			{want: "RCPT", send: []string{"250 ok\r\n"}}, {want: "DATA", send: []string{"554 no\r\n"}}, quitOK}, ErrDataReply, 554, "DATA", false, true},
		{"end of data 452", []scriptStep{greet, ehloMin, {want: "MAIL", send: []string{"250 ok\r\n"}}, {want: "RCPT", send: []string{"250 ok\r\n"}},
			{want: "RCPT", send: []string{"250 ok\r\n"}}, {want: "DATA", send: []string{"354 go\r\n"}}, {data: true, send: []string{"452 4.3.1 full\r\n"}}, quitOK},
			ErrMessageReply, 452, "end of data", true, true},
		{"MAIL 421 closes", []scriptStep{greet, ehloMin, {want: "MAIL", send: []string{"421 4.3.2 shutting down\r\n"}, act: actClose}}, ErrMailReply, 421, "MAIL FROM:<board@example.com>", true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := &mail{to: []string{"a@example.com", "bob@example.com"}, body: []byte("x")}
			out := runPipe(t, noAuth(pipeOpts()), m, tt.script)
			var re *ReplyError
			if !errors.Is(out.err, tt.status) || !errors.As(out.err, &re) {
				t.Fatalf("session = %v, want %v with a *ReplyError", out.err, tt.status)
			}
			if re.Code != tt.code || re.Stage != tt.stage || re.Temporary() != tt.temporary || re.Permanent() == tt.temporary {
				t.Errorf("ReplyError = %+v (temporary %v), want code %d stage %q temporary %v", re, re.Temporary(), tt.code, tt.stage, tt.temporary)
			}
			kind := "permanent failure"
			if tt.temporary {
				kind = "temporary failure"
			}
			if !strings.Contains(out.err.Error(), kind) || !strings.Contains(out.err.Error(), tt.status.Name()) {
				t.Errorf("error text %q does not say %q and %s", out.err, kind, tt.status.Name())
			}
			if out.srv.err != nil {
				t.Errorf("server: %v (saw %q)", out.srv.err, out.srv.lines)
			}
			sawQuit := len(out.srv.lines) > 0 && out.srv.lines[len(out.srv.lines)-1] == "QUIT"
			if sawQuit != tt.quit || len(out.srv.extra) > 0 {
				t.Errorf("server saw %q then %q; want QUIT last = %v", out.srv.lines, out.srv.extra, tt.quit)
			}
			if out.res.Accepted {
				t.Errorf("result Accepted after a rejection")
			}
		})
	}
	t.Run("RCPT 251 accepted", func(t *testing.T) {
		out := runPipe(t, noAuth(pipeOpts()), &mail{to: []string{"a@example.com"}, body: []byte("x")}, []scriptStep{greet, ehloMin,
			{want: "MAIL", send: []string{"250 ok\r\n"}}, {want: "RCPT", send: []string{"251 will forward\r\n"}},
			{want: "DATA", send: []string{"354 go\r\n"}}, {data: true, send: []string{"250 ok\r\n"}}, quitOK})
		if out.err != nil {
			t.Fatalf("session = %v, want 251 taken as success", out.err)
		}
	})
}

func TestSessionQuitAfterAcceptance(t *testing.T) {
	head := []scriptStep{greet, ehloMin, {want: "MAIL", send: []string{"250 ok\r\n"}}, {want: "RCPT", send: []string{"250 ok\r\n"}},
		{want: "DATA", send: []string{"354 go\r\n"}}, {data: true, send: []string{"250 queued\r\n"}}}
	tests := []struct {
		name string
		last scriptStep
		want error
	}{
		{"closed", scriptStep{want: "QUIT", act: actClose}, nx.ErrNotConnected},
		{"500", scriptStep{want: "QUIT", send: []string{"500 eh?\r\n"}, act: actClose}, ErrServerErrorCode},
		{"garbage", scriptStep{want: "QUIT", send: []string{"bye\r\n"}, act: actClose}, ErrServerErrorReply},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := runPipe(t, noAuth(pipeOpts()), &mail{to: []string{"a@example.com"}, body: []byte("x")}, append(append([]scriptStep(nil), head...), tt.last))
			if out.err != nil {
				t.Fatalf("session = %v, want nil: the mail was accepted", out.err)
			}
			if !out.res.Accepted || !errors.Is(out.res.QuitErr, ErrQuit) || !errors.Is(out.res.QuitErr, tt.want) {
				t.Errorf("result = %+v, want Accepted and QuitErr wrapping ErrQuit and %v", out.res, tt.want)
			}
			if len(out.srv.extra) > 0 {
				t.Errorf("client sent %q after QUIT", out.srv.extra)
			}
		})
	}
}

func TestSessionExtensions(t *testing.T) {
	ehlo := func(caps ...string) scriptStep {
		r := "250-mail.example.test\r\n"
		for i, c := range caps {
			if i == len(caps)-1 {
				r += "250 " + c + "\r\n"
			} else {
				r += "250-" + c + "\r\n"
			}
		}
		if len(caps) == 0 {
			r = "250 mail.example.test\r\n"
		}
		return scriptStep{want: "EHLO", send: []string{r}}
	}
	t.Run("SIZE refused up front", func(t *testing.T) {
		out := runPipe(t, noAuth(pipeOpts()), &mail{to: []string{"a@example.com"}, body: bytes.Repeat([]byte("x"), 300)},
			[]scriptStep{greet, ehlo("SIZE 200"), quitOK})
		if !errors.Is(out.err, ErrOversizeMailData) {
			t.Fatalf("session = %v, want NX_SMTP_OVERSIZE_MAIL_DATA", out.err)
		}
		if out.srv.err != nil || len(out.srv.lines) != 2 {
			t.Errorf("server saw %q (%v), want EHLO then QUIT only", out.srv.lines, out.srv.err)
		}
	})
	t.Run("SIZE declared", func(t *testing.T) {
		m := &mail{to: []string{"a@example.com"}, body: []byte("0123456789")}
		out := runPipe(t, noAuth(pipeOpts()), m, steps([]scriptStep{greet, ehlo("SIZE 100000")}, okEnvelope("a@example.com")))
		want := "MAIL FROM:<board@example.com> SIZE=" + itoa(len(out.header)+10+3)
		if out.err != nil || len(out.srv.lines) < 2 || out.srv.lines[1] != want {
			t.Fatalf("session = %v, MAIL line %q, want %q", out.err, out.srv.lines, want)
		}
	})
	t.Run("8BITMIME needed, not offered", func(t *testing.T) {
		out := runPipe(t, noAuth(pipeOpts()), &mail{to: []string{"a@example.com"}, body: []byte("café\n")}, []scriptStep{greet, ehlo(), quitOK})
		if !errors.Is(out.err, ErrNeeds8BitMIME) || !errors.Is(out.err, ErrInvalidParam) {
			t.Fatalf("session = %v, want ErrNeeds8BitMIME", out.err)
		}
	})
	t.Run("8BITMIME declared", func(t *testing.T) {
		out := runPipe(t, noAuth(pipeOpts()), &mail{to: []string{"a@example.com"}, body: []byte("café\n")}, steps([]scriptStep{greet, ehlo("8BITMIME")}, okEnvelope("a@example.com")))
		if out.err != nil || len(out.srv.lines) < 2 || out.srv.lines[1] != "MAIL FROM:<board@example.com> BODY=8BITMIME" {
			t.Fatalf("session = %v, lines %q", out.err, out.srv.lines)
		}
	})
	t.Run("ASCII body without BODY=", func(t *testing.T) {
		out := runPipe(t, noAuth(pipeOpts()), &mail{to: []string{"a@example.com"}, body: []byte("plain\n")}, steps([]scriptStep{greet, ehlo("8BITMIME")}, okEnvelope("a@example.com")))
		if out.err != nil || len(out.srv.lines) < 2 || out.srv.lines[1] != "MAIL FROM:<board@example.com>" {
			t.Fatalf("session = %v, lines %q", out.err, out.srv.lines)
		}
	})
	t.Run("streamed 8-bit body, no 8BITMIME: reset before the octet", func(t *testing.T) {
		m := &mail{to: []string{"a@example.com"}, reader: strings.NewReader("ascii line\nthen caf\xc3\xa9\n"), size: -1}
		out := runPipe(t, noAuth(pipeOpts()), m, steps([]scriptStep{greet, ehlo()}, okEnvelope("a@example.com")))
		if !errors.Is(out.err, ErrNeeds8BitMIME) {
			t.Fatalf("session = %v, want ErrNeeds8BitMIME", out.err)
		}
		if out.srv.err == nil || bytes.Contains(out.srv.data, []byte("caf")) {
			t.Errorf("server got message %q (%v); want it cut before the 8-bit line, never terminated", out.srv.data, out.srv.err)
		}
	})
	t.Run("streamed long line: reset before the line", func(t *testing.T) {
		m := &mail{to: []string{"a@example.com"}, reader: strings.NewReader("short\n" + strings.Repeat("L", 2000) + "\n"), size: -1}
		out := runPipe(t, noAuth(pipeOpts()), m, steps([]scriptStep{greet, ehlo("8BITMIME")}, okEnvelope("a@example.com")))
		if !errors.Is(out.err, ErrLineTooLong) {
			t.Fatalf("session = %v, want ErrLineTooLong", out.err)
		}
		if out.srv.err == nil || bytes.Contains(out.srv.data, []byte("LLL")) {
			t.Errorf("server got message %q (%v); want no byte of the long line and no end of data", out.srv.data, out.srv.err)
		}
	})
	t.Run("SMTPUTF8 needed, not offered", func(t *testing.T) {
		out := runPipe(t, noAuth(pipeOpts()), &mail{to: []string{"jürgen@example.com"}, body: []byte("x")}, []scriptStep{greet, ehlo("8BITMIME"), quitOK})
		if !errors.Is(out.err, ErrNeedsSMTPUTF8) {
			t.Fatalf("session = %v, want ErrNeedsSMTPUTF8", out.err)
		}
	})
	t.Run("SMTPUTF8 used", func(t *testing.T) {
		out := runPipe(t, noAuth(pipeOpts()), &mail{to: []string{"jürgen@example.com"}, body: []byte("x")}, steps([]scriptStep{greet, ehlo("8BITMIME", "SMTPUTF8")}, okEnvelope("jürgen@example.com")))
		if out.err != nil || len(out.srv.lines) < 2 || out.srv.lines[1] != "MAIL FROM:<board@example.com> BODY=8BITMIME SMTPUTF8" {
			t.Fatalf("session = %v, lines %q", out.err, out.srv.lines)
		}
	})
	t.Run("NetX profile sends no parameters", func(t *testing.T) {
		o := noAuth(pipeOpts())
		o.Profile = ProfileNetX
		out := runPipe(t, o, &mail{to: []string{"a@example.com"}, body: []byte("café")}, steps([]scriptStep{greet, ehlo("SIZE 10", "8BITMIME")}, okEnvelope("a@example.com")))
		if out.err != nil || len(out.srv.lines) < 3 || out.srv.lines[1] != "MAIL FROM:<board@example.com> " || out.srv.lines[2] != "RCPT TO:<a@example.com> " {
			t.Fatalf("session = %v, lines %q, want NetX's commands with the trailing space", out.err, out.srv.lines)
		}
	})
}

func itoa(n int) string { return big.NewInt(int64(n)).String() }

func TestSessionAuth(t *testing.T) {
	plain := base64.StdEncoding.EncodeToString([]byte("\x00alice\x00s3cret!"))
	tests := []struct {
		name   string
		mod    func(*Options)
		script []scriptStep
		status error
		mech   AuthType
	}{
		{"plaintext refused without TLS", func(o *Options) { o.AllowPlaintextAuth = false },
			[]scriptStep{greet, {want: "EHLO", send: []string{"250-x\r\n250 AUTH PLAIN LOGIN\r\n"}}, quitOK}, ErrPlaintextAuth, 0},
		{"CRAM-MD5 chosen without TLS", func(o *Options) { o.AllowPlaintextAuth = false },
			steps([]scriptStep{greet, {want: "EHLO", send: []string{"250-x\r\n250 AUTH PLAIN CRAM-MD5\r\n"}},
				{want: "AUTH CRAM-MD5", send: []string{"334 PDE4OTYuNjk3MTcwOTUyQHBvc3RvZmZpY2UucmVzdG9uLm1jaS5uZXQ+\r\n"}},
				{want: base64.StdEncoding.EncodeToString([]byte("alice " + cramHex("s3cret!", "<1896.697170952@postoffice.reston.mci.net>"))), send: []string{"235 ok\r\n"}}},
				okEnvelope("a@example.com")), nil, AuthCRAMMD5},
		{"PLAIN", nil, steps([]scriptStep{greet, {want: "EHLO", send: []string{"250-x\r\n250 AUTH LOGIN PLAIN\r\n"}},
			{want: "AUTH PLAIN", send: []string{"334 \r\n"}}, {want: plain, send: []string{"235 2.7.0 ok\r\n"}}}, okEnvelope("a@example.com")), nil, AuthPlain},
		{"LOGIN by position (odd prompts)", func(o *Options) { o.Auth = AuthLogin }, steps([]scriptStep{greet, {want: "EHLO", send: []string{"250-x\r\n250 AUTH LOGIN\r\n"}},
			{want: "AUTH LOGIN", send: []string{"334 VXNlciBOYW1l\r\n"}}, {want: "YWxpY2U=", send: []string{"334 UGFzcw==\r\n"}},
			{want: "czNjcmV0IQ==", send: []string{"235 ok\r\n"}}}, okEnvelope("a@example.com")), nil, AuthLogin},
		{"AUTH=LOGIN old form", func(o *Options) { o.Auth = AuthLogin }, steps([]scriptStep{greet, {want: "EHLO", send: []string{"250-x\r\n250 AUTH=LOGIN\r\n"}},
			{want: "AUTH LOGIN", send: []string{"334 VXNlcm5hbWU6\r\n"}}, {want: "YWxpY2U=", send: []string{"334 UGFzc3dvcmQ6\r\n"}},
			{want: "czNjcmV0IQ==", send: []string{"235 ok\r\n"}}}, okEnvelope("a@example.com")), nil, AuthLogin},
		{"535 rejected", nil, []scriptStep{greet, {want: "EHLO", send: []string{"250-x\r\n250 AUTH PLAIN\r\n"}},
			{want: "AUTH PLAIN", send: []string{"334 \r\n"}}, {want: plain, send: []string{"535 5.7.8 bad credentials\r\n"}}, quitOK}, ErrAuthReply, 0},
		{"XOAUTH2 error flow", func(o *Options) { o.Auth = AuthXOAUTH2 }, []scriptStep{greet, {want: "EHLO", send: []string{"250-x\r\n250 AUTH XOAUTH2\r\n"}},
			{want: "AUTH XOAUTH2", send: []string{"334 \r\n"}},
			{want: base64.StdEncoding.EncodeToString([]byte("user=alice\x01auth=Bearer s3cret!\x01\x01")), send: []string{"334 eyJzdGF0dXMiOiI0MDEifQ==\r\n"}},
			{want: emptyLine, send: []string{"535 5.7.8 token expired\r\n"}}, quitOK}, ErrAuthReply, 0},
		{"CRAM-MD5 undecodable challenge", func(o *Options) { o.Auth = AuthCRAMMD5 }, []scriptStep{greet, {want: "EHLO", send: []string{"250-x\r\n250 AUTH CRAM-MD5\r\n"}},
			{want: "AUTH CRAM-MD5", send: []string{"334 !!!\r\n"}}, {want: "*", send: []string{"501 cancelled\r\n"}}, quitOK}, ErrInvalidServerChallenge, 0},
		{"NONE never authenticates", func(o *Options) { o.Auth = AuthNone }, steps([]scriptStep{greet, {want: "EHLO", send: []string{"250-x\r\n250 AUTH PLAIN\r\n"}}}, okEnvelope("a@example.com")), nil, AuthNone},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := pipeOpts()
			if tt.mod != nil {
				tt.mod(&o)
			}
			out := runPipe(t, o, &mail{to: []string{"a@example.com"}, body: []byte("x")}, tt.script)
			if tt.status == nil {
				if out.err != nil || out.srv.err != nil {
					t.Fatalf("session = %v (server %v, saw %q)", out.err, out.srv.err, out.srv.lines)
				}
				if out.res.Auth != tt.mech && !(tt.mech == AuthNone && out.res.Auth == 0) {
					t.Errorf("Result.Auth = %v, want %v", out.res.Auth, tt.mech)
				}
			} else if !errors.Is(out.err, tt.status) {
				t.Fatalf("session = %v, want %v (server saw %q)", out.err, tt.status, out.srv.lines)
			}
			if strings.Contains(out.transcript, "s3cret!") || strings.Contains(out.transcript, plain) {
				t.Errorf("transcript leaks the password:\n%s", out.transcript)
			}
			if tt.status == ErrPlaintextAuth && strings.Contains(strings.Join(out.srv.lines, "\n"), "AUTH") {
				t.Errorf("client sent %q although plaintext AUTH is refused", out.srv.lines)
			}
		})
	}
}

func TestSessionTranscript(t *testing.T) {
	out := runPipe(t, pipeOpts(), &mail{to: []string{"a@example.com"}, body: []byte("x")}, steps([]scriptStep{greet, ehloAll,
		{want: "AUTH PLAIN", send: []string{"334 \r\n"}}, {want: "AGFsaWNl", send: []string{"235 ok\r\n"}}}, okEnvelope("a@example.com")))
	if out.err != nil {
		t.Fatalf("session = %v", out.err)
	}
	for _, want := range []string{"S: 220 mail.example.test ESMTP\n", "C: EHLO board.example.com\n", "S: 250-PIPELINING\n",
		"C: AUTH PLAIN\n", "C: <credentials redacted>\n", "C: DATA\n", "C: .\n", "S: 221 bye\n"} {
		if !strings.Contains(out.transcript, want) {
			t.Errorf("transcript lacks %q:\n%s", want, out.transcript)
		}
	}
}

func TestSessionSTARTTLS(t *testing.T) {
	cert, roots := selfSigned(t, "mail.example.test")
	srvTLS := &tls.Config{Certificates: []tls.Certificate{cert}}
	ehloTLS := scriptStep{want: "EHLO", send: []string{"250-mail.example.test\r\n250 STARTTLS\r\n"}}
	t.Run("required, trusted", func(t *testing.T) {
		o := pipeOpts()
		o.TLS, o.AllowPlaintextAuth, o.ServerHost = TLSRequired, false, "mail.example.test"
		o.TLSConfig = &tls.Config{RootCAs: roots}
		out := runPipe(t, o, &mail{to: []string{"a@example.com"}, body: []byte("x")}, steps([]scriptStep{greet, ehloTLS,
			{want: "STARTTLS", send: []string{"220 go ahead\r\n"}, tls: srvTLS},
			{want: "EHLO", send: []string{"250-mail.example.test\r\n250 AUTH PLAIN\r\n"}},
			{want: "AUTH PLAIN", send: []string{"334 \r\n"}}, {want: "AGFsaWNl", send: []string{"235 ok\r\n"}}}, okEnvelope("a@example.com")))
		if out.err != nil || out.srv.err != nil {
			t.Fatalf("session = %v (server %v)", out.err, out.srv.err)
		}
		if !out.res.TLS || out.res.Auth != AuthPlain {
			t.Errorf("result = %+v, want TLS and PLAIN", out.res)
		}
	})
	t.Run("untrusted certificate", func(t *testing.T) {
		o := pipeOpts()
		o.TLS, o.ServerHost = TLSOpportunistic, "mail.example.test"
		out := runPipe(t, o, &mail{to: []string{"a@example.com"}, body: []byte("x")}, []scriptStep{greet, ehloTLS,
			{want: "STARTTLS", send: []string{"220 go ahead\r\n"}, tls: srvTLS}})
		var verr *tls.CertificateVerificationError
		if !errors.Is(out.err, ErrTransmit) || !errors.As(out.err, &verr) {
			t.Fatalf("session = %v, want NX_SMTP_TRANSMIT_ERROR with a certificate verification error", out.err)
		}
	})
	t.Run("required, not offered", func(t *testing.T) {
		o := pipeOpts()
		o.TLS = TLSRequired
		out := runPipe(t, o, &mail{to: []string{"a@example.com"}, body: []byte("x")}, []scriptStep{greet, ehloMin, quitOK})
		if !errors.Is(out.err, ErrTLSUnavailable) || !errors.Is(out.err, ErrHelloReply) {
			t.Fatalf("session = %v, want ErrTLSUnavailable / NX_SMTP_HELLO_REPLY_ERROR", out.err)
		}
	})
	t.Run("opportunistic, refused with 454: plaintext", func(t *testing.T) {
		o := noAuth(pipeOpts())
		o.TLS = TLSOpportunistic
		out := runPipe(t, o, &mail{to: []string{"a@example.com"}, body: []byte("x")}, steps([]scriptStep{greet, ehloTLS,
			{want: "STARTTLS", send: []string{"454 4.7.0 TLS not available\r\n"}}}, okEnvelope("a@example.com")))
		if out.err != nil || out.res.TLS {
			t.Fatalf("session = %v, TLS %v; want a plaintext success", out.err, out.res.TLS)
		}
	})
	t.Run("injection after 220", func(t *testing.T) {
		o := noAuth(pipeOpts())
		o.TLS = TLSOpportunistic
		out := runPipe(t, o, &mail{to: []string{"a@example.com"}, body: []byte("x")}, []scriptStep{greet, ehloTLS,
			{want: "STARTTLS", send: []string{"220 go ahead\r\n250 injected\r\n"}}})
		var pe *ProtocolError
		if !errors.As(out.err, &pe) || out.res.TLS {
			t.Fatalf("session = %v, want a *ProtocolError and no TLS", out.err)
		}
	})
}

func cramHex(secret, challenge string) string {
	m := mechanism{typ: AuthCRAMMD5, user: "x", secret: secret}
	r, _ := m.respond(base64.StdEncoding.EncodeToString([]byte(challenge)))
	return strings.TrimPrefix(string(r), "x ")
}
