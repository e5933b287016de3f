package cli

import (
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

var updateCompare = flag.Bool("update-compare-netx", false, "rewrite testdata/compare_netx.golden")

// compareBody has a line starting with '.', a line ending in a bare LF and a
// 1200-octet line: three things NetX Duo's SMTP client sends unrepaired.
func compareBody() string {
	return "status report\r\n.shutdown at 12:00\r\nbare LF here\nnext line\r\n" + strings.Repeat("x", 1200) + "\r\nend\r\n"
}

// peakRE masks the measured pool peaks, which depend on when the peer's
// acknowledgements arrive.
var peakRE = regexp.MustCompile(`(?m)^(  (?:default|netx) +)\d+ of`)

// timesRE masks the wall time of the "simulated X s in Y s" lines.
var timesRE = regexp.MustCompile(` in \d+\.\d\d s\b`)

// TestSendCompareNetX: `simboard send --compare-netx` with a body holding a
// dot line, a bare LF and a 1200-octet line prints each corrupted line with
// its number, the differing statuses (the default profile refuses the long
// line, ProfileNetX sends it), the wire bytes and stored message that differ,
// and both pool peaks (golden, the peaks masked); --json carries the same.
func TestSendCompareNetX(t *testing.T) {
	body := filepath.Join(t.TempDir(), "body.txt")
	if err := os.WriteFile(body, []byte(compareBody()), 0o600); err != nil {
		t.Fatal(err)
	}
	stdout, stderr, code := simboard(t, nil, "send", "--compare-netx", "--to", "rcpt1@simboard.test", "--body", body)
	if code != 0 {
		t.Fatalf("send --compare-netx: exit %d\n%s\n%s", code, stdout, stderr)
	}
	for _, want := range []string{
		"line 2 starts with '.': NetX sends it unstuffed and the server drops the dot",
		"line 3 ends with a bare LF",
		"line 5 is 1200 octets long",
	} {
		if !strings.Contains(stdout, want) {
			t.Errorf("output lacks %q", want)
		}
	}
	got := peakRE.ReplaceAllString(stdout, "${1}N of")
	got = timesRE.ReplaceAllString(got, " in N s")
	got = strings.ReplaceAll(got, body, "BODY")
	path := filepath.Join("testdata", "compare_netx.golden")
	if *updateCompare {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update-compare-netx to create it)", err)
	}
	if got != string(want) {
		t.Errorf("send --compare-netx output differs from %s:\n--- got\n%s--- want\n%s", path, got, want)
	}

	stdout, stderr, code = simboard(t, nil, "send", "--compare-netx", "--json", "--to", "rcpt1@simboard.test", "--body", body)
	if code != 0 {
		t.Fatalf("send --compare-netx --json: exit %d\n%s\n%s", code, stdout, stderr)
	}
	var rep struct {
		BodyIssues []struct {
			Line int    `json:"line"`
			Kind string `json:"kind"`
		} `json:"body_issues"`
		Default, NetX struct {
			Status   uint32 `json:"status"`
			Accepted bool   `json:"accepted"`
			PoolPeak int    `json:"pool_peak"`
		}
		StatusDiffers bool   `json:"status_differs"`
		Transfers     string `json:"pool_figures_transfer"`
		WireDiff      []any  `json:"wire_diff"`
	}
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
		t.Fatalf("--json output: %v\n%s", err, stdout)
	}
	var kinds []string
	for _, b := range rep.BodyIssues {
		kinds = append(kinds, b.Kind)
	}
	if strings.Join(kinds, ",") != "leading-dot,bare-lf,long-line,final-crlf" {
		t.Errorf("body issues = %v", kinds)
	}
	if rep.Default.Status != 0xA5 || rep.NetX.Status != 0 || !rep.NetX.Accepted || !rep.StatusDiffers {
		t.Errorf("statuses: default 0x%02X, netx 0x%02X (accepted %v), differ %v; want 0xA5 and 0x00", rep.Default.Status, rep.NetX.Status, rep.NetX.Accepted, rep.StatusDiffers)
	}
	if rep.NetX.PoolPeak < 1 || rep.Transfers != "netx" || len(rep.WireDiff) == 0 {
		t.Errorf("netx pool peak %d, transfer %q, %d wire differences", rep.NetX.PoolPeak, rep.Transfers, len(rep.WireDiff))
	}
}

// TestDemoCompareNetX: `simboard demo --compare-netx` compares the demo mail
// (dot lines every seventh line) and says whose pool figures transfer.
func TestDemoCompareNetX(t *testing.T) {
	stdout, stderr, code := simboard(t, nil, "demo", "--compare-netx", "--body-size", "4096")
	if code != 0 {
		t.Fatalf("demo --compare-netx: exit %d\n%s\n%s", code, stdout, stderr)
	}
	for _, want := range []string{"line 4 starts with '.': NetX sends it unstuffed and the server drops the dot",
		"transfers to a NetX Duo build", "does not transfer to a NetX Duo build", "the statuses are the same"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("demo --compare-netx output lacks %q:\n%s", want, stdout)
		}
	}
}
