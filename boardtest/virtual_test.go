package boardtest_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/netip"
	"testing"
	"time"

	"github.com/simboard/simboard/boardtest"
	"github.com/simboard/simboard/nx"
	"github.com/simboard/simboard/sim"
)

// TestLabVirtualOption: LabOptions.Virtual runs the rest of the test in a
// simulation: the Lab reports it, its Clock is the simulation's, the
// test's goroutine belongs to it, a wait of an hour costs no wall time,
// and a wait nothing will ever end is aborted through Lab.Context instead
// of hanging.
func TestLabVirtualOption(t *testing.T) {
	lab := boardtest.NewLab(t, boardtest.LabOptions{Virtual: true})
	s := lab.Sim()
	if s == nil || sim.Current() != s || lab.Clock() != nx.Clock(s.Clock()) {
		t.Fatalf("Lab.Sim() = %p, sim.Current() = %p, Lab.Clock() = %T: want one simulation", s, sim.Current(), lab.Clock())
	}
	dev := lab.Board("device", boardtest.Options{Count: 8, RxCount: 8})
	if dev.IP.Clock() != nx.Clock(s.Clock()) {
		t.Fatalf("board clock %T, want the simulation's", dev.IP.Clock())
	}
	start := s.Clock().Now()
	if err := nx.Await(lab.Context(), lab.Clock(), nx.Seconds(3600), nil, nx.ErrNoPacket); !errors.Is(err, nx.ErrNoPacket) {
		t.Fatalf("Await(1 h) = %v, want NX_NO_PACKET", err)
	}
	if d := s.Clock().Since(start); d != time.Hour {
		t.Fatalf("simulated %v for a 1 h wait", d)
	}
	// Nothing will ever close never and no timer is pending: the
	// simulation stalls and cancels the lab's context.
	never := make(chan struct{})
	if err := nx.Await(lab.Context(), lab.Clock(), nx.WaitForever, never, nx.ErrNoPacket); !errors.Is(err, nx.ErrWaitAborted) {
		t.Fatalf("Await(forever) on a stalled simulation = %v, want NX_WAIT_ABORTED", err)
	}
}

// TestVirtualModeEnv: with SIMBOARD_TEST_CLOCK=virtual a test that builds
// boards the usual way (Pair) runs in a simulation from its first board
// on, its boards on the simulation's clock, and the simulation ends with
// the test.
func TestVirtualModeEnv(t *testing.T) {
	t.Setenv(boardtest.ClockEnv, "virtual")
	var s *sim.Sim
	t.Run("inner", func(t *testing.T) {
		boardtest.CheckGoroutines(t)
		if sim.Current() != nil {
			t.Fatalf("in a simulation before any board")
		}
		client, server := boardtest.Pair(t, boardtest.Options{Count: 8, RxCount: 8})
		s = sim.Current()
		if s == nil || client.IP.Clock() != nx.Clock(s.Clock()) || server.IP.Clock() != nx.Clock(s.Clock()) {
			t.Fatalf("sim.Current() = %p; boards on %T and %T: want the simulation's clock", s, client.IP.Clock(), server.IP.Clock())
		}
		if boardtest.Clock(t) != nx.Clock(s.Clock()) {
			t.Fatalf("boardtest.Clock = %T, want the simulation's", boardtest.Clock(t))
		}
	})
	if s == nil || s.Context() != nil {
		t.Fatalf("the subtest's simulation still runs after it ended")
	}
	t.Setenv(boardtest.ClockEnv, "real")
	if boardtest.VirtualMode() {
		t.Fatalf("VirtualMode() with %s=real", boardtest.ClockEnv)
	}
}

// TestVirtualZeroDelayBulk: a 1 MiB transfer between two boards of a
// virtual Lab whose ports have no delay completes without a single
// retransmission. Before the Wire serialised frames at VirtualLineRate
// under a simulation (and RACK was turned off), every frame crossed the
// Wire at the instant it was sent, gVisor measured round trips of exactly
// 0, RACK declared every outstanding segment lost on each ACK, and the
// transfer retransmitted forever at simulated time 0 (the real-time guard
// below ended it after a minute).
func TestVirtualZeroDelayBulk(t *testing.T) {
	guard, cancel := context.WithTimeout(context.Background(), time.Minute) // made outside the simulation
	defer cancel()
	lab := boardtest.NewLab(t, boardtest.LabOptions{Virtual: true})
	client := lab.Board("client", boardtest.Options{})
	server := lab.Board("server", boardtest.Options{})
	ln, err := server.IP.ListenTCP(5001)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	data := bytes.Repeat([]byte("0123456789abcdef"), 1<<16)
	got := make(chan []byte, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			got <- nil
			return
		}
		defer c.Close()
		b, _ := io.ReadAll(c)
		got <- b
	}()
	c, err := client.IP.DialTCP(guard, netip.AddrPortFrom(server.Addr, 5001))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	stop := context.AfterFunc(guard, func() { c.Close(); ln.Close() })
	defer stop()
	if _, err := c.Write(data); err != nil {
		t.Fatalf("Write: %v", err)
	}
	if err := c.CloseWrite(); err != nil {
		t.Fatal(err)
	}
	if b := <-got; !bytes.Equal(b, data) {
		t.Fatalf("server got %d bytes, want the %d sent", len(b), len(data))
	}
	if n := client.IP.Info().TCPRetransmits; n != 0 {
		t.Errorf("%d retransmissions on a loss-free Wire, want 0", n)
	}
}
