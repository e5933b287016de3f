// Package cli runs the simboard program as a user would: built once, run as
// a subprocess, its output and exit status checked. Everything runs on the
// in-memory Wire, so no root, TAP or network is needed.
package cli

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

var binary string

func TestMain(m *testing.M) {
	// SIMBOARD_CLI_BINARY runs the tests against another build (e.g. an
	// older main, to show a test fails there).
	if b := os.Getenv("SIMBOARD_CLI_BINARY"); b != "" {
		binary = b
		os.Exit(m.Run())
	}
	dir, err := os.MkdirTemp("", "simboard-cli-")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "simboard")
	build := exec.Command("go", "build", "-o", binary, "github.com/simboard/simboard/cmd/simboard")
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		os.RemoveAll(dir)
		panic("go build ./cmd/simboard: " + err.Error())
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// simboard runs the binary and returns stdout, stderr and the exit status.
func simboard(t *testing.T, env []string, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Env = append(os.Environ(), env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("run simboard %v: %v", args, err)
	}
	return out.String(), errb.String(), code
}

func TestDemo(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
	}{
		// Virtual time (the default).
		{"clean", nil},
		{"loss5", []string{"--loss", "0.05", "--seed", "3"}},
		{"starttls-3rcpt-login", []string{"--tls", "required", "--recipients", "3", "--auth", "login"}},
		{"implicit-cram-ipv6", []string{"--tls", "implicit", "--auth", "cram-md5", "--ipv6"}},
		// The host's clock, the default body.
		{"real-clean", []string{"--clock", "real"}},
		{"real-starttls-3rcpt-login", []string{"--clock", "real", "--tls", "required", "--recipients", "3", "--auth", "login"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pcap := filepath.Join(t.TempDir(), "demo.pcap")
			stdout, stderr, code := simboard(t, nil, append([]string{"demo", "--pcap", pcap}, tc.args...)...)
			if code != 0 {
				t.Fatalf("simboard demo %v: exit %d\nstdout:\n%s\nstderr:\n%s", tc.args, code, stdout, stderr)
			}
			for _, want := range []string{"smtp send", "pop3 fetch", "byte-exact", "free now 64/64", "invalid releases 0", "result: OK", pcap} {
				if !strings.Contains(stdout, want) {
					t.Errorf("demo output lacks %q:\n%s", want, stdout)
				}
			}
			if st, err := os.Stat(pcap); err != nil || st.Size() < 1000 {
				t.Errorf("pcap %s: %v (size %v)", pcap, err, st)
			}
		})
	}
}

func TestDemoJSONAndTrace(t *testing.T) {
	pcap := filepath.Join(t.TempDir(), "demo.pcap")
	stdout, stderr, code := simboard(t, nil, "demo", "--json", "--pcap", pcap, "--body-size", "5000")
	if code != 0 {
		t.Fatalf("demo --json: exit %d: %s", code, stderr)
	}
	var rep struct {
		Verified bool `json:"verified"`
		Pools    []struct {
			Total, Free, InvalidReleases int
		} `json:"pools"`
	}
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
		t.Fatalf("demo --json is not JSON: %v\n%s", err, stdout)
	}
	if !rep.Verified || len(rep.Pools) != 2 {
		t.Fatalf("demo --json = %+v, want verified with 2 pools", rep)
	}
	// trace reads the demo's own pcap and shows the dialogue, without the password.
	out, stderr, code := simboard(t, nil, "trace", pcap)
	if code != 0 {
		t.Fatalf("trace: exit %d: %s", code, stderr)
	}
	for _, want := range []string{"C> EHLO board.simboard.test", "S< 220", "C> AUTH PLAIN", "C> MAIL FROM:<board@simboard.test>",
		"C> RCPT TO:<rcpt1@simboard.test>", "C> DATA", "S< 250", "C> QUIT", "C> APOP rcpt1", "C> RETR 1", "C> DELE 1", "[redacted]"} {
		if !strings.Contains(out, want) {
			t.Errorf("trace output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "board-secret") || strings.Contains(out, "Ym9hcmQAYm9hcmQAYm9hcmQtc2VjcmV0") {
		t.Errorf("trace output leaks the AUTH credentials:\n%s", out)
	}
	jout, _, code := simboard(t, nil, "trace", "--json", pcap)
	if code != 0 || !json.Valid([]byte(jout)) {
		t.Errorf("trace --json: exit %d, valid JSON %v", code, json.Valid([]byte(jout)))
	}
}

func TestSendAndFetchOnWire(t *testing.T) {
	env := []string{"SIMBOARD_PASSWORD=wire-secret"}
	body := filepath.Join(t.TempDir(), "body.txt")
	if err := os.WriteFile(body, []byte("first line\n.leading dot\nlast line\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	stdout, stderr, code := simboard(t, env, "send", "--user", "alice", "--to", "bob@simboard.test,carol@simboard.test",
		"--bcc", "dave@simboard.test", "--subject", "cli test", "--body", body, "--tls", "required", "--json")
	if code != 0 {
		t.Fatalf("send: exit %d\n%s\n%s", code, stdout, stderr)
	}
	var res struct {
		Accepted   bool `json:"accepted"`
		Recipients int  `json:"recipients"`
		TLS        bool `json:"tls"`
	}
	if err := json.Unmarshal([]byte(stdout), &res); err != nil || !res.Accepted || res.Recipients != 3 || !res.TLS {
		t.Fatalf("send --json = %s (%v), want accepted over TLS to 3 recipients", stdout, err)
	}
	out := t.TempDir()
	stdout, stderr, code = simboard(t, env, "fetch", "--user", "alice", "--out", out, "--delete", "--tls", "implicit")
	if code != 0 {
		t.Fatalf("fetch: exit %d\n%s\n%s", code, stdout, stderr)
	}
	if !strings.Contains(stdout, "fetched 1 message(s)") || !strings.Contains(stdout, "login APOP") {
		t.Errorf("fetch output = %q", stdout)
	}
	files, _ := filepath.Glob(filepath.Join(out, "*.eml"))
	if len(files) != 1 {
		t.Fatalf("fetch --out wrote %d files, want 1", len(files))
	}
	if b, _ := os.ReadFile(files[0]); !bytes.Contains(b, []byte("A message the built-in mail host held for you.")) {
		t.Errorf("fetched file = %q", b)
	}
}

// TestSendBDAT: --bdat sends the message in BDAT chunks, as the transcript
// on stderr shows, and the built-in mail host accepts it.
func TestSendBDAT(t *testing.T) {
	env := []string{"SIMBOARD_PASSWORD=wire-secret"}
	stdout, stderr, code := simboard(t, env, "send", "--user", "alice", "--to", "bob@simboard.test",
		"--subject", "bdat", "--tls", "off", "--bdat", "--transcript", "--json")
	if code != 0 {
		t.Fatalf("send --bdat: exit %d\n%s\n%s", code, stdout, stderr)
	}
	var res struct {
		Accepted bool `json:"accepted"`
	}
	if err := json.Unmarshal([]byte(stdout), &res); err != nil || !res.Accepted {
		t.Fatalf("send --bdat --json = %s (%v), want accepted", stdout, err)
	}
	if !strings.Contains(stderr, "C: BDAT ") || strings.Contains(stderr, "C: DATA") {
		t.Errorf("transcript has no BDAT chunk, or a DATA:\n%s", stderr)
	}
}

func TestUsageErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"bogus"}, 2, "unknown command"},
		{[]string{"demo", "--loss", "2"}, 2, "--loss 2 must be in [0, 1)"},
		{[]string{"demo", "--auth", "kerberos"}, 2, "unknown --auth"},
		{[]string{"send"}, 2, "--to is required"},
		{[]string{"trace"}, 2, "missing argument"},
		{[]string{"trace", "/nonexistent.pcap"}, 1, "no such file"},
		{[]string{"tap", "--host", "192.0.2.1/24"}, 2, "192.0.2.0/24"},
		{[]string{"demo", "--help"}, 0, "-body-size"},
	} {
		stdout, stderr, code := simboard(t, nil, tc.args...)
		if code != tc.code || !strings.Contains(stdout+stderr, tc.want) {
			t.Errorf("simboard %v: exit %d, output %q; want exit %d mentioning %q", tc.args, code, stdout+stderr, tc.code, tc.want)
		}
	}
}

func TestTapPrintsPlan(t *testing.T) {
	stdout, stderr, code := simboard(t, []string{"USER=firmware"}, "tap", "--name", "tap7")
	if code != 0 {
		t.Fatalf("tap: exit %d: %s", code, stderr)
	}
	for _, want := range []string{"ip tuntap add dev tap7 mode tap user", "198.51.100.1/24", "ip link set tap7 up"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("tap output lacks %q:\n%s", want, stdout)
		}
	}
}
