package sntpc_test

import (
	"context"
	"fmt"
	"net/netip"
	"time"

	"github.com/simboard/simboard/apps/sntpc"
	"github.com/simboard/simboard/driver"
	"github.com/simboard/simboard/internal/netsvc"
	"github.com/simboard/simboard/netstack"
	"github.com/simboard/simboard/nx"
	"github.com/simboard/simboard/packetpool"
)

func exampleBoard(w *driver.Wire, name string, host byte) (*netstack.IP, func()) {
	pool, _ := packetpool.New(packetpool.Options{Name: name, PayloadSize: 1536, Count: 64})
	rx, _ := packetpool.New(packetpool.Options{Name: name + "-rx", PayloadSize: 1536, Count: 64})
	port, _ := w.Attach(driver.PortOptions{Name: name})
	drv, _ := driver.New(driver.Options{Name: name, Link: port, RxPool: rx})
	ip, _ := netstack.New(netstack.Options{Name: name, Pool: pool, Driver: drv,
		Addr: netip.PrefixFrom(netip.AddrFrom4([4]byte{198, 51, 100, host}), 24)})
	return ip, func() { _ = ip.Close(); _ = drv.Close() }
}

// A board takes its wall time from an NTP server on its peer whose clock is
// an hour ahead of the board's.
func Example() {
	w, _ := driver.NewWire(driver.WireOptions{Seed: 1})
	defer w.Close()
	peer, closePeer := exampleBoard(w, "peer", 1)
	defer closePeer()
	board, closeBoard := exampleBoard(w, "board", 2)
	defer closeBoard()
	srv, _ := netsvc.StartNTP(netsvc.NTPOptions{IP: peer, Offset: time.Hour})
	defer srv.Close()

	c, _ := sntpc.New(sntpc.Options{IP: board})                  // nx_sntp_client_create
	_ = c.InitializeUnicast(netip.MustParseAddr("198.51.100.1")) // nxd_sntp_client_initialize_unicast
	u, err := c.RequestUpdate(context.Background(), nx.Seconds(2))
	fmt.Println(err, u.Stratum, u.Offset.Round(time.Minute))
	_, err = c.LocalTime() // nx_sntp_client_get_local_time
	fmt.Println(err, time.Until(c.Now()).Round(time.Minute))
	_ = c.Delete()
	// Output:
	// <nil> 1 1h0m0s
	// <nil> 1h0m0s
}
