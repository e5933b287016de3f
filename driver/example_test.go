package driver_test

import (
	"context"
	"fmt"

	"github.com/simboard/simboard/driver"
	"github.com/simboard/simboard/packetpool"
)

// Two boards on a Wire: board A sends one frame, board B's driver receives
// it as a chain of 256-byte packets from its receive pool.
func Example() {
	w, _ := driver.NewWire(driver.WireOptions{Seed: 1})
	defer w.Close()
	a, _ := w.Attach(driver.PortOptions{Name: "a"})
	b, _ := w.Attach(driver.PortOptions{Name: "b"})

	pool, _ := packetpool.New(packetpool.Options{Name: "b-rx", PayloadSize: 256, Count: 8})
	d, _ := driver.New(driver.Options{Name: "b", Link: b, RxPool: pool})
	defer d.Close()

	frame := make([]byte, 600)
	copy(frame[0:6], b.MAC())
	copy(frame[6:12], a.MAC())
	frame[12], frame[13] = 0x88, 0xb5
	a.WriteFrame(frame)

	pkt, err := d.Receive(context.Background())
	if err != nil {
		fmt.Println(err)
		return
	}
	n := 0
	for range pkt.Buffers() {
		n++
	}
	fmt.Printf("received %d bytes in %d packets\n", pkt.Length(), n)
	pkt.Release()

	rx, _ := d.DirectCommand(driver.LinkGetRxCount, 0)
	_, err = d.DirectCommand(driver.LinkPacketSend, 0)
	fmt.Println("NX_LINK_GET_RX_COUNT:", rx)
	fmt.Println(err)
	info := pool.Info()
	fmt.Printf("pool free %d of %d\n", info.Free, info.Total)
	// Output:
	// received 600 bytes in 3 packets
	// NX_LINK_GET_RX_COUNT: 1
	// driver "b": direct command NX_LINK_PACKET_SEND: nx: NX_UNHANDLED_COMMAND (0x44)
	// pool free 8 of 8
}
