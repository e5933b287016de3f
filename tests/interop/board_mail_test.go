package interop

// The board's mail clients (apps/smtpc, apps/pop3c) on gVisor over tap0, against
// Postfix and Dovecot: the same scenarios as the kernel-side tests in kernel_test.go.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"testing"

	"github.com/simboard/simboard/apps/pop3c"
	"github.com/simboard/simboard/apps/smtpc"
	"github.com/simboard/simboard/boardtest"
	"github.com/simboard/simboard/nx"
)

// boardSMTP returns smtpc options for the board against addr as u.
func boardSMTP(env *Env, b *Board, addr netip.AddrPort, u User) smtpc.Options {
	return smtpc.Options{
		IP: b.IP, Pool: b.Pool,
		Username: u.Name, Password: u.Password, From: u.Addr,
		ServerAddr: addr.Addr(), ServerHost: env.ServerName, Port: addr.Port(),
		TLSConfig: env.TLSConfig(),
	}
}

func TestBoardSMTPDelivers(t *testing.T) {
	env := startEnv(t)
	b := env.NewBoard(t, boardtest.Options{IPv6: true})
	tests := []struct {
		name     string
		addr     netip.AddrPort
		opts     func(o *smtpc.Options)
		bodySize int
		wantAuth smtpc.AuthType
		wantTLS  bool
		wantBDAT bool
	}{
		{name: "PLAIN", addr: env.Submission, wantAuth: smtpc.AuthPlain,
			opts: func(o *smtpc.Options) { o.TLS, o.Auth, o.AllowPlaintextAuth = smtpc.TLSOff, smtpc.AuthPlain, true }},
		{name: "LOGIN", addr: env.Submission, wantAuth: smtpc.AuthLogin,
			opts: func(o *smtpc.Options) { o.TLS, o.Auth, o.AllowPlaintextAuth = smtpc.TLSOff, smtpc.AuthLogin, true }},
		{name: "CRAM-MD5", addr: env.Submission, wantAuth: smtpc.AuthCRAMMD5,
			opts: func(o *smtpc.Options) { o.TLS, o.Auth = smtpc.TLSOff, smtpc.AuthCRAMMD5 }},
		{name: "auto-in-clear/CRAM-MD5", addr: env.Submission, wantAuth: smtpc.AuthCRAMMD5,
			opts: func(o *smtpc.Options) { o.TLS, o.Auth = smtpc.TLSOff, smtpc.AuthAuto }},
		{name: "STARTTLS+PLAIN", addr: env.Submission, wantAuth: smtpc.AuthPlain, wantTLS: true,
			opts: func(o *smtpc.Options) { o.TLS, o.Auth = smtpc.TLSRequired, smtpc.AuthPlain }},
		{name: "NetX-profile", addr: env.Submission, wantAuth: smtpc.AuthPlain,
			opts: func(o *smtpc.Options) {
				o.Profile, o.Auth, o.AllowPlaintextAuth = smtpc.ProfileNetX, smtpc.AuthPlain, true
			}},
		{name: "IPv6/PLAIN", addr: env.Submission6, wantAuth: smtpc.AuthPlain,
			opts: func(o *smtpc.Options) { o.TLS, o.Auth, o.AllowPlaintextAuth = smtpc.TLSOff, smtpc.AuthPlain, true }},
		{name: "port25/no-auth", addr: env.SMTP, wantAuth: smtpc.AuthNone,
			opts: func(o *smtpc.Options) { o.TLS, o.Username, o.Password = smtpc.TLSOff, "", "" }},
		{name: "PLAIN/5MiB", addr: env.Submission, wantAuth: smtpc.AuthPlain, bodySize: 5 << 20,
			opts: func(o *smtpc.Options) { o.TLS, o.Auth, o.AllowPlaintextAuth = smtpc.TLSOff, smtpc.AuthPlain, true }},
		// Postfix offers CHUNKING: the message goes in BDAT chunks.
		{name: "BDAT", addr: env.Submission, wantAuth: smtpc.AuthPlain, wantBDAT: true,
			opts: func(o *smtpc.Options) {
				o.TLS, o.Auth, o.AllowPlaintextAuth, o.Chunking = smtpc.TLSOff, smtpc.AuthPlain, true, true
			}},
		{name: "STARTTLS+BDAT/5MiB", addr: env.Submission, wantAuth: smtpc.AuthPlain, wantTLS: true, wantBDAT: true, bodySize: 5 << 20,
			opts: func(o *smtpc.Options) { o.TLS, o.Auth, o.Chunking = smtpc.TLSRequired, smtpc.AuthPlain, true }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u := env.NewUser(t)
			o := boardSMTP(env, b, tt.addr, u)
			tt.opts(&o)
			var transcript bytes.Buffer
			o.Transcript = &transcript
			c, err := smtpc.Create(o)
			if err != nil {
				t.Fatalf("smtpc.Create = %v", err)
			}
			defer c.Delete()
			body := []byte("hello from the board\r\n.leading dot line\r\n.\r\nbye\r\n")
			if tt.bodySize > 0 {
				body = bigBody(tt.bodySize)
			}
			want := crlfToLF(body)
			if o.Profile == smtpc.ProfileNetX {
				// NetX Duo sends the body verbatim (no dot-stuffing), then
				// "\r\n.\r\n": a body without dot lines and without a final
				// CRLF arrives intact (smtpc's doc.go table). A few KiB, so
				// it goes in several of NetX's payload-40 chunks.
				body = netxCleanBody()
				want = crlfToLF(append(body, "\r\n"...))
			}
			subject := "board " + tt.name
			ctx, cancel := context.WithTimeout(context.Background(), 2*sessionTimeout)
			defer cancel()
			res, err := c.MailSend(ctx, u.Addr, smtpc.PriorityNormal, subject, body)
			if err != nil {
				t.Fatalf("MailSend() = %v\ntranscript:\n%s", err, transcript.Bytes())
			}
			if !res.Accepted || res.Auth != tt.wantAuth || res.TLS != tt.wantTLS || res.Recipients != 1 {
				t.Errorf("MailSend() = %+v, want accepted, auth %v, TLS %v, 1 recipient", res, tt.wantAuth, tt.wantTLS)
			}
			if sent := bytes.Contains(transcript.Bytes(), []byte("\nC: BDAT ")); sent != tt.wantBDAT {
				t.Errorf("BDAT in the transcript: %v, want %v\n%s", sent, tt.wantBDAT, transcript.Bytes())
			}
			got := env.WaitMail(t, u, subject)
			if !bytes.Equal(got.Body(), want) {
				t.Errorf("delivered body: %d bytes, want %d (first difference at %d)", len(got.Body()), len(want), firstDiff(got.Body(), want))
			}
		})
	}
}

// netxCleanBody is a body NetX Duo sends correctly: CRLF lines, none
// starting with '.', no final CRLF (NetX's "\r\n.\r\n" ends the last
// line), long enough for several body packets.
func netxCleanBody() []byte {
	var b bytes.Buffer
	b.WriteString("hello from the board\r\n")
	for i := range 64 {
		fmt.Fprintf(&b, "line %02d: no dot lines, so NetX's unstuffed body arrives as sent\r\n", i)
	}
	b.WriteString("bye")
	return b.Bytes()
}

// TestBoardSMTPNetXDotLines shows, against real Postfix, the defect
// ProfileNetX reproduces: NetX Duo does not dot-stuff the body
// (nxd_smtp_client.c 2795-2837). The server drops the leading dot of
// ".leading dot line" and takes the line "." for the end of the message, so
// the mail is delivered truncated there; the next body line ("-- ", a
// signature separator) is a non-SMTP command to Postfix, which answers 221
// and disconnects in the same flush as the 250. NetX has the 250 (the mail
// counts as accepted), then fails on QUIT with the transport status,
// NX_NOT_CONNECTED, as nx_smtp_mail_send returns it (from the QUIT send when
// Postfix's close met NetX's unread "\r\n.\r\n" and became a RST, else from
// the receive after its FIN). The default profile delivers the same body
// byte-exact.
func TestBoardSMTPNetXDotLines(t *testing.T) {
	env := startEnv(t)
	b := env.NewBoard(t, boardtest.Options{})
	body := []byte("hello from the board\r\n.leading dot line\r\n.\r\n-- \r\nsent by the board\r\n")
	for _, tt := range []struct {
		name string
		netx bool
		want []byte // the body in the Maildir
	}{
		{name: "default-profile", want: crlfToLF(body)},
		{name: "NetX-profile", netx: true, want: []byte("hello from the board\nleading dot line\n")},
	} {
		t.Run(tt.name, func(t *testing.T) {
			u := env.NewUser(t)
			o := boardSMTP(env, b, env.Submission, u)
			o.TLS, o.Auth, o.AllowPlaintextAuth = smtpc.TLSOff, smtpc.AuthPlain, true
			if tt.netx {
				o.Profile = smtpc.ProfileNetX
			}
			var transcript bytes.Buffer
			o.Transcript = &transcript
			c, err := smtpc.Create(o)
			if err != nil {
				t.Fatalf("smtpc.Create = %v", err)
			}
			defer c.Delete()
			subject := "board dot lines " + tt.name
			ctx, cancel := context.WithTimeout(context.Background(), 2*sessionTimeout)
			defer cancel()
			res, err := c.MailSend(ctx, u.Addr, smtpc.PriorityNormal, subject, body)
			if tt.netx {
				if !errors.Is(err, nx.ErrNotConnected) || !res.Accepted {
					t.Fatalf("MailSend() = %v (accepted %v), want NX_NOT_CONNECTED after an accepted mail\ntranscript:\n%s",
						err, res.Accepted, transcript.Bytes())
				}
				t.Logf("MailSend() = %v (accepted)", err)
				if !bytes.Contains(transcript.Bytes(), []byte("S: 221 ")) {
					t.Errorf("transcript has no 221 from Postfix for the body line after \".\":\n%s", transcript.Bytes())
				}
			} else if err != nil || !res.Accepted {
				t.Fatalf("MailSend() = %+v, %v; want accepted\ntranscript:\n%s", res, err, transcript.Bytes())
			}
			got := env.WaitMail(t, u, subject)
			if !bytes.Equal(got.Body(), tt.want) {
				t.Errorf("delivered body %q, want %q", got.Body(), tt.want)
			}
		})
	}
}

func TestBoardSMTPRefused(t *testing.T) {
	env := startEnv(t)
	b := env.NewBoard(t, boardtest.Options{})
	tests := []struct {
		name     string
		opts     func(o *smtpc.Options, u User)
		to       func(u User) string
		wantCode int // *smtpc.ReplyError code; 0 = check wantErr
		wantErr  error
	}{
		{name: "wrong-password", wantCode: 535,
			opts: func(o *smtpc.Options, u User) { o.TLS, o.AllowPlaintextAuth, o.Password = smtpc.TLSOff, true, "wrong" }},
		{name: "no-auth-on-submission", wantCode: 554,
			opts: func(o *smtpc.Options, u User) { o.TLS, o.Username, o.Password = smtpc.TLSOff, "", "" }},
		{name: "foreign-recipient", wantCode: 550, to: func(User) string { return "someone@elsewhere.test" },
			opts: func(o *smtpc.Options, u User) { o.TLS, o.AllowPlaintextAuth = smtpc.TLSOff, true }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u := env.NewUser(t)
			o := boardSMTP(env, b, env.Submission, u)
			tt.opts(&o, u)
			c, err := smtpc.Create(o)
			if err != nil {
				t.Fatalf("smtpc.Create = %v", err)
			}
			defer c.Delete()
			to := u.Addr
			if tt.to != nil {
				to = tt.to(u)
			}
			ctx, cancel := context.WithTimeout(context.Background(), sessionTimeout)
			defer cancel()
			res, err := c.MailSend(ctx, to, smtpc.PriorityNormal, "refused "+tt.name, []byte("x\r\n"))
			if res.Accepted {
				t.Fatalf("MailSend() accepted: %+v", res)
			}
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Errorf("MailSend() = %v, want %v", err, tt.wantErr)
				}
				return
			}
			var re *smtpc.ReplyError
			if !errors.As(err, &re) || re.Code != tt.wantCode {
				t.Errorf("MailSend() = %v, want a reply error %d", err, tt.wantCode)
			}
		})
	}
}

func TestBoardPOP3(t *testing.T) {
	env := startEnv(t)
	b := env.NewBoard(t, boardtest.Options{IPv6: true})
	tests := []struct {
		name     string
		addr     netip.AddrPort
		opts     func(o *pop3c.Options)
		wantAuth string // AuthMethod(), checked when not ""
		netx     bool   // ProfileNetX: no UIDL, no TOP
	}{
		{name: "USER-PASS", addr: env.POP3, opts: func(o *pop3c.Options) { o.Auth = pop3c.AuthUserPass }},
		{name: "AUTH-PLAIN", addr: env.POP3, opts: func(o *pop3c.Options) { o.Auth = pop3c.AuthPlain }},
		{name: "APOP", addr: env.POP3, opts: func(o *pop3c.Options) { o.Auth = pop3c.AuthAPOP }},
		{name: "STLS", addr: env.POP3, opts: func(o *pop3c.Options) { o.TLS, o.AllowPlaintextAuth = pop3c.TLSRequired, false }},
		{name: "NetX-profile/APOP", addr: env.POP3, netx: true, opts: func(o *pop3c.Options) { o.Profile, o.Auth = pop3c.ProfileNetX, pop3c.AuthAPOP }},
		{name: "IPv6/USER-PASS", addr: env.POP36, opts: func(o *pop3c.Options) { o.Auth = pop3c.AuthUserPass }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u := env.NewUser(t)
			env.Seed(t, u, seedMessages...)
			o := pop3c.Options{IP: b.IP, Server: tt.addr.Addr(), Port: tt.addr.Port(), Name: u.Name, Password: u.Password, TLSConfig: env.TLSConfig(),
				TLS: pop3c.TLSOff, AllowPlaintextAuth: true}
			if tt.opts != nil {
				tt.opts(&o)
			}
			var transcript bytes.Buffer
			o.Transcript = &transcript
			ctx, cancel := context.WithTimeout(context.Background(), 2*sessionTimeout)
			defer cancel()
			c, err := pop3c.Create(ctx, o)
			if err != nil {
				t.Fatalf("pop3c.Create = %v\ntranscript:\n%s", err, transcript.Bytes())
			}
			defer c.Delete(ctx)
			t.Logf("logged in with %s", c.AuthMethod())

			var total int64
			for _, m := range seedMessages {
				total += int64(len(m))
			}
			n, size, err := c.MailItemsGet(ctx)
			if err != nil || n != len(seedMessages) || size != total {
				t.Fatalf("MailItemsGet() = %d, %d, %v; want %d, %d", n, size, err, len(seedMessages), total)
			}
			for i, m := range seedMessages {
				var got bytes.Buffer
				if _, err := c.RetrTo(ctx, i+1, &got); err != nil {
					t.Fatalf("RetrTo(%d) = %v", i+1, err)
				}
				if !bytes.Equal(got.Bytes(), m) {
					t.Errorf("RetrTo(%d) = %q, want %q", i+1, got.Bytes(), m)
				}
			}
			if !tt.netx {
				ids, err := c.UIDL(ctx)
				if err != nil || len(ids) != len(seedMessages) {
					t.Errorf("UIDL() = %v, %v; want %d ids", ids, err, len(seedMessages))
				}
				var top bytes.Buffer
				if _, err := c.TopTo(ctx, 3, 0, &top); err != nil {
					t.Errorf("TopTo(3, 0) = %v", err)
				}
				head, _, _ := bytes.Cut(seedMessages[2], []byte("\r\n\r\n"))
				if want := string(head) + "\r\n\r\n"; top.String() != want {
					t.Errorf("TopTo(3, 0) = %q, want %q", top.String(), want)
				}
			}
			if err := c.Quit(ctx); err != nil {
				t.Errorf("Quit() = %v", err)
			}
			if tt.name == "STLS" {
				if _, ok := c.TLSConnectionState(); !ok {
					t.Errorf("TLSConnectionState() ok = false after STLS")
				}
			}
			if strings.Contains(tt.name, "APOP") && c.AuthMethod() != "APOP" {
				t.Errorf("AuthMethod() = %q, want APOP", c.AuthMethod())
			}
		})
	}
}

func TestBoardPOP3Refused(t *testing.T) {
	env := startEnv(t)
	b := env.NewBoard(t, boardtest.Options{})
	u := env.NewUser(t)
	for _, apop := range []bool{false, true} {
		name := map[bool]string{false: "PASS", true: "APOP"}[apop]
		t.Run(name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), sessionTimeout)
			defer cancel()
			auth := map[bool]pop3c.AuthMethod{false: pop3c.AuthUserPass, true: pop3c.AuthAPOP}[apop]
			c, err := pop3c.Create(ctx, pop3c.Options{IP: b.IP, Server: env.HostAddr, Name: u.Name, Password: "wrong", Auth: auth,
				TLS: pop3c.TLSOff, AllowPlaintextAuth: true})
			if err == nil {
				c.Delete(ctx)
				t.Fatalf("pop3c.Create(wrong password) = nil error")
			}
			var se *pop3c.ReplyError
			if !errors.As(err, &se) {
				t.Errorf("pop3c.Create(wrong password) = %v, want a *pop3c.ReplyError", err)
			}
		})
	}
}

// TestBoardSessionsOnTheWire captures tap0 while the board sends and fetches a mail,
// and checks with tshark that the commands went from 198.51.100.2 on the TAP.
func TestBoardSessionsOnTheWire(t *testing.T) {
	env := startEnv(t)
	b := env.NewBoard(t, boardtest.Options{})
	capture := env.StartCapture(t, env.TAP, "tcp port 587 or tcp port 110")
	u := env.NewUser(t)
	ctx, cancel := context.WithTimeout(context.Background(), sessionTimeout)
	defer cancel()

	o := boardSMTP(env, b, env.Submission, u)
	o.TLS, o.Auth, o.AllowPlaintextAuth = smtpc.TLSOff, smtpc.AuthLogin, true
	sc, err := smtpc.Create(o)
	if err != nil {
		t.Fatalf("smtpc.Create = %v", err)
	}
	defer sc.Delete()
	if _, err := sc.MailSend(ctx, u.Addr, smtpc.PriorityNormal, "on the wire", []byte("captured\r\n")); err != nil {
		t.Fatalf("MailSend() = %v", err)
	}
	env.WaitMail(t, u, "on the wire")

	pc, err := pop3c.Create(ctx, pop3c.Options{IP: b.IP, Server: env.HostAddr, Name: u.Name, Password: u.Password, Auth: pop3c.AuthUserPass,
		TLS: pop3c.TLSOff, AllowPlaintextAuth: true})
	if err != nil {
		t.Fatalf("pop3c.Create = %v", err)
	}
	defer pc.Delete(ctx)
	if _, err := pc.RetrTo(ctx, 1, &bytes.Buffer{}); err != nil {
		t.Fatalf("RetrTo(1) = %v", err)
	}
	if err := pc.Quit(ctx); err != nil {
		t.Fatalf("Quit() = %v", err)
	}

	path := capture.Stop(t)
	rows := env.Tshark(t, path, "smtp.req || pop.request", []string{"smtp.req.command", "pop.request.command", "ip.src"})
	// The board's own pcap (driver.Capture) must decode the same way.
	own := env.Tshark(t, b.FlushPcap(t), "smtp.req || pop.request", []string{"smtp.req.command", "pop.request.command", "ip.src"})
	ownSMTP, ownPOP := countValues(column(own, 0)), countValues(column(own, 1))
	for _, want := range []string{"EHLO", "AUTH", "MAIL", "RCPT", "DATA", "QUIT"} {
		if ownSMTP[want] == 0 {
			t.Errorf("tshark on the board's pcap %s: smtp.req.command = %v, missing %s", b.Pcap, ownSMTP, want)
		}
	}
	for _, want := range []string{"USER", "PASS", "RETR", "QUIT"} {
		if ownPOP[want] == 0 {
			t.Errorf("tshark on the board's pcap %s: pop.request.command = %v, missing %s", b.Pcap, ownPOP, want)
		}
	}
	smtpCmds, popCmds := countValues(column(rows, 0)), countValues(column(rows, 1))
	for _, want := range []string{"EHLO", "AUTH", "MAIL", "RCPT", "DATA", "QUIT"} {
		if smtpCmds[want] == 0 {
			t.Errorf("tshark on %s: smtp.req.command = %v, missing %s", env.TAP, smtpCmds, want)
		}
	}
	for _, want := range []string{"USER", "PASS", "RETR", "QUIT"} {
		if popCmds[want] == 0 {
			t.Errorf("tshark on %s: pop.request.command = %v, missing %s", env.TAP, popCmds, want)
		}
	}
	if srcs := countValues(column(rows, 2)); len(srcs) != 1 || srcs[b.Addr.String()] == 0 {
		t.Errorf("tshark on %s: ip.src of commands = %v, want only %s", env.TAP, srcs, b.Addr)
	}
}

// TestBoardSMTPSeveralRecipients sends one mail to three mailboxes through
// Postfix (To, Cc and Bcc) with STARTTLS, and checks each Maildir got it and
// that Bcc is not in the delivered header.
func TestBoardSMTPSeveralRecipients(t *testing.T) {
	env := startEnv(t)
	b := env.NewBoard(t, boardtest.Options{})
	to, cc, bcc := env.NewUser(t), env.NewUser(t), env.NewUser(t)
	o := boardSMTP(env, b, env.Submission, to)
	o.TLS, o.Auth = smtpc.TLSRequired, smtpc.AuthPlain
	c, err := smtpc.Create(o)
	if err != nil {
		t.Fatalf("smtpc.Create = %v", err)
	}
	defer c.Delete()
	ctx, cancel := context.WithTimeout(context.Background(), 2*sessionTimeout)
	defer cancel()
	body := bigBody(64 << 10)
	res, err := c.Send(ctx, &smtpc.Message{To: []string{to.Addr}, Cc: []string{cc.Addr}, Bcc: []string{bcc.Addr},
		Subject: "three recipients", Body: bytes.NewReader(body), Size: int64(len(body))})
	if err != nil || !res.Accepted || res.Recipients != 3 || !res.TLS {
		t.Fatalf("Send(3 recipients) = %+v, %v; want accepted over TLS by 3", res, err)
	}
	for _, u := range []User{to, cc, bcc} {
		got := env.WaitMail(t, u, "three recipients")
		if !bytes.Equal(got.Body(), crlfToLF(body)) {
			t.Errorf("mailbox %s: body %d bytes, want %d", u.Name, len(got.Body()), len(body))
		}
		head, _, _ := bytes.Cut(got.Data, []byte("\n\n"))
		for _, line := range bytes.Split(head, []byte("\n")) {
			if !(bytes.HasPrefix(line, []byte("To:")) || bytes.HasPrefix(line, []byte("Cc:")) || bytes.HasPrefix(line, []byte("Bcc:"))) {
				continue
			}
			if bytes.HasPrefix(line, []byte("Bcc:")) || bytes.Contains(line, []byte(bcc.Addr)) {
				t.Errorf("mailbox %s: the Bcc address appears in the header: %q", u.Name, line)
			}
		}
	}
}
