package interop

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/simboard/simboard/apps/smtpc"
	"github.com/simboard/simboard/boardtest"
	"github.com/simboard/simboard/nx"
)

// TestNoRSTAfterCompletedClose is issue 9 §2 "RST after a completed close"
// against a real server: the board delivers a mail to Postfix with smtpc,
// then opens a second connection and closes it first (after Postfix's
// greeting), so its side sits in TIME_WAIT; then the board's IP is closed
// (nx_ip_delete) while TIME_WAIT holds. tshark, reading the board's own pcap,
// must find the FIN exchange of both connections and no RST from the board
// anywhere after it: the 15-of-23 captures that Wireshark flagged came from
// exactly this sequence.
func TestNoRSTAfterCompletedClose(t *testing.T) {
	env := startEnv(t)
	requireTools(t, "tshark")
	b := env.NewBoard(t, boardtest.Options{})
	u := env.NewUser(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*sessionTimeout)
	defer cancel()

	// 1. A mail through smtpc: QUIT, 221, then both FINs.
	o := boardSMTP(env, b, env.SMTP, u)
	o.TLS, o.Username, o.Password = smtpc.TLSOff, "", ""
	c, err := smtpc.Create(o)
	if err != nil {
		t.Fatalf("smtpc.Create = %v", err)
	}
	res, err := c.MailSend(ctx, u.Addr, smtpc.PriorityNormal, "no RST after close", []byte("bye\r\n"))
	if err != nil || !res.Accepted {
		t.Fatalf("MailSend() = %+v, %v", res, err)
	}
	if err := c.Delete(); err != nil {
		t.Errorf("smtpc Delete = %v", err)
	}
	env.WaitMail(t, u, "no RST after close")

	// 2. The board closes first: greeting, then Disconnect with a wait.
	s, err := b.IP.TCPSocketCreate("active-close", 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.ClientBind(ctx, 0, nx.NoWait); err != nil {
		t.Fatal(err)
	}
	port := s.Port()
	if err := s.Connect(ctx, env.SMTP, nx.Seconds(10)); err != nil {
		t.Fatalf("Connect(%v) = %v", env.SMTP, err)
	}
	greeting, err := s.Receive(ctx, nx.Seconds(10))
	if err != nil {
		t.Fatalf("Receive(greeting) = %v", err)
	}
	buf := make([]byte, greeting.Length())
	n, _ := greeting.Retrieve(buf)
	_ = greeting.Release()
	if !strings.HasPrefix(string(buf[:n]), "220 ") {
		t.Fatalf("greeting = %q, want 220", buf[:n])
	}
	if err := s.Disconnect(ctx, nx.Seconds(10)); err != nil {
		t.Fatalf("Disconnect(10 s) = %v, want a clean FIN exchange", err)
	}
	if err := s.ClientUnbind(); err != nil {
		t.Errorf("ClientUnbind = %v", err)
	}
	if err := s.Delete(); err != nil {
		t.Errorf("Delete = %v", err)
	}

	// 3. nx_ip_delete while the second connection is in TIME_WAIT.
	if err := b.IP.Close(); err != nil {
		t.Fatalf("IP.Close() = %v", err)
	}
	if in := b.Pool.Info(); in.Free != in.Total {
		t.Errorf("board pool %d of %d free after IP.Close", in.Free, in.Total)
	}
	pcap := b.FlushPcap(t)

	board := b.Addr.String()
	rows := env.Tshark(t, pcap, "tcp", []string{"frame.number", "ip.src", "tcp.srcport", "tcp.dstport", "tcp.flags.fin", "tcp.flags.reset"})
	type seg struct {
		frame, src, sport, dport string
		fin, rst                 bool
	}
	var segs []seg
	for _, r := range rows {
		if len(r) < 6 {
			t.Fatalf("tshark row %q: want 6 fields", r)
		}
		segs = append(segs, seg{r[0], r[1], r[2], r[3], r[4] == "1" || r[4] == "True", r[5] == "1" || r[5] == "True"})
	}
	finsBy := map[string]int{} // "board" or "server"
	firstFIN := map[string]string{}
	for _, sg := range segs {
		who := "server"
		if sg.src == board {
			who = "board"
		}
		if sg.fin {
			finsBy[who]++
			conn := sg.sport
			if who == "server" {
				conn = sg.dport
			}
			if _, ok := firstFIN[conn]; !ok {
				firstFIN[conn] = who
			}
		}
		if sg.rst && who == "board" {
			t.Errorf("frame %s: RST from the board (%s -> %s) after %d FIN exchanges: a completed close must end quietly",
				sg.frame, sg.sport, sg.dport, finsBy["board"])
		}
	}
	if finsBy["board"] < 2 || finsBy["server"] < 2 {
		t.Errorf("tshark found %d FINs from the board and %d from Postfix, want a FIN exchange on each of the 2 connections", finsBy["board"], finsBy["server"])
	}
	if who := firstFIN[fmt.Sprint(port)]; who != "board" {
		t.Errorf("connection from port %d: first FIN from %q, want the board (so that it ends in TIME_WAIT)", port, who)
	}
	if t.Failed() {
		t.Logf("segments: %+v", segs)
	}
}
