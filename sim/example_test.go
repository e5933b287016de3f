package sim_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"time"

	"github.com/simboard/simboard/board"
	"github.com/simboard/simboard/driver"
	"github.com/simboard/simboard/nx"
	"github.com/simboard/simboard/sim"
)

// Example runs a board thread's 30 s wait (a receive with a 30 s wait
// option that gets nothing) in virtual time: it ends with NetX's status
// after exactly 30 simulated seconds, in milliseconds of wall time.
func Example() {
	s := sim.New(sim.Options{})
	clk := s.Clock()
	err := s.Run(context.Background(), func(ctx context.Context) error {
		start := clk.Now()
		err := nx.Await(ctx, clk, nx.Seconds(30), nil, nx.ErrNoPacket)
		fmt.Println(err, "after", clk.Since(start))
		return nil
	})
	fmt.Println("run:", err, "simulated:", s.Stats().Simulated, "under a second of wall time:", s.Stats().Wall < time.Second)
	// Output:
	// nx: NX_NO_PACKET (0x01) after 30s
	// run: <nil> simulated: 30s under a second of wall time: true
}

// Example_boards boots two boards on a Wire whose client port delays every
// frame by 1 s, all on the Sim's clock, and sends a line over TCP: the
// handshake, the data and the close take simulated seconds, not wall
// seconds. Build and close the boards inside Run.
func Example_boards() {
	s := sim.New(sim.Options{Seed: 1})
	clk := s.Clock()
	err := s.Run(context.Background(), func(ctx context.Context) error {
		wire, err := driver.NewWire(driver.WireOptions{Seed: 1, Clock: clk})
		if err != nil {
			return err
		}
		defer wire.Close()
		server, err := board.New(board.Options{Name: "server", Wire: wire, Clock: clk, Rand: s.Rand("server"),
			Addr: netip.MustParsePrefix("198.51.100.1/24")})
		if err != nil {
			return err
		}
		defer server.Close()
		client, err := board.New(board.Options{Name: "client", Wire: wire, Clock: clk, Rand: s.Rand("client"),
			Addr: netip.MustParsePrefix("198.51.100.2/24"), Port: driver.PortOptions{Delay: time.Second}})
		if err != nil {
			return err
		}
		defer client.Close()

		ln, err := server.IP.ListenTCP(7)
		if err != nil {
			return err
		}
		defer ln.Close()
		got := make(chan string, 1)
		go func() {
			c, err := ln.Accept()
			if err != nil {
				got <- err.Error()
				return
			}
			b, _ := io.ReadAll(c)
			_ = c.Close()
			got <- string(b)
		}()
		c, err := client.IP.DialTCP(ctx, netip.MustParseAddrPort("198.51.100.1:7"))
		if err != nil {
			return err
		}
		_, _ = c.Write([]byte("hello across a 1 s link\n"))
		_ = c.Close()
		fmt.Print("server read: ", <-got)
		return nil
	})
	if err != nil && !errors.Is(err, context.Canceled) {
		fmt.Println(err)
	}
	fmt.Println("at least 2 simulated seconds:", s.Stats().Simulated >= 2*time.Second)
	// Output:
	// server read: hello across a 1 s link
	// at least 2 simulated seconds: true
}
