package sim_test

import (
	"bytes"
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
