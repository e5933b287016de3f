package sim_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"testing"
	"time"

	"github.com/simboard/simboard/boardtest"
	"github.com/simboard/simboard/driver"
	"github.com/simboard/simboard/nx"
	"github.com/simboard/simboard/sim"
)

// transfer sends n bytes from a client board to a server board over a Wire
// whose ports carry srvPort and cliPort, all on the Sim's clock, and checks them byte-exact.
// Both boards are closed inside the simulation.
func transfer(t testing.TB, s *sim.Sim, seed int64, n int, srvPort, cliPort driver.PortOptions) error {
	return transferOpts(t, s, seed, n, boardtest.Options{Port: srvPort}, boardtest.Options{Port: cliPort})
}

// transferOpts is transfer with whole board options (the clock is set here).
func transferOpts(t testing.TB, s *sim.Sim, seed int64, n int, srvOpts, cliOpts boardtest.Options) error {
	clk := s.Clock()
	srvOpts.Clock, cliOpts.Clock = clk, clk
	return s.Run(context.Background(), func(ctx context.Context) error {
		w := boardtest.NewWireOptions(t, driver.WireOptions{Seed: seed, Clock: clk})
		srv := boardtest.NewBoard(t, w, "server", 1, srvOpts)
		cli := boardtest.NewBoard(t, w, "client", 2, cliOpts)
		defer func() {
			cli.Close()
			srv.Close()
			_ = w.Close()
		}()
		ln, err := srv.IP.ListenTCP(5001)
		if err != nil {
			return err
		}
		defer ln.Close()
		data := make([]byte, n)
		for i := range data {
			data[i] = byte(i*7 + i/251)
		}
		got := make(chan []byte, 1)
		errc := make(chan error, 1)
		go func() {
			c, err := ln.Accept()
			if err != nil {
				errc <- err
				return
			}
			defer c.Close()
			b, err := io.ReadAll(c)
			if err != nil {
				errc <- err
				return
			}
			got <- b
		}()
		c, err := cli.IP.DialTCP(ctx, netip.AddrPortFrom(srv.Addr, 5001))
		if err != nil {
			return fmt.Errorf("DialTCP: %w", err)
		}
		if _, err := c.Write(data); err != nil {
			c.Close()
			return fmt.Errorf("Write: %w", err)
		}
		if err := c.CloseWrite(); err != nil {
			c.Close()
			return fmt.Errorf("CloseWrite: %w", err)
		}
		var b []byte
		select {
		case b = <-got:
		case err := <-errc:
			c.Close()
			return fmt.Errorf("server: %w", err)
		}
		c.Close()
		if !bytes.Equal(b, data) {
			return fmt.Errorf("server got %d bytes, want the %d sent", len(b), len(data))
		}
		return nil
	})
}

// TestVirtualTransferDelay: two boards, 1 s link delay each way, a 64 KiB
// transfer: the handshake, the data and the FIN exchange take many
// simulated seconds (each round trip 2 s), in a fraction of that wall time.
func TestVirtualTransferDelay(t *testing.T) {
	defer boardtest.CheckGoroutines(t)
	s := sim.New(sim.Options{Limit: time.Hour})
	if err := transfer(t, s, 1, 64<<10, driver.PortOptions{Delay: time.Second}, driver.PortOptions{Delay: time.Second}); err != nil {
		t.Fatalf("transfer = %v", err)
	}
	st := s.Stats()
	// SYN, SYN-ACK, then the data and its ACK: at least two round trips.
	if st.Simulated < 4*time.Second {
		t.Fatalf("simulated %v, want >= 4s (two 2 s round trips)", st.Simulated)
	}
	t.Logf("simulated %v in %v (%d timers, %d snapshots)", st.Simulated, st.Wall, st.Fired, st.Snapshots)
}

// TestVirtualRate: the Wire's rate limit runs on the simulated clock: 64 KiB
// through a 100 kbit/s port cannot take less than 64 KiB x 8 / 100 kbit/s
// = 5.2 simulated seconds (headers make it more), however fast the host.
func TestVirtualRate(t *testing.T) {
	defer boardtest.CheckGoroutines(t)
	s := sim.New(sim.Options{Limit: time.Hour})
	slow := driver.PortOptions{RateBitsPerSecond: 100_000}
	if err := transfer(t, s, 1, 64<<10, driver.PortOptions{}, slow); err != nil {
		t.Fatalf("transfer = %v", err)
	}
	st := s.Stats()
	if min := time.Duration(64<<10*8) * time.Second / 100_000; st.Simulated < min {
		t.Fatalf("64 KiB at 100 kbit/s took %v of simulated time, want >= %v", st.Simulated, min)
	}
	if st.Simulated > 30*time.Second {
		t.Fatalf("64 KiB at 100 kbit/s took %v of simulated time, want well under 30 s", st.Simulated)
	}
	t.Logf("simulated %v in %v", st.Simulated, st.Wall)
}

// TestVirtualConnDeadline: a board's net.Conn read deadline (what go-smtp
// and the POP3 server set) expires on the simulated clock: a read with a
// 30 s deadline on a silent peer fails with os.ErrDeadlineExceeded exactly
// 30 simulated seconds later, and no earlier.
func TestVirtualConnDeadline(t *testing.T) {
	defer boardtest.CheckGoroutines(t)
	s := sim.New(sim.Options{Limit: time.Hour})
	clk := s.Clock()
	err := s.Run(context.Background(), func(ctx context.Context) error {
		w := boardtest.NewWireOptions(t, driver.WireOptions{Seed: 1, Clock: clk})
		srv := boardtest.NewBoard(t, w, "server", 1, boardtest.Options{Clock: clk})
		cli := boardtest.NewBoard(t, w, "client", 2, boardtest.Options{Clock: clk})
		defer func() {
			cli.Close()
			srv.Close()
			_ = w.Close()
		}()
		ln, err := srv.IP.ListenTCP(5001)
		if err != nil {
			return err
		}
		defer ln.Close()
		accepted := make(chan net.Conn, 1)
		go func() {
			c, err := ln.Accept()
			if err == nil {
				accepted <- c
			}
			close(accepted)
		}()
		c, err := cli.IP.DialTCP(ctx, netip.AddrPortFrom(srv.Addr, 5001))
		if err != nil {
			return err
		}
		defer c.Close()
		peer := <-accepted
		if peer == nil {
			return fmt.Errorf("accept failed")
		}
		defer peer.Close()
		start := clk.Now()
		// A net.Conn deadline is a wall-clock time (as go-smtp sets it);
		// the Conn maps it onto the IP's clock.
		if err := c.SetReadDeadline(time.Now().Add(30 * time.Second)); err != nil {
			return err
		}
		_, err = c.Read(make([]byte, 16))
		took := clk.Since(start)
		if !errors.Is(err, os.ErrDeadlineExceeded) {
			return fmt.Errorf("Read past a 30 s deadline = %v, want os.ErrDeadlineExceeded", err)
		}
		if took < 30*time.Second-nx.TickDuration || took > 30*time.Second+nx.TickDuration {
			return fmt.Errorf("Read gave up after %v of simulated time, want 30 s", took)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
