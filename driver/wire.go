package driver

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/simboard/simboard/nx"
)

// DefaultQueueFrames is the receive-queue depth of a Port when
// PortOptions.QueueFrames is 0, and the depth of its egress queue. It is
// large enough that a TCP sender bursting a full 4 MiB window of 1514-byte
// frames (≈2,800 frames) never fills it; see the Wire doc for what happens
// when it does fill.
const DefaultQueueFrames = 4096

// ReorderHold is the longest a frame picked for reordering is held back
// waiting for the next frame of its port to overtake it. A held frame with
// no successor within ReorderHold leaves late but not reordered.
const ReorderHold = time.Millisecond

// VirtualLineRate is the line rate of a port without a rate limit on a
// sequencing clock (a sim.Clock under a Sim): 100 Mbit/s, the PHY of most
// MCU Ethernet MACs. In real time an unlimited port moves frames as fast
// as the host does; in virtual time "as fast as possible" would be
// instantaneous, and a burst of frames arriving at one simulated instant
// gives TCP a round-trip time of zero (gVisor's RACK then declares every
// segment lost that is not acknowledged at once, and a 64 KiB mail took
// 22,000 frames). Each frame instead occupies the line for its
// serialisation time (txTime: 123 µs for 1,514 bytes), so the frames of a
// burst arrive one after another and the receiver's application reads
// between them, as on a real link.
const VirtualLineRate = 100_000_000

// egressDepth bounds the hand-off queue between WriteFrame and a port's
// scheduler; the scheduler itself holds up to QueueFrames frames.
const egressDepth = 256

// WireOptions configures a Wire. The zero value is valid: seed 0, the system
// clock, no logging.
type WireOptions struct {
	// Seed seeds every port's impairment generator and the generated MACs,
	// so a run with the same seed, ports and frame sequence drops,
	// duplicates and delays the same frames. 0 is a seed like any other.
	Seed int64
	// Clock times delay, jitter and rate limiting. nil means nx.SystemClock,
	// which testing/synctest fakes.
	Clock nx.Clock
	// Logger receives lifecycle events (attach, close, cable pull) at Info.
	// Drops are counted in PortStats, never logged. nil discards.
	Logger *slog.Logger
	// DirectARP delivers a broadcast ARP request only to the port that
	// owns its target IPv4 address, when the Wire knows that port: it
	// learns each port's addresses from the sender fields of the ARP
	// requests and replies the port sends (an address whose owner moves is
	// learned again from the new port; ARP probes, sent from 0.0.0.0,
	// teach nothing). Requests for an unknown address are still flooded. The owner still receives and
	// answers the request, so this is a switch with ARP suppression, not an
	// ARP proxy: only the other ports stop seeing requests they would
	// ignore. With N boards resolving one peer, flooding costs N copies per
	// request (N² in all); directed, one. false (the default) floods every
	// broadcast, as a plain switch does.
	DirectARP bool
}

// Impairments are the faults a Port applies to frames it transmits (frames
// leaving the port through WriteFrame, on their way to the switch). All
// randomness comes from the port's seeded generator. The zero value is a
// perfect link.
type Impairments struct {
	// Loss is the probability in [0, 1] that a frame is dropped (counted
	// in Drops.Loss of the sending port).
	Loss float64
	// Duplicate is the probability in [0, 1] that a frame is delivered
	// twice, back to back.
	Duplicate float64
	// Reorder is the probability in [0, 1] that a frame is held back and
	// delivered right after the port's next frame (the pair swaps). At most
	// one frame is held at a time, so with probability p a fraction
	// p/(1+p) of frames arrive after their successor. See ReorderHold.
	Reorder float64
	// Delay is added to every frame's delivery time.
	Delay time.Duration
	// Jitter adds a uniform random offset in [-Jitter, +Jitter] to Delay
	// (never delivering before the frame left). Jitter alone never reorders:
	// a frame is never delivered before the previous frame of its port.
	Jitter time.Duration
	// RateBitsPerSecond limits the port's transmit rate like a PHY of that
	// speed (10_000_000 for a 10 Mbit/s MCU PHY). Each frame occupies the
	// wire for (max(len+4, 64) + 20) * 8 bits: FCS, minimum frame size,
	// preamble and inter-frame gap included. 0 means unlimited.
	RateBitsPerSecond int64
}

// IsZero reports whether im describes a perfect link.
func (im Impairments) IsZero() bool { return im == Impairments{} }

func (im Impairments) validate() error {
	for _, p := range []struct {
		name string
		v    float64
	}{{"loss", im.Loss}, {"duplicate", im.Duplicate}, {"reorder", im.Reorder}} {
		if math.IsNaN(p.v) || p.v < 0 || p.v > 1 {
			return fmt.Errorf("%s probability %v outside [0, 1]", p.name, p.v)
		}
	}
	if im.Delay < 0 || im.Jitter < 0 {
		return fmt.Errorf("negative delay %v or jitter %v", im.Delay, im.Jitter)
	}
	if im.RateBitsPerSecond < 0 {
		return fmt.Errorf("negative rate %d bit/s", im.RateBitsPerSecond)
	}
	return nil
}

// PortOptions configures one port of a Wire. The zero value is a valid
// 1500-byte-MTU port with a generated MAC and no impairments.
type PortOptions struct {
	// Name appears in errors and logs. "" means "port<N>" (N counts
	// attachments from 0).
	Name string
	// MAC is the port's station address. nil (or all zero) means a locally
	// administered address (02:…) generated from the wire's seed, unique on
	// the wire. A group (multicast) address is refused.
	MAC net.HardwareAddr
	// MTU is the IP MTU; the largest frame is MTU+14. 0 means 1500.
	MTU int
	// QueueFrames is the receive-queue depth in frames. It also bounds the
	// frames in flight inside the port's scheduler (delayed, rate-limited
	// or held for reordering); beyond that WriteFrame blocks. 0 means
	// DefaultQueueFrames.
	QueueFrames int
	// DropWhenFull makes the port behave like a switch port with a finite
	// buffer: a unicast frame arriving while its receive queue is full is
	// dropped and counted (Drops.QueueFull) instead of blocking the sender.
	// false (the default) applies back-pressure, so nothing is lost.
	DropWhenFull bool

	// Impairments applied to frames this port transmits; see Impairments.
	// They can be changed later with SetImpairments.
	Loss, Duplicate, Reorder float64
	Delay, Jitter            time.Duration
	RateBitsPerSecond        int64
}

// Impairments returns the impairment part of the options.
func (o PortOptions) Impairments() Impairments {
	return Impairments{
		Loss: o.Loss, Duplicate: o.Duplicate, Reorder: o.Reorder,
		Delay: o.Delay, Jitter: o.Jitter, RateBitsPerSecond: o.RateBitsPerSecond,
	}
}

// Wire is an in-memory Ethernet switch joining any number of Ports. It
// learns which port owns each source MAC and forwards unicast frames to
// that port only; broadcast, multicast and unknown-unicast frames are
// flooded to every other port. A frame is never sent back to its own port.
//
// # Loss and back-pressure
//
// A Wire never drops a frame on its own account: the only losses are the
// configured ones (Impairments.Loss, a pulled cable with SetLinkUp(false),
// a port with DropWhenFull), oversize frames, and flooded copies to a full
// port. Each is counted by reason in PortStats. In detail:
//
//   - Unicast delivery applies back-pressure: while the receiving port's
//     queue is full the sender waits (WriteFrame blocks on a port without
//     impairments; the scheduler of a port with impairments waits, its
//     in-flight frames pile up to QueueFrames, and then WriteFrame blocks).
//     A fast sender is thus paced by its reader, as by a NIC whose TX ring
//     is full, and nothing is lost. gVisor's TCP (SACK+RACK) recovers
//     badly from silent drops (reference/anchors.md §7), which is why
//     delay, jitter, rate and reorder never lose a frame either.
//   - A port attached with DropWhenFull instead drops (and counts) unicast
//     frames that find its queue full, like a switch port buffer.
//   - Flooded copies (broadcast, multicast, unknown unicast) never block: a
//     port whose queue is full loses its copy (Drops.QueueFull), so one
//     port that nobody reads cannot stall the whole wire.
//   - A port with impairments holds up to QueueFrames frames in flight in
//     its scheduler (delayed, or waiting for a rate-limited PHY); beyond
//     that WriteFrame blocks, so a rate-limited port paces its sender.
//
// # Cost
//
// With no impairments a frame costs one copy into a pooled buffer on
// WriteFrame and one copy out on ReadFrame, a map lookup and a channel
// operation; no timers, no allocation in steady state.
//
// # Concurrency
//
// A Wire and its Ports are safe for concurrent use. Lock order: Wire.mu is
// the only mutex; no port lock exists. Every goroutine (one scheduler per
// port) is owned by its Port, and Port.Close and Wire.Close join them.
type Wire struct {
	clk  nx.Clock
	log  *slog.Logger
	seed int64

	mu        sync.RWMutex            // guards fdb, arp, closed, nextIndex and writes to ports
	fdb       map[[6]byte]*Port       // learned station addresses
	arp       map[[4]byte]*Port       // learned IPv4 owners (DirectARP only)
	ports     atomic.Pointer[[]*Port] // copy-on-write snapshot for flooding
	nextIndex int
	closed    bool
}

// NewWire creates an empty Wire. It never fails for valid options; the error
// is reserved for future validation.
func NewWire(opts WireOptions) (*Wire, error) {
	w := &Wire{
		clk:  opts.Clock,
		log:  opts.Logger,
		seed: opts.Seed,
		fdb:  make(map[[6]byte]*Port),
	}
	if opts.DirectARP {
		w.arp = make(map[[4]byte]*Port)
	}
	if w.clk == nil {
		w.clk = nx.SystemClock
	}
	if w.log == nil {
		w.log = slog.New(slog.DiscardHandler)
	}
	w.ports.Store(&[]*Port{})
	return w, nil
}

// Attach adds a port to the wire and starts its scheduler goroutine. The
// port starts with its cable plugged in. Errors wrap nx.ErrInvalidParameters
// for bad options (MTU, MAC, queue depth, impairments), nx.ErrDuplicatedEntry
// for a MAC already on the wire, and ErrClosed after Close.
func (w *Wire) Attach(opts PortOptions) (*Port, error) {
	mtu, err := checkMTU(opts.MTU)
	if err != nil {
		return nil, fmt.Errorf("driver: wire: attach: %v: %w", err, nx.ErrInvalidParameters)
	}
	q := opts.QueueFrames
	if q == 0 {
		q = DefaultQueueFrames
	}
	if q < 0 {
		return nil, fmt.Errorf("driver: wire: attach: queue depth %d: %w", q, nx.ErrInvalidParameters)
	}
	imp := opts.Impairments()
	if err := imp.validate(); err != nil {
		return nil, fmt.Errorf("driver: wire: attach: %v: %w", err, nx.ErrInvalidParameters)
	}
	if opts.MAC != nil && !isZeroMAC(opts.MAC) {
		if err := checkMAC(opts.MAC); err != nil {
			return nil, fmt.Errorf("driver: wire: attach: %v: %w", err, nx.ErrInvalidParameters)
		}
	}

	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return nil, fmt.Errorf("driver: wire: attach: %w", ErrClosed)
	}
	index := w.nextIndex
	var mac net.HardwareAddr
	if opts.MAC != nil && !isZeroMAC(opts.MAC) {
		mac = cloneMAC(opts.MAC)
		if _, dup := w.fdb[[6]byte(mac)]; dup {
			return nil, fmt.Errorf("driver: wire: attach: mac %v already on the wire: %w", mac, nx.ErrDuplicatedEntry)
		}
	} else {
		r := rand.New(rand.NewPCG(uint64(w.seed), 0x6d6163<<32|uint64(index)))
		for {
			var b [5]byte
			v := r.Uint64()
			for i := range b {
				b[i] = byte(v >> (8 * i))
			}
			mac = localMAC(b[:])
			if _, dup := w.fdb[[6]byte(mac)]; !dup {
				break
			}
		}
	}
	w.nextIndex++
	name := opts.Name
	if name == "" {
		name = fmt.Sprintf("port%d", index)
	}
	p := &Port{
		w:            w,
		index:        index,
		name:         name,
		mac:          mac,
		key:          [6]byte(mac),
		mtu:          mtu,
		maxFrame:     mtu + EthernetHeaderLen,
		rxq:          make(chan *fbuf, q),
		egress:       make(chan *fbuf, min(q, egressDepth)),
		limit:        q,
		dropWhenFull: opts.DropWhenFull,
		done:         make(chan struct{}),
		schedDone:    make(chan struct{}),
		rng:          rand.New(rand.NewPCG(uint64(w.seed), uint64(index)<<1|1)),
	}
	p.up.Store(true)
	if !imp.IsZero() {
		p.imp.Store(&imp)
	}
	w.fdb[p.key] = p
	old := *w.ports.Load()
	ports := append(append(make([]*Port, 0, len(old)+1), old...), p)
	w.ports.Store(&ports)
	if fc, ok := w.clk.(nx.FuncClock); ok && nx.Sequencing(w.clk) {
		p.fclk = fc
		close(p.schedDone)
	} else {
		go p.run()
	}
	w.log.Info("driver: wire: port attached", "port", name, "mac", mac.String(), "mtu", mtu, "queue", q)
	return p, nil
}

// Close closes every port (unblocking their readers and writers) and joins
// their goroutines. It is idempotent and always returns nil.
func (w *Wire) Close() error {
	w.mu.Lock()
	w.closed = true
	w.mu.Unlock()
	for _, p := range *w.ports.Load() {
		p.Close()
	}
	return nil
}

// Ports returns the ports currently attached, in attach order.
func (w *Wire) Ports() []*Port {
	return append([]*Port(nil), *w.ports.Load()...)
}

func (w *Wire) detach(p *Port) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for k, v := range w.fdb {
		if v == p {
			delete(w.fdb, k)
		}
	}
	for k, v := range w.arp {
		if v == p {
			delete(w.arp, k)
		}
	}
	old := *w.ports.Load()
	ports := make([]*Port, 0, len(old))
	for _, q := range old {
		if q != p {
			ports = append(ports, q)
		}
	}
	w.ports.Store(&ports)
}

// forward switches one frame from src, blocking while a unicast
// destination's queue is full (unless it drops when full). It takes
// ownership of fb. It returns an error only when src is closed while
// blocked.
func (w *Wire) forward(src *Port, fb *fbuf) error {
	f := fb.b
	dkey, skey := [6]byte(f[0:6]), [6]byte(f[6:12])
	flood := f[0]&1 != 0
	var dst *Port
	w.mu.RLock()
	if !flood {
		dst = w.fdb[dkey]
		flood = dst == nil
	}
	learned := skey[0]&1 != 0 || w.fdb[skey] == src
	var sip [4]byte
	arpLearn := false
	if w.arp != nil {
		if op, sender, target, ok := parseARP(f); ok {
			if sender != ([4]byte{}) && w.arp[sender] != src {
				sip, arpLearn = sender, true
			}
			if flood && op == arpRequest && dst == nil {
				if owner := w.arp[target]; owner != nil && target != sender {
					dst = owner
				}
			}
		}
	}
	w.mu.RUnlock()
	if !learned || arpLearn {
		w.mu.Lock()
		if !w.closed && !src.closed() {
			if !learned {
				w.fdb[skey] = src
			}
			if arpLearn {
				w.arp[sip] = src
			}
		}
		w.mu.Unlock()
	}
	if flood && dst != nil { // DirectARP: the request goes to its target's owner only
		if dst == src {
			putBuf(fb)
			return nil
		}
		return dst.deliver(src, fb, false)
	}
	if !flood {
		if dst == src { // station is on the sender's own segment
			putBuf(fb)
			return nil
		}
		return dst.deliver(src, fb, !dst.dropWhenFull)
	}
	ports := *w.ports.Load()
	var last *Port
	for _, p := range ports {
		if p == src {
			continue
		}
		if last != nil {
			last.deliver(src, getBuf(f), false)
		}
		last = p
	}
	if last == nil {
		putBuf(fb)
		return nil
	}
	return last.deliver(src, fb, false)
}

// Port is one station on a Wire; it implements Link. WriteFrame transmits
// through the port's impairments onto the switch; ReadFrame returns frames
// the switch delivered to the port. Safe for concurrent use.
type Port struct {
	w            *Wire
	index        int
	name         string
	mac          net.HardwareAddr
	key          [6]byte
	mtu          int
	maxFrame     int
	rxq          chan *fbuf
	egress       chan *fbuf
	done         chan struct{}
	schedDone    chan struct{}
	closeOnce    sync.Once
	limit        int // frames the scheduler holds at most
	dropWhenFull bool

	up       atomic.Bool
	imp      atomic.Pointer[Impairments] // nil = perfect link (fast path)
	inflight atomic.Int64                // frames inside the scheduler

	c portCounters

	rng *rand.Rand // owned by the scheduler goroutine (p.smu on a sequencing clock)

	// fclk is the Wire's clock when it is sequencing (nx.Sequencer): then
	// WriteFrame applies impairments itself under smu and no scheduler
	// goroutine runs. nil otherwise.
	fclk  nx.FuncClock
	smu   sync.Mutex
	sh    shaper // guarded by smu
	rated atomic.Pointer[ratedImp]
}

// portCounters groups counters by writer, padded apart so the sending and
// the receiving goroutine do not share a cache line.
type portCounters struct {
	txFrames, txBytes atomic.Uint64 // written by WriteFrame
	_                 [48]byte
	rxFrames, rxBytes atomic.Uint64 // written by ReadFrame
	_                 [48]byte

	duplicated, reordered               atomic.Uint64
	loss, queueFull, linkDown, oversize atomic.Uint64
	malformed                           atomic.Uint64
}

// Drops counts frames a port lost, by reason.
type Drops struct {
	Loss      uint64 // configured loss (sending port)
	QueueFull uint64 // receive queue full: flooded copies, or DropWhenFull (receiving port)
	LinkDown  uint64 // cable pulled: counted by the port whose cable is out
	Oversize  uint64 // frame longer than MTU+14 (either port), or longer than the ReadFrame buffer
	Malformed uint64 // frame shorter than the Ethernet header (sending port)
}

// Total is the sum of every reason.
func (d Drops) Total() uint64 {
	return d.Loss + d.QueueFull + d.LinkDown + d.Oversize + d.Malformed
}

// PortStats is a snapshot of a port's counters.
type PortStats struct {
	TxFrames, TxBytes uint64 // frames accepted by WriteFrame
	RxFrames, RxBytes uint64 // frames returned by ReadFrame
	Duplicated        uint64 // extra copies sent by the Duplicate impairment
	Reordered         uint64 // frames delivered after their successor
	Drops             Drops
	Queued            int // frames waiting in the receive queue now
}

// Stats returns a snapshot of the port's counters. Safe for concurrent use.
func (p *Port) Stats() PortStats {
	return PortStats{
		TxFrames:   p.c.txFrames.Load(),
		TxBytes:    p.c.txBytes.Load(),
		RxFrames:   p.c.rxFrames.Load(),
		RxBytes:    p.c.rxBytes.Load(),
		Duplicated: p.c.duplicated.Load(),
		Reordered:  p.c.reordered.Load(),
		Drops: Drops{
			Loss:      p.c.loss.Load(),
			QueueFull: p.c.queueFull.Load(),
			LinkDown:  p.c.linkDown.Load(),
			Oversize:  p.c.oversize.Load(),
			Malformed: p.c.malformed.Load(),
		},
		Queued: len(p.rxq),
	}
}

// Name returns the port's name.
func (p *Port) Name() string { return p.name }

// MAC returns the port's station address (a copy).
func (p *Port) MAC() net.HardwareAddr { return cloneMAC(p.mac) }

// MTU returns the port's IP MTU.
func (p *Port) MTU() int { return p.mtu }

// MaxFrame returns the largest frame the port carries, MTU()+14.
func (p *Port) MaxFrame() int { return p.maxFrame }

// LinkUp reports whether the port's cable is plugged in (and the port open).
func (p *Port) LinkUp() bool { return p.up.Load() && !p.closed() }

// SpeedBitsPerSecond returns the configured rate limit, 0 when unlimited
// (VirtualLineRate on a sequencing clock). The Driver reports it for
// NX_LINK_GET_SPEED.
func (p *Port) SpeedBitsPerSecond() int64 {
	var rate int64
	if im := p.imp.Load(); im != nil {
		rate = im.RateBitsPerSecond
	}
	if rate == 0 && p.fclk != nil {
		rate = VirtualLineRate
	}
	return rate
}

// SetLinkUp plugs (true) or pulls (false) the port's cable. While it is
// pulled, frames the port writes and frames delivered to it (including
// frames already in flight in its scheduler) are dropped and counted in
// Drops.LinkDown; frames already in its receive queue stay readable.
// Safe for concurrent use.
func (p *Port) SetLinkUp(up bool) {
	if p.up.Swap(up) != up {
		p.w.log.Info("driver: wire: cable", "port", p.name, "up", up)
	}
}

// Impairments returns the impairments currently applied.
func (p *Port) Impairments() Impairments {
	if im := p.imp.Load(); im != nil {
		return *im
	}
	return Impairments{}
}

// SetImpairments replaces the port's impairments; frames written afterwards
// see the new values. Frames already inside the scheduler keep their
// computed delivery times, and frames written after impairments are removed
// still follow them through the scheduler, so the change never reorders
// frames. Errors wrap nx.ErrInvalidParameters. Safe for concurrent use.
func (p *Port) SetImpairments(im Impairments) error {
	if err := im.validate(); err != nil {
		return fmt.Errorf("driver: port %s: set impairments: %v: %w", p.name, err, nx.ErrInvalidParameters)
	}
	if im.IsZero() {
		p.imp.Store(nil)
	} else {
		p.imp.Store(&im)
	}
	return nil
}

func (p *Port) closed() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// WriteFrame transmits one frame from this port: it applies the port's
// impairments and switches the frame to its destination port(s). It copies
// the frame and does not retain it. It blocks for back-pressure as described
// on Wire. Returns nil when the frame was accepted, including frames the
// impairments or a pulled cable then drop (counted in Stats); an error
// wrapping nx.ErrInvalidPacket for a frame shorter than 14 bytes,
// nx.ErrSize for one longer than MTU+14, or ErrClosed once the port is
// closed. Safe for concurrent use.
func (p *Port) WriteFrame(frame []byte) error {
	if p.closed() {
		return fmt.Errorf("driver: port %s: write: %w", p.name, ErrClosed)
	}
	n := len(frame)
	if n < EthernetHeaderLen {
		p.c.malformed.Add(1)
		return fmt.Errorf("driver: port %s: write: %d-byte frame is shorter than the Ethernet header: %w", p.name, n, nx.ErrInvalidPacket)
	}
	if n > p.maxFrame {
		p.c.oversize.Add(1)
		return fmt.Errorf("driver: port %s: write: %d-byte frame exceeds MTU %d + 14: %w", p.name, n, p.mtu, nx.ErrSize)
	}
	p.c.txFrames.Add(1)
	p.c.txBytes.Add(uint64(n))
	if !p.up.Load() {
		p.c.linkDown.Add(1)
		return nil
	}
	fb := getBuf(frame)
	im := p.imp.Load()
	if p.fclk != nil {
		fb.at = p.w.clk.Now()
		fb.imp = p.lineRate(im)
		p.inflight.Add(1)
		p.writeSeq(fb)
		return nil
	}
	if im == nil && p.inflight.Load() == 0 {
		if err := p.w.forward(p, fb); err != nil {
			return fmt.Errorf("driver: port %s: write: %w", p.name, err)
		}
		return nil
	}
	fb.at = p.w.clk.Now()
	fb.imp = im
	p.inflight.Add(1)
	select {
	case p.egress <- fb:
		return nil
	case <-p.done:
		p.inflight.Add(-1)
		putBuf(fb)
		return fmt.Errorf("driver: port %s: write: %w", p.name, ErrClosed)
	}
}

// deliver queues fb on p's receive queue. block applies back-pressure when
// the queue is full; otherwise a full queue drops and counts. It takes
// ownership of fb.
//
// On a sequencing clock the frame's arrival is an event of its own
// (nx.Post): the receiving board takes it only once the sender has settled,
// and frames arriving at one instant are taken one at a time, in order.
// There is no back-pressure then (the receiver drains each frame in its own
// event, so its queue fills only when nothing reads the port; a full queue
// drops and counts).
func (p *Port) deliver(src *Port, fb *fbuf, block bool) error {
	if p.fclk != nil {
		p.w.clk.(nx.Sequencer).Post(func() { _ = p.arrive(src, fb, false) })
		return nil
	}
	return p.arrive(src, fb, block)
}

// arrive is deliver's work: the frame enters p's receive queue now.
func (p *Port) arrive(src *Port, fb *fbuf, block bool) error {
	if p.closed() {
		putBuf(fb)
		return nil
	}
	if !p.up.Load() {
		p.c.linkDown.Add(1)
		putBuf(fb)
		return nil
	}
	if len(fb.b) > p.maxFrame {
		p.c.oversize.Add(1)
		putBuf(fb)
		return nil
	}
	select {
	case p.rxq <- fb:
		return nil
	default:
	}
	if !block {
		p.c.queueFull.Add(1)
		putBuf(fb)
		return nil
	}
	select {
	case p.rxq <- fb:
		return nil
	case <-p.done:
		putBuf(fb)
		return nil
	case <-src.done:
		putBuf(fb)
		return ErrClosed
	}
}

// ReadFrame blocks for the next frame delivered to this port and copies it
// into buf. A frame longer than buf is dropped (counted in Drops.Oversize)
// and reported with an error wrapping io.ErrShortBuffer; pass a buffer of
// MTU()+14 bytes. After Close it returns an error wrapping ErrClosed, even
// if frames were still queued. Safe for concurrent use.
func (p *Port) ReadFrame(buf []byte) (int, error) {
	return p.ReadFrameContext(context.Background(), buf)
}

// ReadFrameContext is ReadFrame that also returns, without consuming a
// frame, when ctx is done (the error wraps ctx.Err()).
func (p *Port) ReadFrameContext(ctx context.Context, buf []byte) (int, error) {
	if p.closed() {
		return 0, fmt.Errorf("driver: port %s: read: %w", p.name, ErrClosed)
	}
	var fb *fbuf
	select {
	case fb = <-p.rxq:
	default:
		select {
		case fb = <-p.rxq:
		case <-p.done:
			return 0, fmt.Errorf("driver: port %s: read: %w", p.name, ErrClosed)
		case <-ctx.Done():
			return 0, fmt.Errorf("driver: port %s: read: %w", p.name, ctx.Err())
		}
	}
	n := copy(buf, fb.b)
	if n < len(fb.b) {
		l := len(fb.b)
		putBuf(fb)
		p.c.oversize.Add(1)
		return 0, fmt.Errorf("driver: port %s: read: %d-byte frame does not fit a %d-byte buffer: %w", p.name, l, len(buf), io.ErrShortBuffer)
	}
	putBuf(fb)
	p.c.rxFrames.Add(1)
	p.c.rxBytes.Add(uint64(n))
	return n, nil
}

// Close detaches the port from the wire, unblocks its readers and writers
// and joins its scheduler goroutine. Queued frames are discarded. It is
// idempotent and always returns nil.
func (p *Port) Close() error {
	p.closeOnce.Do(func() {
		close(p.done)
		p.w.detach(p)
		<-p.schedDone
		p.w.log.Info("driver: wire: port closed", "port", p.name)
	})
	return nil
}

// txTime is how long a frame of n bytes occupies a link of rate bit/s:
// FCS (4), padding to the 64-byte minimum, preamble+SFD (8) and the
// inter-frame gap (12).
func txTime(n int, rate int64) time.Duration {
	wire := max(n+4, 64) + 20
	bits := int64(wire) * 8
	return time.Duration((bits*int64(time.Second) + rate - 1) / rate)
}

// shaper holds the state of a port's impairments between frames: the
// rate-limited PHY's last departure, the last due instant (delivery never
// overtakes: dues only grow), and the frame held back for reordering. The
// port's scheduler goroutine owns it; on a sequencing clock p.smu guards it.
type shaper struct {
	lastDepart time.Time
	lastDue    time.Time
	held       *fbuf
	heldUntil  time.Time
}

// push gives fb its place in delivery order (never before the frame
// scheduled last) and hands it to out.
func (sh *shaper) push(fb *fbuf, out func(*fbuf)) {
	if fb.due.Before(sh.lastDue) {
		fb.due = sh.lastDue
	}
	sh.lastDue = fb.due
	out(fb)
}

// releaseHeld schedules the frame held back for reordering once its hold
// has run out at now.
func (sh *shaper) releaseHeld(now time.Time, out func(*fbuf)) {
	if sh.held != nil && !now.Before(sh.heldUntil) {
		sh.held.due = sh.heldUntil
		sh.push(sh.held, out)
		sh.held = nil
	}
}

// admit applies fb's impairments: loss (fb is released), rate, delay,
// jitter, reordering (fb is held back, or releases the frame held) and
// duplication. Each frame that gets a due instant goes to out, in delivery
// order. It draws from p.rng in a fixed order per frame, so the same seed
// and the same frames give the same fate.
func (p *Port) admit(sh *shaper, fb *fbuf, out func(*fbuf)) {
	im := fb.imp
	if im == nil {
		fb.due = fb.at
		sh.push(fb, out)
		return
	}
	if im.Loss > 0 && p.rng.Float64() < im.Loss {
		p.c.loss.Add(1)
		p.inflight.Add(-1)
		putBuf(fb)
		return
	}
	depart := fb.at
	if im.RateBitsPerSecond > 0 {
		if sh.lastDepart.After(depart) {
			depart = sh.lastDepart
		}
		depart = depart.Add(txTime(len(fb.b), im.RateBitsPerSecond))
		sh.lastDepart = depart
	}
	due := depart.Add(im.Delay)
	if im.Jitter > 0 {
		due = due.Add(time.Duration(p.rng.Int64N(2*int64(im.Jitter)+1)) - im.Jitter)
		if due.Before(depart) {
			due = depart
		}
	}
	fb.due = due
	if sh.held == nil && im.Reorder > 0 && p.rng.Float64() < im.Reorder {
		if fb.due.Before(sh.lastDue) {
			fb.due = sh.lastDue
		}
		sh.held = fb
		sh.heldUntil = fb.due.Add(ReorderHold)
		return
	}
	sh.push(fb, out)
	if im.Duplicate > 0 && p.rng.Float64() < im.Duplicate {
		d := getBuf(fb.b)
		d.due = fb.due
		p.inflight.Add(1)
		sh.push(d, out)
		p.c.duplicated.Add(1)
	}
	if sh.held != nil {
		sh.held.due = fb.due
		sh.push(sh.held, out)
		sh.held = nil
		p.c.reordered.Add(1)
	}
}

// run is the port's scheduler: it applies impairments to frames from the
// egress queue and delivers them when due. It exits when the port closes.
// A port on a sequencing clock has no scheduler goroutine (see writeSeq).
func (p *Port) run() {
	defer close(p.schedDone)
	clk := p.w.clk
	var (
		q       fifo
		sh      shaper
		timer   nx.Timer
		timerAt time.Time
	)
	defer func() {
		if timer != nil {
			timer.Stop()
		}
		for fb := q.pop(); fb != nil; fb = q.pop() {
			putBuf(fb)
		}
		if sh.held != nil {
			putBuf(sh.held)
		}
		for {
			select {
			case fb := <-p.egress:
				putBuf(fb)
			default:
				return
			}
		}
	}()
	for {
		now := clk.Now()
		sh.releaseHeld(now, q.push)
		for fb := q.peek(); fb != nil && !now.Before(fb.due); fb = q.peek() {
			q.pop()
			if err := p.emit(fb); err != nil {
				return
			}
		}
		var wake time.Time
		if fb := q.peek(); fb != nil {
			wake = fb.due
		}
		if sh.held != nil && (wake.IsZero() || sh.heldUntil.Before(wake)) {
			wake = sh.heldUntil
		}
		egress := p.egress
		if q.len()+btoi(sh.held != nil) >= p.limit {
			egress = nil // full: WriteFrame blocks once the hand-off queue fills
		}
		var timerC <-chan time.Time
		if !wake.IsZero() {
			if timer == nil || !timerAt.Equal(wake) {
				if timer != nil {
					timer.Stop()
				}
				timer = clk.NewTimer(wake.Sub(now))
				timerAt = wake
			}
			timerC = timer.C()
		}
		select {
		case fb := <-egress:
			p.admit(&sh, fb, q.push)
		case <-timerC:
			timer = nil
		case <-p.done:
			return
		}
	}
}

// writeSeq is WriteFrame's path on a sequencing clock (nx.Sequencer, a
// sim.Clock under a Sim): the impairments are applied in the writer's
// goroutine and each frame's delivery is a timer of its own on the clock,
// so frames leave in the order written, at instants that depend only on the
// seed, and nothing runs beside the writer. There is no scheduler goroutine
// and no in-flight limit: the writer never blocks (TCP's window bounds what
// is in flight). It takes ownership of fb.
func (p *Port) writeSeq(fb *fbuf) {
	p.smu.Lock()
	defer p.smu.Unlock()
	now := p.w.clk.Now()
	p.sh.releaseHeld(now, p.scheduleSeq)
	wasHeld := p.sh.held
	p.admit(&p.sh, fb, p.scheduleSeq)
	if h := p.sh.held; h != nil && h != wasHeld {
		until := p.sh.heldUntil
		p.fclk.AfterFunc(until.Sub(now), func() {
			p.smu.Lock()
			defer p.smu.Unlock()
			if p.sh.held == h {
				p.sh.releaseHeld(until, p.scheduleSeq)
			}
		})
	}
}

// lineRate returns im with VirtualLineRate as its rate when it sets none
// (im may be nil: a perfect link). The copy is kept until the port's
// impairments change, so the hot path does not allocate.
func (p *Port) lineRate(im *Impairments) *Impairments {
	if im != nil && im.RateBitsPerSecond > 0 {
		return im
	}
	if c := p.rated.Load(); c != nil && c.from == im {
		return &c.imp
	}
	c := &ratedImp{from: im, imp: Impairments{RateBitsPerSecond: VirtualLineRate}}
	if im != nil {
		c.imp = *im
		c.imp.RateBitsPerSecond = VirtualLineRate
	}
	p.rated.Store(c)
	return &c.imp
}

// ratedImp caches a port's impairments with VirtualLineRate filled in.
type ratedImp struct {
	from *Impairments
	imp  Impairments
}

// scheduleSeq sets the timer that hands fb to the switch at fb.due.
// p.smu is held. A frame on the line still arrives when its sender closes
// first (a board powered off after its last frame left the MAC, such as
// the RST of nx_ip_delete); only a closed receiving port drops it.
func (p *Port) scheduleSeq(fb *fbuf) {
	p.fclk.AfterFunc(fb.due.Sub(p.w.clk.Now()), func() { _ = p.emit(fb) })
}

// emit hands a due frame to the switch.
func (p *Port) emit(fb *fbuf) error {
	defer p.inflight.Add(-1)
	if !p.up.Load() {
		p.c.linkDown.Add(1)
		putBuf(fb)
		return nil
	}
	return p.w.forward(p, fb)
}

// fbuf is one frame in flight. Buffers of up to smallBuf bytes are pooled.
type fbuf struct {
	b   []byte
	at  time.Time    // when WriteFrame accepted it (scheduled path)
	due time.Time    // when the scheduler delivers it
	imp *Impairments // the port's impairments when it was written
}

const smallBuf = 2048

var fbufPool = sync.Pool{New: func() any { return &fbuf{b: make([]byte, 0, smallBuf)} }}

func getBuf(frame []byte) *fbuf {
	if len(frame) > smallBuf {
		return &fbuf{b: append([]byte(nil), frame...)}
	}
	fb := fbufPool.Get().(*fbuf)
	fb.b = append(fb.b[:0], frame...)
	return fb
}

func putBuf(fb *fbuf) {
	if cap(fb.b) != smallBuf {
		return
	}
	*fb = fbuf{b: fb.b[:0]}
	fbufPool.Put(fb)
}

// fifo is a slice-backed queue that reuses its storage.
type fifo struct {
	s    []*fbuf
	head int
}

func (f *fifo) push(fb *fbuf) { f.s = append(f.s, fb) }

func (f *fifo) len() int { return len(f.s) - f.head }

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

func (f *fifo) peek() *fbuf {
	if f.head == len(f.s) {
		return nil
	}
	return f.s[f.head]
}

func (f *fifo) pop() *fbuf {
	if f.head == len(f.s) {
		return nil
	}
	fb := f.s[f.head]
	f.s[f.head] = nil
	f.head++
	if f.head == len(f.s) {
		f.s, f.head = f.s[:0], 0
	}
	return fb
}

// arpRequest is the ARP opcode of a request (RFC 826).
const arpRequest = 1

// parseARP returns the opcode and the sender and target IPv4 addresses of an
// Ethernet/IPv4 ARP frame (no VLAN tag); ok is false for anything else.
func parseARP(f []byte) (op uint16, sender, target [4]byte, ok bool) {
	// dst(6) src(6) type(2)=0806 | htype(2)=1 ptype(2)=0800 hlen=6 plen=4 op(2) sha(6) spa(4) tha(6) tpa(4)
	if len(f) < 42 || f[12] != 0x08 || f[13] != 0x06 || f[14] != 0 || f[15] != 1 || f[16] != 0x08 || f[17] != 0 || f[18] != 6 || f[19] != 4 {
		return 0, sender, target, false
	}
	return uint16(f[20])<<8 | uint16(f[21]), [4]byte(f[28:32]), [4]byte(f[38:42]), true
}
