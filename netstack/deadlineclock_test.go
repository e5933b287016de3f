package netstack_test

import (
	"testing"
	"time"

	"github.com/simboard/simboard/netstack"
	"github.com/simboard/simboard/sim"
)

// TestDeadlineOnClock: a wall-clock deadline lands on a simulated clock as
// the real time left, rounded up to a NetX tick (a few microseconds of
// wall time between the caller's time.Now and the call do not move it);
// none stays none; a past one lands before the clock's now.
func TestDeadlineOnClock(t *testing.T) {
	clk := sim.NewClock(time.Time{})
	now := clk.Now()
	if got := netstack.DeadlineOnClock(clk, time.Time{}); !got.IsZero() {
		t.Fatalf("zero deadline = %v, want zero (none)", got)
	}
	if got := netstack.DeadlineOnClock(clk, time.Now().Add(-time.Second)); !got.Before(now) || got.IsZero() {
		t.Fatalf("past deadline = %v, want before %v and not zero", got, now)
	}
	if got := netstack.DeadlineOnClock(clk, time.Now().Add(30*time.Second)); !got.Equal(now.Add(30 * time.Second)) {
		t.Fatalf("deadline 30 s from now = %v after the clock's now, want exactly 30 s", got.Sub(now))
	}
}
