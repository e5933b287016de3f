package sim

import (
	"bytes"
	"context"
	"fmt"
	"runtime"
	"runtime/pprof"
	"sync"
	"sync/atomic"
	"testing"
)

// Test runs the rest of the test t in virtual time: from the call on, t's
// goroutine, every goroutine it starts (boards, the Wire, gVisor's TCP
// processors, mail servers, the test's own helpers) and the cleanups t
// registers after the call belong to a new simulation, and its Clock moves
// only when none of them can run. Build every board, Wire and mail host of
// the test on the returned Sim's Clock (package boardtest does it for you:
// boardtest.LabOptions.Virtual).
//
// Call it from the test's goroutine, before starting any goroutine that
// takes part; it does not block. The simulation ends at t's cleanup,
// registered now, so it runs after the cleanups registered later (those
// that close boards and check their pools, which then run in simulated
// time) and before those registered earlier: call a goroutine-leak check
// (boardtest.CheckGoroutines) before Test, so its real-time wait runs
// after the simulation's own goroutines have ended.
//
// The returned context is cancelled when the simulation breaks (a
// goroutine waited on real time, time moved while work was pending, the
// Limit passed) or stalls (every goroutine blocked and no timer pending);
// pass it to the blocking calls of the test so such a test fails with
// NX_WAIT_ABORTED instead of hanging. The reason is reported with t.Errorf
// at cleanup. If the simulation can never run again (ErrDeadlock) while the
// test is still blocked in it, Test panics with the goroutine dump, naming
// the test: a stuck test would otherwise hang until go test's -timeout.
//
// Inside the simulation nothing may wait on real time: no time.Sleep,
// time.After or real deadlines; wait on the Sim's Clock (Clock.Sleep,
// nx.Await with the Clock). Test calls t.Fatal when t's goroutine already
// belongs to a simulation (see Current).
func Test(t testing.TB, opts Options) (context.Context, *Sim) {
	t.Helper()
	enableTracebackLabels()
	if id := currentID(); id != "" {
		t.Fatalf("sim.Test: %s already runs in simulation %s", t.Name(), id)
	}
	s := New(opts)
	ctxc := make(chan context.Context, 1)
	release := make(chan struct{})
	result := make(chan error, 1)
	var released atomic.Bool
	name := t.Name()
	go func() {
		err := s.Run(context.Background(), func(ctx context.Context) error {
			ctxc <- ctx
			<-release // the test runs in its own goroutine, adopted below
			return nil
		})
		if !released.Load() {
			// Only ErrDeadlock ends Run before the body returns: the test's
			// goroutine is blocked in the simulation for good.
			panic(fmt.Sprintf("sim.Test %s: the simulation ended while the test was blocked in it: %v", name, err))
		}
		result <- err
	}()
	ctx := <-ctxc
	// t's goroutine joins the simulation: it carries the Sim's label, and
	// the goroutines it starts from now on inherit it.
	pprof.SetGoroutineLabels(ctx)
	t.Cleanup(func() {
		released.Store(true)
		close(release)
		err := <-result
		pprof.SetGoroutineLabels(context.Background())
		if err != nil {
			t.Errorf("sim.Test: %v", err)
		}
	})
	return ctx, s
}

// registry maps a running Sim's id to its running state, for Current and
// Context.
var registry sync.Map // id -> *running

type running struct {
	s   *Sim
	ctx context.Context
}

// register records s as running with body context ctx until the returned
// function is called.
func register(s *Sim, ctx context.Context) func() {
	registry.Store(s.id, &running{s, ctx})
	return func() { registry.Delete(s.id) }
}

// Context returns the context Run gave the body of s (for a Sim of Test,
// the one Test returned): it is cancelled when the simulation stalls or
// breaks and when Run ends. It returns nil when s is not running.
func (s *Sim) Context() context.Context {
	if v, ok := registry.Load(s.id); ok {
		return v.(*running).ctx
	}
	return nil
}

// Current returns the Sim whose simulation the calling goroutine belongs
// to (inside Run's body, in a goroutine it started, or in a test after
// Test), or nil when the goroutine belongs to none. Test helpers use it to
// build boards on the running simulation's Clock. It does not block; it
// reads the calling goroutine's labels from a traceback, so it costs a few
// microseconds.
func Current() *Sim {
	id := currentID()
	if id == "" {
		return nil
	}
	if v, ok := registry.Load(id); ok {
		return v.(*running).s
	}
	return nil
}

// currentID returns the simulation label of the calling goroutine, or "".
// The label is read from the goroutine's traceback header, which shows
// pprof labels with GODEBUG tracebacklabels=1 (enableTracebackLabels).
func currentID() string {
	enableTracebackLabels()
	buf := make([]byte, 1024)
	var hdr []byte
	for {
		n := runtime.Stack(buf, false)
		hdr = buf[:n]
		if i := bytes.IndexByte(hdr, '\n'); i >= 0 {
			hdr = hdr[:i]
			break
		}
		if n < len(buf) {
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	// goroutine 7 [running, labels:{"simboard.sim": "3", ...}]:
	key := []byte(fmt.Sprintf("%q: \"", labelKey))
	i := bytes.Index(hdr, key)
	if i < 0 || !bytes.Contains(hdr[:i], []byte(" labels:{")) {
		return ""
	}
	v := hdr[i+len(key):]
	j := bytes.IndexByte(v, '"')
	if j < 0 {
		return ""
	}
	return string(v[:j])
}
