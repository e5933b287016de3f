package smtpc

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/simboard/simboard/boardtest"
	"github.com/simboard/simboard/mailhost"
	"github.com/simboard/simboard/netstack"
	"github.com/simboard/simboard/nx"
	"github.com/simboard/simboard/packetpool"
)

// hostEnv is a client board and a server board on one wire, the server
// running the built-in mail host on ports 25 and (with TLS) 465.
type hostEnv struct {
	cli, srv *boardtest.Board
	host     *mailhost.Host
	roots    *x509.CertPool // trusts the host's certificate
}

type envOptions struct {
	host        mailhost.Options
	tls         bool
	cli, srv    boardtest.Options
	seed        int64
	rstListener bool // connections honour SetLinger(0) with a real RST
}

var testUsers = map[string]string{"alice": "secret", "bob": "hunter2", "carol": "pw"}

func newHostEnv(t *testing.T, o envOptions) *hostEnv {
	t.Helper()
	boardtest.CheckGoroutines(t)
	w := boardtest.NewWire(t, o.seed)
	e := &hostEnv{}
	e.srv = boardtest.NewBoard(t, w, "server", 1, o.srv)
	e.cli = boardtest.NewBoard(t, w, "client", 2, o.cli)
	if o.host.Users == nil {
		o.host.Users = testUsers
	}
	if o.host.Domain == "" {
		o.host.Domain = "mail.example.test"
	}
	if o.tls {
		cert, roots, err := mailhost.SelfSigned("mail.example.test", e.srv.Addr.String())
		if err != nil {
			t.Fatalf("SelfSigned() = %v", err)
		}
		o.host.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
		e.roots = roots
	}
	h, err := mailhost.New(o.host)
	if err != nil {
		t.Fatalf("mailhost.New() = %v", err)
	}
	e.host = h
	var wg sync.WaitGroup
	serve := func(port uint16, fn func(net.Listener) error) {
		ln, err := e.srv.IP.ListenTCP(port)
		if err != nil {
			t.Fatalf("ListenTCP(%d) = %v", port, err)
		}
		var l net.Listener = ln
		if o.rstListener {
			l = rstListener{ln}
		}
		wg.Go(func() { _ = fn(l) })
	}
	serve(25, h.ServeSMTP)
	if o.tls {
		serve(465, h.ServeSMTPS)
	}
	t.Cleanup(func() {
		_ = h.Close()
		wg.Wait()
	})
	return e
}

// rstListener hands out connections whose SetLinger(0) makes Close send a
// TCP RST, so the mail host's reset fault is a real reset on the board.
type rstListener struct{ net.Listener }

func (l rstListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &rstConn{Conn: c.(*netstack.Conn)}, nil
}

type rstConn struct {
	*netstack.Conn
	mu  sync.Mutex
	rst bool
}

func (c *rstConn) SetLinger(sec int) error {
	c.mu.Lock()
	c.rst = sec == 0
	c.mu.Unlock()
	return nil
}

func (c *rstConn) Close() error {
	c.mu.Lock()
	rst := c.rst
	c.mu.Unlock()
	if rst {
		_ = c.Socket().Disconnect(context.Background(), nx.NoWait)
	}
	return c.Conn.Close()
}

func (e *hostEnv) options() Options {
	return Options{
		IP: e.cli.IP, Pool: e.cli.Pool, From: "board@example.com", ClientDomain: "board.example.com",
		ServerAddr: e.srv.Addr, Username: "alice", Password: "secret", Auth: AuthNone, TLS: TLSOff,
	}
}

func (e *hostEnv) client(t *testing.T, o Options) *Client {
	t.Helper()
	c, err := Create(o)
	if err != nil {
		t.Fatalf("Create() = %v", err)
	}
	t.Cleanup(func() { _ = c.Delete() })
	return c
}

// expected is what the host must store for msg sent by a client with cfg:
// the header as the client builds it, then the normalised body.
func expected(t *testing.T, o Options, msg *Message, body []byte) []byte {
	t.Helper()
	hdr, err := buildHeader(nil, headerSpec{from: o.From, to: msg.To, cc: msg.Cc, subject: msg.Subject, date: msg.Date,
		messageID: msg.MessageID, priority: msg.Priority, contentType: msg.ContentType, netx: o.Profile == ProfileNetX})
	if err != nil {
		t.Fatalf("buildHeader() = %v", err)
	}
	return append(hdr, normalise(body)...)
}

func lastReceived(t *testing.T, h *mailhost.Host) mailhost.Envelope {
	t.Helper()
	r := h.Store().Received()
	if len(r) == 0 {
		t.Fatal("the mail host received no mail")
	}
	return r[len(r)-1]
}

func diffAt(a, b []byte) string {
	i := 0
	for i < len(a) && i < len(b) && a[i] == b[i] {
		i++
	}
	return fmt.Sprintf("lengths %d vs %d, first difference at %d: %q vs %q", len(a), len(b), i,
		a[i:min(len(a), i+40)], b[i:min(len(b), i+40)])
}

func TestE2EAuthMechanisms(t *testing.T) {
	for _, tt := range []struct {
		mech string
		auth AuthType
		pass string
	}{
		{mailhost.MechPlain, AuthPlain, "secret"}, {mailhost.MechLogin, AuthLogin, "secret"},
		{mailhost.MechCRAMMD5, AuthCRAMMD5, "secret"}, {mailhost.MechXOAUTH2, AuthXOAUTH2, "secret"},
	} {
		t.Run(tt.mech, func(t *testing.T) {
			e := newHostEnv(t, envOptions{host: mailhost.Options{AuthMechanisms: []string{tt.mech}, AllowInsecureAuth: true, RequireAuth: true}})
			o := e.options()
			o.Auth, o.Password, o.AllowPlaintextAuth = tt.auth, tt.pass, true
			c := e.client(t, o)
			msg := &Message{To: []string{"bob@example.com"}, Subject: "auth " + tt.mech, Body: strings.NewReader("hello\n"), Date: testDate, MessageID: "m1@example.com"}
			res, err := c.Send(context.Background(), msg)
			if err != nil {
				t.Fatalf("Send() = %v", err)
			}
			env := lastReceived(t, e.host)
			if res.Auth != tt.auth || env.AuthMech != tt.mech || env.AuthUser != "alice" {
				t.Errorf("auth = %v, host saw mech %q user %q; want %s as alice", res.Auth, env.AuthMech, env.AuthUser, tt.mech)
			}
			if want := expected(t, o, msg, []byte("hello\n")); !bytes.Equal(env.Data, want) {
				t.Errorf("stored message differs: %s", diffAt(env.Data, want))
			}
			boardtest.CheckBalanced(t, e.cli.Pool, e.cli.RxPool)
		})
	}
	t.Run("wrong password", func(t *testing.T) {
		e := newHostEnv(t, envOptions{host: mailhost.Options{AllowInsecureAuth: true, RequireAuth: true}})
		o := e.options()
		o.Auth, o.Password, o.AllowPlaintextAuth = AuthPlain, "wrong", true
		_, err := e.client(t, o).MailSend(context.Background(), "bob@example.com", PriorityNormal, "x", []byte("x"))
		var re *ReplyError
		if !errors.Is(err, ErrAuthReply) || !errors.As(err, &re) || re.Code != 535 {
			t.Fatalf("MailSend(wrong password) = %v, want NX_SMTP_AUTH_REPLY_ERROR with 535", err)
		}
	})
	t.Run("NetX profile against a CRAM-MD5-only server", func(t *testing.T) {
		e := newHostEnv(t, envOptions{host: mailhost.Options{AuthMechanisms: []string{mailhost.MechCRAMMD5}, AllowInsecureAuth: true, RequireAuth: true}})
		o := e.options()
		o.Auth, o.Profile = AuthCRAMMD5, ProfileNetX // coerced to PLAIN, as nxd_smtp_client_create does
		_, err := e.client(t, o).MailSend(context.Background(), "bob@example.com", PriorityNormal, "x", []byte("x"))
		var re *ReplyError
		if !errors.Is(err, ErrAuthReply) || !errors.As(err, &re) || !re.Permanent() {
			t.Fatalf("MailSend(netx, CRAM-MD5 only) = %v, want NX_SMTP_AUTH_REPLY_ERROR with a 5xx", err)
		}
		if n := len(e.host.Store().Received()); n != 0 {
			t.Errorf("host received %d mails, want 0", n)
		}
	})
}

func TestE2ETLS(t *testing.T) {
	e := newHostEnv(t, envOptions{tls: true, host: mailhost.Options{RequireAuth: true}})
	body := []byte("over TLS\n")
	t.Run("STARTTLS trusted", func(t *testing.T) {
		o := e.options()
		o.TLS, o.Auth, o.ServerHost = TLSRequired, AuthPlain, "mail.example.test"
		o.TLSConfig = &tls.Config{RootCAs: e.roots}
		res, err := e.client(t, o).MailSend(context.Background(), "bob@example.com", PriorityHigh, "tls", body)
		if err != nil {
			t.Fatalf("MailSend(STARTTLS) = %v", err)
		}
		env := lastReceived(t, e.host)
		if !res.TLS || !env.TLS || env.AuthUser != "alice" || !bytes.HasSuffix(env.Data, []byte("\r\n\r\nover TLS\r\n")) {
			t.Errorf("result TLS %v, host TLS %v user %q data %q", res.TLS, env.TLS, env.AuthUser, env.Data)
		}
		boardtest.CheckBalanced(t, e.cli.Pool, e.cli.RxPool)
	})
	t.Run("STARTTLS refused certificate", func(t *testing.T) {
		before := len(e.host.Store().Received())
		o := e.options()
		o.TLS, o.Auth, o.ServerHost = TLSRequired, AuthPlain, "mail.example.test" // no RootCAs: the self-signed certificate is not trusted
		c := e.client(t, o)
		for i := 0; i < 2; i++ { // twice: the client stays usable (and fails the same way)
			_, err := c.MailSend(context.Background(), "bob@example.com", PriorityNormal, "tls", body)
			var uerr x509.UnknownAuthorityError
			if !errors.Is(err, ErrTransmit) || !errors.As(err, &uerr) {
				t.Fatalf("MailSend(untrusted) #%d = %v, want NX_SMTP_TRANSMIT_ERROR with x509.UnknownAuthorityError", i, err)
			}
		}
		if n := len(e.host.Store().Received()); n != before {
			t.Errorf("host received %d new mails, want 0", n-before)
		}
		boardtest.CheckBalanced(t, e.cli.Pool, e.cli.RxPool)
	})
	t.Run("wrong server name", func(t *testing.T) {
		o := e.options()
		o.TLS, o.Auth, o.ServerHost = TLSRequired, AuthPlain, "other.example.test"
		o.TLSConfig = &tls.Config{RootCAs: e.roots}
		_, err := e.client(t, o).MailSend(context.Background(), "bob@example.com", PriorityNormal, "tls", body)
		var herr x509.HostnameError
		if !errors.Is(err, ErrTransmit) || !errors.As(err, &herr) {
			t.Fatalf("MailSend(wrong name) = %v, want a hostname error", err)
		}
	})
	t.Run("implicit TLS", func(t *testing.T) {
		o := e.options()
		o.TLS, o.Auth = TLSImplicit, AuthLogin
		o.TLSConfig = &tls.Config{RootCAs: e.roots} // ServerName defaults to the server address (an IP SAN)
		c := e.client(t, o)
		for i := 0; i < 2; i++ { // a new socket per TLS session: the client is reusable
			res, err := c.MailSend(context.Background(), "bob@example.com", PriorityNormal, "smtps", body)
			if err != nil {
				t.Fatalf("MailSend(implicit TLS) #%d = %v", i, err)
			}
			if env := lastReceived(t, e.host); !res.TLS || !env.TLS || env.AuthMech != "LOGIN" || res.Server.Port() != 465 {
				t.Errorf("result %+v, host TLS %v mech %q", res, env.TLS, env.AuthMech)
			}
		}
		boardtest.CheckBalanced(t, e.cli.Pool, e.cli.RxPool)
	})
	t.Run("plaintext AUTH refused, no TLS", func(t *testing.T) {
		o := e.options()
		o.Auth = AuthPlain
		_, err := e.client(t, o).MailSend(context.Background(), "bob@example.com", PriorityNormal, "x", body)
		if !errors.Is(err, ErrPlaintextAuth) {
			t.Fatalf("MailSend(plaintext) = %v, want ErrPlaintextAuth", err)
		}
	})
	t.Run("NetX profile: server offers AUTH only after STARTTLS", func(t *testing.T) {
		o := e.options()
		o.Auth, o.Profile = AuthPlain, ProfileNetX
		_, err := e.client(t, o).MailSend(context.Background(), "bob@example.com", PriorityNormal, "x", body)
		if !errors.Is(err, ErrAuthReply) {
			t.Fatalf("MailSend(netx, no TLS) = %v, want NX_SMTP_AUTH_REPLY_ERROR", err)
		}
	})
}

func TestE2ERecipients(t *testing.T) {
	e := newHostEnv(t, envOptions{})
	o := e.options()
	c := e.client(t, o)
	msg := &Message{To: []string{"alice@example.com"}, Cc: []string{"bob@example.com"}, Bcc: []string{"carol@example.com"},
		Subject: "three", Body: strings.NewReader("to three\n"), Date: testDate, MessageID: "three@example.com"}
	res, err := c.Send(context.Background(), msg)
	if err != nil {
		t.Fatalf("Send(three recipients) = %v", err)
	}
	env := lastReceived(t, e.host)
	if res.Recipients != 3 || strings.Join(env.Rcpts, ",") != "alice@example.com,bob@example.com,carol@example.com" || len(env.Mailboxes) != 3 {
		t.Errorf("recipients %d, host rcpts %q mailboxes %q", res.Recipients, env.Rcpts, env.Mailboxes)
	}
	if want := expected(t, o, msg, []byte("to three\n")); !bytes.Equal(env.Data, want) || bytes.Contains(env.Data, []byte("carol")) {
		t.Errorf("stored message %q, want %q (no Bcc)", env.Data, want)
	}
	for _, u := range []string{"alice", "bob", "carol"} {
		if n := len(e.host.Store().Messages(u)); n != 1 {
			t.Errorf("mailbox %s has %d messages, want 1", u, n)
		}
	}
	t.Run("one refused: nothing sent", func(t *testing.T) {
		before := len(e.host.Store().Received())
		_, err := c.Send(context.Background(), &Message{To: []string{"alice@example.com", "nobody@example.com"}, Bcc: []string{"bob@example.com"}, Body: strings.NewReader("x")})
		var re *ReplyError
		if !errors.Is(err, ErrRcptReply) || !errors.As(err, &re) || re.Stage != "RCPT TO:<nobody@example.com>" || re.Code != 550 {
			t.Fatalf("Send(refused recipient) = %v, want NX_SMTP_RCPT_REPLY_ERROR naming nobody@example.com", err)
		}
		if !strings.Contains(err.Error(), "nobody@example.com") {
			t.Errorf("error %q does not name the refused recipient", err)
		}
		if n := len(e.host.Store().Received()); n != before {
			t.Errorf("host received %d mails after a refused recipient, want none", n-before)
		}
	})
	boardtest.CheckBalanced(t, e.cli.Pool, e.cli.RxPool)
}

func TestE2EBodies(t *testing.T) {
	e := newHostEnv(t, envOptions{host: mailhost.Options{MaxMessageBytes: -1}})
	o := e.options()
	c := e.client(t, o)
	payload := e.cli.Pool.PayloadSize() - packetpool.IPv4TCPPacket // data room of one packet of the client's chains
	const mss = 1460
	line := func(n int) []byte { // n octets of text in lines of up to 76
		b := make([]byte, 0, n)
		for i := 0; len(b) < n; i++ {
			if i%77 == 76 || len(b) == n-1 {
				b = append(b, '\n')
			} else {
				b = append(b, byte('a'+i%26))
			}
		}
		return b
	}
	bodies := map[string][]byte{
		"1 octet":             []byte("x"),
		"empty":               {},
		"payload-1":           line(payload - 1),
		"payload":             line(payload),
		"payload+1":           line(payload + 1),
		"mss-1":               line(mss - 1),
		"mss":                 line(mss),
		"mss+1":               line(mss + 1),
		"dots":                []byte(".first\r\n..second\r\n.\r\nmiddle . line\r\n.\r\n.last"),
		"bare LF":             []byte("one\ntwo\n\nthree\n"),
		"bare CR and mixed":   []byte("a\rb\r\nc\nd\r\r\n"),
		"8-bit":               []byte("Grüße aus dem Labor\n"),
		"998 octet line":      append(bytes.Repeat([]byte("y"), 998), '\n'),
		"NetX body (no CRLF)": []byte(netxBody),
	}
	bdat := o
	bdat.Chunking = true
	cb := e.client(t, bdat) // go-smtp offers CHUNKING: this client sends BDAT
	for name, body := range bodies {
		for _, mode := range []string{"MailSend", "Send", "MailSend+BDAT", "Send+BDAT"} {
			t.Run(name+"/"+mode, func(t *testing.T) {
				c := c
				if strings.HasSuffix(mode, "+BDAT") {
					c = cb
				}
				msg := &Message{To: []string{"bob@example.com"}, Subject: name, Date: testDate, MessageID: "b@example.com"}
				var err error
				if strings.HasPrefix(mode, "MailSend") {
					_, err = c.MailSend(context.Background(), "bob@example.com", PriorityNormal, name, body)
				} else {
					msg.Body = bytes.NewReader(body)
					_, err = c.Send(context.Background(), msg)
				}
				if err != nil {
					t.Fatalf("%s(%s) = %v", mode, name, err)
				}
				env := lastReceived(t, e.host)
				want := normalise(body)
				i := bytes.Index(env.Data, []byte("\r\n\r\n"))
				if i < 0 || !bytes.Equal(env.Data[i+4:], want) {
					t.Fatalf("stored body differs: %s", diffAt(env.Data[i+4:], want))
				}
				if strings.HasPrefix(mode, "Send") {
					if full := expected(t, o, msg, body); !bytes.Equal(env.Data, full) {
						t.Errorf("stored message differs: %s", diffAt(env.Data, full))
					}
				}
			})
		}
	}
	boardtest.CheckBalanced(t, e.cli.Pool, e.cli.RxPool)
}

func TestE2E16MiB(t *testing.T) {
	boardtest.SkipVirtual(t, "a 16 MiB bulk transfer: in virtual time each of its ~25,000 frames is a scheduler event (about 3 min per subtest under -race on a loaded 2-core host); the other e2e tests take the mail path in virtual time")
	for _, chunking := range []bool{false, true} {
		t.Run(map[bool]string{false: "DATA", true: "BDAT"}[chunking], func(t *testing.T) {
			e := newHostEnv(t, envOptions{host: mailhost.Options{MaxMessageBytes: -1}})
			o := e.options()
			o.Chunking = chunking
			c := e.client(t, o)
			body := bigBody(16<<20, 1)
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
			defer cancel()
			// A reader body (32 KiB chunks with BDAT) and a slice body
			// (1 MiB chunks).
			msg := &Message{To: []string{"bob@example.com"}, Subject: "16 MiB", Body: bytes.NewReader(body), Date: testDate, MessageID: "big@example.com"}
			res, err := c.Send(ctx, msg)
			if err != nil {
				t.Fatalf("Send(16 MiB) = %v", err)
			}
			env := lastReceived(t, e.host)
			want := expected(t, o, msg, body)
			if !bytes.Equal(env.Data, want) {
				t.Fatalf("stored 16 MiB message differs: %s", diffAt(env.Data, want))
			}
			stuffed := 0
			if !chunking {
				stuffed = bytes.Count(want, []byte("\r\n.")) // DATA doubles leading dots; BDAT does not
			}
			if res.Octets != int64(len(want)+stuffed) {
				t.Errorf("Result.Octets = %d, want %d (message plus %d stuffed dots)", res.Octets, len(want)+stuffed, stuffed)
			}
			if _, err := c.MailSend(ctx, "bob@example.com", PriorityNormal, "16 MiB slice", body); err != nil {
				t.Fatalf("MailSend(16 MiB) = %v", err)
			}
			env = lastReceived(t, e.host)
			i := bytes.Index(env.Data, []byte("\r\n\r\n"))
			if w := normalise(body); i < 0 || !bytes.Equal(env.Data[i+4:], w) {
				t.Fatalf("stored 16 MiB slice body differs: %s", diffAt(env.Data[i+4:], w))
			}
			boardtest.CheckBalanced(t, e.cli.Pool, e.cli.RxPool)
		})
	}
}

// bigBody returns n octets of 76-character lines ending in LF or CRLF, some
// starting with '.', deterministic for seed.
func bigBody(n int, seed byte) []byte {
	b := make([]byte, 0, n)
	for i := 0; len(b) < n; i++ {
		l := 76
		if len(b)+l+2 > n {
			l = max(n-len(b)-2, 0)
		}
		start := len(b)
		for j := 0; j < l; j++ {
			b = append(b, 'A'+byte((i+j+int(seed))%26))
		}
		if i%17 == 0 && l > 0 {
			b[start] = '.'
		}
		if i%3 == 0 {
			b = append(b, '\n')
		} else {
			b = append(b, '\r', '\n')
		}
	}
	return b[:n]
}
