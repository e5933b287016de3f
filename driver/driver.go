package driver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/simboard/simboard/nx"
	"github.com/simboard/simboard/packetpool"
)

// Options configures a Driver. Link and RxPool are required.
type Options struct {
	// Name appears in errors and logs. "" means "driver".
	Name string
	// Link carries the frames (a *Port, *TAP or *Capture). The Driver owns
	// it from New on: Driver.Close closes it.
	Link Link
	// RxPool supplies the receive packets (NetX: the pool the driver
	// allocates NX_RECEIVE_PACKETs from, usually the IP default pool).
	// Frames larger than its payload size arrive as chains.
	RxPool *packetpool.Pool
	// Logger receives receive-allocation failures at Warn (at most one line
	// per second, with the count of suppressed ones) and lifecycle events at
	// Info. nil discards.
	Logger *slog.Logger
	// Clock rate-limits the Warn lines. nil means nx.SystemClock.
	Clock nx.Clock
	// Promiscuous delivers every frame. false (the default) filters like a
	// MAC: unicast to this MAC, broadcast, IPv6 multicast (33:33:…) and the
	// joined multicast addresses pass; other frames are counted in
	// Stats.RxFiltered and dropped.
	Promiscuous bool
	// UserCommand handles DirectCommand for commands >= LinkUserCommand
	// (NX_LINK_USER_COMMAND). nil answers them with nx.ErrUnhandledCommand.
	// It is called on the caller's goroutine, with no driver lock held.
	UserCommand func(cmd Command, arg uint32) (uint32, error)
}

// Stats is a snapshot of the driver's counters.
type Stats struct {
	RxFrames, RxBytes uint64 // frames handed out by Receive
	TxFrames, TxBytes uint64 // frames the link accepted
	// AllocErrors counts received frames dropped because RxPool had no
	// packet (NX_LINK_GET_ALLOC_ERRORS).
	AllocErrors uint64
	// Errors counts link read and write failures and frames too large to
	// send (NX_LINK_GET_ERROR_COUNT).
	Errors uint64
	// RxDropped and TxDropped count frames dropped while the driver is
	// disabled (NX_LINK_DISABLE).
	RxDropped, TxDropped uint64
	// RxFiltered counts frames for another station or a multicast group
	// not joined.
	RxFiltered uint64
}

// Drops returns every frame lost by the driver: allocation failures,
// disabled drops and filtered frames.
func (s Stats) Drops() uint64 { return s.AllocErrors + s.RxDropped + s.TxDropped + s.RxFiltered }

// Driver is the NetX network driver of a board: a Link, a receive pool,
// statistics, and the NX_LINK_* commands through DirectCommand. It copies
// each received frame into a packet chain from the receive pool, exactly as
// an MCU Ethernet driver fills NX_RECEIVE_PACKETs from its DMA buffers, and
// drops the frame (counting an allocation error) when the pool is empty.
//
// A new Driver is initialized and enabled. Send, SendFrame, Stats and
// DirectCommand are safe for concurrent use; Receive is meant for one
// receive goroutine (concurrent calls are safe but split the frames).
// Lock order: Driver.mu (the multicast table) is never held across a Link
// or pool call.
type Driver struct {
	name     string
	link     Link
	ctxr     ContextReader // nil once the link proved it cannot read with a context
	pool     *packetpool.Pool
	log      *slog.Logger
	clk      nx.Clock
	promisc  bool
	userCmd  func(Command, uint32) (uint32, error)
	mac      net.HardwareAddr
	macKey   [6]byte
	mtu      int
	maxFrame int

	enabled     atomic.Bool
	initialized atomic.Bool

	mu    sync.Mutex
	mcast [MaxMulticast][6]byte // joined multicast MACs (zero = free)
	nmc   atomic.Int32          // entries in use, read on the receive path

	rxFrames, rxBytes, txFrames, txBytes atomic.Uint64
	allocErrors, errors                  atomic.Uint64
	rxDropped, txDropped, rxFiltered     atomic.Uint64

	warnMu         sync.Mutex
	lastWarn       time.Time
	suppressedWarn int

	bufs sync.Pool // *[]byte of maxFrame

	pumpOnce    sync.Once
	pumpStarted atomic.Bool
	rxc         chan rxItem
	pumpDone    chan struct{}
	pumpErr     error

	done      chan struct{}
	closeOnce sync.Once
	closeErr  error
}

type rxItem struct {
	buf *[]byte
	n   int
	err error
}

// New mirrors the driver side of nx_ip_create / nx_ip_interface_attach: it
// takes ownership of opts.Link and returns an initialized, enabled driver.
// Errors wrap nx.ErrPtr for a missing Link or RxPool.
func New(opts Options) (*Driver, error) {
	if opts.Link == nil {
		return nil, fmt.Errorf("driver: new: nil link: %w", nx.ErrPtr)
	}
	if opts.RxPool == nil {
		return nil, fmt.Errorf("driver: new: nil receive pool: %w", nx.ErrPtr)
	}
	name := opts.Name
	if name == "" {
		name = "driver"
	}
	mac := opts.Link.MAC()
	if len(mac) != 6 {
		return nil, fmt.Errorf("driver %q: new: link MAC %v is not 6 bytes: %w", name, mac, nx.ErrInvalidParameters)
	}
	d := &Driver{
		name:     name,
		link:     opts.Link,
		pool:     opts.RxPool,
		log:      opts.Logger,
		clk:      opts.Clock,
		promisc:  opts.Promiscuous,
		userCmd:  opts.UserCommand,
		mac:      cloneMAC(mac),
		macKey:   [6]byte(mac),
		mtu:      opts.Link.MTU(),
		rxc:      make(chan rxItem),
		pumpDone: make(chan struct{}),
		done:     make(chan struct{}),
	}
	d.maxFrame = d.mtu + EthernetHeaderLen
	if d.log == nil {
		d.log = slog.New(slog.DiscardHandler)
	}
	if d.clk == nil {
		d.clk = nx.SystemClock
	}
	if cr, ok := opts.Link.(ContextReader); ok && readsWithContext(opts.Link) {
		d.ctxr = cr
	}
	size := d.maxFrame
	d.bufs.New = func() any { b := make([]byte, size); return &b }
	d.initialized.Store(true)
	d.enabled.Store(true)
	d.log.Info("driver: created", "driver", name, "mac", d.mac.String(), "mtu", d.mtu, "rx_pool", opts.RxPool.Name())
	return d, nil
}

// Name returns the driver's name.
func (d *Driver) Name() string { return d.name }

// Link returns the driver's link.
func (d *Driver) Link() Link { return d.link }

// MAC returns the station address (the link's MAC, a copy).
func (d *Driver) MAC() net.HardwareAddr { return cloneMAC(d.mac) }

// MTU returns the IP MTU; the largest frame is MTU()+14.
func (d *Driver) MTU() int { return d.mtu }

// RxPool returns the receive pool.
func (d *Driver) RxPool() *packetpool.Pool { return d.pool }

// Enabled reports whether the driver is enabled (NX_LINK_ENABLE).
func (d *Driver) Enabled() bool { return d.enabled.Load() }

// LinkUp mirrors NX_LINK_GET_STATUS: enabled and the link has carrier.
func (d *Driver) LinkUp() bool { return d.enabled.Load() && d.link.LinkUp() }

// Stats returns a snapshot of the counters. Safe for concurrent use.
func (d *Driver) Stats() Stats {
	return Stats{
		RxFrames:    d.rxFrames.Load(),
		RxBytes:     d.rxBytes.Load(),
		TxFrames:    d.txFrames.Load(),
		TxBytes:     d.txBytes.Load(),
		AllocErrors: d.allocErrors.Load(),
		Errors:      d.errors.Load(),
		RxDropped:   d.rxDropped.Load(),
		TxDropped:   d.txDropped.Load(),
		RxFiltered:  d.rxFiltered.Load(),
	}
}

// Receive blocks for the next frame, copies it into a packet (a chain when
// the frame is longer than one packet's payload) allocated from RxPool with
// NX_RECEIVE_PACKET and nx.NoWait, and returns it; the caller owns the
// packet and must release it. When RxPool has no packet the frame is
// dropped, Stats.AllocErrors counts it, a rate-limited Warn is logged, and
// Receive keeps waiting for the next frame, as an MCU driver whose DMA
// buffer cannot be replenished does. Frames arriving while the driver is
// disabled, and frames the MAC filter rejects, are dropped and counted too.
//
// Returns nx.ErrWaitAborted (wrapped) when ctx is done, an error wrapping
// ErrClosed after Close, and the link's error if reading fails.
func (d *Driver) Receive(ctx context.Context) (*packetpool.Packet, error) {
	if ctx == nil {
		ctx = context.Background()
	}
	for {
		bp, n, err := d.read(ctx)
		if err != nil {
			switch {
			case ctx.Err() != nil:
				return nil, fmt.Errorf("driver %q: receive: %w", d.name, nx.ErrWaitAborted)
			case errors.Is(err, ErrClosed):
				return nil, fmt.Errorf("driver %q: receive: %w", d.name, err)
			}
			d.errors.Add(1)
			return nil, fmt.Errorf("driver %q: receive: %w", d.name, err)
		}
		pkt, ok := d.intake((*bp)[:n])
		d.bufs.Put(bp)
		if ok {
			return pkt, nil
		}
	}
}

// intake filters one frame and copies it into a packet chain.
func (d *Driver) intake(frame []byte) (*packetpool.Packet, bool) {
	if !d.enabled.Load() {
		d.rxDropped.Add(1)
		return nil, false
	}
	if len(frame) < EthernetHeaderLen {
		d.errors.Add(1)
		return nil, false
	}
	if !d.accept(frame) {
		d.rxFiltered.Add(1)
		return nil, false
	}
	pkt, err := d.pool.Allocate(context.Background(), packetpool.ReceivePacket, nx.NoWait)
	if err != nil {
		d.allocFailed(len(frame), err)
		return nil, false
	}
	if err := pkt.Append(context.Background(), frame, d.pool, nx.NoWait); err != nil {
		pkt.Release()
		d.allocFailed(len(frame), err)
		return nil, false
	}
	d.rxFrames.Add(1)
	d.rxBytes.Add(uint64(len(frame)))
	return pkt, true
}

func (d *Driver) allocFailed(n int, err error) {
	d.allocErrors.Add(1)
	now := d.clk.Now()
	d.warnMu.Lock()
	if !d.lastWarn.IsZero() && now.Sub(d.lastWarn) < time.Second {
		d.suppressedWarn++
		d.warnMu.Unlock()
		return
	}
	suppressed := d.suppressedWarn
	d.lastWarn, d.suppressedWarn = now, 0
	d.warnMu.Unlock()
	d.log.Warn("driver: receive frame dropped, no packet in the receive pool",
		"driver", d.name, "pool", d.pool.Name(), "bytes", n, "err", err,
		"alloc_errors", d.allocErrors.Load(), "suppressed", suppressed)
}

// accept is the MAC filter.
func (d *Driver) accept(f []byte) bool {
	if d.promisc {
		return true
	}
	dst := [6]byte(f[0:6])
	if dst == d.macKey {
		return true
	}
	if dst[0]&1 == 0 {
		return false
	}
	if dst == [6]byte(Broadcast) || (dst[0] == 0x33 && dst[1] == 0x33) {
		return true
	}
	if d.nmc.Load() == 0 {
		return false
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, m := range d.mcast {
		if m == dst {
			return true
		}
	}
	return false
}

// read returns the next frame in a buffer from d.bufs.
func (d *Driver) read(ctx context.Context) (*[]byte, int, error) {
	if d.ctxr != nil {
		bp := d.bufs.Get().(*[]byte)
		n, err := d.ctxr.ReadFrameContext(ctx, *bp)
		if err != nil {
			d.bufs.Put(bp)
			return nil, 0, err
		}
		return bp, n, nil
	}
	d.pumpOnce.Do(func() {
		d.pumpStarted.Store(true)
		go d.pump()
	})
	select {
	case it := <-d.rxc:
		if it.err != nil {
			return nil, 0, it.err
		}
		return it.buf, it.n, nil
	case <-d.pumpDone:
		return nil, 0, d.pumpErr
	case <-ctx.Done():
		return nil, 0, ctx.Err()
	case <-d.done:
		return nil, 0, ErrClosed
	}
}

// pump reads a link that cannot read with a context (a TAP) on behalf of
// Receive, one frame at a time, so that cancelling Receive never loses a
// frame: the frame waits here for the next Receive. It stops at the first
// read error (after handing it to a Receive) or when the driver closes.
// Close joins it.
func (d *Driver) pump() {
	defer close(d.pumpDone)
	for {
		bp := d.bufs.Get().(*[]byte)
		n, err := d.link.ReadFrame(*bp)
		it := rxItem{buf: bp, n: n, err: err}
		if err != nil {
			d.bufs.Put(bp)
			it.buf = nil
			d.pumpErr = err
		}
		select {
		case d.rxc <- it:
		case <-d.done:
			if err == nil {
				d.bufs.Put(bp)
				d.pumpErr = ErrClosed
			}
			return
		}
		if err != nil {
			return
		}
	}
}

// SendFrame transmits one complete Ethernet frame (NX_LINK_RAW_PACKET_SEND).
// It blocks while the link applies back-pressure and does not retain frame.
// Returns an error wrapping nx.ErrNotEnabled while disabled (the frame is
// dropped and counted in TxDropped), nx.ErrSize for a frame longer than
// MTU+14, or the link's error (counted in Errors). Safe for concurrent use.
func (d *Driver) SendFrame(frame []byte) error {
	if !d.enabled.Load() {
		d.txDropped.Add(1)
		return fmt.Errorf("driver %q: send: link disabled: %w", d.name, nx.ErrNotEnabled)
	}
	if len(frame) > d.maxFrame {
		d.errors.Add(1)
		return fmt.Errorf("driver %q: send: %d-byte frame exceeds MTU %d + 14: %w", d.name, len(frame), d.mtu, nx.ErrSize)
	}
	if err := d.link.WriteFrame(frame); err != nil {
		d.errors.Add(1)
		return fmt.Errorf("driver %q: send: %w", d.name, err)
	}
	d.txFrames.Add(1)
	d.txBytes.Add(uint64(len(frame)))
	return nil
}

// Send mirrors NX_LINK_PACKET_SEND: it transmits the chain pkt (a complete
// Ethernet frame, header included) as one frame, then releases it with
// TransmitRelease. Send always takes ownership of pkt, as a NetX driver
// does: on failure the packet is released too and the error is returned
// (the statuses of SendFrame, or nx.ErrPtr for a nil packet). A
// single-buffer packet is written without copying; a chain is gathered
// into one buffer first. Safe for concurrent use on distinct packets.
func (d *Driver) Send(pkt *packetpool.Packet) error {
	if pkt == nil {
		return fmt.Errorf("driver %q: send: nil packet: %w", d.name, nx.ErrPtr)
	}
	var err error
	n := pkt.Length()
	switch {
	case !d.enabled.Load():
		d.txDropped.Add(1)
		err = fmt.Errorf("driver %q: send: link disabled: %w", d.name, nx.ErrNotEnabled)
	case n > d.maxFrame:
		d.errors.Add(1)
		err = fmt.Errorf("driver %q: send: %d-byte frame exceeds MTU %d + 14: %w", d.name, n, d.mtu, nx.ErrSize)
	case pkt.Next() == nil:
		err = d.SendFrame(pkt.Bytes())
	default:
		bp := d.bufs.Get().(*[]byte)
		var m int
		if m, err = pkt.Retrieve((*bp)[:n]); err == nil {
			err = d.SendFrame((*bp)[:m])
		} else {
			d.errors.Add(1)
			err = fmt.Errorf("driver %q: send: %w", d.name, err)
		}
		d.bufs.Put(bp)
	}
	if rerr := pkt.TransmitRelease(); rerr != nil && err == nil {
		err = fmt.Errorf("driver %q: send: transmit release: %w", d.name, rerr)
	}
	return err
}

// MulticastJoin mirrors NX_LINK_MULTICAST_JOIN with a full MAC: it adds mac
// to the multicast table. Like NetX's RAM driver, every join takes an entry
// (the IP layer counts joins); a full table returns nx.ErrNoMoreEntries.
// A non-multicast mac returns nx.ErrInvalidParameters.
func (d *Driver) MulticastJoin(mac net.HardwareAddr) error {
	if len(mac) != 6 || mac[0]&1 == 0 {
		return fmt.Errorf("driver %q: multicast join %v: not a multicast MAC: %w", d.name, mac, nx.ErrInvalidParameters)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	for i := range d.mcast {
		if d.mcast[i] == [6]byte{} {
			d.mcast[i] = [6]byte(mac)
			d.nmc.Add(1)
			return nil
		}
	}
	return fmt.Errorf("driver %q: multicast join %v: %w", d.name, mac, nx.ErrNoMoreEntries)
}

// MulticastLeave mirrors NX_LINK_MULTICAST_LEAVE: it removes one entry for
// mac, or returns nx.ErrEntryNotFound.
func (d *Driver) MulticastLeave(mac net.HardwareAddr) error {
	if len(mac) == 6 {
		d.mu.Lock()
		defer d.mu.Unlock()
		for i := range d.mcast {
			if d.mcast[i] == [6]byte(mac) && mac[0]&1 != 0 {
				d.mcast[i] = [6]byte{}
				d.nmc.Add(-1)
				return nil
			}
		}
	}
	return fmt.Errorf("driver %q: multicast leave %v: %w", d.name, mac, nx.ErrEntryNotFound)
}

// ipv4MulticastMAC builds the MAC NetX passes for an IPv4 group:
// physical_address_msw 0x0100, lsw = arg (0x5E000000 | low 23 bits).
func ipv4MulticastMAC(lsw uint32) net.HardwareAddr {
	return net.HardwareAddr{0x01, 0x00, byte(lsw >> 24), byte(lsw >> 16), byte(lsw >> 8), byte(lsw)}
}

// DirectCommand mirrors nx_ip_driver_direct_command: it runs one NX_LINK_*
// command and returns the value NetX writes to *return_ptr. It never blocks
// (except inside Options.UserCommand). Supported commands:
//
//	LinkInitialize, LinkUninitialize   mark the driver (un)initialized; 0
//	LinkEnable, LinkDisable            start/stop passing frames; 0
//	LinkGetStatus                      1 when enabled and the link has carrier
//	LinkGetSpeed                       link speed in Mbit/s, 0 = unknown/unlimited
//	LinkGetDuplexType                  DuplexFull
//	LinkGetErrorCount                  Stats.Errors
//	LinkGetRxCount, LinkGetTxCount     Stats.RxFrames, Stats.TxFrames
//	LinkGetAllocErrors                 Stats.AllocErrors
//	LinkMulticastJoin/Leave            arg = physical_address_lsw of an IPv4
//	                                   group MAC (msw 0x0100 implied); see
//	                                   MulticastJoin for any MAC
//	LinkGetInterfaceType               InterfaceTypeEthernet
//	LinkDeferredProcessing             no-op; 0
//	>= LinkUserCommand                 Options.UserCommand
//
// Counters are truncated to 32 bits as NetX's ULONG is. Anything else,
// including the packet-send commands (use Send), returns
// nx.ErrUnhandledCommand. Safe for concurrent use.
func (d *Driver) DirectCommand(cmd Command, arg uint32) (uint32, error) {
	switch cmd {
	case LinkInitialize:
		d.initialized.Store(true)
		return 0, nil
	case LinkUninitialize:
		d.initialized.Store(false)
		d.enabled.Store(false)
		return 0, nil
	case LinkEnable:
		if !d.enabled.Swap(true) {
			d.log.Info("driver: enabled", "driver", d.name)
		}
		return 0, nil
	case LinkDisable:
		if d.enabled.Swap(false) {
			d.log.Info("driver: disabled", "driver", d.name)
		}
		return 0, nil
	case LinkGetStatus:
		if d.LinkUp() {
			return 1, nil
		}
		return 0, nil
	case LinkGetSpeed:
		if s, ok := d.link.(interface{ SpeedBitsPerSecond() int64 }); ok {
			return uint32(s.SpeedBitsPerSecond() / 1_000_000), nil
		}
		return 0, nil
	case LinkGetDuplexType:
		return DuplexFull, nil
	case LinkGetErrorCount:
		return uint32(d.errors.Load()), nil
	case LinkGetRxCount:
		return uint32(d.rxFrames.Load()), nil
	case LinkGetTxCount:
		return uint32(d.txFrames.Load()), nil
	case LinkGetAllocErrors:
		return uint32(d.allocErrors.Load()), nil
	case LinkMulticastJoin:
		return 0, d.MulticastJoin(ipv4MulticastMAC(arg))
	case LinkMulticastLeave:
		return 0, d.MulticastLeave(ipv4MulticastMAC(arg))
	case LinkGetInterfaceType:
		return InterfaceTypeEthernet, nil
	case LinkDeferredProcessing:
		return 0, nil
	}
	if cmd >= LinkUserCommand && d.userCmd != nil {
		return d.userCmd(cmd, arg)
	}
	return 0, fmt.Errorf("driver %q: direct command %v: %w", d.name, cmd, nx.ErrUnhandledCommand)
}

// Close closes the link (unblocking Receive and Send) and joins the
// driver's receive pump if one was started. Packets already returned by
// Receive stay valid and owned by their callers. It is idempotent and
// returns the link's close error.
func (d *Driver) Close() error {
	d.closeOnce.Do(func() {
		close(d.done)
		d.enabled.Store(false)
		d.closeErr = d.link.Close()
		d.pumpOnce.Do(func() {}) // no pump may start after this
		if d.pumpStarted.Load() {
			<-d.pumpDone // the closed link ends its ReadFrame
		}
		d.log.Info("driver: closed", "driver", d.name)
	})
	return d.closeErr
}
