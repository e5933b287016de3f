package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/simboard/simboard/internal/scenario"
	"github.com/simboard/simboard/sim"
)

// runCmd is `simboard run FILE`: a whole experiment from a TOML scenario
// file (internal/scenario reads and runs it).
type runCmd struct{ f runFlags }

func (c *runCmd) groups() []flagGroup { return []flagGroup{&c.f} }

type runFlags struct {
	pcap  string
	json  string
	clock string
}

func (f *runFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.pcap, "pcap", "", "write the mail host's frames (every frame of the scenario) to pcap `FILE`")
	fs.StringVar(&f.json, "json", "", "also write the report as JSON to `FILE` (- for standard output)")
	fs.StringVar(&f.clock, "clock", clockReal, "`CLOCK`: real, or virtual (experimental: the scenario runs on a sim.Sim, waits cost no wall time)")
}

func (f *runFlags) check() error {
	if f.clock != clockReal && f.clock != clockVirtual {
		return usagef("--clock %q: want real or virtual", f.clock)
	}
	return nil
}

func (c *runCmd) run(e *cmdEnv) error {
	file := e.args[0]
	data, err := os.ReadFile(file)
	if err != nil {
		return usagef("%v", err)
	}
	s, err := scenario.Parse(file, data)
	if err != nil {
		return usagef("%v", err)
	}
	if c.f.clock == clockVirtual && s.Fleet != nil {
		return usagef("--clock virtual: a [fleet] scenario runs in real time (simboard fleet's engine has no virtual clock yet)")
	}
	var opts scenario.Options
	if c.f.pcap != "" {
		pf, err := os.Create(c.f.pcap)
		if err != nil {
			return fmt.Errorf("pcap: %w", err)
		}
		defer pf.Close()
		bw := bufio.NewWriter(pf)
		defer bw.Flush()
		opts.Pcap = bw
	}
	var rep *scenario.Report
	if c.f.clock == clockVirtual {
		sm := sim.New(sim.Options{Seed: s.Seed, Limit: time.Duration(s.Timeout)})
		err = sm.Run(e.ctx, func(ctx context.Context) error {
			opts.Clock = sm.Clock()
			var err error
			rep, err = scenario.Run(ctx, s, opts)
			return err
		})
		st := sm.Stats()
		fmt.Fprintf(e.stderr, "simulated %.1f s in %.2f s\n", st.Simulated.Seconds(), st.Wall.Seconds())
	} else {
		rep, err = scenario.Run(e.ctx, s, opts)
	}
	if err != nil {
		return err
	}
	rep.WriteText(e.stdout)
	if c.f.json != "" {
		w := e.stdout
		if c.f.json != "-" {
			jf, err := os.Create(c.f.json)
			if err != nil {
				return fmt.Errorf("json: %w", err)
			}
			defer jf.Close()
			w = jf
		}
		if err := rep.WriteJSON(w); err != nil {
			return fmt.Errorf("json: %w", err)
		}
	}
	if !rep.Pass {
		failed := 0
		for _, ch := range rep.Checks {
			if !ch.Pass {
				failed++
			}
		}
		return fmt.Errorf("scenario %q: %d of %d checks failed", s.Name, failed, len(rep.Checks))
	}
	return nil
}
