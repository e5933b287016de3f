package trace

import (
	"bufio"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"github.com/google/gopacket/pcapgo"
)

// maxSnap is the largest packet record accepted (tcpdump's maximum snap
// length). It keeps a damaged length field from allocating gigabytes.
const maxSnap = 262144

// maxNgBlock is the largest pcapng block accepted.
const maxNgBlock = 16 << 20

// Link types (LINKTYPE_* values) the analyzer decodes.
const (
	linkNull     = 0
	linkEthernet = 1
	linkRawAlt   = 12 // LINKTYPE_RAW as some BSDs write it
	linkRaw      = 101
	linkLoop     = 108
	linkSLL      = 113
	linkIPv4     = 228
	linkIPv6     = 229
	linkSLL2     = 276
)

func linkName(lt uint32) string {
	switch lt {
	case linkNull:
		return "BSD loopback"
	case linkEthernet:
		return "Ethernet"
	case linkRaw, linkRawAlt:
		return "raw IP"
	case linkLoop:
		return "OpenBSD loopback"
	case linkSLL:
		return "Linux cooked (SLL)"
	case linkSLL2:
		return "Linux cooked v2 (SLL2)"
	case linkIPv4:
		return "raw IPv4"
	case linkIPv6:
		return "raw IPv6"
	}
	return fmt.Sprintf("link type %d", lt)
}

func linkSupported(lt uint32) bool {
	switch lt {
	case linkNull, linkEthernet, linkRaw, linkRawAlt, linkLoop, linkSLL, linkSLL2, linkIPv4, linkIPv6:
		return true
	}
	return false
}

// errReaderPanic marks a panic inside the pcap readers, turned into an
// error; the fuzz test treats it as a failure.
var errReaderPanic = errors.New("trace: pcap reader panicked on malformed input")

// capture yields the packets of a pcap or pcapng stream.
type capture struct {
	format   string
	linkType uint32
	pcap     *pcapgo.Reader
	ng       *pcapgo.NgReader
	guard    *ngGuard
}

// openCapture reads the file header, choosing the reader by magic number.
// gzip-compressed captures are accepted.
func openCapture(r io.Reader) (c *capture, err error) {
	defer func() {
		if p := recover(); p != nil {
			c, err = nil, fmt.Errorf("%w: %v", errReaderPanic, p)
		}
	}()
	br := bufio.NewReader(r)
	magic, err := br.Peek(4)
	if len(magic) >= 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		zr, zerr := gzip.NewReader(br)
		if zerr != nil {
			return nil, fmt.Errorf("trace: gzip: %w", zerr)
		}
		br = bufio.NewReader(zr)
		magic, err = br.Peek(4)
	}
	if len(magic) == 0 {
		return nil, errors.New("trace: empty input: not a pcap or pcapng capture")
	}
	if err != nil {
		return nil, fmt.Errorf("trace: %d bytes of input: too short for a pcap or pcapng capture", len(magic))
	}
	switch m := binary.LittleEndian.Uint32(magic); m {
	case 0xa1b2c3d4, 0xd4c3b2a1, 0xa1b23c4d, 0x4d3cb2a1:
		hdr, err := br.Peek(24)
		if err != nil {
			return nil, fmt.Errorf("trace: pcap file header cut short (%d of 24 bytes)", len(hdr))
		}
		var bo binary.ByteOrder = binary.LittleEndian
		if m == 0xd4c3b2a1 || m == 0x4d3cb2a1 {
			bo = binary.BigEndian
		}
		lt := bo.Uint32(hdr[20:24]) & 0xffff // the upper bits carry FCS information
		pr, err := pcapgo.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("trace: pcap file header: %v", err)
		}
		if !linkSupported(lt) {
			return nil, fmt.Errorf("trace: pcap link type %d is not supported (want Ethernet, Linux SLL or SLL2, raw IP or loopback)", lt)
		}
		// Tools ignore the header's snap length when reading; so do we,
		// but cap records at the largest snap length any tool writes.
		pr.SetSnaplen(maxSnap)
		return &capture{format: "pcap", linkType: lt, pcap: pr}, nil
	case 0x0a0d0d0a:
		g := &ngGuard{r: br}
		nr, err := pcapgo.NewNgReader(g, pcapgo.NgReaderOptions{WantMixedLinkType: true})
		if err != nil {
			return nil, fmt.Errorf("trace: pcapng section header: %v", err)
		}
		return &capture{format: "pcapng", ng: nr, guard: g}, nil
	default:
		return nil, fmt.Errorf("trace: not a pcap or pcapng capture (starts with % x)", magic)
	}
}

// next returns the next packet and its link type; io.EOF at a clean end.
func (c *capture) next() (data []byte, ci gopacket.CaptureInfo, lt uint32, err error) {
	defer func() {
		if p := recover(); p != nil {
			data, err = nil, fmt.Errorf("%w: %v", errReaderPanic, p)
		}
	}()
	if c.pcap != nil {
		data, ci, err = c.pcap.ReadPacketData()
		return data, ci, c.linkType, err
	}
	data, ci, err = c.ng.ReadPacketData()
	if err != nil {
		return nil, ci, 0, err
	}
	// pcapgo keeps link types in a uint8; recover the real value from
	// the interface blocks the guard saw (Linux SLL2 is 276).
	if len(ci.AncillaryData) > 0 {
		if v, ok := ci.AncillaryData[0].(layers.LinkType); ok {
			lt = c.guard.widen(uint8(v))
		}
	}
	return data, ci, lt, nil
}

// firstLinkName names the link type of the capture's first interface, for
// the report; "" for a pcapng capture without interfaces.
func (c *capture) firstLinkName() string {
	switch {
	case c.guard == nil:
		return linkName(c.linkType)
	case c.guard.haveFirst:
		return linkName(c.guard.firstLT)
	}
	return ""
}

// ngGuard sits between the pcapng bytes and pcapgo.NgReader and passes on
// only well-framed blocks whose lengths agree with their contents, so that
// damaged input gets an error here rather than a huge allocation or a
// division by zero inside the reader.
type ngGuard struct {
	r     io.Reader
	buf   []byte // rest of the current block
	bo    binary.ByteOrder
	err   error
	snap0 uint32 // snap length of the section's first interface
	nIDB  int
	wide  map[uint8]uint32 // link types above 255, by their low byte

	haveFirst bool
	firstLT   uint32
}

func (g *ngGuard) widen(v uint8) uint32 {
	if w, ok := g.wide[v]; ok {
		return w
	}
	return uint32(v)
}

func (g *ngGuard) Read(p []byte) (int, error) {
	for len(g.buf) == 0 {
		if g.err != nil {
			return 0, g.err
		}
		g.err = g.block()
	}
	n := copy(p, g.buf)
	g.buf = g.buf[n:]
	return n, nil
}

// block reads and checks the next block into g.buf.
func (g *ngGuard) block() error {
	var hdr [12]byte
	if _, err := io.ReadFull(g.r, hdr[:8]); err != nil {
		return err // io.EOF at a block boundary is a clean end
	}
	typ := binary.LittleEndian.Uint32(hdr[0:4]) // the SHB type reads the same either way
	have := 8
	if typ == 0x0a0d0d0a {
		if _, err := io.ReadFull(g.r, hdr[8:12]); err != nil {
			return noEOF(err)
		}
		have = 12
		switch {
		case binary.LittleEndian.Uint32(hdr[8:12]) == 0x1a2b3c4d:
			g.bo = binary.LittleEndian
		case binary.BigEndian.Uint32(hdr[8:12]) == 0x1a2b3c4d:
			g.bo = binary.BigEndian
		default:
			return errors.New("pcapng: bad byte-order magic in section header")
		}
		g.nIDB, g.snap0 = 0, 0
	}
	if g.bo == nil {
		return errors.New("pcapng: block before the first section header")
	}
	typ = g.bo.Uint32(hdr[0:4])
	length := g.bo.Uint32(hdr[4:8])
	minLen := uint32(12)
	if typ == 0x0a0d0d0a {
		minLen = 28
	}
	if length < minLen || length%4 != 0 || length > maxNgBlock {
		return fmt.Errorf("pcapng: block type %#x has bad length %d", typ, length)
	}
	blk := make([]byte, length)
	copy(blk, hdr[:have])
	if _, err := io.ReadFull(g.r, blk[have:]); err != nil {
		return noEOF(err)
	}
	if g.bo.Uint32(blk[length-4:]) != length {
		return fmt.Errorf("pcapng: block type %#x: trailing length differs from leading length %d", typ, length)
	}
	body := blk[8 : length-4]
	if err := g.check(typ, body); err != nil {
		return err
	}
	g.buf = blk
	return nil
}

func noEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// check validates the fields of one block body that NgReader trusts.
func (g *ngGuard) check(typ uint32, body []byte) error {
	switch typ {
	case 0x0a0d0d0a: // section header: BOM, version, section length, options
		return g.options(typ, body[16:], nil)
	case 1: // interface description: link type, reserved, snap length, options
		if len(body) < 8 {
			return errors.New("pcapng: interface block too short")
		}
		lt := uint32(g.bo.Uint16(body[0:2]))
		snap := g.bo.Uint32(body[4:8])
		if err := g.options(typ, body[8:], func(code uint16, v []byte) error {
			if code != 9 { // if_tsresol
				return nil
			}
			if len(v) != 1 {
				return errors.New("pcapng: if_tsresol option must be one byte")
			}
			if e := v[0] & 0x7f; v[0]&0x80 != 0 && e > 63 || v[0]&0x80 == 0 && e > 19 {
				return fmt.Errorf("pcapng: timestamp resolution %#x out of range", v[0])
			}
			return nil
		}); err != nil {
			return err
		}
		if g.nIDB == 0 {
			g.snap0 = snap
		}
		g.nIDB++
		if lt > 0xff {
			if g.wide == nil {
				g.wide = make(map[uint8]uint32)
			}
			g.wide[uint8(lt)] = lt
		}
		if !g.haveFirst {
			g.haveFirst, g.firstLT = true, lt
		}
	case 6, 2: // enhanced packet, obsolete packet: 20 bytes of fields, data, options
		if len(body) < 20 {
			return errors.New("pcapng: packet block too short")
		}
		caplen := g.bo.Uint32(body[12:16])
		if uint64(caplen) > uint64(len(body)-20) || caplen > maxSnap {
			return fmt.Errorf("pcapng: packet block says %d captured bytes in a %d-byte block", caplen, len(body)+12)
		}
	case 3: // simple packet: original length, data
		if len(body) < 4 {
			return errors.New("pcapng: simple packet block too short")
		}
		caplen := g.bo.Uint32(body[0:4])
		if g.snap0 != 0 && caplen > g.snap0 {
			caplen = g.snap0
		}
		if uint64(caplen) > uint64(len(body)-4) || caplen > maxSnap {
			return fmt.Errorf("pcapng: simple packet block says %d bytes in a %d-byte block", caplen, len(body)+12)
		}
	case 5: // interface statistics: interface, timestamp, options
		if len(body) < 12 {
			return errors.New("pcapng: statistics block too short")
		}
		return g.options(typ, body[12:], nil)
	}
	return nil
}

// options checks that an options area is well formed, calling fn for each
// option.
func (g *ngGuard) options(typ uint32, b []byte, fn func(code uint16, v []byte) error) error {
	for len(b) >= 4 {
		code, n := g.bo.Uint16(b[0:2]), int(g.bo.Uint16(b[2:4]))
		if code == 0 {
			if n != 0 {
				return fmt.Errorf("pcapng: block type %#x: end-of-options with length %d", typ, n)
			}
			return nil
		}
		padded := (n + 3) &^ 3
		if 4+padded > len(b) {
			return fmt.Errorf("pcapng: block type %#x: option %d overruns its block", typ, code)
		}
		if fn != nil {
			if err := fn(code, b[4:4+n]); err != nil {
				return err
			}
		}
		b = b[4+padded:]
	}
	if len(b) != 0 {
		return fmt.Errorf("pcapng: block type %#x: %d stray bytes after options", typ, len(b))
	}
	return nil
}
