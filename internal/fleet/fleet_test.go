package fleet

import (
	"context"
	"os"
	"strconv"
	"testing"

	"github.com/simboard/simboard/boardtest"
)

// TestFleet: every board's mail is delivered and fetched back byte-exact,
// every pool balanced, nothing leaked; all boards mail at once, so the mail
// host's listeners see every connection in the same moment (with
// ListenTCP's backlog of 16 boards failed at the greeting:
// TestFleetGreetingBacklog in netstack).
func TestFleet(t *testing.T) {
	for _, tc := range []struct {
		name        string
		boards      int
		concurrency int
	}{
		{"250 at once", 250, -1},
		{"300 by 64", 300, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			boardtest.CheckGoroutines(t)
			rep, err := Run(context.Background(), Options{Boards: tc.boards, Concurrency: tc.concurrency, Seed: 1})
			if err != nil {
				t.Fatalf("Run = %v", err)
			}
			if rep.Delivered != tc.boards || rep.Fetched != tc.boards || rep.Failed != 0 {
				t.Errorf("delivered %d, fetched %d, failed %d of %d; failures %+v", rep.Delivered, rep.Fetched, rep.Failed, tc.boards, rep.Failures)
			}
			for _, pp := range []PoolPeaks{rep.BoardPool, rep.BoardRx} {
				if pp.Pools != tc.boards || pp.Unbalanced != 0 || pp.Invalid != 0 || pp.EmptyRequests != 0 {
					t.Errorf("board pools %+v; close errors %q", pp, rep.CloseErrors)
				}
			}
			if rep.HostShortfall != "" {
				t.Errorf("host shortfall: %s", rep.HostShortfall)
			}
			t.Logf("%d boards: boot %v, mail %v, wall %v, peak RSS %d MB, host pool peak %d, rx peak %d",
				tc.boards, rep.Boot, rep.Mail, rep.Wall, rep.PeakRSS>>20, rep.HostPool.Total-rep.HostPool.LowWater, rep.HostRx.Total-rep.HostRx.LowWater)
		})
	}
}

// TestHostShortfall: a mail host whose pools are too small for the fleet
// is reported, not hidden.
func TestHostShortfall(t *testing.T) {
	boardtest.CheckGoroutines(t)
	small := Options{Boards: 20, Concurrency: -1, Seed: 1}
	small.HostRxPool.PayloadSize, small.HostRxPool.Count = 1536, 8
	rep, err := Run(context.Background(), small)
	if err != nil {
		t.Fatalf("Run(host rx pool of 8) = %v", err)
	}
	if rep.HostShortfall == "" || rep.HostRx.EmptyRequests == 0 {
		t.Errorf("host rx pool of 8 packets for 20 boards at once: shortfall %q, empty requests %d; want it reported", rep.HostShortfall, rep.HostRx.EmptyRequests)
	}
	t.Logf("delivered %d of 20; %s", rep.Delivered, rep.HostShortfall)
}

func TestBadOptions(t *testing.T) {
	for _, n := range []int{0, -1, MaxBoards + 1} {
		if _, err := Run(context.Background(), Options{Boards: n}); err == nil {
			t.Errorf("Run(Boards: %d) = nil error", n)
		}
	}
}

// TestFleetProbe runs FLEET_N boards (skipped without it), for figures.
func TestFleetProbe(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("FLEET_N"))
	if n == 0 {
		t.Skip("set FLEET_N to run a fleet of that many boards")
	}
	conc, _ := strconv.Atoi(os.Getenv("FLEET_CONCURRENCY"))
	rep, err := Run(context.Background(), Options{Boards: n, Concurrency: conc, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%+v", rep)
}
