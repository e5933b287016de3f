package netstack_test

import (
	"context"
	"errors"
	"net/netip"
	"testing"
	"time"

	"github.com/simboard/simboard/boardtest"
	"github.com/simboard/simboard/driver"
	"github.com/simboard/simboard/netstack"
	"github.com/simboard/simboard/nx"
	"github.com/simboard/simboard/packetpool"
)

// settle lets frames already in flight (the handshake's last ACK) cross the
// Wire, so that a frame count taken afterwards only moves for new traffic.
func settle(ctx context.Context) {
	for i := 0; i < 10; i++ {
		_ = nx.Await(ctx, testClock(), nx.Ticks(1), nil, nx.ErrNoPacket)
	}
}

// wantAborted fails t unless err is NX_WAIT_ABORTED and also ctx's own error.
func wantAborted(t *testing.T, call string, err error, ctxErr error) {
	t.Helper()
	if !errors.Is(err, nx.ErrWaitAborted) || !errors.Is(err, ctxErr) {
		t.Errorf("%s = %v, want NX_WAIT_ABORTED wrapping %v", call, err, ctxErr)
	}
}

// TestNothingSentAfterCancellation is issue 9 §2 "cancelled sends" at its
// root: with an open window and free packets, Send, Connect, UDP Send,
// SendZeroSource, ARPResolve, ARPProbe and Disconnect(wait) on a done
// context put nothing (no data, no SYN, no datagram, no ARP, no FIN) on the
// wire, return NX_WAIT_ABORTED wrapping ctx.Err(), and leave the packet with
// the caller, untouched.
func TestNothingSentAfterCancellation(t *testing.T) {
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	expired, cancel2 := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer cancel2()
	for _, tc := range []struct {
		name string
		ctx  context.Context
	}{
		{"Canceled", cancelled},
		{"DeadlineExceeded", expired},
	} {
		t.Run(tc.name, func(t *testing.T) {
			boardtest.CheckGoroutines(t)
			client, server := boardtest.Pair(t, boardtest.Options{Debug: true})
			c, s := connectPair(t, client, server, server.Addr, 21)
			ctx := context.Background()
			settle(ctx)
			before := client.Driver.Stats().TxFrames

			// TCP Send: the window is open, the queue empty.
			pkt, err := client.Pool.Allocate(ctx, packetpool.IPv4TCPPacket, nx.NoWait)
			if err != nil {
				t.Fatal(err)
			}
			if err := pkt.Append(ctx, []byte(".\r\n"), client.Pool, nx.NoWait); err != nil {
				t.Fatal(err)
			}
			for _, w := range []nx.Wait{nx.NoWait, nx.Ticks(100), nx.WaitForever} {
				wantAborted(t, "Send(done ctx, pkt, "+w.String()+")", c.Send(tc.ctx, pkt, w), tc.ctx.Err())
				if pkt.Length() != 3 {
					t.Fatalf("after the aborted Send the caller's packet holds %d bytes, want 3", pkt.Length())
				}
			}
			if err := pkt.Release(); err != nil {
				t.Errorf("caller Release after aborted Send = %v, want nil (the caller owns it)", err)
			}
			if got := c.Info().TransmitQueueDepth; got != 0 {
				t.Errorf("TransmitQueueDepth after aborted Send = %d, want 0", got)
			}

			// Connect: no SYN.
			c2, err := client.IP.TCPSocketCreate("c2", 0)
			if err != nil {
				t.Fatal(err)
			}
			if err := c2.ClientBind(ctx, 0, nx.NoWait); err != nil {
				t.Fatal(err)
			}
			wantAborted(t, "Connect(done ctx)", c2.Connect(tc.ctx, netip.AddrPortFrom(server.Addr, 21), nx.Seconds(5)), tc.ctx.Err())
			_ = c2.ClientUnbind()
			_ = c2.Delete()

			// UDP Send: no datagram.
			u, err := client.IP.UDPSocketCreate("u")
			if err != nil {
				t.Fatal(err)
			}
			if err := u.Bind(ctx, 0, nx.NoWait); err != nil {
				t.Fatal(err)
			}
			up, _ := client.Pool.Allocate(ctx, packetpool.UDPPacket, nx.NoWait)
			_ = up.Append(ctx, []byte("datagram"), client.Pool, nx.NoWait)
			wantAborted(t, "UDPSocket.Send(done ctx)", u.Send(tc.ctx, up, netip.AddrPortFrom(server.Addr, 53)), tc.ctx.Err())
			if err := up.Release(); err != nil {
				t.Errorf("caller Release after aborted UDP Send = %v, want nil", err)
			}
			// The DHCP client's zero-source send, ARP resolve and ARP probe.
			if err := u.BroadcastEnable(); err != nil {
				t.Fatal(err)
			}
			zp, _ := client.Pool.Allocate(ctx, packetpool.UDPPacket, nx.NoWait)
			_ = zp.Append(ctx, []byte("discover"), client.Pool, nx.NoWait)
			wantAborted(t, "UDPSocket.SendZeroSource(done ctx)", u.SendZeroSource(tc.ctx, zp, 67), tc.ctx.Err())
			if err := zp.Release(); err != nil {
				t.Errorf("caller Release after aborted SendZeroSource = %v, want nil", err)
			}
			_ = u.Unbind()
			_ = u.Delete()
			_, err = client.IP.ARPResolve(tc.ctx, netip.MustParseAddr("198.51.100.9"), nx.Seconds(1))
			wantAborted(t, "ARPResolve(done ctx)", err, tc.ctx.Err())
			_, err = client.IP.ARPProbe(tc.ctx, netip.MustParseAddr("198.51.100.9"), 1, 10*time.Millisecond)
			wantAborted(t, "ARPProbe(done ctx)", err, tc.ctx.Err())

			settle(ctx)
			if after := client.Driver.Stats().TxFrames; after != before {
				t.Errorf("the client sent %d frames after its context was done, want 0", after-before)
			}
			if p, err := s.Receive(ctx, nx.NoWait); !errors.Is(err, nx.ErrNoPacket) {
				if p != nil {
					_ = p.Release()
				}
				t.Errorf("server Receive = %v, want NX_NO_PACKET: no byte may arrive", err)
			}

			// Disconnect with a wait on a done ctx sends no FIN (the peer
			// must not see a clean end): it resets.
			wantAborted(t, "Disconnect(done ctx, 5 s)", c.Disconnect(tc.ctx, nx.Seconds(5)), tc.ctx.Err())
			if _, err := s.Receive(ctx, nx.Seconds(5)); !errors.Is(err, nx.ErrNotConnected) {
				t.Errorf("server Receive after the client's aborted Disconnect = %v, want NX_NOT_CONNECTED (reset)", err)
			}
			if in := server.IP.Info(); in.TCPResetsReceived == 0 {
				t.Errorf("server saw no RST after Disconnect on a done ctx")
			}
		})
	}
}

// TestTransmitQueueReleasedOnReset is issue 9 §2 "transmit queue after a
// reset": 20 packets wait unacknowledged on the client's transmit queue (the
// client's frames are lost), the pool is otherwise empty and an Allocate is
// suspended on it. The server resets the connection. The queue goes back to
// the pool at once, before anyone calls Disconnect (the suspended Allocate
// gets a packet), and every later Send fails with NX_NOT_CONNECTED without
// waiting, whatever its wait option.
func TestTransmitQueueReleasedOnReset(t *testing.T) {
	boardtest.CheckGoroutines(t)
	client, server := boardtest.Pair(t, boardtest.Options{PayloadSize: 256, Count: 32, Debug: true})
	c, s := connectPair(t, client, server, server.Addr, 22)
	ctx := context.Background()
	settle(ctx)
	client.Port.SetImpairments(driver.Impairments{Loss: 1}) // nothing from the client arrives: nothing is acknowledged
	for i := 0; i < 20; i++ {
		if err := sendBytes(t, ctx, c, client.Pool, []byte{'a' + byte(i)}, nx.NoWait); err != nil {
			t.Fatalf("Send #%d = %v", i+1, err)
		}
	}
	if got := c.Info().TransmitQueueDepth; got != 20 {
		t.Fatalf("TransmitQueueDepth = %d, want 20", got)
	}
	var held []*packetpool.Packet
	for {
		p, err := client.Pool.Allocate(ctx, packetpool.IPv4TCPPacket, nx.NoWait)
		if err != nil {
			break
		}
		held = append(held, p)
	}
	got := make(chan *packetpool.Packet, 1)
	go func() {
		p, _ := client.Pool.Allocate(ctx, packetpool.IPv4TCPPacket, nx.WaitForever)
		got <- p
	}()
	if err := s.Disconnect(ctx, nx.NoWait); !errors.Is(err, nx.ErrInProgress) {
		t.Fatalf("server Disconnect(NoWait) = %v, want NX_IN_PROGRESS (RST)", err)
	}
	var p *packetpool.Packet
	select {
	case p = <-got:
	case <-after(10 * time.Second):
		// Unblock the allocator before failing so nothing leaks.
		_ = c.Disconnect(ctx, nx.NoWait)
		p = <-got
		t.Errorf("a suspended Allocate got no packet after the peer's RST: the transmit queue was held until Disconnect")
	}
	if p == nil {
		t.Fatal("Allocate(WaitForever) returned no packet")
	}
	_ = p.Append(ctx, []byte("late"), client.Pool, nx.NoWait)
	for _, w := range []nx.Wait{nx.NoWait, nx.Seconds(1), nx.WaitForever} {
		done := make(chan error, 1)
		go func() { done <- c.Send(ctx, p, w) }()
		select {
		case err := <-done:
			if !errors.Is(err, nx.ErrNotConnected) {
				t.Errorf("Send(%v) after the peer's RST = %v, want NX_NOT_CONNECTED", w, err)
			}
		case <-after(10 * time.Second):
			_ = c.Disconnect(ctx, nx.NoWait)
			<-done
			t.Errorf("Send(%v) after the peer's RST still blocked after 10 s, want NX_NOT_CONNECTED at once", w)
		}
	}
	if got := c.Info().TransmitQueueDepth; got != 0 {
		t.Errorf("TransmitQueueDepth after the RST = %d, want 0", got)
	}
	_ = p.Release()
	for _, h := range held {
		_ = h.Release()
	}
	if in := client.Pool.Info(); in.Free != in.Total {
		t.Errorf("client pool %d of %d free before Disconnect, want all", in.Free, in.Total)
	}
	if _, err := c.Receive(ctx, nx.NoWait); !errors.Is(err, nx.ErrNotConnected) {
		t.Errorf("Receive after the RST = %v, want NX_NOT_CONNECTED", err)
	}
}

// TestTransmitQueueReleasedOnTimeout is the other half of issue 9 §2
// "whatever killed it": no ACK ever comes back, the segment is retransmitted
// TCPOptions.MaxRetries times and the connection times out (no RST from
// anyone). The transmit queue must go back to the pool without a Disconnect
// and the next Send must fail with NX_NOT_CONNECTED.
func TestTransmitQueueReleasedOnTimeout(t *testing.T) {
	boardtest.CheckGoroutines(t)
	opt := boardtest.Options{PayloadSize: 256, Count: 32, Debug: true,
		TCP: netstack.TCPOptions{MinRTO: 10 * time.Millisecond, MaxRetries: 3}}
	client, server := boardtest.Pair(t, opt)
	c, _ := connectPair(t, client, server, server.Addr, 23)
	ctx := context.Background()
	settle(ctx)
	server.Port.SetImpairments(driver.Impairments{Loss: 1}) // no ACK reaches the client
	for i := 0; i < 20; i++ {
		if err := sendBytes(t, ctx, c, client.Pool, []byte{'a' + byte(i)}, nx.NoWait); err != nil {
			t.Fatalf("Send #%d = %v", i+1, err)
		}
	}
	in := client.Pool.Info()
	for i := 0; i < 1000 && in.Free != in.Total; i++ { // the retries take well under a second
		_ = nx.Await(ctx, testClock(), nx.Ticks(1), nil, nx.ErrNoPacket)
		in = client.Pool.Info()
	}
	if in.Free != in.Total {
		t.Errorf("client pool %d of %d free 10 s after the connection timed out, want all (transmit queue depth %d)",
			in.Free, in.Total, c.Info().TransmitQueueDepth)
	}
	if err := sendBytes(t, ctx, c, client.Pool, []byte("late"), nx.Seconds(5)); !errors.Is(err, nx.ErrNotConnected) {
		t.Errorf("Send(5 s) after the timeout = %v, want NX_NOT_CONNECTED (not a queue or window timeout)", err)
	}
	if got := client.IP.Info().TCPTimeouts; got == 0 {
		t.Errorf("IP Info TCPTimeouts = 0, want the connection's timeout counted")
	}
}
