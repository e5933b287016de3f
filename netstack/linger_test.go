package netstack_test

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"testing"

	"github.com/simboard/simboard/boardtest"
	"github.com/simboard/simboard/netstack"
	"github.com/simboard/simboard/nx"
)

// TestRebindAfterTimeWait closes each connection from the client side, so
// the client's stack keeps it in TIME_WAIT, and binds again at once: to a
// fixed port, as ported NetX code does (NetX's unbind forces TIMED_WAIT
// closed), and to NX_ANY_PORT, whose search must skip ports still held. Every
// connect must succeed.
func TestRebindAfterTimeWait(t *testing.T) {
	for _, tc := range []struct {
		name  string
		port  uint16
		conns int
	}{
		{"fixed port", 0xD000, 20},
		// 300 random picks among 16384 ports collide with an earlier
		// TIME_WAIT port with probability ~94% if the search ignores them.
		{"NX_ANY_PORT", 0, 300},
	} {
		t.Run(tc.name, func(t *testing.T) {
			boardtest.CheckGoroutines(t)
			client, server := boardtest.Pair(t, boardtest.Options{})
			ctx := context.Background()
			s, err := server.IP.TCPSocketCreate("server", 0)
			if err != nil {
				t.Fatal(err)
			}
			if err := server.IP.ServerListen(80, s, 5); err != nil {
				t.Fatal(err)
			}
			served := make(chan error, 1)
			go func() { served <- serveClosing(ctx, server, s, tc.conns) }()
			c, err := client.IP.TCPSocketCreate("client", 0)
			if err != nil {
				t.Fatal(err)
			}
			seen := map[uint16]int{}
			for i := range tc.conns {
				if err := c.ClientBind(ctx, tc.port, nx.NoWait); err != nil {
					t.Fatalf("conn %d: ClientBind(%#x) = %v", i, tc.port, err)
				}
				seen[c.Port()]++
				if err := c.Connect(ctx, netip.AddrPortFrom(server.Addr, 80), nx.Seconds(10)); err != nil {
					t.Fatalf("conn %d: Connect from port %d = %v", i, c.Port(), err)
				}
				if err := c.Disconnect(ctx, nx.Seconds(10)); err != nil {
					t.Fatalf("conn %d: Disconnect = %v", i, err)
				}
				if err := c.ClientUnbind(); err != nil {
					t.Fatalf("conn %d: ClientUnbind = %v", i, err)
				}
			}
			if err := <-served; err != nil {
				t.Fatal(err)
			}
			if tc.port == 0 {
				for p, n := range seen {
					if n > 1 {
						t.Errorf("NX_ANY_PORT picked port %d %d times while it was in TIME_WAIT", p, n)
					}
				}
			}
			if err := c.Delete(); err != nil {
				t.Error(err)
			}
			if err := server.IP.ServerUnlisten(80); err != nil {
				t.Error(err)
			}
			if err := s.Delete(); err != nil {
				t.Error(err)
			}
			boardtest.CheckBalanced(t, client.Pool, client.RxPool, server.Pool, server.RxPool)
		})
	}
}

// serveClosing accepts n connections on s in turn, the NetX way: accept,
// wait for the client's FIN, disconnect, unaccept, relisten.
func serveClosing(ctx context.Context, server *boardtest.Board, s *netstack.TCPSocket, n int) error {
	for i := range n {
		if err := s.ServerAccept(ctx, nx.Seconds(10)); err != nil {
			return fmt.Errorf("conn %d: ServerAccept = %w", i, err)
		}
		if _, err := s.Receive(ctx, nx.Seconds(10)); !errors.Is(err, nx.ErrNotConnected) {
			return fmt.Errorf("conn %d: Receive = %v, want NX_NOT_CONNECTED after the client's FIN", i, err)
		}
		if err := s.Disconnect(ctx, nx.Seconds(10)); err != nil {
			return fmt.Errorf("conn %d: server Disconnect = %w", i, err)
		}
		if err := s.ServerUnaccept(); err != nil {
			return fmt.Errorf("conn %d: ServerUnaccept = %w", i, err)
		}
		if i < n-1 {
			if err := server.IP.ServerRelisten(80, s); err != nil {
				return fmt.Errorf("conn %d: ServerRelisten = %w", i, err)
			}
		}
	}
	return nil
}
