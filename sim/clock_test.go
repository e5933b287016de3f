package sim

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/simboard/simboard/nx"
)

func TestClockEpoch(t *testing.T) {
	if got := NewClock(time.Time{}).Now(); !got.Equal(DefaultEpoch) {
		t.Fatalf("NewClock(zero).Now() = %v, want %v", got, DefaultEpoch)
	}
	e := time.Date(2030, 5, 6, 7, 8, 9, 0, time.UTC)
	if got := NewClock(e).Now(); !got.Equal(e) {
		t.Fatalf("NewClock(%v).Now() = %v", e, got)
	}
}

func TestClockTimersFireInOrder(t *testing.T) {
	c := NewClock(time.Time{})
	start := c.Now()
	var got []string
	var at []time.Duration
	rec := func(name string) func() {
		return func() { got = append(got, name); at = append(at, c.Now().Sub(start)) }
	}
	c.AfterFunc(3*time.Second, rec("c"))
	c.AfterFunc(time.Second, rec("a1"))
	c.AfterFunc(time.Second, rec("a2")) // same instant: set later, fires later
	stopped := c.AfterFunc(2*time.Second, rec("stopped"))
	c.AfterFunc(2*time.Second, func() {
		rec("b")()
		c.AfterFunc(0, rec("b-child")) // due now: fires before c
	})
	if !stopped.Stop() {
		t.Fatalf("Stop() of a pending timer = false")
	}
	if stopped.Stop() {
		t.Fatalf("second Stop() = true")
	}
	c.Advance(10 * time.Second)
	want := []string{"a1", "a2", "b", "b-child", "c"}
	wantAt := []time.Duration{time.Second, time.Second, 2 * time.Second, 2 * time.Second, 3 * time.Second}
	if len(got) != len(want) {
		t.Fatalf("fired %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] || at[i] != wantAt[i] {
			t.Fatalf("fired %v at %v, want %v at %v", got, at, want, wantAt)
		}
	}
	if d := c.Since(start); d != 10*time.Second {
		t.Fatalf("after Advance(10s) Since(start) = %v", d)
	}
	if n := c.Pending(); n != 0 {
		t.Fatalf("Pending() = %d after all fired", n)
	}
}

func TestClockChannelTimerAndReset(t *testing.T) {
	c := NewClock(time.Time{})
	start := c.Now()
	tm := c.NewTimer(5 * time.Second)
	c.Advance(4 * time.Second)
	select {
	case <-tm.C():
		t.Fatalf("timer fired after 4s of a 5s wait")
	default:
	}
	if !tm.(*Timer).Reset(5 * time.Second) { // now due at 9 s
		t.Fatalf("Reset of a pending timer = false")
	}
	c.Advance(4 * time.Second)
	select {
	case <-tm.C():
		t.Fatalf("timer fired at 8s after Reset(5s) at 4s")
	default:
	}
	c.Advance(time.Second)
	select {
	case v := <-tm.C():
		if v.Sub(start) != 9*time.Second {
			t.Fatalf("timer value = start+%v, want start+9s", v.Sub(start))
		}
	default:
		t.Fatalf("timer did not fire at 9s")
	}
	if tm.Stop() {
		t.Fatalf("Stop() after firing = true")
	}
	z := c.NewTimer(0)
	select {
	case <-z.C():
	default:
		t.Fatalf("NewTimer(0) did not fire at once")
	}
	if next, ok := c.Next(); ok {
		t.Fatalf("Next() = %v, true with nothing pending", next)
	}
}

// TestClockAwait: nx.Await (the one waiting helper) runs on the virtual
// clock: a 50-tick wait times out with the caller's status exactly when
// 0.5 s of simulated time has passed.
func TestClockAwait(t *testing.T) {
	c := NewClock(time.Time{})
	res := make(chan error, 1)
	go func() { res <- nx.Await(context.Background(), c, nx.Ticks(50), nil, nx.ErrNoPacket) }()
	for c.Pending() == 0 {
		time.Sleep(time.Millisecond)
	}
	if next, _ := c.Next(); next.Sub(c.Now()) != 500*time.Millisecond {
		t.Fatalf("Await(50 ticks) set a timer %v ahead, want 500ms", next.Sub(c.Now()))
	}
	c.Advance(499 * time.Millisecond)
	select {
	case err := <-res:
		t.Fatalf("Await returned %v before 500ms", err)
	case <-time.After(10 * time.Millisecond):
	}
	c.Advance(time.Millisecond)
	if err := <-res; !errors.Is(err, nx.ErrNoPacket) {
		t.Fatalf("Await(50 ticks) = %v, want %v", err, nx.ErrNoPacket)
	}
}

func TestClockSleepContext(t *testing.T) {
	c := NewClock(time.Time{})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := c.Sleep(ctx, time.Hour); !errors.Is(err, context.Canceled) {
		t.Fatalf("Sleep(cancelled, 1h) = %v, want context.Canceled", err)
	}
	if n := c.Pending(); n != 0 {
		t.Fatalf("Pending() = %d after an aborted Sleep", n)
	}
}

// TestPostOrder: a clock stepped by hand is not sequencing and Post runs f
// at once; under a Sim, Post runs f as an event of its own, after the
// poster has settled, at the same instant, in the order posted, and a
// zero-delay timer waits its turn the same way.
func TestPostOrder(t *testing.T) {
	hand := NewClock(time.Time{})
	if hand.Sequencing() {
		t.Fatalf("NewClock: Sequencing() = true, want false")
	}
	ran := false
	hand.Post(func() { ran = true })
	if !ran {
		t.Fatalf("Post on a hand-stepped clock did not run f at once")
	}
	if nx.Sequencing(nx.SystemClock) {
		t.Fatalf("nx.Sequencing(SystemClock) = true")
	}

	s := New(Options{})
	clk := s.Clock()
	if !clk.Sequencing() || !nx.Sequencing(clk) {
		t.Fatalf("Sim clock: Sequencing() = false, want true")
	}
	var order []string
	var mu sync.Mutex
	note := func(s string) {
		mu.Lock()
		order = append(order, s)
		mu.Unlock()
	}
	err := s.Run(context.Background(), func(ctx context.Context) error {
		start := clk.Now()
		done := make(chan struct{})
		tm := clk.NewTimer(0)
		nx.Post(clk, func() { note("post 1") })
		clk.Post(func() { note("post 2"); close(done) })
		note("poster")
		<-tm.C()
		note("timer")
		<-done
		if !clk.Now().Equal(start) {
			return fmt.Errorf("time moved from %v to %v", start, clk.Now())
		}
		return nil
	})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	want := "poster,timer,post 1,post 2"
	if got := strings.Join(order, ","); got != want {
		t.Fatalf("order %s, want %s", got, want)
	}
}
