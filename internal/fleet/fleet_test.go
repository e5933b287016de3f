package fleet

import (
	"context"
	"errors"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/simboard/simboard/boardtest"
	"github.com/simboard/simboard/driver"
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
// is reported, not hidden. The host's receive pool holds 8 packets of 128
// bytes: a full-size DATA segment needs 12, so every one is dropped as a
// real MAC driver drops it (an allocation error), and the run, cut short
// by its context, says which pool ran empty.
func TestHostShortfall(t *testing.T) {
	boardtest.CheckGoroutines(t)
	small := Options{Boards: 2, BodySize: 3000, Seed: 1}
	small.HostRxPool.PayloadSize, small.HostRxPool.Count = 128, 8
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	rep, err := Run(ctx, small)
	if rep == nil {
		t.Fatalf("Run(host rx pool of 8 x 128) = nil report, %v", err)
	}
	if !strings.Contains(rep.HostShortfall, `pool "mailhost-rx" (8 packets) ran empty`) || rep.HostRx.EmptyRequests == 0 {
		t.Errorf("host rx pool of 8 x 128 bytes: shortfall %q, empty requests %d; want it reported", rep.HostShortfall, rep.HostRx.EmptyRequests)
	}
	t.Logf("delivered %d of 2 (%v); %s", rep.Delivered, err, rep.HostShortfall)
}

func TestBadOptions(t *testing.T) {
	for _, n := range []int{0, -1, MaxBoards + 1} {
		if _, err := Run(context.Background(), Options{Boards: n}); err == nil {
			t.Errorf("Run(Boards: %d) = nil error", n)
		}
	}
	// An uplinked fleet must stay inside 198.51.100.0/24: nothing from
	// 198.18.0.0/15 may reach a TAP. The link is closed.
	w := boardtest.NewWire(t, 1)
	p, err := w.Attach(driver.PortOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Run(context.Background(), Options{Boards: 200, HostUsers: 300, Uplink: p}); err == nil || !strings.Contains(err.Error(), "198.51.100.0/24") {
		t.Errorf("Run(200 boards, 300 host users, uplink) = %v, want a refusal naming 198.51.100.0/24", err)
	}
	if p.LinkUp() {
		t.Errorf("the refused uplink's link is still open")
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

// TestTwoFleetsThroughUplinks is the scale-out form without a kernel: two
// fleets, each on its own Wire with its own uplink, meet on a third Wire
// (standing in for the Linux bridge). Fleet A (boards 0-19) runs the mail
// host and lingers; fleet B (boards 20-39) has no host of its own and
// mails A's through both uplinks. Every mail of both is delivered and
// fetched back.
func TestTwoFleetsThroughUplinks(t *testing.T) {
	boardtest.CheckGoroutines(t)
	bridge := boardtest.NewWire(t, 9)
	upA, err := bridge.Attach(driver.PortOptions{Name: "to A"})
	if err != nil {
		t.Fatal(err)
	}
	upB, err := bridge.Attach(driver.PortOptions{Name: "to B"})
	if err != nil {
		t.Fatal(err)
	}
	host, _ := Addresses(40)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	type result struct {
		rep *Report
		err error
	}
	resA := make(chan result, 1)
	go func() {
		rep, err := Run(ctx, Options{Boards: 20, HostUsers: 40, Uplink: upA, Linger: time.Minute, Seed: 1})
		resA <- result{rep, err}
	}()
	// B starts once A's host answers: it retries nothing itself.
	time.Sleep(500 * time.Millisecond)
	repB, err := Run(context.Background(), Options{Boards: 20, FirstBoard: 20, MailHost: host.Addr(), Uplink: upB, Seed: 2})
	cancel() // A stops lingering
	a := <-resA
	if err != nil || repB.Delivered != 20 || repB.Fetched != 20 {
		t.Errorf("fleet B through the uplinks: %+v, %v", repB, err)
	}
	if a.rep == nil || a.rep.Delivered != 20 || a.rep.Fetched != 20 || !errors.Is(a.err, context.Canceled) {
		t.Errorf("fleet A: %+v, %v; want 20 delivered and the linger ended by the context", a.rep, a.err)
	}
}
