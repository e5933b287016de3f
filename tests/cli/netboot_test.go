package cli

import (
	"bytes"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

var (
	msRE    = regexp.MustCompile(` +\d+\.\d+ ms`)
	wallRE  = regexp.MustCompile(` in \d+\.\d\d s$`)
	digitRE = regexp.MustCompile(`\d+`)
)

// normalizeDemo keeps what a run decides (stages, addresses, lease, frame
// and packet costs of the boot stages, the result) and blanks what the
// clock decides (durations) and the counters of the mail sessions' TCP
// traffic, which vary with scheduling.
func normalizeDemo(out, pcap string) string {
	out = strings.ReplaceAll(out, pcap, "PCAP")
	var b strings.Builder
	counters := false
	for _, line := range strings.SplitAfter(out, "\n") {
		if strings.HasPrefix(line, "pools") {
			counters = true
		}
		if strings.HasPrefix(line, "pcap:") || strings.HasPrefix(line, "result:") {
			counters = false
		}
		line = msRE.ReplaceAllString(line, " N ms")
		if strings.HasPrefix(line, "simulated ") {
			line = wallRE.ReplaceAllString(strings.TrimSuffix(line, "\n"), " in N s") + "\n"
		}
		if counters && strings.HasPrefix(line, "  ") {
			line = digitRE.ReplaceAllString(line, "N")
		}
		b.WriteString(line)
	}
	return b.String()
}

// TestDemoDHCP: `demo --dhcp` runs the firmware boot, DHCP → DNS for
// mail.simboard.test → SNTP → SMTP → POP3, each stage with its timing and
// pool cost; the report is compared with testdata/demo_dhcp.golden.
func TestDemoDHCP(t *testing.T) {
	pcap := filepath.Join(t.TempDir(), "demo.pcap")
	stdout, stderr, code := simboard(t, nil, "demo", "--dhcp", "--body-size", "2000", "--pcap", pcap)
	if code != 0 {
		t.Fatalf("simboard demo --dhcp: exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	got := normalizeDemo(stdout, pcap)
	golden := filepath.Join("testdata", "demo_dhcp.golden")
	if *update {
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run with -update)", err)
	}
	if got != string(want) {
		t.Errorf("demo --dhcp report differs from %s:\n--- got\n%s\n--- want\n%s", golden, got, want)
	}
}

// TestSendFetchDHCP: --dhcp on send and fetch leases the board's address,
// takes DNS and NTP from the lease and resolves --server by name.
func TestSendFetchDHCP(t *testing.T) {
	for _, args := range [][]string{
		{"send", "--dhcp", "--server", "mail.simboard.test", "--user", "board", "--from", "board@simboard.test", "--to", "rcpt1@simboard.test"},
		{"fetch", "--dhcp", "--user", "rcpt1"},
	} {
		t.Run(args[0], func(t *testing.T) {
			stdout, stderr, code := netbootRun(t, "hello from a leased board\n", args...)
			if code != 0 {
				t.Fatalf("simboard %v: exit %d\nstdout:\n%s\nstderr:\n%s", args, code, stdout, stderr)
			}
			for _, want := range []string{"dhcp: leased 198.51.100.100/24 from 198.51.100.1", "dns 198.51.100.1, ntp 198.51.100.1", "from NTP server 198.51.100.1"} {
				if !strings.Contains(stderr, want) {
					t.Errorf("stderr lacks %q:\n%s", want, stderr)
				}
			}
		})
	}
}

// netbootRun runs the binary with stdin and the password in the environment.
func netbootRun(t *testing.T, stdin string, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Env = append(os.Environ(), "SIMBOARD_PASSWORD=pw")
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		return out.String(), errb.String(), ee.ExitCode()
	} else if err != nil {
		t.Fatalf("run simboard %v: %v", args, err)
	}
	return out.String(), errb.String(), 0
}
