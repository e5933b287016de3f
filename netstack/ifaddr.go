package netstack

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"time"

	"gvisor.dev/gvisor/pkg/buffer"
	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/checksum"
	"gvisor.dev/gvisor/pkg/tcpip/header"
	"gvisor.dev/gvisor/pkg/tcpip/network/arp"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv4"
	"gvisor.dev/gvisor/pkg/tcpip/stack"

	"github.com/simboard/simboard/nx"
	"github.com/simboard/simboard/packetpool"
)

// This file holds what the DHCP client add-on (apps/dhcpc) needs from the IP
// instance: changing the IPv4 address and gateway at run time, sending a
// datagram from 0.0.0.0 before the board has an address, and the ARP probe
// of RFC 5227.

// InterfaceAddressSet mirrors nx_ip_interface_address_set (and nx_ip_address_set
// for the primary interface): it replaces the board's IPv4 address and its
// subnet route. The zero Prefix (or 0.0.0.0) removes the address, as NetX's
// address 0 does. It does not block. Errors: nx.ErrIPAddress (not IPv4, or
// refused by the stack), nx.ErrNotEnabled after Close.
func (ip *IP) InterfaceAddressSet(p netip.Prefix) error {
	if p.IsValid() && !p.Addr().Is4() {
		return fmt.Errorf("netstack: ip %q: address %v is not IPv4: %w", ip.name, p, nx.ErrIPAddress)
	}
	if p.IsValid() && p.Addr().IsUnspecified() {
		p = netip.Prefix{}
	}
	ip.mu.Lock()
	defer ip.mu.Unlock()
	if ip.closed {
		return fmt.Errorf("netstack: ip %q: address set: %w", ip.name, nx.ErrNotEnabled)
	}
	old := ip.addrGet()
	if old == p.Masked() && old == p {
		return nil
	}
	if old.IsValid() {
		_ = ip.stack.RemoveAddress(nicID, tcpip.AddrFrom4(old.Addr().As4()))
		ip.removeRoutes(func(r tcpip.Route) bool {
			return r.Gateway.BitLen() == 0 && r.Destination == subnet4(old)
		})
	}
	ip.addrSet(p)
	if !p.IsValid() {
		return nil
	}
	pa := tcpip.ProtocolAddress{
		Protocol:          ipv4.ProtocolNumber,
		AddressWithPrefix: tcpip.AddressWithPrefix{Address: tcpip.AddrFrom4(p.Addr().As4()), PrefixLen: p.Bits()},
	}
	if err := ip.stack.AddProtocolAddress(nicID, pa, stack.AddressProperties{}); err != nil {
		ip.addrSet(netip.Prefix{})
		return fmt.Errorf("netstack: ip %q: address %v: %w", ip.name, p, nx.ErrIPAddress)
	}
	// The subnet route goes first so it wins over a default route.
	rt := ip.stack.GetRouteTable()
	ip.stack.SetRouteTable(append([]tcpip.Route{{Destination: subnet4(p), NIC: nicID}}, rt...))
	ip.log.Info("ip address set", "ip", ip.name, "addr", p)
	return nil
}

// InterfaceAddressGet mirrors nx_ip_interface_address_get: the IPv4 address
// and prefix, or the zero Prefix when the board has none. It does not block.
func (ip *IP) InterfaceAddressGet() netip.Prefix { return ip.addrGet() }

// GatewayAddressSet mirrors nx_ip_gateway_address_set: it replaces the IPv4
// default route. It does not block. Errors: nx.ErrIPAddress (not a unicast
// IPv4 address), nx.ErrNotEnabled after Close.
func (ip *IP) GatewayAddressSet(gw netip.Addr) error {
	if !gw.Is4() || gw.IsUnspecified() || gw == netip.AddrFrom4([4]byte{255, 255, 255, 255}) {
		return fmt.Errorf("netstack: ip %q: gateway %v: %w", ip.name, gw, nx.ErrIPAddress)
	}
	ip.mu.Lock()
	defer ip.mu.Unlock()
	if ip.closed {
		return fmt.Errorf("netstack: ip %q: gateway set: %w", ip.name, nx.ErrNotEnabled)
	}
	ip.removeRoutes(isDefault4)
	rt := ip.stack.GetRouteTable()
	ip.stack.SetRouteTable(append(rt, tcpip.Route{Destination: header4Any(), Gateway: tcpip.AddrFrom4(gw.As4()), NIC: nicID}))
	return nil
}

// GatewayAddressGet mirrors nx_ip_gateway_address_get. It does not block.
// Errors: nx.ErrNotFound when no IPv4 gateway is set.
func (ip *IP) GatewayAddressGet() (netip.Addr, error) {
	for _, r := range ip.stack.GetRouteTable() {
		if isDefault4(r) {
			return netip.AddrFrom4(r.Gateway.As4()), nil
		}
	}
	return netip.Addr{}, fmt.Errorf("netstack: ip %q: gateway get: %w", ip.name, nx.ErrNotFound)
}

// GatewayAddressClear mirrors nx_ip_gateway_address_clear. It does not block
// and returns nil when there was no gateway.
func (ip *IP) GatewayAddressClear() error {
	ip.mu.Lock()
	defer ip.mu.Unlock()
	ip.removeRoutes(isDefault4)
	return nil
}

func isDefault4(r tcpip.Route) bool {
	return r.Gateway.BitLen() == 32 && r.Destination == header4Any()
}

func subnet4(p netip.Prefix) tcpip.Subnet {
	return tcpip.AddressWithPrefix{Address: tcpip.AddrFrom4(p.Addr().As4()), PrefixLen: p.Bits()}.Subnet()
}

// removeRoutes drops the routes drop selects. Called with ip.mu held.
func (ip *IP) removeRoutes(drop func(tcpip.Route) bool) {
	rt := ip.stack.GetRouteTable()
	keep := rt[:0]
	for _, r := range rt {
		if !drop(r) {
			keep = append(keep, r)
		}
	}
	ip.stack.SetRouteTable(keep)
}

// BroadcastEnable lets the socket send to 255.255.255.255 (SO_BROADCAST).
// NetX sends broadcasts from any UDP socket; gVisor needs the option, so the
// DHCP, DNS and SNTP add-ons call this after Bind. It also ties the socket
// to the board's one interface. Errors: nx.ErrNotBound.
func (u *UDPSocket) BroadcastEnable() error {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.ep == nil {
		return fmt.Errorf("netstack: udp socket %q: broadcast: %w", u.name, nx.ErrNotBound)
	}
	u.ep.SocketOptions().SetBroadcast(true)
	// 255.255.255.255 matches no route: gVisor sends it only on a socket
	// tied to the interface (the board has one).
	if err := u.ep.SocketOptions().SetBindToDevice(int32(nicID)); err != nil {
		return fmt.Errorf("netstack: udp socket %q: broadcast: %w", u.name, translate(err))
	}
	return nil
}

// SendZeroSource mirrors the DHCP client's
// _nx_dhcp_client_send_with_zero_source_address: it builds the UDP and IPv4
// headers itself and sends pkt's bytes from 0.0.0.0 (the socket's port) to
// 255.255.255.255:dstPort in an Ethernet broadcast, as RFC 2131 requires of
// a client that has no address yet. On success the packet is released; on
// error the caller keeps it. It does not block; a ctx already done sends
// nothing. Errors: nx.ErrNotBound, nx.ErrInvalidPacket, nx.ErrSize (more than
// the MTU), nx.ErrInvalidInterface (link down), nx.ErrWaitAborted.
func (u *UDPSocket) SendZeroSource(ctx context.Context, pkt *packetpool.Packet, dstPort uint16) error {
	if err := aborted(ctx); err != nil {
		return fmt.Errorf("netstack: udp socket %q: send: %w", u.name, err)
	}
	if pkt == nil || pkt.Length() == 0 {
		return fmt.Errorf("netstack: udp socket %q: send: %w", u.name, nx.ErrInvalidPacket)
	}
	u.mu.Lock()
	ep, port := u.ep, u.port
	u.mu.Unlock()
	if ep == nil {
		return fmt.Errorf("netstack: udp socket %q: send: %w", u.name, nx.ErrNotBound)
	}
	n := pkt.Length()
	total := header.IPv4MinimumSize + header.UDPMinimumSize + n
	if total > u.ip.drv.MTU() {
		return fmt.Errorf("netstack: udp socket %q: send %d bytes: %w", u.name, n, nx.ErrSize)
	}
	if !u.ip.drv.LinkUp() {
		return fmt.Errorf("netstack: udp socket %q: send: %w", u.name, nx.ErrInvalidInterface)
	}
	b := make([]byte, total)
	payload := b[header.IPv4MinimumSize+header.UDPMinimumSize:]
	r := chainReader{pkt: pkt, left: n}
	if _, err := r.Read(payload); err != nil && len(payload) > 0 {
		return fmt.Errorf("netstack: udp socket %q: send: %w", u.name, nx.ErrInvalidPacket)
	}
	src := header.IPv4Any
	dst := header.IPv4Broadcast
	ih := header.IPv4(b)
	ih.Encode(&header.IPv4Fields{
		TotalLength: uint16(total),
		Flags:       header.IPv4FlagDontFragment,
		TTL:         0x80, // NX_DHCP_TIME_TO_LIVE
		Protocol:    uint8(header.UDPProtocolNumber),
		SrcAddr:     src,
		DstAddr:     dst,
	})
	ih.SetChecksum(^ih.CalculateChecksum())
	uh := header.UDP(b[header.IPv4MinimumSize:])
	uh.Encode(&header.UDPFields{SrcPort: port, DstPort: dstPort, Length: uint16(header.UDPMinimumSize + n)})
	xsum := header.PseudoHeaderChecksum(header.UDPProtocolNumber, src, dst, uint16(header.UDPMinimumSize+n))
	xsum = checksum.Checksum(payload, xsum)
	uh.SetChecksum(^uh.CalculateChecksum(xsum))
	if uh.Checksum() == 0 {
		uh.SetChecksum(0xFFFF)
	}
	if err := u.ip.stack.WritePacketToRemote(nicID, header.EthernetBroadcastAddress, ipv4.ProtocolNumber, buffer.MakeWithData(b)); err != nil {
		return fmt.Errorf("netstack: udp socket %q: send: %w", u.name, translate(err))
	}
	return pkt.Release()
}

// ARPProbe mirrors _nx_arp_probe_send with the DHCP client's conflict notify
// (RFC 5227 address probing): it sends probes ARP probes for addr, interval
// apart (sender IP 0.0.0.0), and listens for any host that answers or uses
// the address. It blocks until the probing ends: nil when nobody holds addr,
// or the holder's MAC and nx.ErrDuplicatedEntry on a conflict. The probing
// runs on the stack's timer. Errors: nx.ErrIPAddress (not IPv4),
// nx.ErrWaitAborted (ctx done), nx.ErrNotSupported.
func (ip *IP) ARPProbe(ctx context.Context, addr netip.Addr, probes int, interval time.Duration) (net.HardwareAddr, error) {
	if !addr.Is4() || addr.IsUnspecified() {
		return nil, fmt.Errorf("netstack: ip %q: arp probe %v: %w", ip.name, addr, nx.ErrIPAddress)
	}
	if probes < 1 {
		probes = 1
	}
	if interval <= 0 {
		interval = time.Second
	}
	if err := aborted(ctx); err != nil {
		return nil, fmt.Errorf("netstack: ip %q: arp probe %v: %w", ip.name, addr, err) // no probe sent
	}
	nep, terr := ip.stack.GetNetworkEndpoint(nicID, arp.ProtocolNumber)
	if terr != nil {
		return nil, fmt.Errorf("netstack: ip %q: arp probe: %w", ip.name, translate(terr))
	}
	dad, ok := nep.(stack.DuplicateAddressDetector)
	if !ok {
		return nil, fmt.Errorf("netstack: ip %q: arp probe: %w", ip.name, nx.ErrNotSupported)
	}
	dad.SetDADConfigurations(stack.DADConfigurations{DupAddrDetectTransmits: uint8(min(probes, 255)), RetransmitTimer: interval})
	done := make(chan stack.DADResult, 1)
	a := tcpip.AddrFrom4(addr.As4())
	disp, terr := ip.stack.CheckDuplicateAddress(nicID, ipv4.ProtocolNumber, a, func(r stack.DADResult) {
		ip.post(func() {
			select {
			case done <- r:
			default:
			}
		})
	})
	if terr != nil {
		return nil, fmt.Errorf("netstack: ip %q: arp probe: %w", ip.name, translate(terr))
	}
	_ = disp
	select {
	case r := <-done:
		switch r := r.(type) {
		case *stack.DADSucceeded:
			return nil, nil
		case *stack.DADDupAddrDetected:
			return net.HardwareAddr(r.HolderLinkAddress), fmt.Errorf("netstack: ip %q: arp probe: %v is held by %v: %w", ip.name, addr, net.HardwareAddr(r.HolderLinkAddress), nx.ErrDuplicatedEntry)
		case *stack.DADError:
			return nil, fmt.Errorf("netstack: ip %q: arp probe: %w", ip.name, translate(r.Err))
		default:
			return nil, fmt.Errorf("netstack: ip %q: arp probe aborted: %w", ip.name, nx.ErrWaitAborted)
		}
	case <-ctx.Done():
		return nil, fmt.Errorf("netstack: ip %q: arp probe: %w", ip.name, nx.Aborted(ctx))
	}
}

// ARPResolve mirrors nx_arp_hardware_address_find, sending an ARP request
// when the entry is missing (as NetX's send path does): it blocks until addr
// resolves, wait runs out (nx.ErrNoResponse) or ctx is done
// (nx.ErrWaitAborted). The DHCP client resolves its server before the
// RELEASE, since it removes its address right after sending it.
func (ip *IP) ARPResolve(ctx context.Context, addr netip.Addr, wait nx.Wait) (net.HardwareAddr, error) {
	if !addr.Is4() {
		return nil, fmt.Errorf("netstack: ip %q: arp resolve %v: %w", ip.name, addr, nx.ErrIPAddress)
	}
	local := ip.addrGet()
	if !local.IsValid() {
		return nil, fmt.Errorf("netstack: ip %q: arp resolve %v: no IPv4 address: %w", ip.name, addr, nx.ErrNoInterfaceAddress)
	}
	if err := aborted(ctx); err != nil {
		return nil, fmt.Errorf("netstack: ip %q: arp resolve %v: %w", ip.name, addr, err) // no request sent
	}
	done := make(chan struct{})
	var res stack.LinkResolutionResult
	var once bool
	terr := ip.stack.GetLinkAddress(nicID, tcpip.AddrFrom4(addr.As4()), tcpip.AddrFrom4(local.Addr().As4()), ipv4.ProtocolNumber, func(r stack.LinkResolutionResult) {
		if !once {
			once = true
			res = r
			ip.post(func() { close(done) })
		}
	})
	if terr != nil {
		if _, ok := terr.(*tcpip.ErrWouldBlock); !ok {
			return nil, fmt.Errorf("netstack: ip %q: arp resolve %v: %w", ip.name, addr, translate(terr))
		}
	}
	if err := nx.Await(ctx, ip.clock, wait, done, nx.ErrNoResponse); err != nil {
		return nil, fmt.Errorf("netstack: ip %q: arp resolve %v: %w", ip.name, addr, err)
	}
	if res.Err != nil {
		return nil, fmt.Errorf("netstack: ip %q: arp resolve %v: %w", ip.name, addr, nx.ErrNoResponse)
	}
	return net.HardwareAddr(res.LinkAddress), nil
}

// AcceptAnyAddress makes the interface accept IP datagrams to any unicast
// address (on) or only to its own (off, the default). NetX hands a DHCP
// client a reply unicast to the offered address before the interface holds
// it (the client asked so with nx_dhcp_clear_broadcast_flag); gVisor drops
// such a datagram unless the interface is promiscuous, so the DHCP client
// turns this on until it is BOUND. It does not block. Errors: nx.ErrNotEnabled
// after Close.
func (ip *IP) AcceptAnyAddress(on bool) error {
	ip.mu.Lock()
	defer ip.mu.Unlock()
	if ip.closed {
		return fmt.Errorf("netstack: ip %q: accept any address: %w", ip.name, nx.ErrNotEnabled)
	}
	if err := ip.stack.SetPromiscuousMode(nicID, on); err != nil {
		return fmt.Errorf("netstack: ip %q: accept any address: %w", ip.name, translate(err))
	}
	return nil
}
