package cli

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestFleet: `simboard fleet` runs N boards against one mail host, reports
// every mail delivered and fetched back, and exits 0; --json gives the same
// counts; a bad --boards is a usage error (exit 2) before any board boots.
func TestFleet(t *testing.T) {
	stdout, stderr, code := simboard(t, nil, "fleet", "--boards", "30", "--concurrency", "-1")
	if code != 0 || !strings.Contains(stdout, "delivered 30, fetched back byte-exact 30, failed 0") ||
		!strings.Contains(stdout, "unbalanced 0") || !strings.Contains(stdout, "peak RSS") {
		t.Fatalf("simboard fleet --boards 30 = exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	stdout, stderr, code = simboard(t, nil, "fleet", "--boards", "5", "--json")
	var rep struct{ Boards, Delivered, Fetched, Failed int }
	if err := json.Unmarshal([]byte(stdout), &rep); code != 0 || err != nil || rep.Boards != 5 || rep.Delivered != 5 || rep.Fetched != 5 || rep.Failed != 0 {
		t.Fatalf("simboard fleet --boards 5 --json = exit %d, %+v (%v)\nstdout:\n%s\nstderr:\n%s", code, rep, err, stdout, stderr)
	}
	for _, args := range [][]string{{"--boards", "0"}, {"--concurrency", "0"}, {"--pool-packets", "1"}} {
		_, stderr, code := simboard(t, nil, append([]string{"fleet"}, args...)...)
		if code != 2 || !strings.Contains(stderr, args[0]) {
			t.Errorf("simboard fleet %v = exit %d, stderr %q; want 2 naming %s", args, code, stderr, args[0])
		}
	}
}
