package trace

import (
	"bytes"
	"encoding/binary"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"github.com/google/gopacket/pcapgo"
)

// This file builds captures for the tests: TCP conversations with real
// sequence and acknowledgement numbers, serialised with gopacket and
// written with pcapgo.

var (
	t0       = time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC)
	boardMAC = net.HardwareAddr{0x02, 0x00, 0x00, 0x00, 0x00, 0x02}
	hostMAC  = net.HardwareAddr{0x02, 0x00, 0x00, 0x00, 0x00, 0x01}
)

// capPkt is one packet: a network-layer packet and the Ethernet fields that
// carry it, so the same packet can be written under any link type.
type capPkt struct {
	ts       time.Time
	l3       []byte
	etype    layers.EthernetType
	src, dst net.HardwareAddr
	cut      int // bytes of l3 left out of the capture (snap length)
}

type capBuilder struct {
	t    testing.TB
	now  time.Time
	pkts []capPkt
}

func newCapBuilder(t testing.TB) *capBuilder { return &capBuilder{t: t, now: t0} }

// tick advances the clock before the next packet.
func (b *capBuilder) tick() time.Time {
	b.now = b.now.Add(time.Millisecond)
	return b.now
}

func serialize(t testing.TB, ls ...gopacket.SerializableLayer) []byte {
	t.Helper()
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, ls...); err != nil {
		t.Fatalf("SerializeLayers: %v", err)
	}
	return bytes.Clone(buf.Bytes())
}

func (b *capBuilder) arp(op uint16, srcMAC net.HardwareAddr, srcIP string, dstMAC net.HardwareAddr, dstIP string) {
	a := &layers.ARP{AddrType: layers.LinkTypeEthernet, Protocol: layers.EthernetTypeIPv4, HwAddressSize: 6, ProtAddressSize: 4,
		Operation: op, SourceHwAddress: srcMAC, SourceProtAddress: net.ParseIP(srcIP).To4(),
		DstHwAddress: dstMAC, DstProtAddress: net.ParseIP(dstIP).To4()}
	dst := dstMAC
	if op == layers.ARPRequest {
		dst = net.HardwareAddr{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}
		a.DstHwAddress = net.HardwareAddr{0, 0, 0, 0, 0, 0}
	}
	b.pkts = append(b.pkts, capPkt{ts: b.tick(), l3: serialize(b.t, a), etype: layers.EthernetTypeARP, src: srcMAC, dst: dst})
}

func (b *capBuilder) icmpEcho(src, dst string, reply bool) {
	typ := uint8(layers.ICMPv4TypeEchoRequest)
	if reply {
		typ = layers.ICMPv4TypeEchoReply
	}
	ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolICMPv4, SrcIP: net.ParseIP(src).To4(), DstIP: net.ParseIP(dst).To4()}
	ic := &layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(typ, 0), Id: 7, Seq: 1}
	b.pkts = append(b.pkts, capPkt{ts: b.tick(), l3: serialize(b.t, ip, ic, gopacket.Payload("ping")), etype: layers.EthernetTypeIPv4, src: boardMAC, dst: hostMAC})
}

func (b *capBuilder) neighborSolicit() {
	ip := &layers.IPv6{Version: 6, HopLimit: 255, NextHeader: layers.IPProtocolICMPv6,
		SrcIP: net.ParseIP("2001:db8::2"), DstIP: net.ParseIP("ff02::1:ff00:1")}
	ic := &layers.ICMPv6{TypeCode: layers.CreateICMPv6TypeCode(layers.ICMPv6TypeNeighborSolicitation, 0)}
	if err := ic.SetNetworkLayerForChecksum(ip); err != nil {
		b.t.Fatal(err)
	}
	body := append([]byte{0, 0, 0, 0}, net.ParseIP("2001:db8::1")...)
	b.pkts = append(b.pkts, capPkt{ts: b.tick(), l3: serialize(b.t, ip, ic, gopacket.Payload(body)), etype: layers.EthernetTypeIPv6, src: boardMAC, dst: hostMAC})
}

// conn is one TCP connection between the board (client) and the host.
type conn struct {
	b         *capBuilder
	c, s      netip.AddrPort
	seq       [2]uint32 // next sequence number of client [0] and server [1]
	snapLimit int       // when > 0, segments are captured to this many bytes of l3
}

func (b *capBuilder) conn(client, server string, cisn, sisn uint32) *conn {
	return &conn{b: b, c: netip.MustParseAddrPort(client), s: netip.MustParseAddrPort(server), seq: [2]uint32{cisn, sisn}}
}

// frame builds a segment from side (0 client, 1 server) without sending it.
func (cn *conn) frame(side int, seq uint32, payload []byte, syn, ack, fin, rst bool) capPkt {
	src, dst := cn.c, cn.s
	smac, dmac := boardMAC, hostMAC
	if side == 1 {
		src, dst = dst, src
		smac, dmac = dmac, smac
	}
	tcp := &layers.TCP{SrcPort: layers.TCPPort(src.Port()), DstPort: layers.TCPPort(dst.Port()), Seq: seq,
		SYN: syn, ACK: ack, FIN: fin, RST: rst, PSH: len(payload) > 0, Window: 64240}
	if ack {
		tcp.Ack = cn.seq[1-side]
	}
	var ip gopacket.SerializableLayer
	et := layers.EthernetTypeIPv4
	if src.Addr().Is4() {
		ip4 := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolTCP, SrcIP: src.Addr().AsSlice(), DstIP: dst.Addr().AsSlice()}
		tcp.SetNetworkLayerForChecksum(ip4)
		ip = ip4
	} else {
		ip6 := &layers.IPv6{Version: 6, HopLimit: 64, NextHeader: layers.IPProtocolTCP, SrcIP: src.Addr().AsSlice(), DstIP: dst.Addr().AsSlice()}
		tcp.SetNetworkLayerForChecksum(ip6)
		ip, et = ip6, layers.EthernetTypeIPv6
	}
	l3 := serialize(cn.b.t, ip, tcp, gopacket.Payload(payload))
	p := capPkt{l3: l3, etype: et, src: smac, dst: dmac}
	if cn.snapLimit > 0 && len(l3) > cn.snapLimit {
		p.cut = len(l3) - cn.snapLimit
	}
	return p
}

// emit records p at the next tick.
func (cn *conn) emit(p capPkt) {
	p.ts = cn.b.tick()
	cn.b.pkts = append(cn.b.pkts, p)
}

func (cn *conn) handshake() {
	cn.emit(cn.frame(0, cn.seq[0], nil, true, false, false, false))
	cn.seq[0]++
	cn.emit(cn.frame(1, cn.seq[1], nil, true, true, false, false))
	cn.seq[1]++
	cn.emit(cn.frame(0, cn.seq[0], nil, false, true, false, false))
}

// send sends payload from side as one segment and returns it, for
// retransmission.
func (cn *conn) send(side int, payload string) capPkt {
	p := cn.frame(side, cn.seq[side], []byte(payload), false, true, false, false)
	cn.seq[side] += uint32(len(payload))
	cn.emit(p)
	return p
}

// resend sends a copy of an earlier segment again.
func (cn *conn) resend(p capPkt) { cn.emit(p) }

// sendSwapped sends a then b (consecutive in sequence) with b on the wire
// first: an out-of-order pair.
func (cn *conn) sendSwapped(side int, a, b string) {
	pa := cn.frame(side, cn.seq[side], []byte(a), false, true, false, false)
	pb := cn.frame(side, cn.seq[side]+uint32(len(a)), []byte(b), false, true, false, false)
	cn.seq[side] += uint32(len(a) + len(b))
	cn.emit(pb)
	cn.emit(pa)
}

func (cn *conn) ack(side int) {
	cn.emit(cn.frame(side, cn.seq[side], nil, false, true, false, false))
}

func (cn *conn) fin(side int) {
	cn.emit(cn.frame(side, cn.seq[side], nil, false, true, true, false))
	cn.seq[side]++
}

func (cn *conn) rst(side int) {
	cn.emit(cn.frame(side, cn.seq[side], nil, false, false, false, true))
}

// Link-type encapsulations of the builder's packets.
func encapEthernet(p capPkt) []byte {
	h := make([]byte, 14, 14+len(p.l3))
	copy(h[0:6], p.dst)
	copy(h[6:12], p.src)
	binary.BigEndian.PutUint16(h[12:14], uint16(p.etype))
	return append(h, p.l3...)
}

func encapVLAN(p capPkt) []byte {
	h := make([]byte, 18, 18+len(p.l3))
	copy(h[0:6], p.dst)
	copy(h[6:12], p.src)
	binary.BigEndian.PutUint16(h[12:14], uint16(layers.EthernetTypeDot1Q))
	binary.BigEndian.PutUint16(h[14:16], 42) // VLAN 42
	binary.BigEndian.PutUint16(h[16:18], uint16(p.etype))
	return append(h, p.l3...)
}

func encapSLL(p capPkt) []byte {
	h := make([]byte, 16, 16+len(p.l3))
	binary.BigEndian.PutUint16(h[0:2], 4) // sent by us
	binary.BigEndian.PutUint16(h[2:4], 1) // ARPHRD_ETHER
	binary.BigEndian.PutUint16(h[4:6], 6)
	copy(h[6:12], p.src)
	binary.BigEndian.PutUint16(h[14:16], uint16(p.etype))
	return append(h, p.l3...)
}

func encapSLL2(p capPkt) []byte {
	h := make([]byte, 20, 20+len(p.l3))
	binary.BigEndian.PutUint16(h[0:2], uint16(p.etype))
	binary.BigEndian.PutUint32(h[4:8], 3) // interface index
	binary.BigEndian.PutUint16(h[8:10], 1)
	h[10], h[11] = 4, 6
	copy(h[12:18], p.src)
	return append(h, p.l3...)
}

func encapRaw(p capPkt) []byte { return bytes.Clone(p.l3) }

func encapNull(p capPkt) []byte {
	h := make([]byte, 4, 4+len(p.l3))
	fam := uint32(2)
	if p.etype == layers.EthernetTypeIPv6 {
		fam = 24
	}
	binary.LittleEndian.PutUint32(h, fam)
	return append(h, p.l3...)
}

type encap struct {
	name string
	lt   layers.LinkType // as written in the file header (SLL2 needs the raw value)
	raw  uint32
	fn   func(capPkt) []byte
	ipOK bool // carries only IP (no ARP)
}

var ethernetEncap = encap{"ethernet", layers.LinkTypeEthernet, 1, encapEthernet, false}

var encaps = []encap{
	ethernetEncap,
	{"vlan", layers.LinkTypeEthernet, 1, encapVLAN, false},
	{"sll", layers.LinkTypeLinuxSLL, 113, encapSLL, false},
	{"sll2", 0, 276, encapSLL2, false},
	{"raw", layers.LinkTypeRaw, 101, encapRaw, true},
	{"null", layers.LinkTypeNull, 0, encapNull, true},
}

// pcap writes the packets as a classic pcap file with link type e.
func (b *capBuilder) pcap(e encap) []byte {
	b.t.Helper()
	var out bytes.Buffer
	w := pcapgo.NewWriter(&out)
	if err := w.WriteFileHeader(65536, e.lt); err != nil {
		b.t.Fatalf("WriteFileHeader: %v", err)
	}
	// pcapgo keeps link types in a uint8; patch the real value in.
	binary.LittleEndian.PutUint32(out.Bytes()[20:24], e.raw)
	for _, p := range b.pkts {
		if e.ipOK && p.etype != layers.EthernetTypeIPv4 && p.etype != layers.EthernetTypeIPv6 {
			continue
		}
		frame := e.fn(p)
		capd := frame[:len(frame)-p.cut]
		if err := w.WritePacket(gopacket.CaptureInfo{Timestamp: p.ts, CaptureLength: len(capd), Length: len(frame)}, capd); err != nil {
			b.t.Fatalf("WritePacket: %v", err)
		}
	}
	return out.Bytes()
}

// pcapng writes the packets as a pcapng file with one Ethernet interface.
func (b *capBuilder) pcapng() []byte {
	b.t.Helper()
	var out bytes.Buffer
	w, err := pcapgo.NewNgWriter(&out, layers.LinkTypeEthernet)
	if err != nil {
		b.t.Fatalf("NewNgWriter: %v", err)
	}
	for _, p := range b.pkts {
		frame := encapEthernet(p)
		capd := frame[:len(frame)-p.cut]
		if err := w.WritePacket(gopacket.CaptureInfo{Timestamp: p.ts, CaptureLength: len(capd), Length: len(frame)}, capd); err != nil {
			b.t.Fatalf("WritePacket: %v", err)
		}
	}
	if err := w.Flush(); err != nil {
		b.t.Fatalf("Flush: %v", err)
	}
	return out.Bytes()
}
