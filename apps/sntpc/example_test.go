package sntpc_test

import (
	"context"
	"fmt"
	"net/netip"
	"time"

	"github.com/simboard/simboard/apps/sntpc"
	"github.com/simboard/simboard/board"
	"github.com/simboard/simboard/driver"
	"github.com/simboard/simboard/internal/netsvc"
	"github.com/simboard/simboard/netstack"
	"github.com/simboard/simboard/nx"
)

// exampleBoard boots a board on w at 198.51.100.<host> (board.New, pools
// of 64 packets).
func exampleBoard(w *driver.Wire, name string, host byte) (*netstack.IP, func()) {
	b, err := board.New(board.Options{Name: name, Wire: w, Addr: netip.PrefixFrom(netip.AddrFrom4([4]byte{198, 51, 100, host}), 24),
		Pool: board.PoolOptions{Count: 64}, RxPool: board.PoolOptions{Count: 64}})
	if err != nil {
		panic(err)
	}
	return b.IP, func() { _ = b.Close() }
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
