// Command simboard runs a virtual embedded board: NetX Duo semantics over
// gVisor, on an in-memory Wire or a Linux TAP, with SMTP and POP3 clients
// built on packet chains.
//
//	simboard [demo] [flags]   boot a board and a mail host on a Wire, send a
//	                          mail by SMTP, fetch it back by POP3, write a pcap
//	simboard send  [flags]    send one mail from a board (TAP or Wire)
//	simboard fetch [flags]    fetch mail from a POP3 server (TAP or Wire)
//	simboard trace FILE.pcap  print the SMTP/POP3 dialogue of an Ethernet pcap
//	simboard tap [--apply]    print (or run) the commands for a user-owned TAP
//
// Every subcommand takes --help. Exit status: 0 success, 1 failure of the
// run, 2 bad usage.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
)

// usageError marks a command-line mistake (exit status 2).
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func usagef(format string, a ...any) error { return usageError{fmt.Sprintf(format, a...)} }

type command struct {
	name  string
	short string
	run   func(args []string, stdout, stderr io.Writer) error
}

func commands() []command {
	return []command{
		{"demo", "boot a board and a mail host on a Wire, send and fetch a mail, write a pcap (default)", runDemo},
		{"send", "send one mail from a board on a TAP or the Wire", runSend},
		{"fetch", "fetch mail by POP3 from a board on a TAP or the Wire", runFetch},
		{"trace", "print TCP flows and the SMTP/POP3 dialogue of an Ethernet pcap", runTrace},
		{"tap", "print (or run with --apply) the commands for a persistent user-owned TAP", runTap},
	}
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	name := "demo"
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		name, args = args[0], args[1:]
	}
	if name == "help" {
		printUsage(stdout)
		return 0
	}
	for _, c := range commands() {
		if c.name != name {
			continue
		}
		err := c.run(args, stdout, stderr)
		switch {
		case err == nil:
			return 0
		case errors.Is(err, flag.ErrHelp):
			return 0
		case errors.As(err, new(usageError)):
			fmt.Fprintf(stderr, "simboard %s: %v\n", name, err)
			fmt.Fprintf(stderr, "run 'simboard %s --help' for usage\n", name)
			return 2
		default:
			fmt.Fprintf(stderr, "simboard %s: %v\n", name, err)
			return 1
		}
	}
	fmt.Fprintf(stderr, "simboard: unknown command %q\n\n", name)
	printUsage(stderr)
	return 2
}

func printUsage(w io.Writer) {
	fmt.Fprintln(w, "usage: simboard <command> [flags]")
	fmt.Fprintln(w)
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-6s %s\n", c.name, c.short)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Run 'simboard <command> --help' for a command's flags.")
}

// newFlagSet returns a flag set that reports errors instead of exiting.
func newFlagSet(name, synopsis string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("simboard "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: simboard %s %s\n\nflags:\n", name, synopsis)
		fs.PrintDefaults()
	}
	return fs
}

// parseFlags parses args, turning flag errors into usage errors.
func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError{err.Error()}
	}
	return nil
}

// commonFlags are shared by every subcommand that runs a board.
type commonFlags struct {
	logLevel string
	json     bool
}

func (c *commonFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&c.logLevel, "log-level", "warn", "log level: debug, info, warn or error (logs go to stderr)")
	fs.BoolVar(&c.json, "json", false, "print the result as JSON for scripts")
}

func (c *commonFlags) logger(stderr io.Writer) (*slog.Logger, error) {
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(c.logLevel)); err != nil {
		return nil, usagef("bad --log-level %q: use debug, info, warn or error", c.logLevel)
	}
	return slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: lvl})), nil
}
