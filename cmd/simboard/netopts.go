package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/netip"
	"strings"
	"time"

	"github.com/miekg/dns"

	"github.com/simboard/simboard/apps/dnsc"
	"github.com/simboard/simboard/apps/sntpc"
	"github.com/simboard/simboard/internal/netsvc"
	"github.com/simboard/simboard/nx"
)

// nameFlags are --dns and --ntp, and the host-name form of --server: the
// board resolves the server's name with its own DNS client (apps/dnsc) and
// takes the time from an NTP server with its own SNTP client (apps/sntpc),
// both over its own UDP sockets, before the mail session.
type nameFlags struct {
	dns, ntp string

	// Parsed by checkServer.
	serverName string // --server when it is a host name
	dnsAddr    netip.Addr
	ntpAddr    netip.Addr
}

// wirePeer is the built-in host's address when --server is a name.
var wirePeer = netip.MustParseAddr("198.51.100.1")

func (o *nameFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&o.dns, "dns", "", "resolve a --server NAME through the DNS server at `ADDR` (on the Wire the built-in\nhost serves DNS for mail.simboard.test and the --server name, and is the default)")
	fs.StringVar(&o.ntp, "ntp", "", "take the board's time (the Date header) from the NTP server at `ADDR` before the\nsession; on the Wire the built-in host serves NTP at its address")
}

// checkServer parses --server (an address or a host name), --dns and --ntp.
func (o *nameFlags) checkServer(n *netFlags) error {
	var err error
	if o.dns != "" {
		if o.dnsAddr, err = netip.ParseAddr(o.dns); err != nil {
			return usagef("bad --dns %q: want the DNS server's IPv4 or IPv6 address", o.dns)
		}
	}
	if o.ntp != "" {
		if o.ntpAddr, err = netip.ParseAddr(o.ntp); err != nil {
			return usagef("bad --ntp %q: want the NTP server's IPv4 or IPv6 address", o.ntp)
		}
	}
	if n.serverAddr, err = netip.ParseAddr(n.server); err == nil {
		return nil
	}
	name := strings.TrimSuffix(n.server, ".")
	if _, ok := dns.IsDomainName(name); !ok || name == "" || strings.ContainsAny(name, " \t/:@") || !strings.Contains(name, ".") {
		return usagef("bad --server %q: want an IPv4 or IPv6 address or a host name such as mail.simboard.test", n.server)
	}
	o.serverName = name
	if n.tap != "" && !o.dnsAddr.IsValid() && !n.netboot.dhcp {
		return usagef("--server %s is a name: give the DNS server that resolves it with --dns ADDR", name)
	}
	// On the Wire the built-in host stands at wirePeer and serves the name.
	n.serverAddr = wirePeer
	return nil
}

// peerNet is the built-in host's DNS and NTP servers on the Wire.
type peerNet struct {
	dns *netsvc.DNSServer
	ntp *netsvc.NTPServer
}

// startPeerNet serves DNS (mail.simboard.test and the --server name → the
// peer's addresses) and NTP on the built-in host's board.
func (s *session) startPeerNet() error {
	ip := s.peer.brd.ip
	var addrs []netip.Addr
	for _, p := range []netip.Prefix{ip.Addr(), ip.Addr6()} {
		if p.IsValid() {
			addrs = append(addrs, p.Addr())
		}
	}
	zone := map[string][]netip.Addr{demoMailHost: addrs}
	if s.n.names.serverName != "" {
		zone[s.n.names.serverName] = addrs
	}
	d, err := netsvc.StartDNS(netsvc.DNSOptions{IP: ip, Zone: zone, Logger: s.log})
	if err != nil {
		return fmt.Errorf("built-in host: %w", err)
	}
	t, err := netsvc.StartNTP(netsvc.NTPOptions{IP: ip, Logger: s.log})
	if err != nil {
		_ = d.Close()
		return fmt.Errorf("built-in host: %w", err)
	}
	s.pnet = &peerNet{dns: d, ntp: t}
	return nil
}

func (s *session) closePeerNet() {
	if s.pnet != nil {
		_ = s.pnet.ntp.Close()
		_ = s.pnet.dns.Close()
		s.pnet = nil
	}
}

// netSetup runs the board's SNTP client (--ntp) and resolves a --server
// name with the board's DNS client, reporting both on stderr. It blocks up
// to ctx.
func (s *session) netSetup(ctx context.Context, stderr io.Writer) error {
	if err := s.netboot(ctx, stderr); err != nil { // netboot.go: --dhcp
		return err
	}
	o := &s.n.names
	if o.ntpAddr.IsValid() {
		c, err := sntpc.New(sntpc.Options{IP: s.brd.ip, Pool: s.brd.pool, MaxStratum: 15, Logger: s.log})
		if err != nil {
			return err
		}
		err = c.InitializeUnicast(o.ntpAddr)
		var u sntpc.Update
		if err == nil {
			u, err = c.RequestUpdate(ctx, nx.Seconds(3))
		}
		_ = c.Delete()
		if err != nil {
			return fmt.Errorf("--ntp %v: %w", o.ntpAddr, err)
		}
		s.timeOffset = u.Offset
		fmt.Fprintf(stderr, "time: %s from NTP server %v (stratum %d, offset %v, delay %v)\n",
			u.Time.UTC().Format(time.RFC3339), o.ntpAddr, u.Stratum, u.Offset.Round(time.Millisecond), u.Delay.Round(time.Microsecond))
	}
	if o.serverName == "" {
		return nil
	}
	srv := o.dnsAddr
	if !srv.IsValid() {
		srv = s.server // the built-in host on the Wire
	}
	c, err := dnsc.New(dnsc.Options{IP: s.brd.ip, Pool: s.brd.pool, Logger: s.log, Rand: s.rc.rand("dnsc")})
	if err != nil {
		return err
	}
	defer func() { _ = c.Delete() }()
	if err := c.ServerAdd(srv); err != nil {
		return fmt.Errorf("--dns %v: %w", srv, err)
	}
	network := "ip"
	if !s.brd.ip.Addr().IsValid() {
		network = "ip6"
	}
	addrs, err := c.LookupNetIP(ctx, network, o.serverName)
	if err != nil {
		return fmt.Errorf("--server %s: %w", o.serverName, err)
	}
	s.server = addrs[0]
	fmt.Fprintf(stderr, "resolved %s to %v via DNS server %v\n", o.serverName, s.server, srv)
	return nil
}

// wallClock is the Date header's clock after --ntp: the board clock plus
// the offset the board's SNTP client measured; nil (the IP's clock) without
// --ntp.
func (s *session) wallClock() func() time.Time {
	if !s.n.names.ntpAddr.IsValid() {
		return nil
	}
	clk, off := s.brd.ip.Clock(), s.timeOffset
	return func() time.Time { return clk.Now().Add(off) }
}
