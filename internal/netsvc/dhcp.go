package netsvc

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"

	"github.com/simboard/simboard/netstack"
	"github.com/simboard/simboard/nx"
	"github.com/simboard/simboard/packetpool"
)

// DHCPFault is an injected DHCP server misbehaviour, for the client's
// bad-input tests and for the demo.
type DHCPFault int

const (
	// DHCPNoFault serves leases normally.
	DHCPNoFault DHCPFault = iota
	// DHCPSilent reads every request and answers none (a server that never
	// answers, or one that is gone during renewal).
	DHCPSilent
	// DHCPZeroLease offers and acknowledges leases of 0 s.
	DHCPZeroLease
	// DHCPNAK offers normally but answers every REQUEST with a DHCPNAK.
	DHCPNAK
)

// DHCPOptions configure a DHCP server on a peer board. Zero values are noted
// per field.
type DHCPOptions struct {
	// IP is the peer board's IP instance; its address is the server
	// identifier and its prefix the clients' subnet mask. Required.
	IP *netstack.IP
	// First and Last bound the address range. Zero: .100 to .199 of the
	// server's /24.
	First, Last netip.Addr
	// Router, DNS and NTP are sent as options 3, 6 and 42 when set; Domain
	// as option 15.
	Router netip.Addr
	DNS    []netip.Addr
	NTP    []netip.Addr
	Domain string
	// LeaseTime is option 51. Zero: one hour. T1 and T2 (options 58, 59)
	// are sent only when set.
	LeaseTime, T1, T2 time.Duration
	// Offer, when set, is offered to every client whatever the range holds
	// (to offer an address another host already uses).
	Offer netip.Addr
	// Fault injects a misbehaviour; SetFault changes it at run time.
	Fault DHCPFault
	// Logger receives each message (Debug) and refusals (Warn). nil discards.
	Logger *slog.Logger
}

// DHCPStats counts what a DHCP server saw and sent.
type DHCPStats struct {
	Discovers, Requests, Releases, Declines, Informs uint64
	Offers, Acks, Naks                               uint64
	Malformed, Ignored                               uint64
}

// DHCPServer is a DHCPv4 server (RFC 2131) on a peer board's UDP port 67.
// Messages are decoded and built with github.com/insomniacslk/dhcp/dhcpv4;
// Reply is the server's handler, in the spirit of its server4.Handler, but
// the serve loop is ours: server4.Server runs each handler in a goroutine it
// never joins, and needs a kernel socket. Safe for concurrent use; Close
// stops and joins the serve goroutine.
type DHCPServer struct {
	ip   *netstack.IP
	sock *netstack.UDPSocket
	log  *slog.Logger
	opts DHCPOptions
	self netip.Addr
	bits int

	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu       sync.Mutex
	fault    DHCPFault
	leases   map[string]netip.Addr // client MAC -> address
	declined map[netip.Addr]bool
	stats    DHCPStats
	closed   bool
}

// StartDHCP binds UDP port 67 on opts.IP and starts serving. It does not
// block. Errors: nx.ErrPtr (no IP), nx.ErrIPAddress (the peer has no IPv4
// address, or a range outside its subnet), the socket's bind status.
func StartDHCP(opts DHCPOptions) (*DHCPServer, error) {
	if opts.IP == nil {
		return nil, fmt.Errorf("netsvc: dhcp server: no IP instance: %w", nx.ErrPtr)
	}
	pfx := opts.IP.Addr()
	if !pfx.IsValid() {
		return nil, fmt.Errorf("netsvc: dhcp server: the peer board has no IPv4 address: %w", nx.ErrIPAddress)
	}
	if !opts.First.IsValid() || !opts.Last.IsValid() {
		b := pfx.Masked().Addr().As4()
		b[3] = 100
		opts.First = netip.AddrFrom4(b)
		b[3] = 199
		opts.Last = netip.AddrFrom4(b)
	}
	if !pfx.Contains(opts.First) || !pfx.Contains(opts.Last) || opts.Last.Less(opts.First) {
		return nil, fmt.Errorf("netsvc: dhcp server: range %v-%v is not in %v: %w", opts.First, opts.Last, pfx, nx.ErrIPAddress)
	}
	if opts.LeaseTime == 0 {
		opts.LeaseTime = time.Hour
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	s, err := opts.IP.UDPSocketCreate("dhcp-server")
	if err != nil {
		return nil, fmt.Errorf("netsvc: dhcp server: %w", err)
	}
	if err := s.Bind(context.Background(), 67, nx.NoWait); err != nil {
		_ = s.Delete()
		return nil, fmt.Errorf("netsvc: dhcp server: %w", err)
	}
	if err := s.BroadcastEnable(); err != nil {
		_ = s.Unbind()
		_ = s.Delete()
		return nil, fmt.Errorf("netsvc: dhcp server: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	srv := &DHCPServer{ip: opts.IP, sock: s, log: log, opts: opts, self: pfx.Addr(), bits: pfx.Bits(),
		cancel: cancel, fault: opts.Fault, leases: map[string]netip.Addr{}, declined: map[netip.Addr]bool{}}
	srv.wg.Add(1)
	go srv.serve(ctx)
	return srv, nil
}

// SetFault changes the injected misbehaviour. It does not block.
func (s *DHCPServer) SetFault(f DHCPFault) {
	s.mu.Lock()
	s.fault = f
	s.mu.Unlock()
}

// Stats returns the counters.
func (s *DHCPServer) Stats() DHCPStats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stats
}

// Leases returns the addresses handed out, by client MAC.
func (s *DHCPServer) Leases() map[string]netip.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]netip.Addr, len(s.leases))
	for k, v := range s.leases {
		out[k] = v
	}
	return out
}

// Close stops serving, joins the serve goroutine and deletes the socket.
// Idempotent; returns nil.
func (s *DHCPServer) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.mu.Unlock()
	s.cancel()
	s.wg.Wait()
	_ = s.sock.Unbind()
	_ = s.sock.Delete()
	return nil
}

func (s *DHCPServer) serve(ctx context.Context) {
	defer s.wg.Done()
	buf := make([]byte, 1500)
	for {
		pkt, _, err := s.sock.Receive(ctx, nx.WaitForever)
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, nx.ErrNotBound) {
				return
			}
			continue
		}
		n, _ := pkt.ExtractOffset(0, buf)
		_ = pkt.Release()
		m, err := dhcpv4.FromBytes(buf[:n])
		if err != nil || m.OpCode != dhcpv4.OpcodeBootRequest {
			s.mu.Lock()
			s.stats.Malformed++
			s.mu.Unlock()
			s.log.Warn("dhcp server: malformed request dropped", "err", err)
			continue
		}
		resp := s.Reply(m)
		if resp == nil {
			continue
		}
		dst := netip.AddrPortFrom(netip.AddrFrom4([4]byte{255, 255, 255, 255}), 68)
		if ci, ok := netip.AddrFromSlice(m.ClientIPAddr.To4()); ok && !ci.IsUnspecified() {
			dst = netip.AddrPortFrom(ci, 68)
		}
		s.send(ctx, resp.ToBytes(), dst)
	}
}

func (s *DHCPServer) send(ctx context.Context, b []byte, dst netip.AddrPort) {
	pool := s.ip.Pool()
	pkt, err := pool.Allocate(ctx, packetpool.UDPPacket, nx.Seconds(1))
	if err != nil {
		s.log.Warn("dhcp server: no packet for the reply", "err", err)
		return
	}
	if err := pkt.Append(ctx, b, pool, nx.Seconds(1)); err != nil {
		_ = pkt.Release()
		return
	}
	if err := s.sock.Send(ctx, pkt, dst); err != nil {
		_ = pkt.Release()
		s.log.Warn("dhcp server: send", "dst", dst, "err", err)
	}
}

// Reply is the server's handler: the OFFER, ACK or NAK for request m, or nil
// when the server stays silent (RELEASE, DECLINE, a fault, a request for
// another server). It does not block and sends nothing.
func (s *DHCPServer) Reply(m *dhcpv4.DHCPv4) *dhcpv4.DHCPv4 {
	s.mu.Lock()
	defer s.mu.Unlock()
	mac := m.ClientHWAddr.String()
	switch m.MessageType() {
	case dhcpv4.MessageTypeDiscover:
		s.stats.Discovers++
	case dhcpv4.MessageTypeRequest:
		s.stats.Requests++
	case dhcpv4.MessageTypeRelease:
		s.stats.Releases++
		if a, ok := s.leases[mac]; ok && a == addrOf(m.ClientIPAddr) {
			delete(s.leases, mac)
		}
		return nil
	case dhcpv4.MessageTypeDecline:
		s.stats.Declines++
		if a := addrOf(m.RequestedIPAddress()); a.IsValid() {
			s.declined[a] = true
			if s.leases[mac] == a {
				delete(s.leases, mac)
			}
		}
		return nil
	case dhcpv4.MessageTypeInform:
		s.stats.Informs++
	default:
		s.stats.Ignored++
		return nil
	}
	if s.fault == DHCPSilent {
		s.stats.Ignored++
		return nil
	}
	if sid := addrOf(m.ServerIdentifier()); sid.IsValid() && sid != s.self {
		s.stats.Ignored++ // the client chose another server
		return nil
	}
	switch m.MessageType() {
	case dhcpv4.MessageTypeDiscover:
		a := s.allocate(mac, addrOf(m.RequestedIPAddress()))
		if !a.IsValid() {
			s.stats.Ignored++
			s.log.Warn("dhcp server: address range exhausted", "client", mac)
			return nil
		}
		s.stats.Offers++
		return s.build(m, dhcpv4.MessageTypeOffer, a)
	case dhcpv4.MessageTypeRequest:
		ci := addrOf(m.ClientIPAddr)
		want := addrOf(m.RequestedIPAddress())
		if !want.IsValid() {
			want = ci
		}
		have, ok := s.leases[mac]
		if !ok && s.opts.Offer.IsValid() {
			have, ok = s.opts.Offer, true
		}
		if s.fault == DHCPNAK || !want.IsValid() || (ok && have != want) || (!ok && !s.free(want)) {
			s.stats.Naks++
			return s.nak(m, "address not available")
		}
		s.leases[mac] = want
		s.stats.Acks++
		return s.build(m, dhcpv4.MessageTypeAck, want)
	default: // INFORM
		s.stats.Acks++
		return s.build(m, dhcpv4.MessageTypeAck, netip.Addr{})
	}
}

func addrOf(ip net.IP) netip.Addr {
	v := ip.To4()
	if v == nil {
		return netip.Addr{}
	}
	a := netip.AddrFrom4([4]byte(v))
	if a.IsUnspecified() {
		return netip.Addr{}
	}
	return a
}

// free reports whether a is in range, not leased and not declined.
func (s *DHCPServer) free(a netip.Addr) bool {
	if a.Less(s.opts.First) || s.opts.Last.Less(a) || s.declined[a] || a == s.self {
		return false
	}
	for _, l := range s.leases {
		if l == a {
			return false
		}
	}
	return true
}

func (s *DHCPServer) allocate(mac string, want netip.Addr) netip.Addr {
	if s.opts.Offer.IsValid() {
		return s.opts.Offer
	}
	if a, ok := s.leases[mac]; ok {
		return a
	}
	if want.IsValid() && s.free(want) {
		return want
	}
	for a := s.opts.First; !s.opts.Last.Less(a); a = a.Next() {
		if s.free(a) {
			return a
		}
	}
	return netip.Addr{}
}

func (s *DHCPServer) build(req *dhcpv4.DHCPv4, t dhcpv4.MessageType, yi netip.Addr) *dhcpv4.DHCPv4 {
	mods := []dhcpv4.Modifier{
		dhcpv4.WithMessageType(t),
		dhcpv4.WithServerIP(s.self.AsSlice()),
		dhcpv4.WithOption(dhcpv4.OptServerIdentifier(s.self.AsSlice())),
		dhcpv4.WithNetmask(net.CIDRMask(s.bits, 32)),
	}
	if yi.IsValid() {
		mods = append(mods, dhcpv4.WithYourIP(yi.AsSlice()))
		lease := uint32(s.opts.LeaseTime / time.Second)
		if s.fault == DHCPZeroLease {
			lease = 0
		}
		mods = append(mods, dhcpv4.WithLeaseTime(lease))
		if s.opts.T1 > 0 {
			mods = append(mods, dhcpv4.WithOption(dhcpv4.OptRenewTimeValue(s.opts.T1)))
		}
		if s.opts.T2 > 0 {
			mods = append(mods, dhcpv4.WithOption(dhcpv4.OptRebindingTimeValue(s.opts.T2)))
		}
	}
	if s.opts.Router.IsValid() {
		mods = append(mods, dhcpv4.WithRouter(s.opts.Router.AsSlice()))
	}
	if len(s.opts.DNS) > 0 {
		mods = append(mods, dhcpv4.WithDNS(ips(s.opts.DNS)...))
	}
	if len(s.opts.NTP) > 0 {
		mods = append(mods, dhcpv4.WithOption(dhcpv4.OptNTPServers(ips(s.opts.NTP)...)))
	}
	if s.opts.Domain != "" {
		mods = append(mods, dhcpv4.WithOption(dhcpv4.OptDomainName(s.opts.Domain)))
	}
	r, err := dhcpv4.NewReplyFromRequest(req, mods...)
	if err != nil {
		return nil
	}
	return r
}

func (s *DHCPServer) nak(req *dhcpv4.DHCPv4, msg string) *dhcpv4.DHCPv4 {
	r, err := dhcpv4.NewReplyFromRequest(req,
		dhcpv4.WithMessageType(dhcpv4.MessageTypeNak),
		dhcpv4.WithOption(dhcpv4.OptServerIdentifier(s.self.AsSlice())),
		dhcpv4.WithOption(dhcpv4.OptMessage(msg)),
	)
	if err != nil {
		return nil
	}
	return r
}

func ips(as []netip.Addr) []net.IP {
	out := make([]net.IP, 0, len(as))
	for _, a := range as {
		out = append(out, a.AsSlice())
	}
	return out
}
