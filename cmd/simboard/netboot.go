package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"strings"
	"time"

	"github.com/simboard/simboard/apps/dhcpc"
	"github.com/simboard/simboard/apps/dnsc"
	"github.com/simboard/simboard/apps/sntpc"
	"github.com/simboard/simboard/driver"
	"github.com/simboard/simboard/internal/netsvc"
	"github.com/simboard/simboard/netstack"
	"github.com/simboard/simboard/nx"
)

// netbootFlags is --dhcp on demo, send and fetch: the board boots as
// firmware does, leasing its address with its own DHCP client (apps/dhcpc)
// and taking its DNS and NTP servers from the lease.
type netbootFlags struct {
	dhcp bool
}

func (f *netbootFlags) register(fs *flag.FlagSet) {
	fs.BoolVar(&f.dhcp, "dhcp", false, "boot the board as firmware does: lease its IPv4 address with its DHCP client, then take\nthe DNS and NTP servers from the lease (on the Wire the built-in host serves DHCP, DNS and NTP)")
}

// dhcpWait bounds the lease: NetX sends the first DISCOVER one second after
// nx_dhcp_start, and resends after 4, 8 and 16 s.
const dhcpWait = 30 * nx.TicksPerSecond

// startPeerDHCP serves DHCP on the built-in host's board: .100 to .199 of
// its /24, the host itself as router, DNS and NTP server, domain
// simboard.test.
func startPeerDHCP(ip *netstack.IP, log *slog.Logger) (*netsvc.DHCPServer, error) {
	self := []netip.Addr{ip.Addr().Addr()}
	return netsvc.StartDHCP(netsvc.DHCPOptions{IP: ip, Router: self[0], DNS: self, NTP: self, Domain: demoDomain,
		LeaseTime: time.Hour, Logger: log})
}

// leaseBoard starts the board's DHCP client and blocks until it is BOUND
// (the address applied to the board's IP) or dhcpWait passes. The client
// keeps running, to renew, until Close.
//
// rnd is the client's NX_RAND (transaction IDs, retransmission jitter): a
// seeded stream in virtual time, nil (math/rand) in real time.
func leaseBoard(ctx context.Context, ip *netstack.IP, rnd func() uint32, log *slog.Logger) (*dhcpc.Client, dhcpc.Lease, error) {
	c, err := dhcpc.New(dhcpc.Options{IP: ip, Name: "simboard", RequestOptions: []uint8{42, 15}, Rand: rnd, Logger: log})
	if err != nil {
		return nil, dhcpc.Lease{}, err
	}
	if err := c.Start(); err != nil {
		_ = c.Close()
		return nil, dhcpc.Lease{}, err
	}
	l, err := c.WaitBound(ctx, dhcpWait)
	if err != nil {
		_ = c.Close()
		return nil, dhcpc.Lease{}, fmt.Errorf("dhcp: %w", err)
	}
	return c, l, nil
}

func describeLease(l dhcpc.Lease) string {
	var b strings.Builder
	fmt.Fprintf(&b, "leased %v from %v for %v", l.Addr, l.Server, l.LeaseTime)
	if l.Gateway.IsValid() {
		fmt.Fprintf(&b, ", gateway %v", l.Gateway)
	}
	if len(l.DNS) > 0 {
		fmt.Fprintf(&b, ", dns %v", joinAddrs(l.DNS))
	}
	if len(l.NTP) > 0 {
		fmt.Fprintf(&b, ", ntp %v", joinAddrs(l.NTP))
	}
	if l.Domain != "" {
		fmt.Fprintf(&b, ", domain %s", l.Domain)
	}
	return b.String()
}

func joinAddrs(as []netip.Addr) string {
	s := make([]string, len(as))
	for i, a := range as {
		s[i] = a.String()
	}
	return strings.Join(s, ",")
}

// costMark notes a board's frame counters and pool state before a stage;
// since reports what the stage cost: frames both ways, the fewest packets
// free during the boot so far, and packets still held after the stage.
type costMark struct {
	drv driver.Stats
}

func markCost(b *board) costMark { return costMark{drv: b.drv.Stats()} }

func (m costMark) since(b *board, extra ...string) string {
	d := b.drv.Stats()
	in := b.pool.Info()
	s := fmt.Sprintf("frames out %d in %d; pool low water %d/%d, %d held", d.TxFrames-m.drv.TxFrames, d.RxFrames-m.drv.RxFrames,
		in.LowWater, in.Total, in.Total-in.Free)
	for _, e := range extra {
		s += "; " + e
	}
	return s
}

// demoNetboot is the firmware boot of `demo --dhcp`: the peer's DHCP, DNS
// and NTP servers and the board's DHCP client.
type demoNetboot struct {
	dhcp   *netsvc.DHCPServer
	dns    *netsvc.DNSServer
	ntp    *netsvc.NTPServer
	client *dhcpc.Client
	board  string // the leased address
	server netip.Addr
	offset time.Duration // server time minus board clock, from the SNTP stage
}

// wallClock is the board's wall time after the SNTP stage, for the Date
// header: the IP's clock plus the measured offset.
func (nb *demoNetboot) wallClock(ip *netstack.IP) func() time.Time {
	clk, off := ip.Clock(), nb.offset
	return func() time.Time { return clk.Now().Add(off) }
}

// runDemoNetboot runs DHCP → DNS for mail.simboard.test → SNTP on brd, with
// the servers on the peer board, and reports each as a timed stage with
// its cost. It returns the mail host's address as DNS gave it.
func runDemoNetboot(ctx context.Context, brd *board, peer *netstack.IP, ipv6 bool, rc *runClock, log *slog.Logger,
	timed func(name string, start time.Time, detail string)) (*demoNetboot, error) {
	now := brd.ip.Clock().Now // the run's clock: simulated in virtual time
	nb := &demoNetboot{}
	var err error
	if nb.dhcp, err = startPeerDHCP(peer, log); err != nil {
		return nil, err
	}
	var addrs []netip.Addr
	for _, p := range []netip.Prefix{peer.Addr(), peer.Addr6()} {
		if p.IsValid() {
			addrs = append(addrs, p.Addr())
		}
	}
	if nb.dns, err = netsvc.StartDNS(netsvc.DNSOptions{IP: peer, Zone: map[string][]netip.Addr{demoMailHost: addrs}, Logger: log}); err != nil {
		nb.Close()
		return nil, err
	}
	if nb.ntp, err = netsvc.StartNTP(netsvc.NTPOptions{IP: peer, Logger: log}); err != nil {
		nb.Close()
		return nil, err
	}

	t0, m := now(), markCost(brd)
	c, l, err := leaseBoard(ctx, brd.ip, rc.rand32("dhcpc"), log)
	if err != nil {
		nb.Close()
		return nil, err
	}
	nb.client, nb.board = c, l.Addr.Addr().String()
	in := c.Info()
	dp := c.Pool().Info()
	timed("dhcp", t0, describeLease(l)+"; "+m.since(brd, fmt.Sprintf("DISCOVER %d, REQUEST %d, dhcp pool low water %d/%d",
		in.DiscoveriesSent, in.RequestsSent, dp.LowWater, dp.Total)))

	t1, m := now(), markCost(brd)
	d, err := dnsc.New(dnsc.Options{IP: brd.ip, Pool: brd.pool, Logger: log, Rand: rc.rand("dnsc")})
	if err != nil {
		nb.Close()
		return nil, err
	}
	if err = d.SetServers(l.DNS); err == nil {
		typ := dnsc.TypeA
		if ipv6 {
			typ = dnsc.TypeAAAA
		}
		nb.server, err = d.HostByNameGet(ctx, demoMailHost, typ, nx.Seconds(5))
	}
	_ = d.Delete()
	if err != nil {
		nb.Close()
		return nil, fmt.Errorf("dns: %s: %w", demoMailHost, err)
	}
	timed("dns", t1, fmt.Sprintf("%s is %v (server %v); %s", demoMailHost, nb.server, joinAddrs(l.DNS), m.since(brd)))

	t2, m := now(), markCost(brd)
	if len(l.NTP) == 0 {
		nb.Close()
		return nil, fmt.Errorf("sntp: the lease names no NTP server")
	}
	s, err := sntpc.New(sntpc.Options{IP: brd.ip, Pool: brd.pool, MaxStratum: 15, Logger: log})
	if err != nil {
		nb.Close()
		return nil, err
	}
	var u sntpc.Update
	if err = s.InitializeUnicast(l.NTP[0]); err == nil {
		u, err = s.RequestUpdate(ctx, nx.Seconds(3))
	}
	_ = s.Delete()
	if err != nil {
		nb.Close()
		return nil, fmt.Errorf("sntp: %v: %w", l.NTP[0], err)
	}
	nb.offset = u.Offset
	timed("sntp", t2, fmt.Sprintf("time from %v (stratum %d); %s", u.Server, u.Stratum, m.since(brd)))
	return nb, nil
}

// Close stops the board's DHCP client (keeping the lease, as nx_dhcp_stop
// does) and the peer's servers. Idempotent.
func (nb *demoNetboot) Close() {
	if nb == nil {
		return
	}
	if nb.client != nil {
		_ = nb.client.Close()
		nb.client = nil
	}
	for _, c := range []io.Closer{nb.ntp, nb.dns, nb.dhcp} {
		if c != nil && !isNilCloser(c) {
			_ = c.Close()
		}
	}
	nb.ntp, nb.dns, nb.dhcp = nil, nil, nil
}

func isNilCloser(c io.Closer) bool {
	switch v := c.(type) {
	case *netsvc.NTPServer:
		return v == nil
	case *netsvc.DNSServer:
		return v == nil
	case *netsvc.DHCPServer:
		return v == nil
	}
	return false
}

// sessionNetboot is --dhcp on send and fetch: the board's DHCP client and,
// on the Wire, the built-in host's DHCP server.
type sessionNetboot struct {
	server *netsvc.DHCPServer
	client *dhcpc.Client
}

// startNetbootPeer serves DHCP on the built-in host's board when --dhcp is
// given (its DNS and NTP servers are already up: netopts.go).
func (s *session) startNetbootPeer() error {
	if !s.n.netboot.dhcp || s.peer == nil {
		return nil
	}
	srv, err := startPeerDHCP(s.peer.brd.ip, s.log)
	if err != nil {
		return fmt.Errorf("built-in host: %w", err)
	}
	s.nboot = &sessionNetboot{server: srv}
	return nil
}

// netboot leases the board's address with its DHCP client when --dhcp is
// given, reports the lease on stderr, and takes the DNS and NTP servers from
// it where --dns and --ntp were not given. It blocks until BOUND or the
// DHCP wait (30 s) runs out.
func (s *session) netboot(ctx context.Context, stderr io.Writer) error {
	if !s.n.netboot.dhcp {
		return nil
	}
	if s.nboot == nil {
		s.nboot = &sessionNetboot{}
	}
	clk := s.brd.ip.Clock()
	start := clk.Now()
	c, l, err := leaseBoard(ctx, s.brd.ip, s.rc.rand32("dhcpc"), s.log)
	if err != nil {
		return err
	}
	s.nboot.client = c
	fmt.Fprintf(stderr, "dhcp: %s (%v)\n", describeLease(l), clk.Now().Sub(start).Round(time.Millisecond))
	o := &s.n.names
	if !o.dnsAddr.IsValid() && len(l.DNS) > 0 && o.serverName != "" {
		o.dnsAddr = l.DNS[0]
	}
	if !o.ntpAddr.IsValid() && len(l.NTP) > 0 {
		o.ntpAddr = l.NTP[0]
	}
	return nil
}

// closeNetboot stops the board's DHCP client (the lease is kept, as
// nx_dhcp_stop does) and the built-in host's DHCP server.
func (s *session) closeNetboot() {
	if s.nboot == nil {
		return
	}
	if s.nboot.client != nil {
		_ = s.nboot.client.Close()
	}
	if s.nboot.server != nil {
		_ = s.nboot.server.Close()
	}
	s.nboot = nil
}
