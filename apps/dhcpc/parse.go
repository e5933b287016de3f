package dhcpc

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"

	"github.com/insomniacslk/dhcp/dhcpv4"
)

// bootpOptionsOffset is NX_BOOTP_OFFSET_OPTIONS: a reply no longer than this
// carries no option and is dropped, as _nx_dhcp_packet_process does.
const bootpOptionsOffset = 240

// infinite is NX_DHCP_INFINITE_LEASE.
const infinite = 0xFFFFFFFF

// reply is a server message that passed the client's checks.
type reply struct {
	typ     dhcpv4.MessageType
	yiaddr  netip.Addr
	mask    netip.Addr // zero when the option is absent
	server  netip.Addr // option 54, zero when absent
	router  netip.Addr // first router, zero when absent
	dns     []netip.Addr
	ntp     []netip.Addr
	domain  string
	msg     string // option 56 (a NAK's reason)
	lease   uint32 // seconds; infinite when 0xFFFFFFFF
	hasT    bool   // lease option present
	t1, t2  uint32 // seconds, 0 when absent
	hasT1   bool
	hasT2   bool
	options dhcpv4.Options
}

// parseReply is the client's parse path: it decodes b with dhcpv4, then
// applies _nx_dhcp_packet_process's checks (length, our MAC, our XID, a
// message type) and _nx_dhcp_extract_information's (a unicast class A/B/C
// yiaddr and server ID) for an OFFER or ACK. Errors wrap ErrInvalidPayload,
// ErrParse, ErrBadMACAddress, ErrBadXID, ErrInvalidMessage or
// ErrBadIPAddress.
func parseReply(b []byte, mac net.HardwareAddr, xid uint32) (*reply, error) {
	if len(b) <= bootpOptionsOffset {
		return nil, fmt.Errorf("dhcpc: reply of %d bytes has no options: %w", len(b), ErrInvalidPayload)
	}
	m, err := dhcpv4.FromBytes(b)
	if err != nil {
		return nil, fmt.Errorf("dhcpc: %v: %w", err, ErrParse)
	}
	if m.OpCode != dhcpv4.OpcodeBootReply {
		return nil, fmt.Errorf("dhcpc: op %d is not a reply: %w", m.OpCode, ErrInvalidMessage)
	}
	if len(m.ClientHWAddr) < 6 || !bytes.Equal(m.ClientHWAddr[:6], mac) {
		return nil, fmt.Errorf("dhcpc: reply for %v: %w", m.ClientHWAddr, ErrBadMACAddress)
	}
	if binary.BigEndian.Uint32(m.TransactionID[:]) != xid {
		return nil, fmt.Errorf("dhcpc: reply xid %v: %w", m.TransactionID, ErrBadXID)
	}
	r := &reply{typ: m.MessageType(), options: m.Options}
	switch r.typ {
	case dhcpv4.MessageTypeOffer, dhcpv4.MessageTypeAck:
	case dhcpv4.MessageTypeNak:
		r.msg = m.Message()
		if sid, ok := addr4(m.ServerIdentifier()); ok {
			r.server = sid
		}
		return r, nil
	default:
		return nil, fmt.Errorf("dhcpc: message type %v: %w", r.typ, ErrInvalidMessage)
	}
	y, ok := addr4(m.YourIPAddr)
	if !ok || !classABC(y) {
		return nil, fmt.Errorf("dhcpc: %v offered address %v: %w", r.typ, m.YourIPAddr, ErrBadIPAddress)
	}
	r.yiaddr = y
	if v := m.Options.Get(dhcpv4.OptionServerIdentifier); v != nil {
		sid, ok := addr4(net.IP(v))
		if !ok || !classABC(sid) {
			return nil, fmt.Errorf("dhcpc: server identifier %v: %w", net.IP(v), ErrBadIPAddress)
		}
		r.server = sid
	}
	if v := m.Options.Get(dhcpv4.OptionSubnetMask); v != nil {
		if len(v) != 4 {
			return nil, fmt.Errorf("dhcpc: subnet mask of %d bytes: %w", len(v), ErrInvalidMessage)
		}
		mk := netip.AddrFrom4([4]byte(v))
		if !mk.IsUnspecified() {
			if _, ok := maskBits(mk); !ok {
				return nil, fmt.Errorf("dhcpc: subnet mask %v is not contiguous: %w", mk, ErrBadIPAddress)
			}
			r.mask = mk
		}
	}
	if v := m.Options.Get(dhcpv4.OptionRouter); v != nil {
		if len(v) < 4 {
			return nil, fmt.Errorf("dhcpc: router option of %d bytes: %w", len(v), ErrInvalidMessage)
		}
		gw := netip.AddrFrom4([4]byte(v[:4]))
		if !classABC(gw) {
			return nil, fmt.Errorf("dhcpc: router %v: %w", gw, ErrBadIPAddress)
		}
		r.router = gw
	}
	r.dns = addrList(m.Options.Get(dhcpv4.OptionDomainNameServer))
	r.ntp = addrList(m.Options.Get(dhcpv4.OptionNTPServers))
	r.domain = m.DomainName()
	if v := m.Options.Get(dhcpv4.OptionIPAddressLeaseTime); len(v) == 4 {
		r.lease, r.hasT = binary.BigEndian.Uint32(v), true
	}
	if v := m.Options.Get(dhcpv4.OptionRenewTimeValue); len(v) == 4 {
		r.t1, r.hasT1 = binary.BigEndian.Uint32(v), true
	}
	if v := m.Options.Get(dhcpv4.OptionRebindingTimeValue); len(v) == 4 {
		r.t2, r.hasT2 = binary.BigEndian.Uint32(v), true
	}
	if r.hasT && r.lease == 0 {
		// NetX would bind with lease, T1 and T2 all 0 and, as its timer
		// skips a zero timeout, keep the address for ever. We refuse it.
		return nil, fmt.Errorf("dhcpc: %v from %v gives a lease of 0 s: %w", r.typ, r.server, ErrInvalidMessage)
	}
	return r, nil
}

func addr4(ip net.IP) (netip.Addr, bool) {
	v := ip.To4()
	if v == nil {
		return netip.Addr{}, false
	}
	return netip.AddrFrom4([4]byte(v)), true
}

// classABC is NetX's validity test for yiaddr, server ID and router: not
// 0.0.0.0, and class A, B or C (so not multicast, reserved or broadcast).
func classABC(a netip.Addr) bool {
	if !a.Is4() || a.IsUnspecified() {
		return false
	}
	return a.As4()[0] < 224
}

func addrList(v []byte) []netip.Addr {
	var out []netip.Addr
	for len(v) >= 4 {
		out = append(out, netip.AddrFrom4([4]byte(v[:4])))
		v = v[4:]
	}
	return out
}

// maskBits returns the prefix length of a contiguous IPv4 mask.
func maskBits(m netip.Addr) (int, bool) {
	b := m.As4()
	ones, sz := net.IPMask(b[:]).Size()
	if sz == 0 {
		return 0, false
	}
	return ones, true
}

// classMask is the classful mask NetX's nx_ip_interface_address_get would
// leave in place when a server sends no subnet mask and the board had none.
func classMask(a netip.Addr) int {
	switch f := a.As4()[0]; {
	case f < 128:
		return 8
	case f < 192:
		return 16
	}
	return 24
}
