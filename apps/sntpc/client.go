package sntpc

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"sync"
	"time"

	"github.com/simboard/simboard/netstack"
	"github.com/simboard/simboard/nx"
	"github.com/simboard/simboard/packetpool"
)

// NetX defaults (addons/sntp/nxd_sntp_client.h) this client keeps.
const (
	Port                  = 123                            // NX_SNTP_CLIENT_UDP_PORT and NX_SNTP_SERVER_UDP_PORT
	DefaultPollInterval   = 3600 * time.Second             // NX_SNTP_CLIENT_UNICAST_POLL_INTERVAL
	DefaultMaxTimeLapse   = 7200 * time.Second             // NX_SNTP_CLIENT_MAX_TIME_LAPSE
	DefaultMaxStratum     = 2                              // NX_SNTP_CLIENT_MIN_SERVER_STRATUM (sic: the largest accepted)
	DefaultMaxDispersion  = 50 * time.Millisecond          // NX_SNTP_CLIENT_MAX_ROOT_DISPERSION (50000 µs)
	DefaultMaxAdjustment  = 180 * time.Second              // NX_SNTP_CLIENT_MAX_TIME_ADJUSTMENT (180000 ms)
	MinAdjustment         = 10 * time.Millisecond          // NX_SNTP_CLIENT_MIN_TIME_ADJUSTMENT
	BackoffRate           = 2                              // NX_SNTP_CLIENT_EXP_BACKOFF_RATE
	PacketAllocateTimeout = nx.Wait(nx.TicksPerSecond)     // NX_SNTP_CLIENT_PACKET_TIMEOUT
	DefaultReplyWait      = nx.Wait(2 * nx.TicksPerSecond) // how long one request waits for its reply
)

// Options configure an SNTP client. Zero values are noted per field.
type Options struct {
	// IP is the board the client runs on. Required.
	IP *netstack.IP
	// Name names the client in logs. "" means "sntp".
	Name string
	// Pool supplies request packets. nil means the IP's default pool.
	// Replies arrive in packets of the IP's default pool.
	Pool *packetpool.Pool
	// Clock is the board's free-running clock: it times the polls and the
	// offset is applied to it. nil means the IP's clock.
	Clock nx.Clock
	// LocalPort is the client's UDP port. 0 means 123 (NetX binds
	// NX_SNTP_CLIENT_UDP_PORT).
	LocalPort uint16
	// PollInterval between requests once synchronised. 0 means 3600 s.
	PollInterval time.Duration
	// MaxTimeLapse without a valid update after which ReceivingUpdates
	// reports false. 0 means 7200 s.
	MaxTimeLapse time.Duration
	// ReplyWait is how long one request waits for its reply in RunUnicast.
	// 0 means 2 s.
	ReplyWait nx.Wait
	// MaxStratum is the highest server stratum accepted. 0 means 2, NetX's
	// NX_SNTP_CLIENT_MIN_SERVER_STRATUM: a local chrony or ntpd serving its
	// own clock (stratum 10) needs this raised.
	MaxStratum uint8
	// MaxRootDispersion checked on the first update. 0 means 50 ms;
	// negative disables the check.
	MaxRootDispersion time.Duration
	// MaxAdjustment is the largest step accepted after the first update
	// (the first is taken whatever its size, NX_SNTP_CLIENT_IGNORE_MAX_ADJUST_STARTUP).
	// 0 means 180 s.
	MaxAdjustment time.Duration
	// KissOfDeath mirrors the kiss_of_death_handler: called with the
	// four-letter code of a stratum-0 reply. nil returns, or an error
	// return is, the reply's failure: nil handler means
	// ErrKODServerNotAvailable; returning ErrKODRemoveServer stops
	// RunUnicast's polling. A nil return accepts the reply's other fields.
	KissOfDeath func(code string) error
	// LeapSecond mirrors the leap_second_handler (indicator 1 or 2).
	LeapSecond func(indicator int)
	// TimeUpdate mirrors nx_sntp_client_set_time_update_notify: called
	// after each applied update, on the polling goroutine.
	TimeUpdate func(Update)
	// Logger receives requests at Debug, updates at Info, rejected replies
	// at Warn. nil discards.
	Logger *slog.Logger
}

// Update is one applied time update.
type Update struct {
	Server  netip.Addr
	Stratum uint8
	RefID   [4]byte
	Offset  time.Duration // server time minus board clock
	Delay   time.Duration // round trip less the server's processing
	Time    time.Time     // the server's transmit time
}

// Stats counts the client's traffic.
type Stats struct {
	Requests       int
	Replies        int // replies from the server accepted for checking
	Updates        int // replies applied
	Rejected       int // replies failing the sanity checks
	Dropped        int // datagrams from elsewhere or of the wrong size
	InvalidUpdates int // consecutive rejected replies (nx_sntp_client_invalid_time_updates)
}

// Client mirrors NX_SNTP_CLIENT in unicast mode: one server, one UDP socket
// on port 123, a polling goroutine (the client thread) and the board's wall
// time as its clock plus the last measured offset. Safe for concurrent use.
// Lock order: op, then mu.
type Client struct {
	ip    *netstack.IP
	pool  *packetpool.Pool
	clock nx.Clock
	opts  Options
	log   *slog.Logger

	op sync.Mutex // one request at a time

	mu          sync.Mutex
	sock        *netstack.UDPSocket
	server      netip.Addr
	initialized bool
	deleted     bool
	synced      bool
	offset      time.Duration
	lastValid   time.Time // board clock
	prev        *Packet
	lastErr     error
	stats       Stats
	cancel      context.CancelFunc
	done        chan struct{}
}

// New mirrors nx_sntp_client_create. It does not block. Errors: ErrParam
// without an IP, the socket's status.
func New(opts Options) (*Client, error) {
	if opts.IP == nil {
		return nil, fmt.Errorf("sntpc: create: no IP: %w", ErrParam)
	}
	c := &Client{ip: opts.IP, pool: opts.Pool, clock: opts.Clock, opts: opts, log: opts.Logger}
	if c.pool == nil {
		c.pool = opts.IP.Pool()
	}
	if c.clock == nil {
		c.clock = opts.IP.Clock()
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	o := &c.opts
	if o.Name == "" {
		o.Name = "sntp"
	}
	if o.LocalPort == 0 {
		o.LocalPort = Port
	}
	if o.PollInterval <= 0 {
		o.PollInterval = DefaultPollInterval
	}
	if o.MaxTimeLapse <= 0 {
		o.MaxTimeLapse = DefaultMaxTimeLapse
	}
	if o.ReplyWait == nx.NoWait {
		o.ReplyWait = DefaultReplyWait
	}
	if o.MaxStratum == 0 {
		o.MaxStratum = DefaultMaxStratum
	}
	if o.MaxRootDispersion == 0 {
		o.MaxRootDispersion = DefaultMaxDispersion
	}
	if o.MaxAdjustment <= 0 {
		o.MaxAdjustment = DefaultMaxAdjustment
	}
	s, err := c.ip.UDPSocketCreate(o.Name)
	if err != nil {
		return nil, fmt.Errorf("sntpc: create: %w", err)
	}
	c.sock = s
	return c, nil
}

// InitializeUnicast mirrors nxd_sntp_client_initialize_unicast: it sets the
// server (IPv4 or IPv6). It does not block. Errors: ErrInvalidServerAddress,
// ErrClientAlreadyStarted while RunUnicast polls, nx.ErrPtr after Delete.
func (c *Client) InitializeUnicast(server netip.Addr) error {
	server = server.Unmap()
	if !server.IsValid() || server.IsUnspecified() || server.IsMulticast() {
		return fmt.Errorf("sntpc: initialize unicast %v: %w", server, ErrInvalidServerAddress)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.deleted {
		return fmt.Errorf("sntpc: initialize unicast: %w", nx.ErrPtr)
	}
	if c.done != nil {
		return fmt.Errorf("sntpc: initialize unicast: %w", ErrClientAlreadyStarted)
	}
	if c.server != server {
		c.prev = nil
	}
	c.server, c.initialized = server, true
	return nil
}

// RunUnicast mirrors nx_sntp_client_run_unicast: it binds the socket and
// starts the polling goroutine, which sends a request at once, then every
// PollInterval after a valid update, backing off (PollInterval × 2 × n,
// capped at MaxTimeLapse) while updates fail, as NetX's client thread does.
// It does not block. Errors: ErrClientNotInitialized, ErrClientAlreadyStarted,
// the bind status (nx.ErrPortUnavailable).
func (c *Client) RunUnicast() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case c.deleted:
		return fmt.Errorf("sntpc: run unicast: %w", nx.ErrPtr)
	case c.done != nil:
		return fmt.Errorf("sntpc: run unicast: %w", ErrClientAlreadyStarted)
	case !c.initialized:
		return fmt.Errorf("sntpc: run unicast: %w", ErrClientNotInitialized)
	}
	if err := c.bindLocked(); err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(context.Background())
	c.cancel, c.done = cancel, make(chan struct{})
	go c.poll(ctx, c.done)
	return nil
}

// Stop mirrors nx_sntp_client_stop: it stops and joins the polling
// goroutine and unbinds the socket. It blocks until a request in progress
// has ended. Errors: ErrClientNotStarted.
func (c *Client) Stop() error {
	c.mu.Lock()
	cancel, done := c.cancel, c.done
	c.mu.Unlock()
	if done == nil {
		return fmt.Errorf("sntpc: stop: %w", ErrClientNotStarted)
	}
	cancel()
	<-done
	c.op.Lock()
	defer c.op.Unlock()
	c.mu.Lock()
	defer c.mu.Unlock()
	c.cancel, c.done = nil, nil
	if c.sock.Port() != 0 {
		_ = c.sock.Unbind()
	}
	return nil
}

// Delete mirrors nx_sntp_client_delete: it stops polling if running and
// deletes the socket. Later calls fail with nx.ErrPtr.
func (c *Client) Delete() error {
	_ = c.Stop()
	c.op.Lock()
	defer c.op.Unlock()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.deleted {
		return fmt.Errorf("sntpc: delete: %w", nx.ErrPtr)
	}
	c.deleted = true
	if c.sock.Port() != 0 {
		_ = c.sock.Unbind()
	}
	return c.sock.Delete()
}

func (c *Client) bindLocked() error {
	if c.sock.Port() != 0 {
		return nil
	}
	if err := c.sock.Bind(context.Background(), c.opts.LocalPort, nx.NoWait); err != nil {
		return fmt.Errorf("sntpc: bind %d: %w", c.opts.LocalPort, err)
	}
	return nil
}

// LocalTime mirrors nx_sntp_client_get_local_time: the board clock
// corrected by the last applied update. It does not block. Errors:
// ErrInvalidLocalTime before the first update.
func (c *Client) LocalTime() (time.Time, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.synced {
		return time.Time{}, fmt.Errorf("sntpc: local time: %w", ErrInvalidLocalTime)
	}
	return c.clock.Now().Add(c.offset), nil
}

// Now is the board's wall time: the board clock plus the last measured
// offset (plus nothing before the first update). It is the hook the mail
// clients take for the Date header (smtpc Options.Now).
func (c *Client) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.clock.Now().Add(c.offset)
}

// Offset returns the last applied offset (server time minus board clock)
// and whether an update has been applied at all.
func (c *Client) Offset() (time.Duration, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.offset, c.synced
}

// ReceivingUpdates mirrors nx_sntp_client_receiving_updates: true when a
// valid update came within MaxTimeLapse.
func (c *Client) ReceivingUpdates() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.synced && c.clock.Now().Sub(c.lastValid) < c.opts.MaxTimeLapse
}

// LastError returns the polling goroutine's last failure (nil after a
// valid update).
func (c *Client) LastError() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lastErr
}

// Stats returns the counters.
func (c *Client) Stats() Stats {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.stats
}

// Running reports whether the polling goroutine runs (it ends by itself
// after ErrKODRemoveServer).
func (c *Client) Running() bool {
	c.mu.Lock()
	done := c.done
	c.mu.Unlock()
	if done == nil {
		return false
	}
	select {
	case <-done:
		return false
	default:
		return true
	}
}

func (c *Client) poll(ctx context.Context, done chan struct{}) {
	defer close(done)
	backoff := 0
	for {
		_, err := c.update(ctx, c.opts.ReplyWait)
		if ctx.Err() != nil {
			return
		}
		next := c.opts.PollInterval
		if err != nil {
			if errors.Is(err, ErrKODRemoveServer) {
				c.log.Warn("sntp server removed by kiss-o'-death; polling stops", "err", err)
				return
			}
			backoff++
			next = c.opts.PollInterval * BackoffRate * time.Duration(backoff)
			if next > c.opts.MaxTimeLapse {
				next = c.opts.MaxTimeLapse
			}
		} else {
			backoff = 0
		}
		t := c.clock.NewTimer(next)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C():
		}
	}
}

// RequestUpdate sends one request to the server and applies the reply: the
// step the client thread repeats, for firmware that drives it itself (and
// for a boot sequence that wants the time before going on). It blocks up to
// wait for the reply.
//
// Packets: the request takes one packet from Options.Pool, released by the
// socket once sent (or here if sending fails); every datagram received is
// released before this returns.
//
// Errors: ErrClientNotInitialized, ErrClientAlreadyStarted while
// RunUnicast polls, ErrNoUnicastFromServer (wrapping nx.ErrNoPacket, and
// ErrInvalidTimePacket when only malformed datagrams came) when no reply
// came within wait, or the sanity checks' statuses as NetX orders them:
// ErrDupeServerPacket, ErrInvalidServerMode, ErrInvalidNTPVersion,
// ErrServerClockNotSync (leap indicator 3), a *KissError (stratum 0,
// wrapping ErrKODServerNotAvailable or the handler's error),
// ErrInvalidServerStratum, ErrInvalidTimestamp (a zero timestamp, an origin
// timestamp other than the request's transmit timestamp, transmit before
// receive), ErrBadServerRootDispersion (first update), ErrInvalidTime (a step
// beyond MaxAdjustment). nx.ErrWaitAborted with ctx.Err() when ctx ends.
func (c *Client) RequestUpdate(ctx context.Context, wait nx.Wait) (Update, error) {
	c.mu.Lock()
	running := c.done != nil
	c.mu.Unlock()
	if running {
		return Update{}, fmt.Errorf("sntpc: request update: %w", ErrClientAlreadyStarted)
	}
	c.mu.Lock()
	err := c.bindLocked()
	c.mu.Unlock()
	if err != nil {
		return Update{}, err
	}
	return c.update(ctx, wait)
}

func (c *Client) update(ctx context.Context, wait nx.Wait) (Update, error) {
	c.op.Lock()
	defer c.op.Unlock()
	c.mu.Lock()
	server, init, deleted := c.server, c.initialized, c.deleted
	c.mu.Unlock()
	if deleted {
		return Update{}, fmt.Errorf("sntpc: update: %w", nx.ErrPtr)
	}
	if !init {
		return Update{}, fmt.Errorf("sntpc: update: %w", ErrClientNotInitialized)
	}
	u, err := c.exchange(ctx, server, wait)
	c.mu.Lock()
	defer c.mu.Unlock()
	if ctx.Err() != nil {
		return Update{}, err
	}
	c.lastErr = err
	if err != nil {
		c.log.Warn("sntp update failed", "server", server, "err", err)
	}
	return u, err
}

func (c *Client) exchange(ctx context.Context, server netip.Addr, wait nx.Wait) (Update, error) {
	// Drop stale datagrams (a late reply to an earlier request).
	for {
		old, _, err := c.sock.Receive(ctx, nx.NoWait)
		if err != nil {
			break
		}
		_ = old.Release()
	}
	t1 := c.clock.Now()
	sent := TimestampOf(t1)
	req := Packet{Version: Version, Mode: ModeClient, TxTime: sent}
	pkt, err := c.pool.Allocate(ctx, packetpool.UDPPacket, PacketAllocateTimeout)
	if err != nil {
		return Update{}, fmt.Errorf("sntpc: request: %w", err)
	}
	if err := pkt.Append(ctx, req.Append(make([]byte, 0, MessageMinSize)), c.pool, PacketAllocateTimeout); err != nil {
		_ = pkt.Release()
		return Update{}, fmt.Errorf("sntpc: request: %w", err)
	}
	if err := c.sock.Send(ctx, pkt, netip.AddrPortFrom(server, Port)); err != nil {
		_ = pkt.Release()
		return Update{}, fmt.Errorf("sntpc: request to %v: %w", server, err)
	}
	c.count(func(s *Stats) { s.Requests++ })
	c.log.Debug("sntp request", "server", server)

	deadline := t1.Add(wait.Duration())
	var dropped error
	for {
		rem := nx.FromDuration(deadline.Sub(c.clock.Now()))
		if rem == nx.NoWait {
			err := fmt.Errorf("sntpc: no reply from %v within %v: %w", server, wait, errors.Join(ErrNoUnicastFromServer, nx.ErrNoPacket))
			if dropped != nil {
				err = fmt.Errorf("%w (dropped: %w)", err, dropped)
			}
			return Update{}, err
		}
		rp, from, err := c.sock.Receive(ctx, rem)
		if errors.Is(err, nx.ErrNoPacket) {
			continue
		}
		if err != nil {
			return Update{}, fmt.Errorf("sntpc: receive: %w", err)
		}
		t4 := c.clock.Now()
		n := rp.Length()
		var buf [MessageMaxSize]byte
		if n <= MessageMaxSize {
			_, _ = rp.ExtractOffset(0, buf[:n])
		}
		_ = rp.Release()
		if from.Addr().Unmap() != server || from.Port() != Port {
			c.count(func(s *Stats) { s.Dropped++ })
			continue
		}
		var resp Packet
		if n > MessageMaxSize {
			err = fmt.Errorf("sntpc: %d-byte time message: %w", n, ErrInvalidTimePacket)
		} else {
			resp, err = ParsePacket(buf[:n])
		}
		if err != nil {
			c.count(func(s *Stats) { s.Dropped++ })
			dropped = err
			continue
		}
		return c.apply(server, resp, sent, t1, t4)
	}
}

func (c *Client) count(f func(*Stats)) {
	c.mu.Lock()
	f(&c.stats)
	c.mu.Unlock()
}

// apply runs the sanity checks and, when they pass, applies the update.
func (c *Client) apply(server netip.Addr, resp Packet, sent Timestamp, t1, t4 time.Time) (Update, error) {
	c.mu.Lock()
	prev, first, cur := c.prev, !c.synced, c.offset
	c.stats.Replies++
	c.mu.Unlock()
	cfg := checkConfig{maxStratum: c.opts.MaxStratum, maxDispersion: c.opts.MaxRootDispersion, first: first,
		kod: c.opts.KissOfDeath, leap: c.opts.LeapSecond}
	if err := check(resp, sent, prev, cfg); err != nil {
		c.mu.Lock()
		c.stats.Rejected++
		c.stats.InvalidUpdates++
		c.mu.Unlock()
		return Update{}, fmt.Errorf("sntpc: reply from %v: %w", server, err)
	}
	t2, t3 := resp.RxTime.Time(), resp.TxTime.Time()
	offset := (t2.Sub(t1) + t3.Sub(t4)) / 2
	delay := t4.Sub(t1) - t3.Sub(t2)
	if !first {
		step := offset - cur
		if step < 0 {
			step = -step
		}
		if step > MinAdjustment && step > c.opts.MaxAdjustment {
			c.mu.Lock()
			c.stats.Rejected++
			c.stats.InvalidUpdates++
			c.mu.Unlock()
			return Update{}, fmt.Errorf("sntpc: reply from %v steps the clock by %v, more than %v: %w", server, step, c.opts.MaxAdjustment, ErrInvalidTime)
		}
	}
	u := Update{Server: server, Stratum: resp.Stratum, RefID: resp.RefID, Offset: offset, Delay: delay, Time: t3}
	c.mu.Lock()
	c.offset, c.synced, c.lastValid = offset, true, t4
	p := resp
	c.prev = &p
	c.stats.Updates++
	c.stats.InvalidUpdates = 0
	c.mu.Unlock()
	c.log.Info("sntp update", "server", server, "stratum", resp.Stratum, "offset", offset, "delay", delay)
	if c.opts.TimeUpdate != nil {
		c.opts.TimeUpdate(u)
	}
	return u, nil
}

type checkConfig struct {
	maxStratum    uint8
	maxDispersion time.Duration
	first         bool
	kod           func(string) error
	leap          func(int)
}

// check is _nx_sntp_client_apply_sanity_checks (unicast) and the first
// update's dispersion check, in NetX's order, plus RFC 4330's origin check.
// It is pure: the fuzz target drives it.
func check(p Packet, sent Timestamp, prev *Packet, cfg checkConfig) error {
	if prev != nil && *prev == p {
		return ErrDupeServerPacket
	}
	if p.Mode != ModeServer {
		return fmt.Errorf("mode %d: %w", p.Mode, ErrInvalidServerMode)
	}
	if p.Version != Version {
		return fmt.Errorf("version %d: %w", p.Version, ErrInvalidNTPVersion)
	}
	if p.Leap == 3 {
		return fmt.Errorf("leap indicator 3: %w", ErrServerClockNotSync)
	}
	if p.Stratum == 0 {
		code := kissCode(p.RefID)
		var err error = ErrKODServerNotAvailable
		if cfg.kod != nil {
			err = cfg.kod(code)
		}
		if err != nil {
			return &KissError{Code: code, status: err}
		}
	} else if p.Stratum&0xF0 != 0 || p.Stratum > cfg.maxStratum {
		return fmt.Errorf("stratum %d (accepted up to %d): %w", p.Stratum, cfg.maxStratum, ErrInvalidServerStratum)
	}
	if p.OrigTime == 0 || p.RxTime == 0 || p.TxTime == 0 {
		return fmt.Errorf("zero timestamp: %w", ErrInvalidTimestamp)
	}
	if p.OrigTime != sent {
		return fmt.Errorf("origin timestamp %#x is not the request's %#x: %w", uint64(p.OrigTime), uint64(sent), ErrInvalidTimestamp)
	}
	if p.TxTime < p.RxTime {
		return fmt.Errorf("transmit before receive: %w", ErrInvalidTimestamp)
	}
	if cfg.first && cfg.maxDispersion > 0 && shortDuration(p.RootDispersion) > cfg.maxDispersion {
		return fmt.Errorf("root dispersion %v (at most %v): %w", shortDuration(p.RootDispersion), cfg.maxDispersion, ErrBadServerRootDispersion)
	}
	if (p.Leap == 1 || p.Leap == 2) && cfg.leap != nil {
		cfg.leap(int(p.Leap))
	}
	return nil
}

// kissCode returns the ASCII kiss code of a stratum-0 reference ID.
func kissCode(id [4]byte) string {
	b := make([]byte, 0, 4)
	for _, c := range id {
		if c < 0x20 || c > 0x7E {
			break
		}
		b = append(b, c)
	}
	return string(b)
}
