package dhcpc

import (
	"context"
	"encoding/binary"
	"errors"
	"net"
	"net/netip"
	"testing"

	"github.com/insomniacslk/dhcp/dhcpv4"

	"github.com/simboard/simboard/boardtest"
	"github.com/simboard/simboard/nx"
	"github.com/simboard/simboard/packetpool"
)

var fuzzMAC = net.HardwareAddr{0x02, 0, 0, 0, 0, 2}

const fuzzXID = 0x11223344

func seedReply(t dhcpv4.MessageType, mods ...dhcpv4.Modifier) []byte {
	var xid dhcpv4.TransactionID
	binary.BigEndian.PutUint32(xid[:], fuzzXID)
	req, _ := dhcpv4.New(dhcpv4.WithHwAddr(fuzzMAC), dhcpv4.WithTransactionID(xid))
	base := []dhcpv4.Modifier{dhcpv4.WithMessageType(t), dhcpv4.WithYourIP(net.IPv4(198, 51, 100, 100)),
		dhcpv4.WithOption(dhcpv4.OptServerIdentifier(net.IPv4(198, 51, 100, 1))),
		dhcpv4.WithNetmask(net.CIDRMask(24, 32)), dhcpv4.WithLeaseTime(3600),
		dhcpv4.WithRouter(net.IPv4(198, 51, 100, 1)), dhcpv4.WithDNS(net.IPv4(198, 51, 100, 1))}
	r, _ := dhcpv4.NewReplyFromRequest(req, append(base, mods...)...)
	return r.ToBytes()
}

// FuzzParseReply fuzzes the client's parse path (dhcpv4.FromBytes plus the
// client's checks). Properties: no panic; an accepted reply is an OFFER, ACK
// or NAK for our MAC and XID; an accepted OFFER or ACK has a class A/B/C
// yiaddr, a contiguous mask when one is given, and never a 0 s lease; every
// refusal wraps one of the client's statuses.
func FuzzParseReply(f *testing.F) {
	f.Add(seedReply(dhcpv4.MessageTypeOffer))
	f.Add(seedReply(dhcpv4.MessageTypeAck, dhcpv4.WithOption(dhcpv4.OptNTPServers(net.IPv4(198, 51, 100, 1))),
		dhcpv4.WithOption(dhcpv4.OptDomainName("simboard.test"))))
	f.Add(seedReply(dhcpv4.MessageTypeNak))
	f.Add(seedReply(dhcpv4.MessageTypeAck, dhcpv4.WithLeaseTime(0)))
	f.Add(seedReply(dhcpv4.MessageTypeOffer, dhcpv4.WithNetmask(net.IPv4Mask(255, 0, 255, 0))))
	f.Add(seedReply(dhcpv4.MessageTypeOffer, dhcpv4.WithYourIP(net.IPv4(224, 0, 0, 1))))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := parseReply(b, fuzzMAC, fuzzXID)
		if err != nil {
			var s Status
			if !errors.As(err, &s) || s.Name() == "" {
				t.Fatalf("parseReply error %v wraps no DHCP status", err)
			}
			return
		}
		if len(b) <= bootpOptionsOffset {
			t.Fatalf("accepted a %d-byte reply", len(b))
		}
		if binary.BigEndian.Uint32(b[4:8]) != fuzzXID || string(b[28:34]) != string(fuzzMAC) {
			t.Fatalf("accepted a reply for another client")
		}
		switch r.typ {
		case dhcpv4.MessageTypeNak:
			return
		case dhcpv4.MessageTypeOffer, dhcpv4.MessageTypeAck:
		default:
			t.Fatalf("accepted message type %v", r.typ)
		}
		if !classABC(r.yiaddr) {
			t.Fatalf("accepted yiaddr %v", r.yiaddr)
		}
		if r.mask.IsValid() {
			if _, ok := maskBits(r.mask); !ok {
				t.Fatalf("accepted mask %v", r.mask)
			}
		}
		if r.hasT && r.lease == 0 {
			t.Fatalf("accepted a 0 s lease")
		}
		if r.router.IsValid() && !classABC(r.router) {
			t.Fatalf("accepted router %v", r.router)
		}
	})
}

// FuzzProcess feeds any datagram to the client's receive path in each
// state that reads replies (copy into a DHCP pool packet, checks, state
// machine, the REQUEST it may send). Properties: no panic, no packet kept
// from either pool, and the state stays a NetX state.
func FuzzProcess(f *testing.F) {
	f.Add(seedReply(dhcpv4.MessageTypeOffer), uint8(StateSelecting))
	f.Add(seedReply(dhcpv4.MessageTypeAck), uint8(StateRequesting))
	f.Add(seedReply(dhcpv4.MessageTypeNak), uint8(StateRenewing))
	f.Add(seedReply(dhcpv4.MessageTypeAck, dhcpv4.WithLeaseTime(0)), uint8(StateRebinding))
	f.Add(make([]byte, 2000), uint8(StateSelecting))
	w := boardtest.NewWire(f, 1)
	b := boardtest.NewBoard(f, w, "board", 2, boardtest.Options{})
	f.Fuzz(func(t *testing.T, data []byte, st uint8) {
		c, err := New(Options{IP: b.IP, Rand: fixedRand})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		// Replies are addressed to this board and transaction.
		if len(data) >= 34 {
			data = append([]byte(nil), data...)
			binary.BigEndian.PutUint32(data[4:8], c.rec.xid)
			copy(data[28:34], b.Driver.MAC())
		}
		states := []State{StateSelecting, StateRequesting, StateRenewing, StateRebinding, StateBound}
		c.mu.Lock()
		c.rec.state = states[int(st)%len(states)]
		c.mu.Unlock()
		pkt, err := b.Pool.Allocate(context.Background(), packetpool.UDPPacket, nx.NoWait)
		if err != nil {
			t.Fatal(err)
		}
		if len(data) > 0 {
			if err := pkt.Append(context.Background(), data, b.Pool, nx.NoWait); err != nil {
				_ = pkt.Release()
				return
			}
		}
		c.mu.Lock()
		c.processLocked(pkt)
		s := c.rec.state
		c.mu.Unlock()
		if s > StateAddressProbing {
			t.Fatalf("state %v", s)
		}
		for _, p := range []*packetpool.Pool{c.Pool(), b.Pool} {
			if in := p.Info(); in.Free != in.Total || in.InvalidReleases != 0 {
				t.Fatalf("pool %s: %d of %d free, %d invalid releases", p.Name(), in.Free, in.Total, in.InvalidReleases)
			}
		}
		// Leave the board as it was for the next input.
		_ = b.IP.InterfaceAddressSet(netip.MustParsePrefix("198.51.100.2/24"))
		_ = b.IP.GatewayAddressClear()
	})
}
