package dhcpc

import (
	"encoding/binary"
	"errors"
	"net"
	"testing"

	"github.com/insomniacslk/dhcp/dhcpv4"
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
