package netstack

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"sync"
	"time"

	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/link/ethernet"
	"gvisor.dev/gvisor/pkg/tcpip/network/arp"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv4"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv6"
	"gvisor.dev/gvisor/pkg/tcpip/stack"
	"gvisor.dev/gvisor/pkg/tcpip/transport/icmp"
	"gvisor.dev/gvisor/pkg/tcpip/transport/tcp"
	"gvisor.dev/gvisor/pkg/tcpip/transport/udp"

	"github.com/simboard/simboard/driver"
	"github.com/simboard/simboard/nx"
	"github.com/simboard/simboard/packetpool"
)

const nicID tcpip.NICID = 1

// TCPOptions are the board-wide TCP settings. The zero value gives the
// documented MCU-like defaults: an MCU has tens of kilobytes for TCP, not
// gVisor's 1 MiB buffers, so the board behaves like one.
type TCPOptions struct {
	// SendBufferSize is the bytes a socket may have in flight (sent, not yet
	// acknowledged) inside the stack. 0 means 64 KiB.
	SendBufferSize int
	// DefaultWindow is the receive window for sockets created with window 0.
	// 0 means 64 KiB. TCPSocketCreate's window overrides it per socket.
	DefaultWindow int
	// DisableSACK turns selective acknowledgements off (on by default, as in
	// NetX Duo with NX_TCP_ENABLE_SACK... and in this gVisor pin).
	DisableSACK bool
	// RACK turns on gVisor's RACK-TLP loss detection (RFC 8985: time-based
	// loss marking and tail-loss probes). Off by default: NetX Duo has no
	// RACK and no tail-loss probe, only its retransmission timer and fast
	// retransmit with fast recovery after three duplicate ACKs
	// (nx_tcp_socket_state_ack_check.c), which is what gVisor does with
	// RACK off. RACK also misjudges very small round-trip times (gVisor
	// #6113): on a virtual-time Wire a burst's first ACK took tens of
	// microseconds and its tail, queued behind it on the line, was then
	// "lost" and sent again.
	RACK bool
	// MaxTxQueue is NX_TCP_MAXIMUM_TX_QUEUE: packets a socket holds until
	// acknowledged before Send reports NX_TX_QUEUE_DEPTH. 0 means 20.
	MaxTxQueue int
	// MinRTO is the minimum retransmission timeout. 0 keeps gVisor's 200 ms.
	MinRTO time.Duration
	// MaxRetries is how many times one segment is retransmitted before the
	// connection times out and dies (NX_TCP_MAXIMUM_RETRIES, 10 in NetX
	// Duo); its transmit queue then goes back to the pool at once. 0 keeps
	// gVisor's 15.
	MaxRetries int
	// TimeWait is how long a connection the board closed first stays in
	// TIME_WAIT (2MSL; NetX Duo: 2 x NX_TCP_MAXIMUM_SEGMENT_LIFETIME =
	// 240 s). 0 keeps gVisor's 60 s.
	TimeWait time.Duration
}

func (o TCPOptions) withDefaults() TCPOptions {
	if o.SendBufferSize <= 0 {
		o.SendBufferSize = 64 << 10
	}
	if o.DefaultWindow <= 0 {
		o.DefaultWindow = 64 << 10
	}
	if o.MaxTxQueue <= 0 {
		o.MaxTxQueue = 20
	}
	return o
}

// Options configure an IP instance (NX_IP). Zero values are noted per field.
type Options struct {
	// Name labels logs and errors. "" means "ip".
	Name string
	// Pool is the IP's default packet pool (nx_ip_create's default_pool):
	// TCP and UDP Receive return packets from it. Required.
	Pool *packetpool.Pool
	// Driver is the board's Ethernet driver. Required. The IP owns its
	// receive loop from New until Close, but does not close it.
	Driver *driver.Driver
	// Addr is the IPv4 address and prefix, e.g. 198.51.100.2/24. The zero
	// value leaves the board without IPv4 (as 0.0.0.0 before DHCP).
	Addr netip.Prefix
	// Gateway is the IPv4 default gateway; zero means none.
	Gateway netip.Addr
	// Addr6 is an optional global IPv6 address, e.g. 2001:db8::2/64.
	// A link-local address derived from the MAC is always added.
	Addr6 netip.Prefix
	// Gateway6 is the optional IPv6 default router.
	Gateway6 netip.Addr
	// TCP holds the TCP settings; the zero value is MCU-like (see TCPOptions).
	TCP TCPOptions
	// Clock drives every wait option. nil means nx.SystemClock. A clock
	// that also implements nx.FuncClock (other than nx.SystemClock, e.g. a
	// sim.Clock) drives gVisor's own timers too.
	Clock nx.Clock
	// Logger receives lifecycle events (Info) and drops (Warn). nil discards.
	Logger *slog.Logger
	// Rand, when set, is the source of every random choice of this IP:
	// gVisor's secure RNG (TCP initial sequence numbers and timestamp
	// offsets) and its other generator, and the NX_ANY_PORT choice of
	// ClientBind, so the same bytes give the same choices (package sim uses
	// it for reproducible runs). It is read under a lock, at New and then
	// as the stack needs. nil means crypto/rand (different every run).
	Rand io.Reader
}

// IP mirrors NX_IP: one interface on one driver, with ARP, ICMP, TCP and UDP
// enabled, backed by a gVisor stack. It is safe for concurrent use.
//
// Lock order: IP.mu, then TCPSocket.mu, then ackTracker.mu.
type IP struct {
	name   string
	pool   *packetpool.Pool
	drv    *driver.Driver
	clock  nx.Clock
	seq    bool // clock is sequencing a simulation (nx.Sequencer): wakeups are posted
	log    *slog.Logger
	tcpOpt TCPOptions
	addrMu sync.RWMutex // guards addr, which InterfaceAddressSet changes
	addr   netip.Prefix
	addr6  netip.Prefix

	stack *stack.Stack
	link  *linkEP
	acks  *ackTracker
	reap  *reaper // releases a dead connection's transmit queue at once
	// linger holds endpoints still closing after their socket let go.
	linger lingering

	cancel context.CancelFunc
	wg     sync.WaitGroup
	// portN picks the NX_ANY_PORT search start (rand.IntN unless
	// Options.Rand); called with mu held.
	portN func(n int) int

	mu     sync.Mutex
	closed bool
	ports  map[uint16]*TCPSocket // client-bound TCP ports
	// bindWaiters are the sockets whose ClientBind waits for a taken port,
	// with that port (NetX's bind suspension lists).
	bindWaiters map[*TCPSocket]uint16
	listeners   map[uint16]*listener
	udpPorts    map[uint16]*UDPSocket
}

// New mirrors nx_ip_create followed by nx_arp_enable, nx_icmp_enable,
// nx_tcp_enable and nx_udp_enable: it builds the stack, attaches the driver
// and starts the receive and transmit loops. It does not block.
//
// Errors wrap nx.ErrPtr (missing pool or driver) or nx.ErrIPAddress (an
// address gVisor refuses).
func New(opts Options) (*IP, error) {
	name := opts.Name
	if name == "" {
		name = "ip"
	}
	if opts.Pool == nil {
		return nil, fmt.Errorf("netstack: ip %q: no default pool: %w", name, nx.ErrPtr)
	}
	if opts.Driver == nil {
		return nil, fmt.Errorf("netstack: ip %q: no driver: %w", name, nx.ErrPtr)
	}
	if opts.Addr.IsValid() && !opts.Addr.Addr().Is4() {
		return nil, fmt.Errorf("netstack: ip %q: Addr %v is not IPv4: %w", name, opts.Addr, nx.ErrIPAddress)
	}
	if opts.Addr6.IsValid() && !opts.Addr6.Addr().Is6() {
		return nil, fmt.Errorf("netstack: ip %q: Addr6 %v is not IPv6: %w", name, opts.Addr6, nx.ErrIPAddress)
	}
	clk := opts.Clock
	if clk == nil {
		clk = nx.SystemClock
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	tcpOpt := opts.TCP.withDefaults()

	rnd, err := newRandom(opts.Rand)
	if err != nil {
		return nil, fmt.Errorf("netstack: ip %q: Rand: %w", name, err)
	}
	s := stack.New(stack.Options{
		Clock:              stackClock(clk),
		SecureRNG:          rnd.secure,
		RandSource:         rnd.source,
		NetworkProtocols:   []stack.NetworkProtocolFactory{ipv4.NewProtocol, ipv6.NewProtocol, arp.NewProtocol},
		TransportProtocols: []stack.TransportProtocolFactory{tcp.NewProtocol, udp.NewProtocol, icmp.NewProtocol4, icmp.NewProtocol6},
	})
	sack := tcpip.TCPSACKEnabled(!tcpOpt.DisableSACK)
	s.SetTransportProtocolOption(tcp.ProtocolNumber, &sack)
	snd := tcpip.TCPSendBufferSizeRangeOption{Min: 4096, Default: tcpOpt.SendBufferSize, Max: tcpOpt.SendBufferSize}
	s.SetTransportProtocolOption(tcp.ProtocolNumber, &snd)
	rcv := tcpip.TCPReceiveBufferSizeRangeOption{Min: 4096, Default: tcpOpt.DefaultWindow, Max: max(tcpOpt.DefaultWindow, 4<<20)}
	s.SetTransportProtocolOption(tcp.ProtocolNumber, &rcv)
	if !tcpOpt.RACK {
		rec := tcpip.TCPRecovery(0)
		s.SetTransportProtocolOption(tcp.ProtocolNumber, &rec)
	}
	mod := tcpip.TCPModerateReceiveBufferOption(false)
	s.SetTransportProtocolOption(tcp.ProtocolNumber, &mod)
	if tcpOpt.MinRTO > 0 {
		rto := tcpip.TCPMinRTOOption(tcpOpt.MinRTO)
		s.SetTransportProtocolOption(tcp.ProtocolNumber, &rto)
	}
	if tcpOpt.MaxRetries > 0 {
		mr := tcpip.TCPMaxRetriesOption(tcpOpt.MaxRetries)
		s.SetTransportProtocolOption(tcp.ProtocolNumber, &mr)
	}
	if tcpOpt.TimeWait > 0 {
		tw := tcpip.TCPTimeWaitTimeoutOption(tcpOpt.TimeWait)
		s.SetTransportProtocolOption(tcp.ProtocolNumber, &tw)
	}

	acks := newAckTracker()
	link := newLinkEP(opts.Driver, acks)
	link.seq = nx.Sequencing(clk)
	if err := s.CreateNIC(nicID, ethernet.New(link)); err != nil {
		s.Close()
		s.Wait()
		return nil, fmt.Errorf("netstack: ip %q: create nic: %w", name, translate(err))
	}
	if err := s.SetNUDConfigurations(nicID, ipv4.ProtocolNumber, arpNUD()); err != nil {
		s.Close()
		s.Wait()
		return nil, fmt.Errorf("netstack: ip %q: arp timing: %w", name, translate(err))
	}
	var routes []tcpip.Route
	if opts.Addr.IsValid() {
		pa := tcpip.ProtocolAddress{
			Protocol: ipv4.ProtocolNumber,
			AddressWithPrefix: tcpip.AddressWithPrefix{
				Address:   tcpip.AddrFrom4(opts.Addr.Addr().As4()),
				PrefixLen: opts.Addr.Bits(),
			},
		}
		if err := s.AddProtocolAddress(nicID, pa, stack.AddressProperties{}); err != nil {
			s.Close()
			s.Wait()
			return nil, fmt.Errorf("netstack: ip %q: address %v: %w", name, opts.Addr, nx.ErrIPAddress)
		}
		routes = append(routes, tcpip.Route{Destination: pa.AddressWithPrefix.Subnet(), NIC: nicID})
		if opts.Gateway.IsValid() {
			routes = append(routes, tcpip.Route{Destination: header4Any(), Gateway: tcpip.AddrFrom4(opts.Gateway.As4()), NIC: nicID})
		}
	}
	mac := opts.Driver.MAC()
	if len(mac) == 6 {
		ll := linkLocal(mac)
		s.AddProtocolAddress(nicID, tcpip.ProtocolAddress{Protocol: ipv6.ProtocolNumber, AddressWithPrefix: ll.WithPrefix()}, stack.AddressProperties{})
	}
	if opts.Addr6.IsValid() {
		pa := tcpip.ProtocolAddress{
			Protocol: ipv6.ProtocolNumber,
			AddressWithPrefix: tcpip.AddressWithPrefix{
				Address:   tcpip.AddrFrom16(opts.Addr6.Addr().As16()),
				PrefixLen: opts.Addr6.Bits(),
			},
		}
		if err := s.AddProtocolAddress(nicID, pa, stack.AddressProperties{}); err != nil {
			s.Close()
			s.Wait()
			return nil, fmt.Errorf("netstack: ip %q: address %v: %w", name, opts.Addr6, nx.ErrIPAddress)
		}
		routes = append(routes, tcpip.Route{Destination: pa.AddressWithPrefix.Subnet(), NIC: nicID})
		if opts.Gateway6.IsValid() {
			routes = append(routes, tcpip.Route{Destination: header6Any(), Gateway: tcpip.AddrFrom16(opts.Gateway6.As16()), NIC: nicID})
		}
	}
	// Link-local IPv6 route.
	routes = append(routes, tcpip.Route{Destination: fe80Subnet(), NIC: nicID})
	s.SetRouteTable(routes)

	ctx, cancel := context.WithCancel(context.Background())
	ip := &IP{
		name: name, pool: opts.Pool, drv: opts.Driver, clock: clk, seq: link.seq, log: log,
		tcpOpt: tcpOpt, addr: opts.Addr, addr6: opts.Addr6,
		stack: s, link: link, acks: acks, reap: newReaper(), cancel: cancel, portN: rnd.intN,
		ports:       make(map[uint16]*TCPSocket),
		bindWaiters: make(map[*TCPSocket]uint16),
		listeners:   make(map[uint16]*listener),
		udpPorts:    make(map[uint16]*UDPSocket),
	}
	link.post = ip.post
	rxq := make(chan *packetpool.Packet, rxDeferDepth)
	ip.wg.Add(4)
	go func() { defer ip.wg.Done(); link.rxLoop(ctx, rxq) }()
	go func() { defer ip.wg.Done(); link.ipThread(rxq) }()
	go func() { defer ip.wg.Done(); link.txLoop() }()
	go func() { defer ip.wg.Done(); ip.reap.loop(ctx) }()
	log.Info("ip created", "ip", name, "addr", opts.Addr, "addr6", opts.Addr6, "mac", mac.String())
	return ip, nil
}

// Close mirrors nx_ip_delete: it aborts every socket (releasing the packets
// they hold), stops the stack and joins the IP's goroutines. A connection
// that is still live is reset (RST); one in TIME_WAIT after a completed FIN
// exchange ends quietly, with nothing on the wire. It does not
// close the driver. Close is idempotent and returns nil.
func (ip *IP) Close() error {
	ip.mu.Lock()
	if ip.closed {
		ip.mu.Unlock()
		return nil
	}
	ip.closed = true
	var socks []*TCPSocket
	for _, s := range ip.ports { // one port per socket
		socks = append(socks, s)
	}
	var lis []*listener
	for _, l := range ip.listeners {
		lis = append(lis, l)
	}
	var udps []*UDPSocket
	for _, u := range ip.udpPorts {
		udps = append(udps, u)
	}
	ip.mu.Unlock()

	for _, l := range lis {
		l.close()
	}
	for _, s := range socks {
		s.abort(nx.ErrNotConnected)
	}
	for _, u := range udps {
		u.close()
	}
	// A connection in TIME_WAIT has finished its FIN exchange: end it
	// without the RST the stack's close would send (NetX's nx_ip_delete
	// sends nothing). Live connections were reset above.
	ip.linger.endAllTimeWait(ip.link)
	ip.stack.Close()
	ip.link.closeTx()
	ip.cancel()
	ip.wg.Wait()
	ip.stack.Wait()
	ip.log.Info("ip deleted", "ip", ip.name)
	return nil
}

// Name returns the IP instance's name.
func (ip *IP) Name() string { return ip.name }

// Pool returns the default packet pool.
func (ip *IP) Pool() *packetpool.Pool { return ip.pool }

// Driver returns the IP's driver.
func (ip *IP) Driver() *driver.Driver { return ip.drv }

// Clock returns the clock every wait of this IP runs on.
func (ip *IP) Clock() nx.Clock { return ip.clock }

// Addr returns the IPv4 address and prefix (zero when none).
func (ip *IP) Addr() netip.Prefix { return ip.addrGet() }

func (ip *IP) addrGet() netip.Prefix {
	ip.addrMu.RLock()
	defer ip.addrMu.RUnlock()
	return ip.addr
}

func (ip *IP) addrSet(p netip.Prefix) {
	ip.addrMu.Lock()
	ip.addr = p
	ip.addrMu.Unlock()
}

// Addr6 returns the global IPv6 address and prefix (zero when none).
func (ip *IP) Addr6() netip.Prefix { return ip.addr6 }

// Info mirrors nx_ip_info_get, plus the link adapter's counters.
type Info struct {
	PacketsSent, BytesSent         uint64
	PacketsReceived, BytesReceived uint64
	InvalidPackets                 uint64
	ReceivePacketsDropped          uint64
	ReceiveChecksumErrors          uint64
	SendPacketsDropped             uint64
	// FragmentsSent and FragmentsReceived stay 0: the board does not
	// fragment (NetX without NX_ENABLE_IP_PACKET_FILTER... fragmentation off).
	FragmentsSent, FragmentsReceived  uint64
	TCPConnections, TCPResetsReceived uint64
	TCPRetransmits, TCPSegmentsSent   uint64
	TCPSegmentsReceived, TCPTimeouts  uint64
	ICMPEchoRequestsReceived          uint64
	ICMPEchoRepliesSent               uint64
	ARPRequestsSent, ARPRepliesSent   uint64
	ARPRequestsReceived               uint64
	ARPResponsesReceived              uint64 // nx_arp_info_get's arp_responses_received
	NeighborSolicitsSent              uint64 // IPv6 neighbor solicitations (NetX: ND cache requests)
	NeighborAdvertsReceived           uint64 // IPv6 neighbor advertisements received
	LinkTxFrames, LinkRxFrames        uint64
	LinkTxBackpressure, LinkErrors    uint64 // LinkErrors: the driver's read and write failures
}

// Info returns the IP counters (nx_ip_info_get). It does not block.
func (ip *IP) Info() Info {
	st := ip.stack.Stats()
	var in Info
	in.PacketsSent = st.IP.PacketsSent.Value()
	in.PacketsReceived = st.IP.PacketsReceived.Value()
	in.InvalidPackets = st.IP.MalformedPacketsReceived.Value() + st.IP.InvalidDestinationAddressesReceived.Value() + st.IP.InvalidSourceAddressesReceived.Value()
	in.ReceivePacketsDropped = st.IP.PacketsReceived.Value() - st.IP.PacketsDelivered.Value()
	in.ReceiveChecksumErrors = st.TCP.ChecksumErrors.Value() + st.UDP.ChecksumErrors.Value()
	in.SendPacketsDropped = st.IP.OutgoingPacketErrors.Value()
	in.TCPConnections = st.TCP.ActiveConnectionOpenings.Value() + st.TCP.PassiveConnectionOpenings.Value()
	in.TCPResetsReceived = st.TCP.ResetsReceived.Value()
	in.TCPRetransmits = st.TCP.Retransmits.Value()
	in.TCPSegmentsSent = st.TCP.SegmentsSent.Value()
	in.TCPSegmentsReceived = st.TCP.ValidSegmentsReceived.Value()
	in.TCPTimeouts = st.TCP.Timeouts.Value()
	in.ICMPEchoRequestsReceived = st.ICMP.V4.PacketsReceived.EchoRequest.Value() + st.ICMP.V6.PacketsReceived.EchoRequest.Value()
	in.ICMPEchoRepliesSent = st.ICMP.V4.PacketsSent.EchoReply.Value() + st.ICMP.V6.PacketsSent.EchoReply.Value()
	in.ARPRequestsSent = st.ARP.OutgoingRequestsSent.Value()
	in.ARPRepliesSent = st.ARP.OutgoingRepliesSent.Value()
	in.ARPRequestsReceived = st.ARP.RequestsReceived.Value()
	in.ARPResponsesReceived = st.ARP.RepliesReceived.Value()
	in.NeighborSolicitsSent = st.ICMP.V6.PacketsSent.NeighborSolicit.Value()
	in.NeighborAdvertsReceived = st.ICMP.V6.PacketsReceived.NeighborAdvert.Value()
	ds := ip.drv.Stats()
	in.BytesSent, in.BytesReceived = ds.TxBytes, ds.RxBytes
	in.LinkTxFrames, in.LinkRxFrames = ds.TxFrames, ds.RxFrames
	in.LinkErrors = ds.Errors
	in.LinkTxBackpressure = ip.link.txBlocked.Load()
	return in
}

// Status bits for StatusCheck (nx_ip_status_check, common/inc/nx_api.h).
const (
	InitializeDone       uint32 = 0x001 // NX_IP_INITIALIZE_DONE
	AddressResolved      uint32 = 0x002 // NX_IP_ADDRESS_RESOLVED
	LinkEnabled          uint32 = 0x004 // NX_IP_LINK_ENABLED
	ARPEnabled           uint32 = 0x008 // NX_IP_ARP_ENABLED
	UDPEnabled           uint32 = 0x010 // NX_IP_UDP_ENABLED
	TCPEnabled           uint32 = 0x020 // NX_IP_TCP_ENABLED
	IGMPEnabled          uint32 = 0x040 // NX_IP_IGMP_ENABLED
	RARPComplete         uint32 = 0x080 // NX_IP_RARP_COMPLETE
	InterfaceLinkEnabled uint32 = 0x100 // NX_IP_INTERFACE_LINK_ENABLED
	allStatusBits               = 0x1FF
)

func (ip *IP) currentStatus() uint32 {
	st := InitializeDone | ARPEnabled | UDPEnabled | TCPEnabled
	if ip.addrGet().IsValid() || ip.addr6.IsValid() {
		st |= AddressResolved
	}
	if up, err := ip.drv.DirectCommand(driver.LinkGetStatus, 0); err == nil && up != 0 {
		st |= LinkEnabled | InterfaceLinkEnabled
	} else if errors.Is(err, nx.ErrUnhandledCommand) && ip.drv.Link().LinkUp() {
		st |= LinkEnabled | InterfaceLinkEnabled
	}
	return st
}

// StatusCheck mirrors nx_ip_status_check: it polls every tick until all the
// needed bits are set, or the wait runs out. It returns the bits it saw last
// and nil, nx.ErrNotSuccessful (timeout), nx.ErrOption (unknown bits) or
// nx.ErrWaitAborted (ctx cancelled). Safe for concurrent use.
func (ip *IP) StatusCheck(ctx context.Context, needed uint32, wait nx.Wait) (uint32, error) {
	if needed&^allStatusBits != 0 || needed == 0 {
		return 0, fmt.Errorf("netstack: ip %q: status check 0x%X: %w", ip.name, needed, nx.ErrOption)
	}
	deadline := deadlineOf(ip.clock, wait)
	for {
		actual := ip.currentStatus() & needed
		if actual == needed {
			return actual, nil
		}
		step := nx.Ticks(1)
		if !deadline.forever {
			rem := deadline.remaining(ip.clock)
			if rem == nx.NoWait {
				return actual, nx.ErrNotSuccessful
			}
			step = min(step, rem)
		}
		if err := nx.Await(ctx, ip.clock, step, nil, nx.ErrNotSuccessful); errors.Is(err, nx.ErrWaitAborted) {
			return actual, err
		}
	}
}

// DirectCommand mirrors nx_ip_driver_direct_command: it forwards an NX_LINK_*
// command to the driver and returns its result.
func (ip *IP) DirectCommand(cmd driver.Command, arg uint32) (uint32, error) {
	return ip.drv.DirectCommand(cmd, arg)
}

// deadline turns a wait option into an absolute time on a clock, so loops
// that wait several times still honour the caller's total wait.
type deadline struct {
	forever bool
	at      time.Time
}

func deadlineOf(clk nx.Clock, w nx.Wait) deadline {
	if w == nx.WaitForever {
		return deadline{forever: true}
	}
	return deadline{at: clk.Now().Add(w.Duration())}
}

// remaining returns the wait left, NoWait once it has passed.
func (d deadline) remaining(clk nx.Clock) nx.Wait {
	if d.forever {
		return nx.WaitForever
	}
	return nx.FromDuration(d.at.Sub(clk.Now()))
}

// NetX ARP timing (common/inc/nx_api.h defaults; nx_arp_periodic_update.c
// runs once per IP periodic interval, NX_IP_PERIODIC_RATE = 1 s).
const (
	// arpUpdateRate is NX_ARP_UPDATE_RATE (10 periodic intervals): the time
	// between ARP requests for an unresolved address.
	arpUpdateRate = 10 * time.Second
	// arpMaximumRetries is NX_ARP_MAXIMUM_RETRIES: requests sent again
	// after the first before the entry is abandoned and its queued packets
	// released.
	arpMaximumRetries = 18
	// arpNeverExpires stands for NX_ARP_EXPIRATION_RATE = 0 (a resolved
	// entry never expires): longer than any run, short enough that gVisor's
	// random factor cannot overflow a time.Duration.
	arpNeverExpires = 100 * 365 * 24 * time.Hour
)

// arpNUD is the IPv4 neighbour (ARP) configuration that mirrors NetX's ARP
// instead of gVisor's RFC 4861 defaults (a request a second, 3 requests,
// entries stale after 15-45 s):
//
//   - an unresolved address gets a request at once, then one every
//     NX_ARP_UPDATE_RATE (10 s), NX_ARP_MAXIMUM_RETRIES (18) times: 19
//     requests, given up 190 s after the first (NetX's periodic phase
//     makes its retries 9-10 s apart). gVisor's 3 s would give up on a
//     peer 2 s away each way before its first reply arrives;
//   - a resolved entry stays reachable (NX_ARP_EXPIRATION_RATE = 0: no
//     expiry), so no re-confirmation probes are sent while it is in use;
//     the reachable time is not randomised.
//
// What stays gVisor's: an entry is learnt from a request received (NetX
// does too), packets waiting for resolution queue in gVisor (NetX queues
// NX_ARP_MAX_QUEUE_DEPTH = 4 per entry), and IPv6 neighbour discovery
// keeps RFC 4861 timing (NetX Duo's nx_nd_cache.h defaults are the same).
func arpNUD() stack.NUDConfigurations {
	c := stack.DefaultNUDConfigurations()
	c.RetransmitTimer = arpUpdateRate
	c.MaxMulticastProbes = 1 + arpMaximumRetries
	c.BaseReachableTime = arpNeverExpires
	c.MinRandomFactor, c.MaxRandomFactor = 1, 1
	return c
}
