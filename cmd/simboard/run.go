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
	clock clockFlags
}

func (f *runFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.pcap, "pcap", "", "write the mail host's frames (every frame of the scenario) to pcap `FILE`")
	fs.StringVar(&f.json, "json", "", "also write the report as JSON to `FILE` (- for standard output, the text report then\ngoes to standard error)")
	f.clock.register(fs)
}

func (f *runFlags) check() error { return f.clock.check() }

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
	virtual, err := c.f.clock.virtual("")
	if err != nil {
		return err
	}
	if s.Fleet != nil && c.f.clock.value == "" {
		virtual = false // a [fleet] scenario defaults to real time, as simboard fleet does (see its --clock)
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
		// In virtual time the simulation's goroutines make no file system
		// calls (sim.Writer); Close runs before the Flush above.
		aw := sim.NewWriter(bw)
		defer aw.Close()
		opts.Pcap = aw
	}
	var rep *scenario.Report
	// The scenario's own timeout bounds it (scenario.Run); the run clock's
	// limit is a margin above it.
	o := sim.Options{Seed: s.Seed, Limit: time.Duration(s.Timeout) + time.Minute}
	if s.Fleet != nil {
		o.SnapshotInterval = fleetSnapshotInterval // as simboard fleet (fleet.go)
	}
	rc := newRunClockWith(virtual, o)
	err = rc.run(e.ctx, func(ctx context.Context) error {
		opts.Clock, opts.Rand = rc.clock(), rc.rand
		var err error
		rep, err = scenario.Run(ctx, s, opts)
		return err
	})
	times := rc.report(e.reproduce(flagArg{"clock", clockName(virtual)}))
	if err != nil {
		printTimes(e.stderr, times)
		return err
	}
	rep.Wall, rep.Simulated, rep.Reproduce = times.Wall, times.Simulated, times.Reproduce
	if c.f.json == "-" {
		rep.WriteText(e.stderr) // stdout holds the JSON only
	} else {
		rep.WriteText(e.stdout)
	}
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
