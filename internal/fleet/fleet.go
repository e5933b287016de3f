// Package fleet runs N boards on one Wire against one mail host: each board
// sends one mail by SMTP and fetches it back by POP3, and the run reports
// delivered and failed counts, wall time, peak RSS and the aggregate pool
// peaks. It is the engine behind `simboard fleet` and the fleet benchmarks.
package fleet

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/simboard/simboard/apps/pop3c"
	"github.com/simboard/simboard/apps/smtpc"
	"github.com/simboard/simboard/board"
	"github.com/simboard/simboard/driver"
	"github.com/simboard/simboard/mailhost"
	"github.com/simboard/simboard/netstack"
	"github.com/simboard/simboard/nx"
	"github.com/simboard/simboard/packetpool"
)

// Options configure a fleet run. The zero value of every field but Boards
// is usable.
type Options struct {
	// Boards is how many boards send a mail (1..MaxBoards).
	Boards int
	// BodySize is each mail's body in bytes; 0 means 512.
	BodySize int
	// Pool sizes each board's default pool and RxPool its receive pool;
	// zero values mean 8 packets of 1536 bytes each (a 10,000-board run
	// peaked at 2 in a pool and 6 in a receive pool; 16 cost 250 MB more).
	Pool, RxPool board.PoolOptions
	// HostPool and HostRxPool size the mail host board's pools; zero values
	// mean HostPoolFor(the boards mailing at once).
	HostPool, HostRxPool board.PoolOptions
	// Concurrency is how many boards run their mail at the same time; 0
	// means DefaultConcurrency, a negative value all boards at once (every
	// board then connects within the same moment, and the mail host's CPU
	// share, not the protocol, decides how many meet NetX's 10 s connect
	// and greeting timeouts).
	Concurrency int
	// Seed seeds the Wire.
	Seed int64
	// FirstBoard numbers this run's boards from FirstBoard (user b<i>,
	// address Addresses(FirstBoard+Boards) of i): processes whose Wires
	// meet through uplinks on one segment take disjoint ranges. 0 by
	// default.
	FirstBoard int
	// HostUsers is how many users (b0 .. b<HostUsers-1>, password pw<i>)
	// the built-in mail host knows; 0 means FirstBoard+Boards. A host that
	// also serves other processes' boards needs theirs too.
	HostUsers int
	// MailHost, when valid, is an external mail host (another process's
	// fleet host, through an uplink) instead of a built-in one: each
	// fetched mail is then checked against the body sent.
	MailHost netip.Addr
	// Uplink, when non-nil, bridges the fleet's Wire to this link (a TAP)
	// with driver.NewUplink. The fleet closes it. An uplinked fleet keeps
	// to 198.51.100.0/24: at most 253 boards (and host users) in all.
	Uplink driver.Link
	// Linger keeps the built-in mail host serving this long after the
	// fleet's own boards are done (for other processes' boards), or until
	// ctx is done.
	Linger time.Duration
	// Logger receives the boards' lifecycle logs; nil discards.
	Logger *slog.Logger
	// Clock is the clock of the Wire, every board and the mail host; nil
	// means nx.SystemClock. With a sim.Clock, call Run inside Sim.Run: the
	// fleet then runs in virtual time, boards boot one after another and
	// each board's mail starts as an event of its own (nx.Post), so the
	// same seed gives the same run. An uplinked fleet is real time.
	Clock nx.Clock
	// Rand, when set, gives each board (by name: "b<i>", "mailhost") its
	// source of random choices (netstack.Options.Rand): sim.Sim.Rand.
	Rand func(name string) io.Reader
}

// HostTimeWait is the mail host's TIME_WAIT (TCPOptions.TimeWait).
const HostTimeWait = time.Second

// BoardQueueFrames is each board's Wire port receive queue: a board holds
// one mail session, so 256 frames (against the Wire's default of 4,096,
// 32 KB of queue a port) leave room and save 300 MB in a 10,000-board
// fleet. The mail host's port keeps the default.
const BoardQueueFrames = 256

// DefaultConcurrency is Options.Concurrency's default.
const DefaultConcurrency = 64

// MaxBoards bounds Options.Boards: the fleet's IPv4 /15 holds that many.
const MaxBoards = 130000

// HostPoolFor sizes the mail host board's pools for n boards talking to it
// at once: four packets a connection (a 1,000-board fleet at 64 at a time
// peaked at 1.8 a connection), at least 256. A run whose host pools ran
// empty says so in Report.HostShortfall.
func HostPoolFor(n int) board.PoolOptions {
	return board.PoolOptions{PayloadSize: 1536, Count: max(256, 4*n)}
}

// Failure counts the boards that failed at one stage.
type Failure struct {
	Stage string // "boot", "smtp", "pop3", "verify"
	Count int
	First string // the first error seen at this stage
}

// PoolPeaks aggregates the peak use of one kind of pool across the boards.
type PoolPeaks struct {
	Pools         int // pools aggregated
	Packets       int // packets in all of them
	SumPeakInUse  int // sum of every pool's peak packets in use
	MaxPeakInUse  int // largest single pool's peak
	EmptyRequests int // allocations that found a pool empty
	Invalid       int // invalid releases
	Unbalanced    int // pools not balanced at Close
}

// Report is what a fleet run measured.
type Report struct {
	Boards    int
	Delivered int // mails the host accepted and stored byte-exact
	Fetched   int // mails fetched back by POP3 byte-exact
	Failed    int // boards that failed at some stage
	Failures  []Failure
	Boot      time.Duration // all boards and the host booted (on Options.Clock)
	Mail      time.Duration // every board's send and fetch done (on Options.Clock)
	Wall      time.Duration // from start to every board closed, in wall time
	// Simulated is the time Options.Clock moved from start to every board
	// closed: Wall in real time.
	Simulated time.Duration
	PeakRSS   int64     // bytes: the process's VmHWM (0 when unknown)
	BoardPool PoolPeaks // the boards' default pools
	BoardRx   PoolPeaks // the boards' receive pools
	HostPool  packetpool.Info
	HostRx    packetpool.Info
	// HostShortfall says when the mail host's pools ran empty (a
	// firmware-sized host would have dropped frames or stalled): "" when
	// they never did.
	HostShortfall string
	// CloseErrors holds the first few boards' Close errors (unbalanced pools).
	CloseErrors []string
}

// Addresses of the fleet: the mail host and board i (0-based). Fleets of up
// to 253 boards use 198.51.100.0/24 (host .1); larger fleets use the RFC 2544
// benchmarking range 198.18.0.0/15, which never leaves this process's Wire
// (Run refuses an uplink for them).
func Addresses(n int) (host netip.Prefix, boardAddr func(i int) netip.Prefix) {
	if n <= 253 {
		return netip.MustParsePrefix("198.51.100.1/24"), func(i int) netip.Prefix {
			return netip.PrefixFrom(netip.AddrFrom4([4]byte{198, 51, 100, byte(i + 2)}), 24)
		}
	}
	return netip.MustParsePrefix("198.18.0.1/15"), func(i int) netip.Prefix {
		v := uint32(198)<<24 | 18<<16 | uint32(i+2)
		return netip.PrefixFrom(netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}), 15)
	}
}

// HostMAC is the fleet mail host's station address.
var HostMAC = net.HardwareAddr{0x02, 0x53, 0x68, 0, 0, 1}

// BoardMAC is board i's station address, 02:53:62 and i in 24 bits: a
// function of the board's number, not of the Wire's seed, so boards of
// several processes meeting through uplinks never share one (with the
// Wire's generated MACs, two processes with one seed gave their boards the
// same addresses and the Linux bridge sent one board's frames to another).
func BoardMAC(i int) net.HardwareAddr {
	return net.HardwareAddr{0x02, 0x53, 0x62, byte(i >> 16), byte(i >> 8), byte(i)}
}

// Body returns board i's mail body: size bytes of printable lines naming
// the board, so a mail delivered to the wrong mailbox does not verify.
func Body(i, size int) []byte {
	var b bytes.Buffer
	for b.Len() < size {
		fmt.Fprintf(&b, "board %d line %d: the quick brown fox jumps over the lazy dog\r\n", i, b.Len())
	}
	return b.Bytes()[:size]
}

// Run boots the fleet, runs every board's mail at once and closes
// everything. It blocks until every board is closed. A board's failure is
// counted in the Report, not returned; the error is for a fleet that could
// not start (bad options, the host failing to boot) or a cancelled ctx.
func Run(ctx context.Context, opts Options) (*Report, error) {
	if opts.Boards < 1 || opts.FirstBoard < 0 || opts.FirstBoard+opts.Boards > MaxBoards || opts.HostUsers < 0 {
		if opts.Uplink != nil {
			_ = opts.Uplink.Close()
		}
		return nil, fmt.Errorf("fleet: boards %d from %d (host users %d): want 1..%d boards in all", opts.Boards, opts.FirstBoard, opts.HostUsers, MaxBoards)
	}
	if opts.BodySize == 0 {
		opts.BodySize = 512
	}
	small := board.PoolOptions{PayloadSize: 1536, Count: 8}
	if opts.Pool == (board.PoolOptions{}) {
		opts.Pool = small
	}
	if opts.RxPool == (board.PoolOptions{}) {
		opts.RxPool = small
	}
	conc := opts.Concurrency
	if conc == 0 {
		conc = DefaultConcurrency
	}
	if conc < 0 || conc > opts.Boards {
		conc = opts.Boards
	}
	if opts.HostPool == (board.PoolOptions{}) {
		opts.HostPool = HostPoolFor(conc)
	}
	if opts.HostRxPool == (board.PoolOptions{}) {
		// Twice the default pool: a 10,000-board fleet at 64 at a time
		// ran a 256-packet receive pool empty 37 times (frames wait
		// there while the host's stack catches up on a busy machine).
		opts.HostRxPool = HostPoolFor(2 * conc)
	}
	if opts.Uplink != nil && max(opts.FirstBoard+opts.Boards, opts.HostUsers) > 253 {
		_ = opts.Uplink.Close()
		return nil, fmt.Errorf("fleet: an uplinked fleet stays in 198.51.100.0/24: at most 253 boards in all (boards %d from %d, host users %d)", opts.Boards, opts.FirstBoard, opts.HostUsers)
	}
	clk := opts.Clock
	if clk == nil {
		clk = nx.SystemClock
	}
	seq := nx.Sequencing(clk)
	if seq && opts.Uplink != nil {
		_ = opts.Uplink.Close()
		return nil, fmt.Errorf("fleet: an uplink is a TAP, which runs in real time: it cannot join a virtual-time fleet")
	}
	rnd := func(name string) io.Reader {
		if opts.Rand == nil {
			return nil
		}
		return opts.Rand(name)
	}
	start, simStart := time.Now(), clk.Now()
	rep := &Report{Boards: opts.Boards}
	defer func() {
		rep.Wall = time.Since(start)
		rep.Simulated = clk.Now().Sub(simStart)
	}()
	wire, err := driver.NewWire(driver.WireOptions{Seed: opts.Seed, Logger: opts.Logger, DirectARP: true, Clock: opts.Clock})
	if err != nil {
		return nil, err
	}
	defer wire.Close()
	if opts.Uplink != nil {
		up, err := driver.NewUplink(wire, opts.Uplink, driver.UplinkOptions{Logger: opts.Logger})
		if err != nil {
			return nil, fmt.Errorf("fleet: %w", err)
		}
		defer up.Close()
	}

	hostAddr, boardAddr := Addresses(max(opts.FirstBoard+opts.Boards, opts.HostUsers))
	server := hostAddr.Addr()
	var host *mailhost.Host
	var hb *board.Board
	var serveWG sync.WaitGroup
	var lns []net.Listener
	if opts.MailHost.IsValid() {
		server = opts.MailHost
	} else {
		nusers := opts.HostUsers
		if nusers == 0 {
			nusers = opts.FirstBoard + opts.Boards
		}
		users := make(map[string]string, nusers)
		for i := range nusers {
			users["b"+strconv.Itoa(i)] = "pw" + strconv.Itoa(i)
		}
		if host, err = mailhost.New(mailhost.Options{Domain: "fleet.example", Users: users, AllowInsecureAuth: true, Logger: opts.Logger, Clock: opts.Clock,
			Rand: rnd("mailhost-app")}); err != nil {
			return nil, err
		}
		// The host closes every session first (after 221 and +OK to QUIT),
		// so each of the N boards leaves it two connections in TIME_WAIT:
		// 1 s instead of gVisor's 60 s keeps 20,000 endpoints of a
		// 10,000-board fleet from piling up (1.6 GB).
		hb, err = board.New(board.Options{Name: "mailhost", Wire: wire, Addr: hostAddr, Port: driver.PortOptions{MAC: HostMAC},
			TCP:  netstack.TCPOptions{TimeWait: HostTimeWait},
			Pool: opts.HostPool, RxPool: opts.HostRxPool, Logger: opts.Logger, Clock: opts.Clock, Rand: rnd("mailhost")})
		if err != nil {
			_ = host.Close()
			return nil, fmt.Errorf("fleet: mail host board: %w", err)
		}
		for _, s := range []struct {
			port  uint16
			serve func(net.Listener) error
		}{{25, host.ServeSMTP}, {110, host.ServePOP3}} {
			l, err := hb.IP.ListenTCPBacklog(s.port, max(conc, nusers-opts.Boards+conc)+16) // every board may connect at once, ours and other processes' (TestFleetGreetingBacklog)
			if err != nil {
				_ = host.Close()
				_ = hb.Close()
				return nil, fmt.Errorf("fleet: mail host: listen %d: %w", s.port, err)
			}
			lns = append(lns, l)
			serveWG.Add(1)
			go func() { defer serveWG.Done(); _ = s.serve(l) }()
		}
	}

	// Boot every board: in parallel in real time, one after another in
	// virtual time (the order boards attach to the Wire is part of a run).
	boards := make([]*board.Board, opts.Boards)
	bootErr := make([]error, opts.Boards)
	var wg sync.WaitGroup
	sem := make(chan struct{}, runtime.GOMAXPROCS(0)*4)
	for i := range boards {
		boot := func() {
			name := "b" + strconv.Itoa(i)
			boards[i], bootErr[i] = board.New(board.Options{Name: name, Wire: wire, Addr: boardAddr(opts.FirstBoard + i),
				Port: driver.PortOptions{MAC: BoardMAC(opts.FirstBoard + i), QueueFrames: BoardQueueFrames}, Pool: opts.Pool, RxPool: opts.RxPool, Logger: opts.Logger,
				Clock: opts.Clock, Rand: rnd(name)})
		}
		if seq {
			boot()
			continue
		}
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			boot()
		}()
	}
	wg.Wait()
	// The host resolves one board, as a host announces itself on link-up:
	// its ARP request teaches the Wire (DirectARP) where the host's address
	// lives, so the boards' N requests for it reach the host alone instead
	// of each being flooded to N ports.
	if hb != nil && bootErr[0] == nil {
		_, _ = hb.IP.ARPResolve(ctx, boardAddr(opts.FirstBoard).Addr(), nx.Ticks(100))
	}
	// With an external host, the first board resolves it: the reply
	// teaches the Wire that the host lives behind the uplink, so the other
	// boards' requests go there alone instead of flooding every board (a
	// 20-board fleet behind a bridge lost one board's ARP reply to a full
	// receive pool that way).
	if host == nil && bootErr[0] == nil {
		_, _ = boards[0].IP.ARPResolve(ctx, server, nx.Ticks(300))
	}
	rep.Boot = clk.Now().Sub(simStart)

	// Every board sends and fetches, conc at a time.
	msem := make(chan struct{}, conc)
	stageErr := make([]struct{ stage, msg string }, opts.Boards)
	for i, b := range boards {
		if bootErr[i] != nil {
			stageErr[i].stage, stageErr[i].msg = "boot", bootErr[i].Error()
			continue
		}
		wg.Add(1)
		msem <- struct{}{}
		mail := func() {
			defer wg.Done()
			defer func() { <-msem }()
			stage, err := mailOne(ctx, b, opts.FirstBoard+i, server, opts.BodySize, host, rnd("b"+strconv.Itoa(i)+"/smtpc"))
			if err != nil {
				stageErr[i].stage, stageErr[i].msg = stage, err.Error()
			}
		}
		if seq {
			// Each board's mail starts as an event of its own, in board
			// order, not all at once beside each other.
			nx.Post(clk, mail)
		} else {
			go mail()
		}
	}
	wg.Wait()
	rep.Mail = clk.Now().Sub(simStart) - rep.Boot

	// Count, then close everything.
	byStage := map[string]*Failure{}
	for i := range stageErr {
		se := stageErr[i]
		switch se.stage {
		case "":
			rep.Delivered++
			rep.Fetched++
			continue
		case "pop3", "verify-fetch":
			rep.Delivered++
		}
		rep.Failed++
		f := byStage[se.stage]
		if f == nil {
			f = &Failure{Stage: se.stage, First: fmt.Sprintf("board %d: %s", i, se.msg)}
			byStage[se.stage] = f
		}
		f.Count++
	}
	for _, f := range byStage {
		rep.Failures = append(rep.Failures, *f)
	}
	sort.Slice(rep.Failures, func(a, b int) bool { return rep.Failures[a].Stage < rep.Failures[b].Stage })

	closeErr := make([]error, len(boards))
	for i, b := range boards {
		if b == nil {
			continue
		}
		addPeaks(&rep.BoardPool, b.Pool)
		addPeaks(&rep.BoardRx, b.RxPool)
		if seq {
			closeErr[i] = b.Close()
			continue
		}
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			closeErr[i] = b.Close()
		}()
	}
	wg.Wait()
	for i, err := range closeErr {
		if err == nil {
			continue
		}
		if strings.Contains(err.Error(), "-pool\" not balanced") {
			rep.BoardPool.Unbalanced++
		}
		if strings.Contains(err.Error(), "-rx\" not balanced") {
			rep.BoardRx.Unbalanced++
		}
		if len(rep.CloseErrors) < 5 {
			rep.CloseErrors = append(rep.CloseErrors, fmt.Sprintf("board %d: %v", i, err))
		}
	}
	if host == nil {
		rep.PeakRSS = peakRSS()
		return rep, ctx.Err()
	}
	if opts.Linger > 0 {
		t := clk.NewTimer(opts.Linger)
		select {
		case <-t.C():
		case <-ctx.Done():
			t.Stop()
		}
	}
	_ = host.Close()
	for _, l := range lns {
		_ = l.Close()
	}
	serveWG.Wait()
	rep.HostPool, rep.HostRx = hb.Pool.Info(), hb.RxPool.Info()
	for _, p := range []*packetpool.Pool{hb.Pool, hb.RxPool} {
		if in := p.Info(); in.EmptyRequests > 0 {
			rep.HostShortfall += fmt.Sprintf("pool %q (%d packets) ran empty %d times; ", p.Name(), in.Total, in.EmptyRequests)
		}
	}
	rep.HostShortfall = strings.TrimSuffix(rep.HostShortfall, "; ")
	herr := hb.Close()
	rep.PeakRSS = peakRSS()
	if herr != nil {
		return rep, fmt.Errorf("fleet: mail host board: %w", herr)
	}
	return rep, ctx.Err()
}

func addPeaks(pp *PoolPeaks, p *packetpool.Pool) {
	in := p.Info()
	peak := in.Total - in.LowWater
	pp.Pools++
	pp.Packets += in.Total
	pp.SumPeakInUse += peak
	pp.MaxPeakInUse = max(pp.MaxPeakInUse, peak)
	pp.EmptyRequests += in.EmptyRequests
	pp.Invalid += in.InvalidReleases
}

// mailOne sends board i's mail and fetches it back; it returns the stage
// that failed. rnd is the SMTP client's Rand (its Message-ID): a seeded
// stream in virtual time, nil (crypto/rand) in real time.
func mailOne(ctx context.Context, b *board.Board, i int, server netip.Addr, size int, host *mailhost.Host, rnd io.Reader) (string, error) {
	user := "b" + strconv.Itoa(i)
	body := Body(i, size)
	c, err := smtpc.Create(smtpc.Options{
		IP: b.IP, Pool: b.Pool, Username: user, Password: "pw" + strconv.Itoa(i),
		From: user + "@fleet.example", ClientDomain: user + ".fleet.example", Auth: smtpc.AuthPlain,
		ServerAddr: server, Port: 25, TLS: smtpc.TLSOff, AllowPlaintextAuth: true, Rand: rnd,
	})
	if err != nil {
		return "smtp", err
	}
	_, err = c.Send(ctx, &smtpc.Message{To: []string{user + "@fleet.example"}, Subject: "fleet " + user,
		Body: bytes.NewReader(body), Size: int64(len(body))})
	if derr := c.Delete(); err == nil {
		err = derr
	}
	if err != nil {
		return "smtp", err
	}
	var want []byte // the stored message, when the host is ours
	if host != nil {
		stored := host.Store().Messages(user)
		if len(stored) != 1 || !bytes.HasSuffix(bytes.TrimSuffix(stored[0].Data, []byte("\r\n")), bytes.TrimSuffix(body, []byte("\r\n"))) {
			return "verify", fmt.Errorf("mail host holds %d messages for %s, want 1 ending in the %d-byte body", len(stored), user, len(body))
		}
		want = stored[0].Data // RetrTo gives the message with its last line break, without ".\r\n"
	}

	pc, err := pop3c.Create(ctx, pop3c.Options{Auth: pop3c.AuthAPOP, IP: b.IP, Pool: b.Pool, Server: server, Port: 110,
		Name: user, Password: "pw" + strconv.Itoa(i), TLS: pop3c.TLSOff})
	if err != nil {
		return "pop3", err
	}
	got, err := fetchFirst(ctx, pc)
	if derr := pc.Delete(ctx); err == nil {
		err = derr
	}
	if err != nil {
		return "pop3", err
	}
	if want == nil && !bytes.HasSuffix(bytes.TrimSuffix(got, []byte("\r\n")), bytes.TrimSuffix(body, []byte("\r\n"))) {
		return "verify-fetch", fmt.Errorf("fetched %d bytes do not end with the %d-byte body sent", len(got), len(body))
	}
	if want != nil && !bytes.Equal(got, want) {
		return "verify-fetch", fmt.Errorf("fetched %d bytes differ from the %d stored", len(got), len(want))
	}
	return "", nil
}

// fetchFirst reads message 1 (RetrTo: dot-unstuffed, without the
// terminator), deletes it and quits.
func fetchFirst(ctx context.Context, c *pop3c.Client) ([]byte, error) {
	if n, _, err := c.MailItemsGet(ctx); err != nil || n != 1 {
		return nil, errors.Join(fmt.Errorf("STAT: %d messages, want 1", n), err)
	}
	var out bytes.Buffer
	if _, err := c.RetrTo(ctx, 1, &out); err != nil {
		return nil, fmt.Errorf("RETR 1: %w", err)
	}
	if err := c.MailItemDelete(ctx, 1); err != nil {
		return nil, fmt.Errorf("DELE 1: %w", err)
	}
	if err := c.Quit(ctx); err != nil {
		return nil, fmt.Errorf("QUIT: %w", err)
	}
	return out.Bytes(), nil
}

// peakRSS returns the process's peak resident set (VmHWM) in bytes, or 0.
func peakRSS() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			f := strings.Fields(rest)
			if len(f) >= 1 {
				kb, _ := strconv.ParseInt(f[0], 10, 64)
				return kb * 1024
			}
		}
	}
	return 0
}
