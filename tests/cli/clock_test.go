package cli

import (
	"crypto/sha256"
	pcapbin "encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// Virtual time is the default on the Wire: these tests run the binary as a
// user would and keep bodies small, so each run costs a fraction of a
// second of wall time.

var (
	simLineRE  = regexp.MustCompile(`(?m)^(?:scenario .*: )?simulated (\d+\.\d+) s in (\d+\.\d\d) s$`)
	realLineRE = regexp.MustCompile(`(?m)^real time: (\d+\.\d) s$`)
	reproRE    = regexp.MustCompile(`(?m)^reproduce: (simboard .*)$`)
)

// simulated returns the simulated seconds of a "simulated X s in Y s" line
// in out, failing the test when there is none.
func simulated(t *testing.T, out string) float64 {
	t.Helper()
	m := simLineRE.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no \"simulated X s in Y s\" line in:\n%s", out)
	}
	var s float64
	fmt.Sscan(m[1], &s)
	return s
}

// reproduceLine returns the command of out's "reproduce:" line.
func reproduceLine(t *testing.T, out string) string {
	t.Helper()
	m := reproRE.FindAllStringSubmatch(out, -1)
	if len(m) != 1 {
		t.Fatalf("want one \"reproduce:\" line, got %d in:\n%s", len(m), out)
	}
	return m[0][1]
}

// shellWords splits a reproduce line as a POSIX shell does (it quotes with
// single quotes only; a quote is closed, escaped with a backslash and reopened).
func shellWords(t *testing.T, s string) []string {
	t.Helper()
	var words []string
	var cur strings.Builder
	in, have := false, false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\'':
			in, have = !in, true
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

func sha(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// frames lists a pcap's records as "seconds.micros length" lines: when and
// how big every frame was, not what it held.
func frames(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil || len(b) < 24 {
		t.Fatalf("pcap %s: %v (%d bytes)", path, err, len(b))
	}
	var out strings.Builder
	for p := b[24:]; len(p) >= 16; {
		sec, usec := pcapbin.LittleEndian.Uint32(p[0:4]), pcapbin.LittleEndian.Uint32(p[4:8])
		n := int(pcapbin.LittleEndian.Uint32(p[8:12]))
		fmt.Fprintf(&out, "%d.%06d %d\n", sec, usec, pcapbin.LittleEndian.Uint32(p[12:16]))
		if len(p) < 16+n {
			t.Fatalf("pcap %s: truncated record", path)
		}
		p = p[16+n:]
	}
	return out.String()
}

// TestClockDefault: demo, send, fetch and run on the Wire are in virtual
// time without --clock, and say so with "simulated X s in Y s" and a
// reproduce line naming --clock virtual and the seed used; --clock real
// (and send --body -, stdin being real time) print "real time: X s".
func TestClockDefault(t *testing.T) {
	dir := t.TempDir()
	pcap := filepath.Join(dir, "d.pcap")
	env := []string{"SIMBOARD_PASSWORD=pw"}
	for _, tc := range []struct {
		name    string
		args    []string
		virtual bool
		repro   string
	}{
		{"demo", []string{"demo", "--body-size", "2000", "--pcap", pcap}, true,
			"simboard demo --clock virtual --seed 1 --body-size 2000 --pcap " + pcap},
		{"demo-real", []string{"demo", "--clock", "real", "--body-size", "2000", "--pcap", pcap}, false,
			"simboard demo --clock real --seed 1 --body-size 2000 --pcap " + pcap},
		{"send", []string{"send", "--to", "bob@simboard.test", "--user", "alice"}, true,
			"simboard send --clock virtual --seed 1 --to bob@simboard.test --user alice"},
		{"send-real", []string{"send", "--clock", "real", "--seed", "3", "--to", "bob@simboard.test"}, false,
			"simboard send --clock real --seed 3 --to bob@simboard.test"},
		{"fetch", []string{"fetch", "--user", "alice", "--tls", "implicit"}, true,
			"simboard fetch --clock virtual --seed 1 --user alice --tls implicit"},
		{"run", []string{"run", "../../examples/scenarios/cable-pull.toml"}, true,
			"simboard run --clock virtual ../../examples/scenarios/cable-pull.toml"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			stdout, stderr, code := simboard(t, env, tc.args...)
			if code != 0 {
				t.Fatalf("simboard %v: exit %d\nstdout:\n%s\nstderr:\n%s", tc.args, code, stdout, stderr)
			}
			if tc.virtual {
				simulated(t, stdout)
			} else if !realLineRE.MatchString(stdout) {
				t.Errorf("simboard %v: no \"real time: X s\" line:\n%s", tc.args, stdout)
			}
			if got := reproduceLine(t, stdout); got != tc.repro {
				t.Errorf("simboard %v: reproduce line\n  %s\nwant\n  %s", tc.args, got, tc.repro)
			}
		})
	}
	t.Run("send-stdin", func(t *testing.T) {
		cmd, stdin, lines, stdout := start(t, nil, "send", "--to", "bob@simboard.test", "--body", "-")
		stdin.Write([]byte("a body from stdin\r\n"))
		stdin.Close()
		go drain(lines)
		if code := exitCode(t, cmd.Wait()); code != 0 || !realLineRE.MatchString(stdout.String()) {
			t.Errorf("send --body -: exit %d, want 0 and a real-time line:\n%s", code, stdout)
		}
	})
}

// TestClockUsage: a bad --clock and --clock virtual with a TAP (--tap,
// --uplink) exit 2 before any traffic and say why.
func TestClockUsage(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{[]string{"demo", "--clock", "bogus"}, []string{`--clock "bogus": use real or virtual`}},
		{[]string{"send", "--to", "a@simboard.test", "--clock", "fast"}, []string{`--clock "fast"`}},
		{[]string{"fetch", "--user", "alice", "--clock", "1"}, []string{`--clock "1"`}},
		{[]string{"run", "--clock", "sim", "../../examples/scenarios/cable-pull.toml"}, []string{`--clock "sim"`}},
		{[]string{"send", "--to", "a@simboard.test", "--tap", "tap7", "--clock", "virtual"},
			[]string{"--clock virtual cannot run with --tap tap7", "real time", "drop --clock virtual"}},
		{[]string{"fetch", "--user", "alice", "--tap", "tap7", "--clock", "virtual"},
			[]string{"--clock virtual cannot run with --tap tap7", "host's kernel in real time"}},
		{[]string{"send", "--to", "a@simboard.test", "--tap", "tap7", "--clock", "virtual", "--compare-netx"},
			[]string{"--clock virtual cannot run with --tap tap7"}},
		{[]string{"fleet", "--boards", "2", "--uplink", "tap7", "--clock", "virtual"},
			[]string{"--clock virtual cannot run with --uplink tap7", "real time"}},
		{[]string{"fleet", "--boards", "2", "--clock", "later"}, []string{`--clock "later"`}},
	} {
		pcap := filepath.Join(t.TempDir(), "x.pcap")
		args := tc.args
		if args[0] == "demo" || args[0] == "send" || args[0] == "fetch" {
			args = append([]string{args[0], "--pcap", pcap}, args[1:]...)
		}
		stdout, stderr, code := simboard(t, []string{"SIMBOARD_PASSWORD=pw"}, args...)
		if code != 2 {
			t.Errorf("simboard %v: exit %d, want 2\n%s%s", args, code, stdout, stderr)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(stderr, w) {
				t.Errorf("simboard %v: stderr %q lacks %q", args, stderr, w)
			}
		}
		if stdout != "" {
			t.Errorf("simboard %v: stdout %q, want nothing", args, stdout)
		}
		if _, err := os.Stat(pcap); err == nil {
			t.Errorf("simboard %v wrote a pcap: traffic before the usage check", args)
		}
	}
}

// TestClockHelp: --clock is documented on demo, send, fetch, run and fleet
// (fleet says why its default is real time).
func TestClockHelp(t *testing.T) {
	for _, cmd := range []string{"demo", "send", "fetch", "run", "fleet"} {
		stdout, _, code := simboard(t, nil, cmd, "--help")
		if code != 0 || !strings.Contains(stdout, "--clock CLOCK") {
			t.Errorf("simboard %s --help: exit %d, no --clock CLOCK:\n%s", cmd, code, stdout)
		}
		if cmd == "fleet" && !strings.Contains(stdout, "real (the default for a fleet)") {
			t.Errorf("simboard fleet --help does not say its default is real time:\n%s", stdout)
		}
	}
}

// TestDemoImpairmentUsage: --reorder, --duplicate and --jitter are checked
// like --loss and --delay: NaN, negative or above 1, and a negative
// duration exit 2 naming the flag, before any traffic.
func TestDemoImpairmentUsage(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--reorder", "NaN"}, "--reorder NaN"},
		{[]string{"--reorder", "-0.1"}, "--reorder -0.1"},
		{[]string{"--reorder", "1.5"}, "--reorder 1.5"},
		{[]string{"--duplicate", "NaN"}, "--duplicate NaN"},
		{[]string{"--duplicate", "-1"}, "--duplicate -1"},
		{[]string{"--duplicate", "2"}, "--duplicate 2"},
		{[]string{"--jitter", "-5ms"}, "--jitter -5ms"},
		{[]string{"--jitter", "soon"}, `invalid value "soon" for flag --jitter`},
	} {
		pcap := filepath.Join(t.TempDir(), "x.pcap")
		args := append([]string{"demo", "--pcap", pcap}, tc.args...)
		stdout, stderr, code := simboard(t, nil, args...)
		if code != 2 || !strings.Contains(stderr, tc.want) || stdout != "" {
			t.Errorf("simboard %v: exit %d, stderr %q, stdout %q; want exit 2 naming %q", args, code, stderr, stdout, tc.want)
		}
		if _, err := os.Stat(pcap); err == nil {
			t.Errorf("simboard %v wrote a pcap: traffic before the usage check", args)
		}
	}
}

// demoJSON is the part of demo --json these tests read.
type demoJSON struct {
	Verified  bool     `json:"verified"`
	Clock     string   `json:"clock"`
	Simulated *float64 `json:"simulated_s"`
	Wall      *float64 `json:"wall_s"`
	Reproduce string   `json:"reproduce"`
	Port      struct {
		Duplicated, Reordered uint64
		Drops                 struct{ Loss uint64 }
	} `json:"wire_port"`
	Stages []struct {
		Name string  `json:"name"`
		Ms   float64 `json:"ms"`
	} `json:"stages"`
}

// TestDemoImpairments: --reorder, --duplicate and --jitter reach the Wire
// (the board's port counts reordered and duplicated frames) and the mail
// still verifies; with --json the clock, simulated and wall seconds and the
// reproduce line are fields, and stdout holds nothing but the JSON.
func TestDemoImpairments(t *testing.T) {
	pcap := filepath.Join(t.TempDir(), "d.pcap")
	args := []string{"demo", "--json", "--seed", "5", "--reorder", "0.2", "--duplicate", "0.1", "--jitter", "2ms", "--delay", "5ms",
		"--body-size", "20000", "--pcap", pcap}
	stdout, stderr, code := simboard(t, nil, args...)
	if code != 0 {
		t.Fatalf("simboard %v: exit %d\n%s\n%s", args, code, stdout, stderr)
	}
	var rep demoJSON
	dec := json.NewDecoder(strings.NewReader(stdout))
	if err := dec.Decode(&rep); err != nil {
		t.Fatalf("stdout is not JSON: %v\n%s", err, stdout)
	}
	if dec.More() {
		t.Errorf("stdout holds more than the JSON report:\n%s", stdout)
	}
	if !rep.Verified || rep.Port.Reordered == 0 || rep.Port.Duplicated == 0 {
		t.Errorf("verified %v, reordered %d, duplicated %d: want a verified mail with reordered and duplicated frames",
			rep.Verified, rep.Port.Reordered, rep.Port.Duplicated)
	}
	if rep.Clock != "virtual" || rep.Simulated == nil || *rep.Simulated <= 0 || rep.Wall == nil {
		t.Errorf("clock %q simulated_s %v wall_s %v: want virtual with both figures (5 ms delays take simulated time)", rep.Clock, rep.Simulated, rep.Wall)
	}
	want := "simboard demo --clock virtual --seed 5 --reorder 0.2 --duplicate 0.1 --jitter 2ms --delay 5ms --body-size 20000 --pcap " + pcap
	if rep.Reproduce != want {
		t.Errorf("reproduce %q, want %q", rep.Reproduce, want)
	}
	if strings.Contains(stdout, "reproduce: ") || simLineRE.MatchString(stdout) {
		t.Errorf("--json stdout also holds the text lines:\n%s", stdout)
	}
}

// TestJSONClockFields: send and fetch --json (virtual and real) carry the
// clock, the simulated and wall seconds and the reproduce line as fields.
func TestJSONClockFields(t *testing.T) {
	env := []string{"SIMBOARD_PASSWORD=pw"}
	for _, tc := range []struct {
		args    []string
		virtual bool
	}{
		{[]string{"send", "--json", "--to", "bob@simboard.test"}, true},
		{[]string{"fetch", "--json", "--user", "alice"}, true},
		{[]string{"fetch", "--json", "--user", "alice", "--clock", "real"}, false},
		{[]string{"demo", "--json", "--clock", "real", "--body-size", "1000", "--pcap", filepath.Join(t.TempDir(), "r.pcap")}, false},
	} {
		stdout, stderr, code := simboard(t, env, tc.args...)
		if code != 0 {
			t.Fatalf("simboard %v: exit %d\n%s\n%s", tc.args, code, stdout, stderr)
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(stdout), &m); err != nil {
			t.Fatalf("simboard %v: stdout is not one JSON value: %v\n%s", tc.args, err, stdout)
		}
		clock, _ := m["clock"].(string)
		_, hasWall := m["wall_s"].(float64)
		sim, hasSim := m["simulated_s"].(float64)
		repro, _ := m["reproduce"].(string)
		want := map[bool]string{true: "virtual", false: "real"}[tc.virtual]
		if clock != want || !hasWall || hasSim != tc.virtual || sim < 0 || !strings.HasPrefix(repro, "simboard "+tc.args[0]+" --clock "+want+" --seed 1") {
			t.Errorf("simboard %v: clock %q wall %v simulated %v (%v) reproduce %q", tc.args, clock, hasWall, hasSim, sim, repro)
		}
	}
}

// TestReproduceRunsAgain: the printed reproduce line, run as printed,
// writes the same pcap byte for byte (sha256), also when --seed was not
// given (the line names the seed used): the Wire's impairments, TCP's
// sequence numbers and ports, the clients' and the mail host's choices all
// come from the seed in virtual time. Under TLS the frames repeat (times
// and sizes) but not the bytes inside TLS records (Go's crypto/tls draws
// key shares from the system).
func TestReproduceRunsAgain(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		tls  bool
	}{
		{"lossy", []string{"--seed", "7", "--loss", "0.05", "--reorder", "0.02", "--delay", "20ms", "--body-size", "30000"}, false},
		{"no-seed", []string{"--delay", "3ms", "--duplicate", "0.05", "--jitter", "1ms", "--body-size", "5000", "--recipients", "2"}, false},
		{"starttls", []string{"--seed", "7", "--tls", "required", "--loss", "0.05", "--reorder", "0.02", "--delay", "20ms", "--body-size", "20000"}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pcap := filepath.Join(t.TempDir(), "first.pcap")
			args := append(append([]string{"demo"}, tc.args...), "--pcap", pcap)
			stdout, stderr, code := simboard(t, nil, args...)
			if code != 0 {
				t.Fatalf("simboard %v: exit %d\n%s\n%s", args, code, stdout, stderr)
			}
			first, firstFrames := sha(t, pcap), frames(t, pcap)
			line := reproduceLine(t, stdout)
			if !strings.Contains(line, " --seed ") || !strings.Contains(line, " --pcap "+pcap) {
				t.Fatalf("reproduce line %q lacks the seed or the pcap path as given", line)
			}
			words := shellWords(t, line)
			if words[0] != "simboard" {
				t.Fatalf("reproduce line %q", line)
			}
			os.Remove(pcap)
			stdout2, stderr2, code := simboard(t, nil, words[1:]...)
			if code != 0 {
				t.Fatalf("%s: exit %d\n%s\n%s", line, code, stdout2, stderr2)
			}
			if got := reproduceLine(t, stdout2); got != line {
				t.Errorf("the reproduced run prints another reproduce line:\n  %s\nwant\n  %s", got, line)
			}
			if got := frames(t, pcap); got != firstFrames {
				t.Errorf("%s: the frames (times, sizes) differ from the first run's", line)
			}
			if again := sha(t, pcap); !tc.tls && again != first {
				t.Errorf("%s: pcap sha256 %s, first run %s: the run did not repeat", line, again, first)
			}
		})
	}
}

// TestFailedRunPrintsReproduce: a failed run (exit 1) prints its simulated
// time and reproduce line on stderr, and --timeout is simulated time: a
// mail host silent for 40 s before its greeting runs into --timeout 5s
// (before NetX's 10 s greeting wait) with the timeout named.
func TestFailedRunPrintsReproduce(t *testing.T) {
	pcap := filepath.Join(t.TempDir(), "d.pcap")
	args := []string{"demo", "--fault", "smtp.greeting=delay:40s", "--timeout", "5s", "--body-size", "1000", "--pcap", pcap}
	stdout, stderr, code := simboard(t, nil, args...)
	if code != 1 {
		t.Fatalf("simboard %v: exit %d, want 1\n%s\n%s", args, code, stdout, stderr)
	}
	if !strings.Contains(stderr, "--timeout 5s of simulated time reached") {
		t.Errorf("stderr does not name the simulated --timeout:\n%s", stderr)
	}
	if s := simulated(t, stderr); s < 4 || s > 5.5 {
		t.Errorf("simulated %.1f s, want about 5 (the --timeout)", s)
	}
	if got, want := reproduceLine(t, stderr), "simboard demo --clock virtual --seed 1 --fault smtp.greeting=delay:40s --timeout 5s --body-size 1000 --pcap "+pcap; got != want {
		t.Errorf("reproduce %q, want %q", got, want)
	}
}

// TestDemoOptionsVirtual: every demo option works in virtual time (the
// default): each run verifies its mail byte for byte and ends with the
// simulated line; the board's pools are balanced.
func TestDemoOptionsVirtual(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		want []string
	}{
		{"dhcp", []string{"--dhcp"}, []string{"dhcp ", "leased 198.51.100.", "dns ", "sntp "}},
		{"dhcp-ipv6", []string{"--dhcp", "--ipv6"}, []string{"2001:db8::1"}},
		{"recipients", []string{"--recipients", "3"}, []string{"3 mailbox(es)"}},
		{"body-size", []string{"--body-size", "200000", "--delay", "1ms"}, []string{"200000 body bytes"}},
		{"pool-memory", []string{"--pool-memory", "40000"}, []string{"NetX carve"}},
		{"rate", []string{"--rate", "1M"}, nil},
		{"pool-packets-payload", []string{"--pool-packets", "16", "--payload", "512"}, []string{"16 x 512 B"}},
		{"ipv6", []string{"--ipv6", "--log-level", "debug"}, []string{"mail host 2001:db8::1"}},
		{"auth-auto-tls-opportunistic", []string{"--auth", "auto", "--tls", "opportunistic"}, []string{"TLS true"}},
		{"auth-login-tls-required", []string{"--auth", "login", "--tls", "required"}, []string{"AUTH LOGIN", "port 587"}},
		{"auth-cram-tls-implicit", []string{"--auth", "cram-md5", "--tls", "implicit"}, []string{"AUTH CRAM-MD5", "port 465"}},
		{"auth-xoauth2", []string{"--auth", "xoauth2", "--tls", "required"}, []string{"AUTH XOAUTH2"}},
		{"auth-none", []string{"--auth", "none"}, nil},
		{"auth-plain-off", []string{"--auth", "plain", "--tls", "off"}, []string{"AUTH PLAIN", "TLS false"}},
		{"loss", []string{"--loss", "0.05", "--seed", "3", "--delay", "10ms"}, nil},
		{"fault-delay", []string{"--fault", "smtp.greeting=delay:4s"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pcap := filepath.Join(t.TempDir(), "d.pcap")
			args := append([]string{"demo", "--body-size", "3000", "--pcap", pcap}, tc.args...)
			stdout, stderr, code := simboard(t, nil, args...)
			if code != 0 {
				t.Fatalf("simboard %v: exit %d\nstdout:\n%s\nstderr:\n%s", args, code, stdout, stderr)
			}
			for _, w := range append([]string{"result: OK", "invalid releases 0", "byte-exact"}, tc.want...) {
				if !strings.Contains(stdout, w) {
					t.Errorf("simboard %v: output lacks %q:\n%s", args, w, stdout)
				}
			}
			s := simulated(t, stdout)
			if tc.name == "fault-delay" && s < 4 {
				t.Errorf("a 4 s greeting delay took %.1f s of simulated time", s)
			}
		})
	}
	t.Run("fault-greeting-timeout", func(t *testing.T) {
		// A mail host silent 40 s before its greeting: NetX's 10 s greeting
		// wait ends the mail with NetX's status, in simulated time.
		args := []string{"demo", "--body-size", "1000", "--pcap", filepath.Join(t.TempDir(), "d.pcap"), "--fault", "smtp.greeting=delay:40s"}
		stdout, stderr, code := simboard(t, nil, args...)
		if code != 1 || !strings.Contains(stderr, "greeting") || !regexp.MustCompile(`NX_\w+ \(0x[0-9A-F]+\)`).MatchString(stderr) {
			t.Fatalf("simboard %v: exit 1 naming the greeting and a NetX status\n%s\n%s", args, stdout, stderr)
		}
		if s := simulated(t, stderr); s < 10 {
			t.Errorf("simulated %.1f s, want at least NetX's 10 s greeting wait", s)
		}
		reproduceLine(t, stderr)
	})
	t.Run("compare-netx", func(t *testing.T) {
		args := []string{"demo", "--compare-netx", "--body-size", "3000", "--delay", "2ms", "--loss", "0.05", "--seed", "3"}
		stdout, stderr, code := simboard(t, nil, args...)
		if code != 0 {
			t.Fatalf("simboard %v: exit %d\n%s\n%s", args, code, stdout, stderr)
		}
		for _, re := range []string{`(?m)^  default  simulated \d+(\.\d+)? s in \d+\.\d\d s$`, `(?m)^  netx     simulated \d+(\.\d+)? s in \d+\.\d\d s$`} {
			if !regexp.MustCompile(re).MatchString(stdout) {
				t.Errorf("compare-netx output lacks %s:\n%s", re, stdout)
			}
		}
		for _, w := range []string{"status (what nx_smtp_mail_send returns)", "pool peak"} {
			if !strings.Contains(stdout, w) {
				t.Errorf("compare-netx output lacks %q", w)
			}
		}
		simulated(t, stdout)
		reproduceLine(t, stdout)
	})
}

// TestSendFetchVirtual: send and fetch on the Wire in virtual time with
// every network option: --server NAME with the board's DNS client, --ntp,
// --dhcp, --netx, TLS modes.
func TestSendFetchVirtual(t *testing.T) {
	env := []string{"SIMBOARD_PASSWORD=pw"}
	for _, args := range [][]string{
		{"send", "--server", "mail.simboard.test", "--ntp", "198.51.100.1", "--user", "alice", "--to", "bob@simboard.test", "--tls", "required"},
		{"send", "--dhcp", "--server", "mail.simboard.test", "--to", "bob@simboard.test", "--cc", "carol@simboard.test", "--bdat"},
		{"send", "--netx", "--user", "alice", "--to", "bob@simboard.test", "--seed", "9"},
		{"fetch", "--dhcp", "--user", "rcpt1", "--delete"},
		{"fetch", "--server", "mail.simboard.test", "--user", "alice", "--tls", "implicit", "--login", "auth-plain"},
		{"fetch", "--netx", "--user", "alice"},
	} {
		stdout, stderr, code := simboard(t, env, args...)
		if code != 0 {
			t.Errorf("simboard %v: exit %d\nstdout:\n%s\nstderr:\n%s", args, code, stdout, stderr)
			continue
		}
		simulated(t, stdout)
		if line := reproduceLine(t, stdout); !strings.HasPrefix(line, "simboard "+args[0]+" --clock virtual --seed ") {
			t.Errorf("reproduce %q", line)
		}
		if strings.Contains(stdout+stderr, "pw\n") || strings.Contains(stdout+stderr, "=pw") {
			t.Errorf("simboard %v printed the password", args)
		}
	}
}

// TestFleetClock: a fleet defaults to real time and runs in virtual time
// with --clock virtual: every board delivers and fetches back, the run
// prints its simulated time and a reproduce line, and the same seed twice
// gives the same simulated durations.
func TestFleetClock(t *testing.T) {
	stdout, stderr, code := simboard(t, nil, "fleet", "--boards", "3")
	if code != 0 || !realLineRE.MatchString(stdout) || reproduceLine(t, stdout) != "simboard fleet --clock real --seed 1 --boards 3" {
		t.Fatalf("simboard fleet --boards 3: exit %d\n%s\n%s", code, stdout, stderr)
	}
	var runs []string
	for range 2 {
		stdout, stderr, code = simboard(t, nil, "fleet", "--clock", "virtual", "--boards", "4", "--seed", "5", "--body-size", "3000")
		if code != 0 || !strings.Contains(stdout, "delivered 4, fetched back byte-exact 4, failed 0") {
			t.Fatalf("simboard fleet --clock virtual: exit %d\n%s\n%s", code, stdout, stderr)
		}
		simulated(t, stdout)
		if got := reproduceLine(t, stdout); got != "simboard fleet --clock virtual --seed 5 --boards 4 --body-size 3000" {
			t.Errorf("reproduce %q", got)
		}
		m := regexp.MustCompile(`simulated time (\S+) \(boot (\S+), mail (\S+)\)`).FindStringSubmatch(stdout)
		if m == nil {
			t.Fatalf("no simulated durations in:\n%s", stdout)
		}
		runs = append(runs, m[0])
	}
	if runs[0] != runs[1] {
		t.Errorf("the same seed gave %q then %q", runs[0], runs[1])
	}
}
