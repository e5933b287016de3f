package pop3c

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/simboard/simboard/nx"
	"github.com/simboard/simboard/packetpool"
)

const (
	greetTS   = "+OK POP3 server ready <1896.697170952@dbc.mtview.ca.us>\r\n"
	greetNoTS = "+OK POP3 server ready\r\n"
)

var loginSteps = []step{
	{"USER recipient@domain.com", []string{"+OK\r\n"}},
	{"PASS testpwd", []string{"+OK logged in\r\n"}},
}

func withLogin(steps ...step) []step {
	return append(append([]step{}, loginSteps...), steps...)
}

// netxOpts is the NetX profile (no CAPA), which keeps scripts short.
var netxOpts = Options{Profile: ProfileNetX, Port: 110}

func TestLogin(t *testing.T) {
	tests := []struct {
		name     string
		opts     Options
		greeting string
		steps    []step
		auth     string
	}{
		{"USER/PASS", netxOpts, greetTS, loginSteps, "USER"},
		{"APOP", Options{Profile: ProfileNetX, Port: 110, Auth: AuthAPOP, Name: "mrose", Password: "tanstaaf"}, greetTS, []step{
			{"APOP mrose c4c9334bac560ecc979e58001b3e22fb", []string{"+OK maildrop has 2 messages\r\n"}},
		}, "APOP"},
		{"APOP refused falls back to USER/PASS", Options{Profile: ProfileNetX, Port: 110, Auth: AuthAPOP, Name: "mrose", Password: "tanstaaf"}, greetTS, []step{
			{"APOP mrose c4c9334bac560ecc979e58001b3e22fb", []string{"-ERR permission denied\r\n"}},
			{"USER mrose", []string{"+OK\r\n"}},
			{"PASS tanstaaf", []string{"+OK\r\n"}},
		}, "USER"},
		{"APOP after CAPA", Options{Auth: AuthAPOP, Name: "mrose", Password: "tanstaaf"}, greetTS, []step{
			{"CAPA", []string{"+OK\r\nSASL PLAIN\r\nUSER\r\n.\r\n"}},
			{"APOP mrose c4c9334bac560ecc979e58001b3e22fb", []string{"+OK\r\n"}},
		}, "APOP"},
		{"APOP without timestamp uses USER/PASS", Options{Profile: ProfileNetX, Port: 110, Auth: AuthAPOP}, greetNoTS, loginSteps, "USER"},
		{"AUTH PLAIN when offered", Options{}, greetNoTS, []step{
			{"CAPA", []string{"+OK\r\nUSER\r\nSASL PLAIN LOGIN\r\nUIDL\r\n.\r\n"}},
			{"AUTH PLAIN AHJlY2lwaWVudEBkb21haW4uY29tAHRlc3Rwd2Q=", []string{"+OK\r\n"}},
		}, "AUTH PLAIN"},
		{"AUTH PLAIN continuation", Options{}, greetNoTS, []step{
			{"CAPA", []string{"+OK\r\nSASL PLAIN\r\n.\r\n"}},
			{"AUTH PLAIN AHJlY2lwaWVudEBkb21haW4uY29tAHRlc3Rwd2Q=", []string{"+ \r\n"}},
			{"AHJlY2lwaWVudEBkb21haW4uY29tAHRlc3Rwd2Q=", []string{"+OK\r\n"}},
		}, "AUTH PLAIN"},
		{"DisableSASL", Options{Auth: AuthUserPass}, greetNoTS, append([]step{
			{"CAPA", []string{"+OK\r\nSASL PLAIN\r\n.\r\n"}},
		}, loginSteps...), "USER"},
		{"CAPA refused", Options{}, greetNoTS, append([]step{
			{"CAPA", []string{"-ERR unknown command\r\n"}},
		}, loginSteps...), "USER"},
		{"opportunistic TLS without STLS", Options{TLS: TLSOpportunistic}, greetNoTS, append([]step{
			{"CAPA", []string{"+OK\r\nUSER\r\n.\r\n"}},
		}, loginSteps...), "USER"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, env, err := openFake(t, tt.opts, 1536, tt.greeting, tt.steps...)
			if err != nil {
				t.Fatalf("Create() = %v; transcript:\n%s", err, env.tr.String())
			}
			if got := c.AuthMethod(); got != tt.auth {
				t.Errorf("AuthMethod() = %q, want %q", got, tt.auth)
			}
			if len(env.sock.sent) != len(tt.steps) {
				t.Errorf("sent %d commands, want %d: %q", len(env.sock.sent), len(tt.steps), env.sock.sent)
			}
			if strings.Contains(env.tr.String(), "testpwd") || strings.Contains(env.tr.String(), "tanstaaf") ||
				strings.Contains(env.tr.String(), "c4c9334b") || strings.Contains(env.tr.String(), "AHJlY2lw") {
				t.Errorf("transcript leaks a secret:\n%s", env.tr.String())
			}
		})
	}
}

func TestGreetingSplit(t *testing.T) {
	env := &fakeEnv{}
	env.pool = newTestPool(t, "client", 256, 16)
	rx := newTestPool(t, "rx", 1536, 16)
	env.sock = &fakeSock{rx: rx, ptype: packetpool.IPv4TCPPacket, serve: scripted(t, loginSteps...)}
	env.sock.push("+", "O", "K ready\r", "\n")
	o, err := Options{Profile: ProfileNetX, Port: 110, Name: "recipient@domain.com", Password: "testpwd", Server: testServer, Pool: env.pool}.normalize()
	must(t, err, "normalize()")
	c := newClient(o)
	must(t, c.open(context.Background(), env.sock, nil), "open()")
	if got := c.Greeting(); got != "ready" {
		t.Errorf("Greeting() = %q, want %q", got, "ready")
	}
	must(t, c.Delete(context.Background()), "Delete()")
}

func TestLoginErrors(t *testing.T) {
	tests := []struct {
		name     string
		opts     Options
		greeting string
		steps    []step
		want     error
		cmd      string // ServerError.Cmd ("-" when not a ServerError)
		graceful bool
	}{
		{"greeting -ERR", netxOpts, "-ERR busy\r\n", nil, ErrServerErrorStatus, "", true},
		{"greeting garbage", netxOpts, "HELLO\r\n", nil, ErrServerErrorStatus, "-", false},
		{"greeting one LF", netxOpts, "\n", nil, ErrServerErrorStatus, "-", false},
		{"greeting silent", netxOpts, "", nil, nx.ErrNoPacket, "-", false},
		{"USER -ERR", netxOpts, greetNoTS, []step{{"USER recipient@domain.com", []string{"-ERR who?\r\n"}}}, ErrServerErrorStatus, "USER", true},
		{"PASS -ERR is an error", Options{Auth: AuthUserPass}, greetNoTS, []step{
			{"CAPA", []string{"-ERR\r\n"}},
			{"USER recipient@domain.com", []string{"+OK\r\n"}},
			{"PASS testpwd", []string{"-ERR invalid password\r\n"}},
		}, ErrServerErrorStatus, "PASS", true},
		{"PASS closed", netxOpts, greetNoTS, []step{
			{"USER recipient@domain.com", []string{"+OK\r\n"}},
			{"PASS testpwd", []string{""}},
		}, nx.ErrNotConnected, "-", false},
		{"APOP refused and USER refused", Options{Profile: ProfileNetX, Port: 110, Auth: AuthAPOP}, greetTS, []step{
			{"APOP recipient@domain.com " + apopDigest([]byte("<1896.697170952@dbc.mtview.ca.us>"), "testpwd"), []string{"-ERR no\r\n"}},
			{"USER recipient@domain.com", []string{"-ERR no\r\n"}},
		}, ErrServerErrorStatus, "USER", true},
		{"STLS required but not offered", Options{TLS: TLSRequired}, greetNoTS, []step{
			{"CAPA", []string{"+OK\r\nUSER\r\n.\r\n"}},
		}, nx.ErrNotSupported, "-", true},
		{"STLS refused when required", Options{TLS: TLSRequired}, greetNoTS, []step{
			{"CAPA", []string{"+OK\r\nSTLS\r\n.\r\n"}},
			{"STLS", []string{"-ERR not now\r\n"}},
		}, ErrServerErrorStatus, "STLS", true},
		{"data after STLS reply", Options{TLS: TLSRequired}, greetNoTS, []step{
			{"CAPA", []string{"+OK\r\nSTLS\r\n.\r\n"}},
			{"STLS", []string{"+OK begin\r\n+OK injected\r\n"}},
		}, ErrServerErrorStatus, "-", false},
		{"AUTH PLAIN refused", Options{}, greetNoTS, []step{
			{"CAPA", []string{"+OK\r\nSASL PLAIN\r\n.\r\n"}},
			{"AUTH PLAIN AHJlY2lwaWVudEBkb21haW4uY29tAHRlc3Rwd2Q=", []string{"-ERR [AUTH] bad\r\n"}},
		}, ErrServerErrorStatus, "AUTH", true},
		{"over-long greeting", netxOpts, "+OK " + strings.Repeat("x", 600) + "\r\n", nil, ErrMailBufferOverflow, "-", false},
		{"chained reply in NetX profile", netxOpts, "+OK " + strings.Repeat("y", 300) + "\r\n", nil, nx.ErrInvalidPacket, "-", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rxPayload := 1536
			if strings.Contains(tt.name, "chained") {
				rxPayload = 128
			}
			c, env, err := openFake(t, tt.opts, rxPayload, tt.greeting, tt.steps...)
			if c != nil {
				// ProfileNetX: a failed Create leaves the socket as
				// nxd_pop3_client_create leaves it (connected after a
				// -ERR); the caller's Delete releases it.
				if tt.opts.Profile != ProfileNetX {
					t.Fatalf("Create() = client, %v; want no client", err)
				}
				if tt.graceful && (env.sock.deleted || len(env.sock.disconnects) != 0) {
					t.Errorf("ProfileNetX: socket deleted %v, disconnects %v before Delete; NetX leaves it connected", env.sock.deleted, env.sock.disconnects)
				}
				must(t, c.Delete(context.Background()), "Delete()")
			} else if tt.opts.Profile == ProfileNetX {
				t.Errorf("ProfileNetX: Create() = nil, %v; want the client NetX leaves, for Delete", err)
			}
			if !errors.Is(err, tt.want) {
				t.Fatalf("Create() = %v, want errors.Is %v", err, tt.want)
			}
			var se *ReplyError
			wantStage := tt.cmd
			if wantStage == "" {
				wantStage = "greeting"
			}
			if got := errors.As(err, &se); got != (tt.cmd != "-") || (got && se.Stage != wantStage) {
				t.Errorf("errors.As(%v, *ReplyError) = %v (%+v), want Cmd %q", err, got, se, tt.cmd)
			}
			if !env.sock.deleted || !env.sock.unbound {
				t.Errorf("socket unbound %v deleted %v after a failed Create, want both", env.sock.unbound, env.sock.deleted)
			}
			wantWait := nx.NoWait
			if tt.graceful {
				wantWait = nx.Seconds(10)
			}
			if len(env.sock.disconnects) != 1 || env.sock.disconnects[0] != wantWait {
				t.Errorf("disconnects = %v, want [%v]", env.sock.disconnects, wantWait)
			}
			for _, line := range env.sock.sent {
				if strings.HasPrefix(line, "USER") && tt.want == nx.ErrNotSupported {
					t.Errorf("credentials sent without the required TLS: %q", line)
				}
			}
		})
	}
}

func TestCreateParamErrors(t *testing.T) {
	tests := []struct {
		name string
		opts Options
		want error
	}{
		{"CR in name", Options{Name: "a\rb", Password: "x"}, ErrParam},
		{"LF in password", Options{Name: "a", Password: "x\ny"}, ErrParam},
		{"NUL in name", Options{Name: "a\x00", Password: "x"}, ErrParam},
		{"empty name", Options{Name: "", Password: "x"}, ErrParam},
		{"empty password", Options{Name: "a"}, ErrParam},
		{"NetX name 41", Options{Profile: ProfileNetX, Port: 110, Name: strings.Repeat("n", 41), Password: "x"}, ErrParam},
		{"NetX password 21", Options{Profile: ProfileNetX, Port: 110, Name: "n", Password: strings.Repeat("p", 21)}, ErrParam},
		{"NetX port 0", Options{Profile: ProfileNetX, Name: "n", Password: "p"}, ErrParam},
		{"NetX with TLS", Options{Profile: ProfileNetX, Port: 110, TLS: TLSRequired, Name: "n", Password: "p"}, ErrParam},
		{"no IP", Options{Name: "n", Password: "p"}, nx.ErrPtr},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := tt.opts
			opts.Server = testServer
			if tt.want == nx.ErrPtr {
				if c, err := Create(context.Background(), opts); c != nil || !errors.Is(err, tt.want) {
					t.Fatalf("Create(%+v) = %v, %v; want nil, %v", tt.opts, c, err, tt.want)
				}
				return
			}
			// Create checks the IP first; the board tests run these through
			// Create on a real IP and check that nothing is sent.
			opts.Pool = newTestPool(t, "p", 64, 1)
			if _, err := opts.normalize(); !errors.Is(err, tt.want) {
				t.Errorf("normalize(%+v) = %v, want %v", tt.opts, err, tt.want)
			}
		})
	}
	o, err := Options{Name: "n", Password: "p", Server: testServer, Pool: newTestPool(t, "d", 512, 1)}.normalize()
	must(t, err, "normalize()")
	if o.Port != 110 || o.Window != DefaultWindow || o.MaxLineLength != DefaultMaxLineLength ||
		o.Timeouts.Reply != nx.Seconds(10) || o.Timeouts.Connect != nx.Seconds(30) || o.Timeouts.Packet != nx.Seconds(1) {
		t.Errorf("normalize() defaults = %+v", o)
	}
	o, err = Options{Name: "n", Password: "p", Server: testServer, TLS: TLSImplicit, Pool: newTestPool(t, "i", 512, 1)}.normalize()
	must(t, err, "normalize()")
	if o.Port != 995 {
		t.Errorf("normalize(TLSImplicit).Port = %d, want 995", o.Port)
	}
}

func TestMailCommands(t *testing.T) {
	ctx := context.Background()
	c, env, err := openFake(t, Options{Auth: AuthUserPass}, 1536, greetNoTS,
		step{"CAPA", []string{"+OK\r\nUIDL\r\nTOP\r\n.\r\n"}},
		loginSteps[0], loginSteps[1],
		step{"STAT", []string{"+OK 2 320\r\n"}},
		step{"LIST 2", []string{"+OK 2 200\r\n"}},
		step{"LIST", []string{"+OK 2 messages\r\n1 120\r\n2 200\r\n.\r\n"}},
		step{"UIDL", []string{"+OK\r\n1 whqtswO00WBw418f9t5JxYwZ\r\n2 QhdPYR:00WBw1Ph7x7\r\n.\r\n"}},
		step{"UIDL 2", []string{"+OK 2 QhdPYR:00WBw1Ph7x7\r\n"}},
		step{"NOOP", []string{"+OK\r\n"}},
		step{"DELE 1", []string{"+OK message 1 deleted\r\n"}},
		step{"DELE 1", []string{"-ERR message 1 already deleted\r\n"}},
		step{"RSET", []string{"+OK\r\n"}},
		step{"QUIT", []string{"+OK bye\r\n"}},
	)
	must(t, err, "Create()")
	if !c.Capabilities().Has("uidl") || c.Capabilities().Has("STLS") {
		t.Errorf("Capabilities() = %v", c.Capabilities())
	}
	n, size, err := c.MailItemsGet(ctx)
	if err != nil || n != 2 || size != 320 {
		t.Fatalf("MailItemsGet() = %d, %d, %v; want 2, 320, nil", n, size, err)
	}
	if s, err := c.MailItemSizeGet(ctx, 2); err != nil || s != 200 {
		t.Errorf("MailItemSizeGet(2) = %d, %v; want 200, nil", s, err)
	}
	if _, err := c.MailItemSizeGet(ctx, 3); !errors.Is(err, ErrInvalidMailItem) {
		t.Errorf("MailItemSizeGet(3) = %v, want ErrInvalidMailItem", err)
	}
	if _, err := c.MailItemGet(ctx, 0); !errors.Is(err, ErrClientInvalidIndex) {
		t.Errorf("MailItemGet(0) = %v, want ErrClientInvalidIndex", err)
	}
	items, err := c.List(ctx)
	if err != nil || len(items) != 2 || items[1] != (MailItem{2, 200}) {
		t.Errorf("List() = %v, %v", items, err)
	}
	ids, err := c.UIDL(ctx)
	if err != nil || len(ids) != 2 || ids[0] != (UniqueID{1, "whqtswO00WBw418f9t5JxYwZ"}) {
		t.Errorf("UIDL() = %v, %v", ids, err)
	}
	if uid, err := c.UIDLItem(ctx, 2); err != nil || uid != "QhdPYR:00WBw1Ph7x7" {
		t.Errorf("UIDLItem(2) = %q, %v", uid, err)
	}
	must(t, c.Noop(ctx), "Noop()")
	must(t, c.MailItemDelete(ctx, 1), "MailItemDelete(1)")
	err = c.MailItemDelete(ctx, 1)
	var se *ReplyError
	if !errors.As(err, &se) || se.Stage != "DELE" || se.Msg != "message 1 already deleted" || !errors.Is(err, ErrServerErrorStatus) {
		t.Errorf("MailItemDelete(1) again = %v, want *ReplyError{DELE, message 1 already deleted}", err)
	}
	must(t, c.Rset(ctx), "Rset()")
	must(t, c.Quit(ctx), "Quit()")
	if _, err := c.MailItemGet(ctx, 1); !errors.Is(err, ErrClientInvalidState) {
		t.Errorf("MailItemGet(1) after Quit = %v, want ErrClientInvalidState", err)
	}
	want := "S: +OK POP3 server ready\nC: CAPA\nS: +OK\nC: USER recipient@domain.com\nS: +OK\nC: PASS ********\nS: +OK logged in\nC: STAT\nS: +OK 2 320\n"
	if !strings.HasPrefix(env.tr.String(), want) {
		t.Errorf("transcript =\n%s\nwant prefix\n%s", env.tr.String(), want)
	}
}

func TestMessage(t *testing.T) {
	tests := []struct {
		name   string
		chunks []string // RETR reply and data, one packet each
		want   string
		rx     int // receive pool payload (small => chained packets)
	}{
		{"one packet with reply", []string{"+OK 5 octets\r\nhello\r\n.\r\n"}, "hello", 1536},
		{"reply then data", []string{"+OK\r\n", "line 1\r\nline 2\r\n.\r\n"}, "line 1\r\nline 2", 1536},
		{"terminator alone", []string{"+OK\r\n", "abc", "\r\n.\r\n"}, "abc", 1536},
		{"terminator split 1", []string{"+OK\r\n", "abc\r", "\n.\r\n"}, "abc", 1536},
		{"terminator split 2", []string{"+OK\r\n", "abc\r\n", ".\r\n"}, "abc", 1536},
		{"terminator split 3", []string{"+OK\r\n", "abc\r\n.", "\r\n"}, "abc", 1536},
		{"terminator split 4", []string{"+OK\r\n", "abc\r\n.\r", "\n"}, "abc", 1536},
		{"dot-stuffed across packets", []string{"+OK\r\n", "a\r\n.", ".b\r\n", "..", "\r\n.\r\n"}, "a\r\n.b\r\n.", 1536},
		{"empty message", []string{"+OK 0\r\n.\r\n"}, "", 1536},
		{"chained packets", []string{"+OK\r\n", strings.Repeat("0123456789", 50) + "\r\n..x\r\n.\r\n"}, strings.Repeat("0123456789", 50) + "\r\n.x", 100},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			// The default profile: its final flag catches the terminator
			// however packets split it (the fix of NetX's defect; see
			// TestNetXSplitTerminatorMissed for ProfileNetX).
			c, _, err := openFake(t, Options{Auth: AuthUserPass}, tt.rx, greetNoTS, append([]step{{"CAPA", []string{"-ERR\r\n"}}}, withLogin(
				step{"STAT", []string{"+OK 1 99\r\n"}},
				step{"RETR 1", tt.chunks},
				step{"DELE 1", []string{"+OK\r\n"}},
			)...)...)
			must(t, err, "Create()")
			_, _, err = c.MailItemsGet(ctx)
			must(t, err, "MailItemsGet()")
			_, err = c.MailItemGet(ctx, 1)
			must(t, err, "MailItemGet(1)")
			if err := c.Noop(ctx); !errors.Is(err, ErrClientInvalidState) {
				t.Errorf("Noop() during a message = %v, want ErrClientInvalidState", err)
			}
			got, _, err := readMessage(t, c)
			must(t, err, "MailItemMessageGet()")
			if string(got) != tt.want {
				t.Errorf("message = %q, want %q", got, tt.want)
			}
			if _, _, _, err := c.MailItemMessageGet(ctx); !errors.Is(err, ErrClientInvalidState) {
				t.Errorf("MailItemMessageGet() after final = %v, want ErrClientInvalidState", err)
			}
			must(t, c.MailItemDelete(ctx, 1), "MailItemDelete(1)")
		})
	}
}

func TestMessageNextReplyInSamePacket(t *testing.T) {
	ctx := context.Background()
	c, _, err := openFake(t, Options{Auth: AuthUserPass}, 1536, greetNoTS,
		step{"CAPA", []string{"-ERR\r\n"}}, loginSteps[0], loginSteps[1],
		// A pipelining-happy server: the DELE reply is queued with the data.
		step{"RETR 1", []string{"+OK\r\nbody\r\n.\r\n+OK deleted\r\n"}},
		step{"DELE 1", nil},
	)
	must(t, err, "Create()")
	var buf bytes.Buffer
	n, err := c.RetrTo(ctx, 1, &buf)
	if err != nil || buf.String() != "body\r\n" || n != 6 {
		t.Errorf("RetrTo(1) = %d, %v, %q; want 6, nil, %q", n, err, buf.String(), "body\r\n")
	}
	must(t, c.MailItemDelete(ctx, 1), "MailItemDelete(1)")
}

func TestMessageErrors(t *testing.T) {
	big := strings.Repeat("x", 200)
	tests := []struct {
		name   string
		opts   Options
		chunks []string
		want   error
		keep   bool // NetX returns the status and keeps the connection
	}{
		{"silent mid-message", Options{}, []string{"+OK\r\n", "abc\r\n"}, nx.ErrNoPacket, true},
		{"closed mid-message", Options{}, []string{"+OK\r\n", "abc\r\n", ""}, nx.ErrNotConnected, false},
		{"size limit", Options{MaxMessageSize: 100}, []string{"+OK\r\n", big, big}, ErrMailBufferOverflow, false},
		{"size limit copy path", Options{MaxMessageSize: 100}, []string{"+OK\r\n" + big}, ErrMailBufferOverflow, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			opts := tt.opts
			opts.Profile, opts.Port = ProfileNetX, 110
			c, env, err := openFake(t, opts, 1536, greetNoTS, withLogin(step{"RETR 1", tt.chunks})...)
			must(t, err, "Create()")
			// ProfileNetX checks the index against STAT; fake one.
			c.statKnown, c.statCount = true, 1
			_, err = c.MailItemGet(ctx, 1)
			must(t, err, "MailItemGet(1)")
			_, _, err = readMessage(t, c)
			if !errors.Is(err, tt.want) {
				t.Fatalf("MailItemMessageGet() = %v, want %v", err, tt.want)
			}
			if tt.keep {
				if len(env.sock.disconnects) != 0 {
					t.Errorf("disconnects = %v after a receive timeout; NetX keeps the connection", env.sock.disconnects)
				}
				return
			}
			if err := c.Noop(ctx); !errors.Is(err, nx.ErrNotConnected) {
				t.Errorf("Noop() after a reset = %v, want nx.ErrNotConnected", err)
			}
			if len(env.sock.disconnects) != 1 || env.sock.disconnects[0] != nx.NoWait {
				t.Errorf("disconnects = %v, want one reset", env.sock.disconnects)
			}
		})
	}
}

func TestMessagePoolExhausted(t *testing.T) {
	ctx := context.Background()
	c, env, err := openFake(t, netxOpts, 1536, greetNoTS, withLogin(
		step{"STAT", []string{"+OK 1 10\r\n"}},
		step{"RETR 1", []string{"+OK\r\nfirst\r\n.\r\n"}},
	)...)
	must(t, err, "Create()")
	_, _, err = c.MailItemsGet(ctx)
	must(t, err, "MailItemsGet()")
	_, err = c.MailItemGet(ctx, 1)
	must(t, err, "MailItemGet(1)")
	var held []*packetpool.Packet
	for {
		pk, err := env.pool.Allocate(ctx, 0, nx.NoWait)
		if err != nil {
			break
		}
		held = append(held, pk)
	}
	c.opts.Timeouts.Packet = nx.NoWait
	if _, _, _, err := c.MailItemMessageGet(ctx); !errors.Is(err, nx.ErrNoPacket) {
		t.Errorf("MailItemMessageGet() with an empty pool = %v, want nx.ErrNoPacket", err)
	}
	for _, pk := range held {
		_ = pk.Release()
	}
	got, _, err := readMessage(t, c)
	if err != nil || string(got) != "first" {
		t.Errorf("MailItemMessageGet() after the pool refilled = %q, %v; want %q (no data lost)", got, err, "first")
	}
}

func TestRetrToWriterFails(t *testing.T) {
	ctx := context.Background()
	c, _, err := openFake(t, Options{Auth: AuthUserPass}, 1536, greetNoTS,
		step{"CAPA", []string{"-ERR\r\n"}}, loginSteps[0], loginSteps[1],
		step{"RETR 1", []string{"+OK\r\n", "one\r\n", "two\r\n", ".\r\n"}},
		step{"NOOP", []string{"+OK\r\n"}},
	)
	must(t, err, "Create()")
	w := &failWriter{after: 2}
	if _, err := c.RetrTo(ctx, 1, w); !errors.Is(err, io.ErrShortWrite) {
		t.Errorf("RetrTo(failing writer) = %v, want io.ErrShortWrite", err)
	}
	must(t, c.Noop(ctx), "Noop() after a failed RetrTo")
}

type failWriter struct{ after int }

func (w *failWriter) Write(p []byte) (int, error) {
	if len(p) > w.after {
		return w.after, io.ErrShortWrite
	}
	w.after -= len(p)
	return len(p), nil
}

func TestMalformedReplies(t *testing.T) {
	ctx := context.Background()
	c, _, err := openFake(t, Options{Auth: AuthUserPass}, 1536, greetNoTS,
		step{"CAPA", []string{"-ERR\r\n"}}, loginSteps[0], loginSteps[1],
		step{"STAT", []string{"+OK lots\r\n"}},
		step{"LIST 1", []string{"+OK 2 100\r\n"}},
		step{"UIDL", []string{"+OK\r\n1 ok-id\r\nbroken\r\n.\r\n"}},
		step{"UIDL 1", []string{"+OK 1\r\n"}},
		step{"NOOP", []string{"+OK\r\n"}},
		step{"NOOP", []string{"garbage\r\n"}},
	)
	must(t, err, "Create()")
	var pe *ProtocolError
	if _, _, err := c.MailItemsGet(ctx); !errors.As(err, &pe) || !errors.Is(err, ErrServerErrorStatus) {
		t.Errorf("MailItemsGet() on %q = %v, want *ProtocolError ErrServerErrorStatus", "+OK lots", err)
	}
	if _, err := c.MailItemSizeGet(ctx, 1); !errors.As(err, &pe) || !errors.Is(err, ErrServerErrorStatus) {
		t.Errorf("MailItemSizeGet(1) on a listing for 2 = %v, want *ProtocolError", err)
	}
	ids, err := c.UIDL(ctx)
	if !errors.Is(err, ErrServerErrorStatus) || len(ids) != 1 {
		t.Errorf("UIDL() with a broken line = %v, %v; want 1 id and ErrServerErrorStatus", ids, err)
	}
	if _, err := c.UIDLItem(ctx, 1); !errors.Is(err, ErrServerErrorStatus) {
		t.Errorf("UIDLItem(1) on %q = %v, want ErrServerErrorStatus", "+OK 1", err)
	}
	must(t, c.Noop(ctx), "Noop() after malformed replies (session still in step)")
	if err := c.Noop(ctx); !errors.As(err, &pe) || !errors.Is(err, ErrServerErrorStatus) {
		t.Errorf("Noop() on garbage = %v, want *ProtocolError", err)
	}
	if err := c.Noop(ctx); !errors.Is(err, nx.ErrNotConnected) {
		t.Errorf("Noop() after garbage = %v, want nx.ErrNotConnected (reset)", err)
	}
}

func TestNetXProfileLimits(t *testing.T) {
	ctx := context.Background()
	c, _, err := openFake(t, netxOpts, 1536, greetNoTS, withLogin(
		step{"DELE 7", []string{"-ERR no such message\r\n"}},
	)...)
	must(t, err, "Create()")
	if _, err := c.MailItemGet(ctx, 1); !errors.Is(err, ErrInvalidMailItem) {
		t.Errorf("MailItemGet(1) without STAT = %v, want ErrInvalidMailItem (NetX)", err)
	}
	if _, err := c.MailItemSizeGet(ctx, 1); !errors.Is(err, ErrInvalidMailItem) {
		t.Errorf("MailItemSizeGet(1) without STAT = %v, want ErrInvalidMailItem (NetX)", err)
	}
	if err := c.MailItemDelete(ctx, 0); !errors.Is(err, ErrClientInvalidIndex) {
		t.Errorf("MailItemDelete(0) = %v, want ErrClientInvalidIndex", err)
	}
	if err := c.MailItemDelete(ctx, 7); !errors.Is(err, ErrServerErrorStatus) {
		t.Errorf("MailItemDelete(7) = %v, want the server's -ERR (no upper check in NetX)", err)
	}
	for name, call := range map[string]func() error{
		"UIDL": func() error { _, err := c.UIDL(ctx); return err },
		"TOP":  func() error { return c.Top(ctx, 1, 0) },
		"CAPA": func() error { _, err := c.Capa(ctx); return err },
		"LIST": func() error { _, err := c.List(ctx); return err },
	} {
		if err := call(); !errors.Is(err, nx.ErrNotSupported) {
			t.Errorf("%s in ProfileNetX = %v, want nx.ErrNotSupported", name, err)
		}
	}
}

func TestNetXCommandMustFitOnePacket(t *testing.T) {
	env := &fakeEnv{}
	env.pool = newTestPool(t, "client", 80, 8) // 80 - 56 header bytes = 24 for the command
	rx := newTestPool(t, "rx", 1536, 8)
	env.sock = &fakeSock{rx: rx, ptype: packetpool.IPv4TCPPacket}
	env.sock.push(greetNoTS)
	o, err := Options{Profile: ProfileNetX, Port: 110, Name: "recipient@domain.com", Password: "p", Server: testServer, Pool: env.pool}.normalize()
	must(t, err, "normalize()")
	c := newClient(o)
	if err := c.open(context.Background(), env.sock, nil); !errors.Is(err, ErrInsufficientPacketPayload) {
		t.Errorf("open() with a 26-byte USER line = %v, want ErrInsufficientPacketPayload", err)
	}
	if len(env.sock.sent) != 0 {
		t.Errorf("sent %q, want nothing", env.sock.sent)
	}
	must(t, c.Delete(context.Background()), "Delete()") // NetX leaves the socket for the caller's delete
}

func TestDeleteIdempotent(t *testing.T) {
	c, env, err := openFake(t, netxOpts, 1536, greetNoTS, loginSteps...)
	must(t, err, "Create()")
	must(t, c.Delete(context.Background()), "Delete()")
	must(t, c.Delete(context.Background()), "Delete() again")
	if len(env.sock.disconnects) != 1 || env.sock.disconnects[0] != nx.Seconds(10) {
		t.Errorf("disconnects = %v, want one graceful", env.sock.disconnects)
	}
	if err := c.Noop(context.Background()); !errors.Is(err, nx.ErrPtr) {
		t.Errorf("Noop() after Delete = %v, want nx.ErrPtr", err)
	}
	var nilClient *Client
	if err := nilClient.Delete(context.Background()); !errors.Is(err, nx.ErrPtr) {
		t.Errorf("(*Client)(nil).Delete() = %v, want nx.ErrPtr", err)
	}
}

func TestTop(t *testing.T) {
	ctx := context.Background()
	c, _, err := openFake(t, Options{Auth: AuthUserPass}, 1536, greetNoTS,
		step{"CAPA", []string{"+OK\r\nTOP\r\n.\r\n"}}, loginSteps[0], loginSteps[1],
		step{"TOP 1 0", []string{"+OK\r\nSubject: hi\r\n\r\n.\r\n"}},
		step{"TOP 2 1", []string{"+OK\r\n", "Subject: x\r\n\r\n..first\r\n.\r\n"}},
	)
	must(t, err, "Create()")
	var buf bytes.Buffer
	if _, err := c.TopTo(ctx, 1, 0, &buf); err != nil || buf.String() != "Subject: hi\r\n\r\n" {
		t.Errorf("TopTo(1, 0) = %v, %q", err, buf.String())
	}
	must(t, c.Top(ctx, 2, 1), "Top(2, 1)")
	got, _, err := readMessage(t, c)
	if err != nil || string(got) != "Subject: x\r\n\r\n.first" {
		t.Errorf("Top(2, 1) data = %q, %v", got, err)
	}
	if err := c.Top(ctx, 1, -1); !errors.Is(err, ErrParam) {
		t.Errorf("Top(1, -1) = %v, want ErrParam", err)
	}
}

func TestOverlongListingLine(t *testing.T) {
	ctx := context.Background()
	c, _, err := openFake(t, Options{Auth: AuthUserPass, MaxLineLength: 100}, 1536, greetNoTS,
		step{"CAPA", []string{"-ERR\r\n"}}, loginSteps[0], loginSteps[1],
		step{"UIDL", []string{"+OK\r\n1 " + strings.Repeat("u", 200) + "\r\n.\r\n"}},
	)
	must(t, err, "Create()")
	var pe *ProtocolError
	if _, err := c.UIDL(ctx); !errors.Is(err, ErrMailBufferOverflow) || !errors.As(err, &pe) {
		t.Errorf("UIDL() with a 202-byte line and a 100-byte limit = %v, want *ProtocolError ErrMailBufferOverflow", err)
	}
	if err := c.Noop(ctx); !errors.Is(err, nx.ErrNotConnected) {
		t.Errorf("Noop() after the overflow = %v, want nx.ErrNotConnected", err)
	}
}

// TestNetXPassErrIsSuccess: _nx_pop3_client_user_pass keeps the receive
// status, NX_SUCCESS, whatever the server answers to PASS
// (nxd_pop3_client.c 3249-3292), so ProfileNetX's Create succeeds after
// "-ERR invalid password"; the default profile refuses (TestLoginErrors).
func TestNetXPassErrIsSuccess(t *testing.T) {
	c, env, err := openFake(t, netxOpts, 1536, greetNoTS,
		step{"USER recipient@domain.com", []string{"+OK\r\n"}},
		step{"PASS testpwd", []string{"-ERR invalid password\r\n"}})
	if err != nil || c == nil {
		t.Fatalf("Create(ProfileNetX) after -ERR to PASS = %v, %v; want success as NetX", c, err)
	}
	if got := c.AuthMethod(); got != "USER" {
		t.Errorf("AuthMethod() = %q, want USER", got)
	}
	if len(env.sock.disconnects) != 0 {
		t.Errorf("disconnects = %v, want the session kept", env.sock.disconnects)
	}
}
