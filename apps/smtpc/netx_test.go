package smtpc

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/simboard/simboard/boardtest"
	"github.com/simboard/simboard/netstack"
	"github.com/simboard/simboard/nx"
)

// Canned server replies of NetX Duo's test/regression/smtp_test/
// smtp_server_packets.c, byte for byte (each array sent with its declared
// size, so response_221_bye_pkt carries 54 NUL octets after its CRLF).
const (
	netxGreeting = "220-expresslogic.com ESMTP MDaemon 13.0.3; Sat, 23 Mar 2013 22:58:15 -0700\r\n" +
		"220-All transactions and IP addresses are logged.\r\n220-*\r\n220 Unauthorized relaying is strictly prohibited.\r\n"
	netxEHLOHead         = "250-expresslogic.com Hello testrecipient@expresslogic.com, pleased to meet you\r\n250-ETRN\r\n"
	netxEHLO             = netxEHLOHead + "250-AUTH LOGIN CRAM-MD5 PLAIN\r\n250-8BITMIME\r\n250 SIZE\r\n"
	netxEHLOFirst        = netxEHLOHead + "250-AUTH LOGIN CRAM-MD5 PLAIN\r\n250-8BITMIME\r\n250-SIZE\r\n"
	netxEHLOLast         = "250 SIZE\r\n"
	netxEHLOFirstNoAuth  = netxEHLOHead + "250-EUTH MOGIN CRAM-MD5 QLAIN\r\n250-8BITMIME\r\n250-SIZE\r\n"
	netxEHLOAuthNoType   = netxEHLOHead + "250-AUTH MOGIN CRAM-MD5 QLAIN\r\n250-8BITMIME\r\n250 SIZE\r\n"
	netxEHLOLastWithAuth = "250-AUTH LOGIN CRAM-MD5 PLAIN\r\n 250 SIZE\r\n"
	netxEHLONotLast      = "250-SIZE\r\n"
	netxEHLONoAuth       = netxEHLOHead + "250-DUTH NOGIN CRAM-MD5 RLAIN\r\n250-8BITMIME\r\n250 SIZE\r\n"
	netx235              = "235 Authentication successful\r\n"
	netx250Sender        = "250 <recipient99@gmail.com>, Sender ok\r\n"
	netx250Recipient     = "250 <recipient99@gmail.com>, Recipient ok\r\n"
	netx354              = "354 Enter mail, end with <CRLF>.<CRLF>\r\n"
	netx250Saved         = "250 Ok, message saved <Message-ID: >\r\n"
	netx334              = "334 \r\n"
	netx334User          = "334 VXNlcm5hbWU6\r\n"
	netx334Pass          = "334 UGFzc3dvcmQ6\r\n"
	netx221              = "221 See ya in cyberspace\r\n" + "\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00" +
		"\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"
)

// The NetX tests' mail: lines start with '.', CRLF inside, no final CRLF.
const (
	netxSubject   = "NetX Duo SMTP Client Demo"
	netxRecipient = "recipient@domain.com"
	netxFrom      = "recipient@domain.com"
	netxBody      = ".NetX Duo SMTP client is a simple SMTP client implementation  \r\n" +
		".that allow embedded devices to send email to an SMTP server. \r\n" +
		"This feature is intended to allow a device to send simple status\r\n " +
		"reports using the most universal Internet application email.\r\n" +
		"The rest of this narrative is merely to supply this most interesting quote: \r\n" +
		"Perhaps the most vivid recollection of my youth is that of the local wheelmen, \r\n" +
		"led by my father, stopping at our home to eat pone, sip mint juleps, and flog \r\n" +
		"the field hands. This more than anything cultivated my life-long aversion \r\n" +
		"to bicycles. ~~ Tennessee Williams.\r\n\r\n" +
		"Nothing compares to the simple pleasure of a bike ride. --John F. Kennedy, (surely you've heard of him?)\r\n\r\n" +
		"Perhaps the most vivid recollection of my youth is that of being flogged \r\n" +
		"by the local wheelmen, along with the field hands, the postman, and a \r\n" +
		"young Tennessee Williams. This more than anything cultivated my life-long " +
		"aversion to his plays. -Truman Capote\r\n" +
		"When I see an adult on a bicycle, I do not despair for the future of the human race. H.G. Wells \r\n" +
		"during the Second World War, if the United States had retooled its \r\n" +
		"factories for manufacturing bicycles instead of munitions, we'd be one of \r\n" +
		"the healthiest, least oil-dependent, and most environmentally-sound \r\n" +
		"constituents in the Nazi empire today. -Ralph Nader."
)

// envelopeSteps is the part of a NetX script after authentication.
func envelopeSteps() []scriptStep {
	return []scriptStep{
		{want: "MAIL FROM:<" + netxFrom + ">", send: []string{netx250Sender}},
		{want: "RCPT TO:<" + netxRecipient + ">", send: []string{netx250Recipient}},
		{want: "DATA", send: []string{netx354}},
		{data: true, send: []string{netx250Saved}},
		{want: "QUIT", send: []string{netx221}, act: actClose},
	}
}

func steps(parts ...[]scriptStep) []scriptStep {
	var out []scriptStep
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

// serveScript listens on the server board's port 25, plays the script on
// the first connection and delivers what it saw. The accept goroutine ends
// when the script ends or, at cleanup, when the listener closes.
func serveScript(t *testing.T, srv *boardtest.Board, script []scriptStep) <-chan scriptResult {
	t.Helper()
	return serveScriptHook(t, srv, script, nil)
}

// serveScriptHook is serveScript with hooks run when the step of that index
// has read its line.
func serveScriptHook(t *testing.T, srv *boardtest.Board, script []scriptStep, hooks map[int]func()) <-chan scriptResult {
	t.Helper()
	ln, err := srv.IP.ListenTCP(25)
	if err != nil {
		t.Fatalf("ListenTCP(25) = %v", err)
	}
	done := make(chan scriptResult, 1)
	go func() {
		defer ln.Close()
		c, err := ln.Accept()
		if err != nil {
			done <- scriptResult{err: err}
			return
		}
		reset := func() {
			if nc, ok := c.(*netstack.Conn); ok {
				_ = nc.Socket().Disconnect(context.Background(), nx.NoWait)
			}
		}
		done <- runScriptHooks(c, script, reset, hooks)
	}()
	t.Cleanup(func() { ln.Close() })
	return done
}

func waitScript(t *testing.T, ch <-chan scriptResult) scriptResult {
	t.Helper()
	select {
	case r := <-ch:
		return r
	case <-testClock().NewTimer(60 * time.Second).C():
		t.Fatal("scripted server did not finish")
		return scriptResult{}
	}
}

// netxPair builds the NetX tests' setup: two boards on a wire, the client's
// pool 1536 x 10 bytes as in the regression tests.
func netxPair(t *testing.T) (cli, srv *boardtest.Board) {
	boardtest.CheckGoroutines(t)
	w := boardtest.NewWire(t, 1)
	srv = boardtest.NewBoard(t, w, "server", 1, boardtest.Options{})
	cli = boardtest.NewBoard(t, w, "client", 2, boardtest.Options{PayloadSize: 1536, Count: 10, Debug: true})
	return cli, srv
}

func TestNetXScenarios(t *testing.T) {
	type scenario struct {
		name   string
		auth   AuthType
		script []scriptStep
		to     Timeouts
		want   error   // nil = success
		netx   error   // ProfileNetX's status when it differs from want
		skip   Profile // a profile whose port lives elsewhere
		strict error   // the default profile's error where only NetX succeeds (no silent downgrade)
	}
	greet := scriptStep{send: []string{netxGreeting}}
	scenarios := []scenario{
		{name: "basic_function (PLAIN)", auth: AuthPlain, script: steps(
			[]scriptStep{greet, {want: "EHLO domain.com", send: []string{netxEHLO}},
				{want: "AUTH PLAIN", send: []string{netx334}}, {want: "", send: nil}},
		)},
		{name: "auth_logon_function (LOGIN)", auth: AuthLogin, script: steps(
			[]scriptStep{greet, {want: "EHLO domain.com", send: []string{netxEHLO}},
				{want: "AUTH LOGIN", send: []string{netx334User}}, {want: "cmVjaXBpZW50QGRvbWFpbi5jb20=", send: []string{netx334Pass}},
				{want: "dGVzdHB3ZA==", send: []string{netx235}}},
			envelopeSteps())},
		{name: "auth_no_type (LOGIN falls back to PLAIN)", auth: AuthLogin, strict: ErrAuthNotOffered, script: steps(
			[]scriptStep{greet, {want: "EHLO domain.com", send: []string{netxEHLOAuthNoType}},
				{want: "AUTH PLAIN", send: []string{netx334}}, {want: "", send: nil}},
		)},
		{name: "auth_none", auth: AuthNone, script: steps(
			[]scriptStep{greet, {want: "EHLO domain.com", send: []string{netxEHLONoAuth}}},
			envelopeSteps())},
		{name: "two_packet_EHLO", auth: AuthPlain, script: steps(
			[]scriptStep{greet, {want: "EHLO domain.com", send: []string{netxEHLOFirst, netxEHLOLast}},
				{want: "AUTH PLAIN", send: []string{netx334}}, {want: "", send: nil}},
		)},
		{name: "two_packet_EHLO_auth_last", auth: AuthPlain, script: steps(
			[]scriptStep{greet, {want: "EHLO domain.com", send: []string{netxEHLOFirstNoAuth, netxEHLOLastWithAuth}},
				{want: "AUTH PLAIN", send: []string{netx334}}, {want: "", send: nil}},
		)},
		{name: "missing_last_250_EHLO", auth: AuthPlain, to: Timeouts{Envelope: nx.Ticks(30)}, want: nx.ErrNoPacket,
			script: []scriptStep{greet, {want: "EHLO domain.com", send: []string{netxEHLOFirst, netxEHLONotLast}, act: actSilent}}},
		{name: "abnormal_packet", auth: AuthPlain, want: ErrServerErrorReply, netx: ErrGreetReply, script: []scriptStep{
			{send: []string{"2222222" + netxGreeting[2:]}}, {want: "QUIT", send: []string{netx221}, act: actClose}}},
		// ProfileNetX's port of invalid_release, with the server's reset,
		// is TestNetXInvalidRelease.
		{name: "invalid_release", auth: AuthPlain, want: ErrServerErrorReply, skip: ProfileNetX, script: []scriptStep{
			{send: []string{"2200"}}, {want: "QUIT", send: []string{netx221}, act: actClose}}},
	}
	// The PLAIN scenarios share the tail: PLAIN credentials then the envelope.
	plain := "AHJlY2lwaWVudEBkb21haW4uY29tAHRlc3Rwd2Q=" // "\0recipient@domain.com\0testpwd"
	plainNetX := "cmVjaXBpZW50QGRvbWFpbi5jb20AcmVjaXBpZW50QGRvbWFpbi5jb20AdGVzdHB3ZA=="
	for _, profile := range []Profile{ProfileDefault, ProfileNetX} {
		for _, sc := range scenarios {
			name := sc.name + "/default"
			if profile == ProfileNetX {
				name = sc.name + "/netx"
			}
			t.Run(name, func(t *testing.T) {
				if sc.skip == profile && profile == ProfileNetX {
					t.Skip("ported faithfully for ProfileNetX elsewhere")
				}
				want := sc.want
				if profile == ProfileNetX && sc.netx != nil {
					want = sc.netx
				}
				if profile == ProfileDefault && sc.strict != nil {
					want = sc.strict
				}
				script := append([]scriptStep(nil), sc.script...)
				if n := len(script); n > 0 && script[n-1].want == "" && script[n-1].send == nil {
					cred := plain
					if profile == ProfileNetX {
						cred = plainNetX
					}
					script[n-1] = scriptStep{want: cred, send: []string{netx235}}
					script = append(script, envelopeSteps()...)
				}
				cli, srv := netxPair(t)
				done := serveScript(t, srv, script)
				c, err := Create(Options{
					IP: cli.IP, Pool: cli.Pool, Username: netxFrom, Password: "testpwd", From: netxFrom,
					ClientDomain: "domain.com", Auth: sc.auth, ServerAddr: srv.Addr, Port: 25,
					Profile: profile, AllowPlaintextAuth: true, Timeouts: sc.to,
				})
				if err != nil {
					t.Fatalf("Create() = %v", err)
				}
				res, err := c.MailSend(context.Background(), netxRecipient, PriorityNormal, netxSubject, []byte(netxBody))
				got := waitScript(t, done)
				if want == nil {
					if err != nil {
						t.Fatalf("MailSend() = %v, want success (server: %v, saw %q)", err, got.err, got.lines)
					}
					if !res.Accepted || res.QuitErr != nil {
						t.Errorf("MailSend() result = %+v, want accepted with a clean QUIT", res)
					}
					if got.err != nil {
						t.Errorf("scripted server: %v (saw %q)", got.err, got.lines)
					}
					if profile == ProfileNetX {
						// NetX sends the body verbatim (its leading dots
						// unstuffed) and then "\r\n.\r\n".
						if body := string(got.data); !strings.HasSuffix(body, "\r\n\r\n"+netxBody+"\r\n") {
							t.Errorf("server got message ending %q, want the verbatim body %q after the header", tail(body, 80), tail(netxBody, 40))
						}
					} else if body := string(unstuff(got.data)); !strings.HasSuffix(body, "\r\n\r\n"+netxBody+"\r\n") {
						t.Errorf("server got message ending %q, want the body %q after the header", tail(body, 80), tail(netxBody, 40))
					}
				} else {
					if !errors.Is(err, want) {
						t.Fatalf("MailSend() = %v, want %v", err, want)
					}
					if res.Accepted {
						t.Errorf("MailSend() result Accepted after %v", err)
					}
				}
				if len(got.extra) > 0 {
					t.Errorf("client sent %q after the script ended", got.extra)
				}
				if err := c.Delete(); err != nil {
					t.Errorf("Delete() = %v", err)
				}
				boardtest.CheckBalanced(t, cli.Pool, cli.RxPool)
			})
		}
	}
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

var _ net.Conn = (*netstack.Conn)(nil)
