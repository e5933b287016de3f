package cli

import (
	"regexp"
	"strings"
	"testing"
)

// TestServerByNameDNSNTP: send and fetch with --server NAME resolve it with
// the board's DNS client (the built-in host serves the zone on the Wire) and
// --ntp takes the time from the built-in host's NTP server first.
func TestServerByNameDNSNTP(t *testing.T) {
	env := []string{"SIMBOARD_PASSWORD=name-secret"}
	stdout, stderr, code := simboard(t, env, "send", "--server", "mail.simboard.test", "--ntp", "198.51.100.1",
		"--user", "alice", "--to", "bob@simboard.test", "--tls", "required")
	if code != 0 {
		t.Fatalf("send --server mail.simboard.test: exit %d\n%s\n%s", code, stdout, stderr)
	}
	if !strings.Contains(stderr, "resolved mail.simboard.test to 198.51.100.1 via DNS server 198.51.100.1") {
		t.Errorf("stderr does not report the DNS resolution:\n%s", stderr)
	}
	if !regexp.MustCompile(`time: \S+ from NTP server 198\.51\.100\.1 \(stratum 1, offset `).MatchString(stderr) {
		t.Errorf("stderr does not report the NTP update:\n%s", stderr)
	}
	if !strings.Contains(stdout, "via 198.51.100.1:587") {
		t.Errorf("send did not go to the resolved address: %s", stdout)
	}

	stdout, stderr, code = simboard(t, env, "fetch", "--server", "mail.simboard.test.", "--user", "alice", "--tls", "implicit")
	if code != 0 || !strings.Contains(stderr, "resolved mail.simboard.test to 198.51.100.1") || !strings.Contains(stdout, "fetched 1 message(s)") {
		t.Fatalf("fetch --server mail.simboard.test.: exit %d\n%s\n%s", code, stdout, stderr)
	}
}

func TestServerNameUsage(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"send", "--to", "a@b.test", "--tap", "tap0", "--server", "mx.example.test"}, "--dns ADDR"},
		{[]string{"send", "--to", "a@b.test", "--server", "not a name"}, "bad --server"},
		{[]string{"send", "--to", "a@b.test", "--dns", "dns.example"}, "bad --dns"},
		{[]string{"fetch", "--user", "u", "--ntp", "pool.ntp.org"}, "bad --ntp"},
	} {
		stdout, stderr, code := simboard(t, nil, tc.args...)
		if code != 2 || !strings.Contains(stderr, tc.want) {
			t.Errorf("simboard %v: exit %d, stderr %q; want exit 2 naming %q (stdout %q)", tc.args, code, stderr, tc.want, stdout)
		}
	}
}
