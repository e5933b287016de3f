package dhcpc

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"

	"github.com/simboard/simboard/netstack"
	"github.com/simboard/simboard/nx"
	"github.com/simboard/simboard/packetpool"
)

// NetX's timing constants (nxd_dhcp_client.h), in ticks of nx.TicksPerSecond.
const (
	tick            = nx.TicksPerSecond      // NX_DHCP_TIME_INTERVAL: the client's timer period
	minRetrans      = 4 * nx.TicksPerSecond  // NX_DHCP_MIN_RETRANS_TIMEOUT
	maxRetrans      = 64 * nx.TicksPerSecond // NX_DHCP_MAX_RETRANS_TIMEOUT
	minRenew        = 60 * nx.TicksPerSecond // NX_DHCP_MIN_RENEW_TIMEOUT
	restartWait     = 10 * nx.TicksPerSecond // NX_DHCP_RESTART_WAIT
	queueDepth      = 4                      // NX_DHCP_QUEUE_DEPTH
	maxUserRequests = 4                      // NX_DHCP_CLIENT_MAX_USER_REQUEST_PARAMETER
	// PacketPayload is NX_DHCP_PACKET_PAYLOAD (576 + NX_PHYSICAL_HEADER).
	PacketPayload = 576 + 16
	// PoolCount is the number of packets of the client's own pool
	// (NX_DHCP_PACKET_POOL_SIZE / NX_DHCP_PACKET_PAYLOAD).
	PoolCount  = 5
	serverPort = 67 // NX_DHCP_SERVER_UDP_PORT
	clientPort = 68 // NX_DHCP_CLIENT_UDP_PORT
)

// defaultRequests is _nx_dhcp_request_parameters: subnet mask, router, DNS.
var defaultRequests = []dhcpv4.OptionCode{dhcpv4.OptionSubnetMask, dhcpv4.OptionRouter, dhcpv4.OptionDomainNameServer}

// Options configure a client (nx_dhcp_create and the compile-time options).
// Zero values are noted per field.
type Options struct {
	// IP is the board's IP instance. Required.
	IP *netstack.IP
	// Name is nx_dhcp_create's name, which NetX sends as the host name
	// (option 12) in DISCOVER and REQUEST. "" sends none; longer than 255
	// bytes is ErrInvalidName.
	Name string
	// Pool is nx_dhcp_packet_pool_set's pool. nil: the client creates its
	// own, PoolCount packets of PacketPayload bytes, as NetX does.
	Pool *packetpool.Pool
	// Clock drives the client's one-second timer. nil: the IP's clock.
	Clock nx.Clock
	// Rand is NX_RAND (transaction ID, ±1 s retransmission jitter). nil:
	// math/rand/v2.
	Rand func() uint32
	// RequestOptions are added to the parameter request list, as
	// nx_dhcp_user_option_request does (at most 4; e.g. 42 for NTP, 15 for
	// the domain name). Subnet mask, router and DNS are always requested.
	RequestOptions []uint8
	// RequestedAddress and SkipDiscover mirror nx_dhcp_request_client_ip:
	// ask for this address, and with SkipDiscover start with a REQUEST.
	RequestedAddress netip.Addr
	SkipDiscover     bool
	// ClearBroadcast mirrors nx_dhcp_clear_broadcast_flag: ask for unicast
	// replies. The zero value asks for broadcast replies, as NetX does. Until
	// it is BOUND the client then has the interface accept datagrams to any
	// address (netstack's AcceptAnyAddress), as NetX takes a reply unicast
	// to the offered address.
	ClearBroadcast bool
	// ARPProbe mirrors NX_DHCP_CLIENT_SEND_ARP_PROBE: probe the address
	// after the ACK and DECLINE it if another host answers. Off by default,
	// as in NetX. ProbeCount (0 = NX_DHCP_ARP_PROBE_NUM, 3) probes are sent
	// ProbeInterval (0 = 1 s) apart on the stack's timer.
	ARPProbe      bool
	ProbeCount    int
	ProbeInterval time.Duration
	// StateChange mirrors nx_dhcp_state_change_notify; it is called from the
	// client's goroutine with no lock held, so it may read the client (State,
	// Lease, Info), but must not call Stop, Release, Reinitialize or Close,
	// which wait for that goroutine.
	StateChange func(State)
	// Logger gets state changes (Info) and dropped or refused messages (Warn).
	// nil discards.
	Logger *slog.Logger
}

// Lease is what the client holds from its server: the values NetX keeps in
// its interface record, plus the options of the last OFFER or ACK.
type Lease struct {
	Addr    netip.Prefix // address and subnet mask
	Gateway netip.Addr   // router option; zero when absent
	Server  netip.Addr   // server identifier
	DNS     []netip.Addr // option 6
	NTP     []netip.Addr // option 42
	Domain  string       // option 15
	// LeaseTime, RenewalTime (T1) and RebindTime (T2); -1 for infinite.
	LeaseTime, RenewalTime, RebindTime time.Duration
}

// Info mirrors the counters of NX_DHCP_INTERFACE_RECORD.
type Info struct {
	State                                                     State
	DiscoveriesSent, RequestsSent, ReleasesSent, DeclinesSent uint64
	OffersReceived, AcksReceived, NacksReceived               uint64
	// InternalErrors counts packets the client could not allocate or send.
	InternalErrors uint64
	// Dropped counts replies refused by the checks (wrong XID or MAC,
	// malformed, a lease of 0 s, a bad address).
	Dropped uint64
}

// record mirrors NX_DHCP_INTERFACE_RECORD. Times are in ticks.
type record struct {
	state                              State
	xid                                uint32
	seconds                            uint32
	ip, mask, gateway, server          netip.Addr
	timeout, rtr                       uint32
	leaseTime, renewalTime, rebindTime uint32
	renewRemain, rebindRemain          uint32
	skipDiscovery                      bool
	dns, ntp                           []netip.Addr
	domain                             string
	options                            dhcpv4.Options
	everHeard                          bool
	lastErr                            error
	info                               Info
}

// Client mirrors NX_DHCP: one DHCP client on the board's interface, with its
// UDP socket on port 68, its packet pool and its thread. Safe for concurrent
// use. Lock order: Client.mu, then the IP's locks; StateChange is called with
// no lock held.
type Client struct {
	ip    *netstack.IP
	name  string
	pool  *packetpool.Pool
	clock nx.Clock
	rand  func() uint32
	mac   net.HardwareAddr
	log   *slog.Logger
	opts  Options
	reqs  []dhcpv4.OptionCode

	mu      sync.Mutex
	rec     record
	sock    *netstack.UDPSocket
	ctx     context.Context // the goroutines' context, from Start until halt
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	rx      chan *packetpool.Packet
	probe   chan error
	bound   chan struct{} // closed while the state is BOUND or later
	notify  func(State)
	pending []State
	closed  bool
}

// New mirrors nx_dhcp_create: it validates opts, creates the packet pool (if
// none is given) and the UDP socket, and leaves the client NOT_STARTED. It
// does not block. Errors: nx.ErrPtr (no IP), ErrInvalidName,
// nx.ErrNoMoreEntries (more than 4 RequestOptions), nx.ErrDuplicatedEntry,
// ErrInvalidIPRequest (a RequestedAddress that is not IPv4 unicast).
func New(opts Options) (*Client, error) {
	if opts.IP == nil {
		return nil, fmt.Errorf("dhcpc: no IP instance: %w", nx.ErrPtr)
	}
	if len(opts.Name) > 255 {
		return nil, fmt.Errorf("dhcpc: name of %d bytes: %w", len(opts.Name), ErrInvalidName)
	}
	if opts.RequestedAddress.IsValid() && !classABC(opts.RequestedAddress) {
		return nil, fmt.Errorf("dhcpc: requested address %v: %w", opts.RequestedAddress, ErrInvalidIPRequest)
	}
	c := &Client{ip: opts.IP, name: opts.Name, pool: opts.Pool, clock: opts.Clock, rand: opts.Rand, opts: opts,
		log: opts.Logger, notify: opts.StateChange, mac: opts.IP.Driver().MAC()}
	if len(c.mac) != 6 {
		return nil, fmt.Errorf("dhcpc: interface has no Ethernet address: %w", nx.ErrInvalidInterface)
	}
	c.reqs = append(c.reqs, defaultRequests...)
	for _, o := range opts.RequestOptions {
		for _, have := range c.reqs {
			if have.Code() == o {
				return nil, fmt.Errorf("dhcpc: option %d requested twice: %w", o, nx.ErrDuplicatedEntry)
			}
		}
		if len(c.reqs) >= len(defaultRequests)+maxUserRequests {
			return nil, fmt.Errorf("dhcpc: more than %d requested options: %w", maxUserRequests, nx.ErrNoMoreEntries)
		}
		c.reqs = append(c.reqs, dhcpv4.GenericOptionCode(o))
	}
	if c.clock == nil {
		c.clock = opts.IP.Clock()
	}
	if c.rand == nil {
		c.rand = rand.Uint32
	}
	if c.log == nil {
		c.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if c.pool == nil {
		p, err := packetpool.New(packetpool.Options{Name: "dhcp-pool", PayloadSize: PacketPayload, Count: PoolCount})
		if err != nil {
			return nil, fmt.Errorf("dhcpc: pool: %w", err)
		}
		c.pool = p
	}
	s, err := c.ip.UDPSocketCreate("dhcp")
	if err != nil {
		return nil, fmt.Errorf("dhcpc: %w", err)
	}
	c.sock = s
	c.bound = make(chan struct{})
	c.reinitLocked()
	mac := binary.BigEndian.Uint32(c.mac[2:]) ^ uint32(binary.BigEndian.Uint16(c.mac[:2]))
	c.rec.xid = mac ^ c.rand()
	if opts.RequestedAddress.IsValid() {
		c.rec.ip = opts.RequestedAddress
		c.rec.skipDiscovery = opts.SkipDiscover
	}
	return c, nil
}

// Pool returns the client's packet pool (its own unless Options.Pool was set).
func (c *Client) Pool() *packetpool.Pool { return c.pool }

// StateChangeNotify mirrors nx_dhcp_state_change_notify: fn (nil to remove)
// is called with each new state. It does not block.
func (c *Client) StateChangeNotify(fn func(State)) {
	c.mu.Lock()
	c.notify = fn
	c.mu.Unlock()
}

// State returns the current state. It does not block.
func (c *Client) State() State {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.rec.state
}

// Info returns the counters (nx_dhcp_interface_record's statistics).
func (c *Client) Info() Info {
	c.mu.Lock()
	defer c.mu.Unlock()
	in := c.rec.info
	in.State = c.rec.state
	return in
}

// Start mirrors nx_dhcp_start: it binds the UDP socket to port 68, starts the
// client's goroutines and enters INIT; the first DISCOVER goes out one second
// later, as in NetX. It does not block. Errors: ErrAlreadyStarted, the
// socket's bind status (nx.ErrPortUnavailable), nx.ErrNotEnabled after Close.
func (c *Client) Start() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return fmt.Errorf("dhcpc: start: %w", nx.ErrNotEnabled)
	}
	if c.rec.state != StateNotStarted {
		c.mu.Unlock()
		return fmt.Errorf("dhcpc: start: %w", ErrAlreadyStarted)
	}
	if c.cancel == nil {
		if err := c.sock.Bind(context.Background(), clientPort, nx.NoWait); err != nil {
			c.mu.Unlock()
			return fmt.Errorf("dhcpc: start: %w", err)
		}
		if err := c.sock.BroadcastEnable(); err != nil {
			_ = c.sock.Unbind()
			c.mu.Unlock()
			return fmt.Errorf("dhcpc: start: %w", err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		c.ctx, c.cancel = ctx, cancel
		c.rx = make(chan *packetpool.Packet, queueDepth)
		c.probe = make(chan error, 1)
		c.wg.Add(2)
		go c.receiver(ctx)
		go c.thread(ctx)
	}
	c.rec.state = StateInit
	c.rec.timeout = tick
	c.rec.rtr = 0
	c.unicastRepliesLocked(true)
	c.queueLocked()
	c.mu.Unlock()
	c.flush()
	return nil
}

// unicastRepliesLocked lets the interface take replies unicast to an address
// it does not hold yet, while the client is not bound and asked for unicast
// replies (ClearBroadcast).
func (c *Client) unicastRepliesLocked(on bool) {
	if !c.opts.ClearBroadcast {
		return
	}
	if err := c.ip.AcceptAnyAddress(on); err != nil {
		c.log.Warn("dhcp unicast replies", "on", on, "err", err)
	}
}

// Stop mirrors nx_dhcp_stop: the state goes to NOT_STARTED, the goroutines
// are joined, queued packets released and the socket unbound. The address
// stays on the interface, as in NetX. It blocks until the goroutines end.
// Errors: ErrNotStarted.
func (c *Client) Stop() error {
	c.mu.Lock()
	if c.rec.state == StateNotStarted && c.cancel == nil {
		c.mu.Unlock()
		return fmt.Errorf("dhcpc: stop: %w", ErrNotStarted)
	}
	was := c.rec.state
	c.setStateLocked(StateNotStarted)
	if was != StateNotStarted {
		c.queueLocked()
	}
	c.mu.Unlock()
	c.halt()
	c.flush()
	return nil
}

// halt stops and joins the goroutines, releases queued packets and unbinds.
func (c *Client) halt() {
	c.mu.Lock()
	cancel := c.cancel
	c.cancel = nil
	c.mu.Unlock()
	if cancel == nil {
		return
	}
	cancel()
	c.wg.Wait()
	c.mu.Lock()
	c.unicastRepliesLocked(false)
	c.mu.Unlock()
	for {
		select {
		case p := <-c.rx:
			_ = p.Release()
			continue
		default:
		}
		break
	}
	_ = c.sock.Unbind()
}

// Release mirrors nx_dhcp_release: it sends a DHCPRELEASE to the server
// (unicast, from the leased address), removes the address and gateway from
// the IP instance, stops the client and leaves it NOT_STARTED. It blocks
// until the goroutines end. Errors: ErrNotBound (before BOUND).
func (c *Client) Release() error {
	c.mu.Lock()
	if c.rec.state < StateBound || c.rec.state == StateAddressProbing {
		c.mu.Unlock()
		return fmt.Errorf("dhcpc: release: %w", ErrNotBound)
	}
	// The address goes right after the send: resolve the server first so
	// the RELEASE does not wait for an ARP reply to an address we dropped.
	_, _ = c.ip.ARPResolve(context.Background(), c.rec.server, nx.Seconds(1))
	err := c.sendLocked(dhcpv4.MessageTypeRelease)
	c.reinitLocked()
	c.queueLocked()
	c.mu.Unlock()
	c.halt()
	c.flush()
	if err != nil {
		return fmt.Errorf("dhcpc: release: %w", err)
	}
	return nil
}

// Decline mirrors nx_dhcp_decline: it sends a DHCPDECLINE for the leased
// address, clears it and restarts from INIT after NX_DHCP_RESTART_WAIT
// (10 s). It does not block. Errors: ErrNotBound.
func (c *Client) Decline() error {
	c.mu.Lock()
	if c.rec.state < StateBound {
		c.mu.Unlock()
		return fmt.Errorf("dhcpc: decline: %w", ErrNotBound)
	}
	c.declineLocked(nil)
	c.mu.Unlock()
	c.flush()
	return nil
}

// ForceRenew mirrors nx_dhcp_force_renew: a BOUND client enters RENEWING
// at once and sends its REQUEST to the server, then follows the renewal
// schedule. It does not block. Errors: ErrNotBound.
func (c *Client) ForceRenew() error {
	c.mu.Lock()
	r := &c.rec
	if r.state < StateBound || r.state == StateAddressProbing || c.cancel == nil {
		c.mu.Unlock()
		return fmt.Errorf("dhcpc: force renew: %w", ErrNotBound)
	}
	c.setStateLocked(StateRenewing)
	_ = c.sendLocked(dhcpv4.MessageTypeRequest)
	r.renewRemain = r.rebindTime - r.renewalTime
	r.timeout = updateRenewalTimeout(r.renewRemain)
	r.rtr = r.timeout
	c.queueLocked()
	c.mu.Unlock()
	c.flush()
	return nil
}

// Reinitialize mirrors nx_dhcp_reinitialize: it clears the address, mask and
// gateway from the IP instance (when they are the leased ones), forgets the
// lease and stops the client (NOT_STARTED). Start begins again. It blocks
// until the goroutines end.
func (c *Client) Reinitialize() error {
	c.mu.Lock()
	was := c.rec.state
	c.reinitLocked()
	if was != StateNotStarted {
		c.queueLocked()
	}
	c.mu.Unlock()
	c.halt()
	c.flush()
	return nil
}

// Close mirrors nx_dhcp_delete: it stops the client and deletes its socket.
// The address stays on the interface. Idempotent; returns nil.
func (c *Client) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	if c.rec.state != StateNotStarted {
		c.setStateLocked(StateNotStarted)
	}
	c.mu.Unlock()
	c.halt()
	_ = c.sock.Delete()
	return nil
}

// Lease returns the lease the client holds. It does not block. Errors:
// ErrNotBound before the first ACK (and while probing the address).
func (c *Client) Lease() (Lease, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.rec.state < StateBound || c.rec.state == StateAddressProbing {
		return Lease{}, fmt.Errorf("dhcpc: lease: state %v: %w", c.rec.state, ErrNotBound)
	}
	return c.leaseLocked(), nil
}

func (c *Client) leaseLocked() Lease {
	r := &c.rec
	return Lease{
		Addr:    netip.PrefixFrom(r.ip, prefixBits(r.ip, r.mask)),
		Gateway: r.gateway, Server: r.server,
		DNS: append([]netip.Addr(nil), r.dns...), NTP: append([]netip.Addr(nil), r.ntp...), Domain: r.domain,
		LeaseTime: ticksDur(r.leaseTime), RenewalTime: ticksDur(r.renewalTime), RebindTime: ticksDur(r.rebindTime),
	}
}

func ticksDur(t uint32) time.Duration {
	if t == infinite {
		return -1
	}
	return time.Duration(t) * nx.TickDuration
}

func prefixBits(ip, mask netip.Addr) int {
	if mask.IsValid() {
		if b, ok := maskBits(mask); ok {
			return b
		}
	}
	return classMask(ip)
}

// ServerAddressGet mirrors nx_dhcp_server_address_get. Errors: ErrNotBound.
func (c *Client) ServerAddressGet() (netip.Addr, error) {
	l, err := c.Lease()
	return l.Server, err
}

// UserOptionRetrieve mirrors nx_dhcp_user_option_retrieve: the raw bytes of
// option code from the server's last OFFER or ACK. NetX converts the
// address-list options to host-order ULONGs; use UserOptionConvert for that.
// It does not block. Errors: ErrNotBound, ErrParse (the server sent no such
// option).
func (c *Client) UserOptionRetrieve(code uint8) ([]byte, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.rec.state < StateBound || c.rec.state == StateAddressProbing {
		return nil, fmt.Errorf("dhcpc: option %d: %w", code, ErrNotBound)
	}
	v, ok := c.rec.options[code]
	if !ok {
		return nil, fmt.Errorf("dhcpc: option %d not sent by the server: %w", code, ErrParse)
	}
	return append([]byte(nil), v...), nil
}

// UserOptionConvert mirrors nx_dhcp_user_option_convert: the first four
// bytes of b as a host-order value (0 when shorter).
func UserOptionConvert(b []byte) uint32 {
	if len(b) < 4 {
		return 0
	}
	return binary.BigEndian.Uint32(b)
}

// WaitBound blocks until the client is BOUND (the address applied), wait
// runs out or ctx is done, and returns the lease. It is the Go form of the
// nx_ip_status_check(NX_IP_ADDRESS_RESOLVED) loop of NetX's DHCP demo.
// Errors: ErrNoResponse when no server answered at all, ErrNotBound otherwise
// (wrapping the last refusal: a NAK, an invalid lease, an address in use),
// nx.ErrWaitAborted when ctx is done.
func (c *Client) WaitBound(ctx context.Context, wait nx.Wait) (Lease, error) {
	c.mu.Lock()
	ch := c.bound
	c.mu.Unlock()
	err := nx.Await(ctx, c.clock, wait, ch, nx.ErrNotSuccessful)
	c.mu.Lock()
	defer c.mu.Unlock()
	if err == nil && c.rec.state >= StateBound && c.rec.state != StateAddressProbing {
		return c.leaseLocked(), nil
	}
	if errors.Is(err, nx.ErrWaitAborted) {
		return Lease{}, fmt.Errorf("dhcpc: wait bound: %w", err)
	}
	if !c.rec.everHeard {
		return Lease{}, fmt.Errorf("dhcpc: no server answered (state %v, %d DISCOVERs sent): %w",
			c.rec.state, c.rec.info.DiscoveriesSent, ErrNoResponse)
	}
	if c.rec.lastErr != nil {
		return Lease{}, fmt.Errorf("dhcpc: not bound (state %v): %w; last refusal: %w", c.rec.state, ErrNotBound, c.rec.lastErr)
	}
	return Lease{}, fmt.Errorf("dhcpc: not bound (state %v): %w", c.rec.state, ErrNotBound)
}

// setStateLocked changes the state, records it for StateChange and keeps the
// bound channel in step.
func (c *Client) setStateLocked(s State) {
	if c.rec.state == s {
		return
	}
	old := c.rec.state
	c.rec.state = s
	isBound := s >= StateBound && s != StateAddressProbing
	wasBound := old >= StateBound && old != StateAddressProbing
	if isBound && !wasBound {
		close(c.bound)
	} else if !isBound && wasBound {
		c.bound = make(chan struct{})
	}
	c.log.Info("dhcp state", "from", old.String(), "to", s.String())
}

// queueLocked records the current state for the StateChange callback.
func (c *Client) queueLocked() { c.pending = append(c.pending, c.rec.state) }

// flush calls StateChange for the queued states, outside the lock.
func (c *Client) flush() {
	c.mu.Lock()
	p, fn := c.pending, c.notify
	c.pending = nil
	c.mu.Unlock()
	if fn == nil {
		return
	}
	for _, s := range p {
		fn(s)
	}
}

// reinitLocked mirrors _nx_dhcp_interface_reinitialize.
func (c *Client) reinitLocked() {
	r := &c.rec
	if r.ip.IsValid() && c.ip.InterfaceAddressGet().Addr() == r.ip {
		_ = c.ip.InterfaceAddressSet(netip.Prefix{})
	}
	if r.gateway.IsValid() {
		if gw, err := c.ip.GatewayAddressGet(); err == nil && gw == r.gateway {
			_ = c.ip.GatewayAddressClear()
		}
	}
	r.ip, r.server, r.gateway, r.mask = netip.Addr{}, netip.Addr{}, netip.Addr{}, netip.Addr{}
	r.skipDiscovery = false
	r.rebindTime, r.renewalTime = 0, 0
	r.leaseTime = infinite
	r.seconds, r.timeout, r.rtr = 0, 0, 0
	r.dns, r.ntp, r.domain, r.options = nil, nil, "", nil
	c.setStateLocked(StateNotStarted)
}

// receiver moves datagrams from the socket to the thread (the socket's
// receive notify plus NX_DHCP_CLIENT_RECEIVE_EVENT in NetX).
func (c *Client) receiver(ctx context.Context) {
	defer c.wg.Done()
	for {
		pkt, _, err := c.sock.Receive(ctx, nx.WaitForever)
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, nx.ErrNotBound) {
				return
			}
			continue
		}
		select {
		case c.rx <- pkt:
		case <-ctx.Done():
			_ = pkt.Release()
			return
		}
	}
}

// thread is _nx_dhcp_thread_entry: packets, the one-second timer, and the
// result of an ARP probe.
func (c *Client) thread(ctx context.Context) {
	defer c.wg.Done()
	t := c.clock.NewTimer(time.Second)
	defer func() { t.Stop() }()
	for {
		select {
		case <-ctx.Done():
			return
		case pkt := <-c.rx:
			c.mu.Lock()
			c.processLocked(pkt)
			c.mu.Unlock()
		case <-t.C():
			c.mu.Lock()
			c.timeoutLocked(ctx)
			c.mu.Unlock()
			t = c.clock.NewTimer(time.Second)
		case err := <-c.probe:
			c.mu.Lock()
			c.probeDoneLocked(err)
			c.mu.Unlock()
		}
		c.flush()
	}
}

// processLocked is _nx_dhcp_packet_process: copy the datagram into a DHCP
// pool packet, release the original, check it and act on it.
func (c *Client) processLocked(pkt *packetpool.Packet) {
	n := pkt.Length()
	cp, err := c.pool.Allocate(context.Background(), packetpool.UDPPacket, nx.NoWait)
	if err != nil {
		c.rec.info.InternalErrors++
		_ = pkt.Release()
		return
	}
	if n > c.pool.PayloadSize() {
		c.rec.info.Dropped++
		c.log.Warn("dhcp reply larger than the DHCP packet payload dropped", "bytes", n)
		_ = cp.Release()
		_ = pkt.Release()
		return
	}
	buf := make([]byte, n)
	_, _ = pkt.ExtractOffset(0, buf)
	_ = cp.Append(context.Background(), buf, c.pool, nx.NoWait)
	_ = pkt.Release()
	defer func() { _ = cp.Release() }()
	if c.rec.state == StateBound || c.rec.state == StateNotStarted || c.rec.state == StateInit || c.rec.state == StateAddressProbing {
		return // silently discarded, RFC 2131 figure 5
	}
	r, err := parseReply(cp.Bytes(), c.mac, c.rec.xid)
	if err != nil {
		c.rec.info.Dropped++
		if !errors.Is(err, ErrBadXID) && !errors.Is(err, ErrBadMACAddress) {
			c.rec.everHeard = true
			c.rec.lastErr = err
		}
		c.log.Warn("dhcp reply dropped", "err", err)
		return
	}
	c.rec.everHeard = true
	old := c.rec.state
	switch c.rec.state {
	case StateSelecting:
		if r.typ != dhcpv4.MessageTypeOffer {
			return
		}
		c.rec.info.OffersReceived++
		c.extractLocked(r)
		_ = c.sendLocked(dhcpv4.MessageTypeRequest)
		c.rec.rtr = minRetrans
		c.rec.timeout = c.randomize(c.rec.rtr)
		c.setStateLocked(StateRequesting)
	case StateRequesting, StateRenewing, StateRebinding:
		switch r.typ {
		case dhcpv4.MessageTypeAck:
			c.rec.info.AcksReceived++
			c.extractLocked(r)
			if old == StateRequesting && c.opts.ARPProbe {
				c.setStateLocked(StateAddressProbing)
				c.startProbeLocked()
				break
			}
			c.bindLocked()
		case dhcpv4.MessageTypeNak:
			c.rec.info.NacksReceived++
			c.rec.lastErr = fmt.Errorf("dhcpc: server %v sent DHCPNAK %q in state %v", r.server, r.msg, old)
			c.log.Warn("dhcp NAK", "server", r.server, "msg", r.msg, "state", old.String())
			c.restartLocked(tick)
		}
	}
	if c.rec.state != old {
		c.queueLocked()
	}
}

// extractLocked is _nx_dhcp_extract_information for a checked reply.
func (c *Client) extractLocked(r *reply) {
	rec := &c.rec
	rec.ip = r.yiaddr
	if r.mask.IsValid() {
		rec.mask = r.mask
	}
	if r.server.IsValid() {
		rec.server = r.server
	}
	if r.hasT {
		if r.lease == infinite {
			rec.leaseTime, rec.renewalTime, rec.rebindTime = infinite, infinite, infinite
		} else {
			rec.leaseTime = secTicks(r.lease)
			rec.renewalTime = rec.leaseTime / 2
			rec.rebindTime = rec.leaseTime - rec.leaseTime/8
		}
	}
	if r.hasT1 && (r.t1 == infinite || secTicks(r.t1) <= rec.leaseTime) {
		if r.t1 == infinite {
			rec.renewalTime = infinite
		} else {
			rec.renewalTime = secTicks(r.t1)
		}
	}
	if r.hasT2 {
		if r.t2 == infinite {
			rec.rebindTime = infinite
		} else if v := secTicks(r.t2); v <= rec.leaseTime && v >= rec.renewalTime {
			rec.rebindTime = v
		}
	}
	if r.router.IsValid() && rec.state != StateSelecting {
		rec.gateway = r.router
	}
	rec.dns, rec.ntp, rec.domain = r.dns, r.ntp, r.domain
	rec.options = r.options
}

func secTicks(s uint32) uint32 {
	v := uint64(s) * nx.TicksPerSecond
	if v >= infinite {
		return infinite - 1
	}
	return uint32(v)
}

// bindLocked applies the lease to the IP instance and enters BOUND with the
// renewal (T1) timeout.
func (c *Client) bindLocked() {
	rec := &c.rec
	p := netip.PrefixFrom(rec.ip, prefixBits(rec.ip, rec.mask))
	if err := c.ip.InterfaceAddressSet(p); err != nil {
		rec.info.InternalErrors++
		c.log.Warn("dhcp address set", "err", err)
	}
	if rec.gateway.IsValid() {
		if err := c.ip.GatewayAddressSet(rec.gateway); err != nil {
			rec.info.InternalErrors++
			c.log.Warn("dhcp gateway set", "err", err)
		}
	}
	rec.timeout = rec.renewalTime
	rec.lastErr = nil
	c.unicastRepliesLocked(false)
	c.setStateLocked(StateBound)
}

// restartLocked reinitializes and re-enters INIT after timeout ticks, as a
// NAK, an expired lease and a DECLINE do.
func (c *Client) restartLocked(timeout uint32) {
	c.reinitLocked()
	c.rec.state = StateNotStarted
	c.setStateLocked(StateInit)
	c.rec.timeout = timeout
	c.rec.rtr = 0
	c.unicastRepliesLocked(true)
}

// declineLocked is _nx_dhcp_interface_decline (also run on an ARP conflict).
func (c *Client) declineLocked(cause error) {
	_ = c.sendLocked(dhcpv4.MessageTypeDecline)
	if cause != nil {
		c.rec.lastErr = cause
	}
	c.restartLocked(restartWait)
	c.queueLocked()
}

func (c *Client) startProbeLocked() {
	addr := c.rec.ip
	n, iv := c.opts.ProbeCount, c.opts.ProbeInterval
	if n <= 0 {
		n = 3 // NX_DHCP_ARP_PROBE_NUM
	}
	if iv <= 0 {
		iv = time.Second // NX_DHCP_ARP_PROBE_MIN
	}
	ip, ch, ctx := c.ip, c.probe, c.ctx
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		// Stop cancels ctx, which ends the probe.
		_, err := ip.ARPProbe(ctx, addr, n, iv)
		select {
		case ch <- err:
		case <-ctx.Done():
		}
	}()
}

func (c *Client) probeDoneLocked(err error) {
	if c.rec.state != StateAddressProbing {
		return
	}
	if err != nil {
		c.rec.info.Dropped++
		cause := fmt.Errorf("dhcpc: offered address %v is in use (ARP probe): %w: %w", c.rec.ip, ErrBadIPAddress, err)
		c.log.Warn("dhcp address conflict", "addr", c.rec.ip, "err", err)
		c.declineLocked(cause)
		return
	}
	c.bindLocked()
	c.queueLocked()
}

// randomize is _nx_dhcp_add_randomize: ±1 s, never below one tick.
func (c *Client) randomize(t uint32) uint32 {
	adj := c.rand() % (2*nx.TicksPerSecond + 1)
	if adj < nx.TicksPerSecond {
		d := nx.TicksPerSecond - adj
		if t > d {
			return t - d
		}
		return 1
	}
	return t + (adj - nx.TicksPerSecond)
}

// updateTimeout is _nx_dhcp_update_timeout: double, up to 64 s.
func updateTimeout(t uint32) uint32 {
	if 2*t >= maxRetrans {
		return maxRetrans
	}
	return 2 * t
}

// updateRenewalTimeout is _nx_dhcp_update_renewal_timeout: halve the time
// left, but not below 60 s (or what is left when that is less).
func updateRenewalTimeout(t uint32) uint32 {
	if t != 0 && t > minRenew {
		if t > 2*minRenew {
			return t / 2
		}
		return minRenew
	}
	return t
}

// timeoutLocked is _nx_dhcp_timeout_process, run once a second.
func (c *Client) timeoutLocked(ctx context.Context) {
	r := &c.rec
	if r.state == StateNotStarted {
		return
	}
	r.seconds++
	if r.timeout == 0 {
		return
	}
	if r.timeout > tick {
		r.timeout -= tick
		return
	}
	r.timeout = 0
	old := r.state
	switch r.state {
	case StateInit:
		r.seconds = 0
		if r.ip.IsValid() && r.skipDiscovery {
			_ = c.sendLocked(dhcpv4.MessageTypeRequest)
			c.setStateLocked(StateRequesting)
		} else {
			_ = c.sendLocked(dhcpv4.MessageTypeDiscover)
			c.setStateLocked(StateSelecting)
		}
		if r.rtr == 0 {
			r.rtr = minRetrans
		} else {
			r.rtr = updateTimeout(r.rtr)
		}
		r.timeout = c.randomize(r.rtr)
	case StateSelecting:
		_ = c.sendLocked(dhcpv4.MessageTypeDiscover)
		r.rtr = updateTimeout(r.rtr)
		r.timeout = c.randomize(r.rtr)
	case StateRequesting:
		_ = c.sendLocked(dhcpv4.MessageTypeRequest)
		r.rtr = updateTimeout(r.rtr)
		r.timeout = c.randomize(r.rtr)
	case StateBound:
		r.seconds = 0
		c.setStateLocked(StateRenewing)
		_ = c.sendLocked(dhcpv4.MessageTypeRequest)
		r.renewRemain = r.rebindTime - r.renewalTime
		r.timeout = updateRenewalTimeout(r.renewRemain)
		r.rtr = r.timeout
	case StateRenewing:
		if r.renewRemain >= r.rtr {
			r.renewRemain -= r.rtr
		} else {
			r.renewRemain = 0
		}
		r.timeout = updateRenewalTimeout(r.renewRemain)
		if r.timeout == 0 {
			c.setStateLocked(StateRebinding)
			_ = c.sendLocked(dhcpv4.MessageTypeRequest)
			r.rebindRemain = r.leaseTime - r.rebindTime
			r.timeout = updateRenewalTimeout(r.rebindRemain)
		} else {
			_ = c.sendLocked(dhcpv4.MessageTypeRequest)
		}
		r.rtr = r.timeout
	case StateRebinding:
		if r.rebindRemain >= r.rtr {
			r.rebindRemain -= r.rtr
		} else {
			r.rebindRemain = 0
		}
		r.timeout = updateRenewalTimeout(r.rebindRemain)
		if r.timeout == 0 {
			// The lease expired: give the address back and start over.
			r.lastErr = fmt.Errorf("dhcpc: lease on %v expired without an ACK: %w", r.ip, ErrNotBound)
			c.log.Warn("dhcp lease expired", "addr", r.ip)
			c.restartLocked(tick)
		} else {
			_ = c.sendLocked(dhcpv4.MessageTypeRequest)
			r.rtr = r.timeout
		}
	}
	if r.state != old {
		c.queueLocked()
	}
}

// sendLocked is _nx_dhcp_send_request_internal: build the message with
// dhcpv4, put it in a DHCP pool packet and send it (from 0.0.0.0 before the
// client is BOUND). A failed send releases the packet.
func (c *Client) sendLocked(t dhcpv4.MessageType) error {
	r := &c.rec
	var xid dhcpv4.TransactionID
	binary.BigEndian.PutUint32(xid[:], r.xid)
	mods := []dhcpv4.Modifier{
		dhcpv4.WithHwAddr(c.mac), dhcpv4.WithTransactionID(xid), dhcpv4.WithMessageType(t),
	}
	m, err := dhcpv4.New(mods...)
	if err != nil {
		r.info.InternalErrors++
		c.log.Warn("dhcp build", "type", t.String(), "err", err)
		return fmt.Errorf("dhcpc: build %v: %v: %w", t, err, ErrGeneral)
	}
	if t != dhcpv4.MessageTypeDecline && t != dhcpv4.MessageTypeRelease {
		m.NumSeconds = uint16(min(r.seconds, 0xFFFF))
		if !c.opts.ClearBroadcast {
			m.SetBroadcast()
		}
	}
	hasAddr := r.ip.IsValid() && !r.ip.IsUnspecified()
	host := func() {
		if c.name != "" {
			m.UpdateOption(dhcpv4.OptHostName(c.name))
		}
	}
	switch t {
	case dhcpv4.MessageTypeDiscover:
		if hasAddr {
			m.UpdateOption(dhcpv4.OptRequestedIPAddress(r.ip.AsSlice()))
		}
		m.UpdateOption(dhcpv4.OptGeneric(dhcpv4.OptionIPAddressLeaseTime, []byte{0xFF, 0xFF, 0xFF, 0xFF}))
		host()
		m.UpdateOption(dhcpv4.OptParameterRequestList(c.reqs...))
		r.info.DiscoveriesSent++
	case dhcpv4.MessageTypeRequest:
		host()
		renewing := r.state == StateRenewing || r.state == StateRebinding
		if hasAddr && !renewing {
			m.UpdateOption(dhcpv4.OptRequestedIPAddress(r.ip.AsSlice()))
		}
		if r.rebindTime == 0 || r.renewalTime == 0 {
			m.UpdateOption(dhcpv4.OptGeneric(dhcpv4.OptionIPAddressLeaseTime, []byte{0xFF, 0xFF, 0xFF, 0xFF}))
		}
		if !renewing && r.server.IsValid() {
			m.UpdateOption(dhcpv4.OptServerIdentifier(r.server.AsSlice()))
		} else if renewing {
			m.ClientIPAddr = r.ip.AsSlice()
		}
		m.UpdateOption(dhcpv4.OptParameterRequestList(c.reqs...))
		r.info.RequestsSent++
	case dhcpv4.MessageTypeDecline:
		if hasAddr {
			m.UpdateOption(dhcpv4.OptRequestedIPAddress(r.ip.AsSlice()))
		}
		if r.server.IsValid() {
			m.UpdateOption(dhcpv4.OptServerIdentifier(r.server.AsSlice()))
		}
		r.info.DeclinesSent++
	case dhcpv4.MessageTypeRelease:
		m.ClientIPAddr = r.ip.AsSlice()
		if r.server.IsValid() {
			m.UpdateOption(dhcpv4.OptServerIdentifier(r.server.AsSlice()))
		}
		r.info.ReleasesSent++
	}
	b := m.ToBytes()
	pkt, err := c.pool.Allocate(context.Background(), packetpool.UDPPacket, nx.NoWait)
	if err != nil {
		r.info.InternalErrors++
		c.log.Warn("dhcp send: no packet", "type", t.String(), "err", err)
		return fmt.Errorf("dhcpc: send %v: %w", t, err)
	}
	if err := pkt.Append(context.Background(), b, c.pool, nx.NoWait); err != nil {
		_ = pkt.Release()
		r.info.InternalErrors++
		c.log.Warn("dhcp send: append", "type", t.String(), "err", err)
		return fmt.Errorf("dhcpc: send %v: %w", t, err)
	}
	zero := t == dhcpv4.MessageTypeDiscover || (t == dhcpv4.MessageTypeRequest && r.state < StateBound) ||
		(t == dhcpv4.MessageTypeDecline && !c.ip.InterfaceAddressGet().IsValid())
	switch {
	case zero:
		err = c.sock.SendZeroSource(context.Background(), pkt, serverPort)
	case (t == dhcpv4.MessageTypeRequest && r.state == StateRenewing) || t == dhcpv4.MessageTypeRelease:
		err = c.sock.Send(context.Background(), pkt, netip.AddrPortFrom(r.server, serverPort))
	default:
		err = c.sock.Send(context.Background(), pkt, netip.AddrPortFrom(netip.AddrFrom4([4]byte{255, 255, 255, 255}), serverPort))
	}
	if err != nil {
		_ = pkt.Release()
		r.info.InternalErrors++
		c.log.Warn("dhcp send failed", "type", t.String(), "err", err)
		return fmt.Errorf("dhcpc: send %v: %w", t, err)
	}
	c.log.Debug("dhcp sent", "type", t.String(), "bytes", len(b))
	return nil
}
