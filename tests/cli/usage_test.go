package cli

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestHelpListsCommands: `simboard --help` (and help, -h, and an unknown
// command on stderr) lists every subcommand on one line each.
func TestHelpListsCommands(t *testing.T) {
	for _, tc := range []struct {
		args []string
		code int
	}{
		{[]string{"--help"}, 0}, {[]string{"-h"}, 0}, {[]string{"help"}, 0}, {[]string{"bogus"}, 2},
	} {
		stdout, stderr, code := simboard(t, nil, tc.args...)
		out := stdout
		if tc.code != 0 {
			out = stderr
		}
		if code != tc.code {
			t.Errorf("simboard %v: exit %d, want %d", tc.args, code, tc.code)
		}
		for _, cmd := range []string{"demo", "send", "fetch", "trace", "tap"} {
			if !regexp.MustCompile(`(?m)^  ` + cmd + ` +\S.*$`).MatchString(out) {
				t.Errorf("simboard %v: no one-line entry for %q:\n%s", tc.args, cmd, out)
			}
		}
	}
}

// TestCommandHelpDocumentsEveryFlag: `simboard CMD --help` exits 0 and every
// flag it lists has a description (and a value name unless it is a switch).
func TestCommandHelpDocumentsEveryFlag(t *testing.T) {
	flagLine := regexp.MustCompile(`^  --([a-z0-9-]+)( [A-Z][A-Z0-9/\[\],|.-]*)?( +(.*))?$`)
	switches := map[string]bool{"json": true, "transcript": true, "insecure-skip-verify": true, "netx": true, "bdat": true, "compare-netx": true,
		"delete": true, "ipv6": true, "apply": true, "teardown": true, "no-ipv6": true, "dhcp": true}
	want := map[string][]string{
		"demo":  {"body-size", "tls", "loss", "delay", "pool-packets", "payload", "pcap", "timeout", "auth"},
		"send":  {"to", "tls", "tls-server-name", "ca", "port", "auth", "body", "pcap", "timeout", "password-file"},
		"fetch": {"user", "login", "tls", "tls-server-name", "ca", "port", "netx", "out", "delete"},
		"trace": {"json", "max-events"},
		"tap":   {"apply", "name", "host"},
	}
	for cmd, flags := range want {
		stdout, stderr, code := simboard(t, nil, cmd, "--help")
		if code != 0 || stderr != "" {
			t.Errorf("simboard %s --help: exit %d, stderr %q", cmd, code, stderr)
		}
		seen := map[string]bool{}
		lines := strings.Split(stdout, "\n")
		for i, l := range lines {
			m := flagLine.FindStringSubmatch(l)
			if m == nil {
				continue
			}
			name, doc := m[1], m[4]
			if doc == "" && i+1 < len(lines) && strings.HasPrefix(lines[i+1], strings.Repeat(" ", 26)) {
				doc = strings.TrimSpace(lines[i+1])
			}
			seen[name] = true
			if strings.TrimSpace(doc) == "" {
				t.Errorf("simboard %s --help: --%s has no description", cmd, name)
			}
			if m[2] == "" && !switches[name] {
				t.Errorf("simboard %s --help: --%s shows no value name", cmd, name)
			}
		}
		for _, f := range flags {
			if !seen[f] {
				t.Errorf("simboard %s --help does not document --%s:\n%s", cmd, f, stdout)
			}
		}
	}
}

// TestStrayArgumentsExit2: a positional argument a command does not take is
// a usage error, before anything is sent (send --to a@b mail.txt used to
// send the default body and exit 0).
func TestStrayArgumentsExit2(t *testing.T) {
	for _, args := range [][]string{
		{"send", "--to", "a@simboard.test", "mail.txt"},
		{"fetch", "--user", "alice", "extra"},
		{"demo", "now"},
		{"trace", "a.pcap", "b.pcap"},
		{"tap", "tap0"},
	} {
		pcap := filepath.Join(t.TempDir(), "x.pcap")
		full := append(append([]string{args[0]}, "--pcap", pcap), args[1:]...)
		if args[0] == "trace" || args[0] == "tap" {
			full = args
		}
		stdout, stderr, code := simboard(t, []string{"SIMBOARD_PASSWORD=pw"}, full...)
		if code != 2 || !strings.Contains(stderr, "unexpected argument") {
			t.Errorf("simboard %v: exit %d, stderr %q, want exit 2 naming the unexpected argument", full, code, stderr)
		}
		if stdout != "" {
			t.Errorf("simboard %v: stdout %q, want nothing", full, stdout)
		}
		if _, err := os.Stat(pcap); err == nil {
			t.Errorf("simboard %v wrote a pcap: traffic before the usage check", full)
		}
	}
}

// TestOutOfRangeExit2: out-of-range numbers are usage errors (exit 2) before
// any traffic: no pcap is even created.
func TestOutOfRangeExit2(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"send", "--to", "a@simboard.test", "--port", "65561"}, "--port 65561"},
		{[]string{"send", "--to", "a@simboard.test", "--port", "-1"}, "--port -1"},
		{[]string{"fetch", "--user", "alice", "--port", "70000"}, "--port 70000"},
		{[]string{"send", "--to", "a@simboard.test", "--payload", "10"}, "--payload 10"},
		{[]string{"send", "--to", "a@simboard.test", "--payload", "100000000"}, "--payload 100000000"},
		{[]string{"send", "--to", "a@simboard.test", "--pool-packets", "0"}, "--pool-packets 0"},
		{[]string{"fetch", "--user", "alice", "--pool-packets", "9999999999"}, "--pool-packets"},
		{[]string{"demo", "--pool-packets", "2000000"}, "--pool-packets 2000000"},
		{[]string{"demo", "--payload", "65536", "--pool-packets", "1000000"}, "1 GiB"},
		{[]string{"demo", "--payload", "256", "--pool-packets", "6"}, "at least --pool-packets 7"},
		{[]string{"send", "--to", "a@simboard.test", "--payload", "300", "--pool-packets", "5"}, "at least --pool-packets 7"},
		{[]string{"demo", "--body-size", "4611686018427387904"}, "--body-size 4611686018427387904"},
		{[]string{"demo", "--body-size", "0"}, "--body-size 0"},
		{[]string{"demo", "--loss", "NaN"}, "--loss NaN"},
		{[]string{"demo", "--loss", "-0.1"}, "--loss -0.1"},
		{[]string{"demo", "--delay", "-5ms"}, "--delay -5ms"},
		{[]string{"demo", "--rate", "99999999999999999G"}, "--rate"},
		{[]string{"send", "--to", "a@simboard.test", "--timeout", "0s"}, "--timeout"},
		{[]string{"trace", "--max-events", "-1", "x.pcap"}, "--max-events -1"},
		{[]string{"trace", "--max-held-bytes", "-5", "x.pcap"}, "--max-held-bytes -5"},
	} {
		pcap := filepath.Join(t.TempDir(), "x.pcap")
		args := tc.args
		if args[0] != "trace" {
			args = append([]string{args[0], "--pcap", pcap}, args[1:]...)
		}
		_, stderr, code := simboard(t, []string{"SIMBOARD_PASSWORD=pw"}, args...)
		if code != 2 || !strings.Contains(stderr, tc.want) {
			t.Errorf("simboard %v: exit %d, stderr %q; want exit 2 naming %q", args, code, stderr, tc.want)
		}
		if strings.Contains(stderr, "panic") || strings.Contains(stderr, "goroutine ") {
			t.Errorf("simboard %v panicked:\n%s", args, stderr)
		}
		if _, err := os.Stat(pcap); err == nil {
			t.Errorf("simboard %v wrote a pcap: traffic before the usage check", args)
		}
	}
}
