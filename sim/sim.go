package sim

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"runtime"
	"runtime/pprof"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// labelKey is the goroutine label (runtime/pprof) that marks a simulation's
// goroutines; its value is the Sim's id.
const labelKey = "simboard.sim"

// ErrWorkPending is the internal assertion "time advanced while work was
// pending": a goroutine of the simulation became able to run between the
// moment the scheduler found nothing runnable and the moment it moved time,
// without any simulated event waking it. Something woke it from outside
// simulated time (a real timer, real I/O, a goroutine outside the
// simulation). Run fails with it.
var ErrWorkPending = errors.New("sim: time advanced while work was pending")

// ErrDeadlock means every goroutine of the simulation is blocked and no
// timer is pending, even after the body's context was cancelled: nothing can
// ever run again.
var ErrDeadlock = errors.New("sim: deadlock: every goroutine of the simulation is blocked and no timer is pending")

// ErrRealTimeWait means a goroutine of the simulation waited on real time
// (time.Sleep) or real I/O, which simulated time cannot drive.
var ErrRealTimeWait = errors.New("sim: a goroutine of the simulation waits on real time or real I/O")

// Options configure a Sim. The zero value is usable.
type Options struct {
	// Epoch is the simulated time at start; zero means DefaultEpoch.
	Epoch time.Time
	// Seed is the simulation's seed: Rand derives every random stream from
	// it. Use the same seed as the Wire's for a reproducible run.
	Seed int64
	// Limit stops the run with an error once this much simulated time has
	// passed (the body's context is cancelled first). 0 means no limit.
	Limit time.Duration
	// Parallel leaves GOMAXPROCS alone during Run. By default Run sets it
	// to 1 while any Sim runs (and puts the previous value back when the
	// last one returns): a simulation runs one event at a time, and with a
	// second processor the scheduler would spin on it waiting for the
	// first (measured: 3 to 4 times the CPU time and wall time of a mail
	// day on a loaded 2-core host). Other goroutines of the process share
	// that one processor meanwhile; when they keep it busy for several
	// steps in a row, Run gives the processors back.
	Parallel bool
	// SnapshotInterval trades the detection of real-time waits for speed.
	// 0 (the default): time moves only after a stop-the-world snapshot
	// found every goroutine of the simulation in a wait that simulated
	// time ends (about 0.3 ms each; in a long run with many distinct
	// instants, most of the CPU time). > 0: time also moves without a
	// snapshot while the last one is younger than this much wall time,
	// when the runtime's counters show no goroutine of the process
	// running, runnable or in a system call. That is exact for a program
	// that waits only on simulated time; a goroutine in a real-time wait
	// (time.Sleep, real I/O) longer than the interval is still caught
	// (ErrRealTimeWait), a shorter one may be missed. Measured on the mail
	// day (BenchmarkVirtualMailDay): 2 ms takes about a tenth of the CPU.
	SnapshotInterval time.Duration
	// Strict takes a stop-the-world snapshot before every event, as
	// SIMBOARD_SIM_STRICT=1 does: the one fully exact mode. The runtime's
	// counters, which the other modes trust when the process is quiet,
	// miss a goroutine coming back from a long system call (running
	// without a processor, not yet queued): under CPU contention a run
	// then moved on while that goroutine still worked on the last event.
	Strict bool
}

// Stats count what a run did.
type Stats struct {
	Simulated time.Duration // simulated time from start to the end of Run
	Wall      time.Duration // wall time Run took
	Fired     int           // timers fired
	Snapshots int           // stop-the-world goroutine snapshots taken
	// Confirmed counts the steps whose idle snapshot was confirmed by the
	// process being quiet (runtime/metrics) instead of a second snapshot.
	Confirmed int
	// Quick counts the events due at the current instant that fired, the
	// process being quiet, without a snapshot (see Run).
	Quick int
	// Stalls counts the times every goroutine of the simulation was blocked
	// with no timer pending while the body had not returned: the body's
	// context was cancelled then. StallDump holds the goroutines at the
	// first one.
	Stalls    int
	StallDump string
}

// Sim runs a simulation in virtual time: a body and every goroutine it
// starts (boards, the Wire, gVisor's TCP processors, mail servers) run on
// Clock, and time moves to the next timer only when none of them can run.
//
// "None can run" is decided exactly, not by an idle guess: the simulation's
// goroutines carry a runtime/pprof label (children inherit it), and before
// time moves the scheduler takes a stop-the-world snapshot of every
// goroutine (runtime.Stack with GODEBUG tracebacklabels=1) and advances
// only when no labelled goroutine is running, runnable, in a system call or
// in a wait that simulated time cannot end. Timers fire one at a time, each
// after everything the previous one woke has settled, so the order of
// events at one instant is the order they were set.
//
// The cost: a snapshot stops the world and prints every goroutine's stack
// (about 0.3 ms for a two-board simulation). Three cheaper checks, read
// from the runtime's scheduler counters (runtime/metrics) without stopping
// anything, keep most steps from needing one:
//   - while goroutines of the process are running or runnable the scheduler
//     only yields (no snapshot can find the simulation idle then);
//   - the second snapshot that confirms the first just before time moves
//     (the ErrWorkPending assertion) is not needed when the process is
//     quiet: no goroutine of the process but the scheduler is running,
//     runnable or in a system call, so none of the simulation's is;
//   - an event due at the current instant (a posted wake-up, a zero-delay
//     timer) fires without a snapshot when the process is quiet, as time
//     does not move. A goroutine of the simulation parked in a real-time
//     wait is then caught by the snapshot before time next moves rather
//     than at once; SIMBOARD_SIM_STRICT=1 takes a snapshot before every
//     event.
type Sim struct {
	strict   bool // a snapshot before every event (SIMBOARD_SIM_STRICT=1)
	parallel bool
	interval time.Duration
	seed     int64
	clk      *Clock
	id       string
	limit    time.Duration
	stats    Stats
}

var simIDs atomic.Uint64

// testHookBeforeConfirm runs between the snapshot that found the simulation
// idle and the one that confirms it (tests wake a goroutine from outside).
var testHookBeforeConfirm func()

// New returns a Sim with a fresh Clock.
func New(opts Options) *Sim {
	c := NewClock(opts.Epoch)
	c.wake = make(chan struct{}, 1)
	return &Sim{seed: opts.Seed, clk: c, id: fmt.Sprintf("%d", simIDs.Add(1)), limit: opts.Limit,
		strict: opts.Strict || os.Getenv("SIMBOARD_SIM_STRICT") == "1", parallel: opts.Parallel, interval: opts.SnapshotInterval}
}

// Clock returns the simulation's clock. Pass it as the Clock of every pool,
// driver, Wire, capture, IP and mail host that takes part.
func (s *Sim) Clock() *Clock { return s.clk }

// Stats returns the counters of the last Run.
func (s *Sim) Stats() Stats { return s.stats }

var labelsOnce sync.Once

// enableTracebackLabels turns on GODEBUG tracebacklabels=1, keeping the
// other GODEBUG settings. The runtime re-reads GODEBUG when it is set.
func enableTracebackLabels() {
	labelsOnce.Do(func() {
		cur := os.Getenv("GODEBUG")
		if strings.Contains(cur, "tracebacklabels=1") {
			return
		}
		if cur != "" {
			cur += ","
		}
		_ = os.Setenv("GODEBUG", cur+"tracebacklabels=1")
	})
}

// procs counts the Runs that set GOMAXPROCS to 1 (see Options.Parallel).
var procs struct {
	sync.Mutex
	n     int
	saved int
}

// oneProc sets GOMAXPROCS to 1 until the returned function is called (the
// last caller puts the value before the first back).
func oneProc() (restore func()) {
	procs.Lock()
	if procs.n == 0 {
		procs.saved = runtime.GOMAXPROCS(1)
	}
	procs.n++
	procs.Unlock()
	return func() {
		procs.Lock()
		procs.n--
		if procs.n == 0 {
			runtime.GOMAXPROCS(procs.saved)
		}
		procs.Unlock()
	}
}

// allProcs puts GOMAXPROCS back to the value before the first oneProc
// (until the last Run ends), when goroutines outside the simulations need
// the processors.
func allProcs() {
	procs.Lock()
	if procs.n > 0 && runtime.GOMAXPROCS(0) != procs.saved {
		runtime.GOMAXPROCS(procs.saved)
	}
	procs.Unlock()
}

// Run runs body in virtual time and returns when it returns. body gets a
// context that is cancelled when ctx is done, when the Limit passes, or on
// a deadlock; body must stop every goroutine it started (close boards,
// hosts, the Wire) before it returns.
//
// Run blocks; it must be called from a goroutine outside any simulation
// (its own goroutine is the scheduler). It returns body's error, or
// ErrDeadlock, ErrWorkPending or ErrRealTimeWait (wrapped with detail) when
// the simulation broke; body's error comes first.
func (s *Sim) Run(ctx context.Context, body func(ctx context.Context) error) error {
	enableTracebackLabels()
	if !s.parallel {
		defer oneProc()()
	}
	start := time.Now()
	startSim := s.clk.Now()
	s.stats = Stats{}
	defer func() {
		s.stats.Wall = time.Since(start)
		s.stats.Simulated = s.clk.Now().Sub(startSim)
	}()

	bctx, cancel := context.WithCancel(ctx)
	defer cancel()
	lctx := pprof.WithLabels(bctx, pprof.Labels(labelKey, s.id))
	// The scheduler goroutine carries the label too, so every goroutine it
	// starts (the body, timer functions) is labelled from its creation on;
	// a snapshot skips the scheduler itself.
	pprof.SetGoroutineLabels(lctx)
	defer pprof.SetGoroutineLabels(ctx)
	defer register(s, lctx)() // for Current and Context (testing.go)
	done := make(chan struct{})
	var berr error
	go func() {
		defer close(done)
		berr = body(lctx)
	}()

	var simErr error
	fail := func(err error) {
		if simErr == nil {
			simErr = err
		}
		cancel()
	}
	run := func(f func()) { go f() }
	limitAt := startSim.Add(s.limit)
	cancelled := false
	buf := make([]byte, 1<<16)
	var lastSnap time.Time // wall time of the last snapshot
	q := newQuietProbe()
	if !s.parallel {
		// Goroutines outside the simulation keep the process busy: give
		// them their processors back rather than share one with them.
		q.onNoisy = allProcs
	}
	for {
		select {
		case <-done:
			return errors.Join(berr, simErr)
		default:
		}
		// Let the simulation's goroutines run until the process looks
		// quiet, then look (the snapshot decides).
		quiet := q.settle()
		// An event due now (a posted wake-up, a zero-delay timer) does not
		// move time: when the whole process is quiet (no goroutine but this
		// one running, runnable or in a system call), the previous event
		// has settled and the next one fires without a snapshot. Time
		// moves without one only with Options.SnapshotInterval, while the
		// last snapshot is that recent.
		if quiet && !s.strict {
			if next, ok := s.clk.Next(); ok && (!next.After(s.clk.Now()) ||
				(s.interval > 0 && time.Since(lastSnap) < s.interval && (s.limit <= 0 || !next.After(limitAt)))) {
				if s.clk.fireNext(next, run) {
					s.stats.Fired++
					s.stats.Quick++
				}
				continue
			}
		}
		var st snapState
		st, buf = s.snapshot(buf)
		lastSnap = time.Now()
		q.inSyscall = uint64(st.signalWaiters)
		if st.busy {
			if st.realWait != "" {
				fail(fmt.Errorf("%w:\n%s", ErrRealTimeWait, st.realWait))
			}
			q.busySnapshot()
			continue
		}
		q.idleSnapshot()
		select {
		case <-done:
			return errors.Join(berr, simErr)
		default:
		}
		next, ok := s.clk.Next()
		if !ok || (s.limit > 0 && next.After(limitAt)) {
			if cancelled {
				if !ok {
					// Nothing will ever run again: report it rather than
					// hang. The body's goroutines stay blocked.
					fail(fmt.Errorf("%w:\n%s", ErrDeadlock, st.dump()))
					return errors.Join(berr, simErr)
				}
				// Wait for the body to give up after the cancel.
				select {
				case <-done:
					return errors.Join(berr, simErr)
				case <-s.clk.wake:
				case <-time.After(time.Millisecond):
				}
				continue
			}
			cancelled = true
			if !ok {
				s.stats.Stalls++
				if s.stats.StallDump == "" {
					s.stats.StallDump = st.dump()
				}
			}
			if os.Getenv("SIMBOARD_SIM_DEBUG") != "" {
				fmt.Fprintf(os.Stderr, "sim: idle with no timer at %v; cancelling the body:\n%s\n", s.clk.Now().Sub(startSim), st.dump())
			}
			if ok {
				fail(fmt.Errorf("sim: simulated time limit %v reached", s.limit))
			} else {
				cancel() // let the body see ctx.Done and clean up
			}
			continue
		}
		// The assertion: nothing may have become runnable since the
		// snapshot, as no simulated event happened in between.
		if testHookBeforeConfirm != nil {
			testHookBeforeConfirm()
		}
		// When no goroutine of the whole process is running (but this
		// one), runnable or in a system call, none of the simulation's
		// is: that confirms the snapshot without taking another.
		if !q.quiet() {
			var again snapState
			again, buf = s.snapshot(buf)
			if again.busy {
				fail(fmt.Errorf("%w: before advancing to %v:\n%s", ErrWorkPending, next.Sub(startSim), again.dump()))
				continue
			}
		} else {
			s.stats.Confirmed++
		}
		if s.clk.fireNext(next, run) {
			s.stats.Fired++
		}
	}
}

type snapState struct {
	busy     bool
	realWait string // a labelled goroutine's stack in sleep or IO wait
	raw      []byte // the snapshot (valid until the next one)
	want     []byte // the label pair of this Sim
	// signalWaiters counts os/signal's goroutines (see signalWaiters).
	signalWaiters int
}

// dump returns the labelled goroutines' stacks (for errors). It is built
// only when asked for: it must be called before the next snapshot.
func (st snapState) dump() string {
	var dump strings.Builder
	forEachLabelled(st.raw, st.want, func(g, _ []byte) bool {
		dump.Write(g)
		dump.WriteString("\n\n")
		return true
	})
	return dump.String()
}

// blockedStates are goroutine states that only another goroutine of the
// simulation or a simulated timer can end. gVisor's pkg/sleep and
// pkg/syncevent park with the "select" reason.
var blockedStates = map[string]bool{
	"chan receive":            true,
	"chan send":               true,
	"chan receive (nil chan)": true,
	"chan send (nil chan)":    true,
	"select":                  true,
	"select (no cases)":       true,
	"sync.Cond.Wait":          true,
	"sync.Mutex.Lock":         true,
	"sync.RWMutex.RLock":      true,
	"sync.RWMutex.Lock":       true,
	"sync.WaitGroup.Wait":     true,
	"semacquire":              true, // only on a user-level semaphore: see userSemaphore
	"coroutine":               true,
}

// snapshot takes a stop-the-world traceback of every goroutine and reports
// whether a goroutine labelled with this Sim's id can run.
func (s *Sim) snapshot(buf []byte) (snapState, []byte) {
	var n int
	for {
		n = runtime.Stack(buf, true)
		if n < len(buf) {
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	s.stats.Snapshots++
	return parseSnapshot(buf[:n], s.id), buf
}

// labelPair is how a traceback prints the label of Sim id.
func labelPair(id string) []byte {
	return []byte(fmt.Sprintf("%q: %q", labelKey, id))
}

// parseSnapshot reads runtime.Stack(all) output. The first goroutine is the
// caller (the scheduler) and is skipped.
func parseSnapshot(b []byte, id string) snapState {
	st := snapState{raw: b, want: labelPair(id)}
	forEachLabelled(b, st.want, func(g, state []byte) bool {
		// (Indexing a map with string(state) does not allocate.)
		if blockedStates[string(state)] && (string(state) != "semacquire" || userSemaphore(g[bytes.IndexByte(g, '\n')+1:])) {
			return true
		}
		st.busy = true
		if string(state) == "sleep" || string(state) == "IO wait" {
			st.realWait = string(g)
			return false
		}
		return true
	})
	st.signalWaiters = signalWaiters(b)
	return st
}

// signalRecv is the first frame of os/signal's goroutine, which waits for
// signals in a system call for as long as the process lives.
var signalRecv = []byte("\nos/signal.signal_recv(")

// signalWaiters counts the goroutines outside any simulation that wait for
// signals in os/signal (a program that called signal.Notify has one): the
// runtime counts them as in a system call, for good, and the quiet probe
// discounts them (they run, and are seen running, when a signal comes).
func signalWaiters(b []byte) int {
	if !bytes.Contains(b, signalRecv) {
		return 0
	}
	n := 0
	for len(b) > 0 {
		var g []byte
		if i := bytes.Index(b, []byte("\n\ngoroutine ")); i >= 0 {
			g, b = b[:i], b[i+2:]
		} else {
			g, b = b, nil
		}
		nl := bytes.IndexByte(g, '\n')
		if nl < 0 {
			continue
		}
		// goroutine 6 [syscall]: or [syscall, 9 minutes]:, no labels.
		hdr := g[:nl]
		if bytes.Contains(hdr, []byte(" labels:{")) || !bytes.Contains(hdr, []byte(" [syscall")) {
			continue
		}
		if bytes.HasPrefix(g[nl:], signalRecv) {
			n++
		}
	}
	return n
}

// forEachLabelled calls f with each goroutine of a runtime.Stack(all) dump
// (but the first, the caller) whose labels hold the pair want, and its
// wait state ("select", "running", ...), until f returns false.
func forEachLabelled(b, want []byte, f func(g, state []byte) bool) {
	first := true
	for len(b) > 0 {
		var g []byte
		if i := bytes.Index(b, []byte("\n\ngoroutine ")); i >= 0 {
			g, b = b[:i], b[i+2:]
		} else {
			g, b = b, nil
		}
		if first {
			first = false
			continue
		}
		nl := bytes.IndexByte(g, '\n')
		if nl < 0 {
			nl = len(g)
		}
		// goroutine 7 [chan receive, 2 minutes labels:{"k": "v", ...}]:
		hdr := g[:nl]
		li := bytes.Index(hdr, []byte(" labels:{"))
		if li < 0 {
			continue
		}
		labels := bytes.TrimSuffix(hdr[li+len(" labels:{"):], []byte("}]:"))
		if !hasLabel(labels, want) {
			continue
		}
		state := hdr[:li]
		if i := bytes.IndexByte(state, '['); i >= 0 {
			state = state[i+1:]
		}
		if i := bytes.IndexByte(state, ','); i >= 0 {
			state = state[:i]
		}
		if !f(g, state) {
			return
		}
	}
}

// hasLabel reports whether the label list `"k1": "v1", "k2": "v2"` holds the
// pair kv exactly.
func hasLabel(list, kv []byte) bool {
	for len(list) > 0 {
		i := bytes.Index(list, kv)
		if i < 0 {
			return false
		}
		end := i + len(kv)
		if (i == 0 || bytes.HasSuffix(list[:i], []byte(", "))) && (end == len(list) || bytes.HasPrefix(list[end:], []byte(", "))) {
			return true
		}
		list = list[end:]
	}
	return false
}

// Rand returns a deterministic random stream for one named consumer (e.g.
// a board's name), derived from Options.Seed and name: the same seed and
// name give the same bytes in every run. Pass it as a board's or IP's Rand
// so TCP initial sequence numbers and NX_ANY_PORT choices repeat. The
// reader is not safe for concurrent use on its own; netstack locks it.
func (s *Sim) Rand(name string) io.Reader {
	h := sha256.New()
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], uint64(s.seed))
	h.Write(b[:])
	h.Write([]byte(name))
	var key [32]byte
	copy(key[:], h.Sum(nil))
	return rand.NewChaCha8(key)
}

// userSemaphore reports whether a goroutine in "semacquire" waits on a
// semaphore another goroutine releases (sync, internal/poll, gVisor's
// sync.Gate), from its first frame. The runtime also parks a goroutine in
// "semacquire" while it waits for a garbage collection or a stop-the-world
// (such as the scheduler's own snapshot) to finish; runtime frames are not
// printed, so its first frame is the allocating code. That goroutine goes
// on by itself and must count as running.
func userSemaphore(stack []byte) bool {
	frame := bytes.TrimLeft(stack, "\n")
	for _, p := range []string{"sync.", "internal/sync.", "internal/poll.", "gvisor.dev/gvisor/pkg/sync."} {
		if bytes.HasPrefix(frame, []byte(p)) {
			return true
		}
	}
	return false
}
