package dhcpc_test

import (
	"context"
	"fmt"
	"net/netip"

	"github.com/simboard/simboard/apps/dhcpc"
	"github.com/simboard/simboard/board"
	"github.com/simboard/simboard/driver"
	"github.com/simboard/simboard/internal/netsvc"
	"github.com/simboard/simboard/nx"
)

// Example leases the board's address from a DHCP server on a peer board, as
// NetX's demo_netxduo_dhcp.c does: nx_dhcp_create, nx_dhcp_start, then wait
// for the address.
func Example() {
	wire, _ := driver.NewWire(driver.WireOptions{Seed: 1})
	defer wire.Close()
	// Two boards (board.New: pools, a driver on a Wire port, nx_ip_create);
	// the client starts at 0.0.0.0, as before DHCP.
	peerB, _ := board.New(board.Options{Name: "peer", Wire: wire, Addr: netip.MustParsePrefix("198.51.100.1/24")})
	defer peerB.Close()
	clientB, _ := board.New(board.Options{Name: "board", Wire: wire})
	defer clientB.Close()
	peer, board := peerB.IP, clientB.IP

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
