package boardtest

import (
	"context"
	"fmt"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/simboard/simboard/board"
	"github.com/simboard/simboard/nx"
	"github.com/simboard/simboard/packetpool"
	"github.com/simboard/simboard/sim"
)

// ClockEnv is the environment variable that chooses the clock of the tests
// built on this package: "virtual" runs every test that builds a Wire, a
// board or a Lab without an explicit Clock in virtual time, as if it had
// called sim.Test before its first board; "" or "real" keeps real time.
// scripts/test.sh runs the stack tests once in each mode. Tests that
// cannot run in virtual time (a TAP, real time measured on purpose) call
// SkipVirtual.
const ClockEnv = "SIMBOARD_TEST_CLOCK"

// VirtualMode reports whether ClockEnv asks for virtual time. It panics on
// a value other than "", "real" and "virtual", so a typo in CI cannot
// silently run the real-time tests twice.
func VirtualMode() bool {
	switch v := os.Getenv(ClockEnv); v {
	case "", "real":
		return false
	case "virtual":
		return true
	default:
		panic(fmt.Sprintf("boardtest: %s=%q: want real or virtual", ClockEnv, v))
	}
}

// SkipVirtual skips t when the tests run in virtual time (ClockEnv),
// giving reason (e.g. "uses a TAP, which is real time"). Call it first in
// a test that cannot run on a simulated clock.
func SkipVirtual(t testing.TB, reason string) {
	t.Helper()
	if VirtualMode() {
		t.Skipf("boardtest: skipped with %s=virtual: %s", ClockEnv, reason)
	}
}

// Clock returns the clock the calling test's boards run on: the clock of
// the simulation the calling goroutine is in (sim.Current; one started by
// a Lab, by sim.Test, by a Sim's Run or, with ClockEnv=virtual, by the
// test's first Wire or board), else nx.SystemClock. A test waits on it
// (nx.Await(ctx, boardtest.Clock(t), wait, nil, status)) so it runs in
// both modes. It does not block.
func Clock(t testing.TB) nx.Clock {
	t.Helper()
	if s := sim.Current(); s != nil {
		return s.Clock()
	}
	return nx.SystemClock
}

// simFor returns the simulation t's boards run in: the running one, or a
// new one (sim.Test, seeded with seed) when virtual is set and the calling
// goroutine is in none; nil for real time.
func simFor(t testing.TB, seed int64, virtual bool, limit time.Duration) *sim.Sim {
	t.Helper()
	if s := sim.Current(); s != nil {
		return s
	}
	if !virtual {
		return nil
	}
	_, s := sim.Test(t, sim.Options{Seed: seed, Limit: limit})
	t.Logf("boardtest: %s runs in virtual time from here (seed %d)", t.Name(), seed)
	return s
}

// balanced is board.Balanced whose grace period runs on the simulated
// clock when the caller is in a simulation (a real sleep there would fail
// it with sim.ErrRealTimeWait).
func balanced(p *packetpool.Pool, grace time.Duration) error {
	s := sim.Current()
	if s == nil {
		return board.Balanced(p, grace)
	}
	clk := s.Clock()
	deadline := clk.Now().Add(grace)
	for in := p.Info(); in.Free != in.Total && clk.Now().Before(deadline); in = p.Info() {
		_ = clk.Sleep(context.Background(), 100*time.Millisecond) // each step costs a scheduler round, not 100 ms
	}
	return board.Balanced(p, 0)
}

// Sleep is time.Sleep on the test's clock (Clock): in virtual time it
// waits d of simulated time. It blocks.
func Sleep(t testing.TB, d time.Duration) {
	t.Helper()
	tm := Clock(t).NewTimer(d)
	<-tm.C()
}

// After is time.After on the test's clock (Clock). It does not block.
func After(t testing.TB, d time.Duration) <-chan time.Time {
	t.Helper()
	return Clock(t).NewTimer(d).C()
}

// WithTimeout is context.WithTimeout on the test's clock (Clock): in
// virtual time the context is done once d of simulated time has passed,
// and its Err is then context.DeadlineExceeded. In real time it is
// context.WithTimeout. It does not block; call cancel when done.
func WithTimeout(t testing.TB, parent context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	t.Helper()
	clk, ok := Clock(t).(nx.FuncClock)
	if !ok || clk == nx.SystemClock {
		return context.WithTimeout(parent, d)
	}
	inner, cancel := context.WithCancel(parent)
	ctx := &clockCtx{Context: inner}
	tm := clk.AfterFunc(d, func() {
		ctx.expired.Store(true)
		cancel()
	})
	return ctx, func() { tm.Stop(); cancel() }
}

// clockCtx is a context cancelled by a timer on a simulated clock; it
// reports that as context.DeadlineExceeded.
type clockCtx struct {
	context.Context
	expired atomic.Bool
}

func (c *clockCtx) Err() error {
	err := c.Context.Err()
	if err != nil && c.expired.Load() {
		return context.DeadlineExceeded
	}
	return err
}
