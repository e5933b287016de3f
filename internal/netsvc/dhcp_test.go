package netsvc

import (
	"errors"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"

	"github.com/simboard/simboard/boardtest"
	"github.com/simboard/simboard/nx"
)

func dhcpRequest(t *testing.T, typ dhcpv4.MessageType, mac net.HardwareAddr, mods ...dhcpv4.Modifier) *dhcpv4.DHCPv4 {
	t.Helper()
	m, err := dhcpv4.New(append([]dhcpv4.Modifier{dhcpv4.WithHwAddr(mac), dhcpv4.WithMessageType(typ)}, mods...)...)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestDHCPServerReply drives the handler directly: offer, ACK, a NAK for an
// address another client holds, RELEASE and DECLINE bookkeeping, faults.
func TestDHCPServerReply(t *testing.T) {
	boardtest.CheckGoroutines(t)
	w := boardtest.NewWire(t, 1)
	b := boardtest.NewBoard(t, w, "peer", 1, boardtest.Options{})
	s, err := StartDHCP(DHCPOptions{IP: b.IP, Router: b.Addr, DNS: []netip.Addr{b.Addr}, NTP: []netip.Addr{b.Addr},
		Domain: "simboard.test", LeaseTime: 10 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	m1 := net.HardwareAddr{2, 0, 0, 0, 0, 1}
	m2 := net.HardwareAddr{2, 0, 0, 0, 0, 2}
	off := s.Reply(dhcpRequest(t, dhcpv4.MessageTypeDiscover, m1))
	if off == nil || off.MessageType() != dhcpv4.MessageTypeOffer || !off.YourIPAddr.Equal(net.IPv4(198, 51, 100, 100)) {
		t.Fatalf("DISCOVER -> %v", off)
	}
	if off.IPAddressLeaseTime(0) != 10*time.Minute || !off.ServerIdentifier().Equal(b.Addr.AsSlice()) ||
		off.DomainName() != "simboard.test" || len(off.NTPServers()) != 1 || len(off.Router()) != 1 {
		t.Errorf("OFFER options: %v", off.Summary())
	}
	ack := s.Reply(dhcpRequest(t, dhcpv4.MessageTypeRequest, m1, dhcpv4.WithOption(dhcpv4.OptRequestedIPAddress(off.YourIPAddr)),
		dhcpv4.WithOption(dhcpv4.OptServerIdentifier(b.Addr.AsSlice()))))
	if ack == nil || ack.MessageType() != dhcpv4.MessageTypeAck {
		t.Fatalf("REQUEST -> %v", ack)
	}
	// Another client asking for m1's address is refused.
	nak := s.Reply(dhcpRequest(t, dhcpv4.MessageTypeRequest, m2, dhcpv4.WithOption(dhcpv4.OptRequestedIPAddress(off.YourIPAddr))))
	if nak == nil || nak.MessageType() != dhcpv4.MessageTypeNak {
		t.Fatalf("REQUEST for a held address -> %v", nak)
	}
	// A REQUEST for another server is not ours to answer.
	if r := s.Reply(dhcpRequest(t, dhcpv4.MessageTypeRequest, m2, dhcpv4.WithOption(dhcpv4.OptServerIdentifier(net.IPv4(198, 51, 100, 9))))); r != nil {
		t.Errorf("REQUEST for another server -> %v", r.MessageType())
	}
	// m2 gets the next address; its DECLINE takes that address out.
	off2 := s.Reply(dhcpRequest(t, dhcpv4.MessageTypeDiscover, m2))
	if !off2.YourIPAddr.Equal(net.IPv4(198, 51, 100, 101)) {
		t.Fatalf("second OFFER %v", off2.YourIPAddr)
	}
	s.Reply(dhcpRequest(t, dhcpv4.MessageTypeDecline, m2, dhcpv4.WithOption(dhcpv4.OptRequestedIPAddress(off2.YourIPAddr))))
	if off3 := s.Reply(dhcpRequest(t, dhcpv4.MessageTypeDiscover, m2)); off3.YourIPAddr.Equal(off2.YourIPAddr) {
		t.Errorf("declined address offered again")
	}
	s.Reply(dhcpRequest(t, dhcpv4.MessageTypeRelease, m1, dhcpv4.WithClientIP(off.YourIPAddr)))
	if _, ok := s.Leases()[m1.String()]; ok {
		t.Errorf("lease kept after RELEASE")
	}
	s.SetFault(DHCPZeroLease)
	if z := s.Reply(dhcpRequest(t, dhcpv4.MessageTypeDiscover, m1)); z.IPAddressLeaseTime(time.Hour) != 0 {
		t.Errorf("zero-lease fault offered %v", z.IPAddressLeaseTime(time.Hour))
	}
	s.SetFault(DHCPSilent)
	if r := s.Reply(dhcpRequest(t, dhcpv4.MessageTypeDiscover, m1)); r != nil {
		t.Errorf("silent server answered")
	}
	st := s.Stats()
	if st.Offers != 4 || st.Acks != 1 || st.Naks != 1 || st.Declines != 1 || st.Releases != 1 {
		t.Errorf("Stats() = %+v", st)
	}
	if err := s.Close(); err != nil {
		t.Errorf("Close() = %v", err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close() = %v", err)
	}
}

func TestStartDHCPValidates(t *testing.T) {
	boardtest.CheckGoroutines(t)
	w := boardtest.NewWire(t, 1)
	b := boardtest.NewBoard(t, w, "peer", 1, boardtest.Options{})
	if _, err := StartDHCP(DHCPOptions{}); !errors.Is(err, nx.ErrPtr) {
		t.Errorf("no IP: %v", err)
	}
	if _, err := StartDHCP(DHCPOptions{IP: b.IP, First: netip.MustParseAddr("10.0.0.1"), Last: netip.MustParseAddr("10.0.0.9")}); !errors.Is(err, nx.ErrIPAddress) {
		t.Errorf("range outside the subnet: %v", err)
	}
}

// FuzzDHCPServerReply fuzzes the server's parse path (dhcpv4.FromBytes, then
// Reply). Properties: no panic; an answer is a BOOTREPLY of type OFFER, ACK
// or NAK for the request's XID and client MAC, from this server; an OFFER or
// ACK with an address gives one inside the range, with a non-zero lease.
func FuzzDHCPServerReply(f *testing.F) {
	mac := net.HardwareAddr{2, 0, 0, 0, 0, 7}
	for _, typ := range []dhcpv4.MessageType{dhcpv4.MessageTypeDiscover, dhcpv4.MessageTypeRequest, dhcpv4.MessageTypeRelease,
		dhcpv4.MessageTypeDecline, dhcpv4.MessageTypeInform} {
		m, _ := dhcpv4.New(dhcpv4.WithHwAddr(mac), dhcpv4.WithMessageType(typ),
			dhcpv4.WithOption(dhcpv4.OptRequestedIPAddress(net.IPv4(198, 51, 100, 120))))
		f.Add(m.ToBytes())
	}
	// No goroutine check here: the fuzzing engine starts its own (os/signal).
	w := boardtest.NewWire(f, 1)
	b := boardtest.NewBoard(f, w, "peer", 1, boardtest.Options{})
	s, err := StartDHCP(DHCPOptions{IP: b.IP})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { _ = s.Close() })
	first, last := netip.MustParseAddr("198.51.100.100"), netip.MustParseAddr("198.51.100.199")
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := dhcpv4.FromBytes(data)
		if err != nil || m.OpCode != dhcpv4.OpcodeBootRequest {
			return
		}
		r := s.Reply(m)
		if r == nil {
			return
		}
		if r.OpCode != dhcpv4.OpcodeBootReply || r.TransactionID != m.TransactionID || r.ClientHWAddr.String() != m.ClientHWAddr.String() {
			t.Fatalf("reply %v does not answer request %v", r.Summary(), m.Summary())
		}
		if !r.ServerIdentifier().Equal(b.Addr.AsSlice()) {
			t.Fatalf("server identifier %v", r.ServerIdentifier())
		}
		switch r.MessageType() {
		case dhcpv4.MessageTypeNak:
		case dhcpv4.MessageTypeOffer, dhcpv4.MessageTypeAck:
			if yi := addrOf(r.YourIPAddr); yi.IsValid() {
				if yi.Less(first) || last.Less(yi) {
					t.Fatalf("gave %v outside the range", yi)
				}
				if r.IPAddressLeaseTime(0) == 0 {
					t.Fatalf("gave a 0 s lease")
				}
			}
		default:
			t.Fatalf("answered with %v", r.MessageType())
		}
	})
}
