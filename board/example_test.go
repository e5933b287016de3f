package board_test

import (
	"context"
	"fmt"
	"io"
	"net/netip"

	"github.com/simboard/simboard/board"
	"github.com/simboard/simboard/driver"
)

// Example boots two boards on an in-memory Wire, one with its pool carved
// from a memory size as nx_packet_pool_create carves it, sends a line over
// TCP from one to the other, and closes both: Close reports nil because
// every packet went back to its pool.
func Example() {
	wire, _ := driver.NewWire(driver.WireOptions{Seed: 1})
	defer wire.Close()

	server, err := board.New(board.Options{Name: "server", Wire: wire, Addr: netip.MustParsePrefix("198.51.100.1/24")})
	if err != nil {
		fmt.Println(err)
		return
	}
	client, err := board.New(board.Options{
		Name: "client", Wire: wire, Addr: netip.MustParsePrefix("198.51.100.2/24"),
		Pool: board.PoolOptions{PayloadSize: 1536, MemorySize: 15360}, // 9 packets, as on the MCU
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("client pool:", client.Pool.Carve())

	ln, _ := server.IP.ListenTCP(7)
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
	c, err := client.IP.DialTCP(context.Background(), netip.MustParseAddrPort("198.51.100.1:7"))
	if err != nil {
		fmt.Println(err)
		return
	}
	_, _ = c.Write([]byte("hello from the client board\n"))
	_ = c.Close()
	fmt.Print("server read: ", <-got)
	_ = ln.Close()

	fmt.Println("client close:", client.Close())
	fmt.Println("server close:", server.Close())
	// Output:
	// client pool: 15360 bytes carve 9 packets of 1596 (60 header + 1536 payload, 4-byte aligned), 996 bytes unused
	// server read: hello from the client board
	// client close: <nil>
	// server close: <nil>
}
