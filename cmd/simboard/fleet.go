package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/netip"
	"time"

	"github.com/simboard/simboard/internal/fleet"
	"github.com/simboard/simboard/sim"
)

// fleetCmd is `simboard fleet`: N boards on one Wire, each sending one mail
// to one mail host and fetching it back (internal/fleet does the work).
type fleetCmd struct {
	f  fleetFlags
	up uplinkFlags
}

func (c *fleetCmd) groups() []flagGroup { return []flagGroup{&c.f, &c.up} }

type fleetFlags struct {
	boards      int
	concurrency int
	bodySize    int
	poolPackets int
	hostPackets int
	seed        int64
	json        bool
	firstBoard  int
	hostUsers   int
	mailHost    string
	linger      time.Duration
	clock       clockFlags
}

func (f *fleetFlags) register(fs *flag.FlagSet) {
	fs.IntVar(&f.boards, "boards", 100, "how many boards, `N` (1.."+fmt.Sprint(fleet.MaxBoards)+")")
	fs.IntVar(&f.concurrency, "concurrency", fleet.DefaultConcurrency, "boards mailing at the same time, `N`; -1 means all at once")
	fs.IntVar(&f.bodySize, "body-size", 512, "each mail's body in `BYTES`")
	fs.IntVar(&f.poolPackets, "pool-packets", 8, "packets of 1536 bytes in each board's pool and in its receive pool, `N`")
	fs.IntVar(&f.hostPackets, "host-pool-packets", 0, "packets in each of the mail host board's pools, `N` (0: sized from --concurrency)")
	fs.Int64Var(&f.seed, "seed", 1, "the Wire's `SEED`")
	fs.BoolVar(&f.json, "json", false, "print the report as JSON")
	fs.IntVar(&f.firstBoard, "first-board", 0, "number this run's boards from `N` (user bN, its address): processes sharing one\n"+
		"segment through --uplink take disjoint ranges")
	fs.IntVar(&f.hostUsers, "host-users", 0, "users b0..b<N-1> the built-in mail host knows, `N` (0: first-board + boards)")
	fs.StringVar(&f.mailHost, "mail-host", "", "mail with the mail host at `ADDR` (another process's, through --uplink) instead of a built-in one")
	fs.DurationVar(&f.linger, "linger", 0, "keep the built-in mail host serving this long after the boards are done, `DURATION`")
	fs.StringVar(&f.clock.value, "clock", "", fleetClockUsage)
}

// fleetSnapshotInterval is a virtual-time fleet's sim.Options.SnapshotInterval.
const fleetSnapshotInterval = 10 * time.Millisecond

// fleetClockUsage says why a fleet's default is real time.
const fleetClockUsage = "`CLOCK`: real (the default for a fleet) or virtual (simulated time, the same seed gives the\n" +
	"same run). A fleet defaults to real time: its boards mail at once and wait on little, while the\n" +
	"virtual scheduler's idle test costs wall time at every step (200 boards on a loaded 2-core host:\n8.1 s virtual, 2.0 s real). " +
	"With --uplink (a TAP) a fleet is real time only"

func (f *fleetFlags) check() error {
	if err := f.clock.check(); err != nil {
		return err
	}
	switch {
	case f.boards < 1 || f.boards > fleet.MaxBoards:
		return usagef("--boards %d: want 1..%d", f.boards, fleet.MaxBoards)
	case f.concurrency == 0 || f.concurrency < -1:
		return usagef("--concurrency %d: want a positive number, or -1 for all at once", f.concurrency)
	case f.bodySize < 1:
		return usagef("--body-size %d: want at least 1", f.bodySize)
	case f.poolPackets < 2:
		return usagef("--pool-packets %d: want at least 2", f.poolPackets)
	case f.firstBoard < 0 || f.firstBoard+f.boards > fleet.MaxBoards:
		return usagef("--first-board %d with --boards %d: want at most %d boards in all", f.firstBoard, f.boards, fleet.MaxBoards)
	case f.hostUsers < 0 || f.linger < 0:
		return usagef("--host-users and --linger must not be negative")
	case f.mailHost != "" && !validAddr(f.mailHost):
		return usagef("--mail-host %q is not an IP address", f.mailHost)
	case f.hostPackets < 0:
		return usagef("--host-pool-packets %d: want 0 (sized from --concurrency) or more", f.hostPackets)
	}
	return nil
}

func (c *fleetCmd) run(e *cmdEnv) error {
	f := c.f
	realWhy := ""
	if c.up.tap != "" {
		realWhy = "--uplink " + c.up.tap
	}
	if _, err := f.clock.virtual(realWhy); err != nil {
		return err
	}
	virtual := f.clock.value == clockVirtual // a fleet's default is real time (see --clock)
	opts := fleet.Options{Boards: f.boards, Concurrency: f.concurrency, BodySize: f.bodySize, Seed: f.seed,
		FirstBoard: f.firstBoard, HostUsers: f.hostUsers, Linger: f.linger}
	if f.mailHost != "" {
		opts.MailHost = netip.MustParseAddr(f.mailHost)
	}
	up, err := c.up.open()
	if err != nil {
		return err
	}
	opts.Uplink = up
	opts.Pool.PayloadSize, opts.Pool.Count = 1536, f.poolPackets
	opts.RxPool = opts.Pool
	if f.hostPackets > 0 {
		opts.HostPool.PayloadSize, opts.HostPool.Count = 1536, f.hostPackets
		opts.HostRxPool = opts.HostPool
	}
	// A fleet has no --timeout: the run ends when every board is done (in
	// virtual time a run where nothing can ever happen again is reported).
	//
	// In virtual time time may also move without a stop-the-world snapshot
	// for 10 ms after one (sim.Options.SnapshotInterval) when the runtime
	// shows no goroutine of the process able to run: a fleet's hundreds of
	// goroutines make every snapshot costly (30 boards: 15 s with a snapshot
	// at every step, 0.35 s with the interval). A real-time wait shorter
	// than 10 ms may then go unnoticed; a longer one still fails the run.
	rc := newRunClockWith(virtual, sim.Options{Seed: f.seed, SnapshotInterval: fleetSnapshotInterval})
	var rep *fleet.Report
	err = rc.run(e.ctx, func(ctx context.Context) error {
		opts.Clock, opts.Rand = rc.clock(), rc.rand
		var err error
		rep, err = fleet.Run(ctx, opts)
		return err
	})
	if f.linger > 0 && errors.Is(err, context.Canceled) && e.ctx.Err() != nil {
		err = nil // a signal ended the linger: the run itself is done (the exit status says so)
	}
	times := rc.report(e.reproduce(flagArg{"clock", clockName(virtual)}, flagArg{"seed", fmt.Sprint(f.seed)}))
	if rep != nil {
		if f.json {
			enc := json.NewEncoder(e.stdout)
			enc.SetIndent("", "  ")
			_ = enc.Encode(struct {
				*fleet.Report
				clockReport
			}{rep, times})
		} else {
			printFleet(e.stdout, rep)
			printTimes(e.stdout, times)
		}
	} else {
		printTimes(e.stderr, times)
	}
	if err != nil {
		return err
	}
	if rep.Failed > 0 {
		return fmt.Errorf("%d of %d boards failed", rep.Failed, rep.Boards)
	}
	return nil
}

func printFleet(w io.Writer, r *fleet.Report) {
	ms := func(d time.Duration) string { return d.Round(time.Millisecond).String() }
	fmt.Fprintf(w, "simboard fleet: %d boards on one Wire, one mail host\n", r.Boards)
	fmt.Fprintf(w, "  delivered %d, fetched back byte-exact %d, failed %d\n", r.Delivered, r.Fetched, r.Failed)
	for _, fl := range r.Failures {
		fmt.Fprintf(w, "  failed at %s: %d (first: %s)\n", fl.Stage, fl.Count, fl.First)
	}
	if r.Simulated != r.Wall && r.Simulated > 0 {
		fmt.Fprintf(w, "  simulated time %s (boot %s, mail %s) in wall time %s; peak RSS %.1f MB\n", ms(r.Simulated), ms(r.Boot), ms(r.Mail), ms(r.Wall), float64(r.PeakRSS)/(1<<20))
	} else {
		fmt.Fprintf(w, "  wall time %s (boot %s, mail %s); peak RSS %.1f MB\n", ms(r.Wall), ms(r.Boot), ms(r.Mail), float64(r.PeakRSS)/(1<<20))
	}
	for _, p := range []struct {
		name string
		pp   fleet.PoolPeaks
	}{{"board pools", r.BoardPool}, {"board rx pools", r.BoardRx}} {
		fmt.Fprintf(w, "  %s: %d pools, %d packets; peak in use: sum %d, largest %d; empty requests %d, invalid releases %d, unbalanced %d\n",
			p.name, p.pp.Pools, p.pp.Packets, p.pp.SumPeakInUse, p.pp.MaxPeakInUse, p.pp.EmptyRequests, p.pp.Invalid, p.pp.Unbalanced)
	}
	fmt.Fprintf(w, "  mail host pool: peak %d of %d; rx pool: peak %d of %d\n",
		r.HostPool.Total-r.HostPool.LowWater, r.HostPool.Total, r.HostRx.Total-r.HostRx.LowWater, r.HostRx.Total)
	if r.HostShortfall != "" {
		fmt.Fprintf(w, "  mail host shortfall: %s (raise --host-pool-packets)\n", r.HostShortfall)
	}
	for _, ce := range r.CloseErrors {
		fmt.Fprintf(w, "  close: %s\n", ce)
	}
}

func validAddr(s string) bool {
	_, err := netip.ParseAddr(s)
	return err == nil
}
