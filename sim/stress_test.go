package sim_test

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/simboard/simboard/boardtest"
	"github.com/simboard/simboard/driver"
	"github.com/simboard/simboard/sim"
)

var long = flag.Bool("long", false, "run the issue's full stress: 200 seeds of the lossy demo (TestStressLossy)")

// stressSeeds is how many seeds TestStressLossy runs: SIMBOARD_SIM_SEEDS,
// else 200 with -long, else 8 (2 with -short). The 200 under the
// race detector: `go test -race -run TestStressLossy ./sim/ -long`.
func stressSeeds(t *testing.T) int {
	if v := os.Getenv("SIMBOARD_SIM_SEEDS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			t.Fatalf("SIMBOARD_SIM_SEEDS=%q: want a positive count", v)
		}
		return n
	}
	switch {
	case *long:
		return 200
	case testing.Short():
		return 2
	}
	return 8
}

// lossyDemo is the lossy demo (simboard demo --loss 0.05 --reorder
// 0.02 --delay 20ms): one 64 KiB mail sent over SMTP and fetched back over
// POP3, byte for byte, across a Wire that loses 5 % and reorders 2 % of
// the frames each way, 20 ms late.
func lossyDemo(seed int64) dayPlan {
	return dayPlan{mails: 1, size: 64 << 10, fetchEvery: 1, period: time.Second, seed: seed,
		port: driver.PortOptions{Loss: 0.05, Reorder: 0.02, Delay: 20 * time.Millisecond}}
}

// TestStressLossy runs the lossy demo in virtual time for many seeds (the
// seed drives the Wire's impairments and every random choice of the
// boards): each must deliver and fetch the mail byte-exact without a hang
// (a simulated-time limit and the deadlock check end a stuck run), without
// the scheduler's "time advanced while work was pending" assertion
// (ErrWorkPending), without a stall, with every pool balanced (boardtest
// checks at cleanup) and no goroutine left behind.
func TestStressLossy(t *testing.T) {
	defer boardtest.CheckGoroutines(t)
	var total, wall time.Duration
	var retries int
	n := stressSeeds(t)
	for seed := 0; seed < n; seed++ {
		t.Run(fmt.Sprintf("seed%d", seed), func(t *testing.T) {
			s := sim.New(sim.Options{Seed: int64(seed), Limit: time.Hour})
			var ds dayStats
			err := mailEvery(t, s, lossyDemo(int64(seed)), &ds)
			if errors.Is(err, sim.ErrWorkPending) || errors.Is(err, sim.ErrDeadlock) || errors.Is(err, sim.ErrRealTimeWait) {
				t.Fatalf("scheduler: %v", err)
			}
			st := s.Stats()
			if err != nil {
				t.Fatalf("lossy demo = %v (stalls %d)\n%s", err, st.Stalls, st.StallDump)
			}
			if st.Stalls != 0 {
				t.Fatalf("%d stalls (idle with no timer while the body ran):\n%s", st.Stalls, st.StallDump)
			}
			total += st.Simulated
			wall += st.Wall
			retries += ds.resends + ds.refetch
		})
	}
	t.Logf("%d seeds: simulated %v in %v of run time, %d sessions run again", n, total, wall, retries)
}
