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
	"github.com/simboard/simboard/nx"
)

// A board takes its wall time from an NTP server on its peer whose clock is
// an hour ahead of the board's.
func Example() {
	w, _ := driver.NewWire(driver.WireOptions{Seed: 1})
	defer w.Close()
	peerB, _ := board.New(board.Options{Name: "peer", Wire: w, Addr: netip.MustParsePrefix("198.51.100.1/24")})
	defer peerB.Close()
	clientB, _ := board.New(board.Options{Name: "board", Wire: w, Addr: netip.MustParsePrefix("198.51.100.2/24")})
	defer clientB.Close()
	peer, board := peerB.IP, clientB.IP
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
