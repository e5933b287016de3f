package netstack

import (
	"context"
	"encoding/binary"
	"sync"
	"sync/atomic"

	"gvisor.dev/gvisor/pkg/buffer"
	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/header"
	"gvisor.dev/gvisor/pkg/tcpip/stack"

	"github.com/simboard/simboard/driver"
	"github.com/simboard/simboard/packetpool"
)

// frameQueueDepth is how many outbound frames wait between gVisor and the
// driver. When it is full, gVisor's writer blocks (back-pressure) instead of
// the frame being dropped: a silent drop here costs 200 ms RTO storms with
// SACK+RACK (reference/anchors.md §7).
const frameQueueDepth = 512

// linkEP is the inner gVisor link endpoint: it carries whole Ethernet frames
// (the ethernet.Endpoint wrapped around it adds and strips the 14-byte
// header). Outbound frames are flattened into a ring of reusable buffers and
// written to the driver by one tx goroutine; inbound frames arrive from the
// driver as pool packets on one rx goroutine, are copied into a gVisor
// buffer, and the packet is released.
//
// Lock order: txMu, then qmu; dispatcher uses its own RWMutex.
type linkEP struct {
	drv *driver.Driver
	mtu uint32 // frame MTU: IP MTU + 14
	mac tcpip.LinkAddress

	dmu        sync.RWMutex
	dispatcher stack.NetworkDispatcher

	txMu     sync.Mutex
	txCond   *sync.Cond // signalled on enqueue, dequeue and close
	txRing   [][]byte   // frameQueueDepth buffers, each cap maxFrame-ish
	txLen    []int
	txHead   int
	txCount  int
	txClosed bool

	acks *ackTracker

	// seq is set when the IP's clock sequences a simulation
	// (nx.Sequencer): WritePackets then hands each frame to the driver in
	// the writer's own goroutine (no ring, no tx goroutine), so frames
	// leave in the order gVisor wrote them and nothing runs beside the
	// writer. seqBuf is the flattening buffer then (guarded by txMu).
	seq    bool
	seqBuf []byte
	post   func(func()) // IP.post

	// txBlocked counts writes that waited for ring space (back-pressure).
	// Frame and byte counts are the driver's (driver.Stats), not kept twice.
	txBlocked atomic.Uint64

	// quiet names the connections being ended without a RST (see
	// quietAbort); muting is its size, so the hot path tests one atomic.
	muting atomic.Int32
	qmu    sync.Mutex
	quiet  map[flowKey]int
}

var _ stack.LinkEndpoint = (*linkEP)(nil)

func newLinkEP(drv *driver.Driver, acks *ackTracker) *linkEP {
	mac := drv.MAC()
	e := &linkEP{
		drv:  drv,
		mtu:  uint32(drv.MTU() + header.EthernetMinimumSize),
		mac:  tcpip.LinkAddress(string(mac)),
		acks: acks,
	}
	e.txCond = sync.NewCond(&e.txMu)
	e.txRing = make([][]byte, frameQueueDepth)
	e.txLen = make([]int, frameQueueDepth)
	return e
}

func (e *linkEP) MTU() uint32                                  { return e.mtu }
func (e *linkEP) SetMTU(mtu uint32)                            {}
func (e *linkEP) MaxHeaderLength() uint16                      { return 0 }
func (e *linkEP) LinkAddress() tcpip.LinkAddress               { return e.mac }
func (e *linkEP) SetLinkAddress(tcpip.LinkAddress)             {}
func (e *linkEP) Capabilities() stack.LinkEndpointCapabilities { return 0 }
func (e *linkEP) Wait()                                        {}
func (e *linkEP) ARPHardwareType() header.ARPHardwareType      { return header.ARPHardwareNone }
func (e *linkEP) AddHeader(*stack.PacketBuffer)                {}
func (e *linkEP) ParseHeader(*stack.PacketBuffer) bool         { return true }
func (e *linkEP) SetOnCloseAction(func())                      {}
func (e *linkEP) Close()                                       { e.closeTx() }

func (e *linkEP) Attach(d stack.NetworkDispatcher) {
	e.dmu.Lock()
	e.dispatcher = d
	e.dmu.Unlock()
}

func (e *linkEP) IsAttached() bool {
	e.dmu.RLock()
	defer e.dmu.RUnlock()
	return e.dispatcher != nil
}

// WritePackets flattens each packet into the next free ring slot, blocking
// while the ring is full. It never drops a frame silently: after Close it
// reports ErrClosedForSend.
func (e *linkEP) WritePackets(pkts stack.PacketBufferList) (int, tcpip.Error) {
	if e.seq {
		return e.writeSeq(pkts)
	}
	n := 0
	for _, pkt := range pkts.AsSlice() {
		e.txMu.Lock()
		if e.txCount == len(e.txRing) && !e.txClosed {
			e.txBlocked.Add(1)
		}
		for e.txCount == len(e.txRing) && !e.txClosed {
			e.txCond.Wait()
		}
		if e.txClosed {
			e.txMu.Unlock()
			if n == 0 {
				return 0, &tcpip.ErrClosedForSend{}
			}
			return n, nil
		}
		slot := (e.txHead + e.txCount) % len(e.txRing)
		size := pkt.Size()
		buf := e.txRing[slot]
		if cap(buf) < size {
			buf = make([]byte, size, max(size, 1514))
		}
		buf = buf[:size]
		off := 0
		for _, s := range pkt.AsSlices() {
			off += copy(buf[off:], s)
		}
		e.txRing[slot] = buf
		if e.muting.Load() > 0 && e.muted(buf) {
			e.txMu.Unlock()
			n++ // consumed on purpose: a quiet end sends nothing
			continue
		}
		e.txLen[slot] = size
		e.txCount++
		e.txCond.Broadcast()
		e.txMu.Unlock()
		n++
	}
	return n, nil
}

// writeSeq is WritePackets on a sequencing clock: each frame goes to the
// driver at once, in the caller's goroutine, in order. The driver copies
// it (the Wire applies its impairments and sets a timer for its delivery),
// so the writer never blocks. After Close it reports ErrClosedForSend.
func (e *linkEP) writeSeq(pkts stack.PacketBufferList) (int, tcpip.Error) {
	e.txMu.Lock()
	defer e.txMu.Unlock()
	n := 0
	for _, pkt := range pkts.AsSlice() {
		if e.txClosed {
			if n == 0 {
				return 0, &tcpip.ErrClosedForSend{}
			}
			return n, nil
		}
		size := pkt.Size()
		if cap(e.seqBuf) < size {
			e.seqBuf = make([]byte, max(size, 1514))
		}
		buf := e.seqBuf[:size]
		off := 0
		for _, s := range pkt.AsSlices() {
			off += copy(buf[off:], s)
		}
		n++
		if e.muting.Load() > 0 && e.muted(buf) {
			continue // consumed on purpose: a quiet end sends nothing
		}
		e.acks.outbound(buf, e.post)
		// A failed write is counted by the driver (Stats.Errors); TCP
		// retransmits what was lost.
		_ = e.drv.SendFrame(buf)
	}
	return n, nil
}

// quietAbort ends ep, the connection key names, with gVisor's Abort but
// drops the RST that Abort sends: NetX ends TIMED_WAIT at unbind and at
// nx_ip_delete without a segment (_nx_tcp_socket_block_cleanup), so a
// completed FIN exchange is never followed by a RST. Abort writes the RST
// synchronously on the caller's goroutine (the route to the peer is
// resolved in TIME_WAIT), so the key is muted only for the call.
func (e *linkEP) quietAbort(key flowKey, ep tcpip.Endpoint) {
	e.qmu.Lock()
	if e.quiet == nil {
		e.quiet = make(map[flowKey]int)
	}
	e.quiet[key]++
	e.muting.Add(1)
	e.qmu.Unlock()
	ep.Abort()
	e.qmu.Lock()
	if e.quiet[key]--; e.quiet[key] <= 0 {
		delete(e.quiet, key)
	}
	e.muting.Add(-1)
	e.qmu.Unlock()
}

// muted reports whether frame is a RST of a connection being ended quietly.
func (e *linkEP) muted(frame []byte) bool {
	t, k, _, ok := parseTCP(frame)
	if !ok || t.Flags()&header.TCPFlagRst == 0 {
		return false
	}
	e.qmu.Lock()
	defer e.qmu.Unlock()
	return e.quiet[k] > 0
}

func (e *linkEP) closeTx() {
	e.txMu.Lock()
	e.txClosed = true
	e.txCond.Broadcast()
	e.txMu.Unlock()
}

// txLoop moves frames from the ring to the driver until the ring is closed
// and drained. It is owned by IP and joined in IP.Close.
func (e *linkEP) txLoop() {
	for {
		e.txMu.Lock()
		for e.txCount == 0 && !e.txClosed {
			e.txCond.Wait()
		}
		if e.txCount == 0 && e.txClosed {
			e.txMu.Unlock()
			return
		}
		slot := e.txHead
		frame := e.txRing[slot][:e.txLen[slot]]
		e.txMu.Unlock()

		e.acks.outbound(frame, nil)
		// A failed write is counted by the driver (Stats.Errors); TCP
		// retransmits what was lost.
		_ = e.drv.SendFrame(frame)

		e.txMu.Lock()
		e.txHead = (e.txHead + 1) % len(e.txRing)
		e.txCount--
		e.txCond.Broadcast()
		e.txMu.Unlock()
	}
}

// rxDeferDepth is the depth of the deferred receive queue between the
// driver's receive loop and the IP thread.
const rxDeferDepth = 256

// rxLoop mirrors a MAC driver's receive interrupt: it takes each frame from
// the driver (already copied into a packet of the driver's receive pool) and
// queues it for the IP thread, as _nx_ip_packet_deferred_receive does. The
// packet stays allocated while it waits, so a burst that outruns the IP
// thread exhausts a small receive pool and the driver drops and counts
// frames, as on an MCU. rxLoop returns when ctx is cancelled or the driver
// is closed, and closes the queue.
func (e *linkEP) rxLoop(ctx context.Context, q chan<- *packetpool.Packet) {
	defer close(q)
	for {
		pkt, err := e.drv.Receive(ctx)
		if err != nil {
			return
		}
		select {
		case q <- pkt:
		case <-ctx.Done():
			_ = pkt.Release()
			return
		}
	}
}

// ipThread mirrors the NetX IP helper thread draining the deferred receive
// queue: each frame is copied into a gVisor buffer, delivered, and its packet
// released. It returns when the queue is closed and drained.
func (e *linkEP) ipThread(q <-chan *packetpool.Packet) {
	for pkt := range q {
		view := buffer.NewViewSize(pkt.Length())
		b := view.AsSlice()
		off := 0
		for seg := range pkt.Buffers() {
			off += copy(b[off:], seg)
		}
		_ = pkt.Release()

		e.acks.inbound(b)

		e.dmu.RLock()
		d := e.dispatcher
		e.dmu.RUnlock()
		if d == nil {
			view.Release()
			continue
		}
		pb := stack.NewPacketBuffer(stack.PacketBufferOptions{Payload: buffer.MakeWithView(view)})
		d.DeliverNetworkPacket(0, pb)
		pb.DecRef()
	}
}

// flowKey names one TCP connection from the board's side.
type flowKey struct {
	remote       tcpip.Address
	lport, rport uint16
}

// ackTracker watches TCP headers crossing the link so that a socket can
// release a sent packet once the peer has acknowledged its last byte, as
// NetX releases packets from its retransmit queue. Outbound SYNs give each
// flow's initial sequence number; inbound ACKs advance the acknowledged
// stream offset.
type ackTracker struct {
	mu    sync.RWMutex
	isn   map[flowKey]uint32
	flows map[flowKey]*TCPSocket
}

func newAckTracker() *ackTracker {
	return &ackTracker{isn: make(map[flowKey]uint32), flows: make(map[flowKey]*TCPSocket)}
}

// parseTCP returns the TCP header of an Ethernet frame, its flow key as seen
// from the frame's sender (remote = destination address, lport = source
// port), and the source address.
func parseTCP(frame []byte) (t header.TCP, k flowKey, src tcpip.Address, ok bool) {
	if len(frame) < header.EthernetMinimumSize {
		return nil, k, src, false
	}
	var dst tcpip.Address
	p := frame[header.EthernetMinimumSize:]
	var rest []byte
	switch binary.BigEndian.Uint16(frame[12:14]) {
	case uint16(header.IPv4ProtocolNumber):
		if len(p) < header.IPv4MinimumSize {
			return nil, k, src, false
		}
		ip := header.IPv4(p)
		if ip.Protocol() != uint8(header.TCPProtocolNumber) || ip.FragmentOffset() != 0 || ip.More() {
			return nil, k, src, false
		}
		hl := int(ip.HeaderLength())
		if hl < header.IPv4MinimumSize || len(p) < hl {
			return nil, k, src, false
		}
		src, dst = ip.SourceAddress(), ip.DestinationAddress()
		rest = p[hl:]
	case uint16(header.IPv6ProtocolNumber):
		if len(p) < header.IPv6MinimumSize {
			return nil, k, src, false
		}
		ip := header.IPv6(p)
		if ip.NextHeader() != uint8(header.TCPProtocolNumber) {
			return nil, k, src, false
		}
		src, dst = ip.SourceAddress(), ip.DestinationAddress()
		rest = p[header.IPv6MinimumSize:]
	default:
		return nil, k, src, false
	}
	if len(rest) < header.TCPMinimumSize {
		return nil, k, src, false
	}
	t = header.TCP(rest)
	k = flowKey{remote: dst, lport: t.SourcePort(), rport: t.DestinationPort()}
	return t, k, src, true
}

// outbound records the ISN of every SYN or SYN-ACK the board sends.
//
// run calls setISN on the flow's socket; nil calls it at once. On a
// sequencing clock the frame is written in the caller's goroutine, which
// may hold the socket's lock (Connect sends the SYN under it), so the call
// is posted instead.
func (a *ackTracker) outbound(frame []byte, run func(func())) {
	t, k, _, ok := parseTCP(frame)
	if !ok || t.Flags()&header.TCPFlagSyn == 0 {
		return
	}
	a.mu.Lock()
	if len(a.isn) > 4096 { // half-open flows never accepted: forget them
		clear(a.isn)
	}
	a.isn[k] = t.SequenceNumber()
	s := a.flows[k]
	a.mu.Unlock()
	// Never call into a socket holding a.mu: sockets take a.mu (in
	// unregister) while holding their own lock.
	if s != nil {
		isn := t.SequenceNumber()
		if run != nil {
			run(func() { s.setISN(isn) })
			return
		}
		s.setISN(isn)
	}
}

// inbound delivers a peer's cumulative ACK to the socket that owns the flow.
func (a *ackTracker) inbound(frame []byte) {
	t, k, src, ok := parseTCP(frame)
	if !ok || t.Flags()&header.TCPFlagAck == 0 {
		return
	}
	k = flowKey{remote: src, lport: k.rport, rport: k.lport}
	a.mu.RLock()
	s := a.flows[k]
	a.mu.RUnlock()
	if s != nil {
		s.peerAcked(t.AckNumber())
	}
}

// register ties a flow to a socket. It returns the flow's ISN when the
// board's SYN was already seen; the caller applies it with setISNLocked.
func (a *ackTracker) register(k flowKey, s *TCPSocket) (isn uint32, seen bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.flows[k] = s
	isn, seen = a.isn[k]
	return isn, seen
}

// unregister forgets a flow.
func (a *ackTracker) unregister(k flowKey) {
	a.mu.Lock()
	delete(a.flows, k)
	delete(a.isn, k)
	a.mu.Unlock()
}
