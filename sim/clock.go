package sim

import (
	"container/heap"
	"context"
	"sync"
	"time"

	"github.com/simboard/simboard/nx"
)

// DefaultEpoch is the simulated time a Clock starts at when no epoch is
// given: 2026-01-01 00:00:00 UTC. A fixed epoch makes timestamps (pcap
// records, Date headers) the same in every run.
var DefaultEpoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// Clock is a virtual clock: Now only moves when Advance, AdvanceTo or a
// Sim's scheduler moves it, and every timer made from it fires in simulated
// time. It implements nx.Clock and nx.FuncClock, so a packet pool, a driver,
// a Wire, an IP instance (and through it gVisor's TCP timers), the mail
// clients and the mail host all run on it when it is passed as their Clock.
//
// Timers due at the same instant fire in the order they were set (a
// sequence number breaks ties), so a deterministic program sees a
// deterministic order. A Clock is safe for concurrent use.
type Clock struct {
	mu     sync.Mutex
	now    time.Time
	seq    uint64
	timers timerHeap
	// wake, when set by a Sim, is told that a timer was added (non-blocking).
	wake chan struct{}
}

var (
	_ nx.Clock     = (*Clock)(nil)
	_ nx.FuncClock = (*Clock)(nil)
	_ nx.Sequencer = (*Clock)(nil)
)

// NewClock returns a virtual clock reading epoch. A zero epoch means
// DefaultEpoch.
func NewClock(epoch time.Time) *Clock {
	if epoch.IsZero() {
		epoch = DefaultEpoch
	}
	return &Clock{now: epoch}
}

// Now returns the simulated time. It does not block.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Since returns the simulated time elapsed since t.
func (c *Clock) Since(t time.Time) time.Duration { return c.Now().Sub(t) }

// NewTimer returns a timer whose channel receives the simulated time once d
// has elapsed on this clock. A d <= 0 fires at once on a clock stepped by
// hand; on a Sim's clock it fires at the current instant as an event of its
// own, after everything running has settled (see Post). It does not block.
func (c *Clock) NewTimer(d time.Duration) nx.Timer {
	t := &Timer{c: c, ch: make(chan time.Time, 1), index: -1}
	c.mu.Lock()
	c.schedule(t, d)
	c.mu.Unlock()
	return t
}

// AfterFunc calls f once d has elapsed on this clock. Under a Sim's
// scheduler f runs in its own goroutine, which belongs to the simulation,
// and no further time passes until it (and what it wakes) is done; under
// Advance it runs in Advance's goroutine. It does not block.
func (c *Clock) AfterFunc(d time.Duration, f func()) nx.FuncTimer {
	t := &Timer{c: c, f: f, index: -1}
	c.mu.Lock()
	c.schedule(t, d)
	c.mu.Unlock()
	return t
}

// Sequencing reports whether a Sim's scheduler drives this clock (it came
// from Sim.Clock). Components on a sequencing clock post their wake-ups
// through Post, which is what makes a simulation repeat exactly
// (nx.Sequencer). A clock from NewClock, stepped by hand, is not
// sequencing.
func (c *Clock) Sequencing() bool { return c.wake != nil }

// Post runs f as an event of its own at the current simulated instant: on
// a Sim's clock the scheduler fires it, in its own goroutine, once nothing
// of the simulation can run, after the timers due earlier and the events
// posted before it; time does not move. On a clock stepped by hand it calls
// f at once. It does not block and may be called with locks held.
func (c *Clock) Post(f func()) {
	if c.wake == nil {
		f()
		return
	}
	c.AfterFunc(0, f)
}

// Sleep waits d of simulated time, or until ctx is done (then it returns
// ctx.Err()). It blocks; a d <= 0 returns at once.
func (c *Clock) Sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := c.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C():
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Next returns when the earliest pending timer fires; false when none is
// pending.
func (c *Clock) Next() (time.Time, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.timers) == 0 {
		return time.Time{}, false
	}
	return c.timers[0].when, true
}

// Pending returns the number of timers not yet fired or stopped.
func (c *Clock) Pending() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.timers)
}

// Advance moves the clock forward by d, firing every timer due on the way
// in order: Now reads each timer's instant while it fires, channel timers
// receive that instant, and AfterFunc functions run synchronously in the
// caller's goroutine. It is for tests that step time by hand; do not use it
// on a clock a Sim drives. A negative d is treated as 0.
func (c *Clock) Advance(d time.Duration) {
	if d < 0 {
		d = 0
	}
	c.AdvanceTo(c.Now().Add(d))
}

// AdvanceTo is Advance up to the instant t (no move when t is not after
// Now, but timers already due fire).
func (c *Clock) AdvanceTo(t time.Time) {
	for c.fireNext(t, func(f func()) { f() }) {
	}
	c.mu.Lock()
	if t.After(c.now) {
		c.now = t
	}
	c.mu.Unlock()
}

// fireNext fires the earliest timer due at or before until, first moving
// Now to its instant (never backwards). A function timer is handed to run.
// It reports whether a timer fired.
func (c *Clock) fireNext(until time.Time, run func(func())) bool {
	c.mu.Lock()
	if len(c.timers) == 0 || c.timers[0].when.After(until) {
		c.mu.Unlock()
		return false
	}
	t := heap.Pop(&c.timers).(*Timer)
	if t.when.After(c.now) {
		c.now = t.when
	}
	now := c.now
	c.mu.Unlock()
	if t.f != nil {
		run(t.f)
		return true
	}
	select {
	case t.ch <- now:
	default: // a value is still unread (Reset without draining): keep it
	}
	return true
}

// schedule puts t in the heap d from now. c.mu is held.
func (c *Clock) schedule(t *Timer, d time.Duration) {
	if t.index >= 0 {
		heap.Remove(&c.timers, t.index)
	}
	if d <= 0 && t.ch != nil && c.wake == nil {
		// A channel timer with no duration fires at once, as time.NewTimer(0)
		// does soon after. Under a Sim it is an event like any other, so
		// its receiver wakes in order, not in the middle of another event.
		select {
		case t.ch <- c.now:
		default:
		}
		return
	}
	if d < 0 {
		d = 0
	}
	c.seq++
	t.when = c.now.Add(d)
	t.seq = c.seq
	heap.Push(&c.timers, t)
	if c.wake != nil {
		select {
		case c.wake <- struct{}{}:
		default:
		}
	}
}

// Timer is a timer on a virtual Clock: a channel timer (NewTimer) or a
// function timer (AfterFunc). It is safe for concurrent use.
type Timer struct {
	c     *Clock
	ch    chan time.Time
	f     func()
	when  time.Time
	seq   uint64
	index int // in c.timers; -1 when not pending
}

// C returns the channel a NewTimer timer fires on (nil for AfterFunc).
func (t *Timer) C() <-chan time.Time { return t.ch }

// Stop cancels the timer. It returns false when the timer already fired or
// was stopped. It does not drain the channel.
func (t *Timer) Stop() bool {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	if t.index < 0 {
		return false
	}
	heap.Remove(&t.c.timers, t.index)
	return true
}

// Reset makes the timer fire d from the clock's Now, whether or not it was
// pending, and reports whether it was pending.
func (t *Timer) Reset(d time.Duration) bool {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	pending := t.index >= 0
	t.c.schedule(t, d)
	return pending
}

type timerHeap []*Timer

func (h timerHeap) Len() int { return len(h) }
func (h timerHeap) Less(i, j int) bool {
	if !h[i].when.Equal(h[j].when) {
		return h[i].when.Before(h[j].when)
	}
	return h[i].seq < h[j].seq
}
func (h timerHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index = i
	h[j].index = j
}
func (h *timerHeap) Push(x any) {
	t := x.(*Timer)
	t.index = len(*h)
	*h = append(*h, t)
}
func (h *timerHeap) Pop() any {
	old := *h
	n := len(old)
	t := old[n-1]
	old[n-1] = nil
	t.index = -1
	*h = old[:n-1]
	return t
}
