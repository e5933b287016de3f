package smtpc

import (
	"bufio"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/simboard/simboard/boardtest"
	"github.com/simboard/simboard/nx"
	"github.com/simboard/simboard/packetpool"
)

// The transcript tests of ProfileNetX against hand-written goldens, one per
// item of the fidelity audit (shared/reference/fidelity-audit.md §2–§4) that
// concerns the SMTP client. Each golden in testdata/netx/ lists, one line per
// nx_tcp_socket_send, the bytes NetX Duo's nxd_smtp_client.c sends for the
// scripted server's replies, written out by hand from the C source with the
// line that builds them; then the UINT nx_smtp_mail_send returns. The goldens
// are never generated from this client (there is no -update for them).
//
// Golden syntax: "# ..." comments; `send "..."` a Go-quoted packet;
// `send body[a:b]` a slice of the test's body; `status 0xNN`; `accepted
// true|false` (Result.Accepted).

// netxGoldenCase is one audit item.
type netxGoldenCase struct {
	name      string
	opts      func(o *Options)
	board     boardtest.Options // client board; zero = NetX tests' 1536 x 10
	ipv6      bool
	script    []scriptStep
	recipient string
	subject   string
	body      []byte
	setup     func(t *testing.T, cli *boardtest.Board, o *Options) // before Create
}

func TestNetXGoldenTranscripts(t *testing.T) {
	greet := scriptStep{send: []string{"220 mx ESMTP\r\n"}}
	ehlo := scriptStep{want: "EHLO domain.com", send: []string{"250-mx\r\n250 AUTH PLAIN LOGIN\r\n"}}
	quit := scriptStep{want: "QUIT", send: []string{"221 bye\r\n"}, act: actClose}
	envelope := func(rcpt string) []scriptStep {
		return []scriptStep{
			{want: "MAIL FROM:<" + netxFrom + "> ", send: []string{"250 ok\r\n"}},
			{want: "RCPT TO:<" + rcpt + "> ", send: []string{"250 ok\r\n"}},
			{want: "DATA", send: []string{"354 go\r\n"}},
			{data: true, send: []string{"250 queued\r\n"}},
			quit,
		}
	}
	noAuth := func(o *Options) { o.Auth = AuthNone }
	chunky := make([]byte, 3000)
	for i := range chunky {
		chunky[i] = "0123456789abcdef\r\n"[i%18]
	}
	long := "a" + strings.Repeat("b", 487) + "@example.com" // 500 octets
	cases := []netxGoldenCase{
		{name: "s2_body_verbatim", opts: noAuth, body: []byte(".a\r\nb\r\n"),
			script: steps([]scriptStep{greet, ehlo}, envelope(netxRecipient))},
		{name: "s2_no_repair", opts: noAuth, body: []byte("line 1\n.shutdown\nbare LF\r\n" + strings.Repeat("x", 1200) + "\r\nend"),
			script: steps([]scriptStep{greet, ehlo}, envelope(netxRecipient))},
		{name: "s2_chunks_ipv4", opts: noAuth, body: chunky,
			script: steps([]scriptStep{greet, ehlo}, envelope(netxRecipient))},
		{name: "s2_chunks_ipv6", opts: noAuth, body: chunky, ipv6: true,
			script: steps([]scriptStep{greet, ehlo}, envelope(netxRecipient))},
		{name: "s3a_malformed_greeting", opts: noAuth,
			script: []scriptStep{{send: []string{"2200 mx\r\n"}}, quit}},
		{name: "s3a_malformed_mail_reply", opts: noAuth,
			script: []scriptStep{greet, ehlo, {want: "MAIL FROM", send: []string{"2500 ok\r\n"}}, quit}},
		{name: "s3b_pool_empty", opts: func(o *Options) { o.Auth = AuthNone; o.Timeouts.Packet = nx.Ticks(20) },
			script: []scriptStep{greet, {act: actSilent}},
			setup: func(t *testing.T, cli *boardtest.Board, o *Options) {
				pool, err := packetpool.New(packetpool.Options{Name: "smtp", PayloadSize: 1536, Count: 2, Clock: testClock()})
				if err != nil {
					t.Fatal(err)
				}
				var held []*packetpool.Packet
				for range 2 {
					p, err := pool.Allocate(context.Background(), packetpool.IPv4TCPPacket, nx.NoWait)
					if err != nil {
						t.Fatal(err)
					}
					held = append(held, p)
				}
				t.Cleanup(func() {
					for _, p := range held {
						_ = p.Release()
					}
					boardtest.CheckBalanced(t, pool)
				})
				o.Pool = pool
			}},
		{name: "s3c_quit_fails", opts: noAuth,
			script: steps([]scriptStep{greet, ehlo}, envelope(netxRecipient)[:4], []scriptStep{{want: "QUIT", act: actReset}})},
		{name: "s3d_rcpt_buffer", opts: noAuth, recipient: long,
			script: []scriptStep{greet, ehlo, {want: "MAIL FROM", send: []string{"250 ok\r\n"}}, {act: actSilent}}},
		{name: "s3d_rcpt_size", opts: noAuth, recipient: strings.Repeat("c", 501) + "@example.com", // 513 octets
			script: []scriptStep{greet, ehlo, {want: "MAIL FROM", send: []string{"250 ok\r\n"}}, {act: actSilent}}},
		{name: "s3d_subject_size", opts: noAuth, subject: strings.Repeat("s", 513),
			script: []scriptStep{greet, ehlo, envelope(netxRecipient)[0], envelope(netxRecipient)[1], envelope(netxRecipient)[2], {act: actSilent}}},
		{name: "s3e_unknown_login_prompt", opts: func(o *Options) { o.Auth = AuthLogin },
			script: []scriptStep{greet, ehlo,
				{want: "AUTH LOGIN", send: []string{"334 " + base64.StdEncoding.EncodeToString([]byte("Who are you?")) + "\r\n"}}, quit}},
		{name: "s4_chained_reply", opts: noAuth, board: boardtest.Options{PayloadSize: 200, Count: 40, Debug: true},
			script: []scriptStep{{send: []string{netxGreeting}}, quit}},
		{name: "s4_split_reply", opts: noAuth,
			script: []scriptStep{{send: []string{"220-mx ESMTP\r\n", "220 ready\r\n"}, gap: time.Second},
				{want: "EHLO", send: []string{"250 mx\r\n"}}, quit}},
		{name: "s4_auth_type_zero", opts: func(o *Options) { o.Auth, o.Username, o.Password = 0, "", "" },
			script: steps([]scriptStep{greet, ehlo, {want: "AUTH PLAIN", send: []string{"334 \r\n"}},
				{want: "AAA=", send: []string{"235 ok\r\n"}}}, envelope(netxRecipient))},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			g := readNetXGolden(t, filepath.Join("testdata", "netx", tc.name+".golden"), tc.body)
			boardtest.CheckGoroutines(t)
			w := boardtest.NewWire(t, 1)
			srv := boardtest.NewBoard(t, w, "server", 1, boardtest.Options{IPv6: tc.ipv6})
			bo := tc.board
			if bo.PayloadSize == 0 {
				bo = boardtest.Options{PayloadSize: 1536, Count: 10, Debug: true}
			}
			bo.IPv6 = tc.ipv6
			cli := boardtest.NewBoard(t, w, "client", 2, bo)
			done := serveScript(t, srv, tc.script)
			o := Options{IP: cli.IP, Pool: cli.Pool, Username: netxFrom, Password: "testpwd", From: netxFrom,
				ClientDomain: "domain.com", ServerAddr: srv.Addr, Port: 25, Profile: ProfileNetX}
			if tc.ipv6 {
				o.ServerAddr = srv.Addr6
			}
			if tc.opts != nil {
				tc.opts(&o)
			}
			if tc.setup != nil {
				tc.setup(t, cli, &o)
			}
			c, err := Create(o)
			if err != nil {
				t.Fatalf("Create() = %v", err)
			}
			var sent [][]byte
			c.cfg.netxSends = func(p []byte) { sent = append(sent, p) }
			rcpt, subject, body := tc.recipient, tc.subject, tc.body
			if rcpt == "" {
				rcpt = netxRecipient
			}
			if subject == "" {
				subject = "hi"
			}
			if body == nil {
				body = []byte("x")
			}
			res, err := c.MailSend(context.Background(), rcpt, PriorityNormal, subject, body)
			srvRes := waitScript(t, done)
			if got := NetXStatus(err); got != g.status {
				t.Errorf("MailSend() = %v: NetX status 0x%02X, want 0x%02X (server: %v)", err, got, g.status, srvRes.err)
			}
			if res.Accepted != g.accepted {
				t.Errorf("MailSend() Accepted = %v, want %v", res.Accepted, g.accepted)
			}
			if len(sent) != len(g.sends) {
				t.Errorf("client made %d sends, golden has %d", len(sent), len(g.sends))
			}
			for i := range max(len(sent), len(g.sends)) {
				var got, want []byte
				if i < len(sent) {
					got = sent[i]
				}
				if i < len(g.sends) {
					want = g.sends[i]
				}
				if string(got) != string(want) {
					t.Errorf("send %d = %s\nwant       %s", i, shortQuote(got), shortQuote(want))
				}
			}
			if err := c.Delete(); err != nil {
				t.Errorf("Delete() = %v", err)
			}
			if tc.name == "s3b_pool_empty" && !errors.Is(err, nx.ErrNoPacket) {
				t.Errorf("MailSend() = %v, want the raw NX_NO_PACKET", err)
			}
		})
	}
}

func shortQuote(p []byte) string {
	if len(p) > 200 {
		return strconv.Quote(string(p[:100])) + fmt.Sprintf("...(%d octets)...", len(p)) + strconv.Quote(string(p[len(p)-60:]))
	}
	return strconv.Quote(string(p))
}

type netxGolden struct {
	sends    [][]byte
	status   uint32
	accepted bool
}

// readNetXGolden parses a hand-written golden; body resolves body[a:b].
func readNetXGolden(t *testing.T, path string, body []byte) netxGolden {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatalf("%v (the goldens are written by hand from nxd_smtp_client.c)", err)
	}
	defer f.Close()
	var g netxGolden
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "" || strings.HasPrefix(line, "#"):
		case strings.HasPrefix(line, "send body["):
			var a, b int
			if _, err := fmt.Sscanf(line, "send body[%d:%d]", &a, &b); err != nil || a > b || b > len(body) {
				t.Fatalf("%s:%d: bad slice %q (body is %d octets)", path, n, line, len(body))
			}
			g.sends = append(g.sends, body[a:b])
		case strings.HasPrefix(line, "send "):
			s, err := strconv.Unquote(strings.TrimPrefix(line, "send "))
			if err != nil {
				t.Fatalf("%s:%d: %v", path, n, err)
			}
			g.sends = append(g.sends, []byte(s))
		case strings.HasPrefix(line, "status "):
			v, err := strconv.ParseUint(strings.TrimPrefix(line, "status "), 0, 32)
			if err != nil {
				t.Fatalf("%s:%d: %v", path, n, err)
			}
			g.status = uint32(v)
		case strings.HasPrefix(line, "accepted "):
			g.accepted = strings.TrimPrefix(line, "accepted ") == "true"
		default:
			t.Fatalf("%s:%d: unknown line %q", path, n, line)
		}
	}
	return g
}

// TestNetXWindow: ProfileNetX's socket advertises NX_SMTP_CLIENT_TCP_WINDOW_SIZE,
// 1460 (nxd_smtp_client.c 352-356, audit §4); the default profile keeps the
// IP's default window; an explicit Options.Window wins in both.
func TestNetXWindow(t *testing.T) {
	cli, srv := netxPair(t)
	for _, tc := range []struct {
		profile Profile
		window  int
		want    int
	}{{ProfileNetX, 0, 1460}, {ProfileNetX, 8192, 8192}, {ProfileDefault, 4096, 4096}} {
		c, err := Create(Options{IP: cli.IP, Pool: cli.Pool, From: netxFrom, ServerAddr: srv.Addr, Profile: tc.profile, Window: tc.window})
		if err != nil {
			t.Fatal(err)
		}
		if got := c.sock.Info().ReceiveWindow; got != tc.want {
			t.Errorf("profile %d, Window %d: socket window %d, want %d", tc.profile, tc.window, got, tc.want)
		}
		if err := c.Delete(); err != nil {
			t.Error(err)
		}
	}
}
