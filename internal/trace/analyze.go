package trace

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"

	"github.com/simboard/simboard/internal/redact"
)

// Analyze reads a pcap or pcapng capture (optionally gzip-compressed) from
// r and reports its TCP flows, ARP and ICMP counts, and the SMTP and POP3
// dialogues it can reassemble. Link types: Ethernet, Linux cooked (SLL and
// SLL2), raw IP and BSD loopback.
//
// It blocks until r is exhausted and does not close r. When the input is
// not a capture (or its file header is damaged) it returns nil and an
// error. When the capture is cut short or damaged later it returns the
// report of the packets before that point together with an error wrapping
// ErrTruncated or ErrCorrupt. It never panics on malformed input, keeps no
// state between calls and is safe for concurrent use.
func Analyze(r io.Reader, opts Options) (*Report, error) {
	a, err := analyze(r, opts)
	if a == nil {
		return nil, err
	}
	return a.rep, err
}

// analyze is Analyze returning the analyzer, for tests that look at its
// state (nil when the input is not a capture).
func analyze(r io.Reader, opts Options) (*analyzer, error) {
	c, err := openCapture(r)
	if err != nil {
		return nil, err
	}
	a := newAnalyzer(opts, c.format)
	var rerr error
	for {
		data, ci, lt, err := c.next()
		if err == io.EOF {
			break
		}
		if err != nil {
			n := a.rep.Packets.Total
			switch {
			case errors.Is(err, io.ErrUnexpectedEOF):
				rerr = fmt.Errorf("trace: after %d packets: %w", n, ErrTruncated)
			case errors.Is(err, errReaderPanic):
				rerr = fmt.Errorf("trace: after %d packets: %w: %w", n, ErrCorrupt, err)
			default:
				rerr = fmt.Errorf("trace: after %d packets: %w: %v", n, ErrCorrupt, err)
			}
			break
		}
		a.packet(data, ci, lt)
	}
	a.rep.LinkType = c.firstLinkName()
	a.finish()
	return a, rerr
}

// flowKey is a 4-tuple with the lower endpoint first.
type flowKey struct{ a, b netip.AddrPort }

func makeKey(x, y netip.AddrPort) flowKey {
	if c := x.Addr().Compare(y.Addr()); c > 0 || c == 0 && x.Port() > y.Port() {
		x, y = y, x
	}
	return flowKey{x, y}
}

// analyzer holds the decoding state of one Analyze call.
type analyzer struct {
	rep       *Report
	ports     map[uint16]Protocol
	maxEvents int
	flows     map[flowKey]*flowState
	all       []*flowState
	held      heldBudget
	events    eventBudget

	eth     layers.Ethernet
	sll     layers.LinuxSLL
	lo      layers.Loopback
	dot1q   layers.Dot1Q
	ip4     layers.IPv4
	ip6     layers.IPv6
	ext     layers.IPv6ExtensionSkipper
	tcp     layers.TCP
	udp     layers.UDP
	arp     layers.ARP
	icmp4   layers.ICMPv4
	icmp6   layers.ICMPv6
	payload gopacket.Payload
	parsers map[gopacket.LayerType]*gopacket.DecodingLayerParser
	decoded []gopacket.LayerType
}

func newAnalyzer(opts Options, format string) *analyzer {
	a := &analyzer{
		rep:       &Report{Format: format, Flows: []*Flow{}},
		ports:     opts.Ports,
		maxEvents: opts.MaxEvents,
		flows:     make(map[flowKey]*flowState),
		parsers:   make(map[gopacket.LayerType]*gopacket.DecodingLayerParser),
	}
	if a.ports == nil {
		a.ports = DefaultPorts()
	}
	if a.maxEvents == 0 {
		a.maxEvents = DefaultMaxEvents
	}
	a.held = heldBudget{limit: opts.MaxHeldBytes, holders: make(map[*halfStream]struct{})}
	a.events = eventBudget{limit: opts.MaxEventBytes}
	if a.events.limit <= 0 {
		a.events.limit = DefaultMaxEventBytes
	}
	if a.held.limit <= 0 {
		a.held.limit = DefaultMaxHeldBytes
	}
	return a
}

// heldBudget is the one cap on the payload bytes held for reassembly over
// all flows (Options.MaxHeldBytes).
type heldBudget struct {
	limit   int64
	held    int64                    // sum of pendBuf over holders
	peak    int64                    // the most ever held (for tests)
	holders map[*halfStream]struct{} // the streams holding bytes now
	rounds  int                      // times the cap was reached
	streams int                      // streams whose holes were given up
	flows   map[int]bool             // IDs of their flows
}

// eventBudget is the cap on the memory of all flows' events
// (Options.MaxEventBytes).
type eventBudget struct {
	limit   int64
	used    int64
	dropped int          // events not kept
	flows   map[int]bool // IDs of the flows that lost events
}

// eventOverhead estimates an event's memory besides its strings: the
// Event struct, its Lines slice and string headers.
const eventOverhead = 256

func eventSize(e *Event) int64 {
	n := eventOverhead + len(e.Verb) + len(e.Text) + len(e.Note)
	for _, l := range e.Lines {
		n += 16 + len(l)
	}
	return int64(n)
}

// take reserves room for e in flow id; false when the cap is reached.
func (b *eventBudget) take(e *Event, id int) bool {
	n := eventSize(e)
	if b.used+n > b.limit {
		b.dropped++
		if b.flows == nil {
			b.flows = make(map[int]bool)
		}
		b.flows[id] = true
		return false
	}
	b.used += n
	return true
}

func (b *eventBudget) note() string {
	if b.dropped == 0 {
		return ""
	}
	return fmt.Sprintf("event memory cap reached: the events of all flows took about %d bytes, so %d later events of %d flows were not kept",
		b.limit, b.dropped, len(b.flows))
}

// noteCap marks a gap given up at the cap.
const noteCap = "given up: the reassembly cap (Options.MaxHeldBytes) was reached"

// account records that h now holds pendBuf bytes instead of before, and
// gives up holes when the sum is past the cap.
func (b *heldBudget) account(h *halfStream, before int, ts time.Time) {
	b.held += int64(h.r.pendBuf - before)
	if h.r.pendBuf > 0 {
		b.holders[h] = struct{}{}
	} else {
		delete(b.holders, h)
	}
	b.peak = max(b.peak, b.held)
	if b.held <= b.limit {
		return
	}
	b.rounds++
	hs := make([]*halfStream, 0, len(b.holders))
	for x := range b.holders {
		hs = append(hs, x)
	}
	slices.SortFunc(hs, func(x, y *halfStream) int {
		if c := y.r.pendBuf - x.r.pendBuf; c != 0 {
			return c
		}
		return x.fs.f.ID - y.fs.f.ID // deterministic order
	})
	for _, x := range hs {
		if b.held <= b.limit/2 {
			break
		}
		b.held -= int64(x.r.pendBuf)
		delete(b.holders, x)
		b.streams++
		if b.flows == nil {
			b.flows = make(map[int]bool)
		}
		b.flows[x.fs.f.ID] = true
		x.fs.gapNote = noteCap
		x.r.flush(ts, x)
		x.fs.gapNote = ""
	}
}

// note describes the cap being reached, "" when it was not.
func (b *heldBudget) note() string {
	if b.rounds == 0 {
		return ""
	}
	ids := make([]int, 0, len(b.flows))
	for id := range b.flows {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	const show = 10
	var list strings.Builder
	for i, id := range ids[:min(len(ids), show)] {
		if i > 0 {
			list.WriteString(", ")
		}
		list.WriteString(strconv.Itoa(id))
	}
	if len(ids) > show {
		fmt.Fprintf(&list, " and %d more", len(ids)-show)
	}
	return fmt.Sprintf("reassembly cap reached %d times: more than %d bytes were held waiting for segments missing from the capture, "+
		"so %d streams gave up their holes as missing bytes (flows %s); raise Options.MaxHeldBytes to wait longer",
		b.rounds, b.limit, b.streams, list.String())
}

// parser returns the decoding parser starting at layer first.
func (a *analyzer) parser(first gopacket.LayerType) *gopacket.DecodingLayerParser {
	p := a.parsers[first]
	if p == nil {
		p = gopacket.NewDecodingLayerParser(first, &a.eth, &a.sll, &a.lo, &a.dot1q, &a.ip4, &a.ip6, &a.ext,
			&a.tcp, &a.udp, &a.arp, &a.icmp4, &a.icmp6, &a.payload)
		p.IgnoreUnsupported = true
		a.parsers[first] = p
	}
	return p
}

// firstLayer picks the first layer of a packet of link type lt, stripping
// the headers gopacket cannot decode itself (Linux SLL2).
func firstLayer(lt uint32, data []byte) (gopacket.LayerType, []byte, bool) {
	switch lt {
	case linkEthernet:
		return layers.LayerTypeEthernet, data, true
	case linkSLL:
		return layers.LayerTypeLinuxSLL, data, true
	case linkNull, linkLoop:
		return layers.LayerTypeLoopback, data, true
	case linkSLL2:
		if len(data) < 20 {
			return 0, nil, false
		}
		et := layers.EthernetType(binary.BigEndian.Uint16(data[0:2]))
		return et.LayerType(), data[20:], true
	case linkRaw, linkRawAlt, linkIPv4, linkIPv6:
		if len(data) == 0 {
			return 0, nil, false
		}
		switch data[0] >> 4 {
		case 4:
			return layers.LayerTypeIPv4, data, true
		case 6:
			return layers.LayerTypeIPv6, data, true
		}
		return 0, nil, false
	}
	return gopacket.LayerTypeZero, data, true
}

// packet decodes one captured packet and feeds TCP segments to their flow.
func (a *analyzer) packet(data []byte, ci gopacket.CaptureInfo, lt uint32) {
	ts := clampTime(ci.Timestamp)
	rep := a.rep
	if rep.Packets.Total == 0 {
		rep.Start, rep.End = ts, ts
	} else if ts.After(rep.End) {
		rep.End = ts
	}
	rep.Packets.Total++
	if ci.CaptureLength < ci.Length {
		rep.Packets.Truncated++
	}
	if !linkSupported(lt) {
		rep.Packets.Other++
		return
	}
	first, data, ok := firstLayer(lt, data)
	if !ok {
		rep.Packets.Malformed++
		return
	}
	if first == gopacket.LayerTypeZero || first == gopacket.LayerTypePayload {
		rep.Packets.Other++
		return
	}
	p := a.parser(first)
	a.decoded = a.decoded[:0]
	err := p.DecodeLayers(data, &a.decoded)

	var lastIP gopacket.LayerType
	var has struct{ tcp, udp, arp, icmp4, icmp6, frag bool }
	for _, t := range a.decoded {
		switch t {
		case layers.LayerTypeIPv4:
			lastIP = t
			if a.ip4.Flags&layers.IPv4MoreFragments != 0 || a.ip4.FragOffset != 0 {
				has.frag = true
			}
		case layers.LayerTypeIPv6:
			lastIP = t
		case layers.LayerTypeIPv6Fragment:
			has.frag = true
		case layers.LayerTypeTCP:
			has.tcp = true
		case layers.LayerTypeUDP:
			has.udp = true
		case layers.LayerTypeARP:
			has.arp = true
		case layers.LayerTypeICMPv4:
			has.icmp4 = true
		case layers.LayerTypeICMPv6:
			has.icmp6 = true
		}
	}
	switch {
	case has.frag:
		rep.Packets.Fragments++
	case has.tcp && err == nil:
		rep.Packets.TCP++
		a.segment(ts, lastIP, p.Truncated)
	case has.udp && err == nil:
		rep.Packets.UDP++
	case has.arp:
		rep.Packets.ARP++
	case has.icmp4:
		rep.Packets.ICMPv4++
	case has.icmp6:
		rep.Packets.ICMPv6++
	case err != nil:
		rep.Packets.Malformed++
	default:
		rep.Packets.Other++
	}
}

var (
	minTime = time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC)
	maxTime = time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC)
)

// clampTime keeps a damaged timestamp within the years RFC 3339 (and so
// the JSON report) can express.
func clampTime(t time.Time) time.Time {
	switch {
	case t.Before(minTime):
		return minTime
	case t.After(maxTime):
		return maxTime
	}
	return t
}

// segment handles the TCP segment just decoded.
func (a *analyzer) segment(ts time.Time, ipType gopacket.LayerType, truncated bool) {
	var src, dst netip.Addr
	missing := 0
	tcp := &a.tcp
	switch ipType {
	case layers.LayerTypeIPv4:
		src, _ = netip.AddrFromSlice(a.ip4.SrcIP)
		dst, _ = netip.AddrFromSlice(a.ip4.DstIP)
		if truncated {
			missing = int(a.ip4.Length) - int(a.ip4.IHL)*4 - len(a.ip4.Payload)
		}
	case layers.LayerTypeIPv6:
		src, _ = netip.AddrFromSlice(a.ip6.SrcIP)
		dst, _ = netip.AddrFromSlice(a.ip6.DstIP)
		if truncated && a.ip6.Length != 0 {
			hbh := 0
			if a.ip6.HopByHop != nil {
				hbh = a.ip6.HopByHop.ActualLength
			}
			missing = int(a.ip6.Length) - hbh - len(a.ip6.Payload)
		}
	default:
		a.rep.Packets.TCP--
		a.rep.Packets.Malformed++
		return
	}
	missing = max(0, min(missing, 65535))
	s := netip.AddrPortFrom(src.Unmap(), uint16(tcp.SrcPort))
	d := netip.AddrPortFrom(dst.Unmap(), uint16(tcp.DstPort))
	key := makeKey(s, d)
	fs := a.flows[key]
	if fs != nil && tcp.SYN && !tcp.ACK && fs.reused(s, tcp.Seq) {
		fs = nil
	}
	if fs == nil {
		fs = a.newFlow(s, d, tcp, ts)
		a.flows[key] = fs
	}
	fs.segment(s, tcp, missing, ts)
}

// newFlow starts a flow, deciding which end is the client.
func (a *analyzer) newFlow(s, d netip.AddrPort, tcp *layers.TCP, ts time.Time) *flowState {
	f := &Flow{ID: len(a.all) + 1, First: ts, Last: ts, Events: []Event{}}
	client, server, roles := s, d, "guess"
	switch {
	case tcp.SYN && !tcp.ACK:
		roles = "handshake"
	case tcp.SYN && tcp.ACK:
		client, server, roles = d, s, "handshake"
	case a.ports[d.Port()] != ProtoNone:
		roles = "port"
	case a.ports[s.Port()] != ProtoNone:
		client, server, roles = d, s, "port"
	case s.Port() < d.Port():
		client, server = d, s
	}
	f.Client, f.Server, f.Roles = client, server, roles
	fs := &flowState{f: f, maxEvents: a.maxEvents, held: &a.held, events: &a.events}
	fs.half[0] = &halfStream{fs: fs, side: Client}
	fs.half[1] = &halfStream{fs: fs, side: Server}
	if p := a.ports[server.Port()]; p != ProtoNone {
		fs.setProtocol(p, "port")
	}
	a.all = append(a.all, fs)
	a.rep.Flows = append(a.rep.Flows, f)
	return fs
}

// finish flushes every flow and fills in the derived fields.
func (a *analyzer) finish() {
	for _, n := range []string{a.held.note(), a.events.note()} {
		if n != "" {
			a.rep.Notes = append(a.rep.Notes, n)
		}
	}
	for _, fs := range a.all {
		fs.finish()
		f := fs.f
		for i := range f.Events {
			f.Events[i].Rel = Seconds(f.Events[i].Time.Sub(a.rep.Start).Seconds())
		}
		t := &a.rep.TCP
		t.Flows++
		for _, st := range []*StreamStats{&f.ClientToServer, &f.ServerToClient} {
			t.Segments += st.Segments
			t.Bytes += st.Bytes
			t.Retransmissions += st.Retransmissions
			t.OutOfOrder += st.OutOfOrder
			t.Resets += st.Resets
			t.MissingBytes += st.MissingBytes
		}
	}
}

// flowState is the analyzer's state for one Flow.
type flowState struct {
	f         *Flow
	half      [2]*halfStream // [0] sent by the client, [1] by the server
	app       dialogue       // nil until the protocol is known
	appTried  bool           // content detection has had its chance
	maxEvents int
	held      *heldBudget     // the analyzer's cap on bytes held for reassembly
	events    *eventBudget    // the analyzer's cap on event memory; nil = none (dialogue tests)
	secrets   redact.Scrubber // credentials seen in the flow, kept out of every later event
	gapNote   string          // note for gap events while a cap gives up holes
	hiddenRun int             // 1 + index of the event counting a run of hidden client lines; 0 = none
}

// halfStream is one direction of a flow.
type halfStream struct {
	fs     *flowState
	side   Side // who sends on this half
	stats  StreamStats
	r      reassembler
	isn    uint32
	hasISN bool
}

// reused reports whether a SYN from s with sequence number seq starts a new
// connection on this 4-tuple rather than repeating the old one's SYN.
func (fs *flowState) reused(s netip.AddrPort, seq uint32) bool {
	h := fs.halfFrom(s)
	closed := fs.f.FIN || fs.f.RST
	return closed && (!h.hasISN || h.isn != seq)
}

func (fs *flowState) halfFrom(src netip.AddrPort) *halfStream {
	if src == fs.f.Client {
		return fs.half[0]
	}
	return fs.half[1]
}

func (fs *flowState) segment(src netip.AddrPort, tcp *layers.TCP, missing int, ts time.Time) {
	f := fs.f
	if ts.After(f.Last) {
		f.Last = ts
	}
	h := fs.halfFrom(src)
	st := &h.stats
	st.Segments++
	st.Bytes += int64(len(tcp.Payload))
	seq := tcp.Seq
	if tcp.SYN {
		st.SYN, f.SYN = true, true
		if !h.hasISN {
			h.isn, h.hasISN = seq, true
		}
		seq++
	}
	if tcp.RST {
		st.Resets++
		f.RST = true
	}
	if tcp.FIN {
		st.FIN, f.FIN = true, true
	}
	if tcp.RST && len(tcp.Payload) == 0 {
		// A reset's sequence number need not be in the stream; do not
		// let it start one.
		return
	}
	if !h.r.started {
		h.r.start(seq)
	}
	before := h.r.pendBuf
	class := h.r.add(seq, tcp.Payload, missing, ts, h)
	switch class {
	case segRetransmit:
		st.Retransmissions++
	case segOutOfOrder:
		st.OutOfOrder++
	}
	if h.r.pendBuf != before {
		fs.held.account(h, before, ts)
	}
}

// data receives the half's next in-order bytes (sink).
func (h *halfStream) data(b []byte, ts time.Time) {
	h.stats.StreamBytes += int64(len(b))
	fs := h.fs
	if fs.app == nil && !fs.appTried {
		fs.appTried = true
		fs.detect(h, b)
	}
	if fs.app != nil {
		fs.app.data(h.side, b, ts)
	}
}

// gap receives a hole in the half's stream (sink).
func (h *halfStream) gap(n int64, ts time.Time) {
	h.stats.MissingBytes += n
	if h.fs.app != nil {
		h.fs.app.gap(h.side, n, ts)
	}
}

// detect recognises SMTP or POP3 from the first application bytes of a
// flow on an unlisted port: a greeting from the server. When the roles were
// only guessed and the greeting came from the supposed client, the roles
// are swapped.
func (fs *flowState) detect(h *halfStream, b []byte) {
	var p Protocol
	switch {
	case hasPrefix(b, "220 ") || hasPrefix(b, "220-"):
		p = ProtoSMTP
	case hasPrefix(b, "+OK"):
		p = ProtoPOP3
	default:
		return
	}
	f := fs.f
	if h.side == Client {
		if f.Roles == "handshake" {
			return
		}
		f.Client, f.Server = f.Server, f.Client
		fs.half[0], fs.half[1] = fs.half[1], fs.half[0]
		fs.half[0].side, fs.half[1].side = Client, Server
	}
	if p == ProtoSMTP && f.Server.Port() == 21 {
		return // an FTP greeting
	}
	if f.Roles == "guess" || h.side == Client {
		f.Roles = "content"
	}
	fs.setProtocol(p, "content")
}

func hasPrefix(b []byte, s string) bool { return len(b) >= len(s) && string(b[:len(s)]) == s }

func (fs *flowState) setProtocol(p Protocol, by string) {
	fs.f.Protocol, fs.f.DetectedBy = p, by
	switch p {
	case ProtoSMTP:
		fs.app = newSMTP(fs)
	case ProtoPOP3:
		fs.app = newPOP3(fs)
	case ProtoSMTPS, ProtoPOP3S:
		fs.app = newTLSOnly(fs)
	}
}

// emit appends an event unless the flow is at its limit; it returns the
// event's index, or -1 when it was dropped.
func (fs *flowState) emit(e Event) int {
	f := fs.f
	if fs.maxEvents >= 0 && len(f.Events) >= fs.maxEvents {
		f.EventsDropped++
		return -1
	}
	if fs.secrets.Len() > 0 {
		scrubEvent(&e, func(s string) (string, bool) { return fs.secrets.Scrub(s, redacted) })
	}
	if fs.events != nil && !fs.events.take(&e, f.ID) {
		f.EventsDropped++
		f.capDropped++
		return -1
	}
	f.Events = append(f.Events, e)
	return len(f.Events) - 1
}

func (fs *flowState) finish() {
	f := fs.f
	for _, h := range fs.half {
		h.r.flush(f.Last, h)
	}
	if fs.app != nil {
		fs.app.end(f.Last)
	}
	f.ClientToServer, f.ServerToClient = fs.half[0].stats, fs.half[1].stats
	// Multi-line replies are emitted when complete but stamped with their
	// first line; put everything in time order.
	slices.SortStableFunc(f.Events, func(x, y Event) int { return x.Time.Compare(y.Time) })
}
