package pop3c

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/simboard/simboard/nx"
)

// Issue 9 §1 "no silent auth downgrade", POP3 side. Each case lists the
// commands the server may see: never USER or PASS unless asked for.
func TestNoSilentAuthDowngrade(t *testing.T) {
	capa := step{"CAPA", []string{"+OK\r\nUSER\r\nSASL PLAIN\r\n.\r\n"}}
	greetBadTS := "+OK POP3 server ready <1896. 697170952@dbc.mtview.ca.us>\r\n" // a space: not a msg-id
	tests := []struct {
		name     string
		opts     Options
		greeting string
		steps    []step
		want     error // nil: logged in
		auth     string
	}{
		{"refused APOP is final", Options{Auth: AuthAPOP, AllowPlaintextAuth: true}, greetTS,
			[]step{capa, {"APOP recipient@domain.com " + apopDigest([]byte("<1896.697170952@dbc.mtview.ca.us>"), "testpwd"), []string{"-ERR [AUTH] no\r\n"}}},
			ErrServerErrorStatus, ""},
		{"refused APOP falls back only when asked", Options{Auth: AuthAPOP, APOPFallback: true, AllowPlaintextAuth: true}, greetTS,
			[]step{capa, {"APOP recipient@domain.com " + apopDigest([]byte("<1896.697170952@dbc.mtview.ca.us>"), "testpwd"), []string{"-ERR no\r\n"}},
				{"USER recipient@domain.com", []string{"+OK\r\n"}}, {"PASS testpwd", []string{"+OK\r\n"}}},
			nil, "USER"},
		{"malformed timestamp is no reason for PASS (APOP)", Options{Auth: AuthAPOP, AllowPlaintextAuth: true}, greetBadTS,
			[]step{capa}, ErrAPOPUnavailable, ""},
		{"malformed timestamp is no reason for PASS in clear (auto)", Options{TLS: TLSOff}, greetBadTS,
			[]step{capa}, ErrPlaintextAuth, ""},
		{"opportunistic TLS not offered: no password in clear", Options{}, greetNoTS,
			[]step{capa}, ErrPlaintextAuth, ""},
		{"opportunistic TLS not offered: APOP still fine", Options{}, greetTS,
			[]step{capa, {"APOP recipient@domain.com " + apopDigest([]byte("<1896.697170952@dbc.mtview.ca.us>"), "testpwd"), []string{"+OK\r\n"}}},
			nil, "APOP"},
		{"USER/PASS selectable without ProfileNetX", Options{Auth: AuthUserPass, AllowPlaintextAuth: true}, greetTS,
			[]step{capa, {"USER recipient@domain.com", []string{"+OK\r\n"}}, {"PASS testpwd", []string{"+OK\r\n"}}},
			nil, "USER"},
		{"AUTH PLAIN not offered names the offer", Options{Auth: AuthPlain, AllowPlaintextAuth: true}, greetNoTS,
			[]step{{"CAPA", []string{"+OK\r\nUSER\r\nSASL CRAM-MD5\r\n.\r\n"}}}, ErrAuthNotOffered, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, env, err := openFakeStrict(t, tt.opts, 1536, tt.greeting, tt.steps...)
			sent := strings.Join(env.sock.sent, "")
			if tt.want == nil {
				if err != nil {
					t.Fatalf("Create() = %v, want a login (sent %q)", err, sent)
				}
				if c.AuthMethod() != tt.auth {
					t.Errorf("AuthMethod() = %q, want %q", c.AuthMethod(), tt.auth)
				}
				return
			}
			if c != nil || !errors.Is(err, tt.want) {
				t.Fatalf("Create() = %v, %v; want nil, %v (sent %q)", c, err, tt.want, sent)
			}
			if strings.Contains(sent, "PASS") || strings.Contains(sent, "testpwd") {
				t.Errorf("client sent %q: the password left the board", sent)
			}
			if errors.Is(tt.want, ErrAuthNotOffered) && !strings.Contains(err.Error(), "CRAM-MD5") {
				t.Errorf("Create() = %v, want the offered mechanisms named", err)
			}
			if !errors.Is(tt.want, ErrServerErrorStatus) && !errors.Is(err, nx.ErrNotSupported) {
				t.Errorf("Create() = %v, want NX_NOT_SUPPORTED with it", err)
			}
		})
	}
}

// Issue 9 §1: AUTH with no password set is refused before connecting.
func TestAuthWithoutPassword(t *testing.T) {
	c, env, err := openFakeStrict(t, Options{Name: "alice"}, 1536, greetTS)
	if c != nil || !errors.Is(err, ErrParam) || !strings.Contains(err.Error(), "password") {
		t.Fatalf("Create(no password) = %v, %v; want ErrParam naming the password", c, err)
	}
	if len(env.sock.sent) != 0 {
		t.Errorf("client sent %q before failing", env.sock.sent)
	}
}

func TestNetXStatus(t *testing.T) {
	_, _, err := openFakeStrict(t, Options{Auth: AuthAPOP, AllowPlaintextAuth: true}, 1536, greetTS,
		step{"CAPA", []string{"-ERR\r\n"}},
		step{"APOP recipient@domain.com " + apopDigest([]byte("<1896.697170952@dbc.mtview.ca.us>"), "testpwd"), []string{"-ERR [AUTH] bad\r\n"}})
	var re *ReplyError
	if NetXStatus(err) != uint32(ErrServerErrorStatus) || !errors.As(err, &re) || re.Stage != "APOP" || re.Enhanced != "AUTH" || re.Msg != "bad" || re.Code != 0 {
		t.Fatalf("NetXStatus(%v) = %#x, ReplyError %+v; want 0xB4 and {Stage APOP, Enhanced AUTH, Msg bad}", err, NetXStatus(err), re)
	}
	if NetXStatus(nil) != 0 || NetXStatus(errf("x: %w", nx.ErrNoPacket)) != uint32(nx.ErrNoPacket) {
		t.Errorf("NetXStatus(nil), NetXStatus(NX_NO_PACKET) = %#x, %#x", NetXStatus(nil), NetXStatus(errf("x: %w", nx.ErrNoPacket)))
	}
}

// Issue 9 §2: no command leaves the board once the context is done. A QUIT
// on a cancelled context would commit the DELEs; instead the connection is
// reset (a NoWait disconnect) and the error keeps ctx.Err().
func TestCancelledContextNoQuit(t *testing.T) {
	for _, tt := range []struct {
		name string
		ctx  func() (context.Context, context.CancelFunc)
		want error
	}{
		{"cancelled", func() (context.Context, context.CancelFunc) {
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			return ctx, cancel
		}, context.Canceled},
		{"deadline", func() (context.Context, context.CancelFunc) {
			return context.WithDeadline(context.Background(), time.Unix(1, 0))
		}, context.DeadlineExceeded},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c, env, err := openFake(t, Options{Auth: AuthUserPass}, 1536, greetNoTS,
				step{"CAPA", []string{"-ERR\r\n"}}, step{"USER recipient@domain.com", []string{"+OK\r\n"}},
				step{"PASS testpwd", []string{"+OK\r\n"}}, step{"DELE 1", []string{"+OK\r\n"}})
			must(t, err, "Create()")
			must(t, c.MailItemDelete(context.Background(), 1), "MailItemDelete(1)")
			ctx, cancel := tt.ctx()
			defer cancel()
			err = c.Quit(ctx)
			if !errors.Is(err, nx.ErrWaitAborted) || !errors.Is(err, tt.want) || NetXStatus(err) != uint32(nx.ErrWaitAborted) {
				t.Errorf("Quit(done ctx) = %v, want NX_WAIT_ABORTED with %v", err, tt.want)
			}
			for _, l := range env.sock.sent {
				if strings.HasPrefix(l, "QUIT") {
					t.Errorf("client sent QUIT on a done context (sent %q)", env.sock.sent)
				}
			}
			if len(env.sock.disconnects) != 1 || env.sock.disconnects[0] != nx.NoWait {
				t.Errorf("disconnects = %v, want one reset (NoWait)", env.sock.disconnects)
			}
			if err := c.Noop(context.Background()); !errors.Is(err, nx.ErrNotConnected) {
				t.Errorf("Noop() after the reset = %v, want NX_NOT_CONNECTED", err)
			}
		})
	}
}

// Issue 9 §3 (library side): a pool that can never hold a command fails at
// Create with the size it needs, before any traffic, instead of after a
// packet wait.
func TestPoolTooSmallFailsAtOnce(t *testing.T) {
	o := Options{Name: "n", Password: "p", Server: testServer, Pool: newTestPool(t, "tiny", 64, 4)}
	_, err := o.normalize()
	if !errors.Is(err, ErrInsufficientPacketPayload) || !strings.Contains(err.Error(), "at least 5 packets") {
		t.Fatalf("normalize(4 packets of 64 bytes) = %v, want NX_POP3_INSUFFICIENT_PACKET_PAYLOAD naming 5 packets", err)
	}
	o.Pool = newTestPool(t, "enough", 64, 5)
	if _, err := o.normalize(); err != nil {
		t.Errorf("normalize(5 packets of 64 bytes) = %v, want nil", err)
	}
}
