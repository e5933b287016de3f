package mailhost_test

import (
	"context"
	"crypto/md5"
	"crypto/tls"
	"fmt"
	"net"
	"net/netip"
	"net/smtp"
	"net/textproto"
	"strings"

	"github.com/simboard/simboard/apps/smtpc"
	"github.com/simboard/simboard/board"
	"github.com/simboard/simboard/driver"
	"github.com/simboard/simboard/mailhost"
)

// serveLoopback serves h's SMTP and POP3 on kernel sockets (127.0.0.1) and
// returns their addresses and a stop function.
func serveLoopback(h *mailhost.Host, tlsPorts bool) (smtpAddr, pop3Addr string, stop func()) {
	ls, _ := net.Listen("tcp", "127.0.0.1:0")
	lp, _ := net.Listen("tcp", "127.0.0.1:0")
	serveS, serveP := h.ServeSMTP, h.ServePOP3
	if tlsPorts {
		serveS, serveP = h.ServeSMTPS, h.ServePOP3S
	}
	done := make(chan struct{}, 2)
	go func() { serveS(ls); done <- struct{}{} }()
	go func() { serveP(lp); done <- struct{}{} }()
	return ls.Addr().String(), lp.Addr().String(), func() { h.Close(); <-done; <-done }
}

// SASL: CRAM-MD5 (net/smtp's CRAMMD5Auth) and XOAUTH2 with a bearer token;
// the Envelope records which mechanism each mail used.
func Example_sasl() {
	h, _ := mailhost.New(mailhost.Options{
		Users:             map[string]string{"alice": "secret"},
		Tokens:            map[string]string{"alice": "ya29.token"},
		AllowInsecureAuth: true, // no TLS in this example
	})
	addr, _, stop := serveLoopback(h, false)
	defer stop()

	msg := []byte("Subject: hi\r\n\r\nbody\r\n")
	err := smtp.SendMail(addr, smtp.CRAMMD5Auth("alice", "secret"), "a@b.test", []string{"alice@mailhost.test"}, msg)
	fmt.Println("CRAM-MD5:", err)
	err = smtp.SendMail(addr, xoauth2{"alice", "ya29.token"}, "a@b.test", []string{"alice@mailhost.test"}, msg)
	fmt.Println("XOAUTH2:", err)
	err = smtp.SendMail(addr, smtp.CRAMMD5Auth("alice", "wrong"), "a@b.test", []string{"alice@mailhost.test"}, msg)
	fmt.Println("bad password:", err)
	for _, e := range h.Store().Received() {
		fmt.Println("stored, authenticated as", e.AuthUser, "with", e.AuthMech)
	}
	// Output:
	// CRAM-MD5: <nil>
	// XOAUTH2: <nil>
	// bad password: 535 "5.7.8 Authentication failed"
	// stored, authenticated as alice with CRAM-MD5
	// stored, authenticated as alice with XOAUTH2
}

// xoauth2 is a net/smtp Auth for XOAUTH2.
type xoauth2 struct{ user, token string }

func (a xoauth2) Start(*smtp.ServerInfo) (string, []byte, error) {
	return "XOAUTH2", []byte("user=" + a.user + "\x01auth=Bearer " + a.token + "\x01\x01"), nil
}
func (a xoauth2) Next([]byte, bool) ([]byte, error) { return nil, nil }

// APOP with a real digest: MD5 over the greeting's timestamp and the
// password, as RFC 1939 §7 defines it.
func Example_apop() {
	h, _ := mailhost.New(mailhost.Options{Users: map[string]string{"alice": "secret"}})
	_, addr, stop := serveLoopback(h, false)
	defer stop()
	h.Store().Deliver("bob@b.test", []string{"alice"}, []byte("Subject: x\r\n\r\nhello\r\n"))

	c, _ := textproto.Dial("tcp", addr)
	defer c.Close()
	greeting, _ := c.ReadLine() // +OK ... <pid.nanos@mailhost.test>
	ts := greeting[strings.IndexByte(greeting, '<'):]
	digest := fmt.Sprintf("%x", md5.Sum([]byte(ts+"secret")))
	c.PrintfLine("APOP alice %s", digest)
	reply, _ := c.ReadLine()
	fmt.Println(reply)
	c.PrintfLine("APOP alice %x", md5.Sum([]byte(ts+"guess")))
	reply, _ = c.ReadLine()
	fmt.Println(strings.HasPrefix(reply, "-ERR"))
	// Output:
	// +OK alice's maildrop has 1 messages (21 octets)
	// true
}

// Implicit TLS (SMTPS 465 / POP3S 995 style) with a self-signed
// certificate; STARTTLS and STLS are offered on the plain ports when
// Options.TLS is set.
func Example_implicitTLS() {
	cert, roots, _ := mailhost.SelfSigned("127.0.0.1")
	h, _ := mailhost.New(mailhost.Options{Users: map[string]string{"alice": "secret"},
		TLS: &tls.Config{Certificates: []tls.Certificate{cert}}})
	addr, pop3s, stop := serveLoopback(h, true)
	defer stop()

	conn, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: roots, ServerName: "127.0.0.1"})
	if err != nil {
		fmt.Println(err)
		return
	}
	c, _ := smtp.NewClient(conn, "127.0.0.1")
	fmt.Println(c.Auth(smtp.PlainAuth("", "alice", "secret", "127.0.0.1")))
	c.Quit()

	pc, _ := tls.Dial("tcp", pop3s, &tls.Config{RootCAs: roots, ServerName: "127.0.0.1"})
	tp := textproto.NewConn(pc)
	defer tp.Close()
	l, _ := tp.ReadLine()
	fmt.Println(strings.HasPrefix(l, "+OK"))
	// Output:
	// <nil>
	// true
}

// Fault injection per stage with counts: RCPT answers 451 the first 2
// times, then the host behaves.
func Example_faults() {
	h, _ := mailhost.New(mailhost.Options{Users: map[string]string{"alice": "secret"},
		Faults: []mailhost.Fault{{Stage: mailhost.SMTPRcpt, Kind: mailhost.FaultReply, Code: 451, Text: "4.2.1 busy", Times: 2}}})
	addr, _, stop := serveLoopback(h, false)
	defer stop()
	for try := 1; try <= 3; try++ {
		err := smtp.SendMail(addr, nil, "a@b.test", []string{"alice@mailhost.test"}, []byte("Subject: x\r\n\r\ny\r\n"))
		fmt.Println("try", try, err)
	}
	// Output:
	// try 1 451 "4.2.1 busy"
	// try 2 451 "4.2.1 busy"
	// try 3 <nil>
}

// Serving on a board: the host listens on a simboard board's TCP port, and
// a second board sends to it with the NetX-style SMTP client over the
// in-memory Wire.
func Example_onBoard() {
	wire, _ := driver.NewWire(driver.WireOptions{Seed: 1})
	defer wire.Close()
	server, _ := board.New(board.Options{Name: "server", Wire: wire, Addr: netip.MustParsePrefix("198.51.100.1/24")})
	client, _ := board.New(board.Options{Name: "client", Wire: wire, Addr: netip.MustParsePrefix("198.51.100.2/24")})

	h, _ := mailhost.New(mailhost.Options{Users: map[string]string{"alice": "secret"}, AllowInsecureAuth: true})
	l, _ := server.IP.ListenTCP(25)
	served := make(chan error, 1)
	go func() { served <- h.ServeSMTP(l) }()

	c, _ := smtpc.Create(smtpc.Options{IP: client.IP, Pool: client.Pool, Username: "alice", Password: "secret",
		From: "board@board.test", ServerAddr: netip.MustParseAddr("198.51.100.1"), Port: 25,
		Auth: smtpc.AuthLogin, TLS: smtpc.TLSOff, AllowPlaintextAuth: true})
	res, err := c.MailSend(context.Background(), "alice@mailhost.test", smtpc.PriorityNormal, "from a board", []byte("hello\n"))
	c.Delete()
	fmt.Println(res.Accepted, res.Auth, err)
	fmt.Println(len(h.Store().Messages("alice")), "message for alice")

	h.Close()
	<-served
	fmt.Println(client.Close(), server.Close()) // pools balanced
	// Output:
	// true LOGIN <nil>
	// 1 message for alice
	// <nil> <nil>
}
