package nx

// Sequencer is a Clock that runs a simulation one event at a time (a
// sim.Clock driven by a sim.Sim). Components on such a clock hand every
// wake-up that crosses from one simulated party to another (a frame
// arriving at a port, a socket becoming readable, a packet handed to a
// suspended allocator) to Post instead of delivering it at once, so the
// party woken never runs while the one that woke it is still working on the
// same event. That is what makes a run repeat exactly: each event runs to
// completion alone, and events at one instant run in the order posted.
type Sequencer interface {
	Clock
	// Sequencing reports whether the clock is running a simulation now.
	// A virtual clock stepped by hand (no scheduler) is not sequencing, and
	// Post then calls f at once.
	Sequencing() bool
	// Post runs f as an event of its own at the current instant, after
	// everything running now has settled and after the events posted
	// before it. It does not block and may be called with locks held; f
	// runs in its own goroutine and must not assume any lock of the
	// poster.
	Post(f func())
}

// Sequencing reports whether clk runs a simulation one event at a time
// (see Sequencer). SystemClock and nil never do.
func Sequencing(clk Clock) bool {
	s, ok := clk.(Sequencer)
	return ok && s.Sequencing()
}

// Post runs f as an event of its own on a sequencing clock (see
// Sequencer), and at once, in the caller's goroutine, on any other clock.
// It does not block (unless f does, on a clock that is not sequencing).
func Post(clk Clock, f func()) {
	if s, ok := clk.(Sequencer); ok && s.Sequencing() {
		s.Post(f)
		return
	}
	f()
}
