package netstack_test

import (
	"time"

	"github.com/simboard/simboard/nx"
	"github.com/simboard/simboard/sim"
)

// The tests of this package run in real time and, with
// SIMBOARD_TEST_CLOCK=virtual (boardtest.ClockEnv), in virtual time: then
// boardtest's first Wire or board of a test starts a simulation that the
// rest of the test runs in. So a test never waits on real time: it waits
// on testClock (nx.Await with it, after), and reads deadlines and
// durations from it. Tests that cannot run on a simulated clock call
// boardtest.SkipVirtual with the reason.

// testClock returns the clock of the calling test's boards: the clock of
// the simulation the calling goroutine runs in, else the system clock.
func testClock() nx.Clock {
	if s := sim.Current(); s != nil {
		return s.Clock()
	}
	return nx.SystemClock
}

// after is time.After on testClock.
func after(d time.Duration) <-chan time.Time { return testClock().NewTimer(d).C() }

// now is time.Now on testClock.
func now() time.Time { return testClock().Now() }
