package dnsc_test

import (
	"context"
	"fmt"
	"net/netip"
	"time"

	"github.com/simboard/simboard/apps/dnsc"
	"github.com/simboard/simboard/board"
	"github.com/simboard/simboard/driver"
	"github.com/simboard/simboard/internal/netsvc"
	"github.com/simboard/simboard/nx"
)

// A board resolves the mail host's name through the DNS server on its peer.
func Example() {
	w, _ := driver.NewWire(driver.WireOptions{Seed: 1})
	defer w.Close()
	peerB, _ := board.New(board.Options{Name: "peer", Wire: w, Addr: netip.MustParsePrefix("198.51.100.1/24")})
	defer peerB.Close()
	clientB, _ := board.New(board.Options{Name: "board", Wire: w, Addr: netip.MustParsePrefix("198.51.100.2/24")})
	defer clientB.Close()
	peer, board := peerB.IP, clientB.IP

	srv, _ := netsvc.StartDNS(netsvc.DNSOptions{IP: peer, TTL: time.Minute,
		Zone: map[string][]netip.Addr{"mail.simboard.test": {netip.MustParseAddr("198.51.100.1")}}})
	defer srv.Close()

	dns, _ := dnsc.New(dnsc.Options{IP: board})            // nx_dns_create
	_ = dns.ServerAdd(netip.MustParseAddr("198.51.100.1")) // nxd_dns_server_add
	addr, err := dns.HostByNameGet(context.Background(), "mail.simboard.test", dnsc.TypeA, nx.Seconds(2))
	fmt.Println(addr, err)
	_, err = dns.HostByNameGet(context.Background(), "nosuch.simboard.test", dnsc.TypeA, nx.Seconds(2))
	fmt.Println(dnsc.Code(err) == uint32(dnsc.ErrQueryFailed))
	_ = dns.Delete()
	fmt.Println("pool free:", board.Pool().Info().Free == board.Pool().Info().Total)
	// Output:
	// 198.51.100.1 <nil>
	// true
	// pool free: true
}
