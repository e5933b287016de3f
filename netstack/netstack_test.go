package netstack_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/simboard/simboard/boardtest"
	"github.com/simboard/simboard/driver"
	"github.com/simboard/simboard/netstack"
	"github.com/simboard/simboard/nx"
	"github.com/simboard/simboard/packetpool"
)

// connectPair binds a server socket on the server board, connects a client
// socket from the client board, and returns both. Cleanup tears both down.
func connectPair(t *testing.T, client, server *boardtest.Board, dst netip.Addr, port uint16) (c, s *netstack.TCPSocket) {
	t.Helper()
	return connectPairWindows(t, client, server, dst, port, 0, 0)
}

// connectPairWindows is connectPair with each socket's receive window given
// (0: the IP's default).
func connectPairWindows(t *testing.T, client, server *boardtest.Board, dst netip.Addr, port uint16, clientWindow, serverWindow int) (c, s *netstack.TCPSocket) {
	t.Helper()
	ctx := context.Background()
	s, err := server.IP.TCPSocketCreate("server", serverWindow)
	if err != nil {
		t.Fatal(err)
	}
	if err := server.IP.ServerListen(port, s, 5); err != nil {
		t.Fatalf("ServerListen(%d) = %v", port, err)
	}
	accepted := make(chan error, 1)
	go func() { accepted <- s.ServerAccept(ctx, nx.Seconds(10)) }()
	c, err = client.IP.TCPSocketCreate("client", clientWindow)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.ClientBind(ctx, 0, nx.NoWait); err != nil {
		t.Fatalf("ClientBind(ANY) = %v", err)
	}
	if err := c.Connect(ctx, netip.AddrPortFrom(dst, port), nx.Seconds(10)); err != nil {
		t.Fatalf("Connect = %v", err)
	}
	if err := <-accepted; err != nil {
		t.Fatalf("ServerAccept = %v", err)
	}
	t.Cleanup(func() {
		_ = c.Disconnect(ctx, nx.NoWait)
		_ = c.ClientUnbind()
		_ = c.Delete()
		_ = s.Disconnect(ctx, nx.NoWait)
		_ = s.ServerUnaccept()
		_ = server.IP.ServerUnlisten(port)
		_ = s.Delete()
	})
	return c, s
}

// closePair ends a connectPair connection as firmware would: the client
// resets (an error other than NX_IN_PROGRESS is reported), then both sockets
// are unbound and deleted and the port unlistened.
func closePair(t *testing.T, server *boardtest.Board, c, s *netstack.TCPSocket, port uint16) {
	t.Helper()
	ctx := context.Background()
	if err := c.Disconnect(ctx, nx.NoWait); err != nil && !errors.Is(err, nx.ErrInProgress) {
		t.Errorf("client disconnect: %v", err)
	}
	_ = c.ClientUnbind()
	_ = c.Delete()
	_ = s.Disconnect(ctx, nx.NoWait)
	_ = s.ServerUnaccept()
	_ = server.IP.ServerUnlisten(port)
	_ = s.Delete()
}

func sendBytes(t testing.TB, ctx context.Context, sock *netstack.TCPSocket, pool *packetpool.Pool, data []byte, wait nx.Wait) error {
	t.Helper()
	pkt, err := pool.Allocate(ctx, sock.PacketType(), wait)
	if err != nil {
		return err
	}
	if err := pkt.Append(ctx, data, pool, wait); err != nil {
		_ = pkt.Release()
		return err
	}
	if err := sock.Send(ctx, pkt, wait); err != nil {
		_ = pkt.Release()
		return err
	}
	return nil
}

// recvN receives until n bytes arrived or an error occurs.
func recvN(ctx context.Context, sock *netstack.TCPSocket, n int, wait nx.Wait) ([]byte, error) {
	out := make([]byte, 0, n)
	buf := make([]byte, 65536)
	for len(out) < n {
		pkt, err := sock.Receive(ctx, wait)
		if err != nil {
			return out, err
		}
		k, _ := pkt.Retrieve(buf[:pkt.Length()])
		out = append(out, buf[:k]...)
		if err := pkt.Release(); err != nil {
			return out, err
		}
	}
	return out, nil
}

func TestTCPEcho(t *testing.T) {
	for _, v6 := range []bool{false, true} {
		name := map[bool]string{false: "IPv4", true: "IPv6"}[v6]
		t.Run(name, func(t *testing.T) {
			boardtest.CheckGoroutines(t)
			client, server := boardtest.Pair(t, boardtest.Options{IPv6: true, Debug: true})
			dst := server.Addr
			if v6 {
				dst = server.Addr6
			}
			c, s := connectPair(t, client, server, dst, 7)
			if got, want := c.PacketType(), map[bool]int{false: packetpool.IPv4TCPPacket, true: packetpool.IPv6TCPPacket}[v6]; got != want {
				t.Errorf("PacketType() = %d, want %d", got, want)
			}
			ctx := context.Background()
			msg := []byte("hello from the board\r\n")
			if err := sendBytes(t, ctx, c, client.Pool, msg, nx.Seconds(5)); err != nil {
				t.Fatalf("Send = %v", err)
			}
			got, err := recvN(ctx, s, len(msg), nx.Seconds(5))
			if err != nil || !bytes.Equal(got, msg) {
				t.Fatalf("server Receive = %q, %v; want %q", got, err, msg)
			}
			if err := sendBytes(t, ctx, s, server.Pool, got, nx.Seconds(5)); err != nil {
				t.Fatalf("echo Send = %v", err)
			}
			back, err := recvN(ctx, c, len(msg), nx.Seconds(5))
			if err != nil || !bytes.Equal(back, msg) {
				t.Fatalf("client Receive = %q, %v; want %q", back, err, msg)
			}
			// A graceful disconnect waits for the peer's FIN: close both sides.
			errc := make(chan error, 1)
			go func() { errc <- s.Disconnect(ctx, nx.Seconds(5)) }()
			if err := c.Disconnect(ctx, nx.Seconds(5)); err != nil {
				t.Errorf("client Disconnect = %v", err)
			}
			if err := <-errc; err != nil {
				t.Errorf("server Disconnect = %v", err)
			}
		})
	}
}

// transfer sends size bytes from c to s in chains of chunk bytes and checks
// them byte for byte, under a deadline (reference/anchors.md §7).
func transfer(t *testing.T, client, server *boardtest.Board, c, s *netstack.TCPSocket, size, chunk int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	data := make([]byte, size)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range data {
		data[i] = byte(rng.Uint32())
	}
	var wg sync.WaitGroup
	var sendErr error
	wg.Add(1)
	go func() {
		defer wg.Done()
		for off := 0; off < size; off += chunk {
			end := min(off+chunk, size)
			if err := sendBytes(t, ctx, c, client.Pool, data[off:end], nx.WaitForever); err != nil {
				sendErr = err
				return
			}
		}
	}()
	got, err := recvN(ctx, s, size, nx.WaitForever)
	wg.Wait()
	if sendErr != nil {
		t.Fatalf("send: %v", sendErr)
	}
	if err != nil {
		t.Fatalf("receive after %d of %d bytes: %v", len(got), size, err)
	}
	if !bytes.Equal(got, data) {
		t.Fatalf("received %d bytes differ from the %d sent", len(got), size)
	}
}

func TestTransfer16MiB(t *testing.T) {
	cases := []struct {
		name string
		port driver.PortOptions
		v6   bool
	}{
		{name: "clean"},
		{name: "clean-ipv6", v6: true},
		{name: "loss5-reorder", port: driver.PortOptions{Loss: 0.05, Reorder: 0.05}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			boardtest.CheckGoroutines(t)
			size := 16 << 20
			if testing.Short() || raceEnabled {
				size = 4 << 20
			}
			client, server := boardtest.Pair(t, boardtest.Options{IPv6: tc.v6, Port: tc.port, TCP: netstack.TCPOptions{MinRTO: 20 * time.Millisecond}})
			dst := server.Addr
			if tc.v6 {
				dst = server.Addr6
			}
			c, s := connectPair(t, client, server, dst, 5001)
			transfer(t, client, server, c, s, size, 8192)
			st := client.Port.Stats()
			t.Logf("port stats: %+v, client IP %+v", st, client.IP.Info())
		})
	}
}

func TestChainedSend(t *testing.T) {
	// netx_tcp_chained_packet_test: 3000 bytes appended into a chain of
	// 512-byte packets, one Send; the receiver gets all 3000 bytes.
	boardtest.CheckGoroutines(t)
	client, server := boardtest.Pair(t, boardtest.Options{PayloadSize: 512, Count: 64})
	c, s := connectPair(t, client, server, server.Addr, 12)
	ctx := context.Background()
	data := bytes.Repeat([]byte("0123456789"), 300)
	pkt, err := client.Pool.Allocate(ctx, packetpool.IPv4TCPPacket, nx.NoWait)
	if err != nil {
		t.Fatal(err)
	}
	if err := pkt.Append(ctx, data, client.Pool, nx.NoWait); err != nil {
		t.Fatal(err)
	}
	if pkt.Next() == nil {
		t.Fatalf("3000 bytes in 512-byte packets did not chain")
	}
	if err := c.Send(ctx, pkt, nx.Seconds(5)); err != nil {
		t.Fatalf("Send(chain) = %v", err)
	}
	got, err := recvN(ctx, s, len(data), nx.Seconds(5))
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("Receive = %d bytes, %v; want the 3000 bytes", len(got), err)
	}
}

func TestSendPoolExhausted(t *testing.T) {
	// netx_tcp_send_fail_test: with the pool exhausted, building a packet
	// fails with NX_NO_PACKET and the caller releases what it holds; later
	// sends succeed.
	boardtest.CheckGoroutines(t)
	client, server := boardtest.Pair(t, boardtest.Options{PayloadSize: 256, Count: 8})
	c, s := connectPair(t, client, server, server.Addr, 13)
	ctx := context.Background()
	var held []*packetpool.Packet
	for {
		p, err := client.Pool.Allocate(ctx, packetpool.IPv4TCPPacket, nx.NoWait)
		if err != nil {
			if !errors.Is(err, nx.ErrNoPacket) {
				t.Fatalf("Allocate = %v, want NX_NO_PACKET", err)
			}
			break
		}
		held = append(held, p)
	}
	// Append needs a second packet: the pool is empty.
	if err := held[0].Append(ctx, make([]byte, 400), client.Pool, nx.NoWait); !errors.Is(err, nx.ErrNoPacket) {
		t.Fatalf("Append(400 bytes, empty pool) = %v, want NX_NO_PACKET", err)
	}
	if held[0].Length() != 0 {
		t.Fatalf("failed Append changed the packet: length %d", held[0].Length())
	}
	for _, p := range held {
		if err := p.Release(); err != nil {
			t.Fatal(err)
		}
	}
	if err := sendBytes(t, ctx, c, client.Pool, []byte("after"), nx.Seconds(5)); err != nil {
		t.Fatalf("Send after pool recovered = %v", err)
	}
	if got, err := recvN(ctx, s, 5, nx.Seconds(5)); err != nil || string(got) != "after" {
		t.Fatalf("Receive = %q, %v", got, err)
	}
}

func TestTxQueueDepth(t *testing.T) {
	// netx_tcp_tx_queue_exceed_test: ACKs to the client are lost, 20 one-byte
	// sends succeed, the 21st (1 s wait) and 22nd (NX_NO_WAIT) return
	// NX_TX_QUEUE_DEPTH and the caller releases them.
	boardtest.CheckGoroutines(t)
	client, server := boardtest.Pair(t, boardtest.Options{})
	c, _ := connectPair(t, client, server, server.Addr, 14)
	ctx := context.Background()
	// Every frame from the server is now lost: no ACK reaches the client.
	server.Port.SetImpairments(driver.Impairments{Loss: 1})
	for i := 0; i < 20; i++ {
		if err := sendBytes(t, ctx, c, client.Pool, []byte{'a' + byte(i)}, nx.NoWait); err != nil {
			t.Fatalf("Send #%d = %v, want success", i+1, err)
		}
	}
	if got := c.Info().TransmitQueueDepth; got != 20 {
		t.Errorf("Info().TransmitQueueDepth = %d, want 20", got)
	}
	for i, w := range []nx.Wait{nx.Ticks(100), nx.NoWait} {
		pkt, err := client.Pool.Allocate(ctx, packetpool.IPv4TCPPacket, nx.NoWait)
		if err != nil {
			t.Fatal(err)
		}
		_ = pkt.Append(ctx, []byte("x"), client.Pool, nx.NoWait)
		if err := c.Send(ctx, pkt, w); !errors.Is(err, nx.ErrTXQueueDepth) {
			t.Errorf("Send #%d(%v) = %v, want NX_TX_QUEUE_DEPTH", 21+i, w, err)
		}
		if err := pkt.Release(); err != nil {
			t.Errorf("caller Release after failed Send = %v, want nil (caller owns it)", err)
		}
	}
	// A queued packet belongs to the socket: releasing it is NX_PTR_ERROR in NetX.
	// Disconnect releases the queue.
	if err := c.Disconnect(ctx, nx.NoWait); !errors.Is(err, nx.ErrInProgress) {
		t.Errorf("Disconnect(NoWait) = %v, want NX_IN_PROGRESS", err)
	}
	if in := client.Pool.Info(); in.Free != in.Total {
		t.Errorf("after Disconnect the client pool has %d of %d free", in.Free, in.Total)
	}
}

func TestReceiveAfterRST(t *testing.T) {
	// netx_tcp_socket_receive_rst_test: the server sends two 28-byte segments
	// and then resets; the client still receives 56 bytes, then NX_NOT_CONNECTED.
	boardtest.CheckGoroutines(t)
	client, server := boardtest.Pair(t, boardtest.Options{})
	c, s := connectPair(t, client, server, server.Addr, 15)
	ctx := context.Background()
	a, b := bytes.Repeat([]byte("A"), 28), bytes.Repeat([]byte("B"), 28)
	for _, d := range [][]byte{a, b} {
		if err := sendBytes(t, ctx, s, server.Pool, d, nx.Seconds(5)); err != nil {
			t.Fatal(err)
		}
	}
	// Wait until the client has both segments queued before the RST.
	for i := 0; i < 1000 && c.Info().PacketsQueued < 56; i++ {
		_ = nx.Await(ctx, testClock(), nx.Ticks(1), nil, nx.ErrNoPacket)
	}
	if err := s.Disconnect(ctx, nx.NoWait); !errors.Is(err, nx.ErrInProgress) {
		t.Fatalf("server Disconnect(NoWait) = %v, want NX_IN_PROGRESS (RST)", err)
	}
	got, err := recvN(ctx, c, 56, nx.Seconds(5))
	if err != nil || !bytes.Equal(got, append(a, b...)) {
		t.Fatalf("Receive after RST = %q, %v; want the 56 queued bytes", got, err)
	}
	if _, err := c.Receive(ctx, nx.Seconds(5)); !errors.Is(err, nx.ErrNotConnected) {
		t.Fatalf("Receive after data drained = %v, want NX_NOT_CONNECTED", err)
	}
}

func TestDisconnectWakesSender(t *testing.T) {
	// netx_tcp_send_disconnect_test: a sender suspended on a full queue wakes
	// with an error when the socket is disconnected.
	boardtest.CheckGoroutines(t)
	client, server := boardtest.Pair(t, boardtest.Options{})
	c, _ := connectPair(t, client, server, server.Addr, 16)
	ctx := context.Background()
	server.Port.SetImpairments(driver.Impairments{Loss: 1})
	for i := 0; i < 20; i++ {
		if err := sendBytes(t, ctx, c, client.Pool, []byte("q"), nx.NoWait); err != nil {
			t.Fatal(err)
		}
	}
	pkt, _ := client.Pool.Allocate(ctx, packetpool.IPv4TCPPacket, nx.NoWait)
	_ = pkt.Append(ctx, []byte("blocked"), client.Pool, nx.NoWait)
	done := make(chan error, 1)
	go func() { done <- c.Send(ctx, pkt, nx.WaitForever) }()
	// Let the sender suspend, then disconnect from another goroutine.
	for i := 0; i < 5; i++ {
		_ = nx.Await(ctx, testClock(), nx.Ticks(1), nil, nx.ErrNoPacket)
	}
	_ = c.Disconnect(ctx, nx.NoWait)
	if err := <-done; !errors.Is(err, nx.ErrNotConnected) {
		t.Fatalf("blocked Send after Disconnect = %v, want NX_NOT_CONNECTED", err)
	}
	if err := pkt.Release(); err != nil {
		t.Fatalf("caller Release after failed Send = %v", err)
	}
}

func TestPacketLeak(t *testing.T) {
	// netx_tcp_packet_leak_test, client_packet_leak, listen_packet_leak:
	// after traffic, disconnect, unbind and delete, every pool is full.
	boardtest.CheckGoroutines(t)
	client, server := boardtest.Pair(t, boardtest.Options{PayloadSize: 300, Count: 64, Debug: true})
	ctx := context.Background()
	for round := 0; round < 3; round++ {
		s, _ := server.IP.TCPSocketCreate("srv", 0)
		if err := server.IP.ServerListen(80, s, 5); err != nil {
			t.Fatal(err)
		}
		acc := make(chan error, 1)
		go func() { acc <- s.ServerAccept(ctx, nx.Seconds(5)) }()
		c, _ := client.IP.TCPSocketCreate("cli", 0)
		if err := c.ClientBind(ctx, 0, nx.NoWait); err != nil {
			t.Fatal(err)
		}
		if err := c.Connect(ctx, netip.AddrPortFrom(server.Addr, 80), nx.Seconds(5)); err != nil {
			t.Fatal(err)
		}
		if err := <-acc; err != nil {
			t.Fatal(err)
		}
		if err := sendBytes(t, ctx, c, client.Pool, make([]byte, 2000), nx.Seconds(5)); err != nil {
			t.Fatal(err)
		}
		if _, err := recvN(ctx, s, 2000, nx.Seconds(5)); err != nil {
			t.Fatal(err)
		}
		// Graceful close from both sides.
		errc := make(chan error, 1)
		go func() { errc <- s.Disconnect(ctx, nx.Seconds(5)) }()
		if err := c.Disconnect(ctx, nx.Seconds(5)); err != nil {
			t.Fatalf("client Disconnect = %v", err)
		}
		if err := <-errc; err != nil {
			t.Fatalf("server Disconnect = %v", err)
		}
		if err := c.ClientUnbind(); err != nil {
			t.Fatalf("ClientUnbind = %v", err)
		}
		if err := c.Delete(); err != nil {
			t.Fatalf("Delete = %v", err)
		}
		if err := s.ServerUnaccept(); err != nil {
			t.Fatalf("ServerUnaccept = %v", err)
		}
		if err := server.IP.ServerUnlisten(80); err != nil {
			t.Fatalf("ServerUnlisten = %v", err)
		}
		if err := s.Delete(); err != nil {
			t.Fatalf("server Delete = %v", err)
		}
		boardtest.CheckBalanced(t, client.Pool, server.Pool)
	}
}

func TestReceivePoolStarvation(t *testing.T) {
	// A driver receive pool of 4 packets drops frames under a burst; TCP
	// recovers, the transfer stays byte-exact, and the drops show as
	// allocation errors in the driver counters.
	boardtest.SkipVirtual(t, "a burst must outrun the board's receive processing; in virtual time each frame is its own event, handled before the next arrives, so a 4-packet receive pool never runs dry")
	boardtest.CheckGoroutines(t)
	w := boardtest.NewWire(t, 7)
	opt := boardtest.Options{TCP: netstack.TCPOptions{MinRTO: 20 * time.Millisecond}}
	server := boardtest.NewBoard(t, w, "server", 1, boardtest.Options{RxPayloadSize: 1536, RxCount: 4, TCP: opt.TCP})
	client := boardtest.NewBoard(t, w, "client", 2, opt)
	c, s := connectPair(t, client, server, server.Addr, 17)
	transfer(t, client, server, c, s, 1<<20, 16384)
	if st := server.Driver.Stats(); st.AllocErrors == 0 {
		t.Errorf("driver stats %+v: want allocation errors from the 4-packet receive pool", st)
	} else {
		t.Logf("receive-pool drops: %d", st.AllocErrors)
	}
}

func TestStatusCheckAndErrors(t *testing.T) {
	boardtest.CheckGoroutines(t)
	client, _ := boardtest.Pair(t, boardtest.Options{})
	ctx := context.Background()
	got, err := client.IP.StatusCheck(ctx, netstack.LinkEnabled|netstack.TCPEnabled, nx.Ticks(100))
	if err != nil || got != netstack.LinkEnabled|netstack.TCPEnabled {
		t.Errorf("StatusCheck = %#x, %v", got, err)
	}
	if _, err := client.IP.StatusCheck(ctx, 0x8000, nx.NoWait); !errors.Is(err, nx.ErrOption) {
		t.Errorf("StatusCheck(unknown bit) = %v, want NX_OPTION_ERROR", err)
	}
	s, _ := client.IP.TCPSocketCreate("s", 0)
	if err := s.Connect(ctx, netip.MustParseAddrPort("198.51.100.1:25"), nx.NoWait); !errors.Is(err, nx.ErrNotBound) {
		t.Errorf("Connect before bind = %v, want NX_NOT_BOUND", err)
	}
	if err := s.ClientBind(ctx, 4000, nx.NoWait); err != nil {
		t.Fatal(err)
	}
	if err := s.ClientBind(ctx, 4001, nx.NoWait); !errors.Is(err, nx.ErrAlreadyBound) {
		t.Errorf("second ClientBind = %v, want NX_ALREADY_BOUND", err)
	}
	s2, _ := client.IP.TCPSocketCreate("s2", 0)
	if err := s2.ClientBind(ctx, 4000, nx.NoWait); !errors.Is(err, nx.ErrPortUnavailable) {
		t.Errorf("ClientBind(taken port) = %v, want NX_PORT_UNAVAILABLE", err)
	}
	if err := s.Delete(); !errors.Is(err, nx.ErrStillBound) {
		t.Errorf("Delete while bound = %v, want NX_STILL_BOUND", err)
	}
	// Nobody listens on port 9: the peer resets the SYN.
	if err := s.Connect(ctx, netip.MustParseAddrPort("198.51.100.1:9"), nx.Seconds(5)); !errors.Is(err, nx.ErrNotConnected) {
		t.Errorf("Connect(refused) = %v, want NX_NOT_CONNECTED", err)
	}
	if _, err := s.Receive(ctx, nx.NoWait); !errors.Is(err, nx.ErrNotConnected) {
		t.Errorf("Receive unconnected = %v, want NX_NOT_CONNECTED", err)
	}
	if err := s.ClientUnbind(); err != nil {
		t.Errorf("ClientUnbind = %v", err)
	}
	if err := s.Delete(); err != nil {
		t.Errorf("Delete = %v", err)
	}
	if err := s.Delete(); !errors.Is(err, nx.ErrNotCreated) {
		t.Errorf("second Delete = %v, want NX_NOT_CREATED", err)
	}
	_ = s2.Delete()
}

func TestConnAdapter(t *testing.T) {
	boardtest.CheckGoroutines(t)
	client, server := boardtest.Pair(t, boardtest.Options{})
	ln, err := server.IP.ListenTCP(2525)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	data := bytes.Repeat([]byte("net.Conn over packets "), 50000)
	done := make(chan []byte, 1)
	go func() {
		conn, err := ln.Accept()
		if err != nil {
			done <- nil
			return
		}
		b, _ := io.ReadAll(conn)
		conn.Close()
		done <- b
	}()
	ctx := context.Background()
	conn, err := client.IP.DialTCP(ctx, netip.AddrPortFrom(server.Addr, 2525))
	if err != nil {
		t.Fatal(err)
	}
	if n, err := conn.Write(data); err != nil || n != len(data) {
		t.Fatalf("Write = %d, %v", n, err)
	}
	if err := conn.CloseWrite(); err != nil {
		t.Fatal(err)
	}
	got := <-done
	conn.Close()
	if !bytes.Equal(got, data) {
		t.Fatalf("server read %d bytes, want %d", len(got), len(data))
	}
	// Deadline in the past: Read times out with a net.Error.
	conn2, err := client.IP.DialTCP(ctx, netip.AddrPortFrom(server.Addr, 2525))
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		c, err := ln.Accept()
		if err == nil {
			<-done
			c.Close()
		}
	}()
	conn2.SetReadDeadline(time.Now().Add(-time.Second)) // a past wall-clock deadline
	var ne interface{ Timeout() bool }
	if _, err := conn2.Read(make([]byte, 1)); !errors.As(err, &ne) || !ne.Timeout() {
		t.Errorf("Read past deadline = %v, want a timeout", err)
	}
	conn2.Close()
	done <- nil
}
