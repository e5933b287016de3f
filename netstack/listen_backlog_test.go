package netstack_test

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/simboard/simboard/boardtest"
	"github.com/simboard/simboard/driver"
)

// TestFleetGreetingBacklog is issue 11 §5 "7 of 1,000 mails failed at the
// greeting": clients reach a server-speaks-first listener at once. With a
// backlog smaller than the clients, gVisor answers the excess SYNs with SYN
// cookies and drops the final ACK of those that find the accept queue full,
// keeping no state: the client believes it is connected and waits for a
// greeting that never comes (the fleet's NX_NO_PACKET at the greeting
// timeout). ListenTCP's backlog of 16 lost greetings that way once a fleet
// had more than 16 boards connecting together; ListenTCPBacklog sized to
// the clients delivers every greeting.
//
// The server's port delays its frames by 200 ms so that every SYN reaches
// the server before any SYN-ACK leaves, and the server accepts only after
// every handshake is done: the accept queue holds what the backlog allows.
func TestFleetGreetingBacklog(t *testing.T) {
	const clients = 8
	for _, tc := range []struct {
		name    string
		backlog int
		wantAll bool
	}{
		{"backlog 2 loses greetings", 2, false},
		{"backlog sized to the clients", clients, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			boardtest.CheckGoroutines(t)
			w := boardtest.NewWire(t, 1)
			server := boardtest.NewBoard(t, w, "server", 1, boardtest.Options{Port: driver.PortOptions{Delay: 200 * time.Millisecond}})
			ln, err := server.IP.ListenTCPBacklog(25, tc.backlog)
			if err != nil {
				t.Fatalf("ListenTCPBacklog(25, %d) = %v", tc.backlog, err)
			}
			dialed := make(chan struct{})
			var serveWG sync.WaitGroup
			serveWG.Add(1)
			go func() {
				defer serveWG.Done()
				<-dialed
				for {
					c, err := ln.Accept()
					if err != nil {
						return
					}
					serveWG.Add(1)
					go func() {
						defer serveWG.Done()
						_, _ = c.Write([]byte("220 ready\r\n"))
						_ = c.SetReadDeadline(time.Now().Add(5 * time.Second)) // wall clock, as for any net.Conn: the Conn maps it onto the IP clock
						_, _ = bufio.NewReader(c).ReadString('\n')             // the client's QUIT, or its close
						_ = c.Close()
					}()
				}
			}()

			var boards []*boardtest.Board
			for i := range clients {
				boards = append(boards, boardtest.NewBoard(t, w, fmt.Sprintf("c%d", i), byte(10+i), boardtest.Options{}))
			}
			conns := make([]net.Conn, clients)
			var dialWG sync.WaitGroup
			for i, b := range boards {
				dialWG.Add(1)
				go func() {
					defer dialWG.Done()
					c, err := b.IP.DialTCP(context.Background(), netip.AddrPortFrom(server.Addr, 25))
					if err != nil {
						t.Errorf("client %d: DialTCP = %v", i, err)
						return
					}
					conns[i] = c
				}()
			}
			dialWG.Wait()
			close(dialed)

			greeted := 0
			var mu sync.Mutex
			var readWG sync.WaitGroup
			for _, c := range conns {
				if c == nil {
					continue
				}
				readWG.Add(1)
				go func() {
					defer readWG.Done()
					_ = c.SetReadDeadline(time.Now().Add(3 * time.Second)) // wall clock, mapped onto the IP clock
					line, err := bufio.NewReader(c).ReadString('\n')
					if err == nil && line == "220 ready\r\n" {
						mu.Lock()
						greeted++
						mu.Unlock()
						_, _ = c.Write([]byte("QUIT\r\n"))
					}
					_ = c.Close()
				}()
			}
			readWG.Wait()
			_ = ln.Close()
			serveWG.Wait()
			if tc.wantAll && greeted != clients {
				t.Errorf("backlog %d: %d of %d clients got the greeting, want all", tc.backlog, greeted, clients)
			}
			if !tc.wantAll && greeted == clients {
				t.Errorf("backlog %d: all %d clients got the greeting; the SYN-cookie trap this test pins down did not occur", tc.backlog, clients)
			}
			t.Logf("backlog %d: %d of %d greeted", tc.backlog, greeted, clients)
		})
	}
}
