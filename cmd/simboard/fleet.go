package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/simboard/simboard/internal/fleet"
)

// fleetCmd is `simboard fleet`: N boards on one Wire, each sending one mail
// to one mail host and fetching it back (internal/fleet does the work).
type fleetCmd struct{ f fleetFlags }

func (c *fleetCmd) groups() []flagGroup { return []flagGroup{&c.f} }

type fleetFlags struct {
	boards      int
	concurrency int
	bodySize    int
	poolPackets int
	hostPackets int
	seed        int64
	json        bool
}

func (f *fleetFlags) register(fs *flag.FlagSet) {
	fs.IntVar(&f.boards, "boards", 100, "how many boards, `N` (1.."+fmt.Sprint(fleet.MaxBoards)+")")
	fs.IntVar(&f.concurrency, "concurrency", fleet.DefaultConcurrency, "boards mailing at the same time, `N`; -1 means all at once")
	fs.IntVar(&f.bodySize, "body-size", 512, "each mail's body in `BYTES`")
	fs.IntVar(&f.poolPackets, "pool-packets", 16, "packets of 1536 bytes in each board's pool and in its receive pool, `N`")
	fs.IntVar(&f.hostPackets, "host-pool-packets", 0, "packets in each of the mail host board's pools, `N` (0: sized from --concurrency)")
	fs.Int64Var(&f.seed, "seed", 1, "the Wire's `SEED`")
	fs.BoolVar(&f.json, "json", false, "print the report as JSON")
}

func (f *fleetFlags) check() error {
	switch {
	case f.boards < 1 || f.boards > fleet.MaxBoards:
		return usagef("--boards %d: want 1..%d", f.boards, fleet.MaxBoards)
	case f.concurrency == 0 || f.concurrency < -1:
		return usagef("--concurrency %d: want a positive number, or -1 for all at once", f.concurrency)
	case f.bodySize < 1:
		return usagef("--body-size %d: want at least 1", f.bodySize)
	case f.poolPackets < 2:
		return usagef("--pool-packets %d: want at least 2", f.poolPackets)
	case f.hostPackets < 0:
		return usagef("--host-pool-packets %d: want 0 (sized from --concurrency) or more", f.hostPackets)
	}
	return nil
}

func (c *fleetCmd) run(e *cmdEnv) error {
	f := c.f
	opts := fleet.Options{Boards: f.boards, Concurrency: f.concurrency, BodySize: f.bodySize, Seed: f.seed}
	opts.Pool.PayloadSize, opts.Pool.Count = 1536, f.poolPackets
	opts.RxPool = opts.Pool
	if f.hostPackets > 0 {
		opts.HostPool.PayloadSize, opts.HostPool.Count = 1536, f.hostPackets
		opts.HostRxPool = opts.HostPool
	}
	rep, err := fleet.Run(e.ctx, opts)
	if rep != nil {
		if f.json {
			enc := json.NewEncoder(e.stdout)
			enc.SetIndent("", "  ")
			_ = enc.Encode(rep)
		} else {
			printFleet(e.stdout, rep)
		}
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
	fmt.Fprintf(w, "  wall time %s (boot %s, mail %s); peak RSS %.1f MB\n", ms(r.Wall), ms(r.Boot), ms(r.Mail), float64(r.PeakRSS)/(1<<20))
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
