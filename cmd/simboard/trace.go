package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/simboard/simboard/internal/trace"
)

// traceCmd is `simboard trace FILE.pcap`.
type traceCmd struct {
	json      bool
	maxEvents int
	maxHeld   int64
}

func (c *traceCmd) groups() []flagGroup { return []flagGroup{c} }

func (c *traceCmd) register(fs *flag.FlagSet) {
	fs.BoolVar(&c.json, "json", false, "print the report as JSON on stdout")
	fs.IntVar(&c.maxEvents, "max-events", 0, "list at most `N` dialogue lines per flow (0 = all)")
	fs.Int64Var(&c.maxHeld, "max-held-bytes", 0, "hold at most `BYTES` of out-of-order payload, all flows together, while\nwaiting for missing segments (0 = 32 MiB)")
}

func (c *traceCmd) check() error {
	if c.maxEvents < 0 {
		return usagef("--max-events %d must not be negative (0 = all)", c.maxEvents)
	}
	if c.maxHeld < 0 {
		return usagef("--max-held-bytes %d must not be negative (0 = 32 MiB)", c.maxHeld)
	}
	return nil
}

func (c *traceCmd) run(e *cmdEnv) error {
	path := e.args[0]
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	// Ctrl-C unblocks a read that waits (a FIFO, a slow disk).
	defer context.AfterFunc(e.ctx, func() { f.Close() })()
	if st, err := f.Stat(); err == nil && st.IsDir() {
		return fmt.Errorf("read %s: is a directory, not a pcap file", path)
	}
	max := c.maxEvents
	if max == 0 {
		max = -1 // the trace package's "no limit"
	}
	r := &traceReader{ctx: e.ctx, r: f}
	rep, err := trace.Analyze(r, trace.Options{MaxEvents: max, MaxHeldBytes: c.maxHeld})
	if r.err != nil {
		// The file could not be read (or Ctrl-C): that, not a format
		// complaint about the bytes that did arrive, is the failure.
		return fmt.Errorf("read %s: %w", path, r.err)
	}
	if rep == nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if err != nil {
		// A truncated capture still has a report: print it, then say so.
		fmt.Fprintf(e.stderr, "simboard trace: warning: %s\n", describe(err))
	}
	// The report's notes name the trace package's options; the user sets
	// them with flags.
	var out bytes.Buffer
	if c.json {
		err = rep.WriteJSON(&out)
	} else {
		err = rep.WriteText(&out)
	}
	if err != nil {
		return err
	}
	_, err = optionNames.WriteString(e.stdout, out.String())
	return err
}

// traceReader records the first read error other than EOF, and stops the
// analysis when ctx is done (SIGINT/SIGTERM).
type traceReader struct {
	ctx context.Context
	r   io.Reader
	err error
}

func (t *traceReader) Read(b []byte) (int, error) {
	if t.err != nil {
		return 0, t.err
	}
	if err := t.ctx.Err(); err != nil {
		t.err = err
		return 0, err
	}
	n, err := t.r.Read(b)
	if err != nil && !errors.Is(err, io.EOF) {
		t.err = err
		if cerr := t.ctx.Err(); cerr != nil {
			t.err = cerr // the file was closed because of the signal
		}
	}
	return n, err
}
