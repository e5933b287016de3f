package main

import (
	"context"
	"errors"
	"strings"
	"testing"
)

// parsed parses args for command name as exec does and returns the
// command's environment (flags recorded for the reproduce line).
func parsed(t *testing.T, name string, args ...string) *cmdEnv {
	t.Helper()
	c, ok := lookup(name)
	if !ok {
		t.Fatalf("no command %q", name)
	}
	fs := c.newFlagSet(c.new())
	var given []flagArg
	recordArgs(fs, &given)
	if err := fs.Parse(args); err != nil {
		t.Fatalf("parse %v: %v", args, err)
	}
	return &cmdEnv{name: name, fs: fs, flagArgs: given, args: fs.Args()}
}

// TestReproduceLine: the reproduce line holds the forced values first, then
// every flag given in order (a repeated --fault twice), switches bare,
// output-only flags dropped, values quoted for a shell, positional
// arguments last.
func TestReproduceLine(t *testing.T) {
	for _, tc := range []struct {
		name  string
		args  []string
		force []flagArg
		want  string
	}{
		{"demo", []string{"--loss", "0.05", "--json", "--log-level", "debug", "--pcap", "/tmp/a b.pcap"},
			[]flagArg{{"clock", "virtual"}, {"seed", "1"}},
			"simboard demo --clock virtual --seed 1 --loss 0.05 --pcap '/tmp/a b.pcap'"},
		{"demo", []string{"--seed", "7", "--clock", "virtual", "--ipv6", "--fault", "smtp.rcpt*2=reply:451 busy", "--fault", "smtp.greeting=delay:40s"},
			[]flagArg{{"clock", "virtual"}, {"seed", "7"}},
			"simboard demo --clock virtual --seed 7 --ipv6 --fault 'smtp.rcpt*2=reply:451 busy' --fault smtp.greeting=delay:40s"},
		{"demo", []string{"--ipv6=false", "--body-size", "1000"},
			[]flagArg{{"clock", "real"}, {"seed", "1"}},
			"simboard demo --clock real --seed 1 --ipv6=false --body-size 1000"},
		{"send", []string{"--to", "it's@x.test", "--transcript", "--tls", "off"},
			[]flagArg{{"clock", "virtual"}, {"seed", "1"}},
			`simboard send --clock virtual --seed 1 --to 'it'\''s@x.test' --tls off`},
		{"run", []string{"--json", "-", "--pcap", "x.pcap", "s.toml"}, []flagArg{{"clock", "virtual"}},
			"simboard run --clock virtual --pcap x.pcap s.toml"},
		{"run", []string{"--", "-odd.toml"}, []flagArg{{"clock", "virtual"}},
			"simboard run --clock virtual -- -odd.toml"},
	} {
		e := parsed(t, tc.name, tc.args...)
		if got := e.reproduce(tc.force...); got != tc.want {
			t.Errorf("reproduce(%s %q) =\n  %s\nwant\n  %s", tc.name, tc.args, got, tc.want)
		}
	}
}

// TestReproduceLineParses: the reproduce line of a demo, split as a shell
// would, parses back to the same flag values.
func TestReproduceLineParses(t *testing.T) {
	args := []string{"--seed", "9", "--loss", "0.1", "--reorder", "0.02", "--duplicate", "0.01", "--jitter", "3ms", "--delay", "20ms",
		"--recipients", "3", "--body-size", "1000", "--tls", "required", "--auth", "login", "--fault", "smtp.rcpt@2=reply:451 4.2.1 busy"}
	e := parsed(t, "demo", args...)
	line := e.reproduce(flagArg{"clock", "virtual"}, flagArg{"seed", "9"})
	words := shellSplit(t, line)
	if words[0] != "simboard" || words[1] != "demo" {
		t.Fatalf("line %q", line)
	}
	again := parsed(t, "demo", words[2:]...)
	for _, name := range []string{"seed", "loss", "reorder", "duplicate", "jitter", "delay", "recipients", "body-size", "tls", "auth", "clock"} {
		if a, b := e.fs.Lookup(name).Value.String(), again.fs.Lookup(name).Value.String(); name != "clock" && a != b {
			t.Errorf("--%s: %q after the round trip, want %q (line %q)", name, b, a, line)
		}
	}
	if got := again.fs.Lookup("clock").Value.String(); got != "virtual" {
		t.Errorf("--clock %q, want virtual", got)
	}
	var faults []string
	for _, a := range again.flagArgs {
		if a.name == "fault" {
			faults = append(faults, a.value)
		}
	}
	if len(faults) != 1 || faults[0] != "smtp.rcpt@2=reply:451 4.2.1 busy" {
		t.Errorf("faults after the round trip %q", faults)
	}
}

// shellSplit splits a line quoted by shellQuote (single quotes; a quote is
// closed, escaped with a backslash and reopened) into words.
func shellSplit(t *testing.T, s string) []string {
	var words []string
	var cur strings.Builder
	in, have := false, false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\'' && !in:
			in, have = true, true
		case c == '\'' && in:
			in = false
		case c == '\\' && !in && i+1 < len(s):
			i++
			cur.WriteByte(s[i])
		case c == ' ' && !in:
			if have || cur.Len() > 0 {
				words = append(words, cur.String())
			}
			cur.Reset()
			have = false
		default:
			cur.WriteByte(c)
		}
	}
	if in {
		t.Fatalf("unterminated quote in %q", s)
	}
	if have || cur.Len() > 0 {
		words = append(words, cur.String())
	}
	return words
}

func TestShellQuote(t *testing.T) {
	for in, want := range map[string]string{
		"plain": "plain", "/tmp/x.pcap": "/tmp/x.pcap", "a b": "'a b'", "": "''", "it's": `'it'\''s'`,
		"$HOME": "'$HOME'", "a;b": "'a;b'", "smtp.rcpt*2=reply:451": "'smtp.rcpt*2=reply:451'",
	} {
		if got := shellQuote(in); got != want {
			t.Errorf("shellQuote(%q) = %s, want %s", in, got, want)
		}
	}
}

// TestClockResolve: no --clock is virtual on the Wire and real with a TAP;
// --clock virtual with a TAP is a usage error naming the TAP and why.
func TestClockResolve(t *testing.T) {
	for _, tc := range []struct {
		value, realWhy string
		virtual        bool
		err            string
	}{
		{"", "", true, ""},
		{"virtual", "", true, ""},
		{"real", "", false, ""},
		{"", "--tap tap0", false, ""},
		{"real", "--tap tap0", false, ""},
		{"virtual", "--tap tap0", false, "--clock virtual cannot run with --tap tap0: a TAP exchanges frames with the host's kernel in real time"},
	} {
		c := clockFlags{value: tc.value}
		v, err := c.virtual(tc.realWhy)
		switch {
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err) || !errors.As(err, new(usageError))):
			t.Errorf("clock %q with %q: err %v, want a usage error containing %q", tc.value, tc.realWhy, err, tc.err)
		case tc.err == "" && (err != nil || v != tc.virtual):
			t.Errorf("clock %q with %q = %v, %v; want %v", tc.value, tc.realWhy, v, err, tc.virtual)
		}
	}
	if err := (&clockFlags{value: "sim"}).check(); err == nil {
		t.Error("--clock sim accepted")
	}
}

// TestVirtualTimeoutIsSimulated: in virtual time --timeout is the Sim's
// Limit: a body that waits 10 simulated minutes on the clock ends at the
// 1 s limit with an error naming --timeout and simulated time, after about
// 1 s of simulated time.
func TestVirtualTimeoutIsSimulated(t *testing.T) {
	rc := newRunClock(true, 1, 1e9)
	err := rc.run(context.Background(), func(ctx context.Context) error {
		tm := rc.clock().NewTimer(600e9)
		defer tm.Stop()
		select {
		case <-tm.C():
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	})
	if err == nil || !strings.Contains(err.Error(), "--timeout 1s of simulated time reached") {
		t.Fatalf("run = %v, want the --timeout error", err)
	}
	if strings.Contains(err.Error(), "sim: simulated time limit") {
		t.Errorf("error %q still carries the Sim's own text", err)
	}
	if rc.simulated > 2e9 {
		t.Errorf("simulated %v, want about 1 s", rc.simulated)
	}
	if !strings.HasPrefix(rc.line(), "simulated ") {
		t.Errorf("line %q", rc.line())
	}
}

func TestSplitLimit(t *testing.T) {
	lim := errors.New("sim: simulated time limit 5m0s reached")
	body := errors.New("smtp: send: context canceled")
	if rest, hit := splitLimit(errors.Join(body, lim)); !hit || rest == nil || rest.Error() != body.Error() {
		t.Errorf("splitLimit(body+limit) = %v, %v", rest, hit)
	}
	if rest, hit := splitLimit(lim); !hit || rest != nil {
		t.Errorf("splitLimit(limit) = %v, %v", rest, hit)
	}
	if rest, hit := splitLimit(body); hit || rest != body {
		t.Errorf("splitLimit(body) = %v, %v", rest, hit)
	}
}
