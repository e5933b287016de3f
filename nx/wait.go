package nx

import (
	"context"
	"time"
)

// TicksPerSecond is NX_IP_PERIODIC_RATE: the ThreadX timer rate every NetX
// wait option and timeout is expressed in.
const TicksPerSecond = 100

// TickDuration is the length of one tick (10 ms at 100 ticks per second).
const TickDuration = time.Second / TicksPerSecond

// Wait is a NetX wait_option: NoWait, a number of ticks, or WaitForever.
// The zero value is NoWait, as in NetX.
type Wait uint32

const (
	// NoWait mirrors NX_NO_WAIT: return the failure status at once.
	NoWait Wait = 0
	// WaitForever mirrors NX_WAIT_FOREVER (0xFFFFFFFF): suspend until the
	// condition holds, the object is deleted, or the context is cancelled.
	WaitForever Wait = 0xFFFFFFFF
)

// Ticks returns a wait of n ticks. Ticks(0) is NoWait and Ticks(0xFFFFFFFF)
// is WaitForever, so literals ported from C keep their meaning.
func Ticks(n uint32) Wait { return Wait(n) }

// Seconds returns a wait of s seconds (s * NX_IP_PERIODIC_RATE ticks).
func Seconds(s uint32) Wait {
	if uint64(s)*TicksPerSecond >= uint64(WaitForever) {
		return WaitForever
	}
	return Wait(s * TicksPerSecond)
}

// FromDuration converts d to ticks, rounding up so a positive duration never
// becomes NoWait. Negative or zero durations give NoWait.
func FromDuration(d time.Duration) Wait {
	if d <= 0 {
		return NoWait
	}
	t := (d + TickDuration - 1) / TickDuration
	if t >= time.Duration(WaitForever) {
		return WaitForever
	}
	return Wait(t)
}

// Forever reports whether w is WaitForever.
func (w Wait) Forever() bool { return w == WaitForever }

// Duration returns the wait as a duration; WaitForever returns a negative
// duration, which callers treat as "no deadline".
func (w Wait) Duration() time.Duration {
	if w == WaitForever {
		return -1
	}
	return time.Duration(w) * TickDuration
}

// String prints "NX_NO_WAIT", "NX_WAIT_FOREVER" or "N ticks".
func (w Wait) String() string {
	switch w {
	case NoWait:
		return "NX_NO_WAIT"
	case WaitForever:
		return "NX_WAIT_FOREVER"
	}
	return itoa(uint64(w)) + " ticks"
}

func itoa(v uint64) string {
	var b [20]byte
	i := len(b)
	for {
		i--
		b[i] = byte('0' + v%10)
		v /= 10
		if v == 0 {
			return string(b[i:])
		}
	}
}

// Clock is the time source for every wait. Tests inject a fake one or run
// under testing/synctest with SystemClock.
type Clock interface {
	Now() time.Time
	// NewTimer returns a timer that fires once after d.
	NewTimer(d time.Duration) Timer
}

// Timer is the subset of *time.Timer that Await needs.
type Timer interface {
	C() <-chan time.Time
	Stop() bool
}

// SystemClock is the real clock (time.Now, time.NewTimer).
var SystemClock Clock = systemClock{}

type systemClock struct{}

func (systemClock) Now() time.Time { return time.Now() }
func (systemClock) NewTimer(d time.Duration) Timer {
	return sysTimer{time.NewTimer(d)}
}

type sysTimer struct{ t *time.Timer }

func (t sysTimer) C() <-chan time.Time { return t.t.C }
func (t sysTimer) Stop() bool          { return t.t.Stop() }

// FuncClock is a Clock that can also call a function after a delay, as
// time.AfterFunc does. The TCP/IP stack's own timers (retransmission,
// delayed ACK, TIME_WAIT, keepalive, ARP) run on it: netstack hands a
// FuncClock other than SystemClock to gVisor, so a virtual clock (package
// sim) drives them too. SystemClock implements it.
type FuncClock interface {
	Clock
	// AfterFunc calls f in its own goroutine once d has elapsed on the
	// clock. It does not block. Stop on the returned timer cancels the
	// call if it has not started.
	AfterFunc(d time.Duration, f func()) FuncTimer
}

// FuncTimer is the timer AfterFunc returns (the subset of *time.Timer the
// stack needs).
type FuncTimer interface {
	// Stop cancels the call; false when it already started or was stopped.
	Stop() bool
	// Reset schedules the call again d from now; true when the timer was
	// still pending.
	Reset(d time.Duration) bool
}

// AfterFunc is time.AfterFunc.
func (systemClock) AfterFunc(d time.Duration, f func()) FuncTimer {
	return time.AfterFunc(d, f)
}

// Await is the one waiting helper. It blocks until ready is closed or
// receives, the wait option runs out, or ctx is done, and returns:
//
//   - nil when ready fired (checked first, so a ready condition wins even
//     with NoWait);
//   - timeout when the wait expired (NoWait expires at once). Each service
//     passes its own NetX status here: NX_NO_PACKET for an allocate,
//     NX_WINDOW_OVERFLOW for a send, and so on;
//   - ErrWaitAborted when ctx is done (tx_thread_wait_abort), as Aborted
//     gives it: errors.Is(err, ctx.Err()) holds too, so a caller can tell
//     context.DeadlineExceeded from context.Canceled. Compare with
//     errors.Is, not ==.
//
// A nil clk means SystemClock; a nil ctx means context.Background().
func Await(ctx context.Context, clk Clock, wait Wait, ready <-chan struct{}, timeout Status) error {
	select {
	case <-ready:
		return nil
	default:
	}
	if wait == NoWait {
		return timeout
	}
	var done <-chan struct{}
	if ctx != nil {
		done = ctx.Done()
		if ctx.Err() != nil {
			return Aborted(ctx)
		}
	}
	var expire <-chan time.Time
	if wait != WaitForever {
		if clk == nil {
			clk = SystemClock
		}
		t := clk.NewTimer(wait.Duration())
		defer t.Stop()
		expire = t.C()
	}
	select {
	case <-ready:
		return nil
	case <-expire:
		// A condition that became true at the same instant still wins.
		select {
		case <-ready:
			return nil
		default:
		}
		return timeout
	case <-done:
		return Aborted(ctx)
	}
}
