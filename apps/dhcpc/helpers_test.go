package dhcpc

import (
	"context"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"

	"github.com/simboard/simboard/boardtest"
	"github.com/simboard/simboard/driver"
	"github.com/simboard/simboard/netstack"
	"github.com/simboard/simboard/nx"
	"github.com/simboard/simboard/packetpool"
)

// fakeClock is the client's injected clock: time moves only in step, one
// second at a time, and step returns once the client's thread has handled
// the tick and armed its next one.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	timers []*fakeTimer
	made   int
}

type fakeTimer struct {
	c    *fakeClock
	at   time.Time
	ch   chan time.Time
	done bool
}

func newFakeClock() *fakeClock { return &fakeClock{now: time.Unix(1_700_000_000, 0)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) NewTimer(d time.Duration) nx.Timer {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &fakeTimer{c: c, at: c.now.Add(d), ch: make(chan time.Time, 1)}
	c.timers = append(c.timers, t)
	c.made++
	return t
}

func (t *fakeTimer) C() <-chan time.Time { return t.ch }
func (t *fakeTimer) Stop() bool {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	was := !t.done
	t.done = true
	return was
}

// step advances the clock by one second and waits until the client armed
// its next timer (its tick was processed).
func (c *fakeClock) step(t testing.TB) {
	t.Helper()
	waitFor(t, "a pending timer", func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		for _, tm := range c.timers {
			if !tm.done {
				return true
			}
		}
		return false
	})
	c.mu.Lock()
	made := c.made
	c.now = c.now.Add(time.Second)
	keep := c.timers[:0]
	for _, tm := range c.timers {
		if tm.done {
			continue
		}
		if !tm.at.After(c.now) {
			tm.done = true
			tm.ch <- c.now
			continue
		}
		keep = append(keep, tm)
	}
	c.timers = keep
	c.mu.Unlock()
	waitFor(t, "the client's next tick", func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		return c.made > made
	})
}

// waitFor polls cond (real time, generous deadline): replies cross the Wire
// on the stack's goroutines.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// fixedRand makes the ±1 s jitter exactly 0 (adjustment == NX_IP_PERIODIC_RATE).
func fixedRand() uint32 { return 100 }

// rig is a wire with the peer board (the server, .1) and the board under
// test (.2, its address removed as before DHCP).
type rig struct {
	server, client *boardtest.Board
	wire           *driver.Wire
	clock          *fakeClock
}

func newRig(t *testing.T) *rig {
	t.Helper()
	boardtest.CheckGoroutines(t)
	w := boardtest.NewWire(t, 1)
	srv := boardtest.NewBoard(t, w, "server", 1, boardtest.Options{})
	cli := boardtest.NewBoard(t, w, "client", 2, boardtest.Options{})
	if err := cli.IP.InterfaceAddressSet(netip.Prefix{}); err != nil {
		t.Fatalf("InterfaceAddressSet(zero) = %v", err)
	}
	return &rig{server: srv, client: cli, wire: w, clock: newFakeClock()}
}

// newClient creates a client on the rig's board, closed (and its pool
// checked) at cleanup.
func (r *rig) newClient(t *testing.T, o Options) *Client {
	t.Helper()
	o.IP = r.client.IP
	if o.Clock == nil {
		o.Clock = r.clock
	}
	if o.Rand == nil {
		o.Rand = fixedRand
	}
	c, err := New(o)
	if err != nil {
		t.Fatalf("New = %v", err)
	}
	t.Cleanup(func() {
		_ = c.Close()
		boardtest.CheckBalanced(t, c.Pool())
	})
	return c
}

// script is a scripted DHCP server on the peer board: it records each
// request and answers with whatever answer returns (nil = silence).
type script struct {
	t      testing.TB
	sock   *netstack.UDPSocket
	ip     *netstack.IP
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu     sync.Mutex
	got    []*dhcpv4.DHCPv4
	answer func(*dhcpv4.DHCPv4) *dhcpv4.DHCPv4
}

func newScript(t *testing.T, ip *netstack.IP, answer func(*dhcpv4.DHCPv4) *dhcpv4.DHCPv4) *script {
	t.Helper()
	s, err := ip.UDPSocketCreate("script")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Bind(context.Background(), 67, nx.NoWait); err != nil {
		t.Fatal(err)
	}
	if err := s.BroadcastEnable(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	sc := &script{t: t, sock: s, ip: ip, cancel: cancel, answer: answer}
	sc.wg.Add(1)
	go sc.run(ctx)
	t.Cleanup(func() {
		cancel()
		sc.wg.Wait()
		_ = s.Unbind()
		_ = s.Delete()
	})
	return sc
}

func (s *script) run(ctx context.Context) {
	defer s.wg.Done()
	buf := make([]byte, 2048)
	for {
		pkt, _, err := s.sock.Receive(ctx, nx.WaitForever)
		if err != nil {
			return
		}
		n, _ := pkt.ExtractOffset(0, buf)
		_ = pkt.Release()
		m, err := dhcpv4.FromBytes(buf[:n])
		if err != nil {
			s.t.Errorf("script: client sent a malformed message: %v", err)
			continue
		}
		s.mu.Lock()
		s.got = append(s.got, m)
		ans := s.answer
		s.mu.Unlock()
		resp := ans(m)
		if resp == nil {
			continue
		}
		p, err := s.ip.Pool().Allocate(ctx, packetpool.UDPPacket, nx.Seconds(1))
		if err != nil {
			return
		}
		_ = p.Append(ctx, resp.ToBytes(), s.ip.Pool(), nx.Seconds(1))
		if err := s.sock.Send(ctx, p, netip.MustParseAddrPort("255.255.255.255:68")); err != nil {
			_ = p.Release()
		}
	}
}

func (s *script) setAnswer(f func(*dhcpv4.DHCPv4) *dhcpv4.DHCPv4) {
	s.mu.Lock()
	s.answer = f
	s.mu.Unlock()
}

func (s *script) received() []*dhcpv4.DHCPv4 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*dhcpv4.DHCPv4(nil), s.got...)
}
