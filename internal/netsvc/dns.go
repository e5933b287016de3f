package netsvc

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/miekg/dns"

	"github.com/simboard/simboard/netstack"
)

// DNSPort is the DNS server port (NX_DNS_PORT).
const DNSPort = 53

// DNSOptions configure a DNS server on a board. Zero values are noted.
type DNSOptions struct {
	// IP is the board that serves. Required.
	IP *netstack.IP
	// Zone maps host names ("mail.simboard.test", with or without the final
	// dot, any case) to their addresses; IPv4 addresses answer A queries and
	// IPv6 addresses AAAA queries. A name not in the zone is NXDOMAIN; a name
	// in the zone without an address of the asked type is NOERROR with no
	// answer (NODATA). Reverse (PTR) queries are answered from the same table.
	Zone map[string][]netip.Addr
	// TTL of every answer. 0 means 60 s.
	TTL time.Duration
	// Port to serve on, UDP and TCP. 0 means 53.
	Port uint16
	// NoTCP serves UDP only (a TCP query then gets a connection refused).
	NoTCP bool
	// Handler replaces the zone handler: scripted servers in tests answer
	// with whatever bytes they like through ResponseWriter.Write. nil means
	// the zone handler.
	Handler dns.Handler
	// Logger receives lifecycle events at Info and malformed queries at
	// Warn. nil discards.
	Logger *slog.Logger
}

// DNSServer serves a zone over a board's UDP and TCP sockets with
// github.com/miekg/dns's Server. UDP answers larger than 512 bytes (or the
// client's EDNS0 size) are truncated with TC set, so a client retries over
// TCP as RFC 1035 asks. Close stops and joins both servers.
type DNSServer struct {
	udp, tcp *dns.Server
	pc       *PacketConn
	ln       net.Listener
	wg       sync.WaitGroup
	once     sync.Once
	zone     map[string][]netip.Addr
	ptr      map[string]string
	ttl      uint32
	log      *slog.Logger
}

// StartDNS starts a DNS server on opts.IP. It does not block: it returns once
// both sockets are bound. Errors: a missing IP, a bad zone name, or the
// socket's status (nx.ErrPortUnavailable, nx.ErrDuplicateListen).
func StartDNS(opts DNSOptions) (*DNSServer, error) {
	if opts.IP == nil {
		return nil, errors.New("netsvc: dns: no IP")
	}
	s := &DNSServer{zone: map[string][]netip.Addr{}, ptr: map[string]string{}, log: opts.Logger}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	ttl := opts.TTL
	if ttl == 0 {
		ttl = 60 * time.Second
	}
	s.ttl = uint32(ttl / time.Second)
	for name, addrs := range opts.Zone {
		fq := dns.CanonicalName(name)
		if _, ok := dns.IsDomainName(fq); !ok || name == "" {
			return nil, fmt.Errorf("netsvc: dns: zone name %q is not a domain name", name)
		}
		s.zone[fq] = append(s.zone[fq], addrs...)
		for _, a := range addrs {
			if r, err := dns.ReverseAddr(a.Unmap().String()); err == nil {
				s.ptr[r] = fq
			}
		}
	}
	port := opts.Port
	if port == 0 {
		port = DNSPort
	}
	h := opts.Handler
	if h == nil {
		h = dns.HandlerFunc(s.serveZone)
	}
	pc, err := ListenPacket(opts.IP, "dns server", port)
	if err != nil {
		return nil, fmt.Errorf("netsvc: dns: %w", err)
	}
	s.pc = pc
	s.udp = &dns.Server{PacketConn: quietConn{pc}, Handler: h, ReadTimeout: 2 * time.Second}
	if !opts.NoTCP {
		ln, err := opts.IP.ListenTCP(port)
		if err != nil {
			_ = pc.Close()
			return nil, fmt.Errorf("netsvc: dns: %w", err)
		}
		s.ln = ln
		s.tcp = &dns.Server{Listener: ln, Handler: h, ReadTimeout: 2 * time.Second}
	}
	for _, srv := range []*dns.Server{s.udp, s.tcp} {
		if srv == nil {
			continue
		}
		started := make(chan struct{})
		failed := make(chan error, 1)
		srv.NotifyStartedFunc = func() { close(started) }
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			if err := srv.ActivateAndServe(); err != nil {
				s.log.Warn("dns server stopped", "err", err)
				failed <- err
			}
		}()
		select {
		case <-started:
		case err := <-failed:
			_ = s.Close()
			return nil, fmt.Errorf("netsvc: dns: serve: %w", err)
		}
	}
	s.log.Info("dns server started", "port", port, "names", len(s.zone))
	return s, nil
}

// quietConn is the UDP server's socket: it drops the read deadline miekg's
// server sets before every read (time.Now()+ReadTimeout; it only loops on
// it), so an idle server sets no timer at all, which keeps a virtual-time
// run free of a wakeup every 2 s. A deadline already past, which is how
// Shutdown wakes the reader, still applies; Close ends a read too.
type quietConn struct{ *PacketConn }

func (q quietConn) SetReadDeadline(t time.Time) error {
	if t.IsZero() || !t.After(time.Now()) {
		return q.PacketConn.SetReadDeadline(t)
	}
	return nil
}

func (q quietConn) SetDeadline(t time.Time) error {
	_ = q.PacketConn.SetWriteDeadline(t)
	return q.SetReadDeadline(t)
}

// Close stops both servers, closes their sockets and joins their
// goroutines. Idempotent.
func (s *DNSServer) Close() error {
	s.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		for _, srv := range []*dns.Server{s.udp, s.tcp} {
			if srv != nil {
				_ = srv.ShutdownContext(ctx)
			}
		}
		_ = s.pc.Close()
		if s.ln != nil {
			_ = s.ln.Close()
		}
		s.wg.Wait()
	})
	return nil
}

// serveZone answers A, AAAA and PTR from the zone; anything else in the zone
// is NODATA, a name outside it NXDOMAIN.
func (s *DNSServer) serveZone(w dns.ResponseWriter, req *dns.Msg) {
	m := new(dns.Msg)
	if len(req.Question) != 1 || req.Opcode != dns.OpcodeQuery {
		m.SetRcode(req, dns.RcodeFormatError)
		s.log.Warn("dns: malformed query", "from", w.RemoteAddr(), "questions", len(req.Question))
		_ = w.WriteMsg(m)
		return
	}
	m.SetReply(req)
	m.Authoritative = true
	q := req.Question[0]
	name := strings.ToLower(q.Name)
	hdr := dns.RR_Header{Name: q.Name, Rrtype: q.Qtype, Class: dns.ClassINET, Ttl: s.ttl}
	switch {
	case q.Qtype == dns.TypePTR && s.ptr[name] != "":
		m.Answer = append(m.Answer, &dns.PTR{Hdr: hdr, Ptr: s.ptr[name]})
	case s.zone[name] != nil:
		for _, a := range s.zone[name] {
			switch {
			case q.Qtype == dns.TypeA && a.Unmap().Is4():
				m.Answer = append(m.Answer, &dns.A{Hdr: hdr, A: net.IP(a.Unmap().AsSlice())})
			case q.Qtype == dns.TypeAAAA && a.Is6() && !a.Is4In6():
				m.Answer = append(m.Answer, &dns.AAAA{Hdr: hdr, AAAA: net.IP(a.AsSlice())})
			}
		}
	default:
		m.Rcode = dns.RcodeNameError
	}
	size := dns.MinMsgSize
	if o := req.IsEdns0(); o != nil {
		size = int(o.UDPSize())
	}
	if _, udp := w.RemoteAddr().(*net.UDPAddr); udp {
		m.Truncate(size)
	}
	_ = w.WriteMsg(m)
}
