package sim

import (
	"context"
	"errors"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/simboard/simboard/internal/boardtest/leak"
	"github.com/simboard/simboard/nx"
)

// TestRunAdvancesOnlyWhenIdle: goroutines that compute, hand work over
// channels and wait on the clock see simulated time move only by their
// waits: an hour of waits passes, each wakeup sees exactly its instant.
func TestRunAdvancesOnlyWhenIdle(t *testing.T) {
	defer leak.Check(t)
	s := New(Options{})
	clk := s.Clock()
	start := clk.Now()
	var mu sync.Mutex
	var seen []time.Duration
	err := s.Run(context.Background(), func(ctx context.Context) error {
		var wg sync.WaitGroup
		ch := make(chan int)
		for w := 0; w < 3; w++ {
			wg.Go(func() {
				for v := range ch {
					// Busy work between waits: time must not move meanwhile.
					x := 0
					for i := 0; i < 200000; i++ {
						x += i ^ v
					}
					_ = x
					before := clk.Now()
					if err := clk.Sleep(ctx, time.Duration(v)*time.Minute); err != nil {
						t.Errorf("Sleep: %v", err)
						return
					}
					if d := clk.Since(before); d != time.Duration(v)*time.Minute {
						t.Errorf("Sleep(%d min) took %v of simulated time", v, d)
					}
					mu.Lock()
					seen = append(seen, clk.Since(start))
					mu.Unlock()
				}
			})
		}
		for i := 1; i <= 20; i++ {
			ch <- i % 4
		}
		close(ch)
		wg.Wait()
		// nx.Await on the sim clock: a 6000-tick wait is one simulated minute.
		before := clk.Now()
		if err := nx.Await(ctx, clk, nx.Seconds(60), nil, nx.ErrNoPacket); !errors.Is(err, nx.ErrNoPacket) {
			t.Errorf("Await(60 s) = %v, want %v", err, nx.ErrNoPacket)
		}
		if d := clk.Since(before); d != time.Minute {
			t.Errorf("Await(60 s) took %v of simulated time", d)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("Run = %v", err)
	}
	st := s.Stats()
	if st.Simulated < 10*time.Minute {
		t.Fatalf("Stats().Simulated = %v, want >= 10m (20 waits of 0-3 min on 3 workers, then 1 min)", st.Simulated)
	}
	if len(seen) != 20 {
		t.Fatalf("%d wakeups, want 20", len(seen))
	}
	t.Logf("simulated %v in %v (%d timers, %d snapshots)", st.Simulated, st.Wall, st.Fired, st.Snapshots)
}

// TestRunDeadlock: a body blocked forever with no timer pending is told
// through its context; if it still does not return, Run reports a deadlock
// instead of hanging.
func TestRunDeadlock(t *testing.T) {
	s := New(Options{})
	block := make(chan struct{})
	err := s.Run(context.Background(), func(ctx context.Context) error {
		<-ctx.Done() // the cancel on deadlock arrives
		<-block      // ... and is ignored: a real deadlock
		return nil
	})
	close(block)
	if !errors.Is(err, ErrDeadlock) {
		t.Fatalf("Run(blocked body) = %v, want ErrDeadlock", err)
	}
}

// TestRunDeadlockCancelled: a body that waits on nothing but honours its
// context ends with its own error, not a hang.
func TestRunDeadlockCancelled(t *testing.T) {
	s := New(Options{})
	err := s.Run(context.Background(), func(ctx context.Context) error {
		<-ctx.Done()
		return ctx.Err()
	})
	if !errors.Is(err, context.Canceled) || errors.Is(err, ErrDeadlock) {
		t.Fatalf("Run = %v, want context.Canceled only", err)
	}
}

// TestRunLimit: Limit bounds simulated time.
func TestRunLimit(t *testing.T) {
	s := New(Options{Limit: time.Hour})
	err := s.Run(context.Background(), func(ctx context.Context) error {
		for {
			if err := s.Clock().Sleep(ctx, time.Minute); err != nil {
				return nil
			}
		}
	})
	if err == nil {
		t.Fatalf("Run past its Limit = nil, want an error")
	}
	if got := s.Stats().Simulated; got != time.Hour {
		t.Fatalf("Simulated = %v, want 1h", got)
	}
}

// TestRunRealTimeWait: a goroutine of the simulation in time.Sleep is a bug
// the run reports.
func TestRunRealTimeWait(t *testing.T) {
	s := New(Options{})
	err := s.Run(context.Background(), func(ctx context.Context) error {
		time.Sleep(50 * time.Millisecond)
		return nil
	})
	if !errors.Is(err, ErrRealTimeWait) {
		t.Fatalf("Run(time.Sleep body) = %v, want ErrRealTimeWait", err)
	}
}

// TestRunWorkPending: the internal assertion fails the run when a goroutine
// of the simulation becomes runnable without a simulated event between the
// idle snapshot and the advance (here: woken from outside the simulation).
func TestRunWorkPending(t *testing.T) {
	wake := make(chan struct{})
	var once sync.Once
	testHookBeforeConfirm = func() {
		once.Do(func() {
			close(wake)
			time.Sleep(time.Millisecond) // let the woken goroutine be seen
		})
	}
	defer func() { testHookBeforeConfirm = nil }()
	s := New(Options{})
	err := s.Run(context.Background(), func(ctx context.Context) error {
		go func() {
			<-wake
			x := 0
			for i := 0; i < 1e8 && ctx.Err() == nil; i++ {
				x += i
			}
			_ = x
		}()
		return s.Clock().Sleep(ctx, time.Second)
	})
	if !errors.Is(err, ErrWorkPending) {
		t.Fatalf("Run = %v, want ErrWorkPending", err)
	}
}

func TestParseSnapshot(t *testing.T) {
	dump := `goroutine 1 [running labels:{"simboard.sim": "3"}]:
main.scheduler()

goroutine 7 [select, 2 minutes labels:{"a": "b", "simboard.sim": "3"}]:
x()

goroutine 8 [chan receive labels:{"simboard.sim": "33"}]:
y()

goroutine 9 [runnable]:
z()

goroutine 10 [GC scavenge wait labels:{"simboard.sim": "3"}]:
w()`
	st := parseSnapshot([]byte(dump), "3")
	if !st.busy {
		t.Fatalf("goroutine in an unknown wait state counts as idle")
	}
	st = parseSnapshot([]byte(dump[:len(dump)-len("\n\ngoroutine 10 [GC scavenge wait labels:{\"simboard.sim\": \"3\"}]:\nw()")]), "3")
	if st.busy {
		t.Fatalf("select + foreign goroutines counted as busy:\n%s", st.dump())
	}
	// A goroutine in "semacquire" inside an allocation waits for a GC or
	// stop-the-world (the snapshot's own) to end: it is running. One on a
	// sync semaphore is blocked.
	st = parseSnapshot([]byte(`goroutine 1 [running]:

goroutine 5 [semacquire labels:{"simboard.sim": "3"}]:
github.com/simboard/simboard/packetpool.New({{0xc0000186d5, 0xb}})
	/work/packetpool/pool.go:218 +0x625`), "3")
	if !st.busy {
		t.Fatalf("goroutine waiting for the GC in semacquire counted as idle")
	}
	st = parseSnapshot([]byte(`goroutine 1 [running]:

goroutine 5 [semacquire labels:{"simboard.sim": "3"}]:
sync.runtime_SemacquireWaitGroup(0xc000012345)
	/usr/local/go/src/runtime/sema.go:114 +0x2e

goroutine 6 [semacquire labels:{"simboard.sim": "3"}]:
internal/poll.runtime_Semacquire(0xc000012345)
	/usr/local/go/src/runtime/sema.go:76 +0x2e`), "3")
	if st.busy {
		t.Fatalf("goroutines on sync semaphores counted as running:\n%s", st.dump())
	}
	st = parseSnapshot([]byte(`goroutine 1 [running]:

goroutine 2 [runnable labels:{"simboard.sim": "33"}]:

goroutine 3 [sleep labels:{"simboard.sim": "3"}]:
time.Sleep()`), "3")
	if !st.busy || st.realWait == "" {
		t.Fatalf("sleeping labelled goroutine: busy=%v realWait=%q", st.busy, st.realWait)
	}
}

// TestRunBusyOutsider: a goroutine outside the simulation that never stops
// running keeps the process from ever looking quiet to the scheduler's
// runtime/metrics probe; the run must not wait on it (the snapshot decides
// after a bounded wait) and must still advance only when the simulation is
// idle.
func TestRunBusyOutsider(t *testing.T) {
	stop := make(chan struct{})
	var wg sync.WaitGroup
	defer func() {
		close(stop)
		wg.Wait()
	}()
	wg.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
			}
			x := 0
			for i := 0; i < 1000; i++ {
				x += i
			}
			_ = x
		}
	})
	s := New(Options{})
	clk := s.Clock()
	err := s.Run(context.Background(), func(ctx context.Context) error {
		for i := 0; i < 200; i++ {
			before := clk.Now()
			if err := clk.Sleep(ctx, time.Second); err != nil {
				return err
			}
			if d := clk.Since(before); d != time.Second {
				return errors.New("a 1 s sleep took " + d.String())
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("Run = %v", err)
	}
	if st := s.Stats(); st.Simulated != 200*time.Second {
		t.Fatalf("Simulated = %v, want 200s", st.Simulated)
	}
	t.Logf("stats %+v", s.Stats())
}

// TestRunRealTimeWaitBetweenEvents: events due at the current instant fire
// without a snapshot, but a goroutine of the simulation in time.Sleep while
// they do is still caught before time next moves.
func TestRunRealTimeWaitBetweenEvents(t *testing.T) {
	s := New(Options{})
	clk := s.Clock()
	err := s.Run(context.Background(), func(ctx context.Context) error {
		slept := make(chan struct{})
		go func() {
			defer close(slept)
			time.Sleep(200 * time.Millisecond)
		}()
		fired := make(chan struct{}, 10)
		for i := 0; i < 10; i++ {
			clk.Post(func() { fired <- struct{}{} })
		}
		for i := 0; i < 10; i++ {
			<-fired
		}
		err := clk.Sleep(ctx, time.Second)
		<-slept
		return err
	})
	if !errors.Is(err, ErrRealTimeWait) {
		t.Fatalf("Run = %v, want ErrRealTimeWait", err)
	}
	if st := s.Stats(); st.Simulated != 0 {
		t.Fatalf("time moved %v past a goroutine in time.Sleep", st.Simulated)
	}
}

// TestRunWithSignalNotify: a program that called signal.Notify (a CLI) has
// a goroutine outside the simulation that sits in a system call for good;
// the scheduler's probe must still find the process quiet, or every event
// would need a snapshot (the simboard demo took 1,979 snapshots for 887
// events before, 168 after).
func TestRunWithSignalNotify(t *testing.T) {
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, syscall.SIGUSR2)
	defer signal.Stop(ch)
	s := New(Options{})
	clk := s.Clock()
	err := s.Run(context.Background(), func(ctx context.Context) error {
		for i := 0; i < 50; i++ {
			fired := make(chan struct{})
			clk.Post(func() { close(fired) })
			<-fired
			if err := clk.Sleep(ctx, time.Millisecond); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("Run = %v", err)
	}
	st := s.Stats()
	if st.Quick == 0 || st.Confirmed == 0 {
		t.Fatalf("stats %+v: no event fired on a quiet process (os/signal's goroutine counted as busy)", st)
	}
}

func TestParseSnapshotSignalWaiters(t *testing.T) {
	dump := `goroutine 1 [running labels:{"simboard.sim": "3"}]:
main.scheduler()

goroutine 6 [syscall, 3 minutes]:
os/signal.signal_recv()
	/usr/local/go/src/runtime/sigqueue.go:149 +0x25
os/signal.loop()

goroutine 7 [syscall]:
syscall.Syscall()

goroutine 8 [syscall labels:{"simboard.sim": "3"}]:
os/signal.signal_recv()`
	st := parseSnapshot([]byte(dump), "3")
	if st.signalWaiters != 1 {
		t.Fatalf("signalWaiters = %d, want 1 (only the unlabelled os/signal goroutine)", st.signalWaiters)
	}
	if !st.busy {
		t.Fatalf("a labelled goroutine in a system call counted as idle")
	}
}

// TestRunSnapshotInterval: with a snapshot interval, time moves between
// snapshots on the runtime's counters alone, each wake-up still at its
// exact instant; a goroutine in a real-time wait longer than the interval
// is still caught.
func TestRunSnapshotInterval(t *testing.T) {
	s := New(Options{SnapshotInterval: time.Hour})
	clk := s.Clock()
	start := clk.Now()
	err := s.Run(context.Background(), func(ctx context.Context) error {
		for i := 1; i <= 200; i++ {
			if err := clk.Sleep(ctx, time.Millisecond); err != nil {
				return err
			}
			if got := clk.Since(start); got != time.Duration(i)*time.Millisecond {
				return errors.New("woke at " + got.String())
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("Run = %v", err)
	}
	if st := s.Stats(); st.Snapshots > 10 || st.Quick < 190 {
		t.Fatalf("stats %+v: want the advances made without snapshots", st)
	}

	s = New(Options{SnapshotInterval: 2 * time.Millisecond})
	clk = s.Clock()
	err = s.Run(context.Background(), func(ctx context.Context) error {
		slept := make(chan struct{})
		go func() {
			defer close(slept)
			time.Sleep(100 * time.Millisecond)
		}()
		defer func() { <-slept }()
		for {
			if err := clk.Sleep(ctx, time.Millisecond); err != nil {
				return nil
			}
		}
	})
	if !errors.Is(err, ErrRealTimeWait) {
		t.Fatalf("Run(a 100 ms time.Sleep, 2 ms interval) = %v, want ErrRealTimeWait", err)
	}
}
