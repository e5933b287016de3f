package dhcpc

import (
	"errors"
	"net"
	"net/netip"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"

	"github.com/simboard/simboard/boardtest"
	"github.com/simboard/simboard/internal/netsvc"
	"github.com/simboard/simboard/netstack"
	"github.com/simboard/simboard/nx"
)

var (
	serverAddr = netip.MustParseAddr("198.51.100.1")
	ntpAddr    = netip.MustParseAddr("198.51.100.1")
)

func newServer(t *testing.T, r *rig, o netsvc.DHCPOptions) *netsvc.DHCPServer {
	t.Helper()
	o.IP = r.server.IP
	s, err := netsvc.StartDHCP(o)
	if err != nil {
		t.Fatalf("StartDHCP = %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// stepUntil steps the client's clock until cond holds or max seconds pass.
func stepUntil(t *testing.T, r *rig, max int, cond func() bool) int {
	t.Helper()
	for i := 1; i <= max; i++ {
		r.clock.step(t)
		// A reply crossing the Wire is handled on real time: give it a
		// moment before the next tick.
		deadline := time.Now().Add(50 * time.Millisecond)
		for !cond() && time.Now().Before(deadline) {
			time.Sleep(time.Millisecond)
		}
		if cond() {
			return i
		}
	}
	t.Fatalf("condition not met after %d s", max)
	return 0
}

func TestBindOnPeerServer(t *testing.T) {
	r := newRig(t)
	srv := newServer(t, r, netsvc.DHCPOptions{Router: serverAddr, DNS: []netip.Addr{serverAddr},
		NTP: []netip.Addr{ntpAddr}, Domain: "simboard.test", LeaseTime: time.Hour})
	var mu sync.Mutex
	var states []State
	c := r.newClient(t, Options{Name: "board", RequestOptions: []uint8{42, 15}, StateChange: func(s State) {
		mu.Lock()
		states = append(states, s)
		mu.Unlock()
	}})
	if _, err := c.Lease(); !errors.Is(err, ErrNotBound) {
		t.Fatalf("Lease() before Start = %v, want ErrNotBound", err)
	}
	if err := c.Start(); err != nil {
		t.Fatalf("Start() = %v", err)
	}
	if err := c.Start(); !errors.Is(err, ErrAlreadyStarted) {
		t.Fatalf("second Start() = %v, want ErrAlreadyStarted", err)
	}
	// NetX waits one second in INIT before the first DISCOVER; OFFER,
	// REQUEST and ACK follow at once, with no further tick.
	r.clock.step(t)
	if c.Info().DiscoveriesSent != 1 {
		t.Fatalf("no DISCOVER after 1 s")
	}
	waitFor(t, "BOUND within the first second", func() bool { return c.State() == StateBound })
	l, err := c.WaitBound(t.Context(), nx.NoWait)
	if err != nil {
		t.Fatalf("WaitBound = %v", err)
	}
	want := netip.MustParsePrefix("198.51.100.100/24")
	if l.Addr != want || l.Gateway != serverAddr || l.Server != serverAddr ||
		!slices.Equal(l.DNS, []netip.Addr{serverAddr}) || !slices.Equal(l.NTP, []netip.Addr{ntpAddr}) ||
		l.Domain != "simboard.test" || l.LeaseTime != time.Hour || l.RenewalTime != 30*time.Minute ||
		l.RebindTime != 52*time.Minute+30*time.Second {
		t.Errorf("lease = %+v", l)
	}
	if got := r.client.IP.InterfaceAddressGet(); got != want {
		t.Errorf("IP address = %v, want %v", got, want)
	}
	if gw, err := r.client.IP.GatewayAddressGet(); err != nil || gw != serverAddr {
		t.Errorf("GatewayAddressGet() = %v, %v; want %v", gw, err, serverAddr)
	}
	if b, err := c.UserOptionRetrieve(42); err != nil || UserOptionConvert(b) != 0xC6336401 {
		t.Errorf("UserOptionRetrieve(42) = %x, %v", b, err)
	}
	if _, err := c.UserOptionRetrieve(66); !errors.Is(err, ErrParse) {
		t.Errorf("UserOptionRetrieve(66) = %v, want ErrParse", err)
	}
	in := c.Info()
	if in.DiscoveriesSent != 1 || in.OffersReceived != 1 || in.RequestsSent != 1 || in.AcksReceived != 1 {
		t.Errorf("Info() = %+v", in)
	}
	// The board now talks from its leased address: the server saw the
	// client's MAC lease.
	if ls := srv.Leases(); ls[net.HardwareAddr(r.client.Driver.MAC()).String()] != want.Addr() {
		t.Errorf("server leases = %v", ls)
	}
	if err := c.Release(); err != nil {
		t.Fatalf("Release() = %v", err)
	}
	waitFor(t, "the server to see the RELEASE", func() bool { return srv.Stats().Releases == 1 })
	if got := r.client.IP.InterfaceAddressGet(); got.IsValid() {
		t.Errorf("IP address after Release = %v, want none", got)
	}
	if _, err := r.client.IP.GatewayAddressGet(); !errors.Is(err, nx.ErrNotFound) {
		t.Errorf("gateway after Release: %v, want NX_NOT_FOUND", err)
	}
	if err := c.Release(); !errors.Is(err, ErrNotBound) {
		t.Errorf("second Release() = %v, want ErrNotBound", err)
	}
	if err := c.Stop(); !errors.Is(err, ErrNotStarted) {
		t.Errorf("Stop() after Release = %v, want ErrNotStarted", err)
	}
	mu.Lock()
	defer mu.Unlock()
	wantStates := []State{StateInit, StateSelecting, StateRequesting, StateBound, StateNotStarted}
	if !slices.Equal(states, wantStates) {
		t.Errorf("state changes = %v, want %v", states, wantStates)
	}
}

// TestServerNeverAnswers checks NetX's retransmission schedule (4 s doubling
// to 64 s, ±1 s jitter fixed at 0 here) and NX_DHCP_NO_RESPONSE.
func TestServerNeverAnswers(t *testing.T) {
	r := newRig(t)
	srv := newServer(t, r, netsvc.DHCPOptions{Fault: netsvc.DHCPSilent})
	c := r.newClient(t, Options{})
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	var sentAt []int
	last := uint64(0)
	for s := 1; s <= 200; s++ {
		r.clock.step(t)
		if n := c.Info().DiscoveriesSent; n != last {
			sentAt = append(sentAt, s)
			last = n
		}
	}
	want := []int{1, 5, 13, 29, 61, 125, 189}
	if !slices.Equal(sentAt, want) {
		t.Errorf("DISCOVERs at %v s, want %v", sentAt, want)
	}
	waitFor(t, "the server to see 7 DISCOVERs", func() bool { return srv.Stats().Discovers == 7 })
	_, err := c.WaitBound(t.Context(), nx.NoWait)
	if !errors.Is(err, ErrNoResponse) {
		t.Errorf("WaitBound = %v, want NX_DHCP_NO_RESPONSE", err)
	}
	if c.State() != StateSelecting {
		t.Errorf("state = %v, want SELECTING", c.State())
	}
	if err := c.Stop(); err != nil {
		t.Errorf("Stop() = %v", err)
	}
}

func TestZeroLease(t *testing.T) {
	r := newRig(t)
	srv := newServer(t, r, netsvc.DHCPOptions{Fault: netsvc.DHCPZeroLease})
	c := r.newClient(t, Options{})
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	for s := 0; s < 30; s++ {
		r.clock.step(t)
	}
	waitFor(t, "offers", func() bool { return srv.Stats().Offers >= 3 })
	_, err := c.WaitBound(t.Context(), nx.NoWait)
	if !errors.Is(err, ErrNotBound) || !errors.Is(err, ErrInvalidMessage) {
		t.Errorf("WaitBound = %v, want NX_DHCP_NOT_BOUND wrapping NX_DHCP_INVALID_MESSAGE", err)
	}
	if in := c.Info(); in.Dropped == 0 || in.OffersReceived != 0 || in.RequestsSent != 0 {
		t.Errorf("Info() = %+v, want offers dropped and no REQUEST", in)
	}
	if got := r.client.IP.InterfaceAddressGet(); got.IsValid() {
		t.Errorf("address applied from a 0 s lease: %v", got)
	}
}

func TestNAK(t *testing.T) {
	r := newRig(t)
	srv := newServer(t, r, netsvc.DHCPOptions{Fault: netsvc.DHCPNAK})
	c := r.newClient(t, Options{})
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	stepUntil(t, r, 5, func() bool { return c.Info().NacksReceived == 1 })
	if c.State() != StateInit {
		t.Errorf("state after NAK = %v, want INIT", c.State())
	}
	_, err := c.WaitBound(t.Context(), nx.NoWait)
	if !errors.Is(err, ErrNotBound) {
		t.Errorf("WaitBound = %v, want NX_DHCP_NOT_BOUND", err)
	}
	// One second later NetX starts over with a DISCOVER.
	stepUntil(t, r, 2, func() bool { return c.Info().DiscoveriesSent == 2 })
	srv.SetFault(netsvc.DHCPNoFault)
	stepUntil(t, r, 10, func() bool { return c.State() == StateBound })
}

// TestARPProbeConflict: the server offers an address a third board holds;
// the probe finds it, the client DECLINEs and starts over after 10 s.
func TestARPProbeConflict(t *testing.T) {
	r := newRig(t)
	// A third board already holds .100, and the server offers it.
	holder := boardtest.NewBoard(t, r.wire, "holder", 100, boardtest.Options{})
	srv := newServer(t, r, netsvc.DHCPOptions{Offer: holder.Addr})
	c := r.newClient(t, Options{ARPProbe: true, ProbeCount: 2, ProbeInterval: 50 * time.Millisecond})
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	stepUntil(t, r, 3, func() bool { return c.State() == StateAddressProbing || c.Info().DeclinesSent > 0 })
	waitFor(t, "the DECLINE", func() bool { return srv.Stats().Declines == 1 })
	if c.State() != StateInit {
		t.Errorf("state after conflict = %v, want INIT", c.State())
	}
	_, err := c.WaitBound(t.Context(), nx.NoWait)
	if !errors.Is(err, ErrBadIPAddress) || !errors.Is(err, nx.ErrDuplicatedEntry) {
		t.Errorf("WaitBound = %v, want NX_DHCP_BAD_IP_ADDRESS (NX_DUPLICATED_ENTRY)", err)
	}
	if got := r.client.IP.InterfaceAddressGet(); got.IsValid() {
		t.Errorf("conflicting address applied: %v", got)
	}
	// The DECLINE named the address.
	if ls := srv.Leases(); len(ls) != 0 {
		t.Errorf("server still leases %v after the DECLINE", ls)
	}
	// NX_DHCP_RESTART_WAIT: the next DISCOVER comes 10 s later.
	d := c.Info().DiscoveriesSent
	for i := 0; i < 9; i++ {
		r.clock.step(t)
	}
	if c.Info().DiscoveriesSent != d {
		t.Errorf("DISCOVER within 9 s of the DECLINE")
	}
	r.clock.step(t)
	if c.Info().DiscoveriesSent != d+1 {
		t.Errorf("no DISCOVER 10 s after the DECLINE")
	}
}

// leaseScript answers DISCOVER and REQUEST with a 1000 s lease of .150
// (T1 500 s, T2 875 s by NetX's defaults).
func leaseScript(m *dhcpv4.DHCPv4) *dhcpv4.DHCPv4 {
	var t dhcpv4.MessageType
	switch m.MessageType() {
	case dhcpv4.MessageTypeDiscover:
		t = dhcpv4.MessageTypeOffer
	case dhcpv4.MessageTypeRequest:
		t = dhcpv4.MessageTypeAck
	default:
		return nil
	}
	resp, _ := dhcpv4.NewReplyFromRequest(m, dhcpv4.WithMessageType(t),
		dhcpv4.WithYourIP(net.IPv4(198, 51, 100, 150)),
		dhcpv4.WithOption(dhcpv4.OptServerIdentifier(net.IPv4(198, 51, 100, 1))),
		dhcpv4.WithNetmask(net.CIDRMask(24, 32)), dhcpv4.WithLeaseTime(1000))
	return resp
}

func silent(*dhcpv4.DHCPv4) *dhcpv4.DHCPv4 { return nil }

// requestSchedule binds on a scripted server, then steps up to max seconds
// with the server silent, recording when each REQUEST goes out.
func requestSchedule(t *testing.T, r *rig, c *Client, sc *script, max int, stop func() bool) []int {
	t.Helper()
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	stepUntil(t, r, 3, func() bool { return c.State() == StateBound })
	sc.setAnswer(silent)
	var at []int
	last := c.Info().RequestsSent
	for s := 1; s <= max; s++ {
		r.clock.step(t)
		if n := c.Info().RequestsSent; n != last {
			at = append(at, s)
			last = n
		}
		if stop != nil && stop() {
			break
		}
	}
	return at
}

// TestRenewRebindExpire drives a 1000 s lease to its end with no answer:
// REQUEST unicast at T1 (500 s), retransmitted at half the time left (not
// below 60 s), broadcast at T2, and at expiry the address goes and INIT
// starts over, all on NetX's arithmetic.
func TestRenewRebindExpire(t *testing.T) {
	r := newRig(t)
	sc := newScript(t, r.server.IP, leaseScript)
	c := r.newClient(t, Options{})
	var expiredAt int
	at := requestSchedule(t, r, c, sc, 1010, nil)
	_ = expiredAt
	want := []int{500, 688, 782, 842, 876, 939, 999}
	if !slices.Equal(at, want) {
		t.Errorf("REQUESTs at %v s after binding, want %v", at, want)
	}
	if st := c.State(); st != StateSelecting && st != StateInit {
		t.Errorf("state after lease expiry = %v, want INIT or SELECTING", st)
	}
	if got := r.client.IP.InterfaceAddressGet(); got.IsValid() {
		t.Errorf("address after expiry = %v, want none", got)
	}
	// The renewal REQUESTs carry ciaddr and no server ID or requested IP.
	msgs := sc.received()
	var renew []*dhcpv4.DHCPv4
	for _, m := range msgs {
		if m.MessageType() == dhcpv4.MessageTypeRequest && !m.ClientIPAddr.IsUnspecified() {
			renew = append(renew, m)
		}
	}
	if len(renew) != len(want) {
		t.Fatalf("server got %d renew/rebind REQUESTs, want %d", len(renew), len(want))
	}
	for _, m := range renew {
		if !m.ClientIPAddr.Equal(net.IPv4(198, 51, 100, 150)) || m.ServerIdentifier() != nil || m.RequestedIPAddress() != nil {
			t.Errorf("renew REQUEST: ciaddr %v server-id %v requested %v", m.ClientIPAddr, m.ServerIdentifier(), m.RequestedIPAddress())
		}
	}
	_, err := c.WaitBound(t.Context(), nx.NoWait)
	if !errors.Is(err, ErrNotBound) {
		t.Errorf("WaitBound after expiry = %v, want NX_DHCP_NOT_BOUND", err)
	}
}

// TestRebindAck: the server ignores renewals but answers the first rebind.
func TestRebindAck(t *testing.T) {
	r := newRig(t)
	sc := newScript(t, r.server.IP, leaseScript)
	c := r.newClient(t, Options{})
	at := requestSchedule(t, r, c, sc, 900, func() bool { return c.State() == StateRebinding })
	if len(at) == 0 || at[len(at)-1] != 876 {
		t.Fatalf("REQUESTs at %v, want the rebind at 876 s", at)
	}
	// The server must have taken (and ignored) the rebind REQUEST before it
	// starts answering, or it answers that one and the client binds at
	// once: the frame is on its way when the step that sent it returns.
	waitFor(t, "the server to receive the rebind REQUEST", func() bool {
		n := 0
		for _, m := range sc.received() {
			if m.MessageType() == dhcpv4.MessageTypeRequest {
				n++
			}
		}
		return uint64(n) == uint64(c.Info().RequestsSent)
	})
	sc.setAnswer(leaseScript)
	// The first REBINDING retransmission is 63 s later; the ACK binds again.
	req := c.Info().RequestsSent
	for s := 1; s < 63; s++ {
		r.clock.step(t)
	}
	if c.Info().RequestsSent != req || c.State() != StateRebinding {
		t.Fatalf("REQUEST within 62 s of the rebind (state %v)", c.State())
	}
	r.clock.step(t)
	if c.Info().RequestsSent != req+1 {
		t.Fatalf("no REQUEST 63 s into REBINDING")
	}
	waitFor(t, "BOUND after the rebind ACK", func() bool { return c.State() == StateBound })
	if got := r.client.IP.InterfaceAddressGet(); got != netip.MustParsePrefix("198.51.100.150/24") {
		t.Errorf("address after rebind = %v", got)
	}
}

func TestNewValidates(t *testing.T) {
	r := newRig(t)
	for _, tc := range []struct {
		name string
		o    Options
		want error
	}{
		{"no IP", Options{}, nx.ErrPtr},
		{"long name", Options{IP: r.client.IP, Name: string(make([]byte, 256))}, ErrInvalidName},
		{"five options", Options{IP: r.client.IP, RequestOptions: []uint8{42, 15, 2, 4, 12}}, nx.ErrNoMoreEntries},
		{"duplicate option", Options{IP: r.client.IP, RequestOptions: []uint8{3}}, nx.ErrDuplicatedEntry},
		{"bad request address", Options{IP: r.client.IP, RequestedAddress: netip.MustParseAddr("224.0.0.1")}, ErrInvalidIPRequest},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := New(tc.o); !errors.Is(err, tc.want) {
				t.Errorf("New(%s) = %v, want %v", tc.name, err, tc.want)
			}
		})
	}
}

// TestARPProbeClear: nobody answers the probes, so the client binds after
// probing (ADDRESS_PROBING, then BOUND).
func TestARPProbeClear(t *testing.T) {
	r := newRig(t)
	newServer(t, r, netsvc.DHCPOptions{})
	var mu sync.Mutex
	var states []State
	c := r.newClient(t, Options{ARPProbe: true, ProbeCount: 2, ProbeInterval: 20 * time.Millisecond,
		StateChange: func(s State) { mu.Lock(); states = append(states, s); mu.Unlock() }})
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	r.clock.step(t)
	waitFor(t, "BOUND after the probes", func() bool { return c.State() == StateBound })
	if got := r.client.IP.InterfaceAddressGet(); got != netip.MustParsePrefix("198.51.100.100/24") {
		t.Errorf("address = %v", got)
	}
	mu.Lock()
	defer mu.Unlock()
	want := []State{StateInit, StateSelecting, StateRequesting, StateAddressProbing, StateBound}
	if !slices.Equal(states, want) {
		t.Errorf("states = %v, want %v", states, want)
	}
}

// TestLifecycle: Stop keeps the address (nx_dhcp_stop), Start binds again,
// ForceRenew renews at once, a NAK to the renewal drops the address, and
// Reinitialize and Close clean up.
func TestLifecycle(t *testing.T) {
	r := newRig(t)
	srv := newServer(t, r, netsvc.DHCPOptions{})
	c := r.newClient(t, Options{})
	if err := c.ForceRenew(); !errors.Is(err, ErrNotBound) {
		t.Errorf("ForceRenew() before Start = %v, want ErrNotBound", err)
	}
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	stepUntil(t, r, 3, func() bool { return c.State() == StateBound })
	if st, err := r.client.IP.StatusCheck(t.Context(), netstack.AddressResolved, nx.NoWait); err != nil || st&netstack.AddressResolved == 0 {
		t.Errorf("StatusCheck(ADDRESS_RESOLVED) = %#x, %v after BOUND", st, err)
	}
	if err := c.Stop(); err != nil {
		t.Fatalf("Stop() = %v", err)
	}
	if got := r.client.IP.InterfaceAddressGet(); !got.IsValid() {
		t.Errorf("Stop removed the address; NetX keeps it")
	}
	if c.State() != StateNotStarted {
		t.Errorf("state after Stop = %v", c.State())
	}
	if err := c.Start(); err != nil {
		t.Fatalf("Start() after Stop = %v", err)
	}
	stepUntil(t, r, 3, func() bool { return c.State() == StateBound })

	// ForceRenew: a unicast REQUEST now, ACKed, back to BOUND.
	req := c.Info().RequestsSent
	acks := c.Info().AcksReceived
	if err := c.ForceRenew(); err != nil {
		t.Fatalf("ForceRenew() = %v", err)
	}
	waitFor(t, "the renewal ACK", func() bool { return c.Info().AcksReceived == acks+1 && c.State() == StateBound })
	if c.Info().RequestsSent != req+1 {
		t.Errorf("ForceRenew sent %d REQUESTs", c.Info().RequestsSent-req)
	}

	// A NAK to a renewal: the address goes and the client starts over.
	srv.SetFault(netsvc.DHCPNAK)
	if err := c.ForceRenew(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the NAK", func() bool { return c.Info().NacksReceived == 1 })
	if c.State() != StateInit {
		t.Errorf("state after a NAK in RENEWING = %v, want INIT", c.State())
	}
	if got := r.client.IP.InterfaceAddressGet(); got.IsValid() {
		t.Errorf("address kept after a NAK: %v", got)
	}
	srv.SetFault(netsvc.DHCPNoFault)
	stepUntil(t, r, 5, func() bool { return c.State() == StateBound })
	if err := c.Reinitialize(); err != nil {
		t.Fatal(err)
	}
	if got := r.client.IP.InterfaceAddressGet(); got.IsValid() || c.State() != StateNotStarted {
		t.Errorf("after Reinitialize: address %v, state %v", got, c.State())
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Errorf("second Close() = %v", err)
	}
	if err := c.Start(); !errors.Is(err, nx.ErrNotEnabled) {
		t.Errorf("Start() after Close = %v, want NX_NOT_ENABLED", err)
	}
}

// TestServerT1T2: options 58 and 59 from the server replace NetX's 1/2 and
// 7/8 defaults: renewal at T1 = 100 s, rebinding at T2 = 200 s.
func TestServerT1T2(t *testing.T) {
	r := newRig(t)
	srv := newServer(t, r, netsvc.DHCPOptions{LeaseTime: 1000 * time.Second, T1: 100 * time.Second, T2: 200 * time.Second})
	c := r.newClient(t, Options{})
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	stepUntil(t, r, 3, func() bool { return c.State() == StateBound })
	if l, _ := c.Lease(); l.RenewalTime != 100*time.Second || l.RebindTime != 200*time.Second || l.LeaseTime != 1000*time.Second {
		t.Fatalf("lease times %v/%v/%v, want T1 100s, T2 200s, lease 1000s", l.RenewalTime, l.RebindTime, l.LeaseTime)
	}
	srv.SetFault(netsvc.DHCPSilent)
	var renewAt, rebindAt int
	for s := 1; s <= 210 && rebindAt == 0; s++ {
		r.clock.step(t)
		switch st := c.State(); {
		case st == StateRenewing && renewAt == 0:
			renewAt = s
		case st == StateRebinding:
			rebindAt = s
		}
	}
	if renewAt != 100 || rebindAt != 200 {
		t.Errorf("RENEWING at %d s, REBINDING at %d s; want 100 and 200", renewAt, rebindAt)
	}
}

// TestMessagesMatchNetX checks the fields and options _nx_dhcp_send_request_internal
// puts in DISCOVER and REQUEST: broadcast flag, secs, ciaddr 0, the infinite
// lease request (DISCOVER only, since the OFFER set T1 and T2), the host name, the parameter list (1, 3, 6, then the user's),
// and in REQUEST the requested address and server identifier.
func TestMessagesMatchNetX(t *testing.T) {
	r := newRig(t)
	sc := newScript(t, r.server.IP, leaseScript)
	c := r.newClient(t, Options{Name: "board7", RequestOptions: []uint8{42}})
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	stepUntil(t, r, 3, func() bool { return c.State() == StateBound })
	msgs := sc.received()
	if len(msgs) != 2 {
		t.Fatalf("server got %d messages, want DISCOVER and REQUEST", len(msgs))
	}
	mac := r.client.Driver.MAC()
	for i, m := range msgs {
		want := []dhcpv4.MessageType{dhcpv4.MessageTypeDiscover, dhcpv4.MessageTypeRequest}[i]
		if m.MessageType() != want || m.OpCode != dhcpv4.OpcodeBootRequest || !m.IsBroadcast() ||
			!m.ClientIPAddr.IsUnspecified() || m.ClientHWAddr.String() != mac.String() || m.HopCount != 0 {
			t.Errorf("%v: header %s", want, m.Summary())
		}
		if m.HostName() != "board7" {
			t.Errorf("%v: host name %q, want board7 (nx_dhcp_create's name)", want, m.HostName())
		}
		// The infinite lease is asked for in DISCOVER; REQUEST asks only while
		// no T1/T2 is known, and the OFFER gave them.
		wantLease := map[bool]string{true: "\xff\xff\xff\xff", false: ""}[i == 0]
		if got := m.GetOneOption(dhcpv4.OptionIPAddressLeaseTime); string(got) != wantLease {
			t.Errorf("%v: lease option %x, want %x (NX_DHCP_INFINITE_LEASE only in DISCOVER)", want, got, wantLease)
		}
		if got := m.GetOneOption(dhcpv4.OptionParameterRequestList); string(got) != "\x01\x03\x06\x2a" {
			t.Errorf("%v: parameter request list %v, want 1 3 6 42", want, got)
		}
	}
	req := msgs[1]
	if !req.RequestedIPAddress().Equal(net.IPv4(198, 51, 100, 150)) || !req.ServerIdentifier().Equal(net.IPv4(198, 51, 100, 1)) {
		t.Errorf("REQUEST: requested %v, server id %v", req.RequestedIPAddress(), req.ServerIdentifier())
	}
	if msgs[0].RequestedIPAddress() != nil || msgs[0].ServerIdentifier() != nil {
		t.Errorf("DISCOVER carries a requested address or server id")
	}
	if msgs[0].TransactionID != req.TransactionID {
		t.Errorf("XID changed between DISCOVER and REQUEST")
	}
	// NetX's DISCOVER goes out as the INIT timeout expires, with secs 0.
	if msgs[0].NumSeconds != 0 {
		t.Errorf("DISCOVER secs = %d, want 0", msgs[0].NumSeconds)
	}
}

// TestRequestClientIP: RequestedAddress with SkipDiscover
// (nx_dhcp_request_client_ip(..., NX_TRUE)) starts with a REQUEST for that
// address and no DISCOVER; without SkipDiscover the DISCOVER asks for it.
func TestRequestClientIP(t *testing.T) {
	want := netip.MustParseAddr("198.51.100.120")
	for _, skip := range []bool{true, false} {
		t.Run(map[bool]string{true: "skip-discover", false: "discover"}[skip], func(t *testing.T) {
			r := newRig(t)
			srv := newServer(t, r, netsvc.DHCPOptions{})
			c := r.newClient(t, Options{RequestedAddress: want, SkipDiscover: skip})
			if err := c.Start(); err != nil {
				t.Fatal(err)
			}
			stepUntil(t, r, 3, func() bool { return c.State() == StateBound })
			l, _ := c.Lease()
			if l.Addr.Addr() != want {
				t.Errorf("leased %v, want the requested %v", l.Addr, want)
			}
			st := srv.Stats()
			wantDiscovers := map[bool]uint64{true: 0, false: 1}[skip]
			if st.Discovers != wantDiscovers || st.Requests != 1 {
				t.Errorf("server saw %d DISCOVER, %d REQUEST; want %d and 1", st.Discovers, st.Requests, wantDiscovers)
			}
		})
	}
}

// TestDecline: nx_dhcp_decline on a bound client sends a DECLINE naming the
// address, drops it and starts over after NX_DHCP_RESTART_WAIT.
func TestDecline(t *testing.T) {
	r := newRig(t)
	srv := newServer(t, r, netsvc.DHCPOptions{})
	c := r.newClient(t, Options{})
	if err := c.Decline(); !errors.Is(err, ErrNotBound) {
		t.Errorf("Decline() before BOUND = %v, want NX_DHCP_NOT_BOUND", err)
	}
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	stepUntil(t, r, 3, func() bool { return c.State() == StateBound })
	declined, _ := c.Lease()
	if err := c.Decline(); err != nil {
		t.Fatalf("Decline() = %v", err)
	}
	waitFor(t, "the server to see the DECLINE", func() bool { return srv.Stats().Declines == 1 })
	if c.State() != StateInit || r.client.IP.InterfaceAddressGet().IsValid() {
		t.Errorf("after Decline: state %v, address %v", c.State(), r.client.IP.InterfaceAddressGet())
	}
	d := c.Info().DiscoveriesSent
	for i := 0; i < 9; i++ {
		r.clock.step(t)
	}
	if c.Info().DiscoveriesSent != d {
		t.Errorf("DISCOVER within 9 s of the DECLINE")
	}
	stepUntil(t, r, 3, func() bool { return c.State() == StateBound })
	if again, _ := c.Lease(); again.Addr == declined.Addr {
		t.Errorf("the server leased the declined %v again", declined.Addr)
	}
}
