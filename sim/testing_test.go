package sim_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/simboard/simboard/sim"
)

// TestTestAdoptsTheTest: after sim.Test the test's goroutine, the
// goroutines it starts and its later cleanups are in the simulation: an
// hour on the Sim's clock takes no wall time, Current finds the Sim, and
// after the subtest (and its simulation) ended the goroutine is outside
// again.
func TestTestAdoptsTheTest(t *testing.T) {
	if sim.Current() != nil {
		t.Fatalf("Current() before sim.Test = non-nil, want nil")
	}
	var s *sim.Sim
	var cleanupSlept time.Duration
	t.Run("inner", func(t *testing.T) {
		var ctx context.Context
		ctx, s = sim.Test(t, sim.Options{Seed: 3})
		if got := sim.Current(); got != s {
			t.Fatalf("Current() in the test = %p, want the Sim %p", got, s)
		}
		clk := s.Clock()
		start := clk.Now()
		wallStart := time.Now()
		if err := clk.Sleep(ctx, time.Hour); err != nil {
			t.Fatalf("Clock.Sleep(ctx, 1h) = %v, want nil", err)
		}
		if got := clk.Since(start); got != time.Hour {
			t.Fatalf("simulated %v after Sleep(1h), want 1h", got)
		}
		if wall := time.Since(wallStart); wall > 30*time.Second {
			t.Fatalf("an hour of simulated sleep took %v of wall time", wall)
		}
		inGo := make(chan *sim.Sim)
		go func() { inGo <- sim.Current() }()
		if got := <-inGo; got != s {
			t.Fatalf("Current() in a goroutine the test started = %p, want %p", got, s)
		}
		t.Cleanup(func() {
			// Registered after sim.Test: runs in simulated time.
			before := clk.Now()
			if err := clk.Sleep(context.Background(), time.Minute); err != nil {
				t.Errorf("Sleep in cleanup: %v", err)
			}
			cleanupSlept = clk.Since(before)
		})
	})
	if cleanupSlept != time.Minute {
		t.Fatalf("the cleanup slept %v of simulated time, want 1m", cleanupSlept)
	}
	if sim.Current() != nil {
		t.Fatalf("Current() after the simulated subtest = non-nil, want nil")
	}
	if st := s.Stats(); st.Simulated != time.Hour+time.Minute {
		t.Fatalf("Stats().Simulated = %v, want 1h1m", st.Simulated)
	}
}

// recTB records errors and fatals instead of failing; cleanups still run
// through the embedded TB.
type recTB struct {
	testing.TB
	errs strings.Builder
}

func (r *recTB) Helper()                        {}
func (r *recTB) Error(args ...any)              { fmt.Fprintln(&r.errs, args...) }
func (r *recTB) Errorf(format string, a ...any) { fmt.Fprintf(&r.errs, format+"\n", a...) }
func (r *recTB) Fatalf(format string, a ...any) {
	fmt.Fprintf(&r.errs, format+"\n", a...)
	r.TB.SkipNow()
}

// TestTestReportsRealTimeWait: a test that sleeps in real time inside its
// simulation has its context cancelled and gets ErrRealTimeWait at cleanup.
func TestTestReportsRealTimeWait(t *testing.T) {
	rec := &recTB{}
	var ctxErr error
	t.Run("inner", func(t *testing.T) {
		rec.TB = t
		ctx, _ := sim.Test(rec, sim.Options{})
		time.Sleep(20 * time.Millisecond)
		<-ctx.Done()
		ctxErr = ctx.Err()
	})
	if !errors.Is(ctxErr, context.Canceled) {
		t.Errorf("the test's context after a real sleep: %v, want canceled", ctxErr)
	}
	if !strings.Contains(rec.errs.String(), sim.ErrRealTimeWait.Error()) || !strings.Contains(rec.errs.String(), "time.Sleep") {
		t.Fatalf("cleanup errors %q, want %q with the sleeping stack", rec.errs.String(), sim.ErrRealTimeWait)
	}
}

// TestTestStallCancels: a test blocked on something nothing in the
// simulation will ever do has its context cancelled (instead of hanging),
// and the stall is no error by itself.
func TestTestStallCancels(t *testing.T) {
	rec := &recTB{}
	t.Run("inner", func(t *testing.T) {
		rec.TB = t
		ctx, s := sim.Test(rec, sim.Options{})
		never := make(chan struct{})
		select {
		case <-never:
		case <-ctx.Done():
		}
		if s.Clock().Since(sim.DefaultEpoch) != 0 {
			t.Errorf("time moved during a stall with no timer")
		}
	})
	if rec.errs.Len() != 0 {
		t.Fatalf("errors %q after a stall the test handled", rec.errs.String())
	}
}

// TestTestNested: sim.Test refuses a test that already runs in a
// simulation.
func TestTestNested(t *testing.T) {
	rec := &recTB{}
	t.Run("inner", func(t *testing.T) {
		rec.TB = t
		sim.Test(rec, sim.Options{})
		t.Run("nested", func(t *testing.T) {
			rec2 := &recTB{TB: t}
			defer func() {
				if !strings.Contains(rec2.errs.String(), "already runs in simulation") {
					rec.Errorf("nested sim.Test: errors %q, want a refusal", rec2.errs.String())
				}
			}()
			sim.Test(rec2, sim.Options{})
		})
	})
	if rec.errs.Len() != 0 {
		t.Fatal(rec.errs.String())
	}
}
