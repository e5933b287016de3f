package dnsc

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/miekg/dns"

	"github.com/simboard/simboard/netstack"
	"github.com/simboard/simboard/nx"
	"github.com/simboard/simboard/packetpool"
)

// NetX limits (addons/dns/nxd_dns.h) this client keeps.
const (
	Port                  = 53                              // NX_DNS_PORT
	MaxServers            = 5                               // NX_DNS_MAX_SERVERS
	MaxRetries            = 3                               // NX_DNS_MAX_RETRIES
	MaxRetransTimeout     = nx.Wait(64 * nx.TicksPerSecond) // NX_DNS_MAX_RETRANS_TIMEOUT
	PacketAllocateTimeout = nx.Wait(nx.TicksPerSecond)      // NX_DNS_PACKET_ALLOCATE_TIMEOUT
	MessageMax            = 512                             // NX_DNS_MESSAGE_MAX: UDP message size asked of servers
	// DefaultWait is the first round's reply timeout of LookupNetIP, which
	// has no wait option of its own.
	DefaultWait = nx.Wait(2 * nx.TicksPerSecond)
)

// Type is a query type: TypeA (NX_DNS_RR_TYPE_A) or TypeAAAA
// (NX_DNS_RR_TYPE_AAAA).
type Type uint16

// Query types for HostByNameGet.
const (
	TypeA    Type = Type(dns.TypeA)
	TypeAAAA Type = Type(dns.TypeAAAA)
)

func (t Type) String() string { return dns.TypeToString[uint16(t)] }

// Options configure a DNS client. Zero values are noted per field.
type Options struct {
	// IP is the board the client runs on. Required.
	IP *netstack.IP
	// Name names the client in logs (nx_dns_create's name). "" means "dns".
	Name string
	// Pool supplies query packets (nx_dns_packet_pool_set). nil means the
	// IP's default pool. Replies arrive in packets of the IP's default pool.
	Pool *packetpool.Pool
	// Retries is how many rounds over all servers a query makes (the
	// instance's nx_dns_retries). 0 means MaxRetries (3).
	Retries int
	// CacheSize is how many answers the cache keeps (NX_DNS_CACHE_ENABLE).
	// 0 means 16; negative disables the cache.
	CacheSize int
	// Clock times cache entries against their TTL. nil means the IP's clock.
	Clock nx.Clock
	// NoTCPFallback keeps NetX's behaviour for a reply with TC set: use the
	// records it holds and never retry over TCP. false means retry the same
	// server over TCP (RFC 7766).
	NoTCPFallback bool
	// Logger receives queries at Debug, lifecycle at Info, malformed and
	// unexpected replies at Warn. nil discards.
	Logger *slog.Logger
	// Rand is the source of the queries' transaction IDs (NetX draws them
	// from NX_RAND). nil means math/rand/v2. A seeded source (sim.Rand)
	// gives the same IDs in every run. It is read under the query lock, two
	// bytes per query; a read error fails that query (ErrParam).
	Rand io.Reader
}

// Stats counts the client's traffic, for tests and for sizing.
type Stats struct {
	Queries       int // UDP queries sent (every retransmission counts)
	TCPQueries    int // queries retried over TCP after a truncated reply
	Replies       int // replies matched to a query
	BadID         int // replies dropped for a wrong transaction ID
	ForeignSource int // replies dropped for coming from another address or port
	Malformed     int // replies that did not parse
	CacheHits     int
	CacheMisses   int
	CacheEntries  int // entries held now
}

// Client mirrors NX_DNS: a list of up to MaxServers servers, a query lock
// (one query at a time, as the instance's mutex), a cache, and a UDP socket
// bound to a fresh port for each query. Safe for concurrent use: concurrent
// lookups queue on the query lock. Lock order: the query lock, then mu.
type Client struct {
	ip    *netstack.IP
	pool  *packetpool.Pool
	clock nx.Clock
	name  string
	opts  Options
	log   *slog.Logger

	sem chan struct{}

	mu      sync.Mutex
	servers []netip.Addr
	cache   *cache
	stats   Stats
	deleted bool
}

// New mirrors nx_dns_create. It does not block. Errors: ErrParam without an
// IP.
func New(opts Options) (*Client, error) {
	if opts.IP == nil {
		return nil, fmt.Errorf("dnsc: create: no IP: %w", ErrParam)
	}
	c := &Client{ip: opts.IP, pool: opts.Pool, clock: opts.Clock, name: opts.Name, opts: opts, log: opts.Logger,
		sem: make(chan struct{}, 1)}
	if c.pool == nil {
		c.pool = opts.IP.Pool()
	}
	if c.clock == nil {
		c.clock = opts.IP.Clock()
	}
	if c.name == "" {
		c.name = "dns"
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	if c.opts.Retries <= 0 {
		c.opts.Retries = MaxRetries
	}
	switch {
	case opts.CacheSize == 0:
		c.cache = newCache(16)
	case opts.CacheSize > 0:
		c.cache = newCache(opts.CacheSize)
	}
	boards.Store(opts.IP, c)
	return c, nil
}

// boards maps each IP to its DNS client (the last one created and not
// deleted), the way a firmware image has one NX_DNS the applications share.
var boards sync.Map // *netstack.IP -> *Client

// For returns the board's DNS client: the last one New created on ip and
// not yet deleted, or nil. The mail clients resolve a server host name
// through it when they are given no Resolver.
func For(ip *netstack.IP) *Client {
	if v, ok := boards.Load(ip); ok {
		return v.(*Client)
	}
	return nil
}

// Delete mirrors nx_dns_delete: later calls fail with nx.ErrPtr. It waits
// for a query in progress to finish. Idempotent errors: nx.ErrPtr.
func (c *Client) Delete() error {
	c.sem <- struct{}{}
	defer func() { <-c.sem }()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.deleted {
		return fmt.Errorf("dnsc: delete: %w", nx.ErrPtr)
	}
	c.deleted = true
	boards.CompareAndDelete(c.ip, c)
	c.servers = nil
	if c.cache != nil {
		c.cache.clear()
	}
	return nil
}

// ServerAdd mirrors nxd_dns_server_add: it appends addr to the server list.
// It does not block. Errors: ErrParam (an unspecified or invalid address),
// ErrDuplicateEntry, nx.ErrNoMoreEntries (MaxServers already), nx.ErrPtr
// after Delete.
func (c *Client) ServerAdd(addr netip.Addr) error {
	addr = addr.Unmap()
	if !addr.IsValid() || addr.IsUnspecified() {
		return fmt.Errorf("dnsc: server add %v: %w", addr, ErrParam)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.deleted {
		return fmt.Errorf("dnsc: server add: %w", nx.ErrPtr)
	}
	for _, s := range c.servers {
		if s == addr {
			return fmt.Errorf("dnsc: server add %v: %w", addr, ErrDuplicateEntry)
		}
	}
	if len(c.servers) >= MaxServers {
		return fmt.Errorf("dnsc: server add %v: %w", addr, nx.ErrNoMoreEntries)
	}
	c.servers = append(c.servers, addr)
	return nil
}

// ServerRemove mirrors nxd_dns_server_remove. It does not block. Errors:
// ErrServerNotFound, nx.ErrPtr after Delete.
func (c *Client) ServerRemove(addr netip.Addr) error {
	addr = addr.Unmap()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.deleted {
		return fmt.Errorf("dnsc: server remove: %w", nx.ErrPtr)
	}
	for i, s := range c.servers {
		if s == addr {
			c.servers = append(c.servers[:i], c.servers[i+1:]...)
			return nil
		}
	}
	return fmt.Errorf("dnsc: server remove %v: %w", addr, ErrServerNotFound)
}

// ServerRemoveAll mirrors nx_dns_server_remove_all.
func (c *Client) ServerRemoveAll() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.deleted {
		return fmt.Errorf("dnsc: server remove all: %w", nx.ErrPtr)
	}
	c.servers = nil
	return nil
}

// ServerGet mirrors nxd_dns_server_get. Errors: ErrParam (index beyond
// MaxServers), ErrServerNotFound (an empty slot).
func (c *Client) ServerGet(index int) (netip.Addr, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if index < 0 || index >= MaxServers {
		return netip.Addr{}, fmt.Errorf("dnsc: server get %d: %w", index, ErrParam)
	}
	if index >= len(c.servers) {
		return netip.Addr{}, fmt.Errorf("dnsc: server get %d: %w", index, ErrServerNotFound)
	}
	return c.servers[index], nil
}

// Servers returns a copy of the server list in query order.
func (c *Client) Servers() []netip.Addr {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]netip.Addr(nil), c.servers...)
}

// SetServers replaces the server list, as a DHCP client does when a lease
// brings DNS servers (option 6): the first MaxServers valid, distinct
// addresses are kept in order; the others are dropped and reported in the
// error (ErrParam, ErrDuplicateEntry or nx.ErrNoMoreEntries, joined). The
// cache is kept: its answers are still valid until their TTL.
func (c *Client) SetServers(addrs []netip.Addr) error {
	c.mu.Lock()
	if c.deleted {
		c.mu.Unlock()
		return fmt.Errorf("dnsc: set servers: %w", nx.ErrPtr)
	}
	c.servers = nil
	c.mu.Unlock()
	var errs []error
	for _, a := range addrs {
		if err := c.ServerAdd(a); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Stats returns the counters.
func (c *Client) Stats() Stats {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.stats
	if c.cache != nil {
		s.CacheEntries = c.cache.len()
	}
	return s
}

// CacheFlush empties the cache (nx_dns_cache_initialize).
func (c *Client) CacheFlush() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cache != nil {
		c.cache.clear()
	}
}

// HostByNameGet mirrors nxd_dns_host_by_name_get: it resolves name to its
// first address of type typ. See AddressesByNameGet for how it blocks and
// what it returns.
func (c *Client) HostByNameGet(ctx context.Context, name string, typ Type, wait nx.Wait) (netip.Addr, error) {
	addrs, err := c.AddressesByNameGet(ctx, name, typ, wait)
	if err != nil {
		return netip.Addr{}, err
	}
	return addrs[0], nil
}

// AddressesByNameGet mirrors nx_dns_ipv4_address_by_name_get and
// nxd_dns_ipv6_address_by_name_get: every address of type typ the answer
// holds, in the server's order.
//
// It blocks: first on the query lock (another query in progress), then for
// each query up to wait for a reply. As NetX does, it binds a socket to a
// fresh port, asks every server in turn, and repeats the round Retries times,
// doubling wait after each round up to MaxRetransTimeout (wait itself is
// capped there, so nx.WaitForever means 64 s). A reply with TC set is asked
// again over TCP (unless Options.NoTCPFallback). nx.NoWait is refused with
// ErrParam: NetX's non-blocking mode (nx_dns_response_get) is not mirrored.
// Packets: each query takes one packet from Options.Pool that the socket
// releases once sent; each reply arrives in a packet of the IP's pool that
// is released before this returns, on every path.
//
// Errors: ErrParam (bad name, type or wait), ErrNoServer (empty server
// list), ErrQueryFailed when no server answered, wrapping the last server's
// failure: a timeout (nx.ErrNoPacket, or ErrBadID when only replies with a
// wrong ID came), ErrMalformedPacket, ErrMismatchedResponse, ErrServerAuth
// with an *RcodeError (NXDOMAIN, SERVFAIL: NetX's NX_DNS_ERROR_MASK), or an
// *RcodeError for other codes. nx.ErrWaitAborted (with ctx.Err()) when ctx
// ends. nx.ErrPtr after Delete.
func (c *Client) AddressesByNameGet(ctx context.Context, name string, typ Type, wait nx.Wait) ([]netip.Addr, error) {
	if typ != TypeA && typ != TypeAAAA {
		return nil, fmt.Errorf("dnsc: lookup %q: type %d: %w", name, typ, ErrParam)
	}
	res, err := c.resolve(ctx, name, uint16(typ), wait)
	if err != nil {
		return nil, err
	}
	return res.addrs, nil
}

// HostByAddressGet mirrors nxd_dns_host_by_address_get: a PTR query for
// addr (in-addr.arpa or ip6.arpa); it returns the first name, without the
// final dot. It blocks and fails as AddressesByNameGet does.
func (c *Client) HostByAddressGet(ctx context.Context, addr netip.Addr, wait nx.Wait) (string, error) {
	if !addr.IsValid() {
		return "", fmt.Errorf("dnsc: reverse lookup: %w", ErrBadAddress)
	}
	rev, err := dns.ReverseAddr(addr.Unmap().String())
	if err != nil {
		return "", fmt.Errorf("dnsc: reverse lookup %v: %w", addr, ErrBadAddress)
	}
	res, err := c.resolve(ctx, rev, dns.TypePTR, wait)
	if err != nil {
		return "", err
	}
	return strings.TrimSuffix(res.names[0], "."), nil
}

// LookupNetIP resolves host for the mail clients (it satisfies
// smtpc.Resolver and pop3c's resolver): network "ip4" asks A, "ip6" asks
// AAAA, "ip" asks A and then AAAA when A has no answer. An IP literal is
// returned as is, without traffic. It blocks like AddressesByNameGet with
// DefaultWait.
func (c *Client) LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error) {
	if a, err := netip.ParseAddr(host); err == nil {
		return []netip.Addr{a.Unmap()}, nil
	}
	switch network {
	case "ip4":
		return c.AddressesByNameGet(ctx, host, TypeA, DefaultWait)
	case "ip6":
		return c.AddressesByNameGet(ctx, host, TypeAAAA, DefaultWait)
	case "ip", "":
		addrs, err := c.AddressesByNameGet(ctx, host, TypeA, DefaultWait)
		var re *RcodeError
		if err == nil || ctx.Err() != nil || errors.Is(err, ErrNoServer) || errors.Is(err, ErrParam) ||
			(errors.As(err, &re) && re.Rcode == dns.RcodeNameError) {
			return addrs, err // the name does not exist: no AAAA either
		}
		if a6, err6 := c.AddressesByNameGet(ctx, host, TypeAAAA, DefaultWait); err6 == nil {
			return a6, nil
		}
		return nil, err
	}
	return nil, fmt.Errorf("dnsc: lookup %q: network %q: %w", host, network, ErrParam)
}

// RcodeError is a server's negative answer: its response code (NXDOMAIN,
// SERVFAIL, REFUSED, …) and which server gave it. It unwraps to the status
// NetX reports for it.
type RcodeError struct {
	Server netip.Addr
	Name   string
	Rcode  int
	status Status
}

func (e *RcodeError) Error() string {
	return fmt.Sprintf("dnsc: %s from %v for %s", dns.RcodeToString[e.Rcode], e.Server, e.Name)
}

// Unwrap returns the NetX status: ErrServerAuth for the codes NetX's
// NX_DNS_ERROR_MASK catches (SERVFAIL, NXDOMAIN, …), ErrQueryFailed for the
// others.
func (e *RcodeError) Unwrap() error { return e.status }

type result struct {
	addrs []netip.Addr
	names []string
}

func (c *Client) resolve(ctx context.Context, name string, qtype uint16, wait nx.Wait) (result, error) {
	fq := dns.CanonicalName(name)
	if _, ok := dns.IsDomainName(fq); !ok || name == "" || len(fq) > 255 || strings.ContainsAny(name, " \t\r\n\x00") {
		return result{}, fmt.Errorf("dnsc: lookup %q: not a host name: %w", name, ErrParam)
	}
	if wait == nx.NoWait {
		return result{}, fmt.Errorf("dnsc: lookup %q: NX_NO_WAIT (non-blocking queries are not mirrored): %w", name, ErrParam)
	}
	if wait > MaxRetransTimeout {
		wait = MaxRetransTimeout
	}
	if ctx == nil {
		ctx = context.Background()
	}
	select {
	case c.sem <- struct{}{}:
	case <-ctx.Done():
		return result{}, fmt.Errorf("dnsc: lookup %q: %w", name, errors.Join(nx.ErrWaitAborted, ctx.Err()))
	}
	defer func() { <-c.sem }()

	c.mu.Lock()
	if c.deleted {
		c.mu.Unlock()
		return result{}, fmt.Errorf("dnsc: lookup %q: %w", name, nx.ErrPtr)
	}
	if c.cache != nil {
		if r, ok := c.cache.get(fq, qtype, c.clock.Now()); ok {
			c.stats.CacheHits++
			c.mu.Unlock()
			return r, nil
		}
		c.stats.CacheMisses++
	}
	servers := append([]netip.Addr(nil), c.servers...)
	c.mu.Unlock()
	if len(servers) == 0 {
		return result{}, fmt.Errorf("dnsc: lookup %q: %w", name, ErrNoServer)
	}

	sock, err := c.ip.UDPSocketCreate(c.name)
	if err != nil {
		return result{}, fmt.Errorf("dnsc: lookup %q: %w", name, err)
	}
	defer func() { _ = sock.Delete() }()
	if err := sock.Bind(ctx, 0, nx.WaitForever); err != nil {
		return result{}, fmt.Errorf("dnsc: lookup %q: %w", name, err)
	}
	defer func() { _ = sock.Unbind() }()

	var last error
	for round := 0; round < c.opts.Retries; round++ {
		for _, srv := range servers {
			r, ttl, err := c.exchange(ctx, sock, srv, fq, qtype, wait)
			if err == nil {
				c.mu.Lock()
				if c.cache != nil && ttl > 0 {
					c.cache.put(fq, qtype, r, c.clock.Now().Add(time.Duration(ttl)*time.Second))
				}
				c.mu.Unlock()
				return r, nil
			}
			if ctx.Err() != nil {
				return result{}, fmt.Errorf("dnsc: lookup %q: %w", name, errors.Join(nx.ErrWaitAborted, ctx.Err()))
			}
			c.log.Debug("dns query failed", "name", fq, "type", dns.TypeToString[qtype], "server", srv, "round", round+1, "err", err)
			last = err
		}
		// Every server failed this round: double the timeout, capped.
		if wait <= MaxRetransTimeout/2 {
			wait *= 2
		} else {
			wait = MaxRetransTimeout
		}
	}
	return result{}, fmt.Errorf("dnsc: lookup %s %q: no answer from %d server(s) in %d round(s): %w (last: %w)",
		dns.TypeToString[qtype], name, len(servers), c.opts.Retries, ErrQueryFailed, last)
}

// queryID draws a transaction ID from Options.Rand, else math/rand/v2.
// Called under the query lock.
func (c *Client) queryID() (uint16, error) {
	if c.opts.Rand == nil {
		return uint16(rand.Uint32()), nil
	}
	var b [2]byte
	if _, err := io.ReadFull(c.opts.Rand, b[:]); err != nil {
		return 0, fmt.Errorf("dnsc: transaction id: reading Options.Rand: %v: %w", err, ErrParam)
	}
	return binary.BigEndian.Uint16(b[:]), nil
}

// exchange sends one query to srv and waits up to wait for its reply.
func (c *Client) exchange(ctx context.Context, sock *netstack.UDPSocket, srv netip.Addr, fq string, qtype uint16, wait nx.Wait) (result, uint32, error) {
	q := new(dns.Msg)
	id, err := c.queryID()
	if err != nil {
		return result{}, 0, err
	}
	q.Id = id
	q.RecursionDesired = true
	q.Question = []dns.Question{{Name: fq, Qtype: qtype, Qclass: dns.ClassINET}}
	wire, err := q.Pack()
	if err != nil {
		return result{}, 0, fmt.Errorf("dnsc: pack query for %q: %v: %w", fq, err, ErrPacketCreate)
	}
	pkt, err := c.pool.Allocate(ctx, packetpool.UDPPacket, PacketAllocateTimeout)
	if err != nil {
		return result{}, 0, err
	}
	if err := pkt.Append(ctx, wire, c.pool, PacketAllocateTimeout); err != nil {
		_ = pkt.Release()
		return result{}, 0, err
	}
	// NX_DNS_CLIENT_CLEAR_QUEUE: drop late replies to an earlier query.
	for {
		old, _, err := sock.Receive(ctx, nx.NoWait)
		if err != nil {
			break
		}
		_ = old.Release()
	}
	dst := netip.AddrPortFrom(srv, Port)
	if err := sock.Send(ctx, pkt, dst); err != nil {
		_ = pkt.Release()
		return result{}, 0, err
	}
	c.mu.Lock()
	c.stats.Queries++
	c.mu.Unlock()
	c.log.Debug("dns query", "name", fq, "type", dns.TypeToString[qtype], "server", srv, "id", q.Id, "wait", wait)

	deadline := c.clock.Now().Add(wait.Duration())
	var timeout error = fmt.Errorf("dnsc: no reply from %v within %v: %w", srv, wait, nx.ErrNoPacket)
	for {
		rem := nx.FromDuration(deadline.Sub(c.clock.Now()))
		if rem == nx.NoWait {
			return result{}, 0, timeout
		}
		rp, from, err := sock.Receive(ctx, rem)
		if errors.Is(err, nx.ErrNoPacket) {
			continue
		}
		if err != nil {
			return result{}, 0, err
		}
		buf, err := readAll(rp)
		_ = rp.Release()
		if from.Addr().Unmap() != srv || from.Port() != Port {
			c.count(func(s *Stats) { s.ForeignSource++ })
			c.log.Warn("dns reply from an unexpected source dropped", "from", from, "server", srv)
			continue
		}
		if err != nil {
			c.count(func(s *Stats) { s.Malformed++ })
			timeout = err
			continue
		}
		if len(buf) < 2 || binary.BigEndian.Uint16(buf) != q.Id {
			c.count(func(s *Stats) { s.BadID++ })
			c.log.Warn("dns reply with a wrong ID dropped", "server", srv, "want", q.Id, "len", len(buf))
			timeout = fmt.Errorf("dnsc: only replies with a wrong ID from %v within %v: %w", srv, wait, ErrBadID)
			continue
		}
		c.count(func(s *Stats) { s.Replies++ })
		if len(buf) > 3 && buf[2]&0x02 != 0 && !c.opts.NoTCPFallback {
			c.log.Debug("dns reply truncated, asking over TCP", "server", srv)
			r, ttl, err := c.exchangeTCP(ctx, q, wire, srv, wait)
			if err == nil || ctx.Err() != nil {
				return r, ttl, err
			}
			// No TCP service: what the truncated reply holds, as NetX takes it.
			if r2, ttl2, err2 := c.process(q, buf, srv); err2 == nil {
				c.log.Warn("dns over TCP failed; using the truncated UDP reply", "server", srv, "err", err)
				return r2, ttl2, nil
			}
			return r, ttl, err
		}
		return c.process(q, buf, srv)
	}
}

// exchangeTCP asks q again over a board TCP connection (RFC 7766).
func (c *Client) exchangeTCP(ctx context.Context, q *dns.Msg, wire []byte, srv netip.Addr, wait nx.Wait) (result, uint32, error) {
	c.count(func(s *Stats) { s.TCPQueries++ })
	dctx, cancel := context.WithTimeout(ctx, wait.Duration())
	defer cancel()
	conn, err := c.ip.DialTCP(dctx, netip.AddrPortFrom(srv, Port))
	if err != nil {
		return result{}, 0, fmt.Errorf("dnsc: tcp to %v: %w", srv, err)
	}
	defer func() { _ = conn.Close() }()
	_ = conn.SetDeadlineAfter(wait.Duration()) // on the IP's clock (a net.Conn deadline would be wall time)
	out := make([]byte, 2+len(wire))
	binary.BigEndian.PutUint16(out, uint16(len(wire)))
	copy(out[2:], wire)
	if _, err := conn.Write(out); err != nil {
		return result{}, 0, fmt.Errorf("dnsc: tcp to %v: %w", srv, err)
	}
	var l [2]byte
	if _, err := io.ReadFull(conn, l[:]); err != nil {
		return result{}, 0, fmt.Errorf("dnsc: tcp reply from %v: %v: %w", srv, err, nx.ErrNoPacket)
	}
	buf := make([]byte, binary.BigEndian.Uint16(l[:]))
	if _, err := io.ReadFull(conn, buf); err != nil {
		return result{}, 0, fmt.Errorf("dnsc: tcp reply from %v: %v: %w", srv, err, ErrMalformedPacket)
	}
	if len(buf) < 2 || binary.BigEndian.Uint16(buf) != q.Id {
		c.count(func(s *Stats) { s.BadID++ })
		return result{}, 0, fmt.Errorf("dnsc: tcp reply from %v: %w", srv, ErrBadID)
	}
	return c.process(q, buf, srv)
}

func (c *Client) count(f func(*Stats)) {
	c.mu.Lock()
	f(&c.stats)
	c.mu.Unlock()
}

// process checks a reply as _nx_dns_response_process does and extracts the
// records of the asked type. It returns them with their smallest TTL.
func (c *Client) process(q *dns.Msg, buf []byte, srv netip.Addr) (result, uint32, error) {
	res, ttl, err := parseReply(q, buf, srv)
	if errors.Is(err, ErrMalformedPacket) {
		c.count(func(s *Stats) { s.Malformed++ })
		c.log.Warn("dns reply malformed", "server", srv, "err", err)
	}
	return res, ttl, err
}

// parseReply is the parser the fuzz target drives: no I/O, no state.
func parseReply(q *dns.Msg, buf []byte, srv netip.Addr) (result, uint32, error) {
	if len(buf) <= 12 { // NX_DNS_QDSECT_OFFSET
		return result{}, 0, fmt.Errorf("dnsc: reply from %v: %d bytes: %w", srv, len(buf), ErrMalformedPacket)
	}
	var m dns.Msg
	if err := m.Unpack(buf); err != nil {
		return result{}, 0, fmt.Errorf("dnsc: reply from %v: %v: %w", srv, err, ErrMalformedPacket)
	}
	if m.Id != q.Id {
		return result{}, 0, fmt.Errorf("dnsc: reply from %v: %w", srv, ErrBadID)
	}
	qq := q.Question[0]
	if !m.Response {
		return result{}, 0, fmt.Errorf("dnsc: reply from %v is a query: %w", srv, ErrQueryFailed)
	}
	if m.Rcode != dns.RcodeSuccess {
		st := ErrQueryFailed
		if m.Rcode&2 != 0 { // NX_DNS_ERROR_MASK 0x8002
			st = ErrServerAuth
		}
		return result{}, 0, &RcodeError{Server: srv, Name: strings.TrimSuffix(qq.Name, "."), Rcode: m.Rcode, status: st}
	}
	if len(m.Question) == 1 {
		mq := m.Question[0]
		if !strings.EqualFold(mq.Name, qq.Name) || mq.Qtype != qq.Qtype || mq.Qclass != dns.ClassINET {
			return result{}, 0, fmt.Errorf("dnsc: reply from %v answers %s %s, asked %s %s: %w", srv,
				dns.TypeToString[mq.Qtype], mq.Name, dns.TypeToString[qq.Qtype], qq.Name, ErrMismatchedResponse)
		}
	}
	var r result
	var ttl uint32
	first := true
	for _, rr := range m.Answer {
		h := rr.Header()
		if h.Rrtype != qq.Qtype || h.Class != dns.ClassINET {
			continue
		}
		switch v := rr.(type) {
		case *dns.A:
			a, ok := netip.AddrFromSlice(v.A.To4())
			if !ok {
				continue
			}
			r.addrs = append(r.addrs, a)
		case *dns.AAAA:
			a, ok := netip.AddrFromSlice(v.AAAA.To16())
			if !ok {
				continue
			}
			r.addrs = append(r.addrs, a)
		case *dns.PTR:
			r.names = append(r.names, v.Ptr)
		default:
			continue
		}
		if first || h.Ttl < ttl {
			ttl, first = h.Ttl, false
		}
	}
	if len(r.addrs) == 0 && len(r.names) == 0 {
		return result{}, 0, fmt.Errorf("dnsc: reply from %v has no %s record for %s: %w", srv,
			dns.TypeToString[qq.Qtype], qq.Name, ErrQueryFailed)
	}
	return r, ttl, nil
}

// readAll copies a received datagram (possibly a chain) out of its packet.
func readAll(pkt *packetpool.Packet) ([]byte, error) {
	n := pkt.Length()
	if n > dns.MaxMsgSize {
		return nil, fmt.Errorf("dnsc: reply of %d bytes: %w", n, ErrMalformedPacket)
	}
	buf := make([]byte, n)
	got, err := pkt.ExtractOffset(0, buf)
	return buf[:got], err
}
