package netstack_test

import (
	"context"
	"errors"
	"net/netip"
	"testing"
	"time"

	"github.com/simboard/simboard/boardtest"
	"github.com/simboard/simboard/netstack"
	"github.com/simboard/simboard/nx"
	"github.com/simboard/simboard/packetpool"
)

func udpBound(t *testing.T, ip *netstack.IP, port uint16) *netstack.UDPSocket {
	t.Helper()
	s, err := ip.UDPSocketCreate("t")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Bind(context.Background(), port, nx.NoWait); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Unbind(); _ = s.Delete() })
	return s
}

func payload(t *testing.T, pool *packetpool.Pool, b []byte) *packetpool.Packet {
	t.Helper()
	p, err := pool.Allocate(context.Background(), packetpool.UDPPacket, nx.NoWait)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Append(context.Background(), b, pool, nx.NoWait); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestInterfaceAddressSet: the address moves, the old one stops answering,
// the gateway is set, read and cleared.
func TestInterfaceAddressSet(t *testing.T) {
	boardtest.CheckGoroutines(t)
	a, b := boardtest.Pair(t, boardtest.Options{})
	newAddr := netip.MustParsePrefix("198.51.100.77/24")
	if err := a.IP.InterfaceAddressSet(newAddr); err != nil {
		t.Fatalf("InterfaceAddressSet(%v) = %v", newAddr, err)
	}
	if got := a.IP.InterfaceAddressGet(); got != newAddr || a.IP.Addr() != newAddr {
		t.Fatalf("InterfaceAddressGet() = %v, want %v", got, newAddr)
	}
	// b reaches a at its new address over UDP.
	rs := udpBound(t, a.IP, 7000)
	ss := udpBound(t, b.IP, 0)
	if err := ss.Send(context.Background(), payload(t, b.Pool, []byte("hi")), netip.AddrPortFrom(newAddr.Addr(), 7000)); err != nil {
		t.Fatalf("Send = %v", err)
	}
	p, from, err := rs.Receive(context.Background(), nx.Seconds(5))
	if err != nil {
		t.Fatalf("Receive = %v", err)
	}
	_ = p.Release()
	if from.Addr().Unmap() != b.Addr {
		t.Errorf("from %v, want %v", from, b.Addr)
	}
	if err := a.IP.InterfaceAddressSet(netip.MustParsePrefix("2001:db8::1/64")); !errors.Is(err, nx.ErrIPAddress) {
		t.Errorf("InterfaceAddressSet(IPv6) = %v, want NX_IP_ADDRESS_ERROR", err)
	}
	if _, err := a.IP.GatewayAddressGet(); !errors.Is(err, nx.ErrNotFound) {
		t.Errorf("GatewayAddressGet() = %v, want NX_NOT_FOUND", err)
	}
	gw := netip.MustParseAddr("198.51.100.1")
	if err := a.IP.GatewayAddressSet(gw); err != nil {
		t.Fatal(err)
	}
	if got, err := a.IP.GatewayAddressGet(); err != nil || got != gw {
		t.Errorf("GatewayAddressGet() = %v, %v", got, err)
	}
	if err := a.IP.GatewayAddressClear(); err != nil {
		t.Fatal(err)
	}
	if _, err := a.IP.GatewayAddressGet(); !errors.Is(err, nx.ErrNotFound) {
		t.Errorf("after clear: %v", err)
	}
	if err := a.IP.InterfaceAddressSet(netip.Prefix{}); err != nil {
		t.Fatal(err)
	}
	if st, _ := a.IP.StatusCheck(context.Background(), netstack.AddressResolved, nx.NoWait); st&netstack.AddressResolved != 0 && !a.IP.Addr6().IsValid() {
		t.Errorf("ADDRESS_RESOLVED with no address")
	}
}

// TestSendZeroSource: a board with no address broadcasts from 0.0.0.0 and
// the peer's socket sees source 0.0.0.0.
func TestSendZeroSource(t *testing.T) {
	boardtest.CheckGoroutines(t)
	a, b := boardtest.Pair(t, boardtest.Options{})
	if err := a.IP.InterfaceAddressSet(netip.Prefix{}); err != nil {
		t.Fatal(err)
	}
	rs := udpBound(t, b.IP, 67)
	cs := udpBound(t, a.IP, 68)
	if err := cs.SendZeroSource(context.Background(), nil, 67); !errors.Is(err, nx.ErrInvalidPacket) {
		t.Errorf("SendZeroSource(nil) = %v", err)
	}
	if err := cs.SendZeroSource(context.Background(), payload(t, a.Pool, []byte("discover")), 67); err != nil {
		t.Fatalf("SendZeroSource = %v", err)
	}
	p, from, err := rs.Receive(context.Background(), nx.Seconds(5))
	if err != nil {
		t.Fatalf("Receive = %v", err)
	}
	defer p.Release()
	if string(p.Bytes()) != "discover" || from.Addr().Unmap() != netip.IPv4Unspecified() || from.Port() != 68 {
		t.Errorf("got %q from %v", p.Bytes(), from)
	}
	// And the peer answers to 255.255.255.255, which the address-less board
	// receives.
	if err := rs.BroadcastEnable(); err != nil {
		t.Fatal(err)
	}
	if err := rs.Send(context.Background(), payload(t, b.Pool, []byte("offer")), netip.MustParseAddrPort("255.255.255.255:68")); err != nil {
		t.Fatalf("broadcast Send = %v", err)
	}
	q, _, err := cs.Receive(context.Background(), nx.Seconds(5))
	if err != nil {
		t.Fatalf("Receive broadcast = %v", err)
	}
	_ = q.Release()
	done, cancel := context.WithCancel(context.Background())
	cancel()
	dp := payload(t, a.Pool, []byte("late"))
	if err := cs.SendZeroSource(done, dp, 67); !errors.Is(err, nx.ErrWaitAborted) {
		t.Errorf("SendZeroSource(done ctx) = %v, want NX_WAIT_ABORTED", err)
	}
	_ = dp.Release()
	big := make([]byte, 1500)
	bp := payload(t, a.Pool, big)
	if err := cs.SendZeroSource(context.Background(), bp, 67); !errors.Is(err, nx.ErrSize) {
		t.Errorf("SendZeroSource(1500 bytes) = %v, want NX_SIZE_ERROR", err)
	}
	_ = bp.Release()
}

// TestARPProbe: probing the peer's address finds it; probing a free one
// does not.
func TestARPProbe(t *testing.T) {
	boardtest.CheckGoroutines(t)
	a, b := boardtest.Pair(t, boardtest.Options{})
	if err := a.IP.InterfaceAddressSet(netip.Prefix{}); err != nil {
		t.Fatal(err)
	}
	mac, err := a.IP.ARPProbe(context.Background(), b.Addr, 2, 20*time.Millisecond)
	if !errors.Is(err, nx.ErrDuplicatedEntry) || mac.String() != b.Driver.MAC().String() {
		t.Errorf("ARPProbe(%v) = %v, %v; want %v, NX_DUPLICATED_ENTRY", b.Addr, mac, err, b.Driver.MAC())
	}
	if mac, err := a.IP.ARPProbe(context.Background(), netip.MustParseAddr("198.51.100.99"), 2, 20*time.Millisecond); err != nil || mac != nil {
		t.Errorf("ARPProbe(free) = %v, %v", mac, err)
	}
}
