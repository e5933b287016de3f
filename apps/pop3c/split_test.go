package pop3c_test

import (
	"context"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/simboard/simboard/apps/pop3c"
	"github.com/simboard/simboard/internal/boardtest"
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
// really lands on a segment boundary at the client. The data must be
// byte-exact every time; the boards' cleanups check that no packet leaks.
func TestTerminatorSplit(t *testing.T) {
	boardtest.CheckGoroutines(t)
	const msg = "Subject: split\r\n\r\n.leading dot\r\n..two dots\r\n.\r\nx\r\n\r\n.."
	wire := dotStuff(msg)
	client, server := boardtest.Pair(t, boardtest.Options{Debug: true})

	next := make(chan struct{})
	scriptServer(t, server, 110, func(s *scriptConn) {
		s.send("+OK ready\r\n")
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
	c, err := pop3c.Create(ctx, pop3c.Options{AllowPlaintextAuth: true, IP: client.IP, Server: server.Addr, Name: "u", Password: "p", Profile: pop3c.ProfileNetX, Port: 110})
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
		data, sizes, err := readAll(t, c, func() { once.Do(func() { next <- struct{}{} }) })
		if err != nil {
			t.Fatalf("split %d (%q | %q): MailItemMessageGet() = %v", p, wire[:p], wire[p:], err)
		}
		if len(sizes) < 2 {
			t.Errorf("split %d: message came in %d packet(s), want at least 2 (one per segment)", p, len(sizes))
		}
		if string(data) != msg {
			t.Fatalf("split %d (%q | %q): message = %q, want %q", p, wire[:p], wire[p:], data, msg)
		}
	}
	mustOK(t, c.Quit(ctx), "Quit()")
}
