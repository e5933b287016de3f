package smtpc

import (
	"time"

	"github.com/simboard/simboard/nx"
	"github.com/simboard/simboard/sim"
)

// The board tests of this package also run in virtual time
// (SIMBOARD_TEST_CLOCK=virtual, boardtest.ClockEnv): then a test runs in a
// simulation from its first board on, and nothing in it may wait on real
// time. Helpers that have no testing.TB at hand wait on testClock.

// testClock returns the clock of the simulation the calling goroutine runs
// in, else the system clock.
func testClock() nx.Clock {
	if s := sim.Current(); s != nil {
		return s.Clock()
	}
	return nx.SystemClock
}

// testSleep is time.Sleep on testClock.
func testSleep(d time.Duration) { <-testClock().NewTimer(d).C() }
