// Package sim gives boards on a Wire virtual time: a Clock that only moves
// when told, and a Sim whose scheduler moves it to the next timer only when
// no goroutine of the simulation can run, so a 30 s server silence or a 2 s
// link delay costs no wall time.
//
// Start with New and Run. Pass Sim.Clock() as the Clock of the Wire, every
// pool, driver, capture and IP (netstack hands it to gVisor, so TCP's
// retransmission, delayed-ACK and TIME_WAIT timers run on it), the mail
// host and the mail clients (they use the IP's clock). Build and close the
// boards inside the body given to Run.
//
// The idle test is exact: every goroutine the body starts carries a
// runtime/pprof label, and before time moves the scheduler takes a
// stop-the-world snapshot of all goroutines and advances only when none of
// the labelled ones is running, runnable or in a system call. Just before
// the step the process must still be quiet by the runtime's scheduler
// counters (runtime/metrics), or a second snapshot must agree; if a
// goroutine became runnable in between without a simulated event, Run
// fails with ErrWorkPending ("time advanced while work was pending"). A
// goroutine waiting on real time (time.Sleep) or real I/O fails the run
// with ErrRealTimeWait; a body that can never run again fails with
// ErrDeadlock instead of hanging. Events due at the current instant fire
// on the counters alone, without a snapshot (SIMBOARD_SIM_STRICT=1 takes
// one before every event), and Options.SnapshotInterval lets time move on
// them too, between snapshots: see Sim and Options for the costs. Run sets
// GOMAXPROCS to 1 while it runs (Options.Parallel).
//
// The first Run adds tracebacklabels=1 to the process's GODEBUG (the
// runtime re-reads it), so goroutine dumps of the whole program show pprof
// labels from then on.
//
// A run repeats exactly: same seed, same frames at the same simulated
// instants. Besides the seeded randomness (Rand, the Wire's seed), that
// needs each event to run alone. The Clock is an nx.Sequencer: the Wire,
// netstack and the packet pools post every wake-up that crosses from one
// party to another (a frame arriving at a port, a socket becoming readable
// or writable, an accept, a packet handed to a suspended allocator) as an
// event of its own instead of waking the other party at once, and the
// Wire and netstack hand frames on in the writer's goroutine. So gVisor's
// TCP processor finishes an incoming segment before the application sees
// it, and events at one instant run in the order they were posted.
//
// Virtual time is opt-in: every package keeps the real clock
// (nx.SystemClock) unless given another. A TAP is real time and must not be
// used inside a Sim.
package sim
