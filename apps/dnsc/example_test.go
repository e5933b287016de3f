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
