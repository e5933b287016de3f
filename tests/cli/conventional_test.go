package cli

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"github.com/google/gopacket/pcapgo"
)

const pw = "SIMBOARD_PASSWORD=wire-secret"

// status0 matches a printed NX_SUCCESS status on a failure.
var status0 = regexp.MustCompile(`(?i)status 0x0+\b|\(0x0+\)`)

// TestFetchNetX: fetch --netx works with the defaults (port 0 = the
// standard port, here 110, as in µC/SMTPc and NetX's sample code).
func TestFetchNetX(t *testing.T) {
	stdout, stderr, code := simboard(t, []string{pw}, "fetch", "--user", "alice", "--netx")
	if code != 0 || !strings.Contains(stdout, "fetched 1 message(s)") {
		t.Fatalf("fetch --netx: exit %d\n%s\n%s", code, stdout, stderr)
	}
	// An explicit TLS mode with --netx is a usage error naming the flag.
	_, stderr, code = simboard(t, []string{pw}, "fetch", "--user", "alice", "--netx", "--tls", "required")
	if code != 2 || !strings.Contains(stderr, "--tls off") {
		t.Errorf("fetch --netx --tls required: exit %d, stderr %q; want exit 2 naming --tls off", code, stderr)
	}
}

// TestTLSVocabulary: demo, send and fetch take the same four --tls modes,
// starttls (and stls) name required in all three, and the old demo words
// for clear text are refused with the word to use.
func TestTLSVocabulary(t *testing.T) {
	for _, mode := range []string{"off", "opportunistic", "required", "implicit"} {
		t.Run(mode, func(t *testing.T) {
			if stdout, stderr, code := simboard(t, nil, "demo", "--tls", mode, "--body-size", "2000", "--pcap", filepath.Join(t.TempDir(), "d.pcap")); code != 0 || !strings.Contains(stdout, "result: OK") {
				t.Errorf("demo --tls %s: exit %d\n%s\n%s", mode, code, stdout, stderr)
			}
			stdout, stderr, code := simboard(t, []string{pw}, "send", "--user", "alice", "--to", "bob@simboard.test", "--tls", mode, "--json")
			var res struct {
				Accepted bool `json:"accepted"`
				TLS      bool `json:"tls"`
			}
			if err := json.Unmarshal([]byte(stdout), &res); code != 0 || err != nil || !res.Accepted || res.TLS != (mode != "off") {
				t.Errorf("send --tls %s: exit %d, %s (%v); want accepted, TLS %v\n%s", mode, code, stdout, err, mode != "off", stderr)
			}
			if stdout, stderr, code := simboard(t, []string{pw}, "fetch", "--user", "alice", "--tls", mode); code != 0 || !strings.Contains(stdout, "fetched 1 message(s)") {
				t.Errorf("fetch --tls %s: exit %d\n%s\n%s", mode, code, stdout, stderr)
			}
		})
	}
	for _, tc := range []struct{ cmd, old, hint string }{
		{"demo", "none", "use off"}, {"send", "plain", "use off"}, {"fetch", "none", "use off"},
	} {
		args := []string{tc.cmd, "--tls", tc.old}
		if tc.cmd == "send" {
			args = append(args, "--to", "bob@simboard.test")
		}
		if tc.cmd == "fetch" {
			args = append(args, "--user", "alice")
		}
		_, stderr, code := simboard(t, []string{pw}, args...)
		if code != 2 || !strings.Contains(stderr, tc.hint) {
			t.Errorf("simboard %v: exit %d, stderr %q; want exit 2 with %q", args, code, stderr, tc.hint)
		}
	}
	// starttls is required: STARTTLS and STLS, never clear text.
	for _, alias := range []string{"starttls", "STLS"} {
		stdout, stderr, code := simboard(t, []string{pw}, "send", "--user", "alice", "--to", "bob@simboard.test", "--tls", alias, "--json")
		var res struct {
			TLS bool `json:"tls"`
		}
		if err := json.Unmarshal([]byte(stdout), &res); code != 0 || err != nil || !res.TLS {
			t.Errorf("send --tls %s: exit %d, %s (%v); want delivered over TLS\n%s", alias, code, stdout, err, stderr)
		}
	}
}

// failureOutput checks the output of a failed run: exit 1, no status 0x00,
// the failure printed once (one "simboard CMD:" line, no library log line
// repeating it), and returns the failure line.
func failureOutput(t *testing.T, name, stdout, stderr string, code int) string {
	t.Helper()
	if code != 1 {
		t.Errorf("%s: exit %d, want 1\n%s\n%s", name, code, stdout, stderr)
	}
	if status0.MatchString(stdout + stderr) {
		t.Errorf("%s prints status 0x00:\n%s", name, stderr)
	}
	if strings.Contains(stderr, "level=") {
		t.Errorf("%s logs the failure besides reporting it:\n%s", name, stderr)
	}
	var fails []string
	for _, l := range strings.Split(strings.TrimSpace(stderr), "\n") {
		if strings.HasPrefix(l, "simboard ") {
			fails = append(fails, l)
		}
	}
	if len(fails) != 1 {
		t.Errorf("%s: the failure is printed %d times, want once:\n%s", name, len(fails), stderr)
		return ""
	}
	return fails[0]
}

// TestUnreachableVsRefused: no ARP reply from the next hop (host
// unreachable) and an RST to the SYN (connection refused) are told apart.
func TestUnreachableVsRefused(t *testing.T) {
	// Refused: the built-in host listens on 25, not 2525.
	stdout, stderr, code := simboard(t, nil, "send", "--to", "bob@simboard.test", "--port", "2525")
	line := failureOutput(t, "send --port 2525", stdout, stderr, code)
	if !strings.Contains(line, "connection refused") || strings.Contains(line, "ARP") {
		t.Errorf("send --port 2525 = %q, want connection refused", line)
	}
	// Unreachable: the server is off the board's /25, the gateway
	// 198.51.100.1 does not exist on the Wire.
	stdout, stderr, code = simboard(t, nil, "send", "--to", "bob@simboard.test", "--ip", "198.51.100.2/25", "--gw", "198.51.100.1", "--server", "198.51.100.200")
	line = failureOutput(t, "send via a missing gateway", stdout, stderr, code)
	if !strings.Contains(line, "no ARP reply from 198.51.100.1") || strings.Contains(line, "refused") {
		t.Errorf("send via a missing gateway = %q, want no ARP reply from 198.51.100.1", line)
	}
	// fetch says the same.
	stdout, stderr, code = simboard(t, []string{pw}, "fetch", "--user", "alice", "--port", "1110")
	line = failureOutput(t, "fetch --port 1110", stdout, stderr, code)
	if !strings.Contains(line, "connection refused") {
		t.Errorf("fetch --port 1110 = %q, want connection refused", line)
	}
}

// TestNoStatus0x00: failures that carry no NetX status print none, and
// those that do print its name.
func TestNoStatus0x00(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		want *regexp.Regexp
	}{
		{"refused", []string{"send", "--to", "bob@simboard.test", "--port", "2626"}, regexp.MustCompile(`NX_NOT_CONNECTED \(0x38\)`)},
		{"fetch-refused", []string{"fetch", "--user", "alice", "--port", "1110"}, regexp.MustCompile(`connection refused.*NX_NOT_CONNECTED \(0x38\)`)},
		{"bad-body", []string{"send", "--to", "bob@simboard.test", "--body", "/proc/self/mem"}, nil},
		{"trace-garbage", []string{"trace", writeFile(t, "x.pcap", "not a pcap at all, just text")}, nil},
	} {
		stdout, stderr, code := simboard(t, []string{pw}, tc.args...)
		if code == 0 {
			t.Errorf("%s: exit 0", tc.name)
			continue
		}
		if status0.MatchString(stdout + stderr) {
			t.Errorf("%s prints status 0x00:\n%s", tc.name, stderr)
		}
		if tc.want != nil && !tc.want.MatchString(stderr) {
			t.Errorf("%s: stderr %q lacks %v", tc.name, stderr, tc.want)
		}
	}
}

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestWireSaysBuiltInHost: without --tap, send and fetch say plainly that
// the peer is the built-in mail host.
func TestWireSaysBuiltInHost(t *testing.T) {
	for _, args := range [][]string{
		{"send", "--to", "bob@simboard.test"},
		{"fetch", "--user", "alice"},
	} {
		_, stderr, code := simboard(t, []string{pw}, args...)
		if code != 0 || !strings.Contains(stderr, "built-in mail host") || !strings.Contains(stderr, "not a real server") {
			t.Errorf("simboard %v: exit %d, stderr %q; want a note that the peer is the built-in mail host", args, code, stderr)
		}
	}
}

// TestLoginUserWithoutNetX: USER/PASS is reachable without --netx, and
// --login auth-plain and apop do what they say.
func TestLoginUserWithoutNetX(t *testing.T) {
	for _, tc := range []struct {
		login, want, cmd string
	}{
		{"user", "login USER", "C: USER alice"},
		{"apop", "login APOP", "C: APOP alice"},
		{"auth-plain", "login AUTH PLAIN", "C: AUTH PLAIN"},
		{"auto", "login APOP", "C: APOP alice"},
	} {
		stdout, stderr, code := simboard(t, []string{pw}, "fetch", "--user", "alice", "--login", tc.login, "--transcript")
		if code != 0 || !strings.Contains(stdout, tc.want) || !strings.Contains(stderr, tc.cmd) {
			t.Errorf("fetch --login %s: exit %d, stdout %q; want %q and %q in the transcript\n%s", tc.login, code, stdout, tc.want, tc.cmd, stderr)
		}
	}
}

// TestAuthWithoutPassword: AUTH asked for with no password set is said
// before connecting (exit 2, no pcap).
func TestAuthWithoutPassword(t *testing.T) {
	pcap := filepath.Join(t.TempDir(), "x.pcap")
	_, stderr, code := simboard(t, []string{"SIMBOARD_PASSWORD="}, "send", "--user", "alice", "--to", "bob@simboard.test", "--pcap", pcap)
	if code != 2 || !strings.Contains(stderr, "needs a password") || !strings.Contains(stderr, "SIMBOARD_PASSWORD") {
		t.Errorf("send --user without a password: exit %d, stderr %q", code, stderr)
	}
	if _, err := os.Stat(pcap); err == nil {
		t.Errorf("a pcap was written: the board connected")
	}
}

// TestTraceMaxEventsZeroIsAll: --max-events 0 lists every event, as the
// help says (the trace package's own default keeps 10000).
func TestTraceMaxEventsZeroIsAll(t *testing.T) {
	const n = 6000 // commands and replies: 12002 events with the greeting
	pcap := filepath.Join(t.TempDir(), "noops.pcap")
	writeNoopPcap(t, pcap, n)
	for _, tc := range []struct {
		args []string
		want int
	}{
		{[]string{"trace", "--json", pcap}, 2*n + 1},
		{[]string{"trace", "--json", "--max-events", "0", pcap}, 2*n + 1},
		{[]string{"trace", "--json", "--max-events", "10", pcap}, 10},
	} {
		stdout, stderr, code := simboard(t, nil, tc.args...)
		if code != 0 {
			t.Fatalf("simboard %v: exit %d: %s", tc.args, code, stderr)
		}
		var rep struct {
			Flows []struct {
				Events        []json.RawMessage `json:"events"`
				EventsDropped int               `json:"events_dropped"`
			} `json:"flows"`
		}
		if err := json.Unmarshal([]byte(stdout), &rep); err != nil || len(rep.Flows) != 1 {
			t.Fatalf("simboard %v: %v, %d flows", tc.args, err, len(rep.Flows))
		}
		if got := len(rep.Flows[0].Events); got != tc.want {
			t.Errorf("simboard %v: %d events (%d dropped), want %d", tc.args, got, rep.Flows[0].EventsDropped, tc.want)
		}
	}
	// The text names the flag, not the trace package's option.
	stdout, _, code := simboard(t, nil, "trace", "--max-events", "10", pcap)
	if code != 0 || !strings.Contains(stdout, "more events not kept: --max-events") || strings.Contains(stdout, "Options.") {
		t.Errorf("trace --max-events 10: exit %d, want a note naming --max-events:\n%.2000s", code, stdout)
	}
}

// writeNoopPcap writes an Ethernet pcap of one SMTP flow: handshake,
// greeting, n NOOP commands each answered 250.
func writeNoopPcap(t *testing.T, path string, n int) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w := pcapgo.NewWriter(f)
	if err := w.WriteFileHeader(65535, layers.LinkTypeEthernet); err != nil {
		t.Fatal(err)
	}
	cmac, smac := net.HardwareAddr{2, 0, 0, 0, 0, 2}, net.HardwareAddr{2, 0, 0, 0, 0, 1}
	cip, sip := net.IP{198, 51, 100, 2}, net.IP{198, 51, 100, 1}
	seq := [2]uint32{1000, 5000}
	ts := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	frame := func(fromClient bool, payload string, syn, ack bool) {
		side := 1
		eth := &layers.Ethernet{SrcMAC: smac, DstMAC: cmac, EthernetType: layers.EthernetTypeIPv4}
		ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolTCP, SrcIP: sip, DstIP: cip}
		tcp := &layers.TCP{SrcPort: 25, DstPort: 40000, SYN: syn, ACK: ack, Window: 65535}
		if fromClient {
			side = 0
			eth.SrcMAC, eth.DstMAC = cmac, smac
			ip.SrcIP, ip.DstIP = cip, sip
			tcp.SrcPort, tcp.DstPort = 40000, 25
		}
		tcp.Seq, tcp.Ack = seq[side], seq[1-side]
		_ = tcp.SetNetworkLayerForChecksum(ip)
		buf := gopacket.NewSerializeBuffer()
		if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, eth, ip, tcp, gopacket.Payload(payload)); err != nil {
			t.Fatal(err)
		}
		seq[side] += uint32(len(payload))
		if syn {
			seq[side]++
		}
		ts = ts.Add(time.Millisecond)
		b := buf.Bytes()
		if err := w.WritePacket(gopacket.CaptureInfo{Timestamp: ts, CaptureLength: len(b), Length: len(b)}, b); err != nil {
			t.Fatal(err)
		}
	}
	frame(true, "", true, false)
	frame(false, "", true, true)
	frame(true, "", false, true)
	frame(false, "220 mx.simboard.test ESMTP\r\n", false, true)
	for i := 0; i < n; i++ {
		frame(true, fmt.Sprintf("NOOP %d\r\n", i), false, true)
		frame(false, "250 2.0.0 OK\r\n", false, true)
	}
}

// TestTraceDirectory: trace of a directory reports the real read error.
func TestTraceDirectory(t *testing.T) {
	dir := t.TempDir()
	_, stderr, code := simboard(t, nil, "trace", dir)
	if code != 1 || !strings.Contains(stderr, "is a directory") {
		t.Errorf("trace DIR: exit %d, stderr %q; want exit 1 saying it is a directory", code, stderr)
	}
}

// TestTLSServerNameFlag: --tls-server-name is the name the certificate is
// verified against: the built-in host's IP SAN passes, a name its
// certificate lacks fails (no silent success), for send and fetch.
func TestTLSServerNameFlag(t *testing.T) {
	for _, tc := range []struct {
		args []string
		ok   bool
	}{
		{[]string{"send", "--to", "bob@simboard.test", "--tls", "required", "--tls-server-name", "198.51.100.1"}, true},
		{[]string{"send", "--to", "bob@simboard.test", "--tls", "required", "--tls-server-name", "mx.other.test"}, false},
		{[]string{"send", "--to", "bob@simboard.test", "--tls", "implicit", "--tls-server-name", "mx.other.test"}, false},
		{[]string{"fetch", "--user", "alice", "--tls", "implicit", "--tls-server-name", "mail.simboard.test"}, true},
		{[]string{"fetch", "--user", "alice", "--tls", "required", "--tls-server-name", "mx.other.test"}, false},
		{[]string{"send", "--to", "bob@simboard.test", "--tls", "required", "--tls-server-name", "mx.other.test", "--insecure-skip-verify"}, true},
	} {
		stdout, stderr, code := simboard(t, []string{pw}, tc.args...)
		if tc.ok && code != 0 {
			t.Errorf("simboard %v: exit %d\n%s\n%s", tc.args, code, stdout, stderr)
		}
		if !tc.ok {
			line := failureOutput(t, strings.Join(tc.args, " "), stdout, stderr, code)
			if !strings.Contains(line, "mx.other.test") || !strings.Contains(line, "certificate") {
				t.Errorf("simboard %v = %q, want a certificate error naming mx.other.test", tc.args, line)
			}
		}
	}
}

// TestAuthAutoDefault: send's --auth defaults to auto, the strongest
// mechanism the server offers (CRAM-MD5 on the built-in host), and the
// help says so.
func TestAuthAutoDefault(t *testing.T) {
	stdout, stderr, code := simboard(t, []string{pw}, "send", "--user", "alice", "--to", "bob@simboard.test", "--tls", "off", "--transcript", "--json")
	if code != 0 || !strings.Contains(stderr, "C: AUTH CRAM-MD5") || !strings.Contains(stdout, `"auth":"CRAM-MD5"`) {
		t.Errorf("send without --auth: exit %d, stdout %q; want AUTH CRAM-MD5 (auto)\n%s", code, stdout, stderr)
	}
	help, _, _ := simboard(t, nil, "send", "--help")
	if !regexp.MustCompile(`--auth MECH .*auto[\s\S]*\(default auto\)`).MatchString(help) {
		t.Errorf("send --help does not document --auth auto as the default:\n%s", help)
	}
}

// TestNetXAuthCoercionSaid: --netx with a mechanism NetX Duo does not have
// still behaves as NetX (AUTH PLAIN), but says so: no silent downgrade.
func TestNetXAuthCoercionSaid(t *testing.T) {
	stdout, stderr, code := simboard(t, []string{pw}, "send", "--netx", "--user", "alice", "--to", "bob@simboard.test", "--auth", "cram-md5")
	if code != 0 || !strings.Contains(stdout, "AUTH PLAIN") || !strings.Contains(stderr, "has no CRAM-MD5") {
		t.Errorf("send --netx --auth cram-md5: exit %d, stdout %q, stderr %q; want AUTH PLAIN and a note", code, stdout, stderr)
	}
}
