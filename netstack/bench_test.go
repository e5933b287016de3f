package netstack_test

import (
	"context"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"gvisor.dev/gvisor/pkg/buffer"
	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/adapters/gonet"
	"gvisor.dev/gvisor/pkg/tcpip/link/channel"
	"gvisor.dev/gvisor/pkg/tcpip/link/ethernet"
	"gvisor.dev/gvisor/pkg/tcpip/network/arp"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv4"
	"gvisor.dev/gvisor/pkg/tcpip/stack"
	"gvisor.dev/gvisor/pkg/tcpip/transport/tcp"

	"github.com/simboard/simboard/boardtest"
	"github.com/simboard/simboard/nx"
)

const benchBytes = 16 << 20

// BenchmarkTCPThroughputBoards moves 16 MiB per op between two boards on a
// Wire through the NetX API: 16 KiB packet chains into Send, Receive and
// Release on the other side. Every byte is accounted against pools.
func BenchmarkTCPThroughputBoards(b *testing.B) {
	client, server := boardtest.Pair(b, boardtest.Options{})
	ctx := context.Background()
	s, _ := server.IP.TCPSocketCreate("bench-srv", 0)
	if err := server.IP.ServerListen(5001, s, 5); err != nil {
		b.Fatal(err)
	}
	acc := make(chan error, 1)
	go func() { acc <- s.ServerAccept(ctx, nx.Seconds(10)) }()
	c, _ := client.IP.TCPSocketCreate("bench-cli", 0)
	_ = c.ClientBind(ctx, 0, nx.NoWait)
	if err := c.Connect(ctx, netip.AddrPortFrom(server.Addr, 5001), nx.Seconds(10)); err != nil {
		b.Fatal(err)
	}
	if err := <-acc; err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		_ = c.Disconnect(ctx, nx.NoWait)
		_ = c.ClientUnbind()
		_ = s.Disconnect(ctx, nx.NoWait)
		_ = s.ServerUnaccept()
		_ = server.IP.ServerUnlisten(5001)
	})
	chunk := make([]byte, 16<<10)
	b.SetBytes(benchBytes)
	b.ReportAllocs()
	for b.Loop() {
		tctx, cancel := context.WithTimeout(ctx, 60*time.Second)
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			for sent := 0; sent < benchBytes; sent += len(chunk) {
				pkt, err := client.Pool.Allocate(tctx, c.PacketType(), nx.WaitForever)
				if err != nil {
					b.Error(err)
					return
				}
				if err := pkt.Append(tctx, chunk, client.Pool, nx.WaitForever); err != nil {
					_ = pkt.Release()
					b.Error(err)
					return
				}
				if err := c.Send(tctx, pkt, nx.WaitForever); err != nil {
					_ = pkt.Release()
					b.Error(err)
					return
				}
			}
		}()
		for got := 0; got < benchBytes; {
			pkt, err := s.Receive(tctx, nx.WaitForever)
			if err != nil {
				b.Fatalf("Receive after %d bytes: %v", got, err)
			}
			got += pkt.Length()
			_ = pkt.Release()
		}
		wg.Wait()
		cancel()
	}
}

// rawPair is the baseline: two gVisor stacks joined by channel endpoints and
// two pump goroutines (reference/anchors.md row a1), no pools, no driver.
// With boardTCP the stacks use the board's MCU-like TCP settings (64 KiB
// buffers, no auto-tuning), so the ratio isolates what pools, the driver and
// the Wire cost; without, gVisor's defaults (1 MiB buffers).
func rawPair(b *testing.B, boardTCP bool) (a, z *stack.Stack, stop func()) {
	mk := func(addr tcpip.Address, mac tcpip.LinkAddress) (*stack.Stack, *channel.Endpoint) {
		s := stack.New(stack.Options{
			NetworkProtocols:   []stack.NetworkProtocolFactory{ipv4.NewProtocol, arp.NewProtocol},
			TransportProtocols: []stack.TransportProtocolFactory{tcp.NewProtocol},
		})
		if boardTCP {
			snd := tcpip.TCPSendBufferSizeRangeOption{Min: 4096, Default: 64 << 10, Max: 64 << 10}
			s.SetTransportProtocolOption(tcp.ProtocolNumber, &snd)
			rcv := tcpip.TCPReceiveBufferSizeRangeOption{Min: 4096, Default: 64 << 10, Max: 4 << 20}
			s.SetTransportProtocolOption(tcp.ProtocolNumber, &rcv)
			mod := tcpip.TCPModerateReceiveBufferOption(false)
			s.SetTransportProtocolOption(tcp.ProtocolNumber, &mod)
		}
		ch := channel.New(4096, 1514, mac)
		if err := s.CreateNIC(1, ethernet.New(ch)); err != nil {
			b.Fatal(err)
		}
		s.AddProtocolAddress(1, tcpip.ProtocolAddress{Protocol: ipv4.ProtocolNumber, AddressWithPrefix: addr.WithPrefix()}, stack.AddressProperties{})
		s.SetRouteTable([]tcpip.Route{{Destination: header4Subnet(), NIC: 1}})
		return s, ch
	}
	a, ca := mk(tcpip.AddrFrom4([4]byte{10, 0, 0, 1}), "\x02\x00\x00\x00\x00\x01")
	z, cz := mk(tcpip.AddrFrom4([4]byte{10, 0, 0, 2}), "\x02\x00\x00\x00\x00\x02")
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	pump := func(from, to *channel.Endpoint) {
		defer wg.Done()
		for {
			pkt := from.ReadContext(ctx)
			if pkt == nil {
				return
			}
			v := pkt.ToView()
			pkt.DecRef()
			nb := stack.NewPacketBuffer(stack.PacketBufferOptions{Payload: buffer.MakeWithView(v)})
			to.InjectInbound(0, nb)
			nb.DecRef()
		}
	}
	wg.Add(2)
	go pump(ca, cz)
	go pump(cz, ca)
	return a, z, func() {
		cancel()
		wg.Wait()
		a.Close()
		z.Close()
		a.Wait()
		z.Wait()
	}
}

func header4Subnet() tcpip.Subnet {
	s, _ := tcpip.NewSubnet(tcpip.AddrFrom4([4]byte{}), tcpip.MaskFromBytes([]byte{0, 0, 0, 0}))
	return s
}

// BenchmarkTCPThroughputRawGVisor is the same 16 MiB per op between two bare
// gVisor stacks with gonet and the board's TCP settings: the baseline the
// board is compared against (target: board >= 0.8x).
func BenchmarkTCPThroughputRawGVisor(b *testing.B) { benchRaw(b, true) }

// BenchmarkTCPThroughputRawGVisorDefaults uses gVisor's stock 1 MiB buffers
// (reference/anchors.md row a1), for reference.
func BenchmarkTCPThroughputRawGVisorDefaults(b *testing.B) { benchRaw(b, false) }

func benchRaw(b *testing.B, boardTCP bool) {
	a, z, stop := rawPair(b, boardTCP)
	defer stop()
	ln, err := gonet.ListenTCP(z, tcpip.FullAddress{NIC: 1, Addr: tcpip.AddrFrom4([4]byte{10, 0, 0, 2}), Port: 5001}, ipv4.ProtocolNumber)
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			close(accepted)
			return
		}
		accepted <- c
	}()
	cl, err := gonet.DialContextTCP(context.Background(), a, tcpip.FullAddress{NIC: 1, Addr: tcpip.AddrFrom4([4]byte{10, 0, 0, 2}), Port: 5001}, ipv4.ProtocolNumber)
	if err != nil {
		b.Fatal(err)
	}
	defer cl.Close()
	sv := <-accepted
	defer sv.Close()
	chunk := make([]byte, 64<<10)
	rbuf := make([]byte, 64<<10)
	b.SetBytes(benchBytes)
	b.ReportAllocs()
	for b.Loop() {
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			for sent := 0; sent < benchBytes; sent += len(chunk) {
				if _, err := cl.Write(chunk); err != nil {
					b.Error(err)
					return
				}
			}
		}()
		for got := 0; got < benchBytes; {
			n, err := sv.Read(rbuf)
			if err != nil {
				b.Fatal(err)
			}
			got += n
		}
		wg.Wait()
	}
}
