package smtpc

import (
	"bufio"
	"context"
	"io"
	"net"
	"strings"
	"sync"
	"testing"

	"github.com/simboard/simboard/boardtest"
)

// lingerServer answers every command but leaves the close to the client, so
// each session leaves a TIME_WAIT connection on the client's side. It
// returns when l is closed and every connection has ended.
func lingerServer(l net.Listener) {
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		c, err := l.Accept()
		if err != nil {
			return
		}
		wg.Go(func() {
			defer c.Close()
			br := bufio.NewReader(c)
			_, _ = c.Write([]byte("220 x\r\n"))
			inData := false
			for {
				line, err := br.ReadString('\n')
				if err != nil {
					return
				}
				switch {
				case inData:
					if line == ".\r\n" {
						inData = false
						_, _ = c.Write([]byte("250 ok\r\n"))
					}
				case strings.HasPrefix(line, "DATA"):
					inData = true
					_, _ = c.Write([]byte("354 go\r\n"))
				case strings.HasPrefix(line, "QUIT"):
					_, _ = c.Write([]byte("221 bye\r\n"))
					_, _ = io.Copy(io.Discard, br)
					return
				default:
					_, _ = c.Write([]byte("250 ok\r\n"))
				}
			}
		})
	}
}

// TestManyMailsTimeWait sends 800 mails when the client closes first: the
// stack keeps each old connection in TIME_WAIT, and every NX_ANY_PORT bind
// must pick a port that no such connection still holds, or the connect
// would fail (NX_IP_ADDRESS_ERROR).
func TestManyMailsTimeWait(t *testing.T) {
	boardtest.CheckGoroutines(t)
	cli, srv := boardtest.Pair(t, boardtest.Options{})
	ln, err := srv.IP.ListenTCP(25)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Go(func() { lingerServer(ln) })
	defer wg.Wait()
	defer ln.Close()
	c, err := Create(Options{IP: cli.IP, Pool: cli.Pool, From: "board@example.com", ClientDomain: "board.example.com",
		ServerAddr: srv.Addr, Auth: AuthNone, TLS: TLSOff})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Delete()
	for i := range 800 {
		if _, err := c.MailSend(context.Background(), "bob@example.com", PriorityNormal, "x", []byte("x")); err != nil {
			t.Fatalf("mail %d: MailSend() = %v", i, err)
		}
	}
	boardtest.CheckBalanced(t, cli.Pool, cli.RxPool)
}
