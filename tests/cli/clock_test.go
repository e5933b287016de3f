package cli

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
)

// TestDemoClockVirtual: `demo --clock virtual` runs the whole demo on the
// simulated clock: with a 1 s one-way delay the mail still verifies, and the
// run ends with "simulated X s in Y s" where X counts the delays (dozens of
// 2 s round trips). Lossy and TLS runs verify too.
func TestDemoClockVirtual(t *testing.T) {
	for _, tc := range []struct {
		name   string
		args   []string
		minSim float64
	}{
		{"delay1s", []string{"--delay", "1s"}, 20},
		{"loss5-tls", []string{"--loss", "0.05", "--delay", "20ms", "--tls", "required", "--seed", "7"}, 0.1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pcap := filepath.Join(t.TempDir(), "demo.pcap")
			stdout, stderr, code := simboard(t, nil, append([]string{"demo", "--clock", "virtual", "--pcap", pcap}, tc.args...)...)
			if code != 0 {
				t.Fatalf("simboard demo --clock virtual %v: exit %d\nstdout:\n%s\nstderr:\n%s", tc.args, code, stdout, stderr)
			}
			for _, want := range []string{"byte-exact", "invalid releases 0", "result: OK"} {
				if !strings.Contains(stdout, want) {
					t.Errorf("demo output lacks %q:\n%s", want, stdout)
				}
			}
			i := strings.LastIndex(stdout, "simulated ")
			if i < 0 {
				t.Fatalf("demo output lacks \"simulated X s in Y s\":\n%s", stdout)
			}
			var sim, wall float64
			if _, err := fmt.Sscanf(stdout[i:], "simulated %f s in %f s", &sim, &wall); err != nil {
				t.Fatalf("parse %q: %v", stdout[i:], err)
			}
			if sim < tc.minSim {
				t.Errorf("simulated %.1f s, want >= %.1f", sim, tc.minSim)
			}
			t.Logf("simulated %.1f s in %.2f s", sim, wall)
		})
	}
}

func TestDemoClockUsage(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"demo", "--clock", "bogus"}, `--clock "bogus": use real or virtual`},
		{[]string{"demo", "--clock", "virtual", "--dhcp"}, "--clock virtual does not support --dhcp"},
		{[]string{"demo", "--clock", "virtual", "--compare-netx"}, "--clock virtual does not support --compare-netx"},
	} {
		stdout, stderr, code := simboard(t, nil, tc.args...)
		if code != 2 || !strings.Contains(stdout+stderr, tc.want) {
			t.Errorf("simboard %v: exit %d, output %q; want exit 2 mentioning %q", tc.args, code, stdout+stderr, tc.want)
		}
	}
}
