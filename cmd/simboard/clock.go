package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/simboard/simboard/nx"
	"github.com/simboard/simboard/sim"
)

// Virtual time is the default of every run on the in-memory Wire (demo,
// send and fetch without --tap, run): the Wire, the boards, the mail host
// and the network services run on one sim.Sim, whose clock moves to the
// next timer only when nothing of the run can go on, so delays, timeouts
// and retransmissions cost no wall time and the same seed gives the same
// frames. --clock real runs on the host's clock instead. A run that touches
// a TAP (--tap, --uplink) exchanges frames with the host kernel, which
// simulated time cannot drive: it is real time, and --clock virtual with it
// is a usage error.

const (
	clockReal    = "real"
	clockVirtual = "virtual"
)

// clockFlags is --clock. value is "" when the flag was not given: the
// command then chooses (virtual on the Wire, real with a TAP).
type clockFlags struct {
	value string
}

const clockUsage = "`CLOCK`: virtual (simulated time: delays, timeouts and retransmissions cost no wall time,\n" +
	"and the same flags give the same frames; the default on the Wire) or real (the host's clock;\n" +
	"the only one for a TAP run)"

func (c *clockFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&c.value, "clock", "", clockUsage)
}

func (c *clockFlags) check() error {
	switch c.value {
	case "", clockReal, clockVirtual:
		return nil
	}
	return usagef("--clock %q: use real or virtual", c.value)
}

// virtual resolves the clock of a run. realWhy, when not "", names what
// makes the run real time (e.g. "--tap tap0"): without --clock the run is
// then real; with --clock virtual it is a usage error that says why.
func (c *clockFlags) virtual(realWhy string) (bool, error) {
	if realWhy == "" {
		return c.value != clockReal, nil
	}
	if c.value == clockVirtual {
		return false, usagef("--clock virtual cannot run with %s: a TAP exchanges frames with the host's kernel in real time, "+
			"which simulated time cannot drive; drop --clock virtual (a TAP run is real time)", realWhy)
	}
	return false, nil
}

// runClock runs a command's body on its clock and keeps its times.
type runClock struct {
	sim       *sim.Sim // nil: real time
	limit     time.Duration
	wall      time.Duration
	simulated time.Duration
}

// newRunClock prepares a run: virtual runs on a new sim.Sim seeded with
// seed whose Limit is the --timeout limit (simulated time); real runs use
// limit as a real deadline. A limit of 0 means none.
func newRunClock(virtual bool, seed int64, limit time.Duration) *runClock {
	return newRunClockWith(virtual, sim.Options{Seed: seed, Limit: limit})
}

// newRunClockWith is newRunClock with every sim.Options field (its Limit
// is the real deadline in real time). Without a SnapshotInterval (fleets
// set one) the run is strict: a stop-the-world snapshot before every event
// (sim.Options.Strict). The runtime's counters alone missed a goroutine
// coming back from a system call (opening the pcap) on a loaded CI host,
// and the demo jumped to its --timeout; strict costs 3.5 s instead of
// 0.25 s for demo --recipients 3 --body-size 1000000 over a lossy link.
func newRunClockWith(virtual bool, o sim.Options) *runClock {
	rc := &runClock{limit: o.Limit}
	if o.SnapshotInterval == 0 {
		o.Strict = true
	}
	if virtual {
		rc.sim = sim.New(o)
	}
	return rc
}

// clock is the clock to hand to the Wire, boards, mail host and services:
// the Sim's, or nil (the host's clock) in real time.
func (rc *runClock) clock() nx.Clock {
	if rc.sim == nil {
		return nil
	}
	return rc.sim.Clock()
}

// rand is the seeded random stream for one named consumer in virtual time
// (sim.Sim.Rand), or nil (crypto/rand) in real time.
func (rc *runClock) rand(name string) io.Reader {
	if rc.sim == nil {
		return nil
	}
	return rc.sim.Rand(name)
}

// rand32 is rand as NX_RAND (func() uint32), or nil in real time.
func (rc *runClock) rand32(name string) func() uint32 {
	r := rc.rand(name)
	if r == nil {
		return nil
	}
	return func() uint32 {
		var b [4]byte
		_, _ = io.ReadFull(r, b[:])
		return uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16 | uint32(b[3])<<24
	}
}

// run runs body and blocks until it returns. In virtual time body runs
// inside the Sim (it must build and close everything it uses), and reaching
// the limit of simulated time ends it with an error naming --timeout; in
// real time the limit is a deadline on body's context. ctx is the command's
// (a signal cancels it).
func (rc *runClock) run(ctx context.Context, body func(ctx context.Context) error) error {
	if rc.sim == nil {
		start := time.Now()
		tctx, cancel := ctx, context.CancelFunc(func() {})
		if rc.limit > 0 {
			tctx, cancel = withTimeout(ctx, rc.limit)
		}
		defer cancel()
		err := body(tctx)
		rc.wall = time.Since(start)
		return noteTimeout(tctx, err)
	}
	err := rc.sim.Run(ctx, body)
	st := rc.sim.Stats()
	rc.wall, rc.simulated = st.Wall, st.Simulated
	if rest, hit := splitLimit(err); hit {
		// The run ended at the limit even when the Sim stopped short of it
		// (the next timer lay beyond it).
		rc.simulated = max(rc.simulated, rc.limit)
		if rest == nil {
			rest = context.DeadlineExceeded
		}
		return fmt.Errorf("--timeout %v of simulated time reached: %w", rc.limit, rest)
	}
	return err
}

// limitText is how sim.Run says its Limit ended a run.
var limitText = regexp.MustCompile(`^sim: simulated time limit .* reached$`)

// splitLimit reports whether err holds the Sim's "time limit reached" error,
// and returns err without it.
func splitLimit(err error) (error, bool) {
	if err == nil {
		return nil, false
	}
	if limitText.MatchString(err.Error()) {
		return nil, true
	}
	j, ok := err.(interface{ Unwrap() []error })
	if !ok {
		return err, false
	}
	var rest []error
	hit := false
	for _, e := range j.Unwrap() {
		if e != nil && limitText.MatchString(e.Error()) {
			hit = true
			continue
		}
		rest = append(rest, e)
	}
	if !hit {
		return err, false
	}
	return errors.Join(rest...), true
}

// line is the run's time: "simulated 84.2 s in 0.31 s" (simulated time, then
// wall time) or "real time: 4.3 s".
func (rc *runClock) line() string {
	if rc.sim == nil {
		return fmt.Sprintf("real time: %.1f s", rc.wall.Seconds())
	}
	return fmt.Sprintf("simulated %s in %.2f s", simSeconds(rc.simulated.Seconds()), rc.wall.Seconds())
}

// simSeconds formats simulated seconds: "84.2 s", and to three significant
// digits below one second ("0.0214 s", "0.000412 s"), where runs on a
// perfect link end.
func simSeconds(s float64) string {
	if s >= 1 || s <= 0 {
		return fmt.Sprintf("%.1f s", s)
	}
	return strconv.FormatFloat(s, 'g', 3, 64) + " s"
}

// clockReport is the run's clock, times and reproduce line as JSON fields.
type clockReport struct {
	Clock     string   `json:"clock"`                 // "virtual" or "real"
	Simulated *float64 `json:"simulated_s,omitempty"` // simulated seconds (virtual only)
	Wall      float64  `json:"wall_s"`                // wall seconds
	Reproduce string   `json:"reproduce"`             // the command line that reproduces the run
}

func (rc *runClock) report(reproduce string) clockReport {
	r := clockReport{Clock: clockReal, Wall: round3(rc.wall.Seconds()), Reproduce: reproduce}
	if rc.sim != nil {
		s := float64(rc.simulated.Microseconds()) / 1e6 // to the simulated microsecond
		r.Clock, r.Simulated = clockVirtual, &s
	}
	return r
}

func round3(f float64) float64 { return float64(int64(f*1000+0.5)) / 1000 }

// printTimes writes the run's time line and its reproduce line.
func printTimes(w io.Writer, r clockReport) {
	if r.Simulated != nil {
		fmt.Fprintf(w, "simulated %s in %.2f s\n", simSeconds(*r.Simulated), r.Wall)
	} else {
		fmt.Fprintf(w, "real time: %.1f s\n", r.Wall)
	}
	fmt.Fprintf(w, "reproduce: %s\n", r.Reproduce)
}

// argRecorder wraps a flag's Value and records every value the command line
// gave it, in order, for the reproduce line.
type argRecorder struct {
	flag.Value
	name string
	log  *[]flagArg
}

type flagArg struct{ name, value string }

func (r argRecorder) Set(s string) error {
	if err := r.Value.Set(s); err != nil {
		return err
	}
	*r.log = append(*r.log, flagArg{r.name, s})
	return nil
}

// boolRecorder is argRecorder for a switch (--json, --ipv6).
type boolRecorder struct{ argRecorder }

func (boolRecorder) IsBoolFlag() bool { return true }

// recordArgs makes fs record every flag value parsed into log.
func recordArgs(fs *flag.FlagSet, log *[]flagArg) {
	fs.VisitAll(func(f *flag.Flag) {
		r := argRecorder{Value: f.Value, name: f.Name, log: log}
		if b, ok := f.Value.(interface{ IsBoolFlag() bool }); ok && b.IsBoolFlag() {
			f.Value = boolRecorder{r}
			return
		}
		f.Value = r
	})
}

// outputOnly are flags that change what is printed, never the run.
var outputOnly = map[string]bool{"json": true, "log-level": true, "transcript": true}

// reproduce is the one command line that runs e's command again with every
// flag the user gave that affects the run, in the order given (a repeated
// flag such as --fault keeps every occurrence), plus force: the values the
// run actually used for flags whose default is not a fixed value (--clock,
// --seed), written first. Paths are kept as given; positional arguments
// follow the flags. Values are quoted for a POSIX shell.
func (e *cmdEnv) reproduce(force ...flagArg) string {
	parts := []string{"simboard", e.name}
	forced := map[string]bool{}
	for _, f := range force {
		forced[f.name] = true
		parts = append(parts, "--"+f.name, shellQuote(f.value))
	}
	for _, a := range e.flagArgs {
		if outputOnly[a.name] || forced[a.name] {
			continue
		}
		if e.fs != nil {
			if f := e.fs.Lookup(a.name); f != nil {
				if b, ok := f.Value.(interface{ IsBoolFlag() bool }); ok && b.IsBoolFlag() {
					if v, err := strconv.ParseBool(a.value); err == nil && v {
						parts = append(parts, "--"+a.name)
					} else {
						parts = append(parts, "--"+a.name+"="+shellQuote(a.value))
					}
					continue
				}
			}
		}
		parts = append(parts, "--"+a.name, shellQuote(a.value))
	}
	if len(e.args) > 0 {
		if strings.HasPrefix(e.args[0], "-") {
			parts = append(parts, "--")
		}
		for _, a := range e.args {
			parts = append(parts, shellQuote(a))
		}
	}
	return strings.Join(parts, " ")
}

var shellSafe = regexp.MustCompile(`^[A-Za-z0-9_@%+=:,./-]+$`)

// shellQuote quotes s for a POSIX shell when it needs it.
func shellQuote(s string) string {
	if shellSafe.MatchString(s) {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
