package smtpc

import (
	"bytes"
	"context"
	"errors"
	"net"
	"sync"
	"testing"

	"github.com/simboard/simboard/boardtest"
	"github.com/simboard/simboard/mailhost"
	"github.com/simboard/simboard/netstack"
	"github.com/simboard/simboard/nx"
)

// resetAfterListener hands out connections that reset themselves (a real
// TCP RST from the server board) once the host has read after bytes: with
// the envelope a few hundred bytes long, that is in the middle of DATA.
type resetAfterListener struct {
	net.Listener
	after int
}

func (l resetAfterListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &resetAfterConn{Conn: c.(*netstack.Conn), left: l.after}, nil
}

type resetAfterConn struct {
	*netstack.Conn
	mu   sync.Mutex
	left int
}

func (c *resetAfterConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	c.mu.Lock()
	c.left -= n
	fire := c.left <= 0 && n > 0
	c.mu.Unlock()
	if fire {
		_ = c.Socket().Disconnect(context.Background(), nx.NoWait) // RST with the client's data still in flight
		return 0, net.ErrClosed
	}
	return n, err
}

// TestTransmitQueueReleasedOnResetSMTP is issue 9 §2 "transmit queue after a
// reset" seen from smtpc: the client board has a 32-packet pool and streams
// a 256 KiB body, so its transmit queue holds most of the pool when the
// server resets the connection. Before the fix the queue stayed out of the
// pool until Disconnect, the client's next Allocate waited out its 2 s and
// MailSend returned NX_SMTP_PACKET_ALLOCATE_ERROR (0xA6) in 3-4 runs of 10.
// Now every one of 50 runs must end with NX_NOT_CONNECTED, the pools
// balanced after each, and the client still able to send a mail.
func TestTransmitQueueReleasedOnResetSMTP(t *testing.T) {
	body := bytes.Repeat([]byte("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcde\n"), 4096) // 256 KiB
	for _, tc := range []struct {
		name  string
		fault []mailhost.Fault
		after int // reset the connection after the host has read this many bytes (0: no)
	}{
		{"mid-DATA reset", nil, 64 << 10},
		{"mail host reset fault at end of DATA", []mailhost.Fault{{Stage: mailhost.SMTPDataEnd, Kind: mailhost.FaultReset}}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			boardtest.CheckGoroutines(t)
			w := boardtest.NewWire(t, 3)
			srv := boardtest.NewBoard(t, w, "server", 1, boardtest.Options{})
			cli := boardtest.NewBoard(t, w, "client", 2, boardtest.Options{Count: 32, Debug: true})
			h, err := mailhost.New(mailhost.Options{Users: testUsers, Domain: "mail.example.test"})
			if err != nil {
				t.Fatal(err)
			}
			ln, err := srv.IP.ListenTCP(25)
			if err != nil {
				t.Fatal(err)
			}
			var l net.Listener = rstListener{ln}
			if tc.after > 0 {
				l = resetAfterListener{Listener: ln, after: tc.after}
			}
			var wg sync.WaitGroup
			wg.Go(func() { _ = h.ServeSMTP(l) })
			t.Cleanup(func() {
				_ = h.Close()
				wg.Wait()
			})
			o := Options{
				IP: cli.IP, Pool: cli.Pool, From: "board@example.com", ClientDomain: "board.example.com",
				ServerAddr: srv.Addr, Auth: AuthNone, TLS: TLSOff,
				// A loaded test host can stall the server for seconds
				// while the client's pool is full of unacknowledged
				// packets of a live connection: NetX's 2 s packet wait
				// would then end in 0xA6 without any reset. Long waits
				// keep the test about the reset; on the old netstack it
				// still failed (after 30 s instead of 2 s). Measured
				// with 2 s waits at load ~20 under -race: Allocate
				// waited up to 3 s on an ESTABLISHED connection with
				// 2-3 chains unacknowledged, no frame dropped (driver
				// and Wire counters all 0) and the retransmission
				// count rising: spurious RTOs of a starved stack, then
				// 0xA6 before the server's reset had happened.
				Timeouts: Timeouts{Packet: nx.Seconds(30), Send: nx.Seconds(30)},
			}
			c, err := Create(o)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = c.Delete() })
			ctx := context.Background()
			for run := range 50 {
				if err := h.SetFaults(tc.fault); err != nil {
					t.Fatal(err)
				}
				before := len(h.Store().Received())
				res, err := c.MailSend(ctx, "bob@example.com", PriorityNormal, "reset", body)
				if !errors.Is(err, nx.ErrNotConnected) || res.Accepted {
					t.Fatalf("run %d: MailSend(server resets mid-transfer) = %v (accepted %v), want NX_NOT_CONNECTED",
						run+1, err, res.Accepted)
				}
				if n := len(h.Store().Received()) - before; n != 0 {
					t.Fatalf("run %d: the host delivered %d mails, want 0", run+1, n)
				}
				boardtest.CheckBalanced(t, cli.Pool, cli.RxPool)
				if t.Failed() {
					t.FailNow()
				}
			}
			if err := h.SetFaults(nil); err != nil {
				t.Fatal(err)
			}
			if tc.after > 0 {
				return // every connection of this listener resets
			}
			if res, err := c.MailSend(ctx, "bob@example.com", PriorityNormal, "after", []byte("still works\n")); err != nil || !res.Accepted {
				t.Fatalf("MailSend after 50 resets = %+v, %v; want accepted", res, err)
			}
		})
	}
}
