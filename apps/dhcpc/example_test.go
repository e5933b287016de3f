package dhcpc_test

import (
	"context"
	"fmt"
	"net/netip"

	"github.com/simboard/simboard/apps/dhcpc"
	"github.com/simboard/simboard/board"
	"github.com/simboard/simboard/driver"
	"github.com/simboard/simboard/internal/netsvc"
	"github.com/simboard/simboard/netstack"
	"github.com/simboard/simboard/nx"
)

// newBoard boots a board on w (board.New, pools of 32 packets); addr may be
// the zero Prefix (0.0.0.0, as a board before DHCP).
func newBoard(w *driver.Wire, name string, addr netip.Prefix) (*netstack.IP, func()) {
	b, err := board.New(board.Options{Name: name, Wire: w, Addr: addr, Pool: board.PoolOptions{Count: 32}, RxPool: board.PoolOptions{Count: 32}})
	if err != nil {
		panic(err)
	}
	return b.IP, func() { _ = b.Close() }
}

// Example leases the board's address from a DHCP server on a peer board, as
// NetX's demo_netxduo_dhcp.c does: nx_dhcp_create, nx_dhcp_start, then wait
// for the address.
func Example() {
	wire, _ := driver.NewWire(driver.WireOptions{Seed: 1})
	defer wire.Close()
	peer, closePeer := newBoard(wire, "peer", netip.MustParsePrefix("198.51.100.1/24"))
	defer closePeer()
	board, closeBoard := newBoard(wire, "board", netip.Prefix{})
	defer closeBoard()

	self := []netip.Addr{netip.MustParseAddr("198.51.100.1")}
	srv, _ := netsvc.StartDHCP(netsvc.DHCPOptions{IP: peer, Router: self[0], DNS: self, NTP: self, Domain: "simboard.test"})
	defer srv.Close()

	// nx_dhcp_create(&dhcp, &ip, "board"); nx_dhcp_user_option_request(&dhcp, 42)
	c, err := dhcpc.New(dhcpc.Options{IP: board, Name: "board", RequestOptions: []uint8{42}})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close() // nx_dhcp_delete
	_ = c.Start()   // nx_dhcp_start
	lease, err := c.WaitBound(context.Background(), nx.Seconds(10))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("state:", c.State())
	fmt.Println("address:", board.InterfaceAddressGet())
	gw, _ := board.GatewayAddressGet()
	fmt.Println("gateway:", gw)
	fmt.Println("dns:", lease.DNS, "ntp:", lease.NTP, "domain:", lease.Domain)
	ntp, _ := c.UserOptionRetrieve(42) // nx_dhcp_user_option_retrieve
	fmt.Printf("option 42: %#x\n", dhcpc.UserOptionConvert(ntp))
	// Output:
	// state: BOUND
	// address: 198.51.100.100/24
	// gateway: 198.51.100.1
	// dns: [198.51.100.1] ntp: [198.51.100.1] domain: simboard.test
	// option 42: 0xc6336401
}
