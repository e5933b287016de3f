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
// `simboard --help` lists the commands; every command takes --help, which
// documents each of its flags. Exit status: 0 success, 1 failure of the
// run, 2 bad usage (before any traffic), 130 interrupted by SIGINT or
// SIGTERM (after the pcap is flushed and the boards are closed).
//
// # Adding a flag
//
// Flags live in flag groups (type flagGroup): a struct with register, which
// declares its flags, and check, which validates their values after
// parsing, before any traffic. A command lists its groups in groups().
//   - A flag shared by send and fetch: one fs.XxxVar line in
//     netFlags.register (session.go), its field in netFlags.
//   - A flag of one command: one line in that command's register.
//   - A new group in its own file: a field in the command's struct and one
//     entry in its groups() list.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
)

// usageError marks a command-line mistake (exit status 2).
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func usagef(format string, a ...any) error { return usageError{fmt.Sprintf(format, a...)} }

// flagGroup is a set of flags. register declares them on fs (each with its
// help text); check validates their values once parsing is done and
// returns a usageError for a bad one. check runs before any traffic.
type flagGroup interface {
	register(fs *flag.FlagSet)
	check() error
}

// cmdEnv is what a command runs with.
type cmdEnv struct {
	ctx    context.Context // cancelled by SIGINT/SIGTERM
	args   []string        // positional arguments (only for commands with nargs > 0)
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer

	name     string        // the command's name
	fs       *flag.FlagSet // its parsed flags
	flagArgs []flagArg     // every flag value the command line gave, in order (clock.go)
}

// runner is one parsed command: its flag groups and its body.
type runner interface {
	groups() []flagGroup
	run(e *cmdEnv) error
}

// command is one line of the command table.
type command struct {
	name     string
	synopsis string // what follows "simboard NAME" in the usage line
	short    string // one line in `simboard --help`
	long     string // a paragraph in `simboard NAME --help`
	nargs    int    // positional arguments: exactly this many
	new      func() runner
}

func commands() []command {
	return []command{
		{name: "demo", synopsis: "[flags]", new: func() runner { return new(demoCmd) },
			short: "boot a board and a mail host on a Wire, send and fetch a mail, write a pcap (default)",
			long: "Boots a board and the built-in mail host on an in-memory Wire, sends one mail by SMTP,\n" +
				"fetches it back by POP3 through the NetX packet API, checks it byte for byte and prints\n" +
				"timings, pool use and counters. The board's frames go to a pcap. It runs in virtual time\n" +
				"(--clock real for the host's clock) and ends with its simulated and wall time and the\n" +
				"command line that reproduces it."},
		{name: "send", synopsis: "--to ADDR[,ADDR] [--subject S] [--body FILE|-] [flags]", new: func() runner { return new(sendCmd) },
			short: "send one mail from a board on a TAP or the Wire",
			long: "Sends one mail from a board. With --tap the board is on a Linux TAP and talks to a real\n" +
				"server at --server; without it the peer is simboard's built-in mail host on a Wire.\n" +
				"The password comes from --password-file or the environment variable named by --password-env.\n" +
				"On the Wire it runs in virtual time (--clock real for the host's clock); a TAP run is real time."},
		{name: "fetch", synopsis: "--user NAME [--out DIR] [--delete] [flags]", new: func() runner { return new(fetchCmd) },
			short: "fetch mail by POP3 from a board on a TAP or the Wire",
			long: "Fetches every message of a POP3 mailbox from a board. With --tap the board is on a Linux\n" +
				"TAP and talks to a real server at --server; without it the peer is simboard's built-in\n" +
				"mail host on a Wire, holding one message for --user. On the Wire it runs in virtual time\n" +
				"(--clock real for the host's clock); a TAP run is real time."},
		{name: "trace", synopsis: "[flags] FILE.pcap", nargs: 1, new: func() runner { return new(traceCmd) },
			short: "print TCP flows and the SMTP/POP3 dialogue of an Ethernet pcap",
			long:  "Reads an Ethernet pcap and prints its TCP flows and SMTP/POP3 dialogue, credentials redacted."},
		{name: "fleet", synopsis: "--boards N [flags]", new: func() runner { return new(fleetCmd) }, short: "run N boards on one Wire, each sending a mail to one mail host and fetching it back", long: "Boots N boards and the built-in mail host on one Wire; each board sends one mail by SMTP and\nfetches it back by POP3. Prints delivered and failed counts, wall time, peak RSS and pool peaks;\nexits 1 when a board failed."},
		{name: "run", synopsis: "[--pcap FILE] [--json FILE] SCENARIO.toml", nargs: 1, new: func() runner { return new(runCmd) }, short: "run an experiment from a TOML scenario file and print a report with pass/fail per check", long: "Reads a TOML scenario (boards, link and timeline, mail host with faults, workload, checks),\nruns it (in virtual time; a [fleet] scenario in real time; --clock sets either) and prints a report;\nexits 1 when a check failed, 2 for a bad file (naming the line)."},
		{name: "tap", synopsis: "[--apply] [--teardown] [flags]", new: func() runner { return new(tapCmd) },
			short: "print (or run with --apply) the commands for a persistent user-owned TAP",
			long:  "Prints the ip(8) commands that create a TAP a user may open without root, or runs them with --apply."},
	}
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// errInterrupted is the cause of the context cancelled by a signal.
type errInterrupted struct{ sig os.Signal }

func (e errInterrupted) Error() string { return "interrupted by " + sigName(e.sig) }

func sigName(s os.Signal) string {
	switch s {
	case os.Interrupt:
		return "SIGINT"
	case syscall.SIGTERM:
		return "SIGTERM"
	}
	return s.String()
}

// run runs one command line and returns the exit status. The first SIGINT
// or SIGTERM cancels the command's context: the command stops its traffic,
// flushes and closes its pcap and closes its boards, and run returns 130. A
// second signal kills the process at once (the default action).
func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	ctx, cancel := context.WithCancelCause(context.Background())
	defer cancel(nil)
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sigs)
	go func() {
		select {
		case s := <-sigs:
			signal.Reset(os.Interrupt, syscall.SIGTERM)
			cancel(errInterrupted{s})
		case <-ctx.Done():
		}
	}()
	return dispatch(ctx, args, stdin, stdout, stderr)
}

func dispatch(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	name := "demo"
	if len(args) > 0 {
		switch a := args[0]; {
		case a == "help" || a == "-h" || a == "-help" || a == "--help":
			if a == "help" && len(args) > 1 {
				if c, ok := lookup(args[1]); ok {
					printHelp(stdout, c, c.newFlagSet(c.new()))
					return 0
				}
				fmt.Fprintf(stderr, "simboard: unknown command %q\n\n", args[1])
				printUsage(stderr)
				return 2
			}
			printUsage(stdout)
			return 0
		case !strings.HasPrefix(a, "-"):
			name, args = a, args[1:]
		}
	}
	c, ok := lookup(name)
	if !ok {
		fmt.Fprintf(stderr, "simboard: unknown command %q\n\n", name)
		printUsage(stderr)
		return 2
	}
	err := c.exec(ctx, args, stdin, stdout, stderr)
	if cause := context.Cause(ctx); errors.As(cause, new(errInterrupted)) {
		fmt.Fprintf(stderr, "simboard %s: %v: stopped, pcap flushed, boards closed\n", name, cause)
		return 130
	}
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
		fmt.Fprintf(stderr, "simboard %s: %s\n", name, describe(err))
		return 1
	}
}

func lookup(name string) (command, bool) {
	for _, c := range commands() {
		if c.name == name {
			return c, true
		}
	}
	return command{}, false
}

// newFlagSet returns r's flag set, every group registered. It prints
// nothing itself: exec reports errors and help once.
func (c command) newFlagSet(r runner) *flag.FlagSet {
	fs := flag.NewFlagSet("simboard "+c.name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	for _, g := range r.groups() {
		g.register(fs)
	}
	return fs
}

// exec parses args into a new runner, checks every group and runs it.
func (c command) exec(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	r := c.new()
	fs := c.newFlagSet(r)
	var given []flagArg
	recordArgs(fs, &given)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			printHelp(stdout, c, fs)
			return err
		}
		// The flag package names flags with one dash; the CLI documents two.
		msg := strings.Replace(err.Error(), " flag -", " flag --", 1)
		return usageError{strings.Replace(msg, "not defined: -", "not defined: --", 1)}
	}
	switch {
	case fs.NArg() > c.nargs && c.nargs == 0:
		return usagef("unexpected argument %q (%s takes no arguments; flags go before it)", fs.Arg(0), c.name)
	case fs.NArg() > c.nargs:
		return usagef("unexpected argument %q after %q", fs.Arg(c.nargs), fs.Arg(c.nargs-1))
	case fs.NArg() < c.nargs:
		return usagef("missing argument: usage: simboard %s %s", c.name, c.synopsis)
	}
	for _, g := range r.groups() {
		if err := g.check(); err != nil {
			return err
		}
	}
	return r.run(&cmdEnv{ctx: ctx, args: fs.Args(), stdin: stdin, stdout: stdout, stderr: stderr, name: c.name, fs: fs, flagArgs: given})
}

func printUsage(w io.Writer) {
	fmt.Fprintln(w, "usage: simboard <command> [flags]")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "commands:")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-6s %s\n", c.name, c.short)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Run 'simboard <command> --help' for a command's flags.")
	fmt.Fprintln(w, "Exit status: 0 success, 1 the run failed, 2 bad usage, 130 interrupted.")
}

// printHelp documents every flag of c: name, value, help and default.
func printHelp(w io.Writer, c command, fs *flag.FlagSet) {
	fmt.Fprintf(w, "usage: simboard %s %s\n\n%s\n\nflags:\n", c.name, c.synopsis, c.long)
	fs.VisitAll(func(f *flag.Flag) {
		value, usage := flag.UnquoteUsage(f)
		head := "  --" + f.Name
		if value != "" {
			head += " " + value
		}
		if len(head) <= 24 {
			fmt.Fprintf(w, "%-26s", head)
		} else {
			fmt.Fprintf(w, "%s\n%26s", head, "")
		}
		usage = strings.ReplaceAll(usage, "\n", "\n"+strings.Repeat(" ", 26))
		fmt.Fprint(w, usage)
		if def := f.DefValue; def != "" && def != "false" && def != "0" && def != "0s" {
			fmt.Fprintf(w, " (default %s)", def)
		}
		fmt.Fprintln(w)
	})
}
