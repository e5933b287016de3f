package packetpool_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"

	"github.com/simboard/simboard/nx"
	"github.com/simboard/simboard/packetpool"
)

// Allocate a TCP packet, append more than one buffer holds so the packet
// chains, look at the statistics, then release the whole chain.
func Example() {
	ctx := context.Background()
	pool, err := packetpool.New(packetpool.Options{Name: "tx", PayloadSize: 128, Count: 4})
	if err != nil {
		panic(err)
	}

	pk, err := pool.Allocate(ctx, packetpool.TCPPacket, nx.NoWait) // 76 bytes of header room
	if err != nil {
		panic(err)
	}
	if err := pk.Append(ctx, bytes.Repeat([]byte("a"), 100), pool, nx.NoWait); err != nil {
		panic(err)
	}
	for b := range pk.Buffers() {
		fmt.Println("buffer:", len(b), "bytes")
	}
	fmt.Println("length:", pk.Length())
	fmt.Printf("%+v\n", pool.Info())

	if err := pk.Release(); err != nil {
		panic(err)
	}
	fmt.Printf("%+v\n", pool.Info())
	// Output:
	// buffer: 52 bytes
	// buffer: 48 bytes
	// length: 100
	// {Total:4 Free:2 EmptyRequests:0 EmptySuspensions:0 InvalidReleases:0 LowWater:2}
	// {Total:4 Free:4 EmptyRequests:0 EmptySuspensions:0 InvalidReleases:0 LowWater:2}
}

// An empty pool with NX_NO_WAIT returns NX_NO_PACKET at once and counts an
// empty request; a double release is NX_PTR_ERROR and counts an invalid
// release.
func ExamplePool_Allocate_empty() {
	ctx := context.Background()
	pool, _ := packetpool.New(packetpool.Options{Name: "rx", PayloadSize: 1536, Count: 1})
	pk, _ := pool.Allocate(ctx, packetpool.ReceivePacket, nx.NoWait)

	_, err := pool.Allocate(ctx, packetpool.ReceivePacket, nx.NoWait)
	fmt.Println(errors.Is(err, nx.ErrNoPacket), err)

	_ = pk.Release()
	err = pk.Release()
	fmt.Println(nx.Code(err).Name())
	fmt.Printf("%+v\n", pool.Info())
	// Output:
	// true packetpool: pool "rx": allocate: nx: NX_NO_PACKET (0x01)
	// NX_PTR_ERROR
	// {Total:1 Free:1 EmptyRequests:1 EmptySuspensions:0 InvalidReleases:1 LowWater:0}
}

// Copy a packet into a pool of smaller packets: the copy is chained and keeps
// the source's header room.
func ExamplePacket_Copy() {
	ctx := context.Background()
	big, _ := packetpool.New(packetpool.Options{Name: "big", PayloadSize: 1536, Count: 2})
	small, _ := packetpool.New(packetpool.Options{Name: "small", PayloadSize: 256, Count: 8})

	pk, _ := big.Allocate(ctx, packetpool.IPv4TCPPacket, nx.NoWait)
	_ = pk.Append(ctx, bytes.Repeat([]byte("x"), 600), big, nx.NoWait)

	cp, err := pk.Copy(ctx, small, nx.NoWait)
	if err != nil {
		panic(err)
	}
	n := 0
	for q := cp; q != nil; q = q.Next() {
		n++
	}
	fmt.Println("packets:", n, "length:", cp.Length(), "header room:", cp.HeaderRoom())
	_ = cp.Release()
	_ = pk.Release()
	fmt.Println("small free:", small.Info().Free)
	// Output:
	// packets: 3 length: 600 header room: 56
	// small free: 8
}

// NetXMemorySize gives the memory_size for nx_packet_pool_create on the MCU.
func ExamplePool_NetXMemorySize() {
	pool, _ := packetpool.New(packetpool.Options{Name: "rx", PayloadSize: 1536, Count: 16})
	fmt.Println(pool.NetXMemorySize(), "bytes =", pool.Info().Total, "x (60-byte NX_PACKET + 1536)")
	// Output:
	// 25536 bytes = 16 x (60-byte NX_PACKET + 1536)
}
