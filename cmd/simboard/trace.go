package main

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/simboard/simboard/internal/trace"
)

func runTrace(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("trace", "[--json] FILE.pcap", stderr)
	asJSON := fs.Bool("json", false, "print the report as JSON")
	maxEvents := fs.Int("max-events", 0, "stop listing dialogue lines of a flow after this many (0 = all)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return usagef("want exactly one pcap file, got %d arguments", fs.NArg())
	}
	f, err := os.Open(fs.Arg(0))
	if err != nil {
		return err
	}
	defer f.Close()
	rep, err := trace.Analyze(f, trace.Options{MaxEvents: *maxEvents})
	if rep == nil {
		return fmt.Errorf("%s: %w", fs.Arg(0), err)
	}
	if err != nil {
		// A truncated capture still has a report: print it, then say so.
		fmt.Fprintf(stderr, "simboard trace: warning: %v\n", err)
	}
	if *asJSON {
		return rep.WriteJSON(stdout)
	}
	if werr := rep.WriteText(stdout); werr != nil {
		return errors.Join(werr, err)
	}
	return nil
}
