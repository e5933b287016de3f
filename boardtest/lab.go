package boardtest

import (
	"context"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/simboard/simboard/driver"
	"github.com/simboard/simboard/mailhost"
	"github.com/simboard/simboard/nx"
	"github.com/simboard/simboard/sim"
)

// Mail ports the MailPeer serves, the standard ones so Wireshark decodes a
// capture without hints.
const (
	SMTPPort   = 25
	SubmitPort = 587
	SMTPSPort  = 465
	POP3Port   = 110
	POP3SPort  = 995
)

// LabOptions describe a Lab. The zero value is a loss-free Wire with seed 1
// on the system clock.
type LabOptions struct {
	// Wire configures the lab's Wire (seed, default impairments). A zero
	// Seed means 1. Wire.Clock is replaced by Clock when Clock is set.
	Wire driver.WireOptions
	// Clock is the clock of the Wire, every board and the mail host: the
	// seam for virtual time. nil means the clock of the simulation the
	// caller runs in (sim.Current), else that of a new one when Virtual
	// is set, else nx.SystemClock (real time).
	Clock nx.Clock
	// Virtual runs the rest of the test in virtual time (sim.Test, seeded
	// with Wire.Seed): the Wire, every board, the mail host, the test's own
	// goroutine and the lab's cleanups run on a simulated clock that moves
	// only when none of them can run, so a 30 s server silence costs no
	// wall time and a seed gives the same run. The test must then wait
	// only on Lab.Clock (never time.Sleep) and should pass Lab.Context to
	// its blocking calls. SIMBOARD_TEST_CLOCK=virtual (ClockEnv) sets it
	// for every Lab whose Clock is nil. Ignored when Clock is set.
	Virtual bool
	// Limit, in virtual time, stops the simulation once this much
	// simulated time has passed (sim.Options.Limit): Context is cancelled
	// and the test fails. 0 means no limit.
	Limit time.Duration
}

// Lab is a Wire with boards on it, in the spirit of net/http/httptest: a
// test builds one with NewLab, adds boards and at most one mail host, and
// everything is closed and checked at the end of the test. Its checks run
// once, at cleanup: every pool of every board balanced (free == total, no
// invalid release) and no goroutine left running that the test started.
// A Lab belongs to one test; its methods are not safe for concurrent use.
type Lab struct {
	t     testing.TB
	Wire  *driver.Wire
	clock nx.Clock
	sim   *sim.Sim        // the simulation the lab runs in, nil in real time
	ctx   context.Context // Context's value
	next  byte
	mail  *MailPeer
	// local, in RunVirtual, collects the cleanups so they run inside the
	// simulation instead of at the test's end.
	local    bool
	cleanups []func()
}

// atEnd registers f to run when the lab ends: at the test's cleanup, or
// inside the simulation when body returns (RunVirtual). Last in, first out.
func (l *Lab) atEnd(f func()) {
	if l.local {
		l.cleanups = append(l.cleanups, f)
		return
	}
	l.t.Cleanup(f)
}

func (l *Lab) end() {
	for i := len(l.cleanups) - 1; i >= 0; i-- {
		l.cleanups[i]()
	}
	l.cleanups = nil
}

// NewLab returns an empty Lab. It registers the goroutine-leak check first,
// so that check runs last, after every board and the mail host have closed,
// whether the test passed or failed midway. In virtual time
// (LabOptions.Virtual) it then starts the simulation the rest of the test
// runs in, so the boards close and their pools are checked in simulated
// time and the simulation has ended before the leak check. It calls
// t.Fatal if the Wire cannot be built.
func NewLab(t testing.TB, opts LabOptions) *Lab {
	t.Helper()
	CheckGoroutines(t)
	wo := opts.Wire
	if wo.Seed == 0 {
		wo.Seed = 1
	}
	l := &Lab{t: t, clock: opts.Clock, next: 2}
	if opts.Clock == nil {
		if s := simFor(t, wo.Seed, opts.Virtual || VirtualMode(), opts.Limit); s != nil {
			l.sim, l.clock = s, s.Clock()
		}
	}
	if l.clock != nil {
		wo.Clock = l.clock
	}
	l.Wire = NewWireOptions(t, wo)
	return l
}

// Sim returns the simulation the lab runs in, or nil in real time.
func (l *Lab) Sim() *sim.Sim { return l.sim }

// Clock returns the lab's clock: the simulation's in virtual time, else
// LabOptions.Clock or nx.SystemClock. Wait on it (nx.Await, or
// Sim().Clock().Sleep) rather than on real time.
func (l *Lab) Clock() nx.Clock {
	if l.clock == nil {
		return nx.SystemClock
	}
	return l.clock
}

// Context returns the context for the test's blocking calls. In virtual
// time it is cancelled when the simulation stalls (every goroutine blocked,
// no timer pending) or breaks, so a stuck test fails with NX_WAIT_ABORTED
// instead of hanging; in real time it is the test's context (t.Context).
func (l *Lab) Context() context.Context {
	if l.ctx != nil {
		return l.ctx
	}
	if l.sim != nil {
		if c := l.sim.Context(); c != nil {
			l.ctx = c
			return c
		}
	}
	l.ctx = l.t.Context()
	return l.ctx
}

// Board attaches a new board named name to the lab's Wire at the next free
// address (198.51.100.2, .3, ...; .1 is kept for the mail host). It does not
// block. The board is closed and its pools checked at cleanup; the test
// must have released every packet it allocated by then.
func (l *Lab) Board(name string, opts Options) *Board {
	l.t.Helper()
	if l.next == 0 {
		l.t.Fatalf("boardtest: lab is full (253 boards)")
	}
	if opts.Clock == nil {
		opts.Clock = l.clock
	}
	if opts.Rand == nil && l.sim != nil {
		opts.Rand = l.sim.Rand("board/" + name)
	}
	b := newBoard(l.t, l.Wire, name, l.next, opts, l.atEnd)
	l.next++
	return b
}

// MailPeer is a board at 198.51.100.1 running a mailhost.Host on the
// standard ports: SMTP 25 and 587, SMTPS 465, POP3 110, POP3S 995 (the TLS
// ports only serve when the host has a TLS config).
type MailPeer struct {
	*Board
	Host *mailhost.Host
	wg   sync.WaitGroup
}

// SMTP returns the address of the peer's SMTP port 25.
func (p *MailPeer) SMTP() netip.AddrPort { return netip.AddrPortFrom(p.Addr, SMTPPort) }

// POP3 returns the address of the peer's POP3 port 110.
func (p *MailPeer) POP3() netip.AddrPort { return netip.AddrPortFrom(p.Addr, POP3Port) }

// MailHost boots the mail peer board and serves a host built from hopts
// on it. A lab has at most one. At cleanup the host is closed (its sessions
// joined) before the board closes and its pools are checked. It calls
// t.Fatal when the host or a listener cannot be created.
func (l *Lab) MailHost(hopts mailhost.Options, bopts Options) *MailPeer {
	l.t.Helper()
	if l.mail != nil {
		l.t.Fatalf("boardtest: a lab has one mail host")
	}
	if hopts.Clock == nil {
		hopts.Clock = l.clock
	}
	if bopts.Clock == nil {
		bopts.Clock = l.clock
	}
	if bopts.Rand == nil && l.sim != nil {
		bopts.Rand = l.sim.Rand("board/mailhost")
	}
	h, err := mailhost.New(hopts)
	if err != nil {
		l.t.Fatalf("mailhost.New: %v", err)
	}
	b := newBoard(l.t, l.Wire, "mailhost", 1, bopts, l.atEnd)
	p := &MailPeer{Board: b, Host: h}
	// Registered after the board's cleanup, so it runs before it.
	l.atEnd(func() {
		_ = h.Close()
		p.wg.Wait()
	})
	type svc struct {
		port  uint16
		serve func(net.Listener) error
	}
	svcs := []svc{{SMTPPort, h.ServeSMTP}, {SubmitPort, h.ServeSMTP}, {POP3Port, h.ServePOP3}}
	if hopts.TLS != nil {
		svcs = append(svcs, svc{SMTPSPort, h.ServeSMTPS}, svc{POP3SPort, h.ServePOP3S})
	}
	for _, s := range svcs {
		ln, err := b.IP.ListenTCP(s.port)
		if err != nil {
			l.t.Fatalf("mail peer: listen %d: %v", s.port, err)
		}
		p.wg.Add(1)
		go func() { defer p.wg.Done(); _ = s.serve(ln) }()
	}
	l.mail = p
	return p
}

// NewLabFunc is NewLab for a lab that must close before the test ends,
// inside a simulation: with LabOptions.Clock set to a sim.Sim's clock,
// build the lab inside the body given to Sim.Run and defer end() there.
// end closes the mail host and the boards and checks every pool (last
// added, first closed); it is idempotent. The goroutine-leak check is
// registered on t as in NewLab. Failures are reported with t.Error, so the
// lab may be used from the simulation's goroutine (not with t.Fatal).
//
//	sm := sim.New(sim.Options{Seed: 1})
//	err := sm.Run(ctx, func(ctx context.Context) error {
//		lab, end := boardtest.NewLabFunc(t, boardtest.LabOptions{Clock: sm.Clock()})
//		defer end()
//		...
//	})
func NewLabFunc(t testing.TB, opts LabOptions) (lab *Lab, end func()) {
	t.Helper()
	CheckGoroutines(t)
	wo := opts.Wire
	if wo.Seed == 0 {
		wo.Seed = 1
	}
	if opts.Clock != nil {
		wo.Clock = opts.Clock
	}
	l := &Lab{t: t, clock: opts.Clock, next: 2, local: true}
	w, err := driver.NewWire(wo)
	if err != nil {
		t.Errorf("driver.NewWire: %v", err)
		return nil, func() {}
	}
	l.Wire = w
	l.atEnd(func() { _ = w.Close() })
	return l, l.end
}
