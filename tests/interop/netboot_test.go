package interop

// The firmware boot against real peers: dnsmasq (DHCP and DNS) and chronyd
// (NTP) in the namespace on tap0, next to Postfix. The board leases its
// address with apps/dhcpc, resolves mx.example.test with apps/dnsc, takes the
// time with apps/sntpc and mails Postfix by that name with apps/smtpc; tshark
// then decodes DHCP, DNS and NTP in the board's own pcap.

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/simboard/simboard/apps/dhcpc"
	"github.com/simboard/simboard/apps/dnsc"
	"github.com/simboard/simboard/apps/smtpc"
	"github.com/simboard/simboard/apps/sntpc"
	"github.com/simboard/simboard/boardtest"
	"github.com/simboard/simboard/nx"
)

// startNetbootPeers starts dnsmasq (DHCP on tap0 handing out .150-.199 with
// router, DNS and NTP at the host, domain example.test; DNS for
// mx.example.test) and chronyd (an NTP server on its local clock, never
// touching the system clock) inside the namespace, both stopped at the end
// of the test.
func (e *Env) startNetbootPeers(t *testing.T) {
	t.Helper()
	requireTools(t, "dnsmasq", "chronyd")
	dir := t.TempDir()
	host := e.HostAddr.String()
	dnsmasq, _ := lookTool("dnsmasq")
	d, err := startDaemon(e.NS, "dnsmasq", filepath.Join(dir, "dnsmasq.log"), dnsmasq,
		"--keep-in-foreground", "--conf-file=/dev/null", "--user=root", "--group=root", "--pid-file",
		"--interface="+e.TAP, "--bind-interfaces", "--listen-address="+host, "--port=53",
		"--no-resolv", "--no-hosts", "--no-ping", "--log-facility=-", "--log-dhcp", "--log-queries",
		"--dhcp-leasefile="+filepath.Join(dir, "leases"),
		"--dhcp-range=198.51.100.150,198.51.100.199,255.255.255.0,1h",
		"--dhcp-option=option:router,"+host,
		"--dhcp-option=option:dns-server,"+host,
		"--dhcp-option=option:ntp-server,"+host,
		"--dhcp-option=option:domain-name,"+e.Domain,
		"--address=/"+e.ServerName+"/"+host,
	)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := d.stop(stopWait); err != nil {
			t.Errorf("dnsmasq: %v", err)
		}
		if t.Failed() {
			b, _ := os.ReadFile(filepath.Join(dir, "dnsmasq.log"))
			t.Logf("dnsmasq log:\n%s", b)
		}
	})
	conf := filepath.Join(dir, "chrony.conf")
	cfg := fmt.Sprintf("bindaddress %s\nallow 198.51.100.0/24\nlocal stratum 8\ncmdport 0\npidfile %s\ndriftfile %s\n",
		host, filepath.Join(dir, "chronyd.pid"), filepath.Join(dir, "chrony.drift"))
	if err := os.WriteFile(conf, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	chronyd, _ := lookTool("chronyd")
	c, err := startDaemon(e.NS, "chronyd", filepath.Join(dir, "chronyd.log"), chronyd, "-d", "-x", "-u", "root", "-f", conf)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := c.stop(stopWait); err != nil {
			t.Errorf("chronyd: %v", err)
		}
		if t.Failed() {
			b, _ := os.ReadFile(filepath.Join(dir, "chronyd.log"))
			t.Logf("chronyd log:\n%s", b)
		}
	})
}

// TestBoardNetboot is the firmware boot of issue 12 against real servers.
func TestBoardNetboot(t *testing.T) {
	env := startEnv(t)
	env.startNetbootPeers(t)
	b := env.NewBoard(t, boardtest.Options{})
	// As firmware boots: no address until DHCP.
	if err := b.IP.InterfaceAddressSet(netip.Prefix{}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*sessionTimeout)
	defer cancel()

	c, err := dhcpc.New(dhcpc.Options{IP: b.IP, Name: "simboard", RequestOptions: []uint8{42, 15}})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		_ = c.Close()
		boardtest.CheckBalanced(t, c.Pool())
	}()
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	l, err := c.WaitBound(ctx, nx.Seconds(30))
	if err != nil {
		t.Fatalf("WaitBound = %v (dnsmasq never leased?)", err)
	}
	lo, hi := netip.MustParseAddr("198.51.100.150"), netip.MustParseAddr("198.51.100.199")
	if a := l.Addr.Addr(); a.Less(lo) || hi.Less(a) || l.Addr.Bits() != 24 {
		t.Errorf("leased %v, want an address in %v-%v /24", l.Addr, lo, hi)
	}
	if l.Server != env.HostAddr || l.Gateway != env.HostAddr || !slices.Equal(l.DNS, []netip.Addr{env.HostAddr}) ||
		!slices.Equal(l.NTP, []netip.Addr{env.HostAddr}) || l.Domain != env.Domain || l.LeaseTime != time.Hour {
		t.Errorf("lease = %+v", l)
	}
	if got := b.IP.InterfaceAddressGet(); got != l.Addr {
		t.Errorf("board address %v, want the lease's %v", got, l.Addr)
	}
	t.Logf("leased %v from dnsmasq; %+v", l.Addr, c.Info())

	// DNS: mx.example.test through the server the lease named.
	d, err := dnsc.New(dnsc.Options{IP: b.IP, Pool: b.Pool})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Delete()
	if err := d.SetServers(l.DNS); err != nil {
		t.Fatal(err)
	}
	mx, err := d.HostByNameGet(ctx, env.ServerName, dnsc.TypeA, nx.Seconds(5))
	if err != nil || mx != env.HostAddr {
		t.Fatalf("HostByNameGet(%s) = %v, %v; want %v", env.ServerName, mx, err, env.HostAddr)
	}

	// NTP: chronyd at the address the lease named.
	s, err := sntpc.New(sntpc.Options{IP: b.IP, Pool: b.Pool, MaxStratum: 15})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Delete()
	if err := s.InitializeUnicast(l.NTP[0]); err != nil {
		t.Fatal(err)
	}
	u, err := s.RequestUpdate(ctx, nx.Seconds(5))
	if err != nil {
		t.Fatalf("RequestUpdate(%v) = %v", l.NTP[0], err)
	}
	if u.Stratum == 0 || u.Stratum > 15 || u.Offset > time.Second || u.Offset < -time.Second {
		t.Errorf("NTP update %+v: want chronyd's stratum and the same clock", u)
	}

	// SMTP to Postfix by name: smtpc resolves mx.example.test with the board's
	// DNS client.
	usr := env.NewUser(t)
	sc, err := smtpc.Create(smtpc.Options{IP: b.IP, Pool: b.Pool, From: usr.Addr, ServerHost: env.ServerName, Resolver: d,
		Port: env.SMTP.Port(), TLS: smtpc.TLSOff})
	if err != nil {
		t.Fatal(err)
	}
	defer sc.Delete()
	subject := "netboot " + l.Addr.Addr().String()
	res, err := sc.MailSend(ctx, usr.Addr, smtpc.PriorityNormal, subject, []byte("sent by a board that leased its address\r\n"))
	if err != nil || !res.Accepted {
		t.Fatalf("MailSend() = %+v, %v", res, err)
	}
	env.WaitMail(t, usr, subject)

	// tshark decodes the boot in the board's own pcap.
	pcap := b.FlushPcap(t)
	dhcpTypes := column(env.Tshark(t, pcap, "dhcp", []string{"dhcp.option.dhcp"}), 0)
	for _, want := range []string{"1", "2", "3", "5"} { // DISCOVER, OFFER, REQUEST, ACK
		if !slices.Contains(dhcpTypes, want) {
			t.Errorf("tshark: no DHCP message type %s in the board's pcap (saw %v)", want, dhcpTypes)
		}
	}
	disc := env.Tshark(t, pcap, "dhcp.option.dhcp == 1", []string{"ip.src", "ip.dst", "udp.srcport", "udp.dstport"})
	if len(disc) == 0 || strings.Join(disc[0], " ") != "0.0.0.0 255.255.255.255 68 67" {
		t.Errorf("tshark: DISCOVER %v, want from 0.0.0.0:68 to 255.255.255.255:67", disc)
	}
	dnsRows := env.Tshark(t, pcap, "dns", []string{"dns.qry.name", "dns.flags.response", "dns.a"})
	var query, answer bool
	for _, r := range dnsRows {
		isQuery := r[1] == "0" || r[1] == "False"
		query = query || (r[0] == env.ServerName && isQuery)
		answer = answer || (r[0] == env.ServerName && len(r) > 2 && r[2] == env.HostAddr.String())
	}
	if !query || !answer {
		t.Errorf("tshark: DNS query and answer for %s not both seen: %v", env.ServerName, dnsRows)
	}
	modes := column(env.Tshark(t, pcap, "ntp", []string{"ntp.flags.mode"}), 0)
	if !slices.Contains(modes, "3") || !slices.Contains(modes, "4") {
		t.Errorf("tshark: NTP client (3) and server (4) modes not both seen: %v", modes)
	}
	if smtp := env.Tshark(t, pcap, "smtp.req.command == \"MAIL\"", []string{"ip.src"}); len(smtp) == 0 || smtp[0][0] != l.Addr.Addr().String() {
		t.Errorf("tshark: MAIL FROM not sent from the leased address: %v", smtp)
	}
}

// TestCLINetboot: `simboard send --tap tap0 --dhcp --server mx.example.test`
// leases from dnsmasq, resolves the name through the DNS server the lease
// names, takes the time from chronyd and delivers into Postfix over
// verified STARTTLS (the certificate names mx.example.test).
func TestCLINetboot(t *testing.T) {
	env := startEnv(t)
	env.startNetbootPeers(t)
	u := env.NewUser(t)
	subject := "cli netboot"
	r := env.runCLI(t, u.Password, "send", "--dhcp", "--server", env.ServerName, "--ca", env.caFile(t),
		"--user", u.Name, "--to", u.Addr, "--subject", subject, "--tls", "required")
	t.Logf("exit %d\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
	if r.code != 0 {
		t.Fatalf("send --dhcp: exit %d", r.code)
	}
	for _, want := range []string{"dhcp: leased 198.51.100.1", "from 198.51.100.1 for 1h0m0s, gateway 198.51.100.1, dns 198.51.100.1, ntp 198.51.100.1, domain example.test",
		"from NTP server 198.51.100.1", "resolved mx.example.test to 198.51.100.1 via DNS server 198.51.100.1"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("stderr lacks %q", want)
		}
	}
	env.WaitMail(t, u, subject)
	if n := len(env.Tshark(t, r.pcap, "dhcp.option.dhcp == 5", []string{"dhcp.ip.your"})); n != 1 {
		t.Errorf("tshark: %d DHCP ACKs in the CLI's pcap, want 1", n)
	}
	assertNoSecret(t, r.pcap, u.Name, u.Password)
}

// TestBoardDHCPUnicastReplies: with ClearBroadcast (nx_dhcp_clear_broadcast_flag)
// dnsmasq answers unicast to the offered address, before the board holds it;
// the board still takes the OFFER and ACK and binds.
func TestBoardDHCPUnicastReplies(t *testing.T) {
	env := startEnv(t)
	env.startNetbootPeers(t)
	b := env.NewBoard(t, boardtest.Options{})
	if err := b.IP.InterfaceAddressSet(netip.Prefix{}); err != nil {
		t.Fatal(err)
	}
	c, err := dhcpc.New(dhcpc.Options{IP: b.IP, ClearBroadcast: true})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		_ = c.Close()
		boardtest.CheckBalanced(t, c.Pool())
	}()
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), sessionTimeout)
	defer cancel()
	l, err := c.WaitBound(ctx, nx.Seconds(30))
	if err != nil {
		t.Fatalf("WaitBound = %v", err)
	}
	pcap := b.FlushPcap(t)
	rows := env.Tshark(t, pcap, "dhcp.option.dhcp == 2 || dhcp.option.dhcp == 5", []string{"dhcp.option.dhcp", "ip.dst", "dhcp.flags.bc"})
	if len(rows) < 2 {
		t.Fatalf("tshark: OFFER and ACK not both in the pcap: %v", rows)
	}
	for _, r := range rows {
		if r[1] != l.Addr.Addr().String() {
			t.Errorf("tshark: DHCP type %s sent to %s, want unicast to %v", r[0], r[1], l.Addr.Addr())
		}
	}
	req := env.Tshark(t, pcap, "dhcp.option.dhcp == 1", []string{"dhcp.flags.bc"})
	if len(req) == 0 || (req[0][0] != "0" && req[0][0] != "False") {
		t.Errorf("tshark: DISCOVER broadcast flag %v, want clear", req)
	}
}
