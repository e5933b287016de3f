package sim_test

import (
	"context"
	"fmt"
	"io"
	"net/netip"
	"testing"
	"time"

	"github.com/simboard/simboard/boardtest"
	"github.com/simboard/simboard/driver"
	"github.com/simboard/simboard/sim"
)

type arrival struct {
	at  time.Duration
	seq byte
}

// wireArrivals writes n numbered frames from port a to port b of a Wire on a
// Sim's clock, one every gap of simulated time, and returns when and in
// which order they arrived, with the sender's and receiver's stats.
func wireArrivals(t *testing.T, seed int64, imp driver.PortOptions, n int, gap time.Duration) ([]arrival, driver.PortStats) {
	t.Helper()
	s := sim.New(sim.Options{Seed: seed, Limit: time.Hour})
	clk := s.Clock()
	var got []arrival
	var st driver.PortStats
	err := s.Run(context.Background(), func(ctx context.Context) error {
		w, err := driver.NewWire(driver.WireOptions{Seed: seed, Clock: clk})
		if err != nil {
			return err
		}
		defer w.Close()
		imp.Name = "a"
		a, err := w.Attach(imp)
		if err != nil {
			return err
		}
		b, err := w.Attach(driver.PortOptions{Name: "b"})
		if err != nil {
			return err
		}
		start := clk.Now()
		done := make(chan struct{})
		go func() {
			defer close(done)
			buf := make([]byte, 1514)
			for {
				rctx, cancel := context.WithCancel(ctx)
				_, err := b.ReadFrameContext(rctx, buf)
				cancel()
				if err != nil {
					return
				}
				got = append(got, arrival{clk.Now().Sub(start), buf[14]})
			}
		}()
		frame := make([]byte, 60)
		copy(frame[0:6], b.MAC())
		copy(frame[6:12], a.MAC())
		for i := 0; i < n; i++ {
			frame[14] = byte(i)
			if err := a.WriteFrame(frame); err != nil {
				return err
			}
			if err := clk.Sleep(ctx, gap); err != nil {
				return err
			}
		}
		// Let the last frames land.
		if err := clk.Sleep(ctx, time.Second); err != nil {
			return err
		}
		st = a.Stats()
		_ = b.Close()
		<-done
		return nil
	})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	return got, st
}

// TestWireSequencedImpairments: on a Sim's clock the Wire applies its
// impairments in the writer (no scheduler goroutine) and times each
// delivery on the clock: delay and jitter bound every arrival, the order
// holds except for counted reorders, losses and duplicates are counted, and
// the same seed gives the same arrivals at the same instants.
func TestWireSequencedImpairments(t *testing.T) {
	defer boardtest.CheckGoroutines(t)
	const (
		n      = 250
		gap    = 2 * time.Millisecond
		delay  = 20 * time.Millisecond
		jitter = 3 * time.Millisecond
	)
	imp := driver.PortOptions{Loss: 0.05, Reorder: 0.05, Duplicate: 0.05, Delay: delay, Jitter: jitter}
	got, st := wireArrivals(t, 7, imp, n, gap)
	want := n - int(st.Drops.Loss) + int(st.Duplicated)
	if len(got) != want {
		t.Fatalf("%d arrivals, want %d sent - %d lost + %d duplicated", len(got), n, st.Drops.Loss, st.Duplicated)
	}
	if st.Drops.Loss == 0 || st.Duplicated == 0 || st.Reordered == 0 {
		t.Fatalf("stats %+v: want some loss, duplication and reordering at 5%% each over %d frames", st, n)
	}
	out := 0
	for i, a := range got {
		if lo := time.Duration(a.seq)*gap + delay - jitter; a.at < lo {
			t.Fatalf("frame %d arrived at %v, before its send time + delay - jitter (%v)", a.seq, a.at, lo)
		}
		if i > 0 && got[i-1].seq > a.seq {
			out++
		}
	}
	if out == 0 || out > int(st.Reordered)+int(st.Duplicated) {
		t.Fatalf("%d arrivals out of order, want between 1 and reordered %d + duplicated %d", out, st.Reordered, st.Duplicated)
	}
	again, st2 := wireArrivals(t, 7, imp, n, gap)
	if len(again) != len(got) || st2 != st {
		t.Fatalf("seed 7 again: %d arrivals %+v, first run %d %+v", len(again), st2, len(got), st)
	}
	for i := range got {
		if got[i] != again[i] {
			t.Fatalf("seed 7 again: arrival %d is %+v, first run %+v", i, again[i], got[i])
		}
	}
	other, _ := wireArrivals(t, 8, imp, n, gap)
	same := len(other) == len(got)
	for i := 0; same && i < len(got); i++ {
		same = other[i] == got[i]
	}
	if same {
		t.Fatalf("seed 8 gave the same arrivals as seed 7")
	}
}

// TestVirtualLineRate: on a Sim's clock a port without a rate limit still
// takes each frame's serialisation time at driver.VirtualLineRate, so a
// burst arrives frame after frame and TCP sees a real round-trip time: a
// 256 KiB transfer on a perfect Wire takes at least its bits over 100
// Mbit/s of simulated time and needs no retransmission (with a zero
// round-trip time gVisor's RACK sent a 64 KiB mail 22,000 frames, most of
// them spurious retransmissions; the board's TCP has RACK off, as NetX).
func TestVirtualLineRate(t *testing.T) {
	defer boardtest.CheckGoroutines(t)
	const n = 256 << 10
	s := sim.New(sim.Options{Seed: 1, Limit: time.Hour})
	clk := s.Clock()
	var retrans uint64
	var speed int64
	err := s.Run(context.Background(), func(ctx context.Context) error {
		w := boardtest.NewWireOptions(t, driver.WireOptions{Seed: 1, Clock: clk})
		srv := boardtest.NewBoard(t, w, "server", 1, boardtest.Options{Clock: clk, Rand: s.Rand("server")})
		cli := boardtest.NewBoard(t, w, "client", 2, boardtest.Options{Clock: clk, Rand: s.Rand("client")})
		defer func() {
			cli.Close()
			srv.Close()
			_ = w.Close()
		}()
		speed = cli.Port.SpeedBitsPerSecond()
		ln, err := srv.IP.ListenTCP(5001)
		if err != nil {
			return err
		}
		defer ln.Close()
		got := make(chan int, 1)
		go func() {
			c, err := ln.Accept()
			if err != nil {
				got <- -1
				return
			}
			defer c.Close()
			b, _ := io.ReadAll(c)
			got <- len(b)
		}()
		c, err := cli.IP.DialTCP(ctx, netip.AddrPortFrom(srv.Addr, 5001))
		if err != nil {
			return err
		}
		if _, err := c.Write(make([]byte, n)); err != nil {
			c.Close()
			return err
		}
		_ = c.CloseWrite()
		if m := <-got; m != n {
			c.Close()
			return fmt.Errorf("server read %d bytes, want %d", m, n)
		}
		c.Close()
		retrans = cli.IP.Info().TCPRetransmits
		return nil
	})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if speed != driver.VirtualLineRate {
		t.Errorf("SpeedBitsPerSecond on a Sim's clock = %d, want VirtualLineRate %d", speed, driver.VirtualLineRate)
	}
	if min := time.Duration(n*8) * time.Second / driver.VirtualLineRate; s.Stats().Simulated < min {
		t.Errorf("256 KiB took %v of simulated time, want >= %v at the line rate", s.Stats().Simulated, min)
	}
	if retrans != 0 {
		t.Errorf("the client retransmitted %d segments on a perfect Wire, want 0", retrans)
	}
}
