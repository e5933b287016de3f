package pop3c_test

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/simboard/simboard/apps/pop3c"
	"github.com/simboard/simboard/boardtest"
	"github.com/simboard/simboard/nx"
)

// dotStuff is the server side of RFC 1939 §3: a '.' is doubled at the start
// of every line, and the terminator "\r\n.\r\n" ends the data.
func dotStuff(data string) string {
	var b strings.Builder
	lineStart := true
	for i := 0; i < len(data); i++ {
		if lineStart && data[i] == '.' {
			b.WriteByte('.')
		}
		b.WriteByte(data[i])
		lineStart = data[i] == '\n'
	}
	b.WriteString("\r\n.\r\n")
	return b.String()
}

// TestTerminatorSplit delivers the same message once for every possible
// split of its wire form into two TCP segments, the terminator and the
// dot-stuffed lines included. The scripted server sends the second segment
// only after the client has returned data from the first, so every split
// really lands on a segment boundary at the client. In the default profile
// MailItemMessageGet's final flag catches the terminator at every split (the
// fix) and the message is byte-exact every time. In ProfileNetX the final
// flag is NetX's: the last packet must end with "\r\n.\r\n", or be a short
// packet starting with it or with ".\r\n"; when the second segment is 1, 2
// or 4 bytes the terminator is missed, as on the MCU, and the next call
// times out with NX_NO_PACKET. The boards' cleanups check that no packet
// leaks.
func TestTerminatorSplit(t *testing.T) {
	for _, profile := range []pop3c.Profile{pop3c.ProfileDefault, pop3c.ProfileNetX} {
		name := map[pop3c.Profile]string{pop3c.ProfileDefault: "default", pop3c.ProfileNetX: "netx"}[profile]
		t.Run(name, func(t *testing.T) { terminatorSplit(t, profile) })
	}
}

func terminatorSplit(t *testing.T, profile pop3c.Profile) {
	boardtest.CheckGoroutines(t)
	const msg = "Subject: split\r\n\r\n.leading dot\r\n..two dots\r\n.\r\nx\r\n\r\n.."
	wire := dotStuff(msg)
	client, server := boardtest.Pair(t, boardtest.Options{Debug: true})

	next := make(chan struct{})
	scriptServer(t, server, 110, func(s *scriptConn) {
		s.send("+OK ready\r\n")
		if profile == pop3c.ProfileDefault {
			s.expect("CAPA")
			s.send("-ERR\r\n")
		}
		s.expect("USER u")
		s.send("+OK\r\n")
		s.expect("PASS p")
		s.send("+OK\r\n")
		s.expect("STAT")
		s.send("+OK 1 " + strconv.Itoa(len(msg)) + "\r\n")
		for p := 1; p < len(wire); p++ {
			s.expect("RETR 1")
			s.send("+OK " + strconv.Itoa(len(msg)) + " octets\r\n")
			s.send(wire[:p])
			<-next
			s.send(wire[p:])
		}
		s.expect("QUIT")
		s.send("+OK\r\n")
	})
	ctx := context.Background()
	c, err := pop3c.Create(ctx, pop3c.Options{AllowPlaintextAuth: true, IP: client.IP, Server: server.Addr, Name: "u", Password: "p",
		Profile: profile, Auth: pop3c.AuthUserPass, Port: 110, Timeouts: pop3c.Timeouts{Reply: nx.Ticks(30)}})
	mustOK(t, err, "Create()")
	defer deleteClient(t, c)
	if n, _, err := c.MailItemsGet(ctx); err != nil || n != 1 {
		t.Fatalf("MailItemsGet() = %d, %v; want 1, nil", n, err)
	}
	for p := 1; p < len(wire); p++ {
		if _, err := c.MailItemGet(ctx, 1); err != nil {
			t.Fatalf("split %d: MailItemGet(1) = %v", p, err)
		}
		var once sync.Once
		raw, sizes, err := readRaw(t, c, func() { once.Do(func() { next <- struct{}{} }) })
		if rest := len(wire) - p; profile == pop3c.ProfileNetX && (rest == 1 || rest == 2 || rest == 4) {
			if !errors.Is(err, nx.ErrNoPacket) || string(raw) != wire {
				t.Fatalf("netx split %d (%q | %q): MailItemMessageGet() = %v after %q; want the terminator missed (NX_NO_PACKET) after all the data", p, wire[:p], wire[p:], err, raw)
			}
			continue
		}
		if err != nil {
			t.Fatalf("split %d (%q | %q): MailItemMessageGet() = %v", p, wire[:p], wire[p:], err)
		}
		if len(sizes) < 2 {
			t.Errorf("split %d: message came in %d packet(s), want at least 2 (one per segment)", p, len(sizes))
		}
		if string(raw) != wire {
			t.Fatalf("split %d (%q | %q): packets = %q, want the wire form %q", p, wire[:p], wire[p:], raw, wire)
		}
		if got := cleanMessage(raw); string(got) != msg {
			t.Fatalf("split %d: message = %q, want %q", p, got, msg)
		}
	}
	mustOK(t, c.Quit(ctx), "Quit()")
}
