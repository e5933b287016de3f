package sim

import (
	"runtime"
	"runtime/metrics"
	"time"
)

// quietProbe reads the runtime's scheduler counters (runtime/metrics, Go
// 1.26) to tell cheaply, without stopping the world, whether any goroutine
// of the process but the caller is running, runnable or in a system call.
//
// A "not quiet" answer makes the scheduler wait (settle) or take the
// snapshot it would have taken anyway. A "quiet" answer lets it skip the
// snapshot that confirms an idle one before time moves, and fire an event
// due at the current instant without one: both sound, as a labelled
// goroutine that can run is a goroutine of the process that can run. Only
// a snapshot tells a simulation wait from a real-time one, so time never
// moves without one (see Sim).
//
// Goroutines outside the simulation (another test, a busy library
// goroutine, the GC) make the process look busy while the simulation is
// idle. settle does not wait on them for ever: past its limit (settleMax,
// doubled up to settleCeiling while the simulation itself stays busy) it
// lets the snapshot decide; when noisyAfter steps in a row find the
// simulation idle and the process still busy, it stops asking the probe
// for noisySteps steps (a few Goscheds, then the snapshot, as before the
// probe existed).
type quietProbe struct {
	samples []metrics.Sample
	noisy   int           // steps left without the probe
	fell    bool          // the last settle ended by its time limit
	limit   time.Duration // how long settle waits for quiet
	outside int           // steps in a row that found the process busy, the simulation idle
	onNoisy func()        // called when the probe stops being trusted
	// inSyscall is how many goroutines outside the simulation the last
	// snapshot found waiting for signals (os/signal) in a system call.
	inSyscall uint64
}

const (
	settleMax     = time.Millisecond
	settleCeiling = 16 * time.Millisecond
	settleYields  = 16
	noisySteps    = 64
	noisyAfter    = 3
)

func newQuietProbe() *quietProbe {
	return &quietProbe{limit: settleMax, samples: []metrics.Sample{
		{Name: "/sched/goroutines/running:goroutines"},
		{Name: "/sched/goroutines/runnable:goroutines"},
		{Name: "/sched/goroutines/not-in-go:goroutines"},
	}}
}

// quiet reports whether, by the runtime's counters, the caller is the only
// goroutine of the process running, none is runnable and none is in a
// system call or cgo call (but q.inSyscall goroutines waiting for signals).
// It does not block.
func (q *quietProbe) quiet() bool {
	if q.noisy > 0 {
		return false
	}
	metrics.Read(q.samples)
	for i, want := range [...]uint64{1, 0, q.inSyscall} {
		v := q.samples[i].Value
		if v.Kind() != metrics.KindUint64 || v.Uint64() > want {
			return false
		}
	}
	return true
}

// settle yields the processor until the process is quiet, for at most
// q.limit of wall time and settleYields yields (then the snapshot decides),
// and reports whether it found the process quiet.
func (q *quietProbe) settle() bool {
	q.fell = false
	runtime.Gosched()
	if q.noisy > 0 {
		q.noisy--
		for range 16 {
			runtime.Gosched()
		}
		return false
	}
	if q.quiet() {
		return true
	}
	// Both a wall-time limit and a number of yields: on a loaded host this
	// thread may lose the CPU for longer than the limit without the
	// simulation having had its turn.
	start := time.Now()
	for i := 0; !q.quiet(); i++ {
		if i >= settleYields && time.Since(start) > q.limit {
			q.fell = true
			return false
		}
		runtime.Gosched()
	}
	return true
}

// busySnapshot is told that the snapshot after settle found the simulation
// busy. When settle had given up waiting, the simulation has long work to
// do (a TLS handshake, a large copy): wait twice as long next time, up to
// settleCeiling, rather than stop the world every settleMax.
func (q *quietProbe) busySnapshot() {
	if q.fell {
		q.limit = min(2*q.limit, settleCeiling)
	}
}

// idleSnapshot is told that the snapshot after settle found the simulation
// idle. If settle gave up waiting for quiet and the process still is not
// quiet, something outside the simulation was busy (a GC cycle, another
// test); when that happens noisyAfter steps in a row, stop asking the probe
// for noisySteps steps.
func (q *quietProbe) idleSnapshot() {
	q.limit = settleMax
	if !q.fell || q.quiet() {
		q.outside = 0
		return
	}
	q.outside++
	if q.outside >= noisyAfter {
		q.outside = 0
		q.noisy = noisySteps
		if q.onNoisy != nil {
			q.onNoisy()
		}
	}
}
