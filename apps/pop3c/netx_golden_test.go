package pop3c

import (
	"bufio"
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestNetXGoldenTranscripts checks ProfileNetX against hand-written goldens
// (testdata/netx), one per fidelity-audit item that concerns the POP3
// client (§1 message data, §4 -ERR to PASS and the failed create). Each
// golden lists, from nxd_pop3_client.c with the C lines, the bytes NetX
// sends (one line per nx_tcp_socket_send), the status Create returns, and
// what each nx_pop3_client_mail_item_message_get returns (packet bytes,
// bytes_retrieved, final) for the scripted server's packets. The goldens are
// never generated from this client.
//
// Syntax: `send "..."`; `create 0xNN [client-left]`; `get "..." N final|more`;
// `get-status 0xNN`; "# ..." comments.
func TestNetXGoldenTranscripts(t *testing.T) {
	user := step{"USER recipient@domain.com", []string{"+OK\r\n"}}
	pass := step{"PASS testpwd", []string{"+OK logged in\r\n"}}
	stat := step{"STAT", []string{"+OK 1 9\r\n"}}
	cases := []struct {
		name  string
		steps []step
	}{
		{"s1_message_get", []step{user, pass, stat, {"RETR 1", []string{"+OK 8 octets\r\n", "..a\r\nb\r\n.\r\n"}}}},
		{"s1_split_terminator", []step{user, pass, stat, {"RETR 1", []string{"+OK\r\n", "abc\r\n.", "\r\n"}}}},
		{"s1_short_final", []step{user, pass, stat, {"RETR 1", []string{"+OK\r\n", "abc", "\r\n.\r\n"}}}},
		{"s4_pass_err", []step{user, {"PASS testpwd", []string{"-ERR invalid password\r\n"}}}},
		{"s4_failed_create", []step{{"USER recipient@domain.com", []string{"-ERR who?\r\n"}}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			g := readPOP3Golden(t, filepath.Join("testdata", "netx", tc.name+".golden"))
			ctx := context.Background()
			c, env, err := openFake(t, netxOpts, 1536, greetNoTS, tc.steps...)
			if got := NetXStatus(err); got != g.create {
				t.Fatalf("Create() = %v: status 0x%02X, want 0x%02X", err, got, g.create)
			}
			if g.clientLeft {
				if c == nil || env.sock.deleted || len(env.sock.disconnects) != 0 {
					t.Fatalf("Create() left client %v, socket deleted %v, disconnects %v; want the client and a connected socket", c != nil, env.sock.deleted, env.sock.disconnects)
				}
				must(t, c.Delete(ctx), "Delete()")
				if !env.sock.deleted || !env.sock.unbound {
					t.Errorf("after Delete: socket unbound %v deleted %v, want both", env.sock.unbound, env.sock.deleted)
				}
			}
			if len(g.gets) > 0 || g.getStatus != 0 {
				if _, _, err := c.MailItemsGet(ctx); err != nil {
					t.Fatalf("MailItemsGet() = %v", err)
				}
				if _, err := c.MailItemGet(ctx, 1); err != nil {
					t.Fatalf("MailItemGet(1) = %v", err)
				}
				for i, want := range g.gets {
					pk, n, final, err := c.MailItemMessageGet(ctx)
					if err != nil {
						t.Fatalf("MailItemMessageGet() #%d = %v", i+1, err)
					}
					got := string(pk.Bytes())
					_ = pk.Release()
					if got != want.data || n != want.n || final != want.final {
						t.Errorf("MailItemMessageGet() #%d = %q, %d, final %v; want %q, %d, %v", i+1, got, n, final, want.data, want.n, want.final)
					}
				}
				if g.getStatus != 0 {
					if _, _, _, err := c.MailItemMessageGet(ctx); NetXStatus(err) != g.getStatus {
						t.Errorf("MailItemMessageGet() after the data = %v, want status 0x%02X", err, g.getStatus)
					}
				}
			}
			var sent []string
			for _, s := range env.sock.sent {
				sent = append(sent, strconv.Quote(s))
			}
			var want []string
			for _, s := range g.sends {
				want = append(want, strconv.Quote(s))
			}
			if strings.Join(sent, "\n") != strings.Join(want, "\n") {
				t.Errorf("sent:\n%s\nwant:\n%s", strings.Join(sent, "\n"), strings.Join(want, "\n"))
			}
		})
	}
}

type pop3Get struct {
	data  string
	n     int
	final bool
}

type pop3Golden struct {
	sends      []string
	create     uint32
	clientLeft bool
	gets       []pop3Get
	getStatus  uint32
}

func readPOP3Golden(t *testing.T, path string) pop3Golden {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatalf("%v (the goldens are written by hand from nxd_pop3_client.c)", err)
	}
	defer f.Close()
	var g pop3Golden
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		fail := func(err error) { t.Fatalf("%s:%d: %q: %v", path, n, line, err) }
		switch {
		case line == "" || strings.HasPrefix(line, "#"):
		case strings.HasPrefix(line, "send "):
			s, err := strconv.Unquote(strings.TrimPrefix(line, "send "))
			if err != nil {
				fail(err)
			}
			g.sends = append(g.sends, s)
		case strings.HasPrefix(line, "create "):
			f := strings.Fields(line)
			v, err := strconv.ParseUint(f[1], 0, 32)
			if err != nil {
				fail(err)
			}
			g.create, g.clientLeft = uint32(v), len(f) > 2 && f[2] == "client-left"
		case strings.HasPrefix(line, "get-status "):
			v, err := strconv.ParseUint(strings.TrimPrefix(line, "get-status "), 0, 32)
			if err != nil {
				fail(err)
			}
			g.getStatus = uint32(v)
		case strings.HasPrefix(line, "get "):
			rest := strings.TrimPrefix(line, "get ")
			end := strings.LastIndex(rest, "\"")
			s, err := strconv.Unquote(rest[:end+1])
			if err != nil {
				fail(err)
			}
			f := strings.Fields(rest[end+1:])
			n, err := strconv.Atoi(f[0])
			if err != nil || len(f) != 2 {
				fail(err)
			}
			g.gets = append(g.gets, pop3Get{data: s, n: n, final: f[1] == "final"})
		default:
			fail(nil)
		}
	}
	return g
}
