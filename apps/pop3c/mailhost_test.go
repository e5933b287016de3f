package pop3c_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"testing"

	"github.com/simboard/simboard/apps/pop3c"
	"github.com/simboard/simboard/boardtest"
	"github.com/simboard/simboard/mailhost"
	"github.com/simboard/simboard/nx"
)

// mailEnv is the built-in mail host on a peer board: POP3 on 110 and, with
// TLS, POP3S on 995.
type mailEnv struct {
	client, server *boardtest.Board
	host           *mailhost.Host
	roots          *x509.CertPool // trusts the host's self-signed certificate
	transcript     *syncBuffer
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

const (
	mailUser = "alice"
	mailPass = "secret"
)

func newMailEnv(t testing.TB, hopts mailhost.Options, withTLS bool) *mailEnv {
	t.Helper()
	boardtest.CheckGoroutines(t)
	e := &mailEnv{transcript: &syncBuffer{}}
	e.client, e.server = boardtest.Pair(t, boardtest.Options{Debug: true})
	if hopts.Users == nil {
		hopts.Users = map[string]string{mailUser: mailPass}
	}
	hopts.Transcript = e.transcript
	if withTLS {
		cert, roots, err := mailhost.SelfSigned("mail.example.test", e.server.Addr.String())
		mustOK(t, err, "SelfSigned()")
		hopts.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
		e.roots = roots
	}
	h, err := mailhost.New(hopts)
	mustOK(t, err, "mailhost.New()")
	e.host = h
	var wg sync.WaitGroup
	serve := func(port uint16, fn func(net.Listener) error) {
		l, err := e.server.IP.ListenTCP(port)
		mustOK(t, err, "ListenTCP()")
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = fn(l)
		}()
	}
	serve(110, h.ServePOP3)
	if withTLS {
		serve(995, h.ServePOP3S)
	}
	t.Cleanup(func() {
		_ = h.Close()
		wg.Wait()
	})
	return e
}

func (e *mailEnv) deliver(t testing.TB, bodies ...string) {
	t.Helper()
	for _, b := range bodies {
		mustOK(t, e.host.Store().Deliver("sender@example.test", []string{mailUser}, []byte(b)), "Deliver()")
	}
}

func (e *mailEnv) opts() pop3c.Options {
	return pop3c.Options{AllowPlaintextAuth: true, IP: e.client.IP, Server: e.server.Addr, Name: mailUser, Password: mailPass}
}

func TestMailhostLogin(t *testing.T) {
	tests := []struct {
		name  string
		host  mailhost.Options
		opts  func(o *pop3c.Options)
		auth  string
		cmds  []string // commands the host must have seen, in order
		want  error
		wantC string // ReplyError.Stage when want is set
	}{
		{"APOP with a real digest", mailhost.Options{AllowInsecureAuth: true}, func(o *pop3c.Options) { o.Auth = pop3c.AuthAPOP },
			"APOP", []string{"CAPA", "APOP"}, nil, ""},
		{"APOP refused falls back to USER/PASS when asked", mailhost.Options{AllowInsecureAuth: true, APOP: mailhost.APOPRefuse}, func(o *pop3c.Options) { o.Auth, o.APOPFallback = pop3c.AuthAPOP, true },
			"USER", []string{"CAPA", "APOP", "USER", "PASS"}, nil, ""},
		{"APOP refused is final by default", mailhost.Options{AllowInsecureAuth: true, APOP: mailhost.APOPRefuse}, func(o *pop3c.Options) { o.Auth = pop3c.AuthAPOP },
			"", []string{"CAPA", "APOP"}, pop3c.ErrServerErrorStatus, "APOP"},
		{"APOP without timestamp falls back when asked", mailhost.Options{AllowInsecureAuth: true, APOP: mailhost.APOPOff}, func(o *pop3c.Options) { o.Auth, o.APOPFallback = pop3c.AuthAPOP, true },
			"USER", []string{"CAPA", "USER", "PASS"}, nil, ""},
		{"auto picks APOP", mailhost.Options{AllowInsecureAuth: true}, nil,
			"APOP", []string{"CAPA", "APOP"}, nil, ""},
		{"APOP in the NetX profile", mailhost.Options{}, func(o *pop3c.Options) { o.Auth = pop3c.AuthAPOP; o.Profile = pop3c.ProfileNetX; o.Port = 110 },
			"APOP", []string{"APOP"}, nil, ""},
		{"USER/PASS", mailhost.Options{AllowInsecureAuth: true}, func(o *pop3c.Options) { o.Auth = pop3c.AuthUserPass },
			"USER", []string{"CAPA", "USER", "PASS"}, nil, ""},
		{"auto picks AUTH PLAIN without a timestamp", mailhost.Options{AllowInsecureAuth: true, APOP: mailhost.APOPOff}, nil,
			"AUTH PLAIN", []string{"CAPA", "AUTH"}, nil, ""},
		{"AUTH PLAIN", mailhost.Options{AllowInsecureAuth: true}, func(o *pop3c.Options) { o.Auth = pop3c.AuthPlain },
			"AUTH PLAIN", []string{"CAPA", "AUTH"}, nil, ""},
		{"wrong password", mailhost.Options{AllowInsecureAuth: true}, func(o *pop3c.Options) { o.Auth = pop3c.AuthUserPass; o.Password = "wrong" },
			"", []string{"CAPA", "USER", "PASS"}, pop3c.ErrServerErrorStatus, "PASS"},
		{"wrong password with APOP", mailhost.Options{AllowInsecureAuth: true}, func(o *pop3c.Options) { o.Auth = pop3c.AuthAPOP; o.Password = "wrong" },
			"", []string{"CAPA", "APOP"}, pop3c.ErrServerErrorStatus, "APOP"},
		{"wrong password with APOP and fallback", mailhost.Options{AllowInsecureAuth: true}, func(o *pop3c.Options) { o.Auth, o.APOPFallback = pop3c.AuthAPOP, true; o.Password = "wrong" },
			"", []string{"CAPA", "APOP", "USER", "PASS"}, pop3c.ErrServerErrorStatus, "PASS"},
		{"wrong password with AUTH PLAIN", mailhost.Options{AllowInsecureAuth: true}, func(o *pop3c.Options) { o.Auth = pop3c.AuthPlain; o.Password = "wrong" },
			"", []string{"CAPA", "AUTH"}, pop3c.ErrServerErrorStatus, "AUTH"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newMailEnv(t, tt.host, false)
			o := e.opts()
			if tt.opts != nil {
				tt.opts(&o)
			}
			c, err := pop3c.Create(context.Background(), o)
			if tt.want != nil {
				var se *pop3c.ReplyError
				if c != nil || !errors.Is(err, tt.want) || !errors.As(err, &se) || se.Stage != tt.wantC {
					t.Fatalf("Create() = %v, %v; want nil, *ReplyError{Cmd: %q}", c, err, tt.wantC)
				}
			} else {
				mustOK(t, err, "Create()")
				defer deleteClient(t, c)
				if got := c.AuthMethod(); got != tt.auth {
					t.Errorf("AuthMethod() = %q, want %q; host transcript:\n%s", got, tt.auth, e.transcript.String())
				}
				mustOK(t, c.Noop(context.Background()), "Noop()")
			}
			if got := hostCommands(e.transcript.String()); !hasPrefix(got, tt.cmds) {
				t.Errorf("host saw commands %q, want them to start with %q", got, tt.cmds)
			}
		})
	}
}

// hostCommands extracts the command verbs from the host's transcript.
func hostCommands(tr string) []string {
	var cmds []string
	for _, line := range strings.Split(tr, "\n") {
		i := strings.Index(line, " C: ")
		if i < 0 {
			continue
		}
		f := strings.Fields(line[i+4:])
		if len(f) > 0 {
			cmds = append(cmds, strings.ToUpper(f[0]))
		}
	}
	return cmds
}

func hasPrefix(got, want []string) bool {
	if len(got) < len(want) {
		return false
	}
	for i := range want {
		if got[i] != want[i] {
			return false
		}
	}
	return true
}

func TestMailhostCommands(t *testing.T) {
	ctx := context.Background()
	e := newMailEnv(t, mailhost.Options{AllowInsecureAuth: true}, false)
	bodies := []string{
		"Subject: one\r\n\r\nfirst body\r\n",
		"Subject: dots\r\n\r\n.leading dot\r\n..two\r\n.\r\nend\r\n",
		"Subject: three\r\n\r\nline 1\r\nline 2\r\nline 3\r\n",
	}
	e.deliver(t, bodies...)
	c, err := pop3c.Create(ctx, e.opts())
	mustOK(t, err, "Create()")
	defer deleteClient(t, c)
	if !c.Capabilities().Has("UIDL") || !c.Capabilities().Has("TOP") {
		t.Errorf("Capabilities() = %v, want UIDL and TOP", c.Capabilities())
	}

	n, size, err := c.MailItemsGet(ctx)
	total := 0
	for _, b := range bodies {
		total += len(b)
	}
	if err != nil || n != 3 || size != int64(total) {
		t.Fatalf("MailItemsGet() = %d, %d, %v; want 3, %d, nil", n, size, err, total)
	}
	for i, b := range bodies {
		if s, err := c.MailItemSizeGet(ctx, i+1); err != nil || s != int64(len(b)) {
			t.Errorf("MailItemSizeGet(%d) = %d, %v; want %d", i+1, s, err, len(b))
		}
	}
	if _, err := c.MailItemSizeGet(ctx, 4); !errors.Is(err, pop3c.ErrInvalidMailItem) {
		t.Errorf("MailItemSizeGet(4) = %v, want ErrInvalidMailItem", err)
	}
	items, err := c.List(ctx)
	if err != nil || len(items) != 3 || items[2].Size != int64(len(bodies[2])) {
		t.Errorf("List() = %v, %v", items, err)
	}
	stored := e.host.Store().Messages(mailUser)
	ids, err := c.UIDL(ctx)
	if err != nil || len(ids) != 3 {
		t.Fatalf("UIDL() = %v, %v", ids, err)
	}
	for i, id := range ids {
		if id.Index != i+1 || id.UID != stored[i].UID {
			t.Errorf("UIDL()[%d] = %+v, want {%d %s}", i, id, i+1, stored[i].UID)
		}
	}
	if uid, err := c.UIDLItem(ctx, 2); err != nil || uid != stored[1].UID {
		t.Errorf("UIDLItem(2) = %q, %v; want %q", uid, err, stored[1].UID)
	}
	var top bytes.Buffer
	if _, err := c.TopTo(ctx, 3, 1, &top); err != nil || top.String() != "Subject: three\r\n\r\nline 1\r\n" {
		t.Errorf("TopTo(3, 1) = %v, %q", err, top.String())
	}
	for i, b := range bodies {
		var buf bytes.Buffer
		n, err := c.RetrTo(ctx, i+1, &buf)
		if err != nil || buf.String() != b || n != int64(len(b)) {
			t.Errorf("RetrTo(%d) = %d, %v, %q; want %q", i+1, n, err, buf.String(), b)
		}
	}
	// MailItemMessageGet leaves out the last line's CRLF, as NetX does.
	_, err = c.MailItemGet(ctx, 2)
	mustOK(t, err, "MailItemGet(2)")
	data, _, err := readAll(t, c, nil)
	if err != nil || string(data) != strings.TrimSuffix(bodies[1], "\r\n") {
		t.Errorf("MailItemMessageGet() data = %q, %v; want %q", data, err, strings.TrimSuffix(bodies[1], "\r\n"))
	}
	mustOK(t, c.MailItemDelete(ctx, 1), "MailItemDelete(1)")
	mustOK(t, c.MailItemDelete(ctx, 2), "MailItemDelete(2)")
	if _, err := c.MailItemGet(ctx, 1); !errors.Is(err, pop3c.ErrServerErrorStatus) {
		t.Errorf("MailItemGet(1) after DELE = %v, want the server's -ERR", err)
	}
	mustOK(t, c.Rset(ctx), "Rset()")
	mustOK(t, c.MailItemDelete(ctx, 3), "MailItemDelete(3)")
	mustOK(t, c.Noop(ctx), "Noop()")
	mustOK(t, c.Quit(ctx), "Quit()")
	left := e.host.Store().Messages(mailUser)
	if len(left) != 2 || string(left[0].Data) != bodies[0] || string(left[1].Data) != bodies[1] {
		t.Errorf("maildrop after RSET, DELE 3, QUIT holds %d messages, want messages 1 and 2", len(left))
	}
}

func TestMailhostTLS(t *testing.T) {
	tests := []struct {
		name    string
		mode    pop3c.TLSMode
		trusted bool
		port    uint16
	}{
		{"STLS required, trusted", pop3c.TLSRequired, true, 110},
		{"STLS opportunistic, trusted", pop3c.TLSOpportunistic, true, 110},
		{"STLS required, refused", pop3c.TLSRequired, false, 110},
		{"implicit, trusted", pop3c.TLSImplicit, true, 995},
		{"implicit, refused", pop3c.TLSImplicit, false, 995},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			// No plaintext logins: only a TLS session can log in.
			e := newMailEnv(t, mailhost.Options{}, true)
			const body = "Subject: tls\r\n\r\n.secret\r\n"
			e.deliver(t, body)
			o := e.opts()
			o.TLS, o.Port = tt.mode, tt.port
			if tt.trusted {
				o.TLSConfig = &tls.Config{RootCAs: e.roots}
			}
			c, err := pop3c.Create(ctx, o)
			if !tt.trusted {
				var cve *tls.CertificateVerificationError
				if c != nil || !errors.As(err, &cve) {
					t.Fatalf("Create() with an untrusted certificate = %v, %v; want *tls.CertificateVerificationError", c, err)
				}
				if cmds := strings.Join(hostCommands(e.transcript.String()), " "); strings.Contains(cmds, "USER") || strings.Contains(cmds, "AUTH") {
					t.Errorf("credentials sent although the certificate was refused:\n%s", e.transcript.String())
				}
				return
			}
			mustOK(t, err, "Create()")
			defer deleteClient(t, c)
			cs, ok := c.TLSConnectionState()
			if !ok || !cs.HandshakeComplete {
				t.Fatalf("TLSConnectionState() = %v, %v; want a completed handshake", cs.HandshakeComplete, ok)
			}
			if c.Capabilities().Has("STLS") {
				t.Errorf("Capabilities() after TLS = %v, want no STLS (CAPA asked again under TLS)", c.Capabilities())
			}
			var buf bytes.Buffer
			if _, err := c.RetrTo(ctx, 1, &buf); err != nil || buf.String() != body {
				t.Errorf("RetrTo(1) over TLS = %v, %q; want %q", err, buf.String(), body)
			}
			mustOK(t, c.Quit(ctx), "Quit()")
		})
	}
}

// bigMessage builds a message of about size bytes with dot-stuffed lines
// (every 7th line starts with '.') and a line of every length mod 97.
func bigMessage(size int) []byte {
	var b bytes.Buffer
	b.WriteString("Subject: big\r\n\r\n")
	for i := 0; b.Len() < size; i++ {
		if i%7 == 0 {
			b.WriteByte('.')
		}
		for j := 0; j < i%97; j++ {
			b.WriteByte(byte('a' + (i+j)%26))
		}
		b.WriteString("\r\n")
	}
	return b.Bytes()
}

func TestMailhostLargeMessage(t *testing.T) {
	if testing.Short() {
		t.Skip("16 MiB transfer; skipped with -short")
	}
	ctx := context.Background()
	e := newMailEnv(t, mailhost.Options{AllowInsecureAuth: true, MaxMessageBytes: -1}, false)
	msg := bigMessage(16 << 20)
	e.deliver(t, string(msg))
	o := e.opts()
	o.Auth = pop3c.AuthUserPass
	c, err := pop3c.Create(ctx, o)
	mustOK(t, err, "Create()")
	defer deleteClient(t, c)
	var buf bytes.Buffer
	buf.Grow(len(msg))
	n, err := c.RetrTo(ctx, 1, &buf)
	if err != nil || n != int64(len(msg)) || !bytes.Equal(buf.Bytes(), msg) {
		t.Fatalf("RetrTo(1) of %d bytes = %d, %v; equal %v", len(msg), n, err, bytes.Equal(buf.Bytes(), msg))
	}
	mustOK(t, c.Quit(ctx), "Quit()")
	deleteClient(t, c) // releases the maildrop lock before the next session

	// The same message with a size limit below it: the client stops at the
	// limit, resets the connection and reports NX_POP3_MAIL_BUFFER_OVERFLOW.
	o.MaxMessageSize = 1 << 20
	c2, err := pop3c.Create(ctx, o)
	mustOK(t, err, "Create(MaxMessageSize 1 MiB)")
	defer deleteClient(t, c2)
	if n, err := c2.RetrTo(ctx, 1, io.Discard); !errors.Is(err, pop3c.ErrMailBufferOverflow) || n > 1<<20 {
		t.Errorf("RetrTo(1) over the limit = %d, %v; want <= 1 MiB, ErrMailBufferOverflow", n, err)
	}
	if err := c2.Noop(ctx); !errors.Is(err, nx.ErrNotConnected) {
		t.Errorf("Noop() after the overflow = %v, want nx.ErrNotConnected", err)
	}
}

// TestMailhostSmallPackets runs on boards whose default pool has 200-byte
// packets, so every reply and segment the client receives is a chain. The
// default profile accepts chains; ProfileNetX rejects a chained reply with
// NX_INVALID_PACKET, as every NetX reply path does: the failure the MCU will
// see with such a pool.
func TestMailhostSmallPackets(t *testing.T) {
	ctx := context.Background()
	boardtest.CheckGoroutines(t)
	client, server := boardtest.Pair(t, boardtest.Options{PayloadSize: 200, Count: 1024, Debug: true})
	// A long domain makes the greeting (and its APOP timestamp) outgrow one
	// 200-byte packet.
	domain := strings.Repeat("x", 60) + "." + strings.Repeat("y", 60) + ".example.test"
	h, err := mailhost.New(mailhost.Options{Users: map[string]string{mailUser: mailPass}, AllowInsecureAuth: true, Domain: domain})
	mustOK(t, err, "mailhost.New()")
	l, err := server.IP.ListenTCP(110)
	mustOK(t, err, "ListenTCP()")
	served := make(chan struct{})
	go func() { _ = h.ServePOP3(l); close(served) }()
	defer func() { _ = h.Close(); <-served }()
	msg := bigMessage(64 << 10)
	mustOK(t, h.Store().Deliver("a@b", []string{mailUser}, msg), "Deliver()")

	o := pop3c.Options{AllowPlaintextAuth: true, IP: client.IP, Server: server.Addr, Name: mailUser, Password: mailPass, Auth: pop3c.AuthAPOP}
	c, err := pop3c.Create(ctx, o)
	mustOK(t, err, "Create()")
	if c.AuthMethod() != "APOP" {
		t.Errorf("AuthMethod() = %q, want APOP (timestamp parsed from a chained greeting)", c.AuthMethod())
	}
	var buf bytes.Buffer
	if _, err := c.RetrTo(ctx, 1, &buf); err != nil || !bytes.Equal(buf.Bytes(), msg) {
		t.Errorf("RetrTo(1) on 200-byte packets = %v, equal %v", err, bytes.Equal(buf.Bytes(), msg))
	}
	mustOK(t, c.Quit(ctx), "Quit()")
	deleteClient(t, c)

	o.Profile, o.Port = pop3c.ProfileNetX, 110
	c, err = pop3c.Create(ctx, o)
	if c == nil || !errors.Is(err, nx.ErrInvalidPacket) {
		t.Errorf("Create(ProfileNetX) with a chained greeting = %v, %v; want the client NetX leaves and nx.ErrInvalidPacket", c, err)
	}
	if c != nil {
		deleteClient(t, c) // nx_pop3_client_delete after the failed create, as on the MCU
	}
}
