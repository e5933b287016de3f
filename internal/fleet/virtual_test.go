package fleet

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/simboard/simboard/boardtest"
	"github.com/simboard/simboard/driver"
	"github.com/simboard/simboard/sim"
)

// virtualFleet runs a fleet inside a sim.Sim seeded with seed.
func virtualFleet(t *testing.T, seed int64, opts Options) (*Report, sim.Stats) {
	t.Helper()
	s := sim.New(sim.Options{Seed: seed, Limit: time.Hour})
	opts.Clock, opts.Rand, opts.Seed = s.Clock(), s.Rand, seed
	var rep *Report
	err := s.Run(context.Background(), func(ctx context.Context) error {
		var err error
		rep, err = Run(ctx, opts)
		return err
	})
	if err != nil {
		t.Fatalf("virtual fleet (seed %d): %v", seed, err)
	}
	return rep, s.Stats()
}

// TestVirtualFleet: a fleet runs in virtual time: every board's mail is
// delivered and fetched back byte-exact with every pool balanced, the
// simulated time is the run's (boards mail 4 at a time), and the same seed
// gives the same run: the same simulated durations to the nanosecond and
// the same pool peaks. Boards boot one after another and each board's mail
// starts as an event of its own, and the mail host serves each accepted
// connection in an event of its own.
func TestVirtualFleet(t *testing.T) {
	defer boardtest.CheckGoroutines(t)
	opts := Options{Boards: 12, Concurrency: 4, BodySize: 3000}
	rep, st := virtualFleet(t, 5, opts)
	if rep.Delivered != opts.Boards || rep.Fetched != opts.Boards || rep.Failed != 0 {
		t.Fatalf("delivered %d, fetched %d, failed %d of %d; failures %+v", rep.Delivered, rep.Fetched, rep.Failed, opts.Boards, rep.Failures)
	}
	for _, pp := range []PoolPeaks{rep.BoardPool, rep.BoardRx} {
		if pp.Pools != opts.Boards || pp.Unbalanced != 0 || pp.Invalid != 0 {
			t.Fatalf("board pools %+v; close errors %q", pp, rep.CloseErrors)
		}
	}
	if rep.Simulated != st.Simulated || rep.Simulated <= 0 {
		t.Fatalf("report says %v simulated, the Sim %v", rep.Simulated, st.Simulated)
	}
	again, _ := virtualFleet(t, 5, opts)
	if fmt.Sprint(again.Boot, again.Mail, again.Simulated, again.BoardPool, again.BoardRx, again.HostPool, again.HostRx) !=
		fmt.Sprint(rep.Boot, rep.Mail, rep.Simulated, rep.BoardPool, rep.BoardRx, rep.HostPool, rep.HostRx) {
		t.Fatalf("seed 5 twice: boot %v mail %v simulated %v pools %+v %+v host %+v %+v, first run boot %v mail %v simulated %v pools %+v %+v host %+v %+v",
			again.Boot, again.Mail, again.Simulated, again.BoardPool, again.BoardRx, again.HostPool, again.HostRx,
			rep.Boot, rep.Mail, rep.Simulated, rep.BoardPool, rep.BoardRx, rep.HostPool, rep.HostRx)
	}
	t.Logf("%d boards, 4 at a time: simulated %v (boot %v, mail %v) in %v wall", opts.Boards, rep.Simulated, rep.Boot, rep.Mail, st.Wall)
}

// TestVirtualFleetRefusesUplink: an uplink is a TAP, real time by nature.
func TestVirtualFleetRefusesUplink(t *testing.T) {
	s := sim.New(sim.Options{})
	w, _ := driver.NewWire(driver.WireOptions{})
	defer w.Close()
	p, _ := w.Attach(driver.PortOptions{})
	_, err := Run(context.Background(), Options{Boards: 1, Clock: s.Clock(), Uplink: p})
	if err == nil {
		t.Fatalf("Run with a sim clock and an uplink = nil error, want a refusal")
	}
}
