// Package board boots one simboard board from one Options struct: the IP's
// default packet pool and the driver's receive pool (by packet count, or
// carved from a memory size as nx_packet_pool_create carves them), an
// Ethernet driver on a link (a port of a driver.Wire, a TAP, or any
// driver.Link the caller opened), an optional pcap capture, IPv4 and IPv6
// addresses and TCP options.
//
// It is the sequence a NetX Duo application runs at start-up:
//
//	nx_packet_pool_create(&pool, ...)      board.Options.Pool
//	nx_packet_pool_create(&rx_pool, ...)   board.Options.RxPool (the MAC driver's pool)
//	nx_ip_create(&ip, ..., &pool, driver)  board.New
//	nxd_ipv6_address_set / nx_ip_gateway_address_set   Options.Addr6, Options.Gateway
//	nx_ip_delete, nx_packet_pool_delete    (*Board).Close
//
// Start with New; read the board's parts from the Board's fields; end with
// Close, which joins every goroutine the board started and returns an error
// naming any pool that is not balanced (a packet not released, or an
// invalid release), so a prototype's leak is a failed run, not a silent
// one.
package board

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"sync"
	"time"

	"github.com/simboard/simboard/driver"
	"github.com/simboard/simboard/netstack"
	"github.com/simboard/simboard/nx"
	"github.com/simboard/simboard/packetpool"
)

// Defaults of a PoolOptions left at its zero value.
const (
	DefaultPayloadSize = 1536
	DefaultCount       = 256
)

// PoolOptions sizes one packet pool (nx_packet_pool_create). The zero value
// is DefaultCount packets of DefaultPayloadSize bytes.
type PoolOptions struct {
	// Name is the pool's name (nx_packet_pool_create's name). "" means
	// "<board>-pool" for Options.Pool and "<board>-rx" for Options.RxPool.
	Name string
	// PayloadSize is payload_size in bytes; 0 means DefaultPayloadSize.
	PayloadSize int
	// Count is the number of packets. 0 means DefaultCount, unless
	// MemorySize is set. Set Count or MemorySize, not both.
	Count int
	// MemorySize, when > 0, is nx_packet_pool_create's pool_size: the pool
	// holds the packets NetX Duo carves from that many bytes on a 32-bit
	// build (packetpool.NetXPacketCount); Pool.Carve reports the layout.
	MemorySize int
}

func (o PoolOptions) packetpool(name string, clk nx.Clock, debug bool) packetpool.Options {
	if o.Name != "" {
		name = o.Name
	}
	po := packetpool.Options{Name: name, PayloadSize: o.PayloadSize, Count: o.Count, MemorySize: o.MemorySize, Clock: clk, Debug: debug}
	if po.PayloadSize == 0 {
		po.PayloadSize = DefaultPayloadSize
	}
	if po.Count == 0 && po.MemorySize == 0 {
		po.Count = DefaultCount
	}
	return po
}

// Options describe one board. Exactly one of Wire, TAP and Link names the
// board's link; every other field may be left at its zero value.
type Options struct {
	// Name labels the board's pools ("<name>-pool", "<name>-rx"), driver,
	// IP and log lines. "" means "board".
	Name string

	// Pool sizes the IP's default pool (nx_ip_create's default_pool): the
	// packets applications allocate and TCP/UDP Receive return.
	Pool PoolOptions
	// RxPool sizes the driver's receive pool: every received frame is
	// copied into packets from it; when it is empty the frame is dropped
	// and counted as an allocation error, as a real MAC driver does.
	RxPool PoolOptions

	// Wire attaches the board to a new port of this Wire (a virtual cable
	// or switch; a Wire with an uplink reaches a TAP's kernel side too).
	// The board closes its port, not the Wire.
	Wire *driver.Wire
	// Port configures the Wire port (MAC, MTU, queue, impairments). Only
	// with Wire.
	Port driver.PortOptions
	// TAP, when non-nil, opens this TAP device (driver.OpenTAP) as the
	// board's link. The board closes it.
	TAP *driver.TAPOptions
	// Link is a link the caller already opened (e.g. a TAP opened inside a
	// network namespace). The board takes it: Close closes it, also when
	// New fails.
	Link driver.Link

	// Capture, when non-nil, receives every frame the board sends and
	// receives as pcap (LinkTypeEthernet), through a driver.Capture between
	// the driver and the link. The records are flushed by Close; read the
	// writer after that. The board does not close the writer.
	Capture io.Writer

	// Addr is the IPv4 address and prefix, e.g. 198.51.100.2/24. Zero
	// leaves the board without IPv4 (as before DHCP).
	Addr netip.Prefix
	// Gateway is the IPv4 default gateway; zero means none.
	Gateway netip.Addr
	// Addr6 is an optional global IPv6 address, e.g. 2001:db8::2/64. A
	// link-local address derived from the MAC is always added.
	Addr6 netip.Prefix
	// Gateway6 is the optional IPv6 default router.
	Gateway6 netip.Addr

	// TCP holds the TCP settings; the zero value is MCU-like (see
	// netstack.TCPOptions).
	TCP netstack.TCPOptions

	// Clock drives pools, capture timestamps, the driver and every wait
	// option. nil means nx.SystemClock.
	Clock nx.Clock
	// Rand is the IP's source of random choices (netstack.Options.Rand:
	// TCP initial sequence numbers, NX_ANY_PORT); nil means crypto/rand.
	Rand io.Reader
	// Debug records each outstanding packet's allocation site, so a leak
	// reported by Close names where the packet came from.
	Debug bool
	// Logger receives lifecycle events (Info) and drops (Warn). nil
	// discards.
	Logger *slog.Logger
}

// Board is a booted board. Its fields are set by New and must not be
// changed; the parts are safe for concurrent use as their own packages
// document. Close ends it.
type Board struct {
	// Name is Options.Name (or "board").
	Name string
	// IP is the board's IP instance (NX_IP).
	IP *netstack.IP
	// Pool is the IP's default pool; RxPool the driver's receive pool.
	Pool, RxPool *packetpool.Pool
	// Driver is the board's Ethernet driver.
	Driver *driver.Driver
	// Port is the board's Wire port, when Options.Wire was set.
	Port *driver.Port
	// TAP is the TAP device, when Options.TAP was set.
	TAP *driver.TAP
	// Capture is the pcap recorder, when Options.Capture was set.
	Capture *driver.Capture

	closeOnce sync.Once
	closeErr  error
}

// New boots a board: it creates both pools, opens or attaches the link,
// puts the capture in front of it, starts the driver and creates the IP
// (nx_packet_pool_create twice, then nx_ip_create). It does not block on
// the network and does not send anything until the IP's own start-up
// (IPv6 DAD, for instance).
//
// Errors: a link that is not exactly one of Wire, TAP or Link, or Port
// without Wire, wrap nx.ErrPtr; a bad pool size wraps nx.ErrSize; a bad
// address wraps nx.ErrIPAddress; a TAP that cannot be opened returns
// driver.OpenTAP's error. On error everything New started is closed again,
// including a caller's Link.
func New(opts Options) (*Board, error) {
	name := opts.Name
	if name == "" {
		name = "board"
	}
	n := 0
	for _, set := range []bool{opts.Wire != nil, opts.TAP != nil, opts.Link != nil} {
		if set {
			n++
		}
	}
	if n != 1 {
		if opts.Link != nil {
			_ = opts.Link.Close()
		}
		return nil, fmt.Errorf("board %q: need exactly one link (Wire, TAP or Link), have %d: %w", name, n, nx.ErrPtr)
	}
	if opts.Wire == nil && !portZero(opts.Port) {
		if opts.Link != nil {
			_ = opts.Link.Close()
		}
		return nil, fmt.Errorf("board %q: Port options without a Wire: %w", name, nx.ErrPtr)
	}
	b := &Board{Name: name}
	fail := func(link driver.Link, err error) (*Board, error) {
		if link != nil {
			_ = link.Close()
		}
		return nil, fmt.Errorf("board %q: %w", name, err)
	}
	var err error
	if b.Pool, err = packetpool.New(opts.Pool.packetpool(name+"-pool", opts.Clock, opts.Debug)); err != nil {
		return fail(opts.Link, err)
	}
	if b.RxPool, err = packetpool.New(opts.RxPool.packetpool(name+"-rx", opts.Clock, opts.Debug)); err != nil {
		return fail(opts.Link, err)
	}
	link := opts.Link
	switch {
	case opts.Wire != nil:
		po := opts.Port
		if po.Name == "" {
			po.Name = name
		}
		if b.Port, err = opts.Wire.Attach(po); err != nil {
			return fail(nil, err)
		}
		link = b.Port
	case opts.TAP != nil:
		to := *opts.TAP
		if to.Logger == nil {
			to.Logger = opts.Logger
		}
		if b.TAP, err = driver.OpenTAP(to); err != nil {
			return fail(nil, err)
		}
		link = b.TAP
	}
	if opts.Capture != nil {
		if b.Capture, err = driver.NewCapture(link, opts.Capture, driver.CaptureOptions{Clock: opts.Clock, Logger: opts.Logger}); err != nil {
			return fail(link, err)
		}
		link = b.Capture
	}
	if b.Driver, err = driver.New(driver.Options{Name: name, Link: link, RxPool: b.RxPool, Clock: opts.Clock, Logger: opts.Logger}); err != nil {
		return fail(link, err)
	}
	b.IP, err = netstack.New(netstack.Options{
		Name: name, Pool: b.Pool, Driver: b.Driver,
		Addr: opts.Addr, Gateway: opts.Gateway, Addr6: opts.Addr6, Gateway6: opts.Gateway6,
		TCP: opts.TCP, Clock: opts.Clock, Logger: opts.Logger, Rand: opts.Rand,
	})
	if err != nil {
		_ = b.Driver.Close() // closes the link (and capture) too
		return nil, fmt.Errorf("board %q: %w", name, err)
	}
	return b, nil
}

// Close mirrors nx_ip_delete followed by the driver's shutdown and the
// check an engineer makes before nx_packet_pool_delete: it closes the IP
// (joining its goroutines), then the driver and its link (joining the
// receive pump), flushes the capture, and checks both pools.
//
// It blocks until everything has stopped, and for up to a second more while
// packets held by exiting goroutines come back. The error joins the link's
// close error, a capture error, and one error per pool that is not balanced
// (free != total or invalid releases > 0), naming the pool, its counts and
// the outstanding packets (with allocation sites when Options.Debug). Close
// is idempotent: later calls return the first call's error. Packets the
// caller still holds count as leaks: release them first.
func (b *Board) Close() error {
	b.closeOnce.Do(func() {
		var errs []error
		if b.IP != nil {
			errs = append(errs, b.IP.Close())
		}
		if b.Driver != nil {
			errs = append(errs, b.Driver.Close())
		}
		if b.Capture != nil {
			errs = append(errs, b.Capture.Err())
		}
		for _, p := range []*packetpool.Pool{b.Pool, b.RxPool} {
			errs = append(errs, Balanced(p, time.Second))
		}
		b.closeErr = errors.Join(errs...)
	})
	return b.closeErr
}

// Balanced returns nil when every packet of p is free and no invalid
// release was counted, else an error naming the pool, its counts and the
// outstanding packets. It waits up to grace for packets still held by
// goroutines that are shutting down (polling every 5 ms); grace 0 checks
// once. It does not release anything.
func Balanced(p *packetpool.Pool, grace time.Duration) error {
	in := p.Info()
	for deadline := time.Now().Add(grace); in.Free != in.Total && time.Now().Before(deadline); in = p.Info() {
		time.Sleep(5 * time.Millisecond)
	}
	if in.Free == in.Total && in.InvalidReleases == 0 {
		return nil
	}
	msg := fmt.Sprintf("board: pool %q not balanced: %d of %d free, %d invalid releases", p.Name(), in.Free, in.Total, in.InvalidReleases)
	if leaks := p.Leaks(); len(leaks) > 0 {
		msg += "; outstanding:"
		for i, l := range leaks {
			if i == 8 {
				msg += fmt.Sprintf(" (and %d more)", len(leaks)-i)
				break
			}
			msg += " " + fmt.Sprint(l)
			if i < len(leaks)-1 && i < 7 {
				msg += ";"
			}
		}
	}
	return errors.New(msg)
}

func portZero(o driver.PortOptions) bool {
	return o.Name == "" && len(o.MAC) == 0 && o.MTU == 0 && o.QueueFrames == 0 && !o.DropWhenFull && o.Impairments().IsZero()
}
