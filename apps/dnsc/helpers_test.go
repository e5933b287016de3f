package dnsc_test

import (
	"context"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/simboard/simboard/apps/dnsc"
	"github.com/simboard/simboard/boardtest"
	"github.com/simboard/simboard/internal/netsvc"
	"github.com/simboard/simboard/nx"
)

const mailName = "mail.simboard.test"

// startZone serves the mail host's zone (A and AAAA) on b.
func startZone(t *testing.T, b *boardtest.Board, extra map[string][]netip.Addr) *netsvc.DNSServer {
	t.Helper()
	zone := map[string][]netip.Addr{mailName: {b.Addr, b.Addr6}}
	for k, v := range extra {
		zone[k] = v
	}
	s, err := netsvc.StartDNS(netsvc.DNSOptions{IP: b.IP, Zone: zone, TTL: 30 * time.Second})
	if err != nil {
		t.Fatalf("netsvc.StartDNS: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// startZoneB is startZone for benchmarks.
func startZoneB(b *testing.B, brd *boardtest.Board) {
	s, err := netsvc.StartDNS(netsvc.DNSOptions{IP: brd.IP, Zone: map[string][]netip.Addr{mailName: {brd.Addr, brd.Addr6}}})
	if err != nil {
		b.Fatalf("netsvc.StartDNS: %v", err)
	}
	b.Cleanup(func() { _ = s.Close() })
}

// startScript serves h on b (a scripted server).
func startScript(t *testing.T, b *boardtest.Board, h dns.HandlerFunc) {
	t.Helper()
	s, err := netsvc.StartDNS(netsvc.DNSOptions{IP: b.IP, Handler: h})
	if err != nil {
		t.Fatalf("netsvc.StartDNS: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
}

func newClient(t *testing.T, b *boardtest.Board, opts dnsc.Options, servers ...netip.Addr) *dnsc.Client {
	t.Helper()
	opts.IP = b.IP
	c, err := dnsc.New(opts)
	if err != nil {
		t.Fatalf("dnsc.New: %v", err)
	}
	for _, s := range servers {
		if err := c.ServerAdd(s); err != nil {
			t.Fatalf("ServerAdd(%v) = %v", s, err)
		}
	}
	t.Cleanup(func() { _ = c.Delete() })
	return c
}

// setup gives a client board (.2) and a server board (.1), both dual-stack.
func setup(t *testing.T, opts boardtest.Options) (client, server *boardtest.Board) {
	t.Helper()
	boardtest.CheckGoroutines(t)
	opts.IPv6 = true
	return boardtest.Pair(t, opts)
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// queryLog records which server saw which query, in order.
type queryLog struct {
	mu   sync.Mutex
	seen []string
}

func (l *queryLog) add(s string) {
	l.mu.Lock()
	l.seen = append(l.seen, s)
	l.mu.Unlock()
}

func (l *queryLog) all() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.seen...)
}

// reply answers req with n A records 10.0.x.y for its question.
func reply(req *dns.Msg, n int, ttl uint32) *dns.Msg {
	m := new(dns.Msg)
	m.SetReply(req)
	q := req.Question[0]
	for i := 0; i < n; i++ {
		m.Answer = append(m.Answer, &dns.A{Hdr: dns.RR_Header{Name: q.Name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: ttl},
			A: net.IPv4(10, 0, byte(i>>8), byte(i))})
	}
	return m
}

// fakeClock is the system clock shifted by an offset the test advances.
type fakeClock struct {
	mu  sync.Mutex
	off time.Duration
}

func (f *fakeClock) Now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return time.Now().Add(f.off)
}

func (f *fakeClock) NewTimer(d time.Duration) nx.Timer { return nx.SystemClock.NewTimer(d) }

func (f *fakeClock) advance(d time.Duration) {
	f.mu.Lock()
	f.off += d
	f.mu.Unlock()
}
