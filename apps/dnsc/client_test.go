package dnsc_test

import (
	"encoding/binary"
	"errors"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/simboard/simboard/apps/dnsc"
	"github.com/simboard/simboard/boardtest"
	"github.com/simboard/simboard/internal/netsvc"
	"github.com/simboard/simboard/nx"
)

func TestHostByNameGetAAndAAAA(t *testing.T) {
	cl, srv := setup(t, boardtest.Options{})
	startZone(t, srv, nil)
	c := newClient(t, cl, dnsc.Options{}, srv.Addr)
	ctx := ctxT(t)

	a, err := c.HostByNameGet(ctx, mailName, dnsc.TypeA, nx.Seconds(1))
	if err != nil || a != srv.Addr {
		t.Fatalf("HostByNameGet(ctx, %q, A, 1s) = %v, %v, want %v", mailName, a, err, srv.Addr)
	}
	a6, err := c.HostByNameGet(ctx, "MAIL.simboard.test.", dnsc.TypeAAAA, nx.Seconds(1))
	if err != nil || a6 != srv.Addr6 {
		t.Fatalf("HostByNameGet(ctx, MAIL.simboard.test., AAAA, 1s) = %v, %v, want %v", a6, err, srv.Addr6)
	}
	name, err := c.HostByAddressGet(ctx, srv.Addr, nx.Seconds(1))
	if err != nil || name != mailName {
		t.Fatalf("HostByAddressGet(ctx, %v, 1s) = %q, %v, want %q", srv.Addr, name, err, mailName)
	}
	got, err := c.LookupNetIP(ctx, "ip", mailName)
	if err != nil || !slices.Equal(got, []netip.Addr{srv.Addr}) {
		t.Fatalf("LookupNetIP(ctx, ip, %q) = %v, %v, want [%v]", mailName, got, err, srv.Addr)
	}
	if st := c.Stats(); st.Queries != 3 || st.CacheHits != 1 {
		t.Errorf("Stats() = %+v, want 3 queries and 1 cache hit (LookupNetIP answered from the cache)", st)
	}

	// The server over IPv6 works the same.
	c6 := newClient(t, cl, dnsc.Options{CacheSize: -1}, srv.Addr6)
	if a, err := c6.HostByNameGet(ctx, mailName, dnsc.TypeA, nx.Seconds(1)); err != nil || a != srv.Addr {
		t.Fatalf("over IPv6: HostByNameGet(ctx, %q, A, 1s) = %v, %v, want %v", mailName, a, err, srv.Addr)
	}
}

func TestServerList(t *testing.T) {
	cl, _ := setup(t, boardtest.Options{})
	c := newClient(t, cl, dnsc.Options{})
	ctx := ctxT(t)
	if _, err := c.HostByNameGet(ctx, mailName, dnsc.TypeA, nx.Seconds(1)); !errors.Is(err, dnsc.ErrNoServer) {
		t.Fatalf("HostByNameGet with no server = %v, want %v", err, dnsc.ErrNoServer)
	}
	for i := 1; i <= dnsc.MaxServers; i++ {
		if err := c.ServerAdd(netip.AddrFrom4([4]byte{198, 51, 100, byte(i)})); err != nil {
			t.Fatalf("ServerAdd #%d = %v", i, err)
		}
	}
	if err := c.ServerAdd(netip.MustParseAddr("198.51.100.9")); !errors.Is(err, nx.ErrNoMoreEntries) {
		t.Errorf("ServerAdd beyond %d = %v, want %v", dnsc.MaxServers, err, nx.ErrNoMoreEntries)
	}
	if err := c.ServerAdd(netip.MustParseAddr("198.51.100.1")); !errors.Is(err, dnsc.ErrDuplicateEntry) {
		t.Errorf("ServerAdd duplicate = %v, want %v", err, dnsc.ErrDuplicateEntry)
	}
	if err := c.ServerAdd(netip.IPv4Unspecified()); !errors.Is(err, dnsc.ErrParam) {
		t.Errorf("ServerAdd(0.0.0.0) = %v, want %v", err, dnsc.ErrParam)
	}
	if err := c.ServerRemove(netip.MustParseAddr("198.51.100.77")); !errors.Is(err, dnsc.ErrServerNotFound) {
		t.Errorf("ServerRemove(unknown) = %v, want %v", err, dnsc.ErrServerNotFound)
	}
	// The DHCP feed replaces the list.
	err := c.SetServers([]netip.Addr{netip.MustParseAddr("198.51.100.7"), netip.MustParseAddr("2001:db8::7"), netip.MustParseAddr("198.51.100.7")})
	if !errors.Is(err, dnsc.ErrDuplicateEntry) {
		t.Errorf("SetServers with a duplicate = %v, want %v", err, dnsc.ErrDuplicateEntry)
	}
	if got := c.Servers(); len(got) != 2 || got[1] != netip.MustParseAddr("2001:db8::7") {
		t.Errorf("Servers() after SetServers = %v", got)
	}
	if s, err := c.ServerGet(1); err != nil || s != netip.MustParseAddr("2001:db8::7") {
		t.Errorf("ServerGet(1) = %v, %v", s, err)
	}
	if _, err := c.ServerGet(2); !errors.Is(err, dnsc.ErrServerNotFound) {
		t.Errorf("ServerGet(2) = %v, want %v", err, dnsc.ErrServerNotFound)
	}
	if _, err := c.HostByNameGet(ctx, "bad name", dnsc.TypeA, nx.Seconds(1)); !errors.Is(err, dnsc.ErrParam) {
		t.Errorf("HostByNameGet(bad name) = %v, want %v", err, dnsc.ErrParam)
	}
	if _, err := c.HostByNameGet(ctx, mailName, dnsc.TypeA, nx.NoWait); !errors.Is(err, dnsc.ErrParam) {
		t.Errorf("HostByNameGet(NoWait) = %v, want %v", err, dnsc.ErrParam)
	}
}

func TestCacheHonoursTTL(t *testing.T) {
	cl, srv := setup(t, boardtest.Options{})
	startZone(t, srv, nil) // TTL 30 s
	clk := &fakeClock{}
	c := newClient(t, cl, dnsc.Options{Clock: clk}, srv.Addr)
	ctx := ctxT(t)
	look := func() {
		t.Helper()
		if a, err := c.HostByNameGet(ctx, mailName, dnsc.TypeA, nx.Seconds(1)); err != nil || a != srv.Addr {
			t.Fatalf("HostByNameGet = %v, %v", a, err)
		}
	}
	look()
	look()
	clk.advance(29 * time.Second)
	look()
	if st := c.Stats(); st.Queries != 1 || st.CacheHits != 2 {
		t.Fatalf("within the TTL: Stats() = %+v, want 1 query, 2 cache hits", st)
	}
	clk.advance(time.Second)
	look()
	if st := c.Stats(); st.Queries != 2 || st.CacheEntries != 1 {
		t.Fatalf("at the TTL: Stats() = %+v, want a second query and 1 entry", st)
	}
	c.CacheFlush()
	look()
	if st := c.Stats(); st.Queries != 3 {
		t.Fatalf("after CacheFlush: Stats() = %+v, want a third query", st)
	}
}

// DNS retry across two servers: the first never answers; the second does.
func TestRetryAcrossTwoServers(t *testing.T) {
	boardtest.CheckGoroutines(t)
	w := boardtest.NewWire(t, 1)
	dns1 := boardtest.NewBoard(t, w, "dns1", 1, boardtest.Options{})
	cl := boardtest.NewBoard(t, w, "client", 2, boardtest.Options{})
	dns2 := boardtest.NewBoard(t, w, "dns2", 3, boardtest.Options{})
	var log queryLog
	startScript(t, dns1, func(w dns.ResponseWriter, req *dns.Msg) { log.add("dns1") }) // silent
	good := true
	startScript(t, dns2, func(w dns.ResponseWriter, req *dns.Msg) {
		log.add("dns2")
		if good {
			_ = w.WriteMsg(reply(req, 1, 60))
		}
	})
	c := newClient(t, cl, dnsc.Options{CacheSize: -1}, dns1.Addr, dns2.Addr)
	ctx := ctxT(t)
	a, err := c.HostByNameGet(ctx, mailName, dnsc.TypeA, nx.Ticks(20))
	if err != nil || a != netip.MustParseAddr("10.0.0.0") {
		t.Fatalf("HostByNameGet = %v, %v, want 10.0.0.0 from the second server", a, err)
	}
	if got := log.all(); !slices.Equal(got, []string{"dns1", "dns2"}) {
		t.Fatalf("queries went to %v, want [dns1 dns2]", got)
	}

	// Neither answers: NetX's rounds, each server in turn, then QUERY_FAILED.
	good = false
	log = queryLog{}
	_, err = c.HostByNameGet(ctx, mailName, dnsc.TypeA, nx.Ticks(5))
	if !errors.Is(err, dnsc.ErrQueryFailed) || !errors.Is(err, nx.ErrNoPacket) || dnsc.Code(err) != 0xA3 {
		t.Fatalf("HostByNameGet to two silent servers = %v (code %#x), want NX_DNS_QUERY_FAILED wrapping NX_NO_PACKET", err, dnsc.Code(err))
	}
	want := []string{"dns1", "dns2", "dns1", "dns2", "dns1", "dns2"}
	if got := log.all(); !slices.Equal(got, want) {
		t.Fatalf("queries went to %v, want %v", got, want)
	}
}

func TestTruncatedReplyFallsBackToTCP(t *testing.T) {
	cl, srv := setup(t, boardtest.Options{})
	many := make([]netip.Addr, 60) // 60 A records: ~1 KB, more than 512
	for i := range many {
		many[i] = netip.AddrFrom4([4]byte{10, 1, 0, byte(i)})
	}
	startZone(t, srv, map[string][]netip.Addr{"many.simboard.test": many})
	ctx := ctxT(t)

	c := newClient(t, cl, dnsc.Options{}, srv.Addr)
	got, err := c.AddressesByNameGet(ctx, "many.simboard.test", dnsc.TypeA, nx.Seconds(2))
	if err != nil || !slices.Equal(got, many) {
		t.Fatalf("AddressesByNameGet(many) = %d addresses, %v; want all %d over TCP", len(got), err, len(many))
	}
	if st := c.Stats(); st.TCPQueries != 1 || st.Queries != 1 {
		t.Fatalf("Stats() = %+v, want 1 UDP query and 1 TCP retry", st)
	}

	// NetX's behaviour: keep what the truncated reply holds.
	n := newClient(t, cl, dnsc.Options{NoTCPFallback: true}, srv.Addr)
	got, err = n.AddressesByNameGet(ctx, "many.simboard.test", dnsc.TypeA, nx.Seconds(2))
	if err != nil || len(got) == 0 || len(got) >= len(many) || !slices.Equal(got, many[:len(got)]) {
		t.Fatalf("NoTCPFallback: AddressesByNameGet(many) = %d addresses, %v; want the truncated prefix", len(got), err)
	}
	if st := n.Stats(); st.TCPQueries != 0 {
		t.Fatalf("NoTCPFallback: Stats() = %+v, want no TCP", st)
	}
}

// More answers than fit a packet: a server that ignores the 512-byte limit
// sends a datagram larger than the client's pool packets; it arrives as a
// chain, is read whole and released.
func TestMoreAnswersThanFitAPacket(t *testing.T) {
	cl, srv := setup(t, boardtest.Options{PayloadSize: 400, Count: 64})
	startScript(t, srv, func(w dns.ResponseWriter, req *dns.Msg) {
		b, _ := reply(req, 70, 60).Pack() // ~1.2 KB, no TC
		_, _ = w.Write(b)
	})
	c := newClient(t, cl, dnsc.Options{}, srv.Addr)
	got, err := c.AddressesByNameGet(ctxT(t), mailName, dnsc.TypeA, nx.Seconds(2))
	if err != nil || len(got) != 70 {
		t.Fatalf("AddressesByNameGet = %d addresses, %v; want 70", len(got), err)
	}
}

// failCase runs one scripted bad server against a client with one round and
// returns the error.
func failCase(t *testing.T, h dns.HandlerFunc, wait nx.Wait) (dnsc.Stats, error) {
	t.Helper()
	cl, srv := setup(t, boardtest.Options{})
	startScript(t, srv, h)
	c := newClient(t, cl, dnsc.Options{Retries: 1}, srv.Addr)
	_, err := c.HostByNameGet(ctxT(t), mailName, dnsc.TypeA, wait)
	return c.Stats(), err
}

func TestWrongID(t *testing.T) {
	st, err := failCase(t, func(w dns.ResponseWriter, req *dns.Msg) {
		m := reply(req, 1, 60)
		m.Id ^= 0x5555
		_ = w.WriteMsg(m)
	}, nx.Ticks(20))
	if !errors.Is(err, dnsc.ErrQueryFailed) || !errors.Is(err, dnsc.ErrBadID) || st.BadID != 1 {
		t.Fatalf("reply with a wrong ID: err %v, stats %+v; want NX_DNS_QUERY_FAILED wrapping NX_DNS_BAD_ID_ERROR", err, st)
	}
}

func TestWrongIDThenRightID(t *testing.T) {
	st, err := failCase(t, func(w dns.ResponseWriter, req *dns.Msg) {
		m := reply(req, 1, 60)
		m.Id ^= 1
		_ = w.WriteMsg(m)
		m.Id ^= 1
		_ = w.WriteMsg(m)
	}, nx.Seconds(2))
	if err != nil || st.BadID != 1 || st.Replies != 1 {
		t.Fatalf("wrong then right ID: err %v, stats %+v; want success after one dropped reply", err, st)
	}
}

func TestCompressionLoop(t *testing.T) {
	st, err := failCase(t, func(w dns.ResponseWriter, req *dns.Msg) {
		q, _ := req.Pack()
		// Header + question as asked, then one answer whose name is a
		// pointer to itself.
		b := append([]byte(nil), q...)
		b[2] |= 0x80                         // QR
		binary.BigEndian.PutUint16(b[6:], 1) // ANCOUNT
		off := len(b)
		b = append(b, 0xC0|byte(off>>8), byte(off))
		b = append(b, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 10, 0, 0, 1)
		_, _ = w.Write(b)
	}, nx.Seconds(2))
	if !errors.Is(err, dnsc.ErrQueryFailed) || !errors.Is(err, dnsc.ErrMalformedPacket) || st.Malformed != 1 {
		t.Fatalf("compression loop: err %v, stats %+v; want NX_DNS_QUERY_FAILED wrapping NX_DNS_MALFORMED_PACKET", err, st)
	}
}

func TestRcodes(t *testing.T) {
	for _, tc := range []struct {
		name   string
		rcode  int
		status dnsc.Status
	}{
		{"NXDOMAIN", dns.RcodeNameError, dnsc.ErrServerAuth},
		{"SERVFAIL", dns.RcodeServerFailure, dnsc.ErrServerAuth},
		{"REFUSED", dns.RcodeRefused, dnsc.ErrQueryFailed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st, err := failCase(t, func(w dns.ResponseWriter, req *dns.Msg) {
				m := new(dns.Msg)
				m.SetRcode(req, tc.rcode)
				_ = w.WriteMsg(m)
			}, nx.Seconds(2))
			var re *dnsc.RcodeError
			if !errors.Is(err, dnsc.ErrQueryFailed) || !errors.As(err, &re) || re.Rcode != tc.rcode || !errors.Is(re, tc.status) {
				t.Fatalf("%s: err %v; want NX_DNS_QUERY_FAILED wrapping an RcodeError %s (%v)", tc.name, err, tc.name, tc.status)
			}
			if st.Queries != 1 {
				t.Errorf("%s: %d queries, want 1 (one round, one server)", tc.name, st.Queries)
			}
		})
	}
}

// NXDOMAIN from the zone server, through NetX's full retry schedule.
func TestNXDOMAINFromZone(t *testing.T) {
	cl, srv := setup(t, boardtest.Options{})
	startZone(t, srv, nil)
	c := newClient(t, cl, dnsc.Options{}, srv.Addr)
	_, err := c.HostByNameGet(ctxT(t), "nosuch.simboard.test", dnsc.TypeA, nx.Seconds(1))
	var re *dnsc.RcodeError
	if !errors.As(err, &re) || re.Rcode != dns.RcodeNameError || dnsc.Code(err) != uint32(dnsc.ErrQueryFailed) {
		t.Fatalf("HostByNameGet(nosuch) = %v, want NX_DNS_QUERY_FAILED with NXDOMAIN", err)
	}
	if st := c.Stats(); st.Queries != dnsc.MaxRetries {
		t.Errorf("Stats().Queries = %d, want %d (NetX asks again each round)", st.Queries, dnsc.MaxRetries)
	}
	// NODATA: the name exists, no AAAA... the zone has one, so ask a v4-only name.
}

func TestMismatchedQuestion(t *testing.T) {
	_, err := failCase(t, func(w dns.ResponseWriter, req *dns.Msg) {
		m := reply(req, 1, 60)
		m.Question[0].Name = "other.simboard.test."
		_ = w.WriteMsg(m)
	}, nx.Seconds(2))
	if !errors.Is(err, dnsc.ErrMismatchedResponse) {
		t.Fatalf("reply to another question: %v, want %v", err, dnsc.ErrMismatchedResponse)
	}
}

func TestContextCancelled(t *testing.T) {
	cl, srv := setup(t, boardtest.Options{})
	startScript(t, srv, func(w dns.ResponseWriter, req *dns.Msg) {})
	c := newClient(t, cl, dnsc.Options{}, srv.Addr)
	ctx, cancel := contextWithTimeout(200 * time.Millisecond)
	defer cancel()
	_, err := c.HostByNameGet(ctx, mailName, dnsc.TypeA, nx.Seconds(10))
	if !errors.Is(err, nx.ErrWaitAborted) || !errors.Is(err, contextDeadline) {
		t.Fatalf("HostByNameGet past ctx deadline = %v, want NX_WAIT_ABORTED and context.DeadlineExceeded", err)
	}
}

func TestForBoard(t *testing.T) {
	cl, srv := setup(t, boardtest.Options{})
	if got := dnsc.For(cl.IP); got != nil {
		t.Fatalf("For(board) before New = %v, want nil", got)
	}
	a := newClient(t, cl, dnsc.Options{})
	b := newClient(t, cl, dnsc.Options{})
	if dnsc.For(cl.IP) != b || dnsc.For(srv.IP) != nil {
		t.Fatalf("For(board) is not the last client created on it")
	}
	_ = a.Delete()
	if dnsc.For(cl.IP) != b {
		t.Fatalf("deleting an older client changed For(board)")
	}
	_ = b.Delete()
	if got := dnsc.For(cl.IP); got != nil {
		t.Fatalf("For(board) after Delete = %v, want nil", got)
	}
	if err := b.ServerAdd(srv.Addr); !errors.Is(err, nx.ErrPtr) {
		t.Fatalf("ServerAdd after Delete = %v, want %v", err, nx.ErrPtr)
	}
}

// A reply cut short inside its answer, without TC: NX_DNS_MALFORMED_PACKET.
func TestTruncatedWithoutTC(t *testing.T) {
	st, err := failCase(t, func(w dns.ResponseWriter, req *dns.Msg) {
		b, _ := reply(req, 3, 60).Pack()
		_, _ = w.Write(b[:len(b)-9])
	}, nx.Seconds(2))
	if !errors.Is(err, dnsc.ErrQueryFailed) || !errors.Is(err, dnsc.ErrMalformedPacket) || st.Malformed != 1 {
		t.Fatalf("reply cut inside an answer: err %v, stats %+v; want NX_DNS_QUERY_FAILED wrapping NX_DNS_MALFORMED_PACKET", err, st)
	}
}

// NODATA: the name exists but has no record of the asked type; LookupNetIP
// "ip" then asks AAAA; NXDOMAIN asks nothing more.
func TestNoDataAndLookupFallback(t *testing.T) {
	cl, srv := setup(t, boardtest.Options{})
	v6 := netip.MustParseAddr("2001:db8::99")
	startZone(t, srv, map[string][]netip.Addr{"v6only.simboard.test": {v6}})
	c := newClient(t, cl, dnsc.Options{Retries: 1}, srv.Addr)
	ctx := ctxT(t)
	_, err := c.HostByNameGet(ctx, "v6only.simboard.test", dnsc.TypeA, nx.Seconds(1))
	var re *dnsc.RcodeError
	if !errors.Is(err, dnsc.ErrQueryFailed) || errors.As(err, &re) {
		t.Fatalf("A for a v6-only name = %v, want NX_DNS_QUERY_FAILED without an rcode (NODATA)", err)
	}
	got, err := c.LookupNetIP(ctx, "ip", "v6only.simboard.test")
	if err != nil || !slices.Equal(got, []netip.Addr{v6}) {
		t.Fatalf("LookupNetIP(ip, v6only) = %v, %v; want [%v] from the AAAA query", got, err, v6)
	}
	before := c.Stats().Queries
	if _, err := c.LookupNetIP(ctx, "ip", "nosuch.simboard.test"); !errors.As(err, &re) || re.Rcode != dns.RcodeNameError {
		t.Fatalf("LookupNetIP(ip, nosuch) = %v, want NXDOMAIN", err)
	}
	if q := c.Stats().Queries - before; q != 1 {
		t.Errorf("LookupNetIP(ip, nosuch) sent %d queries, want 1 (no AAAA after NXDOMAIN)", q)
	}
	if got, err := c.LookupNetIP(ctx, "ip", "198.51.100.77"); err != nil || got[0] != netip.MustParseAddr("198.51.100.77") {
		t.Errorf("LookupNetIP(address literal) = %v, %v", got, err)
	}
}

// The cache keeps at most CacheSize answers; the one closest to expiry makes
// room.
func TestCacheSizeLimit(t *testing.T) {
	cl, srv := setup(t, boardtest.Options{})
	startScript(t, srv, func(w dns.ResponseWriter, req *dns.Msg) {
		ttl := uint32(100)
		if req.Question[0].Name == "short.simboard.test." {
			ttl = 10
		}
		_ = w.WriteMsg(reply(req, 1, ttl))
	})
	c := newClient(t, cl, dnsc.Options{CacheSize: 2}, srv.Addr)
	ctx := ctxT(t)
	for _, n := range []string{"short.simboard.test", "long.simboard.test", "third.simboard.test", "long.simboard.test"} {
		if _, err := c.HostByNameGet(ctx, n, dnsc.TypeA, nx.Seconds(1)); err != nil {
			t.Fatalf("HostByNameGet(%s) = %v", n, err)
		}
	}
	if st := c.Stats(); st.CacheEntries != 2 || st.Queries != 3 || st.CacheHits != 1 {
		t.Fatalf("Stats() = %+v, want 2 entries, 3 queries and long.simboard.test from the cache", st)
	}
	if _, err := c.HostByNameGet(ctx, "short.simboard.test", dnsc.TypeA, nx.Seconds(1)); err != nil || c.Stats().Queries != 4 {
		t.Fatalf("short.simboard.test was not the evicted entry: err %v, stats %+v", err, c.Stats())
	}
}

// A truncated reply from a server without TCP service: the records it holds.
func TestTruncatedNoTCPService(t *testing.T) {
	cl, srv := setup(t, boardtest.Options{})
	many := make([]netip.Addr, 60)
	for i := range many {
		many[i] = netip.AddrFrom4([4]byte{10, 2, 0, byte(i)})
	}
	s, err := netsvc.StartDNS(netsvc.DNSOptions{IP: srv.IP, NoTCP: true, Zone: map[string][]netip.Addr{"many.simboard.test": many}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	c := newClient(t, cl, dnsc.Options{}, srv.Addr)
	got, err := c.AddressesByNameGet(ctxT(t), "many.simboard.test", dnsc.TypeA, nx.Seconds(2))
	if err != nil || len(got) == 0 || len(got) >= len(many) || c.Stats().TCPQueries != 1 {
		t.Fatalf("AddressesByNameGet = %d addresses, %v, stats %+v; want the truncated prefix after a failed TCP try", len(got), err, c.Stats())
	}
}
