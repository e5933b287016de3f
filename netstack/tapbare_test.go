package netstack_test

import (
	"context"
	"io"
	"net/netip"
	"sync"
	"testing"

	"github.com/songgao/water"
	"gvisor.dev/gvisor/pkg/buffer"
	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/adapters/gonet"
	"gvisor.dev/gvisor/pkg/tcpip/link/channel"
	"gvisor.dev/gvisor/pkg/tcpip/link/ethernet"
	"gvisor.dev/gvisor/pkg/tcpip/network/arp"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv4"
	"gvisor.dev/gvisor/pkg/tcpip/stack"
	"gvisor.dev/gvisor/pkg/tcpip/transport/tcp"

	"github.com/simboard/simboard/internal/netns"
)

// BenchmarkTAPThroughputBareGVisor is the TAP baseline: a bare gVisor stack
// (gVisor defaults, channel queue 4096) pumped through water by two
// goroutines, no pools, no driver (reference/anchors.md row d1).
func BenchmarkTAPThroughputBareGVisor(b *testing.B) {
	ns := netns.ForTest(b, "nstapbare")
	if err := ns.AddTAP(context.Background(), "tap0", netip.MustParsePrefix("198.51.100.1/24")); err != nil {
		b.Fatal(err)
	}
	var ifce *water.Interface
	if err := ns.Do(func() (err error) {
		ifce, err = water.New(water.Config{DeviceType: water.TAP, PlatformSpecificParams: water.PlatformSpecificParams{Name: "tap0"}})
		return err
	}); err != nil {
		b.Fatal(err)
	}
	s := stack.New(stack.Options{
		NetworkProtocols:   []stack.NetworkProtocolFactory{ipv4.NewProtocol, arp.NewProtocol},
		TransportProtocols: []stack.TransportProtocolFactory{tcp.NewProtocol},
	})
	ch := channel.New(4096, 1514, "\x02\x00\x00\x00\x00\x02")
	s.CreateNIC(1, ethernet.New(ch))
	s.AddProtocolAddress(1, tcpip.ProtocolAddress{Protocol: ipv4.ProtocolNumber, AddressWithPrefix: tcpip.AddressWithPrefix{Address: tcpip.AddrFrom4([4]byte{198, 51, 100, 2}), PrefixLen: 24}}, stack.AddressProperties{})
	s.SetRouteTable([]tcpip.Route{{Destination: header4Subnet(), NIC: 1}})
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { // water -> gVisor
		defer wg.Done()
		buf := make([]byte, 65536)
		for {
			n, err := ifce.Read(buf)
			if err != nil {
				return
			}
			pb := stack.NewPacketBuffer(stack.PacketBufferOptions{Payload: buffer.MakeWithData(buf[:n])})
			ch.InjectInbound(0, pb)
			pb.DecRef()
		}
	}()
	go func() { // gVisor -> water
		defer wg.Done()
		for {
			pkt := ch.ReadContext(ctx)
			if pkt == nil {
				return
			}
			v := pkt.ToView()
			pkt.DecRef()
			ifce.Write(v.AsSlice())
			v.Release()
		}
	}()
	defer func() {
		cancel()
		ifce.Close()
		wg.Wait()
		s.Close()
		s.Wait()
	}()
	benchTAP(b, ns, func(ctx context.Context) (io.WriteCloser, error) {
		return gonet.DialContextTCP(ctx, s, tcpip.FullAddress{NIC: 1, Addr: tcpip.AddrFrom4([4]byte{198, 51, 100, 1}), Port: 5001}, ipv4.ProtocolNumber)
	})
}
