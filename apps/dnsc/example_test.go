package dnsc_test

import (
	"context"
	"fmt"
	"net/netip"
	"time"

	"github.com/simboard/simboard/apps/dnsc"
	"github.com/simboard/simboard/driver"
	"github.com/simboard/simboard/internal/netsvc"
	"github.com/simboard/simboard/netstack"
	"github.com/simboard/simboard/nx"
	"github.com/simboard/simboard/packetpool"
)

// exampleBoard boots a board on w at 198.51.100.<host>.
func exampleBoard(w *driver.Wire, name string, host byte) (*netstack.IP, func()) {
	pool, _ := packetpool.New(packetpool.Options{Name: name, PayloadSize: 1536, Count: 64})
	rx, _ := packetpool.New(packetpool.Options{Name: name + "-rx", PayloadSize: 1536, Count: 64})
	port, _ := w.Attach(driver.PortOptions{Name: name})
	drv, _ := driver.New(driver.Options{Name: name, Link: port, RxPool: rx})
	ip, _ := netstack.New(netstack.Options{Name: name, Pool: pool, Driver: drv,
		Addr: netip.PrefixFrom(netip.AddrFrom4([4]byte{198, 51, 100, host}), 24)})
	return ip, func() { _ = ip.Close(); _ = drv.Close() }
}

// A board resolves the mail host's name through the DNS server on its peer.
func Example() {
	w, _ := driver.NewWire(driver.WireOptions{Seed: 1})
	defer w.Close()
	peer, closePeer := exampleBoard(w, "peer", 1)
	defer closePeer()
	board, closeBoard := exampleBoard(w, "board", 2)
	defer closeBoard()

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
